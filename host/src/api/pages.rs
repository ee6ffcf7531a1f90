//! Lists answer a page at a time, as Shopify's and GitHub's APIs do: a JSON array of at most
//! `limit` items (default 100, at most 1,000), and, when more follow, a `Link` header with the
//! URL of the next page (`rel="next"`), the same query with an opaque `cursor`. Filters stay in
//! the query, so following the links walks one filtered list to its end.

use axum::Json;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ApiError, AppState, ErrorCode};
use crate::engine::Engine;
use crate::store::{Page, PageRequest};

/// Items per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit` a request may ask for.
pub const MAX_LIMIT: usize = 1000;

/// The paging part of a list's query, for lists with no filters of their own.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Items per page, 1 to 1000 (default 100).
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<usize>,
    /// Where to continue: the `cursor` of the `Link: rel="next"` URL of the page before.
    #[schemars(pattern(r"^([0-9a-fA-F]{2})*$"))]
    pub cursor: Option<String>,
}

/// Reads `limit` and `cursor` into a page request; either one out of shape is a 400 naming it.
pub fn request(limit: Option<usize>, cursor: Option<&str>) -> Result<PageRequest, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(ErrorCode::InvalidQuery, format!("limit {limit}: use 1 to {MAX_LIMIT}")));
    }
    let after = match cursor {
        None => None,
        Some(text) => Some(hex::decode(text).map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidQuery,
                format!("cursor `{text}` is not one this API gave; follow the `Link: rel=\"next\"` URL"),
            )
        })?),
    };
    Ok(PageRequest { after, limit })
}

/// The page as a JSON array, with a `Link` to the next page when there is one.
pub fn answer<T: serde::Serialize>(uri: &Uri, page: Page<T>) -> Response {
    let mut response = Json(page.items).into_response();
    if let Some(next) = page.next {
        let cursor = hex::encode(next);
        let mut pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
        pairs.retain(|(name, _)| name != "cursor");
        pairs.push(("cursor".into(), cursor));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        let link = format!("<{}?{query}>; rel=\"next\"", uri.path());
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// Runs a paged read on the engine off the executor and answers it.
pub async fn paged<T: serde::Serialize + Send + 'static>(
    state: &AppState,
    uri: &Uri,
    work: impl FnOnce(&Engine) -> Result<Page<T>, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let engine = state.engine.clone();
    let page =
        tokio::task::spawn_blocking(move || work(&engine)).await.map_err(|e| ApiError::internal(&e))??;
    Ok(answer(uri, page))
}

/// A short list kept in memory (campaigns, plugins, tokens), paged by `key` like the long ones.
pub async fn listed<T: serde::Serialize + Send + 'static>(
    state: &AppState,
    uri: &Uri,
    query: ListQuery,
    key: fn(&T) -> Vec<u8>,
    work: impl FnOnce(&Engine) -> Result<Vec<T>, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let request = request(query.limit, query.cursor.as_deref())?;
    paged(state, uri, move |e| Ok(Page::of(work(e)?, key, &request))).await
}
