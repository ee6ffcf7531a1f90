//! HTML for the console: escaping, the page layout (landmarks, a skip link, navigation by role),
//! security headers, and the embedded stylesheet.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::session::Viewer;

const STYLESHEET: &str = include_str!("../../console/console.css");

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
            "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
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

/// The navigation links, by what each page is (`overview` …), shown to roles that may see it.
const NAV: [(&str, &str, &str); 1] = [("overview", "/", "Overview")];

/// A signed-in page: the header with navigation and sign-out, then the content.
pub(super) fn signed_in(viewer: &Viewer, active: &str, title: &str, content: &str) -> Response {
    let links: String = NAV
        .iter()
        .map(|(id, href, label)| {
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
    let mut response = STYLESHEET.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
