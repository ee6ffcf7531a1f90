//! Campaigns and their plugin bindings: plain serde data, validated when loaded
//! (`deny_unknown_fields`, [`Campaign::problems`]), shared by the store, the engine and the API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plugin::ContentHash;

/// Where a campaign is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    /// Being prepared; sends nothing.
    Draft,
    /// Live: reacts to triggers, may send.
    Active,
    /// Temporarily stopped; keeps its bindings and membership.
    Paused,
    /// Finished for good.
    Ended,
}

impl CampaignState {
    /// Its name, as the API writes it (`draft`, `active`, `paused`, `ended`).
    pub fn name(self) -> &'static str {
        match self {
            CampaignState::Draft => "draft",
            CampaignState::Active => "active",
            CampaignState::Paused => "paused",
            CampaignState::Ended => "ended",
        }
    }

    /// Whether the lifecycle allows going from `self` to `to`.
    pub fn can_become(self, to: CampaignState) -> bool {
        use CampaignState::*;
        matches!(
            (self, to),
            (Draft, Active) | (Active, Paused) | (Paused, Active) | (Draft | Active | Paused, Ended)
        )
    }
}

/// What starts a send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// Reacts to each ingested event with this name whose properties match the filter.
    Event {
        /// The event name, for example `signed_up`.
        #[schemars(pattern(r"\S"))]
        event: String,
        /// Property values the event must have (all of them), for example `{"plan": "pro"}`.
        #[serde(default)]
        filter: BTreeMap<String, serde_json::Value>,
    },
    /// Sends to the whole audience when run (on request or on schedule).
    Batch {
        /// Run every this many milliseconds, if set; otherwise only on request.
        #[serde(default)]
        #[schemars(range(min = 1))]
        every_ms: Option<u64>,
    },
    /// Sent only by journeys' message steps, to one profile at a time: the journey decides who
    /// and when, the campaign what (its template, bindings, policies and experiment).
    Journey {},
}

/// The campaign's message before personalization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageTemplate {
    /// Subject line, where the channel has one.
    #[serde(default)]
    pub subject: Option<String>,
    /// Body text (empty when `content` names a stored template).
    #[serde(default)]
    pub body: String,
    /// HTML body, where the channel has one.
    #[serde(default)]
    pub html: Option<String>,
    /// Further structured content (a JSON object).
    #[serde(default = "empty_object")]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub data: serde_json::Value,
    /// A stored message template (`/v1/content`, kind `template`) to send instead of the parts
    /// above: its live version when sending, its newest in previews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[a-z0-9_-]{1,64}$"))]
    pub content: Option<String>,
    /// Variants by locale (`fr`, `pt-BR`): the reader's locale picks one (the exact tag, else
    /// its language), each part given replacing the default's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": crate::content::LOCALE_PATTERN }))]
    pub locales: BTreeMap<String, LocalizedMessage>,
}

/// A message's parts in one locale; a part left out is the default message's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalizedMessage {
    /// Subject line.
    #[serde(default)]
    pub subject: Option<String>,
    /// Body text.
    #[serde(default)]
    pub body: Option<String>,
    /// HTML body.
    #[serde(default)]
    pub html: Option<String>,
}

impl LocalizedMessage {
    /// The parts given, with their names.
    pub fn parts(&self) -> Vec<(&'static str, &str)> {
        [("subject", &self.subject), ("body", &self.body), ("html", &self.html)]
            .into_iter()
            .filter_map(|(name, part)| part.as_deref().map(|p| (name, p)))
            .collect()
    }
}

impl MessageTemplate {
    /// What keeps this message from being sent as it stands (checked on activation): it names
    /// a stored template and gives parts of its own as well.
    pub fn mixes_content_and_parts(&self) -> bool {
        self.content.is_some()
            && (!self.body.is_empty()
                || self.subject.is_some()
                || self.html.is_some()
                || !self.locales.is_empty())
    }

    /// This message in a locale: the variant `locale` names laid over the default parts.
    pub fn localized(&self, locale: Option<&String>) -> MessageTemplate {
        let mut message = MessageTemplate { locales: BTreeMap::new(), ..self.clone() };
        if let Some(variant) = locale.and_then(|l| self.locales.get(l)) {
            if let Some(subject) = &variant.subject {
                message.subject = Some(subject.clone());
            }
            if let Some(body) = &variant.body {
                message.body = body.clone();
            }
            if let Some(html) = &variant.html {
                message.html = Some(html.clone());
            }
        }
        message
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// An experiment: variants and an optional control group, assigned deterministically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Variants and their relative weights; each may override the message.
    #[schemars(length(min = 1))]
    pub variants: Vec<Variant>,
    /// Percentage (0–100) of eligible profiles held out as a control group.
    #[serde(default)]
    #[schemars(range(max = 100))]
    pub control_percent: u8,
    /// Declare a winner early, when a sequential test says so: results then carry the test's
    /// always-valid p-value. None: read the fixed-sample test once, at the end.
    #[serde(default)]
    pub early_stopping: Option<EarlyStopping>,
}

/// Early stopping by the mixture sequential probability ratio test (see `baton::stats`): its
/// p-value may be read after every computation without inflating the false-positive rate, as
/// repeatedly reading a fixed-sample test would.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    /// The false-positive rate to hold, for example 0.05.
    #[serde(default = "five_percent")]
    #[schemars(range(min = 0.001, max = 0.2))]
    pub alpha: f64,
    /// The size of difference in conversion rate expected (the mixture's standard deviation),
    /// as a rate: 0.01 is one percentage point. The test is most sensitive near it.
    #[serde(default = "one_point")]
    #[schemars(range(min = 0.0001, max = 1.0))]
    pub tau: f64,
}

fn five_percent() -> f64 {
    0.05
}

fn one_point() -> f64 {
    0.01
}

/// How a campaign's success is measured, as Braze and Iterable define it: named events a
/// recipient performs within a window after the message. The events are the profile's own (an
/// order from the shop, a Segment `Order Completed`); nothing needs to carry the campaign's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "events": [{ "name": "Order Completed", "value": "revenue" }],
    "window_ms": 259_200_000
}))]
pub struct Conversion {
    /// The events that count; any one of them converts the recipient.
    #[schemars(length(min = 1))]
    pub events: Vec<ConversionEvent>,
    /// How long after each message (or a held-out profile's assignment) an event still counts,
    /// in ms. Braze's default is three days.
    #[serde(default = "three_days")]
    #[schemars(range(min = 1))]
    pub window_ms: i64,
}

/// The default conversion window: three days, as Braze's.
pub const DEFAULT_CONVERSION_WINDOW_MS: i64 = 3 * 86_400_000;

fn three_days() -> i64 {
    DEFAULT_CONVERSION_WINDOW_MS
}

/// One kind of event that counts as a conversion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversionEvent {
    /// The event name, exactly as sources send it, for example `Order Completed`.
    #[schemars(pattern(r"\S"))]
    pub name: String,
    /// Property values the event must have, all of them, for example `{"currency": "EUR"}`.
    /// Numbers and numeric text compare as numbers (`"12.50"` equals `12.5`).
    #[serde(default, rename = "where")]
    pub filter: BTreeMap<String, serde_json::Value>,
    /// The property holding the conversion's value (revenue), for example `revenue`; a number or
    /// numeric text. None: conversions of this kind count, but add no revenue.
    #[serde(default)]
    #[schemars(pattern(r"\S"))]
    pub value: Option<String>,
}

impl ConversionEvent {
    /// Whether `name` and `properties` are a conversion of this kind.
    pub fn matches(&self, name: &str, properties: &serde_json::Map<String, serde_json::Value>) -> bool {
        name == self.name
            && self
                .filter
                .iter()
                .all(|(key, want)| properties.get(key).is_some_and(|have| same_value(have, want)))
    }

    /// The conversion's value from its properties: 0 when the property is missing or not a number.
    pub fn value_of(&self, properties: &serde_json::Map<String, serde_json::Value>) -> f64 {
        self.value.as_ref().and_then(|key| properties.get(key)).and_then(number).unwrap_or(0.0)
    }
}

/// Equal as JSON, or both numbers (or numeric text) of equal value.
pub(crate) fn same_value(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    a == b || matches!((number(a), number(b)), (Some(x), Some(y)) if x == y)
}

/// A number, or text that reads as a finite number.
fn number(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
        _ => None,
    }
}

/// One experiment variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Its id, for example `A`; neither `control` nor `all` (the names of the other groups in
    /// the results). Give each variant its own: variants that share an id are one group in the
    /// results.
    #[schemars(pattern(r"\S"))]
    #[schemars(extend("not" = { "enum": ["control", "all"] }))]
    pub id: String,
    /// Relative weight (> 0).
    #[schemars(range(min = 1))]
    pub weight: u32,
    /// A message replacing the campaign's, if set.
    #[serde(default)]
    pub message: Option<MessageTemplate>,
}

/// A campaign definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "id": "welcome", "name": "Welcome series", "state": "draft",
    "trigger": { "type": "event", "event": "signed_up", "filter": {} },
    "channel": "email", "purpose": "marketing", "priority": 10,
    "message": { "subject": "Welcome, {{ profile.first_name }}", "body": "Glad you are here." },
    "created_at": 0, "updated_at": 0
}))]
pub struct Campaign {
    /// Id: 1–64 lowercase letters, digits, `-` and `_`.
    #[schemars(pattern(r"^[a-z0-9_-]{1,64}$"))]
    pub id: String,
    /// A name for people.
    #[schemars(pattern(r"\S"))]
    pub name: String,
    /// Lifecycle state.
    pub state: CampaignState,
    /// Triggered by events, or sent in batches.
    pub trigger: Trigger,
    /// The channel it sends on (`email`, `sms`, `push`, `webhook`).
    #[schemars(pattern(r"\S"))]
    pub channel: String,
    /// The consent purpose it needs (`marketing` unless transactional).
    #[serde(default = "marketing")]
    pub purpose: String,
    /// Transactional messages (receipts, password resets) are exempt from marketing caps and
    /// quiet hours, never from consent to the channel.
    #[serde(default)]
    pub transactional: bool,
    /// Higher wins when several campaigns compete for one profile in one window.
    #[serde(default)]
    pub priority: i32,
    /// The message template.
    pub message: MessageTemplate,
    /// An optional experiment.
    #[serde(default)]
    pub experiment: Option<Experiment>,
    /// What counts as a conversion, read from each recipient's own events after the message
    /// (and each held-out profile's after its assignment). None: the campaign's results report
    /// sends only.
    #[serde(default)]
    pub conversion: Option<Conversion>,
    /// A saved segment whose members are the campaign's audience, read from stored membership:
    /// a batch run or a preview judges its members only (no scan of every profile), and a
    /// triggered send goes only to a member. A segment rule bound to the campaign then judges
    /// within it; without one, every member is in.
    #[serde(default)]
    #[schemars(pattern(r"^[a-z0-9_-]{1,64}$"))]
    pub audience: Option<String>,
    /// At most this many of its messages leave per minute (Braze lets a campaign send at 10 to
    /// 500,000 a minute); none: as fast as its vendors allow.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub rate_limit_per_minute: Option<u32>,
    /// When it was created, ms since the epoch.
    pub created_at: i64,
    /// When it last changed, ms since the epoch.
    pub updated_at: i64,
}

fn marketing() -> String {
    "marketing".into()
}

impl Campaign {
    /// What is wrong with the definition, each with the field at fault; empty when valid.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !valid_id(&self.id) {
            problems.push(format!("id `{}`: use 1 to 64 lowercase letters, digits, `-` and `_`", self.id));
        }
        if self.name.trim().is_empty() {
            problems.push("name: must not be empty".into());
        }
        if self.channel.trim().is_empty() {
            problems.push("channel: must not be empty".into());
        }
        // A variant's `data`, like the campaign's (below), is an object: templates and adapters
        // read it by key.
        let variants = self.experiment.iter().flat_map(|e| e.variants.iter());
        for (i, variant) in variants.enumerate() {
            if variant.message.as_ref().is_some_and(|m| !m.data.is_object()) {
                problems.push(format!("experiment.variants[{i}].message.data: must be a JSON object"));
            }
        }
        if let Trigger::Event { event, .. } = &self.trigger {
            if event.trim().is_empty() {
                problems.push("trigger.event: must name the triggering event".into());
            }
        }
        if let Trigger::Batch { every_ms: Some(0) } = &self.trigger {
            problems.push("trigger.every_ms: must be more than 0".into());
        }
        if !self.message.data.is_object() {
            problems.push("message.data: must be a JSON object".into());
        }
        let messages = std::iter::once(("message".to_string(), &self.message)).chain(
            self.experiment.iter().flat_map(|e| e.variants.iter().enumerate()).filter_map(|(i, v)| {
                v.message.as_ref().map(|m| (format!("experiment.variants[{i}].message"), m))
            }),
        );
        for (field, message) in messages {
            for locale in message.locales.keys() {
                if !crate::content::valid_locale(locale) {
                    problems.push(format!(
                        "{field}.locales.{locale}: write a locale as a language, optionally with a region (`fr`, `pt-BR`)"
                    ));
                }
            }
        }
        if let Some(audience) = &self.audience
            && !valid_id(audience)
        {
            problems.push(format!("audience `{audience}`: name a saved segment (`GET /v1/segments`)"));
        }
        if self.rate_limit_per_minute == Some(0) {
            problems.push("rate_limit_per_minute: at least 1 (leave it out for no limit)".into());
        }
        if let Some(experiment) = &self.experiment {
            if experiment.variants.is_empty() {
                problems.push("experiment.variants: needs at least one variant".into());
            }
            if experiment.control_percent > 100 {
                problems.push("experiment.control_percent: must be 0 to 100".into());
            }
            if let Some(stopping) = experiment.early_stopping {
                if !(0.001..=0.2).contains(&stopping.alpha) {
                    problems.push(
                        "experiment.early_stopping.alpha: a false-positive rate from 0.001 to 0.2".into(),
                    );
                }
                if !(0.0001..=1.0).contains(&stopping.tau) {
                    problems.push(
                        "experiment.early_stopping.tau: an expected difference in rate from 0.0001 to 1"
                            .into(),
                    );
                }
            }
            for (i, variant) in experiment.variants.iter().enumerate() {
                if ["control", "all"].contains(&variant.id.as_str()) {
                    problems.push(format!(
                        "experiment.variants[{i}].id: `{}` names a group in the results; choose another id",
                        variant.id
                    ));
                }
                if variant.weight == 0 {
                    problems.push(format!("experiment.variants[{i}].weight: must be more than 0"));
                }
                if variant.id.trim().is_empty() {
                    problems.push(format!("experiment.variants[{i}].id: must not be empty"));
                }
            }
        }
        if let Some(conversion) = &self.conversion {
            if conversion.events.is_empty() {
                problems
                    .push("conversion.events: name at least one event that counts as a conversion".into());
            }
            if conversion.window_ms <= 0 {
                problems.push("conversion.window_ms: must be more than 0".into());
            }
            for (i, event) in conversion.events.iter().enumerate() {
                if event.name.trim().is_empty() {
                    problems.push(format!("conversion.events[{i}].name: must name an event"));
                }
                if event.value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                    problems.push(format!("conversion.events[{i}].value: name a property, or leave it out"));
                }
            }
        }
        problems
    }
}

/// Whether `id` is a valid campaign, journey or segment id: 1 to 64 lowercase letters, digits,
/// `-` and `_` (safe in paths, URLs and headers as written).
pub(crate) fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A plugin position in a campaign.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    /// The audience rule.
    Segment,
    /// The message renderer: the first personalizer of the chain.
    Personalizer,
    /// A further personalizer, by name. The chain runs `personalizer` first, then these in
    /// name order, each receiving the message the one before returned, so a Liquid renderer and
    /// a next-best-offer can both apply to one message (`personalizer:10-offers`).
    ChainedPersonalizer(String),
    /// The vendor adapter.
    Channel,
    /// A KPI calculator; a campaign may have several, by name.
    Kpi(String),
}

impl Slot {
    /// The slot as text: `segment`, `personalizer`, `personalizer:<name>`, `channel` or
    /// `kpi:<name>`.
    pub fn key(&self) -> String {
        match self {
            Slot::Segment => "segment".into(),
            Slot::Personalizer => "personalizer".into(),
            Slot::ChainedPersonalizer(name) => format!("personalizer:{name}"),
            Slot::Channel => "channel".into(),
            Slot::Kpi(name) => format!("kpi:{name}"),
        }
    }
}

impl std::str::FromStr for Slot {
    type Err = String;

    /// Reads [`Slot::key`]'s text back; the error says which texts exist.
    fn from_str(text: &str) -> Result<Slot, String> {
        Ok(match text {
            "segment" => Slot::Segment,
            "personalizer" => Slot::Personalizer,
            "channel" => Slot::Channel,
            other => match other.split_once(':') {
                Some(("kpi", name)) if !name.is_empty() => Slot::Kpi(name.to_owned()),
                Some(("personalizer", name)) if !name.is_empty() => {
                    Slot::ChainedPersonalizer(name.to_owned())
                }
                _ => {
                    return Err(format!(
                        "slot `{other}`: use segment, personalizer, personalizer:<name>, channel or kpi:<name>"
                    ));
                }
            },
        })
    }
}

/// What a binding lets its plugin do beyond computing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Hosts the channel adapter may send to (exact host names).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Secrets the channel adapter may reference by name.
    #[serde(default)]
    pub secrets: Vec<String>,
}

/// A plugin bound to a campaign slot, pinned by content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// The campaign.
    pub campaign: String,
    /// The slot.
    pub slot: Slot,
    /// The pinned plugin.
    pub plugin: ContentHash,
    /// The binding config, accepted by the plugin's `validate-config`.
    pub config: serde_json::Value,
    /// Hosts and secrets granted.
    #[serde(default)]
    pub grants: Grants,
    /// When it was bound, ms since the epoch.
    pub bound_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_allows_only_its_transitions() {
        use CampaignState::*;
        assert!(Draft.can_become(Active));
        assert!(Active.can_become(Paused));
        assert!(Paused.can_become(Active));
        assert!(Active.can_become(Ended));
        assert!(!Ended.can_become(Active));
        assert!(!Draft.can_become(Paused));
        assert!(!Active.can_become(Draft));
    }
}
