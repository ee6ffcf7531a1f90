//! KPI and attribution calculators over long event streams: prints figures, asserts only that
//! Wasm and native agree.
//!
//! `cargo bench -p baton-tests --bench kpi -- [EVENTS] [STORED]` (defaults 10,000,000 and 1,000,000)
//!
//! 1. Each first-party calculator (`kpi-attribution`, `kpi-funnel`, `kpi-romi`) through the
//!    runtime: one accumulator instance, `add` in batches of 1,000 as the engine streams them,
//!    then `finish`. EVENTS events come from a deterministic generator, grouped by profile and
//!    oldest first within a profile, as the host streams them. The same crate compiled natively
//!    gets the same events, for the ratio. Prints the seconds spent in the calculator, the
//!    process's resident memory at each quarter of the stream (flat when streaming) and the
//!    guest's linear-memory peak.
//! 2. `Engine::compute_kpis` over STORED events in a real store, with all three bound to one
//!    campaign: the store's scan plus the calculators, and the process's peak memory.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use baton::contract::{Event, Invocation};
use baton::{Engine, FixedClock, Grants, Runtime, Slot, Storage};
use baton_sdk::{Accumulator, KpiCalculator};
use baton_tests::figures::{SplitMix, memory_kib, memory_kib_total, reset_peak_memory};
use baton_tests::{test_config, welcome_campaign};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const NOW: i64 = 1_750_000_000_000;
const DAY: i64 = 86_400_000;
const BATCH: usize = 1_000;
const CHANNELS: [&str; 3] = ["email", "sms", "push"];

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let events: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    let stored: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    println!(
        "machine: {} cores, MemTotal {} MiB; events streamed: {events}; events stored: {stored}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_kib_total() / 1024
    );

    if events > 0 {
        let dir = tempfile::tempdir().unwrap();
        let runtime = Runtime::new(test_config(), Storage::open(dir.path()).unwrap()).unwrap();
        stream::<kpi_attribution::Attribution>(&runtime, "kpi-attribution", "{}", events);
        stream::<kpi_funnel::Funnel>(&runtime, "kpi-funnel", "{}", events);
        stream::<kpi_romi::Romi>(&runtime, "kpi-romi", r#"{"fixed": 500, "per_message": 0.002}"#, events);
    }
    if stored > 0 {
        through_engine(stored);
    }
}

/// Streams `total` generated events through one calculator in Wasm and natively.
fn stream<K: KpiCalculator>(runtime: &Runtime, name: &str, config: &str, total: usize) {
    let plugin = runtime.install(baton::first_party(name).unwrap()).unwrap();
    let invocation = Invocation { campaign_id: "c-1".into(), config: config.into(), now: NOW, seed: 42 };
    let native_invocation = baton_sdk::Invocation {
        campaign_id: invocation.campaign_id.clone(),
        config: invocation.config.clone(),
        now: invocation.now,
        seed: invocation.seed,
    };
    let mut wasm = runtime.call(&plugin).open_kpi(&invocation).unwrap();
    let mut native = K::open(native_invocation).unwrap();
    let (mut wasm_time, mut native_time) = (Duration::ZERO, Duration::ZERO);
    let mut guest_peak = 0;
    let mut rss = Vec::new();
    let mut generator = Generator::new(3);
    let rss_before = memory_kib("VmRSS") / 1024;
    let mut sent = 0;
    while sent < total {
        let batch = generator.batch(BATCH.min(total - sent));
        sent += batch.len();
        let native_batch: Vec<baton_sdk::Event> = batch.iter().map(baton_tests::native::event).collect();
        let started = Instant::now();
        let metrics = wasm.add(&batch).unwrap();
        wasm_time += started.elapsed();
        guest_peak = guest_peak.max(metrics.memory_peak_bytes);
        let started = Instant::now();
        native.add(native_batch).unwrap();
        native_time += started.elapsed();
        if sent % (total / 4).max(1) < BATCH {
            rss.push(memory_kib("VmRSS") / 1024);
        }
    }
    let started = Instant::now();
    let finished = wasm.finish().unwrap();
    wasm_time += started.elapsed();
    guest_peak = guest_peak.max(finished.metrics.memory_peak_bytes);
    let started = Instant::now();
    let native_metrics = native.finish().unwrap();
    native_time += started.elapsed();
    assert_eq!(
        summary(finished.value.iter().map(|m| (m.name.as_str(), format!("{:?}", m.dimensions), m.value))),
        summary(native_metrics.iter().map(|m| (m.name.as_str(), format!("{:?}", m.dimensions), m.value))),
        "{name}: Wasm and native disagree"
    );
    println!(
        "{name}: {total} events in {:.2} s in Wasm ({:.0} events/s), {:.2} s native, ratio {:.1}×; {} metrics; guest memory peak {} MiB; process RSS {} MiB before, {} MiB at each quarter",
        wasm_time.as_secs_f64(),
        total as f64 / wasm_time.as_secs_f64(),
        native_time.as_secs_f64(),
        wasm_time.as_secs_f64() / native_time.as_secs_f64(),
        finished.value.len(),
        guest_peak >> 20,
        rss_before,
        rss.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(" / "),
    );
}

/// `compute_kpis` with the three calculators bound to one campaign, over a real store.
fn through_engine(stored: usize) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let runtime = Arc::new(Runtime::new(test_config(), storage.clone()).unwrap());
    let engine =
        Engine::new(storage.clone(), runtime, Arc::new(FixedClock::at(NOW)), baton_tests::engine_config())
            .unwrap();
    engine.create_campaign("test", welcome_campaign()).unwrap();
    for (slot, name, config) in [
        ("attribution", "kpi-attribution", serde_json::json!({})),
        ("funnel", "kpi-funnel", serde_json::json!({})),
        ("romi", "kpi-romi", serde_json::json!({"fixed": 500, "per_message": 0.002})),
    ] {
        let plugin = engine.runtime().install(baton::first_party(name).unwrap()).unwrap().hash();
        engine.bind("test", "welcome", Slot::Kpi(slot.into()), plugin, config, Grants::default()).unwrap();
    }

    let started = Instant::now();
    let mut generator = Generator::new(5);
    let mut ids = std::collections::HashMap::new();
    let traits = serde_json::Map::new();
    let mut written = 0;
    while written < stored {
        let mut batch = generator.batch(BATCH.min(stored - written));
        written += batch.len();
        let events: Vec<baton::Event> = batch
            .drain(..)
            .map(|e| {
                let profile = *ids.entry(e.profile_id.clone()).or_insert_with(|| {
                    storage.identify(Some(&e.profile_id), None, &traits, NOW - 100 * DAY).unwrap()
                });
                baton::Event {
                    id: e.id,
                    profile,
                    name: e.name,
                    timestamp: e.timestamp,
                    properties: serde_json::from_str(&e.properties).unwrap(),
                    // The campaign's record: everything it sent and every response credited to it.
                    campaign: e.campaign_id.map(|_| "welcome".to_owned()),
                }
            })
            .collect();
        storage.append_events(&events).unwrap();
    }
    println!(
        "engine data set: {stored} events of {} profiles stored in {:.1} s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    drop(ids);

    reset_peak_memory();
    let before = memory_kib("VmHWM") / 1024;
    let started = Instant::now();
    let snapshots = engine.compute_kpis("welcome").unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "compute_kpis over {stored} stored events, 3 calculators: {secs:.2} s; events streamed {}; peak RSS {} MiB (from {before} MiB)",
        snapshots.iter().map(|s| format!("{} {}", s.kpi, s.events)).collect::<Vec<_>>().join(", "),
        memory_kib("VmHWM") / 1024
    );
}

/// Deterministic event histories: skewed activity per profile (most quiet, a few very active),
/// several kinds, grouped by profile and oldest first within a profile.
struct Generator {
    rng: SplitMix,
    profile: u64,
    left: u32,
    at: i64,
    campaign: u64,
    next_id: u64,
}

impl Generator {
    fn new(seed: u64) -> Self {
        Generator { rng: SplitMix(seed), profile: 0, left: 0, at: 0, campaign: 0, next_id: 0 }
    }

    fn batch(&mut self, n: usize) -> Vec<Event> {
        (0..n).map(|_| self.event()).collect()
    }

    fn event(&mut self) -> Event {
        if self.left == 0 {
            self.profile += 1;
            let u = self.rng.unit();
            self.left = 1 + (u * u * u * 60.0) as u32;
            self.at = NOW - 90 * DAY + (self.rng.next() % (30 * DAY as u64)) as i64;
        }
        self.left -= 1;
        self.at += (self.rng.next() % (2 * DAY as u64)) as i64;
        self.next_id += 1;
        let roll = self.rng.next() % 100;
        let (name, properties, campaign) = match roll {
            0..=34 => {
                self.campaign = self.rng.next() % 24;
                let channel = CHANNELS[(self.campaign % 3) as usize];
                ("message_delivered", format!(r#"{{"channel":"{channel}"}}"#), true)
            }
            35..=54 => ("email_opened", "{}".to_owned(), true),
            55..=64 => ("email_clicked", "{}".to_owned(), true),
            65..=72 => {
                let revenue = (self.rng.next() % 20_000) as f64 / 100.0;
                ("order_completed", format!(r#"{{"revenue":{revenue}}}"#), roll % 2 == 0)
            }
            73..=74 => ("message_rejected", "{}".to_owned(), true),
            75 => ("unsubscribed", "{}".to_owned(), true),
            76 => ("control_assigned", "{}".to_owned(), true),
            _ => ("page", format!(r#"{{"path":"/p/{}"}}"#, self.rng.next() % 500), false),
        };
        Event {
            id: format!("e{}", self.next_id),
            profile_id: format!("u{}", self.profile),
            name: name.into(),
            timestamp: self.at,
            properties,
            campaign_id: campaign.then(|| format!("c-{}", self.campaign)),
        }
    }
}

/// Metric names and values, rounded: HashMap iteration order differs between the two builds, so
/// float sums may differ in their last bits.
fn summary<'a>(metrics: impl Iterator<Item = (&'a str, String, f64)>) -> Vec<(String, String)> {
    let mut out: Vec<_> = metrics
        .map(|(name, dimensions, value)| (format!("{name} {dimensions}"), format!("{value:.6e}")))
        .collect();
    out.sort();
    out
}
