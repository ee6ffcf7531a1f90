//! Audiences without a campaign: the analyst's "how many would this reach?" for any installed
//! segment rule and config, over every profile, with a sample and optionally every member.

use serde::Serialize;

use super::subject::subject;
use super::{Engine, EngineError};
use crate::contract::Invocation;
use crate::plugin::{ContentHash, PluginKind};
use crate::profile::ProfileId;

/// One member of an audience.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Member {
    /// The profile.
    pub profile: ProfileId,
    /// The rule's score, if it gave one.
    pub score: Option<f64>,
}

/// How an audience came out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Audience {
    /// Profiles judged.
    pub evaluated: usize,
    /// Profiles in the audience.
    pub count: usize,
    /// Up to the requested number of members, lowest profile ids first.
    pub sample: Vec<Member>,
    /// Every member, lowest profile ids first, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<Member>>,
}

/// The names a condition builder offers in its menus, read from a sample of the data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Vocabulary {
    /// Attribute names (traits sent by sources, computed traits, and dotted paths are allowed
    /// besides).
    pub attributes: std::collections::BTreeSet<String>,
    /// Event names.
    pub events: std::collections::BTreeSet<String>,
}

impl Engine {
    /// The attribute and event names of the first `profiles` profiles and their newest
    /// `events_each` events: enough to fill a builder's menus without reading the whole store
    /// (a name the sample misses can still be typed).
    pub fn vocabulary(&self, profiles: usize, events_each: usize) -> Result<Vocabulary, EngineError> {
        let mut vocabulary = Vocabulary::default();
        let page = self
            .storage
            .profiles_page(&crate::store::PageRequest { after: None, limit: profiles }, |_| true)?;
        for profile in page.items {
            vocabulary.attributes.extend(profile.attributes.keys().cloned());
            vocabulary.attributes.extend(profile.computed.keys().cloned());
            for event in self.storage.latest_events_of(profile.id, events_each)? {
                vocabulary.events.insert(event.name);
            }
        }
        Ok(vocabulary)
    }

    /// The installed plugin called `name` with the highest version, if any.
    pub fn plugin_named(&self, name: &str) -> Result<Option<crate::plugin::PluginRecord>, EngineError> {
        let version = |p: &crate::plugin::PluginRecord| -> Vec<u64> {
            p.version.split(['.', '-', '+']).map(|part| part.parse().unwrap_or(0)).collect()
        };
        Ok(self.storage.plugins()?.into_iter().filter(|p| p.name == name).max_by_key(version))
    }

    /// The installed plugin `hash`, checked to be of `kind` and to accept `config` (for `slot`,
    /// named in the error).
    pub(crate) fn plugin_for(
        &self,
        hash: &ContentHash,
        kind: PluginKind,
        slot: &str,
        config: &serde_json::Value,
    ) -> Result<std::sync::Arc<crate::runtime::LoadedPlugin>, EngineError> {
        let loaded = self.runtime.plugin(hash)?;
        super::campaigns::expect_kind(&loaded, kind, slot)?;
        super::campaigns::accept_config(&self.runtime, &loaded, config)?;
        Ok(loaded)
    }

    /// Evaluates a segment rule with `config` over every profile. Sends and records nothing.
    pub fn audience(
        &self,
        plugin: &ContentHash,
        config: &serde_json::Value,
        sample: usize,
        all_members: bool,
    ) -> Result<Audience, EngineError> {
        let loaded = self.plugin_for(plugin, PluginKind::SegmentRule, "segment", config)?;
        let now = self.now();
        let invocation = Invocation {
            campaign_id: String::new(),
            config: config.to_string(),
            now,
            seed: super::pipeline::hash64(&[&plugin.to_string(), &config.to_string()]),
        };
        let reads = self.reads(&loaded, config);
        let scope = super::pipeline::EventScope::of(&[&reads], now);
        let parts = self.in_parallel(&scope, |batch| {
            let subjects: Vec<_> =
                batch.iter().map(|(p, events)| subject(&reads, p, events, None, now)).collect();
            let verdicts = self.runtime.call(&loaded).evaluate_owned(&invocation, subjects)?.value;
            let members: Vec<Member> = batch
                .iter()
                .zip(verdicts)
                .filter(|(_, v)| v.member)
                .map(|((p, _), v)| Member { profile: p.id, score: v.score })
                .collect();
            Ok((batch.len(), members))
        })?;
        let evaluated = parts.iter().map(|(n, _)| n).sum();
        let mut members: Vec<Member> = parts.into_iter().flat_map(|(_, m)| m).collect();
        members.sort_by_key(|m| m.profile);
        Ok(Audience {
            evaluated,
            count: members.len(),
            sample: members.iter().take(sample).cloned().collect(),
            members: all_members.then_some(members),
        })
    }
}
