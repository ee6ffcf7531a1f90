//! What a campaign earned and whether it would have happened anyway: the results the engine
//! measures (per variant and for the control group) and the comparisons that answer a manager's
//! questions, each with its interval, its test and one line saying what it means.
//!
//! Plain serde data shared by the engine, the store and the API; the arithmetic is in
//! [`crate::stats`], the measuring in the engine.

use serde::{Deserialize, Serialize};

use crate::campaign::{Conversion, EarlyStopping};
use crate::stats::{self, Proportion, Sample};

/// The confidence of every interval and test in the results.
pub const CONFIDENCE: f64 = 0.95;

/// Resamples behind each bootstrap interval: enough for a stable 95% interval (its ends move by
/// about a hundredth of its width from seed to seed).
pub const BOOTSTRAP_RESAMPLES: usize = 2_000;

/// A campaign's results at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CampaignResults {
    /// The campaign.
    pub campaign: String,
    /// When they were computed, ms since the epoch.
    pub computed_at: i64,
    /// What counted as a conversion, in words.
    pub definition: String,
    /// The definition itself, as the campaign states it; none if it states none.
    pub conversion: Option<Conversion>,
    /// Each group: the variants (`all` without an experiment) and the control group.
    pub groups: Vec<GroupResult>,
    /// Each question the groups answer: the campaign against its holdout, each variant against
    /// the holdout, each variant against the first.
    pub comparisons: Vec<Comparison>,
    /// Anything a reader should know to read the figures right.
    pub notes: Vec<String>,
}

/// One group's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupResult {
    /// The variant's id, `all` (every recipient) or `control`.
    pub group: String,
    /// Profiles that received a message (for `control`: profiles held out).
    pub recipients: u64,
    /// Of those, how many converted within the window.
    pub converted: u64,
    /// converted / recipients; none without recipients.
    pub conversion_rate: Option<f64>,
    /// Wilson's 95% interval for the rate.
    pub conversion_rate_interval: Option<[f64; 2]>,
    /// Conversion events within the window (a recipient may convert more than once).
    pub conversions: u64,
    /// The sum of their values.
    pub revenue: f64,
    /// revenue / recipients.
    pub revenue_per_recipient: Option<f64>,
}

/// A group against a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Comparison {
    /// The group being judged.
    pub group: String,
    /// What it is judged against (`control`, or the first variant).
    pub baseline: String,
    /// Its rate minus the baseline's, as a rate (0.021 is 2.1 points).
    pub rate_difference: Option<f64>,
    /// Newcombe's 95% interval for that difference.
    pub rate_difference_interval: Option<[f64; 2]>,
    /// The difference relative to the baseline's rate; none when the baseline's rate is 0.
    pub relative_lift: Option<f64>,
    /// The two-sided p-value of the two-proportion z-test; none while a group is too small.
    pub p_value: Option<f64>,
    /// Whether the difference is significant at 95%; none while a group is too small.
    pub significant: Option<bool>,
    /// Revenue per recipient minus the baseline's.
    pub revenue_per_recipient_difference: Option<f64>,
    /// A percentile-bootstrap 95% interval for that difference (no normality assumed).
    pub revenue_per_recipient_interval: Option<[f64; 2]>,
    /// Against the control group: conversions the campaign added, (rate − control rate) ×
    /// recipients.
    pub incremental_conversions: Option<f64>,
    /// Against the control group: revenue the campaign added, (revenue per recipient − control
    /// revenue per recipient) × recipients.
    pub incremental_revenue: Option<f64>,
    /// Whether both groups have at least 10 converted and 10 not converted: below that the test
    /// says nothing, and the results say so instead of showing a p-value.
    pub enough_data: bool,
    /// The sequential test, when the experiment asks for early stopping.
    pub sequential: Option<SequentialResult>,
    /// What the figures mean, in one line.
    pub verdict: String,
}

/// The sequential test's state for one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SequentialResult {
    /// The always-valid p-value: the lowest `1/Λ` over every stored computation and this one.
    pub always_valid_p: f64,
    /// The false-positive rate the experiment holds.
    pub alpha: f64,
    /// Whether the test has decided: the always-valid p-value is below alpha.
    pub decided: bool,
}

/// What one comparison is computed from.
pub struct Compared<'a> {
    /// The group and its figures.
    pub group: &'a GroupResult,
    /// Its per-recipient revenue.
    pub revenue: &'a Sample,
    /// The baseline and its figures.
    pub baseline: &'a GroupResult,
    /// The baseline's per-recipient revenue.
    pub baseline_revenue: &'a Sample,
    /// Seed of the bootstrap, so that the same data gives the same interval every time.
    pub seed: u64,
    /// The experiment's early stopping, if any, and the lowest `1/Λ` stored so far.
    pub stopping: Option<(EarlyStopping, Option<f64>)>,
}

impl GroupResult {
    /// A group's figures from its counts.
    pub fn new(group: &str, recipients: u64, converted: u64, conversions: u64, revenue: f64) -> GroupResult {
        let proportion = Proportion { successes: converted, trials: recipients };
        let z = stats::normal_quantile(1.0 - (1.0 - CONFIDENCE) / 2.0);
        GroupResult {
            group: group.to_owned(),
            recipients,
            converted,
            conversion_rate: proportion.rate(),
            conversion_rate_interval: proportion.rate().map(|_| {
                let (low, high) = stats::wilson_interval(proportion, z);
                [low, high]
            }),
            conversions,
            revenue,
            revenue_per_recipient: (recipients > 0).then(|| revenue / recipients as f64),
        }
    }

    fn proportion(&self) -> Proportion {
        Proportion { successes: self.converted, trials: self.recipients }
    }
}

impl Compared<'_> {
    /// The comparison, with its verdict.
    pub fn compare(&self) -> Comparison {
        let (group, baseline) = (self.group, self.baseline);
        let rates = stats::compare_rates(baseline.proportion(), group.proportion(), CONFIDENCE);
        let enough_data = rates.as_ref().is_some_and(|r| r.large_enough);
        let revenue_difference =
            group.revenue_per_recipient.zip(baseline.revenue_per_recipient).map(|(g, b)| g - b);
        let revenue_interval = stats::bootstrap_mean_difference(
            self.baseline_revenue,
            self.revenue,
            BOOTSTRAP_RESAMPLES,
            CONFIDENCE,
            self.seed,
        )
        .map(|(low, high)| [low, high]);
        let against_control = baseline.group == "control";
        let sequential = self.stopping.and_then(|(stopping, stored)| {
            let now = stats::sequential_p_value(baseline.proportion(), group.proportion(), stopping.tau)?;
            let always_valid_p = stored.map_or(now, |stored| stored.min(now));
            Some(SequentialResult {
                always_valid_p,
                alpha: stopping.alpha,
                decided: always_valid_p < stopping.alpha,
            })
        });
        let mut comparison = Comparison {
            group: group.group.clone(),
            baseline: baseline.group.clone(),
            rate_difference: rates.as_ref().map(|r| r.difference),
            rate_difference_interval: rates.as_ref().map(|r| [r.interval.0, r.interval.1]),
            relative_lift: rates.as_ref().filter(|r| r.rate_a > 0.0).map(|r| r.difference / r.rate_a),
            p_value: rates.as_ref().filter(|_| enough_data).map(|r| r.p_value),
            significant: rates.as_ref().filter(|_| enough_data).map(|r| r.p_value < 1.0 - CONFIDENCE),
            revenue_per_recipient_difference: revenue_difference,
            revenue_per_recipient_interval: revenue_interval,
            incremental_conversions: rates
                .as_ref()
                .filter(|_| against_control)
                .map(|r| r.difference * group.recipients as f64),
            incremental_revenue: revenue_difference
                .filter(|_| against_control)
                .map(|d| d * group.recipients as f64),
            enough_data,
            sequential,
            verdict: String::new(),
        };
        comparison.verdict = verdict(&comparison, group, baseline);
        comparison
    }
}

/// One line a manager can read: the rates, the difference with its interval, and whether it is
/// real, or why the data cannot say yet.
fn verdict(c: &Comparison, group: &GroupResult, baseline: &GroupResult) -> String {
    let name = |g: &GroupResult| match g.group.as_str() {
        "all" => "The campaign".to_owned(),
        "control" => "the control group".to_owned(),
        id => format!("Variant {id}"),
    };
    let mut baseline_name = name(baseline);
    if let Some(rest) = baseline_name.strip_prefix("Variant") {
        baseline_name = format!("variant{rest}");
    }
    let (Some(rate), Some(base), Some(difference), Some([low, high])) =
        (group.conversion_rate, baseline.conversion_rate, c.rate_difference, c.rate_difference_interval)
    else {
        return format!("{} against {baseline_name}: no recipients yet.", name(group));
    };
    let rates = format!(
        "{} against {baseline_name}: {} converted against {}, {} points (95% CI {} to {})",
        name(group),
        percent(rate),
        percent(base),
        signed(difference * 100.0),
        signed(low * 100.0),
        signed(high * 100.0),
    );
    let mut line = match (c.enough_data, c.p_value) {
        (true, Some(p)) if p < 1.0 - CONFIDENCE => format!("{rates}; significant ({}).", p_text(p)),
        (true, Some(p)) => format!("{rates}; not significant ({}): the difference may be chance.", p_text(p)),
        _ => format!(
            "{rates}; too few conversions to tell ({} of {} and {} of {}; each group needs at least 10 converted and 10 not).",
            group.converted, group.recipients, baseline.converted, baseline.recipients
        ),
    };
    if let (Some(d), Some([low, high])) =
        (c.revenue_per_recipient_difference, c.revenue_per_recipient_interval)
    {
        if group.revenue != 0.0 || baseline.revenue != 0.0 {
            line.push_str(&format!(
                " Revenue per recipient {} (95% CI {} to {}).",
                signed_money(d),
                signed_money(low),
                signed_money(high)
            ));
        }
    }
    if let Some(s) = c.sequential {
        line.push_str(&match s.decided {
            true => format!(
                " The sequential test has decided ({}, below {}): you may stop.",
                p_text(s.always_valid_p),
                s.alpha
            ),
            false => format!(
                " The sequential test has not decided yet ({}; stop below {}).",
                p_text(s.always_valid_p),
                s.alpha
            ),
        });
    }
    line
}

fn percent(rate: f64) -> String {
    format!("{:.2}%", rate * 100.0)
}

fn signed(points: f64) -> String {
    format!("{}{:.2}", if points >= 0.0 { "+" } else { "" }, points)
}

fn signed_money(value: f64) -> String {
    format!("{}{:.2}", if value >= 0.0 { "+" } else { "" }, value)
}

/// A p-value as people write it: `p = 0.0123`, or `p < 0.0001`.
fn p_text(p: f64) -> String {
    if p < 0.0001 { "p < 0.0001".into() } else { format!("p = {p:.4}") }
}

/// The conversion definition in words, for the results' `definition`.
pub fn describe(conversion: Option<&Conversion>) -> String {
    let Some(conversion) = conversion else {
        return "No conversion is defined for this campaign: results count recipients only. Set the campaign's `conversion` to measure conversions and revenue.".into();
    };
    let events: Vec<String> = conversion
        .events
        .iter()
        .map(|e| {
            let mut text = format!("`{}`", e.name);
            if !e.filter.is_empty() {
                let filters: Vec<String> = e.filter.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                text.push_str(&format!(" with {}", filters.join(" and ")));
            }
            if let Some(value) = &e.value {
                text.push_str(&format!(" (value: `{value}`)"));
            }
            text
        })
        .collect();
    let window = duration(conversion.window_ms);
    format!(
        "A recipient converts with {} within {window} after a delivered message; a held-out profile, within {window} after it was held out. The events are the profile's own: they need not name the campaign.",
        events.join(" or "),
    )
}

/// Milliseconds as days, hours or minutes, whichever is whole.
pub fn duration(ms: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match ms {
        ms if ms % 86_400_000 == 0 => plural(ms / 86_400_000, "day"),
        ms if ms % 3_600_000 == 0 => plural(ms / 3_600_000, "hour"),
        ms if ms % 60_000 == 0 => plural(ms / 60_000, "minute"),
        ms => format!("{ms} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_says_what_the_figures_mean() {
        let control = GroupResult::new("control", 2_000, 100, 100, 5_000.0);
        let b = GroupResult::new("B", 2_000, 150, 150, 7_500.0);
        let revenue =
            |g: &GroupResult| Sample { len: g.recipients, nonzero: vec![50.0; g.converted as usize] };
        let compared = Compared {
            group: &b,
            revenue: &revenue(&b),
            baseline: &control,
            baseline_revenue: &revenue(&control),
            seed: 1,
            stopping: Some((EarlyStopping { alpha: 0.05, tau: 0.01 }, None)),
        };
        let c = compared.compare();
        assert_eq!(c.significant, Some(true));
        assert!((c.incremental_conversions.unwrap() - 50.0).abs() < 1e-9);
        assert!(
            c.verdict.starts_with(
                "Variant B against the control group: 7.50% converted against 5.00%, +2.50 points (95% CI +1.00 to +4.01)"
            ),
            "{}",
            c.verdict
        );
        // z = 0.025 / sqrt(0.0625 × 0.9375 × 2/2000) = 3.266, two-sided p = 0.0011.
        assert!(
            c.verdict.contains("; significant (p = 0.0011). Revenue per recipient +1.25 (95% CI +"),
            "{}",
            c.verdict
        );
        let [low, high] = c.revenue_per_recipient_interval.unwrap();
        assert!(low < 1.25 && 1.25 < high && low > 0.0, "{low} {high}");
        // The sequential test is stricter than one look (see stats): not decided yet.
        assert!(
            c.verdict.ends_with("The sequential test has not decided yet (p = 0.0563; stop below 0.05)."),
            "{}",
            c.verdict
        );

        let few = GroupResult::new("A", 40, 3, 3, 0.0);
        let c = Compared {
            group: &few,
            revenue: &Sample::default(),
            baseline: &b,
            baseline_revenue: &Sample::default(),
            seed: 1,
            stopping: None,
        }
        .compare();
        assert_eq!((c.enough_data, c.p_value, c.significant), (false, None, None));
        assert!(c.verdict.ends_with("too few conversions to tell (3 of 40 and 150 of 2000; each group needs at least 10 converted and 10 not)."), "{}", c.verdict);
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration(3 * 86_400_000), "3 days");
        assert_eq!(duration(3_600_000), "1 hour");
        assert_eq!(duration(90_000), "90000 ms");
    }
}
