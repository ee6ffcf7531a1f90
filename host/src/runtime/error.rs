//! Typed errors of the runtime: install failures, call failures, and per-call metrics that
//! travel with both successes and failures.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::store::StorageError;

/// How a call ended, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The plugin returned a value.
    Ok,
    /// The plugin returned its own error (a `plugin-error`).
    GuestError,
    /// The host stopped the call at a limit (fuel, deadline, memory, bytes, log).
    LimitExceeded,
    /// The plugin trapped (a panic, an out-of-bounds access, `unreachable`).
    Trap,
    /// The plugin returned something the contract forbids.
    BadOutput,
    /// The host could not start the call (no free instance slot, input over its cap).
    Rejected,
}

impl CallOutcome {
    /// How many outcomes there are.
    pub const COUNT: usize = 6;
    /// Every outcome, in index order.
    pub const ALL: [CallOutcome; Self::COUNT] = [
        CallOutcome::Ok,
        CallOutcome::GuestError,
        CallOutcome::LimitExceeded,
        CallOutcome::Trap,
        CallOutcome::BadOutput,
        CallOutcome::Rejected,
    ];

    /// The outcome's position in [`CallOutcome::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The snake_case name, for metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::GuestError => "guest_error",
            CallOutcome::LimitExceeded => "limit_exceeded",
            CallOutcome::Trap => "trap",
            CallOutcome::BadOutput => "bad_output",
            CallOutcome::Rejected => "rejected",
        }
    }
}

/// Measurements of one plugin call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CallMetrics {
    /// Fuel consumed (roughly, wasm instructions executed).
    pub fuel_used: u64,
    /// Wall time from instantiation to return.
    pub wall_time: Duration,
    /// The largest linear memory size the instance reached, in bytes.
    pub memory_peak_bytes: u64,
    /// Bytes handed to the plugin.
    pub bytes_in: u64,
    /// Bytes the plugin returned.
    pub bytes_out: u64,
    /// Bytes the plugin logged.
    pub log_bytes: u64,
    /// How the call ended.
    pub outcome: Option<CallOutcome>,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The instruction budget ran out.
    FuelExhausted {
        /// The budget the call had.
        budget: u64,
    },
    /// The wall-clock deadline passed.
    DeadlineExceeded {
        /// The deadline the call had.
        deadline: Duration,
    },
    /// The instance tried to grow its memory past the cap.
    MemoryCapExceeded {
        /// The cap in bytes.
        cap_bytes: u64,
    },
    /// The input was larger than the call's input cap.
    InputTooLarge {
        /// The input size.
        bytes: u64,
        /// The cap.
        cap_bytes: u64,
    },
    /// The output was larger than the call's output cap.
    OutputTooLarge {
        /// The output size.
        bytes: u64,
        /// The cap.
        cap_bytes: u64,
    },
    /// The plugin logged more than its log cap.
    LogCapExceeded {
        /// The cap in bytes.
        cap_bytes: u64,
    },
    /// The plugin trapped.
    Trap {
        /// The trap, as wasmtime describes it, with the guest backtrace when there is one.
        message: String,
    },
    /// The plugin returned its own error.
    Guest {
        /// The plugin's error code.
        code: String,
        /// The plugin's message.
        message: String,
    },
    /// The plugin returned something the contract forbids.
    BadOutput {
        /// What was wrong.
        reason: String,
    },
    /// The plugin is quarantined: disabled after failing again and again, until enabled.
    Quarantined {
        /// Why it was quarantined.
        reason: String,
    },
    /// The plugin is not of the kind the call needs (a host-side mistake, caught before running).
    WrongKind {
        /// The world the call needs.
        expected: &'static str,
        /// The world the plugin implements.
        actual: &'static str,
    },
    /// The call is not in the contract version the plugin was built against.
    NotInContract {
        /// The call.
        call: &'static str,
        /// The plugin's contract version.
        contract: &'static str,
    },
    /// The instance could not be created (for example, every instance slot is busy).
    Instantiate {
        /// Why.
        reason: String,
    },
}

impl Failure {
    /// The outcome recorded in metrics for this failure.
    pub fn outcome(&self) -> CallOutcome {
        match self {
            Failure::FuelExhausted { .. }
            | Failure::DeadlineExceeded { .. }
            | Failure::MemoryCapExceeded { .. }
            | Failure::OutputTooLarge { .. }
            | Failure::LogCapExceeded { .. } => CallOutcome::LimitExceeded,
            Failure::InputTooLarge { .. }
            | Failure::Instantiate { .. }
            | Failure::WrongKind { .. }
            | Failure::NotInContract { .. }
            | Failure::Quarantined { .. } => CallOutcome::Rejected,
            Failure::Trap { .. } => CallOutcome::Trap,
            Failure::Guest { .. } => CallOutcome::GuestError,
            Failure::BadOutput { .. } => CallOutcome::BadOutput,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::FuelExhausted { budget } => {
                write!(f, "fuel exhausted after {budget} units (limit `fuel`)")
            }
            Failure::DeadlineExceeded { deadline } => {
                write!(f, "deadline of {} ms exceeded (limit `deadline`)", deadline.as_millis())
            }
            Failure::MemoryCapExceeded { cap_bytes } => {
                write!(f, "memory cap of {cap_bytes} bytes exceeded (limit `memory_bytes`)")
            }
            Failure::InputTooLarge { bytes, cap_bytes } => {
                write!(f, "input of {bytes} bytes exceeds the cap of {cap_bytes} bytes (limit `input_bytes`)")
            }
            Failure::OutputTooLarge { bytes, cap_bytes } => write!(
                f,
                "output of {bytes} bytes exceeds the cap of {cap_bytes} bytes (limit `output_bytes`)"
            ),
            Failure::LogCapExceeded { cap_bytes } => {
                write!(f, "logged more than {cap_bytes} bytes (limit `log_bytes`)")
            }
            Failure::Trap { message } => write!(f, "trapped: {message}"),
            Failure::Guest { code, message } => write!(f, "plugin error `{code}`: {message}"),
            Failure::BadOutput { reason } => write!(f, "broke the contract: {reason}"),
            Failure::Quarantined { reason } => {
                write!(f, "is quarantined ({reason}); enable it again with POST /v1/plugins/{{hash}}/enable")
            }
            Failure::WrongKind { expected, actual } => {
                write!(f, "needs a {expected} plugin, but this is a {actual}")
            }
            Failure::NotInContract { call, contract } => write!(
                f,
                "has no `{call}`: it was built against contract {contract}; rebuild it against {}",
                crate::contract::LATEST_CONTRACT
            ),
            Failure::Instantiate { reason } => write!(f, "could not start an instance: {reason}"),
        }
    }
}

/// A failed plugin call: which plugin, which function, why, and what it cost.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("plugin {plugin} {call}: {failure}")]
pub struct InvokeError {
    /// `name@version` of the plugin.
    pub plugin: String,
    /// The function called, for example `evaluate`.
    pub call: &'static str,
    /// Why it failed.
    pub failure: Failure,
    /// What the call cost before it failed.
    pub metrics: CallMetrics,
}

/// Why a component could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The upload is larger than the configured maximum.
    #[error("component is {size} bytes; the limit is {limit} bytes (`max_component_bytes`)")]
    TooLarge {
        /// The upload's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly component: the bytes do not start with the `\\0asm` header")]
    NotWasm,
    /// A core module was uploaded instead of a component.
    #[error(
        "this is a core WebAssembly module, not a component; build for the `wasm32-wasip2` target \
         (or wrap the module with `wasm-tools component new`)"
    )]
    CoreModule,
    /// The component is malformed or fails validation (for example, truncated).
    #[error("invalid component: {reason}")]
    Invalid {
        /// Wasmtime's validation error.
        reason: String,
    },
    /// The component implements none of Baton's worlds.
    #[error(
        "component implements no Baton world: it must export one of `baton:plugin/segmentation`, \
         `personalization`, `channel` or `kpi` (it exports: {exports})"
    )]
    UnknownWorld {
        /// What it does export, comma-separated.
        exports: String,
    },
    /// The component exports more than one plugin kind.
    #[error("component exports several plugin kinds ({kinds}); a plugin implements exactly one world")]
    SeveralWorlds {
        /// The kinds found.
        kinds: String,
    },
    /// The component was built against a contract version this host does not support.
    #[error("component was built against contract baton:plugin@{found}; this host supports {supported}")]
    UnsupportedContract {
        /// The version the component targets.
        found: String,
        /// The versions this host supports.
        supported: String,
    },
    /// The component imports something the sandbox does not provide.
    #[error("component imports something Baton does not provide to plugins: {reason}")]
    ImportNotProvided {
        /// Wasmtime's description of the missing import.
        reason: String,
    },
    /// The component's exports do not match the world's signatures.
    #[error("component's exports do not match the {world} world of this contract: {reason}")]
    BadExports {
        /// The world.
        world: &'static str,
        /// The mismatch.
        reason: String,
    },
    /// Calling `info()` failed.
    #[error("calling info(): {0}")]
    Info(#[source] InvokeError),
    /// `info()` answered, but with something unacceptable.
    #[error("info() {0}")]
    BadInfo(String),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A failure of the runtime outside a single call: the engine, the store, a missing plugin.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Wasmtime could not be configured.
    #[error("runtime: {0}")]
    Engine(String),
    /// No plugin with that content hash is installed.
    #[error("plugin {0} is not installed")]
    PluginNotFound(String),
    /// A stored plugin could not be loaded.
    #[error("plugin {hash}: cannot load: {reason}")]
    Load {
        /// The plugin's content hash.
        hash: String,
        /// Why.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
