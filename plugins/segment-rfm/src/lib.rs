//! `segment-rfm`: recency, frequency and monetary scores (1-5 each) from purchase events, and
//! membership by score ranges.
//!
//! Scores use breakpoints from the config (quintile boundaries an analyst computed for this shop,
//! for example from the audience API), with sensible defaults:
//! - recency: days since the last purchase, `recency_days` ascending (default 14, 30, 60, 120):
//!   within the first breakpoint scores 5, beyond the last (or never) scores 1;
//! - frequency: purchases, `frequency` thresholds ascending (default 1, 2, 4, 8): at least the
//!   last scores 5, none scores 1;
//! - monetary: summed `revenue`, `monetary` thresholds ascending (default 50, 150, 400, 1000).
//!
//! Membership: `segment` is a preset (`champions`, `loyal`, `at_risk`, `lost`, `new`) or explicit
//! ranges such as `{"r": [4, 5], "f": [3, 5], "m": [1, 5]}`. The score returned is the RFM cell
//! as a number (R×100 + F×10 + M), so `555` is a best customer.

use baton_sdk::*;
use serde::Deserialize;

/// The plugin.
pub struct Rfm;

const DAY: i64 = 86_400_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    purchase_event: String,
    revenue_property: String,
    recency_days: [f64; 4],
    frequency: [f64; 4],
    monetary: [f64; 4],
    segment: Segment,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Segment {
    Preset(String),
    Ranges { r: [u8; 2], f: [u8; 2], m: [u8; 2] },
}

impl Default for Config {
    fn default() -> Self {
        Config {
            purchase_event: "order_completed".into(),
            revenue_property: "revenue".into(),
            recency_days: [14.0, 30.0, 60.0, 120.0],
            frequency: [1.0, 2.0, 4.0, 8.0],
            monetary: [50.0, 150.0, 400.0, 1000.0],
            segment: Segment::Preset("champions".into()),
        }
    }
}

/// Score ranges (inclusive) for R, F and M.
type Ranges = [[u8; 2]; 3];

fn ranges(segment: &Segment) -> Result<Ranges, String> {
    Ok(match segment {
        Segment::Ranges { r, f, m } => [*r, *f, *m],
        Segment::Preset(name) => match name.as_str() {
            "champions" => [[4, 5], [4, 5], [4, 5]],
            "loyal" => [[3, 5], [4, 5], [1, 5]],
            "at_risk" => [[1, 2], [3, 5], [3, 5]],
            "lost" => [[1, 1], [1, 2], [1, 5]],
            "new" => [[5, 5], [1, 2], [1, 5]],
            other => {
                return Err(format!(
                    "unknown preset `{other}`: use champions, loyal, at_risk, lost, new, or r/f/m ranges"
                ));
            }
        },
    })
}

fn ascending(values: &[f64; 4]) -> bool {
    values.windows(2).all(|w| w[0] < w[1]) && values[0] >= 0.0
}

/// 5 for at most the first breakpoint, down to 1 beyond the last (recency: lower is better).
fn recency_score(days: Option<f64>, breakpoints: &[f64; 4]) -> u8 {
    match days {
        None => 1,
        Some(days) => 5 - breakpoints.iter().filter(|b| days > **b).count() as u8,
    }
}

/// 1 below the first threshold, up to 5 at or above the last (higher is better).
fn amount_score(value: f64, thresholds: &[f64; 4]) -> u8 {
    1 + thresholds.iter().filter(|t| value >= **t).count() as u8
}

impl Plugin for Rfm {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "segment-rfm",
            env!("CARGO_PKG_VERSION"),
            PluginKind::SegmentRule,
            "Recency, frequency and monetary scores from purchases; members by score ranges or presets.",
        )
        .with_needs(Needs::none().with_events(["*"], None))
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        let config: Config =
            serde_json::from_str(config).map_err(|e| ConfigError::new("", &e.to_string()))?;
        for (path, values) in [
            ("/recency_days", &config.recency_days),
            ("/frequency", &config.frequency),
            ("/monetary", &config.monetary),
        ] {
            if !ascending(values) {
                return Err(ConfigError::new(path, "needs four ascending, non-negative breakpoints"));
            }
        }
        let ranges = ranges(&config.segment).map_err(|e| ConfigError::new("/segment", &e))?;
        if ranges.iter().any(|[low, high]| !(1..=5).contains(low) || !(1..=5).contains(high) || low > high) {
            return Err(ConfigError::new("/segment", "each range is [low, high] with 1 <= low <= high <= 5"));
        }
        Ok(())
    }
}

impl SegmentRule for Rfm {
    fn evaluate(invocation: Invocation, subjects: Vec<Subject>) -> Result<Vec<Membership>, PluginError> {
        let config: Config = invocation.config()?;
        let ranges = ranges(&config.segment).map_err(|e| PluginError::new("invalid_config", &e))?;
        subjects
            .iter()
            .map(|subject| {
                let mut last: Option<i64> = None;
                let mut count = 0.0;
                let mut spend = 0.0;
                for event in subject
                    .events
                    .iter()
                    .filter(|e| e.name == config.purchase_event && e.timestamp <= invocation.now)
                {
                    count += 1.0;
                    last = Some(last.map_or(event.timestamp, |l| l.max(event.timestamp)));
                    spend += event
                        .properties_json()?
                        .get(&config.revenue_property)
                        .and_then(|v| v.as_f64())
                        .unwrap_or(0.0);
                }
                let days = last.map(|t| (invocation.now - t) as f64 / DAY as f64);
                let scores = [
                    recency_score(days, &config.recency_days),
                    amount_score(count, &config.frequency),
                    amount_score(spend, &config.monetary),
                ];
                let member = scores.iter().zip(&ranges).all(|(s, [low, high])| (low..=high).contains(&s));
                let cell = f64::from(scores[0]) * 100.0 + f64::from(scores[1]) * 10.0 + f64::from(scores[2]);
                Ok(Membership { member, score: Some(cell) })
            })
            .collect()
    }
}

baton_sdk::segment_rule!(Rfm);

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_750_000_000_000;

    fn customer(orders: &[(i64, f64)]) -> Subject {
        Subject {
            profile_id: "p".into(),
            attributes: vec![],
            events: orders
                .iter()
                .enumerate()
                .map(|(i, (days_ago, revenue))| Event {
                    id: format!("o{i}"),
                    profile_id: "p".into(),
                    name: "order_completed".into(),
                    timestamp: NOW - days_ago * DAY,
                    properties: format!(r#"{{"revenue": {revenue}}}"#),
                    campaign_id: None,
                })
                .collect(),
            timezone: None,
            trigger: None,
        }
    }

    fn judge(config: &str, subjects: Vec<Subject>) -> Vec<(bool, f64)> {
        let invocation = Invocation { campaign_id: "c".into(), config: config.into(), now: NOW, seed: 0 };
        Rfm::evaluate(invocation, subjects)
            .unwrap()
            .into_iter()
            .map(|m| (m.member, m.score.unwrap()))
            .collect()
    }

    #[test]
    fn scores_worked_by_hand() {
        let subjects = vec![
            // Last order 3 days ago (R5), 9 orders (F5), 9 x 120 = 1080 (M5): a champion.
            customer(&[
                (3, 120.0),
                (10, 120.0),
                (20, 120.0),
                (30, 120.0),
                (40, 120.0),
                (50, 120.0),
                (60, 120.0),
                (70, 120.0),
                (80, 120.0),
            ]),
            // Last order 45 days ago (R3: beyond 14 and 30), 2 orders (F3), 160 (M3).
            customer(&[(45, 80.0), (90, 80.0)]),
            // Last order 200 days ago (R1), 1 order (F2), 30 (M1).
            customer(&[(200, 30.0)]),
            // Never ordered: R1 F1 M1.
            customer(&[]),
        ];
        assert_eq!(
            judge("{}", subjects.clone()),
            vec![(true, 555.0), (false, 333.0), (false, 121.0), (false, 111.0)]
        );
        assert_eq!(
            judge(r#"{"segment": "lost"}"#, subjects.clone()).iter().map(|v| v.0).collect::<Vec<_>>(),
            vec![false, false, true, true]
        );
        let explicit = r#"{"segment": {"r": [3, 5], "f": [3, 5], "m": [3, 5]}}"#;
        assert_eq!(
            judge(explicit, subjects).iter().map(|v| v.0).collect::<Vec<_>>(),
            vec![true, true, false, false]
        );
    }

    #[test]
    fn configs_are_checked() {
        assert_eq!(
            Rfm::validate_config(r#"{"recency_days": [30, 14, 60, 120]}"#).unwrap_err().path,
            "/recency_days"
        );
        assert_eq!(Rfm::validate_config(r#"{"segment": "vips"}"#).unwrap_err().path, "/segment");
        assert_eq!(
            Rfm::validate_config(r#"{"segment": {"r": [5, 4], "f": [1, 5], "m": [1, 5]}}"#).unwrap_err().path,
            "/segment"
        );
        assert!(Rfm::validate_config(r#"{"segment": "at_risk", "monetary": [20, 60, 200, 800]}"#).is_ok());
    }
}
