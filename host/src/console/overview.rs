//! The overview, for managers: every campaign with its figures over a date range (from the
//! kept daily series, so the page reads precomputed days, never the event log) and a trend line.

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::charts::{Bar, bars, sparkline};
use super::html::{esc, signed_in, table, when};
use super::on_engine;
use super::session::{Viewer, message_page};
use crate::api::AppState;
use crate::api::routes::READ;
use crate::campaign::Campaign;
use crate::delivery::KpiSnapshot;
use crate::engine::{CampaignSeries, DayFigures, Engine, EngineError, PluginView};

/// The range asked for (`YYYY-MM-DD`, both included).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Range {
    from: Option<String>,
    to: Option<String>,
}

fn is_day(text: &str) -> bool {
    text.parse::<jiff::civil::Date>().is_ok()
}

/// `GET /`.
pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(range): Query<Range>,
) -> Response {
    if let Err(refused) = viewer.require(READ, "see campaign figures") {
        return refused;
    }
    let engine = state.engine.clone();
    let (from, to) = match (range.from.filter(|d| !d.is_empty()), range.to.filter(|d| !d.is_empty())) {
        (Some(f), _) if !is_day(&f) => return bad_range(&f),
        (_, Some(t)) if !is_day(&t) => return bad_range(&t),
        (from, to) => (from, to),
    };
    let (from, to) = {
        let today = jiff::Timestamp::from_millisecond(engine.now_ms())
            .map(|t| t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())
            .unwrap_or_default();
        let to = to.unwrap_or_else(|| today.to_string());
        let from = from
            .unwrap_or_else(|| today.checked_sub(jiff::Span::new().days(29)).unwrap_or(today).to_string());
        (from, to)
    };
    let (f, t) = (from.clone(), to.clone());
    let figures = match on_engine(&state, move |e| figures(e, &f, &t)).await {
        Ok(figures) => figures,
        Err(page) => return page,
    };
    let mut rows = Vec::new();
    let mut romi_bars = Vec::new();
    let mut lift_bars = Vec::new();
    for row in &figures.campaigns {
        let (campaign, total) = (&row.campaign, totals(&row.series.days));
        let romi = row.romi.map_or("–".into(), percent);
        let cost = row.cost.map_or("–".into(), |c| format!("{c:.2}"));
        let (lift, confidence) = match &row.lift {
            Some(l) => (l.relative.map_or("–".into(), signed_percent), l.confidence()),
            None => ("–".into(), "no holdout".into()),
        };
        rows.push(format!(
            "<tr><th scope=\"row\"><a href=\"/campaigns/{id}\">{}</a><br><span class=\"muted\">{}</span></th>\
             <td><span class=\"state state-{st}\">{st}</span></td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{:.2}</td><td class=\"num\">{cost}</td><td class=\"num\">{romi}</td><td class=\"num\">{lift}</td><td>{}</td><td>{}</td></tr>",
            esc(&campaign.name),
            esc(&campaign.id),
            total.delivered,
            total.failed,
            total.opened,
            total.clicked,
            total.conversions,
            total.revenue,
            esc(&confidence),
            sparkline(&campaign.name, &row.series.days),
            id = esc(&campaign.id),
            st = campaign.state.name(),
        ));
        if let Some(value) = row.romi {
            romi_bars.push(Bar { label: campaign.name.clone(), value, interval: None });
        }
        if let Some(Lift { difference: Some(value), interval, .. }) = &row.lift {
            lift_bars.push(Bar { label: campaign.name.clone(), value: *value, interval: *interval });
        }
    }
    let journeys: Vec<String> = figures
        .journeys
        .iter()
        .map(|j| {
            format!(
                "<tr><th scope=\"row\"><a href=\"/journeys/{id}\">{}</a></th><td><span class=\"state state-{st}\">{st}</span></td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&j.name),
                j.entered,
                j.waiting,
                j.converted,
                j.ended,
                id = esc(&j.id),
                st = j.state,
            )
        })
        .collect();
    let plugins: Vec<String> = figures
        .plugins
        .iter()
        .map(|p| {
            let calls: u64 = p.stats.calls.values().sum();
            let failed: u64 = p.stats.calls.iter().filter(|(k, _)| **k != "ok").map(|(_, n)| n).sum();
            let quarantine = p.plugin.quarantine.as_ref().map_or("–".into(), |q| format!("since {}", when(q.since)));
            format!(
                "<tr><th scope=\"row\">{}<br><span class=\"muted\">{}</span></th><td class=\"num\">{calls}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{failed}</td><td>{}</td></tr>",
                esc(&p.plugin.label()),
                p.plugin.kind.world(),
                p.stats.fuel_used,
                p.stats.wall_micros as f64 / 1000.0,
                esc(&quarantine),
            )
        })
        .collect();
    let romi_chart = if romi_bars.is_empty() {
        "<p class=\"muted\">No campaign has a ROMI figure yet: bind the <code>kpi-romi</code> calculator and compute its KPIs.</p>".into()
    } else {
        bars(
            "romi-chart",
            "Return on marketing investment (incremental margin less cost, over cost)",
            &romi_bars,
            percent,
        )
    };
    let lift_chart = bars(
        "lift-chart",
        "Conversion rate against the holdout, in points, with its 95% interval",
        &lift_bars,
        |v| format!("{:+.1} pts", v * 100.0),
    );
    let content = format!(
        "<h1>Overview</h1>\
         <form class=\"range\" method=\"get\" action=\"/\">\
         <div><label for=\"from\">From</label><input id=\"from\" name=\"from\" type=\"date\" value=\"{from}\"></div>\
         <div><label for=\"to\">To</label><input id=\"to\" name=\"to\" type=\"date\" value=\"{to}\"></div>\
         <button type=\"submit\">Show</button></form>\
         <h2>Campaigns</h2><p class=\"muted\">From {from} to {to}: days in the reporting time zone, as last updated. \
         Cost, ROMI and lift are each campaign's latest computed results.</p>{}\
         <div class=\"charts\">{romi_chart}{lift_chart}</div>\
         <h2>Journeys</h2>{}<h2>Plugins</h2><p class=\"muted\">Calls and cost since this process started.</p>{}",
        table(
            "Campaign figures",
            &[
                "Campaign",
                "State",
                "#Delivered",
                "#Failed",
                "#Opens",
                "#Clicks",
                "#Conversions",
                "#Revenue",
                "#Cost",
                "#ROMI",
                "#Lift",
                "Confidence",
                "Delivered per day"
            ],
            &rows,
            "No campaigns yet.",
        ),
        table(
            "Journey figures",
            &["Journey", "State", "#Entered", "#Waiting", "#Converted", "#Ended"],
            &journeys,
            "No journeys yet."
        ),
        table(
            "Plugin costs",
            &["Plugin", "#Calls", "#Fuel", "#Time (ms)", "#Failed", "Quarantined"],
            &plugins,
            "No plugins installed."
        ),
        from = esc(&from),
        to = esc(&to),
    );
    signed_in(&viewer, "overview", "Overview", &content)
}

/// A campaign's row: its days, and its latest measured results.
struct CampaignRow {
    campaign: Campaign,
    series: CampaignSeries,
    romi: Option<f64>,
    cost: Option<f64>,
    lift: Option<Lift>,
}

/// The campaign against its holdout, from its latest stored results.
struct Lift {
    /// Rate difference (treated − control), as a rate.
    difference: Option<f64>,
    /// Its 95% interval.
    interval: Option<[f64; 2]>,
    /// The difference relative to the control's rate.
    relative: Option<f64>,
    p_value: Option<f64>,
    enough_data: bool,
}

impl Lift {
    fn confidence(&self) -> String {
        match (self.enough_data, self.p_value) {
            (false, _) | (_, None) => "too little data".into(),
            (true, Some(p)) if p < 0.05 => format!("significant (p = {p:.3})"),
            (true, Some(p)) => format!("not significant (p = {p:.2})"),
        }
    }
}

/// A journey's row.
struct JourneyRow {
    id: String,
    name: String,
    state: &'static str,
    entered: u64,
    waiting: usize,
    converted: u64,
    ended: u64,
}

struct Figures {
    campaigns: Vec<CampaignRow>,
    journeys: Vec<JourneyRow>,
    plugins: Vec<PluginView>,
}

/// Everything the overview shows, read from precomputed figures: the kept daily series, the
/// latest stored results and KPI snapshots, the journeys' step counts, the plugins' counters.
fn figures(engine: &Engine, from: &str, to: &str) -> Result<Figures, EngineError> {
    let mut campaigns = Vec::new();
    for campaign in engine.campaigns()? {
        let series = engine.campaign_series(&campaign.id, Some(from), Some(to))?;
        let lift = engine.latest_campaign_results(&campaign.id)?.and_then(|results| {
            results.comparisons.into_iter().find(|c| c.baseline == "control").map(|c| Lift {
                difference: c.rate_difference,
                interval: c.rate_difference_interval,
                relative: c.relative_lift,
                p_value: c.p_value,
                enough_data: c.enough_data,
            })
        });
        let latest = |name: &str, snapshots: &[KpiSnapshot]| {
            snapshots.iter().rev().find_map(|s| {
                s.metrics.as_array()?.iter().find(|m| m["name"] == name).and_then(|m| m["value"].as_f64())
            })
        };
        let snapshots = engine.kpi_snapshots(&campaign.id)?;
        let (romi, cost) = (latest("romi", &snapshots), latest("cost", &snapshots));
        campaigns.push(CampaignRow { campaign, series, romi, cost, lift });
    }
    let mut journeys = Vec::new();
    for journey in engine.journeys()? {
        let view = engine.journey_view(&journey.id)?;
        let (mut entered, mut converted, mut ended) = (0, 0, 0);
        for steps in view.counts.values() {
            entered += steps.get(&view.spec.start).map_or(0, |c| c.entered);
            for counts in steps.values() {
                converted += counts.ended.get("converted").copied().unwrap_or(0);
                ended += counts.ended.values().sum::<u64>();
            }
        }
        journeys.push(JourneyRow {
            id: journey.id.clone(),
            name: view.spec.name.clone(),
            state: journey.state.name(),
            entered,
            waiting: view.waiting,
            converted,
            ended,
        });
    }
    let mut plugins = Vec::new();
    for plugin in engine.plugins()? {
        plugins.push(engine.plugin_view(&plugin.hash)?);
    }
    Ok(Figures { campaigns, journeys, plugins })
}

fn percent(value: f64) -> String {
    format!("{:.0}%", value * 100.0)
}

fn signed_percent(value: f64) -> String {
    format!("{:+.0}%", value * 100.0)
}

fn bad_range(text: &str) -> Response {
    message_page(
        axum::http::StatusCode::BAD_REQUEST,
        "That date does not read",
        &format!("`{text}` is not a date; write it as YYYY-MM-DD."),
    )
}

fn totals(days: &[DayFigures]) -> DayFigures {
    let mut total = DayFigures { day: String::new(), ..DayFigures::default() };
    for d in days {
        total.delivered += d.delivered;
        total.opened += d.opened;
        total.clicked += d.clicked;
        total.conversions += d.conversions;
        total.revenue += d.revenue;
        total.failed += d.failed;
    }
    total
}
