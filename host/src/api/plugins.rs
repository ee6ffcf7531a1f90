//! Plugins: install, list, show, enable, remove.

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;

use super::admin::{Answer, hash, on_engine};
use super::{ApiError, AppState, Caller, read_body};

pub async fn list_plugins(State(state): State<AppState>) -> Answer {
    on_engine(&state, |e| Ok(e.plugins()?)).await
}

pub async fn install_plugin(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let limit = usize::try_from(state.engine.max_component_bytes()).unwrap_or(usize::MAX);
    let bytes = read_body(body, limit).await?;
    let answer = on_engine(&state, move |e| Ok(e.install_plugin(&caller.actor(), &bytes)?)).await?;
    Ok((StatusCode::CREATED, answer))
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
        Ok(serde_json::json!({ "enabled": hash }))
    })
    .await
}

pub async fn remove_plugin(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let hash = hash(&id)?;
    on_engine(&state, move |e| {
        e.remove_plugin(&caller.actor(), &hash)?;
        Ok(serde_json::json!({ "removed": hash }))
    })
    .await
}
