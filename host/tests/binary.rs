//! The `baton` executable itself. Having this integration test also makes `cargo test` build the
//! executable, which the cross-crate CLI tests in `tests/` run.

use std::process::Command;

#[test]
fn the_binary_reports_its_version_and_refuses_unknown_commands() {
    let output = Command::new(env!("CARGO_BIN_EXE_baton")).arg("--version").output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), format!("baton {}\n", env!("CARGO_PKG_VERSION")));

    let output = Command::new(env!("CARGO_BIN_EXE_baton")).arg("launch").output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unrecognized subcommand 'launch'"));
}
