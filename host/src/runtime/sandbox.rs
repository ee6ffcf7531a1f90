//! The state every plugin instance runs with: a deny-all, virtualized WASI, a memory limiter that
//! records its high-water mark, and the host interface (logging with a byte cap).
//!
//! Plugins get no filesystem, environment, arguments, sockets or name lookup. Clocks and
//! randomness are derived from the invocation (`now`, `seed`), so a call can be replayed exactly.

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{ResourceLimiter, Result};
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::host_api::{self, LogLevel};

/// Why the host stopped a call from inside a host function or the limiter. Carried through the
/// trap so the call's error can name the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostStop {
    /// The instance tried to grow its memory past the cap.
    MemoryCap,
    /// The call logged more than its log byte cap.
    LogCap,
}

impl std::fmt::Display for HostStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostStop::MemoryCap => f.write_str("memory cap reached"),
            HostStop::LogCap => f.write_str("log cap reached"),
        }
    }
}

impl std::error::Error for HostStop {}

/// One line a plugin logged during a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// The data of one wasmtime `Store`: lives exactly as long as one instance.
pub(crate) struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    memory_cap: u64,
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
        let mut wasi = WasiCtx::builder();
        wasi.wall_clock(FrozenWallClock(now))
            .monotonic_clock(SteppingMonotonicClock::default())
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
            memory_cap,
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
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> Result<bool> {
        let desired = desired as u64;
        if desired > self.memory_cap {
            self.stopped_by = Some(HostStop::MemoryCap);
            return Err(wasmtime::Error::new(HostStop::MemoryCap));
        }
        self.memory_peak = self.memory_peak.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> Result<bool> {
        Ok(maximum.is_none_or(|max| desired <= max))
    }
}

impl host_api::Host for Sandbox {
    fn log(&mut self, level: LogLevel, message: String) -> Result<()> {
        self.log_bytes += message.len() as u64;
        if self.log_bytes > self.log_cap {
            self.stopped_by = Some(HostStop::LogCap);
            return Err(wasmtime::Error::new(HostStop::LogCap));
        }
        self.logs.push(LogLine { level, message });
        Ok(())
    }
}

/// Links everything a plugin may import: the deny-all WASI and Baton's host interface.
pub(crate) fn linker(engine: &wasmtime::Engine) -> Result<Linker<Sandbox>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    host_api::add_to_linker::<Sandbox, HasSelf<Sandbox>>(&mut linker, |s| s)?;
    Ok(linker)
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

/// A monotonic clock that advances one microsecond per reading: deterministic, and a plugin
/// waiting for time to pass still sees it pass (and then meets its deadline).
#[derive(Default)]
struct SteppingMonotonicClock(std::sync::atomic::AtomicU64);

impl HostMonotonicClock for SteppingMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000
    }
    fn now(&self) -> u64 {
        self.0.fetch_add(1_000, std::sync::atomic::Ordering::Relaxed)
    }
}
