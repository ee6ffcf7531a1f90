//! What every admin handler shares: running engine work off the executor, reading JSON bodies,
//! and parsing path ids. The handlers live one file per resource (`plugins`, `campaigns`,
//! `profiles`, `access`, `audiences`); each asks the engine and answers JSON, and role checks
//! happen in the route table before a handler runs.

use axum::Json;
use axum::body::Body;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState, ErrorCode, read_body};
use crate::campaign::Slot;
use crate::engine::Engine;
use crate::plugin::ContentHash;
use crate::profile::ProfileId;

pub(super) type Answer = Result<Json<serde_json::Value>, ApiError>;

/// Runs blocking engine work off the executor and answers its value as JSON.
pub(super) async fn on_engine<T: serde::Serialize + Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
) -> Answer {
    let engine = state.engine.clone();
    let value =
        tokio::task::spawn_blocking(move || work(&engine)).await.map_err(|e| ApiError::internal(&e))??;
    serde_json::to_value(value).map(Json).map_err(|e| ApiError::internal(&e))
}

/// Parses a JSON body: malformed JSON is a 400, a wrong shape a 422 naming the fault.
pub(super) async fn json_body<T: DeserializeOwned>(state: &AppState, body: Body) -> Result<T, ApiError> {
    let bytes = read_body(body, state.config.max_json_bytes).await?;
    serde_json::from_slice(&bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::new(ErrorCode::InvalidRequest, format!("the body does not fit: {e}"))
        }
        _ => ApiError::new(ErrorCode::InvalidJson, format!("the body is not JSON: {e}")),
    })
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
