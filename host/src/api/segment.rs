//! Endpoints compatible with the Segment HTTP Tracking API (`/v1/identify`, `track`, `page`,
//! `screen`, `group`, `alias`, `batch`), so existing analytics client libraries can send to
//! Baton unmodified: write key as the HTTP Basic user name, `messageId` as the idempotency key,
//! `anonymousId` and `userId` stitched into one profile.
//!
//! Messages of a batch are applied in order: a `track` after an `identify` in the same batch
//! lands on the identified profile.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use serde::Deserialize;

use super::events::{IngestResponse, ingest_parsed};
use super::{ApiError, AppState, Caller, ErrorCode, read_body};
use crate::profile::{IngestOutcome, NewEvent};

/// One Segment message. Unknown fields (`context`, `integrations`, `sentAt`, ...) are accepted
/// and ignored, as Segment does.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    #[serde(rename = "type")]
    kind: Option<String>,
    message_id: Option<String>,
    user_id: Option<serde_json::Value>,
    anonymous_id: Option<serde_json::Value>,
    event: Option<String>,
    name: Option<String>,
    #[serde(default)]
    properties: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    traits: serde_json::Map<String, serde_json::Value>,
    timestamp: Option<String>,
    previous_id: Option<serde_json::Value>,
    group_id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Batch {
    batch: Vec<serde_json::Value>,
}

/// `POST /v1/{identify|track|page|screen|group|alias}`.
pub async fn single(
    State(state): State<AppState>,
    _caller: Caller,
    Path(kind): Path<String>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !matches!(kind.as_str(), "identify" | "track" | "page" | "screen" | "group" | "alias") {
        return Err(ApiError::new(ErrorCode::RouteNotFound, format!("no such Segment call `{kind}`")));
    }
    let bytes = read_body(body, state.config.max_ingest_bytes).await?;
    let mut value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("the body is not JSON: {e}")))?;
    if let Some(object) = value.as_object_mut() {
        object.insert("type".into(), kind.into());
    }
    apply(&state, vec![value]).await
}

/// `POST /v1/batch`.
pub async fn batch(
    State(state): State<AppState>,
    _caller: Caller,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let bytes = read_body(body, state.config.max_ingest_bytes).await?;
    let batch: Batch = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("expected {{\"batch\": [...]}}: {e}")))?;
    apply(&state, batch.batch).await
}

/// Applies messages in order: runs of events are ingested together; `identify` and `alias`
/// are applied where they stand.
async fn apply(
    state: &AppState,
    messages: Vec<serde_json::Value>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut results: Vec<IngestOutcome> = Vec::with_capacity(messages.len());
    let mut pending: Vec<Result<NewEvent, String>> = Vec::new();
    let now = state.engine.now_ms();
    for (index, raw) in messages.into_iter().enumerate() {
        let message: Message = match serde_json::from_value(raw) {
            Ok(m) => m,
            Err(e) => {
                pending.push(Err(format!("message {index}: {e}")));
                continue;
            }
        };
        match message.kind.as_deref() {
            Some("identify") | Some("alias") => {
                flush(state, &mut pending, &mut results).await?;
                results.push(apply_identity(state, &message, index, now).await?);
            }
            _ => pending.push(to_event(&message, index, now)),
        }
    }
    flush(state, &mut pending, &mut results).await?;
    let count = |f: fn(&IngestOutcome) -> bool| results.iter().filter(|o| f(o)).count();
    Ok(Json(serde_json::json!({
        "success": true,
        "stored": count(|o| matches!(o, IngestOutcome::Stored { .. })),
        "duplicates": count(|o| matches!(o, IngestOutcome::Duplicate)),
        "rejected": count(|o| matches!(o, IngestOutcome::Rejected { .. })),
        "results": results,
    })))
}

async fn flush(
    state: &AppState,
    pending: &mut Vec<Result<NewEvent, String>>,
    results: &mut Vec<IngestOutcome>,
) -> Result<(), ApiError> {
    if pending.is_empty() {
        return Ok(());
    }
    let IngestResponse { results: outcomes, .. } = ingest_parsed(state, std::mem::take(pending)).await?;
    results.extend(outcomes);
    Ok(())
}

async fn apply_identity(
    state: &AppState,
    message: &Message,
    index: usize,
    now: i64,
) -> Result<IngestOutcome, ApiError> {
    let user = text(&message.user_id);
    let anonymous = text(&message.anonymous_id);
    let limits = &state.config.events;
    let longest = [&user, &anonymous, &text(&message.previous_id)]
        .iter()
        .map(|id| id.as_ref().map_or(0, String::len))
        .max()
        .unwrap_or(0);
    if longest > limits.max_identity_bytes {
        return Ok(IngestOutcome::Rejected {
            reason: format!(
                "message {index}: an id is {longest} bytes, over the cap of {} (`api.events.max_identity_bytes`)",
                limits.max_identity_bytes
            ),
        });
    }
    if let Some(problem) = limits.properties_problem(&message.traits) {
        return Ok(IngestOutcome::Rejected { reason: format!("message {index}: traits: {problem}") });
    }
    let engine = state.engine.clone();
    let outcome = match message.kind.as_deref() {
        Some("alias") => {
            let (Some(previous), Some(user)) = (text(&message.previous_id), user) else {
                return Ok(IngestOutcome::Rejected {
                    reason: format!("message {index}: alias needs `previousId` and `userId`"),
                });
            };
            let aliased = tokio::task::spawn_blocking(move || engine.alias(&previous, &user, now))
                .await
                .map_err(|e| ApiError::internal(&e))??;
            return Ok(match aliased {
                Ok(profile) => IngestOutcome::Stored { profile },
                Err(reason) => IngestOutcome::Rejected { reason: format!("message {index}: {reason}") },
            });
        }
        _ => {
            if user.is_none() && anonymous.is_none() {
                return Ok(IngestOutcome::Rejected {
                    reason: format!("message {index}: identify needs a `userId` or an `anonymousId`"),
                });
            }
            let traits = message.traits.clone();
            tokio::task::spawn_blocking(move || {
                engine.identify(user.as_deref(), anonymous.as_deref(), &traits, now)
            })
            .await
        }
    };
    let profile = outcome.map_err(|e| ApiError::internal(&e))??;
    Ok(IngestOutcome::Stored { profile })
}

/// A `track`, `page`, `screen` or `group` message as a Baton event.
fn to_event(message: &Message, index: usize, now: i64) -> Result<NewEvent, String> {
    let id = message.message_id.clone().ok_or_else(|| format!("message {index}: `messageId` is required"))?;
    let mut properties = message.properties.clone();
    let name = match message.kind.as_deref() {
        Some("track") => {
            message.event.clone().ok_or_else(|| format!("message {index}: track needs `event`"))?
        }
        Some("page") | Some("screen") => {
            if let Some(name) = &message.name {
                properties.insert("name".into(), name.clone().into());
            }
            message.kind.clone().unwrap_or_default()
        }
        Some("group") => {
            properties.insert("group_id".into(), message.group_id.clone().unwrap_or_default());
            properties.insert("traits".into(), serde_json::Value::Object(message.traits.clone()));
            "group".into()
        }
        Some(other) => return Err(format!("message {index}: unknown type `{other}`")),
        None => return Err(format!("message {index}: `type` is required in a batch")),
    };
    let timestamp = match &message.timestamp {
        Some(text) => text
            .parse::<jiff::Timestamp>()
            .map_err(|e| format!("message {index}: timestamp `{text}` is not ISO 8601: {e}"))?
            .as_millisecond(),
        None => now,
    };
    let campaign = properties.get("campaign_id").and_then(|c| c.as_str()).map(str::to_owned);
    Ok(NewEvent {
        id,
        user_id: text(&message.user_id),
        anonymous_id: text(&message.anonymous_id),
        name,
        timestamp,
        properties,
        campaign,
    })
}

/// Segment ids may be strings or numbers.
fn text(value: &Option<serde_json::Value>) -> Option<String> {
    match value {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}
