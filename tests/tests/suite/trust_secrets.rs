//! Attacks on secrets, performed literally: customer data that looks like a placeholder, an
//! orchestrator pointing a secret at a host of their choosing, a vendor that echoes what it was
//! sent. Each must fail: the data reaches the vendor literally, the secret goes nowhere outside
//! its scope, and no record, plugin input or file in the data directory holds its value.

use std::sync::Arc;

use baton::{ApiConfig, CampaignState, Grants, Role, SecretValue, Slot};
use baton_tests::{Vendor, engine, fixture, http, serve, welcome_campaign};

const TOKEN: &str = "tok-live-5f2a9c";

/// Binds the first-party Liquid personalizer and webhook adapter to the welcome campaign, the
/// webhook sending `Authorization: Bearer {{secret:HOOK_TOKEN}}` and the message's text, address
/// and idempotency key in its body.
fn welcome_by_webhook(engine: &baton::Engine, url: &str) {
    let segment = engine.runtime().install(&fixture("seg-vip")).unwrap().hash();
    let liquid = engine.runtime().install(baton::first_party("personalize-liquid").unwrap()).unwrap().hash();
    let webhook = engine.runtime().install(baton::first_party("channel-webhook").unwrap()).unwrap().hash();
    let mut campaign = welcome_campaign();
    campaign.message.subject = Some("Welcome".into());
    campaign.message.body =
        "Hello {{ profile.first_name }}, your code is {{ event.properties.coupon }}".into();
    engine.create_campaign("test", campaign).unwrap();
    engine.bind("test", "welcome", Slot::Segment, segment, serde_json::json!({}), Grants::default()).unwrap();
    engine
        .bind("test", "welcome", Slot::Personalizer, liquid, serde_json::json!({}), Grants::default())
        .unwrap();
    let config = serde_json::json!({
        "url": url,
        "headers": {"authorization": "Bearer {{secret:HOOK_TOKEN}}"},
        "fields": {"to": "recipient", "text": "body", "ref": "idempotency_key"}
    });
    let grants = Grants { allowed_hosts: vec!["127.0.0.1".into()], secrets: vec!["HOOK_TOKEN".into()] };
    engine.bind("test", "welcome", Slot::Channel, webhook, config, grants).unwrap();
    engine.transition("test", "welcome", CampaignState::Active).unwrap();
}

/// With only the write key: identify as the attacker with a trait holding a placeholder, then
/// trigger the welcome campaign with an event whose id and properties hold placeholders too.
async fn attack_with_the_write_key(engine: &Arc<baton::Engine>) {
    let (write_key, _) = engine.storage().create_token("web", Role::Connector, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = http();
    let identify = serde_json::json!({
        "userId": "mallory",
        "traits": {"email": "mallory@attacker.test", "first_name": "{{secret:HOOK_TOKEN}}", "tier": "vip"}
    });
    let answer = client
        .post(format!("{base}/v1/identify"))
        .basic_auth(&write_key, Some(""))
        .json(&identify)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let mallory =
        engine.storage().profile_by_identity(&baton::Identity::User("mallory".into())).unwrap().unwrap().id;
    engine
        .storage()
        .update_profile(mallory, 2, |p| p.set_consent("email", "marketing", baton::ConsentState::Granted, 2))
        .unwrap();
    let track = serde_json::json!({
        "userId": "mallory",
        "event": "signed_up",
        "messageId": "{{secret:HOOK_TOKEN}}",
        "properties": {"coupon": "{{base64:{{secret:HOOK_TOKEN}}}}"}
    });
    let answer = client
        .post(format!("{base}/v1/track"))
        .basic_auth(&write_key, Some(""))
        .json(&track)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    for _ in 0..500 {
        if engine.storage().outbox_len() == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the trigger queued no send");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trait_property_or_message_id_holding_a_secret_placeholder_reaches_the_vendor_literally() {
    let vendor = Vendor::start().await;
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    welcome_by_webhook(&engine, &vendor.url("/hooks/welcome"));
    engine.storage().put_secret("HOOK_TOKEN", &SecretValue::new(TOKEN), &["127.0.0.1".into()]).unwrap();
    attack_with_the_write_key(&engine).await;
    assert_eq!(engine.deliver_due().await.unwrap().delivered, 1);

    let received = vendor.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    // The adapter's own placeholder still works...
    assert_eq!(request.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    // ...and what came from data arrives exactly as the attacker wrote it.
    let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["to"], "mallory@attacker.test");
    assert_eq!(body["text"], "Hello {{secret:HOOK_TOKEN}}, your code is {{base64:{{secret:HOOK_TOKEN}}}}");
    assert!(body["ref"].as_str().unwrap().ends_with(":{{secret:HOOK_TOKEN}}"), "{}", body["ref"]);
    assert!(!request.body.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orchestrator_cannot_send_a_secret_to_a_host_outside_its_scope() {
    let vendor = Vendor::start().await;
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    // The admin scopes the secret to its vendor.
    engine
        .storage()
        .put_secret("SENDGRID_API_KEY", &SecretValue::new(TOKEN), &["api.sendgrid.com".into()])
        .unwrap();
    let webhook = engine.runtime().install(baton::first_party("channel-webhook").unwrap()).unwrap().hash();
    let segment = engine.runtime().install(&fixture("seg-vip")).unwrap().hash();
    let (orchestrator, _) = engine.storage().create_token("mallory", Role::Orchestrator, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = http();
    let call = |method: reqwest::Method, path: &str, body: serde_json::Value| {
        client.request(method, format!("{base}{path}")).bearer_auth(&orchestrator).json(&body).send()
    };
    let mut campaign = serde_json::to_value(welcome_campaign()).unwrap();
    campaign["channel"] = "webhook".into();
    assert_eq!(call(reqwest::Method::POST, "/v1/campaigns", campaign).await.unwrap().status().as_u16(), 201);
    let bind = serde_json::json!({"plugin": segment, "config": {}});
    assert_eq!(
        call(reqwest::Method::PUT, "/v1/campaigns/welcome/bindings/segment", bind).await.unwrap().status(),
        200
    );
    // The orchestrator grants their own host and the secret, in a header and as a signing key.
    let bind = serde_json::json!({
        "plugin": webhook,
        "config": {"url": vendor.url("/steal"), "headers": {"x-stolen": "{{secret:SENDGRID_API_KEY}}"}},
        "grants": {"allowed_hosts": ["127.0.0.1"], "secrets": ["SENDGRID_API_KEY"]}
    });
    assert_eq!(
        call(reqwest::Method::PUT, "/v1/campaigns/welcome/bindings/channel", bind).await.unwrap().status(),
        200
    );
    assert_eq!(
        call(reqwest::Method::POST, "/v1/campaigns/welcome/activate", serde_json::json!({}))
            .await
            .unwrap()
            .status(),
        200
    );
    let ada = baton_tests::customer(&engine, "ada", serde_json::json!({"tier": "vip"}), false);
    engine
        .storage()
        .update_profile(ada, 2, |p| p.set_consent("webhook", "marketing", baton::ConsentState::Granted, 2))
        .unwrap();
    let run = call(reqwest::Method::POST, "/v1/campaigns/welcome/runs", serde_json::json!({"run": "r1"}))
        .await
        .unwrap();
    assert_eq!(run.status().as_u16(), 200);
    assert_eq!(engine.deliver_due().await.unwrap().rejected, 1);
    assert!(vendor.received().is_empty(), "nothing reached the orchestrator's host");
    let deliveries = engine.storage().deliveries("welcome").unwrap();
    let baton::SendOutcome::Rejected { reason } = &deliveries[0].outcome else { panic!("{deliveries:?}") };
    assert!(reason.contains("may be sent only to api.sendgrid.com, not to `127.0.0.1`"), "{reason}");

    // The same as a signing key.
    let bind = serde_json::json!({
        "plugin": webhook,
        "config": {"url": vendor.url("/steal"), "sign_with": "SENDGRID_API_KEY"},
        "grants": {"allowed_hosts": ["127.0.0.1"], "secrets": ["SENDGRID_API_KEY"]}
    });
    assert_eq!(
        call(reqwest::Method::PUT, "/v1/campaigns/welcome/bindings/channel", bind).await.unwrap().status(),
        200
    );
    let run = call(reqwest::Method::POST, "/v1/campaigns/welcome/runs", serde_json::json!({"run": "r2"}))
        .await
        .unwrap();
    assert_eq!(run.status().as_u16(), 200);
    assert_eq!(engine.deliver_due().await.unwrap().rejected, 1);
    assert!(vendor.received().is_empty(), "no signature made with it reached the orchestrator's host");
}

/// Every file under `dir`, searched for `needle`.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle) {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_echoing_the_secret_leaves_it_in_no_record_and_no_file() {
    let vendor = Vendor::start().await;
    vendor.echo_requests();
    let (engine, _clock, dir) = engine();
    let engine = Arc::new(engine);
    welcome_by_webhook(&engine, &vendor.url("/hooks/welcome"));
    engine.storage().put_secret("HOOK_TOKEN", &SecretValue::new(TOKEN), &["127.0.0.1".into()]).unwrap();
    attack_with_the_write_key(&engine).await;
    // Accepted, with the credential echoed as the receipt id.
    assert_eq!(engine.deliver_due().await.unwrap().delivered, 1);
    let deliveries = engine.storage().deliveries("welcome").unwrap();
    assert_eq!(
        deliveries[0].outcome,
        baton::SendOutcome::Delivered { receipt: Some("Bearer [secret]".into()) },
        "the receipt is scrubbed before the adapter reads it"
    );
    // Refused, with the credential echoed in the body the adapter quotes in its reason.
    vendor.answer(&[(400, &[])]);
    engine.storage().put_secret("HOOK_TOKEN", &SecretValue::new(TOKEN), &["127.0.0.1".into()]).unwrap();
    let profile = deliveries[0].profile;
    let again = baton::NewEvent {
        id: "second".into(),
        user_id: Some("mallory".into()),
        anonymous_id: None,
        name: "signed_up".into(),
        timestamp: 2,
        properties: serde_json::Map::new(),
        campaign: None,
    };
    engine.storage().ingest(&[again], 3).unwrap();
    engine.on_events(&[engine.storage().event("second").unwrap().unwrap()]).unwrap();
    assert_eq!(engine.deliver_due().await.unwrap().rejected, 1);
    let deliveries = engine.storage().deliveries("welcome").unwrap();
    let rejected =
        deliveries.iter().find(|d| matches!(d.outcome, baton::SendOutcome::Rejected { .. })).unwrap();
    let baton::SendOutcome::Rejected { reason } = &rejected.outcome else { unreachable!() };
    assert!(reason.contains("authorization: Bearer [secret]"), "{reason}");
    assert_eq!(rejected.profile, profile);

    // Nothing Baton keeps holds the value: not the records, not the files of the data directory.
    let export =
        serde_json::to_string(&engine.storage().export_profile(profile, "test", 4).unwrap()).unwrap();
    assert!(!export.contains(TOKEN));
    drop(engine);
    assert_eq!(files_containing(dir.path(), TOKEN.as_bytes()), Vec::<std::path::PathBuf>::new());
}
