//! Installing a component: from untrusted bytes to a registered, precompiled, linked plugin.
//! Each way the bytes can be wrong gets its own [`InstallError`].

use std::sync::Arc;

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::sandbox::Sandbox;
use super::{InstallError, LoadedPlugin, Runtime, SUPPORTED_CONTRACTS, WorldPre, v0_1_0, v0_2_0, v0_3_0};
use crate::contract::PluginInfo;
use crate::plugin::{ContentHash, PluginKind, PluginRecord};

const WASM_MAGIC: &[u8] = b"\0asm";

impl Runtime {
    /// Installs a component. Idempotent: installing the same bytes again returns the installed
    /// plugin. On success the plugin and its compiled artifact are durable in the store.
    pub fn install(&self, bytes: &[u8]) -> Result<Arc<LoadedPlugin>, InstallError> {
        let size = bytes.len() as u64;
        if size > self.config.max_component_bytes {
            return Err(InstallError::TooLarge { size, limit: self.config.max_component_bytes });
        }
        check_header(bytes)?;
        let hash = ContentHash::of(bytes);
        if let Some(plugin) = self.cached(&hash) {
            return Ok(plugin);
        }
        check_imports(bytes)?;
        let started = std::time::Instant::now();
        let component =
            self.compile(bytes).map_err(|e| InstallError::Invalid { reason: format!("{e:#}") })?;
        let compiled = started.elapsed();
        let (kind, contract) = detect_world(&self.engine, &component)?;
        let pre = link(&self.linker, &component, kind, &contract)?;

        // Ask the plugin to describe itself, under the default limits, before recording anything.
        let provisional = Arc::new(LoadedPlugin {
            record: PluginRecord {
                hash,
                name: format!("(installing {})", hash.short()),
                version: String::new(),
                kind,
                contract: contract.clone(),
                description: String::new(),
                config_schema: String::new(),
                attributes: Vec::new(),
                events: Vec::new(),
                event_window_ms: None,
                allowed_hosts: Vec::new(),
                secrets: Vec::new(),
                provides: Vec::new(),
                size,
                quarantine: None,
            },
            pre,
            stats: Default::default(),
            guard: super::QuarantineGuard::new(self.storage.clone(), self.config.quarantine_after, None),
        });
        let started = std::time::Instant::now();
        let info = self.call(&provisional).info().map_err(InstallError::Info)?.value;
        let described = started.elapsed();
        let record = record_from_info(hash, kind, contract, size, info)?;
        let Ok(provisional) = Arc::try_unwrap(provisional) else {
            return Err(InstallError::BadInfo("was still running after it returned".into()));
        };

        let started = std::time::Instant::now();
        self.storage.put_plugin(&record, bytes)?;
        match component.serialize() {
            Ok(artifact) => self.keep_artifact(&hash, &artifact)?,
            Err(err) => {
                tracing::warn!(plugin = %record.label(), error = %err, "Artifact not cached; the next start recompiles.")
            }
        }
        tracing::info!(
            plugin = %record.label(),
            hash = %hash,
            kind = %kind,
            bytes = size,
            compile_ms = compiled.as_millis() as u64,
            info_ms = described.as_millis() as u64,
            store_ms = started.elapsed().as_millis() as u64,
            "Plugin installed."
        );
        let plugin = self.remember(LoadedPlugin {
            record,
            pre: provisional.pre,
            stats: provisional.stats,
            guard: provisional.guard,
        });
        // The other workers sharing the database compile it now, not when the first event that
        // needs it arrives (told only once it is loaded here, so this worker does not compile
        // it a second time on hearing itself).
        self.storage.announce(&crate::store::plugin_change(&hash));
        Ok(plugin)
    }
}

/// Tells "not wasm" and "a core module" apart from "a component" before compiling anything.
fn check_header(bytes: &[u8]) -> Result<(), InstallError> {
    if !bytes.starts_with(WASM_MAGIC) {
        return Err(InstallError::NotWasm);
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(InstallError::CoreModule);
    }
    Ok(())
}

/// The interface namespaces a plugin may import: Baton's host interface and the deny-all WASI
/// the sandbox links (files, sockets and environment present but empty, clocks and randomness
/// virtual).
const PROVIDED_IMPORTS: [&str; 8] = [
    "baton:plugin/host@",
    "baton:plugin/types@",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/",
    "wasi:filesystem/",
    "wasi:sockets/",
];

/// Refuses, before the (slow) compile, a component that imports an interface the sandbox does not
/// provide, naming it and saying how such imports usually arise.
fn check_imports(bytes: &[u8]) -> Result<(), InstallError> {
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        // Malformed bytes are reported by the compiler, with its more precise message.
        let Ok(payload) = payload else { return Ok(()) };
        match payload {
            wasmparser::Payload::ModuleSection { .. } | wasmparser::Payload::ComponentSection { .. } => {
                depth += 1
            }
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(imports) if depth == 0 => {
                for import in imports.into_iter().flatten() {
                    let name = import.name.name;
                    if !PROVIDED_IMPORTS.iter().any(|prefix| name.starts_with(prefix)) {
                        return Err(InstallError::ImportNotProvided { reason: unprovided(name) });
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Why `import` is refused, with the usual cause.
fn unprovided(import: &str) -> String {
    let hint = if import.starts_with("wasi:http/") {
        "plugins have no network: a channel adapter returns requests and the host sends them. \
         Build without HTTP support (for jco: `jco componentize --disable http fetch-event`)"
    } else {
        "plugins may import baton:plugin/host and WASI's io, clocks, random, cli, filesystem and \
         sockets interfaces (granting nothing); remove the import or build against the \
         baton:plugin world only"
    };
    format!("`{import}`: {hint}")
}

/// Finds the world from the exported kind interface (`baton:plugin/<interface>@<version>`).
fn detect_world(engine: &Engine, component: &Component) -> Result<(PluginKind, String), InstallError> {
    let ty = component.component_type();
    let mut exports = Vec::new();
    let mut kinds = Vec::new();
    for (name, _) in ty.exports(engine) {
        exports.push(name.to_owned());
        let Some(rest) = name.strip_prefix("baton:plugin/") else {
            continue;
        };
        let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
        if let Some(kind) = PluginKind::from_interface(interface) {
            kinds.push((kind, version.to_owned()));
        }
    }
    match kinds.as_slice() {
        [] => Err(InstallError::UnknownWorld {
            exports: if exports.is_empty() { "nothing".into() } else { exports.join(", ") },
        }),
        [(kind, version)] => {
            if SUPPORTED_CONTRACTS.contains(&version.as_str()) {
                Ok((*kind, version.clone()))
            } else {
                Err(InstallError::UnsupportedContract {
                    found: if version.is_empty() { "(unversioned)".into() } else { version.clone() },
                    supported: SUPPORTED_CONTRACTS.join(", "),
                })
            }
        }
        several => Err(InstallError::SeveralWorlds {
            kinds: several.iter().map(|(k, _)| k.world()).collect::<Vec<_>>().join(", "),
        }),
    }
}

/// Links the component against the sandbox and types its exports by contract version and world.
pub(super) fn link(
    linker: &Linker<Sandbox>,
    component: &Component,
    kind: PluginKind,
    contract: &str,
) -> Result<WorldPre, InstallError> {
    let pre = linker
        .instantiate_pre(component)
        .map_err(|e| InstallError::ImportNotProvided { reason: format!("{e:#}") })?;
    let bad = |e: wasmtime::Error| InstallError::BadExports { world: kind.world(), reason: format!("{e:#}") };
    match contract {
        v if v == v0_1_0::VERSION => v0_1_0::link_kind(pre, kind).map(WorldPre::V0_1_0).map_err(bad),
        v if v == v0_2_0::VERSION => v0_2_0::link_kind(pre, kind).map(WorldPre::V0_2_0).map_err(bad),
        v if v == v0_3_0::VERSION => v0_3_0::link_kind(pre, kind).map(WorldPre::V0_3_0).map_err(bad),
        other => Err(InstallError::UnsupportedContract {
            found: other.to_owned(),
            supported: SUPPORTED_CONTRACTS.join(", "),
        }),
    }
}

fn record_from_info(
    hash: ContentHash,
    kind: PluginKind,
    contract: String,
    size: u64,
    info: PluginInfo,
) -> Result<PluginRecord, InstallError> {
    let declared = info.kind;
    if declared != kind {
        return Err(InstallError::BadInfo(format!(
            "declares kind `{declared}` but the component implements the `{kind}` world"
        )));
    }
    if !valid_name(&info.name) {
        return Err(InstallError::BadInfo(format!(
            "name `{}` is invalid: use 1 to 64 lowercase letters, digits and `-`, starting with a letter or digit",
            info.name
        )));
    }
    if !valid_version(&info.version) {
        return Err(InstallError::BadInfo(format!(
            "version `{}` is not a semantic version such as `1.2.0`",
            info.version
        )));
    }
    match (kind == PluginKind::ComputedTrait, info.provides.is_empty()) {
        (true, true) => {
            return Err(InstallError::BadInfo(
                "a computed-trait plugin must list the traits it writes in `provides`".into(),
            ));
        }
        (false, false) => {
            return Err(InstallError::BadInfo(format!(
                "a {kind} plugin provides no traits; leave `provides` empty"
            )));
        }
        _ => {}
    }
    if let Some(bad) = info.provides.iter().find(|name| !valid_trait_name(name)) {
        return Err(InstallError::BadInfo(format!(
            "trait name `{bad}` is invalid: use 1 to 64 lowercase letters, digits and `_`, starting with a letter"
        )));
    }
    if serde_json::from_str::<serde_json::Value>(&info.config_schema).is_err() {
        return Err(InstallError::BadInfo("config-schema is not valid JSON".into()));
    }
    Ok(PluginRecord {
        hash,
        name: info.name,
        version: info.version,
        kind,
        contract,
        description: info.description,
        config_schema: info.config_schema,
        attributes: info.needs.attributes,
        events: info.needs.events,
        event_window_ms: info.needs.event_window,
        allowed_hosts: info.needs.allowed_hosts,
        secrets: info.needs.secrets,
        provides: info.provides,
        size,
        quarantine: None,
    })
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    (1..=64).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn valid_trait_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn valid_version(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_check_tells_garbage_modules_and_components_apart() {
        assert!(matches!(check_header(b"hello"), Err(InstallError::NotWasm)));
        assert!(matches!(check_header(b"\0asm\x01\0\0\0"), Err(InstallError::CoreModule)));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn names_and_versions_are_checked() {
        assert!(valid_name("segment-conditions"));
        assert!(!valid_name("Segment"));
        assert!(!valid_name("-x"));
        assert!(!valid_name(""));
        assert!(valid_trait_name("lead_score") && !valid_trait_name("Lead") && !valid_trait_name("_x"));
        assert!(valid_version("1.2.0"));
        assert!(valid_version("0.1.0-beta.1"));
        assert!(!valid_version("1.2"));
        assert!(!valid_version("v1.2.0"));
    }
}
