//! `segment-high-value`, the Rust twin: members are profiles worth at least `min_ltv` with at
//! least `min_orders` completed orders, except those of an excluded tier. The behaviour is
//! specified in `examples/polyglot/README.md`; the JavaScript, Python and C twins match it exactly.

use baton_sdk::*;
use serde_json::{Map, Value as Json};

struct HighValue;

/// The binding config, with defaults applied.
struct Config {
    min_ltv: f64,
    min_orders: f64,
    exclude_tier: Option<String>,
}

const KNOWN: [&str; 3] = ["min_ltv", "min_orders", "exclude_tier"];

/// Parses and checks the config; the first fault in the README's order wins.
fn parse(config: &str) -> Result<Config, ConfigError> {
    let json: Json =
        serde_json::from_str(config).map_err(|_| ConfigError::new("", "config is not valid JSON"))?;
    let object: &Map<String, Json> =
        json.as_object().ok_or_else(|| ConfigError::new("", "config must be a JSON object"))?;
    let min_ltv = match object.get("min_ltv") {
        None => 100.0,
        Some(value) => value
            .as_f64()
            .filter(|n| *n >= 0.0)
            .ok_or_else(|| ConfigError::new("/min_ltv", "must be a number of at least 0"))?,
    };
    let min_orders = match object.get("min_orders") {
        None => 0.0,
        Some(value) => value
            .as_f64()
            .filter(|n| *n >= 0.0 && n.fract() == 0.0)
            .ok_or_else(|| ConfigError::new("/min_orders", "must be a whole number of at least 0"))?,
    };
    let exclude_tier = match object.get("exclude_tier") {
        None => None,
        Some(Json::String(tier)) => Some(tier.clone()),
        Some(_) => return Err(ConfigError::new("/exclude_tier", "must be a string")),
    };
    if let Some(key) = object.keys().filter(|key| !KNOWN.contains(&key.as_str())).min() {
        return Err(ConfigError::new(
            &format!("/{key}"),
            "is not a setting (known: min_ltv, min_orders, exclude_tier)",
        ));
    }
    Ok(Config { min_ltv, min_orders, exclude_tier })
}

impl Plugin for HighValue {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "segment-high-value-rust",
            "1.0.0",
            PluginKind::SegmentRule,
            "Profiles worth at least min_ltv with at least min_orders orders, except one tier.",
        )
        .with_needs(Needs::attributes(["lifetime_value", "tier"]).with_events(["order_completed"], None))
        .with_config_schema(CONFIG_SCHEMA)
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        parse(config).map(|_| ())
    }
}

impl SegmentRule for HighValue {
    fn evaluate(invocation: Invocation, subjects: Vec<Subject>) -> Result<Vec<Membership>, PluginError> {
        let config = parse(&invocation.config)
            .map_err(|e| PluginError::new("invalid_config", &format!("{}: {}", e.path, e.message)))?;
        Ok(subjects.iter().map(|subject| judge(&config, subject)).collect())
    }
}

fn judge(config: &Config, subject: &Subject) -> Membership {
    let ltv = match subject.attribute("lifetime_value") {
        Some(Value::Integer(i)) => Some(*i as f64),
        Some(Value::Float(f)) => Some(*f),
        _ => None,
    };
    let orders = subject.events.iter().filter(|e| e.name == "order_completed").count() as f64;
    let excluded = config.exclude_tier.as_deref().is_some_and(|tier| subject.text("tier") == Some(tier));
    Membership::scored(ltv.is_some_and(|v| v >= config.min_ltv) && orders >= config.min_orders && !excluded, ltv)
}

const CONFIG_SCHEMA: &str = r#"{"type":"object","properties":{"min_ltv":{"type":"number","minimum":0},"min_orders":{"type":"integer","minimum":0},"exclude_tier":{"type":"string"}},"additionalProperties":false}"#;

baton_sdk::segment_rule!(HighValue);
