//! The campaign engine: turns events and audiences into messages, or into a recorded reason why
//! not. It owns campaign lifecycle and bindings (validated against the installed plugins), the
//! send pipeline (segment → policies → experiment → personalize → outbox) and delivery.
//!
//! Depends on: domain types, `store`, `runtime`. Never on the API layer.

mod access;
mod audience;
mod calendar;
mod campaigns;
mod consent;
mod content;
mod deliver;
mod error;
mod exports;
mod feedback;
mod identity;
mod imports;
mod journeys;
mod measure;
mod outbound;
mod pipeline;
mod placeholders;
mod plugins;
mod policy;
mod profiles;
mod results;
mod schedule;
mod segments;
mod series;
mod sessions;
mod signature;
mod subject;
mod throttle;
mod traits;
mod unsubscribe;
mod views;
mod workers;

use std::sync::Arc;

pub use audience::{Audience, Estimate, Member};
pub use calendar::{Calendar, CalendarDay, JourneyDue, MAX_CALENDAR_DAYS, ScheduledEntries, ScheduledRuns};
pub use consent::{ConsentSources, SourceFacts};
pub use content::{ContentView, RenderedMessage};
pub use deliver::{DeliveryConfig, DeliveryReport};
pub use error::EngineError;
pub use exports::{ExportFormat, ExportKind, ExportReport};
pub use feedback::{FEEDBACK_TOLERANCE_MS, FeedbackReport, WebhookRequest};
pub use imports::ProfileRow;
pub use journeys::{DryRun, DryStep, JourneyReport, JourneyView};
pub use outbound::OutboundPolicy;
pub use pipeline::RunReport;
pub use policy::{Policies, QuietHours, RollingCap};
pub use profiles::{CustomerView, ProfileLookup, ProfileUpdate};
pub use results::CONVERSION_EVENT;
pub use schedule::TickReport;
pub use segments::{ManualEdit, SegmentUpkeep, SegmentView};
pub use series::{CampaignSeries, DayFigures, ReportingConfig, SeriesState, SeriesUpdate};
pub use sessions::SignInRefused;
pub(crate) use subject::value_of;
pub use throttle::SendLane;
pub use traits::TraitReport;
pub(crate) use traits::stored_trait;
pub use unsubscribe::{LINK_VALID_MS, UnsubscribeLink, UnsubscribeScope};
pub use views::{CampaignView, PluginView};

use crate::runtime::Runtime;
use crate::store::Storage;

/// The actor of what the engine does by itself (scheduled runs, the retention purge).
pub const SYSTEM: &str = "system";

/// Where the engine reads the time. Production uses the system clock; previews and replays may
/// pin it, so that a dry run "as of" a moment gives the same answer every time.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that reads what it was last set to: for dry runs as of a moment, and for replays.
#[derive(Debug, Default)]
pub struct FixedClock(std::sync::atomic::AtomicI64);

impl FixedClock {
    /// A clock reading `now_ms`.
    pub fn at(now_ms: i64) -> Self {
        FixedClock(std::sync::atomic::AtomicI64::new(now_ms))
    }

    /// Moves the clock to `now_ms`.
    pub fn set(&self, now_ms: i64) {
        self.0.store(now_ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The campaign engine. Cheap to share behind an `Arc`.
///
/// Work that must have one hand at a time (draining triggers, keeping segments current, moving
/// profiles through journeys, the scheduler's tick) holds a lock of the store's, so that engines
/// in several workers over one database take turns just as threads of one process do.
///
/// Its methods call plugins synchronously: call them from blocking threads
/// (`tokio::task::spawn_blocking`), never from an async task, because a guest's WASI I/O blocks
/// on the runtime. The async methods (`deliver_due`) do this themselves.
pub struct Engine {
    storage: Storage,
    runtime: Arc<Runtime>,
    clock: Arc<dyn Clock>,
    delivery: DeliveryConfig,
    policies: Policies,
    kpi_every_ms: Option<i64>,
    keep_events_ms: Option<i64>,
    batch_workers: usize,
    /// See [`EngineConfig::isolating_calls`].
    isolating_calls: u32,
    courier: deliver::Courier,
    delivered: [std::sync::atomic::AtomicU64; 4],
    /// Coalesces trigger drains requested by ingest (see [`Engine::drain_triggers_soon`]).
    drain: pipeline::DrainGate,
    /// What each plugin reads per binding config (`needs-for-config` answers), by plugin hash
    /// and config hash.
    reads: std::sync::Mutex<std::collections::HashMap<(crate::plugin::ContentHash, u64), subject::Reads>>,
    /// Signalled when sends are queued, so an idle delivery loop starts at once.
    sends_queued: tokio::sync::Notify,
    /// Where consent decisions come from.
    consent: ConsentSources,
    /// The URL recipients reach this Baton at, for unsubscribe links (`api.public_url`).
    public_url: std::sync::RwLock<Option<String>>,
    /// The time zone of daily series, and the late-event allowance.
    reporting: series::Reporting,
    /// See [`EngineConfig::max_saved_segments`].
    max_saved_segments: usize,
}

/// The engine's settings: delivery and pacing policies.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Retries, timeouts, concurrency.
    pub delivery: DeliveryConfig,
    /// Caps, quiet hours, priority.
    pub policies: Policies,
    /// How often `tick` recomputes the KPIs of live campaigns, in milliseconds (none: on request
    /// only).
    pub kpi_every_ms: Option<i64>,
    /// Threads that judge a batch audience in parallel (0: one per core).
    pub batch_workers: usize,
    /// Failed calls one batch may spend finding the profiles that make its segment rule fail
    /// (split in halves until the failing ones are alone); past it, the rest of the batch is
    /// skipped with the rule's error. 0: a failed call skips its whole batch.
    pub isolating_calls: u32,
    /// How long events are kept, in milliseconds; `tick` deletes older ones once an hour,
    /// audited as the system (none: kept until erased).
    pub keep_events_ms: Option<i64>,
    /// Where consent decisions come from (traits, Segment's consent context, events).
    pub consent: ConsentSources,
    /// The time zone of daily KPI series, and how late events may arrive.
    pub reporting: ReportingConfig,
    /// Saved segments kept at once. Each one's upkeep adds to every ingested event it reads
    /// (BENCHMARKS.md section 11), so the number is a choice, not an accident.
    pub max_saved_segments: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            delivery: DeliveryConfig::default(),
            policies: Policies::default(),
            kpi_every_ms: Some(3_600_000),
            batch_workers: 0,
            isolating_calls: 32,
            keep_events_ms: None,
            consent: ConsentSources::default(),
            reporting: ReportingConfig::default(),
            max_saved_segments: 100,
        }
    }
}

impl Engine {
    /// An engine over this store and runtime, reading `clock`. Refuses invalid policies.
    pub fn new(
        storage: Storage,
        runtime: Arc<Runtime>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        let problems = config.policies.problems();
        if !problems.is_empty() {
            return Err(EngineError::InvalidPolicies(problems));
        }
        let courier = deliver::Courier::new(&config.delivery)?;
        if config.kpi_every_ms.is_some_and(|ms| ms <= 0) {
            return Err(EngineError::InvalidPolicies(vec!["kpi_every_ms: must be more than 0".into()]));
        }
        if config.keep_events_ms.is_some_and(|ms| ms <= 0) {
            return Err(EngineError::InvalidPolicies(vec!["keep_events_ms: must be more than 0".into()]));
        }
        if let Some(problem) = config.consent.problem() {
            return Err(EngineError::InvalidPolicies(vec![problem]));
        }
        let reporting =
            config.reporting.checked().map_err(|problem| EngineError::InvalidSettings(vec![problem]))?;
        let batch_workers = match config.batch_workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let engine = Engine {
            storage,
            runtime,
            clock,
            delivery: config.delivery,
            policies: config.policies,
            kpi_every_ms: config.kpi_every_ms,
            keep_events_ms: config.keep_events_ms,
            consent: config.consent,
            reporting,
            max_saved_segments: config.max_saved_segments,
            public_url: std::sync::RwLock::new(None),
            batch_workers,
            isolating_calls: config.isolating_calls,
            courier,
            delivered: Default::default(),
            drain: pipeline::DrainGate::default(),
            reads: Default::default(),
            sends_queued: tokio::sync::Notify::new(),
        };
        engine.refresh_segment_interest()?;
        Ok(engine)
    }

    /// Sends finished since start, by outcome: delivered, rejected, retried, dead-lettered.
    pub fn delivery_totals(&self) -> [(&'static str, u64); 4] {
        let load = |i: usize| self.delivered[i].load(std::sync::atomic::Ordering::Relaxed);
        [("delivered", load(0)), ("rejected", load(1)), ("retried", load(2)), ("dead_lettered", load(3))]
    }

    /// The store, for tests, benchmarks and the demo's data generator. The API and the CLI never
    /// use it: they call the engine's functions, which check, audit and trigger alike for both
    /// (a unit test below keeps it so).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The plugin runtime, for tests and benchmarks; like [`Engine::storage`], never used by the
    /// API or the CLI.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The engine's current time, ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

#[cfg(test)]
mod tests {
    /// Every file of the API and the CLI, with its text.
    fn front_ends() -> Vec<(std::path::PathBuf, String)> {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![src.join("api.rs"), src.join("cli.rs"), src.join("serve.rs")];
        for dir in ["api", "cli"] {
            for entry in std::fs::read_dir(src.join(dir)).expect("source folder") {
                files.push(entry.expect("entry").path());
            }
        }
        files.into_iter().map(|f| (f.clone(), std::fs::read_to_string(&f).expect("source"))).collect()
    }

    /// The application layer holds: what the API and the CLI do goes through the engine's
    /// functions, never around them to the store or the runtime, so both are checked and
    /// audited alike.
    #[test]
    fn the_api_and_the_cli_do_not_reach_around_the_engine() {
        for (file, text) in front_ends() {
            for reach in [".storage()", ".runtime()"] {
                assert!(!text.contains(reach), "{} calls `{reach}`: add an engine function", file.display());
            }
        }
    }
}
