//! The budgets every plugin call runs under, and the runtime's engine-wide settings.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Per-call budgets. Every one is explicit and configurable; the defaults are safe for
/// production and generous enough for the first-party plugins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Deterministic instruction budget (wasmtime fuel) for one call.
    pub fuel: u64,
    /// Wall-clock deadline for one call, enforced by epoch interruption.
    #[serde(with = "millis")]
    pub deadline: Duration,
    /// The most linear memory one plugin instance may hold, in bytes.
    pub memory_bytes: u64,
    /// The most bytes of input the host hands to one call.
    pub input_bytes: u64,
    /// The most bytes of output one call may return.
    pub output_bytes: u64,
    /// The most bytes one call may write to the log.
    pub log_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 5_000_000_000,
            deadline: Duration::from_millis(1_000),
            memory_bytes: 128 << 20,
            input_bytes: 64 << 20,
            output_bytes: 16 << 20,
            log_bytes: 64 << 10,
        }
    }
}

/// Engine-wide settings of the [`crate::Runtime`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Default budgets for calls.
    pub limits: Limits,
    /// How often the epoch ticks; deadlines are enforced to within about one tick.
    #[serde(with = "millis")]
    pub epoch_tick: Duration,
    /// How many plugin instances may be alive at once (the pooling allocator's slots).
    pub max_instances: u32,
    /// The largest component accepted at install, in bytes.
    pub max_component_bytes: u64,
    /// Consecutive failed calls (traps, limits hit, broken contract) after which a plugin is
    /// quarantined: disabled until an operator enables it again. 0 disables quarantine.
    pub quarantine_after: u32,
    /// The most bytes of compiled functions kept in the store to speed up later compiles
    /// (plugins that embed the same JavaScript or Python engine share most of their code).
    /// 0 disables the cache.
    pub compile_cache_bytes: u64,
    /// Where to keep the compile cache: a folder of its own, shared by runs over throwaway
    /// stores (as `baton plugin test` uses), or `None` for the store itself. A folder another
    /// process holds is skipped: that run compiles without the cache. On a PostgreSQL store,
    /// which keeps no compiled code, the folder also keeps each plugin's compiled artifact, so
    /// that a restarted worker does not compile again; with `None` there, every start compiles.
    pub compile_cache_dir: Option<std::path::PathBuf>,
    /// Bytes of each instance slot's linear memory and tables kept resident between calls and
    /// reset in place (only the pages a call dirtied, where Linux's `PAGEMAP_SCAN` is available),
    /// instead of handed back to the kernel and faulted in again by the next call. Profiling put
    /// three quarters of a fresh instance's cost in that round trip. Costs up to this much
    /// resident memory per busy slot (`max_instances`); 0 always returns memory to the kernel.
    pub keep_resident_bytes: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            limits: Limits::default(),
            epoch_tick: Duration::from_millis(1),
            max_instances: 256,
            max_component_bytes: 64 << 20,
            quarantine_after: 20,
            compile_cache_bytes: 512 << 20,
            compile_cache_dir: None,
            keep_resident_bytes: 1 << 20,
        }
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
