//! Store benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p baton-tests --bench store [-- EVENTS]` (default 1,000,000 events)
//!
//! - durable batched ingest (acknowledged after the group-commit flush), 1 and 4 writer threads;
//! - per-profile scans (a profile's events in time order);
//! - a full scan of every event.
//!
//! The data set is deterministic: profiles with skewed activity (a few very active, most quiet),
//! several event kinds, properties of realistic size.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Instant;

use baton::{NewEvent, ProfileId, Storage};
use baton_tests::figures::SplitMix;

/// The allocator `baton` uses, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const BATCH: usize = 1_000;
const KINDS: [&str; 6] =
    ["page", "product_viewed", "added_to_cart", "order_completed", "email_opened", "email_clicked"];

fn main() {
    let total: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("machine: {cores} cores; events: {total}; batch: {BATCH}");
    let profiles = (total / 20).max(1);

    for threads in [1usize, 4] {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let per_thread = total / threads;
        let started = Instant::now();
        std::thread::scope(|scope| {
            for t in 0..threads {
                let storage = storage.clone();
                scope.spawn(move || {
                    let mut rng = SplitMix(t as u64 + 1);
                    let mut batch = Vec::with_capacity(BATCH);
                    for i in 0..per_thread {
                        batch.push(event(&mut rng, t, i, profiles));
                        if batch.len() == BATCH {
                            storage.ingest(&batch, 0).unwrap();
                            batch.clear();
                        }
                    }
                    if !batch.is_empty() {
                        storage.ingest(&batch, 0).unwrap();
                    }
                });
            }
        });
        let secs = started.elapsed().as_secs_f64();
        println!(
            "durable ingest, {threads} writer thread(s): {:.0} events/s ({:.1} s for {} events; target ≥ 100,000/s via HTTP)",
            (per_thread * threads) as f64 / secs,
            secs,
            per_thread * threads
        );

        if threads == 4 {
            let started = Instant::now();
            let mut scanned = 0usize;
            let sample = 2_000.min(profiles);
            for p in 0..sample {
                let owner = storage.profile_by_identity(&baton::Identity::User(format!("u{p}"))).unwrap();
                if let Some(profile) = owner {
                    scanned += storage.events_of(profile.id).unwrap().len();
                }
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "per-profile scan: {:.0} profiles/s, {:.0} events/s ({sample} profiles, {scanned} events)",
                sample as f64 / secs,
                scanned as f64 / secs
            );

            let started = Instant::now();
            let mut count = 0usize;
            let mut last = ProfileId(0);
            for event in storage.scan_events() {
                let event = event.unwrap();
                last = event.profile.max(last);
                count += 1;
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "full scan (decoded): {:.0} events/s ({count} events in {secs:.2} s)",
                count as f64 / secs
            );
            let size: u64 = walk_size(dir.path());
            println!(
                "on disk: {:.0} MiB ({:.0} bytes/event)",
                size as f64 / (1 << 20) as f64,
                size as f64 / count as f64
            );
        }
    }
}

fn event(rng: &mut SplitMix, thread: usize, i: usize, profiles: usize) -> NewEvent {
    // Skewed activity: squaring a uniform draw favours low profile numbers.
    let u = rng.unit();
    let profile = ((u * u) * profiles as f64) as usize;
    let kind = KINDS[(rng.next() % KINDS.len() as u64) as usize];
    let mut properties = serde_json::Map::new();
    properties.insert("path".into(), serde_json::json!(format!("/products/{}", rng.next() % 5_000)));
    if kind == "order_completed" {
        properties.insert("revenue".into(), serde_json::json!((rng.next() % 20_000) as f64 / 100.0));
        properties.insert("currency".into(), serde_json::json!("EUR"));
    }
    NewEvent {
        id: format!("t{thread}-{i}"),
        user_id: Some(format!("u{profile}")),
        anonymous_id: None,
        name: kind.into(),
        timestamp: 1_700_000_000_000 + (rng.next() % (180 * 86_400_000)) as i64,
        properties,
        campaign: None,
    }
}

fn walk_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() { walk_size(&p) } else { e.metadata().map(|m| m.len()).unwrap_or(0) }
                })
                .sum()
        })
        .unwrap_or(0)
}
