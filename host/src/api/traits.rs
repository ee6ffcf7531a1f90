//! Computed-trait handlers: bind a computed-trait plugin under a name, list, unbind, recompute.
//! Each calls one application-layer function of the engine, which audits it.

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use serde::Deserialize;

use super::admin::{Answer, hash, json_body, on_engine};
use super::{AppState, Caller};

/// The body of a trait binding.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TraitRequest {
    /// The computed-trait plugin's content hash.
    plugin: String,
    /// Its config.
    #[serde(default = "empty_object")]
    config: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

pub async fn list(State(state): State<AppState>) -> Answer {
    on_engine(&state, |e| Ok(e.trait_bindings()?)).await
}

pub async fn bind(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Body,
) -> Answer {
    let request: TraitRequest = json_body(&state, body).await?;
    let plugin = hash(&request.plugin)?;
    on_engine(&state, move |e| Ok(e.bind_trait(&caller.actor(), &name, &plugin, request.config)?)).await
}

pub async fn unbind(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Answer {
    on_engine(&state, move |e| {
        e.unbind_trait(&caller.actor(), &name)?;
        Ok(serde_json::json!({ "unbound": name }))
    })
    .await
}

pub async fn recompute(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Answer {
    on_engine(&state, move |e| Ok(e.recompute_traits(&caller.actor(), &name)?)).await
}
