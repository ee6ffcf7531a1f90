//! {{name}}: a computed trait. Writes `event_count`, how many events of the configured name the
//! profile has (`{"event": "order_completed"}`; "order_completed" when unset). The host stores it
//! with the profile, where segments and personalizers read it like any attribute.

use baton_sdk::*;

/// The plugin.
pub struct Counter;

/// The trait this plugin writes.
const TRAIT: &str = "event_count";

/// Reads the binding config; the error names the setting at fault.
fn event_name(config: &str) -> Result<String, ConfigError> {
    let fault = |path: &str, message: &str| ConfigError { path: path.into(), message: message.into() };
    let settings: serde_json::Value =
        serde_json::from_str(config).map_err(|_| fault("", "config is not valid JSON"))?;
    let settings = settings.as_object().ok_or_else(|| fault("", "config must be a JSON object"))?;
    match settings.get("event") {
        None => Ok("order_completed".into()),
        Some(serde_json::Value::String(event)) => Ok(event.clone()),
        Some(_) => Err(fault("/event", "must be a string")),
    }
}

impl Plugin for Counter {
    fn info() -> PluginInfo {
        // The most it may ever read: any event. `needs_for_config` narrows it per binding.
        PluginInfo::new("{{name}}", "0.1.0", PluginKind::ComputedTrait, "Counts one event per profile.")
            .with_needs(Needs::none().with_events(["*"], None))
            .with_provides([TRAIT])
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        event_name(config).map(drop)
    }

    /// Only the counted event, so the host loads nothing else.
    fn needs_for_config(config: &str) -> Needs {
        match event_name(config) {
            Ok(event) => Needs::none().with_events([event.as_str()], None),
            Err(_) => Self::info().needs,
        }
    }
}

impl ComputedTrait for Counter {
    fn compute(invocation: Invocation, subjects: Vec<Subject>) -> Result<Vec<Vec<Attribute>>, PluginError> {
        let event = event_name(&invocation.config)
            .map_err(|e| PluginError::new("invalid_config", &format!("{}: {}", e.path, e.message)))?;
        Ok(subjects
            .iter()
            .map(|s| {
                let count = s.events.iter().filter(|e| e.name == event).count();
                vec![Attribute::new(TRAIT, Value::Integer(count as i64))]
            })
            .collect())
    }
}

baton_sdk::computed_trait!(Counter);
