//! From the store's view of a customer to the contract's `subject`: only the attributes and
//! events the plugin declared it needs, so plugins see no more than they asked for.

use crate::plugin::PluginRecord;
use crate::profile::{Event, Profile};
use crate::runtime::contract::{self, Attribute, Subject, Value};

/// Builds the subject a plugin sees for `profile`.
pub(crate) fn subject(
    plugin: &PluginRecord,
    profile: &Profile,
    events: &[Event],
    trigger: Option<&Event>,
    now: i64,
) -> Subject {
    let all_attributes = plugin.attributes.iter().any(|a| a == "*");
    let attributes = profile
        .attributes
        .iter()
        .filter(|(name, _)| all_attributes || plugin.attributes.iter().any(|a| a == *name))
        .map(|(name, value)| Attribute { name: name.clone(), value: value_of(value) })
        .collect();
    let all_events = plugin.events.iter().any(|e| e == "*");
    let since = plugin.event_window_ms.map(|w| now.saturating_sub(i64::try_from(w).unwrap_or(i64::MAX)));
    let events = events
        .iter()
        .filter(|e| all_events || plugin.events.iter().any(|n| *n == e.name))
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
