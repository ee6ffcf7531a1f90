//! The plugin runtime: installs components, keeps them precompiled and pre-instantiated, and runs
//! each call in a fresh, sandboxed instance under explicit limits.
//!
//! - Install validates the bytes, finds the world and contract version from the component's
//!   exports, links it against the deny-all sandbox, calls `info()`, and stores the component and
//!   its compiled artifact (keyed by the engine's compatibility hash, so a restart does not
//!   recompile).
//! - Every call gets a new `Store` and instance from an `InstancePre` (pooling allocator,
//!   copy-on-write memory images), a fuel budget, an epoch deadline, a memory cap, and byte caps
//!   on input, output and logs. A limit hit fails that call only.
//!
//! Depends on: `plugin`, `store`.

mod call;
mod compile_cache;
mod edge;
mod error;
mod install;
mod limits;
mod sandbox;
mod since_0_2;
mod size;
mod v0_1_0;
mod v0_2_0;
mod v0_3_0;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use call::{Called, KpiRun, PluginCall};
pub use error::{CallMetrics, CallOutcome, Failure, InstallError, InvokeError, RuntimeError};
pub use limits::{Limits, RuntimeConfig};

use crate::plugin::{ContentHash, PluginKind, PluginRecord};
use crate::store::Storage;
use sandbox::Sandbox;

/// Plugin calls by outcome.
pub(crate) type CallCounters = Arc<[AtomicU64; CallOutcome::COUNT]>;

pub use crate::contract::SUPPORTED_CONTRACTS;

/// The versions of the version modules, oldest first (what `contract::SUPPORTED_CONTRACTS` is).
pub(crate) const CONTRACTS: [&str; 3] = [v0_1_0::VERSION, v0_2_0::VERSION, v0_3_0::VERSION];

/// An installed plugin, compiled and linked, ready to instantiate. Shared by `Arc`: a call in
/// flight keeps its plugin alive even if a binding swaps it out meanwhile.
pub struct LoadedPlugin {
    record: PluginRecord,
    pre: WorldPre,
    stats: PluginStatsCell,
    guard: QuarantineGuard,
}

/// Watches a plugin's failures and quarantines it after too many in a row.
struct QuarantineGuard {
    storage: Storage,
    threshold: u32,
    consecutive: std::sync::atomic::AtomicU32,
    reason: std::sync::Mutex<Option<String>>,
}

impl QuarantineGuard {
    fn new(storage: Storage, threshold: u32, current: Option<&crate::plugin::Quarantine>) -> Self {
        QuarantineGuard {
            storage,
            threshold,
            consecutive: std::sync::atomic::AtomicU32::new(0),
            reason: std::sync::Mutex::new(current.map(|q| q.reason.clone())),
        }
    }
}

/// Counters of one plugin's calls since it was loaded in this process.
#[derive(Default)]
struct PluginStatsCell {
    calls: [AtomicU64; CallOutcome::COUNT],
    fuel_used: AtomicU64,
    wall_micros: AtomicU64,
    last_failure: std::sync::Mutex<Option<String>>,
}

/// A snapshot of one plugin's call statistics since it was loaded in this process.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct PluginStats {
    /// Calls by outcome.
    pub calls: std::collections::BTreeMap<&'static str, u64>,
    /// Fuel used by all calls.
    pub fuel_used: u64,
    /// Wall time of all calls, in microseconds.
    pub wall_micros: u64,
    /// The last failure, if any.
    pub last_failure: Option<String>,
}

/// The pre-instantiated component, typed by the contract version and world it implements. One
/// variant per supported contract: the only place above the version modules that knows them.
enum WorldPre {
    V0_1_0(v0_1_0::Pre),
    V0_2_0(v0_2_0::Pre),
    V0_3_0(v0_3_0::Pre),
}

/// Runs `$body` with `$pre` bound to the version module's `Pre`, whatever the version, for the
/// calls every version has.
macro_rules! any_version {
    ($world:expr, $pre:ident => $body:expr) => {
        match $world {
            $crate::runtime::WorldPre::V0_1_0($pre) => $body,
            $crate::runtime::WorldPre::V0_2_0($pre) => $body,
            $crate::runtime::WorldPre::V0_3_0($pre) => $body,
        }
    };
}
pub(crate) use any_version;

/// Runs `$body` with `$pre` bound to the version module's `Pre` for the versions that have the
/// calls 0.2.0 introduced; `$older` for 0.1.0.
macro_rules! from_0_2 {
    ($world:expr, $pre:ident => $body:expr, older => $older:expr) => {
        match $world {
            $crate::runtime::WorldPre::V0_1_0(_) => $older,
            $crate::runtime::WorldPre::V0_2_0($pre) => $body,
            $crate::runtime::WorldPre::V0_3_0($pre) => $body,
        }
    };
}
pub(crate) use from_0_2;

impl WorldPre {
    /// The world the component implements.
    fn kind(&self) -> PluginKind {
        any_version!(self, pre => pre.kind())
    }

    /// The contract version the component was built against.
    fn contract(&self) -> &'static str {
        match self {
            WorldPre::V0_1_0(_) => v0_1_0::VERSION,
            WorldPre::V0_2_0(_) => v0_2_0::VERSION,
            WorldPre::V0_3_0(_) => v0_3_0::VERSION,
        }
    }
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin").field("record", &self.record).finish_non_exhaustive()
    }
}

impl LoadedPlugin {
    /// The registry record: identity, `info()`, declared needs.
    pub fn record(&self) -> &PluginRecord {
        &self.record
    }

    /// The plugin's content hash.
    pub fn hash(&self) -> ContentHash {
        self.record.hash
    }

    /// The plugin's kind.
    pub fn kind(&self) -> PluginKind {
        self.record.kind
    }

    /// `name@version`.
    pub fn label(&self) -> String {
        self.record.label()
    }

    /// Why the plugin is quarantined, if it is.
    pub fn quarantined(&self) -> Option<String> {
        self.guard.reason.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Lifts the quarantine (an operator re-enabled the plugin).
    pub(crate) fn release(&self) {
        *self.guard.reason.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.guard.consecutive.store(0, Ordering::Relaxed);
    }

    /// Counts a failure or a success toward quarantine; quarantines (durably, audited) when too
    /// many calls in a row trapped, hit a limit or broke the contract.
    fn watch(&self, outcome: Option<CallOutcome>, failure: Option<&str>) {
        let failed =
            matches!(outcome, Some(CallOutcome::Trap | CallOutcome::LimitExceeded | CallOutcome::BadOutput));
        if !failed {
            if outcome == Some(CallOutcome::Ok) || outcome == Some(CallOutcome::GuestError) {
                self.guard.consecutive.store(0, Ordering::Relaxed);
            }
            return;
        }
        let n = self.guard.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
        if self.guard.threshold == 0 || n < self.guard.threshold || self.quarantined().is_some() {
            return;
        }
        let reason = format!("{n} failed calls in a row; the last: {}", failure.unwrap_or("unknown"));
        *self.guard.reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.clone());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let quarantine = crate::plugin::Quarantine { since: now, reason: reason.clone() };
        match self.guard.storage.set_quarantine(&self.record.hash, Some(quarantine), "system", now) {
            Ok(_) => {
                tracing::error!(plugin = %self.label(), %reason, "Plugin quarantined; enable it again once fixed.")
            }
            Err(err) => {
                tracing::error!(plugin = %self.label(), error = %err, "Plugin quarantined in memory; recording it failed.")
            }
        }
    }

    /// Counts one failure caused by one input toward quarantine: what a batch split by
    /// [`PluginCall::isolating`] found, counted once however many calls it took to find.
    pub(crate) fn count_input_failure(&self, outcome: Option<CallOutcome>, failure: &str) {
        self.watch(outcome, Some(failure));
    }

    /// Call statistics since the plugin was loaded in this process.
    pub fn stats(&self) -> PluginStats {
        let cell = &self.stats;
        PluginStats {
            calls: CallOutcome::ALL
                .iter()
                .map(|o| (o.name(), cell.calls[o.index()].load(Ordering::Relaxed)))
                .collect(),
            fuel_used: cell.fuel_used.load(Ordering::Relaxed),
            wall_micros: cell.wall_micros.load(Ordering::Relaxed),
            last_failure: cell.last_failure.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    /// Records a finished call.
    pub(crate) fn note(&self, metrics: &CallMetrics, failure: Option<String>, quarantine: bool) {
        if quarantine || failure.is_none() {
            self.watch(metrics.outcome, failure.as_deref());
        }
        let cell = &self.stats;
        if let Some(outcome) = metrics.outcome {
            cell.calls[outcome.index()].fetch_add(1, Ordering::Relaxed);
        }
        cell.fuel_used.fetch_add(metrics.fuel_used, Ordering::Relaxed);
        let micros = u64::try_from(metrics.wall_time.as_micros()).unwrap_or(u64::MAX);
        cell.wall_micros.fetch_add(micros, Ordering::Relaxed);
        if failure.is_some() {
            *cell.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = failure;
        }
    }
}

/// The plugin runtime. One per process; cheap to share behind an `Arc`.
pub struct Runtime {
    engine: Engine,
    linker: Linker<Sandbox>,
    config: RuntimeConfig,
    storage: Storage,
    engine_key: String,
    /// Compiled artifacts kept in this worker's own compile cache folder, when the store is a
    /// shared database (which keeps components only; see `Storage::artifact`).
    local_artifacts: Option<sled::Tree>,
    loaded: RwLock<HashMap<ContentHash, Arc<LoadedPlugin>>>,
    /// A turn per plugin being loaded: callers asking for one plugin at once (the first events
    /// after another worker installed it) compile it once, the others waiting for that.
    loading: Mutex<HashMap<ContentHash, Arc<Mutex<()>>>>,
    compilations: AtomicU64,
    artifact_loads: AtomicU64,
    /// Plugin calls by outcome, indexed by `CallOutcome::index`; shared with calls in flight.
    calls: CallCounters,
    ticker: EpochTicker,
}

/// Counters of the expensive things the runtime does, for metrics and tests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeStats {
    /// Components compiled with Cranelift (at install, or when no usable artifact was cached).
    pub compilations: u64,
    /// Components loaded from a cached compiled artifact.
    pub artifact_loads: u64,
    /// Plugin calls by outcome.
    pub calls: Vec<(CallOutcome, u64)>,
}

impl Runtime {
    /// Creates the engine (pooling allocator, fuel, epoch interruption) over `storage`.
    pub fn new(config: RuntimeConfig, storage: Storage) -> Result<Self, RuntimeError> {
        let mut wasm = engine_config(&config);
        let (cache, local_artifacts) = open_compile_cache(&config, &storage)?;
        if let Some(cache) = cache {
            wasm.enable_incremental_compilation(Arc::new(cache)).map_err(engine_err)?;
        }
        let engine = Engine::new(&wasm).map_err(engine_err)?;
        let linker = sandbox::linker(&engine).map_err(engine_err)?;
        let engine_key = engine_key(&engine);
        let ticker = EpochTicker::start(engine.clone(), config.epoch_tick)?;
        Ok(Runtime {
            engine,
            linker,
            config,
            storage,
            engine_key,
            local_artifacts,
            loaded: RwLock::new(HashMap::new()),
            loading: Mutex::default(),
            compilations: AtomicU64::new(0),
            artifact_loads: AtomicU64::new(0),
            calls: Arc::new(Default::default()),
            ticker,
        })
    }

    /// The runtime's settings.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// How many compilations and artifact loads this runtime has done.
    pub fn stats(&self) -> RuntimeStats {
        RuntimeStats {
            compilations: self.compilations.load(Ordering::Relaxed),
            artifact_loads: self.artifact_loads.load(Ordering::Relaxed),
            calls: CallOutcome::ALL
                .iter()
                .map(|o| (*o, self.calls[o.index()].load(Ordering::Relaxed)))
                .collect(),
        }
    }

    /// The store the runtime keeps plugins in.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The installed plugin with this content hash, loading it from the store (from its cached
    /// artifact when the engine is compatible, recompiling otherwise) on first use.
    pub fn plugin(&self, hash: &ContentHash) -> Result<Arc<LoadedPlugin>, RuntimeError> {
        if let Some(plugin) = self.cached(hash) {
            return Ok(plugin);
        }
        let turn = self.loading.lock().unwrap_or_else(|p| p.into_inner()).entry(*hash).or_default().clone();
        let loaded = {
            let _turn = turn.lock().unwrap_or_else(|p| p.into_inner());
            match self.cached(hash) {
                Some(plugin) => Ok(plugin),
                None => self.load(hash),
            }
        };
        self.loading.lock().unwrap_or_else(|p| p.into_inner()).remove(hash);
        loaded
    }

    /// Loads an installed plugin into this runtime (see [`Runtime::plugin`]).
    fn load(&self, hash: &ContentHash) -> Result<Arc<LoadedPlugin>, RuntimeError> {
        let record =
            self.storage.plugin(hash)?.ok_or_else(|| RuntimeError::PluginNotFound(hash.to_string()))?;
        let component = self.load_component(hash)?;
        let pre = install::link(&self.linker, &component, record.kind, &record.contract)
            .map_err(|e| RuntimeError::Load { hash: hash.to_string(), reason: e.to_string() })?;
        let guard = QuarantineGuard::new(
            self.storage.clone(),
            self.config.quarantine_after,
            record.quarantine.as_ref(),
        );
        Ok(self.remember(LoadedPlugin { record, pre, stats: PluginStatsCell::default(), guard }))
    }

    /// Enables a quarantined plugin again, durably and audited. Returns whether it was installed.
    pub fn enable(&self, hash: &ContentHash, actor: &str, now: i64) -> Result<bool, RuntimeError> {
        if !self.storage.set_quarantine(hash, None, actor, now)? {
            return Ok(false);
        }
        if let Some(plugin) = self.cached(hash) {
            plugin.release();
        }
        Ok(true)
    }

    /// Sets a loaded plugin's quarantine to what its stored record says (another worker
    /// quarantined it or an operator enabled it there). A plugin not loaded here reads its record
    /// when it is.
    pub(crate) fn set_quarantine_state(
        &self,
        hash: &ContentHash,
        quarantine: Option<&crate::plugin::Quarantine>,
    ) {
        let Some(plugin) = self.cached(hash) else { return };
        match quarantine {
            Some(q) => {
                *plugin.guard.reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(q.reason.clone())
            }
            None => {
                if plugin.quarantined().is_some() {
                    plugin.release();
                }
            }
        }
    }

    /// Whether the plugin is loaded in this process (compiled, or read from the compile cache).
    pub fn is_loaded(&self, hash: &ContentHash) -> bool {
        self.cached(hash).is_some()
    }

    /// The content hashes of the plugins loaded in this process.
    pub(crate) fn loaded_hashes(&self) -> Vec<ContentHash> {
        self.loaded.read().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect()
    }

    /// Forgets a loaded plugin (after it was removed from the store). Calls in flight finish on it.
    pub fn forget(&self, hash: &ContentHash) {
        self.loaded.write().unwrap_or_else(|p| p.into_inner()).remove(hash);
    }

    /// Starts a call to `plugin` with the runtime's default limits.
    pub fn call<'a>(&'a self, plugin: &'a Arc<LoadedPlugin>) -> PluginCall<'a> {
        PluginCall::new(self, plugin, self.config.limits.clone())
    }

    /// Reads the compiled artifact, or recompiles from the stored component and caches the result.
    fn load_component(&self, hash: &ContentHash) -> Result<Component, RuntimeError> {
        let load_err = |reason: String| RuntimeError::Load { hash: hash.to_string(), reason };
        let cached = match &self.local_artifacts {
            // A cache: one that cannot be read means compiling again.
            Some(tree) => tree.get(self.local_key(hash)).ok().flatten().map(|v| v.to_vec()),
            None => self.storage.artifact(hash, &self.engine_key)?,
        };
        if let Some(artifact) = cached {
            // SAFETY: artifacts are only ever written by `Component::serialize` of this process
            // lineage into Baton's own embedded store or this worker's own cache folder (never a
            // shared database), keyed by the engine's compatibility hash; wasmtime also checks
            // the header and refuses artifacts from an incompatible engine.
            #[allow(unsafe_code)]
            let loaded = unsafe { Component::deserialize(&self.engine, &artifact) };
            match loaded {
                Ok(component) => {
                    self.artifact_loads.fetch_add(1, Ordering::Relaxed);
                    return Ok(component);
                }
                Err(err) => {
                    tracing::warn!(plugin = %hash, error = %err, "Cached artifact unusable; recompiling.")
                }
            }
        }
        let bytes = self
            .storage
            .component(hash)?
            .ok_or_else(|| load_err("component bytes missing from the store".into()))?;
        let component = self.compile(&bytes).map_err(|e| load_err(format!("{e:#}")))?;
        let artifact = component.serialize().map_err(|e| load_err(format!("{e:#}")))?;
        self.keep_artifact(hash, &artifact)?;
        Ok(component)
    }

    /// Keeps a compiled artifact where this worker may load it from: the embedded store, or the
    /// worker's own cache folder on a shared database.
    fn keep_artifact(&self, hash: &ContentHash, artifact: &[u8]) -> Result<(), crate::store::StorageError> {
        match &self.local_artifacts {
            Some(tree) => {
                // Flushed at once: an artifact is written once per plugin and worker, and a
                // restart soon after must find it. A cache: failing to keep one costs a compile.
                if let Err(err) = tree.insert(self.local_key(hash), artifact).and_then(|_| tree.flush()) {
                    tracing::debug!(plugin = %hash, error = %err, "Could not keep a compiled artifact.");
                }
                Ok(())
            }
            None => self.storage.put_artifact(hash, &self.engine_key, artifact),
        }
    }

    /// An artifact's key in the worker's own cache folder.
    fn local_key(&self, hash: &ContentHash) -> Vec<u8> {
        [hash.as_bytes().as_slice(), self.engine_key.as_bytes()].concat()
    }

    fn compile(&self, bytes: &[u8]) -> wasmtime::Result<Component> {
        self.compilations.fetch_add(1, Ordering::Relaxed);
        Component::new(&self.engine, bytes)
    }

    fn cached(&self, hash: &ContentHash) -> Option<Arc<LoadedPlugin>> {
        self.loaded.read().unwrap_or_else(|p| p.into_inner()).get(hash).cloned()
    }

    fn remember(&self, plugin: LoadedPlugin) -> Arc<LoadedPlugin> {
        let mut loaded = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        loaded.entry(plugin.hash()).or_insert_with(|| Arc::new(plugin)).clone()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker.stop();
    }
}

fn engine_config(config: &RuntimeConfig) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(config.max_instances)
        .total_core_instances(config.max_instances.saturating_mul(8))
        .total_memories(config.max_instances.saturating_mul(2))
        .total_tables(config.max_instances.saturating_mul(8))
        .max_memories_per_component(4)
        .max_memory_size(usize::try_from(config.limits.memory_bytes).unwrap_or(usize::MAX).max(1 << 16));
    let keep_resident = usize::try_from(config.keep_resident_bytes).unwrap_or(usize::MAX);
    pool.linear_memory_keep_resident(keep_resident)
        .table_keep_resident(keep_resident)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    wasm
}

/// The compile cache the config asks for: none, the store's, or one in a folder of its own; and,
/// on a shared database, the tree of that folder that keeps whole compiled artifacts.
fn open_compile_cache(
    config: &RuntimeConfig,
    storage: &Storage,
) -> Result<(Option<compile_cache::CompileCache>, Option<sled::Tree>), RuntimeError> {
    if config.compile_cache_bytes == 0 {
        return Ok((None, None));
    }
    let Some(dir) = &config.compile_cache_dir else {
        // A server database keeps no compiled code: each worker compiles for its own machine, and
        // keeps the results only where its config names a folder.
        let Some(db) = storage.local_db() else { return Ok((None, None)) };
        return compile_cache::CompileCache::open(db, config.compile_cache_bytes)
            .map(|cache| (Some(cache), None))
            .map_err(|e| RuntimeError::Engine(format!("cannot open the compile cache: {e}")));
    };
    // A cache is an optimisation: a folder that cannot be opened (another process holds it, or
    // it is not writable) means compiling without it, never failing.
    let config_db = sled::Config::new().path(dir).cache_capacity(16 << 20).flush_every_ms(Some(1_000));
    // A handle this process is closing releases the folder within moments (a restarted runtime).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let db = loop {
        match config_db.open() {
            Err(sled::Error::Io(err))
                if err.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other,
        }
    };
    let opened = db.and_then(|db| {
        let artifacts = if storage.local_db().is_none() { Some(db.open_tree(ARTIFACTS_TREE)?) } else { None };
        Ok((compile_cache::CompileCache::open(&db, config.compile_cache_bytes)?, artifacts))
    });
    match opened {
        Ok((cache, artifacts)) => Ok((Some(cache), artifacts)),
        Err(err) => {
            tracing::debug!(dir = %dir.display(), error = %err, "Compile cache unavailable; compiling without it.");
            Ok((None, None))
        }
    }
}

/// The tree of a worker's own cache folder that keeps compiled artifacts.
const ARTIFACTS_TREE: &str = "artifacts";

/// A stable text key for "artifacts compiled by this engine can be loaded by that engine".
fn engine_key(engine: &Engine) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

fn engine_err(err: wasmtime::Error) -> RuntimeError {
    RuntimeError::Engine(format!("{err:#}"))
}

/// Advances the engine's epoch on a fixed tick so deadlines are enforced within about one tick.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: std::time::Duration) -> Result<Self, RuntimeError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("baton-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| RuntimeError::Engine(format!("cannot start the epoch thread: {e}")))?;
        Ok(EpochTicker { stop, thread: Some(thread) })
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
