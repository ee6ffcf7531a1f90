//! Journeys: multi-step automations as data. A journey is an entry, re-entry rules, exit
//! criteria, a goal and a graph of steps (message, delay, wait for an event, branch, random
//! split, profile update, exit). Each profile's place in a journey, and the time it waits for,
//! lives in the store, so a million waiting profiles cost storage, not memory.
//!
//! This module is plain serde data and its validation; the engine runs it (`engine/journeys.rs`)
//! and the store keeps it (`store/journeys.rs`).
//!
//! Depends on: `campaign` (ids, value comparison), `segment` (rule definitions), `profile` (ids).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::campaign::{same_value, valid_id};
use crate::plugin::ContentHash;
use crate::profile::ProfileId;

/// The longest a journey may keep someone waiting in one step: ten years, in ms. Longer is a
/// mistake in units, not a plan.
pub const MAX_WAIT_MS: u64 = 10 * 366 * 86_400_000;

/// Steps one profile may pass in one go without waiting, before the journey is stopped for
/// it as a loop (every cycle in the graph must wait; this bounds what validation cannot see).
pub const MAX_STEPS_IN_A_ROW: usize = 100;

/// An event that a journey reacts to: its name, and property values it must have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventMatch {
    /// The event name, exactly as sources send it.
    #[schemars(pattern(r"\S"))]
    pub event: String,
    /// Property values the event must have, all of them. Numbers and numeric text compare as
    /// numbers (`"12.50"` equals `12.5`).
    #[serde(default)]
    pub filter: BTreeMap<String, serde_json::Value>,
}

impl EventMatch {
    /// Whether an event with this name and these properties matches.
    pub fn matches(&self, name: &str, properties: &serde_json::Map<String, serde_json::Value>) -> bool {
        event_matches(&self.event, &self.filter, name, properties)
    }
}

/// Whether an event called `name` with `properties` is `want` with every property of `filter`.
pub fn event_matches(
    want: &str,
    filter: &BTreeMap<String, serde_json::Value>,
    name: &str,
    properties: &serde_json::Map<String, serde_json::Value>,
) -> bool {
    name == want
        && filter.iter().all(|(key, value)| properties.get(key).is_some_and(|have| same_value(have, value)))
}

/// What brings a profile into the journey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    /// Each ingested event with this name (and these properties).
    Event {
        /// The event name.
        #[schemars(pattern(r"\S"))]
        event: String,
        /// Property values it must have.
        #[serde(default)]
        filter: BTreeMap<String, serde_json::Value>,
    },
    /// Entering this saved segment.
    Segment {
        /// The saved segment's id.
        #[schemars(pattern(r"^[a-z0-9_-]{1,64}$"))]
        segment: String,
    },
    /// Every member of a saved segment, on a schedule: at each multiple of `every_ms` (the
    /// tick after it), as the re-entry rule allows.
    Schedule {
        /// The saved segment's id.
        #[schemars(pattern(r"^[a-z0-9_-]{1,64}$"))]
        segment: String,
        /// How often, in ms (at least a minute).
        #[schemars(range(min = 60000))]
        every_ms: u64,
    },
}

/// Whether someone who has been through the journey may go through it again. Nobody is in a
/// journey twice at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reentry {
    /// Once per profile, ever (the default, as Braze's and Customer.io's).
    #[default]
    Once,
    /// Again once `reentry_window_ms` has passed since the last entry.
    OncePerWindow,
    /// Again whenever the entry happens after the last time through ended.
    Always,
}

/// One step of the graph. Steps name the step that follows by its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Sends the message of a campaign whose trigger is `journey`, through every policy,
    /// arbitration and experiment rule of that campaign and its own bindings.
    Message {
        /// The campaign (its `trigger.type` must be `journey`).
        #[schemars(pattern(r"^[a-z0-9_-]{1,64}$"))]
        campaign: String,
        /// The step after it.
        next: String,
    },
    /// Waits, then goes on: for a duration, until a time of day in the profile's time zone, or
    /// relative to a date attribute. Exactly one of `for_ms`, `until_time_of_day` and
    /// `relative_to` is set.
    Delay {
        /// How long, in ms.
        #[serde(default)]
        #[schemars(range(min = 1))]
        for_ms: Option<u64>,
        /// `HH:MM` (24-hour): the next such moment in the profile's time zone (UTC without one).
        #[serde(default)]
        #[schemars(pattern(r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
        until_time_of_day: Option<String>,
        /// A moment taken from a date attribute.
        #[serde(default)]
        relative_to: Option<RelativeDelay>,
        /// The step after it.
        next: String,
    },
    /// Waits for an event from the profile, at most `timeout_ms`.
    WaitForEvent {
        /// The event awaited.
        #[schemars(pattern(r"\S"))]
        event: String,
        /// Property values it must have.
        #[serde(default)]
        filter: BTreeMap<String, serde_json::Value>,
        /// How long to wait, in ms.
        #[schemars(range(min = 1))]
        timeout_ms: u64,
        /// The step after the event.
        on_event: String,
        /// The step after the timeout.
        on_timeout: String,
    },
    /// Goes one way or the other on a condition.
    Branch {
        /// What is asked.
        condition: Condition,
        /// The step when it holds.
        yes: String,
        /// The step when it does not.
        no: String,
    },
    /// Sends each profile one way at random, the same way every time for the same profile.
    Split {
        /// The ways and their shares; with `holdout_percent`, the shares add up to 100.
        #[schemars(length(min = 1))]
        paths: Vec<SplitPath>,
        /// A share that leaves the journey here, held out to measure it.
        #[serde(default)]
        #[schemars(range(max = 99))]
        holdout_percent: u8,
    },
    /// Sets attributes and subscriptions on the profile, then goes on.
    UpdateProfile {
        /// Attributes to set (null removes one).
        #[serde(default)]
        set: BTreeMap<String, serde_json::Value>,
        /// Consent keys to grant (`email`, `marketing`, `email:newsletter`).
        #[serde(default)]
        subscribe: Vec<String>,
        /// Consent keys to withdraw.
        #[serde(default)]
        unsubscribe: Vec<String>,
        /// The step after it.
        next: String,
    },
    /// Leaves the journey.
    Exit {},
}

/// A delay to a moment derived from a date attribute, for example three days before
/// `renewal_date`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelativeDelay {
    /// The attribute holding the date (ISO-8601 text or ms since the epoch).
    #[schemars(pattern(r"\S"))]
    pub attribute: String,
    /// Added to the date, in ms; negative is before it.
    pub offset_ms: i64,
}

/// One way out of a random split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitPath {
    /// Its share, in percent.
    #[schemars(range(min = 1, max = 100))]
    pub percent: u8,
    /// The step it leads to.
    pub next: String,
}

/// A question a branch asks about the profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Whether the profile is a member of a saved segment now (stored membership).
    InSegment {
        /// The saved segment's id.
        #[schemars(pattern(r"^[a-z0-9_-]{1,64}$"))]
        segment: String,
    },
    /// Whether an installed segment rule admits the profile, with this config: attributes,
    /// computed traits and events, as the rule reads them.
    Rule {
        /// The segment rule's content hash.
        plugin: ContentHash,
        /// Its config (a JSON object).
        #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
        config: serde_json::Value,
    },
    /// The journey's own history: whether the profile did this since it passed `step` in this
    /// time through ("opened the last email"), or since it entered when no step is named
    /// ("ordered since joining").
    EventSinceStep {
        /// A step of this journey the profile passed; none: since it entered.
        #[serde(default)]
        step: Option<String>,
        /// The event.
        #[schemars(pattern(r"\S"))]
        event: String,
        /// Property values it must have.
        #[serde(default)]
        filter: BTreeMap<String, serde_json::Value>,
    },
}

/// A journey as its author writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JourneySpec {
    /// A name for people.
    #[schemars(pattern(r"\S"))]
    pub name: String,
    /// What brings a profile in.
    pub entry: Entry,
    /// Whether someone may go through it again.
    #[serde(default)]
    pub reentry: Reentry,
    /// For `once_per_window`: how long after an entry another may happen, in ms.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub reentry_window_ms: Option<u64>,
    /// Events that take a profile out of the journey wherever it is (an unsubscribe, say).
    #[serde(default)]
    pub exit_on: Vec<EventMatch>,
    /// Events that end the journey as a success: a profile that does one converts and leaves.
    #[serde(default)]
    pub goal: Vec<EventMatch>,
    /// The first step's id.
    pub start: String,
    /// The steps, by id (1 to 64 lowercase letters, digits, `_` or `-`).
    #[schemars(length(min = 1))]
    pub steps: BTreeMap<String, Step>,
}

impl Step {
    /// The steps this one can lead to.
    pub fn successors(&self) -> Vec<&str> {
        match self {
            Step::Message { next, .. } | Step::Delay { next, .. } | Step::UpdateProfile { next, .. } => {
                vec![next]
            }
            Step::WaitForEvent { on_event, on_timeout, .. } => vec![on_event, on_timeout],
            Step::Branch { yes, no, .. } => vec![yes, no],
            Step::Split { paths, .. } => paths.iter().map(|p| p.next.as_str()).collect(),
            Step::Exit {} => Vec::new(),
        }
    }

    /// Whether a profile stops here for a while (and so may loop through it).
    pub fn waits(&self) -> bool {
        matches!(self, Step::Delay { .. } | Step::WaitForEvent { .. })
    }

    /// The step type's name, as written in specs.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Message { .. } => "message",
            Step::Delay { .. } => "delay",
            Step::WaitForEvent { .. } => "wait_for_event",
            Step::Branch { .. } => "branch",
            Step::Split { .. } => "split",
            Step::UpdateProfile { .. } => "update_profile",
            Step::Exit {} => "exit",
        }
    }
}

impl JourneySpec {
    /// What is wrong with the spec on its own, each with the field at fault; empty when valid.
    /// (Campaigns, segments and plugins it names are checked by the engine.)
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.name.trim().is_empty() {
            problems.push("name: must not be blank".into());
        }
        match &self.entry {
            Entry::Event { event, .. } if event.trim().is_empty() => {
                problems.push("entry.event: must not be blank".into());
            }
            Entry::Segment { segment } | Entry::Schedule { segment, .. } if !valid_id(segment) => {
                problems.push(format!("entry.segment {segment:?}: not a segment id"));
            }
            Entry::Schedule { every_ms, .. } if *every_ms < 60_000 => {
                problems.push("entry.every_ms: at least 60000 (a minute)".into());
            }
            _ => {}
        }
        match (self.reentry, self.reentry_window_ms) {
            (Reentry::OncePerWindow, None | Some(0)) => {
                problems.push("reentry_window_ms: set it (in ms) for reentry `once_per_window`".into());
            }
            (Reentry::Once | Reentry::Always, Some(_)) => {
                problems.push("reentry_window_ms: only `once_per_window` takes a window".into());
            }
            _ => {}
        }
        for (field, list) in [("exit_on", &self.exit_on), ("goal", &self.goal)] {
            for (i, m) in list.iter().enumerate() {
                if m.event.trim().is_empty() {
                    problems.push(format!("{field}[{i}].event: must not be blank"));
                }
            }
        }
        if !self.steps.contains_key(&self.start) {
            problems.push(format!("start: no step is called {:?}", self.start));
        }
        for (id, step) in &self.steps {
            if !valid_id(id) {
                problems.push(format!(
                    "steps.{id}: use 1 to 64 lowercase letters, digits, `_` or `-` as a step id"
                ));
            }
            for next in step.successors() {
                if !self.steps.contains_key(next) {
                    problems.push(format!("steps.{id}: leads to {next:?}, which is not a step"));
                }
            }
            problems.extend(step_problems(id, step, &self.steps));
        }
        if problems.is_empty() {
            problems.extend(self.unreachable_and_loops());
        }
        problems
    }

    /// Steps nothing leads to, and cycles a profile could go round without ever waiting.
    fn unreachable_and_loops(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut reached = BTreeSet::new();
        let mut todo = vec![self.start.as_str()];
        while let Some(id) = todo.pop() {
            if reached.insert(id) {
                todo.extend(self.steps.get(id).map(Step::successors).unwrap_or_default());
            }
        }
        for id in self.steps.keys() {
            if !reached.contains(id.as_str()) {
                problems.push(format!("steps.{id}: no step leads to it, and it is not the start"));
            }
        }
        // A cycle among steps that do not wait would spin: look for one in the graph without
        // the waiting steps.
        let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1: on the path, 2: done
        for id in self.steps.keys() {
            if let Some(cycle) = self.spin_from(id, &mut state, &mut Vec::new()) {
                problems.push(format!(
                    "steps: {} go round without a delay or a wait; put one in the loop",
                    cycle.join(" → ")
                ));
                break;
            }
        }
        problems
    }

    fn spin_from<'s>(
        &'s self,
        id: &'s str,
        state: &mut BTreeMap<&'s str, u8>,
        path: &mut Vec<&'s str>,
    ) -> Option<Vec<String>> {
        let step = self.steps.get(id)?;
        if step.waits() {
            return None;
        }
        match state.get(id) {
            Some(2) => return None,
            Some(_) => {
                let from = path.iter().position(|p| *p == id).unwrap_or(0);
                let mut cycle: Vec<String> = path[from..].iter().map(|s| (*s).to_owned()).collect();
                cycle.push(id.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        state.insert(id, 1);
        path.push(id);
        for next in step.successors() {
            if let Some(cycle) = self.spin_from(next, state, path) {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(id, 2);
        None
    }
}

fn step_problems(id: &str, step: &Step, steps: &BTreeMap<String, Step>) -> Vec<String> {
    let mut problems = Vec::new();
    let at = |field: &str| format!("steps.{id}.{field}");
    match step {
        Step::Message { campaign, .. } if !valid_id(campaign) => {
            problems.push(format!("{}: {campaign:?} is not a campaign id", at("campaign")));
        }
        Step::Delay { for_ms, until_time_of_day, relative_to, .. } => {
            let set = [for_ms.is_some(), until_time_of_day.is_some(), relative_to.is_some()];
            if set.iter().filter(|s| **s).count() != 1 {
                problems.push(format!(
                    "steps.{id}: set exactly one of `for_ms`, `until_time_of_day` and `relative_to`"
                ));
            }
            match for_ms {
                Some(0) => problems.push(format!("{}: must be at least 1", at("for_ms"))),
                Some(ms) if *ms > MAX_WAIT_MS => {
                    problems.push(format!("{}: at most {MAX_WAIT_MS} (ten years)", at("for_ms")));
                }
                _ => {}
            }
            if let Some(time) = until_time_of_day
                && time_of_day(time).is_none()
            {
                problems.push(format!("{}: {time:?} is not HH:MM (00:00 to 23:59)", at("until_time_of_day")));
            }
            if let Some(relative) = relative_to {
                if relative.attribute.trim().is_empty() {
                    problems.push(format!("{}: must not be blank", at("relative_to.attribute")));
                }
                if relative.offset_ms.unsigned_abs() > MAX_WAIT_MS {
                    problems.push(format!("{}: at most ten years either way", at("relative_to.offset_ms")));
                }
            }
        }
        Step::WaitForEvent { event, timeout_ms, .. } => {
            if event.trim().is_empty() {
                problems.push(format!("{}: must not be blank", at("event")));
            }
            if *timeout_ms == 0 || *timeout_ms > MAX_WAIT_MS {
                problems.push(format!("{}: from 1 to {MAX_WAIT_MS} (ten years)", at("timeout_ms")));
            }
        }
        Step::Branch { condition, .. } => match condition {
            Condition::InSegment { segment } if !valid_id(segment) => {
                problems.push(format!("{}: {segment:?} is not a segment id", at("condition.segment")));
            }
            Condition::Rule { config, .. } if !config.is_object() => {
                problems.push(format!("{}: must be a JSON object", at("condition.config")));
            }
            Condition::EventSinceStep { step, event, .. } => {
                if let Some(step) = step
                    && !steps.contains_key(step)
                {
                    problems.push(format!("{}: no step is called {step:?}", at("condition.step")));
                }
                if event.trim().is_empty() {
                    problems.push(format!("{}: must not be blank", at("condition.event")));
                }
            }
            _ => {}
        },
        Step::Split { paths, holdout_percent } => {
            let total: u32 =
                paths.iter().map(|p| u32::from(p.percent)).sum::<u32>() + u32::from(*holdout_percent);
            if paths.is_empty() {
                problems.push(format!("{}: give at least one path", at("paths")));
            } else if paths.iter().any(|p| p.percent == 0) {
                problems.push(format!("{}: every path needs a share of at least 1%", at("paths")));
            } else if total != 100 {
                problems.push(format!(
                    "{}: the shares and `holdout_percent` add up to {total}, not 100",
                    at("paths")
                ));
            }
        }
        Step::UpdateProfile { set, subscribe, unsubscribe, .. } => {
            if set.is_empty() && subscribe.is_empty() && unsubscribe.is_empty() {
                problems.push(format!("steps.{id}: set an attribute, or subscribe or unsubscribe something"));
            }
            for key in set.keys().filter(|k| k.trim().is_empty()) {
                problems.push(format!("{}: {key:?} is not an attribute name", at("set")));
            }
            for key in subscribe.iter().chain(unsubscribe).filter(|k| k.trim().is_empty()) {
                problems.push(format!("steps.{id}: {key:?} is not a consent key"));
            }
        }
        _ => {}
    }
    problems
}

/// `HH:MM` as minutes after midnight.
pub fn time_of_day(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

/// A journey's life: drafted, live (admitting and moving profiles), paused (holding every
/// waiting profile where it is), ended (everyone left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JourneyState {
    /// Being written; nobody enters.
    Draft,
    /// Admits profiles and moves them on.
    Live,
    /// Admits nobody; waiting profiles stay where they are until it is live again.
    Paused,
    /// Over: everyone in it left.
    Ended,
}

impl JourneyState {
    /// Its name, as the API writes it (`draft`, `live`, `paused`, `ended`).
    pub fn name(self) -> &'static str {
        match self {
            JourneyState::Draft => "draft",
            JourneyState::Live => "live",
            JourneyState::Paused => "paused",
            JourneyState::Ended => "ended",
        }
    }
}

/// A stored journey: its versions and which one is live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Journey {
    /// Its id.
    pub id: String,
    /// Where it is in its life.
    pub state: JourneyState,
    /// The newest version written (versions count from 1).
    pub latest_version: u32,
    /// The version new entries take; none before the first publish.
    pub live_version: Option<u32>,
    /// When it was created, ms since the epoch.
    pub created_at: i64,
    /// When it last changed, ms since the epoch.
    pub updated_at: i64,
}

/// Why a profile's time through a journey ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It reached an exit step, or the end of a path.
    Completed,
    /// It did a goal event.
    Converted,
    /// It did an exit event.
    Exited,
    /// A split held it out.
    HeldOut,
    /// The journey ended under it.
    JourneyEnded,
    /// A step could not run for it (the reason is in the step counts).
    Failed,
}

/// What a profile in a journey is doing right now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Waiting {
    /// About to run `step` (a profile is only seen like this if the process stopped mid-way;
    /// it is picked up again from here).
    Ready,
    /// In a delay until `until`.
    Until {
        /// When the delay ends, ms since the epoch.
        until: i64,
    },
    /// Waiting for an event until `until`.
    ForEvent {
        /// When the wait times out, ms since the epoch.
        until: i64,
    },
}

impl Waiting {
    /// When its timer fires; none for `Ready`.
    pub fn due(&self) -> Option<i64> {
        match self {
            Waiting::Ready => None,
            Waiting::Until { until } | Waiting::ForEvent { until } => Some(*until),
        }
    }
}

/// A profile's place in a journey: stored per (profile, journey) while it is inside.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Position {
    /// The journey.
    pub journey: String,
    /// The version it entered (or was moved to at a publish).
    pub version: u32,
    /// The profile.
    pub profile: ProfileId,
    /// Which time through this is for the profile, from 1.
    pub entry: u32,
    /// When it entered, ms since the epoch.
    pub entered_at: i64,
    /// The step it is at.
    pub step: String,
    /// When it arrived at that step, ms since the epoch.
    pub since: i64,
    /// What it is doing there.
    pub waiting: Waiting,
    /// The steps it passed this time through, with when: the journey's own history, for
    /// `event_since_step` conditions.
    pub passed: Vec<(String, i64)>,
}

/// A profile's record of its times through a journey, kept after it leaves (for re-entry).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EntryRecord {
    /// How many times it entered.
    pub entries: u32,
    /// When it last entered, ms since the epoch.
    pub last_entered_at: i64,
    /// How the last time through ended; none while it is inside.
    pub last_outcome: Option<Outcome>,
}

/// Per-step counts of a journey version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepCounts {
    /// Profiles that arrived at the step.
    pub entered: u64,
    /// Profiles there now, waiting.
    pub waiting: u64,
    /// Profiles that went on from it.
    pub passed: u64,
    /// Profiles whose time through ended at it, by outcome.
    pub ended: BTreeMap<String, u64>,
    /// Message steps: sends not made, by reason (`no_consent`, `frequency_cap`, ...).
    pub skipped: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The welcome series the demo runs: welcome, two days, then a thank-you or a reminder.
    fn welcome() -> serde_json::Value {
        serde_json::from_str(include_str!("../../examples/scenario/welcome.journey.json"))
            .expect("example parses")
    }

    fn problems(spec: serde_json::Value) -> Vec<String> {
        serde_json::from_value::<JourneySpec>(spec).expect("parses").problems()
    }

    #[test]
    fn the_welcome_series_is_valid() {
        assert_eq!(problems(welcome()), Vec::<String>::new());
    }

    #[test]
    fn unknown_fields_and_step_types_are_refused() {
        let mut spec = welcome();
        spec["steps"]["wait"]["for_days"] = 2.into();
        assert!(serde_json::from_value::<JourneySpec>(spec).is_err());
        let mut spec = welcome();
        spec["steps"]["wait"] = serde_json::json!({"type": "sleep", "next": "bought"});
        assert!(serde_json::from_value::<JourneySpec>(spec).is_err());
    }

    #[test]
    fn every_broken_link_is_named() {
        let mut spec = welcome();
        spec["start"] = "hello".into();
        spec["steps"]["wait"]["next"] = "nowhere".into();
        assert_eq!(
            problems(spec),
            ["start: no step is called \"hello\"", "steps.wait: leads to \"nowhere\", which is not a step"]
        );
    }

    #[test]
    fn unreachable_steps_and_loops_without_a_wait_are_refused() {
        let mut spec = welcome();
        spec["steps"]["orphan"] = serde_json::json!({"type": "exit"});
        assert_eq!(problems(spec), ["steps.orphan: no step leads to it, and it is not the start"]);

        let mut spec = welcome();
        spec["steps"]["thanks"]["next"] = "bought".into();
        assert_eq!(
            problems(spec),
            ["steps: bought → thanks → bought go round without a delay or a wait; put one in the loop"]
        );
        // The same loop through the delay is a plan, not a spin.
        let mut spec = welcome();
        spec["steps"]["thanks"]["next"] = "wait".into();
        assert_eq!(problems(spec), Vec::<String>::new());
    }

    #[test]
    fn delays_splits_and_reentry_are_checked() {
        let mut spec = welcome();
        spec["steps"]["wait"] =
            serde_json::json!({"type": "delay", "for_ms": 5, "until_time_of_day": "09:00", "next": "bought"});
        assert_eq!(
            problems(spec),
            ["steps.wait: set exactly one of `for_ms`, `until_time_of_day` and `relative_to`"]
        );
        let mut spec = welcome();
        spec["steps"]["wait"] =
            serde_json::json!({"type": "delay", "until_time_of_day": "24:00", "next": "bought"});
        assert_eq!(problems(spec), ["steps.wait.until_time_of_day: \"24:00\" is not HH:MM (00:00 to 23:59)"]);
        let mut spec = welcome();
        spec["steps"]["bought"] = serde_json::json!({"type": "split", "holdout_percent": 10,
            "paths": [{"percent": 50, "next": "thanks"}, {"percent": 30, "next": "reminder"}]});
        assert_eq!(
            problems(spec),
            ["steps.bought.paths: the shares and `holdout_percent` add up to 90, not 100"]
        );
        let mut spec = welcome();
        spec["reentry"] = "once_per_window".into();
        assert_eq!(problems(spec), ["reentry_window_ms: set it (in ms) for reentry `once_per_window`"]);
    }

    #[test]
    fn times_of_day_are_minutes_after_midnight() {
        assert_eq!(time_of_day("00:00"), Some(0));
        assert_eq!(time_of_day("09:30"), Some(570));
        assert_eq!(time_of_day("23:59"), Some(1439));
        for bad in ["9:30", "24:00", "12:60", "noon", "12:3a"] {
            assert_eq!(time_of_day(bad), None, "{bad}");
        }
    }
}
