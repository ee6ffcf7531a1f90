//! Saved segments: a named audience whose membership Baton keeps stored and current, so counts,
//! samples and exports read it instead of judging every profile, and people entering or leaving
//! it are events campaigns can trigger on.
//!
//! Depends on: `plugin` (content hashes), `profile` (ids).

use serde::{Deserialize, Serialize};

use crate::plugin::ContentHash;
use crate::profile::ProfileId;

/// The event Baton records on a profile when it enters a saved segment; its `segment` property
/// names the segment. Sources cannot send it.
pub const SEGMENT_ENTERED: &str = "segment_entered";
/// The event Baton records on a profile when it leaves a saved segment.
pub const SEGMENT_EXITED: &str = "segment_exited";

/// What decides who is in a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SegmentDefinition {
    /// An installed segment rule with its config, judged as profiles change and as time passes.
    Rule {
        /// The segment rule's content hash.
        plugin: ContentHash,
        /// Its config (a JSON object).
        #[serde(default = "empty_object")]
        #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
        config: serde_json::Value,
    },
    /// A list of people kept by hand: uploaded or edited through `members`.
    Manual {},
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// A saved segment as written by its author.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "id": "lapsed-buyers",
    "description": "Ordered before, but not in the last 45 days",
    "definition": {"rule": {"plugin": "sha256:0f9d6c2b8a4e1f7d3c5b9a0e2d4f6a8c1b3e5d7f9a0c2e4b6d8f1a3c5e7b9d0f",
        "config": {"all": [{"performed": "order_completed"},
                           {"not": {"performed": "order_completed", "within_days": 45}}]}}}
}))]
pub struct SegmentSpec {
    /// Lowercase letters, digits, `_` and `-`; at most 64 characters.
    #[schemars(pattern(r"^[a-z0-9_-]{1,64}$"))]
    pub id: String,
    /// What the segment is for, in a sentence.
    #[serde(default)]
    pub description: String,
    /// Who is in it.
    pub definition: SegmentDefinition,
}

impl SegmentSpec {
    /// What is wrong with this spec on its own (the plugin is checked by the engine).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
        if self.id.is_empty() || self.id.len() > 64 || !self.id.chars().all(valid) {
            problems.push(format!("id {:?}: use 1 to 64 lowercase letters, digits, `_` or `-`", self.id));
        }
        if let SegmentDefinition::Rule { config, .. } = &self.definition
            && !config.is_object()
        {
            problems.push("definition.rule.config: must be a JSON object".into());
        }
        problems
    }
}

/// Whether a segment's stored membership can be trusted yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SegmentState {
    /// Its first full evaluation is under way (or was cut short and resumes on start).
    Building,
    /// Membership is stored and kept current.
    Live,
}

/// A saved segment as Baton keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SavedSegment {
    /// The segment's id.
    pub id: String,
    /// What it is for.
    pub description: String,
    /// Who is in it.
    pub definition: SegmentDefinition,
    /// Building or live.
    pub state: SegmentState,
    /// Profiles in it now.
    pub members: u64,
    /// Bumped by every change of definition, so an event says which definition admitted it.
    pub version: u32,
    /// When it was created, ms since the epoch.
    pub created_at: i64,
    /// When its definition last changed.
    pub updated_at: i64,
}

impl SavedSegment {
    /// Whether people are kept in it by hand.
    pub fn is_manual(&self) -> bool {
        matches!(self.definition, SegmentDefinition::Manual {})
    }
}

/// One member of a saved segment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SegmentMember {
    /// The profile.
    pub profile: ProfileId,
    /// Since when it has been a member, ms since the epoch.
    pub since: i64,
    /// The rule's score, if it gave one.
    pub score: Option<f64>,
}

/// A member list as a file: what the API's export and `baton segment members --format` write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberFile {
    /// `profile_id,since,score`, with a header.
    Csv,
    /// One JSON member per line.
    Ndjson,
}

impl MemberFile {
    /// The text that opens the file: CSV's header line.
    pub fn header(self) -> &'static str {
        match self {
            MemberFile::Csv => "profile_id,since,score\n",
            MemberFile::Ndjson => "",
        }
    }

    /// Appends one line per member to `out`.
    pub fn write(self, members: &[SegmentMember], out: &mut String) {
        for m in members {
            match self {
                MemberFile::Csv => {
                    let score = m.score.map(|s| s.to_string()).unwrap_or_default();
                    out.push_str(&format!("{},{},{score}\n", m.profile, m.since));
                }
                MemberFile::Ndjson => {
                    // A member is an id, a time and a number: it always serializes.
                    out.push_str(&serde_json::to_string(m).unwrap_or_default());
                    out.push('\n');
                }
            }
        }
    }
}

/// What changed on a profile since the segments last judged it: which events arrived, and
/// whether its attributes (traits, computed traits, consents, identities) changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileChange {
    /// Attributes changed, or the profile was created, merged or erased.
    pub attributes: bool,
    /// Names of the events that arrived, sorted, at most [`ProfileChange::MAX_NAMES`].
    pub events: Vec<String>,
    /// More event names arrived than are kept: every event-reading segment judges again.
    pub every_event: bool,
}

impl ProfileChange {
    /// Event names kept per mark before it stands for every name.
    pub const MAX_NAMES: usize = 32;

    /// Adds an arrived event's name.
    pub fn add_event(&mut self, name: &str) {
        if self.every_event {
            return;
        }
        if let Err(at) = self.events.binary_search_by(|n| n.as_str().cmp(name)) {
            if self.events.len() >= Self::MAX_NAMES {
                self.every_event = true;
                self.events.clear();
            } else {
                self.events.insert(at, name.to_owned());
            }
        }
    }

    /// Adds another change of the same profile.
    pub fn absorb(&mut self, other: &ProfileChange) {
        self.attributes |= other.attributes;
        if other.every_event {
            self.every_event = true;
            self.events.clear();
        }
        for name in &other.events {
            self.add_event(name);
        }
    }
}

/// Which changes saved segments care about, so ingest marks a profile only for those: events of
/// these names (or any), and attribute changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentInterest {
    /// Some segment exists: merges and erasures always matter.
    pub any: bool,
    /// Some segment reads attributes.
    pub attributes: bool,
    /// Some segment reads every event name.
    pub every_event: bool,
    /// Event names some segment reads.
    pub events: std::collections::HashSet<String>,
}

impl SegmentInterest {
    /// Whether an arrived event of this name matters to some segment.
    pub fn wants_event(&self, name: &str) -> bool {
        self.every_event || self.events.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_keeps_names_sorted_and_once_then_stands_for_all() {
        let mut change = ProfileChange::default();
        for name in ["b", "a", "b"] {
            change.add_event(name);
        }
        assert_eq!(change.events, ["a", "b"]);
        for i in 0..ProfileChange::MAX_NAMES {
            change.add_event(&format!("e{i}"));
        }
        assert!(change.every_event);
        assert!(change.events.is_empty());
        let mut other = ProfileChange { attributes: true, ..Default::default() };
        other.absorb(&change);
        assert!(other.attributes && other.every_event);
    }

    #[test]
    fn ids_are_checked_and_explained() {
        let spec = |id: &str| SegmentSpec {
            id: id.into(),
            description: String::new(),
            definition: SegmentDefinition::Manual {},
        };
        assert!(spec("lapsed-buyers_2").problems().is_empty());
        assert_eq!(
            spec("Lapsed Buyers").problems(),
            ["id \"Lapsed Buyers\": use 1 to 64 lowercase letters, digits, `_` or `-`"]
        );
        assert_eq!(spec("").problems().len(), 1);
        assert_eq!(spec(&"a".repeat(65)).problems().len(), 1);
    }
}
