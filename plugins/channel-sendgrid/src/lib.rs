//! `channel-sendgrid`: email through the SendGrid v3 mail send API
//! (`POST https://api.sendgrid.com/v3/mail/send`).
//!
//! Config: `from_email` (required), `from_name`, `reply_to`, `categories`, `sandbox` (SendGrid's
//! sandbox mode: validated, not delivered). The API key is the secret `SENDGRID_API_KEY`,
//! substituted by the host. The idempotency key travels in `custom_args`, so webhook events
//! can be matched back. Responses: 202 delivered (receipt: `X-Message-Id`); 429 throttled
//! (until `X-RateLimit-Reset`, epoch seconds, if given); 5xx retried; other 4xx rejected with
//! SendGrid's error messages.
//!
//! Feedback (contract 0.2.0): SendGrid's signed Event Webhook. The endpoint's config is
//! `{"verification_key": "<base64>"}`, the key SendGrid's mail settings show; SendGrid signs the
//! timestamp header followed by the body with ECDSA P-256, and the host checks it. Events become
//! reports: `delivered`, `open`, `click`, `bounce` (a `blocked` bounce is a drop), `dropped`,
//! `deferred`, `spamreport`, `unsubscribe` and `group_unsubscribe`, matched by the idempotency
//! key in the custom args, or else by `sg_message_id` (whose first part is the `X-Message-Id`).

use baton_sdk::*;
use serde::Deserialize;

/// The plugin.
pub struct SendGrid;

const URL: &str = "https://api.sendgrid.com/v3/mail/send";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    from_email: String,
    #[serde(default)]
    from_name: Option<String>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    sandbox: bool,
}

fn looks_like_email(text: &str) -> bool {
    text.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
}

impl Plugin for SendGrid {
    fn info() -> PluginInfo {
        PluginInfo::new("channel-sendgrid", env!("CARGO_PKG_VERSION"), PluginKind::ChannelAdapter, "Email through the SendGrid v3 mail send API.")
            .with_needs(Needs::none().with_hosts_and_secrets(["api.sendgrid.com"], ["SENDGRID_API_KEY"]))
            .with_config_schema(r#"{"type":"object","required":["from_email"],"properties":{"from_email":{"type":"string"},"from_name":{"type":"string"},"reply_to":{"type":"string"},"categories":{"type":"array","items":{"type":"string"}},"sandbox":{"type":"boolean"}}}"#)
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        let config: Config =
            serde_json::from_str(config).map_err(|e| ConfigError::new("", &e.to_string()))?;
        if !looks_like_email(&config.from_email) {
            return Err(ConfigError::new("/from_email", "must be an email address"));
        }
        if config.reply_to.as_deref().is_some_and(|r| !looks_like_email(r)) {
            return Err(ConfigError::new("/reply_to", "must be an email address"));
        }
        if config.categories.len() > 10 {
            return Err(ConfigError::new("/categories", "SendGrid accepts at most 10 categories"));
        }
        Ok(())
    }
}

impl ChannelAdapter for SendGrid {
    fn build(invocation: Invocation, message: Message) -> Result<Vec<HttpRequest>, PluginError> {
        let config: Config = invocation.config()?;
        if !looks_like_email(&message.recipient) {
            return Err(PluginError::new(
                "invalid_recipient",
                &format!("`{}` is not an email address", message.recipient),
            ));
        }
        let mut content = vec![serde_json::json!({"type": "text/plain", "value": message.body})];
        if let Some(html) = &message.html {
            content.push(serde_json::json!({"type": "text/html", "value": html}));
        }
        let mut categories = config.categories.clone();
        if !invocation.campaign_id.is_empty() && categories.len() < 10 {
            categories.push(invocation.campaign_id.clone());
        }
        let mut from = serde_json::json!({"email": config.from_email});
        if let Some(name) = &config.from_name {
            from["name"] = name.clone().into();
        }
        let mut body = serde_json::json!({
            "personalizations": [{"to": [{"email": message.recipient}]}],
            "from": from,
            "subject": message.subject.clone().unwrap_or_default(),
            "content": content,
            "categories": categories,
            "custom_args": {
                "idempotency_key": message.idempotency_key,
                "campaign_id": invocation.campaign_id,
                "variant": message.variant_id.clone().unwrap_or_default(),
            },
        });
        if let Some(reply_to) = &config.reply_to {
            body["reply_to"] = serde_json::json!({"email": reply_to});
        }
        if config.sandbox {
            body["mail_settings"] = serde_json::json!({"sandbox_mode": {"enable": true}});
        }
        // Baton signs an unsubscribe link for every marketing message: RFC 8058's one-click
        // headers, which Gmail and Yahoo require of bulk senders since February 2024.
        let data: serde_json::Value = serde_json::from_str(&message.data).unwrap_or_default();
        if let Some(url) = data.get("unsubscribe_url").and_then(|u| u.as_str()) {
            body["headers"] = serde_json::json!({
                "List-Unsubscribe": format!("<{url}>"),
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            });
        }
        Ok(vec![HttpRequest {
            method: "POST".into(),
            url: URL.into(),
            headers: vec![
                ("authorization".into(), "Bearer {{secret:SENDGRID_API_KEY}}".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: body.to_string().into_bytes(),
        }])
    }

    fn classify(invocation: Invocation, _: u32, response: HttpResponse) -> DeliveryOutcome {
        let header =
            |name: &str| response.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned());
        match response.status {
            200..=299 => DeliveryOutcome::Delivered(header("x-message-id")),
            429 => {
                let reset = header("x-ratelimit-reset").and_then(|s| s.parse::<i64>().ok());
                let wait = reset.map(|epoch| (epoch * 1_000 - invocation.now).max(1_000) as u64);
                DeliveryOutcome::Throttled(wait)
            }
            500..=599 => DeliveryOutcome::RetryAfter(None),
            status => {
                let messages: Vec<String> = serde_json::from_slice::<serde_json::Value>(&response.body)
                    .ok()
                    .and_then(|b| b["errors"].as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|e| e["message"].as_str().map(str::to_owned))
                    .collect();
                let detail = if messages.is_empty() { "no detail".to_owned() } else { messages.join("; ") };
                DeliveryOutcome::Rejected(format!("SendGrid answered {status}: {detail}"))
            }
        }
    }

    fn verification(config: &str) -> Result<SignatureCheck, ConfigError> {
        SendGrid::check(config)
    }

    fn feedback(_: Invocation, request: InboundRequest) -> Result<Vec<VendorReport>, PluginError> {
        SendGrid::reports(&request.body)
    }
}

/// The headers of SendGrid's signed Event Webhook.
const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";

/// The report a SendGrid event is, if it is one Baton records.
fn report_kind(event: &serde_json::Value) -> Option<ReportKind> {
    Some(match event["event"].as_str()? {
        "delivered" => ReportKind::Delivered,
        "open" => ReportKind::Opened,
        "click" => ReportKind::Clicked,
        "bounce" if event["type"].as_str() == Some("blocked") => ReportKind::Dropped,
        "bounce" => ReportKind::Bounced,
        "dropped" => ReportKind::Dropped,
        "deferred" => ReportKind::Deferred,
        "spamreport" => ReportKind::Complained,
        "unsubscribe" | "group_unsubscribe" => ReportKind::Unsubscribed,
        _ => return None,
    })
}

impl SendGrid {
    fn check(config: &str) -> Result<SignatureCheck, ConfigError> {
        let config: serde_json::Value =
            serde_json::from_str(config).map_err(|e| ConfigError::new("", &e.to_string()))?;
        let key = config["verification_key"].as_str().filter(|k| !k.trim().is_empty()).ok_or_else(|| {
            ConfigError::new(
                "/verification_key",
                "give the Event Webhook's verification key (base64) from SendGrid's mail settings",
            )
        })?;
        Ok(SignatureCheck {
            key: SignatureKey::EcdsaP256Sha256(key.trim().to_owned()),
            signed: vec![SignedPart::Header(TIMESTAMP_HEADER.into()), SignedPart::Body],
            header: SIGNATURE_HEADER.into(),
            prefix: String::new(),
            encoding: SignatureEncoding::Base64,
            timestamp_header: Some(TIMESTAMP_HEADER.into()),
        })
    }

    fn reports(body: &[u8]) -> Result<Vec<VendorReport>, PluginError> {
        let events: Vec<serde_json::Value> = serde_json::from_slice(body)
            .map_err(|e| PluginError::new("invalid_payload", &format!("not a JSON array of events: {e}")))?;
        Ok(events
            .iter()
            .filter_map(|event| {
                let kind = report_kind(event)?;
                let text = |key: &str| event[key].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
                let mut details = serde_json::Map::new();
                for key in ["reason", "response", "url", "useragent", "ip", "status", "sg_event_id", "type"] {
                    if let Some(value) = event.get(key).filter(|v| !v.is_null()) {
                        details.insert(key.into(), value.clone());
                    }
                }
                Some(VendorReport {
                    kind,
                    idempotency_key: text("idempotency_key"),
                    vendor_message_id: text("sg_message_id")
                        .map(|id| id.split('.').next().unwrap_or_default().to_owned()),
                    timestamp: event["timestamp"].as_i64().map_or(0, |s| s.saturating_mul(1_000)),
                    properties: serde_json::Value::Object(details).to_string(),
                })
            })
            .collect())
    }
}

baton_sdk::channel_adapter!(SendGrid);

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(config: serde_json::Value) -> Invocation {
        Invocation {
            campaign_id: "welcome".into(),
            config: config.to_string(),
            now: 1_750_000_000_000,
            seed: 0,
        }
    }

    fn message() -> Message {
        Message {
            channel: "email".into(),
            recipient: "ada@example.com".into(),
            subject: Some("Welcome".into()),
            body: "Hello Ada".into(),
            html: Some("<p>Hello Ada</p>".into()),
            variant_id: Some("B".into()),
            data: "{}".into(),
            idempotency_key: "welcome:pr_1:e1".into(),
        }
    }

    #[test]
    fn a_marketing_message_carries_one_click_unsubscribe_headers() {
        let config = serde_json::json!({"from_email": "news@shop.example"});
        let mut marketing = message();
        marketing.data = r#"{"unsubscribe_url":"https://baton.example/u/abc.def"}"#.into();
        let request = &SendGrid::build(invocation(config.clone()), marketing).unwrap()[0];
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body["headers"],
            serde_json::json!({
                "List-Unsubscribe": "<https://baton.example/u/abc.def>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"
            })
        );
        // A transactional message (no link) has none.
        let request = &SendGrid::build(invocation(config), message()).unwrap()[0];
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert!(body.get("headers").is_none());
    }

    #[test]
    fn builds_the_v3_mail_send_request() {
        let config = serde_json::json!({"from_email": "news@shop.example", "from_name": "Shop", "reply_to": "help@shop.example", "sandbox": true});
        let request = &SendGrid::build(invocation(config), message()).unwrap()[0];
        assert_eq!(
            (request.method.as_str(), request.url.as_str()),
            ("POST", "https://api.sendgrid.com/v3/mail/send")
        );
        assert_eq!(
            request.headers[0],
            ("authorization".to_owned(), "Bearer {{secret:SENDGRID_API_KEY}}".to_owned())
        );
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "personalizations": [{"to": [{"email": "ada@example.com"}]}],
                "from": {"email": "news@shop.example", "name": "Shop"},
                "reply_to": {"email": "help@shop.example"},
                "subject": "Welcome",
                "content": [{"type": "text/plain", "value": "Hello Ada"}, {"type": "text/html", "value": "<p>Hello Ada</p>"}],
                "categories": ["welcome"],
                "custom_args": {"idempotency_key": "welcome:pr_1:e1", "campaign_id": "welcome", "variant": "B"},
                "mail_settings": {"sandbox_mode": {"enable": true}}
            })
        );
        let mut bad = message();
        bad.recipient = "not-an-address".into();
        assert_eq!(
            SendGrid::build(invocation(serde_json::json!({"from_email": "a@b.c"})), bad).unwrap_err().code,
            "invalid_recipient"
        );
    }

    #[test]
    fn classifies_sendgrid_answers() {
        let inv = invocation(serde_json::json!({"from_email": "a@b.c"}));
        let response = |status: u16, headers: &[(&str, &str)], body: &str| HttpResponse {
            status,
            headers: headers.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            SendGrid::classify(inv.clone(), 0, response(202, &[("x-message-id", "abc")], "")),
            DeliveryOutcome::Delivered(Some("abc".into()))
        );
        assert_eq!(
            SendGrid::classify(inv.clone(), 0, response(429, &[("x-ratelimit-reset", "1750000030")], "")),
            DeliveryOutcome::Throttled(Some(30_000))
        );
        assert_eq!(
            SendGrid::classify(inv.clone(), 0, response(503, &[], "")),
            DeliveryOutcome::RetryAfter(None)
        );
        let errors = r#"{"errors": [{"message": "The from address does not match a verified Sender Identity.", "field": "from"}]}"#;
        assert_eq!(
            SendGrid::classify(inv, 0, response(403, &[], errors)),
            DeliveryOutcome::Rejected(
                "SendGrid answered 403: The from address does not match a verified Sender Identity.".into()
            )
        );
        assert_eq!(SendGrid::validate_config(r#"{"from_email": "nope"}"#).unwrap_err().path, "/from_email");
    }

    #[test]
    fn event_webhook_batches_become_reports() {
        let body = serde_json::json!([
            {"event": "processed", "sg_message_id": "m1.filter0001", "timestamp": 1, "idempotency_key": "k1"},
            {"event": "open", "sg_message_id": "m1.filter0001", "timestamp": 2, "idempotency_key": "k1", "useragent": "UA"},
            {"event": "bounce", "type": "bounce", "reason": "550 no such user", "sg_message_id": "m2.f", "timestamp": 3},
            {"event": "bounce", "type": "blocked", "sg_message_id": "m3.f", "timestamp": 4},
            {"event": "spamreport", "timestamp": 5, "idempotency_key": "k4"}
        ]);
        let reports = SendGrid::reports(body.to_string().as_bytes()).unwrap();
        let kinds: Vec<ReportKind> = reports.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            vec![ReportKind::Opened, ReportKind::Bounced, ReportKind::Dropped, ReportKind::Complained]
        );
        assert_eq!(reports[0].idempotency_key.as_deref(), Some("k1"));
        assert_eq!(reports[1].vendor_message_id.as_deref(), Some("m2"));
        assert_eq!(reports[1].timestamp, 3_000);
        assert_eq!(reports[1].properties, r#"{"reason":"550 no such user","type":"bounce"}"#);
        assert_eq!(SendGrid::reports(b"{}").unwrap_err().code, "invalid_payload");
        assert_eq!(SendGrid::check("{}").unwrap_err().path, "/verification_key");
        assert!(matches!(
            SendGrid::check(r#"{"verification_key": "AAAA"}"#).unwrap().key,
            SignatureKey::EcdsaP256Sha256(_)
        ));
    }
}
