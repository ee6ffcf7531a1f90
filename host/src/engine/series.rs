//! Daily KPI series: a campaign's figures for each day in the reporting time zone, kept in the
//! store so that a dashboard can draw trends, and brought up to date incrementally.
//!
//! Which days an update recomputes: a conversion on day D counts for a message at most one
//! conversion window before it, and events may arrive late (a mobile client offline for a day).
//! So the days from `last update - window - late allowance` on are recomputed, and every day
//! before them is kept as it was. The update reads only the campaign's record from one window
//! before those days (its time index), and the events of the recipients that record names from
//! the first recomputed day: over a campaign's life, the work grows with the recent days, not
//! with the whole history. A full rebuild (`full`) recomputes every day, and is what an update
//! does when the time zone or the conversion definition changed since the last one. An event
//! arriving later than the allowance is counted by the next full rebuild.
//!
//! A day's conversions are the recipients' conversion events that day within their window (the
//! same definition as the campaign's results), counted as events: a customer who orders on two
//! days adds to both. The results count converted customers once.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError};
use crate::profile::ProfileId;

/// How measurement reports (`engine.reporting` in the config file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReportingConfig {
    /// The IANA time zone the days of a series are in, for example `Europe/Paris`.
    pub time_zone: String,
    /// How late an event may arrive and still be counted by the next update, in ms: the update
    /// recomputes this much more than one conversion window back. One day by default.
    pub late_events_ms: i64,
}

impl Default for ReportingConfig {
    fn default() -> Self {
        ReportingConfig { time_zone: "UTC".into(), late_events_ms: 86_400_000 }
    }
}

/// The reporting settings, checked: the time zone looked up once.
#[derive(Debug, Clone)]
pub(super) struct Reporting {
    pub(super) zone: jiff::tz::TimeZone,
    pub(super) time_zone: String,
    pub(super) late_events_ms: i64,
}

impl ReportingConfig {
    /// The settings checked, or what is wrong with them.
    pub(super) fn checked(&self) -> Result<Reporting, String> {
        let zone = jiff::tz::TimeZone::get(&self.time_zone).map_err(|_| {
            format!(
                "reporting.time_zone: `{}` is not an IANA time zone (for example `Europe/Paris` or `UTC`)",
                self.time_zone
            )
        })?;
        if self.late_events_ms < 0 {
            return Err("reporting.late_events_ms: must be 0 or more".into());
        }
        Ok(Reporting { zone, time_zone: self.time_zone.clone(), late_events_ms: self.late_events_ms })
    }
}

/// One day's figures.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DayFigures {
    /// The day in the reporting time zone, `YYYY-MM-DD`.
    pub day: String,
    /// Messages delivered.
    pub delivered: u64,
    /// Messages the vendor refused or that failed for good.
    pub failed: u64,
    /// Opens reported (`*_opened` events on the campaign's record).
    pub opened: u64,
    /// Clicks reported (`*_clicked` events on the campaign's record).
    pub clicked: u64,
    /// Profiles held out.
    pub held_out: u64,
    /// Recipients' conversion events within their window.
    pub conversions: u64,
    /// Their value.
    pub revenue: f64,
    /// Held-out profiles' conversion events within their window after assignment.
    pub control_conversions: u64,
    /// Their value.
    pub control_revenue: f64,
}

/// A campaign's daily series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CampaignSeries {
    /// The campaign.
    pub campaign: String,
    /// The reporting time zone the days are in (`reporting.time_zone`).
    pub time_zone: String,
    /// When the series was last brought up to date; none if it never was.
    pub updated_at: Option<i64>,
    /// The days with any figure, oldest first.
    pub days: Vec<DayFigures>,
}

/// What one update did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SeriesUpdate {
    /// The campaign.
    pub campaign: String,
    /// Whether every day was recomputed.
    pub full: bool,
    /// The first day recomputed; none for a full rebuild.
    pub from_day: Option<String>,
    /// Days written.
    pub days: usize,
    /// Events of the campaign's record read.
    pub record_events: u64,
    /// Recipients whose own events were read for conversions.
    pub recipients: u64,
    /// Their events read.
    pub recipient_events: u64,
}

/// What the last update was made with: a change of any of it makes the next update full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesState {
    /// When it ran.
    pub updated_at: i64,
    /// The time zone.
    pub time_zone: String,
    /// A hash of the conversion definition.
    pub definition: u64,
}

/// Where a day starts and ends, cached: events come in time order, so most fall in the day the
/// one before fell in, and the time-zone arithmetic runs once per day rather than per event.
struct Days {
    zone: jiff::tz::TimeZone,
    current: (i64, i64),
    /// The figures, by the day's first millisecond.
    figures: BTreeMap<i64, DayFigures>,
}

impl Days {
    fn new(zone: jiff::tz::TimeZone) -> Days {
        Days { zone, current: (0, 0), figures: BTreeMap::new() }
    }

    /// When the day `at` falls in starts.
    fn start_of(&mut self, at: i64) -> i64 {
        if !(self.current.0..self.current.1).contains(&at) {
            let (_, start, end) = day_bounds(&self.zone, at);
            self.current = (start, end);
        }
        self.current.0
    }

    /// The figures of the day `at` falls in.
    fn at(&mut self, at: i64) -> &mut DayFigures {
        let start = self.start_of(at);
        let zone = &self.zone;
        self.figures
            .entry(start)
            .or_insert_with(|| DayFigures { day: day_bounds(zone, at).0, ..DayFigures::default() })
    }
}

/// The calendar day `at` falls in, in `zone`, with its first and past-the-last millisecond (a
/// day is 23 or 25 hours long when clocks change).
fn day_bounds(zone: &jiff::tz::TimeZone, at: i64) -> (String, i64, i64) {
    let Ok(timestamp) = jiff::Timestamp::from_millisecond(at) else {
        return (String::from("out-of-range"), at, at.saturating_add(1));
    };
    let local = timestamp.to_zoned_datetime(zone.clone());
    let midnight = |z: &jiff::ZonedDateTime| z.start_of_day().ok().map(|m| m.timestamp().as_millisecond());
    let start = midnight(&local).unwrap_or(at);
    // Noon tomorrow always exists, whatever the clocks do at night; its midnight ends today.
    let next = (local.date().tomorrow().ok())
        .and_then(|d| d.at(12, 0, 0, 0).to_zoned_datetime(zone.clone()).ok())
        .and_then(|noon| midnight(&noon))
        .unwrap_or(at.saturating_add(1));
    (local.date().to_string(), start.min(at), next.max(at.saturating_add(1)))
}

/// A recipient or held-out profile whose window reaches the recomputed days: when each message
/// was delivered (`false`) or it was held out (`true`), oldest first. A conversion belongs to the
/// latest entry whose window holds it, so a day's figures do not depend on entries older than
/// the recomputed days (which a full rebuild reads and an update does not).
struct Entered {
    entries: Vec<(i64, bool)>,
}

impl Engine {
    /// The campaign's kept daily series, the days from `from` to `to` (`YYYY-MM-DD`, both
    /// included; either may be left out). Reads only; see [`Engine::update_campaign_series`].
    pub fn campaign_series(
        &self,
        campaign: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<CampaignSeries, EngineError> {
        self.campaign(campaign)?;
        let state = self.storage.series_state(campaign)?;
        let days = self
            .storage
            .series_days(campaign)?
            .into_iter()
            .filter(|d| from.is_none_or(|f| d.day.as_str() >= f) && to.is_none_or(|t| d.day.as_str() <= t))
            .collect();
        Ok(CampaignSeries {
            campaign: campaign.to_owned(),
            time_zone: self.reporting.time_zone.clone(),
            updated_at: state.map(|s| s.updated_at),
            days,
        })
    }

    /// Brings the campaign's daily series up to date: the recent days (see the module's
    /// documentation) or, with `full`, every day. The days it writes replace the kept ones from
    /// the first recomputed day on, in one atomic write.
    pub fn update_campaign_series(&self, campaign: &str, full: bool) -> Result<SeriesUpdate, EngineError> {
        let campaign = self.campaign(campaign)?;
        let now = self.now();
        let conversion = campaign.conversion.as_ref();
        let window = conversion.map_or(0, |c| c.window_ms);
        let definition =
            super::pipeline::hash64(&[&serde_json::to_string(&campaign.conversion).unwrap_or_default()]);
        let mut days = Days::new(self.reporting.zone.clone());
        let previous = self.storage.series_state(&campaign.id)?;
        let incremental = previous
            .filter(|s| !full && s.time_zone == self.reporting.time_zone && s.definition == definition);
        // The first recomputed day starts at `from`; every day before it is kept.
        let from = incremental.map(|s| {
            let settled = s.updated_at.saturating_sub(window).saturating_sub(self.reporting.late_events_ms);
            day_bounds(&self.reporting.zone, settled)
        });
        let from_at = from.as_ref().map_or(i64::MIN, |(_, start, _)| *start);

        // The record from one window before the first recomputed day: its own figures from that
        // day on, and everyone whose window reaches it.
        let mut entered: HashMap<ProfileId, Entered> = HashMap::new();
        let mut record_events = 0u64;
        for event in self.storage.campaign_record_since(&campaign.id, from_at.saturating_sub(window)) {
            let event = event?;
            record_events += 1;
            let counted = event.timestamp >= from_at;
            let name = event.name.as_str();
            let control = match name {
                "message_delivered" => false,
                "control_assigned" => true,
                "message_rejected" | "message_failed" => {
                    if counted {
                        days.at(event.timestamp).failed += 1;
                    }
                    continue;
                }
                _ => {
                    if counted && name.ends_with("_opened") {
                        days.at(event.timestamp).opened += 1;
                    } else if counted && name.ends_with("_clicked") {
                        days.at(event.timestamp).clicked += 1;
                    }
                    continue;
                }
            };
            if counted {
                let day = days.at(event.timestamp);
                if control { day.held_out += 1 } else { day.delivered += 1 }
            }
            entered
                .entry(event.profile)
                .or_insert(Entered { entries: Vec::new() })
                .entries
                .push((event.timestamp, control));
        }

        // Their conversions on the recomputed days.
        let (mut recipients, mut recipient_events) = (0u64, 0u64);
        if let Some(conversion) = conversion {
            let mut members: Vec<(&ProfileId, &Entered)> = entered.iter().collect();
            members.sort_by_key(|(id, _)| **id);
            for (profile, member) in members {
                let Some(&(first, _)) = member.entries.first() else { continue };
                recipients += 1;
                let since = first.saturating_add(1).max(from_at);
                for event in self.storage.events_of_since(*profile, Some(since))? {
                    recipient_events += 1;
                    let holder = member.entries.iter().rev().find(|(entry, _)| {
                        event.timestamp > *entry
                            && event.timestamp <= entry.saturating_add(conversion.window_ms)
                    });
                    let Some(&(_, control)) = holder else { continue };
                    let Some(kind) =
                        conversion.events.iter().find(|k| k.matches(&event.name, &event.properties))
                    else {
                        continue;
                    };
                    let value = kind.value_of(&event.properties);
                    let day = days.at(event.timestamp);
                    if control {
                        day.control_conversions += 1;
                        day.control_revenue += value;
                    } else {
                        day.conversions += 1;
                        day.revenue += value;
                    }
                }
            }
        }

        let written: Vec<DayFigures> = days.figures.into_values().collect();
        let state = SeriesState { updated_at: now, time_zone: self.reporting.time_zone.clone(), definition };
        let from_day = from.map(|(day, _, _)| day);
        self.storage.replace_series(&campaign.id, from_day.as_deref(), &written, &state)?;
        Ok(SeriesUpdate {
            campaign: campaign.id.clone(),
            full: from_day.is_none(),
            from_day,
            days: written.len(),
            record_events,
            recipients,
            recipient_events,
        })
    }
}
