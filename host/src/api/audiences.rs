//! Ad-hoc audiences: a segment rule and config evaluated over every profile, counted and sampled, as JSON or a file.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use serde::Deserialize;

use super::admin::{empty_object, hash, json_body};
use super::{ApiError, AppState, ErrorCode};

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
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
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
