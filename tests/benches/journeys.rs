//! What waiting in journeys costs, and how fast timers fire: PROFILES profiles enter a journey
//! and wait in a delay; then the clock passes the delay and `tick` fires every timer, as
//! `baton serve`'s tick loop does. Prints figures; asserts only that everyone came out.
//!
//! `cargo bench -p baton-tests --bench journeys -- [PROFILES]` (default 100,000)
//!
//! The journey: `signed_up` → a one-day delay → an attribute set on the profile → exit. Entries
//! come from live ingest in batches of 1,000, drained as `baton serve` drains them. Reported:
//! - entry: profiles admitted per second (ingest + drain), and step transitions per second;
//! - waiting: the store's growth per waiting profile, and the process's memory (resident, peak);
//! - firing: the time to fire every timer once all are due, the step transitions per second
//!   (delay → update → exit is three per profile), and how late the timers fire: the time by
//!   which half, 99% and all of them had fired, sampled from the journey's own counts.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use baton::{Engine, FixedClock, JourneySpec, NewEvent, Runtime, Storage};
use baton_tests::figures::{memory_kib, reset_peak_memory};
use baton_tests::test_config;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const DAY: i64 = 86_400_000;
const NOW: i64 = 1_751_241_600_000;
const BATCH: usize = 1_000;

fn dir_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn completed(engine: &Engine) -> u64 {
    engine
        .storage()
        .journey_counts("wait", 1)
        .unwrap()
        .get("done")
        .and_then(|c| c.ended.get("completed").copied())
        .unwrap_or(0)
}

fn main() {
    let profiles: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    println!(
        "machine: {} cores; profiles: {profiles}; entry batches of {BATCH}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let runtime = Arc::new(Runtime::new(test_config(), storage.clone()).unwrap());
    let clock = Arc::new(FixedClock::at(NOW));
    let engine =
        Arc::new(Engine::new(storage.clone(), runtime, clock.clone(), baton_tests::engine_config()).unwrap());
    let spec: JourneySpec = serde_json::from_value(serde_json::json!({
        "name": "Wait a day",
        "entry": {"type": "event", "event": "signed_up"},
        "start": "wait",
        "steps": {
            "wait": {"type": "delay", "for_ms": DAY, "next": "tag"},
            "tag": {"type": "update_profile", "set": {"waited": true}, "next": "done"},
            "done": {"type": "exit"}
        }
    }))
    .unwrap();
    engine.save_journey("bench", "wait", spec).unwrap();
    engine.publish_journey("bench", "wait", None, &BTreeMap::new()).unwrap();
    let empty = serde_json::Map::new();
    let users: Vec<String> = (0..profiles).map(|i| format!("u{i}")).collect();
    for chunk in users.chunks(10_000) {
        let rows: Vec<_> = chunk.iter().map(|u| (Some(u.as_str()), None, &empty)).collect();
        storage.identify_many(&rows, NOW, &|_, _| {}).unwrap();
    }
    engine.storage().flush().unwrap();
    let before = dir_bytes(dir.path());
    let resident_before = memory_kib("VmRSS");
    reset_peak_memory();

    // Entries: each sign-up admits its profile into the delay.
    let started = Instant::now();
    for (b, chunk) in users.chunks(BATCH).enumerate() {
        let events: Vec<NewEvent> = chunk
            .iter()
            .enumerate()
            .map(|(i, user)| NewEvent {
                id: format!("s{b}-{i}"),
                user_id: Some(user.clone()),
                anonymous_id: None,
                name: "signed_up".into(),
                timestamp: NOW,
                properties: serde_json::Map::new(),
                campaign: None,
            })
            .collect();
        engine.ingest_live(&events, NOW).unwrap();
        engine.drain_triggers().unwrap();
    }
    let entering = started.elapsed().as_secs_f64();
    let waiting = engine.journey_view("wait").unwrap().waiting;
    assert_eq!(waiting, profiles, "everyone waits");
    engine.storage().flush().unwrap();
    let grown = dir_bytes(dir.path()).saturating_sub(before);
    println!(
        "entry: {profiles} profiles in {entering:.1} s: {:.0} entries/s (ingest + drain), {:.0} step transitions/s",
        profiles as f64 / entering,
        profiles as f64 / entering
    );
    println!(
        "waiting: {waiting} profiles; the store grew {:.1} MiB ({} bytes per waiting profile, its event included); resident memory {} MiB → {} MiB (peak {} MiB)",
        grown as f64 / 1_048_576.0,
        grown / profiles.max(1) as u64,
        resident_before / 1024,
        memory_kib("VmRSS") / 1024,
        memory_kib("VmHWM") / 1024
    );

    // Firing: the delay is over for everyone at once; sample progress from the counts.
    clock.set(NOW + DAY + 1);
    reset_peak_memory();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (engine, done) = (engine.clone(), done.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut marks: Vec<(Duration, u64)> = Vec::new();
            while !done.load(Ordering::Relaxed) {
                marks.push((started.elapsed(), completed(&engine)));
                std::thread::sleep(Duration::from_millis(20));
            }
            marks.push((started.elapsed(), completed(&engine)));
            marks
        })
    };
    let started = Instant::now();
    let moved = engine.tick().unwrap().journey_moves;
    let firing = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let marks = sampler.join().unwrap();
    assert_eq!(moved, profiles);
    assert_eq!(completed(&engine) as usize, profiles, "everyone came out");
    let by = |share: f64| {
        let want = (share * profiles as f64).ceil() as u64;
        marks.iter().find(|(_, n)| *n >= want).map_or(firing, |(at, _)| *at)
    };
    println!(
        "firing: {profiles} due timers in {:.1} s: {:.0} profiles/s, {:.0} step transitions/s (delay → update → exit); fired by: half {:.1} s, 99% {:.1} s, all {:.1} s after they came due; peak memory {} MiB",
        firing.as_secs_f64(),
        profiles as f64 / firing.as_secs_f64(),
        3.0 * profiles as f64 / firing.as_secs_f64(),
        by(0.5).as_secs_f64(),
        by(0.99).as_secs_f64(),
        firing.as_secs_f64(),
        memory_kib("VmHWM") / 1024
    );
}
