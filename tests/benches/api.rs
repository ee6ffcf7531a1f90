//! API benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p baton-tests --bench api -- [SECONDS]` (default 8 s per measurement; 0 runs only
//! the latency measurement)
//!
//! - durable ingest through HTTP (acknowledged after the group commit), NDJSON batches of 100 on
//!   `/v1/events` with 1, 8 and 64 concurrent clients, and Segment-format batches of 100 on
//!   `/v1/batch` with 8 clients; each on a fresh store behind the real server;
//! - PostgreSQL's rate for the same events in the same run (a throwaway cluster, `COPY`);
//! - this machine's `fdatasync` latency, the floor under every durable acknowledgement;
//! - triggered-campaign latency: a `signed_up` event's ingest request sent → the request received
//!   by a loopback vendor, p50 / p99 / max, for 200 probes at 50 per second while 4 clients keep
//!   ingesting in the background: steadily at half the ingest rate measured in this run, then as
//!   fast as they can.
//!
//! The server runs in this process with the allocator `baton serve` uses; the clients share its
//! two cores, so the figures are a floor for the server alone.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use baton::{ApiConfig, Engine, Grants, Role, ServeConfig, Slot, Trigger};
use baton_tests::figures::{ms, percentiles};
use baton_tests::{Vendor, welcome_campaign};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A running server over a fresh store; dropped at the end of a measurement.
struct Server {
    base: String,
    token: String,
    engine: Arc<Engine>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), baton::ServeError>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(prepare: impl FnOnce(&Engine)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = ServeConfig { engine: baton_tests::engine_config(), ..ServeConfig::default() };
        let engine = baton::open_engine(dir.path(), &config).unwrap();
        prepare(&engine);
        let (token, _) = engine.storage().create_token("bench", Role::Connector, 1).unwrap();
        let mut config = ServeConfig { api: ApiConfig::default(), ..config };
        config.loops.delivery_idle_ms = 5;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(baton::serve(engine.clone(), listener, config, async {
            let _ = stopped.await;
        }));
        Server { base, token, engine, stop: Some(stop), task, _dir: dir }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
    }
}

/// 100 page views from `client`'s users: the events every ingest row sends, to Baton and to
/// PostgreSQL alike.
fn page_views(client: usize, batch: u64) -> Vec<serde_json::Value> {
    (0..100u64)
        .map(|i| {
            serde_json::json!({
                "id": format!("c{client}-b{batch}-e{i}"),
                "user_id": format!("u{client}-{}", (batch * 7 + i) % 2_000),
                "name": "page",
                "timestamp": 1_750_000_000_000_i64 + i as i64,
                "properties": {"path": format!("/products/{}", i % 50), "referrer": "https://search.example/"}
            })
        })
        .collect()
}

/// NDJSON of [`page_views`].
fn ndjson(client: usize, batch: u64) -> String {
    let mut body = String::new();
    for line in page_views(client, batch) {
        body.push_str(&line.to_string());
        body.push('\n');
    }
    body
}

/// [`page_views`] as CSV rows for PostgreSQL's `COPY`: id, user id, name, timestamp, properties.
fn csv_rows(client: usize, batch: u64) -> String {
    let quote = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    let mut rows = String::new();
    for event in page_views(client, batch) {
        let field = |name: &str| event[name].as_str().unwrap_or_default().to_owned();
        rows.push_str(&format!(
            "{},{},{},{},{}\n",
            quote(&field("id")),
            quote(&field("user_id")),
            quote(&field("name")),
            event["timestamp"],
            quote(&event["properties"].to_string())
        ));
    }
    rows
}

/// A Segment `batch` of 100 `track` calls.
fn segment_batch(client: usize, batch: u64) -> String {
    let calls: Vec<serde_json::Value> = (0..100u64)
        .map(|i| {
            serde_json::json!({
                "type": "track",
                "messageId": format!("s{client}-b{batch}-e{i}"),
                "userId": format!("u{client}-{}", (batch * 7 + i) % 2_000),
                "event": "Product Viewed",
                "timestamp": "2025-06-15T15:06:40.000Z",
                "properties": {"sku": format!("sku-{}", i % 50), "price": 19.99}
            })
        })
        .collect();
    serde_json::json!({ "batch": calls }).to_string()
}

/// Sends batches from `clients` concurrent clients until `until`; returns events acknowledged.
async fn load(server: &Server, clients: usize, until: Instant, segment: bool) -> u64 {
    let acked = Arc::new(AtomicU64::new(0));
    let http = baton_tests::http();
    let mut workers = Vec::new();
    for c in 0..clients {
        let (http, acked) = (http.clone(), acked.clone());
        let url = format!("{}/v1/{}", server.base, if segment { "batch" } else { "events" });
        let token = server.token.clone();
        workers.push(tokio::spawn(async move {
            let mut batch = 0u64;
            while Instant::now() < until {
                let (body, kind) = if segment {
                    (segment_batch(c, batch), "application/json")
                } else {
                    (ndjson(c, batch), "application/x-ndjson")
                };
                let answer =
                    http.post(&url).bearer_auth(&token).header("content-type", kind).body(body).send().await;
                if answer.is_ok_and(|a| a.status().is_success()) {
                    acked.fetch_add(100, Ordering::Relaxed);
                }
                batch += 1;
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    acked.load(Ordering::Relaxed)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds: u64 =
        std::env::args().skip(1).find(|a| !a.starts_with("--")).and_then(|a| a.parse().ok()).unwrap_or(8);
    println!(
        "machine: {} cores; {seconds} s per ingest measurement",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let rows = if seconds == 0 { &[][..] } else { &[(1, false), (8, false), (64, false), (8, true)][..] };
    let mut best = 0.0f64;
    for &(clients, segment) in rows {
        let rate = ingest(clients, segment, seconds).await;
        if !segment {
            best = best.max(rate);
        }
    }
    if seconds > 0 {
        postgres_copy(8, seconds).await;
    }
    if best == 0.0 {
        // Latency only: still measure the rate it takes half of.
        best = ingest(8, false, 3).await;
    }
    fdatasync_latency();

    // A steady background load at half the ingest rate just measured, then the machine saturated.
    triggered_latency(Some((best / 2.0) as u64)).await;
    triggered_latency(None).await;
}

/// Durable ingest through HTTP for `seconds` from `clients` clients, on a fresh store; prints
/// and returns the rate.
async fn ingest(clients: usize, segment: bool, seconds: u64) -> f64 {
    let server = Server::start(|_| {}).await;
    let started = Instant::now();
    let acked = load(&server, clients, started + Duration::from_secs(seconds), segment).await;
    let rate = acked as f64 / started.elapsed().as_secs_f64();
    let stored = server.engine.storage().event_count();
    server.stop().await;
    println!(
        "durable ingest over HTTP, {:<13} {clients:>2} clients: {rate:>8.0} events/s ({acked} acknowledged, {stored} stored; target ≥ 100,000/s)",
        if segment { "/v1/batch," } else { "/v1/events," },
    );
    rate
}

/// The same page views into PostgreSQL, for the rate to hold Baton's against: a throwaway
/// cluster on this machine with its durable defaults, a table with the event id as primary key
/// (the duplicate check) and an index on (user, time) (a profile's history), `clients`
/// connections each committing one `COPY` of 100 rows at a time, as Baton commits a batch.
async fn postgres_copy(clients: usize, seconds: u64) {
    use futures_util::SinkExt;
    let cluster = match baton_tests::postgres::Cluster::start() {
        Ok(cluster) => cluster,
        Err(err) => {
            println!("PostgreSQL COPY: not measured ({err})");
            return;
        }
    };
    let connect = || async {
        let (client, connection) =
            tokio_postgres::connect(&cluster.url(), tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    };
    let version = connect().await.query_one("SHOW server_version", &[]).await.unwrap().get::<_, String>(0);
    connect()
        .await
        .batch_execute(
            "CREATE TABLE events (id text PRIMARY KEY, user_id text NOT NULL, name text NOT NULL, \
             timestamp bigint NOT NULL, properties jsonb NOT NULL); \
             CREATE INDEX events_by_user ON events (user_id, timestamp);",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for c in 0..clients {
        let client = connect().await;
        workers.push(tokio::spawn(async move {
            let mut copied = 0u64;
            let mut batch = 0u64;
            while Instant::now() < until {
                let sink = client.copy_in("COPY events FROM STDIN (FORMAT csv)").await.unwrap();
                let mut sink = std::pin::pin!(sink);
                sink.send(bytes::Bytes::from(csv_rows(c, batch))).await.unwrap();
                copied += sink.as_mut().finish().await.unwrap();
                batch += 1;
            }
            copied
        }));
    }
    let mut copied = 0;
    for worker in workers {
        copied += worker.await.unwrap();
    }
    let rate = copied as f64 / started.elapsed().as_secs_f64();
    println!(
        "PostgreSQL {version} COPY of the same events, {clients} connections, 100 rows a commit: {rate:>8.0} events/s ({copied} committed)"
    );
}

/// The machine's own cost of a durable write, for the latency figures to stand beside: 1,000
/// appends of 4 KiB to a file in the temporary directory, each followed by `fdatasync`.
fn fdatasync_latency() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut file = std::fs::File::create(dir.path().join("sync")).unwrap();
    let page = vec![7u8; 4096];
    let mut took = Vec::with_capacity(1_000);
    for _ in 0..1_000 {
        let started = Instant::now();
        file.write_all(&page).unwrap();
        file.sync_data().unwrap();
        took.push(started.elapsed());
    }
    let (p50, p99) = percentiles(&mut took);
    println!("this machine's fdatasync of a 4 KiB append: p50 {:.2} ms, p99 {:.2} ms", ms(p50), ms(p99));
}

/// Event ingest → vendor request for a triggered campaign, under background ingest from 4
/// clients: `load` events per second in all, or as fast as they can (`None`).
async fn triggered_latency(load: Option<u64>) {
    let vendor = Vendor::start().await;
    let url = vendor.url("/send");
    let server = Server::start(|engine| {
        let mut campaign = welcome_campaign();
        campaign.trigger = Trigger::Event { event: "signed_up".into(), filter: Default::default() };
        campaign.channel = "webhook".into();
        campaign.transactional = true;
        let everyone =
            engine.runtime().install(baton::first_party("segment-conditions").unwrap()).unwrap().hash();
        let webhook =
            engine.runtime().install(baton::first_party("channel-webhook").unwrap()).unwrap().hash();
        engine.create_campaign("test", campaign).unwrap();
        let all = serde_json::json!({"bucket": {"percent": 100}});
        engine.bind("test", "welcome", Slot::Segment, everyone, all, Grants::default()).unwrap();
        let grants = Grants { allowed_hosts: vec!["127.0.0.1".into()], secrets: vec![] };
        engine
            .bind("test", "welcome", Slot::Channel, webhook, serde_json::json!({"url": url}), grants)
            .unwrap();
        engine.transition("test", "welcome", baton::CampaignState::Active).unwrap();
    })
    .await;

    let running = Arc::new(AtomicBool::new(true));
    let background = {
        let (base, token, running) = (server.base.clone(), server.token.clone(), running.clone());
        tokio::spawn(async move {
            let http = baton_tests::http();
            let mut tasks = Vec::new();
            for c in 0..4 {
                let (http, base, token, running) =
                    (http.clone(), base.clone(), token.clone(), running.clone());
                tasks.push(tokio::spawn(async move {
                    let mut batch = 0;
                    // Each client sends batches of 100 at its share of the load.
                    let mut pace = load.map(|rate| {
                        tokio::time::interval(Duration::from_micros(4 * 100 * 1_000_000 / rate.max(1)))
                    });
                    while running.load(Ordering::Relaxed) {
                        if let Some(pace) = &mut pace {
                            pace.tick().await;
                        }
                        let _ = http
                            .post(format!("{base}/v1/events"))
                            .bearer_auth(&token)
                            .header("content-type", "application/x-ndjson")
                            .body(ndjson(100 + c, batch))
                            .send()
                            .await;
                        batch += 1;
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
        })
    };

    let http = baton_tests::http();
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let mut acknowledged: HashMap<String, Instant> = HashMap::new();
    let probes = 200;
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    for n in 0..probes {
        ticker.tick().await;
        let id = format!("probe-{n}");
        let body = serde_json::json!({
            "id": id, "user_id": format!("new-{n}"), "name": "signed_up",
            "timestamp": 1_750_000_000_000_i64, "properties": {}
        });
        sent.insert(id.clone(), Instant::now());
        let answer = http
            .post(format!("{}/v1/events", server.base))
            .bearer_auth(&server.token)
            .header("content-type", "application/x-ndjson")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
        acknowledged.insert(id, Instant::now());
    }
    let waited = Instant::now();
    while vendor.received().len() < probes && waited.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.store(false, Ordering::Relaxed);
    background.await.unwrap();
    server.stop().await;

    // Split at the acknowledgement: the ingest's durable commit, then everything after it
    // (trigger drain, segment, enqueue, delivery wake-up, adapter build, HTTP to the vendor).
    let mut latencies = Vec::new();
    let mut to_ack = Vec::new();
    let mut after_ack = Vec::new();
    for received in vendor.received() {
        let Some(event) = received.header("idempotency-key").and_then(|k| k.rsplit(':').next()) else {
            continue;
        };
        let (Some(sent), Some(ack)) = (sent.get(event), acknowledged.get(event)) else { continue };
        latencies.push(received.at.saturating_duration_since(*sent));
        to_ack.push(ack.saturating_duration_since(*sent));
        after_ack.push(received.at.saturating_duration_since(*ack));
    }
    let (p50, p99) = percentiles(&mut latencies);
    let max = latencies.iter().max().copied().unwrap_or_default();
    println!(
        "triggered campaign, event sent → vendor request ({} of {probes} probes; 4 clients ingesting {}): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target: p99 ≤ 5 ms)",
        latencies.len(),
        load.map_or("as fast as they can".to_owned(), |rate| format!("{rate} events/s")),
        ms(p50),
        ms(p99),
        ms(max)
    );
    let (ack50, ack99) = percentiles(&mut to_ack);
    let (after50, after99) = percentiles(&mut after_ack);
    println!(
        "  of which: event sent → ingest acknowledged p50 {:.1} ms, p99 {:.1} ms; acknowledged → vendor request p50 {:.1} ms, p99 {:.1} ms",
        ms(ack50),
        ms(ack99),
        ms(after50),
        ms(after99)
    );
}
