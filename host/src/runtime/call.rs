//! Typed calls into plugins. Every call runs in a fresh instance under the call's [`Limits`];
//! the KPI accumulator is the one exception by design: a [`KpiRun`] keeps one instance for one
//! streamed computation, with each `add` and `finish` budgeted as its own call.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceAny;
use wasmtime::{Store, Trap, WasmBacktrace};

use super::error::{CallMetrics, CallOutcome, Failure, InvokeError};
use super::sandbox::{HostStop, Sandbox};
use super::size::WireSize;
use super::{Limits, LoadedPlugin, Runtime, WorldPre, any_version, from_0_2, v0_1_0, v0_2_0, v0_3_0};
use crate::contract::{
    Attribute, ConfigError, DeliveryOutcome, Event, HttpRequest, HttpResponse, InboundRequest, Invocation,
    Membership, Message, Metric, Needs, PluginError, PluginInfo, PluginKind, Subject, VendorReport,
    Verification,
};

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
    /// Whether a failure counts toward quarantine (see [`PluginCall::isolating`]).
    quarantine: bool,
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
pub(super) fn instantiated<B>(result: wasmtime::Result<B>) -> wasmtime::Result<B> {
    result.map_err(|e| {
        if e.downcast_ref::<Trap>().is_some() {
            e
        } else {
            wasmtime::Error::new(InstantiateFailed(format!("{e:#}")))
        }
    })
}

/// Counts a finished call by its final outcome (after the contract checks).
fn counted<T>(
    counters: &super::CallCounters,
    plugin: &LoadedPlugin,
    result: Result<Called<T>, InvokeError>,
    quarantine: bool,
) -> Result<Called<T>, InvokeError> {
    let outcome = match &result {
        Ok(called) => {
            plugin.note(&called.metrics, None, quarantine);
            called.metrics.outcome
        }
        Err(err) => {
            plugin.note(&err.metrics, Some(err.to_string()), quarantine);
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
        PluginCall { runtime, plugin, limits, quarantine: true }
    }

    /// A call made while finding which input of a failed batch makes the plugin fail: its
    /// failure does not count toward quarantine, because the caller counts each failing input
    /// once (with [`LoadedPlugin::count_input_failure`]) rather than once per split of the batch.
    pub fn isolating(mut self) -> Self {
        self.quarantine = false;
        self
    }

    /// Uses these limits instead of the runtime's defaults.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Runs `call` and counts it by its final outcome, contract checks included: every public
    /// call goes through here once.
    fn count<T>(
        &self,
        call: impl FnOnce() -> Result<Called<T>, InvokeError>,
    ) -> Result<Called<T>, InvokeError> {
        counted(&self.runtime.calls, self.plugin, call(), self.quarantine)
    }

    /// Calls `info()`.
    pub fn info(&self) -> Result<Called<PluginInfo>, InvokeError> {
        self.count(|| self.run("info", "", 0, 0, 0, |store, pre| any_version!(pre, p => p.info(store))))
    }

    /// Calls `validate-config(config)`. A refused config is an `Ok(Err(_))` answer, not a failure.
    pub fn validate_config(&self, config: &str) -> Result<Called<Result<(), ConfigError>>, InvokeError> {
        let bytes_in = config.len() as u64;
        self.count(|| {
            self.run(
                "validate-config",
                "",
                0,
                0,
                bytes_in,
                |store, pre| any_version!(pre, p => p.validate_config(store, config)),
            )
        })
    }

    /// Calls `needs-for-config(config)`: what this binding's config reads. None when the plugin's
    /// contract or kind has no such call (its `info` needs stand).
    pub fn needs_for_config(&self, config: &str) -> Result<Called<Option<Needs>>, InvokeError> {
        let bytes_in = config.len() as u64;
        self.count(|| {
            self.run(
                "needs-for-config",
                "",
                0,
                0,
                bytes_in,
                |store, pre| from_0_2!(pre, p => p.needs_for_config(store, config), older => Ok(None)),
            )
        })
    }

    /// Calls a segment rule's `evaluate` over a batch of subjects. The result has exactly one
    /// membership per subject, in order (checked).
    pub fn evaluate(
        &self,
        invocation: &Invocation,
        subjects: &[Subject],
    ) -> Result<Called<Vec<Membership>>, InvokeError> {
        self.evaluate_owned(invocation, subjects.to_vec())
    }

    /// [`PluginCall::evaluate`] on subjects the caller gives up: their strings move into the
    /// call instead of being copied (the engine's scans build subjects for one call only).
    pub fn evaluate_owned(
        &self,
        invocation: &Invocation,
        subjects: Vec<Subject>,
    ) -> Result<Called<Vec<Membership>>, InvokeError> {
        self.count(|| {
            self.expect_kind(PluginKind::SegmentRule, "evaluate")?;
            let (count, bytes_in) = (subjects.len(), invocation.wire_size() + subjects.wire_size());
            let called = self.run_guest(
                "evaluate",
                invocation,
                bytes_in,
                |store, pre| any_version!(pre, p => p.evaluate(store, invocation, subjects)),
            )?;
            self.one_per_subject("evaluate", called, count)
        })
    }

    /// Calls a personalizer's `personalize`. The recipient and idempotency key must come back
    /// unchanged (checked), so a personalizer can never redirect a message.
    pub fn personalize(
        &self,
        invocation: &Invocation,
        subject: &Subject,
        template: &Message,
    ) -> Result<Called<Message>, InvokeError> {
        self.count(|| {
            self.expect_kind(PluginKind::Personalizer, "personalize")?;
            let bytes_in = invocation.wire_size() + subject.wire_size() + template.wire_size();
            let called = self.run_guest(
                "personalize",
                invocation,
                bytes_in,
                |store, pre| any_version!(pre, p => p.personalize(store, invocation, subject, template)),
            )?;
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
        })
    }

    /// Calls a channel adapter's `build`.
    pub fn build(
        &self,
        invocation: &Invocation,
        message: &Message,
    ) -> Result<Called<Vec<HttpRequest>>, InvokeError> {
        self.count(|| {
            self.expect_kind(PluginKind::ChannelAdapter, "build")?;
            let bytes_in = invocation.wire_size() + message.wire_size();
            self.run_guest(
                "build",
                invocation,
                bytes_in,
                |store, pre| any_version!(pre, p => p.build(store, invocation, message)),
            )
        })
    }

    /// Calls a channel adapter's `classify` for the response to request `request_index`.
    pub fn classify(
        &self,
        invocation: &Invocation,
        request_index: u32,
        response: &HttpResponse,
    ) -> Result<Called<DeliveryOutcome>, InvokeError> {
        self.count(|| {
            self.expect_kind(PluginKind::ChannelAdapter, "classify")?;
            let bytes_in = invocation.wire_size() + response.wire_size();
            self.run(
                "classify",
                &invocation.campaign_id,
                invocation.now,
                invocation.seed,
                bytes_in,
                |store, pre| any_version!(pre, p => p.classify(store, invocation, request_index, response)),
            )
        })
    }

    /// Calls a channel adapter's `verification(config)`: how its vendor signs webhooks. A refused
    /// config is an `Ok(Err(_))` answer; an adapter built against 0.1.0 has no such call.
    pub fn verification(
        &self,
        config: &str,
    ) -> Result<Called<Result<Verification, ConfigError>>, InvokeError> {
        self.count(|| {
            self.expect_kind(PluginKind::ChannelAdapter, "verification")?;
            let pre = &self.plugin.pre;
            if matches!(pre, WorldPre::V0_1_0(_)) {
                return Err(self.not_in_contract("verification"));
            }
            let bytes_in = config.len() as u64;
            self.run(
                "verification",
                "",
                0,
                0,
                bytes_in,
                |store, _| from_0_2!(pre, p => p.verification(store, config), older => Err(older_contract())),
            )
        })
    }

    /// Calls a channel adapter's `feedback` on a request whose signature the host verified.
    pub fn feedback(
        &self,
        invocation: &Invocation,
        request: &InboundRequest,
    ) -> Result<Called<Vec<VendorReport>>, InvokeError> {
        self.count(|| {
            self.expect_kind(PluginKind::ChannelAdapter, "feedback")?;
            let pre = &self.plugin.pre;
            if matches!(pre, WorldPre::V0_1_0(_)) {
                return Err(self.not_in_contract("feedback"));
            }
            let bytes_in = invocation.wire_size() + request.wire_size();
            let called = self.run_guest("feedback", invocation, bytes_in, |store, _| {
                from_0_2!(pre, p => p.feedback(store, invocation, request), older => Err(older_contract()))
            })?;
            match called.value.iter().find(|f| !is_json_object(&f.properties)) {
                Some(_) => Err(self.bad_output(
                    "feedback",
                    "returned `properties` that is not a JSON object".into(),
                    called.metrics,
                )),
                None => Ok(called),
            }
        })
    }

    /// Calls a computed-trait plugin's `compute` over a batch of subjects: one list of traits per
    /// subject, in order, each among the plugin's declared `provides` (checked).
    pub fn compute(
        &self,
        invocation: &Invocation,
        subjects: Vec<Subject>,
    ) -> Result<Called<Vec<Vec<Attribute>>>, InvokeError> {
        self.count(|| {
            self.expect_kind(PluginKind::ComputedTrait, "compute")?;
            let pre = &self.plugin.pre;
            if matches!(pre, WorldPre::V0_1_0(_)) {
                return Err(self.not_in_contract("compute"));
            }
            let (count, bytes_in) = (subjects.len(), invocation.wire_size() + subjects.wire_size());
            let called = self.run_guest("compute", invocation, bytes_in, |store, _| {
                from_0_2!(pre, p => p.compute(store, invocation, subjects), older => Err(older_contract()))
            })?;
            let called = self.one_per_subject("compute", called, count)?;
            let provides = &self.plugin.record.provides;
            let stray = called.value.iter().flatten().find(|a| !provides.iter().any(|p| *p == a.name));
            match stray {
                Some(trait_) => Err(self.bad_output(
                    "compute",
                    format!("returned trait `{}`, which its info does not list in `provides`", trait_.name),
                    called.metrics,
                )),
                None => Ok(called),
            }
        })
    }

    /// Opens a KPI accumulator: one instance kept for one streamed computation.
    pub fn open_kpi(&self, invocation: &Invocation) -> Result<KpiRun, InvokeError> {
        self.expect_kind(PluginKind::KpiCalculator, "open")?;
        if let Some(reason) = self.plugin.quarantined() {
            let failure = Failure::Quarantined { reason };
            let metrics = CallMetrics { outcome: Some(failure.outcome()), ..CallMetrics::default() };
            return Err(InvokeError { plugin: self.plugin.label(), call: "open", failure, metrics });
        }
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
        let pre = &self.plugin.pre;
        let called = run.step("open", bytes_in, |store, bindings| {
            let opened = match pre {
                WorldPre::V0_1_0(p) => {
                    p.open_kpi(store, invocation)?.map(|(k, a)| (KpiInstance::V0_1_0(k), a))
                }
                WorldPre::V0_2_0(p) => {
                    p.open_kpi(store, invocation)?.map(|(k, a)| (KpiInstance::V0_2_0(k), a))
                }
                WorldPre::V0_3_0(p) => {
                    p.open_kpi(store, invocation)?.map(|(k, a)| (KpiInstance::V0_3_0(k), a))
                }
            };
            Ok(opened.map(|(instance, accumulator)| {
                *bindings = Some(instance);
                accumulator
            }))
        })?;
        run.accumulator = Some(run.guest(called, "open")?.value);
        Ok(run)
    }

    fn expect_kind(&self, kind: PluginKind, call: &'static str) -> Result<(), InvokeError> {
        let actual = self.plugin.pre.kind();
        if actual == kind {
            return Ok(());
        }
        Err(InvokeError {
            plugin: self.plugin.label(),
            call,
            failure: Failure::WrongKind { expected: kind.world(), actual: actual.world() },
            metrics: CallMetrics { outcome: Some(CallOutcome::Rejected), ..CallMetrics::default() },
        })
    }

    /// A call the plugin's contract version does not have.
    fn not_in_contract(&self, call: &'static str) -> InvokeError {
        let failure = Failure::NotInContract { call, contract: self.plugin.pre.contract() };
        let metrics = CallMetrics { outcome: Some(failure.outcome()), ..CallMetrics::default() };
        InvokeError { plugin: self.plugin.label(), call, failure, metrics }
    }

    /// Checks a batch answer holds exactly one entry per subject.
    fn one_per_subject<T>(
        &self,
        call: &'static str,
        called: Called<Vec<T>>,
        subjects: usize,
    ) -> Result<Called<Vec<T>>, InvokeError> {
        if called.value.len() == subjects {
            return Ok(called);
        }
        let reason = format!("returned {} answers for {} subjects", called.value.len(), subjects);
        Err(self.bad_output(call, reason, called.metrics))
    }

    /// Runs a call whose WIT result is `result<T, plugin-error>`, turning the guest's error into
    /// a [`Failure::Guest`].
    fn run_guest<T: WireSize>(
        &self,
        call: &'static str,
        invocation: &Invocation,
        bytes_in: u64,
        f: impl FnOnce(&mut Store<Sandbox>, &WorldPre) -> wasmtime::Result<Result<T, PluginError>>,
    ) -> Result<Called<T>, InvokeError> {
        let called = self.run(call, &invocation.campaign_id, invocation.now, invocation.seed, bytes_in, f)?;
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

/// A KPI calculator's instance, by contract version.
enum KpiInstance {
    V0_1_0(v0_1_0::Kpi),
    V0_2_0(v0_2_0::Kpi),
    V0_3_0(v0_3_0::Kpi),
}

/// One streamed KPI computation: `add` batches of events, then `finish`.
pub struct KpiRun {
    plugin: Arc<LoadedPlugin>,
    counters: super::CallCounters,
    limits: Limits,
    store: Store<Sandbox>,
    bindings: Option<KpiInstance>,
    accumulator: Option<ResourceAny>,
    campaign: String,
    tick: std::time::Duration,
}

impl KpiRun {
    /// Adds a batch of events (oldest first). Each batch is budgeted as one call.
    pub fn add(&mut self, events: &[Event]) -> Result<CallMetrics, InvokeError> {
        let accumulator = self.accumulator()?;
        let called = self.step("add", events.wire_size(), |store, bindings| match bindings {
            Some(KpiInstance::V0_1_0(k)) => k.add(store, accumulator, events),
            Some(KpiInstance::V0_2_0(k)) => k.add(store, accumulator, events),
            Some(KpiInstance::V0_3_0(k)) => k.add(store, accumulator, events),
            None => Err(wasmtime::Error::msg("accumulator is not open")),
        })?;
        Ok(self.guest(called, "add")?.metrics)
    }

    /// Produces the metrics and releases the instance.
    pub fn finish(mut self) -> Result<Called<Vec<Metric>>, InvokeError> {
        let accumulator = self.accumulator()?;
        let called = self.step("finish", 0, |store, bindings| match bindings {
            Some(KpiInstance::V0_1_0(k)) => k.finish(store, accumulator),
            Some(KpiInstance::V0_2_0(k)) => k.finish(store, accumulator),
            Some(KpiInstance::V0_3_0(k)) => k.finish(store, accumulator),
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
        f: impl FnOnce(&mut Store<Sandbox>, &mut Option<KpiInstance>) -> wasmtime::Result<T>,
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
            return counted(&self.counters, &self.plugin, result, true);
        }
        result
    }

    fn guest<T>(
        &self,
        called: Called<Result<T, PluginError>>,
        call: &'static str,
    ) -> Result<Called<T>, InvokeError> {
        counted(&self.counters, &self.plugin, guest_result(&self.plugin.label(), call, called), true)
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

fn forward_log(plugin: &str, campaign: &str, level: &tracing::Level, message: &str) {
    match *level {
        tracing::Level::TRACE => tracing::trace!(plugin, campaign, "{message}"),
        tracing::Level::DEBUG => tracing::debug!(plugin, campaign, "{message}"),
        tracing::Level::INFO => tracing::info!(plugin, campaign, "{message}"),
        tracing::Level::WARN => tracing::warn!(plugin, campaign, "{message}"),
        tracing::Level::ERROR => tracing::error!(plugin, campaign, "{message}"),
    }
}

fn is_json_object(text: &str) -> bool {
    matches!(serde_json::from_str::<serde_json::Value>(text), Ok(serde_json::Value::Object(_)))
}

/// A call 0.2.0 introduced, reached on a 0.1.0 plugin (its callers check the contract first).
fn older_contract() -> wasmtime::Error {
    wasmtime::Error::msg("contract 0.1.0 has no such call")
}
