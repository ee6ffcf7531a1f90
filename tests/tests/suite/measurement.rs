//! Measurement from the customer's own events: a batch campaign with two variants and a
//! holdout, delivered through a vendor stand-in; then orders that carry no campaign id, some
//! inside the conversion window and some outside it. The results, the funnel and ROMI count the
//! same conversions, and the API and the CLI show each group with its interval and a verdict.

use std::collections::BTreeMap;
use std::sync::Arc;

use baton::{
    ApiConfig, Clock, Conversion, ConversionEvent, Engine, Experiment, Grants, NewEvent, Role, SecretValue,
    Slot, Trigger, Variant,
};
use baton_tests::{
    Vendor, activate, baton_bin, customer, echo_grants, engine, http, serve, welcome_campaign,
};

const DAY: i64 = 86_400_000;
/// The test clock's start.
const NOW: i64 = 1_750_000_000_000;

/// The campaign: a batch to VIPs, variants A and B, 20% held out, converting on a Segment-spec
/// `Order Completed` in euros within three days.
fn spring() -> baton::Campaign {
    let mut campaign = welcome_campaign();
    campaign.id = "spring".into();
    campaign.trigger = Trigger::Batch { every_ms: None };
    campaign.experiment = Some(Experiment {
        variants: vec![
            Variant { id: "A".into(), weight: 1, message: None },
            Variant { id: "B".into(), weight: 1, message: None },
        ],
        control_percent: 20,
        early_stopping: None,
    });
    campaign.conversion = Some(Conversion {
        events: vec![ConversionEvent {
            name: "Order Completed".into(),
            filter: BTreeMap::from([("currency".into(), serde_json::json!("EUR"))]),
            value: Some("revenue".into()),
        }],
        window_ms: 3 * DAY,
    });
    campaign
}

/// An order from the shop: no campaign id, as real sources send it.
fn order(id: &str, user: &str, at: i64, revenue: serde_json::Value, currency: &str) -> NewEvent {
    NewEvent {
        id: id.into(),
        user_id: Some(user.into()),
        anonymous_id: None,
        name: "Order Completed".into(),
        timestamp: at,
        properties: serde_json::json!({"revenue": revenue, "currency": currency})
            .as_object()
            .unwrap()
            .clone(),
        campaign: None,
    }
}

struct Scenario {
    engine: Arc<Engine>,
    _vendor: Vendor,
    _dir: tempfile::TempDir,
    /// User ids per group: `A`, `B`, `control`.
    groups: BTreeMap<String, Vec<String>>,
    /// When the batch ran (and the holdout was assigned), and when delivery began.
    decided_at: i64,
    delivered_at: i64,
    /// When each recipient's message was delivered (a vendor's rate lane spreads a batch over
    /// some seconds).
    delivered: BTreeMap<String, i64>,
}

/// 300 VIP customers; the batch runs at `decided_at`, messages are delivered an hour later.
async fn scenario() -> Scenario {
    let vendor = Vendor::start().await;
    let (engine, clock, dir) = engine();
    let engine = Arc::new(engine);
    activate(
        &engine,
        spring(),
        serde_json::json!({"tier": "vip"}),
        false,
        &vendor.url("/send"),
        echo_grants(),
    );
    engine.storage().put_secret("ECHO_TOKEN", &SecretValue::new("t0ken"), &["127.0.0.1".into()]).unwrap();
    let mut users = BTreeMap::new();
    for i in 0..300 {
        let user = format!("u{i:03}");
        let id = customer(
            &engine,
            &user,
            serde_json::json!({"email": format!("{user}@x.test"), "tier": "vip"}),
            true,
        );
        users.insert(id, user);
    }
    let decided_at = NOW;
    let report = engine.run_batch("test", "spring", "run-1").unwrap();
    assert_eq!(report.audience, 300);
    let delivered_at = NOW + 3_600_000;
    clock.set(delivered_at);
    // Until every message is out: a send held for its vendor's rate lane waits for the clock.
    for _ in 0..1_000 {
        if engine.storage().outbox_len() == 0 {
            break;
        }
        if engine.deliver_due().await.unwrap().claimed == 0 {
            clock.set(clock.now_ms() + 1_000);
        }
    }
    assert_eq!(engine.storage().outbox_len(), 0);
    let mut delivered = BTreeMap::new();

    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for delivery in engine.storage().deliveries("spring").unwrap() {
        assert!(matches!(delivery.outcome, baton::SendOutcome::Delivered { .. }), "{delivery:?}");
        groups.entry(delivery.variant.clone().unwrap()).or_default().push(users[&delivery.profile].clone());
        delivered.insert(users[&delivery.profile].clone(), delivery.at);
    }
    for skip in engine.storage().skips("spring").unwrap() {
        assert_eq!(skip.reason, baton::SkipReason::ControlGroup);
        groups.entry("control".into()).or_default().push(users[&skip.profile].clone());
    }
    assert_eq!(groups.values().map(Vec::len).sum::<usize>(), 300);
    assert!(
        groups.values().all(|g| g.len() >= 40),
        "{:?}",
        groups.iter().map(|(k, v)| (k, v.len())).collect::<Vec<_>>()
    );
    for group in groups.values_mut() {
        group.sort();
    }
    Scenario { engine, _vendor: vendor, _dir: dir, groups, decided_at, delivered_at, delivered }
}

#[tokio::test(flavor = "multi_thread")]
async fn untagged_orders_convert_within_the_window_after_the_message_and_the_holdout_from_assignment() {
    let s = scenario().await;
    let (a, b, control) = (&s.groups["A"], &s.groups["B"], &s.groups["control"]);
    let mut orders = Vec::new();
    // Inside the window: every 5th of A, every 2nd of B (one paying in numeric text), every
    // 10th held-out profile, the day after.
    for (group, every) in [(a, 5), (b, 2), (control, 10)] {
        for (k, user) in group.iter().step_by(every).enumerate() {
            let at = if group == control { s.decided_at } else { s.delivered_at } + DAY;
            let revenue = if k == 1 { serde_json::json!("12.50") } else { serde_json::json!(40) };
            orders.push(order(&format!("o-{user}"), user, at, revenue, "EUR"));
        }
    }
    // A second order inside the window: one more conversion and more revenue, not one more
    // converted customer.
    orders.push(order("o-again", &b[0], s.delivered_at + 2 * DAY, serde_json::json!(10), "EUR"));
    // Not conversions: after the window; before the message; in another currency; at the very
    // moment of delivery.
    let at = |user: &String| s.delivered[user];
    orders.push(order("o-late", &a[1], at(&a[1]) + 3 * DAY + 1, serde_json::json!(40), "EUR"));
    orders.push(order("o-early", &a[2], at(&a[2]) - 1, serde_json::json!(40), "EUR"));
    orders.push(order("o-usd", &a[3], at(&a[3]) + DAY, serde_json::json!(40), "USD"));
    orders.push(order("o-same-ms", &a[4], at(&a[4]), serde_json::json!(40), "EUR"));
    // The last moment of the window still counts (b[2] is among B's converted).
    orders.push(order("o-edge", &b[2], at(&b[2]) + 3 * DAY, serde_json::json!(10), "EUR"));
    // A held-out profile's order inside three days of assignment counts, even though no
    // message was ever delivered to it: the holdout is measured from assignment.
    orders.push(order(
        "o-control-late",
        &control[1],
        s.decided_at + 3 * DAY + 1,
        serde_json::json!(40),
        "EUR",
    ));
    let outcomes = s.engine.storage().ingest(&orders, s.delivered_at + 4 * DAY).unwrap();
    assert!(outcomes.iter().all(|o| matches!(o, baton::IngestOutcome::Stored { .. })), "{outcomes:?}");

    let results = s.engine.campaign_results("spring").unwrap();
    let group = |id: &str| results.groups.iter().find(|g| g.group == id).unwrap_or_else(|| panic!("{id}"));
    let converted = |n: usize, every: usize| n.div_ceil(every) as u64;
    let (ca, cb, cc) = (converted(a.len(), 5), converted(b.len(), 2), converted(control.len(), 10));
    assert_eq!(
        results.groups.iter().map(|g| g.group.as_str()).collect::<Vec<_>>(),
        ["A", "B", "all", "control"]
    );
    assert_eq!(
        (group("A").recipients, group("A").converted, group("A").conversions),
        (a.len() as u64, ca, ca)
    );
    assert_eq!(
        (group("B").recipients, group("B").converted, group("B").conversions),
        (b.len() as u64, cb, cb + 2)
    );
    assert_eq!((group("control").recipients, group("control").converted), (control.len() as u64, cc));
    assert_eq!(group("all").converted, ca + cb);
    // Revenue: 40 each, but 12.50 (numeric text) for the second of each group, plus B's 10.
    let revenue = |n: u64| 40.0 * (n - 1) as f64 + 12.5;
    assert_eq!(group("A").revenue, revenue(ca));
    assert_eq!(group("B").revenue, revenue(cb) + 20.0);
    assert_eq!(group("control").revenue, revenue(cc));
    let rate = group("B").conversion_rate.unwrap();
    assert_eq!(rate, cb as f64 / b.len() as f64);
    let [low, high] = group("B").conversion_rate_interval.unwrap();
    assert!(low < rate && rate < high);

    // The comparisons: the campaign, then each variant, against the holdout; B against A.
    let pairs: Vec<(&str, &str)> =
        results.comparisons.iter().map(|c| (c.group.as_str(), c.baseline.as_str())).collect();
    assert_eq!(pairs, [("all", "control"), ("A", "control"), ("B", "control"), ("B", "A")]);
    let b_vs_a = &results.comparisons[3];
    assert_eq!(b_vs_a.rate_difference, Some(rate - group("A").conversion_rate.unwrap()));
    assert!(b_vs_a.enough_data && b_vs_a.significant == Some(true), "{b_vs_a:?}");
    assert!(b_vs_a.verdict.starts_with("Variant B against variant A: "), "{}", b_vs_a.verdict);
    assert!(b_vs_a.verdict.contains("; significant (p < 0.0001)."), "{}", b_vs_a.verdict);
    // The holdout has fewer than ten converted: the results say so rather than give a p-value.
    let a_vs_control = &results.comparisons[1];
    assert_eq!((a_vs_control.enough_data, a_vs_control.p_value), (false, None));
    assert!(a_vs_control.verdict.contains("too few conversions to tell"), "{}", a_vs_control.verdict);
    assert_eq!(
        results.definition,
        "A recipient converts with `Order Completed` with currency = \"EUR\" (value: `revenue`) within 3 days after a delivered message; a held-out profile, within 3 days after it was held out. The events are the profile's own: they need not name the campaign."
    );

    // The funnel and ROMI count the very same conversions.
    let funnel = baton::first_party("kpi-funnel").unwrap();
    let romi = baton::first_party("kpi-romi").unwrap();
    for (name, component) in [("funnel", funnel), ("romi", romi)] {
        let plugin = s.engine.runtime().install(component).unwrap();
        s.engine
            .bind(
                "test",
                "spring",
                Slot::Kpi(name.into()),
                plugin.hash(),
                serde_json::json!({}),
                Grants::default(),
            )
            .unwrap();
    }
    let snapshots = s.engine.compute_kpis("spring").unwrap();
    let metric = |kpi: &str, name: &str| {
        let snapshot = snapshots.iter().find(|s| s.kpi == kpi).unwrap();
        let metric = snapshot.metrics.as_array().unwrap().iter().find(|m| m["name"] == name);
        metric.unwrap_or_else(|| panic!("{kpi} {name}"))["value"].as_f64().unwrap()
    };
    assert_eq!(metric("funnel", "conversions"), (ca + cb + 2) as f64);
    assert_eq!(metric("funnel", "revenue"), group("all").revenue);
    assert_eq!(metric("romi", "treated_converters"), (ca + cb) as f64);
    assert_eq!(metric("romi", "control_conversion_rate"), cc as f64 / control.len() as f64);
    assert_eq!(metric("romi", "revenue"), group("all").revenue);
    // And the results were kept with them.
    assert_eq!(s.engine.latest_campaign_results("spring").unwrap().unwrap().groups, results.groups);
}

#[tokio::test(flavor = "multi_thread")]
async fn variant_results_with_confidence_reach_the_api_and_the_cli() {
    let s = scenario().await;
    // B converts a third of its recipients, A a tenth.
    let orders: Vec<NewEvent> = (s.groups["B"].iter().step_by(3))
        .chain(s.groups["A"].iter().step_by(10))
        .map(|user| order(&format!("o-{user}"), user, s.delivered_at + DAY, serde_json::json!(25), "EUR"))
        .collect();
    s.engine.storage().ingest(&orders, s.delivered_at + DAY).unwrap();
    let (viewer, _) = s.engine.storage().create_token("analyst", Role::Viewer, 1).unwrap();
    let base = serve(s.engine.clone(), ApiConfig::default()).await;
    let answer =
        http().get(format!("{base}/v1/campaigns/spring/results")).bearer_auth(&viewer).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    // The same as the engine computes (the clock is fixed, the bootstrap seeded).
    assert_eq!(body, serde_json::to_value(s.engine.campaign_results("spring").unwrap()).unwrap());
    let b = body["groups"].as_array().unwrap().iter().find(|g| g["group"] == "B").unwrap();
    assert_eq!(b["converted"], s.groups["B"].len().div_ceil(3));
    assert_eq!(b["conversion_rate_interval"].as_array().unwrap().len(), 2);
    let b_vs_a = body["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["group"] == "B" && c["baseline"] == "A")
        .unwrap();
    assert_eq!(b_vs_a["rate_difference_interval"].as_array().unwrap().len(), 2);
    assert_eq!(b_vs_a["significant"], true);
    // A viewer reads results; keeping them (which moves an early-stopping test) is an
    // orchestrator's.
    let keep =
        http().post(format!("{base}/v1/campaigns/spring/results")).bearer_auth(&viewer).send().await.unwrap();
    assert_eq!(keep.status(), 403);
    let unknown =
        http().get(format!("{base}/v1/campaigns/nope/results")).bearer_auth(&viewer).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    // The daily series: brought up to date by an orchestrator, read by anyone.
    let (orchestrator, _) = s.engine.storage().create_token("ops", Role::Orchestrator, 1).unwrap();
    let series = |token: &str, method: reqwest::Method, query: &str| {
        http()
            .request(method, format!("{base}/v1/campaigns/spring/series{query}"))
            .bearer_auth(token.to_owned())
            .send()
    };
    assert_eq!(series(&viewer, reqwest::Method::POST, "").await.unwrap().status(), 403);
    let update = series(&orchestrator, reqwest::Method::POST, "?full=true").await.unwrap();
    assert_eq!(update.status(), 200);
    let update: serde_json::Value = update.json().await.unwrap();
    assert_eq!(update["full"], true);
    let days: serde_json::Value =
        series(&viewer, reqwest::Method::GET, "").await.unwrap().json().await.unwrap();
    let conversions: u64 =
        days["days"].as_array().unwrap().iter().map(|d| d["conversions"].as_u64().unwrap()).sum();
    let all = body["groups"].as_array().unwrap().iter().find(|g| g["group"] == "all").unwrap();
    assert_eq!(conversions, all["conversions"].as_u64().unwrap());
    let bad = series(&viewer, reqwest::Method::GET, "?from=30-06-2025").await.unwrap();
    assert_eq!(bad.status(), 400);
    let bad: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(bad["message"], "`30-06-2025` is not a day: write YYYY-MM-DD, for example 2025-06-30");

    // The CLI through the server: a table, then one line per comparison.
    let run = |args: &[&str]| {
        let output = std::process::Command::new(baton_bin())
            .args(["--server", &base, "--token", &viewer])
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let text = run(&["kpi", "results", "spring"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("spring: A recipient converts with `Order Completed`"), "{text}");
    let header: Vec<&str> = lines[2].split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(
        header,
        ["GROUP", "RECIPIENTS", "CONVERTED", "RATE", "95% INTERVAL", "REVENUE", "PER RECIPIENT"],
        "{text}"
    );
    let b_row = lines.iter().find(|l| l.starts_with("B ")).unwrap();
    let rate = format!("{:.2}%", b["conversion_rate"].as_f64().unwrap() * 100.0);
    assert!(b_row.contains(&rate), "{b_row}");
    assert!(lines.contains(&b_vs_a["verdict"].as_str().unwrap()), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&run(&["--output", "json", "kpi", "results", "spring"])).unwrap();
    assert_eq!(json["comparisons"], body["comparisons"]);
}

/// A source cannot forge the campaign's record: the events Baton writes for measurement are
/// refused at ingest, by name, whatever campaign they name.
#[test]
fn a_source_cannot_send_the_events_measurement_is_built_on() {
    let (engine, _clock, _dir) = engine();
    for name in baton::RESERVED_EVENT_NAMES {
        let forged = NewEvent {
            id: format!("forged-{name}"),
            user_id: Some("mallory".into()),
            anonymous_id: None,
            name: name.into(),
            timestamp: 1_750_000_000_000,
            properties: serde_json::json!({"variant": "B"}).as_object().unwrap().clone(),
            campaign: Some("spring".into()),
        };
        let outcome = engine.storage().ingest(&[forged], 1_750_000_000_000).unwrap();
        assert_eq!(
            outcome,
            [baton::IngestOutcome::Rejected {
                reason: format!(
                    "`{name}` is an event Baton records itself (for measurement and saved segments); a source cannot send it (name your event differently)"
                )
            }]
        );
    }
    assert_eq!(engine.storage().event_count(), 0);
}

/// A record Baton writes itself (a delivery, a holdout), as the engine writes it.
fn recorded(id: &str, profile: baton::ProfileId, name: &str, at: i64, variant: Option<&str>) -> baton::Event {
    baton::Event {
        id: id.into(),
        profile,
        name: name.into(),
        timestamp: at,
        properties: serde_json::json!({"variant": variant}).as_object().unwrap().clone(),
        campaign: Some("spring".into()),
    }
}

/// Days in the reporting time zone (Paris: a message at 22:30 UTC on 29 June counts on 30 June),
/// conversions on the day they happen within their window, and an update that recomputes only
/// the recent days, yet gives exactly what a full rebuild gives, late events included.
#[test]
fn the_daily_series_counts_days_in_the_reporting_time_zone_and_updates_only_the_recent_days() {
    let reporting = baton::ReportingConfig { time_zone: "Europe/Paris".into(), late_events_ms: DAY };
    let (engine, clock, _dir) =
        baton_tests::engine_with(baton::EngineConfig { reporting, ..baton_tests::engine_config() });
    engine.create_campaign("test", spring()).unwrap();
    let traits = serde_json::Map::new();
    let [ada, bob, cy, dan] = ["ada", "bob", "cy", "dan"]
        .map(|user| engine.storage().identify(Some(user), None, &traits, 1).unwrap());
    // 2025-06-29T22:30:00Z: 00:30 on 30 June in Paris.
    let t0 = 1_751_236_200_000;
    let mut opened = recorded("open-ada", ada, "email_opened", t0 + 1_800_000, None);
    opened.properties.clear();
    engine
        .storage()
        .append_events(&[
            recorded("d-ada", ada, "message_delivered", t0, Some("A")),
            recorded("d-bob", bob, "message_delivered", t0 + 2 * 3_600_000, Some("B")),
            recorded("c-cy", cy, "control_assigned", t0, None),
            opened,
        ])
        .unwrap();
    let orders = [
        order("o1", "ada", t0 + 3_600_000, serde_json::json!(40), "EUR"),
        order("o2", "ada", t0 + 2 * DAY, serde_json::json!(10), "EUR"),
        order("o3", "bob", t0 + 4 * DAY, serde_json::json!(99), "EUR"), // after Bob's window
        order("o4", "cy", t0 + DAY, serde_json::json!(5), "EUR"),
    ];
    engine.storage().ingest(&orders, t0 + 5 * DAY).unwrap();

    clock.set(t0 + 5 * DAY);
    let first = engine.update_campaign_series("spring", false).unwrap();
    assert_eq!(
        (first.full, first.from_day.as_deref(), first.days),
        (true, None, 3),
        "the first update is full"
    );
    let day = |day: &str, edit: &dyn Fn(&mut baton::DayFigures)| {
        let mut figures = baton::DayFigures { day: day.into(), ..Default::default() };
        edit(&mut figures);
        figures
    };
    let series = engine.campaign_series("spring", None, None).unwrap();
    assert_eq!((series.time_zone.as_str(), series.updated_at), ("Europe/Paris", Some(t0 + 5 * DAY)));
    assert_eq!(
        series.days,
        [
            day("2025-06-30", &|d| {
                (d.delivered, d.opened, d.held_out, d.conversions, d.revenue) = (2, 1, 1, 1, 40.0);
            }),
            day("2025-07-01", &|d| (d.control_conversions, d.control_revenue) = (1, 5.0)),
            day("2025-07-02", &|d| (d.conversions, d.revenue) = (1, 10.0)),
        ]
    );

    // A week later: a new recipient who converts, and an order of Ada's from 2 July that arrived
    // late, but within the allowance (one day more than the three-day window).
    engine
        .storage()
        .append_events(&[recorded("d-dan", dan, "message_delivered", t0 + 10 * DAY, Some("A"))])
        .unwrap();
    let later = [
        order("o5", "dan", t0 + 11 * DAY, serde_json::json!(30), "EUR"),
        order("o6", "ada", t0 + 2 * DAY + 3_600_000, serde_json::json!(7), "EUR"),
    ];
    engine.storage().ingest(&later, t0 + 12 * DAY).unwrap();
    clock.set(t0 + 12 * DAY);
    let update = engine.update_campaign_series("spring", false).unwrap();
    // From the last update less the window and the allowance: 29 June 22:30 UTC + 1 day, which
    // is 1 July in Paris.
    assert_eq!((update.full, update.from_day.as_deref()), (false, Some("2025-07-01")));
    // A week later again, nothing new: only Dan's delivery is within a window of the days
    // recomputed, and only Dan's events are read.
    clock.set(t0 + 20 * DAY);
    let quiet = engine.update_campaign_series("spring", false).unwrap();
    assert_eq!(
        (quiet.from_day.as_deref(), quiet.record_events, quiet.recipients),
        (Some("2025-07-08"), 1, 1)
    );
    let incremental = engine.campaign_series("spring", None, None).unwrap().days;
    assert_eq!(incremental[2], day("2025-07-02", &|d| (d.conversions, d.revenue) = (2, 17.0)));
    assert_eq!(incremental[3], day("2025-07-10", &|d| d.delivered = 1));
    assert_eq!(incremental[4], day("2025-07-11", &|d| (d.conversions, d.revenue) = (1, 30.0)));
    let rebuilt = engine.update_campaign_series("spring", true).unwrap();
    assert!(rebuilt.full && rebuilt.record_events == 5);
    assert_eq!(engine.campaign_series("spring", None, None).unwrap().days, incremental);
    // The days agree with the results: the same conversions, counted by day.
    let results = engine.campaign_results("spring").unwrap();
    let all = results.groups.iter().find(|g| g.group == "all").unwrap();
    assert_eq!(incremental.iter().map(|d| d.conversions).sum::<u64>(), all.conversions);
    assert_eq!(incremental.iter().map(|d| d.revenue).sum::<f64>(), all.revenue);
    // A range of days.
    let july = engine.campaign_series("spring", Some("2025-07-01"), Some("2025-07-10")).unwrap();
    assert_eq!(
        july.days.iter().map(|d| d.day.as_str()).collect::<Vec<_>>(),
        ["2025-07-01", "2025-07-02", "2025-07-10"]
    );
}

/// A time zone that does not exist is refused when the engine starts, with the fix.
#[test]
fn an_unknown_reporting_time_zone_is_refused_with_the_fix() {
    let reporting = baton::ReportingConfig { time_zone: "Mars/Olympus".into(), ..Default::default() };
    let dir = tempfile::tempdir().unwrap();
    let storage = baton_tests::open_store(dir.path());
    let runtime = Arc::new(baton::Runtime::new(baton_tests::test_config(), storage.clone()).unwrap());
    let clock = Arc::new(baton::FixedClock::at(NOW));
    let config = baton::EngineConfig { reporting, ..baton_tests::engine_config() };
    let Err(err) = Engine::new(storage, runtime, clock, config) else { panic!("accepted") };
    assert_eq!(
        err.to_string(),
        "engine settings are invalid: reporting.time_zone: `Mars/Olympus` is not an IANA time zone (for example `Europe/Paris` or `UTC`)"
    );
}

/// Early stopping by the sequential test: its p-value is the lowest over the kept computations,
/// so a winner once declared stays declared, and reading the results (which anyone may do as
/// often as they like) moves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_sequential_test_keeps_its_lowest_p_value_over_kept_computations_only() {
    let s = scenario().await;
    let mut campaign = s.engine.campaign("spring").unwrap();
    if let Some(experiment) = campaign.experiment.as_mut() {
        experiment.early_stopping = Some(baton::EarlyStopping { alpha: 0.05, tau: 0.1 });
    }
    s.engine.update_campaign("test", campaign).unwrap();
    let b_vs_a = |results: &baton::measurement::CampaignResults| {
        results.comparisons.iter().find(|c| c.group == "B" && c.baseline == "A").unwrap().sequential.unwrap()
    };
    // B's recipients buy half the time, A's a tenth: a clear winner.
    let orders: Vec<NewEvent> = (s.groups["B"].iter().step_by(2))
        .chain(s.groups["A"].iter().step_by(10))
        .map(|user| order(&format!("o-{user}"), user, s.delivered_at + DAY, serde_json::json!(25), "EUR"))
        .collect();
    s.engine.storage().ingest(&orders, s.delivered_at + DAY).unwrap();
    let read = s.engine.campaign_results("spring").unwrap();
    assert!(b_vs_a(&read).decided, "{:?}", b_vs_a(&read));
    assert_eq!(s.engine.latest_campaign_results("spring").unwrap(), None, "reading keeps nothing");
    let kept = s.engine.record_campaign_results("spring").unwrap();
    let low = b_vs_a(&kept).always_valid_p;
    assert!(low < 0.05);
    // Then A's recipients catch up: this look alone would not decide, but the test already has.
    let catch_up: Vec<NewEvent> = (s.groups["A"].iter().skip(1).step_by(2))
        .map(|user| {
            order(&format!("late-{user}"), user, s.delivered_at + 2 * DAY, serde_json::json!(25), "EUR")
        })
        .collect();
    s.engine.storage().ingest(&catch_up, s.delivered_at + 2 * DAY).unwrap();
    let again = s.engine.record_campaign_results("spring").unwrap();
    assert_eq!(b_vs_a(&again).always_valid_p, low);
    assert!(b_vs_a(&again).decided);
    assert!(
        again
            .comparisons
            .iter()
            .find(|c| c.group == "B" && c.baseline == "A")
            .unwrap()
            .verdict
            .contains("The sequential test has decided")
    );
}
