//! Journey pages: the list with states, and one journey drawn as its graph with the per-step
//! counts of the version shown, and the same counts as a table.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::campaigns::duration_words;
use super::charts::journey_graph;
use super::html::{esc, signed_in, table};
use super::on_engine;
use super::session::Viewer;
use crate::api::AppState;
use crate::api::routes::READ;
use crate::journey::{Entry, JourneySpec};

/// `GET /journeys`.
pub(super) async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(READ, "see journeys") {
        return refused;
    }
    let views = on_engine(&state, |e| {
        e.journeys()?.iter().map(|j| e.journey_view(&j.id)).collect::<Result<Vec<_>, _>>()
    })
    .await;
    let views = match views {
        Ok(v) => v,
        Err(page) => return page,
    };
    let rows: Vec<String> = views
        .iter()
        .map(|v| {
            format!(
                "<tr><th scope=\"row\"><a href=\"/journeys/{id}\">{}</a><br><span class=\"muted\">{id}</span></th>\
                 <td><span class=\"state state-{st}\">{st}</span></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&v.spec.name),
                esc(&entry_words(&v.spec)),
                v.journey.live_version.map_or("–".into(), |n| n.to_string()),
                v.waiting,
                id = esc(&v.journey.id),
                st = v.journey.state.name(),
            )
        })
        .collect();
    let content = format!(
        "<h1>Journeys</h1>{}",
        table(
            "Journeys",
            &["Journey", "State", "Entry", "#Live version", "#Waiting"],
            &rows,
            "No journeys yet."
        )
    );
    signed_in(&viewer, "journeys", "Journeys", &content)
}

fn entry_words(spec: &JourneySpec) -> String {
    match &spec.entry {
        Entry::Event { event, .. } => format!("on `{event}`"),
        Entry::Segment { segment } => format!("entering segment {segment}"),
        Entry::Schedule { segment, every_ms, .. } => {
            format!("members of {segment}, every {}", duration_words(*every_ms))
        }
    }
}

/// Which version's counts to show.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Version {
    version: Option<u32>,
}

/// `GET /journeys/{id}`.
pub(super) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(asked): Query<Version>,
) -> Response {
    if let Err(refused) = viewer.require(READ, "see journeys") {
        return refused;
    }
    let view = match on_engine(&state, move |e| e.journey_view(&id)).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let version = asked.version.or(view.journey.live_version).unwrap_or(view.journey.latest_version);
    let counts = view.counts.get(&version);
    let versions: String = view
        .counts
        .keys()
        .map(|v| {
            let current = if *v == version { " aria-current=\"true\"" } else { "" };
            format!(
                "<li><a href=\"/journeys/{}?version={v}\"{current}>version {v}</a></li>",
                esc(&view.journey.id)
            )
        })
        .collect();
    let rows: Vec<String> = view
        .spec
        .steps
        .iter()
        .map(|(step_id, step)| {
            let c = counts.and_then(|c| c.get(step_id)).cloned().unwrap_or_default();
            let list = |m: &std::collections::BTreeMap<String, u64>| {
                m.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
            };
            format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(step_id),
                step.kind().replace('_', " "),
                c.entered,
                c.waiting,
                c.passed,
                esc(&list(&c.ended)),
                esc(&list(&c.skipped)),
            )
        })
        .collect();
    let content = format!(
        "<h1>{}</h1><p><span class=\"state state-{st}\">{st}</span> <span class=\"muted\">{} · {} · {} waiting now</span></p>\
         {}<figure class=\"journey-figure\"><figcaption>Steps of the version shown, with how many entered each and how many wait there now.</figcaption>\
         <div class=\"graph-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Journey graph\">{}</div></figure>\
         <h2>Per step</h2>{}",
        esc(&view.spec.name),
        esc(&view.journey.id),
        esc(&entry_words(&view.spec)),
        view.waiting,
        if versions.is_empty() {
            String::new()
        } else {
            format!("<nav aria-label=\"Versions\"><ul class=\"tabs\">{versions}</ul></nav>")
        },
        journey_graph(&view.spec, counts),
        table(
            "Step counts",
            &["Step", "Type", "#Entered", "#Waiting", "#Passed", "Ended", "Skipped"],
            &rows,
            "No steps."
        ),
        st = view.journey.state.name(),
    );
    signed_in(&viewer, "journeys", &view.spec.name, &content)
}
