//! Builds the first-party plugins (`plugins/*`) to wasm32-wasip2 components and embeds them, so
//! the `baton` binary can install them (`baton demo`) with nothing else on disk.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = here.join("..");
    let components = baton_guest_build::build_members(
        &root.join("Cargo.toml"),
        &root.join("plugins"),
        &[&root.join("sdk/src"), &root.join("sdk/Cargo.toml"), &root.join("wit")],
    )
    .unwrap_or_else(|err| panic!("{err}"));
    let mut code =
        String::from("/// The first-party plugins, by name: component bytes built from `plugins/`.\n");
    code.push_str("pub const FIRST_PARTY: &[(&str, &[u8])] = &[\n");
    for (name, path) in &components {
        let _ = writeln!(code, "    ({name:?}, include_bytes!({:?})),", path.display().to_string());
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("first_party.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
