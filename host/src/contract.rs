//! What crosses the plugin boundary, in Baton's own types.
//!
//! The WIT contract has versions (`wit/v0.1.0`, `wit/v0.2.0`, ...), each with its own generated
//! bindings inside the runtime. Those generated types never leave the runtime: every call converts
//! to and from the types here at the runtime's edge, so the engine, the outbox's stored JSON, the
//! preview samples and the API speak one vocabulary whatever contract a plugin was built against.
//! The serde shapes are those the 0.1.0 bindings had, so data stored by earlier builds reads back.
//!
//! A type here follows the newest contract; an older contract's plugin gets the subset it knows
//! (a 0.1.0 plugin never sees a `computed-trait` kind, and its `info` provides no traits).

use serde::{Deserialize, Serialize};

pub use crate::plugin::PluginKind;

/// The contract versions (`baton:plugin@X`) this host runs, oldest first: one runtime module
/// each, which is where each version is written down on the host's side.
pub const SUPPORTED_CONTRACTS: &[&str] = &crate::runtime::CONTRACTS;

/// The newest contract: what the SDK, the scaffolds and the first-party plugins build against.
pub const LATEST_CONTRACT: &str = crate::runtime::CONTRACTS[crate::runtime::CONTRACTS.len() - 1];

/// A typed profile attribute value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Value {
    /// Explicitly empty.
    Null,
    /// `true` or `false`.
    Boolean(bool),
    /// A whole number.
    Integer(i64),
    /// A floating point number.
    Float(f64),
    /// Text.
    Text(String),
    /// Milliseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// A list or an object, as JSON text.
    Json(String),
}

/// One named attribute of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attribute {
    /// The attribute's name.
    pub name: String,
    /// Its value.
    pub value: Value,
}

/// What the host tells a plugin about the call it is making.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Invocation {
    /// The campaign this call is for; empty outside a campaign.
    pub campaign_id: String,
    /// The binding's configuration, a JSON object.
    pub config: String,
    /// The logical time of the call, milliseconds since the Unix epoch, UTC.
    pub now: i64,
    /// A deterministic seed.
    pub seed: u64,
}

/// A customer event as a plugin sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Event {
    /// The event's unique id.
    pub id: String,
    /// The profile it belongs to.
    pub profile_id: String,
    /// The event name.
    pub name: String,
    /// When it happened, milliseconds since the Unix epoch, UTC.
    pub timestamp: i64,
    /// Its properties, a JSON object.
    pub properties: String,
    /// The campaign it is attributed to, if any.
    pub campaign_id: Option<String>,
}

/// A profile as a plugin sees it: only what the plugin's needs grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Subject {
    /// The profile's id.
    pub profile_id: String,
    /// Its attributes, computed traits included.
    pub attributes: Vec<Attribute>,
    /// Its events the plugin needs, oldest first.
    pub events: Vec<Event>,
    /// Its IANA time zone, if known.
    pub timezone: Option<String>,
    /// For triggered calls, the event that triggered this one.
    pub trigger: Option<Event>,
}

/// A message on its way to a customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Message {
    /// The channel (`email`, `sms`, `push`, `webhook`).
    pub channel: String,
    /// The recipient's address on that channel.
    pub recipient: String,
    /// The subject line, where the channel has one.
    pub subject: Option<String>,
    /// The body.
    pub body: String,
    /// An HTML body, where the channel has one.
    pub html: Option<String>,
    /// The experiment variant, if any.
    pub variant_id: Option<String>,
    /// Further structured content, a JSON object.
    pub data: String,
    /// Unique to (campaign, profile, step).
    pub idempotency_key: String,
}

/// An error a plugin returned on purpose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PluginError {
    /// A short stable snake_case code.
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

/// Why a binding configuration was refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfigError {
    /// A JSON pointer to the fault; empty for the whole document.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// What a plugin needs from the host.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Needs {
    /// Attribute names it reads; `*` for all.
    pub attributes: Vec<String>,
    /// Event names it reads; `*` for all.
    pub events: Vec<String>,
    /// How far back it reads events, in milliseconds; none for the whole history.
    pub event_window: Option<u64>,
    /// Hosts a channel adapter may send to.
    pub allowed_hosts: Vec<String>,
    /// Secrets a channel adapter refers to.
    pub secrets: Vec<String>,
}

/// A plugin's description of itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PluginInfo {
    /// Lowercase letters, digits and `-`.
    pub name: String,
    /// Semver.
    pub version: String,
    /// Which kind it declares itself to be.
    pub kind: PluginKind,
    /// For the people choosing plugins.
    pub description: String,
    /// A JSON Schema of its binding config.
    pub config_schema: String,
    /// What it needs at most.
    pub needs: Needs,
    /// The traits a computed-trait plugin writes (empty for other kinds and before 0.2.0).
    pub provides: Vec<String>,
}

/// A segment rule's verdict for one subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Membership {
    /// Whether the profile belongs to the audience.
    pub member: bool,
    /// An optional score, kept for analysis and ordering.
    pub score: Option<f64>,
    /// When the verdict may change with no new data (contract 0.3.0); none from older rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recheck_at: Option<i64>,
}

/// An HTTP request a channel adapter asks the host to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HttpRequest {
    /// The method.
    pub method: String,
    /// An absolute URL.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// A vendor's answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body, truncated to the host's cap.
    pub body: Vec<u8>,
}

/// What happened to a send, in the adapter's judgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum DeliveryOutcome {
    /// Accepted; the vendor's message id, if any.
    Delivered(Option<String>),
    /// Transient failure: retry, no sooner than this many milliseconds if given.
    RetryAfter(Option<u64>),
    /// Rate limited: wait this many milliseconds if given.
    Throttled(Option<u64>),
    /// Permanent failure, and why.
    Rejected(String),
}

/// One computed KPI figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Metric {
    /// snake_case name.
    pub name: String,
    /// The value.
    pub value: f64,
    /// `ratio`, `count`, `currency`, `seconds`, ...
    pub unit: String,
    /// For ratios, the numerator.
    pub numerator: Option<f64>,
    /// For ratios, the denominator.
    pub denominator: Option<f64>,
    /// What the denominator counts.
    pub denominator_name: Option<String>,
    /// Breakdown keys.
    pub dimensions: Vec<(String, String)>,
}

/// How a signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureEncoding {
    /// Hexadecimal.
    Hex,
    /// Standard base64.
    Base64,
}

/// One piece of what a vendor signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignedPart {
    /// Literal text.
    Text(String),
    /// The raw body.
    Body,
    /// The full URL the vendor called.
    Url,
    /// A header's value.
    Header(String),
    /// Form parameters sorted by name, name then value (Twilio).
    SortedFormParams,
}

/// The key a vendor signs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureKey {
    /// HMAC-SHA1 with the named secret.
    HmacSha1(String),
    /// HMAC-SHA256 with the named secret.
    HmacSha256(String),
    /// ECDSA P-256 SHA-256 with this public key (base64).
    EcdsaP256Sha256(String),
    /// Ed25519 with this public key (base64).
    Ed25519(String),
}

/// How the host authenticates a vendor's webhook before the adapter sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Verification {
    /// The key, and so the algorithm.
    pub key: SignatureKey,
    /// What the vendor signs, concatenated in order.
    pub signed: Vec<SignedPart>,
    /// The header carrying the signature.
    pub header: String,
    /// Text before the signature in the header.
    pub prefix: String,
    /// How the signature is written.
    pub encoding: SignatureEncoding,
    /// A header with the Unix time in seconds the vendor signed at, for replay protection.
    pub timestamp_header: Option<String>,
}

/// A vendor's webhook request, after verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InboundRequest {
    /// Uppercase method.
    pub method: String,
    /// Path and query.
    pub url: String,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// What a vendor reports about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// Handed to the recipient.
    Delivered,
    /// Delayed; the vendor keeps trying.
    Deferred,
    /// Refused by the recipient's side.
    Bounced,
    /// Not sent by the vendor.
    Dropped,
    /// Marked as spam.
    Complained,
    /// Opened.
    Opened,
    /// A link was clicked.
    Clicked,
    /// Unsubscribed through the vendor.
    Unsubscribed,
}

impl ReportKind {
    /// The event name suffix: `email_` + this gives `email_bounced`.
    pub fn name(self) -> &'static str {
        match self {
            ReportKind::Delivered => "delivered",
            ReportKind::Deferred => "deferred",
            ReportKind::Bounced => "bounced",
            ReportKind::Dropped => "dropped",
            ReportKind::Complained => "complained",
            ReportKind::Opened => "opened",
            ReportKind::Clicked => "clicked",
            ReportKind::Unsubscribed => "unsubscribed",
        }
    }
}

/// One vendor report about one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VendorReport {
    /// What happened.
    pub kind: ReportKind,
    /// The message's idempotency key, if the vendor echoes it.
    pub idempotency_key: Option<String>,
    /// The vendor's message id, if reported.
    pub vendor_message_id: Option<String>,
    /// When it happened (0 for "when received").
    pub timestamp: i64,
    /// Details, a JSON object.
    pub properties: String,
}
