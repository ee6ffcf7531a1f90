//! Console sign-in: a browser presents a token once and gets a session (its role is the token's,
//! revoking the token ends it). Signing in and out are audited like any other action.

use super::{Engine, EngineError};
use crate::store::{ConsoleSession, Role, TokenRecord};

/// Why a sign-in was refused (said to the person, never which part was wrong beyond that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInRefused {
    /// The token is unknown or revoked.
    UnknownToken,
    /// The token is a source's write key: it ingests and cannot sign in.
    WriteKey,
}

impl Engine {
    /// Starts a console session for a token; `Ok(Err(..))` when the token may not sign in.
    pub fn sign_in(
        &self,
        token: &str,
        lifetime_ms: i64,
    ) -> Result<Result<(String, ConsoleSession, TokenRecord), SignInRefused>, EngineError> {
        let Some(record) = self.storage.verify_token(token.trim())? else {
            return Ok(Err(SignInRefused::UnknownToken));
        };
        if record.role == Role::Connector {
            return Ok(Err(SignInRefused::WriteKey));
        }
        let (id, session) = self.storage.create_console_session(&record.id, self.now(), lifetime_ms)?;
        self.audit(
            &format!("token:{}", record.name),
            "console_signed_in",
            &record.id,
            serde_json::Value::Null,
        )?;
        Ok(Ok((id, session, record)))
    }

    /// The session a cookie names and its token, while both are live.
    pub fn console_session(
        &self,
        session_id: &str,
    ) -> Result<Option<(ConsoleSession, TokenRecord)>, EngineError> {
        let Some(session) = self.storage.console_session(session_id, self.now())? else { return Ok(None) };
        Ok(self.storage.live_token(&session.token_id)?.map(|token| (session, token)))
    }

    /// Ends a session.
    pub fn sign_out(&self, session_id: &str, token: &TokenRecord) -> Result<(), EngineError> {
        self.storage.end_console_session(session_id)?;
        self.audit(
            &format!("token:{}", token.name),
            "console_signed_out",
            &token.id,
            serde_json::Value::Null,
        )?;
        Ok(())
    }
}
