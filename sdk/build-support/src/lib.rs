//! Builds a guest workspace (first-party plugins, test fixtures) to `wasm32-wasip2` components
//! from a build script, so that `cargo test` and `cargo run` build plugins from source with no
//! manual step.
//!
//! The guest build uses its own target directory beside the caller's (a nested cargo on the same
//! target directory would wait forever for its lock) and is shared between build scripts, so the
//! guest dependencies compile once per profile.

use std::collections::BTreeMap;
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every Baton plugin is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Builds every crate of the guest workspace at `workspace` in release mode and returns the
/// component paths by crate name (with `-`, as in `Cargo.toml`).
///
/// Emits `cargo:rerun-if-changed` for the workspace and for `extra_inputs` (the SDK, the WIT).
pub fn build_workspace(
    workspace: &Path,
    extra_inputs: &[&Path],
) -> Result<BTreeMap<String, PathBuf>, String> {
    let crates = crates_in(workspace)?;
    build(&workspace.join("Cargo.toml"), &["--workspace".to_owned()], &crates, workspace, extra_inputs)
}

/// Builds the crates in the folders under `dir` (each a member of the workspace whose manifest is
/// `workspace_manifest`) for the guest target, and returns the component paths by crate name.
pub fn build_members(
    workspace_manifest: &Path,
    dir: &Path,
    extra_inputs: &[&Path],
) -> Result<BTreeMap<String, PathBuf>, String> {
    let crates = crates_in(dir)?;
    let packages: Vec<String> = crates.iter().flat_map(|name| ["-p".to_owned(), name.clone()]).collect();
    build(workspace_manifest, &packages, &crates, dir, extra_inputs)
}

fn build(
    manifest: &Path,
    selection: &[String],
    crates: &[String],
    watched: &Path,
    extra_inputs: &[&Path],
) -> Result<BTreeMap<String, PathBuf>, String> {
    for input in std::iter::once(watched).chain(extra_inputs.iter().copied()) {
        println!("cargo:rerun-if-changed={}", input.display());
    }
    ensure_target()?;
    let target_dir = guest_target_dir()?;
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(manifest)
        .args(selection)
        .arg("--target-dir")
        .arg(&target_dir)
        // The caller's flags are for the host target; they must not leak into the guest build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building {} for {TARGET} failed (see the cargo output above)",
            manifest.display()
        ));
    }
    let out = target_dir.join(TARGET).join("release");
    let mut components = BTreeMap::new();
    for name in crates {
        let path = out.join(format!("{}.wasm", name.replace('-', "_")));
        if !path.exists() {
            return Err(format!("expected component {} was not produced", path.display()));
        }
        components.insert(name.clone(), path);
    }
    Ok(components)
}

/// Installs the Wasm target through rustup when it is missing, so a fresh machine with only the
/// Rust toolchain needs no manual step (`rust-toolchain.toml` lists it too).
fn ensure_target() -> Result<(), String> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run {rustc}: {e}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).exists() {
        return Ok(());
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .map_err(|e| format!("the {TARGET} target is missing and rustup cannot be run: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`rustup target add {TARGET}` failed")) }
}

/// `<caller target dir>/wasm-guests`, found from `OUT_DIR` (`<target>/<profile>/build/<pkg>/out`).
fn guest_target_dir() -> Result<PathBuf, String> {
    let out_dir =
        env::var("OUT_DIR").map_err(|_| "OUT_DIR is not set: call from a build script".to_owned())?;
    let out_dir = PathBuf::from(out_dir);
    let target = out_dir
        .ancestors()
        .nth(4)
        .ok_or_else(|| format!("unexpected OUT_DIR layout: {}", out_dir.display()))?;
    Ok(target.join("wasm-guests"))
}

/// The package names of the crates in the folders under `workspace` (each with a Cargo.toml).
fn crates_in(workspace: &Path) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    collect_crates(workspace, 2, &mut names)?;
    names.sort();
    Ok(names)
}

/// Adds the crate names of the folders under `dir`, looking `depth` levels down (crates may sit
/// one level deeper, as in `examples/polyglot/<plugin>/rust`).
fn collect_crates(dir: &Path, depth: u32, names: &mut Vec<String>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let dir = entry.map_err(|e| e.to_string())?.path();
        let manifest = dir.join("Cargo.toml");
        if !manifest.exists() {
            if depth > 1 && dir.is_dir() && !dir.ends_with("target") {
                collect_crates(&dir, depth - 1, names)?;
            }
            continue;
        }
        let text = std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
        let name = text
            .lines()
            .find_map(|line| line.trim().strip_prefix("name = \"")?.strip_suffix('"').map(str::to_owned))
            .ok_or_else(|| format!("{}: no `name = \"...\"` line", manifest.display()))?;
        names.push(name);
    }
    Ok(())
}
