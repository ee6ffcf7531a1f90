//! Profiles: show, update what an operator may change, export, erase.

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;

use super::admin::{Answer, ApiQuery, json_body, on_engine, profile_id};
use super::{ApiError, AppState, Caller, ErrorCode, pages, read_ingest_body};
use crate::engine::{ProfileLookup, ProfileRow, ProfileUpdate};
use crate::profile::IngestOutcome;

/// `GET /v1/profiles?user_id=...` (or `anonymous_id`, or `email`): the profiles a customer is
/// known by, for data-protection requests and support.
pub async fn find_profiles(
    State(state): State<AppState>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ProfilesQuery>,
) -> Result<Response, ApiError> {
    let request = pages::request(query.limit, query.cursor.as_deref())?;
    let lookup =
        ProfileLookup { user_id: query.user_id, anonymous_id: query.anonymous_id, email: query.email };
    pages::paged(&state, &uri, move |e| Ok(e.find_profiles(&lookup, &request)?)).await
}

/// The query of the profile list: keys that narrow it, and the page.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilesQuery {
    /// The user id a source sent (`userId`).
    user_id: Option<String>,
    /// The anonymous id a source sent (`anonymousId`).
    anonymous_id: Option<String>,
    /// The `email` trait, compared case-insensitively.
    email: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
    /// Where to continue: from the `Link: rel="next"` URL.
    #[schemars(pattern(r"^([0-9a-fA-F]{2})*$"))]
    cursor: Option<String>,
}

pub async fn show_profile(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let id = profile_id(&id)?;
    on_engine(&state, move |e| Ok(e.profile(id)?)).await
}

pub async fn journeys(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let id = profile_id(&id)?;
    on_engine(&state, move |e| {
        e.profile(id)?;
        Ok(e.journey_positions_of(id)?)
    })
    .await
}

pub async fn update_profile(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Answer {
    let id = profile_id(&id)?;
    let update: ProfileUpdate = json_body(&state, body).await?;
    let answer = on_engine(&state, move |e| Ok(e.update_profile(&caller.actor(), id, &update)?)).await;
    // Saved segments that read what changed judge the profile now rather than at the next tick.
    state.engine.drain_triggers_soon();
    answer
}

pub async fn erase_profile(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let id = profile_id(&id)?;
    on_engine(&state, move |e| Ok(e.erase_profile(&caller.actor(), id)?)).await
}

pub async fn export_profile(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let id = profile_id(&id)?;
    on_engine(&state, move |e| Ok(e.export_profile(&caller.actor(), id)?)).await
}

/// `POST /v1/imports/profiles`: NDJSON profile rows (gzip allowed), imported in one durable
/// write and answered row by row; a bad row is refused where it stands.
pub async fn import_profiles(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Answer {
    let bytes = read_ingest_body(&headers, body, state.config.max_ingest_bytes).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "the body is empty: send one profile row per line",
        ));
    }
    let limits = state.config.events.clone();
    let rows: Vec<Result<ProfileRow, String>> = bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(i, line)| {
            let row: ProfileRow = serde_json::from_slice(line).map_err(|e| format!("line {}: {e}", i + 1))?;
            match limits.properties_problem(&row.traits) {
                Some(problem) => Err(format!("line {}: traits: {problem}", i + 1)),
                None => Ok(row),
            }
        })
        .collect();
    on_engine(&state, move |e| {
        let results = e.import_profiles(&caller.actor(), rows)?;
        let stored = results.iter().filter(|o| matches!(o, IngestOutcome::Stored { .. })).count();
        Ok(ImportAnswer { stored, rejected: results.len() - stored, results })
    })
    .await
}

/// The answer to a profile import, row by row.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct ImportAnswer {
    /// Rows stored.
    pub stored: usize,
    /// Rows refused.
    pub rejected: usize,
    /// One result per row, in order.
    pub results: Vec<IngestOutcome>,
}
