//! `channel-json-post`, the Rust twin: posts each message as a small JSON document to one URL
//! with a bearer token the host substitutes, and classifies the answer. The behaviour is specified
//! in `examples/polyglot/README.md`; the JavaScript, Python and C twins match it exactly.

use baton_sdk::*;
use serde_json::Value as Json;

struct JsonPost;

/// Parses and checks the config and returns the URL; the first fault in the README's order wins.
fn parse(config: &str) -> Result<String, ConfigError> {
    let json: Json =
        serde_json::from_str(config).map_err(|_| ConfigError::new("", "config is not valid JSON"))?;
    let object = json.as_object().ok_or_else(|| ConfigError::new("", "config must be a JSON object"))?;
    let url = match object.get("url") {
        None => return Err(ConfigError::new("/url", "is required")),
        Some(Json::String(url)) if url.starts_with("http://") || url.starts_with("https://") => url.clone(),
        Some(_) => return Err(ConfigError::new("/url", "must be an http:// or https:// URL")),
    };
    if let Some(key) = object.keys().filter(|key| key.as_str() != "url").min() {
        return Err(ConfigError::new(&format!("/{key}"), "is not a setting (known: url)"));
    }
    Ok(url)
}

/// The request body; fields serialize in declaration order.
#[derive(serde::Serialize)]
struct Payload<'a> {
    to: &'a str,
    subject: Option<&'a str>,
    body: &'a str,
    variant: Option<&'a str>,
}

impl Plugin for JsonPost {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "channel-json-post-rust",
            "1.0.0",
            PluginKind::ChannelAdapter,
            "Posts each message as JSON to one URL with a bearer token.",
        )
        .with_needs(Needs::none().with_hosts_and_secrets(["*"], ["WEBHOOK_TOKEN"]))
        .with_config_schema(CONFIG_SCHEMA)
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        parse(config).map(|_| ())
    }
}

impl ChannelAdapter for JsonPost {
    fn build(invocation: Invocation, message: Message) -> Result<Vec<HttpRequest>, PluginError> {
        let url = parse(&invocation.config)
            .map_err(|e| PluginError::new("invalid_config", &format!("{}: {}", e.path, e.message)))?;
        if message.recipient.is_empty() {
            return Err(PluginError::new("missing_recipient", "the message has no recipient"));
        }
        let payload = Payload {
            to: &message.recipient,
            subject: message.subject.as_deref(),
            body: &message.body,
            variant: message.variant_id.as_deref(),
        };
        let body = serde_json::to_vec(&payload)
            .map_err(|e| PluginError::new("encoding_failed", &format!("cannot encode the body: {e}")))?;
        Ok(vec![HttpRequest {
            method: "POST".into(),
            url,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("authorization".into(), "Bearer {{secret:WEBHOOK_TOKEN}}".into()),
                ("idempotency-key".into(), message.idempotency_key),
            ],
            body,
        }])
    }

    fn classify(_: Invocation, _: u32, response: HttpResponse) -> DeliveryOutcome {
        let header = |name: &str| response.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        match response.status {
            200..=299 => DeliveryOutcome::Delivered(header("x-message-id").map(str::to_owned)),
            429 => DeliveryOutcome::Throttled(header("retry-after").and_then(whole_seconds).map(|s| s * 1000)),
            500..=599 => DeliveryOutcome::RetryAfter(None),
            status => DeliveryOutcome::Rejected(format!("vendor answered {status}")),
        }
    }
}

/// `retry-after` as whole seconds: one to nine ASCII digits, nothing else (no sign, no spaces).
fn whole_seconds(value: &str) -> Option<u64> {
    let digits = !value.is_empty() && value.len() <= 9 && value.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| value.parse().ok()).flatten()
}

const CONFIG_SCHEMA: &str = r#"{"type":"object","required":["url"],"properties":{"url":{"type":"string","pattern":"^https?://"}},"additionalProperties":false}"#;

baton_sdk::channel_adapter!(JsonPost);
