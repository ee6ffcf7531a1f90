//! A write set: reads see the set's own pending writes, and the whole set commits atomically in
//! one transaction over every table it touches. Planning happens under the store's writer
//! lock, so nothing changes underneath a plan between reading and committing; or against rows
//! the set requires ([`WriteSet::require`]), which it commits only if they are still there.

use std::collections::BTreeMap;

use super::{Storage, StorageError, TreeId};

pub(crate) struct WriteSet<'s> {
    storage: &'s Storage,
    pending: BTreeMap<(TreeId, Vec<u8>), Option<Vec<u8>>>,
    /// Values read ahead with [`WriteSet::prefetch`] (`None`: known absent), consulted after
    /// the pending writes.
    fetched: std::collections::HashMap<(TreeId, Vec<u8>), Option<Vec<u8>>>,
    /// Rows that must still be there for the set to commit ([`WriteSet::commit_if_present`]).
    required: Vec<(TreeId, Vec<u8>)>,
}

impl<'s> WriteSet<'s> {
    pub(crate) fn new(storage: &'s Storage) -> Self {
        WriteSet { storage, pending: BTreeMap::new(), fetched: Default::default(), required: Vec::new() }
    }

    /// Reads `keys` of `tree` ahead in one request, so that the planning that follows reads
    /// them from memory: a database server answers a batch's keys in one round trip instead
    /// of one each. Only for write sets planned under the writer lock, where what was read
    /// stays true until the commit.
    pub(crate) fn prefetch<K: AsRef<[u8]>>(&mut self, tree: TreeId, keys: &[K]) -> Result<(), StorageError> {
        let mut wanted: Vec<&[u8]> = keys
            .iter()
            .map(AsRef::as_ref)
            .filter(|k| !self.pending.contains_key(&(tree, k.to_vec())))
            .filter(|k| !self.fetched.contains_key(&(tree, k.to_vec())))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(());
        }
        let values = self.storage.tree(tree).get_many(&wanted)?;
        for (key, value) in wanted.iter().zip(values) {
            self.fetched.insert((tree, key.to_vec()), value.map(|v| v.to_vec()));
        }
        Ok(())
    }

    /// The store this set writes to.
    pub(crate) fn storage(&self) -> &'s Storage {
        self.storage
    }

    pub(crate) fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.pending.get(&(tree, key.to_vec())) {
            Some(pending) => Ok(pending.clone()),
            None => match self.fetched.get(&(tree, key.to_vec())) {
                Some(fetched) => Ok(fetched.clone()),
                None => Ok(self.storage.tree(tree).get(key)?.map(|v| v.to_vec())),
            },
        }
    }

    pub(crate) fn contains(&self, tree: TreeId, key: &[u8]) -> Result<bool, StorageError> {
        Ok(self.get(tree, key)?.is_some())
    }

    pub(crate) fn put(&mut self, tree: TreeId, key: Vec<u8>, value: Vec<u8>) {
        self.pending.insert((tree, key), Some(value));
    }

    pub(crate) fn remove(&mut self, tree: TreeId, key: Vec<u8>) {
        self.pending.insert((tree, key), None);
    }

    /// Every live entry of `tree` under `prefix`, stored or pending, in key order.
    pub(crate) fn scan_prefix(
        &self,
        tree: TreeId,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StorageError> {
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for entry in self.storage.tree(tree).scan_prefix(prefix) {
            let (k, v) = entry?;
            merged.insert(k.to_vec(), Some(v.to_vec()));
        }
        let start = (tree, prefix.to_vec());
        for ((t, k), v) in self.pending.range(start..) {
            if *t != tree || !k.starts_with(prefix) {
                break;
            }
            merged.insert(k.clone(), v.clone());
        }
        Ok(merged.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
    }

    /// Makes the commit depend on `key` of `tree` still being there: a row that every change
    /// replaces under a new key (a pending send's outbox row), which this plan was made from.
    pub(crate) fn require(&mut self, tree: TreeId, key: Vec<u8>) {
        self.required.push((tree, key));
    }

    /// Applies every pending write atomically: after a crash, all of them or none are there.
    pub(crate) fn commit(self) -> Result<(), StorageError> {
        self.storage.backend.apply(&self.writes())
    }

    /// [`WriteSet::commit`] if every required row is still there; otherwise writes nothing and
    /// answers `false`, and the caller reads again and plans again.
    pub(crate) fn commit_if_present(self) -> Result<bool, StorageError> {
        let required: Vec<(TreeId, &[u8])> =
            self.required.iter().map(|(tree, key)| (*tree, key.as_slice())).collect();
        self.storage.backend.apply_if_present(&required, &self.writes())
    }

    fn writes(&self) -> Vec<super::backend::Write<'_>> {
        self.pending.iter().map(|((tree, key), value)| (*tree, key.as_slice(), value.as_deref())).collect()
    }
}
