//! Bounded input: a write-key holder cannot store unbounded events or move them far into the
//! future; each oversized part is refused per event with the cap that refused it, and the rest of
//! the batch is stored. Retention runs by itself and is audited as the system.

use std::sync::Arc;

use baton::{ApiConfig, EngineConfig, NewEvent, Role};
use baton_tests::{engine, engine_with, http, serve};

const NOW: i64 = 1_750_000_000_000;

/// Posts `events` to the native ingest endpoint with `write_key`; the per-event answer.
async fn ingest(base: &str, write_key: &str, events: &serde_json::Value) -> serde_json::Value {
    http()
        .post(format!("{base}/v1/events"))
        .bearer_auth(write_key)
        .json(events)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_or_far_future_events_are_refused_each_with_its_cap() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (write_key, _) = engine.storage().create_token("app", Role::Connector, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let long = "x".repeat(300);
    let events = serde_json::json!([
        {"id": long, "user_id": "ada", "name": "page", "timestamp": NOW},
        {"id": "e2", "user_id": "ada", "name": long, "timestamp": NOW},
        {"id": "e3", "user_id": long, "name": "page", "timestamp": NOW},
        {"id": "e4", "user_id": "ada", "name": "page", "timestamp": NOW, "properties": {"blob": "y".repeat(40_000)}},
        {"id": "e5", "user_id": "ada", "name": "page", "timestamp": NOW + 2 * 86_400_000_i64},
        {"id": "e6", "user_id": "ada", "name": "page", "timestamp": NOW - 400 * 86_400_000_i64},
    ]);
    let answer = ingest(&base, &write_key, &events).await;
    let reasons: Vec<&str> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap_or("stored"))
        .collect();
    assert!(
        reasons[0].contains("`id` is 300 bytes, over the cap of 256 (`api.events.max_id_bytes`)"),
        "{}",
        reasons[0]
    );
    assert!(reasons[1].contains("`name` is 300 bytes, over the cap of 256"), "{}", reasons[1]);
    assert!(reasons[2].contains("over the cap of 256 (`api.events.max_identity_bytes`)"), "{}", reasons[2]);
    assert!(reasons[3].contains("over the cap of 32768 (`api.events.max_property_bytes`)"), "{}", reasons[3]);
    assert!(
        reasons[4].contains("172800 s after the time of receipt, over the cap of 86400 s"),
        "{}",
        reasons[4]
    );
    assert_eq!(reasons[5], "stored", "history is accepted by default");
    assert_eq!((answer["stored"].as_u64(), answer["rejected"].as_u64()), (Some(1), Some(5)));
    assert_eq!(engine.storage().event_count(), 1);

    // Segment traits are capped the same way.
    let identify = serde_json::json!({"userId": "ada", "traits": {"blob": "y".repeat(40_000)}});
    let answer: serde_json::Value = http()
        .post(format!("{base}/v1/identify"))
        .basic_auth(&write_key, Some(""))
        .json(&identify)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reason = answer["results"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("traits: properties are"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caps_are_configurable() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (write_key, _) = engine.storage().create_token("app", Role::Connector, 1).unwrap();
    let mut config = ApiConfig::default();
    config.events.max_past_ms = Some(30 * 86_400_000);
    config.events.max_name_bytes = 4;
    let base = serve(engine.clone(), config).await;
    let events = serde_json::json!([
        {"id": "old", "user_id": "ada", "name": "page", "timestamp": NOW - 31 * 86_400_000_i64},
        {"id": "long", "user_id": "ada", "name": "pages", "timestamp": NOW},
    ]);
    let answer = ingest(&base, &write_key, &events).await;
    assert!(answer["results"][0]["reason"].as_str().unwrap().contains("(`api.events.max_past_ms`)"));
    assert!(answer["results"][1]["reason"].as_str().unwrap().contains("over the cap of 4"));
}

#[test]
fn retention_runs_from_the_tick_and_is_audited_as_the_system() {
    let config = EngineConfig { keep_events_ms: Some(30 * 86_400_000), ..baton_tests::engine_config() };
    let (engine, _clock, _dir) = engine_with(config);
    let event = |id: &str, timestamp: i64| NewEvent {
        id: id.into(),
        user_id: Some("ada".into()),
        anonymous_id: None,
        name: "page".into(),
        timestamp,
        properties: serde_json::Map::new(),
        campaign: None,
    };
    engine
        .storage()
        .ingest(&[event("old", NOW - 31 * 86_400_000), event("new", NOW - 86_400_000)], NOW)
        .unwrap();
    let report = engine.tick().unwrap();
    assert_eq!(report.purged_events, 1);
    assert!(engine.storage().event("old").unwrap().is_none());
    assert!(engine.storage().event("new").unwrap().is_some());
    let audit = engine.storage().audit_log(10).unwrap();
    assert!(audit.iter().any(|r| r.actor == "system" && r.action.contains("purge")), "{audit:?}");
    // Once an hour, not on every tick.
    assert_eq!(engine.tick().unwrap().purged_events, 0);
}
