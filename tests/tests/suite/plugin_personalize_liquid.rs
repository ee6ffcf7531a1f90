//! `personalize-liquid` through the host: the embedded Wasm build renders exactly what the
//! native unit tests expect, within its budgets.

use baton::contract::{Event, Message, Value};
use baton_tests::{invocation, runtime, subject};

#[test]
fn the_wasm_build_renders_liquid() {
    let (runtime, _dir) = runtime();
    let plugin = runtime.install(baton::first_party("personalize-liquid").unwrap()).unwrap();
    let mut ada =
        subject("pr_1", &[("first_name", Value::Text("Ada".into())), ("points", Value::Integer(1200))]);
    ada.trigger = Some(Event {
        id: "e1".into(),
        profile_id: "pr_1".into(),
        name: "order_completed".into(),
        timestamp: 1,
        properties: r#"{"total": 42.5}"#.into(),
        campaign_id: None,
    });
    let template = Message {
        channel: "email".into(),
        recipient: "ada@example.com".into(),
        subject: Some("{{ profile.first_name | upcase }}: {{ event.properties.total }} EUR".into()),
        body: "{{ profile.points | plus: 100 }} points, {{ profile.nickname | default: 'friend' }} ({{ campaign.id }})".into(),
        html: None,
        variant_id: None,
        data: "{}".into(),
        idempotency_key: "k".into(),
    };
    let called = runtime.call(&plugin).personalize(&invocation("{}"), &ada, &template).unwrap();
    assert_eq!(called.value.subject.as_deref(), Some("ADA: 42.5 EUR"));
    assert_eq!(called.value.body, "1300 points, friend (c-1)");

    let refused =
        runtime.call(&plugin).validate_config(r#"{"subject": "{% if %}"}"#).unwrap().value.unwrap_err();
    assert_eq!(refused.path, "/subject");
}
