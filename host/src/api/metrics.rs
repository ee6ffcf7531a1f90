//! Prometheus metrics in the text exposition format: ingest by result, plugin calls by outcome,
//! deliveries by outcome, outbox depth, compilations, and each send lane's pace, throttles,
//! held sends and waiting tasks.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::{ApiError, AppState};

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let engine = state.engine.clone();
    let (depth, triggers) =
        tokio::task::spawn_blocking(move || (engine.outbox_len(), engine.pending_trigger_count()))
            .await
            .map_err(|e| ApiError::internal(&e))?;
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
        "baton_trigger_queue_depth",
        "gauge",
        "Events waiting for the triggered campaigns and journeys.",
        &[(String::new(), triggers as u64)],
    );
    if let Some((open, busy, max)) = state.engine.store_connections() {
        family(
            "baton_store_connections",
            "gauge",
            "PostgreSQL connections of this worker, by state.",
            &[("{state=\"open\"}".into(), open as u64), ("{state=\"busy\"}".into(), busy as u64)],
        );
        family(
            "baton_store_connections_max",
            "gauge",
            "The most PostgreSQL connections this worker may hold (storage.max_connections).",
            &[(String::new(), max as u64)],
        );
    }
    family(
        "baton_plugin_compilations_total",
        "counter",
        "Components compiled.",
        &[(String::new(), stats.compilations)],
    );
    let lanes = state.engine.send_lanes();
    let label = |lane: &str| format!("{{lane=\"{}\"}}", lane.replace(['\\', '"', '\n'], "_"));
    let per_lane = |count: fn(&crate::engine::SendLane) -> u64| -> Vec<(String, u64)> {
        lanes.iter().map(|l| (label(&l.lane), count(l))).collect()
    };
    family(
        "baton_send_throttled_total",
        "counter",
        "Times a vendor asked to slow down (429 or throttled), by lane.",
        &per_lane(|l| l.throttled),
    );
    family(
        "baton_send_held_total",
        "counter",
        "Sends held in the outbox for a later slot, by lane.",
        &per_lane(|l| l.held),
    );
    family(
        "baton_send_lane_waiting",
        "gauge",
        "Delivery tasks waiting for a slot in each lane now.",
        &per_lane(|l| l.waiting as u64),
    );
    let _ = writeln!(
        out,
        "# HELP baton_send_rate_per_second The pace each vendor host or campaign lane allows now (below its limit after throttling).\n# TYPE baton_send_rate_per_second gauge"
    );
    for lane in &lanes {
        if let Some(rate) = lane.rate {
            let _ = writeln!(out, "baton_send_rate_per_second{} {rate}", label(&lane.lane));
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}
