//! Throughput control: how fast sends leave, per vendor host and per campaign, shared by every
//! delivery task of the process.
//!
//! Each lane hands out time slots one interval apart (`1 / rate`), so in any window of a second
//! a lane limited to N per second lets at most N through, whatever the number of tasks asking.
//! A vendor that answers 429 (or an adapter that says `throttled`) slows its lane for everyone:
//! the lane pauses until the vendor's `Retry-After` (on the engine's clock, like every other
//! due time) and its interval doubles (up to 16 times the configured one), then shrinks back by
//! a tenth per success, as TCP backs off and recovers.
//!
//! A task never waits long for a slot: past [`MAX_WAIT`] the send is held in the outbox until
//! the slot comes (without spending an attempt), because a claimed send's lease must not run
//! out while it waits.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest a delivery task waits in the process for a slot; a later slot holds the send.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(1);
/// How much a lane may slow below its configured rate after throttling.
const MAX_SLOWDOWN: u32 = 16;
/// Half the interval a lane with no limit restarts at after a throttle (ten a second).
const UNLIMITED_RESTART: Duration = Duration::from_millis(50);

/// One lane: a host or a campaign.
#[derive(Debug)]
struct Lane {
    /// The configured interval (zero: no limit).
    base: Duration,
    /// The interval now (larger after throttling).
    interval: Duration,
    /// The next free slot.
    next: Instant,
    /// No slot before this time, ms since the epoch on the engine's clock (a vendor's pause).
    paused_until_ms: i64,
    /// Times the vendor asked to slow down.
    throttled: u64,
    /// Sends given no slot (too far off, or paused) and held in the outbox.
    held: u64,
    /// Delivery tasks waiting for their slot now.
    waiting: usize,
}

impl Lane {
    fn new(base: Duration) -> Self {
        Lane {
            base,
            interval: base,
            next: Instant::now(),
            paused_until_ms: 0,
            throttled: 0,
            held: 0,
            waiting: 0,
        }
    }
}

/// A lane as metrics show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SendLane {
    /// `host` for a vendor host, `campaign:<id>` for a campaign's own limit.
    pub lane: String,
    /// The pace allowed now, per second (below the limit after throttling); `None`: no limit.
    pub rate: Option<f64>,
    /// Times the vendor asked to slow down (429 or `throttled`) since the process started.
    pub throttled: u64,
    /// Sends given no slot and held in the outbox for later, since the process started.
    pub held: u64,
    /// Delivery tasks waiting for their slot now.
    pub waiting: usize,
}

/// The lanes of a process.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    lanes: Mutex<HashMap<String, Lane>>,
}

/// A lane's slot is too far off: come back after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Later(pub Duration);

impl Throttle {
    /// Takes the next slot of `key` (limited to `per_second`, if set), waiting for it when it
    /// is within [`MAX_WAIT`]; otherwise takes nothing and says when to come back.
    /// `now_ms` is the engine's clock, against which pauses are kept.
    pub(crate) async fn slot(&self, key: &str, per_second: Option<f64>, now_ms: i64) -> Result<(), Later> {
        let at = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let base = interval(per_second);
            let lane = lanes.entry(key.to_owned()).or_insert_with(|| Lane::new(base));
            if lane.paused_until_ms > now_ms {
                lane.held += 1;
                let pause = u64::try_from(lane.paused_until_ms - now_ms).unwrap_or(0);
                return Err(Later(Duration::from_millis(pause)));
            }
            if lane.base != base {
                // The limit was changed (a campaign edited): start from it.
                lane.base = base;
                lane.interval = base;
            }
            let at = lane.next.max(now);
            if at > now + MAX_WAIT {
                lane.held += 1;
                return Err(Later(at - now));
            }
            lane.next = at + lane.interval;
            lane.waiting += 1;
            at
        };
        // Counted out however the wait ends (a cancelled task included).
        let _waiting = Waiting { throttle: self, key };
        tokio::time::sleep_until(at.into()).await;
        Ok(())
    }

    /// The vendor behind `key` said slow down: nobody gets a slot for `pause` after `now_ms`,
    /// and the lane's interval doubles (a lane with no limit starts again at ten a second, so
    /// that it too comes back gradually).
    pub(crate) fn slow_down(&self, key: &str, pause: Duration, now_ms: i64) {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let lane = lanes.entry(key.to_owned()).or_insert_with(|| Lane::new(Duration::ZERO));
        lane.throttled += 1;
        let until = now_ms.saturating_add(i64::try_from(pause.as_millis()).unwrap_or(i64::MAX));
        lane.paused_until_ms = lane.paused_until_ms.max(until);
        let floor = if lane.base.is_zero() { UNLIMITED_RESTART } else { lane.base };
        lane.interval = (lane.interval.max(floor) * 2).min(floor * MAX_SLOWDOWN);
    }

    /// A request to `key` went through: the interval shrinks a tenth toward the configured one.
    pub(crate) fn recovered(&self, key: &str) {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lane) = lanes.get_mut(key) {
            if lane.interval > lane.base {
                lane.interval = (lane.interval * 9 / 10).max(lane.base);
                if lane.interval < lane.base + Duration::from_micros(100) {
                    lane.interval = lane.base;
                }
            }
        }
    }

    /// Each lane's pace and counts, by name, for metrics.
    pub(crate) fn lanes(&self) -> Vec<SendLane> {
        let lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<SendLane> = lanes
            .iter()
            .map(|(key, lane)| SendLane {
                lane: key.clone(),
                rate: (!lane.interval.is_zero()).then(|| 1.0 / lane.interval.as_secs_f64()),
                throttled: lane.throttled,
                held: lane.held,
                waiting: lane.waiting,
            })
            .collect();
        all.sort_by(|a, b| a.lane.cmp(&b.lane));
        all
    }

    #[cfg(test)]
    fn rates(&self) -> Vec<(String, Option<f64>)> {
        self.lanes().into_iter().map(|l| (l.lane, l.rate)).collect()
    }
}

/// A task waiting for its slot, counted in its lane until it stops waiting.
struct Waiting<'a> {
    throttle: &'a Throttle,
    key: &'a str,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut lanes = self.throttle.lanes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lane) = lanes.get_mut(self.key) {
            lane.waiting = lane.waiting.saturating_sub(1);
        }
    }
}

fn interval(per_second: Option<f64>) -> Duration {
    match per_second {
        Some(rate) if rate > 0.0 && rate.is_finite() => Duration::from_secs_f64(1.0 / rate),
        _ => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_are_one_interval_apart_and_far_ones_are_refused() {
        let throttle = Throttle::default();
        let start = Instant::now();
        for _ in 0..4 {
            throttle.slot("h", Some(20.0), 0).await.unwrap();
        }
        assert!(Instant::now() - start >= Duration::from_millis(150), "three intervals of 50 ms");
        // One every two seconds: the first is free, the next is too far to wait for.
        throttle.slot("slow", Some(0.5), 0).await.unwrap();
        let Err(Later(wait)) = throttle.slot("slow", Some(0.5), 0).await else {
            panic!("a far slot was given")
        };
        assert!(wait > MAX_WAIT && wait <= Duration::from_secs(2), "{wait:?}");
        // Refusing took no slot: the one after is no further off.
        let Err(Later(again)) = throttle.slot("slow", Some(0.5), 0).await else {
            panic!("a far slot was given")
        };
        assert!(again <= wait);
    }

    #[tokio::test]
    async fn throttling_pauses_the_lane_on_the_engine_clock_and_halves_its_rate_until_it_recovers() {
        let throttle = Throttle::default();
        throttle.slot("h", Some(10.0), 1_000).await.unwrap();
        throttle.slow_down("h", Duration::from_secs(120), 1_000);
        assert_eq!(throttle.slot("h", Some(10.0), 61_000).await, Err(Later(Duration::from_secs(60))));
        throttle.slot("h", Some(10.0), 121_000).await.unwrap();
        assert_eq!(throttle.rates(), vec![("h".to_owned(), Some(5.0))]);
        for _ in 0..20 {
            throttle.recovered("h");
        }
        assert_eq!(throttle.rates(), vec![("h".to_owned(), Some(10.0))]);
        let lane = &throttle.lanes()[0];
        assert_eq!((lane.throttled, lane.held, lane.waiting), (1, 1, 0));
        // A lane with no limit slows too, and comes back to none.
        throttle.slow_down("free", Duration::from_millis(160), 0);
        assert_eq!(throttle.rates()[0], ("free".to_owned(), Some(10.0)));
        for _ in 0..80 {
            throttle.recovered("free");
        }
        assert_eq!(throttle.rates()[0], ("free".to_owned(), None));
    }
}
