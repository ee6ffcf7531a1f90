//! Vendor feedback: deliveries, bounces, complaints, opens, clicks and unsubscribes reported by a
//! vendor's webhooks become events on the profile each message went to, attributed to its
//! campaign.
//!
//! An admin makes an endpoint per vendor account: a channel adapter (contract 0.2.0), its config
//! and the secrets its signature check may use. The adapter's `verification(config)` is asked
//! then, once, and stored. A request to `POST /v1/feedback/{name}` is checked against it by the
//! host (`signature.rs`) before any plugin runs; only a verified request reaches the adapter's
//! `feedback`, whose reports are matched to sends by idempotency key or vendor message id.
//! Reports about unknown messages are counted and dropped: a vendor cannot create profiles.
//!
//! May depend on: the store, the runtime, `signature`.

use serde::Serialize;

use super::pipeline::hash64;
use super::signature::{Signed, verify};
use super::{Engine, EngineError};
use crate::contract::{InboundRequest, Invocation, ReportKind, VendorReport};
use crate::plugin::{ContentHash, PluginKind};
use crate::profile::Event;
use crate::store::FeedbackEndpoint;

/// How far a vendor's signed timestamp may be from now (either way), in milliseconds: Stripe's
/// and SendGrid's documented tolerance.
pub const FEEDBACK_TOLERANCE_MS: i64 = 300_000;

/// A webhook request as it arrived.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    /// The full URL the vendor called (public base URL, path and query).
    pub url: String,
    /// The path and query alone.
    pub path_and_query: String,
    /// The method, uppercase.
    pub method: String,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// What one webhook request did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FeedbackReport {
    /// Reports the adapter read from the request.
    pub reports: usize,
    /// Events recorded (a report the vendor sent before is recorded once).
    pub recorded: usize,
    /// Reports about no message Baton sent (or one since erased): dropped.
    pub unmatched: usize,
}

impl Engine {
    /// Every feedback endpoint, by name.
    pub fn feedback_endpoints(&self) -> Result<Vec<FeedbackEndpoint>, EngineError> {
        Ok(self.storage.feedback_endpoints()?)
    }

    /// Makes (or remakes) a feedback endpoint, audited. The adapter must be built against
    /// contract 0.2.0 or later and its `verification` must accept `config`; a secret its check
    /// names must be declared by the adapter and granted here.
    pub fn put_feedback_endpoint(
        &self,
        actor: &str,
        name: &str,
        plugin: &ContentHash,
        config: serde_json::Value,
        secrets: Vec<String>,
    ) -> Result<FeedbackEndpoint, EngineError> {
        Engine::check_name("feedback endpoint", name)?;
        // The endpoint's config is the adapter's feedback config (a verification key), not a
        // sending config: `verification` is its judge, not `validate-config`.
        let loaded = self.runtime.plugin(plugin)?;
        super::campaigns::expect_kind(&loaded, PluginKind::ChannelAdapter, "feedback")?;
        if loaded.record().contract == "0.1.0" {
            return Err(EngineError::PluginNeeds {
                plugin: loaded.label(),
                needs:
                    "was built against contract 0.1.0, which has no vendor feedback: rebuild it against 0.2.0"
                        .into(),
            });
        }
        let verification = match self.runtime.call(&loaded).verification(&config.to_string())?.value {
            Ok(verification) => verification,
            Err(refusal) => {
                return Err(EngineError::InvalidConfig {
                    plugin: loaded.label(),
                    path: refusal.path,
                    message: refusal.message,
                });
            }
        };
        for secret in &secrets {
            if !loaded.record().secrets.iter().any(|declared| declared == secret || declared == "*") {
                return Err(EngineError::UndeclaredGrant {
                    plugin: loaded.label(),
                    what: "secret",
                    name: secret.clone(),
                });
            }
        }
        if let crate::contract::SignatureKey::HmacSha1(needed)
        | crate::contract::SignatureKey::HmacSha256(needed) = &verification.key
            && !secrets.contains(needed)
        {
            return Err(EngineError::PluginNeeds {
                plugin: loaded.label(),
                needs: format!(
                    "signs with the secret `{needed}`: grant it to the endpoint (\"secrets\": [\"{needed}\"])"
                ),
            });
        }
        let endpoint = FeedbackEndpoint {
            name: name.to_owned(),
            plugin: *plugin,
            config,
            secrets,
            verification,
            created_at: self.now(),
        };
        self.storage.put_feedback_endpoint(&endpoint)?;
        self.audit(
            actor,
            "feedback_endpoint_set",
            name,
            serde_json::json!({ "plugin": plugin.to_string(), "label": loaded.label(), "secrets": endpoint.secrets }),
        )?;
        Ok(endpoint)
    }

    /// Removes a feedback endpoint, audited.
    pub fn delete_feedback_endpoint(&self, actor: &str, name: &str) -> Result<(), EngineError> {
        if !self.storage.remove_feedback_endpoint(name)? {
            return Err(EngineError::FeedbackEndpointNotFound(name.to_owned()));
        }
        self.audit(actor, "feedback_endpoint_deleted", name, serde_json::Value::Null)
    }

    /// Receives one webhook request: checks its signature (no plugin runs for a request that
    /// fails), lets the adapter read it, and records each report as an event queued for the
    /// triggered campaigns, so a bounce or an unsubscribe suppresses the channel durably.
    pub fn receive_feedback(
        &self,
        name: &str,
        request: &WebhookRequest,
    ) -> Result<FeedbackReport, EngineError> {
        let endpoint = self
            .storage
            .feedback_endpoint(name)?
            .ok_or_else(|| EngineError::FeedbackEndpointNotFound(name.to_owned()))?;
        let now = self.now();
        let secret = |wanted: &str| -> Option<Vec<u8>> {
            if !endpoint.secrets.iter().any(|granted| granted == wanted) {
                return None;
            }
            let stored = self.storage.secret(wanted).ok().flatten()?;
            Some(stored.value.expose().as_bytes().to_vec())
        };
        let signed = Signed { url: &request.url, headers: &request.headers, body: &request.body };
        verify(&endpoint.verification, &signed, &secret, now, FEEDBACK_TOLERANCE_MS)
            .map_err(|refusal| EngineError::FeedbackRefused(refusal.to_string()))?;

        let loaded = self.runtime.plugin(&endpoint.plugin)?;
        let invocation = Invocation {
            campaign_id: String::new(),
            config: endpoint.config.to_string(),
            now,
            seed: hash64(&[name, &String::from_utf8_lossy(&request.body)]),
        };
        let inbound = InboundRequest {
            method: request.method.clone(),
            url: request.path_and_query.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        let reports = self.runtime.call(&loaded).feedback(&invocation, &inbound)?.value;
        let mut outcome = FeedbackReport { reports: reports.len(), ..FeedbackReport::default() };
        let mut events = Vec::new();
        for report in &reports {
            match self.event_for(name, report, now)? {
                Some(event) => events.push(event),
                None => outcome.unmatched += 1,
            }
        }
        outcome.recorded =
            self.storage.append_events_and_queue_triggers(&events)?.iter().filter(|new| **new).count();
        tracing::info!(
            endpoint = name,
            reports = outcome.reports,
            recorded = outcome.recorded,
            unmatched = outcome.unmatched,
            "Vendor feedback received."
        );
        Ok(outcome)
    }

    /// The event a report becomes, if it names a message Baton sent.
    fn event_for(
        &self,
        endpoint: &str,
        report: &VendorReport,
        now: i64,
    ) -> Result<Option<Event>, EngineError> {
        let by_key = match &report.idempotency_key {
            Some(key) => self.storage.delivery(key)?,
            None => None,
        };
        let delivery = match (by_key, &report.vendor_message_id) {
            (Some(found), _) => found,
            (None, Some(receipt)) => match self.storage.delivery_by_receipt(receipt)? {
                Some(found) => found,
                None => return Ok(None),
            },
            (None, None) => return Ok(None),
        };
        let channel =
            self.storage.campaign(&delivery.campaign)?.map(|c| c.channel).unwrap_or_else(|| "email".into());
        let mut properties = match serde_json::from_str::<serde_json::Value>(&report.properties) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        properties.insert("channel".into(), channel.clone().into());
        properties.insert("idempotency_key".into(), delivery.idempotency_key.clone().into());
        properties.insert("feedback_endpoint".into(), endpoint.into());
        if let Some(receipt) = &report.vendor_message_id {
            properties.insert("vendor_message_id".into(), receipt.clone().into());
        }
        let timestamp = if report.timestamp > 0 { report.timestamp } else { now };
        // The same report sent twice (vendors retry webhooks) is the same event, stored once.
        let id = format!(
            "fb_{:016x}",
            hash64(&[
                &delivery.idempotency_key,
                report.kind.name(),
                &timestamp.to_string(),
                &report.properties
            ])
        );
        Ok(Some(Event {
            id,
            profile: delivery.profile,
            name: event_name(report.kind, &channel),
            timestamp,
            properties,
            campaign: Some(delivery.campaign),
        }))
    }
}

/// The event a report becomes. Bounces, complaints and unsubscribes take the names that suppress
/// a channel (`bounced`, with the channel in the properties); the rest are `<channel>_<kind>`,
/// as `kpi-funnel` counts them (`email_opened`, `email_clicked`).
fn event_name(kind: ReportKind, channel: &str) -> String {
    match kind {
        ReportKind::Bounced | ReportKind::Complained | ReportKind::Unsubscribed => kind.name().to_owned(),
        other => format!("{channel}_{}", other.name()),
    }
}
