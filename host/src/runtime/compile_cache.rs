//! Cranelift's incremental compilation cache, kept in the store: compiled functions by a hash of
//! their body and the target. A JavaScript or Python plugin carries a whole engine
//! (StarlingMonkey, CPython) whose code is the same in every plugin built with the same
//! toolchain; with this cache only the first such plugin pays for compiling the engine, and the
//! next ones compile little more than what differs.
//!
//! It is a cache: losing it costs time, never correctness (Cranelift checks each entry's version
//! and recompiles what it cannot use), so writes are not flushed. Its size is capped; past the cap
//! new entries are not kept.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::CacheStore;

/// The store's tree of compiled functions.
const TREE: &str = "compile-cache";

/// Compiled functions in a sled tree, up to a byte budget.
pub(crate) struct CompileCache {
    tree: sled::Tree,
    bytes: AtomicU64,
    cap_bytes: u64,
}

impl CompileCache {
    /// Opens the cache in `db`, counting what it already holds against `cap_bytes`.
    pub(crate) fn open(db: &sled::Db, cap_bytes: u64) -> sled::Result<CompileCache> {
        let tree = db.open_tree(TREE)?;
        let mut bytes = 0u64;
        for entry in tree.iter() {
            let (key, value) = entry?;
            bytes += (key.len() + value.len()) as u64;
        }
        Ok(CompileCache { tree, bytes: AtomicU64::new(bytes), cap_bytes })
    }

    /// Bytes held (keys and values).
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

impl Drop for CompileCache {
    fn drop(&mut self) {
        // Writes are not flushed as they happen; keep what this run compiled for the next one.
        if let Err(err) = self.tree.flush() {
            tracing::debug!(error = %err, "Compile cache not flushed.");
        }
    }
}

impl std::fmt::Debug for CompileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompileCache")
            .field("bytes", &self.bytes())
            .field("cap_bytes", &self.cap_bytes)
            .finish()
    }
}

impl CacheStore for CompileCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        match self.tree.get(key) {
            Ok(found) => found.map(|value| Cow::Owned(value.to_vec())),
            Err(err) => {
                tracing::warn!(error = %err, "Compile cache unreadable; compiling instead.");
                None
            }
        }
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let size = (key.len() + value.len()) as u64;
        if self.bytes.fetch_add(size, Ordering::Relaxed).saturating_add(size) > self.cap_bytes {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            return false;
        }
        match self.tree.insert(key, value) {
            Ok(Some(previous)) => {
                // Another thread compiled the same function meanwhile; count it once.
                self.bytes.fetch_sub((key.len() + previous.len()) as u64, Ordering::Relaxed);
                true
            }
            Ok(None) => true,
            Err(err) => {
                self.bytes.fetch_sub(size, Ordering::Relaxed);
                tracing::warn!(error = %err, "Compile cache not written.");
                false
            }
        }
    }
}
