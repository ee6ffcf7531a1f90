//! `Storage`: everything Baton keeps, in an embedded sled database.
//!
//! Callers see domain types only; no sled type crosses this module's boundary, so a server-grade
//! backend can later stand behind the same interface. Trees are declared once, here. Keys are
//! big-endian and ordered for prefix scans.
//!
//! Depends on: `plugin` (domain types).

mod audit;
mod backend;
mod campaigns;
mod commit;
mod content;
mod erasure;
mod events;
mod feedback;
mod journeys;
mod keys;
mod measurements;
mod pages;
mod plugins;
mod postgres;
mod secrets;
mod segments;
mod sends;
mod sessions;
mod sled_backend;
mod tokens;
mod traits;
mod writes;

use std::path::Path;
use std::sync::Arc;

pub use audit::AuditRecord;
use backend::{Backend, Table};
pub(crate) use backend::{Lock, RESYNC};
pub use erasure::{Erasure, ProfileExport};
pub(crate) use events::normal_email;
pub use feedback::FeedbackEndpoint;
pub(crate) use journeys::{Count, JourneyMove};
pub(crate) use keys::profile as profile_key;
pub use pages::{Page, PageRequest};
pub(crate) use plugins::{PLUGIN_CHANGE, SEGMENTS_CHANGE, plugin_change};
pub use secrets::{SecretScope, SecretValue, StoredSecret, check_secret_hosts};
pub(crate) use segments::{SegmentWrite, Verdict};
pub use sends::SentTo;
pub use sessions::ConsoleSession;
pub use tokens::{Role, TokenRecord};
pub use traits::{TraitBinding, TraitUpdate};

/// Settings of the embedded store.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// A PostgreSQL database to keep everything in instead of the data directory, as
    /// `postgres://user:password@host:port/database?schema=name` (`schema` defaults to `baton`).
    /// Any number of workers may share one. The data directory then holds only this worker's own
    /// files: the secret key (unless `secret_key_file` names one; every worker needs the same
    /// key) and the compile cache.
    pub url: Option<String>,
    /// Connections to PostgreSQL this worker may hold open at once.
    pub max_connections: usize,
    /// How long a request waits for a free PostgreSQL connection before it fails, in ms.
    pub acquire_timeout_ms: u64,
    /// sled's `cache_capacity`, in bytes. It counts the on-disk size of cached pages; resident
    /// memory runs several times higher (see sled issues #986, #1309), so the default is modest.
    pub cache_bytes: u64,
    /// The file holding the key that encrypts secrets at rest. It must live outside the data
    /// directory, so that a copy of the data reveals no secret. Default: beside the data
    /// directory, named after it (`./baton-data` → `./baton-data.secret-key`), created with
    /// owner-only permissions when the first secret is set.
    pub secret_key_file: Option<std::path::PathBuf>,
    /// Merge two profiles that each carry a user id when an identify, alias or event links them.
    /// Off by default: a write-key holder could otherwise take over a victim's profile by
    /// sending the victim's user id beside an id of their own. Refusals are audited
    /// (`merge_refused`).
    pub merge_known_users: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            url: None,
            max_connections: 16,
            acquire_timeout_ms: 10_000,
            cache_bytes: 256 << 20,
            secret_key_file: None,
            merge_known_users: false,
        }
    }
}

/// How long `open` waits for a directory another handle is releasing.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The schema this build writes. A database written by a newer build is refused.
const SCHEMA_VERSION: u32 = 1;

/// Every tree, declared once. The index is the tree's position in `Storage::trees`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TreeId {
    /// Schema version and other metadata.
    Meta,
    /// Plugin registry records, by content hash.
    Plugins,
    /// Component bytes, by content hash.
    Components,
    /// Compiled artifacts, by content hash + engine key.
    Artifacts,
    /// Profiles, by profile id (u64 BE).
    Profiles,
    /// Identity key (`u`/`a` + id) → profile id.
    Identities,
    /// Merged-away profile id → surviving profile id.
    ProfileAliases,
    /// Events, by profile id + time + sequence: a profile's events in time order by prefix scan.
    Events,
    /// Event id → event key, for idempotent ingest and erasure.
    EventIds,
    /// Campaign id + 0 + time + sequence → event key: a campaign's events in time order.
    CampaignEvents,
    /// Audit records of admin actions, by time + sequence.
    Audit,
    /// Campaign definitions, by id.
    Campaigns,
    /// Bindings, by campaign id + 0 + slot key.
    Bindings,
    /// Pending sends, by next attempt time + sequence: due sends first.
    Outbox,
    /// Idempotency key → where its send is (pending, finished, dead).
    SendKeys,
    /// Finished sends, by campaign + 0 + time + sequence.
    Deliveries,
    /// Sends whose retries ran out, by campaign + 0 + sequence.
    DeadLetters,
    /// Suppressed or delayed sends, by campaign + 0 + time + sequence.
    Skips,
    /// Sends per profile, by profile + time + sequence → channel: frequency caps and erasure.
    ProfileSends,
    /// KPI results, by campaign + 0 + kpi + 0 + time.
    KpiSnapshots,
    /// Secret values by name: write-only through every interface but delivery.
    Secrets,
    /// API tokens by the sha256 of the token: the token itself is never stored.
    Tokens,
    /// Events waiting for the triggered campaigns, by ticket (u64 BE) → event key.
    Triggers,
    /// Computed-trait bindings, by name.
    TraitBindings,
    /// A vendor's message id (a delivery's receipt) → the send's idempotency key, so vendor
    /// feedback that names only its own id finds the send.
    Receipts,
    /// Vendor feedback endpoints, by name.
    FeedbackEndpoints,
    /// Email (trimmed, lowercase) + 0 + profile id → nothing: finds a customer by the email a
    /// data-protection request names. An entry left by an email that changed is skipped when
    /// read, and removed with its profile on erasure.
    Emails,
    /// A campaign's latest kept results, by campaign id.
    Measurements,
    /// Saved segments, by id.
    Segments,
    /// Members of saved segments, by segment id + 0 + profile id.
    SegmentMembers,
    /// When a segment judges a profile again with no new data (a window ending), by segment id +
    /// 0 + profile id → time: finds the due-time entry to replace.
    SegmentRechecks,
    /// The due-time index: time + segment id + 0 + profile id → nothing, soonest first.
    SegmentDue,
    /// Profiles changed since the segments last judged them, by profile id → what changed.
    SegmentDirty,
    /// Journeys, by id.
    Journeys,
    /// Journey specs, by journey id + 0 + version (u32 BE).
    JourneyVersions,
    /// Where each profile is in each journey it is inside, by profile id + journey id.
    JourneyPositions,
    /// Each journey's due-time index: journey id + 0 + time + profile id → nothing.
    JourneyTimers,
    /// Each profile's record of its times through a journey, by journey id + 0 + profile id.
    JourneyEntries,
    /// Per-step counts, by journey id + 0 + version + step id.
    JourneyCounts,
    /// Content block records (snippets, message templates), by name.
    Content,
    /// Content block versions, by name + 0 + version (u32 BE).
    ContentVersions,
    /// Console sessions, by the SHA-256 of the session id.
    ConsoleSessions,
}

impl TreeId {
    pub(crate) const ALL: [TreeId; 42] = [
        TreeId::Meta,
        TreeId::Plugins,
        TreeId::Components,
        TreeId::Artifacts,
        TreeId::Profiles,
        TreeId::Identities,
        TreeId::ProfileAliases,
        TreeId::Events,
        TreeId::EventIds,
        TreeId::CampaignEvents,
        TreeId::Audit,
        TreeId::Campaigns,
        TreeId::Bindings,
        TreeId::Outbox,
        TreeId::SendKeys,
        TreeId::Deliveries,
        TreeId::DeadLetters,
        TreeId::Skips,
        TreeId::ProfileSends,
        TreeId::KpiSnapshots,
        TreeId::Secrets,
        TreeId::Tokens,
        TreeId::Triggers,
        TreeId::TraitBindings,
        TreeId::Receipts,
        TreeId::FeedbackEndpoints,
        TreeId::Emails,
        TreeId::Measurements,
        TreeId::Segments,
        TreeId::SegmentMembers,
        TreeId::SegmentRechecks,
        TreeId::SegmentDue,
        TreeId::SegmentDirty,
        TreeId::Journeys,
        TreeId::JourneyVersions,
        TreeId::JourneyPositions,
        TreeId::JourneyTimers,
        TreeId::JourneyEntries,
        TreeId::JourneyCounts,
        TreeId::Content,
        TreeId::ContentVersions,
        TreeId::ConsoleSessions,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            TreeId::Meta => "meta",
            TreeId::Plugins => "plugins",
            TreeId::Components => "components",
            TreeId::Artifacts => "artifacts",
            TreeId::Profiles => "profiles",
            TreeId::Identities => "identities",
            TreeId::ProfileAliases => "profile_aliases",
            TreeId::Events => "events",
            TreeId::EventIds => "event_ids",
            TreeId::CampaignEvents => "campaign_events",
            TreeId::Audit => "audit",
            TreeId::Campaigns => "campaigns",
            TreeId::Bindings => "bindings",
            TreeId::Outbox => "outbox",
            TreeId::SendKeys => "send_keys",
            TreeId::Deliveries => "deliveries",
            TreeId::DeadLetters => "dead_letters",
            TreeId::Skips => "skips",
            TreeId::ProfileSends => "profile_sends",
            TreeId::KpiSnapshots => "kpi_snapshots",
            TreeId::Secrets => "secrets",
            TreeId::Tokens => "tokens",
            TreeId::Triggers => "triggers",
            TreeId::TraitBindings => "trait_bindings",
            TreeId::Receipts => "receipts",
            TreeId::FeedbackEndpoints => "feedback_endpoints",
            TreeId::Emails => "emails",
            TreeId::Measurements => "measurements",
            TreeId::Segments => "segments",
            TreeId::SegmentMembers => "segment_members",
            TreeId::SegmentRechecks => "segment_rechecks",
            TreeId::SegmentDue => "segment_due",
            TreeId::SegmentDirty => "segment_dirty",
            TreeId::Journeys => "journeys",
            TreeId::JourneyVersions => "journey_versions",
            TreeId::JourneyPositions => "journey_positions",
            TreeId::JourneyTimers => "journey_timers",
            TreeId::JourneyEntries => "journey_entries",
            TreeId::JourneyCounts => "journey_counts",
            TreeId::Content => "content",
            TreeId::ContentVersions => "content_versions",
            TreeId::ConsoleSessions => "console_sessions",
        }
    }
}

/// A failure of the embedded store.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The underlying database failed (I/O, corruption).
    #[error("store: {0}")]
    Database(String),
    /// Another process has the data directory open.
    #[error(
        "store: the data directory {path} is in use by another Baton process; stop it, or talk to \
         it through its API, or pass another --data directory"
    )]
    Locked {
        /// The directory.
        path: String,
    },
    /// A stored record could not be decoded.
    #[error("store: corrupt {what}: {reason}")]
    Corrupt {
        /// Which record.
        what: String,
        /// Why it could not be decoded.
        reason: String,
    },
    /// The database was written by a newer Baton.
    #[error(
        "store: the database at {path} has schema version {found}, newer than this build's {supported}; \
         run a newer Baton or point --data at another directory"
    )]
    NewerSchema {
        /// The directory.
        path: String,
        /// The version found on disk.
        found: u32,
        /// The newest version this build understands.
        supported: u32,
    },
}

impl From<sled::Error> for StorageError {
    fn from(err: sled::Error) -> Self {
        StorageError::Database(err.to_string())
    }
}

impl<E: std::fmt::Debug> From<sled::transaction::TransactionError<E>> for StorageError {
    fn from(err: sled::transaction::TransactionError<E>) -> Self {
        StorageError::Database(format!("{err:?}"))
    }
}

/// The embedded store. Cheap to clone; clones share one database.
#[derive(Clone)]
pub struct Storage {
    /// The database. Its writer lock serializes writers of profiles and events: planning a batch
    /// (idempotency checks, identity resolution) reads what earlier batches wrote.
    backend: Arc<dyn Backend>,
    /// The key secrets are encrypted with, kept outside the data directory.
    keyring: Arc<secrets::Keyring>,
    /// See [`StorageConfig::merge_known_users`].
    merge_known_users: bool,
    /// What saved segments read, so writes mark the profiles they change for them (set by the
    /// engine; nothing is marked while no segment exists).
    segment_interest: Arc<std::sync::RwLock<crate::segment::SegmentInterest>>,
}

impl Storage {
    /// Opens (creating if needed) the database in `dir`.
    ///
    /// A directory held by another process is refused with [`StorageError::Locked`] after a short
    /// wait (a store being closed in this process releases its lock within moments).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StorageError> {
        Self::open_with(dir, &StorageConfig::default())
    }

    /// Opens the database in `dir` with explicit settings.
    pub fn open_with(dir: impl AsRef<Path>, settings: &StorageConfig) -> Result<Self, StorageError> {
        let dir = dir.as_ref();
        let keyring = secrets::Keyring::at(
            settings.secret_key_file.clone().unwrap_or_else(|| secrets::default_key_file(dir)),
        );
        if let Some(url) = &settings.url {
            if settings.max_connections < 2 {
                return Err(StorageError::Database(
                    "storage.max_connections must be at least 2 (one holds the writer lock while another reads)".into(),
                ));
            }
            let target = postgres::Target::parse(url)?;
            let limits = postgres::PoolLimits {
                max_connections: settings.max_connections,
                acquire_timeout: std::time::Duration::from_millis(settings.acquire_timeout_ms),
            };
            let backend = postgres::PgBackend::open(target, limits)?;
            let storage = Storage {
                backend: Arc::new(backend),
                keyring: Arc::new(keyring),
                merge_known_users: settings.merge_known_users,
                segment_interest: Default::default(),
            };
            storage.check_secret_key()?;
            return Ok(storage);
        }
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        // Baton flushes explicitly before every acknowledgement, so sled's periodic background
        // flusher adds nothing; without it, dropping the store releases the directory at once.
        let config = sled::Config::new().path(dir).flush_every_ms(None).cache_capacity(settings.cache_bytes);
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                // sled reports a held directory lock as an I/O error with this text.
                Err(sled::Error::Io(err)) if err.to_string().contains("could not acquire lock") => {
                    if std::time::Instant::now() >= deadline {
                        return Err(StorageError::Locked { path: dir.display().to_string() });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(err) => return Err(err.into()),
            }
        };
        let mut storage = Self::from_db(db, &dir.display().to_string(), keyring)?;
        storage.merge_known_users = settings.merge_known_users;
        Ok(storage)
    }

    /// On a shared database, makes sure this worker's secret key is the one the others use:
    /// secrets sealed and links signed by one worker must open on every other. The first worker
    /// records a check of its key (a MAC, which does not reveal it); a worker whose key differs,
    /// or that has no key file where the database already has secrets sealed, is refused before
    /// it creates a key of its own (which would seal new secrets no other worker can open and
    /// sign unsubscribe links the others reject).
    fn check_secret_key(&self) -> Result<(), StorageError> {
        const CHECK: &[u8] = b"secret_key_check";
        let Some(file) = self.keyring.file() else { return Ok(()) };
        let meta = self.tree(TreeId::Meta);
        let fix = |problem: String| {
            StorageError::Database(format!(
                "{problem}: copy the key file of a worker already running on this database to {} \
                 (or point storage.secret_key_file at it); every worker needs the same key",
                file.display()
            ))
        };
        if meta.get(CHECK)?.is_some() && !file.exists() {
            return Err(fix(format!(
                "there is no secret key file at {}, and this database's workers already use a key",
                file.display()
            )));
        }
        let ours = self.keyring.check()?;
        let recorded = match meta.get(CHECK)? {
            Some(recorded) => recorded.to_vec(),
            None => {
                // Workers starting together: the first to take the lock records its key.
                let _writer = self.lock_writer()?;
                match meta.get(CHECK)? {
                    Some(recorded) => recorded.to_vec(),
                    None => {
                        meta.insert(CHECK, ours)?;
                        self.backend.durable()?;
                        ours.to_vec()
                    }
                }
            }
        };
        if recorded != ours {
            return Err(fix(format!(
                "the secret key file {} is not the key this database's workers use",
                file.display()
            )));
        }
        Ok(())
    }

    /// Opens a database that lives only as long as this value, for tests and dry runs.
    pub fn temporary() -> Result<Self, StorageError> {
        let db = sled::Config::new().temporary(true).flush_every_ms(None).open()?;
        Self::from_db(db, "(temporary)", secrets::Keyring::ephemeral())
    }

    fn from_db(db: sled::Db, path: &str, keyring: secrets::Keyring) -> Result<Self, StorageError> {
        let backend = sled_backend::SledBackend::new(db)?;
        let meta = Table::new(&backend, TreeId::Meta);
        match meta.get(b"schema_version")? {
            Some(raw) => {
                let found = decode_u32(&raw, "schema version")?;
                if found > SCHEMA_VERSION {
                    return Err(StorageError::NewerSchema {
                        path: path.to_owned(),
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
            }
            None => {
                meta.insert(b"schema_version", SCHEMA_VERSION.to_be_bytes())?;
            }
        }
        Ok(Storage {
            backend: Arc::new(backend),
            keyring: Arc::new(keyring),
            merge_known_users: false,
            segment_interest: Default::default(),
        })
    }

    /// The embedded database, for the runtime's caches that live beside the data (never for data:
    /// data goes through the typed methods and their transactions). `None` on a server database.
    pub(crate) fn local_db(&self) -> Option<&sled::Db> {
        self.backend.local_db()
    }

    fn tree(&self, id: TreeId) -> Table<'_> {
        Table::new(&*self.backend, id)
    }

    /// Takes the writer lock (see [`Storage::backend`]).
    fn lock_writer(&self) -> Result<backend::WriterGuard<'_>, StorageError> {
        self.backend.lock(Lock::Writer)
    }

    /// Tells the other workers sharing this store's database of a change to something they keep
    /// in memory (see [`Engine::follow_changes`](crate::Engine::follow_changes)). The change is
    /// committed already, so a failure here is logged, not returned: the others then catch up
    /// at their next resync.
    pub(crate) fn announce(&self, change: &str) {
        if let Err(err) = self.backend.announce(change) {
            tracing::warn!(change, error = %err, "Could not tell the other workers of a change.");
        }
    }

    /// The changes announced by any worker sharing this store's database, from now on; `None`
    /// for an embedded store, which one process owns.
    pub(crate) fn follow_changes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>> {
        self.backend.follow()
    }

    /// Statements sent to a PostgreSQL store and the time spent waiting for their answers, since
    /// it was opened (a workload's database share, for profiles); `None` for an embedded store.
    pub fn database_time(&self) -> Option<(u64, std::time::Duration)> {
        self.backend.database_time()
    }

    /// The database connection pool's use: connections open, in use, and the most allowed
    /// (`storage.max_connections`); `None` for an embedded store.
    pub fn pool_usage(&self) -> Option<(usize, usize, usize)> {
        self.backend.pool_usage()
    }

    /// Takes `lock`, waiting while another holder (in this process or another worker on the
    /// same database) has it. Released when the guard is dropped, or when the process dies.
    pub(crate) fn exclusive(&self, lock: Lock) -> Result<impl Sized + '_, StorageError> {
        self.backend.lock(lock)
    }

    /// Takes `lock` if no one holds it; `None` if someone does.
    pub(crate) fn try_exclusive(&self, lock: Lock) -> Result<Option<impl Sized + '_>, StorageError> {
        self.backend.try_lock(lock)
    }

    /// The last schedule slot recorded under `name` (see [`Storage::set_schedule_slot`]).
    pub fn schedule_slot(&self, name: &str) -> Result<Option<i64>, StorageError> {
        let key = format!("schedule:{name}");
        match self.tree(TreeId::Meta).get(key.as_bytes())? {
            Some(raw) => {
                let bytes: [u8; 8] = raw.as_ref().try_into().map_err(|_| StorageError::Corrupt {
                    what: key.clone(),
                    reason: "expected 8 bytes".into(),
                })?;
                Ok(Some(i64::from_be_bytes(bytes)))
            }
            None => Ok(None),
        }
    }

    /// Records that the scheduled job `name` ran for `slot`, durably.
    pub fn set_schedule_slot(&self, name: &str, slot: i64) -> Result<(), StorageError> {
        self.tree(TreeId::Meta).insert(format!("schedule:{name}").as_bytes(), slot.to_be_bytes())?;
        self.backend.durable()
    }

    /// Writes everything buffered to disk.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.backend.flush()
    }
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(value).map_err(|e| StorageError::Database(format!("encode: {e}")))
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(raw: &[u8], what: &str) -> Result<T, StorageError> {
    serde_json::from_slice(raw)
        .map_err(|e| StorageError::Corrupt { what: what.to_owned(), reason: e.to_string() })
}

/// [`decode`] of a type that borrows from `raw`.
pub(crate) fn decode_borrowed<'a, T: serde::Deserialize<'a>>(
    raw: &'a [u8],
    what: &str,
) -> Result<T, StorageError> {
    serde_json::from_slice(raw)
        .map_err(|e| StorageError::Corrupt { what: what.to_owned(), reason: e.to_string() })
}

fn decode_u32(raw: &[u8], what: &str) -> Result<u32, StorageError> {
    let bytes: [u8; 4] = raw.try_into().map_err(|_| StorageError::Corrupt {
        what: what.to_owned(),
        reason: format!("expected 4 bytes, found {}", raw.len()),
    })?;
    Ok(u32::from_be_bytes(bytes))
}
