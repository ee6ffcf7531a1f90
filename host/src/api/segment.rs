//! Endpoints compatible with the Segment HTTP Tracking API (`/v1/identify`, `track`, `page`,
//! `screen`, `group`, `alias`, `batch`), so the official Segment and RudderStack client libraries
//! send to Baton unmodified: the write key as the HTTP Basic user name (or a Bearer token), gzip
//! bodies, `messageId` as the idempotency key, `anonymousId` and `userId` stitched into one
//! profile, errors with `code` and `message` where the clients read them.
//!
//! What a message's `context` says lands where Segment's spec puts it: `timezone` and `locale`
//! on the profile, `consent.categoryPreferences` in its consents (through the engine's consent
//! mapping), `traits` as traits when the message has none of its own (RudderStack's `identify`
//! sends them there), and the rest (`campaign` with the UTM parameters, `page`, `device`, `ip`,
//! `userAgent`, `library`, ...) on the event as its `context` property. When a message has an
//! `originalTimestamp` and its request a `sentAt`, the event time is corrected for the sender's
//! clock: `receivedAt - (sentAt - originalTimestamp)`, as Segment does.
//!
//! Messages of a batch are applied in order: a `track` after an `identify` in the same batch
//! lands on the identified profile.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;

use super::events::{IngestResponse, ingest_parsed};
use super::{ApiError, AppState, Caller, ErrorCode, read_ingest_body};
use crate::engine::SourceFacts;
use crate::profile::{IngestOutcome, NewEvent};

/// One Segment message. Unknown fields (`integrations`, `channel`, ...) are accepted and
/// ignored, as Segment does.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = serde_json::json!({
    "type": "track", "messageId": "msg-1", "userId": "u-42", "event": "Order Completed",
    "properties": { "revenue": 59.9 }, "context": { "timezone": "Europe/Berlin", "locale": "de-DE" },
    "timestamp": "2026-11-30T08:00:00Z"
}))]
pub(super) struct Message {
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
    #[serde(default)]
    context: serde_json::Map<String, serde_json::Value>,
    timestamp: Option<String>,
    original_timestamp: Option<String>,
    sent_at: Option<String>,
    previous_id: Option<serde_json::Value>,
    group_id: Option<serde_json::Value>,
}

impl Message {
    /// The message's traits: its own, else those RudderStack puts in `context.traits`.
    fn traits(&self) -> serde_json::Map<String, serde_json::Value> {
        if !self.traits.is_empty() {
            return self.traits.clone();
        }
        match self.context.get("traits") {
            Some(serde_json::Value::Object(traits)) => traits.clone(),
            _ => serde_json::Map::new(),
        }
    }

    /// What the context says about the person: a valid IANA time zone, the locale, consent
    /// categories.
    fn facts(&self) -> SourceFacts {
        let text = |key: &str| {
            self.context.get(key).and_then(|v| v.as_str()).map(str::trim).filter(|t| !t.is_empty())
        };
        let categories = self
            .context
            .get("consent")
            .and_then(|c| c.get("categoryPreferences"))
            .and_then(|c| c.as_object())
            .map(|prefs| prefs.iter().filter_map(|(k, v)| Some((k.clone(), v.as_bool()?))).collect())
            .unwrap_or_default();
        SourceFacts {
            timezone: text("timezone").filter(|tz| jiff::tz::TimeZone::get(tz).is_ok()).map(str::to_owned),
            locale: text("locale").filter(|l| l.len() <= 35).map(str::to_owned),
            categories,
        }
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Batch {
    /// The messages, applied in order; a message that does not fit is refused in its own
    /// result.
    #[schemars(with = "Vec<super::events::BatchItem<Message>>")]
    batch: Vec<serde_json::Value>,
    sent_at: Option<String>,
}

/// The answer to Segment calls: `success` where Segment's clients look, and Baton's per-message
/// results.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct SegmentAnswer {
    /// Always true on a 200 (Segment's shape); see `rejected` for refused messages.
    pub success: bool,
    /// Messages stored.
    pub stored: usize,
    /// Messages stored before (same `messageId`).
    pub duplicates: usize,
    /// Messages refused, each with its reason in `results`.
    pub rejected: usize,
    /// One result per message, in order.
    pub results: Vec<IngestOutcome>,
}

/// `POST /v1/{identify|track|page|screen|group|alias}`.
pub async fn single(
    State(state): State<AppState>,
    _caller: Caller,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SegmentAnswer>, ApiError> {
    // analytics.js posts to the short forms.
    let kind = match kind.as_str() {
        "i" => "identify",
        "t" => "track",
        "p" => "page",
        "s" => "screen",
        "g" => "group",
        "a" => "alias",
        "identify" | "track" | "page" | "screen" | "group" | "alias" => kind.as_str(),
        _ => return Err(ApiError::new(ErrorCode::RouteNotFound, format!("no such Segment call `{kind}`"))),
    };
    let bytes = read_ingest_body(&headers, body, state.config.max_ingest_bytes).await?;
    let mut value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("the body is not JSON: {e}")))?;
    // One message is the whole request: if it does not fit, the request does not.
    if let Err(err) = serde_json::from_value::<Message>(value.clone()) {
        return Err(ApiError::new(ErrorCode::InvalidRequest, format!("the message does not fit: {err}")));
    }
    if let Some(object) = value.as_object_mut() {
        object.insert("type".into(), kind.into());
    }
    apply(&state, vec![value], None).await
}

/// `POST /v1/batch`.
pub async fn batch(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SegmentAnswer>, ApiError> {
    let bytes = read_ingest_body(&headers, body, state.config.max_ingest_bytes).await?;
    let batch: Batch = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("expected {{\"batch\": [...]}}: {e}")))?;
    apply(&state, batch.batch, batch.sent_at).await
}

/// Applies messages in order: runs of events are ingested together; `identify` and `alias`
/// are applied where they stand. `sent_at` is the batch's `sentAt`, if any.
async fn apply(
    state: &AppState,
    messages: Vec<serde_json::Value>,
    sent_at: Option<String>,
) -> Result<Json<SegmentAnswer>, ApiError> {
    let mut results: Vec<IngestOutcome> = Vec::with_capacity(messages.len());
    let mut pending = Pending::default();
    let now = state.engine.now_ms();
    for (index, raw) in messages.into_iter().enumerate() {
        let mut message: Message = match serde_json::from_value(raw) {
            Ok(m) => m,
            Err(e) => {
                pending.push(Err(format!("message {index}: {e}")), SourceFacts::default());
                continue;
            }
        };
        if message.sent_at.is_none() {
            message.sent_at.clone_from(&sent_at);
        }
        match message.kind.as_deref() {
            Some("identify") | Some("alias") => {
                flush(state, &mut pending, &mut results).await?;
                results.push(apply_identity(state, &message, index, now).await?);
            }
            _ => pending.push(to_event(&message, index, now), message.facts()),
        }
    }
    flush(state, &mut pending, &mut results).await?;
    let count = |f: fn(&IngestOutcome) -> bool| results.iter().filter(|o| f(o)).count();
    Ok(Json(SegmentAnswer {
        success: true,
        stored: count(|o| matches!(o, IngestOutcome::Stored { .. })),
        duplicates: count(|o| matches!(o, IngestOutcome::Duplicate)),
        rejected: count(|o| matches!(o, IngestOutcome::Rejected { .. })),
        results,
    }))
}

/// Events waiting to be ingested together, with what each message's context says about its
/// person.
#[derive(Default)]
struct Pending {
    events: Vec<Result<NewEvent, String>>,
    facts: Vec<SourceFacts>,
}

impl Pending {
    fn push(&mut self, event: Result<NewEvent, String>, facts: SourceFacts) {
        self.events.push(event);
        self.facts.push(facts);
    }
}

async fn flush(
    state: &AppState,
    pending: &mut Pending,
    results: &mut Vec<IngestOutcome>,
) -> Result<(), ApiError> {
    if pending.events.is_empty() {
        return Ok(());
    }
    let Pending { events, facts } = std::mem::take(pending);
    let IngestResponse { results: outcomes, .. } = ingest_parsed(state, events).await?;
    // The person's time zone, locale and consent categories, from each stored event's context.
    let updates: Vec<_> = outcomes
        .iter()
        .zip(facts)
        .filter_map(|(outcome, facts)| match outcome {
            IngestOutcome::Stored { profile } if !facts.is_empty() => Some((*profile, facts)),
            _ => None,
        })
        .collect();
    if !updates.is_empty() {
        let engine = state.engine.clone();
        let now = engine.now_ms();
        tokio::task::spawn_blocking(move || {
            updates.iter().try_for_each(|(profile, facts)| engine.apply_facts(*profile, facts, now))
        })
        .await
        .map_err(|e| ApiError::internal(&e))??;
    }
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
    if let Some(problem) = limits.properties_problem(&message.traits()) {
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
            // Saved segments judge the merged profile now rather than at the next tick.
            state.engine.drain_triggers_soon();
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
            let (traits, facts) = (message.traits(), message.facts());
            tokio::task::spawn_blocking(move || {
                engine.identify(user.as_deref(), anonymous.as_deref(), &traits, &facts, now)
            })
            .await
        }
    };
    let profile = outcome.map_err(|e| ApiError::internal(&e))??;
    // Saved segments that read traits judge the profile now rather than at the next tick.
    state.engine.drain_triggers_soon();
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
            properties.insert("traits".into(), serde_json::Value::Object(message.traits()));
            "group".into()
        }
        Some(other) => return Err(format!("message {index}: unknown type `{other}`")),
        None => return Err(format!("message {index}: `type` is required in a batch")),
    };
    let time = |field: &str, text: &Option<String>| -> Result<Option<i64>, String> {
        text.as_deref()
            .map(|t| {
                t.parse::<jiff::Timestamp>()
                    .map(|ts| ts.as_millisecond())
                    .map_err(|e| format!("message {index}: {field} `{t}` is not ISO 8601: {e}"))
            })
            .transpose()
    };
    let original = time("originalTimestamp", &message.original_timestamp)?;
    let sent = time("sentAt", &message.sent_at)?;
    let timestamp = match (original, sent, time("timestamp", &message.timestamp)?) {
        // The sender's clock may be wrong; the time between its event and its send is not.
        (Some(original), Some(sent), _) => now - (sent - original).max(0),
        (_, _, Some(timestamp)) => timestamp,
        (Some(original), None, None) => original,
        (None, _, None) => now,
    };
    let context: serde_json::Map<String, serde_json::Value> =
        message.context.iter().filter(|(k, _)| *k != "traits").map(|(k, v)| (k.clone(), v.clone())).collect();
    if !context.is_empty() {
        properties.insert("context".into(), serde_json::Value::Object(context));
    }
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
