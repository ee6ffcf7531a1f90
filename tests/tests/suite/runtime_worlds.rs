//! Happy paths: a real component of each of the four worlds, installed and called through the
//! runtime over a real sled store.

use baton::contract::{
    ConfigError, DeliveryOutcome, Event, HttpRequest, HttpResponse, Membership, Message, Metric, Value,
};
use baton::{CallOutcome, PluginKind, Runtime};
use baton_tests::{fixture, install, invocation, runtime, subject, test_config};

#[test]
fn segment_rule_judges_a_batch_in_order() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "seg-vip");

    let record = plugin.record();
    assert_eq!(record.name, "seg-vip");
    assert_eq!(record.version, "1.0.0");
    assert_eq!(record.kind, PluginKind::SegmentRule);
    assert_eq!(record.contract, "0.1.0");
    assert_eq!(record.attributes, vec!["tier".to_owned(), "lifetime_value".to_owned()]);
    assert_eq!(record.hash, baton::ContentHash::of(&fixture("seg-vip")));

    let subjects = vec![
        subject("p-1", &[("tier", Value::Text("vip".into())), ("lifetime_value", Value::Float(1200.5))]),
        subject("p-2", &[("tier", Value::Text("basic".into())), ("lifetime_value", Value::Integer(80))]),
        subject("p-3", &[("tier", Value::Text("vip".into()))]),
    ];
    let called = runtime.call(&plugin).evaluate(&invocation(r#"{"tier":"vip"}"#), &subjects).unwrap();
    assert_eq!(
        called.value,
        vec![
            Membership { member: true, score: Some(1200.5), recheck_at: None },
            Membership { member: false, score: Some(80.0), recheck_at: None },
            Membership { member: true, score: None, recheck_at: None },
        ]
    );
    assert_eq!(called.metrics.outcome, Some(CallOutcome::Ok));
    assert!(called.metrics.fuel_used > 0);
    assert!(called.metrics.memory_peak_bytes > 0);
    assert!(called.metrics.bytes_in > 0);
    // The result tag, the list length, and nineteen bytes per membership.
    assert_eq!(called.metrics.bytes_out, 1 + 8 + 3 * 19);
    // The plugin logged one debug line through the host interface.
    assert_eq!(called.metrics.log_bytes, "judging 3 subjects".len() as u64);

    let basic = runtime.call(&plugin).evaluate(&invocation(r#"{"tier":"basic"}"#), &subjects).unwrap();
    assert_eq!(basic.value.iter().map(|m| m.member).collect::<Vec<_>>(), vec![false, true, false]);
}

#[test]
fn validate_config_answers_with_the_path_of_the_fault() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "seg-vip");
    let call = runtime.call(&plugin);
    assert_eq!(call.validate_config(r#"{"tier":"gold"}"#).unwrap().value, Ok(()));
    assert_eq!(
        call.validate_config(r#"{"tier":3}"#).unwrap().value,
        Err(ConfigError { path: "/tier".into(), message: "must be a string".into() })
    );
    assert_eq!(
        call.validate_config(r#"{"tier":"x","colour":"red"}"#).unwrap().value,
        Err(ConfigError { path: "".into(), message: "unknown field `colour`, expected `tier`".into() })
    );
}

fn template() -> Message {
    Message {
        channel: "email".into(),
        recipient: "ada@example.com".into(),
        subject: Some("Hello {{first_name}}".into()),
        body: "Dear {{first_name}}, welcome.".into(),
        html: None,
        variant_id: Some("A".into()),
        data: "{}".into(),
        idempotency_key: "c-1:p-1:welcome".into(),
    }
}

#[test]
fn personalizer_renders_the_message_for_one_profile() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "pers-greeting");
    assert_eq!(plugin.kind(), PluginKind::Personalizer);

    let ada = subject("p-1", &[("first_name", Value::Text("Ada".into()))]);
    let called = runtime.call(&plugin).personalize(&invocation("{}"), &ada, &template()).unwrap();
    assert_eq!(
        called.value,
        Message { subject: Some("Hello Ada".into()), body: "Dear Ada, welcome.".into(), ..template() }
    );

    let nameless = subject("p-2", &[]);
    let called = runtime
        .call(&plugin)
        .personalize(&invocation(r#"{"fallback":"friend"}"#), &nameless, &template())
        .unwrap();
    assert_eq!(called.value.body, "Dear friend, welcome.");
}

#[test]
fn channel_adapter_builds_requests_and_classifies_responses() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "chan-echo");
    assert_eq!(plugin.record().allowed_hosts, vec!["127.0.0.1".to_owned()]);
    assert_eq!(plugin.record().secrets, vec!["ECHO_TOKEN".to_owned()]);
    let inv = invocation(r#"{"url":"http://127.0.0.1:9/send"}"#);

    let message = Message { subject: Some("Hi".into()), body: "Welcome".into(), ..template() };
    let built = runtime.call(&plugin).build(&inv, &message).unwrap();
    assert_eq!(
        built.value,
        vec![HttpRequest {
            method: "POST".into(),
            url: "http://127.0.0.1:9/send".into(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("authorization".into(), "Bearer {{secret:ECHO_TOKEN}}".into()),
                ("idempotency-key".into(), "c-1:p-1:welcome".into()),
            ],
            body: br#"{"body":"Welcome","subject":"Hi","to":"ada@example.com"}"#.to_vec(),
        }]
    );

    let response = |status: u16, headers: &[(&str, &str)]| HttpResponse {
        status,
        headers: headers.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        body: Vec::new(),
    };
    let classify = |r: HttpResponse| runtime.call(&plugin).classify(&inv, 0, &r).unwrap().value;
    assert_eq!(
        classify(response(202, &[("x-message-id", "m-1")])),
        DeliveryOutcome::Delivered(Some("m-1".into()))
    );
    assert_eq!(classify(response(429, &[("retry-after", "7")])), DeliveryOutcome::Throttled(Some(7000)));
    assert_eq!(classify(response(503, &[])), DeliveryOutcome::RetryAfter(None));
    assert_eq!(classify(response(400, &[])), DeliveryOutcome::Rejected("vendor answered 400".into()));
}

fn event(id: &str, name: &str) -> Event {
    Event {
        id: id.into(),
        profile_id: "p-1".into(),
        name: name.into(),
        timestamp: 1_750_000_000_000,
        properties: "{}".into(),
        campaign_id: Some("c-1".into()),
    }
}

fn count(name: &str, value: f64, dimensions: &[(&str, &str)]) -> Metric {
    Metric {
        name: name.into(),
        value,
        unit: "count".into(),
        numerator: None,
        denominator: None,
        denominator_name: None,
        dimensions: dimensions.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
    }
}

#[test]
fn kpi_calculator_streams_batches_through_one_accumulator() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "kpi-count");
    let mut run = runtime.call(&plugin).open_kpi(&invocation("{}")).unwrap();
    let first =
        run.add(&[event("e1", "delivered"), event("e2", "opened"), event("e3", "delivered")]).unwrap();
    assert_eq!(first.outcome, Some(CallOutcome::Ok));
    run.add(&[event("e4", "clicked")]).unwrap();
    run.add(&[]).unwrap();
    let metrics = run.finish().unwrap().value;
    assert_eq!(
        metrics,
        vec![
            count("events", 1.0, &[("event", "clicked")]),
            count("events", 2.0, &[("event", "delivered")]),
            count("events", 1.0, &[("event", "opened")]),
            count("events_total", 4.0, &[]),
        ]
    );
}

#[test]
fn install_is_idempotent_and_survives_a_restart_without_recompiling() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = fixture("seg-vip");
    // A shared database keeps no compiled code: a worker keeps it in a folder of its own.
    let config = || baton::RuntimeConfig {
        compile_cache_dir: baton_tests::on_postgres().then(|| dir.path().join("compiled")),
        ..test_config()
    };
    let hash = {
        let runtime = Runtime::new(config(), baton_tests::open_store(dir.path())).unwrap();
        let first = runtime.install(&bytes).unwrap();
        let again = runtime.install(&bytes).unwrap();
        assert_eq!(first.hash(), again.hash());
        assert_eq!(runtime.stats().compilations, 1);
        assert_eq!(runtime.storage().plugins().unwrap().len(), 1);
        first.hash()
    };

    let runtime = Runtime::new(config(), baton_tests::open_store(dir.path())).unwrap();
    let plugin = runtime.plugin(&hash).unwrap();
    assert_eq!(plugin.record().name, "seg-vip");
    let stats = runtime.stats();
    assert_eq!((stats.compilations, stats.artifact_loads), (0, 1));
    let subjects = [subject("p-1", &[("tier", Value::Text("vip".into()))])];
    let called = runtime.call(&plugin).evaluate(&invocation("{}"), &subjects).unwrap();
    assert_eq!(called.value, vec![Membership { member: true, score: None, recheck_at: None }]);
}

#[test]
fn calls_run_concurrently_from_many_threads() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "seg-vip");
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (runtime, plugin) = (&runtime, &plugin);
            scope.spawn(move || {
                for i in 0..25 {
                    let tier = if (t + i) % 2 == 0 { "vip" } else { "basic" };
                    let subjects = [subject("p", &[("tier", Value::Text(tier.into()))])];
                    let called = runtime.call(plugin).evaluate(&invocation("{}"), &subjects).unwrap();
                    assert_eq!(called.value[0].member, tier == "vip");
                }
            });
        }
    });
}
