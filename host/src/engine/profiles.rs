//! What an operator may do to one profile: look it up, change its consents, suppressions and
//! time zone, export it, erase it. Every change is audited with the actor, from the API and the
//! CLI alike.

use crate::store::{Page, PageRequest};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError};
use crate::profile::{ConsentState, Identity, Profile, ProfileId, Suppression, SuppressionReason};
use crate::store::{Erasure, ProfileExport};

/// An operator's change to a profile: only what an operator may change (attributes and
/// identities come from the customer's own events).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "consents": { "email:marketing": "granted" }, "suppressions": { "sms": "unsubscribed" },
    "timezone": "Europe/Berlin"
}))]
pub struct ProfileUpdate {
    /// Consent decisions, by `channel:purpose` (`email:marketing`).
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": "^[^:]+:.+$" }))]
    pub consents: BTreeMap<String, ConsentState>,
    /// Suppressions to set (a reason) or lift (null), by channel.
    #[serde(default)]
    pub suppressions: BTreeMap<String, Option<SuppressionReason>>,
    /// The IANA time zone.
    #[serde(default)]
    #[schemars(schema_with = "iana_time_zone")]
    pub timezone: Option<String>,
}

/// An IANA time zone name, as the bundled database knows them: the document lists exactly the
/// names the server accepts.
pub(crate) fn iana_time_zone(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut names: Vec<String> = jiff::tz::db().available().map(|name| name.to_string()).collect();
    names.sort();
    let mut names: Vec<serde_json::Value> = names.into_iter().map(serde_json::Value::from).collect();
    names.push(serde_json::Value::Null);
    schemars::json_schema!({ "type": ["string", "null"], "enum": names })
}

impl ProfileUpdate {
    /// The first fault, said so that the caller knows what to fix.
    fn check(&self) -> Result<(), EngineError> {
        if let Some(key) =
            self.consents.keys().find(|k| k.split_once(':').is_none_or(|(c, p)| c.is_empty() || p.is_empty()))
        {
            return Err(EngineError::InvalidRequest(format!(
                "consent key `{key}`: use channel:purpose, for example email:marketing"
            )));
        }
        if let Some(tz) = self.timezone.as_deref().filter(|tz| jiff::tz::TimeZone::get(tz).is_err()) {
            return Err(EngineError::InvalidRequest(format!("timezone `{tz}` is not an IANA time zone")));
        }
        Ok(())
    }

    fn apply(&self, profile: &mut Profile, now: i64, actor: &str, history_limit: usize) {
        for (key, state) in &self.consents {
            profile.record_consent(key, *state, now, actor, history_limit);
        }
        for (channel, reason) in &self.suppressions {
            match reason {
                Some(reason) => {
                    profile.suppressions.insert(channel.clone(), Suppression { reason: *reason, since: now });
                }
                None => {
                    profile.suppressions.remove(channel);
                }
            }
        }
        if let Some(tz) = &self.timezone {
            profile.timezone = Some(tz.clone());
        }
    }
}

/// How a data-protection request or a support agent names a customer: exactly one of these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileLookup {
    /// The user id a source sent (`userId`).
    pub user_id: Option<String>,
    /// The anonymous id a source sent (`anonymousId`).
    pub anonymous_id: Option<String>,
    /// The `email` trait, compared case-insensitively.
    pub email: Option<String>,
}

/// Everything the console's single customer view shows of one profile.
#[derive(Debug, Clone)]
pub struct CustomerView {
    /// The profile: identities, traits, consents and their history, suppressions.
    pub profile: Profile,
    /// The saved segments it is in, with since when (ms since the epoch).
    pub segments: Vec<(String, i64)>,
    /// Its newest events, newest first (messages it received among them).
    pub events: Vec<crate::profile::Event>,
    /// Where it is in journeys.
    pub journeys: Vec<crate::journey::Position>,
}

impl Engine {
    /// One profile as the single customer view shows it, with its newest `events` events.
    /// Memberships are read from stored membership, one key per saved segment.
    pub fn customer_view(&self, id: ProfileId, events: usize) -> Result<CustomerView, EngineError> {
        let profile = self.profile(id)?;
        let mut segments = Vec::new();
        for segment in self.storage.segments()? {
            if let Some(member) = self.storage.segment_member(&segment.id, profile.id)? {
                segments.push((segment.id, member.since));
            }
        }
        Ok(CustomerView {
            events: self.storage.latest_events_of(profile.id, events)?,
            journeys: self.storage.journey_positions_of(profile.id)?,
            segments,
            profile,
        })
    }

    /// A page of the profiles a lookup names: every given key narrows the list (a user id or an
    /// anonymous id names at most one profile, an email any number: customers may share an
    /// address); with no key, every profile, in id order.
    pub fn find_profiles(
        &self,
        lookup: &ProfileLookup,
        request: &PageRequest,
    ) -> Result<Page<Profile>, EngineError> {
        let fits = |profile: &Profile| {
            let has = |identity: Identity| profile.identities.contains(&identity);
            lookup.user_id.as_ref().is_none_or(|id| has(Identity::User(id.clone())))
                && lookup.anonymous_id.as_ref().is_none_or(|id| has(Identity::Anonymous(id.clone())))
                && lookup.email.as_ref().is_none_or(|email| {
                    let current = profile.attributes.get("email").and_then(|e| e.as_str());
                    current.map(crate::store::normal_email) == Some(crate::store::normal_email(email))
                })
        };
        let named: Option<Vec<Profile>> = match lookup {
            ProfileLookup { user_id: Some(id), .. } => {
                Some(self.storage.profile_by_identity(&Identity::User(id.clone()))?.into_iter().collect())
            }
            ProfileLookup { anonymous_id: Some(id), .. } => Some(
                self.storage.profile_by_identity(&Identity::Anonymous(id.clone()))?.into_iter().collect(),
            ),
            ProfileLookup { email: Some(email), .. } => Some(self.storage.profiles_by_email(email)?),
            _ => None,
        };
        Ok(match named {
            Some(profiles) => {
                let profiles = profiles.into_iter().filter(|p| fits(p)).collect();
                Page::of(profiles, |p: &Profile| crate::store::profile_key(p.id).to_vec(), request)
            }
            None => self.storage.profiles_page(request, |_| true)?,
        })
    }

    /// Every profile a lookup names, for a data-protection request: refused unless it names
    /// the customer by at least one non-blank key (an empty lookup would name everyone).
    pub fn profiles_named(&self, lookup: &ProfileLookup) -> Result<Vec<Profile>, EngineError> {
        let keys = [&lookup.user_id, &lookup.anonymous_id, &lookup.email];
        if !keys.iter().any(|key| key.as_deref().is_some_and(|k| !k.trim().is_empty())) {
            return Err(EngineError::InvalidRequest(
                "name the customer by user_id, anonymous_id or email".into(),
            ));
        }
        Ok(self.find_profiles(lookup, &PageRequest { after: None, limit: usize::MAX })?.items)
    }

    /// The profile with this id.
    pub fn profile(&self, id: ProfileId) -> Result<Profile, EngineError> {
        self.storage.profile(id)?.ok_or(EngineError::ProfileNotFound(id))
    }

    /// Applies an operator's change to a profile, audited as `actor`'s.
    pub fn update_profile(
        &self,
        actor: &str,
        id: ProfileId,
        update: &ProfileUpdate,
    ) -> Result<Profile, EngineError> {
        update.check()?;
        let now = self.now();
        let limit = self.consent.history_limit;
        let updated =
            self.storage.update_profile(id, now, |profile| update.apply(profile, now, actor, limit))?;
        let profile = updated.ok_or(EngineError::ProfileNotFound(id))?;
        self.audit(actor, "profile_updated", &id.to_string(), serde_json::Value::Null)?;
        Ok(profile)
    }

    /// Everything stored about a profile (a subject access request), audited as `actor`'s.
    pub fn export_profile(&self, actor: &str, id: ProfileId) -> Result<ProfileExport, EngineError> {
        self.storage.export_profile(id, actor, self.now())?.ok_or(EngineError::ProfileNotFound(id))
    }

    /// Erases a profile and its events for good (right to erasure), audited as `actor`'s.
    pub fn erase_profile(&self, actor: &str, id: ProfileId) -> Result<Erasure, EngineError> {
        self.storage.erase_profile(id, actor, self.now())?.ok_or(EngineError::ProfileNotFound(id))
    }

    /// Queues a campaign's dead letters again, audited as `actor`'s. Returns how many.
    pub fn replay_dead_letters(&self, actor: &str, campaign: &str) -> Result<usize, EngineError> {
        self.campaign(campaign)?;
        let replayed = self.storage.replay_dead_letters(campaign, self.now())?;
        self.audit(actor, "dead_letters_replayed", campaign, serde_json::json!({ "sends": replayed }))?;
        Ok(replayed)
    }
}
