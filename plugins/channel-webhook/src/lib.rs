//! `channel-webhook`: sends each message as a JSON POST to a configured URL.
//!
//! ```json
//! {"url": "https://hooks.example.com/notify",
//!  "headers": {"x-api-key": "{{secret:HOOK_KEY}}"},
//!  "fields": {"email": "recipient", "text": "body", "ref": "idempotency_key"},
//!  "sign_with": "HOOK_SIGNING_KEY", "signature_header": "x-signature"}
//! ```
//!
//! `fields` maps body keys to message fields (`recipient`, `subject`, `body`, `html`, `variant`,
//! `data`, `channel`, `idempotency_key`, `campaign`); without it the body carries all of them.
//! With `sign_with`, the host adds an HMAC-SHA256 of the body, keyed by that secret, in
//! `signature_header` (default `x-baton-signature`): the adapter never sees the key.
//! Responses: 2xx delivered (receipt from `receipt_field` of a JSON body, or `x-message-id`);
//! 429 throttled, honouring `Retry-After`; 408 and 5xx retried; other 4xx rejected.
//!
//! Feedback (contract 0.2.0): the receiving system reports back to a feedback endpoint made with
//! this adapter and `{"secret": "HOOK_FEEDBACK_KEY"}` (the secret granted to the endpoint). It
//! signs as Baton signs what it sends: `x-baton-signature: sha256=<hex HMAC-SHA256>` of
//! `<x-baton-timestamp>.<body>`, where `x-baton-timestamp` is the Unix time in seconds (checked
//! against replays by the host). The body is one report or a JSON array of them:
//!
//! ```json
//! [{"event": "delivered", "idempotency_key": "welcome:pr_1:e1", "timestamp": 1750000000000},
//!  {"event": "bounced", "message_id": "m-42", "properties": {"reason": "mailbox full"}}]
//! ```
//!
//! `event` is one of `delivered`, `deferred`, `bounced` (permanent: it suppresses the channel),
//! `dropped`, `complained`, `opened`, `clicked`, `unsubscribed`; the message is named by its
//! `idempotency_key` or by the `message_id` the receiver answered with; `timestamp` is in
//! milliseconds (the time of receipt when absent).

use std::collections::BTreeMap;

use baton_sdk::*;
use serde::Deserialize;

/// The plugin.
pub struct Webhook;

/// The binding config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    fields: Option<BTreeMap<String, String>>,
    #[serde(default)]
    sign_with: Option<String>,
    #[serde(default)]
    signature_header: Option<String>,
    #[serde(default)]
    receipt_field: Option<String>,
}

const FIELDS: &[&str] =
    &["recipient", "subject", "body", "html", "variant", "data", "channel", "idempotency_key", "campaign"];

impl Plugin for Webhook {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "channel-webhook",
            env!("CARGO_PKG_VERSION"),
            PluginKind::ChannelAdapter,
            "Posts each message as JSON to a configured URL, with optional HMAC signatures.",
        )
        // Any host and secret the binding grants: the URL and keys are the binding's.
        .with_needs(Needs::none().with_hosts_and_secrets(["*"], ["*"]))
        .with_config_schema(r#"{"type":"object","required":["url"],"properties":{"url":{"type":"string"},"headers":{"type":"object"},"fields":{"type":"object"},"sign_with":{"type":"string"},"signature_header":{"type":"string"},"receipt_field":{"type":"string"}}}"#)
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        let config: Config =
            serde_json::from_str(config).map_err(|e| ConfigError::new("", &e.to_string()))?;
        if !(config.url.starts_with("https://") || config.url.starts_with("http://")) {
            return Err(ConfigError::new("/url", "must be an https:// (or http://) URL"));
        }
        for (key, field) in config.fields.iter().flatten() {
            if !FIELDS.contains(&field.as_str()) {
                return Err(ConfigError::new(
                    &format!("/fields/{key}"),
                    &format!("unknown message field `{field}`; use one of {}", FIELDS.join(", ")),
                ));
            }
        }
        if config.sign_with.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::new("/sign_with", "must name a secret"));
        }
        Ok(())
    }
}

fn field(invocation: &Invocation, message: &Message, name: &str) -> serde_json::Value {
    match name {
        "recipient" => message.recipient.clone().into(),
        "subject" => message.subject.clone().into(),
        "body" => message.body.clone().into(),
        "html" => message.html.clone().into(),
        "variant" => message.variant_id.clone().into(),
        "data" => serde_json::from_str(&message.data).unwrap_or(serde_json::Value::Null),
        "channel" => message.channel.clone().into(),
        "idempotency_key" => message.idempotency_key.clone().into(),
        "campaign" => invocation.campaign_id.clone().into(),
        _ => serde_json::Value::Null,
    }
}

impl ChannelAdapter for Webhook {
    fn build(invocation: Invocation, message: Message) -> Result<Vec<HttpRequest>, PluginError> {
        let config: Config = invocation.config()?;
        let body: serde_json::Map<String, serde_json::Value> = match &config.fields {
            Some(fields) => {
                fields.iter().map(|(key, name)| (key.clone(), field(&invocation, &message, name))).collect()
            }
            None => {
                FIELDS.iter().map(|name| ((*name).to_owned(), field(&invocation, &message, name))).collect()
            }
        };
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("idempotency-key".to_owned(), message.idempotency_key.clone()),
        ];
        headers.extend(config.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())));
        if let Some(secret) = &config.sign_with {
            let header = config.signature_header.clone().unwrap_or_else(|| "x-baton-signature".into());
            headers.push((header.to_ascii_lowercase(), format!("sha256={{{{hmac-sha256:{secret}}}}}")));
        }
        Ok(vec![HttpRequest {
            method: "POST".into(),
            url: config.url,
            headers,
            body: serde_json::Value::Object(body).to_string().into_bytes(),
        }])
    }

    fn classify(invocation: Invocation, _: u32, response: HttpResponse) -> DeliveryOutcome {
        let header = |name: &str| response.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let retry_after =
            || header("retry-after").and_then(|s| s.trim().parse::<u64>().ok()).map(|s| s * 1_000);
        match response.status {
            200..=299 => {
                let field = invocation.config::<Config>().ok().and_then(|c| c.receipt_field);
                let from_body = field.and_then(|f| {
                    let body: serde_json::Value = serde_json::from_slice(&response.body).ok()?;
                    body.get(&f).map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))
                });
                DeliveryOutcome::Delivered(from_body.or_else(|| header("x-message-id")))
            }
            429 => DeliveryOutcome::Throttled(retry_after()),
            408 | 500..=599 => DeliveryOutcome::RetryAfter(retry_after()),
            status => DeliveryOutcome::Rejected(format!(
                "webhook answered {status}: {}",
                String::from_utf8_lossy(&response.body).chars().take(200).collect::<String>()
            )),
        }
    }

    fn verification(config: &str) -> Result<SignatureCheck, ConfigError> {
        let config: FeedbackConfig = serde_json::from_str(config).map_err(|e| {
            ConfigError::new(
                "",
                &format!("{e}; give {{\"secret\": \"NAME\"}}, the secret the reports are signed with"),
            )
        })?;
        if config.secret.trim().is_empty() {
            return Err(ConfigError::new("/secret", "must name a secret"));
        }
        Ok(SignatureCheck {
            key: SignatureKey::HmacSha256(config.secret),
            signed: vec![
                SignedPart::Header("x-baton-timestamp".into()),
                SignedPart::Text(".".into()),
                SignedPart::Body,
            ],
            header: "x-baton-signature".into(),
            prefix: "sha256=".into(),
            encoding: SignatureEncoding::Hex,
            timestamp_header: Some("x-baton-timestamp".into()),
        })
    }

    fn feedback(invocation: Invocation, request: InboundRequest) -> Result<Vec<VendorReport>, PluginError> {
        Webhook::reports(invocation.now, &request.body)
    }
}

/// What a feedback endpoint made with this adapter is configured with.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackConfig {
    /// The secret the receiving system signs its reports with.
    secret: String,
}

/// One report from the receiving system.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    event: String,
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    properties: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The report kinds by their names in the body.
const REPORTS: &[(&str, ReportKind)] = &[
    ("delivered", ReportKind::Delivered),
    ("deferred", ReportKind::Deferred),
    ("bounced", ReportKind::Bounced),
    ("dropped", ReportKind::Dropped),
    ("complained", ReportKind::Complained),
    ("opened", ReportKind::Opened),
    ("clicked", ReportKind::Clicked),
    ("unsubscribed", ReportKind::Unsubscribed),
];

impl Webhook {
    fn reports(now: i64, body: &[u8]) -> Result<Vec<VendorReport>, PluginError> {
        let invalid = |message: String| PluginError::new("invalid_payload", &message);
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| invalid(format!("the body is not JSON: {e}")))?;
        let items = match value {
            serde_json::Value::Array(items) => items,
            one => vec![one],
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let report: Report =
                    serde_json::from_value(item).map_err(|e| invalid(format!("report {i}: {e}")))?;
                let Some(&(_, kind)) = REPORTS.iter().find(|(name, _)| *name == report.event) else {
                    let names: Vec<&str> = REPORTS.iter().map(|(name, _)| *name).collect();
                    return Err(invalid(format!(
                        "report {i}: unknown event `{}`; use one of {}",
                        report.event,
                        names.join(", ")
                    )));
                };
                if report.idempotency_key.is_none() && report.message_id.is_none() {
                    return Err(invalid(format!(
                        "report {i}: name the message by `idempotency_key` or `message_id`"
                    )));
                }
                Ok(VendorReport {
                    kind,
                    idempotency_key: report.idempotency_key,
                    vendor_message_id: report.message_id,
                    timestamp: report.timestamp.unwrap_or(now),
                    properties: serde_json::Value::Object(report.properties.unwrap_or_default()).to_string(),
                })
            })
            .collect()
    }
}

baton_sdk::channel_adapter!(Webhook);

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(config: serde_json::Value) -> Invocation {
        Invocation { campaign_id: "welcome".into(), config: config.to_string(), now: 0, seed: 0 }
    }

    fn message() -> Message {
        Message {
            channel: "webhook".into(),
            recipient: "pr_1".into(),
            subject: Some("Hi".into()),
            body: "Hello".into(),
            html: None,
            variant_id: Some("A".into()),
            data: r#"{"coupon":"X1"}"#.into(),
            idempotency_key: "welcome:pr_1:e1".into(),
        }
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn feedback_reports_are_read_strictly() {
        let body = br#"[{"event": "delivered", "idempotency_key": "k1", "timestamp": 5},
                        {"event": "bounced", "message_id": "m-2", "properties": {"reason": "no such user"}}]"#;
        let reports = Webhook::reports(9, body).unwrap();
        assert_eq!(reports.len(), 2);
        assert_eq!((reports[0].kind, reports[0].timestamp), (ReportKind::Delivered, 5));
        assert_eq!(reports[0].idempotency_key.as_deref(), Some("k1"));
        assert_eq!((reports[1].kind, reports[1].timestamp), (ReportKind::Bounced, 9));
        assert_eq!(reports[1].vendor_message_id.as_deref(), Some("m-2"));
        assert_eq!(reports[1].properties, r#"{"reason":"no such user"}"#);
        let one = Webhook::reports(9, br#"{"event": "opened", "idempotency_key": "k1"}"#).unwrap();
        assert_eq!(one[0].kind, ReportKind::Opened);
        let err = Webhook::reports(9, br#"[{"event": "read", "idempotency_key": "k"}]"#).unwrap_err();
        assert!(err.message.contains("unknown event `read`; use one of delivered,"), "{}", err.message);
        let err = Webhook::reports(9, br#"{"event": "opened"}"#).unwrap_err();
        assert!(err.message.contains("`idempotency_key` or `message_id`"), "{}", err.message);
        assert!(Webhook::verification("{}").is_err());
        let check = Webhook::verification(r#"{"secret": "HOOK_FEEDBACK_KEY"}"#).unwrap();
        assert_eq!(check.key, SignatureKey::HmacSha256("HOOK_FEEDBACK_KEY".into()));
    }

    #[test]
    fn builds_a_mapped_signed_json_post() {
        let config = serde_json::json!({
            "url": "https://hooks.example.com/n",
            "headers": {"X-Api-Key": "{{secret:HOOK_KEY}}"},
            "fields": {"to": "recipient", "text": "body", "offer": "data", "ref": "idempotency_key", "from": "campaign"},
            "sign_with": "SIGNING"
        });
        let requests = Webhook::build(invocation(config), message()).unwrap();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!((request.method.as_str(), request.url.as_str()), ("POST", "https://hooks.example.com/n"));
        assert_eq!(
            request.headers,
            vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("idempotency-key".to_owned(), "welcome:pr_1:e1".to_owned()),
                ("x-api-key".to_owned(), "{{secret:HOOK_KEY}}".to_owned()),
                ("x-baton-signature".to_owned(), "sha256={{hmac-sha256:SIGNING}}".to_owned()),
            ]
        );
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"to": "pr_1", "text": "Hello", "offer": {"coupon": "X1"}, "ref": "welcome:pr_1:e1", "from": "welcome"})
        );
    }

    #[test]
    fn classifies_vendor_answers() {
        let inv = invocation(serde_json::json!({"url": "https://h/x", "receipt_field": "id"}));
        assert_eq!(
            Webhook::classify(inv.clone(), 0, response(201, &[], r#"{"id": "r-9"}"#)),
            DeliveryOutcome::Delivered(Some("r-9".into()))
        );
        assert_eq!(
            Webhook::classify(inv.clone(), 0, response(200, &[("x-message-id", "m")], "ok")),
            DeliveryOutcome::Delivered(Some("m".into()))
        );
        assert_eq!(
            Webhook::classify(inv.clone(), 0, response(429, &[("retry-after", "30")], "")),
            DeliveryOutcome::Throttled(Some(30_000))
        );
        assert_eq!(
            Webhook::classify(inv.clone(), 0, response(503, &[], "")),
            DeliveryOutcome::RetryAfter(None)
        );
        assert_eq!(
            Webhook::classify(inv.clone(), 0, response(408, &[], "")),
            DeliveryOutcome::RetryAfter(None)
        );
        assert_eq!(
            Webhook::classify(inv, 0, response(422, &[], "bad address")),
            DeliveryOutcome::Rejected("webhook answered 422: bad address".into())
        );
    }

    #[test]
    fn config_faults_name_their_field() {
        assert_eq!(Webhook::validate_config(r#"{"url": "ftp://x"}"#).unwrap_err().path, "/url");
        assert_eq!(
            Webhook::validate_config(r#"{"url": "https://x", "fields": {"a": "zip"}}"#).unwrap_err().path,
            "/fields/a"
        );
        assert_eq!(Webhook::validate_config(r#"{"url": "https://x", "color": 1}"#).unwrap_err().path, "");
        assert!(Webhook::validate_config(r#"{"url": "https://x"}"#).is_ok());
    }
}
