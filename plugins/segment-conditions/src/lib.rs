//! `segment-conditions`: a segment defined as a JSON condition tree in the binding config.
//!
//! ```json
//! {"all": [
//!   {"attribute": "plan", "op": "in", "value": ["pro", "team"]},
//!   {"event": "order_completed", "count": {"op": "gte", "value": 2}, "within_ms": 2592000000,
//!    "where": {"currency": "EUR"}},
//!   {"not": {"last_performed": "email_unsubscribed", "within_ms": 7776000000}},
//!   {"bucket": {"salt": "spring", "percent": 20}}
//! ]}
//! ```
//!
//! - Attribute conditions: `eq`, `ne`, `exists`, `not_exists`, `gt`, `gte`, `lt`, `lte`,
//!   `contains` (text or list), `in` (list), `within_ms` (a timestamp attribute at most this old),
//!   `older_than_ms`.
//! - Event conditions: performed an event `count` times (`gte`, `lte`, `eq`, ...), optionally with
//!   property filters (`where`) and a window (`within_ms`); `{"op": "eq", "value": 0}` means
//!   "not performed within".
//! - `last_performed`: the newest event of that name happened within the window.
//! - `all`, `any`, `not` nest; `bucket` puts a deterministic share of profiles in.
//! - Values compare as a marketer expects: numbers and numeric text as numbers, ISO-8601 dates as
//!   points in time, blank text as not set; `address.city` reads into a JSON trait. Every node,
//!   with an example, is in sdk/GUIDE.md ("The condition language").
//!
//! `validate-config` refuses an invalid tree with the JSON pointer of the fault. The language lives
//! in `baton_sdk::conditions`, so other plugins can use it too.

use baton_sdk::conditions::parse;
use baton_sdk::*;

/// The plugin: evaluates the binding's condition tree for each subject.
pub struct Conditions;

impl Plugin for Conditions {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "segment-conditions",
            env!("CARGO_PKG_VERSION"),
            PluginKind::SegmentRule,
            "A no-code segment: a JSON condition tree over profile attributes and events.",
        )
        .with_needs(Needs::attributes(["*"]).with_events(["*"], None))
        .with_config_schema(r#"{"type":"object","description":"A condition tree: all, any, not, attribute, event, last_performed, bucket."}"#)
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        let value: serde_json::Value =
            serde_json::from_str(config).map_err(|e| ConfigError::new("", &format!("not JSON: {e}")))?;
        parse(&value, "").map(|_| ()).map_err(|(path, message)| ConfigError::new(&path, &message))
    }

    /// Only what the tree reads: two attributes and one event within 30 days load two
    /// attributes and 30 days of one event, not every profile's whole history.
    fn needs_for_config(config: &str) -> Needs {
        let tree = serde_json::from_str::<serde_json::Value>(config).ok().and_then(|v| parse(&v, "").ok());
        match tree {
            Some(tree) => tree.reads().needs(),
            // The host validated the config first; should it not parse, read all (still correct).
            None => Self::info().needs,
        }
    }
}

impl SegmentRule for Conditions {
    fn evaluate(invocation: Invocation, subjects: Vec<Subject>) -> Result<Vec<Membership>, PluginError> {
        let value: serde_json::Value = invocation.config()?;
        let tree = parse(&value, "")
            .map_err(|(path, message)| PluginError::new("invalid_config", &format!("{path}: {message}")))?;
        let now = invocation.now;
        subjects
            .iter()
            .map(|subject| {
                let member = tree.matches(subject, now)?;
                Ok(Membership::from(member).recheck_at(tree.next_change(subject, now)))
            })
            .collect()
    }
}

baton_sdk::segment_rule!(Conditions);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_a_batch_through_the_contract() {
        let invocation = Invocation {
            campaign_id: "c".into(),
            config: r#"{"attribute": "plan", "op": "eq", "value": "pro"}"#.into(),
            now: 0,
            seed: 0,
        };
        let subject = |id: &str, plan: &str| Subject {
            profile_id: id.into(),
            attributes: vec![Attribute { name: "plan".into(), value: Value::Text(plan.into()) }],
            events: vec![],
            timezone: None,
            trigger: None,
        };
        let verdicts =
            Conditions::evaluate(invocation, vec![subject("a", "pro"), subject("b", "free")]).unwrap();
        assert_eq!(verdicts.iter().map(|m| m.member).collect::<Vec<_>>(), vec![true, false]);
        assert_eq!(
            Conditions::validate_config(r#"{"all": [{"event": ""}]}"#),
            Err(ConfigError::new("/all/0/event", "must be a non-empty string"))
        );
        assert_eq!(Conditions::info().name, "segment-conditions");
    }

    #[test]
    fn a_binding_needs_only_what_its_tree_reads() {
        let needs = Conditions::needs_for_config(
            r#"{"all": [
                {"attribute": "plan", "op": "in", "value": ["pro"]},
                {"not": {"attribute": "country", "op": "exists"}},
                {"event": "order_completed", "count": {"op": "gte", "value": 2}, "within_ms": 1000},
                {"any": [{"last_performed": "email_opened", "within_ms": 5000}, {"bucket": {"salt": "s", "percent": 5}}]}
            ]}"#,
        );
        assert_eq!(needs.attributes, vec!["country", "plan"]);
        assert_eq!(needs.events, vec!["email_opened", "order_completed"]);
        assert_eq!(needs.event_window, Some(5000));

        let whole_history =
            Conditions::needs_for_config(r#"{"event": "login", "count": {"op": "eq", "value": 0}}"#);
        assert_eq!(
            (whole_history.attributes.len(), whole_history.events.clone(), whole_history.event_window),
            (0, vec!["login".to_owned()], None)
        );

        let attributes_only =
            Conditions::needs_for_config(r#"{"attribute": "tier", "op": "eq", "value": "vip"}"#);
        assert!(attributes_only.events.is_empty(), "{attributes_only:?}");
    }
}
