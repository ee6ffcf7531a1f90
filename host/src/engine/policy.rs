//! Host policies: the rules Baton enforces whatever the plugins say. Each refusal is a
//! [`SkipReason`] with a stable code.

use crate::campaign::Campaign;
use crate::delivery::SkipReason;
use crate::profile::{ConsentState, Profile, SuppressionReason};

/// Why this profile must not get this campaign's message now, if it must not.
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
