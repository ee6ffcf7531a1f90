//! Baton: a WebAssembly plugin host for marketing rules and automations.
//!
//! Layers point downward only: domain types → [`Storage`] (embedded store) → [`Runtime`]
//! (wasmtime: install, sandbox, typed calls) → [`Engine`] (campaigns, policies, delivery) → API.
//! Only the items re-exported here are public.

mod api;
mod campaign;
mod console;
pub mod content;
mod delivery;
mod demo;
mod engine;
mod first_party;
mod harness;
pub mod journey;
pub mod measurement;
mod plugin;
mod profile;
mod runtime;
mod segment;
mod serve;
pub mod stats;
mod store;
pub mod toolkit;

pub use api::{ApiConfig, ApiError, AppState, Caller, ErrorCode, RouteSpec, role_table, router, routes};
pub use campaign::{
    Binding, Campaign, CampaignState, Conversion, ConversionEvent, EarlyStopping, Experiment, Grants,
    MessageTemplate, Slot, Trigger, Variant,
};
pub use delivery::{DeliveryRecord, KpiSnapshot, PendingSend, SendOutcome, SkipReason, SkipRecord};
pub use engine::{
    Audience, CONVERSION_EVENT, Calendar, CalendarDay, CampaignSeries, CampaignView, Clock, DayFigures,
    DeliveryConfig, DeliveryReport, DryRun, DryStep, Engine, EngineConfig, EngineError, Estimate,
    ExportFormat, ExportKind, ExportReport, FEEDBACK_TOLERANCE_MS, FeedbackReport, FixedClock, JourneyDue,
    JourneyReport, JourneyView, LINK_VALID_MS, MAX_CALENDAR_DAYS, ManualEdit, Member, OutboundPolicy,
    PluginView, Policies, ProfileLookup, ProfileRow, ProfileUpdate, QuietHours, ReportingConfig, RollingCap,
    RunReport, ScheduledEntries, ScheduledRuns, SegmentUpkeep, SegmentView, SendLane, SeriesUpdate,
    SystemClock, TickReport, TraitReport, UnsubscribeLink, UnsubscribeScope, WebhookRequest,
};
pub mod demo_scenario {
    //! The `baton demo` scenario.
    pub use crate::demo::{DemoError, DemoReport, SplitMix, render, run, run_on};
}
pub use first_party::{FIRST_PARTY, first_party};
pub use harness::{CaseResult, HarnessError, render as render_cases, run_fixtures};
pub use plugin::{ContentHash, PluginKind, PluginRecord, Quarantine};
pub use profile::{
    Consent, ConsentState, Event, EventLimits, Identity, IngestOutcome, NewEvent, Profile, ProfileId,
    RESERVED_EVENT_NAMES, Suppression, SuppressionReason,
};
pub mod contract;
pub use journey::{
    EntryRecord, EventMatch, Journey, JourneySpec, JourneyState, Outcome, Position, Reentry, Step,
    StepCounts, Waiting,
};
pub use runtime::{
    CallMetrics, CallOutcome, Called, Failure, InstallError, InvokeError, KpiRun, Limits, LoadedPlugin,
    PluginCall, PluginStats, Runtime, RuntimeConfig, RuntimeError, RuntimeStats, SUPPORTED_CONTRACTS,
};
pub use segment::{
    MemberFile, ProfileChange, SEGMENT_ENTERED, SEGMENT_EXITED, SavedSegment, SegmentDefinition,
    SegmentMember, SegmentSpec, SegmentState,
};
pub use serve::{LoopConfig, ServeConfig, ServeError, open_engine, serve};
pub use store::{
    AuditRecord, Erasure, FeedbackEndpoint, Page, PageRequest, ProfileExport, Role, SecretScope, SecretValue,
    SentTo, Storage, StorageConfig, StorageError, TokenRecord, TraitBinding, check_secret_hosts,
};
