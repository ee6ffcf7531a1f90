//! Computed traits: computed-trait plugins (contract 0.2.0) derive profile attributes such as a
//! lead score from events. A trait binding runs its plugin on every profile an arriving event
//! touches, before the triggered campaigns see that event (so a segment on the score reacts to
//! the event that changed it), and over every profile on demand. What it returns is stored in
//! the profile's `computed` map, which no source can write.
//!
//! May depend on: the store, the runtime, `subject`, `pipeline`'s scan.

use std::collections::HashSet;
use std::sync::Arc;

use super::pipeline::{EventScope, hash64};
use super::subject::{Reads, subject};
use super::{Engine, EngineError};
use crate::contract::{Attribute, Invocation, Value};
use crate::plugin::{ContentHash, PluginKind};
use crate::profile::{Event, Profile};
use crate::runtime::LoadedPlugin;
use crate::store::{TraitBinding, TraitUpdate};

/// What a recompute did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct TraitReport {
    /// Profiles the plugin judged.
    pub evaluated: usize,
    /// Profiles whose traits changed.
    pub changed: usize,
}

/// Profiles per `compute` call in a bulk recompute.
const TRAIT_BATCH: usize = 256;

impl Engine {
    /// Every trait binding, by name.
    pub fn trait_bindings(&self) -> Result<Vec<TraitBinding>, EngineError> {
        Ok(self.storage.trait_bindings()?)
    }

    /// Binds a computed-trait plugin under `name` (or rebinds it), audited. Traits start to
    /// follow events at once; run [`Engine::recompute_traits`] to fill them in for the profiles
    /// that exist.
    pub fn bind_trait(
        &self,
        actor: &str,
        name: &str,
        plugin: &ContentHash,
        config: serde_json::Value,
    ) -> Result<TraitBinding, EngineError> {
        Engine::check_name("trait binding", name)?;
        let loaded = self.plugin_for(plugin, PluginKind::ComputedTrait, "trait", &config)?;
        let binding = TraitBinding { name: name.to_owned(), plugin: *plugin, config, bound_at: self.now() };
        self.storage.put_trait_binding(&binding)?;
        self.forget_reads();
        self.audit(
            actor,
            "trait_bound",
            name,
            serde_json::json!({ "plugin": plugin.to_string(), "label": loaded.label(), "config": binding.config }),
        )?;
        Ok(binding)
    }

    /// Removes a trait binding, audited. The traits it wrote stay until rewritten.
    pub fn unbind_trait(&self, actor: &str, name: &str) -> Result<(), EngineError> {
        if !self.storage.remove_trait_binding(name)? {
            return Err(EngineError::TraitNotFound(name.to_owned()));
        }
        self.forget_reads();
        self.audit(actor, "trait_unbound", name, serde_json::Value::Null)
    }

    /// The trait names the current bindings write (see `Reads::computed_only`).
    pub(crate) fn provided_traits(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .storage
            .trait_bindings()
            .unwrap_or_default()
            .iter()
            .filter_map(|binding| self.runtime.plugin(&binding.plugin).ok())
            .flat_map(|plugin| plugin.record().provides.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Drops the remembered reads: the traits bound changed, and with them what is hidden.
    fn forget_reads(&self) {
        self.reads.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Recomputes one trait binding's traits over every profile, in parallel batches, audited.
    pub fn recompute_traits(&self, actor: &str, name: &str) -> Result<TraitReport, EngineError> {
        let binding =
            self.storage.trait_binding(name)?.ok_or_else(|| EngineError::TraitNotFound(name.to_owned()))?;
        let loaded = self.runtime.plugin(&binding.plugin)?;
        let reads = self.reads(&loaded, &binding.config);
        let now = self.now();
        let scope = EventScope::of(&[&reads], now);
        let parts = self.in_parallel(&scope, |batch| {
            let mut report = TraitReport::default();
            for chunk in batch.chunks(TRAIT_BATCH) {
                report.evaluated += chunk.len();
                report.changed += self.compute_and_store(&binding, &loaded, &reads, chunk, None, now)?;
            }
            Ok(report)
        })?;
        let report = parts.into_iter().fold(TraitReport::default(), |total, part| TraitReport {
            evaluated: total.evaluated + part.evaluated,
            changed: total.changed + part.changed,
        });
        self.audit(actor, "traits_recomputed", name, serde_json::json!(report))?;
        Ok(report)
    }

    /// The event names some trait binding reads (`None`: every name), so live ingest queues
    /// them for [`Engine::update_traits`].
    pub(crate) fn trait_event_names(&self) -> Result<Option<HashSet<String>>, EngineError> {
        let mut names = HashSet::new();
        for binding in self.storage.trait_bindings()? {
            let Ok(loaded) = self.runtime.plugin(&binding.plugin) else { continue };
            let reads = self.reads(&loaded, &binding.config);
            if reads.events.iter().any(|e| e == "*") {
                return Ok(None);
            }
            names.extend(reads.events);
        }
        Ok(Some(names))
    }

    /// Updates the traits of the profiles these (stored) events belong to, one `compute` per
    /// binding and event, oldest first, the event as `trigger`. A plugin that fails leaves the
    /// traits as they were (logged and counted toward its quarantine); the events still go on.
    pub(crate) fn update_traits(&self, events: &[Event]) -> Result<(), EngineError> {
        let bindings = self.storage.trait_bindings()?;
        if bindings.is_empty() {
            return Ok(());
        }
        let now = self.now();
        for binding in &bindings {
            let loaded = match self.runtime.plugin(&binding.plugin) {
                Ok(loaded) => loaded,
                Err(err) => {
                    tracing::error!(binding = %binding.name, error = %err, "Trait plugin unavailable; traits not updated.");
                    continue;
                }
            };
            let reads = self.reads(&loaded, &binding.config);
            let scope = EventScope::of(&[&reads], now);
            let every = reads.events.iter().any(|e| e == "*");
            for event in events.iter().filter(|e| every || reads.events.contains(&e.name)) {
                let Some(profile) = self.storage.profile(event.profile)? else { continue };
                let history = scope.load(&self.storage, &profile)?;
                let outcome =
                    self.compute_and_store(binding, &loaded, &reads, &[(profile, history)], Some(event), now);
                if let Err(err) = outcome {
                    match err {
                        EngineError::Plugin(err) => {
                            tracing::warn!(binding = %binding.name, error = %err, "Computed trait failed; traits kept.")
                        }
                        other => return Err(other),
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs `compute` on one batch and stores the traits that changed. Returns how many profiles
    /// changed.
    fn compute_and_store(
        &self,
        binding: &TraitBinding,
        loaded: &Arc<LoadedPlugin>,
        reads: &Reads,
        batch: &[(Profile, Vec<Event>)],
        trigger: Option<&Event>,
        now: i64,
    ) -> Result<usize, EngineError> {
        let subjects: Vec<_> =
            batch.iter().map(|(p, events)| subject(reads, p, events, trigger, now)).collect();
        let invocation = Invocation {
            campaign_id: String::new(),
            config: binding.config.to_string(),
            now,
            seed: hash64(&[&binding.name, trigger.map_or("", |e| e.id.as_str())]),
        };
        let computed = self.runtime.call(loaded).compute(&invocation, subjects)?.value;
        let updates: Vec<TraitUpdate> = batch
            .iter()
            .zip(computed)
            .map(|((profile, _), traits)| (profile.id, traits.into_iter().map(stored_trait).collect()))
            .filter(|(_, traits): &TraitUpdate| !traits.is_empty())
            .collect();
        if updates.is_empty() {
            return Ok(0);
        }
        Ok(self.storage.set_computed(&updates, now)?)
    }
}

/// A trait as the profile stores it: `null` removes it.
pub(crate) fn stored_trait(attribute: Attribute) -> (String, Option<serde_json::Value>) {
    let value = match attribute.value {
        Value::Null => None,
        Value::Boolean(b) => Some(serde_json::Value::Bool(b)),
        Value::Integer(i) => Some(serde_json::Value::from(i)),
        Value::Float(f) => serde_json::Number::from_f64(f).map(serde_json::Value::Number),
        Value::Text(t) => Some(serde_json::Value::String(t)),
        Value::Timestamp(t) => Some(serde_json::Value::from(t)),
        Value::Json(j) => Some(serde_json::from_str(&j).unwrap_or(serde_json::Value::String(j))),
    };
    (attribute.name, value)
}
