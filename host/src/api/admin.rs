//! Admin handlers: plugins, campaigns and bindings, runs and results, profiles, secrets, tokens,
//! audit. Each asks the engine (off the async executor) and answers JSON; role checks happen in
//! the route table before a handler runs.

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState, Caller, read_body};
use crate::campaign::{Campaign, CampaignState, Grants, Slot};
use crate::engine::{Engine, ProfileUpdate};
use crate::plugin::ContentHash;
use crate::profile::ProfileId;
use crate::store::{Role, SecretValue};

pub(super) type Answer = Result<Json<serde_json::Value>, ApiError>;

/// Runs blocking engine work off the executor and answers its value as JSON.
pub(super) async fn on_engine<T: serde::Serialize + Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
) -> Answer {
    let engine = state.engine.clone();
    let value =
        tokio::task::spawn_blocking(move || work(&engine)).await.map_err(|e| ApiError::internal(&e))??;
    serde_json::to_value(value).map(Json).map_err(|e| ApiError::internal(&e))
}

/// Parses a JSON body: malformed JSON is a 400, a wrong shape a 422 naming the fault.
pub(super) async fn json_body<T: DeserializeOwned>(state: &AppState, body: Body) -> Result<T, ApiError> {
    let bytes = read_body(body, state.config.max_json_bytes).await?;
    serde_json::from_slice(&bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::invalid("invalid_request", format!("the body does not fit: {e}"))
        }
        _ => ApiError::bad_request("invalid_json", format!("the body is not JSON: {e}")),
    })
}

pub(super) fn hash(text: &str) -> Result<ContentHash, ApiError> {
    text.parse().map_err(|e: String| ApiError::bad_request("invalid_hash", e))
}

fn profile_id(text: &str) -> Result<ProfileId, ApiError> {
    text.parse().map_err(|e: String| ApiError::bad_request("invalid_profile_id", e))
}

fn slot(text: &str) -> Result<Slot, ApiError> {
    text.parse().map_err(|e: String| ApiError::bad_request("invalid_slot", e))
}

// ---- plugins

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

// ---- campaigns

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
        return Err(ApiError::invalid(
            "invalid_campaign",
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
            return Err(ApiError::not_found(
                "route_not_found",
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

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
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

// ---- profiles

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

// ---- secrets, tokens, audit

pub async fn list_secrets(State(state): State<AppState>) -> Answer {
    on_engine(&state, |e| Ok(e.secrets()?)).await
}

/// The body of a secret: the value, which is never returned, and the hosts it may be sent to.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRequest {
    value: String,
    hosts: Vec<String>,
}

pub async fn set_secret(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Body,
) -> Answer {
    let request: SecretRequest = json_body(&state, body).await?;
    on_engine(&state, move |e| {
        let hosts = e.set_secret(&caller.actor(), &name, &SecretValue::new(request.value), &request.hosts)?;
        Ok(serde_json::json!({ "name": name, "hosts": hosts }))
    })
    .await
}

pub async fn delete_secret(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Answer {
    on_engine(&state, move |e| {
        e.delete_secret(&caller.actor(), &name)?;
        Ok(serde_json::json!({ "deleted": name }))
    })
    .await
}

pub async fn list_tokens(State(state): State<AppState>) -> Answer {
    on_engine(&state, |e| Ok(e.tokens()?)).await
}

/// The body of a token creation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    name: String,
    role: Role,
}

pub async fn create_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let request: TokenRequest = json_body(&state, body).await?;
    let answer = on_engine(&state, move |e| {
        let (token, record) = e.create_token(&caller.actor(), &request.name, request.role)?;
        Ok(serde_json::json!({ "token": token, "record": record, "note": "shown once; store it now" }))
    })
    .await?;
    Ok((StatusCode::CREATED, answer))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    on_engine(&state, move |e| {
        e.revoke_token(&caller.actor(), &id)?;
        Ok(serde_json::json!({ "revoked": id }))
    })
    .await
}

/// Query of the audit log.
#[derive(Deserialize)]
pub struct AuditQuery {
    limit: Option<usize>,
}

pub async fn audit_log(State(state): State<AppState>, Query(query): Query<AuditQuery>) -> Answer {
    let limit = query.limit.unwrap_or(100).min(10_000);
    on_engine(&state, move |e| Ok(e.audit_log(limit)?)).await
}

// ---- audiences

/// The body of an audience question.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudienceRequest {
    /// An installed segment rule.
    plugin: String,
    /// Its config.
    #[serde(default = "empty_object")]
    config: serde_json::Value,
    /// Members to include as a sample (default 10).
    #[serde(default = "ten")]
    sample: usize,
    /// `json` (count and sample), `csv` or `ndjson` (every member).
    #[serde(default = "json_format")]
    format: String,
}

fn ten() -> usize {
    10
}

fn json_format() -> String {
    "json".into()
}

pub async fn audience(
    State(state): State<AppState>,
    body: Body,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let request: AudienceRequest = json_body(&state, body).await?;
    let plugin = hash(&request.plugin)?;
    let format = request.format.clone();
    if !matches!(format.as_str(), "json" | "csv" | "ndjson") {
        return Err(ApiError::invalid(
            "invalid_request",
            format!("format `{format}`: use json, csv or ndjson"),
        ));
    }
    let full = format != "json";
    let engine = state.engine.clone();
    let audience =
        tokio::task::spawn_blocking(move || engine.audience(&plugin, &request.config, request.sample, full))
            .await
            .map_err(|e| ApiError::internal(&e))??;
    let members = audience.members.clone().unwrap_or_default();
    Ok(match format.as_str() {
        "csv" => {
            let mut out = String::from("profile_id,score\n");
            for m in &members {
                out.push_str(&format!(
                    "{},{}\n",
                    m.profile,
                    m.score.map(|s| s.to_string()).unwrap_or_default()
                ));
            }
            ([(axum::http::header::CONTENT_TYPE, "text/csv")], out).into_response()
        }
        "ndjson" => {
            let mut out = String::new();
            for m in &members {
                out.push_str(&serde_json::to_string(m).map_err(|e| ApiError::internal(&e))?);
                out.push('\n');
            }
            ([(axum::http::header::CONTENT_TYPE, "application/x-ndjson")], out).into_response()
        }
        _ => Json(audience).into_response(),
    })
}
