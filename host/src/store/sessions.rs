//! Console sessions: a browser signed in with a token. The session id lives only in the
//! browser's cookie; the store keys each session by the id's SHA-256, so a copy of the store
//! does not sign anyone in.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId, decode, encode};

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSession {
    /// The id of the token it signed in with: the token's role is the session's, and revoking
    /// the token ends the session.
    pub token_id: String,
    /// The form token every change must carry (CSRF).
    pub csrf: String,
    /// When it signed in, ms since the epoch.
    pub created_at: i64,
    /// When it stops working, ms since the epoch.
    pub expires_at: i64,
}

fn key(session_id: &str) -> Vec<u8> {
    Sha256::digest(session_id.as_bytes()).to_vec()
}

fn random_hex() -> Result<String, StorageError> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| StorageError::Database(format!("no randomness: {e}")))?;
    Ok(hex::encode(random))
}

impl Storage {
    /// Starts a session for a token, durably; returns its id (for the cookie) and the session.
    pub fn create_console_session(
        &self,
        token_id: &str,
        now: i64,
        lifetime_ms: i64,
    ) -> Result<(String, ConsoleSession), StorageError> {
        let id = random_hex()?;
        let session = ConsoleSession {
            token_id: token_id.to_owned(),
            csrf: random_hex()?,
            created_at: now,
            expires_at: now.saturating_add(lifetime_ms),
        };
        let mut writes = WriteSet::new(self);
        writes.put(TreeId::ConsoleSessions, key(&id), encode(&session)?);
        writes.commit()?;
        self.backend.durable()?;
        Ok((id, session))
    }

    /// The session a cookie names, if it exists and has not expired at `now`.
    pub fn console_session(
        &self,
        session_id: &str,
        now: i64,
    ) -> Result<Option<ConsoleSession>, StorageError> {
        let Some(raw) = self.tree(TreeId::ConsoleSessions).get(key(session_id))? else { return Ok(None) };
        let session: ConsoleSession = decode(&raw, "console session")?;
        Ok((session.expires_at > now).then_some(session))
    }

    /// Ends a session, durably.
    pub fn end_console_session(&self, session_id: &str) -> Result<(), StorageError> {
        let mut writes = WriteSet::new(self);
        writes.remove(TreeId::ConsoleSessions, key(session_id));
        writes.commit()?;
        self.backend.durable()
    }

    /// The live (not revoked) token record with this id.
    pub fn live_token(&self, id: &str) -> Result<Option<super::TokenRecord>, StorageError> {
        Ok(self.tokens()?.into_iter().find(|t| t.id == id && t.revoked_at.is_none()))
    }
}
