//! Running journeys: saving and publishing versions, admitting profiles on their entry, moving
//! them step by step, firing their timers, and ending them on exit or goal events.
//!
//! A profile moves until it waits (a delay, a wait for an event) or leaves. The move is written
//! as one transaction (`Storage::apply_journey_moves`): its new place, its timer, its entry record
//! and the counts it changed. Side effects along the way are safe to repeat: a message step's
//! send carries the idempotency key `journey:<id>:<version>:<entry>:<step>` (so a move repeated
//! after a crash sends nothing twice), and a profile update sets values. A move that a crash
//! interrupts is made again: timers stay in the index until the move that answers them is
//! written, and events stay queued as triggers until the drain that answered them clears them.

use crate::store::Lock;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use super::pipeline::{OneSend, hash64};
use super::subject::subject;
use super::{Engine, EngineError};
use crate::campaign::{CampaignState, Trigger};
use crate::contract::Invocation;
use crate::delivery::SkipReason;
use crate::journey::{
    Condition, Entry, EntryRecord, Journey, JourneySpec, JourneyState, MAX_STEPS_IN_A_ROW, Outcome, Position,
    Reentry, Step, StepCounts, Waiting, event_matches, time_of_day,
};
use crate::profile::{ConsentState, Event, Profile, ProfileId};
use crate::segment::SEGMENT_ENTERED;
use crate::store::{Count, JourneyMove};

/// Timers answered per transaction when they fire: one flush carries this many moves.
const TIMER_CHUNK: usize = 500;

/// A journey as its operators see it: its record, its newest spec, and the step counts of every
/// version.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct JourneyView {
    /// Its record.
    pub journey: Journey,
    /// The newest version's spec.
    pub spec: JourneySpec,
    /// Profiles waiting in it now (in a delay or a wait for an event).
    pub waiting: usize,
    /// Per-step counts, by version, then step id.
    pub counts: BTreeMap<u32, BTreeMap<String, StepCounts>>,
}

/// What a round of journey work did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct JourneyReport {
    /// Profiles that entered a journey.
    pub entered: usize,
    /// Profiles moved on by an event or a timer.
    pub moved: usize,
    /// Profiles whose time through ended.
    pub ended: usize,
}

/// Journey specs read during one round, by (journey, version).
type Specs = BTreeMap<(String, u32), Arc<JourneySpec>>;

/// One profile's walk in progress.
struct Walk {
    position: Position,
    counts: Vec<(u32, String, Count)>,
    outcome: Option<Outcome>,
    /// A dry run's state: the walk writes and sends nothing.
    dry: Option<Dry>,
}

/// A dry run in progress: its simulated clock, its copy of the profile, and what happened.
struct Dry {
    now: i64,
    profile: Profile,
    log: Vec<DryStep>,
}

/// One thing that happened in a dry run.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DryStep {
    /// When, on the dry run's simulated clock, ms since the epoch.
    pub at: i64,
    /// The step.
    pub step: String,
    /// What happened there, in words.
    pub note: String,
}

/// A dry run: one profile walked through a journey on a simulated clock, with nothing sent and
/// nothing written.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DryRun {
    /// The journey.
    pub journey: String,
    /// The version walked.
    pub version: u32,
    /// The profile.
    pub profile: ProfileId,
    /// What happened, in order.
    pub steps: Vec<DryStep>,
    /// How its time through ended, if it ended within the horizon.
    pub outcome: Option<Outcome>,
    /// Where it still waits at the horizon, and until when.
    pub waiting: Option<(String, i64)>,
}

impl Walk {
    fn new(position: Position) -> Walk {
        Walk { position, counts: Vec::new(), outcome: None, dry: None }
    }

    fn count(&mut self, count: Count) {
        self.counts.push((self.position.version, self.position.step.clone(), count));
    }

    /// Notes what happened at the current step, in a dry run.
    fn note(&mut self, note: String) {
        if let Some(dry) = &mut self.dry {
            dry.log.push(DryStep { at: dry.now, step: self.position.step.clone(), note });
        }
    }

    /// Leaves the current step for `next`.
    fn pass_to(&mut self, next: &str, now: i64) {
        self.count(Count::Passed);
        self.note(format!("goes on to {next}"));
        let left = std::mem::replace(&mut self.position.step, next.to_owned());
        self.position.passed.push((left, now));
        self.position.since = now;
        self.position.waiting = Waiting::Ready;
        self.count(Count::Entered);
    }

    /// Ends the time through at the current step.
    fn end(&mut self, outcome: Outcome) {
        if self.position.waiting.due().is_some() {
            self.count(Count::Waiting(-1));
        }
        self.count(Count::Ended(outcome_code(outcome).into()));
        self.note(format!("leaves the journey: {}", outcome_code(outcome)));
        self.outcome = Some(outcome);
    }

    /// Stops at the current step until `until`.
    fn wait(&mut self, waiting: Waiting) {
        self.count(Count::Waiting(1));
        if let Some(due) = waiting.due() {
            let what = if matches!(waiting, Waiting::ForEvent { .. }) {
                "waits for the event until"
            } else {
                "waits until"
            };
            self.note(format!("{what} {}", moment(due)));
        }
        self.position.waiting = waiting;
    }
}

/// A moment as RFC 3339 text, for people.
fn moment(at: i64) -> String {
    jiff::Timestamp::from_millisecond(at).map_or_else(|_| at.to_string(), |t| t.to_string())
}

/// An outcome's name in counts.
fn outcome_code(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Completed => "completed",
        Outcome::Converted => "converted",
        Outcome::Exited => "exited",
        Outcome::HeldOut => "held_out",
        Outcome::JourneyEnded => "journey_ended",
        Outcome::Failed => "failed",
    }
}

impl Engine {
    /// Saves `spec` as the next version of journey `id`, creating the journey as a draft if it
    /// is new. The live version does not change until it is published.
    pub fn save_journey(&self, actor: &str, id: &str, spec: JourneySpec) -> Result<Journey, EngineError> {
        let mut problems = Vec::new();
        if !(1..=64).contains(&id.len())
            || !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            problems.push(format!("id {id:?}: use 1 to 64 lowercase letters, digits, `_` or `-`"));
        }
        problems.extend(spec.problems());
        if problems.is_empty() {
            problems.extend(self.reference_problems(&spec)?);
        }
        if !problems.is_empty() {
            return Err(EngineError::InvalidJourney(problems));
        }
        let now = self.now();
        let journey = match self.storage.journey(id)? {
            Some(journey) if journey.state == JourneyState::Ended => {
                return Err(EngineError::JourneyState(format!(
                    "journey `{id}` has ended; save the new plan under another id"
                )));
            }
            Some(journey) => {
                Journey { latest_version: journey.latest_version + 1, updated_at: now, ..journey }
            }
            None => Journey {
                id: id.to_owned(),
                state: JourneyState::Draft,
                latest_version: 1,
                live_version: None,
                created_at: now,
                updated_at: now,
            },
        };
        self.storage.put_journey(&journey, Some((journey.latest_version, &spec)))?;
        self.audit(actor, "journey_saved", id, serde_json::json!({ "version": journey.latest_version }))?;
        Ok(journey)
    }

    /// What the spec names that does not exist or cannot serve: message campaigns (which must
    /// exist with trigger `journey`), saved segments, segment rules.
    fn reference_problems(&self, spec: &JourneySpec) -> Result<Vec<String>, EngineError> {
        let mut problems = Vec::new();
        if let Entry::Segment { segment } | Entry::Schedule { segment, .. } = &spec.entry
            && self.storage.segment(segment)?.is_none()
        {
            problems.push(format!("entry.segment: no saved segment is named `{segment}`"));
        }
        for (id, step) in &spec.steps {
            match step {
                Step::Message { campaign, .. } => match self.storage.campaign(campaign)? {
                    None => problems.push(format!("steps.{id}.campaign: no campaign is named `{campaign}`")),
                    Some(c) if !matches!(c.trigger, Trigger::Journey {}) => problems.push(format!(
                        "steps.{id}.campaign: `{campaign}` is not a journey campaign; give it the trigger {{\"type\": \"journey\"}}"
                    )),
                    Some(_) => {}
                },
                Step::Branch { condition: Condition::InSegment { segment }, .. }
                    if self.storage.segment(segment)?.is_none() =>
                {
                    problems.push(format!("steps.{id}.condition.segment: no saved segment is named `{segment}`"));
                }
                Step::Branch { condition: Condition::Rule { plugin, .. }, .. } => match self.runtime.plugin(plugin) {
                    Ok(loaded) if loaded.record().kind == crate::plugin::PluginKind::SegmentRule => {}
                    Ok(_) => problems.push(format!("steps.{id}.condition.plugin: {plugin} is not a segment rule")),
                    Err(_) => problems.push(format!("steps.{id}.condition.plugin: {plugin} is not installed")),
                },
                _ => {}
            }
        }
        Ok(problems)
    }

    /// Makes `version` (the newest when `None`) the one new entries take, and goes live unless
    /// paused. Profiles inside stay on the version they entered, except those `migrate` moves:
    /// a map from steps of older versions to steps of this one, applied to every profile
    /// waiting at such a step.
    pub fn publish_journey(
        &self,
        actor: &str,
        id: &str,
        version: Option<u32>,
        migrate: &BTreeMap<String, String>,
    ) -> Result<Journey, EngineError> {
        let journey = self.journey(id)?;
        if journey.state == JourneyState::Ended {
            return Err(EngineError::JourneyState(format!(
                "journey `{id}` has ended; it cannot be published"
            )));
        }
        let version = version.unwrap_or(journey.latest_version);
        let Some(spec) = self.storage.journey_version(id, version)? else {
            return Err(EngineError::InvalidJourney(vec![format!(
                "version: journey `{id}` has versions 1 to {}",
                journey.latest_version
            )]));
        };
        let mut problems = self.reference_problems(&spec)?;
        for (from, to) in migrate {
            if !spec.steps.contains_key(to) {
                problems.push(format!("migrate.{from}: version {version} has no step {to:?}"));
            }
        }
        if !problems.is_empty() {
            return Err(EngineError::InvalidJourney(problems));
        }
        let _mover = self.storage.exclusive(Lock::JourneyMover)?;
        let now = self.now();
        if !migrate.is_empty() {
            let mut moves = Vec::new();
            for position in self.storage.journey_positions(id)? {
                let Some(to) = migrate.get(&position.step).filter(|_| position.version != version) else {
                    continue;
                };
                // The wait it was in carries over when the new step waits the same way;
                // otherwise it runs the new step afresh at the next round.
                let waiting = match (&position.waiting, spec.steps.get(to)) {
                    (Waiting::Until { .. }, Some(Step::Delay { .. }))
                    | (Waiting::ForEvent { .. }, Some(Step::WaitForEvent { .. })) => position.waiting.clone(),
                    _ => Waiting::Until { until: now },
                };
                let mut counts =
                    vec![(position.version, position.step.clone(), Count::Ended("migrated".into()))];
                if position.waiting.due().is_some() {
                    counts.push((position.version, position.step.clone(), Count::Waiting(-1)));
                }
                counts.push((version, to.clone(), Count::Entered));
                counts.push((version, to.clone(), Count::Waiting(1)));
                let moved = Position { version, step: to.clone(), since: now, waiting, ..position.clone() };
                moves.push(JourneyMove {
                    journey: id.to_owned(),
                    profile: position.profile,
                    before: Some(position),
                    after: Some(moved),
                    entry: None,
                    counts,
                });
            }
            self.storage.apply_journey_moves(&moves)?;
        }
        let state = match journey.state {
            JourneyState::Paused => JourneyState::Paused,
            _ => JourneyState::Live,
        };
        let journey = Journey { state, live_version: Some(version), updated_at: now, ..journey };
        self.storage.put_journey(&journey, None)?;
        self.audit(
            actor,
            "journey_published",
            id,
            serde_json::json!({ "version": version, "migrate": migrate }),
        )?;
        Ok(journey)
    }

    /// Pauses (holds every profile where it is and admits nobody), resumes, or ends a journey
    /// (everyone inside leaves, counted `journey_ended`).
    pub fn set_journey_state(&self, actor: &str, id: &str, to: JourneyState) -> Result<Journey, EngineError> {
        let journey = self.journey(id)?;
        let allowed = matches!(
            (journey.state, to),
            (JourneyState::Live, JourneyState::Paused)
                | (JourneyState::Paused, JourneyState::Live)
                | (JourneyState::Draft | JourneyState::Live | JourneyState::Paused, JourneyState::Ended)
        );
        if !allowed {
            let hint = match (journey.state, to) {
                (JourneyState::Draft, _) => "publish it first",
                (JourneyState::Ended, _) => "an ended journey stays ended",
                _ => "it is that already",
            };
            return Err(EngineError::JourneyState(format!(
                "journey `{id}` cannot go from {:?} to {to:?}: {hint}",
                journey.state
            )));
        }
        let _mover = self.storage.exclusive(Lock::JourneyMover)?;
        let now = self.now();
        if to == JourneyState::Ended {
            let mut moves = Vec::new();
            for position in self.storage.journey_positions(id)? {
                let mut walk = Walk::new(position.clone());
                walk.end(Outcome::JourneyEnded);
                moves.push(self.finish(walk, Some(position))?);
                if moves.len() == TIMER_CHUNK {
                    self.storage.apply_journey_moves(&std::mem::take(&mut moves))?;
                }
            }
            self.storage.apply_journey_moves(&moves)?;
        }
        let journey = Journey { state: to, updated_at: now, ..journey };
        self.storage.put_journey(&journey, None)?;
        self.audit(actor, "journey_state", id, serde_json::json!({ "state": to }))?;
        Ok(journey)
    }

    /// A journey's record.
    pub fn journey(&self, id: &str) -> Result<Journey, EngineError> {
        self.storage.journey(id)?.ok_or_else(|| EngineError::JourneyNotFound(id.to_owned()))
    }

    /// Every journey.
    pub fn journeys(&self) -> Result<Vec<Journey>, EngineError> {
        Ok(self.storage.journeys()?)
    }

    /// A journey with its newest spec and the step counts of every version.
    pub fn journey_view(&self, id: &str) -> Result<JourneyView, EngineError> {
        let journey = self.journey(id)?;
        let spec = self.journey_spec(id, journey.latest_version)?;
        let mut counts = BTreeMap::new();
        for version in 1..=journey.latest_version {
            let of_version = self.storage.journey_counts(id, version)?;
            if !of_version.is_empty() {
                counts.insert(version, of_version);
            }
        }
        let waiting = self.storage.journey_timer_count(id);
        Ok(JourneyView { journey, spec, waiting, counts })
    }

    /// Where a profile is in every journey it is inside.
    pub fn journey_positions_of(&self, profile: ProfileId) -> Result<Vec<Position>, EngineError> {
        Ok(self.storage.journey_positions_of(profile)?)
    }

    fn journey_spec(&self, id: &str, version: u32) -> Result<JourneySpec, EngineError> {
        self.storage.journey_version(id, version)?.ok_or_else(|| {
            EngineError::Storage(crate::store::StorageError::Corrupt {
                what: format!("journey {id} version {version}"),
                reason: "missing".into(),
            })
        })
    }

    fn cached_spec(
        &self,
        specs: &mut Specs,
        id: &str,
        version: u32,
    ) -> Result<Arc<JourneySpec>, EngineError> {
        if let Some(spec) = specs.get(&(id.to_owned(), version)) {
            return Ok(spec.clone());
        }
        let spec = Arc::new(self.journey_spec(id, version)?);
        specs.insert((id.to_owned(), version), spec.clone());
        Ok(spec)
    }

    /// Every event name a journey that is not over reacts to (entries, exits, goals, waits), so
    /// ingest queues those events as triggers; segment entries when a journey enters on one.
    pub(crate) fn journey_event_names(&self) -> Result<HashSet<String>, EngineError> {
        let mut names = HashSet::new();
        for journey in self.storage.journeys()? {
            if !matches!(journey.state, JourneyState::Live | JourneyState::Paused) {
                continue;
            }
            for version in 1..=journey.latest_version {
                let Some(spec) = self.storage.journey_version(&journey.id, version)? else { continue };
                match &spec.entry {
                    Entry::Event { event, .. } => {
                        names.insert(event.clone());
                    }
                    Entry::Segment { .. } => {
                        names.insert(SEGMENT_ENTERED.to_owned());
                    }
                    Entry::Schedule { .. } => {}
                }
                names.extend(spec.exit_on.iter().chain(&spec.goal).map(|m| m.event.clone()));
                for step in spec.steps.values() {
                    if let Step::WaitForEvent { event, .. } = step {
                        names.insert(event.clone());
                    }
                }
            }
        }
        Ok(names)
    }

    /// Answers stored events for the journeys: goals and exit events end a time through, a wait
    /// for an event goes on, an entry admits. `queued`: the events are queued triggers, cleared
    /// by a flushed write after this, so the moves need no flush of their own.
    pub(crate) fn journeys_on_events(
        &self,
        events: &[Event],
        queued: bool,
    ) -> Result<JourneyReport, EngineError> {
        let mut report = JourneyReport::default();
        let live: Vec<Journey> =
            self.storage.journeys()?.into_iter().filter(|j| j.state == JourneyState::Live).collect();
        if live.is_empty() {
            return Ok(report);
        }
        let _mover = self.storage.exclusive(Lock::JourneyMover)?;
        let mut specs = Specs::new();
        for event in events {
            // Those inside: a goal, an exit event, or the event a wait is for.
            for position in self.storage.journey_positions_of(event.profile)? {
                if !live.iter().any(|j| j.id == position.journey) {
                    continue;
                }
                let spec = self.cached_spec(&mut specs, &position.journey, position.version)?;
                // Only what happened since it entered counts.
                if event.timestamp < position.entered_at {
                    continue;
                }
                let mut walk = Walk::new(position.clone());
                let props = &event.properties;
                if spec.goal.iter().any(|m| m.matches(&event.name, props)) {
                    walk.end(Outcome::Converted);
                } else if spec.exit_on.iter().any(|m| m.matches(&event.name, props)) {
                    walk.end(Outcome::Exited);
                } else if let (
                    Some(Step::WaitForEvent { event: want, filter, on_event, .. }),
                    Waiting::ForEvent { .. },
                ) = (spec.steps.get(&position.step), &position.waiting)
                    && event_matches(want, filter, &event.name, props)
                {
                    walk.count(Count::Waiting(-1));
                    walk.position.waiting = Waiting::Ready;
                    walk.pass_to(on_event, self.now());
                    self.walk(&spec, &mut walk, Some(event), queued)?;
                } else {
                    continue;
                }
                report.moved += 1;
                report.ended += usize::from(walk.outcome.is_some());
                let change = self.finish(walk, Some(position))?;
                self.apply_moves(&[change], queued)?;
            }
            // Entries.
            for journey in &live {
                let Some(version) = journey.live_version else { continue };
                let spec = self.cached_spec(&mut specs, &journey.id, version)?;
                let enters = match &spec.entry {
                    Entry::Event { event: name, filter } => {
                        event_matches(name, filter, &event.name, &event.properties)
                    }
                    Entry::Segment { segment } => {
                        event.name == SEGMENT_ENTERED
                            && event.properties.get("segment").and_then(|s| s.as_str())
                                == Some(segment.as_str())
                    }
                    Entry::Schedule { .. } => false,
                };
                if !enters {
                    continue;
                }
                if let Some(change) =
                    self.enter(journey, version, &spec, event.profile, Some(event), queued)?
                {
                    report.entered += 1;
                    report.ended += usize::from(change.after.is_none());
                    self.apply_moves(&[change], queued)?;
                }
            }
        }
        Ok(report)
    }

    fn apply_moves(&self, moves: &[JourneyMove], queued: bool) -> Result<(), EngineError> {
        if queued {
            self.storage.apply_journey_moves_unflushed(moves)?;
        } else {
            self.storage.apply_journey_moves(moves)?;
        }
        Ok(())
    }

    /// Admits `profile` to the journey if its re-entry rule allows, and walks it to its first
    /// wait. `None`: it is inside already, or may not come back.
    fn enter(
        &self,
        journey: &Journey,
        version: u32,
        spec: &JourneySpec,
        profile: ProfileId,
        trigger: Option<&Event>,
        queued: bool,
    ) -> Result<Option<JourneyMove>, EngineError> {
        if self.storage.journey_position(profile, &journey.id)?.is_some() {
            return Ok(None);
        }
        let now = self.now();
        let record = self.storage.journey_entry(&journey.id, profile)?;
        let allowed = match (&record, spec.reentry) {
            (None, _) => true,
            (Some(_), Reentry::Once) => false,
            (Some(record), Reentry::Always) => record.last_outcome.is_some(),
            (Some(record), Reentry::OncePerWindow) => {
                let window = i64::try_from(spec.reentry_window_ms.unwrap_or(0)).unwrap_or(i64::MAX);
                record.last_outcome.is_some() && now.saturating_sub(record.last_entered_at) >= window
            }
        };
        if !allowed {
            return Ok(None);
        }
        let entry = record.map_or(1, |r| r.entries + 1);
        let position = Position {
            journey: journey.id.clone(),
            version,
            profile,
            entry,
            entered_at: now,
            step: spec.start.clone(),
            since: now,
            waiting: Waiting::Ready,
            passed: Vec::new(),
        };
        let mut walk = Walk::new(position);
        walk.count(Count::Entered);
        self.walk(spec, &mut walk, trigger, queued)?;
        let mut change = self.finish(walk, None)?;
        let record = EntryRecord {
            entries: entry,
            last_entered_at: now,
            last_outcome: change.entry.as_ref().and_then(|r| r.last_outcome),
        };
        change.entry = Some(record);
        Ok(Some(change))
    }

    /// The move a walk made: its place (none once it ended) and, when it ended, its entry
    /// record with the outcome.
    fn finish(&self, walk: Walk, before: Option<Position>) -> Result<JourneyMove, EngineError> {
        let Walk { position, counts, outcome, .. } = walk;
        let (journey, profile) = (position.journey.clone(), position.profile);
        let entry = match outcome {
            Some(outcome) => {
                let mut record = self.storage.journey_entry(&journey, profile)?.unwrap_or(EntryRecord {
                    entries: position.entry,
                    last_entered_at: position.entered_at,
                    last_outcome: None,
                });
                record.last_outcome = Some(outcome);
                Some(record)
            }
            None => None,
        };
        let after = outcome.is_none().then_some(position);
        Ok(JourneyMove { journey, profile, before, after, entry, counts })
    }

    /// Admits the members of scheduled journeys' segments whose time came (once per slot of
    /// `every_ms`, remembered in the store, so a restart does not run a slot twice), then fires
    /// every journey timer due now: delays that end go on, waits for an event time out. Paused
    /// journeys' timers wait for the journey to be live again. Returns the profiles moved.
    pub fn fire_journey_timers(&self) -> Result<usize, EngineError> {
        let mut moved = self.run_scheduled_entries()?;
        for journey in self.storage.journeys()? {
            if journey.state != JourneyState::Live {
                continue;
            }
            loop {
                let _mover = self.storage.exclusive(Lock::JourneyMover)?;
                let now = self.now();
                let due = self.storage.due_journey_timers(&journey.id, now, TIMER_CHUNK)?;
                if due.is_empty() {
                    break;
                }
                let mut specs = Specs::new();
                let mut moves = Vec::with_capacity(due.len());
                let mut stale = Vec::new();
                for (at, profile) in due {
                    let position = self.storage.journey_position(profile, &journey.id)?;
                    let Some(position) = position.filter(|p| p.waiting.due() == Some(at)) else {
                        // A timer nobody waits for any more (left, or moved on meanwhile).
                        stale.push((at, profile));
                        continue;
                    };
                    let spec = self.cached_spec(&mut specs, &journey.id, position.version)?;
                    let mut walk = Walk::new(position.clone());
                    // The timer stays in the index until the flushed write of this chunk's
                    // moves removes it: the walk's sends need no flush of their own.
                    self.walk(&spec, &mut walk, None, true)?;
                    moves.push(self.finish(walk, Some(position))?);
                }
                moved += moves.len();
                self.storage.drop_journey_timers(&journey.id, &stale)?;
                self.storage.apply_journey_moves(&moves)?;
            }
        }
        Ok(moved)
    }

    /// Scheduled entries whose slot came: each member of the segment enters, as the re-entry
    /// rule allows. Returns the profiles admitted.
    fn run_scheduled_entries(&self) -> Result<usize, EngineError> {
        let mut admitted = 0;
        for journey in self.storage.journeys()? {
            let (JourneyState::Live, Some(version)) = (journey.state, journey.live_version) else { continue };
            let spec = self.journey_spec(&journey.id, version)?;
            let Entry::Schedule { segment, every_ms } = &spec.entry else { continue };
            let now = self.now();
            let slot = now / i64::try_from(*every_ms).unwrap_or(i64::MAX).max(1);
            let job = format!("journey:{}", journey.id);
            if self.storage.schedule_slot(&job)?.is_some_and(|last| last >= slot) {
                continue;
            }
            let mut after = None;
            loop {
                let members = self.storage.segment_members(segment, after, TIMER_CHUNK)?;
                let Some(last) = members.last() else { break };
                after = Some(last.profile);
                let _mover = self.storage.exclusive(Lock::JourneyMover)?;
                let mut moves = Vec::new();
                for member in members {
                    if let Some(change) = self.enter(&journey, version, &spec, member.profile, None, false)? {
                        moves.push(change);
                    }
                }
                admitted += moves.len();
                // Each admitted profile's move is whole; a crash before the slot is recorded runs
                // the slot again, and the profiles inside or done are not admitted twice.
                self.storage.apply_journey_moves(&moves)?;
            }
            self.storage.set_schedule_slot(&job, slot)?;
        }
        Ok(admitted)
    }

    /// Runs steps from the walk's current one until the profile waits or leaves.
    fn walk(
        &self,
        spec: &JourneySpec,
        walk: &mut Walk,
        trigger: Option<&Event>,
        queued: bool,
    ) -> Result<(), EngineError> {
        // A dry run walks its own copy of the profile; a live walk loads it when a step needs it.
        let mut profile = walk.dry.as_ref().map(|dry| dry.profile.clone());
        let walked = self.walk_steps(spec, walk, trigger, queued, &mut profile);
        if let (Some(dry), Some(profile)) = (walk.dry.as_mut(), profile) {
            dry.profile = profile;
        }
        walked
    }

    fn walk_steps(
        &self,
        spec: &JourneySpec,
        walk: &mut Walk,
        trigger: Option<&Event>,
        queued: bool,
        profile: &mut Option<Profile>,
    ) -> Result<(), EngineError> {
        let now = walk.dry.as_ref().map_or_else(|| self.now(), |dry| dry.now);
        let how = match (&walk.dry, queued) {
            (Some(_), _) => OneSend::Preview,
            (None, true) => OneSend::Queued,
            (None, false) => OneSend::Live,
        };
        for _ in 0..MAX_STEPS_IN_A_ROW {
            let Some(step) = spec.steps.get(&walk.position.step) else {
                walk.end(Outcome::Failed);
                return Ok(());
            };
            // A timer that came due ends the wait it was for.
            let timed_out = walk.position.waiting.due().is_some_and(|due| due <= now);
            if timed_out {
                walk.count(Count::Waiting(-1));
                walk.position.waiting = Waiting::Ready;
            }
            if profile.is_none() {
                match self.storage.profile(walk.position.profile)? {
                    Some(found) => *profile = Some(found),
                    None => {
                        // Erased meanwhile: nothing more to do for it.
                        walk.end(Outcome::Failed);
                        return Ok(());
                    }
                }
            }
            let Some(person) = profile.as_ref() else { return Ok(()) };
            match step {
                Step::Message { campaign, next } => {
                    let key = format!(
                        "journey:{}:{}:{}:{}",
                        walk.position.journey, walk.position.version, walk.position.entry, walk.position.step
                    );
                    match self.storage.campaign(campaign)? {
                        Some(c) if c.state == CampaignState::Active => {
                            match self.send_one(&c, person.clone(), &key, trigger, how) {
                                Ok(report) if how == OneSend::Preview => {
                                    let note = match (report.samples.first(), report.skipped.keys().next()) {
                                        (Some(message), _) => format!(
                                            "would send {campaign}: {}",
                                            message.subject.clone().unwrap_or_else(|| message.body.clone())
                                        ),
                                        (None, Some(reason)) => {
                                            format!("would not send {campaign}: {}", reason.code())
                                        }
                                        (None, None) => format!(
                                            "would not send {campaign}: its segment rule leaves the profile out"
                                        ),
                                    };
                                    walk.note(note);
                                }
                                Ok(report) => {
                                    // Quiet hours delay a send; they do not skip it.
                                    let skipped = report
                                        .skipped
                                        .into_iter()
                                        .filter(|(r, _)| *r != SkipReason::QuietHours);
                                    for (reason, n) in skipped {
                                        for _ in 0..n {
                                            walk.count(Count::Skipped(reason.code().into()));
                                        }
                                    }
                                }
                                Err(err) => {
                                    tracing::warn!(journey = %walk.position.journey, step = %walk.position.step, error = %err, "A journey's message step could not send; the profile goes on.");
                                    walk.count(Count::Skipped("failed".into()));
                                }
                            }
                        }
                        _ => {
                            walk.count(Count::Skipped("campaign_not_active".into()));
                            walk.note(format!("would not send {campaign}: the campaign is not active"));
                        }
                    }
                    walk.pass_to(next, now);
                }
                Step::Delay { for_ms, until_time_of_day, relative_to, next } => {
                    if timed_out {
                        walk.pass_to(next, now);
                        continue;
                    }
                    let until = if let Some(ms) = for_ms {
                        Some(now.saturating_add(i64::try_from(*ms).unwrap_or(i64::MAX)))
                    } else if let Some(time) = until_time_of_day {
                        time_of_day(time).map(|minutes| self.next_local_time(person, minutes, now))
                    } else {
                        relative_to.as_ref().and_then(|relative| {
                            date_attribute(person.attributes.get(&relative.attribute)?)
                                .map(|date| date.saturating_add(relative.offset_ms))
                        })
                    };
                    match until {
                        Some(until) if until > now => {
                            walk.wait(Waiting::Until { until });
                            return Ok(());
                        }
                        Some(_) => walk.pass_to(next, now),
                        None => {
                            walk.count(Count::Skipped("no_date".into()));
                            walk.note("has no date to wait for".into());
                            walk.pass_to(next, now);
                        }
                    }
                }
                Step::WaitForEvent { timeout_ms, on_timeout, .. } => {
                    if timed_out {
                        walk.pass_to(on_timeout, now);
                        continue;
                    }
                    let until = now.saturating_add(i64::try_from(*timeout_ms).unwrap_or(i64::MAX));
                    walk.wait(Waiting::ForEvent { until });
                    return Ok(());
                }
                Step::Branch { condition, yes, no } => {
                    let holds = self.condition_holds(condition, person, &walk.position, now)?;
                    walk.pass_to(if holds { yes } else { no }, now);
                }
                Step::Split { paths, .. } => {
                    let bucket =
                        hash64(&[&walk.position.journey, &walk.position.step, &person.id.to_string()]) % 100;
                    let mut upto = 0u64;
                    let path = paths.iter().find(|path| {
                        upto += u64::from(path.percent);
                        bucket < upto
                    });
                    match path {
                        Some(path) => walk.pass_to(&path.next, now),
                        None => {
                            walk.end(Outcome::HeldOut);
                            return Ok(());
                        }
                    }
                }
                Step::UpdateProfile { set, subscribe, unsubscribe, next } => {
                    let source = format!("journey:{}", walk.position.journey);
                    let limit = self.consent.history_limit;
                    let update = |p: &mut Profile| {
                        for (key, value) in set {
                            if value.is_null() {
                                p.attributes.remove(key);
                            } else {
                                p.attributes.insert(key.clone(), value.clone());
                            }
                        }
                        for key in subscribe {
                            p.record_consent(key, ConsentState::Granted, now, &source, limit);
                        }
                        for key in unsubscribe {
                            p.record_consent(key, ConsentState::Denied, now, &source, limit);
                        }
                    };
                    if walk.dry.is_some() {
                        let mut copy = person.clone();
                        update(&mut copy);
                        *profile = Some(copy);
                        let keys: Vec<&str> =
                            set.keys().chain(subscribe).chain(unsubscribe).map(String::as_str).collect();
                        walk.note(format!("would update {}", keys.join(", ")));
                    } else {
                        // The trigger or timer that moved the profile here stands behind the
                        // change until the move is written, and setting values again is harmless.
                        *profile = self.storage.update_profile_unflushed(person.id, now, update)?;
                    }
                    walk.pass_to(next, now);
                }
                Step::Exit {} => {
                    walk.end(Outcome::Completed);
                    return Ok(());
                }
            }
        }
        // Validation refuses loops that never wait; a walk this long is one anyway.
        tracing::warn!(journey = %walk.position.journey, step = %walk.position.step, "A journey walk passed {MAX_STEPS_IN_A_ROW} steps without waiting; the profile leaves it.");
        walk.end(Outcome::Failed);
        Ok(())
    }

    /// The next `minutes` after midnight in the profile's time zone, after `now`.
    fn next_local_time(&self, profile: &Profile, minutes: u32, now: i64) -> i64 {
        let zone = super::policy::zone(&self.policies, profile);
        let at = |date: jiff::civil::Date| {
            date.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0)
                .to_zoned_datetime(zone.clone())
                .ok()
                .map(|z| z.timestamp().as_millisecond())
        };
        let Ok(today) =
            jiff::Timestamp::from_millisecond(now).map(|t| t.to_zoned_datetime(zone.clone()).date())
        else {
            return now;
        };
        match at(today) {
            Some(time) if time > now => time,
            _ => today.tomorrow().ok().and_then(at).unwrap_or(now),
        }
    }

    fn condition_holds(
        &self,
        condition: &Condition,
        profile: &Profile,
        position: &Position,
        now: i64,
    ) -> Result<bool, EngineError> {
        match condition {
            Condition::InSegment { segment } => {
                Ok(self.storage.segment_member(segment, profile.id)?.is_some())
            }
            Condition::EventSinceStep { step, event, filter } => {
                let since = match step {
                    Some(step) => position.passed.iter().rev().find(|(s, _)| s == step).map(|(_, at)| *at),
                    None => Some(position.entered_at),
                };
                let Some(since) = since else { return Ok(false) };
                let keep = |name: &str| name == event;
                let events = self.storage.events_of_where(profile.id, since, &keep)?;
                Ok(events.iter().any(|e| event_matches(event, filter, &e.name, &e.properties)))
            }
            Condition::Rule { plugin, config } => {
                let loaded = self.runtime.plugin(plugin)?;
                let reads = self.reads(&loaded, config);
                let events = super::pipeline::EventScope::of(&[&reads], now).load(&self.storage, profile)?;
                let invocation = Invocation {
                    campaign_id: String::new(),
                    config: config.to_string(),
                    now,
                    seed: hash64(&["journey", &position.journey, &position.step]),
                };
                let verdict = self
                    .runtime
                    .call(&loaded)
                    .evaluate(&invocation, &[subject(&reads, profile, &events, None, now)])
                    .map_err(EngineError::from)?;
                Ok(verdict.value.first().is_some_and(|m| m.member))
            }
        }
    }
}

impl Engine {
    /// The profile a person is named by: a user id, or (with an `@`) an email, the first profile
    /// that has it.
    pub fn person(&self, who: &str) -> Result<Profile, EngineError> {
        let found = if who.contains('@') {
            self.storage.profiles_by_email(who)?.into_iter().next()
        } else {
            self.storage.profile_by_identity(&crate::profile::Identity::User(who.to_owned()))?
        };
        found.ok_or_else(|| {
            let what = if who.contains('@') { "the email" } else { "the user id" };
            EngineError::NoSuchPerson(format!("{what} `{who}`"))
        })
    }

    /// Walks `profile` through journey `id` (its live version, or `version`) on a simulated
    /// clock from now, for up to `days` days: each delay and wait passes when its time comes
    /// (no event arrives in a dry run, so waits for one time out), message steps are rendered
    /// and judged but not sent, profile updates apply to a copy. Nothing is written.
    pub fn dry_run_journey(
        &self,
        id: &str,
        profile: ProfileId,
        version: Option<u32>,
        days: u32,
    ) -> Result<DryRun, EngineError> {
        /// The most a dry run records before it stops (a journey that loops through short waits).
        const MAX_DRY_STEPS: usize = 1_000;
        let journey = self.journey(id)?;
        let version = version.or(journey.live_version).unwrap_or(journey.latest_version);
        let Some(spec) = self.storage.journey_version(id, version)? else {
            return Err(EngineError::InvalidJourney(vec![format!(
                "version: journey `{id}` has versions 1 to {}",
                journey.latest_version
            )]));
        };
        if !(1..=366).contains(&days) {
            return Err(EngineError::InvalidRequest(format!("days: {days} is not 1 to 366")));
        }
        let person = self.storage.profile(profile)?.ok_or(EngineError::ProfileNotFound(profile))?;
        let start = self.now();
        let horizon = start.saturating_add(i64::from(days) * 86_400_000);
        let position = Position {
            journey: id.to_owned(),
            version,
            profile: person.id,
            entry: 0,
            entered_at: start,
            step: spec.start.clone(),
            since: start,
            waiting: Waiting::Ready,
            passed: Vec::new(),
        };
        let mut walk = Walk::new(position);
        walk.dry = Some(Dry { now: start, profile: person, log: Vec::new() });
        walk.note("enters".into());
        while walk.dry.as_ref().is_some_and(|dry| dry.log.len() < MAX_DRY_STEPS) {
            self.walk(&spec, &mut walk, None, false)?;
            match (walk.outcome, walk.position.waiting.due()) {
                (None, Some(due)) if due <= horizon => {
                    if let Some(dry) = &mut walk.dry {
                        dry.now = dry.now.max(due);
                    }
                }
                _ => break,
            }
        }
        let steps = walk.dry.take().map(|dry| dry.log).unwrap_or_default();
        let waiting = match walk.outcome {
            None => walk.position.waiting.due().map(|until| (walk.position.step.clone(), until)),
            Some(_) => None,
        };
        Ok(DryRun { journey: id.to_owned(), version, profile, steps, outcome: walk.outcome, waiting })
    }
}

/// A date attribute as ms since the epoch: a number of ms, an RFC 3339 timestamp, or a calendar
/// date (midnight UTC).
fn date_attribute(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(text) => {
            let text = text.trim();
            if let Ok(ts) = text.parse::<jiff::Timestamp>() {
                return Some(ts.as_millisecond());
            }
            let date: jiff::civil::Date = text.parse().ok()?;
            date.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp().as_millisecond())
        }
        _ => None,
    }
}
