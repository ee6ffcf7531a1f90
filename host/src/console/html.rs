//! HTML for the console: escaping, the page layout (landmarks, a skip link, navigation by role),
//! security headers, and the embedded stylesheet.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::session::Viewer;
use crate::api::routes::{PERSONAL, READ};
use crate::store::Role;

const STYLESHEET: &str = include_str!("../../console/console.css");
/// The segment builder's script: our own, small, no dependencies.
const BUILDER_SCRIPT: &str = include_str!("../../console/builder.js");

/// Escapes text for HTML content and attribute values (`& < > " '`).
pub(super) fn esc(text: &str) -> String {
    baton_liquid::escape_html(text)
}

/// A console page: HTML with the headers every page carries.
pub(super) fn page(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // Only our own resources, no framing, forms post back here only.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // Pages show personal data: no cache keeps them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The document around a page's content.
pub(super) fn document(title: &str, header: &str, content: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Baton</title><link rel=\"stylesheet\" href=\"/assets/console.css\"></head>\
         <body><a class=\"skip\" href=\"#main\">Skip to content</a>{header}\
         <main id=\"main\">{content}</main></body></html>",
        esc(title)
    )
}

/// The navigation links, by what each page is (`overview` …), shown to the roles that may see it.
const NAV: [(&str, &str, &str, &[Role]); 8] = [
    ("overview", "/", "Overview", READ),
    ("campaigns", "/campaigns", "Campaigns", READ),
    ("journeys", "/journeys", "Journeys", READ),
    ("calendar", "/calendar", "Calendar", READ),
    ("segments", "/segments", "Segments", READ),
    ("templates", "/templates", "Templates", READ),
    ("attribution", "/attribution", "Attribution", READ),
    ("profiles", "/profiles", "Profiles", PERSONAL),
];

/// The hidden field that carries the session's CSRF token in a form that changes something.
pub(super) fn csrf_field(viewer: &Viewer) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", esc(&viewer.session.csrf))
}

/// A time for people: `2025-06-30 14:05 UTC`.
pub(super) fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// A table in a region that scrolls sideways on a narrow screen and can be reached by keyboard.
pub(super) fn table(label: &str, head: &[&str], rows: &[String], empty: &str) -> String {
    let head: String = head
        .iter()
        .map(|h| match h.strip_prefix('#') {
            Some(h) => format!("<th scope=\"col\" class=\"num\">{h}</th>"),
            None => format!("<th scope=\"col\">{h}</th>"),
        })
        .collect();
    let body = if rows.is_empty() {
        format!("<tr><td colspan=\"{}\" class=\"muted\">{}</td></tr>", head.len().max(1), esc(empty))
    } else {
        rows.concat()
    };
    format!(
        "<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"{}\"><table>\
         <thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>",
        esc(label)
    )
}

/// A signed-in page: the header with navigation and sign-out, then the content.
pub(super) fn signed_in(viewer: &Viewer, active: &str, title: &str, content: &str) -> Response {
    let links: String = NAV
        .iter()
        .filter(|(_, _, _, roles)| viewer.may(roles))
        .map(|(id, href, label, _)| {
            let current = if *id == active { " aria-current=\"page\"" } else { "" };
            format!("<li><a href=\"{href}\"{current}>{label}</a></li>")
        })
        .collect();
    let header = format!(
        "<header><a class=\"brand\" href=\"/\">Baton</a><nav aria-label=\"Main\"><ul>{links}</ul></nav>\
         <div class=\"who\"><span>{} ({})</span>\
         <form class=\"inline\" method=\"post\" action=\"/sign-out\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button class=\"quiet\" type=\"submit\">Sign out</button>\
         </form></div></header>",
        esc(&viewer.token.name),
        viewer.token.role.name(),
        esc(&viewer.session.csrf),
    );
    page(StatusCode::OK, document(title, &header, content))
}

/// The stylesheet, cached by browsers for an hour.
pub(super) async fn stylesheet() -> Response {
    asset(STYLESHEET, "text/css; charset=utf-8")
}

/// The segment builder's script, cached by browsers for an hour.
pub(super) async fn builder_script() -> Response {
    asset(BUILDER_SCRIPT, "text/javascript; charset=utf-8")
}

fn asset(text: &'static str, media: &'static str) -> Response {
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
