//! `GET /v1/exports/{events|profiles|deliveries}`: bulk exports streamed as NDJSON or CSV while
//! the server serves. Rows go from a blocking reader of the store to the client through a small
//! bounded channel, so an export of millions of rows holds a few chunks in memory, and a client
//! that hangs up stops the reader.

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::admin::{ApiQuery, on_engine};
use super::{ApiError, AppState, Caller, ErrorCode};
use crate::engine::{ExportFormat, ExportKind};

/// Rows are sent in chunks of about this many bytes.
const CHUNK_BYTES: usize = 64 * 1024;

/// The query of an export.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `ndjson` (default) or `csv`.
    #[serde(default)]
    format: ExportFormat,
    /// For deliveries: the campaign.
    campaign: Option<String>,
}

/// `GET /v1/exports/{what}`.
pub async fn export(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(what): Path<String>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let kind = match (what.as_str(), query.campaign) {
        ("events", None) => ExportKind::Events,
        ("profiles", None) => ExportKind::Profiles,
        ("deliveries", Some(campaign)) => ExportKind::Deliveries(campaign),
        ("deliveries", None) => {
            return Err(ApiError::new(ErrorCode::InvalidQuery, "a deliveries export needs `campaign=<id>`"));
        }
        ("events" | "profiles", Some(_)) => {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!("an export of {what} takes no `campaign`"),
            ));
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::RouteNotFound,
                format!("no export of `{what}`: use events, profiles or deliveries"),
            ));
        }
    };
    if let ExportKind::Deliveries(campaign) = &kind {
        // An unknown campaign is a 404 before any byte is sent, not an empty 200.
        let campaign = campaign.clone();
        let _ = on_engine(&state, move |e| Ok(e.campaign(&campaign).map(drop)?)).await?;
    }
    let format = query.format;
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
