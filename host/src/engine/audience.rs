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

/// An audience estimated from a sample ([`Engine::audience_estimate`]).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Estimate {
    /// Profiles judged: the sample.
    pub judged: usize,
    /// Members among them.
    pub members: usize,
    /// The profiles in the store, estimated (exact when `exact`).
    pub profiles: u64,
    /// The audience's size, estimated.
    pub count: u64,
    /// Its 95% interval (Wilson's, on the share in the sample).
    pub interval: [u64; 2],
    /// Whether every profile was judged, so the count is exact.
    pub exact: bool,
    /// A few members, lowest profile ids first.
    pub sample: Vec<Member>,
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
        let (evaluated, members) = self.judge_audience(plugin, config, None)?;
        Ok(Audience {
            evaluated,
            count: members.len(),
            sample: members.iter().take(sample).cloned().collect(),
            members: all_members.then_some(members),
        })
    }

    /// Estimates an audience from a uniform random sample of `size` profiles, drawn by id:
    /// ids are handed out in increasing order (shared with other records, so they have gaps),
    /// and a drawn id either names a live profile or not. The share of drawn ids that do
    /// estimates how many profiles there are; the share of sampled profiles that are members,
    /// the audience, with Wilson's 95% interval. It costs the time `size` profiles take instead
    /// of every one. The draws follow from the config, so the same tree gives the same
    /// estimate. A store of at most twice `size` profiles is judged whole (`exact`).
    pub fn audience_estimate(
        &self,
        plugin: &ContentHash,
        config: &serde_json::Value,
        size: usize,
        show: usize,
    ) -> Result<Estimate, EngineError> {
        use rand::{RngExt, SeedableRng};
        /// Draws per profile wanted before a sparse store is taken as it is.
        const MAX_DRAWS_EACH: usize = 50;
        let bound = self.storage.profile_id_bound()?;
        let seed = super::pipeline::hash64(&["estimate", &config.to_string()]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut drawn = std::collections::HashSet::new();
        let mut found = Vec::with_capacity(size.min(1 << 20));
        let max_draws = size.saturating_mul(MAX_DRAWS_EACH).min(usize::try_from(bound).unwrap_or(usize::MAX));
        while found.len() < size && drawn.len() < max_draws {
            let id = rng.random_range(1..=bound);
            if drawn.insert(id)
                && let Some(profile) = self.storage.profile_exactly(ProfileId(id))?
            {
                found.push(profile);
            }
        }
        let profiles = if drawn.is_empty() {
            0
        } else {
            (bound as f64 * found.len() as f64 / drawn.len() as f64).round() as u64
        };
        if profiles <= 2 * size as u64 {
            let (judged, members) = self.judge_audience(plugin, config, None)?;
            let count = members.len() as u64;
            return Ok(Estimate {
                judged,
                members: members.len(),
                profiles: judged as u64,
                count,
                interval: [count, count],
                exact: true,
                sample: members.into_iter().take(show).collect(),
            });
        }
        let judged = found.len();
        let (_, members) = self.judge_audience(plugin, config, Some(found))?;
        let share = crate::stats::Proportion { successes: members.len() as u64, trials: judged as u64 };
        let z = crate::stats::normal_quantile(0.975);
        let (low, high) = crate::stats::wilson_interval(share, z);
        let scale = |rate: f64| (rate * profiles as f64).round() as u64;
        Ok(Estimate {
            judged,
            members: members.len(),
            profiles,
            count: share.rate().map_or(0, scale),
            interval: [scale(low), scale(high)],
            exact: false,
            sample: members.into_iter().take(show).collect(),
        })
    }

    /// Judges `profiles` (every profile for `None`) with a segment rule: how many were judged,
    /// and the members, lowest profile ids first.
    fn judge_audience(
        &self,
        plugin: &ContentHash,
        config: &serde_json::Value,
        profiles: Option<Vec<crate::profile::Profile>>,
    ) -> Result<(usize, Vec<Member>), EngineError> {
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
        let work = |batch: Vec<(crate::profile::Profile, Vec<crate::profile::Event>)>| {
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
        };
        let parts = match profiles {
            None => self.in_parallel(&scope, work)?,
            Some(profiles) => self.in_parallel_from(
                &scope,
                |batches| {
                    for chunk in profiles.chunks(super::pipeline::SEGMENT_BATCH) {
                        if batches.send(chunk.to_vec()).is_err() {
                            break;
                        }
                    }
                    Ok(())
                },
                work,
            )?,
        };
        let evaluated = parts.iter().map(|(n, _)| n).sum();
        let mut members: Vec<Member> = parts.into_iter().flat_map(|(_, m)| m).collect();
        members.sort_by_key(|m| m.profile);
        Ok((evaluated, members))
    }
}
