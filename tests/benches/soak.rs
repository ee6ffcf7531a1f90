//! Soak: sustained ingest over HTTP while a triggered campaign delivers to a loopback vendor,
//! for a bounded time. Prints memory over time and checks that nothing acknowledged was lost and
//! that every triggered send reached the vendor exactly once per idempotency key.
//!
//! `cargo bench -p baton-tests --bench soak -- [SECONDS] [CLIENTS] [CACHE_MIB]` (default 60 s,
//! 8 clients, the store's default cache). `SOAK_TRIGGER=<event>` makes the campaign react to
//! another event name (`never`: ingest and trigger draining only).
//! Run on demand; not part of the test suite.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use baton::{ApiConfig, Grants, Role, ServeConfig, Slot, Trigger};
use baton_tests::figures::memory_kib;
use baton_tests::{Vendor, welcome_campaign};

/// The allocator `baton serve` uses, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(60);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let mut serve = ServeConfig { engine: baton_tests::engine_config(), ..ServeConfig::default() };
    if let Some(cache_mib) = args.next().and_then(|a| a.parse::<u64>().ok()) {
        serve.storage.cache_bytes = cache_mib << 20;
    }
    println!(
        "soak: {seconds} s, {clients} clients, batches of 100 events, store cache {} MiB; machine: {} cores",
        serve.storage.cache_bytes >> 20,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let vendor = Vendor::start().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = baton::open_engine(dir.path(), &serve).unwrap();
    // A transactional webhook to every profile that signs up (no consent or address needed).
    let mut campaign = welcome_campaign();
    let trigger_on = std::env::var("SOAK_TRIGGER").unwrap_or_else(|_| "signed_up".into());
    campaign.trigger = Trigger::Event { event: trigger_on, filter: Default::default() };
    campaign.channel = "webhook".into();
    campaign.transactional = true;
    let everyone =
        engine.runtime().install(baton::first_party("segment-conditions").unwrap()).unwrap().hash();
    let webhook = engine.runtime().install(baton::first_party("channel-webhook").unwrap()).unwrap().hash();
    engine.create_campaign("test", campaign).unwrap();
    engine
        .bind(
            "test",
            "welcome",
            Slot::Segment,
            everyone,
            serde_json::json!({"bucket": {"percent": 100}}),
            Grants::default(),
        )
        .unwrap();
    let grants = Grants { allowed_hosts: vec!["127.0.0.1".into()], secrets: vec![] };
    engine
        .bind(
            "test",
            "welcome",
            Slot::Channel,
            webhook,
            serde_json::json!({"url": vendor.url("/send")}),
            grants,
        )
        .unwrap();
    engine.transition("test", "welcome", baton::CampaignState::Active).unwrap();
    let (token, _) = engine.storage().create_token("soak", Role::Connector, 1).unwrap();

    let mut config = ServeConfig { api: ApiConfig::default(), ..serve };
    config.loops.delivery_idle_ms = 50;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(baton::serve(engine.clone(), listener, config, async {
        let _ = stopped.await;
    }));

    let acked = Arc::new(AtomicU64::new(0));
    let signups = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let client = baton_tests::http();
    let mut workers = Vec::new();
    for c in 0..clients {
        let (client, base, token, acked, signups) =
            (client.clone(), base.clone(), token.clone(), acked.clone(), signups.clone());
        workers.push(tokio::spawn(async move {
            let mut batch_no = 0u64;
            while Instant::now() < deadline {
                let mut body = String::new();
                let mut batch_signups = 0;
                for i in 0..100u64 {
                    let user = format!("u{c}-{}", (batch_no * 100 + i) % 5_000);
                    // One event in fifty is a sign-up, which the campaign reacts to.
                    let name = if i % 50 == 0 { "signed_up" } else { "page" };
                    let id = format!("c{c}-b{batch_no}-e{i}");
                    if name == "signed_up" {
                        batch_signups += 1;
                    }
                    body.push_str(&serde_json::json!({"id": id, "user_id": user, "name": name, "timestamp": 1_750_000_000_000_i64 + i as i64, "properties": {"path": "/p"}}).to_string());
                    body.push('\n');
                }
                let response = client.post(format!("{base}/v1/events")).bearer_auth(&token).header("content-type", "application/x-ndjson").body(body).send().await;
                if let Ok(response) = response {
                    if response.status().is_success() {
                        acked.fetch_add(100, Ordering::Relaxed);
                        signups.fetch_add(batch_signups, Ordering::Relaxed);
                    }
                }
                batch_no += 1;
            }
        }));
    }

    let started = Instant::now();
    let baseline = memory_kib("VmRSS");
    let mut samples = vec![(0u64, baseline)];
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(5).min(deadline.saturating_duration_since(Instant::now())))
            .await;
        samples.push((started.elapsed().as_secs(), memory_kib("VmRSS")));
        println!(
            "  t={:>4}s  acked {:>9}  RSS {:>7} KiB  outbox {:>5}",
            started.elapsed().as_secs(),
            acked.load(Ordering::Relaxed),
            memory_kib("VmRSS"),
            engine.storage().outbox_len()
        );
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Let the triggers and deliveries catch up, then stop gracefully.
    let drain = Instant::now();
    while (engine.storage().pending_trigger_count() > 0 || engine.storage().outbox_len() > 0)
        && drain.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();

    let acked = acked.load(Ordering::Relaxed);
    let stored = engine.storage().event_count() as u64;
    let keys: Vec<String> =
        vendor.received().iter().filter_map(|r| r.header("idempotency-key").map(str::to_owned)).collect();
    let distinct: BTreeSet<&String> = keys.iter().collect();
    let delivered = engine.storage().deliveries("welcome").unwrap().len();
    println!(
        "ingested {acked} events in {elapsed:.1} s: {:.0} events/s acknowledged durably",
        acked as f64 / elapsed
    );
    println!(
        "events stored {stored} (acknowledged {acked}): {}",
        if stored >= acked { "nothing lost" } else { "LOST EVENTS" }
    );
    println!(
        "sign-ups {}, vendor requests {}, distinct keys {}, deliveries recorded {delivered}: {}",
        signups.load(Ordering::Relaxed),
        keys.len(),
        distinct.len(),
        if keys.len() == distinct.len() && distinct.len() == delivered { "each once" } else { "MISMATCH" }
    );
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let half = samples.len() / 2;
    let first_half = samples[..half.max(1)].iter().map(|s| s.1).max().unwrap_or(0);
    println!(
        "memory: start {baseline} KiB, peak {peak} KiB, peak in first half {first_half} KiB, end {} KiB",
        samples.last().unwrap().1
    );
}
