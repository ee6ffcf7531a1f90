//! Sending, with `baton serve`'s own delivery loop and the first-party webhook adapter, to a
//! vendor stand-in on loopback that counts what it receives:
//!
//! 1. the stand-in's own capacity, measured alone with a plain HTTP client at the adapter's
//!    per-vendor concurrency, so the figures below can be read against it;
//! 2. a batch campaign to N recipients (default 1,000,000) with no rate limit: the time to
//!    decide and queue, the time to deliver, sends per second, and that each send reached the
//!    vendor exactly once;
//! 3. the cost of the decision made again at the moment of sending, per send, over that store;
//! 4. the rate achieved against a configured per-vendor limit (`delivery.vendor_rate_limits`).
//!
//! `cargo bench -p baton-tests --bench send -- [RECIPIENTS]`

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton::{CampaignState, Engine, Grants, ServeConfig, Slot, Trigger};

/// The allocator `baton serve` uses, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// What the stand-in saw: every request's arrival and idempotency key.
#[derive(Default)]
struct Seen {
    requests: AtomicU64,
    arrivals: Mutex<Vec<Instant>>,
    keys: Mutex<HashSet<String>>,
}

impl Seen {
    fn count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn reset(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.arrivals.lock().unwrap().clear();
        self.keys.lock().unwrap().clear();
    }
}

/// A vendor that accepts everything at once (202 with a message id), as fast as it can.
async fn vendor() -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let log = log.clone();
        async move {
            let key =
                request.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let _ = axum::body::to_bytes(request.into_body(), 1 << 20).await;
            let n = log.requests.fetch_add(1, Ordering::Relaxed);
            log.arrivals.lock().unwrap().push(Instant::now());
            if let Some(key) = key {
                log.keys.lock().unwrap().insert(key);
            }
            axum::response::Response::builder()
                .status(202)
                .header("x-message-id", format!("m-{n}"))
                .body(axum::body::Body::from("{}"))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

/// Requests per second the stand-in answers to `concurrency` clients posting a body the size of
/// the adapter's.
async fn capacity(addr: SocketAddr, requests: u64, concurrency: u64) -> f64 {
    let client = baton_tests::http();
    let body = serde_json::json!({
        "recipient": "someone-123456@example.com", "subject": "Our news", "body": "Hello, this is the news.",
        "html": null, "variant": null, "data": {}, "channel": "email",
        "idempotency_key": "newsletter:pr_0123456789abcdef:run-1", "campaign": "newsletter"
    })
    .to_string();
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..concurrency {
        let (client, body) = (client.clone(), body.clone());
        clients.spawn(async move {
            for i in (c..requests).step_by(concurrency as usize) {
                let response = client
                    .post(format!("http://{addr}/send"))
                    .header("content-type", "application/json")
                    .header("idempotency-key", format!("capacity-{i}"))
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status().as_u16(), 202);
            }
        });
    }
    clients.join_all().await;
    requests as f64 / started.elapsed().as_secs_f64()
}

/// An engine over a fresh directory with `recipients` opted-in profiles and an active batch
/// newsletter through the webhook adapter to `vendor`.
fn newsletter(
    dir: &std::path::Path,
    serve: &ServeConfig,
    recipients: usize,
    vendor: SocketAddr,
) -> Arc<Engine> {
    let engine = baton::open_engine(dir, serve).unwrap();
    let now = engine.now_ms();
    let started = Instant::now();
    for chunk_start in (0..recipients).step_by(10_000) {
        let users: Vec<String> =
            (chunk_start..recipients.min(chunk_start + 10_000)).map(|i| format!("u{i}")).collect();
        let traits: Vec<serde_json::Map<String, serde_json::Value>> = users
            .iter()
            .map(|u| {
                let mut map = serde_json::Map::new();
                map.insert("email".into(), format!("{u}@example.com").into());
                map
            })
            .collect();
        let rows: Vec<_> = users.iter().zip(&traits).map(|(u, t)| (Some(u.as_str()), None, t)).collect();
        engine
            .storage()
            .identify_many(&rows, now, &|_, profile| {
                profile.record_consent("email:marketing", baton::ConsentState::Granted, now, "bench", 10);
            })
            .unwrap();
    }
    if recipients >= 100_000 {
        println!("  {recipients} opted-in profiles imported in {:.1} s", started.elapsed().as_secs_f64());
    }
    let mut campaign = baton_tests::welcome_campaign();
    campaign.id = "newsletter".into();
    campaign.trigger = Trigger::Batch { every_ms: None };
    campaign.message.subject = Some("Our news".into());
    campaign.message.body = "Hello, this is the news.".into();
    let everyone =
        engine.runtime().install(baton::first_party("segment-conditions").unwrap()).unwrap().hash();
    let webhook = engine.runtime().install(baton::first_party("channel-webhook").unwrap()).unwrap().hash();
    engine.create_campaign("bench", campaign).unwrap();
    let all = serde_json::json!({"bucket": {"percent": 100}});
    engine.bind("bench", "newsletter", Slot::Segment, everyone, all, Grants::default()).unwrap();
    let grants = Grants { allowed_hosts: vec!["127.0.0.1".into()], secrets: vec![] };
    let url = serde_json::json!({ "url": format!("http://{vendor}/send") });
    engine.bind("bench", "newsletter", Slot::Channel, webhook, url, grants).unwrap();
    engine.transition("bench", "newsletter", CampaignState::Active).unwrap();
    engine
}

/// Decides and queues the newsletter for everyone; returns how many sends were queued.
async fn run(engine: &Arc<Engine>) -> usize {
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || engine.run_batch("bench", "newsletter", "run-1").unwrap().queued)
        .await
        .unwrap()
}

/// Runs `baton serve`'s loops over `engine` until the vendor has `expected` requests and the
/// outbox is empty, printing progress every `every`; returns the time it took.
async fn deliver_all(
    engine: &Arc<Engine>,
    serve: &ServeConfig,
    seen: &Seen,
    expected: u64,
    every: Duration,
) -> Duration {
    let mut config = serve.clone();
    config.loops.delivery_idle_ms = 20;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(baton::serve(engine.clone(), listener, config, async {
        let _ = stopped.await;
    }));
    let started = Instant::now();
    let mut report = started + every;
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if Instant::now() >= report {
            let sent = seen.count();
            println!(
                "  t={:>5.0} s  sent {sent:>8}  {:>6.0} sends/s so far",
                started.elapsed().as_secs_f64(),
                sent as f64 / started.elapsed().as_secs_f64()
            );
            report += every;
        }
        // The outbox's length is a full scan in sled: asked only once the vendor has them all.
        if seen.count() >= expected && engine.storage().outbox_len() == 0 {
            break;
        }
    }
    let took = started.elapsed();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    took
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let recipients: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let serve = ServeConfig { engine: baton_tests::engine_config(), ..ServeConfig::default() };
    let concurrency = serve.engine.delivery.per_vendor_concurrency as u64;
    println!(
        "send: {recipients} recipients; machine: {} cores; per-vendor concurrency {concurrency}, {} in flight",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        serve.engine.delivery.max_in_flight
    );
    let (addr, seen) = vendor().await;

    // 1. The stand-in alone.
    let alone = capacity(addr, 50_000, concurrency).await;
    println!(
        "vendor stand-in alone: {alone:.0} requests/s ({concurrency} concurrent clients, 50,000 requests)"
    );
    seen.reset();

    // 2. The batch campaign.
    let dir = tempfile::tempdir().unwrap();
    let engine = newsletter(dir.path(), &serve, recipients, addr);
    let started = Instant::now();
    let queued = run(&engine).await;
    let decided = started.elapsed();
    println!(
        "decided and queued {queued} sends in {:.1} s ({:.0}/s)",
        decided.as_secs_f64(),
        queued as f64 / decided.as_secs_f64()
    );

    // 3. The moment-of-sending check, on sends as the delivery loop claims them.
    let sample = engine.storage().claim_due(engine.now_ms(), 20_000, 1).unwrap();
    let timed = Instant::now();
    let leaving = sample.iter().filter(|send| engine.would_send_now(send)).count();
    let per_send = timed.elapsed().as_secs_f64() / sample.len() as f64;
    assert_eq!(leaving, sample.len());
    println!(
        "the check at the moment of sending: {:.1} µs per send (campaign, profile, policies, the profile's recent sends; {} sends)",
        per_send * 1e6,
        sample.len()
    );

    let delivering = deliver_all(&engine, &serve, &seen, queued as u64, Duration::from_secs(30)).await;
    let total = started.elapsed();
    let keys = seen.keys.lock().unwrap().len();
    let delivered = engine.storage().deliveries("newsletter").unwrap().len();
    println!(
        "delivered {} in {:.1} s: {:.0} sends/s ({:.0}% of the stand-in alone); decide + deliver {:.1} s, {:.0} sends/s",
        seen.count(),
        delivering.as_secs_f64(),
        seen.count() as f64 / delivering.as_secs_f64(),
        100.0 * seen.count() as f64 / delivering.as_secs_f64() / alone,
        total.as_secs_f64(),
        queued as f64 / total.as_secs_f64()
    );
    println!(
        "vendor requests {}, distinct keys {keys}, deliveries recorded {delivered}: {}",
        seen.count(),
        if seen.count() as usize == keys && keys == delivered && delivered == queued {
            "each once"
        } else {
            "MISMATCH"
        }
    );
    drop(engine);

    // 4. Configured limits: about eight seconds of sends at each.
    for limit in [50.0, 250.0, 1_000.0] {
        seen.reset();
        let mut limited = serve.clone();
        limited.engine.delivery.vendor_rate_limits = [("127.0.0.1".to_owned(), limit)].into();
        let dir = tempfile::tempdir().unwrap();
        let sends = (limit * 8.0) as usize;
        let engine = newsletter(dir.path(), &limited, sends, addr);
        let queued = run(&engine).await;
        deliver_all(&engine, &limited, &seen, queued as u64, Duration::from_secs(3600)).await;
        let arrivals = seen.arrivals.lock().unwrap().clone();
        let span = arrivals.last().unwrap().duration_since(arrivals[0]).as_secs_f64();
        let busiest = arrivals
            .iter()
            .enumerate()
            .map(|(i, start)| {
                arrivals[i..].iter().take_while(|t| t.duration_since(*start) < Duration::from_secs(1)).count()
            })
            .max()
            .unwrap_or(0);
        println!(
            "limit {limit:>6.0}/s: {queued} sends at {:.1}/s ({:.1}% of the limit); busiest second {busiest}",
            (arrivals.len() - 1) as f64 / span,
            100.0 * (arrivals.len() - 1) as f64 / span / limit
        );
    }
}
