//! `baton serve`: the API plus the engine's background work (delivery rounds, scheduled runs and
//! KPIs), with graceful shutdown: stop accepting, finish in-flight requests, stop the loops after
//! their current round, flush the store.
//!
//! Depends on: `api`, `engine`, `runtime`, `store`.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{self, ApiConfig, AppState};
use crate::engine::{Engine, EngineConfig, EngineError, SystemClock};
use crate::runtime::{Runtime, RuntimeConfig, RuntimeError};
use crate::store::{Storage, StorageError};

/// Everything `baton serve` can be configured with (a TOML file; every field optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// The embedded store.
    pub storage: crate::store::StorageConfig,
    /// Plugin runtime limits.
    pub runtime: RuntimeConfig,
    /// Engine: delivery, policies, schedules.
    pub engine: EngineConfig,
    /// API limits.
    pub api: ApiConfig,
    /// Background loops.
    pub loops: LoopConfig,
}

/// How often the background work runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoopConfig {
    /// Pause between delivery rounds when the last round found nothing to do, in ms.
    pub delivery_idle_ms: u64,
    /// Period of `tick` (scheduled batch runs and KPIs), in ms.
    pub tick_ms: u64,
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig { delivery_idle_ms: 200, tick_ms: 1_000 }
    }
}

impl ServeConfig {
    /// Reads a TOML config file; unknown keys are errors that name the key.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// Why Baton could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The runtime could not start.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The engine could not start.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The server failed.
    #[error("server: {0}")]
    Server(String),
}

/// Opens the store, runtime and engine of a data directory.
///
/// On a PostgreSQL store, which keeps no compiled code, the worker's compile cache defaults to
/// `<data>/compile-cache`, so that a restart does not compile every plugin again.
pub fn open_engine(data: &Path, config: &ServeConfig) -> Result<Arc<Engine>, ServeError> {
    let storage = Storage::open_with(data, &config.storage)?;
    let mut runtime = config.runtime.clone();
    if config.storage.url.is_some() && runtime.compile_cache_dir.is_none() {
        runtime.compile_cache_dir = Some(data.join("compile-cache"));
    }
    let runtime = Arc::new(Runtime::new(runtime, storage.clone())?);
    Ok(Arc::new(Engine::new(storage, runtime, Arc::new(SystemClock), config.engine.clone())?))
}

/// Serves until `shutdown` completes, then shuts down gracefully.
pub async fn serve(
    engine: Arc<Engine>,
    listener: TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (stop, stopped) = watch::channel(false);
    engine.follow_changes();
    let deliveries = tokio::spawn(delivery_loop(engine.clone(), config.loops.clone(), stopped.clone()));
    let ticks = tokio::spawn(tick_loop(engine.clone(), config.loops.clone(), stopped));
    let app = api::router(AppState::new(engine.clone(), config.api.clone()));
    let result = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    tracing::info!("Stopped accepting requests; finishing background work.");
    let _ = stop.send(true);
    let _ = deliveries.await;
    let _ = ticks.await;
    let flushed = engine.clone();
    tokio::task::spawn_blocking(move || flushed.flush())
        .await
        .map_err(|e| ServeError::Server(e.to_string()))??;
    tracing::info!("Baton stopped cleanly.");
    result.map_err(|e| ServeError::Server(e.to_string()))
}

async fn delivery_loop(engine: Arc<Engine>, config: LoopConfig, mut stopped: watch::Receiver<bool>) {
    let mut in_flight = tokio::task::JoinSet::new();
    while !*stopped.borrow() {
        let started = match engine.dispatch_due(&mut in_flight).await {
            Ok(started) => started,
            Err(err) => {
                tracing::error!(error = %err, "Delivery dispatch failed.");
                0
            }
        };
        if started == 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(config.delivery_idle_ms)) => {}
                _ = engine.sends_queued() => {}
                _ = stopped.changed() => {}
            }
        }
    }
    // Let sends in flight finish (each is bounded by the request timeout); a send cut short by a
    // hard stop stays leased and is retried when its lease runs out.
    while in_flight.join_next().await.is_some() {}
}

async fn tick_loop(engine: Arc<Engine>, config: LoopConfig, mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        let engine = engine.clone();
        let work = move || {
            // Triggers a crash left queued first, then the schedules.
            engine.drain_triggers()?;
            let report = engine.tick()?;
            // Segment entries and exits the clock caused reach their campaigns now.
            engine.drain_triggers()?;
            Ok::<_, EngineError>(report)
        };
        match tokio::task::spawn_blocking(work).await {
            Ok(Ok(report))
                if !report.batch_runs.is_empty() || !report.kpis.is_empty() || report.purged_events > 0 =>
            {
                tracing::info!(
                    runs = report.batch_runs.len(),
                    kpis = report.kpis.len(),
                    purged_events = report.purged_events,
                    "Scheduled work done."
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::error!(error = %err, "Scheduled work failed."),
            Err(err) => tracing::error!(error = %err, "Scheduled work panicked."),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(config.tick_ms)) => {}
            _ = stopped.changed() => {}
        }
    }
}
