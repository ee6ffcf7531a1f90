//! `Storage`: everything Baton keeps, in an embedded sled database.
//!
//! Callers see domain types only; no sled type crosses this module's boundary, so a server-grade
//! backend can later stand behind the same interface. Trees are declared once, here. Keys are
//! big-endian and ordered for prefix scans.
//!
//! Depends on: `plugin` (domain types).

use std::path::Path;

use crate::plugin::{ContentHash, PluginRecord};

/// The schema this build writes. A database written by a newer build is refused.
const SCHEMA_VERSION: u32 = 1;

/// Tree names, declared once.
mod trees {
    pub const META: &str = "meta";
    pub const PLUGINS: &str = "plugins";
    pub const COMPONENTS: &str = "components";
    pub const ARTIFACTS: &str = "artifacts";
}

/// A failure of the embedded store.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The underlying database failed (I/O, corruption).
    #[error("store: {0}")]
    Database(String),
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
    db: sled::Db,
    plugins: sled::Tree,
    components: sled::Tree,
    artifacts: sled::Tree,
}

impl Storage {
    /// Opens (creating if needed) the database in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StorageError> {
        let dir = dir.as_ref();
        let db = sled::Config::new().path(dir).open()?;
        Self::from_db(db, &dir.display().to_string())
    }

    /// Opens a database that lives only as long as this value, for tests and dry runs.
    pub fn temporary() -> Result<Self, StorageError> {
        let db = sled::Config::new().temporary(true).open()?;
        Self::from_db(db, "(temporary)")
    }

    fn from_db(db: sled::Db, path: &str) -> Result<Self, StorageError> {
        let meta = db.open_tree(trees::META)?;
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
                meta.insert(b"schema_version", &SCHEMA_VERSION.to_be_bytes())?;
            }
        }
        Ok(Storage {
            plugins: db.open_tree(trees::PLUGINS)?,
            components: db.open_tree(trees::COMPONENTS)?,
            artifacts: db.open_tree(trees::ARTIFACTS)?,
            db,
        })
    }

    /// Records an installed plugin and its component bytes atomically and durably: after this
    /// returns, the plugin survives a crash; a crash before leaves no trace of it.
    pub fn put_plugin(&self, record: &PluginRecord, component: &[u8]) -> Result<(), StorageError> {
        use sled::Transactional;
        let key = record.hash.as_bytes();
        let value = encode(record)?;
        (&self.plugins, &self.components).transaction(|(plugins, components)| {
            components.insert(&key[..], component)?;
            plugins.insert(&key[..], value.as_slice())?;
            Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
        })?;
        self.db.flush()?;
        Ok(())
    }

    /// The registry record of a plugin, if installed.
    pub fn plugin(&self, hash: &ContentHash) -> Result<Option<PluginRecord>, StorageError> {
        self.plugins
            .get(hash.as_bytes())?
            .map(|raw| decode(&raw, &format!("plugin {hash}")))
            .transpose()
    }

    /// Every installed plugin, ordered by content hash.
    pub fn plugins(&self) -> Result<Vec<PluginRecord>, StorageError> {
        self.plugins
            .iter()
            .map(|entry| {
                let (_, raw) = entry?;
                decode(&raw, "plugin record")
            })
            .collect()
    }

    /// The component bytes of an installed plugin.
    pub fn component(&self, hash: &ContentHash) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .components
            .get(hash.as_bytes())?
            .map(|raw| raw.to_vec()))
    }

    /// The compiled artifact of a plugin for the engine identified by `engine_key`.
    pub fn artifact(
        &self,
        hash: &ContentHash,
        engine_key: &str,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .artifacts
            .get(artifact_key(hash, engine_key))?
            .map(|raw| raw.to_vec()))
    }

    /// Keeps a compiled artifact so that a restart does not recompile. Not flushed on its own:
    /// losing it in a crash costs one recompilation, never correctness.
    pub fn put_artifact(
        &self,
        hash: &ContentHash,
        engine_key: &str,
        artifact: &[u8],
    ) -> Result<(), StorageError> {
        self.artifacts
            .insert(artifact_key(hash, engine_key), artifact)?;
        Ok(())
    }

    /// Writes everything buffered to disk.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.db.flush()?;
        Ok(())
    }
}

fn artifact_key(hash: &ContentHash, engine_key: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(32 + engine_key.len());
    key.extend_from_slice(hash.as_bytes());
    key.extend_from_slice(engine_key.as_bytes());
    key
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(value).map_err(|e| StorageError::Database(format!("encode: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(raw: &[u8], what: &str) -> Result<T, StorageError> {
    serde_json::from_slice(raw).map_err(|e| StorageError::Corrupt {
        what: what.to_owned(),
        reason: e.to_string(),
    })
}

fn decode_u32(raw: &[u8], what: &str) -> Result<u32, StorageError> {
    let bytes: [u8; 4] = raw.try_into().map_err(|_| StorageError::Corrupt {
        what: what.to_owned(),
        reason: format!("expected 4 bytes, found {}", raw.len()),
    })?;
    Ok(u32::from_be_bytes(bytes))
}
