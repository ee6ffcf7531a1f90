//! What every admin handler shares: running engine work off the executor, reading JSON bodies,
//! and parsing path ids. The handlers live one file per resource (`plugins`, `campaigns`,
//! `profiles`, `access`, `audiences`); each asks the engine and answers JSON, and role checks
//! happen in the route table before a handler runs.

use axum::Json;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::{ApiError, AppState, ErrorCode, read_body};
use crate::campaign::Slot;
use crate::engine::Engine;
use crate::plugin::ContentHash;
use crate::profile::ProfileId;

pub(super) type Answer = Result<Response, ApiError>;

/// Runs blocking engine work off the executor.
pub(super) async fn engine_work<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || work(&engine)).await.map_err(|e| ApiError::internal(&e))?
}

/// Runs blocking engine work off the executor and answers its value as JSON, serialized from
/// the typed value (its fields in their declared order, as the document lists them).
pub(super) async fn on_engine<T: serde::Serialize + Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
) -> Answer {
    Ok(Json(engine_work(state, work).await?).into_response())
}

/// Parses a JSON body: malformed JSON is a 400, a wrong shape a 422 naming the fault.
pub(super) async fn json_body<T: DeserializeOwned>(state: &AppState, body: Body) -> Result<T, ApiError> {
    let bytes = read_body(body, state.config.max_json_bytes).await?;
    parse_json(&bytes)
}

/// [`json_body`] for a request whose every field has a default: no body (or only white space)
/// means the defaults, as `curl -X POST` sends.
pub(super) async fn json_body_or_default<T: DeserializeOwned + Default>(
    state: &AppState,
    body: Body,
) -> Result<T, ApiError> {
    let bytes = read_body(body, state.config.max_json_bytes).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json(&bytes)
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("the body is not JSON: {e}")))?;
    integral_numbers(&mut value);
    serde_json::from_value(value)
        .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("the body does not fit: {e}")))
}

/// Makes every number with no fraction an integer: JSON (and JSON Schema) do not tell `3.0`
/// from `3`, so a client that writes `3.0` for a count (JavaScript's serializers can) is not
/// refused for it.
pub(crate) fn integral_numbers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) if number.is_f64() => {
            // Only where a float holds every integer exactly (|n| <= 2^53): a larger one was
            // rounded when it was written, and is left for the field to refuse.
            if let Some(float) =
                number.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0)
            {
                *value = serde_json::Value::from(float as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        serde_json::Value::Object(object) => object.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

pub(super) fn hash(text: &str) -> Result<ContentHash, ApiError> {
    text.parse().map_err(|e: String| ApiError::new(ErrorCode::InvalidHash, e))
}

pub(super) fn profile_id(text: &str) -> Result<ProfileId, ApiError> {
    text.parse().map_err(|e: String| ApiError::new(ErrorCode::InvalidProfileId, e))
}

pub(super) fn slot(text: &str) -> Result<Slot, ApiError> {
    text.parse().map_err(|e: String| ApiError::new(ErrorCode::InvalidSlot, e))
}

/// The default binding config: an empty JSON object.
pub(super) fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

/// A query string read as `T`, refused with the API's error shape (400 `invalid_query`, naming
/// the parameter at fault) instead of axum's plain-text rejection.
pub(super) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query).map(ApiQuery).map_err(|e| {
            ApiError::new(ErrorCode::InvalidQuery, format!("the query string does not fit: {e}"))
        })
    }
}

/// The answer to a deletion: what is gone.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Deleted {
    /// The name or id deleted.
    pub deleted: String,
}

/// The answer to an unbinding: the slot or trait name now free.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Unbound {
    /// The slot or trait binding removed.
    pub unbound: String,
}

/// The answer to a token's revocation.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Revoked {
    /// The token id revoked.
    pub revoked: String,
}

/// The answer to re-enabling a quarantined plugin.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Enabled {
    /// The plugin enabled.
    pub enabled: ContentHash,
}

/// The answer to removing a plugin.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Removed {
    /// The plugin removed.
    pub removed: ContentHash,
}

/// The answer to a dead-letter replay.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Replayed {
    /// How many sends went back to the outbox.
    pub replayed: usize,
}
