//! Consent as sources send it. A marketing send needs a granted consent for its channel and
//! purpose; customers give (and withdraw) it in the customer's own systems, which tell Baton in
//! one of three ways, each mapped by configuration (`[engine.consent]`):
//!
//! - a trait on `identify` (`email_opt_in: true`);
//! - Segment's consent context (`context.consent.categoryPreferences: {"marketing": true}`);
//! - a subscribe or unsubscribe event (`unsubscribed` with `channel: "sms"`).
//!
//! Every change is kept in the profile's consent history with its time and source, the proof a
//! data protection officer asks for. The defaults make a profile identified with an email and
//! `email_opt_in: true` reachable by an email marketing campaign with no manual step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::profile::{ConsentState, DEFAULT_CONSENT_HISTORY, Profile};

/// Where consent decisions come from, and how many changes each profile keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsentSources {
    /// Traits that carry a decision, by trait name: the `channel:purpose` keys each decides.
    /// `true`, `"yes"`, `"opted_in"`, `"subscribed"`, `"granted"` grant; `false`, `"no"`,
    /// `"opted_out"`, `"unsubscribed"`, `"denied"` deny; any other value decides nothing.
    pub traits: BTreeMap<String, Vec<String>>,
    /// Categories of Segment's `context.consent.categoryPreferences`: the keys each decides.
    pub categories: BTreeMap<String, Vec<String>>,
    /// Events that grant `channel:purpose`, read from the event's `channel` (default `email`)
    /// and `purpose` (default `marketing`) properties.
    pub subscribe_events: Vec<String>,
    /// Events that deny it, read the same way.
    pub unsubscribe_events: Vec<String>,
    /// Consent changes each profile keeps, the oldest dropped first.
    pub history_limit: usize,
}

impl Default for ConsentSources {
    fn default() -> Self {
        let keys = |keys: &[&str]| keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>();
        let marketing = keys(&["email:marketing", "sms:marketing", "push:marketing"]);
        ConsentSources {
            traits: BTreeMap::from([
                ("email_opt_in".to_owned(), keys(&["email:marketing"])),
                ("sms_opt_in".to_owned(), keys(&["sms:marketing"])),
                ("push_opt_in".to_owned(), keys(&["push:marketing"])),
                ("marketing_opt_in".to_owned(), marketing.clone()),
            ]),
            categories: BTreeMap::from([("marketing".to_owned(), marketing)]),
            subscribe_events: vec!["subscribed".into(), "Subscribed".into()],
            unsubscribe_events: vec!["unsubscribed".into(), "Unsubscribed".into()],
            history_limit: DEFAULT_CONSENT_HISTORY,
        }
    }
}

/// What a source's message says about the person beyond traits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceFacts {
    /// The IANA time zone (`context.timezone`), already checked.
    pub timezone: Option<String>,
    /// The locale (`context.locale`).
    pub locale: Option<String>,
    /// Consent categories and whether each is given (`context.consent.categoryPreferences`).
    pub categories: BTreeMap<String, bool>,
}

impl SourceFacts {
    /// Whether the message says anything about the person.
    pub fn is_empty(&self) -> bool {
        self.timezone.is_none() && self.locale.is_none() && self.categories.is_empty()
    }
}

/// A trait's value read as a consent decision, if it is one.
fn decision(value: &serde_json::Value) -> Option<ConsentState> {
    match value {
        serde_json::Value::Bool(true) => Some(ConsentState::Granted),
        serde_json::Value::Bool(false) => Some(ConsentState::Denied),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(1) => Some(ConsentState::Granted),
            Some(0) => Some(ConsentState::Denied),
            _ => None,
        },
        serde_json::Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "on" | "opted_in" | "opt_in" | "subscribed" | "granted" => {
                Some(ConsentState::Granted)
            }
            "false" | "no" | "n" | "0" | "off" | "opted_out" | "opt_out" | "unsubscribed" | "denied" => {
                Some(ConsentState::Denied)
            }
            _ => None,
        },
        _ => None,
    }
}

impl ConsentSources {
    /// Applies what a message's traits and facts decide to `profile`, at `now`.
    pub(crate) fn apply(
        &self,
        profile: &mut Profile,
        traits: &serde_json::Map<String, serde_json::Value>,
        facts: &SourceFacts,
        now: i64,
    ) {
        for (name, keys) in &self.traits {
            if let Some(state) = traits.get(name).and_then(decision) {
                for key in keys {
                    profile.record_consent(key, state, now, &format!("trait:{name}"), self.history_limit);
                }
            }
        }
        for (category, given) in &facts.categories {
            let state = if *given { ConsentState::Granted } else { ConsentState::Denied };
            for key in self.categories.get(category).into_iter().flatten() {
                let source = format!("context.consent:{category}");
                profile.record_consent(key, state, now, &source, self.history_limit);
            }
        }
        if let Some(tz) = &facts.timezone {
            profile.timezone = Some(tz.clone());
        }
        if let Some(locale) = &facts.locale {
            profile.locale = Some(locale.clone());
        }
    }

    /// The decision an event carries, if its name is a subscribe or unsubscribe event:
    /// (`channel:purpose`, state).
    pub(crate) fn of_event(
        &self,
        name: &str,
        properties: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<(String, ConsentState)> {
        let state = if self.subscribe_events.iter().any(|e| e == name) {
            ConsentState::Granted
        } else if self.unsubscribe_events.iter().any(|e| e == name) {
            ConsentState::Denied
        } else {
            return None;
        };
        let text = |key: &str, default: &str| {
            properties
                .get(key)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .unwrap_or(default)
                .to_owned()
        };
        Some((format!("{}:{}", text("channel", "email"), text("purpose", "marketing")), state))
    }

    /// Every event name that decides consent, for the ingest path to queue.
    pub(crate) fn event_names(&self) -> impl Iterator<Item = &String> {
        self.subscribe_events.iter().chain(&self.unsubscribe_events)
    }

    /// The first fault of this configuration, said so it can be fixed.
    pub(crate) fn problem(&self) -> Option<String> {
        let bad_key = |key: &String| key.split_once(':').is_none_or(|(c, p)| c.is_empty() || p.is_empty());
        for (what, map) in [("traits", &self.traits), ("categories", &self.categories)] {
            for (name, keys) in map {
                if let Some(key) = keys.iter().find(|k| bad_key(k)) {
                    return Some(format!(
                        "engine.consent.{what}.{name}: `{key}` is not channel:purpose (email:marketing)"
                    ));
                }
            }
        }
        (self.history_limit == 0).then(|| "engine.consent.history_limit: keep at least 1 change".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        serde_json::from_value(serde_json::json!({
            "id": "pr_0000000000000001", "identities": [], "attributes": {}, "consents": {},
            "timezone": null, "created_at": 0, "updated_at": 0
        }))
        .expect("profile")
    }

    #[test]
    fn traits_and_categories_decide_and_only_changes_are_kept() {
        let sources = ConsentSources::default();
        let mut p = profile();
        let traits = serde_json::json!({"email_opt_in": "yes", "sms_opt_in": "maybe"});
        let traits = traits.as_object().expect("object");
        sources.apply(&mut p, traits, &SourceFacts::default(), 10);
        assert_eq!(p.consent("email", "marketing"), Some(ConsentState::Granted));
        assert_eq!(p.consent("sms", "marketing"), None, "`maybe` decides nothing");
        // The same decision again is not a change.
        sources.apply(&mut p, traits, &SourceFacts::default(), 20);
        assert_eq!(p.consent_history.len(), 1);
        assert_eq!(p.consent_history[0].source, "trait:email_opt_in");

        let facts =
            SourceFacts { categories: BTreeMap::from([("marketing".into(), false)]), ..Default::default() };
        sources.apply(&mut p, &serde_json::Map::new(), &facts, 30);
        assert_eq!(p.consent("email", "marketing"), Some(ConsentState::Denied));
        let sources_seen: Vec<&str> = p.consent_history.iter().map(|c| c.source.as_str()).collect();
        assert_eq!(
            sources_seen,
            [
                "trait:email_opt_in",
                "context.consent:marketing",
                "context.consent:marketing",
                "context.consent:marketing"
            ]
        );
    }

    #[test]
    fn the_history_keeps_the_newest_changes() {
        let sources = ConsentSources { history_limit: 2, ..ConsentSources::default() };
        let mut p = profile();
        for (at, opt) in [(1, true), (2, false), (3, true)] {
            let traits = serde_json::json!({ "email_opt_in": opt });
            sources.apply(&mut p, traits.as_object().expect("object"), &SourceFacts::default(), at);
        }
        let kept: Vec<i64> = p.consent_history.iter().map(|c| c.at).collect();
        assert_eq!(kept, [2, 3]);
    }

    #[test]
    fn events_decide_for_their_channel_and_bad_keys_are_named() {
        let sources = ConsentSources::default();
        let props = serde_json::json!({"channel": "sms"});
        assert_eq!(
            sources.of_event("unsubscribed", props.as_object().expect("object")),
            Some(("sms:marketing".into(), ConsentState::Denied))
        );
        assert_eq!(sources.of_event("page", &serde_json::Map::new()), None);
        let mut bad = ConsentSources::default();
        bad.traits.insert("opt".into(), vec!["email".into()]);
        assert_eq!(
            bad.problem().as_deref(),
            Some("engine.consent.traits.opt: `email` is not channel:purpose (email:marketing)")
        );
    }
}
