//! Native ingest: batches of events as NDJSON or a JSON array, answered per event. A malformed
//! event is rejected with its reason; the valid events of the same batch are still stored.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::admin::ApiQuery;
use super::{ApiError, AppState, Caller, ErrorCode, read_ingest_body};
use crate::profile::{IngestOutcome, NewEvent};

/// The answer to an ingest batch.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct IngestResponse {
    /// Events stored.
    pub stored: usize,
    /// Events already stored before (same id).
    pub duplicates: usize,
    /// Events refused.
    pub rejected: usize,
    /// One result per event, in order.
    pub results: Vec<IngestOutcome>,
}

/// What `POST /v1/events` reads as JSON: an array of events or one event (or, as
/// `application/x-ndjson`, one event per line). Each event is judged on its own.
#[derive(schemars::JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Read through `serde_json::Value`, event by event; this type is the document's.
pub enum IngestBody {
    /// A batch: each item is judged on its own.
    Many(Vec<BatchItem<NewEvent>>),
    /// One event: the request is refused (400) unless it fits.
    One(NewEvent),
}

/// An item of a batch: a `T`, or anything else, which is refused in its own result while the
/// rest of the batch is stored (a producer's one bad event does not cost the batch).
pub struct BatchItem<T>(std::marker::PhantomData<T>);

impl<T: schemars::JsonSchema> schemars::JsonSchema for BatchItem<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("BatchItemOf{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let item = generator.subschema_for::<T>();
        schemars::json_schema!({
            "description": "The documented item; anything else is refused in its own result.",
            "anyOf": [item, {}]
        })
    }
}

/// The query of an ingest request.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestQuery {
    /// Whether the events trigger campaigns and computed traits (default true: a live source);
    /// `false` for imported history.
    #[serde(default = "yes")]
    triggers: bool,
}

fn yes() -> bool {
    true
}

/// `POST /v1/events`.
pub async fn ingest(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(query): ApiQuery<IngestQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestResponse>, ApiError> {
    let bytes = read_ingest_body(&headers, body, state.config.max_ingest_bytes).await?;
    let now = state.engine.now_ms();
    let ndjson = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-ndjson") || t.starts_with("application/ndjson"));
    let parsed = if ndjson { parse_ndjson(&bytes, now)? } else { parse_array(&bytes, now)? };
    ingest_with(&state, parsed, query.triggers).await.map(Json)
}

/// Stores the valid events, merges the outcomes with the parse failures, and hands the stored
/// events to the campaign engine.
pub(super) async fn ingest_parsed(
    state: &AppState,
    parsed: Vec<Result<NewEvent, String>>,
) -> Result<IngestResponse, ApiError> {
    ingest_with(state, parsed, true).await
}

/// [`ingest_parsed`], with the triggers on (a live source) or off (imported history).
async fn ingest_with(
    state: &AppState,
    parsed: Vec<Result<NewEvent, String>>,
    triggers: bool,
) -> Result<IngestResponse, ApiError> {
    let engine = state.engine.clone();
    let now = engine.now_ms();
    let limits = &state.config.events;
    let parsed: Vec<Result<NewEvent, String>> = parsed
        .into_iter()
        .map(|item| {
            item.and_then(|event| match limits.problem(&event, now) {
                Some(problem) => Err(format!("event `{}`: {problem}", truncated(&event.id))),
                None => Ok(event),
            })
        })
        .collect();
    let valid: Vec<NewEvent> = parsed.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
    let outcomes = tokio::task::spawn_blocking(move || match triggers {
        true => engine.ingest_live(&valid, now),
        false => engine.ingest_history(&valid, now),
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    let outcomes = outcomes?;

    let mut stored_outcomes = outcomes.into_iter();
    let mut results = Vec::with_capacity(parsed.len());
    for item in parsed {
        match item {
            Err(reason) => results.push(IngestOutcome::Rejected { reason }),
            Ok(_) => results.push(stored_outcomes.next().unwrap_or(IngestOutcome::Duplicate)),
        }
    }
    if triggers && results.iter().any(|o| matches!(o, IngestOutcome::Stored { .. })) {
        // The triggers are queued durably with the events; run them now rather than at the next
        // tick. A failure here leaves them queued for the tick.
        state.engine.drain_triggers_soon();
    }
    let count = |f: fn(&IngestOutcome) -> bool| results.iter().filter(|o| f(o)).count();
    let totals = [
        count(|o| matches!(o, IngestOutcome::Stored { .. })),
        count(|o| matches!(o, IngestOutcome::Duplicate)),
        count(|o| matches!(o, IngestOutcome::Rejected { .. })),
    ];
    for (counter, n) in state.ingested.iter().zip(totals) {
        counter.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(IngestResponse {
        stored: count(|o| matches!(o, IngestOutcome::Stored { .. })),
        duplicates: count(|o| matches!(o, IngestOutcome::Duplicate)),
        rejected: count(|o| matches!(o, IngestOutcome::Rejected { .. })),
        results,
    })
}

/// An id for an error message: its first 64 characters.
fn truncated(id: &str) -> String {
    match id.char_indices().nth(64) {
        Some((end, _)) => format!("{}...", &id[..end]),
        None => id.to_owned(),
    }
}

/// An event from its JSON: without a `timestamp`, it happened when it was received (as Segment
/// defaults it).
fn event_of(value: serde_json::Value, now: i64) -> Result<NewEvent, serde_json::Error> {
    let mut value = value;
    super::admin::integral_numbers(&mut value);
    if let Some(object) = value.as_object_mut() {
        object.entry("timestamp").or_insert(now.into());
    }
    serde_json::from_value(value)
}

fn parse_ndjson(bytes: &[u8], now: i64) -> Result<Vec<Result<NewEvent, String>>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(ErrorCode::InvalidJson, "the body is empty: send one event per line"));
    }
    Ok(bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(i, line)| {
            serde_json::from_slice(line)
                .and_then(|v| event_of(v, now))
                .map_err(|e| format!("line {}: {e}", i + 1))
        })
        .collect())
}

fn parse_array(bytes: &[u8], now: i64) -> Result<Vec<Result<NewEvent, String>>, ApiError> {
    let items: Vec<serde_json::Value> = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(single @ serde_json::Value::Object(_)) => {
            // One event is the whole request: if it does not fit, the request does not.
            return match event_of(single, now) {
                Ok(event) => Ok(vec![Ok(event)]),
                Err(err) => {
                    Err(ApiError::new(ErrorCode::InvalidRequest, format!("the event does not fit: {err}")))
                }
            };
        }
        Ok(_) => {
            return Err(ApiError::new(
                ErrorCode::InvalidJson,
                "send a JSON array of events, one event object, or NDJSON",
            ));
        }
        Err(err) => {
            return Err(ApiError::new(ErrorCode::InvalidJson, format!("the body is not JSON: {err}")));
        }
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, item)| event_of(item, now).map_err(|e| format!("event {i}: {e}")))
        .collect())
}
