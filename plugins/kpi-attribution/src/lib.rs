//! `kpi-attribution`: credits conversions and revenue to the campaigns (or channels) that touched
//! the customer before converting, under six models:
//!
//! - `first_touch`, `last_touch`: all credit to the first or last touch of the path;
//! - `linear`: equal shares;
//! - `time_decay`: weights halving every `half_life_ms` before the conversion;
//! - `position_based`: 40% first, 40% last, 20% shared by the middle (two touches: 50/50);
//! - `markov`: a first-order Markov chain over all paths (converting and not); each state's
//!   removal effect (the share of conversion probability lost without it) splits the total.
//!
//! The host streams the events the config names (through `needs-for-config`) store-wide, from
//! every campaign and none, grouped by profile and in time order within a profile, so a path is
//! one customer's touches within `lookback_ms` before a conversion.
//!
//! Config: `touch_events` (default `["message_delivered"]`; any names, for example Segment's
//! `Email Opened` and `Email Link Clicked`), `conversion_events` (default `["order_completed"]`;
//! Segment's is `Order Completed`), `dimension` (`campaign` or `channel`), `lookback_ms` (30
//! days), `half_life_ms` (7 days), `revenue_property` (`revenue`). A touch names its campaign by
//! the event's campaign id, or else its `campaign_id` property (as Segment's email events do).
//!
//! How this relates to a campaign's own results: those count each recipient's conversions within
//! the campaign's window after its message, whatever else touched them; here each conversion is
//! counted once and shared among every campaign that touched it within the lookback. With the
//! same events and `lookback_ms` equal to the campaign's window, `last_touch` credits a campaign
//! with at most its results' conversions, fewer where another campaign touched the customer later.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use baton_sdk::*;
use serde::Deserialize;

/// The plugin.
pub struct Attribution;

const MODELS: &[&str] = &["first_touch", "last_touch", "linear", "time_decay", "position_based", "markov"];
const START: &str = "(start)";
const CONVERSION: &str = "(conversion)";
const NULL: &str = "(null)";

/// The binding config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    touch_events: Vec<String>,
    conversion_events: Vec<String>,
    dimension: String,
    lookback_ms: i64,
    half_life_ms: i64,
    revenue_property: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            touch_events: vec!["message_delivered".into()],
            conversion_events: vec!["order_completed".into()],
            dimension: "campaign".into(),
            lookback_ms: 30 * 86_400_000,
            half_life_ms: 7 * 86_400_000,
            revenue_property: "revenue".into(),
        }
    }
}

/// One touch of a path.
#[derive(Debug, Clone)]
struct Touch {
    at: i64,
    key: String,
}

/// Running state: credits so far, the Markov transition counts, and the current profile's touches.
#[derive(Default)]
pub struct Credits {
    config: Config,
    profile: Option<String>,
    touches: Vec<Touch>,
    /// Credited (conversions, revenue) by model, then by key.
    credit: BTreeMap<&'static str, BTreeMap<String, (f64, f64)>>,
    transitions: HashMap<(String, String), u64>,
    conversions: u64,
    unattributed: u64,
    revenue: f64,
}

impl Plugin for Attribution {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "kpi-attribution",
            env!("CARGO_PKG_VERSION"),
            PluginKind::KpiCalculator,
            "Multi-touch attribution of conversions and revenue across campaigns or channels: first, last, linear, time-decay, position-based and Markov.",
        )
        // Any events: which ones, the config says (see `needs_for_config`).
        .with_needs(Needs::none().with_events(["*"], None))
    }

    /// Exactly the touch and conversion events the config names, store-wide.
    fn needs_for_config(config: &str) -> Needs {
        let config: Config = serde_json::from_str(config).unwrap_or_default();
        let mut names = config.touch_events;
        for name in config.conversion_events {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Needs::none().with_events(names.iter().map(String::as_str), None)
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        let config: Config =
            serde_json::from_str(config).map_err(|e| ConfigError::new("", &e.to_string()))?;
        for (field, names) in
            [("touch_events", &config.touch_events), ("conversion_events", &config.conversion_events)]
        {
            if names.is_empty() {
                return Err(ConfigError::new(&format!("/{field}"), "needs at least one event name"));
            }
            if let Some((i, _)) = names.iter().enumerate().find(|(_, n)| n.trim().is_empty() || *n == "*") {
                return Err(ConfigError::new(&format!("/{field}/{i}"), "name an event (not empty, not `*`)"));
            }
        }
        if !matches!(config.dimension.as_str(), "campaign" | "channel") {
            return Err(ConfigError::new("/dimension", "use campaign or channel"));
        }
        if let Some(name) = config.touch_events.iter().find(|n| config.conversion_events.contains(n)) {
            return Err(ConfigError::new(
                "/conversion_events",
                &format!("`{name}` is also a touch event; an event is a touch or a conversion, not both"),
            ));
        }
        if config.lookback_ms <= 0 || config.half_life_ms <= 0 {
            return Err(ConfigError::new("", "lookback_ms and half_life_ms must be positive"));
        }
        Ok(())
    }
}

impl KpiCalculator for Attribution {
    type Accumulator = Credits;

    fn open(invocation: Invocation) -> Result<Credits, PluginError> {
        Ok(Credits { config: invocation.config()?, ..Credits::default() })
    }
}

impl Credits {
    fn key(&self, event: &Event) -> Result<Option<String>, PluginError> {
        Ok(match self.config.dimension.as_str() {
            "campaign" => match &event.campaign_id {
                Some(campaign) => Some(campaign.clone()),
                None => {
                    event.properties_json()?.get("campaign_id").and_then(|c| c.as_str()).map(str::to_owned)
                }
            },
            _ => {
                let properties = event.properties_json()?;
                Some(match properties.get("channel").and_then(|c| c.as_str()) {
                    Some(channel) => channel.to_owned(),
                    None => event.name.split('_').next().unwrap_or(&event.name).to_owned(),
                })
            }
        })
    }

    fn give(&mut self, model: &'static str, key: &str, share: f64, revenue: f64) {
        let entry = self.credit.entry(model).or_default().entry(key.to_owned()).or_default();
        entry.0 += share;
        entry.1 += share * revenue;
    }

    fn walk(&mut self, path: &[String], outcome: &str) {
        let mut from = START.to_owned();
        for state in path {
            *self.transitions.entry((from, state.clone())).or_default() += 1;
            from = state.clone();
        }
        *self.transitions.entry((from, outcome.to_owned())).or_default() += 1;
    }

    fn convert(&mut self, at: i64, revenue: f64) {
        self.conversions += 1;
        self.revenue += revenue;
        let since = at - self.config.lookback_ms;
        let path: Vec<Touch> = self.touches.iter().filter(|t| t.at >= since && t.at <= at).cloned().collect();
        self.touches.clear();
        if path.is_empty() {
            self.unattributed += 1;
            return;
        }
        let n = path.len();
        let first = &path[0].key;
        let last = &path[n - 1].key;
        self.give("first_touch", first, 1.0, revenue);
        self.give("last_touch", last, 1.0, revenue);
        for touch in &path {
            self.give("linear", &touch.key, 1.0 / n as f64, revenue);
        }
        let half_life = self.config.half_life_ms as f64;
        let weights: Vec<f64> = path.iter().map(|t| 0.5_f64.powf((at - t.at) as f64 / half_life)).collect();
        let total: f64 = weights.iter().sum();
        for (touch, weight) in path.iter().zip(&weights) {
            self.give("time_decay", &touch.key, weight / total, revenue);
        }
        for (i, touch) in path.iter().enumerate() {
            let share = match n {
                1 => 1.0,
                2 => 0.5,
                _ if i == 0 || i == n - 1 => 0.4,
                _ => 0.2 / (n - 2) as f64,
            };
            self.give("position_based", &touch.key, share, revenue);
        }
        let keys: Vec<String> = path.into_iter().map(|t| t.key).collect();
        self.walk(&keys, CONVERSION);
    }

    /// The end of one profile's stream: touches left without a conversion are a null path.
    fn close_profile(&mut self) {
        if !self.touches.is_empty() {
            let keys: Vec<String> = std::mem::take(&mut self.touches).into_iter().map(|t| t.key).collect();
            self.walk(&keys, NULL);
        }
    }

    /// The probability of reaching a conversion from the start, with `removed` leading nowhere.
    fn conversion_probability(&self, removed: Option<&str>) -> f64 {
        let mut totals: HashMap<&str, u64> = HashMap::new();
        for ((from, _), n) in &self.transitions {
            *totals.entry(from.as_str()).or_default() += n;
        }
        let states: BTreeSet<&str> =
            self.transitions.keys().flat_map(|(a, b)| [a.as_str(), b.as_str()]).collect();
        let mut p: HashMap<&str, f64> =
            states.iter().map(|s| (*s, if *s == CONVERSION { 1.0 } else { 0.0 })).collect();
        // Value iteration: paths may loop (A -> B -> A), so iterate to a fixed point.
        for _ in 0..500 {
            let mut changed = 0.0_f64;
            for state in &states {
                if *state == CONVERSION || *state == NULL || Some(*state) == removed {
                    continue;
                }
                let total = totals.get(state).copied().unwrap_or(0) as f64;
                if total == 0.0 {
                    continue;
                }
                let value: f64 = self
                    .transitions
                    .iter()
                    .filter(|((from, _), _)| from == state)
                    .map(|((_, to), n)| {
                        let next = if Some(to.as_str()) == removed { 0.0 } else { p[to.as_str()] };
                        *n as f64 / total * next
                    })
                    .sum();
                changed = changed.max((value - p[state]).abs());
                p.insert(state, value);
            }
            if changed < 1e-12 {
                break;
            }
        }
        p.get(START).copied().unwrap_or(0.0)
    }
}

impl Accumulator for Credits {
    fn add(&mut self, events: Vec<Event>) -> Result<(), PluginError> {
        for event in events {
            if self.profile.as_deref() != Some(event.profile_id.as_str()) {
                self.close_profile();
                self.profile = Some(event.profile_id.clone());
            }
            if self.config.conversion_events.contains(&event.name) {
                let revenue = event
                    .properties_json()?
                    .get(&self.config.revenue_property)
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0);
                self.convert(event.timestamp, revenue);
            } else if self.config.touch_events.contains(&event.name) {
                if let Some(key) = self.key(&event)? {
                    self.touches.push(Touch { at: event.timestamp, key });
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<Metric>, PluginError> {
        self.close_profile();
        let base = self.conversion_probability(None);
        if base > 0.0 {
            let keys: BTreeSet<String> = self
                .transitions
                .keys()
                .flat_map(|(a, b)| [a.clone(), b.clone()])
                .filter(|s| ![START, CONVERSION, NULL].contains(&s.as_str()))
                .collect();
            let effects: Vec<(String, f64)> = keys
                .into_iter()
                .map(|k| {
                    let e = 1.0 - self.conversion_probability(Some(&k)) / base;
                    (k, e)
                })
                .collect();
            let total: f64 = effects.iter().map(|(_, e)| e).sum();
            let attributed = (self.conversions - self.unattributed) as f64;
            let attributed_revenue =
                self.credit.get("first_touch").map_or(0.0, |c| c.values().map(|v| v.1).sum());
            if total > 0.0 {
                for (key, effect) in effects {
                    let entry = self.credit.entry("markov").or_default().entry(key).or_default();
                    entry.0 += attributed * effect / total;
                    entry.1 += attributed_revenue * effect / total;
                }
            }
        }
        let dimension = self.config.dimension.clone();
        let mut metrics = vec![
            metric("conversions", self.conversions as f64, "count", vec![]),
            metric("unattributed_conversions", self.unattributed as f64, "count", vec![]),
            metric("revenue", self.revenue, "currency", vec![]),
        ];
        for model in MODELS {
            for (key, (conversions, revenue)) in self.credit.get(model).into_iter().flatten() {
                let dims = vec![("model".to_owned(), (*model).to_owned()), (dimension.clone(), key.clone())];
                metrics.push(metric("attributed_conversions", *conversions, "count", dims.clone()));
                metrics.push(metric("attributed_revenue", *revenue, "currency", dims));
            }
        }
        Ok(metrics)
    }
}

fn metric(name: &str, value: f64, unit: &str, dimensions: Vec<(String, String)>) -> Metric {
    Metric {
        name: name.into(),
        value,
        unit: unit.into(),
        numerator: None,
        denominator: None,
        denominator_name: None,
        dimensions,
    }
}

baton_sdk::kpi_calculator!(Attribution);

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn touch(profile: &str, campaign: &str, at: i64) -> Event {
        Event {
            id: String::new(),
            profile_id: profile.into(),
            name: "message_delivered".into(),
            timestamp: at,
            properties: r#"{"channel":"email"}"#.into(),
            campaign_id: Some(campaign.into()),
        }
    }

    fn purchase(profile: &str, revenue: f64, at: i64) -> Event {
        Event {
            id: String::new(),
            profile_id: profile.into(),
            name: "order_completed".into(),
            timestamp: at,
            properties: format!(r#"{{"revenue": {revenue}}}"#),
            campaign_id: None,
        }
    }

    /// Four paths, worked by hand for every model (conversion at day 10, half-life one day):
    /// p1: A(7) B(8) C(9) -> 100;  p2: A(8) C(9) -> 50;  p3: B(9) -> nothing;  p4: C(9) -> 30.
    fn credits() -> BTreeMap<(String, String), (f64, f64)> {
        let config = serde_json::json!({"half_life_ms": DAY}).to_string();
        let mut c =
            Attribution::open(Invocation { campaign_id: "x".into(), config, now: 0, seed: 0 }).unwrap();
        let day = |d: i64| d * DAY;
        c.add(vec![touch("p1", "A", day(7)), touch("p1", "B", day(8))]).unwrap();
        c.add(vec![touch("p1", "C", day(9)), purchase("p1", 100.0, day(10))]).unwrap();
        c.add(vec![touch("p2", "A", day(8)), touch("p2", "C", day(9)), purchase("p2", 50.0, day(10))])
            .unwrap();
        c.add(vec![touch("p3", "B", day(9))]).unwrap();
        c.add(vec![touch("p4", "C", day(9)), purchase("p4", 30.0, day(10))]).unwrap();
        let metrics = c.finish().unwrap();
        let mut out: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
        for m in &metrics {
            if m.name.starts_with("attributed_") {
                let key = (m.dimensions[0].1.clone(), m.dimensions[1].1.clone());
                let entry = out.entry(key).or_default();
                if m.name == "attributed_conversions" { entry.0 = m.value } else { entry.1 = m.value }
            }
        }
        assert_eq!(metrics[0].value, 3.0, "conversions");
        assert_eq!(metrics[2].value, 180.0, "revenue");
        out
    }

    fn assert_model(
        credits: &BTreeMap<(String, String), (f64, f64)>,
        model: &str,
        expected: &[(&str, f64, f64)],
    ) {
        for (key, conversions, revenue) in expected {
            let got = credits.get(&(model.to_owned(), (*key).to_owned())).copied().unwrap_or_default();
            assert!(
                (got.0 - conversions).abs() < 1e-4,
                "{model} {key}: conversions {} != {conversions}",
                got.0
            );
            assert!((got.1 - revenue).abs() < 1e-2, "{model} {key}: revenue {} != {revenue}", got.1);
        }
    }

    #[test]
    fn every_model_matches_the_hand_computation() {
        let c = credits();
        assert_model(&c, "first_touch", &[("A", 2.0, 150.0), ("B", 0.0, 0.0), ("C", 1.0, 30.0)]);
        assert_model(&c, "last_touch", &[("A", 0.0, 0.0), ("C", 3.0, 180.0)]);
        // p1 thirds, p2 halves, p4 all C.
        assert_model(
            &c,
            "linear",
            &[
                ("A", 5.0 / 6.0, 100.0 / 3.0 + 25.0),
                ("B", 1.0 / 3.0, 100.0 / 3.0),
                ("C", 11.0 / 6.0, 100.0 / 3.0 + 25.0 + 30.0),
            ],
        );
        // p1: 40/20/40; p2: 50/50; p4: C.
        assert_model(&c, "position_based", &[("A", 0.9, 65.0), ("B", 0.2, 20.0), ("C", 1.9, 95.0)]);
        // p1 weights 1/8, 1/4, 1/2 (sum 7/8); p2 weights 1/4, 1/2; p4: C.
        assert_model(
            &c,
            "time_decay",
            &[
                ("A", 1.0 / 7.0 + 1.0 / 3.0, 100.0 / 7.0 + 50.0 / 3.0),
                ("B", 2.0 / 7.0, 200.0 / 7.0),
                ("C", 4.0 / 7.0 + 2.0 / 3.0 + 1.0, 400.0 / 7.0 + 100.0 / 3.0 + 30.0),
            ],
        );
        // Markov: P(conversion) = 0.75; removal effects A 0.5, B 1/3, C 1 (sum 11/6).
        assert_model(
            &c,
            "markov",
            &[
                ("A", 3.0 * 0.5 / (11.0 / 6.0), 180.0 * 0.5 / (11.0 / 6.0)),
                ("B", 3.0 * (1.0 / 3.0) / (11.0 / 6.0), 180.0 * (1.0 / 3.0) / (11.0 / 6.0)),
                ("C", 3.0 / (11.0 / 6.0), 180.0 / (11.0 / 6.0)),
            ],
        );
    }

    #[test]
    fn touches_outside_the_lookback_do_not_count_and_configs_are_checked() {
        let config = serde_json::json!({"lookback_ms": DAY}).to_string();
        let mut c =
            Attribution::open(Invocation { campaign_id: "x".into(), config, now: 0, seed: 0 }).unwrap();
        c.add(vec![touch("p", "old", 0), purchase("p", 10.0, 5 * DAY)]).unwrap();
        let metrics = c.finish().unwrap();
        assert_eq!(metrics[1].value, 1.0, "unattributed");
        assert_eq!(
            Attribution::validate_config(r#"{"touch_events": [""]}"#).unwrap_err().path,
            "/touch_events/0"
        );
        assert_eq!(
            Attribution::validate_config(
                r#"{"touch_events": ["a", "Order Completed"], "conversion_events": ["Order Completed"]}"#
            )
            .unwrap_err()
            .path,
            "/conversion_events"
        );
        // Any names: Segment's spec events are read as they are sent.
        let segment = r#"{"touch_events": ["Email Opened", "Email Link Clicked"], "conversion_events": ["Order Completed"]}"#;
        assert!(Attribution::validate_config(segment).is_ok());
        assert_eq!(
            Attribution::needs_for_config(segment).events,
            ["Email Opened", "Email Link Clicked", "Order Completed"]
        );
        assert_eq!(Attribution::validate_config(r#"{"dimension": "city"}"#).unwrap_err().path, "/dimension");
        assert!(Attribution::validate_config("{}").is_ok());
    }
}
