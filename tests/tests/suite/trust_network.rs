//! Vendor requests toward internal networks, performed literally: loopback, private and
//! link-local addresses (the cloud metadata service among them), a name that resolves to
//! loopback, and plain HTTP. The default policy refuses every one and sends nothing; an operator
//! allowance lets exactly the allowed network through.

use std::sync::Arc;

use baton::{CampaignState, DeliveryConfig, EngineConfig, Grants, OutboundPolicy, SendOutcome, Slot};
use baton_tests::{Vendor, engine_with, fixture, welcome_campaign};

/// One batch send through `channel-webhook` to `url` under `policy`: the report and the
/// recorded outcome.
async fn send_once(policy: OutboundPolicy, url: &str) -> (baton::DeliveryReport, SendOutcome) {
    let config = EngineConfig {
        delivery: DeliveryConfig { outbound: policy, ..DeliveryConfig::default() },
        ..EngineConfig::default()
    };
    let (engine, _clock, _dir) = engine_with(config);
    let engine = Arc::new(engine);
    let segment = engine.runtime().install(&fixture("seg-vip")).unwrap().hash();
    let webhook = engine.runtime().install(baton::first_party("channel-webhook").unwrap()).unwrap().hash();
    let mut campaign = welcome_campaign();
    campaign.channel = "webhook".into();
    engine.create_campaign("test", campaign).unwrap();
    engine.bind("test", "welcome", Slot::Segment, segment, serde_json::json!({}), Grants::default()).unwrap();
    let host = reqwest::Url::parse(url).unwrap().host_str().unwrap().trim_matches(['[', ']']).to_owned();
    let grants = Grants { allowed_hosts: vec![host], secrets: vec![] };
    engine
        .bind("test", "welcome", Slot::Channel, webhook, serde_json::json!({ "url": url }), grants)
        .unwrap();
    engine.transition("test", "welcome", CampaignState::Active).unwrap();
    let ada = baton_tests::customer(&engine, "ada", serde_json::json!({"tier": "vip"}), false);
    engine
        .storage()
        .update_profile(ada, 2, |p| p.set_consent("webhook", "marketing", baton::ConsentState::Granted, 2))
        .unwrap();
    assert_eq!(engine.run_batch("test", "welcome", "r1").unwrap().queued, 1);
    let report = engine.deliver_due().await.unwrap();
    let outcome = engine.storage().deliveries("welcome").unwrap().pop().map(|d| d.outcome);
    (report, outcome.unwrap_or(SendOutcome::Rejected { reason: "still pending".into() }))
}

fn http_only() -> OutboundPolicy {
    OutboundPolicy { allow_http: true, allow_networks: vec![] }
}

fn rejected_because(outcome: &SendOutcome, expected: &str) {
    match outcome {
        SendOutcome::Rejected { reason } => assert!(reason.contains(expected), "{reason}"),
        other => panic!("expected a refusal naming {expected}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_loopback_private_and_link_local_addresses_are_refused() {
    let vendor = Vendor::start().await;
    let port = vendor.addr.port();
    for (url, range) in [
        (vendor.url("/send"), "loopback"),
        (format!("http://[::1]:{port}/send"), "loopback"),
        (format!("http://0.0.0.0:{port}/send"), "unspecified"),
        ("http://10.0.0.7/send".to_owned(), "private"),
        ("http://192.168.1.1/send".to_owned(), "private"),
        ("http://169.254.169.254/latest/meta-data/".to_owned(), "link-local"),
        ("http://[::ffff:127.0.0.1]/send".to_owned(), "loopback"),
    ] {
        let (report, outcome) = send_once(http_only(), &url).await;
        assert_eq!(report.rejected, 1, "{url}");
        rejected_because(&outcome, range);
    }
    assert!(vendor.received().is_empty(), "nothing reached the stand-in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_resolving_to_loopback_is_refused_after_resolution() {
    let vendor = Vendor::start().await;
    let url = format!("http://localhost:{}/send", vendor.addr.port());
    let (report, outcome) = send_once(http_only(), &url).await;
    assert_eq!(report.rejected, 1);
    rejected_because(&outcome, "host `localhost` resolves to address");
    assert!(vendor.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_refused_by_default() {
    let vendor = Vendor::start().await;
    let (report, outcome) = send_once(OutboundPolicy::default(), &vendor.url("/send")).await;
    assert_eq!(report.rejected, 1);
    rejected_because(&outcome, "plain http is not allowed; use https");
    assert!(vendor.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_network_is_reached_and_only_it() {
    let vendor = Vendor::start().await;
    let allowed = OutboundPolicy { allow_http: true, allow_networks: vec!["127.0.0.0/8".into()] };
    let (report, _) = send_once(allowed.clone(), &vendor.url("/send")).await;
    assert_eq!(report.delivered, 1);
    let (report, _) =
        send_once(allowed.clone(), &format!("http://localhost:{}/send", vendor.addr.port())).await;
    assert_eq!(report.delivered, 1, "a name resolving into the allowed network");
    let (report, outcome) = send_once(allowed, "http://10.0.0.7/send").await;
    assert_eq!(report.rejected, 1);
    rejected_because(&outcome, "private");
    assert_eq!(vendor.received().len(), 2);
}
