//! Group commit: many writers share one flush.
//!
//! A writer applies its batch (in memory, atomic), then waits until a flush that started after
//! its batch was applied has finished. The first waiter to find no flush running becomes the
//! leader and flushes for everyone who registered before it started; the others wait for it.
//! One fsync then acknowledges many batches, so durability stays cheap under concurrency.

use std::sync::{Condvar, Mutex};

use super::StorageError;

pub(crate) struct GroupCommit {
    db: sled::Db,
    state: Mutex<State>,
    flushed: Condvar,
}

#[derive(Default)]
struct State {
    /// Tickets handed out: writers whose batches are applied.
    registered: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    /// A leader is flushing right now.
    flushing: bool,
    /// The last flush failed with this error; waiters covered by it report it.
    failed: Option<(u64, String)>,
}

impl GroupCommit {
    pub(crate) fn new(db: sled::Db) -> Self {
        GroupCommit { db, state: Mutex::new(State::default()), flushed: Condvar::new() }
    }

    /// Blocks until everything applied before this call is on disk.
    pub(crate) fn wait_durable(&self) -> Result<(), StorageError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.registered += 1;
        let ticket = state.registered;
        loop {
            if state.durable >= ticket {
                return match &state.failed {
                    Some((upto, err)) if *upto >= ticket => Err(StorageError::Database(err.clone())),
                    _ => Ok(()),
                };
            }
            if state.flushing {
                state = self.flushed.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Lead: flush for every ticket registered so far.
            state.flushing = true;
            let covers = state.registered;
            drop(state);
            let result = self.db.flush();
            state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.flushing = false;
            state.durable = covers;
            state.failed = result.err().map(|e| (covers, e.to_string()));
            self.flushed.notify_all();
        }
    }
}
