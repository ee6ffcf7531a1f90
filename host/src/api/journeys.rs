//! Journey handlers: save a version, list, show with per-step counts, publish (optionally moving
//! waiting profiles to the new version's steps), pause, resume and end. Each calls one engine
//! function, which audits what changes.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;

use super::admin::{Answer, ApiQuery, json_body, json_body_or_default, on_engine};
use super::pages::{self, ListQuery};
use super::{ApiError, AppState, Caller};
use crate::journey::{Journey, JourneySpec, JourneyState};

/// Which version to publish, and where waiting profiles of older versions move.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"version": 2, "migrate": {"wait": "wait"}}))]
pub(super) struct PublishRequest {
    /// The version to publish (default: the newest saved).
    #[serde(default)]
    #[schemars(range(min = 1))]
    version: Option<u32>,
    /// Step of an older version → step of this one: profiles waiting at such a step move over,
    /// keeping their wait where the new step waits the same way. Others stay on their version.
    #[serde(default)]
    migrate: BTreeMap<String, String>,
}

pub async fn list(
    State(state): State<AppState>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    pages::listed(&state, &uri, query, |j: &Journey| j.id.as_bytes().to_vec(), |e| Ok(e.journeys()?)).await
}

pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.journey_view(&id)?)).await
}

pub async fn save(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Answer {
    let spec: JourneySpec = json_body(&state, body).await?;
    on_engine(&state, move |e| Ok(e.save_journey(&caller.actor(), &id, spec)?)).await
}

pub async fn publish(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Answer {
    let request: PublishRequest = json_body_or_default(&state, body).await?;
    on_engine(&state, move |e| {
        Ok(e.publish_journey(&caller.actor(), &id, request.version, &request.migrate)?)
    })
    .await
}

async fn set_state(state: AppState, caller: Caller, id: String, to: JourneyState) -> Answer {
    on_engine(&state, move |e| Ok(e.set_journey_state(&caller.actor(), &id, to)?)).await
}

pub async fn pause(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    set_state(state, caller, id, JourneyState::Paused).await
}

pub async fn resume(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    set_state(state, caller, id, JourneyState::Live).await
}

pub async fn end(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    set_state(state, caller, id, JourneyState::Ended).await
}

/// Whom to walk through the journey in a dry run, and for how long.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"who": "user-00042", "days": 14}))]
pub(super) struct DryRunRequest {
    /// A user id, or an email (with an `@`).
    #[schemars(length(min = 1))]
    who: String,
    /// The version to walk (default: the live one, else the newest).
    #[serde(default)]
    #[schemars(range(min = 1))]
    version: Option<u32>,
    /// How many days of simulated time, 1 to 366 (default 30).
    #[serde(default = "thirty")]
    #[schemars(range(min = 1, max = 366))]
    days: u32,
}

fn thirty() -> u32 {
    30
}

pub async fn dry_run(State(state): State<AppState>, Path(id): Path<String>, body: Body) -> Answer {
    let request: DryRunRequest = json_body(&state, body).await?;
    on_engine(&state, move |e| {
        let person = e.person(&request.who)?;
        Ok(e.dry_run_journey(&id, person.id, request.version, request.days)?)
    })
    .await
}
