//! {{name}}: a channel adapter. POSTs the message body to the configured URL
//! (`{"url": "https://..."}`) with a bearer token the host substitutes for
//! `{{secret:HOOK_TOKEN}}`: the plugin never sees the secret, and never does I/O itself.

use baton_sdk::*;

/// The plugin.
pub struct Hook;

/// Reads the binding config; the error names the setting at fault.
fn url(config: &str) -> Result<String, ConfigError> {
    let fault = |path: &str, message: &str| ConfigError { path: path.into(), message: message.into() };
    let settings: serde_json::Value =
        serde_json::from_str(config).map_err(|_| fault("", "config is not valid JSON"))?;
    let settings = settings.as_object().ok_or_else(|| fault("", "config must be a JSON object"))?;
    match settings.get("url") {
        None => Err(fault("/url", "is required")),
        Some(serde_json::Value::String(url)) if url.starts_with("https://") || url.starts_with("http://") => {
            Ok(url.clone())
        }
        Some(_) => Err(fault("/url", "must be an http:// or https:// URL")),
    }
}

impl Plugin for Hook {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0", PluginKind::ChannelAdapter, "POSTs the message body.")
            .with_needs(Needs::none().with_hosts_and_secrets(["*"], ["HOOK_TOKEN"]))
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        url(config).map(drop)
    }
}

impl ChannelAdapter for Hook {
    fn build(invocation: Invocation, message: Message) -> Result<Vec<HttpRequest>, PluginError> {
        let url = url(&invocation.config)
            .map_err(|e| PluginError::new("invalid_config", &format!("{}: {}", e.path, e.message)))?;
        Ok(vec![HttpRequest {
            method: "POST".into(),
            url,
            headers: vec![
                ("authorization".into(), "Bearer {{secret:HOOK_TOKEN}}".into()),
                // The vendor drops a retried send it has already accepted.
                ("idempotency-key".into(), message.idempotency_key),
            ],
            body: message.body.into_bytes(),
        }])
    }

    fn classify(_: Invocation, _: u32, response: HttpResponse) -> DeliveryOutcome {
        match response.status {
            200..=299 => DeliveryOutcome::Delivered(None),
            429 => DeliveryOutcome::Throttled(None),
            500..=599 => DeliveryOutcome::RetryAfter(None),
            status => DeliveryOutcome::Rejected(format!("vendor answered {status}")),
        }
    }
}

baton_sdk::channel_adapter!(Hook);
