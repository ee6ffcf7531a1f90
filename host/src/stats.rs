//! The statistics behind experiment results: is variant B's conversion rate really above A's,
//! did the campaign beat its holdout, or does it only look that way?
//!
//! - Rates: the two-proportion z-test (pooled, two-sided) for significance, and Newcombe's
//!   hybrid score interval (Newcombe 1998, method 10, built from Wilson intervals) for the
//!   difference, which keeps its coverage for small samples and rates near 0 or 1, where the
//!   textbook Wald interval does not.
//! - Revenue per recipient: a percentile bootstrap of the difference in means, which does not
//!   assume revenue is normal (it rarely is: most recipients spend nothing, a few spend a lot).
//!   Deterministic for a given seed, so a report is the same every time it is computed.
//! - Early stopping: the mixture sequential probability ratio test, whose p-value may be read
//!   after every computation without inflating the false-positive rate.
//! - A sample too small for the normal approximation (fewer than ten successes or ten failures
//!   in a group) is said so, rather than given a p-value that means nothing.

/// A count of successes (conversions) out of trials (recipients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proportion {
    /// Conversions.
    pub successes: u64,
    /// Recipients.
    pub trials: u64,
}

impl Proportion {
    /// The rate, or `None` with no trials.
    pub fn rate(self) -> Option<f64> {
        (self.trials > 0).then(|| self.successes as f64 / self.trials as f64)
    }

    /// Whether the normal approximation behind the z-test holds: at least ten successes and
    /// ten failures (the usual rule of thumb, `np ≥ 10` and `n(1-p) ≥ 10`).
    pub fn large_enough(self) -> bool {
        self.successes >= 10 && self.trials.saturating_sub(self.successes) >= 10
    }
}

/// Two rates compared: B against A (a variant against the control).
#[derive(Debug, Clone, PartialEq)]
pub struct RateComparison {
    /// A's rate.
    pub rate_a: f64,
    /// B's rate.
    pub rate_b: f64,
    /// B's rate minus A's.
    pub difference: f64,
    /// Newcombe's interval for the difference at the requested confidence.
    pub interval: (f64, f64),
    /// The pooled two-proportion z statistic.
    pub z: f64,
    /// The two-sided p-value of the z-test.
    pub p_value: f64,
    /// Whether both samples are large enough for the test to say anything.
    pub large_enough: bool,
}

/// Compares B's rate with A's at `confidence` (0.95 for a 95% interval). `None` if either has no
/// trials, or `confidence` is not strictly between 0 and 1.
pub fn compare_rates(a: Proportion, b: Proportion, confidence: f64) -> Option<RateComparison> {
    let (rate_a, rate_b) = (a.rate()?, b.rate()?);
    if !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let z_crit = normal_quantile(1.0 - (1.0 - confidence) / 2.0);
    let (low_a, high_a) = wilson_interval(a, z_crit);
    let (low_b, high_b) = wilson_interval(b, z_crit);
    let difference = rate_b - rate_a;
    let interval = (
        difference - ((rate_b - low_b).powi(2) + (high_a - rate_a).powi(2)).sqrt(),
        difference + ((high_b - rate_b).powi(2) + (rate_a - low_a).powi(2)).sqrt(),
    );
    let (n_a, n_b) = (a.trials as f64, b.trials as f64);
    let pooled = (a.successes + b.successes) as f64 / (n_a + n_b);
    let se = (pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)).sqrt();
    // Both rates 0 or both 1: no variation, no evidence of a difference.
    let z = if se > 0.0 { difference / se } else { 0.0 };
    let p_value = (2.0 * (1.0 - normal_cdf(z.abs()))).clamp(0.0, 1.0);
    Some(RateComparison {
        rate_a,
        rate_b,
        difference,
        interval,
        z,
        p_value,
        large_enough: a.large_enough() && b.large_enough(),
    })
}

/// Wilson's score interval for a proportion, with `z` the normal quantile of the confidence.
pub fn wilson_interval(p: Proportion, z: f64) -> (f64, f64) {
    let Some(rate) = p.rate() else { return (0.0, 1.0) };
    let n = p.trials as f64;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (rate + z2 / (2.0 * n)) / denominator;
    let half = z * (rate * (1.0 - rate) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// A sample of per-recipient values (revenue) kept sparse: most recipients spend nothing, so a
/// million recipients with twenty thousand buyers cost twenty thousand values, not a million.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    /// How many recipients, zeros included.
    pub len: u64,
    /// The values that are not zero.
    pub nonzero: Vec<f64>,
}

impl Sample {
    /// A sample of these values.
    pub fn from_values(values: &[f64]) -> Sample {
        Sample { len: values.len() as u64, nonzero: values.iter().copied().filter(|v| *v != 0.0).collect() }
    }

    /// The mean, or `None` for an empty sample.
    pub fn mean(&self) -> Option<f64> {
        (self.len > 0).then(|| self.nonzero.iter().sum::<f64>() / self.len as f64)
    }

    /// The mean of one resample with replacement, in time proportional to the non-zero values
    /// drawn rather than to the sample's size: how many draws land on a non-zero value is
    /// binomial (drawn exactly, by geometric gaps between successes), and which ones is uniform
    /// among the non-zero values. The same distribution as drawing `len` values one by one.
    fn resample_mean(&self, rng: &mut SplitMix64) -> f64 {
        let (n, m) = (self.len, self.nonzero.len());
        let share = m as f64 / n as f64;
        let mut sum = 0.0;
        if share >= 1.0 {
            for _ in 0..n {
                sum += self.nonzero[rng.below(m)];
            }
        } else if share > 0.0 {
            let log_miss = (1.0 - share).ln();
            let mut position = 0u64;
            loop {
                // Trials up to and including the next success: 1 + Geometric(share).
                let gap = (rng.unit_open().ln() / log_miss).floor();
                position =
                    position.saturating_add(if gap >= n as f64 { n } else { gap as u64 }).saturating_add(1);
                if position > n {
                    break;
                }
                sum += self.nonzero[rng.below(m)];
            }
        }
        sum / n as f64
    }
}

/// A percentile-bootstrap interval for mean(b) − mean(a) at `confidence`, from `resamples`
/// resamples drawn with a generator seeded by `seed`. `None` if either sample is empty or the
/// confidence is not strictly between 0 and 1.
pub fn bootstrap_mean_difference(
    a: &Sample,
    b: &Sample,
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<(f64, f64)> {
    if a.len == 0 || b.len == 0 || resamples == 0 || !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let mut rng = SplitMix64(seed);
    let mut differences: Vec<f64> =
        (0..resamples).map(|_| b.resample_mean(&mut rng) - a.resample_mean(&mut rng)).collect();
    differences.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    let at = |q: f64| {
        let index = (q * (resamples - 1) as f64).round() as usize;
        differences[index.min(resamples - 1)]
    };
    Some((at(tail), at(1.0 - tail)))
}

/// The mixture sequential probability ratio test (mSPRT) for a difference of two rates, as in
/// Johari, Koomen, Pekelis and Walsh, "Peeking at A/B Tests" (KDD 2017): with a normal mixture
/// of variance `tau`² over the true difference, the likelihood ratio after the data so far is
/// `Λ = sqrt(V / (V + τ²)) · exp(τ² d² / (2 V (V + τ²)))`, where `d` is B's rate minus A's and
/// `V` its estimated variance. `1/Λ` is a p-value that stays valid however often it is looked
/// at; its running minimum over the looks is the always-valid p-value, and stopping the first
/// time it falls below α keeps the false-positive rate at α. A fixed-sample test checked after
/// every batch does not: peeking ten times at α = 0.05 wrongly declares a winner about a fifth
/// of the time.
///
/// Returns this look's `1/Λ` (at most 1), or `None` without trials or without variation.
pub fn sequential_p_value(a: Proportion, b: Proportion, tau: f64) -> Option<f64> {
    let (rate_a, rate_b) = (a.rate()?, b.rate()?);
    let variance = rate_a * (1.0 - rate_a) / a.trials as f64 + rate_b * (1.0 - rate_b) / b.trials as f64;
    if !(variance > 0.0 && tau > 0.0 && tau.is_finite()) {
        return None;
    }
    let tau2 = tau * tau;
    let d = rate_b - rate_a;
    let log_ratio =
        0.5 * (variance / (variance + tau2)).ln() + tau2 * d * d / (2.0 * variance * (variance + tau2));
    Some((-log_ratio).exp().min(1.0))
}

/// The standard normal distribution function Φ(z), from the complementary error function (musl's,
/// through `libm`: accurate to a few units in the last place, far into the tails).
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// The quantile function Φ⁻¹(p) of the standard normal distribution: Acklam's rational
/// approximation (relative error below 1.2e-9), refined by one step of Halley's method against
/// [`normal_cdf`] to full precision. `p` outside (0, 1) gives ±∞.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    const LOW: f64 = 0.024_25;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    let error = normal_cdf(x) - p;
    let u = error * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// A small, fast, seedable generator (SplitMix64): resampling needs reproducibility, not
/// cryptographic strength.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so its logarithm is finite.
    fn unit_open(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, tolerance: f64) {
        assert!((actual - expected).abs() <= tolerance, "{actual} is not within {tolerance} of {expected}");
    }

    /// Reference values from Python 3.11's `statistics.NormalDist` (an independent
    /// implementation): `NormalDist().cdf(1.96)`, `.cdf(-2.650185)`, `.inv_cdf(0.975)`,
    /// `.inv_cdf(0.995)`, `.inv_cdf(0.01)`.
    #[test]
    fn the_normal_distribution_matches_a_reference() {
        close(normal_cdf(1.96), 0.975_002_104_851_779_6, 1e-14);
        close(normal_cdf(-2.650_185), 0.004_022_385_317_813_126, 1e-15);
        close(normal_cdf(0.0), 0.5, 1e-15);
        close(normal_quantile(0.975), 1.959_963_984_540_053_6, 1e-12);
        close(normal_quantile(0.995), 2.575_829_303_548_9, 1e-12);
        close(normal_quantile(0.01), -2.326_347_874_040_840_8, 1e-12);
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
    }

    /// Newcombe (1998), "Interval estimation for the difference between independent
    /// proportions", Statistics in Medicine 17:873-890, Table II, example (a): 56/70 against
    /// 48/80. Method 10 (hybrid score) gives 0.0524 to 0.3339. The z statistic and p-value of the
    /// pooled test are from Python 3.11 (`statistics.NormalDist`): z = 2.650172, p = 0.008045.
    #[test]
    fn two_rates_compare_as_newcombe_and_the_z_test_say() {
        let a = Proportion { successes: 48, trials: 80 };
        let b = Proportion { successes: 56, trials: 70 };
        let result = compare_rates(a, b, 0.95).unwrap();
        close(result.difference, 0.2, 1e-12);
        close(result.interval.0, 0.0524, 5e-5);
        close(result.interval.1, 0.3339, 5e-5);
        close(result.z, 2.650_171_951, 1e-6);
        close(result.p_value, 0.008_045_081, 1e-6);
        assert!(result.large_enough);
    }

    #[test]
    fn small_or_degenerate_samples_say_so() {
        let tiny = compare_rates(
            Proportion { successes: 1, trials: 12 },
            Proportion { successes: 3, trials: 11 },
            0.95,
        );
        assert!(!tiny.unwrap().large_enough);
        let none = Proportion { successes: 0, trials: 0 };
        assert_eq!(compare_rates(none, Proportion { successes: 1, trials: 2 }, 0.95), None);
        let flat = compare_rates(
            Proportion { successes: 0, trials: 50 },
            Proportion { successes: 0, trials: 50 },
            0.95,
        );
        let flat = flat.unwrap();
        assert_eq!(flat.z, 0.0);
        close(flat.p_value, 1.0, 1e-15);
        assert!(flat.interval.0 < 0.0 && flat.interval.1 > 0.0);
        assert_eq!(
            compare_rates(
                Proportion { successes: 1, trials: 2 },
                Proportion { successes: 1, trials: 2 },
                1.0
            ),
            None
        );
    }

    /// With large samples the percentile bootstrap agrees with the normal-theory interval for a
    /// difference of means (mean ± 1.96 × the unpooled standard error), here within a tenth of
    /// its half-width; and it is the same for the same seed.
    #[test]
    fn the_bootstrap_agrees_with_normal_theory_on_large_samples_and_repeats_itself() {
        let mut rng = SplitMix64(7);
        // Revenue as it looks: most spend nothing, some spend 20-120.
        let draw = |rng: &mut SplitMix64, buy_percent: u64| {
            (0..4_000)
                .map(|_| {
                    if rng.next() % 100 < buy_percent {
                        20.0 + (rng.next() % 10_000) as f64 / 100.0
                    } else {
                        0.0
                    }
                })
                .collect::<Vec<f64>>()
        };
        let a = draw(&mut rng, 5);
        let b = draw(&mut rng, 8);
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
        let variance = |s: &[f64]| {
            let m = mean(s);
            s.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (s.len() - 1) as f64
        };
        let difference = mean(&b) - mean(&a);
        let half = 1.959_964 * (variance(&a) / a.len() as f64 + variance(&b) / b.len() as f64).sqrt();
        let (a, b) = (Sample::from_values(&a), Sample::from_values(&b));
        let (low, high) = bootstrap_mean_difference(&a, &b, 2_000, 0.95, 42).unwrap();
        close(low, difference - half, half / 10.0);
        close(high, difference + half, half / 10.0);
        assert_eq!(bootstrap_mean_difference(&a, &b, 2_000, 0.95, 42), Some((low, high)));
        assert_eq!(bootstrap_mean_difference(&Sample::default(), &b, 2_000, 0.95, 42), None);
    }

    /// The sparse resample has the distribution of the dense one: over many resamples its mean
    /// is the sample's mean and its variance the sample variance / n, as for any bootstrap.
    #[test]
    fn a_sparse_resample_is_distributed_as_a_dense_one() {
        let mut values = vec![0.0; 9_000];
        values.extend((0..1_000).map(|i| 10.0 + (i % 50) as f64));
        let sample = Sample::from_values(&values);
        assert_eq!((sample.len, sample.nonzero.len()), (10_000, 1_000));
        let mean = sample.mean().unwrap();
        let variance = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / values.len() as f64;
        let mut rng = SplitMix64(3);
        let draws: Vec<f64> = (0..4_000).map(|_| sample.resample_mean(&mut rng)).collect();
        let draw_mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let draw_variance =
            draws.iter().map(|x| (x - draw_mean).powi(2)).sum::<f64>() / (draws.len() - 1) as f64;
        let expected_variance = variance / values.len() as f64;
        // Four thousand draws: the mean within 4 standard errors, the variance within 10%.
        close(draw_mean, mean, 4.0 * (expected_variance / 4_000.0).sqrt());
        close(draw_variance, expected_variance, expected_variance / 10.0);
        // All values non-zero, and none: the edge cases of the binomial draw.
        let full = Sample::from_values(&[1.0, 2.0, 3.0]);
        assert!((1.0..=3.0).contains(&full.resample_mean(&mut rng)));
        assert_eq!(Sample::from_values(&[0.0, 0.0]).resample_mean(&mut rng), 0.0);
    }

    /// Reference values computed independently in Python 3.11 from the formula of Johari et al.
    /// (2017), eq. (11) with the plug-in variance of a difference of two proportions:
    /// `math.sqrt(V/(V+t2))*math.exp(t2*d*d/(2*V*(V+t2)))`.
    #[test]
    fn the_sequential_test_matches_its_formula_and_is_stricter_than_one_look() {
        let p = |s, n| Proportion { successes: s, trials: n };
        close(
            sequential_p_value(p(100, 2_000), p(150, 2_000), 0.01).unwrap(),
            0.056_331_251_910_269_16,
            1e-12,
        );
        close(
            sequential_p_value(p(500, 10_000), p(600, 10_000), 0.02).unwrap(),
            0.057_708_422_264_908_42,
            1e-12,
        );
        // Λ below 1 (no evidence): the p-value is capped at 1.
        assert_eq!(sequential_p_value(p(100, 2_000), p(110, 2_000), 0.01), Some(1.0));
        // The same data read once, by the z-test, gives p ≈ 0.001: the price of being allowed
        // to look at every computation is a stricter bar.
        let once = compare_rates(p(100, 2_000), p(150, 2_000), 0.95).unwrap();
        assert!(once.p_value < 0.002, "{}", once.p_value);
        assert_eq!(sequential_p_value(p(0, 100), p(0, 100), 0.01), None);
        assert_eq!(sequential_p_value(p(0, 0), p(1, 100), 0.01), None);
    }
}
