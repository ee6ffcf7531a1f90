//! The application layer's access actions: secrets and tokens. Each is one function that checks
//! its input, makes the change and writes the audit record, taking the actor; the API handlers and
//! the CLI's local mode both call these, so the two cannot drift (a secret set from the CLI is
//! audited exactly as one set through the API).
//!
//! May depend on: the store.

use super::{Engine, EngineError};
use crate::store::{AuditRecord, Role, SecretScope, SecretValue, TokenRecord, check_secret_hosts};

impl Engine {
    /// The secrets that are set, with the hosts each may go to (never their values).
    pub fn secrets(&self) -> Result<Vec<SecretScope>, EngineError> {
        Ok(self.storage.secret_scopes()?)
    }

    /// Sets a secret and the hosts it may be sent to. Returns the hosts as stored.
    pub fn set_secret(
        &self,
        actor: &str,
        name: &str,
        value: &SecretValue,
        hosts: &[String],
    ) -> Result<Vec<String>, EngineError> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(EngineError::InvalidRequest(format!(
                "secret name `{name}`: use letters, digits and `_`"
            )));
        }
        if value.expose().is_empty() {
            return Err(EngineError::InvalidRequest(format!("secret `{name}`: the value is empty")));
        }
        let hosts = check_secret_hosts(hosts)
            .map_err(|reason| EngineError::InvalidRequest(format!("secret `{name}` hosts: {reason}")))?;
        self.storage.put_secret(name, value, &hosts)?;
        self.audit(actor, "secret_set", name, serde_json::json!({ "hosts": hosts }))?;
        Ok(hosts)
    }

    /// Deletes a secret.
    pub fn delete_secret(&self, actor: &str, name: &str) -> Result<(), EngineError> {
        if !self.storage.delete_secret(name)? {
            return Err(EngineError::SecretNotFound(name.to_owned()));
        }
        self.audit(actor, "secret_deleted", name, serde_json::Value::Null)
    }

    /// Creates a token. Returns the token (to show once) and its record.
    pub fn create_token(
        &self,
        actor: &str,
        name: &str,
        role: Role,
    ) -> Result<(String, TokenRecord), EngineError> {
        if name.trim().is_empty() {
            return Err(EngineError::InvalidRequest("name: must not be empty".into()));
        }
        let (token, record) = self.storage.create_token(name, role, self.now())?;
        self.audit(
            actor,
            "token_created",
            &record.id,
            serde_json::json!({ "name": record.name, "role": record.role }),
        )?;
        Ok((token, record))
    }

    /// Revokes the live token with this id.
    pub fn revoke_token(&self, actor: &str, id: &str) -> Result<(), EngineError> {
        if !self.storage.revoke_token(id, self.now())? {
            return Err(EngineError::TokenNotFound(id.to_owned()));
        }
        self.audit(actor, "token_revoked", id, serde_json::Value::Null)
    }

    /// Refuses a name for a `what` (a trait binding, a feedback endpoint) that is not 1 to 64
    /// lowercase letters, digits, `-` and `_`: such names go into URLs and logs as they are.
    pub(crate) fn check_name(what: &str, name: &str) -> Result<(), EngineError> {
        let valid = (1..=64).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if valid {
            return Ok(());
        }
        Err(EngineError::InvalidRequest(format!(
            "{what} name `{name}`: use 1 to 64 lowercase letters, digits, `-` and `_`"
        )))
    }

    /// The token's record, if it is a live token.
    pub fn verify_token(&self, token: &str) -> Result<Option<crate::store::TokenRecord>, EngineError> {
        Ok(self.storage.verify_token(token)?)
    }

    /// Writes one audit record at the engine's clock.
    pub(crate) fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<(), EngineError> {
        let record = AuditRecord {
            at: self.now(),
            actor: actor.to_owned(),
            action: action.into(),
            target: target.into(),
            detail,
        };
        Ok(self.storage.audit(&record)?)
    }
}
