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
use crate::engine::Engine;
use crate::plugin::ContentHash;
use crate::profile::{ConsentState, ProfileId, Suppression, SuppressionReason};
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
    match text {
        "segment" => Ok(Slot::Segment),
        "personalizer" => Ok(Slot::Personalizer),
        "channel" => Ok(Slot::Channel),
        other => match other.strip_prefix("kpi:") {
            Some(name) if !name.is_empty() => Ok(Slot::Kpi(name.to_owned())),
            _ => Err(ApiError::bad_request(
                "invalid_slot",
                format!("slot `{other}`: use segment, personalizer, channel or kpi:<name>"),
            )),
        },
    }
}

fn audit(
    engine: &Engine,
    caller: &Caller,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    Ok(engine.audit(&caller.actor(), action, target, detail)?)
}

// ---- plugins

pub async fn list_plugins(State(state): State<AppState>) -> Answer {
    on_engine(&state, |e| Ok(e.storage().plugins()?)).await
}

pub async fn install_plugin(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let limit = usize::try_from(state.engine.runtime().config().max_component_bytes).unwrap_or(usize::MAX);
    let bytes = read_body(body, limit).await?;
    let answer = on_engine(&state, move |e| Ok(e.install_plugin(&caller.actor(), &bytes)?)).await?;
    Ok((StatusCode::CREATED, answer))
}

pub async fn show_plugin(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let hash = hash(&id)?;
    on_engine(&state, move |e| {
        let record = e.storage().plugin(&hash)?.ok_or_else(|| {
            ApiError::not_found("plugin_not_found", format!("plugin {hash} is not installed"))
        })?;
        let bound_by = e.storage().bindings_of_plugin(&hash)?;
        let stats = e.runtime().plugin(&hash).map_err(crate::engine::EngineError::from)?.stats();
        Ok(serde_json::json!({ "plugin": record, "bound_by": bound_by, "stats": stats }))
    })
    .await
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
    on_engine(&state, |e| Ok(e.storage().campaigns()?)).await
}

pub async fn create_campaign(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let campaign: Campaign = json_body(&state, body).await?;
    let answer = on_engine(&state, move |e| {
        let created = e.create_campaign(campaign)?;
        audit(e, &caller, "campaign_created", &created.id, serde_json::Value::Null)?;
        Ok(created)
    })
    .await?;
    Ok((StatusCode::CREATED, answer))
}

pub async fn show_campaign(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| {
        let campaign = e.campaign(&id)?;
        let bindings = e.storage().bindings(&id)?;
        Ok(serde_json::json!({ "campaign": campaign, "bindings": bindings }))
    })
    .await
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
    on_engine(&state, move |e| {
        let updated = e.update_campaign(campaign)?;
        audit(e, &caller, "campaign_updated", &id, serde_json::Value::Null)?;
        Ok(updated)
    })
    .await
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
    on_engine(&state, move |e| {
        let campaign = e.transition(&id, to)?;
        audit(e, &caller, "campaign_state_changed", &id, serde_json::json!({ "state": to }))?;
        Ok(campaign)
    })
    .await
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
        let binding = e.bind(&id, slot, plugin, request.config, request.grants)?;
        audit(e, &caller, "plugin_bound", &id, serde_json::json!({ "slot": slot_text, "plugin": plugin }))?;
        Ok(binding)
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
        if !e.unbind(&id, &slot)? {
            return Err(ApiError::not_found(
                "binding_not_found",
                format!("campaign `{id}` has no {slot_text} binding"),
            ));
        }
        audit(e, &caller, "plugin_unbound", &id, serde_json::json!({ "slot": slot_text }))?;
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
        let report = e.run_batch(&id, &run)?;
        audit(e, &caller, "campaign_run", &id, serde_json::json!({ "run": run, "queued": report.queued }))?;
        Ok(serde_json::json!({ "run": run, "report": report }))
    })
    .await
}

pub async fn kpis(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| {
        e.campaign(&id)?;
        Ok(e.storage().kpi_snapshots(&id)?)
    })
    .await
}

pub async fn compute_kpis(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.compute_kpis(&id)?)).await
}

pub async fn skips(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| {
        e.campaign(&id)?;
        Ok(e.storage().skips(&id)?)
    })
    .await
}

pub async fn deliveries(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| {
        e.campaign(&id)?;
        Ok(e.storage().deliveries(&id)?)
    })
    .await
}

pub async fn dead_letters(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| {
        e.campaign(&id)?;
        Ok(e.storage().dead_letters(&id)?)
    })
    .await
}

pub async fn replay(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    on_engine(&state, move |e| {
        e.campaign(&id)?;
        let replayed = e.storage().replay_dead_letters(&id, e.now_ms())?;
        audit(e, &caller, "dead_letters_replayed", &id, serde_json::json!({ "sends": replayed }))?;
        Ok(serde_json::json!({ "replayed": replayed }))
    })
    .await
}

// ---- profiles

fn missing_profile(id: ProfileId) -> ApiError {
    ApiError::not_found("profile_not_found", format!("profile {id} does not exist"))
}

pub async fn show_profile(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let id = profile_id(&id)?;
    on_engine(&state, move |e| e.storage().profile(id)?.ok_or_else(|| missing_profile(id))).await
}

/// The body of a profile update: only what an operator may change.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// Consent decisions, by `channel:purpose`.
    #[serde(default)]
    consents: std::collections::BTreeMap<String, ConsentState>,
    /// Suppressions to set (a reason) or lift (null), by channel.
    #[serde(default)]
    suppressions: std::collections::BTreeMap<String, Option<SuppressionReason>>,
    /// The IANA time zone.
    timezone: Option<String>,
}

pub async fn update_profile(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Answer {
    let id = profile_id(&id)?;
    let update: ProfileUpdate = json_body(&state, body).await?;
    for key in update.consents.keys() {
        if key.split_once(':').is_none_or(|(c, p)| c.is_empty() || p.is_empty()) {
            return Err(ApiError::invalid(
                "invalid_request",
                format!("consent key `{key}`: use channel:purpose, for example email:marketing"),
            ));
        }
    }
    if let Some(tz) = &update.timezone {
        if jiff::tz::TimeZone::get(tz).is_err() {
            return Err(ApiError::invalid(
                "invalid_request",
                format!("timezone `{tz}` is not an IANA time zone"),
            ));
        }
    }
    on_engine(&state, move |e| {
        let now = e.now_ms();
        let updated = e.storage().update_profile(id, now, |profile| {
            for (key, state) in &update.consents {
                if let Some((channel, purpose)) = key.split_once(':') {
                    profile.set_consent(channel, purpose, *state, now);
                }
            }
            for (channel, reason) in &update.suppressions {
                match reason {
                    Some(reason) => {
                        profile
                            .suppressions
                            .insert(channel.clone(), Suppression { reason: *reason, since: now });
                    }
                    None => {
                        profile.suppressions.remove(channel);
                    }
                }
            }
            if let Some(tz) = &update.timezone {
                profile.timezone = Some(tz.clone());
            }
        })?;
        let profile = updated.ok_or_else(|| missing_profile(id))?;
        audit(e, &caller, "profile_updated", &id.to_string(), serde_json::Value::Null)?;
        Ok(profile)
    })
    .await
}

pub async fn erase_profile(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let id = profile_id(&id)?;
    on_engine(&state, move |e| {
        e.storage().erase_profile(id, &caller.actor(), e.now_ms())?.ok_or_else(|| missing_profile(id))
    })
    .await
}

pub async fn export_profile(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let id = profile_id(&id)?;
    on_engine(&state, move |e| {
        e.storage().export_profile(id, &caller.actor(), e.now_ms())?.ok_or_else(|| missing_profile(id))
    })
    .await
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
    on_engine(&state, |e| Ok(e.storage().tokens()?)).await
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
    on_engine(&state, move |e| Ok(e.storage().audit_log(limit)?)).await
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
