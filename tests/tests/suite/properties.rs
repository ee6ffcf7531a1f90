//! Property tests (the CI-sized stand-in for fuzzing): parsers of untrusted input never panic,
//! and answer every input with a result or a clear refusal.

use std::sync::Arc;

use baton::{ApiConfig, Role};
use baton_tests::{engine, fixture, http, runtime, serve};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

/// Arbitrary JSON, a few levels deep, with the field names the parsers look for mixed in.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        "[a-z_ {}%.:@-]{0,12}".prop_map(serde_json::Value::from),
    ];
    let keys = prop_oneof![
        Just("id".to_owned()),
        Just("user_id".to_owned()),
        Just("name".to_owned()),
        Just("timestamp".to_owned()),
        Just("type".to_owned()),
        Just("messageId".to_owned()),
        Just("all".to_owned()),
        Just("any".to_owned()),
        Just("not".to_owned()),
        Just("attribute".to_owned()),
        Just("op".to_owned()),
        Just("value".to_owned()),
        Just("event".to_owned()),
        Just("count".to_owned()),
        "[a-z]{1,6}",
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn condition_trees_parse_or_name_their_fault(tree in json()) {
        match baton_sdk::conditions::parse(&tree, "") {
            Ok(_) => {}
            Err((path, message)) => {
                prop_assert!(path.is_empty() || path.starts_with('/'));
                prop_assert!(!message.is_empty());
            }
        }
    }

    #[test]
    fn campaign_definitions_parse_or_refuse(value in json()) {
        if let Ok(campaign) = serde_json::from_value::<baton::Campaign>(value) {
            let _ = campaign.problems();
        }
    }
}

/// Ingest and Segment endpoints answer arbitrary bodies with 200 (per-event results) or a 4xx
/// with a stable code; never a 5xx, never a dropped connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_endpoints_never_fail_on_malformed_input() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (token, _) = engine.storage().create_token("fuzz", Role::Connector, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = http();
    let mut runner =
        proptest::test_runner::TestRunner::new(ProptestConfig { cases: 96, ..ProptestConfig::default() });
    let bodies = prop_oneof![
        json().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(json(), 0..5)
            .prop_map(|v| serde_json::to_vec(&serde_json::json!({"batch": v})).unwrap()),
        prop::collection::vec(any::<u8>(), 0..200),
    ];
    for _ in 0..96 {
        let body = bodies.new_tree(&mut runner).unwrap().current();
        for path in ["/v1/events", "/v1/batch", "/v1/track", "/v1/identify", "/v1/alias"] {
            let response = client
                .post(format!("{base}{path}"))
                .bearer_auth(&token)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let answer: serde_json::Value = response.json().await.unwrap();
            assert!(status == 200 || (400..500).contains(&status), "{path} answered {status}");
            if status != 200 {
                assert!(answer["error"]["code"].is_string(), "{path}: {answer}");
            }
        }
    }
}

/// Installing mutated and truncated components fails with an error, never a panic or a
/// half-recorded plugin.
#[test]
fn install_refuses_mutated_components_cleanly() {
    let (runtime, _dir) = runtime();
    let good = fixture("seg-vip");
    let mut runner =
        proptest::test_runner::TestRunner::new(ProptestConfig { cases: 40, ..ProptestConfig::default() });
    let mutations = (0..good.len(), any::<u8>(), 0..good.len());
    let mut installed = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let (at, byte, cut) = mutations.new_tree(&mut runner).unwrap().current();
        let mut bytes = good.clone();
        bytes[at] = byte;
        for attempt in [runtime.install(&bytes), runtime.install(&good[..cut])] {
            if let Ok(plugin) = attempt {
                installed.insert(plugin.hash());
            }
        }
    }
    // Some single-byte changes are harmless (in a name or padding). Exactly the plugins whose
    // install succeeded are recorded, each with its component.
    let recorded: std::collections::BTreeSet<_> =
        runtime.storage().plugins().unwrap().into_iter().map(|r| r.hash).collect();
    assert_eq!(recorded, installed);
    for hash in &recorded {
        assert!(runtime.storage().component(hash).unwrap().is_some(), "recorded without its component");
    }
}
