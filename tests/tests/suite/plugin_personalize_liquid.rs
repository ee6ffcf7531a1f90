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

fn email(body: &str, data: serde_json::Value) -> Message {
    Message {
        channel: "email".into(),
        recipient: "ada@example.com".into(),
        subject: None,
        body: body.into(),
        html: None,
        variant_id: None,
        data: data.to_string(),
        idempotency_key: "k".into(),
    }
}

#[test]
fn customer_data_that_looks_like_liquid_renders_literally() {
    let (runtime, _dir) = runtime();
    let plugin = runtime.install(baton::first_party("personalize-liquid").unwrap()).unwrap();
    let mallory = subject(
        "pr_1",
        &[(
            "first_name",
            Value::Text(
                "{{ unsubscribe_url }}{% render 'footer' %}{% for i in (1..9) %}x{% endfor %}".into(),
            ),
        )],
    );
    let data = serde_json::json!({"unsubscribe_url": "https://u", "template_context": {"snippets": {"footer": "F"}}});
    let out = runtime
        .call(&plugin)
        .personalize(&invocation("{}"), &mallory, &email("Hi {{ profile.first_name }}", data))
        .unwrap();
    // A value is never parsed again: what the customer typed is what the message says.
    assert_eq!(
        out.value.body,
        "Hi {{ unsubscribe_url }}{% render 'footer' %}{% for i in (1..9) %}x{% endfor %}"
    );
}

#[test]
fn templates_that_recurse_or_build_without_end_fail_with_a_clear_error_not_a_trap() {
    let (runtime, _dir) = runtime();
    let plugin = runtime.install(baton::first_party("personalize-liquid").unwrap()).unwrap();
    let ada = subject("pr_1", &[("first_name", Value::Text("Ada".into()))]);
    let call = |body: &str, data: serde_json::Value| {
        runtime
            .call(&plugin)
            .personalize(&invocation("{}"), &ada, &email(body, data))
            .unwrap_err()
            .to_string()
    };
    let looping = serde_json::json!({"template_context": {"snippets": {"again": "a{% render 'again' %}"}}});
    let err = call("{% render 'again' %}", looping);
    assert!(
        err.contains("template_limit") && err.contains("snippets include each other more than 100 deep"),
        "{err}"
    );
    let err = call(
        "{% for a in (1..1000) %}{% for b in (1..1000) %}x{% endfor %}{% endfor %}",
        serde_json::json!({}),
    );
    assert!(
        err.contains("template_limit") && err.contains("loops ran more than 100000 times in one render"),
        "{err}"
    );
    let err = call(
        "{% capture s %}{% for i in (1..1000) %}0123456789{% endfor %}{% endcapture %}{% for i in (1..5000) %}{{ s }}{% endfor %}",
        serde_json::json!({}),
    );
    assert!(err.contains("template_limit") && err.contains("the output is over 1048576 bytes"), "{err}");
}
