//! Typed calls into plugins. Every call runs in a fresh instance under the call's [`Limits`];
//! the KPI accumulator is the one exception by design: a [`KpiRun`] keeps one instance for one
//! streamed computation, with each `add` and `finish` budgeted as its own call.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceAny;
use wasmtime::{Store, Trap, WasmBacktrace};

use super::bindings::host_api::LogLevel;
use super::bindings::kpi_calculator::KpiCalculator;
use super::contract::{
    ConfigError, DeliveryOutcome, Event, HttpRequest, HttpResponse, Invocation, Membership, Message, Metric,
    PluginError, PluginInfo, Subject,
};
use super::error::{CallMetrics, CallOutcome, Failure, InvokeError};
use super::sandbox::{HostStop, Sandbox};
use super::size::WireSize;
use super::{Limits, LoadedPlugin, Runtime, WorldPre};

/// A successful call's value and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Called<T> {
    /// What the plugin returned.
    pub value: T,
    /// What the call cost.
    pub metrics: CallMetrics,
}

/// One call about to be made to one plugin, with its limits.
pub struct PluginCall<'a> {
    runtime: &'a Runtime,
    plugin: &'a Arc<LoadedPlugin>,
    limits: Limits,
}

/// Marks an error raised while creating the instance rather than while running the call.
#[derive(Debug)]
struct InstantiateFailed(String);

impl std::fmt::Display for InstantiateFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InstantiateFailed {}

/// Tags instantiation failures that are not traps (a trap keeps its own classification).
fn instantiated<B>(result: wasmtime::Result<B>) -> wasmtime::Result<B> {
    result.map_err(|e| {
        if e.downcast_ref::<Trap>().is_some() {
            e
        } else {
            wasmtime::Error::new(InstantiateFailed(format!("{e:#}")))
        }
    })
}

/// Instantiates the plugin's world and runs `$body` with the bindings, for worlds that export the
/// interface `$iface`; any other world is a caller error.
macro_rules! with_world {
    ($self:ident, $store:ident, $variant:ident, $bindings:ident => $body:expr) => {
        match &$self.plugin.pre {
            WorldPre::$variant(pre) => {
                let $bindings = instantiated(pre.instantiate(&mut *$store))?;
                $body
            }
            _ => unreachable!("world checked by `expect_kind`"),
        }
    };
}

/// Counts a finished call by its final outcome (after the contract checks).
fn counted<T>(
    counters: &super::CallCounters,
    plugin: &LoadedPlugin,
    result: Result<Called<T>, InvokeError>,
) -> Result<Called<T>, InvokeError> {
    let outcome = match &result {
        Ok(called) => {
            plugin.note(&called.metrics, None);
            called.metrics.outcome
        }
        Err(err) => {
            plugin.note(&err.metrics, Some(err.to_string()));
            err.metrics.outcome
        }
    };
    if let Some(outcome) = outcome {
        counters[outcome.index()].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    result
}

impl<'a> PluginCall<'a> {
    pub(super) fn new(runtime: &'a Runtime, plugin: &'a Arc<LoadedPlugin>, limits: Limits) -> Self {
        PluginCall { runtime, plugin, limits }
    }

    /// Uses these limits instead of the runtime's defaults.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Calls `info()`.
    fn info_uncounted(&self) -> Result<Called<PluginInfo>, InvokeError> {
        self.run("info", "", 0, 0, 0, |store, pre| match pre {
            WorldPre::Segment(p) => {
                instantiated(p.instantiate(&mut *store))?.baton_plugin_segmentation().call_info(store)
            }
            WorldPre::Personalizer(p) => {
                instantiated(p.instantiate(&mut *store))?.baton_plugin_personalization().call_info(store)
            }
            WorldPre::Channel(p) => {
                instantiated(p.instantiate(&mut *store))?.baton_plugin_channel().call_info(store)
            }
            WorldPre::Kpi(p) => instantiated(p.instantiate(&mut *store))?.baton_plugin_kpi().call_info(store),
        })
    }

    /// Calls `validate-config(config)`. A refused config is an `Ok(Err(_))` answer, not a failure.
    fn validate_config_uncounted(
        &self,
        config: &str,
    ) -> Result<Called<Result<(), ConfigError>>, InvokeError> {
        let bytes_in = config.len() as u64;
        self.run("validate-config", "", 0, 0, bytes_in, |store, pre| match pre {
            WorldPre::Segment(p) => instantiated(p.instantiate(&mut *store))?
                .baton_plugin_segmentation()
                .call_validate_config(store, config),
            WorldPre::Personalizer(p) => instantiated(p.instantiate(&mut *store))?
                .baton_plugin_personalization()
                .call_validate_config(store, config),
            WorldPre::Channel(p) => instantiated(p.instantiate(&mut *store))?
                .baton_plugin_channel()
                .call_validate_config(store, config),
            WorldPre::Kpi(p) => instantiated(p.instantiate(&mut *store))?
                .baton_plugin_kpi()
                .call_validate_config(store, config),
        })
    }

    /// Calls a segment rule's `evaluate` over a batch of subjects. The result has exactly one
    /// membership per subject, in order (checked).
    fn evaluate_uncounted(
        &self,
        invocation: &Invocation,
        subjects: &[Subject],
    ) -> Result<Called<Vec<Membership>>, InvokeError> {
        self.expect_kind(WorldKind::Segment, "evaluate")?;
        let bytes_in = invocation.wire_size() + subjects.wire_size();
        let called = self.run_guest("evaluate", invocation, bytes_in, |store, this| {
            with_world!(this, store, Segment, b => b.baton_plugin_segmentation().call_evaluate(store, invocation, subjects))
        })?;
        if called.value.len() != subjects.len() {
            return Err(self.bad_output(
                "evaluate",
                format!("returned {} memberships for {} subjects", called.value.len(), subjects.len()),
                called.metrics,
            ));
        }
        Ok(called)
    }

    /// Calls a personalizer's `personalize`. The recipient and idempotency key must come back
    /// unchanged (checked), so a personalizer can never redirect a message.
    fn personalize_uncounted(
        &self,
        invocation: &Invocation,
        subject: &Subject,
        template: &Message,
    ) -> Result<Called<Message>, InvokeError> {
        self.expect_kind(WorldKind::Personalizer, "personalize")?;
        let bytes_in = invocation.wire_size() + subject.wire_size() + template.wire_size();
        let called = self.run_guest("personalize", invocation, bytes_in, |store, this| {
            with_world!(this, store, Personalizer, b => b.baton_plugin_personalization().call_personalize(store, invocation, subject, template))
        })?;
        let message = &called.value;
        let fault = if message.recipient != template.recipient {
            Some("changed the recipient")
        } else if message.idempotency_key != template.idempotency_key {
            Some("changed the idempotency key")
        } else if !is_json_object(&message.data) {
            Some("returned `data` that is not a JSON object")
        } else {
            None
        };
        match fault {
            Some(reason) => Err(self.bad_output("personalize", reason.to_owned(), called.metrics)),
            None => Ok(called),
        }
    }

    /// Calls a channel adapter's `build`.
    fn build_uncounted(
        &self,
        invocation: &Invocation,
        message: &Message,
    ) -> Result<Called<Vec<HttpRequest>>, InvokeError> {
        self.expect_kind(WorldKind::Channel, "build")?;
        let bytes_in = invocation.wire_size() + message.wire_size();
        self.run_guest("build", invocation, bytes_in, |store, this| {
            with_world!(this, store, Channel, b => b.baton_plugin_channel().call_build(store, invocation, message))
        })
    }

    /// Calls a channel adapter's `classify` for the response to request `request_index`.
    fn classify_uncounted(
        &self,
        invocation: &Invocation,
        request_index: u32,
        response: &HttpResponse,
    ) -> Result<Called<DeliveryOutcome>, InvokeError> {
        self.expect_kind(WorldKind::Channel, "classify")?;
        let bytes_in = invocation.wire_size() + response.wire_size();
        self.run("classify", &invocation.campaign_id, invocation.now, invocation.seed, bytes_in, |store, _| {
            with_world!(self, store, Channel, b => b.baton_plugin_channel().call_classify(store, invocation, request_index, response))
        })
    }

    /// Calls `info()`.
    pub fn info(&self) -> Result<Called<PluginInfo>, InvokeError> {
        counted(&self.runtime.calls, self.plugin, self.info_uncounted())
    }

    /// Calls `validate-config(config)`. A refused config is an `Ok(Err(_))` answer, not a failure.
    pub fn validate_config(&self, config: &str) -> Result<Called<Result<(), ConfigError>>, InvokeError> {
        counted(&self.runtime.calls, self.plugin, self.validate_config_uncounted(config))
    }

    /// Calls a segment rule's `evaluate` over a batch of subjects. The result has exactly one
    /// membership per subject, in order (checked).
    pub fn evaluate(
        &self,
        invocation: &Invocation,
        subjects: &[Subject],
    ) -> Result<Called<Vec<Membership>>, InvokeError> {
        counted(&self.runtime.calls, self.plugin, self.evaluate_uncounted(invocation, subjects))
    }

    /// Calls a personalizer's `personalize`. The recipient and idempotency key must come back
    /// unchanged (checked), so a personalizer can never redirect a message.
    pub fn personalize(
        &self,
        invocation: &Invocation,
        subject: &Subject,
        template: &Message,
    ) -> Result<Called<Message>, InvokeError> {
        counted(&self.runtime.calls, self.plugin, self.personalize_uncounted(invocation, subject, template))
    }

    /// Calls a channel adapter's `build`.
    pub fn build(
        &self,
        invocation: &Invocation,
        message: &Message,
    ) -> Result<Called<Vec<HttpRequest>>, InvokeError> {
        counted(&self.runtime.calls, self.plugin, self.build_uncounted(invocation, message))
    }

    /// Calls a channel adapter's `classify` for the response to request `request_index`.
    pub fn classify(
        &self,
        invocation: &Invocation,
        request_index: u32,
        response: &HttpResponse,
    ) -> Result<Called<DeliveryOutcome>, InvokeError> {
        counted(
            &self.runtime.calls,
            self.plugin,
            self.classify_uncounted(invocation, request_index, response),
        )
    }

    /// Opens a KPI accumulator: one instance kept for one streamed computation.
    pub fn open_kpi(&self, invocation: &Invocation) -> Result<KpiRun, InvokeError> {
        self.expect_kind(WorldKind::Kpi, "open")?;
        if let Some(reason) = self.plugin.quarantined() {
            let failure = Failure::Quarantined { reason };
            let metrics = CallMetrics { outcome: Some(failure.outcome()), ..CallMetrics::default() };
            return Err(InvokeError { plugin: self.plugin.label(), call: "open", failure, metrics });
        }
        let WorldPre::Kpi(pre) = &self.plugin.pre else { unreachable!("world checked by `expect_kind`") };
        let mut run = KpiRun {
            plugin: self.plugin.clone(),
            counters: self.runtime.calls.clone(),
            limits: self.limits.clone(),
            store: self.new_store(invocation.now, invocation.seed),
            bindings: None,
            accumulator: None,
            campaign: invocation.campaign_id.clone(),
            tick: self.runtime.config.epoch_tick,
        };
        let bytes_in = invocation.wire_size();
        let called = run.step("open", bytes_in, |store, bindings| {
            let instance = instantiated(pre.instantiate(&mut *store))?;
            let opened = instance.baton_plugin_kpi().accumulator().call_open(&mut *store, invocation);
            *bindings = Some(instance);
            opened
        })?;
        run.accumulator = Some(run.guest(called, "open")?.value);
        Ok(run)
    }

    fn expect_kind(&self, kind: WorldKind, call: &'static str) -> Result<(), InvokeError> {
        let actual = WorldKind::of(&self.plugin.pre);
        if actual == kind {
            return Ok(());
        }
        Err(InvokeError {
            plugin: self.plugin.label(),
            call,
            failure: Failure::WrongKind { expected: kind.name(), actual: actual.name() },
            metrics: CallMetrics { outcome: Some(CallOutcome::Rejected), ..CallMetrics::default() },
        })
    }

    /// Runs a call whose WIT result is `result<T, plugin-error>`, turning the guest's error into
    /// a [`Failure::Guest`].
    fn run_guest<T: WireSize>(
        &self,
        call: &'static str,
        invocation: &Invocation,
        bytes_in: u64,
        f: impl FnOnce(&mut Store<Sandbox>, &Self) -> wasmtime::Result<Result<T, PluginError>>,
    ) -> Result<Called<T>, InvokeError> {
        let called = self.run(
            call,
            &invocation.campaign_id,
            invocation.now,
            invocation.seed,
            bytes_in,
            |store, _| f(store, self),
        )?;
        guest_result(&self.plugin.label(), call, called)
    }

    /// Runs one call in a fresh instance under this call's limits.
    fn run<T: WireSize>(
        &self,
        call: &'static str,
        campaign: &str,
        now: i64,
        seed: u64,
        bytes_in: u64,
        f: impl FnOnce(&mut Store<Sandbox>, &WorldPre) -> wasmtime::Result<T>,
    ) -> Result<Called<T>, InvokeError> {
        let label = self.plugin.label();
        if let Some(reason) = self.plugin.quarantined() {
            let failure = Failure::Quarantined { reason };
            let metrics =
                CallMetrics { bytes_in, outcome: Some(failure.outcome()), ..CallMetrics::default() };
            return Err(InvokeError { plugin: label, call, failure, metrics });
        }
        if bytes_in > self.limits.input_bytes {
            let failure = Failure::InputTooLarge { bytes: bytes_in, cap_bytes: self.limits.input_bytes };
            let metrics =
                CallMetrics { bytes_in, outcome: Some(failure.outcome()), ..CallMetrics::default() };
            return Err(InvokeError { plugin: label, call, failure, metrics });
        }
        let mut store = self.new_store(now, seed);
        arm(&mut store, &self.limits, self.runtime.config.epoch_tick);
        let started = Instant::now();
        let result = f(&mut store, &self.plugin.pre);
        settle(&mut store, &self.limits, Settle { label, call, campaign, started, bytes_in }, result)
    }

    fn new_store(&self, now: i64, seed: u64) -> Store<Sandbox> {
        let sandbox = Sandbox::new(now, seed, self.limits.memory_bytes, self.limits.log_bytes);
        let mut store = Store::new(&self.runtime.engine, sandbox);
        store.limiter(|sandbox| sandbox);
        store
    }

    fn bad_output(&self, call: &'static str, reason: String, mut metrics: CallMetrics) -> InvokeError {
        metrics.outcome = Some(CallOutcome::BadOutput);
        InvokeError { plugin: self.plugin.label(), call, failure: Failure::BadOutput { reason }, metrics }
    }
}

/// One streamed KPI computation: `add` batches of events, then `finish`.
pub struct KpiRun {
    plugin: Arc<LoadedPlugin>,
    counters: super::CallCounters,
    limits: Limits,
    store: Store<Sandbox>,
    bindings: Option<KpiCalculator>,
    accumulator: Option<ResourceAny>,
    campaign: String,
    tick: std::time::Duration,
}

impl KpiRun {
    /// Adds a batch of events (oldest first). Each batch is budgeted as one call.
    pub fn add(&mut self, events: &[Event]) -> Result<CallMetrics, InvokeError> {
        let accumulator = self.accumulator()?;
        let called = self.step("add", events.wire_size(), |store, bindings| match bindings {
            Some(b) => b.baton_plugin_kpi().accumulator().call_add(store, accumulator, events),
            None => Err(wasmtime::Error::msg("accumulator is not open")),
        })?;
        Ok(self.guest(called, "add")?.metrics)
    }

    /// Produces the metrics and releases the instance.
    pub fn finish(mut self) -> Result<Called<Vec<Metric>>, InvokeError> {
        let accumulator = self.accumulator()?;
        let called = self.step("finish", 0, |store, bindings| match bindings {
            Some(b) => b.baton_plugin_kpi().accumulator().call_finish(store, accumulator),
            None => Err(wasmtime::Error::msg("accumulator is not open")),
        })?;
        let _ = accumulator.resource_drop(&mut self.store);
        self.guest(called, "finish")
    }

    fn accumulator(&self) -> Result<ResourceAny, InvokeError> {
        self.accumulator.ok_or_else(|| InvokeError {
            plugin: self.plugin.label(),
            call: "add",
            failure: Failure::BadOutput { reason: "accumulator was not opened".into() },
            metrics: CallMetrics::default(),
        })
    }

    fn step<T: WireSize>(
        &mut self,
        call: &'static str,
        bytes_in: u64,
        f: impl FnOnce(&mut Store<Sandbox>, &mut Option<KpiCalculator>) -> wasmtime::Result<T>,
    ) -> Result<Called<T>, InvokeError> {
        let label = self.plugin.label();
        if bytes_in > self.limits.input_bytes {
            let failure = Failure::InputTooLarge { bytes: bytes_in, cap_bytes: self.limits.input_bytes };
            let metrics =
                CallMetrics { bytes_in, outcome: Some(failure.outcome()), ..CallMetrics::default() };
            return Err(InvokeError { plugin: label, call, failure, metrics });
        }
        arm(&mut self.store, &self.limits, self.tick);
        let started = Instant::now();
        let result = f(&mut self.store, &mut self.bindings);
        let campaign = self.campaign.clone();
        let result = settle(
            &mut self.store,
            &self.limits,
            Settle { label, call, campaign: &campaign, started, bytes_in },
            result,
        );
        if result.is_err() {
            // Failures end here; successes are counted when their guest result is read.
            return counted(&self.counters, &self.plugin, result);
        }
        result
    }

    fn guest<T>(
        &self,
        called: Called<Result<T, PluginError>>,
        call: &'static str,
    ) -> Result<Called<T>, InvokeError> {
        counted(&self.counters, &self.plugin, guest_result(&self.plugin.label(), call, called))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WorldKind {
    Segment,
    Personalizer,
    Channel,
    Kpi,
}

impl WorldKind {
    fn of(pre: &WorldPre) -> Self {
        match pre {
            WorldPre::Segment(_) => WorldKind::Segment,
            WorldPre::Personalizer(_) => WorldKind::Personalizer,
            WorldPre::Channel(_) => WorldKind::Channel,
            WorldPre::Kpi(_) => WorldKind::Kpi,
        }
    }

    fn name(self) -> &'static str {
        match self {
            WorldKind::Segment => "segment-rule",
            WorldKind::Personalizer => "personalizer",
            WorldKind::Channel => "channel-adapter",
            WorldKind::Kpi => "kpi-calculator",
        }
    }
}

/// Resets the per-call budgets on a store: fuel, deadline, log bytes.
fn arm(store: &mut Store<Sandbox>, limits: &Limits, tick: std::time::Duration) {
    // Fuel is enabled engine-wide, so setting it cannot fail.
    let _ = store.set_fuel(limits.fuel);
    let tick_ns = tick.as_nanos().max(1);
    let ticks = limits.deadline.as_nanos().div_ceil(tick_ns).max(1);
    store.epoch_deadline_trap();
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    let sandbox = store.data_mut();
    sandbox.log_bytes = 0;
    sandbox.stopped_by = None;
    sandbox.wait_budget_ns = u64::try_from(limits.deadline.as_nanos()).unwrap_or(u64::MAX);
    sandbox.waited_ns = 0;
}

struct Settle<'s> {
    label: String,
    call: &'static str,
    campaign: &'s str,
    started: Instant,
    bytes_in: u64,
}

/// Measures a finished call, forwards its logs, and classifies its result.
fn settle<T: WireSize>(
    store: &mut Store<Sandbox>,
    limits: &Limits,
    ctx: Settle<'_>,
    result: wasmtime::Result<T>,
) -> Result<Called<T>, InvokeError> {
    let mut metrics = CallMetrics {
        fuel_used: limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0)),
        wall_time: ctx.started.elapsed(),
        bytes_in: ctx.bytes_in,
        ..CallMetrics::default()
    };
    let sandbox = store.data_mut();
    metrics.memory_peak_bytes = sandbox.memory_peak;
    metrics.log_bytes = sandbox.log_bytes;
    for line in sandbox.logs.drain(..) {
        forward_log(&ctx.label, ctx.campaign, &line.level, &line.message);
    }
    let outcome = match result {
        Ok(value) => {
            metrics.bytes_out = value.wire_size();
            if metrics.bytes_out > limits.output_bytes {
                Err(Failure::OutputTooLarge { bytes: metrics.bytes_out, cap_bytes: limits.output_bytes })
            } else {
                Ok(value)
            }
        }
        Err(err) => Err(classify_error(&err, sandbox.stopped_by, limits)),
    };
    metrics.outcome = Some(match &outcome {
        Ok(_) => CallOutcome::Ok,
        Err(failure) => failure.outcome(),
    });
    tracing::debug!(
        plugin = %ctx.label,
        campaign = ctx.campaign,
        call = ctx.call,
        fuel_used = metrics.fuel_used,
        wall_us = u64::try_from(metrics.wall_time.as_micros()).unwrap_or(u64::MAX),
        memory_peak = metrics.memory_peak_bytes,
        bytes_in = metrics.bytes_in,
        bytes_out = metrics.bytes_out,
        outcome = ?metrics.outcome,
        "Plugin call finished."
    );
    match outcome {
        Ok(value) => Ok(Called { value, metrics }),
        Err(failure) => {
            tracing::warn!(plugin = %ctx.label, campaign = ctx.campaign, call = ctx.call, %failure, "Plugin call failed.");
            Err(InvokeError { plugin: ctx.label, call: ctx.call, failure, metrics })
        }
    }
}

fn classify_error(err: &wasmtime::Error, stopped_by: Option<HostStop>, limits: &Limits) -> Failure {
    match stopped_by {
        Some(HostStop::MemoryCap) => {
            return Failure::MemoryCapExceeded { cap_bytes: limits.memory_bytes };
        }
        Some(HostStop::LogCap) => {
            return Failure::LogCapExceeded { cap_bytes: limits.log_bytes };
        }
        Some(HostStop::WaitPastDeadline) => {
            return Failure::DeadlineExceeded { deadline: limits.deadline };
        }
        None => {}
    }
    if let Some(failed) = err.downcast_ref::<InstantiateFailed>() {
        return Failure::Instantiate { reason: failed.0.clone() };
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Failure::FuelExhausted { budget: limits.fuel },
        Some(Trap::Interrupt) => Failure::DeadlineExceeded { deadline: limits.deadline },
        Some(trap) => {
            let mut message = trap.to_string();
            if let Some(trace) = err.downcast_ref::<WasmBacktrace>() {
                let frames: Vec<String> =
                    trace.frames().iter().take(4).map(|f| f.func_name().unwrap_or("?").to_owned()).collect();
                if !frames.is_empty() {
                    message.push_str(&format!(" (in {})", frames.join(" <- ")));
                }
            }
            Failure::Trap { message }
        }
        None => Failure::Trap { message: format!("{err:#}") },
    }
}

fn guest_result<T>(
    label: &str,
    call: &'static str,
    called: Called<Result<T, PluginError>>,
) -> Result<Called<T>, InvokeError> {
    let Called { value, mut metrics } = called;
    match value {
        Ok(value) => Ok(Called { value, metrics }),
        Err(err) => {
            metrics.outcome = Some(CallOutcome::GuestError);
            Err(InvokeError {
                plugin: label.to_owned(),
                call,
                failure: Failure::Guest { code: err.code, message: err.message },
                metrics,
            })
        }
    }
}

fn forward_log(plugin: &str, campaign: &str, level: &LogLevel, message: &str) {
    match level {
        LogLevel::Trace => tracing::trace!(plugin, campaign, "{message}"),
        LogLevel::Debug => tracing::debug!(plugin, campaign, "{message}"),
        LogLevel::Info => tracing::info!(plugin, campaign, "{message}"),
        LogLevel::Warn => tracing::warn!(plugin, campaign, "{message}"),
        LogLevel::Error => tracing::error!(plugin, campaign, "{message}"),
    }
}

fn is_json_object(text: &str) -> bool {
    matches!(serde_json::from_str::<serde_json::Value>(text), Ok(serde_json::Value::Object(_)))
}
