//! Customers and what they do: profiles, identities, consents and events. Plain data, validated
//! where it enters, shared by the store, the engine and the API.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A profile's stable internal id. Identities (user ids, anonymous ids) point to it; it survives
/// identity stitching (the merged-away profile's id is kept as an alias of the survivor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ProfileId(pub u64);

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pr_{:016x}", self.0)
    }
}

impl schemars::JsonSchema for ProfileId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ProfileId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": r"^pr_[0-9a-fA-F]{16}$",
            "description": "A profile id: `pr_` and 16 hex digits."
        })
    }
}

impl From<ProfileId> for String {
    fn from(id: ProfileId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for ProfileId {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl std::str::FromStr for ProfileId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.strip_prefix("pr_")
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .map(ProfileId)
            .ok_or_else(|| format!("`{text}` is not a profile id (pr_ followed by 16 hex digits)"))
    }
}

/// How a source knows a customer (Segment's `userId` and `anonymousId`).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Identity {
    /// A known, stable user id from the customer's own systems.
    User(String),
    /// A device or browser id from before the customer was known.
    Anonymous(String),
}

impl Identity {
    /// The store key of this identity.
    pub(crate) fn key(&self) -> Vec<u8> {
        let (tag, value) = match self {
            Identity::User(v) => (b'u', v),
            Identity::Anonymous(v) => (b'a', v),
        };
        let mut key = Vec::with_capacity(1 + value.len());
        key.push(tag);
        key.extend_from_slice(value.as_bytes());
        key
    }
}

/// How many consent changes a profile keeps unless configured otherwise.
pub const DEFAULT_CONSENT_HISTORY: usize = 100;

/// A consent or subscription decision for one channel and purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    /// The customer opted in.
    Granted,
    /// The customer opted out or never opted in.
    Denied,
}

/// One consent record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// The decision.
    pub state: ConsentState,
    /// When it was recorded, ms since the epoch.
    pub updated_at: i64,
}

/// One consent decision as it arrived: the proof of when, from where, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentChange {
    /// The `channel:purpose` it decides.
    pub key: String,
    /// The decision.
    pub state: ConsentState,
    /// When it was recorded, ms since the epoch.
    pub at: i64,
    /// Where it came from: `trait:email_opt_in`, `context.consent:marketing`,
    /// `event:unsubscribed`, `token:ops` (an operator), ...
    pub source: String,
}

/// Why a channel address must not be sent to, whatever the consent says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionReason {
    /// The customer unsubscribed from the channel.
    Unsubscribed,
    /// The address bounced hard.
    Bounced,
    /// The customer reported a message as spam.
    Complained,
    /// An operator suppressed the address.
    Manual,
}

/// A suppression of one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// Why.
    pub reason: SuppressionReason,
    /// Since when, ms since the epoch.
    pub since: i64,
}

/// A customer profile: the single customer view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The internal id.
    pub id: ProfileId,
    /// Every identity that points to this profile.
    pub identities: Vec<Identity>,
    /// Attributes (traits), as JSON values.
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// Computed traits, written only by computed-trait plugins (never by a source), so a client
    /// cannot forge a lead score. Plugins see them among the attributes, where a computed trait
    /// wins over a source attribute of the same name.
    #[serde(default)]
    pub computed: BTreeMap<String, serde_json::Value>,
    /// Consent per `channel:purpose`, for example `email:marketing`.
    pub consents: BTreeMap<String, Consent>,
    /// Every change of a consent, oldest first, up to the configured number
    /// (`engine.consent.history_limit`; the oldest are dropped first).
    #[serde(default)]
    pub consent_history: Vec<ConsentChange>,
    /// Suppressed channels (`email`, `sms`, ...), whatever the consent says.
    #[serde(default)]
    pub suppressions: BTreeMap<String, Suppression>,
    /// IANA time zone name, for quiet hours and calendar-day caps.
    pub timezone: Option<String>,
    /// The customer's locale (`en-US`), as the last source that knew it said.
    #[serde(default)]
    pub locale: Option<String>,
    /// When the profile was created, ms since the epoch.
    pub created_at: i64,
    /// When it last changed, ms since the epoch.
    pub updated_at: i64,
}

impl Profile {
    /// The consent recorded for a channel and purpose, if any.
    pub fn consent(&self, channel: &str, purpose: &str) -> Option<ConsentState> {
        self.consents.get(&format!("{channel}:{purpose}")).map(|c| c.state)
    }

    /// Records a consent decision for a channel and purpose, from an unnamed source.
    pub fn set_consent(&mut self, channel: &str, purpose: &str, state: ConsentState, at: i64) {
        self.record_consent(
            &format!("{channel}:{purpose}"),
            state,
            at,
            "unspecified",
            DEFAULT_CONSENT_HISTORY,
        );
    }

    /// Records a consent decision for `key` (`channel:purpose`) from `source`. A decision that
    /// changes the state is added to the history (keeping at most `history_limit` changes); one
    /// that repeats the current state changes nothing, so a client that sends its opt-in with
    /// every identify does not fill the history. Returns whether the state changed.
    pub fn record_consent(
        &mut self,
        key: &str,
        state: ConsentState,
        at: i64,
        source: &str,
        history_limit: usize,
    ) -> bool {
        if self.consents.get(key).is_some_and(|c| c.state == state) {
            return false;
        }
        self.consents.insert(key.to_owned(), Consent { state, updated_at: at });
        self.consent_history.push(ConsentChange {
            key: key.to_owned(),
            state,
            at,
            source: source.to_owned(),
        });
        let excess = self.consent_history.len().saturating_sub(history_limit);
        self.consent_history.drain(..excess);
        true
    }
}

/// An event as stored: attributed to a profile after identity resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// The unique id (Segment's `messageId`); ingest is idempotent on it.
    pub id: String,
    /// The profile it belongs to.
    pub profile: ProfileId,
    /// The event name.
    pub name: String,
    /// When it happened, ms since the epoch.
    pub timestamp: i64,
    /// Its properties, a JSON object.
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// The campaign it is attributed to, if any.
    pub campaign: Option<String>,
}

/// An event arriving from a source, before identity resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = timestamp_defaults)]
#[schemars(example = serde_json::json!({
    "id": "evt-7f3a", "user_id": "u-42", "name": "order_completed",
    "timestamp": 1_764_460_800_000_i64, "properties": { "revenue": 59.9, "currency": "EUR" }
}))]
pub struct NewEvent {
    /// The unique id; the same id twice is stored once.
    pub id: String,
    /// The known user id, if any.
    pub user_id: Option<String>,
    /// The anonymous id, if any. With a user id too, the two are stitched into one profile.
    pub anonymous_id: Option<String>,
    /// The event name.
    pub name: String,
    /// When it happened, ms since the epoch.
    pub timestamp: i64,
    /// Its properties, a JSON object.
    #[serde(default)]
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// The campaign it is attributed to, if any.
    #[serde(default)]
    pub campaign: Option<String>,
}

/// The API reads an event without a `timestamp` as happening when it was received (as Segment
/// does), so the document does not require one.
fn timestamp_defaults(schema: &mut schemars::Schema) {
    if let Some(required) = schema.get_mut("required").and_then(|r| r.as_array_mut()) {
        required.retain(|name| name != "timestamp");
    }
}

impl NewEvent {
    /// Why the event cannot be stored, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if self.id.trim().is_empty() {
            return Some("`id` must not be empty".into());
        }
        if self.name.trim().is_empty() {
            return Some("`name` must not be empty".into());
        }
        if RESERVED_EVENT_NAMES.contains(&self.name.as_str()) {
            return Some(format!(
                "`{}` is an event Baton records itself (for measurement and saved segments); a source cannot send it (name your event differently)",
                self.name
            ));
        }
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        if blank(&self.user_id) && blank(&self.anonymous_id) {
            return Some("an event needs a `user_id` or an `anonymous_id`".into());
        }
        if self.campaign.as_deref().is_some_and(|c| c.is_empty() || c.contains('\0')) {
            return Some("`campaign` must be a non-empty id without NUL characters".into());
        }
        None
    }
}

/// Events only Baton writes: a campaign's delivery outcomes, its holdout assignments and the
/// conversions it measures. A source that could send them could forge a campaign's results (a
/// `message_delivered` for a buyer who never got the message), so ingest refuses them.
pub const RESERVED_EVENT_NAMES: [&str; 7] = [
    "message_delivered",
    "message_rejected",
    "message_failed",
    "control_assigned",
    "campaign_conversion",
    crate::segment::SEGMENT_ENTERED,
    crate::segment::SEGMENT_EXITED,
];

/// Caps on what one ingested event may hold, so that no source (and no one holding a write key)
/// can store unbounded data or shift events far from the present. Each is refused per event with
/// the cap's name; every one is configurable (`api.events` in the config file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EventLimits {
    /// The longest event id, in bytes.
    pub max_id_bytes: usize,
    /// The longest event name, in bytes.
    pub max_name_bytes: usize,
    /// The longest user id or anonymous id, in bytes.
    pub max_identity_bytes: usize,
    /// The most bytes of properties (or identify traits), as JSON.
    pub max_property_bytes: usize,
    /// How far after the time of receipt a timestamp may be, in ms.
    pub max_future_ms: i64,
    /// How far before the time of receipt a timestamp may be, in ms; `None` accepts any past
    /// (backfills of history are legitimate).
    pub max_past_ms: Option<i64>,
}

impl Default for EventLimits {
    fn default() -> Self {
        EventLimits {
            max_id_bytes: 256,
            max_name_bytes: 256,
            max_identity_bytes: 256,
            max_property_bytes: 32 << 10,
            max_future_ms: 24 * 3_600_000,
            max_past_ms: None,
        }
    }
}

impl EventLimits {
    /// Why `event`, received at `now`, breaks a cap, if it does.
    pub fn problem(&self, event: &NewEvent, now: i64) -> Option<String> {
        let too_long = |what: &str, len: usize, cap: usize, key: &str| {
            (len > cap).then(|| format!("{what} is {len} bytes, over the cap of {cap} (`api.events.{key}`)"))
        };
        too_long("`id`", event.id.len(), self.max_id_bytes, "max_id_bytes")
            .or_else(|| too_long("`name`", event.name.len(), self.max_name_bytes, "max_name_bytes"))
            .or_else(|| {
                let longest = [&event.user_id, &event.anonymous_id]
                    .iter()
                    .map(|id| id.as_deref().map_or(0, str::len))
                    .max()
                    .unwrap_or(0);
                too_long("a user or anonymous id", longest, self.max_identity_bytes, "max_identity_bytes")
            })
            .or_else(|| self.properties_problem(&event.properties))
            .or_else(|| {
                let ahead = event.timestamp.saturating_sub(now);
                (ahead > self.max_future_ms).then(|| {
                    format!(
                        "`timestamp` is {} s after the time of receipt, over the cap of {} s (`api.events.max_future_ms`)",
                        ahead / 1_000,
                        self.max_future_ms / 1_000
                    )
                })
            })
            .or_else(|| {
                let behind = now.saturating_sub(event.timestamp);
                self.max_past_ms.filter(|cap| behind > *cap).map(|cap| {
                    format!(
                        "`timestamp` is {} s before the time of receipt, over the cap of {} s (`api.events.max_past_ms`)",
                        behind / 1_000,
                        cap / 1_000
                    )
                })
            })
    }

    /// Why a set of properties or traits is too large, if it is.
    pub fn properties_problem(
        &self,
        properties: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<String> {
        let bytes = serde_json::to_vec(properties).map_or(usize::MAX, |b| b.len());
        (bytes > self.max_property_bytes).then(|| {
            format!(
                "properties are {bytes} bytes of JSON, over the cap of {} (`api.events.max_property_bytes`)",
                self.max_property_bytes
            )
        })
    }
}

/// What ingest did with one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum IngestOutcome {
    /// Stored durably, on this profile.
    Stored {
        /// The profile it was attributed to.
        profile: ProfileId,
    },
    /// An event with this id was already stored; nothing changed.
    Duplicate,
    /// Not stored, for this reason.
    Rejected {
        /// What is wrong with the event.
        reason: String,
    },
}
