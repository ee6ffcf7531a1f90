//! Content handlers: list, show, save a version, publish one; and a campaign's message rendered
//! for one person. Each calls one engine function, which audits what changes.

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;

use super::admin::{Answer, ApiQuery, json_body, json_body_or_default, on_engine};
use super::pages::{self, ListQuery};
use super::{ApiError, AppState, Caller};
use crate::content::{Content, ContentSpec};

/// Which version to publish.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"version": 2}))]
pub(super) struct PublishRequest {
    /// The version sends will use (default: the newest saved).
    #[serde(default)]
    #[schemars(range(min = 1))]
    version: Option<u32>,
}

/// Whom to render a campaign's message for.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"who": "ada@example.com"}))]
pub(super) struct RenderRequest {
    /// A user id, or an email (with an `@`).
    #[schemars(length(min = 1))]
    who: String,
    /// An experiment variant to render instead of the person's own.
    #[serde(default)]
    variant: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    pages::listed(&state, &uri, query, |c: &Content| c.name.as_bytes().to_vec(), |e| Ok(e.contents()?)).await
}

pub async fn show(State(state): State<AppState>, Path(name): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.content_view(&name)?)).await
}

pub async fn save(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Body,
) -> Answer {
    let spec: ContentSpec = json_body(&state, body).await?;
    on_engine(&state, move |e| Ok(e.save_content(&caller.actor(), &name, spec)?)).await
}

pub async fn publish(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Body,
) -> Answer {
    let request: PublishRequest = json_body_or_default(&state, body).await?;
    on_engine(&state, move |e| Ok(e.publish_content(&caller.actor(), &name, request.version)?)).await
}

pub async fn render(State(state): State<AppState>, Path(id): Path<String>, body: Body) -> Answer {
    let request: RenderRequest = json_body(&state, body).await?;
    on_engine(&state, move |e| {
        let person = e.person(&request.who)?;
        Ok(e.render_as(&id, person, request.variant.as_deref())?)
    })
    .await
}
