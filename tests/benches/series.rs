//! A campaign's daily KPI series over a large store: a full rebuild against the daily
//! incremental update. Prints figures; asserts only that the two give the same days.
//!
//! `cargo bench -p baton-tests --bench series -- [EVENTS]` (default 10,000,000)
//!
//! The data set: EVENTS events of EVENTS/20 customers over 90 days (page views, product views,
//! orders, with a few customers far more active than the rest), and one campaign that reached
//! each customer once on a day of its 90 (a fifth held out), with opens and clicks on its
//! record. Conversions: an `order_completed` within seven days. Then:
//! 1. a full rebuild of the series at the end of day 90;
//! 2. one more day of traffic (a 90th of the history), then the daily update, which recomputes
//!    the days from the last update less the window and the late allowance;
//! 3. a full rebuild again, whose days must equal the update's.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Instant;

use baton::{Clock, Conversion, ConversionEvent, Engine, FixedClock, Runtime, Storage, Trigger};
use baton_tests::figures::{
    SplitMix, memory_kib, memory_kib_total, reset_peak_memory, shop_history, store_shop_histories,
};
use baton_tests::{test_config, welcome_campaign};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const DAY: i64 = 86_400_000;
const DAYS: i64 = 90;
/// The end of day 90 of the history: 2025-06-30 00:00 UTC.
const NOW: i64 = 1_751_241_600_000;
const START: i64 = NOW - DAYS * DAY;
const EVENTS_PER_CUSTOMER: usize = 20;
const BATCH: usize = 10_000;

fn main() {
    let events: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    println!(
        "machine: {} cores, MemTotal {} MiB; events: {events}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_kib_total() / 1024
    );
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let runtime = Arc::new(Runtime::new(test_config(), storage.clone()).unwrap());
    let clock = Arc::new(FixedClock::at(NOW));
    let engine = Engine::new(storage.clone(), runtime, clock.clone(), baton_tests::engine_config()).unwrap();
    let mut campaign = welcome_campaign();
    campaign.trigger = Trigger::Batch { every_ms: None };
    campaign.conversion = Some(Conversion {
        events: vec![ConversionEvent {
            name: "order_completed".into(),
            filter: Default::default(),
            value: Some("revenue".into()),
        }],
        window_ms: 7 * DAY,
    });
    engine.create_campaign("bench", campaign).unwrap();

    // The history: customers in order, each customer's events in time order, as they are stored.
    let customers = (events / EVENTS_PER_CUSTOMER).max(1);
    let started = Instant::now();
    let mut rng = SplitMix(11);
    let traits = serde_json::Map::new();
    let mut ids = Vec::with_capacity(customers);
    for first in (0..customers).step_by(BATCH) {
        let users: Vec<String> = (first..customers.min(first + BATCH)).map(|c| format!("c{c}")).collect();
        let rows: Vec<_> = users.iter().map(|u| (Some(u.as_str()), None, &traits)).collect();
        ids.extend(storage.identify_many(&rows, START, &|_, _| {}).unwrap());
    }
    let written =
        store_shop_histories(&storage, &ids, &mut rng, (START, NOW), EVENTS_PER_CUSTOMER, "welcome");
    println!(
        "data set: {written} events of {customers} customers, {} in the campaign's record, stored in {:.0} s",
        storage.campaign_record("welcome").count(),
        started.elapsed().as_secs_f64()
    );

    let timed = |full: bool| {
        reset_peak_memory();
        let started = Instant::now();
        let update = engine.update_campaign_series("welcome", full).unwrap();
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{}: {secs:.2} s; from {}; {} days written; record events read {}; recipients read {}, their events {}; peak RSS {} MiB",
            if full { "full rebuild" } else { "daily update" },
            update.from_day.as_deref().unwrap_or("the first day"),
            update.days,
            update.record_events,
            update.recipients,
            update.recipient_events,
            memory_kib("VmHWM") / 1024
        );
        secs
    };
    timed(true);

    // One more day of traffic: a 90th of the history, on day 91.
    let mut day = Vec::new();
    for (c, profile) in ids.iter().enumerate() {
        if rng.next() % DAYS as u64 == 0 {
            day.extend(
                shop_history(&mut rng, c, *profile, NOW, NOW + DAY, EVENTS_PER_CUSTOMER, "welcome")
                    .into_iter()
                    .take(EVENTS_PER_CUSTOMER / 2),
            );
        }
    }
    let added = day.len();
    for chunk in day.chunks(BATCH) {
        storage.append_events(chunk).unwrap();
    }
    clock.set(NOW + DAY);
    println!("day 91: {added} more events");
    let update = timed(false);
    let incremental = engine.campaign_series("welcome", None, None).unwrap().days;
    let full = timed(true);
    assert_eq!(engine.campaign_series("welcome", None, None).unwrap().days, incremental, "update != rebuild");
    println!(
        "the daily update took {:.1}% of a full rebuild ({:.0}× faster), with the same days",
        100.0 * update / full,
        full / update
    );
    assert_eq!(clock.now_ms(), NOW + DAY);
}
