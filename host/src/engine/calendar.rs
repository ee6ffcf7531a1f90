//! The calendar: what is planned, day by day (UTC), for a range of days: scheduled batch
//! campaign runs, scheduled journey entries, and journey waits that come due (with the steps they lead to, message steps
//! among them). Read from the campaigns' schedules and the journeys' due-time indexes, so a month
//! with a million profiles waiting is one range scan per journey, not a load of each profile.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Engine, EngineError};
use crate::campaign::{CampaignState, Trigger};
use crate::journey::{JourneyState, Step};

const DAY: i64 = 86_400_000;

/// The most days one calendar answers.
pub const MAX_CALENDAR_DAYS: i64 = 366;

/// What is planned for a range of days.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Calendar {
    /// The first day, `YYYY-MM-DD`.
    pub from: String,
    /// The last day answered, `YYYY-MM-DD`.
    pub to: String,
    /// Whether the range asked for was longer than 366 days and was cut there.
    pub truncated: bool,
    /// The days with something planned, in order.
    pub days: Vec<CalendarDay>,
}

/// One day's plan.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct CalendarDay {
    /// The day, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Scheduled runs of active batch campaigns.
    pub campaign_runs: Vec<ScheduledRuns>,
    /// Journey waits that end this day.
    pub journey_steps: Vec<JourneyDue>,
    /// Scheduled journey entries: a saved segment's members admitted at each slot.
    pub journey_entries: Vec<ScheduledEntries>,
}

/// A scheduled journey's entries in a day.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScheduledEntries {
    /// The journey.
    pub journey: String,
    /// The saved segment whose members enter.
    pub segment: String,
    /// How many slots start that day.
    pub runs: u64,
    /// When the first starts, ms since the epoch.
    pub first_at: i64,
    /// The step they enter at (`welcome (message: welcome-email)`).
    pub start: String,
}

/// A batch campaign's scheduled runs in a day.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScheduledRuns {
    /// The campaign.
    pub campaign: String,
    /// How many runs start that day.
    pub runs: u64,
    /// When the first starts, ms since the epoch.
    pub first_at: i64,
}

/// Profiles whose wait at a journey step ends in a day.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct JourneyDue {
    /// The journey.
    pub journey: String,
    /// The version they are on.
    pub version: u32,
    /// The step they wait at (a delay or a wait for an event).
    pub step: String,
    /// How many come due.
    pub due: u64,
    /// What follows when the wait ends by time: step ids with their type, and the campaign of a
    /// message step (`reminder (message: reminder-offer)`).
    pub then: Vec<String>,
}

impl Engine {
    /// The plan from `from` (default: today) to `to` (default: 30 days later), days written
    /// `YYYY-MM-DD`, UTC, both included: at most 366 days (`truncated` says when the range was
    /// cut). A range that ends before it starts is empty.
    pub fn calendar(&self, from: Option<&str>, to: Option<&str>) -> Result<Calendar, EngineError> {
        let day = |text: &str| {
            jiff::civil::Date::strptime("%Y-%m-%d", text).map_err(|_| {
                EngineError::InvalidRequest(format!(
                    "`{text}` is not a day: write YYYY-MM-DD, for example 2025-06-30"
                ))
            })
        };
        let first = match from {
            Some(text) => day(text)?,
            None => jiff::Timestamp::from_millisecond(self.now())
                .map_or(jiff::civil::Date::ZERO, |t| t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date()),
        };
        let last = match to {
            Some(text) => day(text)?,
            None => first.checked_add(jiff::Span::new().days(30)).unwrap_or(first),
        };
        let (from, to) = (first.strftime("%Y-%m-%d").to_string(), last.strftime("%Y-%m-%d").to_string());
        let start = midnight(first);
        let asked_end = midnight(last).saturating_add(DAY);
        let end = asked_end.min(start.saturating_add(MAX_CALENDAR_DAYS * DAY));
        let truncated = asked_end > end;
        let mut days: BTreeMap<i64, CalendarDay> = BTreeMap::new();
        if end > start {
            self.plan_campaign_runs(start, end, &mut days)?;
            self.plan_journey_waits(start, end, &mut days)?;
        }
        let last_answered = if truncated { date_of(end - DAY) } else { to };
        let days = days
            .into_iter()
            .map(|(at, mut day)| {
                day.date = date_of(at);
                day
            })
            .collect();
        Ok(Calendar { from, to: last_answered, truncated, days })
    }

    fn plan_campaign_runs(
        &self,
        start: i64,
        end: i64,
        days: &mut BTreeMap<i64, CalendarDay>,
    ) -> Result<(), EngineError> {
        for campaign in self.storage.campaigns()? {
            let (CampaignState::Active, Trigger::Batch { every_ms: Some(every) }) =
                (campaign.state, &campaign.trigger)
            else {
                continue;
            };
            for (day, runs, first_at) in slots(start, end, *every) {
                let runs = ScheduledRuns { campaign: campaign.id.clone(), runs, first_at };
                days.entry(day).or_default().campaign_runs.push(runs);
            }
        }
        for journey in self.storage.journeys()? {
            let (JourneyState::Live, Some(version)) = (journey.state, journey.live_version) else { continue };
            let Some(spec) = self.storage.journey_version(&journey.id, version)? else { continue };
            let crate::journey::Entry::Schedule { segment, every_ms } = &spec.entry else { continue };
            for (day, runs, first_at) in slots(start, end, *every_ms) {
                days.entry(day).or_default().journey_entries.push(ScheduledEntries {
                    journey: journey.id.clone(),
                    segment: segment.clone(),
                    runs,
                    first_at,
                    start: describe(Some(&spec), &spec.start),
                });
            }
        }
        Ok(())
    }

    fn plan_journey_waits(
        &self,
        start: i64,
        end: i64,
        days: &mut BTreeMap<i64, CalendarDay>,
    ) -> Result<(), EngineError> {
        for journey in self.storage.journeys()? {
            if !matches!(journey.state, JourneyState::Live | JourneyState::Paused) {
                continue;
            }
            let mut specs = BTreeMap::new();
            for ((day, version, step), due) in self.storage.journey_due_by_day(&journey.id, start, end)? {
                if !specs.contains_key(&version) {
                    specs.insert(version, self.storage.journey_version(&journey.id, version)?);
                }
                let spec = specs.get(&version).and_then(Option::as_ref);
                let then = match spec.and_then(|s| s.steps.get(&step)) {
                    Some(Step::Delay { next, .. }) => vec![describe(spec, next)],
                    Some(Step::WaitForEvent { on_timeout, .. }) => vec![describe(spec, on_timeout)],
                    _ => Vec::new(),
                };
                days.entry(day).or_default().journey_steps.push(JourneyDue {
                    journey: journey.id.clone(),
                    version,
                    step,
                    due,
                    then,
                });
            }
        }
        Ok(())
    }
}

/// The days in [`start`, `end`) on which a multiple of `every` ms falls: (day, how many, the
/// first), as a schedule runs at each multiple (the tick after it, in practice).
fn slots(start: i64, end: i64, every: u64) -> Vec<(i64, u64, i64)> {
    let every = i64::try_from(every).unwrap_or(i64::MAX).max(1);
    let mut found = Vec::new();
    let mut day = start;
    while day < end {
        let first = day.div_euclid(every) + i64::from(day.rem_euclid(every) != 0);
        let last = (day + DAY - 1).div_euclid(every);
        if last >= first {
            found.push((day, u64::try_from(last - first + 1).unwrap_or(0), first.saturating_mul(every)));
        }
        day += DAY;
    }
    found
}

/// `id (type)`, or `id (message: campaign)`.
fn describe(spec: Option<&crate::journey::JourneySpec>, id: &str) -> String {
    match spec.and_then(|s| s.steps.get(id)) {
        Some(Step::Message { campaign, .. }) => format!("{id} (message: {campaign})"),
        Some(step) => format!("{id} ({})", step.kind()),
        None => id.to_owned(),
    }
}

fn midnight(day: jiff::civil::Date) -> i64 {
    day.to_zoned_datetime(jiff::tz::TimeZone::UTC).map_or(0, |z| z.timestamp().as_millisecond())
}

fn date_of(at: i64) -> String {
    jiff::Timestamp::from_millisecond(at)
        .map_or_else(|_| String::new(), |t| t.strftime("%Y-%m-%d").to_string())
}
