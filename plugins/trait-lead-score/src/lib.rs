//! `trait-lead-score`: a computed trait, `lead_score`, from points per event and per attribute
//! rule, with event points that decay over time (as Mautic's points and Unomi's scoring plans).
//!
//! ```json
//! {"events": {"page": 1, "email_clicked": 5, "demo_requested": 30},
//!  "rules": [{"when": {"attribute": "job_title", "op": "contains", "value": "VP"}, "points": 20}],
//!  "half_life_days": 30,
//!  "max": 100}
//! ```
//!
//! - `events`: points each event of that name earns (negative points for `email_unsubscribed`
//!   and the like are allowed).
//! - `rules`: points a profile earns while a condition tree (the `segment-conditions` language)
//!   holds for it; they do not decay.
//! - `half_life_days`: an event's points halve every this many days after it happened; absent,
//!   points never decay.
//! - `max`: the score is capped here (and floored at `-max`); absent, no cap.
//!
//! The score is recomputed from the profile's scored events on every call, so an incremental
//! update (one new event) and a bulk recompute give the same number, and an event arriving late
//! or twice never counts twice (the host stores events once, by id).

use std::collections::BTreeMap;

use baton_sdk::conditions::{Condition, parse};
use baton_sdk::*;
use serde::Deserialize;

/// The plugin.
pub struct LeadScore;

/// The trait this plugin writes.
const TRAIT: &str = "lead_score";

const DAY_MS: f64 = 86_400_000.0;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    events: BTreeMap<String, f64>,
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default)]
    half_life_days: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    when: serde_json::Value,
    points: f64,
}

/// A config whose rules are parsed.
struct Plan {
    config: Config,
    rules: Vec<(Condition, f64)>,
}

fn plan(config: &str) -> Result<Plan, ConfigError> {
    let config: Config = serde_json::from_str(config).map_err(|e| ConfigError::new("", &e.to_string()))?;
    if config.events.is_empty() && config.rules.is_empty() {
        return Err(ConfigError::new("", "give `events` (points per event name) or `rules`, or both"));
    }
    if let Some((name, _)) = config.events.iter().find(|(_, p)| !p.is_finite()) {
        return Err(ConfigError::new(&format!("/events/{name}"), "points must be a finite number"));
    }
    if config.half_life_days.is_some_and(|d| !(d.is_finite() && d > 0.0)) {
        return Err(ConfigError::new("/half_life_days", "must be a positive number of days"));
    }
    if config.max.is_some_and(|m| !(m.is_finite() && m > 0.0)) {
        return Err(ConfigError::new("/max", "must be a positive number"));
    }
    let mut rules = Vec::new();
    for (i, rule) in config.rules.iter().enumerate() {
        let path = format!("/rules/{i}/when");
        let condition =
            parse(&rule.when, &path).map_err(|(path, message)| ConfigError::new(&path, &message))?;
        if !rule.points.is_finite() {
            return Err(ConfigError::new(&format!("/rules/{i}/points"), "must be a finite number"));
        }
        rules.push((condition, rule.points));
    }
    Ok(Plan { config, rules })
}

impl Plan {
    fn score(&self, subject: &Subject, now: i64) -> Result<f64, PluginError> {
        let mut score = 0.0;
        for event in subject.events.iter().filter(|e| e.timestamp <= now) {
            let Some(points) = self.config.events.get(&event.name) else { continue };
            let age_days = (now - event.timestamp) as f64 / DAY_MS;
            score += match self.config.half_life_days {
                Some(half_life) => points * 0.5f64.powf(age_days / half_life),
                None => *points,
            };
        }
        for (condition, points) in &self.rules {
            if condition.matches(subject, now)? {
                score += points;
            }
        }
        if let Some(max) = self.config.max {
            score = score.clamp(-max, max);
        }
        // Two decimals: enough for a score, and stable to compare in segments.
        Ok((score * 100.0).round() / 100.0)
    }
}

impl Plugin for LeadScore {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "trait-lead-score",
            env!("CARGO_PKG_VERSION"),
            PluginKind::ComputedTrait,
            "A lead score from points per event and attribute rule, decaying over time.",
        )
        .with_needs(Needs::attributes(["*"]).with_events(["*"], None))
        .with_provides([TRAIT])
        .with_config_schema(
            r#"{"type":"object","properties":{"events":{"type":"object","additionalProperties":{"type":"number"}},"rules":{"type":"array"},"half_life_days":{"type":"number","exclusiveMinimum":0},"max":{"type":"number","exclusiveMinimum":0}}}"#,
        )
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        plan(config).map(|_| ())
    }

    /// The scored events, and the attributes the rules read.
    fn needs_for_config(config: &str) -> Needs {
        let Ok(plan) = plan(config) else { return Self::info().needs };
        let mut attributes: Vec<String> = Vec::new();
        let mut events: Vec<String> = plan.config.events.keys().cloned().collect();
        for (condition, _) in &plan.rules {
            let reads = condition.reads();
            attributes.extend(reads.attributes);
            events.extend(reads.events);
        }
        attributes.sort();
        attributes.dedup();
        events.sort();
        events.dedup();
        Needs::attributes(attributes.iter().map(String::as_str))
            .with_events(events.iter().map(String::as_str), None)
    }
}

impl ComputedTrait for LeadScore {
    fn compute(invocation: Invocation, subjects: Vec<Subject>) -> Result<Vec<Vec<Attribute>>, PluginError> {
        let plan = plan(&invocation.config).map_err(|e| PluginError::new("invalid_config", &e.message))?;
        subjects
            .iter()
            .map(|subject| {
                Ok(vec![Attribute::new(TRAIT, Value::Float(plan.score(subject, invocation.now)?))])
            })
            .collect()
    }
}

baton_sdk::computed_trait!(LeadScore);

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, at: i64) -> Event {
        Event {
            id: format!("{name}-{at}"),
            profile_id: "p".into(),
            name: name.into(),
            timestamp: at,
            properties: "{}".into(),
            campaign_id: None,
        }
    }

    fn subject(events: Vec<Event>, title: &str) -> Subject {
        Subject {
            profile_id: "p".into(),
            attributes: vec![Attribute::new("job_title", Value::Text(title.into()))],
            events,
            timezone: None,
            trigger: None,
        }
    }

    fn score(config: &str, subject: Subject, now: i64) -> f64 {
        let invocation = Invocation { campaign_id: String::new(), config: config.into(), now, seed: 0 };
        match &LeadScore::compute(invocation, vec![subject]).unwrap()[0][0].value {
            Value::Float(score) => *score,
            other => panic!("not a float: {other:?}"),
        }
    }

    #[test]
    fn points_add_up_decay_by_half_life_and_are_capped() {
        let day = DAY_MS as i64;
        let config = r#"{"events": {"page": 1, "demo_requested": 30},
                         "rules": [{"when": {"attribute": "job_title", "op": "contains", "value": "VP"}, "points": 20}],
                         "half_life_days": 10}"#;
        let events = vec![event("page", 0), event("demo_requested", 10 * day), event("ignored", 10 * day)];
        // At day 20: the page is two half-lives old (0.25), the demo one (15), the VP rule 20.
        assert_eq!(score(config, subject(events.clone(), "VP Sales"), 20 * day), 35.25);
        assert_eq!(score(config, subject(events.clone(), "Intern"), 20 * day), 15.25);
        let capped = r#"{"events": {"demo_requested": 30}, "max": 10}"#;
        assert_eq!(score(capped, subject(events, "Intern"), 20 * day), 10.0);
    }

    #[test]
    fn configs_are_checked_and_needs_follow_the_config() {
        assert_eq!(LeadScore::validate_config("{}").unwrap_err().path, "");
        assert_eq!(
            LeadScore::validate_config(r#"{"events": {"a": 1}, "half_life_days": 0}"#).unwrap_err().path,
            "/half_life_days"
        );
        assert_eq!(
            LeadScore::validate_config(r#"{"rules": [{"when": {"attribute": ""}, "points": 1}]}"#)
                .unwrap_err()
                .path,
            "/rules/0/when/attribute"
        );
        let needs = LeadScore::needs_for_config(
            r#"{"events": {"page": 1}, "rules": [{"when": {"attribute": "plan", "op": "eq", "value": "pro"}, "points": 5}]}"#,
        );
        assert_eq!(
            (needs.attributes, needs.events, needs.event_window),
            (vec!["plan".to_owned()], vec!["page".to_owned()], None)
        );
        assert_eq!(LeadScore::info().provides, vec!["lead_score"]);
    }
}
