//! Plugin identity and registry records: plain data shared by the store and the runtime.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The five kinds of plugin, one per WIT world (`computed-trait` since contract 0.2.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// Decides audience membership (`segment-rule` world).
    SegmentRule,
    /// Renders messages (`personalizer` world).
    Personalizer,
    /// Builds vendor requests and classifies responses (`channel-adapter` world).
    ChannelAdapter,
    /// Computes campaign metrics (`kpi-calculator` world).
    KpiCalculator,
    /// Derives profile traits from events (`computed-trait` world).
    ComputedTrait,
}

impl PluginKind {
    /// The WIT world name of this kind.
    pub fn world(self) -> &'static str {
        match self {
            PluginKind::SegmentRule => "segment-rule",
            PluginKind::Personalizer => "personalizer",
            PluginKind::ChannelAdapter => "channel-adapter",
            PluginKind::KpiCalculator => "kpi-calculator",
            PluginKind::ComputedTrait => "computed-trait",
        }
    }

    /// The kind whose world exports the given WIT interface (`segmentation`, `channel`, ...).
    pub(crate) fn from_interface(interface: &str) -> Option<Self> {
        match interface {
            "segmentation" => Some(PluginKind::SegmentRule),
            "personalization" => Some(PluginKind::Personalizer),
            "channel" => Some(PluginKind::ChannelAdapter),
            "kpi" => Some(PluginKind::KpiCalculator),
            "traits" => Some(PluginKind::ComputedTrait),
            _ => None,
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.world())
    }
}

/// The sha256 of a component's bytes: a plugin's identity. Bindings pin plugins by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    /// Hashes component bytes.
    pub fn of(bytes: &[u8]) -> Self {
        ContentHash(Sha256::digest(bytes).into())
    }

    /// The raw digest, for store keys.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 12 hex digits, for logs and listings.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl schemars::JsonSchema for ContentHash {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ContentHash".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": r"^(sha256:)?[0-9a-fA-F]{64}$",
            "description": "A component's sha256 content hash: 64 hex digits, optionally after `sha256:`."
        })
    }
}

impl From<ContentHash> for String {
    fn from(hash: ContentHash) -> String {
        hash.to_string()
    }
}

impl TryFrom<String> for ContentHash {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl std::str::FromStr for ContentHash {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let digits = text.strip_prefix("sha256:").unwrap_or(text);
        let mut out = [0u8; 32];
        hex::decode_to_slice(digits, &mut out)
            .map_err(|_| format!("`{text}` is not a sha256 content hash (64 hex digits)"))?;
        Ok(ContentHash(out))
    }
}

/// What the registry keeps about an installed plugin (its `info()` plus identity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginRecord {
    /// The content hash of the component bytes.
    pub hash: ContentHash,
    /// The plugin's name, from `info()`.
    pub name: String,
    /// The plugin's version, from `info()`.
    pub version: String,
    /// The plugin's kind, from the world it implements.
    pub kind: PluginKind,
    /// The WIT contract version it was built against, for example `0.1.0`.
    pub contract: String,
    /// Its description, from `info()`.
    pub description: String,
    /// The JSON Schema of its binding config, from `info()`.
    pub config_schema: String,
    /// Profile attributes it reads (`*` for all).
    pub attributes: Vec<String>,
    /// Event names it reads (`*` for all).
    pub events: Vec<String>,
    /// How far back it reads events, in milliseconds; none for the whole history.
    pub event_window_ms: Option<u64>,
    /// Hosts it may send to, if a binding grants them.
    pub allowed_hosts: Vec<String>,
    /// Secrets it refers to, if a binding grants them.
    pub secrets: Vec<String>,
    /// The traits a computed-trait plugin writes.
    #[serde(default)]
    pub provides: Vec<String>,
    /// The size of the component in bytes.
    pub size: u64,
    /// Set when the host auto-disabled the plugin for failing again and again.
    #[serde(default)]
    pub quarantine: Option<Quarantine>,
}

/// Why and since when a plugin is disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quarantine {
    /// When, ms since the epoch.
    pub since: i64,
    /// The last failure, naming the limit or trap.
    pub reason: String,
}

impl PluginRecord {
    /// `name@version`, the way errors and logs name a plugin.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_round_trips_through_text() {
        let hash = ContentHash::of(b"component");
        let text = hash.to_string();
        assert!(text.starts_with("sha256:"));
        assert_eq!(text.len(), 7 + 64);
        assert_eq!(text.parse::<ContentHash>(), Ok(hash));
        assert_eq!(text["sha256:".len()..].parse::<ContentHash>(), Ok(hash));
    }

    #[test]
    fn content_hash_rejects_bad_text() {
        let err = "sha256:zz".parse::<ContentHash>().unwrap_err();
        assert_eq!(err, "`sha256:zz` is not a sha256 content hash (64 hex digits)");
    }
}
