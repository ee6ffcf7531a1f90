//! The admin and ingest HTTP API (axum), under `/v1`. Handlers ask the engine; they never touch
//! a wasmtime store or a sled tree. Every error is an [`ApiError`] with a stable code.
//!
//! Depends on: `engine` (and the domain types it exposes).

mod access;
mod admin;
mod audiences;
mod auth;
mod calendar;
mod campaigns;
mod content;
mod error;
mod events;
mod exports;
mod feedback;
mod journeys;
mod metrics;
mod openapi;
mod pages;
mod plugins;
mod profiles;
pub(crate) mod routes;
mod segment;
mod segments;
mod traits;
mod unsubscribe;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use serde::{Deserialize, Serialize};

pub use auth::Caller;
pub use error::{ApiError, ErrorCode};
pub use routes::{RouteSpec, role_table, table as routes};

use crate::engine::Engine;

/// API limits; every one explicit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// The largest ingest body, in bytes.
    pub max_ingest_bytes: usize,
    /// The largest body of other JSON routes, in bytes.
    pub max_json_bytes: usize,
    /// Caps on each ingested event.
    pub events: crate::profile::EventLimits,
    /// The largest vendor webhook body, in bytes.
    pub max_feedback_bytes: usize,
    /// The URL vendors and recipients reach Baton at (`https://baton.example.com`): for vendors
    /// that sign the URL they called (Twilio), and for the unsubscribe link in every marketing
    /// message (unset: vendors get `http://` and the request's `Host` header, and messages carry
    /// no unsubscribe link, which bulk email to Gmail and Yahoo needs).
    pub public_url: Option<String>,
    /// Ad-hoc audience questions (`POST /v1/audiences`) judged at once; each scans every profile
    /// on `engine.batch_workers` threads, so more would only slow each other and ingest. One over
    /// the limit is refused with 429 `busy`; 0 refuses them all (count saved segments instead).
    pub max_concurrent_scans: usize,
    /// How long a console sign-in lasts, in milliseconds (12 hours by default); then the browser
    /// signs in again. Revoking the token ends its sessions at once.
    pub console_session_ms: i64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_ingest_bytes: 16 << 20,
            max_json_bytes: 1 << 20,
            events: crate::profile::EventLimits::default(),
            max_feedback_bytes: 1 << 20,
            public_url: None,
            max_concurrent_scans: 2,
            console_session_ms: 12 * 3_600_000,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The campaign engine (and through it the store and runtime).
    pub engine: Arc<Engine>,
    /// The API's limits.
    pub config: Arc<ApiConfig>,
    /// Ingest counters since start: stored, duplicate, rejected.
    pub(crate) ingested: Arc<[std::sync::atomic::AtomicU64; 3]>,
    /// Permits for ad-hoc scans ([`ApiConfig::max_concurrent_scans`]).
    pub(crate) scans: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// The state of a server over `engine` with these limits.
    pub fn new(engine: Arc<Engine>, config: ApiConfig) -> Self {
        if let Some(url) = &config.public_url {
            engine.set_public_url(url);
        }
        let scans = Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_scans));
        AppState { engine, config: Arc::new(config), ingested: Arc::new(Default::default()), scans }
    }
}

/// Builds the router from the route table, with JSON errors for unknown routes and methods.
pub fn router(state: AppState) -> Router {
    routes::build(state.clone())
        .merge(crate::console::router(state))
        .fallback(|| async { ApiError::new(ErrorCode::RouteNotFound, "no such route; see /v1/openapi.json") })
        .method_not_allowed_fallback(|| async {
            ApiError::method_not_allowed("this route does not take that method; see /v1/openapi.json")
        })
}

async fn ready(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<&'static str, ApiError> {
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || engine.check_store()).await.map_err(|e| ApiError::internal(&e))??;
    Ok("ready")
}

/// Reads an ingest body: at most `limit` bytes as sent, and at most `limit` once decompressed
/// (`Content-Encoding: gzip`, as Segment's and RudderStack's server and mobile libraries send by
/// default), so a small compressed body cannot expand past the route's limit.
pub(crate) async fn read_ingest_body(
    headers: &axum::http::HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let raw = read_body(body, limit).await?;
    let encoding = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("(not text)").trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") => Ok(raw),
        Some("gzip") | Some("x-gzip") => tokio::task::spawn_blocking(move || {
            use std::io::Read as _;
            let mut out = Vec::new();
            let decoder = flate2::read::MultiGzDecoder::new(&raw[..]);
            match decoder.take(limit as u64 + 1).read_to_end(&mut out) {
                Ok(n) if n > limit => Err(ApiError::too_large(limit)),
                Ok(_) => Ok(axum::body::Bytes::from(out)),
                Err(e) => Err(ApiError::new(
                    ErrorCode::InvalidJson,
                    format!("the gzip body does not decompress: {e}"),
                )),
            }
        })
        .await
        .map_err(|e| ApiError::internal(&e))?,
        Some(other) => Err(ApiError::new(
            ErrorCode::UnsupportedEncoding,
            format!("Content-Encoding `{other}` is not read here: send gzip or no encoding"),
        )),
    }
}

/// Reads a body up to `limit` bytes; larger bodies are refused with 413, whatever their
/// `Content-Length` claims.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::too_large(limit))
}
