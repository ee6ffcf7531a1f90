//! Signing in and out, and who is looking: the session cookie, its flags, and the CSRF check
//! every change passes.

use axum::extract::{Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::{document, esc, page};
use crate::api::AppState;
use crate::engine::SignInRefused;
use crate::store::{ConsoleSession, Role, TokenRecord};

/// The cookie that carries the session id.
const COOKIE: &str = "baton_session";

/// A signed-in person: their session and the token it stands for.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub session_id: String,
    pub session: ConsoleSession,
    pub token: TokenRecord,
}

impl Viewer {
    /// Whether the viewer's role is one of `roles` (admin may do anything), as the API decides.
    pub(super) fn may(&self, roles: &[Role]) -> bool {
        self.token.role == Role::Admin || roles.contains(&self.token.role)
    }

    /// Refuses a page or change the viewer's role does not allow, saying which roles may.
    pub(super) fn require(&self, roles: &[Role], what: &str) -> Result<(), Response> {
        if self.may(roles) {
            return Ok(());
        }
        let allowed: Vec<&str> =
            std::iter::once(Role::Admin.name()).chain(roles.iter().map(|r| r.name())).collect();
        Err(message_page(
            StatusCode::FORBIDDEN,
            "Not for your role",
            &format!(
                "You are signed in as {} with role {}, which may not {what}. Ask for a token with role {}.",
                self.token.name,
                self.token.role.name(),
                allowed.join(" or ")
            ),
        ))
    }

    /// Who acts, for the audit log: the token, named as the API names it.
    pub(super) fn actor(&self) -> String {
        format!("token:{}", self.token.name)
    }

    /// Refuses a change whose form does not carry this session's CSRF token.
    pub(super) fn check_csrf(&self, presented: &str) -> Result<(), Response> {
        let expected = self.session.csrf.as_bytes();
        let presented = presented.as_bytes();
        let same = expected.len() == presented.len()
            && expected.iter().zip(presented).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if same {
            Ok(())
        } else {
            Err(message_page(
                StatusCode::FORBIDDEN,
                "Refused",
                "This form is out of date or did not come from this console. Reload the page and try again.",
            ))
        }
    }
}

/// The session id in a request's cookies.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_sign_in = || Redirect::to("/sign-in").into_response();
        let Some(session_id) = session_cookie(&parts.headers) else { return Err(to_sign_in()) };
        let engine = state.engine.clone();
        let id = session_id.clone();
        let found = tokio::task::spawn_blocking(move || engine.console_session(&id))
            .await
            .map_err(|_| server_error())?
            .map_err(|_| server_error())?;
        match found {
            Some((session, token)) => Ok(Viewer { session_id, session, token }),
            None => Err(to_sign_in()),
        }
    }
}

pub(super) fn server_error() -> Response {
    message_page(StatusCode::SERVICE_UNAVAILABLE, "Try again", "Baton could not read its store just now.")
}

/// A page with one message, for the signed-out or refused.
pub(super) fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    let content = format!(
        "<div class=\"signin\"><h1>{}</h1><p>{}</p><p><a href=\"/\">Back to the console</a></p></div>",
        esc(title),
        esc(text)
    );
    page(status, document(title, "", &content))
}

fn sign_in_form(status: StatusCode, error: Option<&str>) -> Response {
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\" id=\"token-error\">{}</p>", esc(e))
    });
    let described =
        if error.is_empty() { "" } else { " aria-describedby=\"token-error\" aria-invalid=\"true\"" };
    let content = format!(
        "<div class=\"signin\"><h1>Sign in to Baton</h1>{error}\
         <form method=\"post\" action=\"/sign-in\">\
         <label for=\"token\">Access token</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required{described}>\
         <p class=\"muted\">An administrator creates tokens with <code>baton token create --role …</code>.</p>\
         <button type=\"submit\">Sign in</button></form></div>"
    );
    page(status, document("Sign in", "", &content))
}

/// `GET /sign-in`.
pub(super) async fn sign_in_page() -> Response {
    sign_in_form(StatusCode::OK, None)
}

/// The sign-in form.
#[derive(Deserialize)]
pub(super) struct SignIn {
    #[serde(default)]
    token: String,
}

/// `POST /sign-in`: a session for a live token that may sign in.
pub(super) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    if form.token.trim().is_empty() {
        return sign_in_form(StatusCode::UNPROCESSABLE_ENTITY, Some("Enter your access token."));
    }
    let engine = state.engine.clone();
    let lifetime = state.config.console_session_ms;
    let token = form.token;
    let outcome = match tokio::task::spawn_blocking(move || engine.sign_in(&token, lifetime)).await {
        Ok(Ok(outcome)) => outcome,
        _ => return server_error(),
    };
    match outcome {
        Ok((id, _, _)) => {
            let secure = secure(&state, &headers);
            let cookie = format!(
                "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
                lifetime / 1000,
                if secure { "; Secure" } else { "" }
            );
            let mut response = Redirect::to("/").into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(SignInRefused::UnknownToken) => {
            sign_in_form(StatusCode::UNAUTHORIZED, Some("That token is unknown or revoked."))
        }
        Err(SignInRefused::WriteKey) => sign_in_form(
            StatusCode::FORBIDDEN,
            Some(
                "That token is a source's write key; it sends events and cannot sign in. Use a personal token.",
            ),
        ),
    }
}

/// Whether the browser reached Baton over TLS: the configured public URL is `https`, or the
/// proxy in front says so.
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    let public = state.config.public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
    let proxied = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
    public || proxied
}

/// A form that changes something: its CSRF token.
#[derive(Deserialize)]
pub(super) struct Change {
    #[serde(default)]
    pub(super) csrf: String,
}

/// `POST /sign-out`: ends the session and clears the cookie.
pub(super) async fn sign_out(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<Change>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return refused;
    }
    let engine = state.engine.clone();
    let (id, token) = (viewer.session_id.clone(), viewer.token.clone());
    if !matches!(tokio::task::spawn_blocking(move || engine.sign_out(&id, &token)).await, Ok(Ok(()))) {
        return server_error();
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("baton_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}
