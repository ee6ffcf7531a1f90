//! The API server on 127.0.0.1:0: authentication, the error shape, and native ingest.

use std::sync::Arc;
use std::time::Duration;

use baton::{ApiConfig, Role};
use baton_tests::{activate, echo_grants, engine, http, serve, welcome_campaign};

async fn error_of(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"].as_str().unwrap().to_owned(),
        body["error"]["message"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_open_and_everything_else_needs_a_token_of_the_right_role() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (viewer, _) = engine.storage().create_token("dashboards", Role::Viewer, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = http();

    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!((health.status().as_u16(), health.text().await.unwrap()), (200, "ok".to_owned()));
    assert_eq!(client.get(format!("{base}/readyz")).send().await.unwrap().status().as_u16(), 200);

    let anonymous = client.post(format!("{base}/v1/events")).body("[]").send().await.unwrap();
    assert_eq!(
        error_of(anonymous).await,
        (401, "unauthorized".into(), "send an `Authorization: Bearer <token>` header".into())
    );
    let bogus =
        client.post(format!("{base}/v1/events")).bearer_auth("bt_nope").body("[]").send().await.unwrap();
    assert_eq!(error_of(bogus).await.1, "unauthorized");
    let wrong_role =
        client.post(format!("{base}/v1/events")).bearer_auth(&viewer).body("[]").send().await.unwrap();
    assert_eq!(
        error_of(wrong_role).await,
        (
            403,
            "forbidden".into(),
            "token `dashboards` has role viewer, which may not call POST /v1/events; use a token with role admin or connector".into()
        )
    );
    let revoked_id = engine.storage().tokens().unwrap()[0].id.clone();
    assert!(engine.storage().revoke_token(&revoked_id, 2).unwrap());
    let unknown = client.get(format!("{base}/v1/no/such/route")).send().await.unwrap();
    assert_eq!(error_of(unknown).await.1, "route_not_found");
    let wrong_method = client.get(format!("{base}/v1/events")).send().await.unwrap();
    assert_eq!(error_of(wrong_method).await.0, 405);
    let revoked =
        client.post(format!("{base}/v1/events")).bearer_auth(&viewer).body("[]").send().await.unwrap();
    assert_eq!(
        error_of(revoked).await,
        (401, "unauthorized".into(), "the token is unknown or revoked".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_ingest_answers_per_event_and_keeps_the_valid_ones() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (connector, _) = engine.storage().create_token("website", Role::Connector, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig { max_ingest_bytes: 4_096, ..ApiConfig::default() }).await;
    let client = http();
    let body = concat!(
        r#"{"id":"e1","user_id":"ada","name":"page","timestamp":10}"#,
        "\n",
        r#"{"id":"e2","user_id":"ada","name":"page","timestamp":"yesterday"}"#,
        "\n\n",
        r#"{"id":"e3","anonymous_id":"a-1","name":"page","timestamp":30}"#,
        "\n",
        r#"{"id":"e4","name":"page","timestamp":40}"#,
        "\n"
    );
    let post = |body: String| {
        client
            .post(format!("{base}/v1/events"))
            .bearer_auth(&connector)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
    };
    let response = post(body.to_owned()).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!((answer["stored"].as_u64(), answer["rejected"].as_u64()), (Some(2), Some(2)));
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], "stored");
    assert_eq!(results[1]["status"], "rejected");
    assert!(results[1]["reason"].as_str().unwrap().starts_with("line 2: invalid type: string \"yesterday\""));
    assert_eq!(results[2]["status"], "stored");
    assert_eq!(
        results[3],
        serde_json::json!({"status": "rejected", "reason": "an event needs a `user_id` or an `anonymous_id`"})
    );
    assert_eq!(engine.storage().event_count(), 2);

    let again = post(body.to_owned()).await.unwrap().json::<serde_json::Value>().await.unwrap();
    assert_eq!((again["stored"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(2)));

    let huge = post("x".repeat(5_000)).await.unwrap();
    let (status, code, message) = error_of(huge).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));
    assert!(message.contains("4096 bytes"), "{message}");

    let (admin, _) = engine.storage().create_token("prometheus", Role::Viewer, 3).unwrap();
    let metrics =
        client.get(format!("{base}/metrics")).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("baton_ingested_events_total{result=\"stored\"} 2\n"), "{metrics}");
    assert!(metrics.contains("baton_ingested_events_total{result=\"duplicate\"} 2\n"), "{metrics}");
    assert!(metrics.contains("baton_ingested_events_total{result=\"rejected\"} 4\n"), "{metrics}");
    assert!(metrics.contains("# TYPE baton_outbox_depth gauge\nbaton_outbox_depth 0\n"), "{metrics}");
    assert!(metrics.contains("baton_plugin_calls_total{outcome=\"ok\"} 0\n"), "{metrics}");

    let not_json = client
        .post(format!("{base}/v1/events"))
        .bearer_auth(&connector)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(not_json).await.1, "invalid_json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_ingested_over_http_trigger_campaigns() {
    let (engine, _clock, _dir) = engine();
    activate(
        &engine,
        welcome_campaign(),
        serde_json::json!({}),
        false,
        "http://127.0.0.1:9/send",
        echo_grants(),
    );
    baton_tests::customer(
        &engine,
        "ada",
        serde_json::json!({"email": "ada@example.com", "tier": "vip"}),
        true,
    );
    let engine = Arc::new(engine);
    let (connector, _) = engine.storage().create_token("app", Role::Connector, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let events = serde_json::json!([{"id": "s1", "user_id": "ada", "name": "signed_up", "timestamp": 1_750_000_000_000_i64}]);
    let answer =
        http().post(format!("{base}/v1/events")).bearer_auth(&connector).json(&events).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    // Triggers run right after the acknowledgement.
    for _ in 0..500 {
        if engine.storage().outbox_len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(engine.storage().outbox_len(), 1);
}
