//! Bearer-token authentication and role checks. Every route but health needs a token.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::store::{Role, TokenRecord};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub TokenRecord);

impl Caller {
    /// Refuses the call unless the caller's role is one of `roles` (admin may do anything).
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), ApiError> {
        if self.0.role == Role::Admin || roles.contains(&self.0.role) {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "token `{}` has role {}, which may not {what}; use a token with role {}",
            self.0.name,
            self.0.role.name(),
            std::iter::once(Role::Admin.name())
                .chain(roles.iter().map(|r| r.name()))
                .collect::<Vec<_>>()
                .join(" or ")
        )))
    }

    /// Who the caller is, for the audit log.
    pub fn actor(&self) -> String {
        format!("token:{}", self.0.name)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Already authenticated by the route's role check.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthorized("send an `Authorization: Bearer <token>` header"))?;
        Caller::of_token(state, presented_token(header)?).await
    }
}

impl Caller {
    /// The caller a token names, if it is a live token.
    pub(super) async fn of_token(state: &AppState, token: String) -> Result<Caller, ApiError> {
        let engine = state.engine.clone();
        let record = tokio::task::spawn_blocking(move || engine.verify_token(&token))
            .await
            .map_err(|e| ApiError::internal(&e))??;
        record.map(Caller).ok_or_else(|| ApiError::unauthorized("the token is unknown or revoked"))
    }
}

/// The write key a browser's analytics.js puts in the body (`"writeKey": "..."`, sent as
/// `text/plain` so that no CORS preflight is needed), for a request with no `Authorization`.
pub(super) fn body_write_key(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Keyed {
        write_key: Option<String>,
    }
    serde_json::from_slice::<Keyed>(body).ok()?.write_key.filter(|key| !key.trim().is_empty())
}

/// The token in an Authorization header: `Bearer <token>`, or HTTP Basic with the token as the
/// user name and an empty password (how Segment clients send their write key).
fn presented_token(header: &str) -> Result<String, ApiError> {
    use base64::Engine as _;
    if let Some(token) = header.strip_prefix("Bearer ") {
        return Ok(token.trim().to_owned());
    }
    if let Some(encoded) = header.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| ApiError::unauthorized("the Basic credentials are not valid base64"))?;
        let text = String::from_utf8(decoded)
            .map_err(|_| ApiError::unauthorized("the Basic credentials are not UTF-8"))?;
        let user = text.split(':').next().unwrap_or_default();
        return Ok(user.trim().to_owned());
    }
    Err(ApiError::unauthorized(
        "the Authorization header must be `Bearer <token>` or Basic with the write key as user",
    ))
}
