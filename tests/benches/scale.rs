//! Scale-out benchmark: sled and PostgreSQL side by side, with one and two workers, in one run.
//! Prints figures, asserts nothing.
//!
//! `cargo bench -p baton-tests --bench scale -- [PROFILES] [SECONDS]` (default 20,000 profiles,
//! 8 s per ingest measurement)
//!
//! Three setups: sled with one worker; PostgreSQL (a throwaway cluster on this machine, its
//! durable defaults) with one worker; the same with two workers sharing the database. The
//! workers run in this process, each an engine and a server of its own, as `baton serve` runs
//! them; the clients share the machine's two cores. For each setup:
//!
//! - durable ingest over HTTP: 8 clients sending NDJSON batches of 100 page views to
//!   `/v1/events`, spread over the workers;
//! - event → vendor: 200 `signed_up` events, 20 a second, each through the next worker, from the
//!   ingest request sent to the request received by a loopback vendor, p50 / p99 / max;
//! - condition-tree rebuild: PROFILES customers with a tier and six events each, judged by
//!   `segment-conditions` (tier in vip or gold, and an order within 30 days), as
//!   `Engine::audience` does. A rebuild is one worker's job (the segment upkeep lock), so the
//!   two-worker setup runs it on one worker while the other serves.
//!
//! On PostgreSQL each figure is followed by its profile: the statements the workers sent and the
//! time they spent waiting for the database's answers.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use baton::{Engine, Grants, Role, ServeConfig, Slot, StorageConfig, Trigger};
use baton_tests::figures::{SplitMix, ms, percentiles};
use baton_tests::{Vendor, welcome_campaign};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const NOW: i64 = 1_750_000_000_000;
const DAY: i64 = 86_400_000;

/// Where a setup keeps its data.
#[derive(Clone)]
enum Backend {
    Sled,
    Postgres(String),
}

/// A worker: an engine and its server, in this process.
struct Worker {
    base: String,
    engine: Arc<Engine>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), baton::ServeError>>,
    _dir: tempfile::TempDir,
}

impl Worker {
    /// A worker with a data directory of its own and `key`, the secret key file every worker
    /// of a setup shares (as each `baton serve` of a deployment must).
    async fn start(backend: &Backend, key: &std::path::Path) -> Worker {
        let dir = tempfile::tempdir().unwrap();
        let url = match backend {
            Backend::Sled => None,
            Backend::Postgres(url) => Some(url.clone()),
        };
        let mut config = ServeConfig {
            storage: StorageConfig { url, secret_key_file: Some(key.to_owned()), ..StorageConfig::default() },
            engine: baton_tests::engine_config(),
            ..ServeConfig::default()
        };
        config.loops.delivery_idle_ms = 5;
        let engine = baton::open_engine(dir.path(), &config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(baton::serve(engine.clone(), listener, config, async {
            let _ = stopped.await;
        }));
        Worker { base, engine, stop: Some(stop), task, _dir: dir }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
    }
}

/// A setup: its workers and a connector token they all accept.
struct Setup {
    label: String,
    workers: Vec<Worker>,
    token: String,
    _keys: tempfile::TempDir,
}

impl Setup {
    async fn start(label: &str, backend: &Backend, workers: usize) -> Setup {
        let keys = tempfile::tempdir().unwrap();
        let key = keys.path().join("secret-key");
        let mut started = Vec::new();
        for _ in 0..workers {
            started.push(Worker::start(backend, &key).await);
        }
        let (token, _) = started[0].engine.storage().create_token("bench", Role::Connector, 1).unwrap();
        Setup { label: label.to_owned(), workers: started, token, _keys: keys }
    }

    /// Statements sent to the database by every worker, and the time waited for them.
    fn database_time(&self) -> Option<(u64, Duration)> {
        self.workers
            .iter()
            .map(|w| w.engine.storage().database_time())
            .try_fold((0, Duration::ZERO), |sum, w| w.map(|(n, t)| (sum.0 + n, sum.1 + t)))
    }

    async fn stop(self) {
        for worker in self.workers {
            worker.stop().await;
        }
    }
}

/// The database's share of what happened since `before` ([`Setup::database_time`]), as text.
fn profile(
    before: Option<(u64, Duration)>,
    after: Option<(u64, Duration)>,
    work: &str,
    count: u64,
    took: Duration,
) -> String {
    let (Some(before), Some(after)) = (before, after) else { return String::new() };
    let statements = after.0 - before.0;
    let waited = after.1.saturating_sub(before.1);
    format!(
        "\n    profile: {statements} statements ({:.1} per {work}), {:.1} s waiting on PostgreSQL across threads ({:.0} µs a statement; {:.0}% of the wall time × threads waiting)",
        statements as f64 / count.max(1) as f64,
        waited.as_secs_f64(),
        waited.as_micros() as f64 / statements.max(1) as f64,
        100.0 * waited.as_secs_f64() / took.as_secs_f64().max(1e-9)
    )
}

fn ndjson(client: usize, batch: u64) -> String {
    let mut body = String::new();
    for i in 0..100u64 {
        let line = serde_json::json!({
            "id": format!("c{client}-b{batch}-e{i}"),
            "user_id": format!("u{client}-{}", (batch * 7 + i) % 2_000),
            "name": "page",
            "timestamp": NOW + i as i64,
            "properties": {"path": format!("/products/{}", i % 50)}
        });
        body.push_str(&line.to_string());
        body.push('\n');
    }
    body
}

async fn ingest(setup: &Setup, seconds: u64) {
    let clients = 8;
    let acked = Arc::new(AtomicU64::new(0));
    let http = baton_tests::http();
    let before = setup.database_time();
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let url = format!("{}/v1/events", setup.workers[c % setup.workers.len()].base);
        let (http, acked, token) = (http.clone(), acked.clone(), setup.token.clone());
        tasks.push(tokio::spawn(async move {
            let mut batch = 0u64;
            while Instant::now() < until {
                let answer = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/x-ndjson")
                    .body(ndjson(c, batch))
                    .send()
                    .await;
                if answer.is_ok_and(|a| a.status().is_success()) {
                    acked.fetch_add(100, Ordering::Relaxed);
                }
                batch += 1;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let took = started.elapsed();
    let acked = acked.load(Ordering::Relaxed);
    println!(
        "{}: durable ingest over HTTP, 8 clients: {:.0} events/s ({acked} acknowledged){}",
        setup.label,
        acked as f64 / took.as_secs_f64(),
        profile(before, setup.database_time(), "batch of 100", acked / 100, took)
    );
}

/// A triggered campaign to a loopback vendor, made through the first worker.
/// Makes the triggered campaign the probes answer, sending to `url`; returns its two plugins.
fn welcome_to(engine: &Engine, url: &str) -> [baton::ContentHash; 2] {
    let mut campaign = welcome_campaign();
    campaign.trigger = Trigger::Event { event: "signed_up".into(), filter: Default::default() };
    campaign.channel = "webhook".into();
    campaign.transactional = true;
    let everyone =
        engine.runtime().install(baton::first_party("segment-conditions").unwrap()).unwrap().hash();
    let webhook = engine.runtime().install(baton::first_party("channel-webhook").unwrap()).unwrap().hash();
    engine.create_campaign("bench", campaign).unwrap();
    let all = serde_json::json!({"bucket": {"percent": 100}});
    engine.bind("bench", "welcome", Slot::Segment, everyone, all, Grants::default()).unwrap();
    let grants = Grants { allowed_hosts: vec!["127.0.0.1".into()], secrets: vec![] };
    engine.bind("bench", "welcome", Slot::Channel, webhook, serde_json::json!({"url": url}), grants).unwrap();
    engine.transition("bench", "welcome", baton::CampaignState::Active).unwrap();
    [everyone, webhook]
}

async fn event_to_vendor(setup: &Setup) {
    let vendor = Vendor::start().await;
    let installed = Instant::now();
    let plugins = welcome_to(&setup.workers[0].engine, &vendor.url("/send"));
    // The other workers load the two plugins when they hear of the install, as a deployment's
    // do; the probes measure the steady state after that, which this waits for and reports.
    let loaded = |worker: &Worker| plugins.iter().all(|hash| worker.engine.runtime().is_loaded(hash));
    while !setup.workers.iter().all(loaded) {
        assert!(installed.elapsed() < Duration::from_secs(60), "a worker never loaded the installed plugins");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "{}: two plugins installed through the first worker and loaded on all {} in {:.0} ms",
        setup.label,
        setup.workers.len(),
        ms(installed.elapsed())
    );
    let http = baton_tests::http();
    let probes = 200;
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let before = setup.database_time();
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(50));
    for n in 0..probes {
        ticker.tick().await;
        let id = format!("probe-{n}");
        let body = serde_json::json!({
            "id": id, "user_id": format!("new-{n}"), "name": "signed_up", "timestamp": NOW, "properties": {}
        });
        sent.insert(id, Instant::now());
        let worker = &setup.workers[n % setup.workers.len()];
        let answer = http
            .post(format!("{}/v1/events", worker.base))
            .bearer_auth(&setup.token)
            .header("content-type", "application/x-ndjson")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }
    let waited = Instant::now();
    while vendor.received().len() < probes && waited.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = started.elapsed();
    let mut latencies: Vec<Duration> = vendor
        .received()
        .iter()
        .filter_map(|r| {
            let event = r.header("idempotency-key")?.rsplit(':').next()?;
            Some(r.at.saturating_duration_since(*sent.get(event)?))
        })
        .collect();
    let (p50, p99) = percentiles(&mut latencies);
    let max = latencies.iter().max().copied().unwrap_or_default();
    println!(
        "{}: event → vendor, {} of {probes} probes at 20/s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms{}",
        setup.label,
        latencies.len(),
        ms(p50),
        ms(p99),
        ms(max),
        profile(before, setup.database_time(), "probe", probes as u64, took)
    );
}

/// Customers with a tier and six events each over the 90 days before now (the workers' clock
/// is the real one, and the tree's window ends now), through the first worker's store.
fn customers(engine: &Engine, profiles: usize) -> Duration {
    let started = Instant::now();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let storage = engine.storage();
    let mut rng = SplitMix(11);
    let tiers = ["vip", "gold", "basic", "basic", "basic", "basic", "basic", "basic", "basic", "basic"];
    for chunk in (0..profiles).collect::<Vec<_>>().chunks(1_000) {
        let users: Vec<String> = chunk.iter().map(|i| format!("c{i}")).collect();
        let traits: Vec<serde_json::Map<String, serde_json::Value>> = chunk
            .iter()
            .map(|i| serde_json::json!({"tier": tiers[i % tiers.len()]}).as_object().unwrap().clone())
            .collect();
        let rows: Vec<_> = users.iter().zip(&traits).map(|(u, t)| (Some(u.as_str()), None, t)).collect();
        storage.identify_many(&rows, now - 200 * DAY, &|_, _| {}).unwrap();
        let events: Vec<baton::NewEvent> = chunk
            .iter()
            .flat_map(|i| (0..6).map(move |k| (*i, k)))
            .map(|(i, k)| baton::NewEvent {
                id: format!("h{i}-{k}"),
                user_id: Some(format!("c{i}")),
                anonymous_id: None,
                name: if k == 0 { "order_completed" } else { "page" }.into(),
                timestamp: now - (rng.next() % (90 * DAY as u64)) as i64,
                properties: serde_json::Map::new(),
                campaign: None,
            })
            .collect();
        storage.ingest(&events, now).unwrap();
    }
    started.elapsed()
}

fn rebuild(setup: &Setup, profiles: usize) {
    let engine = &setup.workers[0].engine;
    let loaded = customers(engine, profiles);
    let conditions =
        engine.runtime().install(baton::first_party("segment-conditions").unwrap()).unwrap().hash();
    let tree = serde_json::json!({
        "all": [
            { "attribute": "tier", "op": "in", "value": ["vip", "gold"] },
            { "event": "order_completed", "count": { "op": "gte", "value": 1 }, "within_ms": 30 * DAY }
        ]
    });
    for round in ["first", "again"] {
        let before = setup.database_time();
        let started = Instant::now();
        let audience = engine.audience(&conditions, &tree, 10, false).unwrap();
        let took = started.elapsed();
        println!(
            "{}: condition-tree rebuild, {round}: {:.2} s for {} profiles ({:.0} profiles/s), {} members (data loaded in {:.1} s){}",
            setup.label,
            took.as_secs_f64(),
            audience.evaluated,
            audience.evaluated as f64 / took.as_secs_f64(),
            audience.count,
            loaded.as_secs_f64(),
            profile(before, setup.database_time(), "profile", audience.evaluated as u64, took)
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let numbers: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let profiles = numbers.first().copied().unwrap_or(20_000) as usize;
    let seconds = numbers.get(1).copied().unwrap_or(8);
    println!(
        "machine: {} cores; {profiles} profiles for the rebuild; {seconds} s per ingest measurement",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let cluster = baton_tests::postgres::Cluster::start().unwrap();
    let postgres = |schema: &str| Backend::Postgres(format!("{}?schema={schema}", cluster.url()));
    let setups = [
        ("sled, 1 worker", Backend::Sled, 1),
        ("PostgreSQL, 1 worker", postgres("one"), 1),
        ("PostgreSQL, 2 workers", postgres("two"), 2),
    ];
    for (label, backend, workers) in &setups {
        let setup = Setup::start(label, backend, *workers).await;
        ingest(&setup, seconds).await;
        event_to_vendor(&setup).await;
        tokio::task::block_in_place(|| rebuild(&setup, profiles));
        setup.stop().await;
    }
}
