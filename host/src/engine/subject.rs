//! From the store's view of a customer to the contract's `subject`: only the attributes and
//! events the plugin declared it needs, so plugins see no more than they asked for.

use crate::contract::{self, Attribute, Subject, Value};
use crate::plugin::PluginRecord;
use crate::profile::{Event, Profile};

/// What one plugin reads for one binding: the needs it declared in `info`, narrowed by its
/// answer to `needs-for-config` for the binding's config (contract 0.2.0). An answer narrows,
/// never widens: a plugin cannot get by config what its `info` did not declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reads {
    /// Attribute names (`*` for all).
    pub attributes: Vec<String>,
    /// Event names (`*` for all); empty for none.
    pub events: Vec<String>,
    /// How far back events are read, in milliseconds; none for the whole history.
    pub window_ms: Option<u64>,
    /// Names that computed-trait bindings write: a source attribute of such a name is never
    /// shown, so a client that sends `lead_score` cannot stand in for the computed one.
    pub computed_only: Vec<String>,
}

impl Reads {
    /// What the plugin declared in `info`.
    pub(crate) fn declared(plugin: &PluginRecord) -> Reads {
        Reads {
            attributes: plugin.attributes.clone(),
            events: plugin.events.clone(),
            window_ms: plugin.event_window_ms,
            computed_only: Vec::new(),
        }
    }

    /// Reads of nothing: a campaign whose saved segment decides, with no rule to feed.
    pub(crate) fn nothing(computed_only: Vec<String>) -> Reads {
        Reads { attributes: Vec::new(), events: Vec::new(), window_ms: None, computed_only }
    }

    /// These reads narrowed to what `asked` names (a `needs-for-config` answer).
    pub(crate) fn narrowed(self, asked: &contract::Needs) -> Reads {
        fn within(declared: &[String], asked: &[String]) -> Vec<String> {
            if asked.iter().any(|a| a == "*") {
                declared.to_vec()
            } else if declared.iter().any(|d| d == "*") {
                asked.to_vec()
            } else {
                asked.iter().filter(|a| declared.contains(a)).cloned().collect()
            }
        }
        let window_ms = match (self.window_ms, asked.event_window) {
            (Some(declared), Some(asked)) => Some(declared.min(asked)),
            (declared, None) => declared,
            (None, asked) => asked,
        };
        Reads {
            attributes: within(&self.attributes, &asked.attributes),
            events: within(&self.events, &asked.events),
            window_ms,
            computed_only: self.computed_only,
        }
    }
}

/// Attributes Baton answers itself, from the profile's consent and suppression records, for
/// conditions such as "consented to email marketing" (`consent.email.marketing` is `granted`) or
/// "not suppressed for SMS" (`suppressions.sms` does not exist). A trait a source sends under
/// one of these names is never shown: a client cannot claim a consent it was not given.
pub(crate) const BATON_ATTRIBUTES: [&str; 2] = ["consent", "suppressions"];

/// The profile's consent decisions as `{"email": {"marketing": "granted"}}`.
fn consent_of(profile: &Profile) -> serde_json::Value {
    let mut channels = serde_json::Map::new();
    for (key, consent) in &profile.consents {
        let Some((channel, purpose)) = key.split_once(':') else { continue };
        let state = serde_json::to_value(consent.state).unwrap_or_default();
        if let serde_json::Value::Object(purposes) = channels
            .entry(channel.to_owned())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()))
        {
            purposes.insert(purpose.to_owned(), state);
        }
    }
    serde_json::Value::Object(channels)
}

/// Builds the subject a plugin sees for `profile`.
pub(crate) fn subject(
    reads: &Reads,
    profile: &Profile,
    events: &[Event],
    trigger: Option<&Event>,
    now: i64,
) -> Subject {
    let all_attributes = reads.attributes.iter().any(|a| a == "*");
    let wanted = |name: &str| all_attributes || reads.attributes.iter().any(|a| a == name);
    // Computed traits first, then the source attributes they do not shadow. Neither may take a
    // name Baton answers itself.
    let mut attributes: Vec<Attribute> = profile
        .computed
        .iter()
        .chain(profile.attributes.iter().filter(|(name, _)| {
            !profile.computed.contains_key(*name) && !reads.computed_only.iter().any(|c| c == *name)
        }))
        .filter(|(name, _)| !BATON_ATTRIBUTES.contains(&name.as_str()) && wanted(name))
        .map(|(name, value)| Attribute { name: name.clone(), value: value_of(value) })
        .collect();
    if wanted("consent") {
        attributes
            .push(Attribute { name: "consent".into(), value: Value::Json(consent_of(profile).to_string()) });
    }
    if wanted("suppressions") {
        let suppressions = serde_json::to_value(&profile.suppressions).unwrap_or_default();
        attributes
            .push(Attribute { name: "suppressions".into(), value: Value::Json(suppressions.to_string()) });
    }
    let all_events = reads.events.iter().any(|e| e == "*");
    let since = reads.window_ms.map(|w| now.saturating_sub(i64::try_from(w).unwrap_or(i64::MAX)));
    let events = events
        .iter()
        .filter(|e| all_events || reads.events.iter().any(|n| *n == e.name))
        .filter(|e| since.is_none_or(|since| e.timestamp >= since))
        .map(event)
        .collect();
    Subject {
        profile_id: profile.id.to_string(),
        attributes,
        events,
        timezone: profile.timezone.clone(),
        trigger: trigger.map(event),
    }
}

/// The contract's view of a stored event.
pub(crate) fn event(e: &Event) -> contract::Event {
    contract::Event {
        id: e.id.clone(),
        profile_id: e.profile.to_string(),
        name: e.name.clone(),
        timestamp: e.timestamp,
        properties: serde_json::Value::Object(e.properties.clone()).to_string(),
        campaign_id: e.campaign.clone(),
    }
}

/// JSON attribute values as typed contract values; lists and objects travel as JSON text.
pub(crate) fn value_of(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Text(s.clone()),
        other => Value::Json(other.to_string()),
    }
}
