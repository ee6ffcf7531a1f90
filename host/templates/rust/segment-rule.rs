//! {{name}}: a segment rule. Members are the profiles whose `tier` attribute is the configured
//! tier (`{"tier": "vip"}`; "vip" when unset).

use baton_sdk::*;

/// The plugin.
pub struct Rule;

/// Reads the binding config; the error names the setting at fault.
fn tier(config: &str) -> Result<String, ConfigError> {
    let fault = |path: &str, message: &str| ConfigError { path: path.into(), message: message.into() };
    let settings: serde_json::Value =
        serde_json::from_str(config).map_err(|_| fault("", "config is not valid JSON"))?;
    let settings = settings.as_object().ok_or_else(|| fault("", "config must be a JSON object"))?;
    match settings.get("tier") {
        None => Ok("vip".into()),
        Some(serde_json::Value::String(tier)) => Ok(tier.clone()),
        Some(_) => Err(fault("/tier", "must be a string")),
    }
}

impl Plugin for Rule {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0", PluginKind::SegmentRule, "Profiles of one tier.")
            .with_needs(Needs::attributes(["tier"]))
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        tier(config).map(drop)
    }
}

impl SegmentRule for Rule {
    fn evaluate(invocation: Invocation, subjects: Vec<Subject>) -> Result<Vec<Membership>, PluginError> {
        let tier = tier(&invocation.config)
            .map_err(|e| PluginError::new("invalid_config", &format!("{}: {}", e.path, e.message)))?;
        Ok(subjects.iter().map(|s| Membership::from(s.text("tier") == Some(tier.as_str()))).collect())
    }
}

baton_sdk::segment_rule!(Rule);
