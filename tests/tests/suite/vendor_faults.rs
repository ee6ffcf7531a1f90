//! Vendors that time out or drop the connection: each attempt is retried with a clear reason
//! (never the URL), and nothing is lost.

use std::sync::Arc;

use baton::{DeliveryConfig, EngineConfig, NewEvent, SecretValue};
use baton_tests::{Vendor, activate, customer, echo_grants, engine_with, welcome_campaign};

async fn one_send(url: &str, delivery: DeliveryConfig) -> Arc<baton::Engine> {
    let (engine, _clock, dir) = engine_with(EngineConfig { delivery, ..baton_tests::engine_config() });
    std::mem::forget(dir); // The store outlives this helper; the OS cleans the temp dir.
    activate(&engine, welcome_campaign(), serde_json::json!({}), false, url, echo_grants());
    engine.storage().put_secret("ECHO_TOKEN", &SecretValue::new("t"), &["127.0.0.1".into()]).unwrap();
    customer(&engine, "ada", serde_json::json!({"email": "ada@example.com", "tier": "vip"}), true);
    let event = NewEvent {
        id: "e1".into(),
        user_id: Some("ada".into()),
        anonymous_id: None,
        name: "signed_up".into(),
        timestamp: 1,
        properties: serde_json::Map::new(),
        campaign: None,
    };
    engine.storage().ingest(&[event], 1).unwrap();
    engine.on_events(&[engine.storage().event("e1").unwrap().unwrap()]).unwrap();
    Arc::new(engine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_that_times_out_is_retried() {
    let vendor = Vendor::start().await;
    vendor.set_delay_ms(2_000);
    let url = vendor.url("/send");
    let config = DeliveryConfig { request_timeout_ms: 200, ..baton_tests::delivery_config() };
    let engine = tokio::task::spawn_blocking(move || {
        tokio::runtime::Handle::current().block_on(one_send(&url, config))
    })
    .await
    .unwrap();
    assert_eq!(engine.deliver_due().await.unwrap().retried, 1);
    let pending = engine.storage().pending_sends().unwrap();
    assert_eq!(pending[0].last_error.as_deref(), Some("request to 127.0.0.1 timed out"));
    assert_eq!(pending[0].attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_that_drops_connections_is_retried() {
    // Accepts and closes every connection without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let url = format!("http://{addr}/send");
    let engine = tokio::task::spawn_blocking(move || {
        tokio::runtime::Handle::current().block_on(one_send(&url, baton_tests::delivery_config()))
    })
    .await
    .unwrap();
    assert_eq!(engine.deliver_due().await.unwrap().retried, 1);
    let error = engine.storage().pending_sends().unwrap()[0].last_error.clone().unwrap();
    assert!(
        error == "request to 127.0.0.1 failed in transport"
            || error == "request to 127.0.0.1 could not connect",
        "{error}"
    );
    assert!(!error.contains("/send"), "no URL in errors");
}
