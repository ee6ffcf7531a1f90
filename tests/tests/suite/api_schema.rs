//! The served OpenAPI document tells the truth: schemathesis (installed from PyPI, every one of
//! its checks) runs against a real `baton serve` over the demo's data and finds no failure: no
//! 5xx, no response that differs from its schema, status or content type, no schema-valid request
//! refused, no schema-violating request accepted, no route that ignores authentication, no
//! created resource missing, no deleted one still there.
//!
//! `BATON_SCHEMATHESIS_EXAMPLES` sets the examples per operation (default 25); the seed is fixed so
//! a failure reproduces.

use std::process::Command;

use baton_tests::polyglot::schemathesis;
use baton_tests::{ServeProcess, baton, fixture};

#[test]
fn schemathesis_finds_no_failure_against_the_served_document() {
    let st = schemathesis();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, _, err) = baton(&data, &["demo", "--dir", data.to_str().unwrap(), "--profiles", "100"]);
    assert!(ok, "demo: {err}");
    let (ok, out, err) = baton(&data, &["token", "create", "--name", "schemathesis", "--role", "admin"]);
    assert!(ok, "token: {err}");
    let token = out.trim().to_owned();

    // Components for POST /v1/plugins: real ones, built from source (hooks.py draws from them).
    let components: Vec<String> = ["seg-vip", "kpi-count", "pers-greeting", "chan-echo"]
        .iter()
        .map(|name| {
            let path = dir.path().join(format!("{name}.wasm"));
            std::fs::write(&path, fixture(name)).unwrap();
            path.to_string_lossy().into_owned()
        })
        .collect();

    let server = ServeProcess::start(&data, &[]);
    let url = server.url.clone();

    let examples = std::env::var("BATON_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "25".into());
    let hooks = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemathesis");
    let output = Command::new(&st)
        .args(["run", &format!("{url}/v1/openapi.json"), "--checks", "all", "--no-color"])
        .args(["--max-examples", &examples, "--seed", "20261130", "--workers", "1"])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", &hooks)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("BATON_COMPONENTS", components.join(":"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // It tested every operation of the document, not a few (all but the document's own route,
    // which schemathesis leaves out).
    let operations = baton_api_operations() - 1;
    assert!(report.contains(&format!("Tested: {operations}")), "not every operation was tested:\n{report}");
}

/// How many operations the route table has.
fn baton_api_operations() -> usize {
    baton::routes().len()
}
