//! The Segment-compatible Tracking API, as analytics client libraries call it.

use std::sync::Arc;

use baton::{ApiConfig, Identity, Role};
use baton_tests::{engine, http, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_identify_then_track_is_stitched_to_one_profile_and_message_ids_dedupe() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (write_key, _) = engine.storage().create_token("web-source", Role::Connector, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let batch = serde_json::json!({
        "batch": [
            {"type": "page", "messageId": "m0", "anonymousId": "anon-7", "name": "Pricing",
             "timestamp": "2025-06-10T10:00:00Z", "context": {"ip": "8.8.8.8"}},
            {"type": "identify", "messageId": "m1", "anonymousId": "anon-7", "userId": "user-42",
             "traits": {"email": "ada@example.com", "plan": "pro"}},
            {"type": "track", "messageId": "m2", "userId": "user-42", "event": "Order Completed",
             "properties": {"revenue": 42.5}, "timestamp": "2025-06-10T10:05:00Z"}
        ],
        "sentAt": "2025-06-10T10:05:01Z"
    });
    let client = http();
    let send =
        || client.post(format!("{base}/v1/batch")).basic_auth(&write_key, Some("")).json(&batch).send();
    let answer: serde_json::Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["success"], true);
    assert_eq!(answer["stored"], 3);

    let profile = engine.storage().profile_by_identity(&Identity::User("user-42".into())).unwrap().unwrap();
    assert_eq!(
        profile.identities,
        vec![Identity::Anonymous("anon-7".into()), Identity::User("user-42".into())]
    );
    assert_eq!(profile.attributes["plan"], "pro");
    let events = engine.storage().events_of(profile.id).unwrap();
    let names: Vec<(&str, &str)> = events.iter().map(|e| (e.id.as_str(), e.name.as_str())).collect();
    assert_eq!(names, vec![("m0", "page"), ("m2", "Order Completed")]);
    assert_eq!(events[0].properties["name"], "Pricing");
    assert_eq!(events[0].timestamp, 1_749_549_600_000);
    assert_eq!(events[1].properties["revenue"], 42.5);

    // A client retrying the batch: stored once.
    let again: serde_json::Value = send().await.unwrap().json().await.unwrap();
    assert_eq!((again["stored"].as_u64(), again["duplicates"].as_u64()), (Some(1), Some(2)));
    assert_eq!(engine.storage().event_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_calls_alias_and_errors() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (write_key, _) = engine.storage().create_token("app", Role::Connector, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = http();
    let post = |path: &str, body: serde_json::Value| {
        client.post(format!("{base}{path}")).basic_auth(&write_key, None::<&str>).json(&body).send()
    };
    let tracked =
        post("/v1/track", serde_json::json!({"messageId": "t1", "userId": 1001, "event": "Signed Up"}))
            .await
            .unwrap();
    assert_eq!(tracked.status().as_u16(), 200);
    post("/v1/track", serde_json::json!({"messageId": "t2", "anonymousId": "old-id", "event": "Login"}))
        .await
        .unwrap();
    let aliased: serde_json::Value =
        post("/v1/alias", serde_json::json!({"previousId": "old-id", "userId": "1001"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(aliased["stored"], 1);
    let profile =
        engine.storage().profile_by_identity(&Identity::Anonymous("old-id".into())).unwrap().unwrap();
    assert_eq!(profile.identities.len(), 2);
    assert_eq!(engine.storage().events_of(profile.id).unwrap().len(), 2);
    // Two known users are not merged by a write-key holder: the alias is refused, with why.
    post("/v1/track", serde_json::json!({"messageId": "t3", "userId": "someone-else", "event": "Login"}))
        .await
        .unwrap();
    let refused: serde_json::Value =
        post("/v1/alias", serde_json::json!({"previousId": "someone-else", "userId": "1001"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(refused["rejected"], 1);
    let reason = refused["results"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("alias refused: `someone-else` and `1001` are two known users"), "{reason}");

    let missing_id: serde_json::Value = post("/v1/track", serde_json::json!({"userId": "x", "event": "E"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(missing_id["results"][0]["reason"], "message 0: `messageId` is required");
    let unknown = post("/v1/purchase", serde_json::json!({})).await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let no_key = client.post(format!("{base}/v1/track")).json(&serde_json::json!({})).send().await.unwrap();
    assert_eq!(no_key.status().as_u16(), 401);
}

/// What the official libraries do beyond the plain calls: gzip bodies (bounded after
/// decompression as before it), errors with `code` and `message` where they read them, the
/// sender's clock corrected, and consent from Segment's consent context and from events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_clock_skew_consent_and_client_shaped_errors() {
    use std::io::Write as _;
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (write_key, _) = engine.storage().create_token("app", Role::Connector, 1).unwrap();
    let config = ApiConfig { max_ingest_bytes: 64 * 1024, ..ApiConfig::default() };
    let base = serve(engine.clone(), config).await;
    let client = http();
    let gzip = |bytes: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    };
    let post = |body: Vec<u8>, encoding: &str| {
        client
            .post(format!("{base}/v1/batch"))
            .basic_auth(&write_key, Some(""))
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(body)
            .send()
    };

    // The device's clock is an hour fast; the ten seconds between its event and its send are
    // real. Consent comes from the consent context, then an unsubscribe event withdraws SMS.
    let batch = serde_json::json!({
        "batch": [
            {"type": "identify", "messageId": "i1", "userId": "bo", "traits": {"email": "bo@example.com"},
             "context": {"consent": {"categoryPreferences": {"marketing": true, "analytics": false}},
                         "timezone": "Not/AZone"}},
            {"type": "track", "messageId": "t1", "userId": "bo", "event": "Song Played",
             "originalTimestamp": "2025-06-15T16:06:30Z"},
            {"type": "track", "messageId": "t2", "userId": "bo", "event": "unsubscribed",
             "properties": {"channel": "sms"}}
        ],
        "sentAt": "2025-06-15T16:06:40Z"
    });
    let response = post(gzip(batch.to_string().as_bytes()), "gzip").await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["stored"], 3, "{answer}");
    engine.drain_triggers().unwrap();
    let bo = engine.storage().profile_by_identity(&Identity::User("bo".into())).unwrap().unwrap();
    let events = engine.storage().events_of(bo.id).unwrap();
    let played = events.iter().find(|e| e.id == "t1").unwrap();
    assert_eq!(played.timestamp, 1_750_000_000_000 - 10_000, "received at the engine's time, less 10 s");
    assert_eq!(bo.timezone, None, "an invalid time zone is not stored");
    let bo = engine.storage().profile(bo.id).unwrap().unwrap();
    assert_eq!(bo.consent("email", "marketing"), Some(baton::ConsentState::Granted));
    assert_eq!(bo.consent("sms", "marketing"), Some(baton::ConsentState::Denied));
    let sources: Vec<(&str, &str)> =
        bo.consent_history.iter().map(|c| (c.key.as_str(), c.source.as_str())).collect();
    assert_eq!(
        sources,
        [
            ("email:marketing", "context.consent:marketing"),
            ("sms:marketing", "context.consent:marketing"),
            ("push:marketing", "context.consent:marketing"),
            ("sms:marketing", "event:unsubscribed"),
        ]
    );

    // A small gzip body that expands past the limit is refused like a large one.
    let bomb = gzip(&vec![b' '; 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024);
    let response = post(bomb, "gzip").await.unwrap();
    assert_eq!(response.status(), 413);
    // Errors carry `code` and `message` at the top level too, where the clients read them.
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (body["code"].as_str(), body["error"]["code"].as_str()),
        (Some("payload_too_large"), Some("payload_too_large"))
    );
    assert!(body["message"].as_str().unwrap().contains("65536 bytes"), "{body}");
    let response = post(b"not gzip".to_vec(), "gzip").await.unwrap();
    assert_eq!(response.status(), 400);
    let response = post(batch.to_string().into_bytes(), "br").await.unwrap();
    assert_eq!(response.status(), 415);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "unsupported_encoding");
}

/// A browser's analytics.js (analytics-next) posts `text/plain` bodies, so that no CORS
/// preflight is needed, with the write key in the body instead of a header, to the one-letter
/// paths (`/v1/t`, `/v1/p`, ...) or, batching, to `/v1/b`. The answer is readable by any page.
/// A write key in a body is read on the ingest routes only, and only when no header names a
/// token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_js_sends_its_write_key_in_a_text_body() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (write_key, _) = engine.storage().create_token("web", Role::Connector, 1).unwrap();
    let (viewer, _) = engine.storage().create_token("dash", Role::Viewer, 1).unwrap();
    let (admin, _) = engine.storage().create_token("ops", Role::Admin, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = http();
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{base}{path}"))
            .header("content-type", "text/plain")
            .body(body.to_string())
            .send()
    };
    let page = serde_json::json!({
        "type": "page", "messageId": "ajs-1", "anonymousId": "anon-9", "name": "Home",
        "writeKey": write_key, "context": {"page": {"path": "/"}, "timezone": "Europe/Paris"}
    });
    let response = post("/v1/p", page).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["stored"], 1);

    let batch = serde_json::json!({
        "batch": [
            {"type": "identify", "messageId": "ajs-2", "anonymousId": "anon-9", "userId": "u-9",
             "traits": {"email": "nine@example.com"}},
            {"type": "track", "messageId": "ajs-3", "userId": "u-9", "event": "Signed Up"}
        ],
        "writeKey": write_key,
        "sentAt": "2026-11-30T08:00:00Z"
    });
    let answer: serde_json::Value = post("/v1/b", batch).await.unwrap().json().await.unwrap();
    assert_eq!((answer["stored"].as_u64(), answer["rejected"].as_u64()), (Some(2), Some(0)));
    let profile = engine.storage().profile_by_identity(&Identity::User("u-9".into())).unwrap().unwrap();
    assert_eq!(profile.identities, vec![Identity::Anonymous("anon-9".into()), Identity::User("u-9".into())]);
    assert_eq!(profile.timezone.as_deref(), Some("Europe/Paris"));
    let names: Vec<String> =
        engine.storage().events_of(profile.id).unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, vec!["page".to_owned(), "Signed Up".to_owned()]);

    // A wrong key is 401; a key of a role that may not ingest is 403, as in a header.
    let track =
        |key: &str| serde_json::json!({"messageId": "x", "userId": "u", "event": "E", "writeKey": key});
    assert_eq!(post("/v1/t", track("bt_nope")).await.unwrap().status().as_u16(), 401);
    assert_eq!(post("/v1/t", track(&viewer)).await.unwrap().status().as_u16(), 403);
    // Only ingest routes read a key from the body, and a header wins over it.
    let campaigns = client
        .post(format!("{base}/v1/campaigns"))
        .body(serde_json::json!({"writeKey": admin}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(campaigns.status().as_u16(), 401);
    let headed = client
        .post(format!("{base}/v1/t"))
        .bearer_auth("bt_nope")
        .body(track(&write_key).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(headed.status().as_u16(), 401);
}
