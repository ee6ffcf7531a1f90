//! Ad-hoc audiences: a segment rule and config evaluated over every profile, counted and sampled, as JSON or a file.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use serde::Deserialize;

use super::admin::{empty_object, hash, json_body};
use super::{ApiError, AppState, ErrorCode};

/// The body of an audience question.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "plugin": "sha256:0f9d6c2b8a4e1f7d3c5b9a0e2d4f6a8c1b3e5d7f9a0c2e4b6d8f1a3c5e7b9d0f",
    "config": { "tier": 2 }, "sample": 5, "format": "json"
}))]
pub struct AudienceRequest {
    /// An installed segment rule.
    #[schemars(with = "crate::plugin::ContentHash")]
    plugin: String,
    /// Its config.
    #[serde(default = "empty_object")]
    config: serde_json::Value,
    /// Members to include as a sample (default 10, at most 1000).
    #[serde(default = "ten")]
    #[schemars(range(max = 1000))]
    sample: usize,
    /// `json` (count and sample), `csv` or `ndjson` (every member).
    #[serde(default)]
    format: AudienceFormat,
}

/// How an audience is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AudienceFormat {
    /// The count and a sample, as JSON.
    #[default]
    Json,
    /// Every member, as CSV.
    Csv,
    /// Every member, as NDJSON.
    Ndjson,
}

/// The largest sample an audience answer includes.
const MAX_SAMPLE: usize = 1000;

fn ten() -> usize {
    10
}

pub async fn audience(
    State(state): State<AppState>,
    body: Body,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let request: AudienceRequest = json_body(&state, body).await?;
    let plugin = hash(&request.plugin)?;
    let format = request.format;
    if request.sample > MAX_SAMPLE {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "sample {}: at most {MAX_SAMPLE}; ask for csv or ndjson for every member",
                request.sample
            ),
        ));
    }
    let full = format != AudienceFormat::Json;
    // Held until the answer is ready: each scan reads every profile on every batch worker.
    let _permit = state.scans.clone().try_acquire_owned().map_err(|_| {
        let instead = "save the segment (PUT /v1/segments/{id}) and read its stored count";
        let message = match state.config.max_concurrent_scans {
            0 => format!("ad-hoc scans are off (`api.max_concurrent_scans` is 0): {instead}"),
            n => format!(
                "{n} ad-hoc scans are running, the most `api.max_concurrent_scans` allows: retry shortly, or {instead}"
            ),
        };
        ApiError::new(ErrorCode::Busy, message)
    })?;
    let engine = state.engine.clone();
    let audience =
        tokio::task::spawn_blocking(move || engine.audience(&plugin, &request.config, request.sample, full))
            .await
            .map_err(|e| ApiError::internal(&e))??;
    let members = audience.members.clone().unwrap_or_default();
    Ok(match format {
        AudienceFormat::Csv => {
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
        AudienceFormat::Ndjson => {
            let mut out = String::new();
            for m in &members {
                out.push_str(&serde_json::to_string(m).map_err(|e| ApiError::internal(&e))?);
                out.push('\n');
            }
            ([(axum::http::header::CONTENT_TYPE, "application/x-ndjson")], out).into_response()
        }
        AudienceFormat::Json => Json(audience).into_response(),
    })
}
