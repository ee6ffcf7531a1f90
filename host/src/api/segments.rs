//! Saved-segment handlers: save (create or replace), list, show with the live count, members
//! (a page, or every member as CSV or NDJSON), rebuild, delete, and members by hand for a manual
//! segment. Each calls one engine function, which audits what changes.

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::admin::{Answer, ApiQuery, engine_work, json_body, on_engine};
use super::pages::{self, ListQuery};
use super::{ApiError, AppState, Caller, ErrorCode};
use crate::profile::ProfileId;
use crate::segment::{MemberFile, SavedSegment, SegmentDefinition, SegmentSpec};
use crate::store::Page;

/// The body of a saved segment; its id is in the path.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "description": "Ordered in the last 30 days",
    "definition": {"rule": {"plugin": "sha256:0f9d6c2b8a4e1f7d3c5b9a0e2d4f6a8c1b3e5d7f9a0c2e4b6d8f1a3c5e7b9d0f",
        "config": {"event": "order_completed", "within_ms": 2592000000u64}}}
}))]
pub(super) struct SegmentRequest {
    /// What the segment is for, in a sentence.
    #[serde(default)]
    description: String,
    /// A segment rule with its config, or `{"manual": {}}` for a list kept by hand.
    definition: SegmentDefinition,
}

/// People to add to and remove from a manual segment, by user id or email (an entry with an `@`
/// names every profile with that email).
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MembersEdit {
    /// User ids or emails to add (at most 10,000 per request).
    #[serde(default)]
    #[schemars(length(max = 10000))]
    add: Vec<String>,
    /// User ids or emails to remove (at most 10,000 per request).
    #[serde(default)]
    #[schemars(length(max = 10000))]
    remove: Vec<String>,
}

/// The most user ids one edit may name, per list.
const MAX_EDIT: usize = 10_000;

/// How a member list is answered.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MembersQuery {
    /// Members per page (JSON only), 1 to 1000 (default 100).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<usize>,
    /// Where to continue: the `cursor` of the `Link: rel="next"` URL of the page before.
    #[schemars(pattern(r"^([0-9a-fA-F]{2})*$"))]
    cursor: Option<String>,
    /// `json` (a page), `csv` or `ndjson` (every member, in one answer).
    #[serde(default)]
    format: MembersFormat,
}

/// How a member list is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum MembersFormat {
    /// A page of members as JSON, with a `Link` to the next.
    #[default]
    Json,
    /// Every member as CSV: `profile_id,since,score`.
    Csv,
    /// Every member as NDJSON.
    Ndjson,
}

pub async fn list(
    State(state): State<AppState>,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    pages::listed(
        &state,
        &uri,
        query,
        |s: &SavedSegment| s.id.as_bytes().to_vec(),
        |e| Ok(e.saved_segments()?),
    )
    .await
}

pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    on_engine(&state, move |e| Ok(e.segment_view(&id, 0)?.segment)).await
}

pub async fn save(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Answer {
    let request: SegmentRequest = json_body(&state, body).await?;
    let spec = SegmentSpec { id, description: request.description, definition: request.definition };
    on_engine(&state, move |e| Ok(e.save_segment(&caller.actor(), spec)?.0)).await
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    on_engine(&state, move |e| {
        e.delete_segment(&caller.actor(), &id)?;
        Ok(Deleted { deleted: id })
    })
    .await
}

/// The answer to a deletion.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Deleted {
    /// The segment deleted.
    pub deleted: String,
}

pub async fn rebuild(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    on_engine(&state, move |e| Ok(e.rebuild_segment(&caller.actor(), &id)?)).await
}

pub async fn edit_members(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Answer {
    let edit: MembersEdit = json_body(&state, body).await?;
    for (name, list) in [("add", &edit.add), ("remove", &edit.remove)] {
        if list.len() > MAX_EDIT {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("{name}: {} user ids; send at most {MAX_EDIT} per request", list.len()),
            ));
        }
    }
    on_engine(&state, move |e| Ok(e.edit_segment_members(&caller.actor(), &id, &edit.add, &edit.remove)?))
        .await
}

pub async fn members(
    State(state): State<AppState>,
    uri: Uri,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<MembersQuery>,
) -> Result<Response, ApiError> {
    if query.format != MembersFormat::Json {
        return every_member(&state, id, query.format).await;
    }
    let request = pages::request(query.limit, query.cursor.as_deref())?;
    // A cursor is a position in profile id order; one this API did not give still names one (as
    // with every list), read as the first eight bytes of a big-endian id.
    let after = request.after.as_deref().filter(|raw| !raw.is_empty()).map(|raw| {
        let mut id = [0u8; 8];
        let n = raw.len().min(8);
        id[..n].copy_from_slice(&raw[..n]);
        ProfileId(u64::from_be_bytes(id))
    });
    pages::paged(&state, &uri, move |e| {
        let mut items = e.segment_members(&id, after, request.limit + 1)?;
        let next = (items.len() > request.limit).then(|| {
            items.truncate(request.limit);
            items.last().map(|m| crate::store::profile_key(m.profile).to_vec()).unwrap_or_default()
        });
        Ok(Page { items, next })
    })
    .await
}

/// Every member as CSV or NDJSON, read from stored membership a slice at a time.
async fn every_member(state: &AppState, id: String, format: MembersFormat) -> Result<Response, ApiError> {
    let out = engine_work(state, move |e| {
        let file = if format == MembersFormat::Csv { MemberFile::Csv } else { MemberFile::Ndjson };
        let mut out = String::from(file.header());
        let mut after: Option<ProfileId> = None;
        loop {
            let slice = e.segment_members(&id, after, 10_000)?;
            let Some(last) = slice.last() else { break };
            after = Some(last.profile);
            file.write(&slice, &mut out);
        }
        Ok(out)
    })
    .await?;
    let kind = if format == MembersFormat::Csv { "text/csv" } else { "application/x-ndjson" };
    Ok(([(header::CONTENT_TYPE, kind)], Body::from(out)).into_response())
}
