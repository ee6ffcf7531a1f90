//! Attribution: each campaign's multi-touch attribution, the models side by side as a chart,
//! from the latest snapshot of its attribution calculator (`kpi-attribution`): how much revenue
//! each model credits to each campaign (or channel) the customers touched before converting.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;

use super::charts::{Bar, bars};
use super::html::{esc, signed_in, table, when};
use super::on_engine;
use super::session::Viewer;
use crate::api::AppState;
use crate::api::routes::READ;
use crate::delivery::KpiSnapshot;

/// Credited revenue by (dimension key, model), from one snapshot's metrics.
fn credited(snapshot: &KpiSnapshot) -> BTreeMap<String, Vec<(String, f64)>> {
    let mut by_key: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    for metric in snapshot.metrics.as_array().into_iter().flatten() {
        if metric["name"] != "attributed_revenue" {
            continue;
        }
        let dims: Vec<(String, String)> =
            serde_json::from_value(metric["dimensions"].clone()).unwrap_or_default();
        let model = dims.iter().find(|(k, _)| k == "model").map(|(_, v)| v.clone());
        let key = dims.iter().find(|(k, _)| k != "model").map(|(_, v)| v.clone());
        if let (Some(model), Some(key), Some(value)) = (model, key, metric["value"].as_f64()) {
            by_key.entry(key).or_default().push((model, value));
        }
    }
    by_key
}

/// `GET /attribution`.
pub(super) async fn page(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(READ, "see attribution") {
        return refused;
    }
    let found = on_engine(&state, |e| {
        let mut found = Vec::new();
        for campaign in e.campaigns()? {
            let snapshots = e.kpi_snapshots(&campaign.id)?;
            if let Some(latest) = snapshots.into_iter().rev().find(|s| !credited(s).is_empty()) {
                found.push((campaign, latest));
            }
        }
        Ok(found)
    })
    .await;
    let found = match found {
        Ok(f) => f,
        Err(page) => return page,
    };
    let mut content = String::from(
        "<h1>Attribution</h1><p class=\"muted\">Revenue from conversions credited to what the customer was touched by before, \
         under each model. Where the models disagree, the campaign's holdout lift on the overview says what it really added.</p>",
    );
    if found.is_empty() {
        content.push_str("<p class=\"muted\">No campaign has attribution yet: bind the <code>kpi-attribution</code> calculator as a KPI and compute its KPIs.</p>");
    }
    for (campaign, snapshot) in &found {
        content.push_str(&format!(
            "<h2>{} <span class=\"muted\">({} · computed {})</span></h2>",
            esc(&campaign.name),
            esc(&snapshot.kpi),
            when(snapshot.at)
        ));
        let credit = credited(snapshot);
        let mut charts = String::new();
        let mut rows = Vec::new();
        for (n, (key, models)) in credit.iter().enumerate() {
            let chart_bars: Vec<Bar> = models
                .iter()
                .map(|(m, v)| Bar { label: m.replace('_', " "), value: *v, interval: None })
                .collect();
            charts.push_str(&bars(
                &format!("attribution-{}-{n}", campaign.id),
                &format!("Revenue credited to {key}, by model"),
                &chart_bars,
                |v| format!("{v:.2}"),
            ));
            for (model, value) in models {
                rows.push(format!(
                    "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"num\">{value:.2}</td></tr>",
                    esc(key),
                    esc(model)
                ));
            }
        }
        content.push_str(&format!("<div class=\"charts\">{charts}</div>"));
        content.push_str(&table(
            &format!("Attribution of {}", campaign.name),
            &["Credited to", "Model", "#Revenue"],
            &rows,
            "Nothing credited.",
        ));
    }
    signed_in(&viewer, "attribution", "Attribution", &content)
}
