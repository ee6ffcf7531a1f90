//! Delivery to a local vendor stand-in: secrets substituted by the host, grants enforced,
//! Retry-After honoured, retries then dead letters, replay.

use std::sync::Arc;

use baton::{Engine, Grants, NewEvent, SecretValue, SendOutcome, Slot};
use baton_tests::{Vendor, activate, customer, echo_grants, engine_with, welcome_campaign};

struct Setup {
    engine: Arc<Engine>,
    clock: Arc<baton::FixedClock>,
    vendor: Vendor,
    _dir: tempfile::TempDir,
}

const NOW: i64 = 1_750_000_000_000;

/// An active welcome campaign sending through `chan-echo` to the stand-in, and one customer.
async fn setup(grants: Grants, delivery: baton::DeliveryConfig) -> Setup {
    let vendor = Vendor::start().await;
    let (engine, clock, dir) = engine_with(baton::EngineConfig { delivery, ..Default::default() });
    let engine = Arc::new(engine);
    let url = vendor.url("/send");
    activate(&engine, welcome_campaign(), serde_json::json!({}), false, &url, grants);
    engine
        .storage()
        .put_secret("ECHO_TOKEN", &SecretValue::new("s3cret-token"), &["127.0.0.1".into()])
        .unwrap();
    customer(&engine, "ada", serde_json::json!({"email": "ada@example.com", "tier": "vip"}), true);
    Setup { engine, clock, vendor, _dir: dir }
}

fn granted() -> Grants {
    echo_grants()
}

fn trigger(engine: &Engine, id: &str) {
    let event = NewEvent {
        id: id.into(),
        user_id: Some("ada".into()),
        anonymous_id: None,
        name: "signed_up".into(),
        timestamp: NOW,
        properties: serde_json::Map::new(),
        campaign: None,
    };
    engine.storage().ingest(&[event], NOW).unwrap();
    let stored = engine.storage().event(id).unwrap().unwrap();
    assert_eq!(engine.on_events(&[stored]).unwrap().queued, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_triggered_campaign_delivers_with_the_secret_substituted_by_the_host() {
    let s = setup(granted(), baton_tests::delivery_config()).await;
    trigger(&s.engine, "evt-1");
    let report = s.engine.deliver_due().await.unwrap();
    assert_eq!((report.claimed, report.delivered), (1, 1));

    let received = s.vendor.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].line, "POST /send");
    assert_eq!(received[0].header("authorization"), Some("Bearer s3cret-token"));
    let key = received[0].header("idempotency-key").unwrap().to_owned();
    assert!(key.starts_with("welcome:pr_") && key.ends_with(":evt-1"), "{key}");
    let body: serde_json::Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"to": "ada@example.com", "subject": "Welcome {{first_name}}", "body": "Hello {{first_name}}"})
    );

    let deliveries = s.engine.storage().deliveries("welcome").unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].outcome, SendOutcome::Delivered { receipt: Some("m-1".into()) });
    assert_eq!(s.engine.storage().outbox_len(), 0);
    // Nothing more to do; nothing sent twice.
    assert_eq!(s.engine.deliver_due().await.unwrap().claimed, 0);
    assert_eq!(s.vendor.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_honoured() {
    let s = setup(granted(), baton_tests::delivery_config()).await;
    s.vendor.answer(&[(429, &[("retry-after", "7")])]);
    trigger(&s.engine, "evt-1");
    let report = s.engine.deliver_due().await.unwrap();
    assert_eq!(report.retried, 1);
    let pending = s.engine.storage().pending_sends().unwrap();
    assert_eq!(pending[0].next_attempt_at, NOW + 7_000);
    assert_eq!(pending[0].last_error.as_deref(), Some("vendor throttled (429)"));

    s.clock.set(NOW + 6_999);
    assert_eq!(s.engine.deliver_due().await.unwrap().claimed, 0, "not before Retry-After");
    s.clock.set(NOW + 7_000);
    assert_eq!(s.engine.deliver_due().await.unwrap().delivered, 1);
    assert_eq!(s.vendor.received().len(), 2);
    assert_eq!(s.engine.storage().deliveries("welcome").unwrap()[0].attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_down_for_a_while_leads_to_retries_then_dead_letters_and_replay_delivers() {
    let config =
        baton::DeliveryConfig { max_attempts: 3, base_backoff_ms: 1_000, ..baton_tests::delivery_config() };
    let s = setup(granted(), config).await;
    s.vendor.answer(&[(503, &[]), (503, &[]), (503, &[])]);
    trigger(&s.engine, "evt-1");

    let mut now = NOW;
    assert_eq!(s.engine.deliver_due().await.unwrap().retried, 1);
    let first_retry = s.engine.storage().pending_sends().unwrap()[0].next_attempt_at - now;
    assert!((500..=1_000).contains(&first_retry), "backoff with jitter: {first_retry}");
    now += 1_000;
    s.clock.set(now);
    assert_eq!(s.engine.deliver_due().await.unwrap().retried, 1);
    let second_retry = s.engine.storage().pending_sends().unwrap()[0].next_attempt_at - now;
    assert!((1_000..=2_000).contains(&second_retry), "doubling backoff: {second_retry}");
    now += 2_000;
    s.clock.set(now);
    assert_eq!(s.engine.deliver_due().await.unwrap().dead_lettered, 1);

    let dead = s.engine.storage().dead_letters("welcome").unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("vendor answered 503, retryable (after 3 attempts)"));
    assert_eq!(s.engine.storage().outbox_len(), 0);
    assert_eq!(s.vendor.received().len(), 3);

    // The vendor is back (the script is used up: it answers 202). Replay delivers.
    assert_eq!(s.engine.storage().replay_dead_letters("welcome", now).unwrap(), 1);
    assert_eq!(s.engine.deliver_due().await.unwrap().delivered, 1);
    let received = s.vendor.received();
    assert_eq!(received.len(), 4);
    let keys: std::collections::BTreeSet<&str> =
        received.iter().filter_map(|r| r.header("idempotency-key")).collect();
    assert_eq!(keys.len(), 1, "every attempt carries the same idempotency key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_and_secrets_not_granted_are_refused_before_anything_is_sent() {
    // The binding grants the host but not the secret the adapter refers to.
    let s = setup(
        Grants { allowed_hosts: vec!["127.0.0.1".into()], secrets: vec![] },
        baton_tests::delivery_config(),
    )
    .await;
    trigger(&s.engine, "evt-1");
    assert_eq!(s.engine.deliver_due().await.unwrap().rejected, 1);
    assert!(s.vendor.received().is_empty());
    let outcome = &s.engine.storage().deliveries("welcome").unwrap()[0].outcome;
    assert_eq!(
        *outcome,
        SendOutcome::Rejected {
            reason: "request 0: secret `ECHO_TOKEN` is not granted to this binding".into()
        }
    );

    // Revoking the host grant takes effect on sends already queued.
    let s = setup(granted(), baton_tests::delivery_config()).await;
    trigger(&s.engine, "evt-2");
    let binding = s.engine.storage().binding("welcome", &Slot::Channel).unwrap().unwrap();
    let revoked = Grants { allowed_hosts: vec![], secrets: vec!["ECHO_TOKEN".into()] };
    s.engine.bind("test", "welcome", Slot::Channel, binding.plugin, binding.config, revoked).unwrap();
    assert_eq!(s.engine.deliver_due().await.unwrap().rejected, 1);
    assert!(s.vendor.received().is_empty());
    let outcome = &s.engine.storage().deliveries("welcome").unwrap()[0].outcome;
    assert_eq!(
        *outcome,
        SendOutcome::Rejected { reason: "request 0: host `127.0.0.1` is not granted to this binding".into() }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_and_response_events_are_measured_by_the_bound_kpi_calculators() {
    let s = setup(granted(), baton_tests::delivery_config()).await;
    let kpi = s.engine.runtime().install(&baton_tests::fixture("kpi-count")).unwrap().hash();
    s.engine
        .bind("test", "welcome", Slot::Kpi("counts".into()), kpi, serde_json::json!({}), Grants::default())
        .unwrap();
    trigger(&s.engine, "evt-1");
    assert_eq!(s.engine.deliver_due().await.unwrap().delivered, 1);
    // The vendor reports an open, attributed to the campaign.
    let opened = NewEvent {
        id: "open-1".into(),
        user_id: Some("ada".into()),
        anonymous_id: None,
        name: "email_opened".into(),
        timestamp: NOW + 60_000,
        properties: serde_json::Map::new(),
        campaign: Some("welcome".into()),
    };
    s.engine.storage().ingest(&[opened], NOW + 60_000).unwrap();

    let snapshots = s.engine.compute_kpis("welcome").unwrap();
    assert_eq!(snapshots.len(), 1);
    assert_eq!((snapshots[0].kpi.as_str(), snapshots[0].events), ("counts", 2));
    let counts: Vec<(String, f64)> = snapshots[0]
        .metrics
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let label = m["dimensions"].get(0).map_or("total".into(), |d| d[1].as_str().unwrap().to_owned());
            (label, m["value"].as_f64().unwrap())
        })
        .collect();
    assert_eq!(
        counts,
        vec![("email_opened".into(), 1.0), ("message_delivered".into(), 1.0), ("total".into(), 2.0)]
    );
    assert_eq!(s.engine.storage().kpi_snapshots("welcome").unwrap(), snapshots);
}

/// An engine whose calls have a 100 ms deadline and fuel enough never to run out first, with a
/// triggered campaign sending through `bad-chan-any` configured as `channel_config`.
fn misbehaving_channel(channel_config: serde_json::Value) -> (Arc<Engine>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = baton_tests::open_store(dir.path());
    let limits = baton::Limits {
        fuel: u64::MAX,
        deadline: std::time::Duration::from_millis(100),
        ..Default::default()
    };
    let config = baton::RuntimeConfig { limits, ..baton_tests::test_config() };
    let runtime = Arc::new(baton::Runtime::new(config, storage.clone()).unwrap());
    let clock = Arc::new(baton::FixedClock::at(NOW));
    let engine = Arc::new(Engine::new(storage, runtime, clock, baton_tests::engine_config()).unwrap());
    let segment = engine.runtime().install(&baton_tests::fixture("seg-vip")).unwrap().hash();
    let channel = engine.runtime().install(&baton_tests::fixture("bad-chan-any")).unwrap().hash();
    engine.create_campaign("test", welcome_campaign()).unwrap();
    engine.bind("test", "welcome", Slot::Segment, segment, serde_json::json!({}), Grants::default()).unwrap();
    engine.bind("test", "welcome", Slot::Channel, channel, channel_config, Grants::default()).unwrap();
    engine.transition("test", "welcome", baton::CampaignState::Active).unwrap();
    customer(&engine, "ada", serde_json::json!({"email": "ada@example.com", "tier": "vip"}), true);
    trigger(&engine, "evt-1");
    (engine, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_that_traps_sends_the_message_to_the_dead_letters_not_to_oblivion() {
    let (engine, _dir) = misbehaving_channel(serde_json::json!({"do": "trap"}));
    let report = engine.deliver_due().await.unwrap();
    assert_eq!((report.claimed, report.dead_lettered, report.rejected), (1, 1, 0));
    let dead = engine.storage().dead_letters("welcome").unwrap();
    assert_eq!(dead.len(), 1);
    let reason = dead[0].last_error.as_deref().unwrap();
    assert!(reason.starts_with("build: ") && reason.contains("trap"), "{reason}");
    assert_eq!(engine.storage().outbox_len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_past_its_deadline_is_retried_like_a_vendor_that_is_down() {
    let (engine, _dir) = misbehaving_channel(serde_json::json!({"do": "spin"}));
    let report = engine.deliver_due().await.unwrap();
    assert_eq!((report.claimed, report.retried, report.rejected, report.dead_lettered), (1, 1, 0, 0));
    let pending = engine.storage().pending_sends().unwrap();
    assert_eq!(pending.len(), 1, "the send waits for its next attempt");
    let reason = pending[0].last_error.as_deref().unwrap();
    assert!(reason.starts_with("build: ") && reason.contains("deadline"), "{reason}");
    assert_eq!(pending[0].attempts, 1);
}
