//! The console: Baton's web interface for people who do not write code, served by `baton serve`
//! at `/` from the same binary. Pages are rendered on the server (no JavaScript toolchain, no
//! framework); the stylesheet and the one small script are embedded; charts are SVG drawn here.
//!
//! A browser signs in with a token and gets a session cookie (HttpOnly, SameSite=Strict, Secure
//! behind TLS); the session has the token's role, and every page and change checks it against
//! the same role groups as the API's route table, so the console shows and allows exactly what
//! the API allows that role. Every change is a form POST carrying the session's CSRF token.
//!
//! Depends on the engine (through `AppState`) and the API's state, errors and role groups; never
//! on the store.

mod attribution;
mod calendar;
mod campaigns;
mod charts;
mod html;
mod journeys;
mod overview;
mod profiles;
mod segments;
mod session;
mod templates;

use axum::Router;
use axum::response::Response;
use axum::routing::{get, post};

use crate::api::{ApiError, AppState};
use crate::engine::{Engine, EngineError};

/// The console's routes, over the API's state.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(overview::page))
        .route("/sign-in", get(session::sign_in_page).post(session::sign_in))
        .route("/sign-out", post(session::sign_out))
        .route("/campaigns", get(campaigns::list))
        .route("/campaigns/{id}", get(campaigns::show))
        .route("/campaigns/{id}/preview", get(campaigns::preview))
        .route("/campaigns/{id}/{action}", post(campaigns::act))
        .route("/journeys", get(journeys::list))
        .route("/journeys/{id}", get(journeys::show))
        .route("/segments", get(segments::list).post(segments::save))
        .route("/segments/new", get(segments::builder))
        .route("/segments/count", get(segments::count))
        .route("/profiles", get(profiles::find))
        .route("/profiles/{id}", get(profiles::show))
        .route("/profiles/{id}/export", get(profiles::export))
        .route("/profiles/{id}/erase", post(profiles::erase))
        .route("/templates", get(templates::list))
        .route("/templates/{name}", get(templates::show).post(templates::save))
        .route("/templates/{name}/publish", post(templates::publish))
        .route("/calendar", get(calendar::page))
        .route("/attribution", get(attribution::page))
        .route("/assets/console.css", get(html::stylesheet))
        .route("/assets/builder.js", get(html::builder_script))
        .with_state(state)
}

/// Runs blocking engine work off the executor. An error becomes a page with the status and
/// message the API would answer (a store failure is logged and shown as "try again").
async fn on_engine<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Engine) -> Result<T, EngineError> + Send + 'static,
) -> Result<T, Response> {
    let engine = state.engine.clone();
    match tokio::task::spawn_blocking(move || work(&engine)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => {
            let err = ApiError::from(err);
            if err.status().is_server_error() {
                return Err(session::server_error());
            }
            Err(session::message_page(err.status(), "That did not work", err.message()))
        }
        Err(_) => Err(session::server_error()),
    }
}
