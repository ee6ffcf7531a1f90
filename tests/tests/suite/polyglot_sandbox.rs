//! JavaScript and Python plugins run in exactly the sandbox Rust plugins do: a probe in each
//! language tries to read files, the environment, the network, the clock and randomness, and
//! gets a denial or a virtual value derived from the invocation.

use std::path::PathBuf;
use std::sync::Arc;

use baton::contract::Invocation;
use baton::{Failure, InstallError, LoadedPlugin, Runtime};
use baton_tests::polyglot::{Lang, build, build_js_with_http};
use baton_tests::{message, runtime, subject};
use serde_json::{Value, json};

/// 2025-06-15T15:06:40Z, in milliseconds.
const NOW: i64 = 1_750_000_000_000;

fn probe_dir(lang: Lang) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("probes").join(lang.dir())
}

fn invocation(config: &str, now: i64, seed: u64) -> Invocation {
    Invocation { campaign_id: "c-1".into(), config: config.into(), now, seed }
}

/// Runs the probe once at `now` with `seed` and returns its report.
fn report(runtime: &Runtime, plugin: &Arc<LoadedPlugin>, now: i64, seed: u64) -> Value {
    let message = runtime
        .call(plugin)
        .personalize(&invocation("{}", now, seed), &subject("p-1", &[]), &message())
        .unwrap_or_else(|e| panic!("{e}"))
        .value;
    serde_json::from_str(&message.body).unwrap_or_else(|e| panic!("report {}: {e}", message.body))
}

/// Removes `key` from `report` and returns it, so the rest can be compared whole.
fn take(report: &mut Value, key: &str) -> Value {
    report.as_object_mut().and_then(|fields| fields.remove(key)).unwrap_or(Value::Null)
}

#[test]
fn python_sees_no_files_environment_or_network_and_a_virtual_clock_and_rng() {
    let (runtime, _dir) = runtime();
    let plugin = runtime.install(&build(&probe_dir(Lang::Python), "personalizer", Lang::Python)).unwrap();

    let mut first = report(&runtime, &plugin, NOW, 42);
    let mut again = report(&runtime, &plugin, NOW, 42);
    let mut other_seed = report(&runtime, &plugin, NOW + 60_000, 43);

    // The same invocation gives the same bytes from os.urandom; another seed other bytes.
    let random = take(&mut first, "urandom");
    assert_eq!(take(&mut again, "urandom"), random);
    assert_ne!(take(&mut other_seed, "urandom"), random);
    assert!(random.as_str().is_some_and(|r| r.starts_with("ok: ") && r.len() == 4 + 16), "{random}");

    // The wall clock is the invocation's `now`, to the millisecond.
    assert_eq!(take(&mut first, "now_ms"), json!(NOW));
    assert_eq!(take(&mut other_seed, "now_ms"), json!(NOW + 60_000));

    // Everything else is denied outright: no preopened directory, no environment variables, and
    // CPython is built without sockets, so `import socket` itself fails.
    let expected = json!({
        "read_file": "denied: FileNotFoundError",
        "write_file": "denied: FileNotFoundError",
        "list_root": "denied: FileNotFoundError",
        "cwd": "ok: /",
        "environ": 0,
        "home": null,
        "connect": "denied: ModuleNotFoundError",
        "resolve": "denied: ModuleNotFoundError",
    });
    assert_eq!(first, expected);
    assert_eq!(other_seed, expected);
}

#[test]
fn javascript_sees_a_virtual_clock_and_rng_and_no_node_apis() {
    let (runtime, _dir) = runtime();
    let plugin = runtime.install(&build(&probe_dir(Lang::Js), "personalizer", Lang::Js)).unwrap();

    let mut first = report(&runtime, &plugin, NOW, 42);
    let mut again = report(&runtime, &plugin, NOW, 42);
    let mut other_seed = report(&runtime, &plugin, NOW, 43);

    // Math.random and crypto.getRandomValues both follow the invocation's seed.
    for key in ["random", "crypto"] {
        let value = take(&mut first, key);
        assert_eq!(take(&mut again, key), value, "{key}");
        assert_ne!(take(&mut other_seed, key), value, "{key}");
    }

    let expected = json!({
        "now_ms": NOW,
        "date": "2025-06-15T15:06:40.000Z",
        // No Node.js globals: JavaScript plugins get the language, not a runtime with I/O.
        "process": "undefined",
        "require": "undefined",
        // `fetch` is defined by the engine even without HTTP; calling it fails the call (below).
        "fetch": "function",
    });
    assert_eq!(first, expected);
    assert_eq!(other_seed, expected);
}

#[test]
fn javascript_calling_fetch_fails_the_call_and_the_host_serves_on() {
    let (runtime, _dir) = runtime();
    let plugin = runtime.install(&build(&probe_dir(Lang::Js), "personalizer", Lang::Js)).unwrap();

    let err = runtime
        .call(&plugin)
        .personalize(&invocation(r#"{"fetch": true}"#, NOW, 1), &subject("p-1", &[]), &message())
        .unwrap_err();
    assert!(matches!(err.failure, Failure::Trap { .. }), "{err}");

    // Each call gets a fresh instance: the next one is unaffected.
    assert_eq!(report(&runtime, &plugin, NOW, 1)["now_ms"], json!(NOW));
}

#[test]
fn a_javascript_build_with_http_is_refused_at_install_with_the_fix() {
    let (runtime, _dir) = runtime();
    let err = runtime.install(&build_js_with_http(&probe_dir(Lang::Js), "personalizer")).unwrap_err();
    let InstallError::ImportNotProvided { reason } = &err else { panic!("{err}") };
    assert!(reason.starts_with("`wasi:http/"), "{reason}");
    assert!(reason.contains("plugins have no network"), "{reason}");
    assert!(reason.contains("jco componentize --disable http fetch-event"), "{reason}");
    assert!(runtime.storage().plugins().unwrap().is_empty(), "nothing may be recorded");
}
