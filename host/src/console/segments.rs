//! Segments: the saved ones with their stored member counts, and the builder, where a person
//! puts a condition tree together from menus (attributes, computed traits, events with counts and
//! windows, nested all/any groups, exclusions) and watches the member count and a sample change
//! as they go; an orchestrator saves it as a segment whose membership Baton then keeps.
//!
//! The live count judges every profile with `segment-conditions` (an ad-hoc scan, under the
//! API's `api.max_concurrent_scans` limit); once saved, counts come from stored membership.

use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::{csrf_field, esc, signed_in, table, when};
use super::on_engine;
use super::session::{Viewer, message_page};
use crate::api::routes::{ORCHESTRATE, PERSONAL, READ};
use crate::api::{ApiError, AppState};
use crate::engine::EngineError;
use crate::segment::{SegmentDefinition, SegmentSpec, SegmentState};

/// The segment rule the builder writes trees for.
const CONDITIONS: &str = "segment-conditions";
/// Members shown in the builder's sample.
const SAMPLE: usize = 5;
/// Profiles the live count judges: a uniform random sample of this many, from which it
/// estimates the count with its interval (a store this small or smaller is judged whole). At
/// 1,000,000 profiles a whole count with an event condition takes tens of seconds (see
/// BENCHMARKS.md, section 14); the sample about a hundredth of that. "Count exactly" asks for
/// the whole count.
const ESTIMATE_SAMPLE: usize = 10_000;
/// Profiles (and newest events of each) read to fill the builder's menus.
const VOCABULARY_PROFILES: usize = 200;
const VOCABULARY_EVENTS: usize = 20;

/// A notice after saving.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Saved {
    saved: Option<String>,
}

/// `GET /segments`.
pub(super) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(saved): Query<Saved>,
) -> Response {
    if let Err(refused) = viewer.require(READ, "see segments") {
        return refused;
    }
    let segments = match on_engine(&state, |e| e.saved_segments()).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let rows: Vec<String> = segments
        .iter()
        .map(|s| {
            let kind = if s.is_manual() { "kept by hand" } else { "rule" };
            let state = match s.state {
                SegmentState::Building => "building",
                SegmentState::Live => "live",
            };
            format!(
                "<tr><th scope=\"row\">{}<br><span class=\"muted\">{}</span></th><td>{kind}</td><td><span class=\"state state-{state}\">{state}</span></td>\
                 <td class=\"num\" data-segment=\"{}\">{}</td><td>{}</td></tr>",
                esc(&s.id),
                esc(&s.description),
                esc(&s.id),
                s.members,
                when(s.updated_at),
            )
        })
        .collect();
    let notice = saved.saved.map_or(String::new(), |id| {
        format!(
            "<p class=\"notice\" role=\"status\">Segment {} saved; Baton now keeps its membership.</p>",
            esc(&id)
        )
    });
    let new = if viewer.may(PERSONAL) {
        "<p><a class=\"button\" href=\"/segments/new\">Build a segment</a></p>"
    } else {
        ""
    };
    let content = format!(
        "<h1>Segments</h1>{notice}{new}{}",
        table(
            "Saved segments",
            &["Segment", "Kind", "State", "#Members", "Changed"],
            &rows,
            "No saved segments yet."
        )
    );
    signed_in(&viewer, "segments", "Segments", &content)
}

/// `GET /segments/new`: the builder.
pub(super) async fn builder(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(PERSONAL, "build segments (the count's sample shows people)") {
        return refused;
    }
    let vocabulary = match on_engine(&state, |e| e.vocabulary(VOCABULARY_PROFILES, VOCABULARY_EVENTS)).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let options = |names: &std::collections::BTreeSet<String>| -> String {
        names.iter().map(|n| format!("<option value=\"{}\"></option>", esc(n))).collect()
    };
    let save = if viewer.may(ORCHESTRATE) {
        format!(
            "<form method=\"post\" action=\"/segments\" id=\"save-segment\">{}\
             <input type=\"hidden\" name=\"config\" id=\"config-field\">\
             <div class=\"row\"><div><label for=\"segment-id\">Segment id</label>\
             <input id=\"segment-id\" name=\"id\" type=\"text\" required pattern=\"[a-z0-9_\\-]{{1,64}}\" aria-describedby=\"id-help\">\
             <p id=\"id-help\" class=\"muted\">Lowercase letters, digits, - and _.</p></div>\
             <div><label for=\"segment-description\">What it is for</label><input id=\"segment-description\" name=\"description\" type=\"text\"></div></div>\
             <button type=\"submit\">Save segment</button></form>",
            csrf_field(&viewer)
        )
    } else {
        "<p class=\"muted\">Saving segments is for orchestrators.</p>".into()
    };
    let content = format!(
        "<h1>Build a segment</h1>\
         <p class=\"muted\">Choose who is in: traits and computed traits, events with how often and how recently, \
         in groups that must all or any hold. Each change counts again: every profile of a small store, a random sample of 10,000 of a large one (with its margin), and every profile when you ask.</p>\
         <datalist id=\"attribute-names\">{}</datalist><datalist id=\"event-names\">{}</datalist>\
         <div class=\"builder\"><div id=\"tree\" class=\"tree\"></div>\
         <aside class=\"live\" aria-labelledby=\"live-heading\"><h2 id=\"live-heading\">Members now</h2>\
         <p class=\"count\"><output id=\"member-count\" aria-live=\"polite\">–</output></p>\
         <p id=\"count-note\" class=\"muted\" aria-live=\"polite\">Add a condition to count.</p>\
         <p><button type=\"button\" class=\"quiet\" id=\"count-exactly\" hidden>Count every profile</button></p>\
         <h3>Sample</h3><ul id=\"member-sample\" class=\"sample-list\"></ul></aside></div>\
         <details><summary>The condition tree as JSON</summary><pre id=\"config-json\">{{}}</pre></details>\
         {save}<noscript><p class=\"error\">The builder needs JavaScript; the API's <code>PUT /v1/segments/{{id}}</code> takes the same tree.</p></noscript>\
         <script src=\"/assets/builder.js\" defer></script>",
        options(&vocabulary.attributes),
        options(&vocabulary.events),
    );
    signed_in(&viewer, "segments", "Build a segment", &content)
}

/// The count request: the tree, as JSON, and whether to judge every profile.
#[derive(Debug, Deserialize)]
pub(super) struct CountQuery {
    #[serde(default)]
    config: String,
    #[serde(default)]
    exact: bool,
}

/// The live count, as JSON for the builder's script.
#[derive(Debug, serde::Serialize)]
struct Count {
    /// The count, or its estimate.
    count: u64,
    /// Its 95% interval (the count twice when exact).
    interval: [u64; 2],
    /// Whether every profile was judged.
    exact: bool,
    /// Profiles judged.
    judged: usize,
    /// Profiles in the store (estimated unless exact).
    profiles: u64,
    sample: Vec<Sampled>,
}

#[derive(Debug, serde::Serialize)]
struct Sampled {
    id: String,
    label: String,
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// `GET /segments/count?config=…`: how many profiles the tree admits now, and a few of them.
pub(super) async fn count(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<CountQuery>,
) -> Response {
    if !viewer.may(PERSONAL) {
        return json_error(StatusCode::FORBIDDEN, "your role may not count audiences");
    }
    let config: serde_json::Value = match serde_json::from_str(&query.config) {
        Ok(config) => config,
        Err(e) => return json_error(StatusCode::UNPROCESSABLE_ENTITY, &format!("the tree is not JSON: {e}")),
    };
    // Held until the answer is ready: the count reads every profile.
    let Ok(_permit) = state.scans.clone().try_acquire_owned() else {
        return json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "other counts are running (api.max_concurrent_scans); this one will retry",
        );
    };
    let counted = tokio::task::spawn_blocking({
        let engine = state.engine.clone();
        move || -> Result<Count, EngineError> {
            let plugin = conditions(&engine)?;
            // A sample larger than the store judges every profile.
            let size = if query.exact { usize::MAX } else { ESTIMATE_SAMPLE };
            let estimate = engine.audience_estimate(&plugin, &config, size, SAMPLE)?;
            let mut sample = Vec::new();
            for member in estimate.sample {
                let profile = engine.profile(member.profile)?;
                let label = profile.attributes.get("email").and_then(|e| e.as_str()).unwrap_or("").to_owned();
                sample.push(Sampled { id: member.profile.to_string(), label });
            }
            Ok(Count {
                count: estimate.count,
                interval: estimate.interval,
                exact: estimate.exact,
                judged: estimate.judged,
                profiles: estimate.profiles,
                sample,
            })
        }
    })
    .await;
    match counted {
        Ok(Ok(count)) => Json(count).into_response(),
        Ok(Err(err)) => {
            let err = ApiError::from(err);
            let status = if err.status().is_server_error() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let message =
                if err.status().is_server_error() { "Baton could not count just now" } else { err.message() };
            json_error(status, message)
        }
        Err(_) => json_error(StatusCode::SERVICE_UNAVAILABLE, "Baton could not count just now"),
    }
}

/// The installed `segment-conditions` plugin, or what to do about its absence.
fn conditions(engine: &crate::engine::Engine) -> Result<crate::plugin::ContentHash, EngineError> {
    engine.plugin_named(CONDITIONS)?.map(|p| p.hash).ok_or_else(|| {
        EngineError::InvalidRequest(format!(
            "the builder needs the `{CONDITIONS}` plugin: install it with `baton plugin install` (a developer's or admin's job)"
        ))
    })
}

/// The save form.
#[derive(Deserialize)]
pub(super) struct Save {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    config: String,
}

/// `POST /segments`: saves the built tree as a rule segment.
pub(super) async fn save(State(state): State<AppState>, viewer: Viewer, Form(form): Form<Save>) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return refused;
    }
    if let Err(refused) = viewer.require(ORCHESTRATE, "save segments") {
        return refused;
    }
    let config: serde_json::Value = match serde_json::from_str(&form.config) {
        Ok(config) => config,
        Err(_) => {
            return message_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not saved",
                "The segment has no conditions yet: add at least one, then save.",
            );
        }
    };
    let actor = viewer.actor();
    let id = form.id.trim().to_owned();
    let description = form.description.trim().to_owned();
    let saved = on_engine(&state, move |e| {
        let plugin = conditions(e)?;
        let spec = SegmentSpec { id, description, definition: SegmentDefinition::Rule { plugin, config } };
        e.save_segment(&actor, spec)
    })
    .await;
    match saved {
        Ok((segment, _)) => Redirect::to(&format!("/segments?saved={}", segment.id)).into_response(),
        Err(page) => page,
    }
}
