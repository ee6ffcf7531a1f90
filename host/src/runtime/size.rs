//! How many bytes a value carries across the plugin boundary, for the input and output caps.
//! Counts payload bytes (strings, lists), not the canonical ABI's exact layout: close enough for
//! caps measured in megabytes, and cheap.

use crate::contract::{
    Attribute, DeliveryOutcome, Event, HttpRequest, HttpResponse, InboundRequest, Invocation, Membership,
    Message, Metric, Needs, SignatureKey, SignedPart, Subject, Value, VendorReport, Verification,
};

pub(crate) trait WireSize {
    fn wire_size(&self) -> u64;
}

impl WireSize for String {
    fn wire_size(&self) -> u64 {
        self.len() as u64
    }
}

impl<T: WireSize> WireSize for [T] {
    fn wire_size(&self) -> u64 {
        self.iter().map(WireSize::wire_size).sum::<u64>() + 8
    }
}

impl<T: WireSize> WireSize for Vec<T> {
    fn wire_size(&self) -> u64 {
        self.as_slice().wire_size()
    }
}

impl<T: WireSize> WireSize for Option<T> {
    fn wire_size(&self) -> u64 {
        1 + self.as_ref().map_or(0, WireSize::wire_size)
    }
}

impl<A: WireSize, B: WireSize> WireSize for (A, B) {
    fn wire_size(&self) -> u64 {
        self.0.wire_size() + self.1.wire_size()
    }
}

impl WireSize for u8 {
    fn wire_size(&self) -> u64 {
        1
    }
}

impl WireSize for Value {
    fn wire_size(&self) -> u64 {
        match self {
            Value::Text(s) | Value::Json(s) => 8 + s.len() as u64,
            _ => 9,
        }
    }
}

impl WireSize for Attribute {
    fn wire_size(&self) -> u64 {
        self.name.wire_size() + self.value.wire_size()
    }
}

impl WireSize for Invocation {
    fn wire_size(&self) -> u64 {
        self.campaign_id.wire_size() + self.config.wire_size() + 16
    }
}

impl WireSize for Event {
    fn wire_size(&self) -> u64 {
        self.id.wire_size()
            + self.profile_id.wire_size()
            + self.name.wire_size()
            + 8
            + self.properties.wire_size()
            + self.campaign_id.wire_size()
    }
}

impl WireSize for Subject {
    fn wire_size(&self) -> u64 {
        self.profile_id.wire_size()
            + self.attributes.wire_size()
            + self.events.wire_size()
            + self.timezone.wire_size()
            + self.trigger.wire_size()
    }
}

impl WireSize for Message {
    fn wire_size(&self) -> u64 {
        self.channel.wire_size()
            + self.recipient.wire_size()
            + self.subject.wire_size()
            + self.body.wire_size()
            + self.html.wire_size()
            + self.variant_id.wire_size()
            + self.data.wire_size()
            + self.idempotency_key.wire_size()
    }
}

impl WireSize for Membership {
    fn wire_size(&self) -> u64 {
        // A flag, an optional f64 and an optional s64.
        19
    }
}

impl WireSize for HttpRequest {
    fn wire_size(&self) -> u64 {
        self.method.wire_size() + self.url.wire_size() + self.headers.wire_size() + self.body.len() as u64
    }
}

impl WireSize for HttpResponse {
    fn wire_size(&self) -> u64 {
        2 + self.headers.wire_size() + self.body.len() as u64
    }
}

impl WireSize for DeliveryOutcome {
    fn wire_size(&self) -> u64 {
        match self {
            DeliveryOutcome::Delivered(id) => id.as_ref().map_or(1, |s| 1 + s.len() as u64),
            DeliveryOutcome::Rejected(reason) => 1 + reason.len() as u64,
            _ => 9,
        }
    }
}

impl WireSize for Metric {
    fn wire_size(&self) -> u64 {
        self.name.wire_size()
            + 8
            + self.unit.wire_size()
            + 18
            + self.denominator_name.wire_size()
            + self.dimensions.wire_size()
    }
}

impl<A: WireSize, B: WireSize> WireSize for Result<A, B> {
    fn wire_size(&self) -> u64 {
        1 + match self {
            Ok(a) => a.wire_size(),
            Err(b) => b.wire_size(),
        }
    }
}

impl WireSize for () {
    fn wire_size(&self) -> u64 {
        0
    }
}

impl WireSize for crate::contract::PluginError {
    fn wire_size(&self) -> u64 {
        self.code.wire_size() + self.message.wire_size()
    }
}

impl WireSize for crate::contract::ConfigError {
    fn wire_size(&self) -> u64 {
        self.path.wire_size() + self.message.wire_size()
    }
}

impl WireSize for crate::contract::PluginInfo {
    fn wire_size(&self) -> u64 {
        self.name.wire_size()
            + self.version.wire_size()
            + self.description.wire_size()
            + self.config_schema.wire_size()
            + self.needs.attributes.wire_size()
            + self.needs.events.wire_size()
            + self.needs.allowed_hosts.wire_size()
            + self.needs.secrets.wire_size()
    }
}

impl WireSize for ResourceHandle {
    fn wire_size(&self) -> u64 {
        4
    }
}

/// Resource handles cost a handle index at the boundary.
pub(crate) type ResourceHandle = wasmtime::component::ResourceAny;

impl WireSize for Needs {
    fn wire_size(&self) -> u64 {
        self.attributes.wire_size()
            + self.events.wire_size()
            + 9
            + self.allowed_hosts.wire_size()
            + self.secrets.wire_size()
    }
}

impl WireSize for Verification {
    fn wire_size(&self) -> u64 {
        let key = match &self.key {
            SignatureKey::HmacSha1(k)
            | SignatureKey::HmacSha256(k)
            | SignatureKey::EcdsaP256Sha256(k)
            | SignatureKey::Ed25519(k) => k.wire_size(),
        };
        let signed: u64 = self
            .signed
            .iter()
            .map(|part| match part {
                SignedPart::Text(t) | SignedPart::Header(t) => 1 + t.wire_size(),
                _ => 1,
            })
            .sum();
        key + signed
            + self.header.wire_size()
            + self.prefix.wire_size()
            + 1
            + self.timestamp_header.wire_size()
    }
}

impl WireSize for InboundRequest {
    fn wire_size(&self) -> u64 {
        self.method.wire_size() + self.url.wire_size() + self.headers.wire_size() + self.body.len() as u64
    }
}

impl WireSize for VendorReport {
    fn wire_size(&self) -> u64 {
        1 + self.idempotency_key.wire_size()
            + self.vendor_message_id.wire_size()
            + 8
            + self.properties.wire_size()
    }
}
