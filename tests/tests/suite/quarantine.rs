//! A plugin that keeps failing is quarantined: refused, recorded durably with an audit record,
//! visible in the API, and enabled again by an operator.

use std::sync::Arc;

use baton::contract::Value;
use baton::{ApiConfig, Failure, Role, Runtime, RuntimeConfig};
use baton_tests::{fixture, http, invocation, serve, subject};

fn config() -> RuntimeConfig {
    RuntimeConfig { max_instances: 32, quarantine_after: 3, ..RuntimeConfig::default() }
}

#[test]
fn a_plugin_failing_again_and_again_is_quarantined_until_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let subjects = [subject("p", &[("tier", Value::Text("vip".into()))])];
    let hash = {
        let runtime = Runtime::new(config(), baton_tests::open_store(dir.path())).unwrap();
        let plugin = runtime.install(&fixture("bad-trap")).unwrap();
        for _ in 0..3 {
            let err = runtime.call(&plugin).evaluate(&invocation("{}"), &subjects).unwrap_err();
            assert!(matches!(err.failure, Failure::Trap { .. }));
        }
        let err = runtime.call(&plugin).evaluate(&invocation("{}"), &subjects).unwrap_err();
        let Failure::Quarantined { reason } = &err.failure else { panic!("{err}") };
        assert!(
            reason.starts_with("3 failed calls in a row; the last: plugin bad-trap@0.1.0 evaluate: trapped"),
            "{reason}"
        );
        assert!(err.to_string().contains("enable it again with POST /v1/plugins/{hash}/enable"));
        assert_eq!(err.metrics.fuel_used, 0, "refused without running");
        let audit = runtime.storage().audit_log(1).unwrap();
        assert_eq!((audit[0].action.as_str(), audit[0].actor.as_str()), ("plugin_quarantined", "system"));
        plugin.hash()
    };

    // After a restart the plugin is still quarantined.
    let runtime = Runtime::new(config(), baton_tests::open_store(dir.path())).unwrap();
    let plugin = runtime.plugin(&hash).unwrap();
    assert!(plugin.quarantined().is_some());
    assert!(runtime.storage().plugin(&hash).unwrap().unwrap().quarantine.is_some());
    assert!(matches!(
        runtime.call(&plugin).evaluate(&invocation("{}"), &subjects).unwrap_err().failure,
        Failure::Quarantined { .. }
    ));

    // An operator enables it: it runs again (and traps again, counted from zero).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!(runtime.enable(&hash, "token:ops", now).unwrap());
    assert!(plugin.quarantined().is_none());
    assert!(runtime.storage().plugin(&hash).unwrap().unwrap().quarantine.is_none());
    assert!(matches!(
        runtime.call(&plugin).evaluate(&invocation("{}"), &subjects).unwrap_err().failure,
        Failure::Trap { .. }
    ));
    assert_eq!(runtime.storage().audit_log(1).unwrap()[0].action, "plugin_enabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_is_visible_and_liftable_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let storage = baton_tests::open_store(dir.path());
    let runtime = Arc::new(Runtime::new(config(), storage.clone()).unwrap());
    let clock = Arc::new(baton::FixedClock::at(1));
    let engine =
        Arc::new(baton::Engine::new(storage, runtime.clone(), clock, baton_tests::engine_config()).unwrap());
    let plugin = runtime.install(&fixture("bad-trap")).unwrap();
    // Plugin calls block (a trapping Rust guest writes its panic through WASI): off the executor.
    let (calling, failing) = (runtime.clone(), plugin.clone());
    tokio::task::spawn_blocking(move || {
        for _ in 0..3 {
            let _ = calling.call(&failing).evaluate(&invocation("{}"), &[subject("p", &[])]);
        }
    })
    .await
    .unwrap();
    let (token, _) = engine.storage().create_token("ops", Role::Admin, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = http();
    let url = format!("{base}/v1/plugins/{}", plugin.hash());
    let shown: serde_json::Value =
        client.get(&url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert!(shown["plugin"]["quarantine"]["reason"].as_str().unwrap().starts_with("3 failed calls in a row"));
    let enabled = client.post(format!("{url}/enable")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(enabled.status().as_u16(), 200);
    let shown: serde_json::Value =
        client.get(&url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["plugin"]["quarantine"], serde_json::Value::Null);
}

/// An engine whose runtime quarantines a plugin after three failures in a row, with a batch
/// campaign judged by the fixture `rule`, delivering nowhere (the test only judges).
fn judged_by(rule: &str) -> (baton::Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = baton_tests::open_store(dir.path());
    let runtime = Arc::new(Runtime::new(config(), storage.clone()).unwrap());
    let clock = Arc::new(baton::FixedClock::at(1_750_000_000_000));
    let engine = baton::Engine::new(storage, runtime, clock, baton_tests::engine_config()).unwrap();
    let mut campaign = baton_tests::welcome_campaign();
    campaign.trigger = baton::Trigger::Batch { every_ms: None };
    engine.create_campaign("test", campaign).unwrap();
    let rule = engine.runtime().install(&fixture(rule)).unwrap().hash();
    let channel = engine.runtime().install(&fixture("chan-echo")).unwrap().hash();
    let none = baton::Grants::default();
    engine.bind("test", "welcome", baton::Slot::Segment, rule, serde_json::json!({}), none.clone()).unwrap();
    let url = serde_json::json!({"url": "http://127.0.0.1:9/send"});
    engine.bind("test", "welcome", baton::Slot::Channel, channel, url, baton_tests::echo_grants()).unwrap();
    engine.transition("test", "welcome", baton::CampaignState::Active).unwrap();
    (engine, dir)
}

/// One profile that makes the rule trap costs that profile only: the batch is split until the
/// poisoned ones are alone, everyone else is judged, and the two failures count twice toward
/// quarantine (not once per split), so the rule stays in service.
#[test]
fn one_bad_profile_costs_one_profile_not_its_batch() {
    let (engine, _dir) = judged_by("bad-poison");
    let mut poisoned = Vec::new();
    for i in 0..300 {
        let poison = i == 17 || i == 250;
        let traits = serde_json::json!({"email": format!("u{i}@x.test"), "tier": "vip", "poison": poison});
        let id = baton_tests::customer(&engine, &format!("u{i}"), traits, true);
        if poison {
            poisoned.push(id);
        }
    }
    let report = engine.run_batch("test", "welcome", "run-1").unwrap();
    assert_eq!((report.evaluated, report.audience, report.queued), (300, 298, 298));
    assert_eq!(report.skipped.get(&baton::SkipReason::PluginFailed), Some(&2));
    let mut failed: Vec<baton::ProfileId> =
        engine.storage().skips("welcome").unwrap().iter().map(|s| s.profile).collect();
    failed.sort();
    assert_eq!(failed, poisoned);
    let skip = &engine.storage().skips("welcome").unwrap()[0];
    assert!(skip.detail.contains("trapped"), "{}", skip.detail);
    let rule = engine
        .runtime()
        .plugin(&engine.storage().binding("welcome", &baton::Slot::Segment).unwrap().unwrap().plugin)
        .unwrap();
    assert_eq!(rule.quarantined(), None);
}

/// A rule that fails for everyone is not split forever: it is quarantined after its failures
/// (three here), each profile of the batch is skipped with the error, and the calls it took stay
/// within the configured budget.
#[test]
fn a_rule_that_fails_for_everyone_is_quarantined_without_splitting_forever() {
    let (engine, _dir) = judged_by("bad-trap");
    for i in 0..300 {
        let traits = serde_json::json!({"email": format!("u{i}@x.test"), "tier": "vip"});
        baton_tests::customer(&engine, &format!("u{i}"), traits, true);
    }
    let report = engine.run_batch("test", "welcome", "run-1").unwrap();
    assert_eq!((report.evaluated, report.queued), (300, 0));
    assert_eq!(report.skipped.get(&baton::SkipReason::PluginFailed), Some(&300));
    let rule = engine
        .runtime()
        .plugin(&engine.storage().binding("welcome", &baton::Slot::Segment).unwrap().unwrap().plugin)
        .unwrap();
    assert!(rule.quarantined().is_some());
    let calls: u64 = rule.stats().calls.values().sum();
    assert!(calls <= 1 + 2 * 32, "{calls} calls");
}
