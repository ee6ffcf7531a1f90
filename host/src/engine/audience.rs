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

impl Engine {
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
