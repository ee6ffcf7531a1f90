//! Plugins that wait in host code: `std::thread::sleep` becomes a WASI monotonic-clock
//! subscription blocked on in the host, where no Wasm instruction runs and the epoch deadline
//! cannot interrupt. Each such call must still end at its deadline, in every world and in `info`
//! and `validate-config`, and the host must keep serving other calls meanwhile.

use std::time::{Duration, Instant};

use baton::contract::{Event, Message};
use baton::{Failure, InvokeError, Limits};
use baton_tests::{fixture, install, invocation, message, runtime, subject};

/// A one-second deadline; every sleeping fixture asks for twenty.
fn limits() -> Limits {
    Limits { deadline: Duration::from_secs(1), ..Limits::default() }
}

/// The call failed with the deadline error, long before the plugin's 20 s wait was over. The
/// bound is generous for a loaded test machine; the runtime bench reports the real figure.
fn stopped_at_deadline(what: &str, started: Instant, err: &InvokeError) {
    assert_eq!(err.failure, Failure::DeadlineExceeded { deadline: Duration::from_secs(1) }, "{what}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{what} took {took:?}");
}

fn sleep_config() -> String {
    serde_json::json!({ "do": "sleep" }).to_string()
}

#[test]
fn a_plugin_sleeping_through_wasi_fails_at_its_deadline_in_every_world() {
    let (runtime, _dir) = runtime();
    let inv = invocation(&sleep_config());

    let segment = install(&runtime, "bad-sleeper");
    let started = Instant::now();
    let err = runtime.call(&segment).with_limits(limits()).evaluate(&inv, &[subject("p", &[])]).unwrap_err();
    stopped_at_deadline("segment evaluate", started, &err);

    let personalizer = install(&runtime, "bad-pers-any");
    let template: Message = message();
    let started = Instant::now();
    let err = runtime
        .call(&personalizer)
        .with_limits(limits())
        .personalize(&inv, &subject("p", &[]), &template)
        .unwrap_err();
    stopped_at_deadline("personalize", started, &err);

    let channel = install(&runtime, "bad-chan-any");
    let started = Instant::now();
    let err = runtime.call(&channel).with_limits(limits()).build(&inv, &template).unwrap_err();
    stopped_at_deadline("build", started, &err);

    let kpi = install(&runtime, "bad-kpi-any");
    let mut run = runtime.call(&kpi).with_limits(limits()).open_kpi(&inv).unwrap();
    let event = Event {
        id: "e".into(),
        profile_id: "p".into(),
        name: "x".into(),
        timestamp: 0,
        properties: "{}".into(),
        campaign_id: None,
    };
    let started = Instant::now();
    let err = run.add(&[event]).unwrap_err();
    stopped_at_deadline("kpi add", started, &err);
}

#[test]
fn a_plugin_sleeping_in_validate_config_fails_at_its_deadline() {
    let (runtime, _dir) = runtime();
    let config = serde_json::json!({ "validate": "sleep" }).to_string();
    for name in ["bad-sleeper", "bad-pers-any", "bad-chan-any", "bad-kpi-any"] {
        let plugin = install(&runtime, name);
        let started = Instant::now();
        let err = runtime.call(&plugin).with_limits(limits()).validate_config(&config).unwrap_err();
        stopped_at_deadline(&format!("{name} validate-config"), started, &err);
    }
}

#[test]
fn a_plugin_sleeping_in_info_is_refused_at_install_by_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let storage = baton_tests::open_store(dir.path());
    let config = baton::RuntimeConfig { limits: limits(), ..baton_tests::test_config() };
    let runtime = baton::Runtime::new(config, storage).unwrap();
    let started = Instant::now();
    let err = runtime.install(&fixture("bad-sleepy-info")).unwrap_err().to_string();
    assert!(err.contains("deadline of 1000 ms exceeded"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "install took {:?}", started.elapsed());
    assert!(runtime.storage().plugins().unwrap().is_empty(), "nothing half-installed");
}

#[test]
fn the_host_keeps_serving_while_plugins_sleep() {
    let (runtime, _dir) = runtime();
    let sleeper = install(&runtime, "bad-sleeper");
    let vip = install(&runtime, "seg-vip");
    let inv = invocation(&sleep_config());
    std::thread::scope(|scope| {
        let sleepers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    runtime
                        .call(&sleeper)
                        .with_limits(limits())
                        .evaluate(&inv, &[subject("p", &[])])
                        .unwrap_err()
                })
            })
            .collect();
        // Meanwhile a well-behaved rule answers, many times over.
        let calm = invocation("{}");
        for _ in 0..100 {
            let judged = runtime.call(&vip).evaluate(&calm, &[subject("p", &[])]).unwrap().value;
            assert_eq!(judged.len(), 1);
        }
        for sleeper in sleepers {
            let err = sleeper.join().unwrap();
            assert_eq!(err.failure, Failure::DeadlineExceeded { deadline: Duration::from_secs(1) });
        }
    });
}
