//! The state every plugin instance runs with: a deny-all, virtualized WASI, a memory limiter that
//! records its high-water mark, and the host interface (logging with a byte cap).
//!
//! Plugins get no filesystem, environment, arguments, sockets or name lookup. Clocks and
//! randomness are derived from the invocation (`now`, `seed`), so a call can be replayed exactly.
//!
//! Waiting is virtual too. wasmtime-wasi's own clocks sleep for real in host code, where the
//! epoch deadline cannot reach, so a plugin calling `std::thread::sleep` would outlive its
//! deadline and pin a thread and an instance slot. Baton links its own `subscribe-duration` and
//! `subscribe-instant`: a wait moves the call's monotonic clock forward at once and counts
//! against the call's deadline; a wait that would end past the deadline stops the call there.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime::{ResourceLimiter, Result, StoreContextMut};
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::p2::{DynPollable, Pollable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Why the host stopped a call from inside a host function or the limiter. Carried through the
/// trap so the call's error can name the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostStop {
    /// The instance tried to grow its memory past the cap.
    MemoryCap,
    /// The call logged more than its log byte cap.
    LogCap,
    /// The plugin asked to wait (a WASI clock subscription) past the call's deadline.
    WaitPastDeadline,
}

impl std::fmt::Display for HostStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostStop::MemoryCap => f.write_str("memory cap reached"),
            HostStop::LogCap => f.write_str("log cap reached"),
            HostStop::WaitPastDeadline => f.write_str("waited past the deadline"),
        }
    }
}

impl std::error::Error for HostStop {}

/// One line a plugin logged during a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogLine {
    pub level: tracing::Level,
    pub message: String,
}

/// The data of one wasmtime `Store`: lives exactly as long as one instance.
pub(crate) struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    /// The monotonic clock the plugin reads, in nanoseconds; waits move it forward.
    clock: Arc<AtomicU64>,
    /// How long the plugin may wait in this call, in nanoseconds (the call's deadline).
    pub wait_budget_ns: u64,
    /// How long it has waited so far in this call.
    pub waited_ns: u64,
    memory_cap: u64,
    /// Linear memory of every memory of the instance together: the cap is per instance, so a
    /// component with several memories does not get several caps.
    memory_total: u64,
    pub memory_peak: u64,
    log_cap: u64,
    pub log_bytes: u64,
    pub logs: Vec<LogLine>,
    pub stopped_by: Option<HostStop>,
}

impl Sandbox {
    /// A sandbox whose clocks read `now_ms` and whose randomness comes from `seed`.
    pub fn new(now_ms: i64, seed: u64, memory_cap: u64, log_cap: u64) -> Self {
        let now = Duration::from_millis(u64::try_from(now_ms).unwrap_or(0));
        let clock = Arc::new(AtomicU64::new(0));
        let mut wasi = WasiCtx::builder();
        wasi.wall_clock(FrozenWallClock(now))
            .monotonic_clock(SteppingMonotonicClock(clock.clone()))
            .secure_random(StdRng::seed_from_u64(seed))
            .insecure_random(StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15))
            .insecure_random_seed(u128::from(seed))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        Sandbox {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            clock,
            wait_budget_ns: 0,
            waited_ns: 0,
            memory_cap,
            memory_total: 0,
            memory_peak: 0,
            log_cap,
            log_bytes: 0,
            logs: Vec::new(),
            stopped_by: None,
        }
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl ResourceLimiter for Sandbox {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> Result<bool> {
        let total = self.memory_total.saturating_add((desired as u64).saturating_sub(current as u64));
        if total > self.memory_cap {
            self.stopped_by = Some(HostStop::MemoryCap);
            return Err(wasmtime::Error::new(HostStop::MemoryCap));
        }
        self.memory_total = total;
        self.memory_peak = self.memory_peak.max(total);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> Result<bool> {
        Ok(maximum.is_none_or(|max| desired <= max))
    }
}

impl Sandbox {
    /// A plugin's log line, whatever its contract version: kept for the host's log, within the
    /// call's log byte cap.
    pub(crate) fn log(&mut self, level: tracing::Level, message: String) -> Result<()> {
        self.log_bytes += message.len() as u64;
        if self.log_bytes > self.log_cap {
            self.stopped_by = Some(HostStop::LogCap);
            return Err(wasmtime::Error::new(HostStop::LogCap));
        }
        self.logs.push(LogLine { level, message });
        Ok(())
    }
}

/// The monotonic-clock interface whose waits Baton replaces. The linker matches a plugin's
/// import of any 0.2.x version to it, as it does for the rest of wasmtime-wasi.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Links everything a plugin may import: the deny-all WASI, with Baton's own virtual waits in
/// place of wasmtime-wasi's real sleeps, and Baton's host interface.
pub(crate) fn linker(engine: &wasmtime::Engine) -> Result<Linker<Sandbox>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap("subscribe-duration", |mut store: StoreContextMut<'_, Sandbox>, (wait,): (u64,)| {
        Ok((wait_virtually(store.data_mut(), wait)?,))
    })?;
    clock.func_wrap("subscribe-instant", |mut store: StoreContextMut<'_, Sandbox>, (when,): (u64,)| {
        let sandbox = store.data_mut();
        let wait = when.saturating_sub(sandbox.clock.load(Ordering::Relaxed));
        Ok((wait_virtually(sandbox, wait)?,))
    })?;
    linker.allow_shadowing(false);
    super::v0_1_0::add_host(&mut linker)?;
    super::v0_2_0::add_host(&mut linker)?;
    super::v0_3_0::add_host(&mut linker)?;
    Ok(linker)
}

/// A wait of `wait_ns`: within the call's deadline it passes at once (the clock moves forward
/// and the returned pollable is ready); past it, the call stops with the deadline error.
fn wait_virtually(sandbox: &mut Sandbox, wait_ns: u64) -> Result<Resource<DynPollable>> {
    let waited = sandbox.waited_ns.saturating_add(wait_ns);
    if waited > sandbox.wait_budget_ns {
        sandbox.stopped_by = Some(HostStop::WaitPastDeadline);
        return Err(wasmtime::Error::new(HostStop::WaitPastDeadline));
    }
    sandbox.waited_ns = waited;
    sandbox.clock.fetch_add(wait_ns, Ordering::Relaxed);
    let elapsed = sandbox.table.push(Elapsed)?;
    wasmtime_wasi::p2::subscribe(&mut sandbox.table, elapsed)
}

/// A wait that has already passed.
struct Elapsed;

#[wasmtime_wasi::async_trait]
impl Pollable for Elapsed {
    async fn ready(&mut self) {}
}

/// A wall clock stopped at the invocation's `now`.
struct FrozenWallClock(Duration);

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

/// A monotonic clock that advances one microsecond per reading, and by the length of every wait:
/// deterministic, and a plugin waiting for time to pass still sees it pass (and then meets its
/// deadline).
struct SteppingMonotonicClock(Arc<AtomicU64>);

impl HostMonotonicClock for SteppingMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000
    }
    fn now(&self) -> u64 {
        self.0.fetch_add(1_000, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_cap_holds_for_all_memories_of_an_instance_together() {
        let mut sandbox = Sandbox::new(0, 0, 10 << 20, 1 << 10);
        // Two memories of 4 MiB each fit a 10 MiB cap...
        assert!(sandbox.memory_growing(0, 4 << 20, None).unwrap());
        assert!(sandbox.memory_growing(0, 4 << 20, None).unwrap());
        // ...a third does not, though it alone would.
        assert!(sandbox.memory_growing(0, 4 << 20, None).is_err());
        assert_eq!(sandbox.stopped_by, Some(HostStop::MemoryCap));
        // Growth counts only what is added.
        let mut sandbox = Sandbox::new(0, 0, 10 << 20, 1 << 10);
        assert!(sandbox.memory_growing(0, 6 << 20, None).unwrap());
        assert!(sandbox.memory_growing(6 << 20, 9 << 20, None).unwrap());
        assert_eq!(sandbox.memory_peak, 9 << 20);
    }

    #[test]
    fn a_wait_within_the_deadline_passes_at_once_and_one_past_it_stops_the_call() {
        let mut sandbox = Sandbox::new(0, 0, 1 << 20, 1 << 10);
        sandbox.wait_budget_ns = 1_000_000_000;
        let before = sandbox.clock.load(Ordering::Relaxed);
        assert!(wait_virtually(&mut sandbox, 600_000_000).is_ok());
        assert_eq!(
            sandbox.clock.load(Ordering::Relaxed) - before,
            600_000_000,
            "the clock moved with the wait"
        );
        // 600 ms waited already: another 600 ms would end past the 1 s deadline.
        assert!(wait_virtually(&mut sandbox, 600_000_000).is_err());
        assert_eq!(sandbox.stopped_by, Some(HostStop::WaitPastDeadline));
        assert!(wait_virtually(&mut Sandbox::new(0, 0, 1 << 20, 1 << 10), u64::MAX).is_err());
    }
}
