//! Host policies: the rules Baton enforces whatever the plugins say. Each refusal is a
//! [`SkipReason`] with a stable code; quiet hours delay a send instead of dropping it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::campaign::Campaign;
use crate::delivery::SkipReason;
use crate::profile::{ConsentState, Profile, SuppressionReason};
use crate::store::SentTo;

/// A rolling-window cap: at most `max` marketing messages on a channel within `window_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollingCap {
    /// Messages allowed in the window.
    pub max: u32,
    /// The window, in milliseconds.
    pub window_ms: i64,
}

/// Quiet hours in the profile's local time: from `start_hour` to `end_hour` (0–23; the window may
/// wrap midnight, for example 21 → 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// First quiet hour.
    pub start_hour: u8,
    /// First hour that is no longer quiet.
    pub end_hour: u8,
}

/// The pacing policies, per deployment. Transactional campaigns are exempt from all of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policies {
    /// Rolling-window caps per channel.
    pub frequency_caps: BTreeMap<String, RollingCap>,
    /// Messages per calendar day in the profile's time zone, per channel.
    pub daily_caps: BTreeMap<String, u32>,
    /// Quiet hours, if any.
    pub quiet_hours: Option<QuietHours>,
    /// The time zone of profiles that have none (IANA name).
    pub default_timezone: String,
    /// A profile that got a message from a higher-priority campaign within this window is not
    /// sent lower-priority ones.
    pub priority_window_ms: i64,
    /// How long a marketing send waits before it may leave, so that a higher-priority campaign
    /// deciding for the same person in the meantime wins, whichever was judged first (the
    /// loser is skipped `lower_priority` when it would leave). 0, the default, adds no wait:
    /// sends queued together are still arbitrated when they leave.
    pub arbitration_window_ms: i64,
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            frequency_caps: BTreeMap::new(),
            daily_caps: BTreeMap::new(),
            quiet_hours: None,
            default_timezone: "UTC".into(),
            priority_window_ms: 24 * 3_600_000,
            arbitration_window_ms: 0,
        }
    }
}

impl Policies {
    /// What is wrong with the policies, if anything.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if TimeZone::get(&self.default_timezone).is_err() {
            problems.push(format!("default_timezone `{}` is not an IANA time zone", self.default_timezone));
        }
        if let Some(q) = self.quiet_hours {
            if q.start_hour > 23 || q.end_hour > 23 || q.start_hour == q.end_hour {
                problems.push("quiet_hours: hours are 0 to 23 and start differs from end".into());
            }
        }
        if !(0..=self.priority_window_ms.max(0)).contains(&self.arbitration_window_ms) {
            problems.push("arbitration_window_ms: 0 up to priority_window_ms".into());
        }
        for (channel, cap) in &self.frequency_caps {
            if cap.window_ms <= 0 {
                problems.push(format!("frequency_caps.{channel}.window_ms: must be more than 0"));
            }
        }
        problems
    }
}

/// What pacing decided for one send.
pub(crate) enum Pacing {
    /// Send now.
    Now,
    /// Send, but not before this time (quiet hours).
    Delay { until: i64, detail: String },
    /// Do not send.
    Skip(SkipReason, String),
}

/// Consent, suppression and address: the rules no campaign is exempt from.
pub(crate) fn eligibility(campaign: &Campaign, profile: &Profile) -> Result<String, (SkipReason, String)> {
    if let Some(suppression) = profile.suppressions.get(&campaign.channel) {
        let reason = match suppression.reason {
            SuppressionReason::Unsubscribed => SkipReason::Unsubscribed,
            SuppressionReason::Bounced => SkipReason::Bounced,
            SuppressionReason::Complained => SkipReason::Complained,
            SuppressionReason::Manual => SkipReason::Suppressed,
        };
        return Err((reason, format!("{} suppressed since {}", campaign.channel, suppression.since)));
    }
    match (profile.consent(&campaign.channel, &campaign.purpose), campaign.transactional) {
        (Some(ConsentState::Granted), _) => {}
        // Transactional messages need no opt-in, but an explicit opt-out still holds.
        (None, true) => {}
        (Some(ConsentState::Denied), _) | (None, false) => {
            return Err((
                SkipReason::NoConsent,
                format!("no {}:{} consent", campaign.channel, campaign.purpose),
            ));
        }
    }
    recipient(campaign, profile)
        .ok_or_else(|| (SkipReason::NoAddress, format!("no {} address on the profile", campaign.channel)))
}

/// Caps, priority and quiet hours for a marketing send, given the profile's recent sends.
pub(crate) fn pacing(
    policies: &Policies,
    campaign: &Campaign,
    profile: &Profile,
    recent: &[SentTo],
    now: i64,
) -> Pacing {
    if campaign.transactional {
        return Pacing::Now;
    }
    // Priority first: when a higher-priority campaign claimed the profile, that is the reason,
    // more telling than the cap the claim also fills.
    let window_start = now.saturating_sub(policies.priority_window_ms);
    if let Some(higher) =
        recent.iter().find(|s| !s.transactional && s.at >= window_start && s.priority > campaign.priority)
    {
        return Pacing::Skip(
            SkipReason::LowerPriority,
            format!(
                "campaign `{}` (priority {}) messaged this profile first",
                higher.campaign, higher.priority
            ),
        );
    }
    let marketing = || recent.iter().filter(|s| !s.transactional && s.channel == campaign.channel);
    if let Some(cap) = policies.frequency_caps.get(&campaign.channel) {
        let since = now.saturating_sub(cap.window_ms);
        let sent = marketing().filter(|s| s.at >= since).count();
        if sent >= cap.max as usize {
            return Pacing::Skip(
                SkipReason::FrequencyCap,
                format!(
                    "{sent} {} messages in the last {} ms (cap {})",
                    campaign.channel, cap.window_ms, cap.max
                ),
            );
        }
    }
    let zone = zone(policies, profile);
    if let Some(max) = policies.daily_caps.get(&campaign.channel) {
        let day_start = start_of_day(now, &zone);
        let sent = marketing().filter(|s| s.at >= day_start).count();
        if sent >= *max as usize {
            return Pacing::Skip(
                SkipReason::DailyCap,
                format!("{sent} {} messages today in {} (cap {max})", campaign.channel, zone_name(&zone)),
            );
        }
    }
    if let Some(quiet) = policies.quiet_hours {
        if let Some(until) = end_of_quiet(now, &zone, quiet) {
            return Pacing::Delay {
                until,
                detail: format!("quiet hours in {}; delayed to {until}", zone_name(&zone)),
            };
        }
    }
    Pacing::Now
}

/// The profile's time zone, or the default when it has none or an unknown one.
pub(crate) fn zone(policies: &Policies, profile: &Profile) -> TimeZone {
    profile
        .timezone
        .as_deref()
        .and_then(|name| TimeZone::get(name).ok())
        .or_else(|| TimeZone::get(&policies.default_timezone).ok())
        .unwrap_or(TimeZone::UTC)
}

fn zone_name(zone: &TimeZone) -> String {
    zone.iana_name().unwrap_or("UTC").to_owned()
}

/// Midnight of `now`'s local day, as ms since the epoch.
fn start_of_day(now: i64, zone: &TimeZone) -> i64 {
    Timestamp::from_millisecond(now)
        .ok()
        .map(|t| t.to_zoned_datetime(zone.clone()))
        .and_then(|local| local.start_of_day().ok())
        .map_or(now, |midnight| midnight.timestamp().as_millisecond())
}

/// If `now` is inside quiet hours in `zone`, when they end.
fn end_of_quiet(now: i64, zone: &TimeZone, quiet: QuietHours) -> Option<i64> {
    let local = Timestamp::from_millisecond(now).ok()?.to_zoned_datetime(zone.clone());
    let hour = u8::try_from(local.hour()).ok()?;
    let quiet_now = if quiet.start_hour < quiet.end_hour {
        (quiet.start_hour..quiet.end_hour).contains(&hour)
    } else {
        hour >= quiet.start_hour || hour < quiet.end_hour
    };
    if !quiet_now {
        return None;
    }
    let today_end =
        local.date().at(i8::try_from(quiet.end_hour).ok()?, 0, 0, 0).to_zoned_datetime(zone.clone()).ok()?;
    let end = if today_end.timestamp() > local.timestamp() {
        today_end
    } else {
        local
            .date()
            .tomorrow()
            .ok()?
            .at(i8::try_from(quiet.end_hour).ok()?, 0, 0, 0)
            .to_zoned_datetime(zone.clone())
            .ok()?
    };
    Some(end.timestamp().as_millisecond())
}

/// The profile's address on the campaign's channel.
fn recipient(campaign: &Campaign, profile: &Profile) -> Option<String> {
    let attribute = match campaign.channel.as_str() {
        "email" => "email",
        "sms" => "phone",
        "push" => "push_token",
        _ => return Some(profile.id.to_string()),
    };
    profile.attributes.get(attribute)?.as_str().filter(|s| !s.trim().is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn quiet_hours_wrap_midnight_in_the_profiles_zone() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let quiet = QuietHours { start_hour: 21, end_hour: 8 };
        // 22:30 in Paris (UTC+2 in June) is quiet until 08:00 the next morning.
        assert_eq!(end_of_quiet(at("2025-06-10T20:30:00Z"), &paris, quiet), Some(at("2025-06-11T06:00:00Z")));
        // 06:00 in Paris: quiet until 08:00 the same day.
        assert_eq!(end_of_quiet(at("2025-06-10T04:00:00Z"), &paris, quiet), Some(at("2025-06-10T06:00:00Z")));
        // 12:00 in Paris: not quiet.
        assert_eq!(end_of_quiet(at("2025-06-10T10:00:00Z"), &paris, quiet), None);
    }

    #[test]
    fn a_calendar_day_starts_at_local_midnight() {
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        assert_eq!(start_of_day(at("2025-06-10T16:00:00Z"), &tokyo), at("2025-06-10T15:00:00Z"));
        assert_eq!(start_of_day(at("2025-06-10T14:59:59Z"), &tokyo), at("2025-06-09T15:00:00Z"));
    }
}
