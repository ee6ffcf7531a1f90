//! Plugins in any Wasm language: each polyglot example (`examples/polyglot`) is built from source
//! in Rust, JavaScript, Python and C, installed into a real host, run on the same inputs, and
//! must give exactly the results the README specifies - the same results as its Rust twin.

use std::sync::Arc;

use baton::contract::{
    ConfigError, DeliveryOutcome, Event, HttpRequest, HttpResponse, Membership, Message, PluginInfo, Subject,
    Value,
};
use baton::{Failure, InvokeError, LoadedPlugin, Runtime};
use baton_tests::polyglot::{Lang, component};
use baton_tests::{invocation, message, runtime, subject};

/// Installs every twin of `example` into `runtime`, Rust first.
fn twins(runtime: &Runtime, example: &str) -> Vec<(Lang, Arc<LoadedPlugin>)> {
    Lang::ALL
        .iter()
        .map(|&lang| {
            let bytes = component(example, lang);
            let plugin =
                runtime.install(&bytes).unwrap_or_else(|e| panic!("install {example} ({lang:?}): {e}"));
            (lang, plugin)
        })
        .collect()
}

/// `info()` with the language suffix taken off the name, so twins compare equal.
fn info_without_suffix(runtime: &Runtime, lang: Lang, plugin: &Arc<LoadedPlugin>) -> PluginInfo {
    let mut info = runtime.call(plugin).info().unwrap().value;
    let suffix = format!("-{}", lang.dir());
    assert!(info.name.ends_with(&suffix), "{lang:?}: name {} lacks {suffix}", info.name);
    info.name.truncate(info.name.len() - suffix.len());
    info
}

/// A plugin's own error as `code: message`; any other failure fails the test.
fn guest_error(err: InvokeError) -> String {
    match err.failure {
        Failure::Guest { code, message } => format!("{code}: {message}"),
        other => panic!("{}: expected a plugin error, got {other}", err.plugin),
    }
}

fn event(name: &str) -> Event {
    Event {
        id: format!("e-{name}"),
        profile_id: "p".into(),
        name: name.into(),
        timestamp: 1_700_000_000_000,
        properties: "{}".into(),
        campaign_id: None,
    }
}

fn with_events(mut subject: Subject, names: &[&str]) -> Subject {
    subject.events = names.iter().map(|n| event(n)).collect();
    subject
}

fn config_error(path: &str, message: &str) -> Result<(), ConfigError> {
    Err(ConfigError { path: path.into(), message: message.into() })
}

const SEGMENT_UNKNOWN: &str = "is not a setting (known: min_ltv, min_orders, exclude_tier)";

/// The segment rule's `validate-config` cases and what the README says each answers.
fn segment_config_cases() -> Vec<(&'static str, Result<(), ConfigError>)> {
    vec![
        ("{}", Ok(())),
        (" { \"min_ltv\" : 1e2 , \"min_orders\" : 2.0 } ", Ok(())),
        ("{\"exclude_tier\":\"caf\\u00e9 \\ud83c\\udf89\"}", Ok(())),
        ("not json", config_error("", "config is not valid JSON")),
        ("{\"min_ltv\": NaN}", config_error("", "config is not valid JSON")),
        ("{\"min_ltv\": 1,}", config_error("", "config is not valid JSON")),
        ("{} {}", config_error("", "config is not valid JSON")),
        ("[1, 2]", config_error("", "config must be a JSON object")),
        ("\"text\"", config_error("", "config must be a JSON object")),
        ("{\"min_ltv\": -1}", config_error("/min_ltv", "must be a number of at least 0")),
        ("{\"min_ltv\": \"100\"}", config_error("/min_ltv", "must be a number of at least 0")),
        ("{\"min_ltv\": true}", config_error("/min_ltv", "must be a number of at least 0")),
        ("{\"min_ltv\": 5, \"min_ltv\": -5}", config_error("/min_ltv", "must be a number of at least 0")),
        ("{\"min_orders\": 1.5}", config_error("/min_orders", "must be a whole number of at least 0")),
        ("{\"min_orders\": -2}", config_error("/min_orders", "must be a whole number of at least 0")),
        ("{\"exclude_tier\": 5}", config_error("/exclude_tier", "must be a string")),
        ("{\"exclude_tier\": null}", config_error("/exclude_tier", "must be a string")),
        (
            "{\"min_ltv\": -1, \"exclude_tier\": 5}",
            config_error("/min_ltv", "must be a number of at least 0"),
        ),
        (
            "{\"zeta\": 1, \"alpha\": {\"nested\": [1, {}]}, \"min_ltv\": 5}",
            config_error("/alpha", SEGMENT_UNKNOWN),
        ),
        ("{\"min_orders\": 1, \"Tier\": \"vip\"}", config_error("/Tier", SEGMENT_UNKNOWN)),
    ]
}

/// Profiles that cover each branch of the rule.
fn segment_subjects() -> Vec<Subject> {
    vec![
        with_events(
            subject("a", &[("lifetime_value", Value::Integer(250)), ("tier", Value::Text("gold".into()))]),
            &["order_completed", "email_opened", "order_completed"],
        ),
        subject("b", &[("lifetime_value", Value::Float(99.5))]),
        subject("c", &[("lifetime_value", Value::Text("300".into()))]),
        subject("d", &[]),
        with_events(
            subject("e", &[("lifetime_value", Value::Integer(100)), ("tier", Value::Text("staff".into()))]),
            &["order_completed"],
        ),
        subject("f", &[("lifetime_value", Value::Float(1e6)), ("tier", Value::Integer(7))]),
        subject("g", &[("tier", Value::Text("staff".into())), ("lifetime_value", Value::Timestamp(500))]),
        with_events(
            subject("h", &[("lifetime_value", Value::Integer(-3))]),
            &["order_completed", "order_completed", "order_completed"],
        ),
    ]
}

#[test]
fn segment_rule_twins_in_four_languages_agree_with_the_specification() {
    let (runtime, _dir) = runtime();
    let plugins = twins(&runtime, "segment-high-value");
    let (_, rust) = &plugins[0];
    let expected_info = info_without_suffix(&runtime, Lang::Rust, rust);
    assert_eq!(expected_info.needs.attributes, ["lifetime_value", "tier"]);
    assert_eq!(expected_info.needs.events, ["order_completed"]);

    let subjects = segment_subjects();
    // The score is the lifetime value whenever it counts, whatever the config.
    let scores = [Some(250.0), Some(99.5), None, None, Some(100.0), Some(1e6), None, Some(-3.0)];
    let verdicts = |members: [bool; 8]| -> Vec<Membership> {
        members
            .iter()
            .zip(scores)
            .map(|(&member, score)| Membership { member, score, recheck_at: None })
            .collect()
    };
    // (config, memberships of a..h) as the README specifies them.
    let evaluations = [
        ("{}", verdicts([true, false, false, false, true, true, false, false])),
        (
            "{\"min_ltv\": 100, \"min_orders\": 2}",
            verdicts([true, false, false, false, false, false, false, false]),
        ),
        (
            "{\"min_ltv\": 0, \"exclude_tier\": \"staff\", \"min_orders\": 1.0}",
            verdicts([true, false, false, false, false, false, false, false]),
        ),
        ("{\"min_ltv\": 99.5}", verdicts([true, true, false, false, true, true, false, false])),
    ];

    for (lang, plugin) in &plugins {
        assert_eq!(info_without_suffix(&runtime, *lang, plugin), expected_info, "{lang:?}: info");
        for (config, expected) in segment_config_cases() {
            let answer = runtime.call(plugin).validate_config(config).unwrap().value;
            assert_eq!(answer, expected, "{lang:?}: validate-config {config}");
        }
        for (config, expected) in &evaluations {
            let answer = runtime.call(plugin).evaluate(&invocation(config), &subjects).unwrap().value;
            assert_eq!(&answer, expected, "{lang:?}: evaluate with {config}");
        }
        let refused = runtime.call(plugin).evaluate(&invocation("{\"min_ltv\": -1}"), &subjects).unwrap_err();
        assert_eq!(
            guest_error(refused),
            "invalid_config: /min_ltv: must be a number of at least 0",
            "{lang:?}"
        );
        let none = runtime.call(plugin).evaluate(&invocation("{}"), &[]).unwrap().value;
        assert!(none.is_empty(), "{lang:?}");
    }
}

/// A deterministic crowd of profiles with every value shape, for a batch-sized comparison.
fn crowd(count: usize) -> Vec<Subject> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let tiers = ["gold", "silver", "staff", "vip"];
    (0..count)
        .map(|i| {
            let r = next();
            let ltv = match r % 5 {
                0 => Value::Integer((r >> 8) as i64 % 1000),
                1 => Value::Float(((r >> 8) % 100_000) as f64 / 100.0),
                2 => Value::Text("n/a".into()),
                3 => Value::Null,
                _ => Value::Integer(100),
            };
            let tier = Value::Text(tiers[(r >> 20) as usize % tiers.len()].into());
            let orders = (r >> 30) as usize % 4;
            let names: Vec<&str> = std::iter::repeat_n("order_completed", orders).chain(["page"]).collect();
            with_events(subject(&format!("p-{i}"), &[("lifetime_value", ltv), ("tier", tier)]), &names)
        })
        .collect()
}

#[test]
fn segment_rule_twins_agree_on_a_large_batch() {
    let (runtime, _dir) = runtime();
    let plugins = twins(&runtime, "segment-high-value");
    let subjects = crowd(2_000);
    let config = invocation("{\"min_ltv\": 150, \"min_orders\": 1, \"exclude_tier\": \"staff\"}");
    let expected = runtime.call(&plugins[0].1).evaluate(&config, &subjects).unwrap().value;
    let members = expected.iter().filter(|m| m.member).count();
    assert!(members > 100 && members < 1_500, "the crowd exercises both verdicts: {members}");
    for (lang, plugin) in &plugins[1..] {
        let called = runtime.call(plugin).evaluate(&config, &subjects).unwrap();
        assert_eq!(called.value, expected, "{lang:?}");
    }
}

const CHANNEL_UNKNOWN: &str = "is not a setting (known: url)";

fn channel_config_cases() -> Vec<(&'static str, Result<(), ConfigError>)> {
    vec![
        ("{\"url\": \"https://hooks.example.com/in\"}", Ok(())),
        ("{\"url\": \"http://127.0.0.1:9/x\"}", Ok(())),
        ("{", config_error("", "config is not valid JSON")),
        ("null", config_error("", "config must be a JSON object")),
        ("{}", config_error("/url", "is required")),
        ("{\"url\": \"ftp://example.com\"}", config_error("/url", "must be an http:// or https:// URL")),
        ("{\"url\": 42}", config_error("/url", "must be an http:// or https:// URL")),
        ("{\"url\": \"HTTPS://example.com\"}", config_error("/url", "must be an http:// or https:// URL")),
        (
            "{\"url\": \"https://a.example\", \"token\": \"x\", \"retries\": 3}",
            config_error("/retries", CHANNEL_UNKNOWN),
        ),
    ]
}

fn response(status: u16, headers: &[(&str, &str)]) -> HttpResponse {
    HttpResponse {
        status,
        headers: headers.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        body: b"{\"ok\":true}".to_vec(),
    }
}

#[test]
fn channel_adapter_twins_in_four_languages_agree_with_the_specification() {
    let (runtime, _dir) = runtime();
    let plugins = twins(&runtime, "channel-json-post");
    let expected_info = info_without_suffix(&runtime, Lang::Rust, &plugins[0].1);
    assert_eq!(expected_info.needs.secrets, ["WEBHOOK_TOKEN"]);
    let config = invocation("{\"url\": \"https://hooks.example.com/in?x=1\"}");

    let plain = Message {
        subject: Some("Hello".into()),
        body: "Welcome aboard".into(),
        idempotency_key: "c-1:p-1:welcome".into(),
        ..message()
    };
    let tricky = Message {
        recipient: "o'brien+\"q\"@example.com".into(),
        subject: None,
        body: "line 1\nline 2\ttab \\ back \u{1} bell \u{7f} caf\u{e9} \u{1f389} </script> \u{2028}".into(),
        variant_id: Some("b".into()),
        idempotency_key: "c-1:p-2:welcome".into(),
        ..message()
    };
    let expected_bodies = [
        "{\"to\":\"a@example.com\",\"subject\":\"Hello\",\"body\":\"Welcome aboard\",\"variant\":null}"
            .to_owned(),
        format!(
            "{{\"to\":\"o'brien+\\\"q\\\"@example.com\",\"subject\":null,\"body\":\"line 1\\nline 2\\ttab \\\\ back \\u0001 bell \u{7f} caf\u{e9} \u{1f389} </script> \u{2028}\",\"variant\":\"b\"}}"
        ),
    ];
    let expected_request = |body: &str, key: &str| HttpRequest {
        method: "POST".into(),
        url: "https://hooks.example.com/in?x=1".into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("authorization".into(), "Bearer {{secret:WEBHOOK_TOKEN}}".into()),
            ("idempotency-key".into(), key.into()),
        ],
        body: body.as_bytes().to_vec(),
    };
    let outcomes: Vec<(HttpResponse, DeliveryOutcome)> = vec![
        (
            response(200, &[("x-message-id", "m-1"), ("x-message-id", "m-2")]),
            DeliveryOutcome::Delivered(Some("m-1".into())),
        ),
        (response(202, &[]), DeliveryOutcome::Delivered(None)),
        (response(429, &[("retry-after", "5")]), DeliveryOutcome::Throttled(Some(5_000))),
        (response(429, &[("retry-after", "+5")]), DeliveryOutcome::Throttled(None)),
        (response(429, &[("retry-after", " 5")]), DeliveryOutcome::Throttled(None)),
        (response(429, &[("retry-after", "1234567890")]), DeliveryOutcome::Throttled(None)),
        (response(429, &[("retry-after", "999999999")]), DeliveryOutcome::Throttled(Some(999_999_999_000))),
        (response(429, &[]), DeliveryOutcome::Throttled(None)),
        (response(503, &[("retry-after", "5")]), DeliveryOutcome::RetryAfter(None)),
        (response(500, &[]), DeliveryOutcome::RetryAfter(None)),
        (response(404, &[]), DeliveryOutcome::Rejected("vendor answered 404".into())),
        (response(301, &[]), DeliveryOutcome::Rejected("vendor answered 301".into())),
        (response(600, &[]), DeliveryOutcome::Rejected("vendor answered 600".into())),
    ];

    for (lang, plugin) in &plugins {
        assert_eq!(info_without_suffix(&runtime, *lang, plugin), expected_info, "{lang:?}: info");
        for (config, expected) in channel_config_cases() {
            let answer = runtime.call(plugin).validate_config(config).unwrap().value;
            assert_eq!(answer, expected, "{lang:?}: validate-config {config}");
        }
        for (message, body) in [&plain, &tricky].into_iter().zip(&expected_bodies) {
            let requests = runtime.call(plugin).build(&config, message).unwrap().value;
            assert_eq!(requests, [expected_request(body, &message.idempotency_key)], "{lang:?}");
        }
        let nobody = Message { recipient: String::new(), ..plain.clone() };
        let refused = runtime.call(plugin).build(&config, &nobody).unwrap_err();
        assert_eq!(guest_error(refused), "missing_recipient: the message has no recipient", "{lang:?}");
        let refused = runtime.call(plugin).build(&invocation("{}"), &plain).unwrap_err();
        assert_eq!(guest_error(refused), "invalid_config: /url: is required", "{lang:?}");
        for (response, expected) in &outcomes {
            let outcome = runtime.call(plugin).classify(&config, 0, response).unwrap().value;
            assert_eq!(&outcome, expected, "{lang:?}: classify {} {:?}", response.status, response.headers);
        }
    }
}
