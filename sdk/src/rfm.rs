//! Recency, frequency and monetary scores (1 to 5 each) from purchase events: one definition for
//! every plugin that needs them (`trait-rfm` stores them as traits, `segment-rfm` judges by them).
//!
//! Scores use breakpoints from the config (quintile boundaries an analyst computed for this shop),
//! with sensible defaults:
//! - recency: days since the last purchase, `recency_days` ascending (default 14, 30, 60, 120):
//!   within the first breakpoint scores 5, beyond the last (or never) scores 1;
//! - frequency: purchases, `frequency` thresholds ascending (default 1, 2, 4, 8): at least the last
//!   scores 5, none scores 1;
//! - monetary: summed `revenue`, `monetary` thresholds ascending (default 50, 150, 400, 1000).

use serde::Deserialize;

use crate::{ConfigError, PluginError, Subject};

const DAY_MS: f64 = 86_400_000.0;

/// Which events are purchases, and the breakpoints of the three scores.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Breakpoints {
    /// The purchase event's name.
    pub purchase_event: String,
    /// The property holding a purchase's revenue.
    pub revenue_property: String,
    /// Days since the last purchase, ascending.
    pub recency_days: [f64; 4],
    /// Purchase counts, ascending.
    pub frequency: [f64; 4],
    /// Summed revenue, ascending.
    pub monetary: [f64; 4],
}

impl Default for Breakpoints {
    fn default() -> Self {
        Breakpoints {
            purchase_event: "order_completed".into(),
            revenue_property: "revenue".into(),
            recency_days: [14.0, 30.0, 60.0, 120.0],
            frequency: [1.0, 2.0, 4.0, 8.0],
            monetary: [50.0, 150.0, 400.0, 1000.0],
        }
    }
}

/// The named segments, as score ranges (inclusive) for R, F and M, in the order they are tried.
pub const PRESETS: [(&str, [[u8; 2]; 3]); 5] = [
    ("champions", [[4, 5], [4, 5], [4, 5]]),
    ("loyal", [[3, 5], [4, 5], [1, 5]]),
    ("new", [[5, 5], [1, 2], [1, 5]]),
    ("at_risk", [[1, 2], [3, 5], [3, 5]]),
    ("lost", [[1, 1], [1, 2], [1, 5]]),
];

/// The score ranges of a preset.
pub fn preset(name: &str) -> Option<[[u8; 2]; 3]> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, ranges)| *ranges)
}

/// Whether `scores` fall within `ranges`.
pub fn within(scores: [u8; 3], ranges: &[[u8; 2]; 3]) -> bool {
    scores.iter().zip(ranges).all(|(s, [low, high])| (low..=high).contains(&s))
}

/// The first preset the scores fall in, or `others`.
pub fn segment_of(scores: [u8; 3]) -> &'static str {
    PRESETS.iter().find(|(_, ranges)| within(scores, ranges)).map_or("others", |(name, _)| name)
}

/// The RFM cell as a number: R×100 + F×10 + M, so `555` is a best customer.
pub fn cell(scores: [u8; 3]) -> f64 {
    f64::from(scores[0]) * 100.0 + f64::from(scores[1]) * 10.0 + f64::from(scores[2])
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

impl Breakpoints {
    /// Refuses breakpoints that are not four ascending, non-negative numbers.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (path, values) in [
            ("/recency_days", &self.recency_days),
            ("/frequency", &self.frequency),
            ("/monetary", &self.monetary),
        ] {
            if !ascending(values) {
                return Err(ConfigError::new(path, "needs four ascending, non-negative breakpoints"));
            }
        }
        Ok(())
    }

    /// The R, F and M scores of `subject` at `now`, from its purchase events.
    pub fn scores(&self, subject: &Subject, now: i64) -> Result<[u8; 3], PluginError> {
        let mut last: Option<i64> = None;
        let mut count = 0.0;
        let mut spend = 0.0;
        for event in subject.events.iter().filter(|e| e.name == self.purchase_event && e.timestamp <= now) {
            count += 1.0;
            last = Some(last.map_or(event.timestamp, |l| l.max(event.timestamp)));
            spend +=
                event.properties_json()?.get(&self.revenue_property).and_then(|v| v.as_f64()).unwrap_or(0.0);
        }
        let days = last.map(|t| (now - t) as f64 / DAY_MS);
        Ok([
            recency_score(days, &self.recency_days),
            amount_score(count, &self.frequency),
            amount_score(spend, &self.monetary),
        ])
    }
}
