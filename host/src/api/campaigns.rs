//! Campaigns: definitions, lifecycle, bindings, preview, runs, results and dead letters.

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::admin::{Answer, empty_object, hash, json_body, on_engine, slot};
use super::{ApiError, AppState, Caller, ErrorCode};
use crate::campaign::{Campaign, CampaignState, Grants};

pub async fn list_campaigns(State(state): State<AppState>) -> Answer {
    on_engine(&state, |e| Ok(e.campaigns()?)).await
}

pub async fn create_campaign(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let campaign: Campaign = json_body(&state, body).await?;
    let answer = on_engine(&state, move |e| Ok(e.create_campaign(&caller.actor(), campaign)?)).await?;
    Ok((StatusCode::CREATED, answer))
}

pub async fn show_campaign(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.campaign_view(&id)?)).await
}

pub async fn update_campaign(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Answer {
    let campaign: Campaign = json_body(&state, body).await?;
    if campaign.id != id {
        return Err(ApiError::new(
            ErrorCode::InvalidCampaign,
            format!("the body's id `{}` differs from the path's `{id}`", campaign.id),
        ));
    }
    on_engine(&state, move |e| Ok(e.update_campaign(&caller.actor(), campaign)?)).await
}

pub async fn transition(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, transition)): Path<(String, String)>,
) -> Answer {
    let to = match transition.as_str() {
        "activate" => CampaignState::Active,
        "pause" => CampaignState::Paused,
        "end" => CampaignState::Ended,
        other => {
            return Err(ApiError::new(
                ErrorCode::RouteNotFound,
                format!("no campaign action `{other}`: use activate, pause or end"),
            ));
        }
    };
    on_engine(&state, move |e| Ok(e.transition(&caller.actor(), &id, to)?)).await
}

/// The body of a bind call.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindRequest {
    plugin: String,
    #[serde(default = "empty_object")]
    config: serde_json::Value,
    #[serde(default)]
    grants: Grants,
}

pub async fn bind(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, slot_text)): Path<(String, String)>,
    body: Body,
) -> Answer {
    let slot = slot(&slot_text)?;
    let request: BindRequest = json_body(&state, body).await?;
    let plugin = hash(&request.plugin)?;
    on_engine(&state, move |e| {
        Ok(e.bind(&caller.actor(), &id, slot, plugin, request.config, request.grants)?)
    })
    .await
}

pub async fn unbind(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, slot_text)): Path<(String, String)>,
) -> Answer {
    let slot = slot(&slot_text)?;
    on_engine(&state, move |e| {
        e.unbind(&caller.actor(), &id, &slot)?;
        Ok(serde_json::json!({ "unbound": slot_text }))
    })
    .await
}

pub async fn preview(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.preview(&id)?)).await
}

/// The body of a run call.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Names the run; each member gets at most one message per run. Defaults to the time.
    run: Option<String>,
}

pub async fn run(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Answer {
    let request: RunRequest = json_body(&state, body).await?;
    on_engine(&state, move |e| {
        let run = request.run.unwrap_or_else(|| format!("manual-{}", e.now_ms()));
        let report = e.run_batch(&caller.actor(), &id, &run)?;
        Ok(serde_json::json!({ "run": run, "report": report }))
    })
    .await
}

pub async fn kpis(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.kpi_snapshots(&id)?)).await
}

pub async fn compute_kpis(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.compute_kpis(&id)?)).await
}

pub async fn skips(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.skips(&id)?)).await
}

pub async fn deliveries(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.deliveries(&id)?)).await
}

pub async fn dead_letters(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.dead_letters(&id)?)).await
}

pub async fn replay(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    on_engine(&state, move |e| {
        let replayed = e.replay_dead_letters(&caller.actor(), &id)?;
        Ok(serde_json::json!({ "replayed": replayed }))
    })
    .await
}
