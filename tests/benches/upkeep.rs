//! What keeping saved segments current costs: live ingest (each batch stored durably, then
//! drained as `baton serve` does) with 0, 1 and 4 saved segments, and the clock's work when
//! windows pass. Prints figures; asserts only that upkeep left nothing unanswered.
//!
//! `cargo bench -p baton-tests --bench upkeep -- [EVENTS]` (default 200,000)
//!
//! The data set: EVENTS/10 customers with a plan trait, then EVENTS live events in batches of
//! 1,000 over a day (page views, product views, orders: one in six is an order, which every
//! segment reads). The segments are `segment-conditions` trees: recent buyers (an order in 30
//! days), lapsed buyers (ordered before, not in 45 days: whole history), pro repeat buyers (plan
//! and two orders in 14 days), browsers (a product view in 3 days). With one segment, recent
//! buyers only. Then the clock moves 31 days and `tick` answers the due times.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use baton::{Clock, Engine, FixedClock, NewEvent, Runtime, SegmentDefinition, SegmentSpec, Storage};
use baton_tests::figures::SplitMix;
use baton_tests::test_config;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const DAY: i64 = 86_400_000;
const NOW: i64 = 1_751_241_600_000;
const BATCH: usize = 1_000;
const KINDS: [&str; 6] =
    ["page", "product_viewed", "order_completed", "page", "product_viewed", "added_to_cart"];

fn segments() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("recent-buyers", serde_json::json!({"event": "order_completed", "within_ms": 30 * DAY})),
        (
            "lapsed-buyers",
            serde_json::json!({"all": [
                {"event": "order_completed"},
                {"event": "order_completed", "within_ms": 45 * DAY, "count": {"op": "eq", "value": 0}}
            ]}),
        ),
        (
            "pro-repeat",
            serde_json::json!({"all": [
                {"attribute": "plan", "op": "eq", "value": "pro"},
                {"event": "order_completed", "count": {"op": "gte", "value": 2}, "within_ms": 14 * DAY}
            ]}),
        ),
        ("browsers", serde_json::json!({"event": "product_viewed", "within_ms": 3 * DAY})),
    ]
}

fn main() {
    let events: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let customers = (events / 10).max(1);
    println!(
        "machine: {} cores; events: {events}; customers: {customers}; batch: {BATCH}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "| saved segments | ingest + drain, events/s | ingest µs/event | drain µs/event | entries recorded | members at the end | clock: due answered | clock: judgements/s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut baseline = None;
    for count in [0usize, 1, 4] {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let runtime = Arc::new(Runtime::new(test_config(), storage.clone()).unwrap());
        let clock = Arc::new(FixedClock::at(NOW));
        let engine =
            Engine::new(storage.clone(), runtime, clock.clone(), baton_tests::engine_config()).unwrap();
        let plugin =
            engine.runtime().install(baton::first_party("segment-conditions").unwrap()).unwrap().hash();
        let rows: Vec<(String, serde_json::Map<String, serde_json::Value>)> = (0..customers)
            .map(|i| {
                let plan = if i % 3 == 0 { "pro" } else { "free" };
                (format!("u{i}"), serde_json::json!({"plan": plan}).as_object().unwrap().clone())
            })
            .collect();
        for chunk in rows.chunks(10_000) {
            let refs: Vec<_> = chunk.iter().map(|(u, t)| (Some(u.as_str()), None, t)).collect();
            storage.identify_many(&refs, NOW, &|_, _| {}).unwrap();
        }
        for (id, config) in segments().into_iter().take(count) {
            let spec = SegmentSpec {
                id: id.into(),
                description: String::new(),
                definition: SegmentDefinition::Rule { plugin, config },
            };
            engine.save_segment("bench", spec).unwrap();
        }

        let mut rng = SplitMix(7);
        let (mut ingest, mut drain) = (Duration::ZERO, Duration::ZERO);
        let mut sent = 0usize;
        while sent < events {
            let batch: Vec<NewEvent> = (0..BATCH.min(events - sent))
                .map(|i| {
                    let n = sent + i;
                    let at = NOW + (n as i64 * DAY) / events as i64;
                    NewEvent {
                        id: format!("e{n}"),
                        user_id: Some(format!("u{}", rng.next() as usize % customers)),
                        anonymous_id: None,
                        name: KINDS[rng.next() as usize % KINDS.len()].into(),
                        timestamp: at,
                        properties: serde_json::json!({"path": "/products/42", "price": 19.9})
                            .as_object()
                            .unwrap()
                            .clone(),
                        campaign: None,
                    }
                })
                .collect();
            clock.set(batch.last().unwrap().timestamp);
            let started = Instant::now();
            engine.ingest_live(&batch, clock.now_ms()).unwrap();
            ingest += started.elapsed();
            let started = Instant::now();
            engine.drain_triggers().unwrap();
            drain += started.elapsed();
            sent += batch.len();
        }
        // What upkeep did, from the stored membership and its events.
        let members: u64 = engine.saved_segments().unwrap().iter().map(|s| s.members).sum();
        assert_eq!(storage.changed_profile_count(), 0, "upkeep answered every change");
        let entries = storage.scan_events().filter(|e| e.as_ref().unwrap().name == "segment_entered").count();

        // The clock: 31 days on, every recent buyer's window has passed.
        clock.set(NOW + 32 * DAY);
        let started = Instant::now();
        let tick = engine.tick().unwrap();
        let clock_secs = started.elapsed().as_secs_f64();
        let total = (ingest + drain).as_secs_f64();
        let per = |d: Duration| d.as_secs_f64() * 1e6 / events as f64;
        println!(
            "| {count} | {:.0} | {:.1} | {:.1} | {} | {} | {} | {:.0} |",
            events as f64 / total,
            per(ingest),
            per(drain),
            entries,
            members,
            tick.segments.due,
            tick.segments.judged as f64 / clock_secs.max(1e-9),
        );
        match baseline {
            None => baseline = Some(total),
            Some(base) => println!(
                "  upkeep with {count} segment(s): {:.1} µs per ingested event over no segments",
                (total - base) * 1e6 / events as f64
            ),
        }
    }
}
