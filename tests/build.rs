//! Builds the fixture plugins from source to wasm32-wasip2 and tells the tests where they are.

use std::path::PathBuf;

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = here.join("..");
    let components = baton_guest_build::build_workspace(
        &here.join("fixtures"),
        &[&root.join("sdk/src"), &root.join("sdk/Cargo.toml"), &root.join("wit")],
    )
    .unwrap_or_else(|err| panic!("{err}"));
    let dir = components
        .values()
        .next()
        .and_then(|path| path.parent())
        .expect("the fixture workspace has at least one crate");
    println!("cargo:rustc-env=BATON_FIXTURES_DIR={}", dir.display());

    // The Rust twins of the polyglot examples; the other languages are built by the tests.
    let twins = baton_guest_build::build_workspace(
        &root.join("examples/polyglot"),
        &[&root.join("sdk/src"), &root.join("sdk/Cargo.toml"), &root.join("wit")],
    )
    .unwrap_or_else(|err| panic!("{err}"));
    let dir = twins.values().next().and_then(|path| path.parent()).expect("the twins workspace has crates");
    println!("cargo:rustc-env=BATON_POLYGLOT_DIR={}", dir.display());
}
