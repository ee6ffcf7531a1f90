//! The plugin author's kit: what a plugin author needs from Baton beyond the SDK, for languages
//! whose toolchains do not emit Baton components by themselves.
//!
//! - The contract's WIT, embedded, so `baton plugin new` and the bindings below work without a
//!   checkout of this repository.
//! - C bindings for one world (what `wit-bindgen c` prints), generated in-process.
//! - Turning a core module (what clang's `wasm32-wasi` target links) into a component, with the
//!   WASI preview 1 adapter that matches this host's wasmtime, as `wasm-tools component new` does.
//!
//! Both are the same generators the command-line tools use; embedding them spares authors two
//! tool installs and pins them to the versions this host was built and tested with.

use wit_bindgen_core::Files;
use wit_parser::{Resolve, SourceMap};

/// Every contract's WIT files, by version (oldest first) and file name: the Rust SDK vendored into
/// a scaffold builds against either, and C bindings can be made for either.
pub const ALL_WIT_FILES: [(&str, [(&str, &str); 2]); 3] = [
    (
        "0.1.0",
        [
            ("types.wit", include_str!("../../wit/v0.1.0/types.wit")),
            ("kinds.wit", include_str!("../../wit/v0.1.0/kinds.wit")),
        ],
    ),
    (
        "0.2.0",
        [
            ("types.wit", include_str!("../../wit/v0.2.0/types.wit")),
            ("kinds.wit", include_str!("../../wit/v0.2.0/kinds.wit")),
        ],
    ),
    (
        "0.3.0",
        [
            ("types.wit", include_str!("../../wit/v0.3.0/types.wit")),
            ("kinds.wit", include_str!("../../wit/v0.3.0/kinds.wit")),
        ],
    ),
];

/// The newest contract's WIT files, by file name: what the JavaScript, Python and C scaffolds
/// build against ([`crate::contract::LATEST_CONTRACT`]).
pub const WIT_FILES: [(&str, &str); 2] = ALL_WIT_FILES[ALL_WIT_FILES.len() - 1].1;

/// The jco release that JavaScript scaffolds (`baton plugin new --lang js`) and the test suite
/// pin. Later lines fail offline with "failed to get path metadata" when componentizing.
pub const JCO_VERSION: &str = "1.15.0";
/// The componentize-js release that jco 1.15.0 depends on, pinned too so npm installs one copy.
pub const COMPONENTIZE_JS_VERSION: &str = "0.18.5";
/// The componentize-py release that Python scaffolds and the test suite pin.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// The worlds a plugin can implement, one per plugin kind, in the newest contract.
pub const WORLDS: [&str; 5] =
    ["segment-rule", "personalizer", "channel-adapter", "kpi-calculator", "computed-trait"];

/// Why the kit could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ToolkitError {
    /// The world name is not one of [`WORLDS`].
    #[error("world `{0}`: use segment-rule, personalizer, channel-adapter, kpi-calculator or computed-trait")]
    UnknownWorld(String),
    /// The contract version is not one this kit carries, or lacks the world.
    #[error("{0}")]
    Contract(String),
    /// The embedded WIT did not resolve (a defect of this build, not of the caller's input).
    #[error("the embedded contract WIT does not resolve: {0}")]
    Wit(String),
    /// The bindings generator failed.
    #[error("generating bindings failed: {0}")]
    Bindings(String),
    /// The input is not a WebAssembly core module.
    #[error("{0}")]
    NotACoreModule(String),
    /// The core module could not be turned into a component.
    #[error("cannot make a component of this module: {0}")]
    Componentize(String),
}

/// The WIT of contract `version`, resolved, with the package id of `baton:plugin`.
fn contract(version: &str) -> Result<(Resolve, wit_parser::PackageId), ToolkitError> {
    let Some((_, files)) = ALL_WIT_FILES.iter().find(|(v, _)| *v == version) else {
        let known: Vec<&str> = ALL_WIT_FILES.iter().map(|(v, _)| *v).collect();
        let (last, rest) = known.split_last().unwrap_or((&"", &[]));
        let choices =
            if rest.is_empty() { (*last).to_owned() } else { format!("{} or {last}", rest.join(", ")) };
        return Err(ToolkitError::Contract(format!("contract {version}: use {choices}")));
    };
    let mut map = SourceMap::new();
    for (name, text) in files {
        map.push(std::path::Path::new(name), *text);
    }
    let group = map.parse().map_err(|(_, e)| ToolkitError::Wit(e.to_string()))?;
    let mut resolve = Resolve::default();
    let package = resolve.push_group(group).map_err(|e| ToolkitError::Wit(e.to_string()))?;
    Ok((resolve, package))
}

/// C bindings for `world` of contract `version`: the header, the glue source and the object file
/// that carries the component type (link it in, or the module cannot become a component).
/// Returns (file name, contents) pairs, for example `segment_rule.h`, `segment_rule.c`,
/// `segment_rule_component_type.o`.
pub fn c_bindings(world: &str, version: &str) -> Result<Vec<(String, Vec<u8>)>, ToolkitError> {
    if !WORLDS.contains(&world) {
        return Err(ToolkitError::UnknownWorld(world.to_owned()));
    }
    let (mut resolve, package) = contract(version)?;
    if !resolve.packages[package].worlds.contains_key(world) {
        return Err(ToolkitError::Contract(format!(
            "world `{world}` is not in contract {version}: build it against {}",
            crate::contract::LATEST_CONTRACT
        )));
    }
    let world_id =
        resolve.select_world(&[package], Some(world)).map_err(|e| ToolkitError::Wit(e.to_string()))?;
    let mut files = Files::default();
    let mut generator = wit_bindgen_c::Opts::default().build();
    generator
        .generate(&mut resolve, world_id, &mut files)
        .map_err(|e| ToolkitError::Bindings(format!("{e:#}")))?;
    Ok(files.iter().map(|(name, bytes)| (name.to_owned(), bytes.to_vec())).collect())
}

/// Turns a core module into a component: the module's embedded component type (from the
/// bindings' object file) gives its exports and imports, and its WASI preview 1 imports are
/// adapted to preview 2 with the reactor adapter that matches this host's wasmtime.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, ToolkitError> {
    if !module.starts_with(b"\0asm") {
        return Err(ToolkitError::NotACoreModule("the file is not WebAssembly (no `\\0asm` header)".into()));
    }
    if wasmparser::Parser::is_component(module) {
        return Err(ToolkitError::NotACoreModule(
            "the file is a component already: install it as it is".into(),
        ));
    }
    if !has_component_type(module) {
        return Err(ToolkitError::Componentize(
            "the module carries no component type: link the `<world>_component_type.o` that \
             `baton plugin bindings c` wrote"
                .into(),
        ));
    }
    let encoded = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(module)
        .and_then(|encoder| {
            encoder.adapter(
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
        })
        .and_then(|encoder| encoder.encode());
    encoded.map_err(|e| ToolkitError::Componentize(format!("{e:#}")))
}

/// Whether the module has the custom section in which bindings generators record the world.
fn has_component_type(module: &[u8]) -> bool {
    wasmparser::Parser::new(0).parse_all(module).any(|payload| {
        matches!(payload, Ok(wasmparser::Payload::CustomSection(section))
            if section.name().starts_with("component-type"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_bindings_exist_for_every_world() {
        for world in WORLDS {
            let files = c_bindings(world, crate::contract::LATEST_CONTRACT).expect("bindings");
            let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
            let stem = world.replace('-', "_");
            assert_eq!(
                names,
                [format!("{stem}.c"), format!("{stem}.h"), format!("{stem}_component_type.o")],
                "{world}"
            );
        }
    }

    /// The kit carries exactly the contracts the runtime runs.
    #[test]
    fn the_kit_carries_every_supported_contract() {
        let carried: Vec<&str> = ALL_WIT_FILES.iter().map(|(v, _)| *v).collect();
        assert_eq!(carried, crate::contract::SUPPORTED_CONTRACTS);
        for (version, files) in ALL_WIT_FILES {
            assert!(files[0].1.starts_with(&format!("package baton:plugin@{version};")), "{version}");
        }
    }

    #[test]
    fn unknown_worlds_and_non_modules_are_refused_with_a_reason() {
        let err = c_bindings("mailer", "0.2.0").expect_err("unknown world");
        assert_eq!(
            err.to_string(),
            "world `mailer`: use segment-rule, personalizer, channel-adapter, kpi-calculator or computed-trait"
        );
        let err = c_bindings("segment-rule", "0.4.0").expect_err("unknown contract");
        assert_eq!(err.to_string(), "contract 0.4.0: use 0.1.0, 0.2.0 or 0.3.0");
        let err = c_bindings("computed-trait", "0.1.0").expect_err("a world newer than the contract");
        assert_eq!(
            err.to_string(),
            "world `computed-trait` is not in contract 0.1.0: build it against 0.3.0"
        );
        let err = componentize(b"hello").expect_err("not wasm");
        assert_eq!(err.to_string(), "the file is not WebAssembly (no `\\0asm` header)");
        // A core module without the bindings' component type cannot become a Baton plugin.
        let empty = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
        let err = componentize(&empty).expect_err("no component type");
        assert_eq!(
            err.to_string(),
            "cannot make a component of this module: the module carries no component type: link the \
             `<world>_component_type.o` that `baton plugin bindings c` wrote"
        );
    }
}
