//! `GET /v1/exports/events`, `/profiles` and `/deliveries?campaign=`: bulk exports streamed as NDJSON or CSV while
//! the server serves. Rows go from a blocking reader of the store to the client through a small
//! bounded channel, so an export of millions of rows holds a few chunks in memory, and a client
//! that hangs up stops the reader.

use axum::body::{Body, Bytes};
use axum::extract::{Extension, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::admin::{ApiQuery, on_engine};
use super::{ApiError, AppState, Caller};
use crate::engine::{ExportFormat, ExportKind};

/// Rows are sent in chunks of about this many bytes.
const CHUNK_BYTES: usize = 64 * 1024;

/// The query of an export of every event or profile.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `ndjson` (default) or `csv`.
    #[serde(default)]
    format: ExportFormat,
}

/// The query of an export of a campaign's deliveries.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// `ndjson` (default) or `csv`.
    #[serde(default)]
    format: ExportFormat,
    /// The campaign.
    campaign: String,
}

/// `GET /v1/exports/events`.
pub async fn events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    export(state, caller, ExportKind::Events, query.format).await
}

/// `GET /v1/exports/profiles`.
pub async fn profiles(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    export(state, caller, ExportKind::Profiles, query.format).await
}

/// `GET /v1/exports/deliveries?campaign=`.
pub async fn deliveries(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<Response, ApiError> {
    export(state, caller, ExportKind::Deliveries(query.campaign), query.format).await
}

async fn export(
    state: AppState,
    caller: Caller,
    kind: ExportKind,
    format: ExportFormat,
) -> Result<Response, ApiError> {
    if let ExportKind::Deliveries(campaign) = &kind {
        // An unknown campaign is a 404 before any byte is sent, not an empty 200.
        let campaign = campaign.clone();
        let _ = on_engine(&state, move |e| Ok(e.campaign(&campaign).map(drop)?)).await?;
    }
    let what = kind.name();
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Bytes>(4);
    let (engine, actor) = (state.engine.clone(), caller.actor());
    tokio::task::spawn_blocking(move || {
        let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK_BYTES);
        let mut write = |bytes: &[u8]| {
            chunk.extend_from_slice(bytes);
            chunk.len() < CHUNK_BYTES
                || sender
                    .blocking_send(Bytes::from(std::mem::replace(
                        &mut chunk,
                        Vec::with_capacity(CHUNK_BYTES),
                    )))
                    .is_ok()
        };
        let result = engine.export(&actor, &kind, format, &mut write);
        if !chunk.is_empty() {
            let _ = sender.blocking_send(Bytes::from(chunk));
        }
        if let Err(err) = result {
            // The status is sent already: the body ends short, and the log says why.
            tracing::error!(error = %err, export = ?kind, "Export failed midway.");
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| {
        receiver.poll_recv(cx).map(|chunk| chunk.map(Ok::<_, std::convert::Infallible>))
    });
    let (content_type, extension) = match format {
        ExportFormat::Ndjson => ("application/x-ndjson", "ndjson"),
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let disposition = format!("attachment; filename=\"{what}.{extension}\"");
    Ok((
        [(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        Body::from_stream(stream),
    )
        .into_response())
}
