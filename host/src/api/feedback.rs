//! Vendor feedback: admins make endpoints; vendors post webhooks to them with no Baton token
//! (the vendor's signature, checked by the engine before any plugin runs, is the authentication).

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::admin::{Answer, ApiQuery, Deleted, empty_object, engine_work, hash, json_body, on_engine};
use super::pages::{self, ListQuery};
use super::{ApiError, AppState, Caller, read_body};
use crate::engine::{FeedbackReport, WebhookRequest};
use crate::store::FeedbackEndpoint;

/// The body of an endpoint's creation.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EndpointRequest {
    /// The channel adapter's content hash.
    #[schemars(with = "crate::plugin::ContentHash")]
    plugin: String,
    /// Its config for this vendor account.
    #[serde(default = "empty_object")]
    config: serde_json::Value,
    /// Secrets the signature check may use.
    #[serde(default)]
    secrets: Vec<String>,
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
        |f: &FeedbackEndpoint| f.name.as_bytes().to_vec(),
        |e| Ok(e.feedback_endpoints()?),
    )
    .await
}

pub async fn put(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Body,
) -> Answer {
    let request: EndpointRequest = json_body(&state, body).await?;
    let plugin = hash(&request.plugin)?;
    on_engine(&state, move |e| {
        Ok(e.put_feedback_endpoint(&caller.actor(), &name, &plugin, request.config, request.secrets)?)
    })
    .await
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Answer {
    on_engine(&state, move |e| {
        e.delete_feedback_endpoint(&caller.actor(), &name)?;
        Ok(Deleted { deleted: name })
    })
    .await
}

/// A vendor's webhook. Answers 200 with what was recorded, 401 for a bad signature (vendors
/// retry other failures, and should: nothing was recorded).
pub async fn receive(
    State(state): State<AppState>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<FeedbackReport>, ApiError> {
    let body = read_body(body, state.config.max_feedback_bytes).await?.to_vec();
    let path_and_query =
        uri.path_and_query().map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let base = match &state.config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            format!("http://{host}")
        }
    };
    let request = WebhookRequest {
        url: format!("{base}{path_and_query}"),
        path_and_query,
        method: method.as_str().to_owned(),
        headers: headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body,
    };
    let engine = state.engine.clone();
    let report = engine_work(&state, move |e| Ok(e.receive_feedback(&name, &request)?)).await?;
    if report.recorded > 0 {
        engine.drain_triggers_soon();
    }
    Ok(Json(report))
}
