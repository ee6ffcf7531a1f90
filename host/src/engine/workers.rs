//! Several workers, one database: what another worker changed that this one keeps in memory.
//!
//! Campaigns, bindings, journeys and content are read from the store where they are used, so a
//! change through any worker takes effect on every worker at its next read. Two things are kept
//! in memory and are told of changes instead ([`crate::Storage::announce`], PostgreSQL's
//! `LISTEN/NOTIFY`): plugins (each worker compiles what another installed as soon as it hears
//! of it, and follows their quarantine and removal), and what the saved segments read, which
//! decides which writes mark profiles for upkeep.
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
        // A worker starting next to others loads what they installed (from its compile cache
        // folder, or compiling once) before events need it.
        let warming = self.clone();
        tokio::task::spawn_blocking(move || match warming.storage.plugins() {
            Ok(plugins) => {
                for plugin in plugins {
                    warming.load_in_background(&plugin.hash);
                }
            }
            Err(err) => tracing::warn!(error = %err, "Could not list the installed plugins to load them."),
        });
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
            // Installs, quarantines and removals announced while this worker was not listening.
            let mut hashes = self.runtime.loaded_hashes();
            hashes.extend(self.storage.plugins()?.into_iter().map(|plugin| plugin.hash));
            hashes.sort_unstable();
            hashes.dedup();
            for hash in hashes {
                self.reload_plugin(&hash)?;
            }
            return self.refresh_segment_interest();
        }
        tracing::warn!(change, "An announced change this build does not know; ignored.");
        Ok(())
    }

    /// Brings a plugin in line with its stored record: loads one installed elsewhere, follows
    /// a loaded one's quarantine, forgets a removed one.
    fn reload_plugin(&self, hash: &ContentHash) -> Result<(), EngineError> {
        match self.storage.plugin(hash)? {
            Some(record) if self.runtime.is_loaded(hash) => {
                self.runtime.set_quarantine_state(hash, record.quarantine.as_ref())
            }
            Some(_) => self.load_in_background(hash),
            None => self.runtime.forget(hash),
        }
        Ok(())
    }

    /// Loads an installed plugin on a blocking thread of its own, so that a compile (a second or
    /// two for a large component) holds up neither the changes that follow nor the caller.
    fn load_in_background(&self, hash: &ContentHash) {
        let (runtime, hash) = (self.runtime.clone(), *hash);
        let load = move || match runtime.plugin(&hash) {
            Ok(plugin) => tracing::debug!(plugin = %plugin.record().label(), "Plugin loaded ahead of use."),
            Err(err) => {
                tracing::warn!(plugin = %hash, error = %err, "Could not load an installed plugin ahead of use; it loads when first used.")
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn_blocking(load)),
            Err(_) => load(),
        }
    }
}
