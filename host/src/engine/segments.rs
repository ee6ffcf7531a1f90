//! Saved segments kept current: built once over every profile, then judged again only where
//! something they read changed (an event of a name the rule reads, an attribute) and when a
//! window the rule reads moves past an event (the due-time index), never by periodic full scans.
//!
//! Upkeep runs under one lock, after the trigger queue in every drain and in every tick. Entries
//! and exits are `segment_entered` / `segment_exited` events on the profile, queued for the
//! triggered campaigns in the transaction that stores the new membership.

use crate::store::Lock;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use super::pipeline::{EventScope, hash64};
use super::subject::{Reads, subject};
use super::{Engine, EngineError};
use crate::contract::{Invocation, Subject};
use crate::plugin::PluginKind;
use crate::profile::{Event, Profile, ProfileId};
use crate::runtime::LoadedPlugin;
use crate::segment::{
    ProfileChange, SavedSegment, SegmentDefinition, SegmentInterest, SegmentMember, SegmentSpec, SegmentState,
};
use crate::store::{SegmentWrite, Verdict};

/// Profiles one segment call judges.
const JUDGE_BATCH: usize = 500;
/// Verdicts written per transaction while building.
const WRITE_BATCH: usize = 5_000;
/// How long a profile whose judgement failed waits before it is judged again.
const RETRY_FAILED_MS: i64 = 60_000;
/// Upkeep rounds one drain runs before leaving the rest to the next tick (a rule that reads its
/// own entries could otherwise keep a drain busy for ever).
const MAX_ROUNDS: usize = 100;

/// What one upkeep, build or rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SegmentUpkeep {
    /// Profile judgements made.
    pub judged: usize,
    /// Profiles that entered a segment.
    pub entered: usize,
    /// Profiles that left a segment.
    pub exited: usize,
    /// Judgements that failed (the profile keeps its membership and is judged again later).
    pub failed: usize,
    /// Changed profiles answered.
    pub changed: usize,
    /// Due times answered.
    pub due: usize,
}

impl SegmentUpkeep {
    fn absorb(&mut self, other: &SegmentUpkeep) {
        self.judged += other.judged;
        self.entered += other.entered;
        self.exited += other.exited;
        self.failed += other.failed;
        self.changed += other.changed;
        self.due += other.due;
    }
}

/// A saved segment with a sample of its members.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SegmentView {
    /// The segment (its `members` is the live count).
    #[serde(flatten)]
    pub segment: SavedSegment,
    /// The first members by profile id.
    pub sample: Vec<SegmentMember>,
}

/// What an edit of a manual segment did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ManualEdit {
    /// Profiles added (already members are not counted).
    pub added: usize,
    /// Profiles removed.
    pub removed: usize,
    /// User ids and emails that name no profile, left out.
    pub unknown: Vec<String>,
}

/// A rule segment ready to judge: its plugin, what it reads, and its invocation.
struct Judge {
    id: String,
    plugin: Arc<LoadedPlugin>,
    reads: Reads,
    config: String,
}

impl Judge {
    fn invocation(&self, now: i64) -> Invocation {
        Invocation {
            campaign_id: String::new(),
            config: self.config.clone(),
            now,
            seed: hash64(&["segment", &self.id]),
        }
    }

    /// Whether a change is something this segment reads.
    fn reads_change(&self, change: &ProfileChange) -> bool {
        let events = &self.reads.events;
        (change.attributes && !self.reads.attributes.is_empty())
            || (!events.is_empty()
                && (change.every_event
                    || events.iter().any(|e| e == "*")
                    || change.events.iter().any(|name| events.contains(name))))
    }
}

impl Engine {
    /// Every saved segment, by id.
    pub fn saved_segments(&self) -> Result<Vec<SavedSegment>, EngineError> {
        Ok(self.storage.segments()?)
    }

    /// A saved segment and up to `sample` of its members, from stored membership.
    pub fn segment_view(&self, id: &str, sample: usize) -> Result<SegmentView, EngineError> {
        let segment = self.saved_segment(id)?;
        let sample = self.storage.segment_members(id, None, sample)?;
        Ok(SegmentView { segment, sample })
    }

    /// Members of a saved segment in profile id order, after `after`, at most `limit`.
    pub fn segment_members(
        &self,
        id: &str,
        after: Option<ProfileId>,
        limit: usize,
    ) -> Result<Vec<SegmentMember>, EngineError> {
        self.saved_segment(id)?;
        Ok(self.storage.segment_members(id, after, limit)?)
    }

    fn saved_segment(&self, id: &str) -> Result<SavedSegment, EngineError> {
        self.storage.segment(id)?.ok_or_else(|| EngineError::SegmentNotFound(id.to_owned()))
    }

    /// Creates a saved segment, or replaces the definition of one, and builds its membership.
    /// A new segment's first members are stored without `segment_entered` events (nobody
    /// entered: the segment began); a changed definition records who enters and leaves by it.
    /// Returns the segment and whether it was created.
    pub fn save_segment(&self, actor: &str, spec: SegmentSpec) -> Result<(SavedSegment, bool), EngineError> {
        let problems = spec.problems();
        if !problems.is_empty() {
            return Err(EngineError::InvalidSegment(problems));
        }
        if let SegmentDefinition::Rule { plugin, config } = &spec.definition {
            self.plugin_for(plugin, PluginKind::SegmentRule, "segment", config)?;
        }
        let _upkeep = self.storage.exclusive(Lock::SegmentUpkeep)?;
        let now = self.now();
        let existing = self.storage.segment(&spec.id)?;
        if let Some(existing) = &existing
            && existing.is_manual() != matches!(spec.definition, SegmentDefinition::Manual {})
        {
            return Err(EngineError::SegmentWrongKind(format!(
                "segment `{}` is {} and cannot become {}: delete it and create it again",
                spec.id,
                kind_name(existing.is_manual()),
                kind_name(!existing.is_manual())
            )));
        }
        let created = existing.is_none();
        let count = self.storage.segments()?.len();
        if created && count >= self.max_saved_segments {
            return Err(EngineError::SegmentLimit(format!(
                "{count} saved segments exist, the most `engine.max_saved_segments` allows: delete one, or raise the limit (each adds to the cost of every event it reads)"
            )));
        }
        let unchanged = existing.as_ref().is_some_and(|e| e.definition == spec.definition);
        let record = SavedSegment {
            id: spec.id.clone(),
            description: spec.description,
            state: match (&spec.definition, unchanged) {
                (SegmentDefinition::Rule { .. }, false) => SegmentState::Building,
                _ => existing.as_ref().map_or(SegmentState::Live, |e| e.state),
            },
            definition: spec.definition,
            members: 0,
            version: existing.as_ref().map_or(1, |e| e.version + u32::from(!unchanged)),
            created_at: existing.as_ref().map_or(now, |e| e.created_at),
            updated_at: if unchanged { existing.as_ref().map_or(now, |e| e.updated_at) } else { now },
        };
        self.storage.put_segment(&record)?;
        self.refresh_segment_interest()?;
        if record.state == SegmentState::Building {
            self.build(&record, !created)?;
        }
        let action = if created { "segment_created" } else { "segment_updated" };
        self.audit(actor, action, &record.id, serde_json::json!({ "version": record.version }))?;
        Ok((self.saved_segment(&record.id)?, created))
    }

    /// Deletes a saved segment and its stored membership (no exit events: the segment ended).
    pub fn delete_segment(&self, actor: &str, id: &str) -> Result<(), EngineError> {
        let _upkeep = self.storage.exclusive(Lock::SegmentUpkeep)?;
        let users: Vec<String> = self
            .storage
            .campaigns()?
            .into_iter()
            .filter(|c| c.audience.as_deref() == Some(id) && c.state != crate::campaign::CampaignState::Ended)
            .map(|c| format!("`{}`", c.id))
            .collect();
        if !users.is_empty() {
            return Err(EngineError::SegmentWrongKind(format!(
                "segment `{id}` is the audience of campaign {}: end the campaign or give it another audience first",
                users.join(", ")
            )));
        }
        if !self.storage.delete_segment(id)? {
            return Err(EngineError::SegmentNotFound(id.to_owned()));
        }
        self.refresh_segment_interest()?;
        self.audit(actor, "segment_deleted", id, serde_json::json!({}))
    }

    /// Judges every profile again and stores what differs, with its events. Incremental upkeep
    /// keeps membership equal to this, so a rebuild normally finds nothing to change; it exists
    /// for after a restore, a plugin upgrade behind the same hash, or doubt.
    pub fn rebuild_segment(&self, actor: &str, id: &str) -> Result<SegmentUpkeep, EngineError> {
        let _upkeep = self.storage.exclusive(Lock::SegmentUpkeep)?;
        let segment = self.saved_segment(id)?;
        if segment.is_manual() {
            return Err(EngineError::SegmentWrongKind(format!(
                "segment `{id}` is manual: its members are the ones added to it, so there is nothing to rebuild"
            )));
        }
        let report = self.build(&segment, true)?;
        self.audit(actor, "segment_rebuilt", id, serde_json::to_value(&report).unwrap_or_default())?;
        Ok(report)
    }

    /// Adds and removes members of a manual segment, with their events. Each entry is a user id,
    /// or an email (anything with an `@`), which names every profile with that email, as lists
    /// exported from other tools usually are.
    pub fn edit_segment_members(
        &self,
        actor: &str,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<ManualEdit, EngineError> {
        let _upkeep = self.storage.exclusive(Lock::SegmentUpkeep)?;
        let segment = self.saved_segment(id)?;
        if !segment.is_manual() {
            return Err(EngineError::SegmentWrongKind(format!(
                "segment `{id}` is decided by its rule; only a manual segment takes members by hand"
            )));
        }
        let mut edit = ManualEdit::default();
        let mut verdicts = Vec::new();
        // A person named twice is added (or removed) once.
        let mut seen = HashSet::new();
        for (user_ids, member) in [(add, true), (remove, false)] {
            for user_id in user_ids {
                let entry = user_id.trim();
                let profiles = if entry.contains('@') {
                    self.storage.profiles_by_email(entry)?
                } else {
                    let identity = crate::profile::Identity::User(entry.to_owned());
                    self.storage.profile_by_identity(&identity)?.into_iter().collect()
                };
                if profiles.is_empty() {
                    edit.unknown.push(user_id.clone());
                }
                for profile in profiles {
                    if !seen.insert(profile.id) {
                        continue;
                    }
                    let now_member = self.storage.segment_member(id, profile.id)?.is_some();
                    match (member, now_member) {
                        (true, false) => edit.added += 1,
                        (false, true) => edit.removed += 1,
                        _ => continue,
                    }
                    verdicts.push(Verdict {
                        segment: id.to_owned(),
                        profile: profile.id,
                        member: member.then_some(None),
                        recheck_at: None,
                        quiet: false,
                    });
                }
            }
        }
        let queue_triggers = self.segment_events_wanted()?;
        let write = SegmentWrite { verdicts, now: self.now(), queue_triggers, ..Default::default() };
        self.storage.apply_segment_write(&write)?;
        let detail = serde_json::json!({ "added": edit.added, "removed": edit.removed });
        self.audit(actor, "segment_members_edited", id, detail)?;
        Ok(edit)
    }

    /// Judges again what changed and what came due, until nothing is left (or `MAX_ROUNDS`).
    /// Run after the trigger queue in every drain and in every tick.
    pub fn keep_segments_current(&self) -> Result<SegmentUpkeep, EngineError> {
        let mut total = SegmentUpkeep::default();
        for _ in 0..MAX_ROUNDS {
            let round = self.segment_round(JUDGE_BATCH * 2)?;
            total.absorb(&round);
            if round.changed == 0 && round.due == 0 {
                break;
            }
        }
        Ok(total)
    }

    /// One round of upkeep: up to `limit` changed profiles and `limit` due times. While a segment
    /// is being built or rebuilt (which can take seconds over millions of profiles), the round
    /// does nothing rather than wait: the drain it runs in goes on to the triggered campaigns,
    /// and the marks stay for the next drain or tick.
    fn segment_round(&self, limit: usize) -> Result<SegmentUpkeep, EngineError> {
        let Some(_upkeep) = self.storage.try_exclusive(Lock::SegmentUpkeep)? else {
            return Ok(SegmentUpkeep::default());
        };
        let now = self.now();
        let changed = self.storage.changed_profiles(limit)?;
        let due = self.storage.due_rechecks(now, limit)?;
        let mut report = SegmentUpkeep { changed: changed.len(), due: due.len(), ..Default::default() };
        if changed.is_empty() && due.is_empty() {
            return Ok(report);
        }
        let mut judges = BTreeMap::new();
        for segment in self.storage.segments()? {
            if segment.state == SegmentState::Building {
                // Cut short by a crash: finished now, before anything is judged against it.
                self.build(&segment, false)?;
            }
            // One segment whose rule cannot load must not stop the others' upkeep.
            match self.judge_of(&segment) {
                Ok(Some(judge)) => {
                    judges.insert(segment.id.clone(), judge);
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::error!(segment = %segment.id, error = %err, "A saved segment's rule cannot be loaded; it is not kept current.");
                }
            }
        }
        // Which segments judge each profile again.
        let mut wanted: BTreeMap<ProfileId, HashSet<&str>> = BTreeMap::new();
        for (profile, change) in &changed {
            for (id, judge) in &judges {
                if judge.reads_change(change) {
                    wanted.entry(*profile).or_default().insert(id.as_str());
                }
            }
        }
        for (_, segment, profile) in &due {
            if let Some((id, _)) = judges.get_key_value(segment.as_str()) {
                wanted.entry(*profile).or_default().insert(id.as_str());
            }
        }
        // Each profile and the events its segments read, loaded once for all of them (each
        // subject then shows a rule only what it reads).
        let mut batches: BTreeMap<&str, Vec<(Profile, Vec<Event>)>> = BTreeMap::new();
        for (profile, segments) in wanted {
            // A profile merged away or erased was taken out of every segment when it went.
            let Some(live) = self.storage.profile(profile)?.filter(|p| p.id == profile) else { continue };
            let readers: Vec<&Reads> = segments.iter().map(|id| &judges[*id].reads).collect();
            let events = EventScope::of(&readers, now).load(&self.storage, &live)?;
            for id in segments {
                batches.entry(id).or_default().push((live.clone(), events.clone()));
            }
        }
        let mut verdicts = Vec::new();
        for (id, batch) in batches {
            for chunk in chunks(batch, JUDGE_BATCH) {
                verdicts.extend(self.judge_batch(&judges[id], chunk, now, &mut report)?);
            }
        }
        let queue_triggers = self.segment_events_wanted()?;
        let write = SegmentWrite { verdicts, now, answered: changed, due_done: due, queue_triggers };
        let moves = self.storage.apply_segment_write(&write)?;
        report.entered += moves.entered;
        report.exited += moves.exited;
        Ok(report)
    }

    /// Judges every profile for `segment` and stores the result (with events when `emit`), then
    /// marks it live. Called with the upkeep lock held.
    fn build(&self, segment: &SavedSegment, emit: bool) -> Result<SegmentUpkeep, EngineError> {
        let Some(judge) = self.judge_of(segment)? else {
            return Ok(SegmentUpkeep::default());
        };
        let now = self.now();
        let scope = EventScope::of(&[&judge.reads], now);
        let queue_triggers = emit && self.segment_events_wanted()?;
        let judged = std::sync::Mutex::new(HashSet::new());
        let parts = self.in_parallel(&scope, |batch| {
            let mut report = SegmentUpkeep::default();
            let ids: Vec<ProfileId> = batch.iter().map(|(p, _)| p.id).collect();
            let mut verdicts = self.judge_batch(&judge, batch, now, &mut report)?;
            for verdict in &mut verdicts {
                verdict.quiet = !emit;
            }
            let write = SegmentWrite { verdicts, now, queue_triggers, ..Default::default() };
            let moves = self.storage.apply_segment_write(&write)?;
            report.entered += moves.entered;
            report.exited += moves.exited;
            judged.lock().unwrap_or_else(|p| p.into_inner()).extend(ids);
            Ok(report)
        })?;
        let mut report = SegmentUpkeep::default();
        for part in &parts {
            report.absorb(part);
        }
        // Members whose profiles are gone (none, unless the store was restored from elsewhere).
        let judged = judged.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut after = None;
        loop {
            let members = self.storage.segment_members(&segment.id, after, WRITE_BATCH)?;
            let Some(last) = members.last() else { break };
            after = Some(last.profile);
            let verdicts: Vec<Verdict> = members
                .iter()
                .filter(|m| !judged.contains(&m.profile))
                .map(|m| Verdict {
                    segment: segment.id.clone(),
                    profile: m.profile,
                    member: None,
                    recheck_at: None,
                    quiet: true,
                })
                .collect();
            self.storage.apply_segment_write(&SegmentWrite { verdicts, now, ..Default::default() })?;
        }
        let mut live = self.saved_segment(&segment.id)?;
        live.state = SegmentState::Live;
        self.storage.put_segment(&live)?;
        tracing::info!(segment = %segment.id, members = live.members, judged = report.judged, "Segment built.");
        Ok(report)
    }

    /// The judge of a rule segment; none for a manual one. A plugin that is gone is an error
    /// naming the segment.
    fn judge_of(&self, segment: &SavedSegment) -> Result<Option<Judge>, EngineError> {
        let SegmentDefinition::Rule { plugin, config } = &segment.definition else {
            return Ok(None);
        };
        let loaded = self.runtime.plugin(plugin)?;
        Ok(Some(Judge {
            id: segment.id.clone(),
            reads: self.reads(&loaded, config),
            plugin: loaded,
            config: config.to_string(),
        }))
    }

    /// The rule's verdicts on a batch, each with when to judge it again. A profile whose
    /// judgement fails keeps its membership and is tried again after `RETRY_FAILED_MS`.
    fn judge_batch(
        &self,
        judge: &Judge,
        batch: Vec<(Profile, Vec<Event>)>,
        now: i64,
        report: &mut SegmentUpkeep,
    ) -> Result<Vec<Verdict>, EngineError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let invocation = judge.invocation(now);
        let make = |i: usize| -> Subject {
            let (profile, events) = &batch[i];
            subject(&judge.reads, profile, events, None, now)
        };
        let subjects: Vec<Subject> = (0..batch.len()).map(make).collect();
        let outcomes =
            match self.runtime.call(&judge.plugin).isolating().evaluate_owned(&invocation, subjects) {
                Ok(called) => called.value.into_iter().map(Ok).collect(),
                Err(err) => self.isolate(&judge.plugin, &invocation, batch.len(), &make, err),
            };
        report.judged += batch.len();
        let mut verdicts = Vec::with_capacity(batch.len());
        for ((profile, events), outcome) in batch.iter().zip(outcomes) {
            let verdict = match outcome {
                Ok(membership) => Verdict {
                    segment: judge.id.clone(),
                    profile: profile.id,
                    member: membership.member.then_some(membership.score),
                    // The rule's own answer (contract 0.3.0) and the host's bound from what
                    // it read: the earlier wins, early being only an extra judgement.
                    recheck_at: earlier(
                        membership.recheck_at.filter(|at| *at > now),
                        window_recheck(&judge.reads, events, now),
                    ),
                    quiet: false,
                },
                Err(reason) => {
                    report.failed += 1;
                    tracing::warn!(segment = %judge.id, profile = %profile.id, %reason, "A segment could not judge a profile; it keeps its membership.");
                    let kept = self.storage.segment_member(&judge.id, profile.id)?;
                    Verdict {
                        segment: judge.id.clone(),
                        profile: profile.id,
                        member: kept.map(|m| m.score),
                        recheck_at: Some(now.saturating_add(RETRY_FAILED_MS)),
                        quiet: false,
                    }
                }
            };
            verdicts.push(verdict);
        }
        Ok(verdicts)
    }

    /// Whether an active campaign reacts to segment entries or exits, so that upkeep queues them
    /// as triggers (each queued event costs the drain a round and a durable write). A campaign
    /// activated later reacts to the entries recorded after it, as with any event.
    fn segment_events_wanted(&self) -> Result<bool, EngineError> {
        use crate::campaign::{CampaignState, Trigger};
        use crate::segment::{SEGMENT_ENTERED, SEGMENT_EXITED};
        let campaigns = self.storage.campaigns()?.iter().any(|c| {
            c.state == CampaignState::Active
                && matches!(&c.trigger, Trigger::Event { event, .. } if event == SEGMENT_ENTERED || event == SEGMENT_EXITED)
        });
        Ok(campaigns || self.journey_event_names()?.contains(SEGMENT_ENTERED))
    }

    /// Tells the store what the saved segments read, so its writes mark the profiles they
    /// change. Called at start and whenever a segment is saved or deleted.
    pub(crate) fn refresh_segment_interest(&self) -> Result<(), EngineError> {
        let segments = self.storage.segments()?;
        let mut interest = SegmentInterest { any: !segments.is_empty(), ..Default::default() };
        for segment in &segments {
            let judge = match self.judge_of(segment) {
                Ok(Some(judge)) => judge,
                Ok(None) => continue,
                Err(err) => {
                    tracing::error!(segment = %segment.id, error = %err, "A saved segment's rule cannot be loaded; it is not kept current.");
                    continue;
                }
            };
            interest.attributes |= !judge.reads.attributes.is_empty();
            for name in &judge.reads.events {
                if name == "*" {
                    interest.every_event = true;
                } else {
                    interest.events.insert(name.clone());
                }
            }
        }
        self.storage.set_segment_interest(interest);
        Ok(())
    }
}

/// When a rule may judge differently with no new event, as far as the host can tell from what
/// the rule read: when an event it read leaves its window, or when an event stamped ahead of now
/// (a clock a little fast) comes due. The host knows nothing of the rule's logic, only of what it
/// read, so a rule with narrower windows inside its widest is judged then too.
fn window_recheck(reads: &Reads, events: &[Event], now: i64) -> Option<i64> {
    let window = reads.window_ms.and_then(|w| i64::try_from(w).ok());
    let since = window.map(|w| now.saturating_sub(w));
    let every = reads.events.iter().any(|e| e == "*");
    events
        .iter()
        // Only what the rule reads: the batch may hold events other segments asked for.
        .filter(|e| every || reads.events.contains(&e.name))
        .filter(|e| since.is_none_or(|s| e.timestamp >= s))
        .flat_map(|e| {
            let leaves = window.map(|w| e.timestamp.saturating_add(w).saturating_add(1));
            [Some(e.timestamp), leaves]
        })
        .flatten()
        .filter(|at| *at > now)
        .min()
}

fn earlier(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn chunks<T>(mut items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    while items.len() > size {
        let rest = items.split_off(size);
        out.push(std::mem::replace(&mut items, rest));
    }
    if !items.is_empty() {
        out.push(items);
    }
    out
}

fn kind_name(manual: bool) -> &'static str {
    if manual { "manual" } else { "rule-based" }
}
