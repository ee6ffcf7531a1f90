//! `/u/{token}`: where a recipient's unsubscribe link leads, with no Baton token (the link's
//! signature is the authority). `GET` shows a small confirmation page with a choice (this kind
//! of message, or everything on the channel); `POST` unsubscribes: RFC 8058's one-click
//! (`List-Unsubscribe=One-Click`, which mail providers post for the recipient) or the page's
//! form (`scope=purpose|channel`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::admin::engine_work;
use super::{ApiError, AppState, ErrorCode, read_body};
use crate::engine::UnsubscribeScope;

/// What the page's form (or a mail provider's one-click POST) sends.
///
/// Other fields are ignored rather than refused: this is the one route whose callers are mail
/// providers and recipients' browsers, and a person who asked to leave must never be told no
/// because a provider added a field.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct UnsubscribeForm {
    /// RFC 8058's one-click: `One-Click`.
    // An absent field, not a null one: a form has no null.
    #[serde(rename = "List-Unsubscribe", default)]
    #[schemars(with = "OneClick")]
    list_unsubscribe: Option<OneClick>,
    /// `purpose` (the link's kind of message, the default) or `channel` (everything on it).
    #[serde(default)]
    #[schemars(with = "Scope")]
    scope: Option<Scope>,
}

/// RFC 8058's only value.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
pub enum OneClick {
    /// `One-Click`.
    #[serde(rename = "One-Click")]
    OneClick,
}

/// How far a click unsubscribes.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The kind of message the link came with.
    Purpose,
    /// Everything on the channel.
    Channel,
}

/// `GET /u/{token}`: the confirmation page.
pub async fn page(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let shown = token.clone();
    let link = engine_work(&state, move |e| Ok(e.unsubscribe_link(&shown)?)).await?;
    let (channel, purpose) = (escape(&link.channel), escape(&link.purpose));
    let action = format!("/u/{}", escape(&token));
    Ok(Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribe</title>\
         <meta name=\"viewport\" content=\"width=device-width\"></head><body>\
         <h1>Unsubscribe</h1><p>Stop receiving {purpose} messages by {channel}?</p>\
         <form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"scope\" value=\"purpose\">\
         <button type=\"submit\">Unsubscribe from {purpose} {channel}</button></form>\
         <form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"scope\" value=\"channel\">\
         <button type=\"submit\">Unsubscribe from all {channel}</button></form></body></html>"
    ))
    .into_response())
}

/// `POST /u/{token}`: unsubscribes, and says so.
pub async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    // A link that does not work is 404 whatever the body, so that nothing about it is learnt
    // by sending forms.
    let checked = token.clone();
    engine_work(&state, move |e| Ok(e.unsubscribe_link(&checked)?)).await?;
    let bytes = read_body(body, 4096).await?;
    let form: UnsubscribeForm = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("the form does not fit: {e}; send List-Unsubscribe=One-Click or scope=purpose|channel"),
        )
    })?;
    let scope = match form.scope {
        Some(Scope::Channel) => UnsubscribeScope::Channel,
        Some(Scope::Purpose) | None => UnsubscribeScope::Purpose,
    };
    let _ = form.list_unsubscribe;
    let link = token.clone();
    engine_work(&state, move |e| Ok(e.unsubscribe(&link, scope)?)).await?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Html("<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribed</title></head>\
              <body><h1>You are unsubscribed</h1><p>You will not receive these messages any more.</p></body></html>"),
    )
        .into_response())
}

/// Text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
