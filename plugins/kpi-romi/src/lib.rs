//! `kpi-romi`: what a campaign cost and what it brought, against its control group.
//!
//! Costs come from the binding config: `{"fixed": 500, "per_message": 0.002}` (per message sent).
//! Treated profiles are those the campaign delivered to; held-out profiles are those with a
//! `control_assigned` event. Conversions are by default the host's `campaign_conversion` events
//! (what the campaign's conversion definition finds in each group's own events within the
//! window: after the message for recipients, after assignment for the control group), so ROMI
//! and lift count exactly the conversions the campaign's results and funnel count; revenue is
//! their `value`. Both are configurable.
//!
//! - `cost` = fixed + per_message × messages sent
//! - `cost_per_lead` = cost / leads (profiles with a lead event, default `email_clicked`)
//! - `customer_acquisition_cost` = cost / treated converters
//! - `roas` = treated revenue / cost
//! - `roi` = (treated revenue − cost) / cost
//! - with a control group: `lift` = (treated conversion rate − control rate) / control rate,
//!   `incremental_conversions` = (treated rate − control rate) × treated,
//!   `incremental_revenue` = (revenue per treated − revenue per held-out) × treated,
//!   `romi` = (incremental revenue × margin − cost) / cost (`margin` from config, default 1).
//!   Lift is left out when no held-out profile converted (it would divide by zero).

use std::collections::HashMap;

use baton_sdk::*;
use serde::Deserialize;

/// The plugin.
pub struct Romi;

/// The binding config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    fixed: f64,
    per_message: f64,
    margin: f64,
    conversion_events: Vec<String>,
    lead_events: Vec<String>,
    revenue_property: String,
    currency: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            fixed: 0.0,
            per_message: 0.0,
            margin: 1.0,
            conversion_events: vec!["campaign_conversion".into()],
            lead_events: vec!["email_clicked".into()],
            revenue_property: "value".into(),
            currency: "EUR".into(),
        }
    }
}

/// Running state: one small entry per profile the campaign reached or that responded, never the
/// events themselves.
#[derive(Default)]
pub struct Ledger {
    config: Config,
    sent: u64,
    /// Keyed by profile id; `Box<str>` and a 16-byte value keep an entry at 32 bytes, since
    /// this map is what grows with the audience.
    customers: HashMap<Box<str>, Customer>,
}

/// What one profile did, as far as the campaign's return is concerned.
#[derive(Default)]
struct Customer {
    treated: bool,
    control: bool,
    lead: bool,
    converted: bool,
    revenue: f64,
}

/// Profiles, converters and their revenue in one group (treated or held out).
#[derive(Default)]
struct Group {
    members: f64,
    converters: f64,
    revenue: f64,
}

impl Group {
    fn count(&mut self, customer: &Customer) {
        self.members += 1.0;
        if customer.converted {
            self.converters += 1.0;
            self.revenue += customer.revenue;
        }
    }
}

impl Plugin for Romi {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "kpi-romi",
            env!("CARGO_PKG_VERSION"),
            PluginKind::KpiCalculator,
            "Cost per lead, customer acquisition cost, ROAS, ROI and ROMI, with lift and incremental conversions from the control group.",
        )
        .with_needs(Needs::none().with_events(["*"], None))
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        let config: Config =
            serde_json::from_str(config).map_err(|e| ConfigError::new("", &e.to_string()))?;
        for (path, value) in [("/fixed", config.fixed), ("/per_message", config.per_message)] {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(ConfigError::new(path, "must be a cost of 0 or more"));
            }
        }
        if !(config.margin > 0.0 && config.margin <= 1.0) {
            return Err(ConfigError::new("/margin", "must be a gross margin above 0 and at most 1"));
        }
        Ok(())
    }
}

impl KpiCalculator for Romi {
    type Accumulator = Ledger;

    fn open(invocation: Invocation) -> Result<Ledger, PluginError> {
        Ok(Ledger { config: invocation.config()?, ..Ledger::default() })
    }
}

impl Ledger {
    fn customer(&mut self, profile: String) -> &mut Customer {
        self.customers.entry(profile.into_boxed_str()).or_default()
    }
}

impl Accumulator for Ledger {
    fn add(&mut self, events: Vec<Event>) -> Result<(), PluginError> {
        for mut event in events {
            let profile = std::mem::take(&mut event.profile_id);
            match event.name.as_str() {
                "message_delivered" => {
                    self.sent += 1;
                    self.customer(profile).treated = true;
                }
                "message_rejected" | "message_failed" => self.sent += 1,
                "control_assigned" => self.customer(profile).control = true,
                name if self.config.conversion_events.iter().any(|n| n == name) => {
                    let revenue = event
                        .properties_json()?
                        .get(&self.config.revenue_property)
                        .and_then(|v| v.as_f64())
                        .unwrap_or(0.0);
                    let entry = self.customer(profile);
                    entry.converted = true;
                    entry.revenue += revenue;
                }
                name if self.config.lead_events.iter().any(|n| n == name) => {
                    self.customer(profile).lead = true
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<Metric>, PluginError> {
        let c = &self.config;
        let cost = c.fixed + c.per_message * self.sent as f64;
        let (mut treated, mut control, mut leads) = (Group::default(), Group::default(), 0.0);
        for customer in self.customers.values() {
            if customer.treated {
                treated.count(customer);
            }
            if customer.control {
                control.count(customer);
            }
            if customer.lead {
                leads += 1.0;
            }
        }
        let Group { members: treated, converters: treated_converters, revenue: treated_revenue } = treated;
        let money = |name: &str, value: f64| {
            let mut m = metric(name, value, "currency", None);
            m.dimensions.push(("currency".into(), c.currency.clone()));
            m
        };
        let ratio = |name: &str, numerator: f64, denominator: f64, of: &str| {
            let value = if denominator > 0.0 { numerator / denominator } else { 0.0 };
            metric(name, value, "ratio", Some((numerator, denominator, of)))
        };
        let per = |name: &str, numerator: f64, denominator: f64, of: &str| {
            let mut m = ratio(name, numerator, denominator, of);
            m.unit = "currency".into();
            m.dimensions.push(("currency".into(), c.currency.clone()));
            m
        };
        let mut metrics = vec![
            money("cost", cost),
            metric("messages_sent", self.sent as f64, "count", None),
            metric("treated", treated, "count", None),
            metric("treated_converters", treated_converters, "count", None),
            money("revenue", treated_revenue),
            per("cost_per_lead", cost, leads, "leads"),
            per("customer_acquisition_cost", cost, treated_converters, "treated converters"),
            ratio("roas", treated_revenue, cost, "cost"),
            ratio("roi", treated_revenue - cost, cost, "cost"),
        ];
        if control.members > 0.0 {
            let Group { members: held_out, converters: control_converters, revenue: control_revenue } =
                control;
            let treated_rate = if treated > 0.0 { treated_converters / treated } else { 0.0 };
            let control_rate = control_converters / held_out;
            let incremental_conversions = (treated_rate - control_rate) * treated;
            let revenue_per_treated = if treated > 0.0 { treated_revenue / treated } else { 0.0 };
            let incremental_revenue = (revenue_per_treated - control_revenue / held_out) * treated;
            metrics.extend([
                metric("held_out", held_out, "count", None),
                ratio("treated_conversion_rate", treated_converters, treated, "treated"),
                ratio("control_conversion_rate", control_converters, held_out, "held out"),
                metric("incremental_conversions", incremental_conversions, "count", None),
                money("incremental_revenue", incremental_revenue),
                ratio("romi", incremental_revenue * c.margin - cost, cost, "cost"),
            ]);
            // Lift is relative to the control rate: undefined when no held-out profile converted.
            if control_rate > 0.0 {
                metrics.push(ratio(
                    "lift",
                    treated_rate - control_rate,
                    control_rate,
                    "control conversion rate",
                ));
            }
        }
        Ok(metrics)
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

baton_sdk::kpi_calculator!(Romi);

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, profile: String, properties: &str) -> Event {
        Event {
            id: String::new(),
            profile_id: profile,
            name: name.into(),
            timestamp: 0,
            properties: properties.into(),
            campaign_id: None,
        }
    }

    fn ledger(config: &str) -> Ledger {
        Romi::open(Invocation { campaign_id: "c".into(), config: config.into(), now: 0, seed: 0 }).unwrap()
    }

    #[test]
    fn a_campaign_with_a_control_group_worked_by_hand() {
        // 100 treated (delivered), 25 held out. 10 treated convert for 100 each; 1 held-out
        // profile converts for 100. 30 treated click. Cost: 100 fixed + 0.5 x 100 messages = 150.
        let mut l = ledger(r#"{"fixed": 100, "per_message": 0.5, "margin": 0.5}"#);
        let mut events = Vec::new();
        for i in 0..100 {
            events.push(event("message_delivered", format!("t{i}"), "{}"));
        }
        for i in 0..25 {
            events.push(event("control_assigned", format!("c{i}"), "{}"));
        }
        for i in 0..10 {
            events.push(event(
                "campaign_conversion",
                format!("t{i}"),
                r#"{"value": 100, "group": "treated"}"#,
            ));
        }
        events.push(event("campaign_conversion", "c0".into(), r#"{"value": 100, "group": "control"}"#));
        for i in 0..30 {
            events.push(event("email_clicked", format!("t{i}"), "{}"));
        }
        l.add(events).unwrap();
        let metrics = l.finish().unwrap();
        let get =
            |name: &str| metrics.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("{name}")).value;
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert_eq!(get("cost"), 150.0);
        assert_eq!(get("revenue"), 1000.0);
        assert!(close(get("roas"), 1000.0 / 150.0));
        assert!(close(get("roi"), 850.0 / 150.0));
        assert_eq!(get("cost_per_lead"), 5.0);
        assert_eq!(get("customer_acquisition_cost"), 15.0);
        assert_eq!(get("treated_conversion_rate"), 0.1);
        assert_eq!(get("control_conversion_rate"), 0.04);
        assert!(close(get("lift"), 1.5));
        assert!(close(get("incremental_conversions"), 6.0));
        assert!(close(get("incremental_revenue"), 600.0));
        assert!(close(get("romi"), 1.0), "(600 x 0.5 - 150) / 150");
    }

    #[test]
    fn without_a_control_group_there_is_no_lift_and_configs_are_checked() {
        let mut l = ledger(r#"{"fixed": 10}"#);
        l.add(vec![event("message_delivered", "a".into(), "{}")]).unwrap();
        let metrics = l.finish().unwrap();
        assert!(metrics.iter().all(|m| m.name != "lift" && m.name != "romi"));
        assert_eq!(metrics.iter().find(|m| m.name == "roi").unwrap().value, -1.0);
        assert_eq!(Romi::validate_config(r#"{"margin": 0}"#).unwrap_err().path, "/margin");
        assert_eq!(Romi::validate_config(r#"{"fixed": -1}"#).unwrap_err().path, "/fixed");
        assert!(Romi::validate_config("{}").is_ok());
    }
}
