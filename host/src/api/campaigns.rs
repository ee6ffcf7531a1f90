//! Campaigns: definitions, lifecycle, bindings, preview, runs, results and dead letters.

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::admin::{Answer, ApiQuery, Replayed, Unbound, empty_object, hash, json_body, on_engine, slot};
use super::pages::{self, ListQuery};
use super::{ApiError, AppState, Caller, ErrorCode};
use crate::campaign::{Campaign, CampaignState, Grants};
use crate::delivery::{KpiSnapshot, SendOutcome, SkipReason};
use crate::profile::ProfileId;

pub async fn list_campaigns(
    State(state): State<AppState>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    pages::listed(&state, &uri, query, |c: &Campaign| c.id.as_bytes().to_vec(), |e| Ok(e.campaigns()?)).await
}

pub async fn create_campaign(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Answer {
    let campaign: Campaign = json_body(&state, body).await?;
    let answer = on_engine(&state, move |e| Ok(e.create_campaign(&caller.actor(), campaign)?)).await?;
    Ok((StatusCode::CREATED, answer).into_response())
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
            ErrorCode::IdMismatch,
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
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "plugin": "sha256:0f9d6c2b8a4e1f7d3c5b9a0e2d4f6a8c1b3e5d7f9a0c2e4b6d8f1a3c5e7b9d0f",
    "config": { "url": "https://hooks.example.com/baton" },
    "grants": { "allowed_hosts": ["hooks.example.com"], "secrets": [] }
}))]
pub struct BindRequest {
    #[schemars(with = "crate::plugin::ContentHash")]
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
        Ok(Unbound { unbound: slot_text })
    })
    .await
}

pub async fn preview(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.preview(&id)?)).await
}

/// The body of a run call.
#[derive(Deserialize, schemars::JsonSchema)]
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
        Ok(RunAnswer { run, report })
    })
    .await
}

pub async fn kpis(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    pages::listed(&state, &uri, query, kpi_key, move |e| Ok(e.kpi_snapshots(&id)?)).await
}

/// KPI snapshots page by calculator, then time.
fn kpi_key(snapshot: &KpiSnapshot) -> Vec<u8> {
    let mut key = snapshot.kpi.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&snapshot.at.to_be_bytes());
    key
}

pub async fn compute_kpis(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.compute_kpis(&id)?)).await
}

pub async fn results(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.campaign_results(&id)?)).await
}

pub async fn record_results(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.record_campaign_results(&id)?)).await
}

/// Which days of a series to show.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    /// The first day, `YYYY-MM-DD`.
    #[schemars(pattern(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), extend("format" = "date"))]
    from: Option<String>,
    /// The last day, `YYYY-MM-DD`.
    #[schemars(pattern(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), extend("format" = "date"))]
    to: Option<String>,
}

/// How much of a series to recompute.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesRebuild {
    /// Every day (after changing the time zone, or to count events that arrived very late);
    /// otherwise the recent days only.
    #[serde(default)]
    full: bool,
}

pub async fn series(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<SeriesQuery>,
) -> Answer {
    check_days(&[&query.from, &query.to])?;
    on_engine(&state, move |e| Ok(e.campaign_series(&id, query.from.as_deref(), query.to.as_deref())?)).await
}

/// Refuses a query day that is not `YYYY-MM-DD` (a schema pattern cannot rule out 2025-02-30).
pub(super) fn check_days(days: &[&Option<String>]) -> Result<(), ApiError> {
    for day in days.iter().copied().flatten() {
        if jiff::civil::Date::strptime("%Y-%m-%d", day).is_err() {
            let message = format!("`{day}` is not a day: write YYYY-MM-DD, for example 2025-06-30");
            return Err(ApiError::new(ErrorCode::InvalidQuery, message));
        }
    }
    Ok(())
}

pub async fn update_series(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<SeriesRebuild>,
) -> Answer {
    on_engine(&state, move |e| Ok(e.update_campaign_series(&id, query.full)?)).await
}

pub async fn skips(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    ApiQuery(query): ApiQuery<SkipsQuery>,
) -> Result<Response, ApiError> {
    let request = pages::request(query.limit, query.cursor.as_deref())?;
    pages::paged(&state, &uri, move |e| {
        Ok(e.skips_page(&id, &request, |s| {
            query.profile.is_none_or(|p| s.profile == p) && query.reason.is_none_or(|r| s.reason == r)
        })?)
    })
    .await
}

/// The query of a campaign's skips: filters and the page.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SkipsQuery {
    /// Only this profile's.
    profile: Option<ProfileId>,
    /// Only skips for this reason.
    reason: Option<SkipReason>,
    /// Items per page, 1 to 1000 (default 100).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
    /// Where to continue: from the `Link: rel="next"` URL.
    #[schemars(pattern(r"^([0-9a-fA-F]{2})*$"))]
    cursor: Option<String>,
}

pub async fn deliveries(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<Response, ApiError> {
    let request = pages::request(query.limit, query.cursor.as_deref())?;
    pages::paged(&state, &uri, move |e| {
        Ok(e.deliveries_page(&id, &request, |d| {
            query.profile.is_none_or(|p| d.profile == p)
                && query.status.is_none_or(|s| s.of(&d.outcome))
                && query.variant.as_ref().is_none_or(|v| d.variant.as_ref() == Some(v))
        })?)
    })
    .await
}

/// The query of a campaign's deliveries: filters and the page.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// Only this profile's.
    profile: Option<ProfileId>,
    /// Only sends that ended this way.
    status: Option<DeliveryStatus>,
    /// Only this experiment variant's.
    variant: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
    /// Where to continue: from the `Link: rel="next"` URL.
    #[schemars(pattern(r"^([0-9a-fA-F]{2})*$"))]
    cursor: Option<String>,
}

/// How a send ended, as a filter.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The vendor accepted it.
    Delivered,
    /// The vendor refused it for good.
    Rejected,
    /// Its retries ran out.
    DeadLettered,
}

impl DeliveryStatus {
    fn of(self, outcome: &SendOutcome) -> bool {
        matches!(
            (self, outcome),
            (DeliveryStatus::Delivered, SendOutcome::Delivered { .. })
                | (DeliveryStatus::Rejected, SendOutcome::Rejected { .. })
                | (DeliveryStatus::DeadLettered, SendOutcome::DeadLettered { .. })
        )
    }
}

pub async fn dead_letters(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    ApiQuery(query): ApiQuery<DeadLettersQuery>,
) -> Result<Response, ApiError> {
    let request = pages::request(query.limit, query.cursor.as_deref())?;
    pages::paged(&state, &uri, move |e| {
        Ok(e.dead_letters_page(&id, &request, |d| query.profile.is_none_or(|p| d.profile == p))?)
    })
    .await
}

/// The query of a campaign's dead letters: a filter and the page.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadLettersQuery {
    /// Only this profile's.
    profile: Option<ProfileId>,
    /// Items per page, 1 to 1000 (default 100).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
    /// Where to continue: from the `Link: rel="next"` URL.
    #[schemars(pattern(r"^([0-9a-fA-F]{2})*$"))]
    cursor: Option<String>,
}

pub async fn replay(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    on_engine(&state, move |e| {
        let replayed = e.replay_dead_letters(&caller.actor(), &id)?;
        Ok(Replayed { replayed })
    })
    .await
}

/// The answer to a run: its name and what happened.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct RunAnswer {
    /// The run's name (given, or `manual-<ms>`).
    pub run: String,
    /// Counts, skip reasons and samples.
    pub report: crate::engine::RunReport,
}
