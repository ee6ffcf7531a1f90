//! Small helpers the benchmarks share for turning samples into printed figures.

use std::time::Duration;

use baton::{Event, ProfileId};

/// The median and 99th percentile of `samples` (sorted in place).
pub fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len().max(1) as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A duration in microseconds.
pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A field of `/proc/self/status` in KiB (`VmRSS`: resident now, `VmHWM`: peak), 0 where
/// there is none.
pub fn memory_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The machine's memory in KiB (`MemTotal` of `/proc/meminfo`), 0 where there is none.
pub fn memory_kib_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Resets the peak-memory mark `VmHWM` (Linux: writing 5 to `clear_refs`).
pub fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A small deterministic generator (SplitMix64): same seed, same data set.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform draw in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Stores [`shop_history`] for each of `customers` (in order, so the store is written as it
/// keeps them) between `span.0` and `span.1`, 10,000 events a write; returns how many.
pub fn store_shop_histories(
    storage: &baton::Storage,
    customers: &[ProfileId],
    rng: &mut SplitMix,
    span: (i64, i64),
    per_customer: usize,
    campaign: &str,
) -> usize {
    const BATCH: usize = 10_000;
    let mut batch = Vec::with_capacity(BATCH);
    let mut written = 0usize;
    for (c, profile) in customers.iter().copied().enumerate() {
        for event in shop_history(rng, c, profile, span.0, span.1, per_customer, campaign) {
            batch.push(event);
            if batch.len() == BATCH {
                written += batch.len();
                storage.append_events(&std::mem::take(&mut batch)).expect("events stored");
            }
        }
    }
    written += batch.len();
    storage.append_events(&batch).expect("events stored");
    written
}

/// One customer's events between `from` and `to`, about `per_customer` of them: browsing,
/// orders, and `campaign`'s message (or holdout) on a random day with an open and a click for
/// some. A few customers are far more active than the rest.
pub fn shop_history(
    rng: &mut SplitMix,
    c: usize,
    profile: ProfileId,
    from: i64,
    to: i64,
    per_customer: usize,
    campaign: &str,
) -> Vec<Event> {
    let span = (to - from) as u64;
    let activity = rng.unit().powi(3);
    let count = 1 + (activity * 4.0 * per_customer as f64) as usize;
    let mut at: Vec<i64> =
        (0..count.min(4 * per_customer)).map(|_| from + (rng.next() % span) as i64).collect();
    at.sort_unstable();
    let mut events: Vec<Event> = at
        .into_iter()
        .enumerate()
        .map(|(i, at)| {
            let roll = rng.next() % 100;
            let (name, properties) = match roll {
                0..=59 => ("page", serde_json::json!({"path": "/"})),
                60..=89 => ("product_viewed", serde_json::json!({"sku": roll})),
                _ => ("order_completed", serde_json::json!({"revenue": 20 + roll})),
            };
            event(format!("c{c}-{from}-{i}"), profile, name, at, properties, None)
        })
        .collect();
    let reached = from + (rng.next() % span) as i64;
    let held_out = rng.next() % 5 == 0;
    let name = if held_out { "control_assigned" } else { "message_delivered" };
    events.push(event(
        format!("c{c}-{from}-m"),
        profile,
        name,
        reached,
        serde_json::json!({}),
        Some(campaign),
    ));
    if !held_out && rng.next() % 3 == 0 {
        let opened = serde_json::json!({});
        events.push(event(
            format!("c{c}-{from}-o"),
            profile,
            "email_opened",
            reached + 3_600_000,
            opened,
            Some(campaign),
        ));
        if rng.next() % 3 == 0 {
            let clicked = serde_json::json!({});
            events.push(event(
                format!("c{c}-{from}-k"),
                profile,
                "email_clicked",
                reached + 3_700_000,
                clicked,
                Some(campaign),
            ));
        }
    }
    events.sort_by_key(|e| e.timestamp);
    events
}

fn event(
    id: String,
    profile: ProfileId,
    name: &str,
    at: i64,
    properties: serde_json::Value,
    campaign: Option<&str>,
) -> Event {
    Event {
        id,
        profile,
        name: name.into(),
        timestamp: at,
        properties: properties.as_object().unwrap().clone(),
        campaign: campaign.map(str::to_owned),
    }
}
