//! `segment-conditions` through the host: the embedded first-party component judging real
//! profiles with event histories, via an audience count.

use baton::{Identity, NewEvent};
use baton_tests::engine;

const NOW: i64 = 1_750_000_000_000;
const DAY: i64 = 86_400_000;

#[test]
fn a_condition_tree_over_attributes_and_event_windows() {
    let (engine, _clock, _dir) = engine();
    let plugin = engine.runtime().install(baton::first_party("segment-conditions").unwrap()).unwrap();
    assert_eq!(plugin.record().name, "segment-conditions");
    let order = |id: &str, user: &str, days_ago: i64, currency: &str| NewEvent {
        id: id.into(),
        user_id: Some(user.into()),
        anonymous_id: None,
        name: "order_completed".into(),
        timestamp: NOW - days_ago * DAY,
        properties: serde_json::json!({"currency": currency}).as_object().unwrap().clone(),
        campaign: None,
    };
    for (user, plan) in [("ann", "pro"), ("bob", "pro"), ("cat", "free"), ("dan", "pro")] {
        let traits = serde_json::json!({"plan": plan}).as_object().unwrap().clone();
        engine.storage().identify(Some(user), None, &traits, 1).unwrap();
    }
    engine
        .storage()
        .ingest(
            &[
                order("a1", "ann", 3, "EUR"),
                order("a2", "ann", 12, "EUR"),
                order("b1", "bob", 5, "EUR"),
                order("b2", "bob", 60, "EUR"),
                order("c1", "cat", 1, "EUR"),
                order("c2", "cat", 2, "EUR"),
            ],
            NOW,
        )
        .unwrap();
    // Pro customers with at least two EUR orders in the last 30 days.
    let tree = serde_json::json!({"all": [
        {"attribute": "plan", "op": "eq", "value": "pro"},
        {"event": "order_completed", "where": {"currency": "EUR"}, "count": {"op": "gte", "value": 2}, "within_ms": 30 * DAY}
    ]});
    let audience = engine.audience(&plugin.hash(), &tree, 10, true).unwrap();
    assert_eq!((audience.evaluated, audience.count), (4, 1));
    let ann = engine.storage().profile_by_identity(&Identity::User("ann".into())).unwrap().unwrap().id;
    assert_eq!(audience.members.unwrap()[0].profile, ann);

    // "Pro, and no order within 30 days" (including never).
    let lapsed = serde_json::json!({"all": [
        {"attribute": "plan", "op": "eq", "value": "pro"},
        {"event": "order_completed", "count": {"op": "eq", "value": 0}, "within_ms": 30 * DAY}
    ]});
    assert_eq!(engine.audience(&plugin.hash(), &lapsed, 10, false).unwrap().count, 1, "dan only");

    let err = engine
        .audience(&plugin.hash(), &serde_json::json!({"any": [{"attribute": "plan"}]}), 1, false)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin segment-conditions@0.1.0 refused the config at `/any/0/op`: must be a non-empty string"
    );
}
