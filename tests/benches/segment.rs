//! Full segment rebuild: prints figures, asserts nothing.
//!
//! `cargo bench -p baton-tests --bench segment -- [PROFILES]` (default 100,000)
//!
//! Builds a deterministic store: profiles with a tier, a lifetime value, a country and a time
//! zone, and a skewed event history each (most profiles quiet, a few very active; six event
//! kinds over 90 days). Then evaluates every profile, as `Engine::audience` does for an analyst
//! or a batch campaign, with two rules:
//! - `seg-vip`, a simple attribute rule (needs no events);
//! - `segment-conditions` with a condition tree over attributes and an event window (loads each
//!   profile's recent `order_completed` events).
//!
//! Then recomputes a computed trait over every profile (`trait-lead-score` with points for
//! orders and page views, decaying over 30 days), as `POST /v1/traits/{name}/recompute` does.
//!
//! Prints the time and the peak resident memory of each rebuild and recompute.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Instant;

use baton::{Engine, FixedClock, NewEvent, Runtime, Storage};
use baton_tests::figures::{SplitMix, memory_kib, reset_peak_memory};
use baton_tests::test_config;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const NOW: i64 = 1_750_000_000_000;
const DAY: i64 = 86_400_000;
const KINDS: [&str; 6] =
    ["page", "product_viewed", "added_to_cart", "order_completed", "email_opened", "email_clicked"];
const ZONES: [&str; 5] = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/London", "UTC"];

fn main() {
    let profiles: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    println!(
        "machine: {} cores; profiles: {profiles}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();

    // Profiles, from several threads so their durable writes share group commits.
    let started = Instant::now();
    let threads = 16;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let storage = storage.clone();
            scope.spawn(move || {
                let mut rng = SplitMix(t as u64 + 1);
                for i in (t..profiles).step_by(threads) {
                    let tier = match rng.next() % 20 {
                        0..=1 => "vip",
                        2..=5 => "gold",
                        _ => "basic",
                    };
                    let ltv = (rng.unit() * rng.unit() * 5_000.0).round();
                    let mut traits = serde_json::Map::new();
                    traits.insert("tier".into(), tier.into());
                    traits.insert("lifetime_value".into(), ltv.into());
                    traits.insert("country".into(), ["DE", "US", "JP", "GB", "FR"][i % 5].into());
                    traits.insert("timezone".into(), ZONES[i % ZONES.len()].into());
                    storage.identify(Some(&format!("u{i}")), None, &traits, NOW - 200 * DAY).unwrap();
                }
            });
        }
    });
    let identified = started.elapsed();

    // Histories: skewed activity (squaring a uniform draw favours low profile numbers).
    let started = Instant::now();
    let mut rng = SplitMix(7);
    let total_events = profiles * 6;
    let mut batch = Vec::with_capacity(1_000);
    for n in 0..total_events {
        let u = rng.unit();
        let profile = ((u * u) * profiles as f64) as usize;
        let kind = KINDS[(rng.next() % KINDS.len() as u64) as usize];
        let mut properties = serde_json::Map::new();
        if kind == "order_completed" {
            properties.insert("revenue".into(), ((rng.next() % 20_000) as f64 / 100.0).into());
        } else {
            properties.insert("path".into(), format!("/p/{}", rng.next() % 500).into());
        }
        batch.push(NewEvent {
            id: format!("e{n}"),
            user_id: Some(format!("u{profile}")),
            anonymous_id: None,
            name: kind.into(),
            timestamp: NOW - (rng.next() % (90 * DAY as u64)) as i64,
            properties,
            campaign: None,
        });
        if batch.len() == 1_000 {
            storage.ingest(&batch, NOW).unwrap();
            batch.clear();
        }
    }
    if !batch.is_empty() {
        storage.ingest(&batch, NOW).unwrap();
    }
    println!(
        "data set: {profiles} profiles in {:.1} s, {total_events} events in {:.1} s",
        identified.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    let runtime = Arc::new(Runtime::new(test_config(), storage.clone()).unwrap());
    let engine =
        Engine::new(storage, runtime, Arc::new(FixedClock::at(NOW)), baton_tests::engine_config()).unwrap();
    let simple = engine.runtime().install(&baton_tests::fixture("seg-vip")).unwrap().hash();
    let conditions =
        engine.runtime().install(baton::first_party("segment-conditions").unwrap()).unwrap().hash();
    let tree = serde_json::json!({
        "all": [
            { "attribute": "tier", "op": "in", "value": ["vip", "gold"] },
            { "event": "order_completed", "count": { "op": "gte", "value": 1 }, "within_ms": 30 * DAY }
        ]
    });
    let rules = [
        ("simple attribute rule (seg-vip)", simple, serde_json::json!({"tier": "vip"})),
        ("condition tree with a 30-day event window (segment-conditions)", conditions, tree),
    ];
    for (label, plugin, config) in rules {
        for round in 0..2 {
            reset_peak_memory();
            let before = memory_kib("VmHWM") / 1024;
            let started = Instant::now();
            let audience = engine.audience(&plugin, &config, 10, false).unwrap();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "full rebuild, {label}{}: {:.2} s for {} profiles ({:.0} profiles/s), {} members; peak RSS {} MiB (from {before} MiB) (target: 1,000,000 profiles ≤ 2 s)",
                if round == 0 { ", first" } else { ", again" },
                secs,
                audience.evaluated,
                audience.evaluated as f64 / secs,
                audience.count,
                memory_kib("VmHWM") / 1024
            );
        }
    }

    let scorer = engine.runtime().install(baton::first_party("trait-lead-score").unwrap()).unwrap().hash();
    let points = serde_json::json!({"events": {"order_completed": 10, "page": 1}, "half_life_days": 30});
    engine.bind_trait("bench", "lead-score", &scorer, points).unwrap();
    for round in 0..2 {
        reset_peak_memory();
        let started = Instant::now();
        let report = engine.recompute_traits("bench", "lead-score").unwrap();
        let secs = started.elapsed().as_secs_f64();
        println!(
            "bulk trait recompute (trait-lead-score){}: {:.2} s for {} profiles ({:.0} profiles/s), {} changed; peak RSS {} MiB",
            if round == 0 { ", first" } else { ", again" },
            secs,
            report.evaluated,
            report.evaluated as f64 / secs,
            report.changed,
            memory_kib("VmHWM") / 1024
        );
    }
}
