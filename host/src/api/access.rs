//! Access: secrets, tokens and the audit log (admin only).

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::admin::{Answer, ApiQuery, json_body, on_engine};
use super::{ApiError, AppState, Caller};
use crate::store::{Role, SecretValue};

pub async fn list_secrets(State(state): State<AppState>) -> Answer {
    on_engine(&state, |e| Ok(e.secrets()?)).await
}

/// The body of a secret: the value, which is never returned, and the hosts it may be sent to.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRequest {
    value: String,
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
        Ok(serde_json::json!({ "name": name, "hosts": hosts }))
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
        Ok(serde_json::json!({ "deleted": name }))
    })
    .await
}

pub async fn list_tokens(State(state): State<AppState>) -> Answer {
    on_engine(&state, |e| Ok(e.tokens()?)).await
}

/// The body of a token creation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    name: String,
    role: Role,
}

pub async fn create_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let request: TokenRequest = json_body(&state, body).await?;
    let answer = on_engine(&state, move |e| {
        let (token, record) = e.create_token(&caller.actor(), &request.name, request.role)?;
        Ok(serde_json::json!({ "token": token, "record": record, "note": "shown once; store it now" }))
    })
    .await?;
    Ok((StatusCode::CREATED, answer))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    on_engine(&state, move |e| {
        e.revoke_token(&caller.actor(), &id)?;
        Ok(serde_json::json!({ "revoked": id }))
    })
    .await
}

/// Query of the audit log.
#[derive(Deserialize)]
pub struct AuditQuery {
    limit: Option<usize>,
}

pub async fn audit_log(State(state): State<AppState>, ApiQuery(query): ApiQuery<AuditQuery>) -> Answer {
    let limit = query.limit.unwrap_or(100).min(10_000);
    on_engine(&state, move |e| Ok(e.audit_log(limit)?)).await
}
