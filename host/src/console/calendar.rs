//! The calendar: scheduled campaign runs, scheduled journey entries and journey steps coming
//! due, by day or by week, from the engine's calendar (what the schedules and the stored timers
//! say will happen; nothing is run to find out).

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::html::{esc, signed_in, table};
use super::on_engine;
use super::session::Viewer;
use crate::api::AppState;
use crate::api::routes::READ;
use crate::engine::CalendarDay;

/// The range and how to group it.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Range {
    from: Option<String>,
    to: Option<String>,
    #[serde(default)]
    by: String,
}

/// `GET /calendar`.
pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(range): Query<Range>,
) -> Response {
    if let Err(refused) = viewer.require(READ, "see the calendar") {
        return refused;
    }
    let (from, to) = (range.from.filter(|d| !d.is_empty()), range.to.filter(|d| !d.is_empty()));
    let calendar = match on_engine(&state, move |e| e.calendar(from.as_deref(), to.as_deref())).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let weekly = range.by == "week";
    // Days with something on them, grouped by the Monday of their week when asked.
    let mut groups: BTreeMap<String, Vec<&CalendarDay>> = BTreeMap::new();
    for day in &calendar.days {
        if day.campaign_runs.is_empty() && day.journey_steps.is_empty() && day.journey_entries.is_empty() {
            continue;
        }
        let key = if weekly { week_of(&day.date) } else { day.date.clone() };
        groups.entry(key).or_default().push(day);
    }
    let rows: Vec<String> = groups
        .iter()
        .map(|(key, days)| {
            let mut runs: BTreeMap<&str, u64> = BTreeMap::new();
            let mut entries: BTreeMap<(&str, &str), u64> = BTreeMap::new();
            let mut steps: BTreeMap<(&str, &str), u64> = BTreeMap::new();
            for day in days {
                for r in &day.campaign_runs {
                    *runs.entry(&r.campaign).or_default() += r.runs;
                }
                for e in &day.journey_entries {
                    *entries.entry((&e.journey, &e.segment)).or_default() += e.runs;
                }
                for s in &day.journey_steps {
                    *steps.entry((&s.journey, &s.step)).or_default() += s.due;
                }
            }
            let list = |items: Vec<String>| {
                if items.is_empty() {
                    "–".to_owned()
                } else {
                    format!("<ul class=\"plain\">{}</ul>", items.concat())
                }
            };
            let runs = list(
                runs.iter()
                    .map(|(c, n)| {
                        format!(
                            "<li><a href=\"/campaigns/{0}\">{0}</a>: {n} run{1}</li>",
                            esc(c),
                            if *n == 1 { "" } else { "s" }
                        )
                    })
                    .collect(),
            );
            let entries = list(
                entries
                    .iter()
                    .map(|((j, s), n)| {
                        format!(
                            "<li><a href=\"/journeys/{0}\">{0}</a>: members of {1}, {n} time{2}</li>",
                            esc(j),
                            esc(s),
                            if *n == 1 { "" } else { "s" }
                        )
                    })
                    .collect(),
            );
            let steps = list(
                steps
                    .iter()
                    .map(|((j, s), n)| {
                        format!("<li><a href=\"/journeys/{0}\">{0}</a> · {1}: {n} due</li>", esc(j), esc(s))
                    })
                    .collect(),
            );
            let label = if weekly { format!("week of {key}") } else { key.clone() };
            format!(
                "<tr><th scope=\"row\">{}</th><td>{runs}</td><td>{entries}</td><td>{steps}</td></tr>",
                esc(&label)
            )
        })
        .collect();
    let selected = |v: &str| if (v == "week") == weekly { " selected" } else { "" };
    let content = format!(
        "<h1>Calendar</h1><form class=\"range\" method=\"get\" action=\"/calendar\">\
         <div><label for=\"from\">From</label><input id=\"from\" name=\"from\" type=\"date\" value=\"{from}\"></div>\
         <div><label for=\"to\">To</label><input id=\"to\" name=\"to\" type=\"date\" value=\"{to}\"></div>\
         <div><label for=\"by\">By</label><select id=\"by\" name=\"by\"><option value=\"day\"{}>day</option><option value=\"week\"{}>week</option></select></div>\
         <button type=\"submit\">Show</button></form>{}{}",
        selected("day"),
        selected("week"),
        if calendar.truncated { "<p class=\"muted\">Only the first 366 days are shown.</p>" } else { "" },
        table(
            "Calendar",
            &["When", "Scheduled campaign runs", "Scheduled journey entries", "Journey steps due"],
            &rows,
            "Nothing is scheduled in this range.",
        ),
        from = esc(&calendar.from),
        to = esc(&calendar.to),
    );
    signed_in(&viewer, "calendar", "Calendar", &content)
}

/// The Monday of a day's week, `YYYY-MM-DD`.
fn week_of(day: &str) -> String {
    day.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| {
            let back = i64::from(d.weekday().to_monday_zero_offset());
            d.checked_sub(jiff::Span::new().days(back)).ok()
        })
        .map_or_else(|| day.to_owned(), |d| d.to_string())
}
