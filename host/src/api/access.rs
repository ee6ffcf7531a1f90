//! Access: secrets, tokens and the audit log (admin only).

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::admin::{Answer, ApiQuery, Deleted, Revoked, json_body, on_engine};
use super::pages::{self, ListQuery};
use super::{ApiError, AppState, Caller, ErrorCode};
use crate::store::{Role, SecretScope, SecretValue, TokenRecord};

pub async fn list_secrets(
    State(state): State<AppState>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    pages::listed(&state, &uri, query, |s: &SecretScope| s.name.as_bytes().to_vec(), |e| Ok(e.secrets()?))
        .await
}

/// The body of a secret: the value, which is never returned, and the hosts it may be sent to.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({ "value": "SG.xxxxx", "hosts": ["api.sendgrid.com"] }))]
pub struct SecretRequest {
    /// The value; never shown again.
    #[schemars(length(min = 1))]
    value: String,
    /// Host names it may be sent to (`api.sendgrid.com`, `*.example.com`).
    #[schemars(length(min = 1), inner(pattern(r"^\s*(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\s*$")))]
    hosts: Vec<String>,
}

pub async fn set_secret(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Body,
) -> Answer {
    let request: SecretRequest = json_body(&state, body).await?;
    on_engine(&state, move |e| {
        let hosts = e.set_secret(&caller.actor(), &name, &SecretValue::new(request.value), &request.hosts)?;
        Ok(SecretSet { name, hosts })
    })
    .await
}

pub async fn delete_secret(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Answer {
    on_engine(&state, move |e| {
        e.delete_secret(&caller.actor(), &name)?;
        Ok(Deleted { deleted: name })
    })
    .await
}

pub async fn list_tokens(
    State(state): State<AppState>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    pages::listed(&state, &uri, query, |t: &TokenRecord| t.id.as_bytes().to_vec(), |e| Ok(e.tokens()?)).await
}

/// The body of a token creation.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({ "name": "web-app", "role": "connector" }))]
pub struct TokenRequest {
    /// A name for people.
    #[schemars(pattern(r"\S"))]
    name: String,
    role: Role,
}

pub async fn create_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Answer {
    let request: TokenRequest = json_body(&state, body).await?;
    let answer = on_engine(&state, move |e| {
        let (token, record) = e.create_token(&caller.actor(), &request.name, request.role)?;
        Ok(TokenCreated { token, record, note: "shown once; store it now".into() })
    })
    .await?;
    Ok((StatusCode::CREATED, answer).into_response())
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    if caller.0.id == id {
        // Through the API, the last admin token could lock every admin out; another token (or
        // `baton token revoke` on the server's machine) can revoke this one.
        return Err(ApiError::new(
            ErrorCode::OwnToken,
            format!("token `{id}` is the one making this request; revoke it with another admin token"),
        ));
    }
    on_engine(&state, move |e| {
        e.revoke_token(&caller.actor(), &id)?;
        Ok(Revoked { revoked: id })
    })
    .await
}

/// Query of the audit log: filters and the page.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this actor's records (a token's name, `cli`, `system`).
    actor: Option<String>,
    /// Only this action (`profile_erased`, `campaign_created`, ...).
    action: Option<String>,
    /// Only records about this target (a profile id, a plugin hash, a campaign id).
    target: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
    /// Where to continue: from the `Link: rel="next"` URL.
    #[schemars(pattern(r"^([0-9a-fA-F]{2})*$"))]
    cursor: Option<String>,
}

/// `GET /v1/audit`: newest first.
pub async fn audit_log(
    State(state): State<AppState>,
    uri: Uri,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let request = pages::request(query.limit, query.cursor.as_deref())?;
    pages::paged(&state, &uri, move |e| {
        Ok(e.audit_page(&request, |r| {
            let is = |wanted: &Option<String>, value: &str| wanted.as_deref().is_none_or(|w| w == value);
            is(&query.actor, &r.actor) && is(&query.action, &r.action) && is(&query.target, &r.target)
        })?)
    })
    .await
}

/// The answer to setting a secret: its name and the hosts it may go to (never the value).
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct SecretSet {
    /// The secret's name.
    pub name: String,
    /// The hosts it may be sent to, as stored.
    pub hosts: Vec<String>,
}

/// A new token: shown once, never again.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct TokenCreated {
    /// The token itself (`bt_...`).
    pub token: String,
    /// Its record, as `GET /v1/tokens` lists it.
    pub record: crate::store::TokenRecord,
    /// A reminder that it is shown once.
    pub note: String,
}
