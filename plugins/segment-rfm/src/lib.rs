//! `segment-rfm`: membership by recency, frequency and monetary scores (1-5 each) from purchase
//! events, scored as `baton_sdk::rfm` defines them (the breakpoints `purchase_event`,
//! `revenue_property`, `recency_days`, `frequency`, `monetary` are its config).
//!
//! Membership: `segment` is a preset (`champions`, `loyal`, `at_risk`, `lost`, `new`) or explicit
//! ranges such as `{"r": [4, 5], "f": [3, 5], "m": [1, 5]}`. The score returned is the RFM cell
//! as a number (R×100 + F×10 + M), so `555` is a best customer. `trait-rfm` stores the same
//! scores on each profile, for segments, personalizers and journeys to read.

use baton_sdk::rfm::{self, Breakpoints};
use baton_sdk::*;
use serde::Deserialize;

/// The plugin.
pub struct Rfm;

#[cfg(test)]
const DAY: i64 = 86_400_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Segment {
    Preset(String),
    Ranges { r: [u8; 2], f: [u8; 2], m: [u8; 2] },
}

/// Score ranges (inclusive) for R, F and M.
type Ranges = [[u8; 2]; 3];

/// The config: the breakpoints, and `segment` (default `champions`).
fn config(text: &str) -> Result<(Breakpoints, Ranges), ConfigError> {
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ConfigError::new("", &e.to_string()))?;
    let segment = value.as_object_mut().and_then(|o| o.remove("segment"));
    let breakpoints: Breakpoints =
        serde_json::from_value(value).map_err(|e| ConfigError::new("", &e.to_string()))?;
    breakpoints.check()?;
    let segment = match segment {
        None => Segment::Preset("champions".into()),
        Some(v) => serde_json::from_value(v).map_err(|e| ConfigError::new("/segment", &e.to_string()))?,
    };
    let ranges = match segment {
        Segment::Ranges { r, f, m } => [r, f, m],
        Segment::Preset(name) => rfm::preset(&name).ok_or_else(|| {
            ConfigError::new(
                "/segment",
                &format!(
                    "unknown preset `{name}`: use champions, loyal, at_risk, lost, new, or r/f/m ranges"
                ),
            )
        })?,
    };
    if ranges.iter().any(|[low, high]| !(1..=5).contains(low) || !(1..=5).contains(high) || low > high) {
        return Err(ConfigError::new("/segment", "each range is [low, high] with 1 <= low <= high <= 5"));
    }
    Ok((breakpoints, ranges))
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

    fn validate_config(text: &str) -> Result<(), ConfigError> {
        config(text).map(drop)
    }

    /// Only the purchase events.
    fn needs_for_config(text: &str) -> Needs {
        match config(text) {
            Ok((breakpoints, _)) => Needs::none().with_events([breakpoints.purchase_event.as_str()], None),
            Err(_) => Self::info().needs,
        }
    }
}

impl SegmentRule for Rfm {
    fn evaluate(invocation: Invocation, subjects: Vec<Subject>) -> Result<Vec<Membership>, PluginError> {
        let (breakpoints, ranges) = config(&invocation.config)
            .map_err(|e| PluginError::new("invalid_config", &format!("{}: {}", e.path, e.message)))?;
        subjects
            .iter()
            .map(|subject| {
                let scores = breakpoints.scores(subject, invocation.now)?;
                Ok(Membership::scored(rfm::within(scores, &ranges), Some(rfm::cell(scores))))
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
