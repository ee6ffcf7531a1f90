//! Prometheus metrics in the text exposition format: ingest by result, plugin calls by outcome,
//! deliveries by outcome, outbox depth, compilations.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::{ApiError, AppState};

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let engine = state.engine.clone();
    let depth =
        tokio::task::spawn_blocking(move || engine.outbox_len()).await.map_err(|e| ApiError::internal(&e))?;
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let ingested: Vec<(String, u64)> = ["stored", "duplicate", "rejected"]
        .iter()
        .zip(state.ingested.iter())
        .map(|(label, n)| (format!("{{result=\"{label}\"}}"), n.load(Ordering::Relaxed)))
        .collect();
    family("baton_ingested_events_total", "counter", "Events received by ingest, by result.", &ingested);
    let stats = state.engine.runtime_stats();
    let calls: Vec<(String, u64)> =
        stats.calls.iter().map(|(o, n)| (format!("{{outcome=\"{}\"}}", o.name()), *n)).collect();
    family("baton_plugin_calls_total", "counter", "Plugin calls, by outcome.", &calls);
    let deliveries: Vec<(String, u64)> =
        state.engine.delivery_totals().iter().map(|(o, n)| (format!("{{outcome=\"{o}\"}}"), *n)).collect();
    family("baton_deliveries_total", "counter", "Send attempts finished, by outcome.", &deliveries);
    family("baton_outbox_depth", "gauge", "Sends waiting in the outbox.", &[(String::new(), depth as u64)]);
    family(
        "baton_plugin_compilations_total",
        "counter",
        "Components compiled.",
        &[(String::new(), stats.compilations)],
    );
    let _ = writeln!(
        out,
        "# HELP baton_send_rate_per_second The pace each vendor host or campaign lane allows now (below its limit after throttling).\n# TYPE baton_send_rate_per_second gauge"
    );
    for (lane, rate) in state.engine.send_rates() {
        if let Some(rate) = rate {
            let lane = lane.replace(['\\', '"'], "_");
            let _ = writeln!(out, "baton_send_rate_per_second{{lane=\"{lane}\"}} {rate}");
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}
