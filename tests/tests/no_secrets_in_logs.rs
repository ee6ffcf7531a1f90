//! Tokens and secret values never appear in logs, API responses or error messages, even at TRACE
//! level and even when a vendor fails or echoes the request back.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use baton::{ApiConfig, Role};
use baton_tests::{Vendor, activate, customer, engine, http, serve, welcome_campaign};

/// Collects everything the process logs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_secrets_stay_out_of_logs_and_answers() {
    let captured = Captured::default();
    let writer = captured.clone();
    // Everything at TRACE but the code generator's and the store engine's own chatter, which
    // carry no request data. (sled logs at trace from thread-local destructors when a worker
    // thread ends, after tracing's own thread-local state is gone: that aborts the process at
    // random, whatever Baton logs.)
    let filter = tracing_subscriber::EnvFilter::new(
        "trace,cranelift=info,wasmtime_internal_cranelift=info,regalloc2=info,wasmtime=info,sled=info",
    );
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let vendor = Vendor::start().await;
    // The vendor fails once, echoing the headers it got (as some vendors do in error bodies).
    vendor.answer(&[(500, &[])]);
    let (engine, clock, _dir) = engine();
    activate(
        &engine,
        welcome_campaign(),
        serde_json::json!({}),
        false,
        &vendor.url("/send"),
        baton_tests::echo_grants(),
    );
    customer(&engine, "ada", serde_json::json!({"email": "ada@example.com", "tier": "vip"}), true);
    let engine = Arc::new(engine);
    let (token, _) = engine.storage().create_token("root", Role::Admin, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = http();
    const SECRET: &str = "sk_live_7f3c9a2e-VERY-SECRET";

    // The secret goes in through the API; nothing about it comes back.
    let set = client
        .put(format!("{base}/v1/secrets/ECHO_TOKEN"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"value": SECRET, "hosts": ["127.0.0.1"]}))
        .send()
        .await
        .unwrap();
    let mut answers = set.text().await.unwrap();
    for path in ["/v1/secrets", "/v1/tokens", "/v1/audit", "/v1/campaigns/welcome", "/metrics"] {
        answers.push_str(
            &client
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
    }
    // A wrong token, a wrong route: errors must not echo what was presented.
    answers.push_str(
        &client
            .get(format!("{base}/v1/tokens"))
            .bearer_auth(format!("{token}x"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );

    // Trigger, fail once at the vendor, retry, deliver.
    let event = serde_json::json!([{"id": "s1", "user_id": "ada", "name": "signed_up", "timestamp": 1}]);
    client.post(format!("{base}/v1/events")).bearer_auth(&token).json(&event).send().await.unwrap();
    for _ in 0..200 {
        if engine.storage().outbox_len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(engine.deliver_due().await.unwrap().retried, 1);
    clock.set(1_750_000_000_000 + 3_600_000);
    assert_eq!(engine.deliver_due().await.unwrap().delivered, 1);
    // The vendor did receive the secret: substitution happened, at the last moment.
    assert_eq!(vendor.received()[1].header("authorization"), Some(format!("Bearer {SECRET}").as_str()));
    for record in engine.storage().deliveries("welcome").unwrap() {
        answers.push_str(&serde_json::to_string(&record).unwrap());
    }
    answers.push_str(&serde_json::to_string(&engine.storage().audit_log(100).unwrap()).unwrap());

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("Plugin call finished."), "TRACE logs were captured");
    for (what, text) in [("logs", &logs), ("answers and records", &answers)] {
        assert!(!text.contains(SECRET), "the secret leaked into {what}");
        assert!(!text.contains(&token), "the token leaked into {what}");
    }
}
