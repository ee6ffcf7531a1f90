//! The host's contract types as the SDK sees them inside a guest: benchmarks run the same plugin
//! code natively over the same data, for the Wasm-to-native ratio.

use baton::contract::{Event, Message, Subject, Value};

/// An event as a guest receives it.
pub fn event(e: &Event) -> baton_sdk::Event {
    baton_sdk::Event {
        id: e.id.clone(),
        profile_id: e.profile_id.clone(),
        name: e.name.clone(),
        timestamp: e.timestamp,
        properties: e.properties.clone(),
        campaign_id: e.campaign_id.clone(),
    }
}

/// A subject as a guest receives it.
pub fn subject(s: &Subject) -> baton_sdk::Subject {
    let value = |v: &Value| match v {
        Value::Null => baton_sdk::Value::Null,
        Value::Boolean(b) => baton_sdk::Value::Boolean(*b),
        Value::Integer(i) => baton_sdk::Value::Integer(*i),
        Value::Float(f) => baton_sdk::Value::Float(*f),
        Value::Text(t) => baton_sdk::Value::Text(t.clone()),
        Value::Timestamp(t) => baton_sdk::Value::Timestamp(*t),
        Value::Json(j) => baton_sdk::Value::Json(j.clone()),
    };
    baton_sdk::Subject {
        profile_id: s.profile_id.clone(),
        attributes: s
            .attributes
            .iter()
            .map(|a| baton_sdk::Attribute { name: a.name.clone(), value: value(&a.value) })
            .collect(),
        events: s.events.iter().map(event).collect(),
        timezone: s.timezone.clone(),
        trigger: s.trigger.as_ref().map(event),
    }
}

/// A message as a guest receives it.
pub fn message(m: &Message) -> baton_sdk::Message {
    baton_sdk::Message {
        channel: m.channel.clone(),
        recipient: m.recipient.clone(),
        subject: m.subject.clone(),
        body: m.body.clone(),
        html: m.html.clone(),
        variant_id: m.variant_id.clone(),
        data: m.data.clone(),
        idempotency_key: m.idempotency_key.clone(),
    }
}
