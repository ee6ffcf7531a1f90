//! Conveniences on the contract's types, so plugins read like the domain rather than like WIT.

use serde::de::DeserializeOwned;

use crate::__private::segment_rule::baton::plugin::host::{self, LogLevel};
use crate::{
    Attribute, ConfigError, Event, Invocation, Membership, Needs, PluginError, PluginInfo, PluginKind,
    Subject, Value,
};

/// Structured logging into the host's log, tagged with the plugin and campaign by the host.
///
/// The host caps the bytes one call may log; a call that logs more fails with a limit error.
pub mod log {
    use super::{LogLevel, host};

    /// Logs at debug level.
    pub fn debug(message: &str) {
        host::log(LogLevel::Debug, message);
    }
    /// Logs at info level.
    pub fn info(message: &str) {
        host::log(LogLevel::Info, message);
    }
    /// Logs at warn level.
    pub fn warn(message: &str) {
        host::log(LogLevel::Warn, message);
    }
    /// Logs at error level.
    pub fn error(message: &str) {
        host::log(LogLevel::Error, message);
    }
}

impl PluginInfo {
    /// Describes a plugin that needs nothing from the host and accepts any config.
    pub fn new(name: &str, version: &str, kind: PluginKind, description: &str) -> Self {
        PluginInfo {
            name: name.to_owned(),
            version: version.to_owned(),
            kind,
            description: description.to_owned(),
            config_schema: "{}".to_owned(),
            needs: Needs::none(),
            #[cfg(not(feature = "contract-0-1-0"))]
            provides: Vec::new(),
        }
    }

    /// Declares the traits a computed-trait plugin writes (snake_case attribute names).
    #[cfg(not(feature = "contract-0-1-0"))]
    pub fn with_provides<'a>(mut self, traits: impl IntoIterator<Item = &'a str>) -> Self {
        self.provides = traits.into_iter().map(str::to_owned).collect();
        self
    }

    /// Declares what the plugin needs from the host.
    pub fn with_needs(mut self, needs: Needs) -> Self {
        self.needs = needs;
        self
    }

    /// Sets the JSON Schema of the binding config.
    pub fn with_config_schema(mut self, schema: &str) -> Self {
        self.config_schema = schema.to_owned();
        self
    }
}

impl Needs {
    /// Needs nothing.
    pub fn none() -> Self {
        Needs {
            attributes: Vec::new(),
            events: Vec::new(),
            event_window: None,
            allowed_hosts: Vec::new(),
            secrets: Vec::new(),
        }
    }

    /// Needs the named profile attributes (`"*"` for all).
    pub fn attributes<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Needs { attributes: names.into_iter().map(str::to_owned).collect(), ..Needs::none() }
    }

    /// Also needs the named events (`"*"` for all), within `window_ms` of now if given.
    pub fn with_events<'a>(
        mut self,
        names: impl IntoIterator<Item = &'a str>,
        window_ms: Option<u64>,
    ) -> Self {
        self.events = names.into_iter().map(str::to_owned).collect();
        self.event_window = window_ms;
        self
    }

    /// Also needs to send to the named hosts and to use the named secrets (channel adapters).
    pub fn with_hosts_and_secrets<'a>(
        mut self,
        hosts: impl IntoIterator<Item = &'a str>,
        secrets: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        self.allowed_hosts = hosts.into_iter().map(str::to_owned).collect();
        self.secrets = secrets.into_iter().map(str::to_owned).collect();
        self
    }
}

impl Invocation {
    /// Parses the binding config into `T`. The host has already run `validate-config` on it, so a
    /// failure here is reported as `invalid_config`.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_str(&self.config)
            .map_err(|e| PluginError::new("invalid_config", &format!("binding config: {e}")))
    }
}

impl PluginError {
    /// A plugin error with a stable snake_case code and a sentence saying what went wrong.
    pub fn new(code: &str, message: &str) -> Self {
        PluginError { code: code.to_owned(), message: message.to_owned() }
    }
}

impl ConfigError {
    /// A config error at `path` (a JSON pointer such as `/rules/0/op`; empty for the whole config).
    pub fn new(path: &str, message: &str) -> Self {
        ConfigError { path: path.to_owned(), message: message.to_owned() }
    }
}

impl Subject {
    /// The value of the named attribute, if the profile has it.
    pub fn attribute(&self, name: &str) -> Option<&Value> {
        self.attributes.iter().find(|a| a.name == name).map(|a| &a.value)
    }

    /// The named attribute as text, if it is text.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.attribute(name)? {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The named attribute as a number, if it is an integer or a float.
    pub fn number(&self, name: &str) -> Option<f64> {
        self.attribute(name)?.as_f64()
    }
}

impl Attribute {
    /// A named attribute (a computed trait's output, for example).
    pub fn new(name: &str, value: Value) -> Self {
        Attribute { name: name.to_owned(), value }
    }
}

impl Value {
    /// The value as a number, if it is an integer, a float or a timestamp.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Integer(i) | Value::Timestamp(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
}

impl Event {
    /// Parses the event's properties (a JSON object).
    pub fn properties_json(&self) -> Result<serde_json::Value, PluginError> {
        serde_json::from_str(&self.properties).map_err(|e| {
            PluginError::new("invalid_properties", &format!("event {}: properties: {e}", self.id))
        })
    }
}

impl From<bool> for Membership {
    fn from(member: bool) -> Self {
        Membership::scored(member, None)
    }
}

impl Membership {
    /// A verdict with an optional score that only new data can change.
    pub fn scored(member: bool, score: Option<f64>) -> Self {
        #[cfg(not(any(feature = "contract-0-1-0", feature = "contract-0-2-0")))]
        return Membership { member, score, recheck_at: None };
        #[cfg(any(feature = "contract-0-1-0", feature = "contract-0-2-0"))]
        return Membership { member, score };
    }

    /// This verdict, to be judged again at `at` (ms since the epoch) with no new data: when a
    /// window the rule reads moves past an event, or a date it compares with comes due. The
    /// earlier of two times is kept, so a rule can offer every boundary it meets. Contracts before
    /// 0.3.0 cannot say it, and the host infers what it can from the rule's declared window.
    pub fn recheck_at(self, at: Option<i64>) -> Self {
        #[cfg(not(any(feature = "contract-0-1-0", feature = "contract-0-2-0")))]
        return Membership {
            recheck_at: match (self.recheck_at, at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            ..self
        };
        #[cfg(any(feature = "contract-0-1-0", feature = "contract-0-2-0"))]
        {
            let _ = at;
            self
        }
    }
}

#[cfg(not(feature = "contract-0-1-0"))]
impl crate::InboundRequest {
    /// The body's `application/x-www-form-urlencoded` parameters, decoded, in order (how Twilio
    /// and many others post their webhooks).
    pub fn form_params(&self) -> Vec<(String, String)> {
        String::from_utf8_lossy(&self.body)
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(name), percent_decode(value))
            })
            .collect()
    }

    /// The value of a header (names are lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
}

/// Decodes `+` and `%XX`; a malformed escape stays as written.
#[cfg(not(feature = "contract-0-1-0"))]
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(high), Some(low)) => {
                    out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
