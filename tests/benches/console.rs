//! The console's pages over a large store: each page's response time through the real server
//! (`baton::serve` on loopback, signed in as an admin, so every page shows everything), and the
//! segment builder's live count, the one page that judges every profile. Prints figures;
//! asserts only that each page answers 200.
//!
//! `cargo bench -p baton-tests --bench console -- [PROFILES] [EVENTS]` (defaults 1,000,000 and
//! 10,000,000)
//!
//! The data set: PROFILES customers with an email, a first name and a plan; EVENTS events among
//! them over 90 days (page views, product views, orders; a few customers far more active than
//! the rest), with one campaign's deliveries, opens and clicks on its record and its daily series
//! computed; 20 campaigns in all; a saved segment of 1,000 people kept by hand; the first-party
//! plugins installed.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use baton::{
    Conversion, ConversionEvent, Engine, FixedClock, Role, Runtime, SegmentDefinition, SegmentSpec,
    ServeConfig, Storage, Trigger,
};
use baton_tests::figures::{SplitMix, memory_kib_total, ms, percentiles, store_shop_histories};
use baton_tests::{test_config, welcome_campaign};

const DAY: i64 = 86_400_000;
const DAYS: i64 = 90;
/// The end of day 90 of the history: 2025-06-30 00:00 UTC.
const NOW: i64 = 1_751_241_600_000;
const START: i64 = NOW - DAYS * DAY;
const BATCH: usize = 10_000;
/// Requests per page timed (after one warm-up request).
const ROUNDS: usize = 20;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let profiles: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let events: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    println!(
        "machine: {} cores, MemTotal {} MiB; profiles: {profiles}, events: {events}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_kib_total() / 1024
    );
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let runtime = Arc::new(Runtime::new(test_config(), storage.clone()).unwrap());
    let engine = Arc::new(
        Engine::new(storage.clone(), runtime, Arc::new(FixedClock::at(NOW)), baton_tests::engine_config())
            .unwrap(),
    );
    for name in ["segment-conditions", "personalize-liquid", "channel-webhook", "kpi-romi", "kpi-attribution"]
    {
        engine.runtime().install(baton::first_party(name).unwrap()).unwrap();
    }
    for n in 0..20 {
        let mut campaign = welcome_campaign();
        if n > 0 {
            campaign.id = format!("campaign-{n:02}");
            campaign.name = format!("Campaign {n}");
        }
        campaign.trigger = Trigger::Batch { every_ms: Some(7 * DAY as u64) };
        campaign.conversion = Some(Conversion {
            events: vec![ConversionEvent {
                name: "order_completed".into(),
                filter: Default::default(),
                value: Some("revenue".into()),
            }],
            window_ms: 7 * DAY,
        });
        engine.create_campaign("bench", campaign).unwrap();
    }

    // Customers, then their histories in store order.
    let started = Instant::now();
    let per_customer = (events / profiles.max(1)).max(1);
    let mut rng = SplitMix(23);
    let mut ids = Vec::with_capacity(profiles);
    for first in (0..profiles).step_by(BATCH) {
        let users: Vec<String> = (first..profiles.min(first + BATCH)).map(|c| format!("c{c}")).collect();
        let traits: Vec<serde_json::Map<String, serde_json::Value>> = users
            .iter()
            .map(|u| {
                let plan = ["free", "pro", "team"][(rng.next() % 3) as usize];
                serde_json::json!({"email": format!("{u}@example.com"), "first_name": u, "plan": plan})
                    .as_object()
                    .unwrap()
                    .clone()
            })
            .collect();
        let rows: Vec<_> = users.iter().zip(&traits).map(|(u, t)| (Some(u.as_str()), None, t)).collect();
        ids.extend(storage.identify_many(&rows, START, &|_, _| {}).unwrap());
    }
    let written = store_shop_histories(&storage, &ids, &mut rng, (START, NOW), per_customer, "welcome");
    println!(
        "data set: {} profiles, {written} events stored in {:.0} s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    engine.update_campaign_series("welcome", true).unwrap();
    println!("the welcome campaign's daily series computed in {:.0} s", started.elapsed().as_secs_f64());
    engine
        .save_segment(
            "bench",
            SegmentSpec {
                id: "vip".into(),
                description: "Kept by hand".into(),
                definition: SegmentDefinition::Manual {},
            },
        )
        .unwrap();
    let members: Vec<String> =
        (0..1000.min(profiles)).map(|c| format!("c{}", c * (profiles / 1000).max(1))).collect();
    engine.edit_segment_members("bench", "vip", &members, &[]).unwrap();
    let admin = storage.create_token("bench", Role::Admin, 1).unwrap().0;

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = ServeConfig::default();
        config.loops.tick_ms = 3_600_000;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(baton::serve(engine.clone(), listener, config, async {
            let _ = stopped.await;
        }));
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let signed = client
            .post(format!("{base}/sign-in"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={admin}"))
            .send()
            .await
            .unwrap();
        let cookie = signed.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let someone = ids[ids.len() / 2];
        let middle = format!("c{}", ids.len() / 2);
        let pages = [
            ("overview", "/".to_owned()),
            ("overview, 90 days", "/?from=2025-04-01&to=2025-06-30".to_owned()),
            ("campaigns", "/campaigns".to_owned()),
            ("a campaign", "/campaigns/welcome".to_owned()),
            ("journeys", "/journeys".to_owned()),
            ("calendar, 30 days", "/calendar".to_owned()),
            ("segments", "/segments".to_owned()),
            ("segment builder", "/segments/new".to_owned()),
            ("templates", "/templates".to_owned()),
            ("attribution", "/attribution".to_owned()),
            ("profiles, first page", "/profiles".to_owned()),
            ("find by email", format!("/profiles?q={middle}%40example.com")),
            ("find by user id", format!("/profiles?q={middle}")),
            ("customer view", format!("/profiles/{someone}")),
        ];
        println!("| page | median | p99 | slowest | bytes |");
        println!("|---|---|---|---|---|");
        for (name, path) in &pages {
            let (times, bytes) = time_page(&client, &base, path, &cookie, ROUNDS).await;
            report(name, path, times, bytes);
        }
        let tree = "%7B%22all%22%3A%5B%7B%22attribute%22%3A%22plan%22%2C%22op%22%3A%22eq%22%2C%22value%22%3A%22pro%22%7D%2C%7B%22event%22%3A%22order_completed%22%2C%22count%22%3A%7B%22op%22%3A%22gte%22%2C%22value%22%3A2%7D%7D%5D%7D";
        let path = format!("/segments/count?config={tree}");
        let (times, bytes) = time_page(&client, &base, &path, &cookie, ROUNDS).await;
        report("builder's live count, estimated from 10,000 profiles", "/segments/count?config=…", times, bytes);
        let path = format!("/segments/count?config={tree}&exact=true");
        let (times, bytes) = time_page(&client, &base, &path, &cookie, 1).await;
        report("builder's exact count (judges every profile)", "/segments/count?config=…&exact=true", times, bytes);
        for exact in [false, true] {
            let answer: serde_json::Value = client
                .get(format!("{base}/segments/count?config={tree}&exact={exact}"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            println!(
                "{}: {} (95% {} to {}), {} judged of {} profiles",
                if exact { "exact" } else { "estimate" },
                answer["count"],
                answer["interval"][0],
                answer["interval"][1],
                answer["judged"],
                answer["profiles"]
            );
        }
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    });
}

async fn time_page(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    cookie: &str,
    rounds: usize,
) -> (Vec<Duration>, usize) {
    let get = || async {
        let started = Instant::now();
        let response = client.get(format!("{base}{path}")).header("cookie", cookie).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let bytes = response.bytes().await.unwrap().len();
        (started.elapsed(), bytes)
    };
    let (_, bytes) = get().await;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        times.push(get().await.0);
    }
    (times, bytes)
}

fn report(name: &str, path: &str, mut times: Vec<Duration>, bytes: usize) {
    let slowest = times.iter().max().copied().unwrap_or_default();
    let (median, p99) = percentiles(&mut times);
    println!(
        "| {name} (`{path}`) | {:.1} ms | {:.1} ms | {:.1} ms | {bytes} |",
        ms(median),
        ms(p99),
        ms(slowest)
    );
}
