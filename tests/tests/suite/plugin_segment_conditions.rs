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

/// The condition language as marketers write it, through the host: consent and suppression as
/// conditions (which no client trait can fake), ISO-8601 dates, nested traits, blank text as
/// not set, numeric text, and event names by prefix.
#[test]
fn conditions_on_consent_dates_nested_traits_and_blank_values() {
    let (engine, _clock, _dir) = engine();
    let plugin = engine.runtime().install(baton::first_party("segment-conditions").unwrap()).unwrap().hash();
    let people = [
        (
            "ann",
            serde_json::json!({"signed_up": "2025-05-01T09:00:00Z", "address": {"city": "Lyon"}, "nickname": "Annie", "score": "42.5"}),
        ),
        (
            "bob",
            serde_json::json!({"signed_up": "2025-06-14", "address": {"city": "Paris"}, "nickname": "  ", "score": 7}),
        ),
        // Bob's twin in every way, who claims a consent in his traits he never gave.
        (
            "eve",
            serde_json::json!({"signed_up": "2025-06-14", "consent": {"email": {"marketing": "granted"}}, "suppressions": {}}),
        ),
    ];
    for (user, traits) in &people {
        engine.storage().identify(Some(user), None, traits.as_object().unwrap(), 1).unwrap();
    }
    let id =
        |user: &str| engine.storage().profile_by_identity(&Identity::User(user.into())).unwrap().unwrap().id;
    engine
        .storage()
        .update_profile(id("ann"), 2, |p| {
            p.set_consent("email", "marketing", baton::ConsentState::Granted, 2)
        })
        .unwrap();
    engine
        .storage()
        .update_profile(id("bob"), 2, |p| p.set_consent("email", "marketing", baton::ConsentState::Denied, 2))
        .unwrap();
    engine
        .storage()
        .update_profile(id("bob"), 2, |p| {
            p.suppressions.insert(
                "sms".into(),
                baton::Suppression { reason: baton::SuppressionReason::Bounced, since: 2 },
            );
        })
        .unwrap();
    let email = |user: &str, id: &str, name: &str| NewEvent {
        id: id.into(),
        user_id: Some(user.into()),
        anonymous_id: None,
        name: name.into(),
        timestamp: NOW - DAY,
        properties: serde_json::Map::new(),
        campaign: None,
    };
    engine.storage().ingest(&[email("ann", "e1", "email_opened"), email("bob", "e2", "page")], NOW).unwrap();

    let members = |tree: serde_json::Value| -> Vec<String> {
        let audience = engine.audience(&plugin, &tree, 10, true).unwrap();
        let mut users: Vec<String> = audience
            .members
            .unwrap()
            .iter()
            .map(|m| {
                let profile = engine.storage().profile(m.profile).unwrap().unwrap();
                profile
                    .identities
                    .iter()
                    .find_map(|i| match i {
                        Identity::User(u) => Some(u.clone()),
                        _ => None,
                    })
                    .unwrap()
            })
            .collect();
        users.sort();
        users
    };
    let consented =
        serde_json::json!({"attribute": "consent.email.marketing", "op": "eq", "value": "granted"});
    assert_eq!(members(consented), ["ann"], "Eve's trait is not a consent");
    assert_eq!(members(serde_json::json!({"attribute": "suppressions.sms", "op": "exists"})), ["bob"]);
    assert_eq!(
        members(serde_json::json!({"attribute": "signed_up", "op": "gte", "value": "2025-06-01"})),
        ["bob", "eve"]
    );
    assert_eq!(
        members(serde_json::json!({"attribute": "signed_up", "op": "older_than_ms", "value": 30 * DAY})),
        ["ann"]
    );
    assert_eq!(
        members(serde_json::json!({"attribute": "address.city", "op": "eq", "value": "Lyon"})),
        ["ann"]
    );
    assert_eq!(members(serde_json::json!({"attribute": "nickname", "op": "exists"})), ["ann"]);
    assert_eq!(members(serde_json::json!({"attribute": "score", "op": "gt", "value": 10})), ["ann"]);
    assert_eq!(members(serde_json::json!({"event": "email_*", "within_ms": 7 * DAY})), ["ann"]);
}
