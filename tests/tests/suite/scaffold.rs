//! `baton plugin new <kind> --lang rust|js|python|c` scaffolds projects that build with their own
//! `build.sh` and pass their own fixtures under `baton plugin test`: every kind in every language,
//! with the real toolchains (installed by the harness from the package registries, as `.ci/run`
//! gets them).

use std::path::Path;
use std::process::Command;

use baton_tests::polyglot::{Lang, toolchain_env};
use baton_tests::{baton, baton_bin};

const KINDS: [&str; 5] =
    ["segment-rule", "personalizer", "channel-adapter", "kpi-calculator", "computed-trait"];

/// The fixture cases each kind's scaffold ships with (the same in every language).
fn cases(kind: &str) -> usize {
    match kind {
        "personalizer" => 2,
        "segment-rule" | "computed-trait" => 3,
        "channel-adapter" => 5,
        _ => 1,
    }
}

/// Scaffolds every kind in `lang`, runs each project's `build.sh` and checks that it built the
/// component and passed all its fixtures.
fn scaffold_build_and_test(lang: Lang, extra_env: &[(&str, &Path)]) {
    scaffold_build_and_test_with(lang, extra_env, &baton_bin());
}

/// The same with the `baton` binary at `bin`.
fn scaffold_build_and_test_with(lang: Lang, extra_env: &[(&str, &Path)], bin: &Path) {
    let toolchain = toolchain_env(lang);
    let dir = tempfile::tempdir().unwrap();
    for kind in KINDS {
        let project = dir.path().join(format!("my-{kind}"));
        let output = Command::new(bin)
            .current_dir(dir.path())
            .args(["plugin", "new", kind, project.to_str().unwrap(), "--lang", lang.dir()])
            .output()
            .unwrap();
        let (out, err) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success() && out.starts_with("created "), "{kind}: {out}{err}");
        assert!(project.join("build.sh").exists(), "{kind}: no build.sh");

        let mut build = Command::new(project.join("build.sh"));
        build.env("BATON", bin).env_remove("RUSTFLAGS").env_remove("CARGO_ENCODED_RUSTFLAGS");
        for (name, value) in &toolchain {
            build.env(name, value);
        }
        for (name, value) in extra_env {
            build.env(name, value);
        }
        let output = build.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{lang:?} {kind}: build.sh failed\n{stdout}\n{stderr}");
        let summary = format!("{} passed, 0 failed\n", cases(kind));
        assert!(stdout.ends_with(&summary), "{lang:?} {kind}: expected {summary:?}\n{stdout}");
        assert_eq!(stdout.matches("\nPASS ").count() + usize::from(stdout.starts_with("PASS ")), cases(kind));
    }
}

/// A plugin author has the `baton` binary and the Rust toolchain, not Baton's sources: the binary,
/// copied into an empty folder, scaffolds projects that build and pass their fixtures, and
/// nothing in them points back at the source tree.
#[test]
fn rust_scaffolds_from_a_lone_binary_build_and_pass_their_fixtures() {
    let alone = tempfile::tempdir().unwrap();
    let bin = alone.path().join("baton");
    std::fs::copy(baton_bin(), &bin).unwrap();
    let source_tree = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
    let probe = alone.path().join("probe");
    let made =
        Command::new(&bin).args(["plugin", "new", "segment-rule", probe.to_str().unwrap()]).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let manifest = std::fs::read_to_string(probe.join("Cargo.toml")).unwrap();
    assert!(manifest.contains(r#"baton-sdk = { path = "baton-sdk" }"#), "{manifest}");
    for file in [
        "baton-sdk/Cargo.toml",
        "baton-sdk/src/lib.rs",
        "baton-sdk/wit/v0.1.0/kinds.wit",
        "baton-sdk/wit/v0.2.0/kinds.wit",
        "baton-sdk/wit/v0.3.0/kinds.wit",
    ] {
        let text = std::fs::read_to_string(probe.join(file)).unwrap();
        assert!(!text.contains(source_tree.to_str().unwrap()), "{file} names the source tree");
    }
    // Share the guest target dir the build script uses, so dependencies compile once.
    let guests = baton_bin().parent().unwrap().parent().unwrap().join("wasm-guests");
    scaffold_build_and_test_with(Lang::Rust, &[("CARGO_TARGET_DIR", &guests)], &bin);
}

#[test]
fn javascript_scaffolds_build_and_pass_their_fixtures() {
    scaffold_build_and_test(Lang::Js, &[]);
}

#[test]
fn python_scaffolds_build_and_pass_their_fixtures() {
    scaffold_build_and_test(Lang::Python, &[]);
}

#[test]
fn c_scaffolds_build_and_pass_their_fixtures() {
    scaffold_build_and_test(Lang::C, &[]);
}

#[test]
fn plugin_new_refuses_an_unknown_kind_or_language() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("x");
    let (ok, _, err) = baton(dir.path(), &["plugin", "new", "oracle", target.to_str().unwrap()]);
    assert!(!ok && err.contains("kind `oracle`: use segment-rule, personalizer"), "{err}");
    let (ok, _, err) =
        baton(dir.path(), &["plugin", "new", "segment-rule", target.to_str().unwrap(), "--lang", "go"]);
    assert!(!ok && err.contains("--lang go: use rust, js, python or c"), "{err}");
    assert!(!target.exists(), "a refused scaffold writes nothing");
}
