//! What `Storage` needs from a database, and nothing more: ordered tables of byte keys and values
//! (one per [`TreeId`]), point reads, lazy range scans in either direction, atomic multi-table
//! write sets, increasing ids, durability, and one lock that serializes the writers which plan
//! from what they read. The domain methods of `Storage` are written once against this; sled and
//! PostgreSQL each implement it.
//!
//! Depends on: the store's error and table names only.

use std::ops::Bound;

use super::{StorageError, TreeId};

/// A stored value or key. sled hands out shared buffers without copying; other backends own
/// their bytes. Either reads as `&[u8]`.
#[derive(Clone)]
pub(crate) enum Bytes {
    Shared(sled::IVec),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Shared(v) => v,
            Bytes::Owned(v) => v,
        }
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", &**self)
    }
}

/// One key's entry: key and value.
pub(crate) type Entry = (Bytes, Bytes);

/// One write of a write set: a value, or `None` to remove the key.
pub(crate) type Write<'w> = (TreeId, &'w [u8], Option<&'w [u8]>);

/// A [`Write`] that owns its key and value, as a claim's plan makes them.
pub(crate) type OwnedWrite = (TreeId, Vec<u8>, Option<Vec<u8>>);

/// What a claim does with the entries it took: the writes that move them (see
/// [`Backend::claim`]).
pub(crate) type ClaimPlan<'p> = dyn FnMut(&[Entry]) -> Result<Vec<OwnedWrite>, StorageError> + 'p;

/// Turns a claim's owned writes into the borrowed form [`Backend::apply`] takes.
pub(crate) fn borrowed(writes: &[OwnedWrite]) -> Vec<Write<'_>> {
    writes.iter().map(|(tree, key, value)| (*tree, key.as_slice(), value.as_deref())).collect()
}

/// Something held until dropped (a lock guard, a connection holding a database lock).
pub(crate) trait Held {}
impl<T> Held for T {}

/// A held [`Lock`]: while held, no one else (in any process sharing the database) holds it.
pub(crate) struct WriterGuard<'a> {
    _held: Box<dyn Held + 'a>,
}

impl<'a> WriterGuard<'a> {
    pub(crate) fn new(held: impl Held + 'a) -> Self {
        WriterGuard { _held: Box::new(held) }
    }
}

/// The locks that keep one hand on a piece of work across every process sharing the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    /// Writers that plan from what they read (ingest, sends, journeys, segments).
    Writer = 0,
    /// The drainer of the trigger queue, so a trigger runs once per drain.
    Triggers = 1,
    /// The writer of saved segments' membership (upkeep, builds, manual edits).
    SegmentUpkeep = 2,
    /// The mover of profiles through journeys (events, timers, publishes).
    JourneyMover = 3,
    /// The scheduler (`tick`): scheduled runs, KPIs, retention, journey timers.
    Schedule = 4,
}

impl Lock {
    pub(crate) const COUNT: usize = 5;
}

/// What [`Backend::follow`] says when announcements may have been missed (the listening
/// connection was lost and made again): a follower then re-reads whatever it keeps.
pub(crate) const RESYNC: &str = "resync";

/// The database under `Storage`.
/// [`Backend::scan_many`] as one scan per range.
pub(crate) fn scan_each<B: Backend + ?Sized>(
    backend: &B,
    tree: TreeId,
    ranges: &[(Vec<u8>, Vec<u8>)],
) -> Result<Vec<Vec<Entry>>, StorageError> {
    ranges
        .iter()
        .map(|(lower, upper)| {
            backend
                .scan(tree, Bound::Included(lower.clone()), Bound::Excluded(upper.clone()), false)
                .collect()
        })
        .collect()
}

pub(crate) trait Backend: Send + Sync {
    /// The value under `key`.
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Bytes>, StorageError>;

    /// The values under each of `keys`, in their order. A server answers in one round trip what
    /// `get` would take one per key for; an embedded store reads them one by one.
    fn get_many(&self, tree: TreeId, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>, StorageError> {
        keys.iter().map(|key| self.get(tree, key)).collect()
    }

    /// The entries of each range (lower bound included, upper excluded), in key order, read
    /// whole: for many small ranges a caller wants all of (a page of profiles' recent events),
    /// which a server answers in one round trip instead of one each.
    fn scan_many(
        &self,
        tree: TreeId,
        ranges: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<Vec<Vec<Entry>>, StorageError> {
        scan_each(self, tree, ranges)
    }

    /// The entries between the bounds, in key order (or reverse), read lazily as the caller goes.
    fn scan<'a>(
        &'a self,
        tree: TreeId,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = Result<Entry, StorageError>> + 'a>;

    /// Sets one key on its own (not durable until [`Backend::durable`]).
    fn insert(&self, tree: TreeId, key: &[u8], value: &[u8]) -> Result<(), StorageError>;

    /// Removes one key on its own, returning what it held.
    fn remove(&self, tree: TreeId, key: &[u8]) -> Result<Option<Bytes>, StorageError>;

    /// Applies every write atomically: after a crash, all of them or none are there. Each key
    /// appears once.
    fn apply(&self, writes: &[Write<'_>]) -> Result<(), StorageError>;

    /// [`Backend::apply`], if every key of `present` is still there when the writes apply
    /// (checked in the same transaction, the rows held until it ends); otherwise nothing is
    /// written. Returns whether the writes applied.
    ///
    /// For a plan made from rows that any change replaces under a new key (a pending send's
    /// outbox row): if the row is still there, nothing changed it since it was read, so the plan
    /// holds without the writer lock; if it is gone, the caller reads again and plans again.
    fn apply_if_present(
        &self,
        present: &[(TreeId, &[u8])],
        writes: &[Write<'_>],
    ) -> Result<bool, StorageError>;

    /// Claims up to `limit` entries of `tree` with keys below `before`, in key order, and
    /// applies the writes `plan` makes of them in the same transaction. `plan` must move every
    /// entry it is given (write it under a new key, or remove it), so no other claim can take it
    /// after this one. `plan` may be called more than once (a claim that lost a race tries
    /// again) and is called with no entries when none is due.
    ///
    /// Claims by several callers at once take disjoint entries. This default, for a store one
    /// process owns, reads the due entries and applies the plan if they are all still there; a
    /// server database skips the rows another claim holds (`FOR UPDATE SKIP LOCKED`), so
    /// workers claim side by side without waiting for each other.
    fn claim(
        &self,
        tree: TreeId,
        before: &[u8],
        limit: usize,
        plan: &mut ClaimPlan<'_>,
    ) -> Result<(), StorageError> {
        loop {
            let due: Vec<Entry> = self
                .scan(tree, Bound::Unbounded, Bound::Excluded(before.to_vec()), false)
                .take(limit)
                .collect::<Result<_, _>>()?;
            let writes = plan(&due)?;
            if due.is_empty() {
                return Ok(());
            }
            let present: Vec<(TreeId, &[u8])> = due.iter().map(|(key, _)| (tree, &key[..])).collect();
            if self.apply_if_present(&present, &borrowed(&writes))? {
                return Ok(());
            }
        }
    }

    /// A new id, larger than every id this process was handed before.
    fn next_id(&self) -> Result<u64, StorageError>;

    /// How many entries `tree` holds.
    fn count(&self, tree: TreeId) -> Result<usize, StorageError>;

    /// Blocks until everything applied before this call is durable.
    fn durable(&self) -> Result<(), StorageError>;

    /// Writes everything buffered to disk.
    fn flush(&self) -> Result<(), StorageError>;

    /// Takes `lock`, waiting for it.
    fn lock(&self, lock: Lock) -> Result<WriterGuard<'_>, StorageError>;

    /// Takes `lock` if no one holds it.
    fn try_lock(&self, lock: Lock) -> Result<Option<WriterGuard<'_>>, StorageError>;

    /// Tells every process sharing the database that `change` happened (call it after the
    /// change is committed). Nothing to do where one process owns the store.
    fn announce(&self, change: &str) -> Result<(), StorageError>;

    /// The changes announced from now on, by any process (this one included), and
    /// [`RESYNC`] whenever some may have been missed; `None` where one process owns the store.
    fn follow(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>>;

    /// Drops the whole months of events (with their id and campaign indexes) that end at or
    /// before `cutoff`, first handing `going` the profiles whose events go, a slice at a time.
    /// Returns how many events went; `None` where events are not kept by the month (each is then
    /// removed on its own).
    fn drop_event_months(
        &self,
        cutoff: i64,
        going: &mut dyn FnMut(&[i64]) -> Result<(), StorageError>,
    ) -> Result<Option<usize>, StorageError>;

    /// Statements sent to a server database and the time callers waited for their answers,
    /// since the store was opened; `None` for an embedded store.
    fn database_time(&self) -> Option<(u64, std::time::Duration)>;

    /// The connection pool's use: (open, in use, most allowed); `None` without a pool.
    fn pool_usage(&self) -> Option<(usize, usize, usize)>;

    /// The sled database, for the runtime's compile cache that lives beside the data; `None` for
    /// a server database (each worker then keeps its cache in a folder of its own).
    fn local_db(&self) -> Option<&sled::Db>;
}

/// One table of the store: the handle the domain methods read and write through.
pub(crate) struct Table<'a> {
    backend: &'a dyn Backend,
    id: TreeId,
}

impl<'a> Table<'a> {
    pub(crate) fn new(backend: &'a dyn Backend, id: TreeId) -> Self {
        Table { backend, id }
    }

    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, StorageError> {
        self.backend.get(self.id, key.as_ref())
    }

    pub(crate) fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>, StorageError> {
        self.backend.get_many(self.id, keys)
    }

    pub(crate) fn scan_many(&self, ranges: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<Vec<Entry>>, StorageError> {
        self.backend.scan_many(self.id, ranges)
    }

    pub(crate) fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, StorageError> {
        Ok(self.get(key)?.is_some())
    }

    pub(crate) fn insert(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), StorageError> {
        self.backend.insert(self.id, key.as_ref(), value.as_ref())
    }

    pub(crate) fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, StorageError> {
        self.backend.remove(self.id, key.as_ref())
    }

    /// Every entry, in key order.
    pub(crate) fn iter(&self) -> Entries<'a> {
        self.entries(Bound::Unbounded, Bound::Unbounded)
    }

    /// The entries in `range`, in key order.
    pub(crate) fn range<K: AsRef<[u8]>>(&self, range: impl std::ops::RangeBounds<K>) -> Entries<'a> {
        let owned = |b: Bound<&K>| match b {
            Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        self.entries(owned(range.start_bound()), owned(range.end_bound()))
    }

    /// The entries whose key starts with `prefix`, in key order.
    pub(crate) fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Entries<'a> {
        let prefix = prefix.as_ref();
        let upper = prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded);
        self.entries(Bound::Included(prefix.to_vec()), upper)
    }

    /// The first entry in key order.
    pub(crate) fn first(&self) -> Result<Option<Entry>, StorageError> {
        self.iter().next().transpose()
    }

    /// The last entry in key order.
    pub(crate) fn last(&self) -> Result<Option<Entry>, StorageError> {
        self.iter().rev().next().transpose()
    }

    /// How many entries the table holds (a full count: not for hot paths).
    pub(crate) fn len(&self) -> usize {
        // A count that cannot be read is reported as none; callers use it for figures only.
        self.backend.count(self.id).unwrap_or(0)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first().map_or(true, |first| first.is_none())
    }

    fn entries(&self, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> Entries<'a> {
        Entries {
            backend: self.backend,
            id: self.id,
            bounds: Some((lower, upper)),
            reverse: false,
            inner: None,
        }
    }
}

/// A lazy scan. The direction is chosen before the first entry is read ([`Entries::rev`]), so a
/// server backend can ask for the order it needs.
pub(crate) struct Entries<'a> {
    backend: &'a dyn Backend,
    id: TreeId,
    bounds: Option<(Bound<Vec<u8>>, Bound<Vec<u8>>)>,
    reverse: bool,
    inner: Option<Box<dyn Iterator<Item = Result<Entry, StorageError>> + 'a>>,
}

impl<'a> Entries<'a> {
    /// The same scan, last key first. Reversing a scan already under way has no effect.
    pub(crate) fn rev(mut self) -> Self {
        if self.inner.is_none() {
            self.reverse = !self.reverse;
        }
        self
    }

    /// The keys alone.
    pub(crate) fn keys(self) -> impl Iterator<Item = Result<Bytes, StorageError>> + 'a {
        self.map(|entry| entry.map(|(key, _)| key))
    }

    /// The values alone.
    pub(crate) fn values(self) -> impl Iterator<Item = Result<Bytes, StorageError>> + 'a {
        self.map(|entry| entry.map(|(_, value)| value))
    }
}

impl Iterator for Entries<'_> {
    type Item = Result<Entry, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.inner.is_none() {
            let (lower, upper) = self.bounds.take()?;
            self.inner = Some(self.backend.scan(self.id, lower, upper, self.reverse));
        }
        self.inner.as_mut()?.next()
    }
}

/// The smallest key past every key that starts with `prefix` (`None`: no such key, the prefix is
/// all 0xFF).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
