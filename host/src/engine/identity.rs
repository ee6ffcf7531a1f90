//! Who a source says a person is: `identify` (traits on a user or an anonymous visitor) and
//! `alias` (an earlier id and a user id are one person). Ingest sources call these instead of the
//! store, like every other caller of the engine.

use super::{Engine, EngineError, SourceFacts};
use crate::profile::{Identity, ProfileId};

impl Engine {
    /// Sets traits on the profile of `user_id` or `anonymous_id` (created if new; both ids
    /// joined when both are given), with the consents the traits and `facts` decide and the
    /// time zone and locale `facts` give, in one durable write.
    pub fn identify(
        &self,
        user_id: Option<&str>,
        anonymous_id: Option<&str>,
        traits: &serde_json::Map<String, serde_json::Value>,
        facts: &SourceFacts,
        now: i64,
    ) -> Result<ProfileId, EngineError> {
        let consent = &self.consent;
        let id = self.storage.identify_with(user_id, anonymous_id, traits, now, |profile| {
            consent.apply(profile, traits, facts, now);
        })?;
        Ok(id)
    }

    /// Applies what a message other than `identify` says about its person (time zone, locale,
    /// consent categories) to the profile its event landed on. Writes only when something
    /// changes, so a stream of events with the same context costs a read each.
    pub fn apply_facts(&self, profile: ProfileId, facts: &SourceFacts, now: i64) -> Result<(), EngineError> {
        if facts.is_empty() {
            return Ok(());
        }
        let Some(current) = self.storage.profile(profile)? else { return Ok(()) };
        let mut changed = current.clone();
        self.consent.apply(&mut changed, &serde_json::Map::new(), facts, now);
        if changed != current {
            let consent = &self.consent;
            self.storage
                .update_profile(profile, now, |p| consent.apply(p, &serde_json::Map::new(), facts, now))?;
        }
        Ok(())
    }

    /// Joins `previous` (usually an anonymous id, possibly an earlier user id) to `user_id`.
    /// `Ok(Err(reason))` when refused: two known users are not merged unless the operator set
    /// `storage.merge_known_users`.
    pub fn alias(
        &self,
        previous: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Result<ProfileId, String>, EngineError> {
        let anonymous = Identity::Anonymous(previous.to_owned());
        let previous = match self.storage.profile_by_identity(&anonymous)? {
            Some(_) => anonymous,
            None => Identity::User(previous.to_owned()),
        };
        let survivor = self.storage.alias(&previous, user_id, now)?;
        let merged = self.storage.profile_by_identity(&previous)?.is_none_or(|p| p.id == survivor);
        let (Identity::User(previous) | Identity::Anonymous(previous)) = previous;
        Ok(if merged {
            Ok(survivor)
        } else {
            Err(format!(
                "alias refused: `{previous}` and `{user_id}` are two known users, which Baton does not \
                 merge (an operator may allow it with `storage.merge_known_users`)"
            ))
        })
    }
}
