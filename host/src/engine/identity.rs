//! Who a source says a person is: `identify` (traits on a user or an anonymous visitor) and
//! `alias` (an earlier id and a user id are one person). Ingest sources call these instead of the
//! store, like every other caller of the engine.

use super::{Engine, EngineError};
use crate::profile::{Identity, ProfileId};

impl Engine {
    /// Sets traits on the profile of `user_id` or `anonymous_id` (created if new; both ids
    /// joined when both are given).
    pub fn identify(
        &self,
        user_id: Option<&str>,
        anonymous_id: Option<&str>,
        traits: &serde_json::Map<String, serde_json::Value>,
        now: i64,
    ) -> Result<ProfileId, EngineError> {
        Ok(self.storage.identify(user_id, anonymous_id, traits, now)?)
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
