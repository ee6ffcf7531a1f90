//! Unsubscribe links: one per recipient, channel and purpose, signed with the key beside the
//! data directory and expiring, so that nobody can opt somebody else out by editing a link and
//! an old link stops working. Every marketing message carries its link in `data.unsubscribe_url`
//! (for templates and adapters; the SendGrid adapter turns it into RFC 8058's
//! `List-Unsubscribe` and `List-Unsubscribe-Post` headers). A click records the opt-out as a
//! consent change whose source is the link, and the check at the moment of sending stops the
//! sends already queued.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Engine, EngineError};
use crate::profile::{ConsentState, Profile, ProfileId, Suppression, SuppressionReason};

/// How long a link works unless configured otherwise: Gmail asks that one-click links work for
/// at least 60 days.
pub const LINK_VALID_MS: i64 = 90 * 24 * 3_600_000;
const LABEL: &str = "unsubscribe";

/// What a link unsubscribes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeLink {
    /// The recipient.
    pub profile: ProfileId,
    /// The channel (`email`).
    pub channel: String,
    /// The purpose (`marketing`).
    pub purpose: String,
    /// Until when it works, ms since the epoch.
    pub expires_at: i64,
}

/// How far a click unsubscribes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsubscribeScope {
    /// The link's channel and purpose (RFC 8058's one click).
    Purpose,
    /// Everything on the channel: a suppression, whatever the consents say.
    Channel,
}

impl Engine {
    /// Sets the URL recipients reach this Baton at (`api.public_url`), for unsubscribe links.
    pub fn set_public_url(&self, url: &str) {
        let mut public = self.public_url.write().unwrap_or_else(|p| p.into_inner());
        *public = Some(url.trim_end_matches('/').to_owned());
    }

    /// The signed unsubscribe URL for a recipient, channel and purpose, if Baton knows where it
    /// is reached (`api.public_url`).
    pub(crate) fn unsubscribe_url(
        &self,
        profile: ProfileId,
        channel: &str,
        purpose: &str,
        now: i64,
    ) -> Result<Option<String>, EngineError> {
        let base = self.public_url.read().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(base) = base else { return Ok(None) };
        let payload = format!("{profile}|{channel}|{purpose}|{}", now.saturating_add(LINK_VALID_MS));
        let mac = self.storage.link_mac(LABEL, payload.as_bytes())?;
        let token = format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(&mac[..16]));
        Ok(Some(format!("{base}/u/{token}")))
    }

    /// What a link's token says, if Baton signed it and it has not expired.
    pub fn unsubscribe_link(&self, token: &str) -> Result<UnsubscribeLink, EngineError> {
        let invalid = || EngineError::UnsubscribeLinkInvalid;
        let (payload, mac) = token.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| invalid())?;
        let expected = self.storage.link_mac(LABEL, &payload)?;
        if !constant_time_eq(&mac, &expected[..16]) {
            return Err(invalid());
        }
        let text = String::from_utf8(payload).map_err(|_| invalid())?;
        let mut parts = text.split('|');
        let (Some(profile), Some(channel), Some(purpose), Some(expires), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let link = UnsubscribeLink {
            profile: profile.parse().map_err(|_| invalid())?,
            channel: channel.to_owned(),
            purpose: purpose.to_owned(),
            expires_at: expires.parse().map_err(|_| invalid())?,
        };
        if link.expires_at < self.now() {
            return Err(invalid());
        }
        Ok(link)
    }

    /// Records a click: the purpose's consent denied (or the channel suppressed), with the link
    /// as its source, audited as the recipient's own act.
    pub fn unsubscribe(&self, token: &str, scope: UnsubscribeScope) -> Result<Profile, EngineError> {
        let link = self.unsubscribe_link(token)?;
        let now = self.now();
        let limit = self.consent.history_limit;
        let key = format!("{}:{}", link.channel, link.purpose);
        let updated = self.storage.update_profile(link.profile, now, |profile| {
            profile.record_consent(&key, ConsentState::Denied, now, "unsubscribe_link", limit);
            if scope == UnsubscribeScope::Channel {
                profile.suppressions.insert(
                    link.channel.clone(),
                    Suppression { reason: SuppressionReason::Unsubscribed, since: now },
                );
            }
        })?;
        // An erased recipient's link finds nobody: as invalid as a forged one.
        let profile = updated.ok_or(EngineError::UnsubscribeLinkInvalid)?;
        let what = match scope {
            UnsubscribeScope::Purpose => key,
            UnsubscribeScope::Channel => link.channel.clone(),
        };
        self.audit(
            "recipient",
            "unsubscribed",
            &link.profile.to_string(),
            serde_json::json!({ "from": what }),
        )?;
        Ok(profile)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
