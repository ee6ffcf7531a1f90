//! Plugins: install, list, show, enable, remove.

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::admin::{Answer, ApiQuery, Enabled, Removed, hash, on_engine};
use super::pages::{self, ListQuery};
use super::{ApiError, AppState, Caller, read_body};
use crate::plugin::PluginRecord;

pub async fn list_plugins(
    State(state): State<AppState>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    pages::listed(
        &state,
        &uri,
        query,
        |p: &PluginRecord| p.hash.to_string().into_bytes(),
        |e| Ok(e.plugins()?),
    )
    .await
}

pub async fn install_plugin(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Answer {
    let limit = usize::try_from(state.engine.max_component_bytes()).unwrap_or(usize::MAX);
    let bytes = read_body(body, limit).await?;
    let answer = on_engine(&state, move |e| Ok(e.install_plugin(&caller.actor(), &bytes)?)).await?;
    Ok((StatusCode::CREATED, answer).into_response())
}

pub async fn show_plugin(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let hash = hash(&id)?;
    on_engine(&state, move |e| Ok(e.plugin_view(&hash)?)).await
}

pub async fn enable_plugin(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let hash = hash(&id)?;
    on_engine(&state, move |e| {
        e.enable_plugin(&caller.actor(), &hash)?;
        Ok(Enabled { enabled: hash })
    })
    .await
}

/// The query of a plugin's removal.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    /// A channel adapter with queued sends or dead letters: record the queued ones as rejected
    /// and discard the dead letters (without it, the removal is refused with 409).
    #[serde(default)]
    drop_sends: bool,
}

pub async fn remove_plugin(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<RemoveQuery>,
) -> Answer {
    let hash = hash(&id)?;
    on_engine(&state, move |e| {
        e.remove_plugin(&caller.actor(), &hash, query.drop_sends)?;
        Ok(Removed { removed: hash })
    })
    .await
}
