//! Computed-trait handlers: bind a computed-trait plugin under a name, list, unbind, recompute.
//! Each calls one application-layer function of the engine, which audits it.

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;

use super::admin::{Answer, ApiQuery, Unbound, hash, json_body, on_engine};
use super::pages::{self, ListQuery};
use super::{ApiError, AppState, Caller};
use crate::store::TraitBinding;

/// The body of a trait binding.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TraitRequest {
    /// The computed-trait plugin's content hash.
    #[schemars(with = "crate::plugin::ContentHash")]
    plugin: String,
    /// Its config.
    #[serde(default = "empty_object")]
    config: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

pub async fn list(
    State(state): State<AppState>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    pages::listed(
        &state,
        &uri,
        query,
        |t: &TraitBinding| t.name.as_bytes().to_vec(),
        |e| Ok(e.trait_bindings()?),
    )
    .await
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
        Ok(Unbound { unbound: name })
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
