//! `channel-webhook` through the host: secrets substituted and the body signed by the host, the
//! adapter never seeing either key.

use std::sync::Arc;

use baton::{Grants, NewEvent, SecretValue, Slot};
use baton_tests::{Vendor, customer, engine, fixture, welcome_campaign};
use hmac::{Hmac, Mac};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_signs_the_webhook_body_with_a_secret_the_plugin_never_sees() {
    let vendor = Vendor::start().await;
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let segment = engine.runtime().install(&fixture("seg-vip")).unwrap().hash();
    let webhook = engine.runtime().install(baton::first_party("channel-webhook").unwrap()).unwrap().hash();
    let mut campaign = welcome_campaign();
    campaign.channel = "webhook".into();
    engine.create_campaign("test", campaign).unwrap();
    engine.bind("test", "welcome", Slot::Segment, segment, serde_json::json!({}), Grants::default()).unwrap();
    let config = serde_json::json!({
        "url": vendor.url("/hooks/welcome"),
        "headers": {"x-api-key": "{{secret:HOOK_KEY}}"},
        "fields": {"user": "recipient", "text": "body", "ref": "idempotency_key"},
        "sign_with": "SIGNING"
    });
    let grants = Grants {
        allowed_hosts: vec!["127.0.0.1".into()],
        secrets: vec!["HOOK_KEY".into(), "SIGNING".into()],
    };
    engine.bind("test", "welcome", Slot::Channel, webhook, config, grants).unwrap();
    engine.transition("test", "welcome", baton::CampaignState::Active).unwrap();
    engine.storage().put_secret("HOOK_KEY", &SecretValue::new("key-123"), &["127.0.0.1".into()]).unwrap();
    engine.storage().put_secret("SIGNING", &SecretValue::new("signing-key"), &["127.0.0.1".into()]).unwrap();
    let ada = customer(&engine, "ada", serde_json::json!({"tier": "vip"}), false);
    // Webhooks are transactional-style here: consent for the webhook channel.
    engine
        .storage()
        .update_profile(ada, 2, |p| p.set_consent("webhook", "marketing", baton::ConsentState::Granted, 2))
        .unwrap();
    let event = NewEvent {
        id: "s1".into(),
        user_id: Some("ada".into()),
        anonymous_id: None,
        name: "signed_up".into(),
        timestamp: 1,
        properties: serde_json::Map::new(),
        campaign: None,
    };
    engine.storage().ingest(&[event], 1).unwrap();
    engine.on_events(&[engine.storage().event("s1").unwrap().unwrap()]).unwrap();
    assert_eq!(engine.deliver_due().await.unwrap().delivered, 1);

    let received = vendor.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.line, "POST /hooks/welcome");
    assert_eq!(request.header("x-api-key"), Some("key-123"));
    let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["user"], ada.to_string());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"signing-key").unwrap();
    mac.update(request.body.as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(request.header("x-baton-signature"), Some(expected.as_str()));
}
