//! `personalize-offers`: next best offer. From the offers in the binding config, picks the
//! highest-ranked one whose `when` condition (the `baton_sdk::conditions` language) the profile
//! meets, puts it in the message's `data.offer`, and fills `{{offer.FIELD}}` placeholders in the
//! subject, body and HTML.
//!
//! ```json
//! {"offers": [
//!   {"id": "vip-20", "rank": 100, "title": "20% off for VIPs", "when": {"attribute": "tier", "op": "eq", "value": "vip"}},
//!   {"id": "free-shipping", "rank": 10, "title": "Free shipping"}
//! ], "required": false}
//! ```
//!
//! Ties in rank go to the offer listed first. With no eligible offer the message is left as it is,
//! unless `required` is true, in which case the send fails with `no_eligible_offer`.

use baton_sdk::conditions::{Condition, parse};
use baton_sdk::*;
use serde::Deserialize;

/// The plugin.
pub struct Offers;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    offers: Vec<Offer>,
    #[serde(default)]
    required: bool,
}

#[derive(Debug, Deserialize)]
struct Offer {
    id: String,
    #[serde(default)]
    rank: i64,
    #[serde(default)]
    when: Option<serde_json::Value>,
    #[serde(flatten)]
    fields: serde_json::Map<String, serde_json::Value>,
}

/// Parses the config and every offer's condition, naming the JSON pointer of the first fault.
fn load(config: &str) -> Result<(Config, Vec<Option<Condition>>), ConfigError> {
    let config: Config = serde_json::from_str(config).map_err(|e| ConfigError::new("", &e.to_string()))?;
    if config.offers.is_empty() {
        return Err(ConfigError::new("/offers", "needs at least one offer"));
    }
    let mut conditions = Vec::with_capacity(config.offers.len());
    for (i, offer) in config.offers.iter().enumerate() {
        if offer.id.trim().is_empty() {
            return Err(ConfigError::new(&format!("/offers/{i}/id"), "must not be empty"));
        }
        let condition = match &offer.when {
            Some(when) => Some(
                parse(when, &format!("/offers/{i}/when"))
                    .map_err(|(path, message)| ConfigError::new(&path, &message))?,
            ),
            None => None,
        };
        conditions.push(condition);
    }
    Ok((config, conditions))
}

impl Plugin for Offers {
    fn info() -> PluginInfo {
        PluginInfo::new("personalize-offers", env!("CARGO_PKG_VERSION"), PluginKind::Personalizer, "Next best offer: the highest-ranked offer the profile is eligible for, in data.offer and {{offer.*}} placeholders.")
            .with_needs(Needs::attributes(["*"]).with_events(["*"], None))
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        load(config).map(|_| ())
    }
}

impl Personalizer for Offers {
    fn personalize(
        invocation: Invocation,
        subject: Subject,
        mut template: Message,
    ) -> Result<Message, PluginError> {
        let (config, conditions) = load(&invocation.config)
            .map_err(|e| PluginError::new("invalid_config", &format!("{}: {}", e.path, e.message)))?;
        let mut best: Option<&Offer> = None;
        for (offer, condition) in config.offers.iter().zip(&conditions) {
            let eligible = match condition {
                Some(condition) => condition.matches(&subject, invocation.now)?,
                None => true,
            };
            if eligible && best.is_none_or(|b| offer.rank > b.rank) {
                best = Some(offer);
            }
        }
        let Some(offer) = best else {
            if config.required {
                return Err(PluginError::new(
                    "no_eligible_offer",
                    &format!("no offer fits profile {}", subject.profile_id),
                ));
            }
            return Ok(template);
        };
        let mut value = offer.fields.clone();
        value.insert("id".into(), offer.id.clone().into());
        value.insert("rank".into(), offer.rank.into());
        let mut data: serde_json::Value =
            serde_json::from_str(&template.data).unwrap_or_else(|_| serde_json::json!({}));
        data["offer"] = serde_json::Value::Object(value.clone());
        template.data = data.to_string();
        let fill = |text: &str| {
            let mut out = text.to_owned();
            for (key, field) in &value {
                let shown = field.as_str().map(str::to_owned).unwrap_or_else(|| field.to_string());
                out = out.replace(&format!("{{{{offer.{key}}}}}"), &shown);
            }
            out
        };
        template.subject = template.subject.as_deref().map(fill);
        template.body = fill(&template.body);
        template.html = template.html.as_deref().map(fill);
        Ok(template)
    }
}

baton_sdk::personalizer!(Offers);

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"offers": [
        {"id": "free-shipping", "rank": 10, "title": "Free shipping", "code": "SHIP"},
        {"id": "vip-20", "rank": 100, "title": "20% off", "code": "VIP20", "when": {"attribute": "tier", "op": "eq", "value": "vip"}},
        {"id": "win-back", "rank": 50, "title": "We miss you", "when": {"event": "order_completed", "count": {"op": "eq", "value": 0}}}
    ]}"#;

    fn subject(tier: &str, orders: usize) -> Subject {
        Subject {
            profile_id: "pr_1".into(),
            attributes: vec![Attribute { name: "tier".into(), value: Value::Text(tier.into()) }],
            events: (0..orders)
                .map(|i| Event {
                    id: format!("o{i}"),
                    profile_id: "pr_1".into(),
                    name: "order_completed".into(),
                    timestamp: 0,
                    properties: "{}".into(),
                    campaign_id: None,
                })
                .collect(),
            timezone: None,
            trigger: None,
        }
    }

    fn template() -> Message {
        Message {
            channel: "email".into(),
            recipient: "a@b.c".into(),
            subject: Some("{{offer.title}} inside".into()),
            body: "Use {{offer.code}} ({{offer.id}})".into(),
            html: None,
            variant_id: None,
            data: r#"{"campaign": "x"}"#.into(),
            idempotency_key: "k".into(),
        }
    }

    fn pick(tier: &str, orders: usize) -> Message {
        let invocation = Invocation { campaign_id: "c".into(), config: CONFIG.into(), now: 1, seed: 0 };
        Offers::personalize(invocation, subject(tier, orders), template()).unwrap()
    }

    #[test]
    fn the_highest_ranked_eligible_offer_wins() {
        let vip = pick("vip", 0);
        assert_eq!(vip.subject.as_deref(), Some("20% off inside"));
        assert_eq!(vip.body, "Use VIP20 (vip-20)");
        let data: serde_json::Value = serde_json::from_str(&vip.data).unwrap();
        assert_eq!(data["offer"]["id"], "vip-20");
        assert_eq!(data["campaign"], "x");
        // The win-back offer has no `code`: its placeholder is left as it is.
        assert_eq!(pick("basic", 0).body, "Use {{offer.code}} (win-back)");
        assert_eq!(pick("basic", 3).body, "Use SHIP (free-shipping)");
    }

    #[test]
    fn required_offers_and_config_faults() {
        let config = r#"{"offers": [{"id": "x", "when": {"attribute": "tier", "op": "eq", "value": "gold"}}], "required": true}"#;
        let invocation = Invocation { campaign_id: "c".into(), config: config.into(), now: 1, seed: 0 };
        assert_eq!(
            Offers::personalize(invocation, subject("vip", 0), template()).unwrap_err().code,
            "no_eligible_offer"
        );
        assert_eq!(
            Offers::validate_config(
                r#"{"offers": [{"id": "a"}, {"id": "b", "when": {"attribute": "x", "op": "near"}}]}"#
            )
            .unwrap_err()
            .path,
            "/offers/1/when/op"
        );
        assert_eq!(Offers::validate_config(r#"{"offers": []}"#).unwrap_err().path, "/offers");
    }
}
