//! Several workers, one database: what another worker changed that this one keeps in memory.
//!
//! Campaigns, bindings, journeys and content are read from the store where they are used, so a
//! change through any worker takes effect on every worker at its next read. Two things are kept
//! in memory and are told of changes instead ([`crate::Storage::announce`], PostgreSQL's
//! `LISTEN/NOTIFY`): loaded plugins' quarantine (and their removal), and what the saved segments
//! read, which decides which writes mark profiles for upkeep.
//!
//! Depends on: `store` (announcements), `runtime` (loaded plugins).

use std::sync::Arc;

use super::{Engine, EngineError};
use crate::plugin::ContentHash;
use crate::store::{PLUGIN_CHANGE, RESYNC, SEGMENTS_CHANGE};

impl Engine {
    /// Follows the changes other workers sharing this engine's database announce, applying each
    /// to this worker's memory, until the engine is dropped. Returns at once, doing nothing, on
    /// an embedded store. Call it once, from within a tokio runtime.
    pub fn follow_changes(self: &Arc<Self>) {
        let Some(mut changes) = self.storage.follow_changes() else { return };
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(change) = changes.recv().await {
                let Some(engine) = engine.upgrade() else { return };
                let applied = tokio::task::spawn_blocking(move || engine.apply_change(&change)).await;
                match applied {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => tracing::error!(error = %err, "Could not apply another worker's change."),
                    Err(err) => tracing::error!(error = %err, "Applying another worker's change failed."),
                }
            }
        });
    }

    /// Applies one announced change (see [`Engine::follow_changes`]).
    pub(crate) fn apply_change(&self, change: &str) -> Result<(), EngineError> {
        if let Some(hash) = change.strip_prefix(PLUGIN_CHANGE) {
            let Ok(hash) = hash.parse::<ContentHash>() else {
                tracing::warn!(change, "An announced change names no plugin; ignored.");
                return Ok(());
            };
            return self.reload_plugin(&hash);
        }
        if change == SEGMENTS_CHANGE {
            return self.refresh_segment_interest();
        }
        if change == RESYNC {
            for hash in self.runtime.loaded_hashes() {
                self.reload_plugin(&hash)?;
            }
            return self.refresh_segment_interest();
        }
        tracing::warn!(change, "An announced change this build does not know; ignored.");
        Ok(())
    }

    /// Brings a loaded plugin in line with its stored record: its quarantine, or its removal.
    fn reload_plugin(&self, hash: &ContentHash) -> Result<(), EngineError> {
        match self.storage.plugin(hash)? {
            Some(record) => self.runtime.set_quarantine_state(hash, record.quarantine.as_ref()),
            None => self.runtime.forget(hash),
        }
        Ok(())
    }
}
