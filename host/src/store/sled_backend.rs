//! The embedded backend: one sled tree per table, in one directory that one process opens.
//!
//! Depends on: `backend` (the interface), `commit` (group commit).

use std::ops::Bound;
use std::sync::Mutex;

use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::backend::{Backend, Bytes, Entry, Lock, Write, WriterGuard};
use super::commit::GroupCommit;
use super::{StorageError, TreeId};

pub(crate) struct SledBackend {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    commit: GroupCommit,
    /// The locks, by [`Lock`]: within one process, a mutex is all a lock takes (sled's directory
    /// lock keeps other processes out).
    locks: [Mutex<()>; Lock::COUNT],
}

impl SledBackend {
    pub(crate) fn new(db: sled::Db) -> Result<Self, StorageError> {
        let trees = TreeId::ALL.iter().map(|t| db.open_tree(t.name())).collect::<Result<Vec<_>, _>>()?;
        Ok(SledBackend { commit: GroupCommit::new(db.clone()), trees, locks: Default::default(), db })
    }

    fn tree(&self, id: TreeId) -> &sled::Tree {
        &self.trees[id as usize]
    }
}

impl Backend for SledBackend {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Bytes>, StorageError> {
        Ok(self.tree(tree).get(key)?.map(Bytes::Shared))
    }

    fn scan<'a>(
        &'a self,
        tree: TreeId,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = Result<Entry, StorageError>> + 'a> {
        let range = self.tree(tree).range::<Vec<u8>, _>((lower, upper));
        let entry = |e: sled::Result<(sled::IVec, sled::IVec)>| {
            e.map(|(k, v)| (Bytes::Shared(k), Bytes::Shared(v))).map_err(StorageError::from)
        };
        if reverse { Box::new(range.rev().map(entry)) } else { Box::new(range.map(entry)) }
    }

    fn insert(&self, tree: TreeId, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        self.tree(tree).insert(key, value)?;
        Ok(())
    }

    fn remove(&self, tree: TreeId, key: &[u8]) -> Result<Option<Bytes>, StorageError> {
        Ok(self.tree(tree).remove(key)?.map(Bytes::Shared))
    }

    fn apply(&self, writes: &[Write<'_>]) -> Result<(), StorageError> {
        self.apply_if_present(&[], writes).map(|_| ())
    }

    fn apply_if_present(
        &self,
        present: &[(TreeId, &[u8])],
        writes: &[Write<'_>],
    ) -> Result<bool, StorageError> {
        if writes.is_empty() && present.is_empty() {
            return Ok(true);
        }
        // Only the trees read or written take part: a sled transaction's cost grows with its
        // trees, and most writes touch three or four of the store's forty.
        let mut used: Vec<TreeId> =
            writes.iter().map(|(tree, _, _)| *tree).chain(present.iter().map(|(tree, _)| *tree)).collect();
        used.sort();
        used.dedup();
        let trees: Vec<&sled::Tree> = used.iter().map(|t| self.tree(*t)).collect();
        let applied = trees.as_slice().transaction(|tx| {
            for (tree, key) in present {
                let Ok(at) = used.binary_search(tree) else { continue };
                if tx[at].get(*key)?.is_none() {
                    return Err(ConflictableTransactionError::Abort(()));
                }
            }
            for (tree, key, value) in writes {
                let Ok(at) = used.binary_search(tree) else { continue };
                let tree = &tx[at];
                match value {
                    Some(value) => tree.insert(*key, *value)?,
                    None => tree.remove(*key)?,
                };
            }
            Ok(())
        });
        match applied {
            Ok(()) => Ok(true),
            Err(sled::transaction::TransactionError::Abort(())) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    fn next_id(&self) -> Result<u64, StorageError> {
        Ok(self.db.generate_id()?)
    }

    fn count(&self, tree: TreeId) -> Result<usize, StorageError> {
        Ok(self.tree(tree).len())
    }

    fn durable(&self) -> Result<(), StorageError> {
        self.commit.wait_durable()
    }

    fn flush(&self) -> Result<(), StorageError> {
        self.db.flush()?;
        Ok(())
    }

    fn lock(&self, lock: Lock) -> Result<WriterGuard<'_>, StorageError> {
        Ok(WriterGuard::new(self.locks[lock as usize].lock().unwrap_or_else(|p| p.into_inner())))
    }

    fn try_lock(&self, lock: Lock) -> Result<Option<WriterGuard<'_>>, StorageError> {
        match self.locks[lock as usize].try_lock() {
            Ok(guard) => Ok(Some(WriterGuard::new(guard))),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                Ok(Some(WriterGuard::new(poisoned.into_inner())))
            }
            Err(std::sync::TryLockError::WouldBlock) => Ok(None),
        }
    }

    fn announce(&self, _change: &str) -> Result<(), StorageError> {
        Ok(())
    }

    fn follow(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>> {
        None
    }

    fn drop_event_months(
        &self,
        _cutoff: i64,
        _going: &mut dyn FnMut(&[i64]) -> Result<(), StorageError>,
    ) -> Result<Option<usize>, StorageError> {
        Ok(None)
    }

    fn database_time(&self) -> Option<(u64, std::time::Duration)> {
        None
    }

    fn pool_usage(&self) -> Option<(usize, usize, usize)> {
        None
    }

    fn local_db(&self) -> Option<&sled::Db> {
        Some(&self.db)
    }
}
