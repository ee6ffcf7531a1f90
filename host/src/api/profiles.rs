//! Profiles: show, update what an operator may change, export, erase.

use axum::body::Body;
use axum::extract::{Extension, Path, State};

use super::admin::{Answer, ApiQuery, json_body, on_engine, profile_id};
use super::{AppState, Caller};
use crate::engine::{ProfileLookup, ProfileUpdate};

/// `GET /v1/profiles?user_id=...` (or `anonymous_id`, or `email`): the profiles a customer is
/// known by, for data-protection requests and support.
pub async fn find_profiles(
    State(state): State<AppState>,
    ApiQuery(lookup): ApiQuery<ProfileLookup>,
) -> Answer {
    on_engine(&state, move |e| Ok(e.find_profiles(&lookup)?)).await
}

pub async fn show_profile(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let id = profile_id(&id)?;
    on_engine(&state, move |e| Ok(e.profile(id)?)).await
}

pub async fn update_profile(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Answer {
    let id = profile_id(&id)?;
    let update: ProfileUpdate = json_body(&state, body).await?;
    on_engine(&state, move |e| Ok(e.update_profile(&caller.actor(), id, &update)?)).await
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
