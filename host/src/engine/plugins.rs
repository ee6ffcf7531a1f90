//! The application layer's plugin actions: install, re-enable and remove. Each takes the actor and
//! writes the audit record; the API and the CLI's local mode both call these.
//!
//! May depend on: the store, the runtime.

use super::{Engine, EngineError};
use crate::plugin::{ContentHash, PluginRecord};

impl Engine {
    /// Installs a component (compiled, checked and stored, or refused whole).
    pub fn install_plugin(&self, actor: &str, bytes: &[u8]) -> Result<PluginRecord, EngineError> {
        let record = self.runtime.install(bytes)?.record().clone();
        self.audit(
            actor,
            "plugin_installed",
            &record.hash.to_string(),
            serde_json::json!({ "plugin": record.label() }),
        )?;
        Ok(record)
    }

    /// Lifts a plugin's quarantine (the runtime audits it, with the quarantine it lifts).
    pub fn enable_plugin(&self, actor: &str, hash: &ContentHash) -> Result<(), EngineError> {
        if !self.runtime.enable(hash, actor, self.now())? {
            return Err(EngineError::PluginNotFound(hash.to_string()));
        }
        Ok(())
    }

    /// Removes a plugin that no binding pins.
    /// A channel adapter with queued sends or dead letters is removed only when `drop_sends`
    /// says so: its queued sends are then recorded as rejected and its dead letters discarded
    /// (nothing could send them any more).
    pub fn remove_plugin(
        &self,
        actor: &str,
        hash: &ContentHash,
        drop_sends: bool,
    ) -> Result<(), EngineError> {
        if let Some(binding) = self.storage.bindings_of_plugin(hash)?.first() {
            return Err(EngineError::PluginBound {
                plugin: hash.to_string(),
                campaign: binding.campaign.clone(),
                slot: binding.slot.key(),
            });
        }
        if let Some(binding) = self.storage.trait_bindings()?.into_iter().find(|b| b.plugin == *hash) {
            return Err(EngineError::PluginInUse {
                plugin: hash.to_string(),
                used_by: format!(
                    "computes the traits of binding `{}`; remove it first (DELETE /v1/traits/{})",
                    binding.name, binding.name
                ),
            });
        }
        let judged_by = |s: &crate::segment::SavedSegment| matches!(&s.definition, crate::segment::SegmentDefinition::Rule { plugin, .. } if plugin == hash);
        if let Some(segment) = self.storage.segments()?.into_iter().find(judged_by) {
            return Err(EngineError::PluginInUse {
                plugin: hash.to_string(),
                used_by: format!(
                    "is the rule of saved segment `{}`; delete the segment or give it another rule first (PUT /v1/segments/{})",
                    segment.id, segment.id
                ),
            });
        }
        let (queued, dead) = self.storage.sends_of_plugin(hash)?;
        if !(queued.is_empty() && dead.is_empty()) {
            if !drop_sends {
                return Err(EngineError::PluginInUse {
                    plugin: hash.to_string(),
                    used_by: format!(
                        "is the adapter of {} queued sends and {} dead letters; let them go out (or replay the \
                         dead letters) first, or remove it with drop_sends=true (CLI: --drop-sends), which \
                         records the queued ones as rejected and discards the dead letters",
                        queued.len(),
                        dead.len()
                    ),
                });
            }
            let now = self.now();
            for key in &queued {
                let outcome = crate::delivery::SendOutcome::Rejected {
                    reason: format!("its channel plugin was removed by {actor}"),
                };
                self.storage.finish_send(key, outcome, now)?;
            }
            self.storage.discard_dead_letters(&dead)?;
            self.audit(
                actor,
                "plugin_sends_dropped",
                &hash.to_string(),
                serde_json::json!({ "queued": queued.len(), "dead_letters": dead.len() }),
            )?;
        }
        if !self.storage.remove_plugin(hash)? {
            return Err(EngineError::PluginNotFound(hash.to_string()));
        }
        self.runtime.forget(hash);
        self.audit(actor, "plugin_removed", &hash.to_string(), serde_json::Value::Null)
    }
}
