//! The overview, for managers: every campaign with its figures over a date range (from the
//! kept daily series, so the page reads precomputed days, never the event log) and a trend line.

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::html::{esc, signed_in};
use super::session::{Viewer, message_page};
use crate::api::AppState;
use crate::campaign::Campaign;
use crate::engine::{CampaignSeries, DayFigures};

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
    let rows = tokio::task::spawn_blocking(
        move || -> Result<Vec<(Campaign, CampaignSeries)>, crate::engine::EngineError> {
            let mut rows = Vec::new();
            for campaign in engine.campaigns()? {
                let series = engine.campaign_series(&campaign.id, Some(&f), Some(&t))?;
                rows.push((campaign, series));
            }
            Ok(rows)
        },
    )
    .await;
    let rows = match rows {
        Ok(Ok(rows)) => rows,
        _ => {
            return message_page(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "Baton could not read its store just now.",
            );
        }
    };
    let mut body = String::new();
    for (campaign, series) in &rows {
        let total = totals(&series.days);
        body.push_str(&format!(
            "<tr><th scope=\"row\">{}<br><span class=\"muted\">{}</span></th><td><span class=\"state state-{}\">{}</span></td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2}</td><td>{}</td></tr>",
            esc(&campaign.name),
            esc(&campaign.id),
            campaign.state.name(),
            campaign.state.name(),
            total.delivered,
            total.opened,
            total.clicked,
            total.conversions,
            total.revenue,
            sparkline(&campaign.name, &series.days),
        ));
    }
    if rows.is_empty() {
        body.push_str("<tr><td colspan=\"7\" class=\"muted\">No campaigns yet.</td></tr>");
    }
    let content = format!(
        "<h1>Overview</h1>\
         <form class=\"range\" method=\"get\" action=\"/\">\
         <div><label for=\"from\">From</label><input id=\"from\" name=\"from\" type=\"date\" value=\"{from}\"></div>\
         <div><label for=\"to\">To</label><input id=\"to\" name=\"to\" type=\"date\" value=\"{to}\"></div>\
         <button type=\"submit\">Show</button></form>\
         <div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Campaign figures\"><table><caption class=\"muted\">Campaigns from {from} to {to} (days in the reporting time zone, as last updated)</caption>\
         <thead><tr><th scope=\"col\">Campaign</th><th scope=\"col\">State</th><th scope=\"col\" class=\"num\">Delivered</th>\
         <th scope=\"col\" class=\"num\">Opens</th><th scope=\"col\" class=\"num\">Clicks</th><th scope=\"col\" class=\"num\">Conversions</th>\
         <th scope=\"col\" class=\"num\">Revenue</th><th scope=\"col\">Delivered per day</th></tr></thead><tbody>{body}</tbody></table></div>",
        from = esc(&from),
        to = esc(&to),
    );
    signed_in(&viewer, "overview", "Overview", &content)
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
    }
    total
}

/// A small line of delivered messages per day, with the figures in its label for screen readers.
fn sparkline(name: &str, days: &[DayFigures]) -> String {
    if days.is_empty() {
        return "<span class=\"muted\">no sends</span>".into();
    }
    let (width, height) = (120.0, 28.0);
    let max = days.iter().map(|d| d.delivered).max().unwrap_or(0).max(1) as f64;
    let step = if days.len() > 1 { width / (days.len() - 1) as f64 } else { 0.0 };
    let points: Vec<String> = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                height - 2.0 - (d.delivered as f64 / max) * (height - 4.0)
            )
        })
        .collect();
    let label = days.iter().map(|d| format!("{} {}", d.day, d.delivered)).collect::<Vec<_>>().join(", ");
    format!(
        "<svg class=\"spark\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\">\
         <polyline fill=\"none\" stroke=\"#0b5cad\" stroke-width=\"2\" points=\"{}\"/></svg>",
        esc(&format!("{name}: delivered per day: {label}")),
        points.join(" ")
    )
}
