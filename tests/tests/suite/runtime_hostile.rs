//! Hostile and broken components: each does one bad thing, each gets an exact error, and a good
//! plugin works right after on the same runtime.

use std::time::Duration;

use baton::contract::{Membership, Subject, Value};
use baton::{CallOutcome, Failure, InstallError, Limits, Runtime};
use baton_tests::{fixture, install, invocation, message, runtime, subject};

fn vip() -> Vec<Subject> {
    vec![subject("p-1", &[("tier", Value::Text("vip".into()))])]
}

/// The good plugin still answers correctly on the same runtime.
fn assert_host_still_serves(runtime: &Runtime) {
    let good = install(runtime, "seg-vip");
    let called = runtime.call(&good).evaluate(&invocation("{}"), &vip()).unwrap();
    assert_eq!(called.value, vec![Membership { member: true, score: None, recheck_at: None }]);
}

#[test]
fn a_trap_fails_the_call_and_names_the_plugin() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "bad-trap");
    let err = runtime.call(&plugin).evaluate(&invocation("{}"), &vip()).unwrap_err();
    assert_eq!(err.plugin, "bad-trap@0.1.0");
    assert_eq!(err.call, "evaluate");
    assert_eq!(err.metrics.outcome, Some(CallOutcome::Trap));
    let Failure::Trap { message } = &err.failure else { panic!("expected a trap, got {err}") };
    assert!(message.starts_with("wasm trap: wasm `unreachable` instruction executed"), "{message}");
    assert!(err.to_string().starts_with("plugin bad-trap@0.1.0 evaluate: trapped: wasm trap"), "{err}");
    assert_host_still_serves(&runtime);
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "bad-spin");
    let limits = Limits { fuel: 20_000_000, deadline: Duration::from_secs(60), ..Limits::default() };
    let err = runtime.call(&plugin).with_limits(limits).evaluate(&invocation("{}"), &vip()).unwrap_err();
    assert_eq!(err.failure, Failure::FuelExhausted { budget: 20_000_000 });
    assert_eq!(err.metrics.fuel_used, 20_000_000);
    assert_eq!(err.metrics.outcome, Some(CallOutcome::LimitExceeded));
    assert_eq!(
        err.to_string(),
        "plugin bad-spin@0.1.0 evaluate: fuel exhausted after 20000000 units (limit `fuel`)"
    );
    assert_host_still_serves(&runtime);
}

#[test]
fn an_infinite_loop_is_stopped_at_its_deadline() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "bad-spin");
    let deadline = Duration::from_millis(100);
    let limits = Limits { fuel: u64::MAX, deadline, ..Limits::default() };
    let err = runtime.call(&plugin).with_limits(limits).evaluate(&invocation("{}"), &vip()).unwrap_err();
    assert_eq!(err.failure, Failure::DeadlineExceeded { deadline });
    assert_eq!(
        err.to_string(),
        "plugin bad-spin@0.1.0 evaluate: deadline of 100 ms exceeded (limit `deadline`)"
    );
    // Stopped at the deadline, not before; the upper bound is generous so a busy machine cannot
    // flake it. The benchmark reports the real overshoot (about one epoch tick).
    let wall = err.metrics.wall_time;
    assert!(wall >= deadline, "stopped early: {wall:?}");
    assert!(wall < deadline + Duration::from_millis(900), "stopped late: {wall:?}");
    assert_host_still_serves(&runtime);
}

#[test]
fn unbounded_allocation_is_stopped_at_the_memory_cap() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "bad-hog");
    let cap = 16 << 20;
    let limits = Limits { memory_bytes: cap, ..Limits::default() };
    let err = runtime.call(&plugin).with_limits(limits).evaluate(&invocation("{}"), &vip()).unwrap_err();
    assert_eq!(err.failure, Failure::MemoryCapExceeded { cap_bytes: cap });
    assert_eq!(
        err.to_string(),
        "plugin bad-hog@0.1.0 evaluate: memory cap of 16777216 bytes exceeded (limit `memory_bytes`)"
    );
    assert!(err.metrics.memory_peak_bytes <= cap);
    assert!(err.metrics.memory_peak_bytes > cap / 2, "peak {}", err.metrics.memory_peak_bytes);
    assert_host_still_serves(&runtime);
}

#[test]
fn oversized_output_is_refused() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "bad-bloat");
    let limits = Limits { output_bytes: 1 << 20, ..Limits::default() };
    let template = message();
    let err = runtime
        .call(&plugin)
        .with_limits(limits)
        .personalize(&invocation("{}"), &subject("p-1", &[]), &template)
        .unwrap_err();
    // 2 MiB of body plus the other fields (channel 5, recipient 13, subject 1, html 1,
    // variant 1, data 2, key 1) plus 1 for the `result` tag.
    let bytes = (2 << 20) + 5 + 13 + 1 + 1 + 1 + 2 + 1 + 1;
    assert_eq!(err.failure, Failure::OutputTooLarge { bytes, cap_bytes: 1 << 20 });
    assert_host_still_serves(&runtime);
}

#[test]
fn oversized_input_is_refused_before_the_plugin_runs() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "seg-vip");
    let limits = Limits { input_bytes: 100, ..Limits::default() };
    let subjects: Vec<Subject> = (0..10).map(|i| subject(&format!("profile-{i}"), &[])).collect();
    let err = runtime.call(&plugin).with_limits(limits).evaluate(&invocation("{}"), &subjects).unwrap_err();
    let Failure::InputTooLarge { bytes, cap_bytes: 100 } = err.failure else { panic!("{err}") };
    assert!(bytes > 100);
    assert_eq!(err.metrics.fuel_used, 0);
    assert_eq!(err.metrics.outcome, Some(CallOutcome::Rejected));
}

#[test]
fn a_flood_of_logs_is_stopped_at_the_log_cap() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "bad-chatty");
    let limits = Limits { log_bytes: 64 << 10, ..Limits::default() };
    let err = runtime.call(&plugin).with_limits(limits).evaluate(&invocation("{}"), &vip()).unwrap_err();
    assert_eq!(err.failure, Failure::LogCapExceeded { cap_bytes: 64 << 10 });
    assert_host_still_serves(&runtime);
}

#[test]
fn calling_a_plugin_of_another_kind_is_refused() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "pers-greeting");
    let err = runtime.call(&plugin).evaluate(&invocation("{}"), &vip()).unwrap_err();
    assert_eq!(err.failure, Failure::WrongKind { expected: "segment-rule", actual: "personalizer" });
}

#[test]
fn importing_something_the_host_does_not_provide_is_refused_at_install() {
    let (runtime, _dir) = runtime();
    let err = runtime.install(&fixture("bad-dialer")).unwrap_err();
    let InstallError::ImportNotProvided { reason } = &err else { panic!("{err}") };
    assert!(reason.contains("fixture:dialer/dial"), "{reason}");
    assert!(runtime.storage().plugins().unwrap().is_empty(), "nothing may be recorded");
    assert_host_still_serves(&runtime);
}

#[test]
fn a_component_of_another_world_is_refused() {
    let (runtime, _dir) = runtime();
    let err = runtime.install(&fixture("bad-greeter")).unwrap_err();
    assert!(matches!(&err, InstallError::UnknownWorld { exports } if exports == "greet"), "{err}");
    assert_eq!(
        err.to_string(),
        "component implements no Baton world: it must export one of `baton:plugin/segmentation`, \
         `personalization`, `channel` or `kpi` (it exports: greet)"
    );
}

#[test]
fn a_component_of_an_unsupported_contract_version_is_refused() {
    let (runtime, _dir) = runtime();
    let err = runtime.install(&fixture("bad-future")).unwrap_err();
    assert!(
        matches!(&err, InstallError::UnsupportedContract { found, supported } if found == "9.0.0" && supported == "0.1.0, 0.2.0, 0.3.0"),
        "{err}"
    );
}

#[test]
fn bytes_that_are_not_a_component_are_refused_distinctly() {
    let (runtime, _dir) = runtime();
    assert!(matches!(runtime.install(b"{\"not\":\"wasm\"}"), Err(InstallError::NotWasm)));
    assert!(matches!(runtime.install(b"\0asm\x01\0\0\0"), Err(InstallError::CoreModule)));
    let good = fixture("seg-vip");
    let truncated = &good[..good.len() / 2];
    assert!(matches!(runtime.install(truncated), Err(InstallError::Invalid { .. })));
    let config = baton_tests::test_config();
    let too_big = vec![0u8; usize::try_from(config.max_component_bytes).unwrap() + 1];
    assert!(matches!(runtime.install(&too_big), Err(InstallError::TooLarge { .. })));
    assert!(runtime.storage().plugins().unwrap().is_empty());
    assert_host_still_serves(&runtime);
}

fn probe(runtime: &Runtime, now: i64, seed: u64) -> serde_json::Value {
    let plugin = install(runtime, "pers-probe");
    let mut inv = invocation("{}");
    inv.now = now;
    inv.seed = seed;
    let template = message();
    let called = runtime.call(&plugin).personalize(&inv, &subject("p-1", &[]), &template).unwrap();
    serde_json::from_str(&called.value.body).unwrap()
}

#[test]
fn the_sandbox_grants_no_ambient_authority_and_virtualizes_time_and_chance() {
    let (runtime, _dir) = runtime();
    let first = probe(&runtime, 1_750_000_000_123, 7);
    assert_eq!(first["calls"], 1, "each call gets a fresh instance");
    assert_eq!(first["now_ms"], 1_750_000_000_123_u64, "the wall clock reads the invocation's now");
    assert_eq!(first["env_vars"], 0);
    assert_eq!(first["args"], 0);
    assert_eq!(first["read_file"], "denied: NotFound");
    assert_eq!(first["list_root"], "denied: NotFound");
    assert!(first["connect"].as_str().unwrap().starts_with("denied: "), "{}", first["connect"]);

    let again = probe(&runtime, 1_750_000_000_123, 7);
    assert_eq!(again["calls"], 1, "no state survives between calls");
    assert_eq!(again["random"], first["random"], "the same seed gives the same randomness");
    let other = probe(&runtime, 1_750_000_000_123, 8);
    assert_ne!(other["random"], first["random"], "another seed gives other randomness");
}

#[test]
fn a_plugin_error_is_reported_with_its_code() {
    let (runtime, _dir) = runtime();
    let plugin = install(&runtime, "seg-vip");
    // A config that skipped validate-config: the plugin refuses it itself.
    let err = runtime.call(&plugin).evaluate(&invocation(r#"{"tier":5}"#), &vip()).unwrap_err();
    assert_eq!(
        err.failure,
        Failure::Guest {
            code: "invalid_config".into(),
            message: "binding config: invalid type: integer `5`, expected a string at line 1 column 9".into()
        }
    );
    assert_eq!(err.metrics.outcome, Some(CallOutcome::GuestError));
}
