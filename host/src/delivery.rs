//! What happens to each message: pending sends (the outbox), delivery records, dead letters,
//! skip records with stable reason codes, and KPI snapshots. Plain data for the store and engine.

use serde::{Deserialize, Serialize};

use crate::plugin::ContentHash;
use crate::profile::ProfileId;

/// A rendered message waiting to be sent (or retried). Its idempotency key is unique per
/// (campaign, profile, step): the store accepts each key once, so a duplicate trigger or a
/// restart never produces a second send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PendingSend {
    /// `campaign:profile:step`.
    pub idempotency_key: String,
    /// The campaign.
    pub campaign: String,
    /// The recipient's profile.
    pub profile: ProfileId,
    /// The step (for example the triggering event id, or a batch run id).
    pub step: String,
    /// The channel adapter plugin pinned at enqueue time.
    pub channel_plugin: ContentHash,
    /// The channel binding's config pinned with it, so plugin and config always match.
    #[serde(default)]
    pub channel_config: serde_json::Value,
    /// The channel binding's grants when it was queued: used if the campaign has since swapped
    /// to another adapter (a send keeps the adapter, config and grants it was queued with). While
    /// the binding still pins the same adapter, its current grants apply, so a revoked grant
    /// takes effect on queued sends too.
    #[serde(default)]
    pub channel_grants: Option<crate::campaign::Grants>,
    /// The rendered message, as the adapter will receive it (JSON of the contract's `message`).
    pub message: serde_json::Value,
    /// The experiment variant, if any.
    pub variant: Option<String>,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before this time, ms since the epoch.
    pub next_attempt_at: i64,
    /// When it was enqueued, ms since the epoch.
    pub enqueued_at: i64,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

/// How a send ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SendOutcome {
    /// The vendor accepted it.
    Delivered {
        /// The vendor's message id, if it gave one.
        receipt: Option<String>,
    },
    /// The vendor refused it for good.
    Rejected {
        /// Why.
        reason: String,
    },
    /// Retries were exhausted; it is in the dead letters.
    DeadLettered {
        /// The last error.
        reason: String,
    },
}

/// A finished send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRecord {
    /// The send's idempotency key.
    pub idempotency_key: String,
    /// The campaign.
    pub campaign: String,
    /// The recipient's profile.
    pub profile: ProfileId,
    /// The experiment variant, if any.
    pub variant: Option<String>,
    /// The outcome.
    pub outcome: SendOutcome,
    /// Attempts it took.
    pub attempts: u32,
    /// When it finished, ms since the epoch.
    pub at: i64,
}

/// Why a send did not happen (or not yet). Codes are stable: they appear in APIs and reports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No consent for the channel and purpose.
    NoConsent,
    /// Unsubscribed from the channel.
    Unsubscribed,
    /// The address bounced.
    Bounced,
    /// The recipient complained (spam report).
    Complained,
    /// Suppressed by hand.
    Suppressed,
    /// The rolling-window frequency cap for the channel is reached.
    FrequencyCap,
    /// The calendar-day cap in the profile's time zone is reached.
    DailyCap,
    /// Inside quiet hours in the profile's time zone: delayed, not dropped.
    QuietHours,
    /// A higher-priority campaign claimed this profile for the window.
    LowerPriority,
    /// Held out in the experiment's control group (recorded for lift).
    ControlGroup,
    /// The profile has no address on the channel.
    NoAddress,
    /// Already sent for this idempotency key.
    Duplicate,
    /// A plugin failed for this profile (the detail names the plugin and limit).
    PluginFailed,
    /// The campaign was paused while the send waited: held until it is active again.
    CampaignPaused,
    /// The campaign ended while the send waited: cancelled.
    CampaignEnded,
}

impl SkipReason {
    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::NoConsent => "no_consent",
            SkipReason::Unsubscribed => "unsubscribed",
            SkipReason::Bounced => "bounced",
            SkipReason::Complained => "complained",
            SkipReason::Suppressed => "suppressed",
            SkipReason::FrequencyCap => "frequency_cap",
            SkipReason::DailyCap => "daily_cap",
            SkipReason::QuietHours => "quiet_hours",
            SkipReason::LowerPriority => "lower_priority",
            SkipReason::ControlGroup => "control_group",
            SkipReason::NoAddress => "no_address",
            SkipReason::Duplicate => "duplicate",
            SkipReason::PluginFailed => "plugin_failed",
            SkipReason::CampaignPaused => "campaign_paused",
            SkipReason::CampaignEnded => "campaign_ended",
        }
    }
}

/// A suppressed or delayed send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SkipRecord {
    /// The campaign.
    pub campaign: String,
    /// The profile.
    pub profile: ProfileId,
    /// The stable reason.
    pub reason: SkipReason,
    /// Details for people (which cap, which plugin).
    pub detail: String,
    /// When, ms since the epoch.
    pub at: i64,
}

/// KPI results of one calculator run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiSnapshot {
    /// The campaign.
    pub campaign: String,
    /// The KPI slot name.
    pub kpi: String,
    /// The calculator plugin.
    pub plugin: ContentHash,
    /// When computed, ms since the epoch.
    pub at: i64,
    /// Events the calculator saw.
    pub events: u64,
    /// The metrics, as the contract's `metric` records in JSON.
    pub metrics: serde_json::Value,
    /// What the calculator read, and how its conversions relate to the campaign's results.
    #[serde(default)]
    pub reads: String,
}
