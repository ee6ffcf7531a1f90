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
