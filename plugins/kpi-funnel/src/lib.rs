//! `kpi-funnel`: the campaign funnel from its events, each rate with its numerator and
//! denominator stated.
//!
//! Counted from the campaign's record: `message_delivered`, `message_rejected`, `message_failed`
//! (the host's delivery outcomes) and the response events named in the config (defaults:
//! `email_opened`, `email_clicked`, `campaign_conversion`, `unsubscribed`, `bounced`). Opens,
//! clicks, conversions and unsubscribes count unique profiles.
//!
//! Conversions are by default the host's `campaign_conversion` events: the conversions the
//! campaign's own definition finds in its recipients' events within the window, the same ones its
//! results and ROMI count. Revenue sums their `value` (both configurable); the control group's
//! conversions (`"group": "control"`) are not the campaign's and are left out.

use std::collections::HashMap;

use baton_sdk::*;
use serde::Deserialize;

/// The plugin.
pub struct Funnel;

/// Event names and the revenue property.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    opened: Vec<String>,
    clicked: Vec<String>,
    converted: Vec<String>,
    unsubscribed: Vec<String>,
    bounced: Vec<String>,
    revenue_property: String,
    currency: String,
}

impl Default for Config {
    fn default() -> Self {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect();
        Config {
            opened: names(&["email_opened"]),
            clicked: names(&["email_clicked"]),
            converted: names(&["campaign_conversion"]),
            unsubscribed: names(&["unsubscribed"]),
            bounced: names(&["bounced"]),
            revenue_property: "value".into(),
            currency: "EUR".into(),
        }
    }
}

/// Running counts; memory grows with distinct responding profiles, not with events.
#[derive(Default)]
pub struct Counts {
    config: Config,
    delivered: u64,
    rejected: u64,
    failed: u64,
    /// What each responding profile did, one bit per [`Response`]: one entry per profile, not
    /// one per profile and response (a third of the memory over 10M events).
    responders: HashMap<Box<str>, u8>,
    /// Distinct profiles per [`Response`].
    unique: [u64; Response::COUNT],
    conversions: u64,
    revenue: f64,
}

/// The responses counted once per profile.
#[derive(Clone, Copy)]
enum Response {
    Opened,
    Clicked,
    Converted,
    Unsubscribed,
    Bounced,
}

impl Response {
    const COUNT: usize = 5;
}

impl Counts {
    /// Records that `profile` responded so; counts it the first time only.
    fn mark(&mut self, profile: String, response: Response) {
        let bit = 1u8 << response as u8;
        let seen = self.responders.entry(profile.into_boxed_str()).or_default();
        if *seen & bit == 0 {
            *seen |= bit;
            self.unique[response as usize] += 1;
        }
    }

    fn unique(&self, response: Response) -> f64 {
        self.unique[response as usize] as f64
    }
}

impl Plugin for Funnel {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "kpi-funnel",
            env!("CARGO_PKG_VERSION"),
            PluginKind::KpiCalculator,
            "Sent, delivered, open, click, click-to-open, unsubscribe, bounce and conversion rates, and revenue.",
        )
        .with_needs(Needs::none().with_events(["*"], None))
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        serde_json::from_str::<Config>(config).map(|_| ()).map_err(|e| ConfigError::new("", &e.to_string()))
    }
}

impl KpiCalculator for Funnel {
    type Accumulator = Counts;

    fn open(invocation: Invocation) -> Result<Counts, PluginError> {
        Ok(Counts { config: invocation.config()?, ..Counts::default() })
    }
}

impl Accumulator for Counts {
    fn add(&mut self, events: Vec<Event>) -> Result<(), PluginError> {
        for event in events {
            let is = |names: &[String]| names.iter().any(|n| *n == event.name);
            let response = match event.name.as_str() {
                "message_delivered" => {
                    self.delivered += 1;
                    continue;
                }
                "message_rejected" => {
                    self.rejected += 1;
                    continue;
                }
                "message_failed" => {
                    self.failed += 1;
                    continue;
                }
                _ if is(&self.config.opened) => Response::Opened,
                _ if is(&self.config.clicked) => Response::Clicked,
                _ if is(&self.config.converted) => {
                    let properties = event.properties_json()?;
                    if properties.get("group").and_then(|g| g.as_str()) == Some("control") {
                        continue;
                    }
                    self.conversions += 1;
                    self.revenue +=
                        properties.get(&self.config.revenue_property).and_then(|v| v.as_f64()).unwrap_or(0.0);
                    Response::Converted
                }
                _ if is(&self.config.unsubscribed) => Response::Unsubscribed,
                _ if is(&self.config.bounced) => Response::Bounced,
                _ => continue,
            };
            self.mark(event.profile_id, response);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<Metric>, PluginError> {
        let sent = (self.delivered + self.rejected + self.failed) as f64;
        let delivered = self.delivered as f64;
        let openers = self.unique(Response::Opened);
        let clickers = self.unique(Response::Clicked);
        let count = |name: &str, value: f64| metric(name, value, "count", None);
        let rate = |name: &str, numerator: f64, denominator: f64, of: &str| {
            let value = if denominator > 0.0 { numerator / denominator } else { 0.0 };
            metric(name, value, "ratio", Some((numerator, denominator, of)))
        };
        let bounces = self.unique(Response::Bounced) + self.rejected as f64;
        let mut revenue = metric("revenue", self.revenue, "currency", None);
        revenue.dimensions.push(("currency".into(), self.config.currency.clone()));
        Ok(vec![
            count("sent", sent),
            count("delivered", delivered),
            rate("delivery_rate", delivered, sent, "sent"),
            rate("open_rate", openers, delivered, "delivered"),
            rate("click_through_rate", clickers, delivered, "delivered"),
            rate("click_to_open_rate", clickers, openers, "unique openers"),
            rate("unsubscribe_rate", self.unique(Response::Unsubscribed), delivered, "delivered"),
            rate("bounce_rate", bounces, sent, "sent"),
            rate("conversion_rate", self.unique(Response::Converted), delivered, "delivered"),
            count("conversions", self.conversions as f64),
            revenue,
        ])
    }
}

fn metric(name: &str, value: f64, unit: &str, ratio: Option<(f64, f64, &str)>) -> Metric {
    Metric {
        name: name.into(),
        value,
        unit: unit.into(),
        numerator: ratio.map(|r| r.0),
        denominator: ratio.map(|r| r.1),
        denominator_name: ratio.map(|r| r.2.to_owned()),
        dimensions: Vec::new(),
    }
}

baton_sdk::kpi_calculator!(Funnel);

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, profile: &str, properties: &str) -> Event {
        Event {
            id: format!("{name}-{profile}"),
            profile_id: profile.into(),
            name: name.into(),
            timestamp: 0,
            properties: properties.into(),
            campaign_id: Some("c".into()),
        }
    }

    #[test]
    fn a_small_funnel_computed_by_hand() {
        let mut counts =
            Funnel::open(Invocation { campaign_id: "c".into(), config: "{}".into(), now: 0, seed: 0 })
                .unwrap();
        // 10 sends: 8 delivered, 1 rejected, 1 failed. 4 people open (one twice), 2 click,
        // 1 clicker converts twice (30 + 20), 1 unsubscribes, 1 bounce report.
        let mut events = Vec::new();
        for i in 0..8 {
            events.push(event("message_delivered", &format!("p{i}"), "{}"));
        }
        events.push(event("message_rejected", "p8", "{}"));
        events.push(event("message_failed", "p9", "{}"));
        for p in ["p0", "p1", "p2", "p3", "p0"] {
            events.push(event("email_opened", p, "{}"));
        }
        events.push(event("email_clicked", "p0", "{}"));
        events.push(event("email_clicked", "p1", "{}"));
        events.push(event("campaign_conversion", "p0", r#"{"value": 30, "group": "treated"}"#));
        events.push(event("campaign_conversion", "p0", r#"{"value": 20.5, "group": "treated"}"#));
        // A held-out profile's conversion is the control group's, not the campaign's.
        events.push(event("campaign_conversion", "c0", r#"{"value": 99, "group": "control"}"#));
        events.push(event("unsubscribed", "p3", "{}"));
        events.push(event("bounced", "p7", "{}"));
        let (first, second) = events.split_at(7);
        counts.add(first.to_vec()).unwrap();
        counts.add(second.to_vec()).unwrap();
        let metrics = counts.finish().unwrap();
        let get = |name: &str| metrics.iter().find(|m| m.name == name).unwrap();
        assert_eq!(get("sent").value, 10.0);
        assert_eq!(get("delivered").value, 8.0);
        assert_eq!(get("delivery_rate").value, 0.8);
        assert_eq!((get("open_rate").numerator, get("open_rate").denominator), (Some(4.0), Some(8.0)));
        assert_eq!(get("open_rate").value, 0.5);
        assert_eq!(get("click_through_rate").value, 0.25);
        assert_eq!(get("click_to_open_rate").value, 0.5);
        assert_eq!(get("click_to_open_rate").denominator_name.as_deref(), Some("unique openers"));
        assert_eq!(get("unsubscribe_rate").value, 0.125);
        assert_eq!(get("bounce_rate").value, 0.2, "one bounce report + one rejection over 10 sent");
        assert_eq!(get("conversion_rate").value, 0.125);
        assert_eq!(get("conversions").value, 2.0);
        assert_eq!(get("revenue").value, 50.5);
        assert_eq!(get("revenue").dimensions, vec![("currency".to_owned(), "EUR".to_owned())]);
    }

    #[test]
    fn empty_campaigns_have_zero_rates_not_nan() {
        let mut counts =
            Funnel::open(Invocation { campaign_id: "c".into(), config: "{}".into(), now: 0, seed: 0 })
                .unwrap();
        assert!(counts.finish().unwrap().iter().all(|m| m.value == 0.0));
        assert!(Funnel::validate_config(r#"{"opened": "x"}"#).is_err());
        assert!(Funnel::validate_config(r#"{"opened": ["x"], "revenue_property": "amount"}"#).is_ok());
    }
}
