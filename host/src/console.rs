//! The console: Baton's web interface for people who do not write code, served by `baton serve`
//! at `/` from the same binary. Pages are rendered on the server (no JavaScript toolchain, no
//! framework); the stylesheet is embedded; charts are SVG drawn here.
//!
//! A browser signs in with a token and gets a session cookie (HttpOnly, SameSite=Strict, Secure
//! behind TLS); the session has the token's role, so a page shows and allows what the API
//! allows that role. Every change is a form POST carrying the session's CSRF token.
//!
//! Depends on the engine (through `AppState`) and the API's state and roles; never on the store.

mod html;
mod overview;
mod session;

use axum::Router;
use axum::routing::{get, post};

use crate::api::AppState;

/// The console's routes, over the API's state.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(overview::page))
        .route("/sign-in", get(session::sign_in_page).post(session::sign_in))
        .route("/sign-out", post(session::sign_out))
        .route("/assets/console.css", get(html::stylesheet))
        .with_state(state)
}
