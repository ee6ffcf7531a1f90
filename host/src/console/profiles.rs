//! Profiles, for people with access to personal data: find a customer by user id or email, and
//! the single customer view (traits, consents and their history, suppressions, segment
//! memberships, journeys, the event timeline with the messages they received). Export and
//! erasure are an admin's, as in the API; erasure asks the admin to type the profile's id.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::{csrf_field, esc, signed_in, table, when};
use super::on_engine;
use super::session::{Viewer, message_page};
use crate::api::AppState;
use crate::api::routes::{ADMIN, PERSONAL};
use crate::engine::{CustomerView, EngineError, ProfileLookup};
use crate::profile::{Identity, Profile, ProfileId};
use crate::store::PageRequest;

/// Profiles per page of a list, and events on a customer's timeline.
const PAGE: usize = 25;
const TIMELINE: usize = 100;

/// The search form: one box, a user id or an email; and where to continue a list.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Search {
    #[serde(default)]
    q: String,
    after: Option<String>,
    erased: Option<String>,
}

/// `GET /profiles`.
pub(super) async fn find(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(search): Query<Search>,
) -> Response {
    if let Err(refused) = viewer.require(PERSONAL, "look at profiles (they are personal data)") {
        return refused;
    }
    let q = search.q.trim().to_owned();
    // A profile id goes straight to its page.
    if let Ok(id) = q.parse::<ProfileId>() {
        return Redirect::to(&format!("/profiles/{id}")).into_response();
    }
    let lookup = if q.is_empty() {
        ProfileLookup::default()
    } else if q.contains('@') {
        ProfileLookup { email: Some(q.clone()), ..ProfileLookup::default() }
    } else {
        ProfileLookup { user_id: Some(q.clone()), ..ProfileLookup::default() }
    };
    let after = search.after.as_deref().and_then(|a| hex::decode(a).ok());
    let page =
        on_engine(&state, move |e| e.find_profiles(&lookup, &PageRequest { after, limit: PAGE })).await;
    let page = match page {
        Ok(page) => page,
        Err(page) => return page,
    };
    let rows: Vec<String> = page.items.iter().map(profile_row).collect();
    let notice = search.erased.map_or(String::new(), |id| {
        format!("<p class=\"notice\" role=\"status\">Profile {} and its events were erased.</p>", esc(&id))
    });
    let more = match (&page.next, q.is_empty()) {
        (Some(next), true) => {
            format!("<p><a href=\"/profiles?after={}\">More profiles</a></p>", hex::encode(next))
        }
        _ => String::new(),
    };
    let found = if q.is_empty() {
        String::new()
    } else {
        format!("<p role=\"status\">{} found for “{}”.</p>", page.items.len(), esc(&q))
    };
    let content = format!(
        "<h1>Profiles</h1>{notice}<form class=\"range\" method=\"get\" action=\"/profiles\" role=\"search\">\
         <div><label for=\"q\">User id or email</label><input id=\"q\" name=\"q\" type=\"text\" value=\"{}\" autocomplete=\"off\"></div>\
         <button type=\"submit\">Find</button></form>{found}{}{more}",
        esc(&q),
        table("Profiles", &["Profile", "Email", "User ids", "Updated"], &rows, "No profile matches."),
    );
    signed_in(&viewer, "profiles", "Profiles", &content)
}

fn user_ids(profile: &Profile) -> String {
    profile
        .identities
        .iter()
        .filter_map(|i| match i {
            Identity::User(id) => Some(id.as_str()),
            Identity::Anonymous(_) => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn email(profile: &Profile) -> &str {
    profile.attributes.get("email").and_then(|e| e.as_str()).unwrap_or("")
}

fn profile_row(profile: &Profile) -> String {
    format!(
        "<tr><th scope=\"row\"><a href=\"/profiles/{id}\">{id}</a></th><td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(email(profile)),
        esc(&user_ids(profile)),
        when(profile.updated_at),
        id = profile.id,
    )
}

fn parse_id(text: &str) -> Result<ProfileId, Response> {
    text.parse::<ProfileId>().map_err(|e| message_page(StatusCode::NOT_FOUND, "No such profile", &e))
}

fn json(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `GET /profiles/{id}`: the single customer view.
pub(super) async fn show(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    if let Err(refused) = viewer.require(PERSONAL, "look at profiles (they are personal data)") {
        return refused;
    }
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(page) => return page,
    };
    let view = match on_engine(&state, move |e| e.customer_view(id, TIMELINE)).await {
        Ok(view) => view,
        Err(page) => return page,
    };
    let content = customer(&viewer, &view);
    signed_in(&viewer, "profiles", &format!("Profile {id}"), &content)
}

fn customer(viewer: &Viewer, view: &CustomerView) -> String {
    let p = &view.profile;
    let pairs = |map: &std::collections::BTreeMap<String, serde_json::Value>| -> Vec<String> {
        map.iter()
            .map(|(k, v)| format!("<tr><th scope=\"row\">{}</th><td>{}</td></tr>", esc(k), esc(&json(v))))
            .collect()
    };
    let identities: Vec<String> = p
        .identities
        .iter()
        .map(|i| match i {
            Identity::User(v) => format!("<tr><th scope=\"row\">user id</th><td>{}</td></tr>", esc(v)),
            Identity::Anonymous(v) => {
                format!("<tr><th scope=\"row\">anonymous id</th><td>{}</td></tr>", esc(v))
            }
        })
        .collect();
    let consents: Vec<String> = p
        .consents
        .iter()
        .map(|(k, c)| {
            format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
                esc(k),
                esc(&json(&serde_json::to_value(c.state).unwrap_or_default())),
                when(c.updated_at)
            )
        })
        .collect();
    let history: Vec<String> = p
        .consent_history
        .iter()
        .rev()
        .map(|c| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                when(c.at),
                esc(&c.key),
                esc(&json(&serde_json::to_value(c.state).unwrap_or_default())),
                esc(&c.source)
            )
        })
        .collect();
    let suppressions: Vec<String> = p
        .suppressions
        .iter()
        .map(|(channel, s)| {
            format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
                esc(channel),
                esc(&json(&serde_json::to_value(s.reason).unwrap_or_default())),
                when(s.since)
            )
        })
        .collect();
    let segments: Vec<String> = view
        .segments
        .iter()
        .map(|(id, since)| format!("<tr><th scope=\"row\">{}</th><td>{}</td></tr>", esc(id), when(*since)))
        .collect();
    let journeys: Vec<String> = view
        .journeys
        .iter()
        .map(|j| {
            format!(
                "<tr><th scope=\"row\"><a href=\"/journeys/{0}\">{0}</a></th><td>{1}</td><td>{2}</td><td>{3}</td></tr>",
                esc(&j.journey),
                j.version,
                esc(&j.step),
                when(j.since)
            )
        })
        .collect();
    let events: Vec<String> = view
        .events
        .iter()
        .map(|e| {
            let message = e.name.starts_with("message_");
            format!(
                "<tr{}><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                if message { " class=\"message\"" } else { "" },
                when(e.timestamp),
                esc(&e.name),
                esc(e.campaign.as_deref().unwrap_or("")),
                esc(&serde_json::Value::Object(e.properties.clone()).to_string()),
            )
        })
        .collect();
    let admin = if viewer.may(ADMIN) {
        format!(
            "<h2>Data protection</h2><p><a class=\"button quiet\" href=\"/profiles/{id}/export\" download>Export everything stored (JSON)</a></p>\
             <form method=\"post\" action=\"/profiles/{id}/erase\" class=\"danger-zone\">{}\
             <p>Erasing removes this profile, its identities, its events and its sends for good. It cannot be undone.</p>\
             <label for=\"confirm\">Type the profile id <code>{id}</code> to confirm</label>\
             <input id=\"confirm\" name=\"confirm\" type=\"text\" autocomplete=\"off\" required>\
             <button type=\"submit\" class=\"danger\">Erase profile</button></form>",
            csrf_field(viewer),
            id = p.id
        )
    } else {
        String::new()
    };
    format!(
        "<h1>{}</h1><p class=\"muted\">{} · created {} · updated {}{}</p>\
         <div class=\"cards\"><section><h2>Identities</h2>{}</section><section><h2>Traits</h2>{}</section>\
         <section><h2>Computed traits</h2>{}</section><section><h2>Consents</h2>{}</section>\
         <section><h2>Suppressions</h2>{}</section><section><h2>Segments</h2>{}</section></div>\
         <h2>Journeys</h2>{}<h2>Consent history</h2>{}<h2>Timeline</h2><p class=\"muted\">The newest {} events, newest first; messages received are highlighted.</p>{}{admin}",
        esc(if email(p).is_empty() { "Profile" } else { email(p) }),
        p.id,
        when(p.created_at),
        when(p.updated_at),
        p.timezone.as_deref().map_or(String::new(), |tz| format!(" · {}", esc(tz))),
        table("Identities", &["Kind", "Id"], &identities, "None."),
        table("Traits", &["Trait", "Value"], &pairs(&p.attributes), "None."),
        table("Computed traits", &["Trait", "Value"], &pairs(&p.computed), "None."),
        table("Consents", &["Channel and purpose", "State", "Since"], &consents, "None recorded."),
        table("Suppressions", &["Channel", "Reason", "Since"], &suppressions, "None."),
        table("Segments", &["Segment", "Member since"], &segments, "In no saved segment."),
        table("Journeys", &["Journey", "#Version", "Step", "Since"], &journeys, "In no journey now."),
        table(
            "Consent history",
            &["When", "Channel and purpose", "State", "Source"],
            &history,
            "No changes recorded."
        ),
        TIMELINE,
        table("Timeline", &["When", "Event", "Campaign", "Properties"], &events, "No events."),
    )
}

/// `GET /profiles/{id}/export`: everything stored about the profile, as a JSON download.
pub(super) async fn export(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    if let Err(refused) = viewer.require(ADMIN, "export a profile") {
        return refused;
    }
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(page) => return page,
    };
    let actor = viewer.actor();
    let export = match on_engine(&state, move |e| e.export_profile(&actor, id)).await {
        Ok(export) => export,
        Err(page) => return page,
    };
    let body = serde_json::to_string_pretty(&export).unwrap_or_default();
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.json\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The erase form.
#[derive(Deserialize)]
pub(super) struct Erase {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /profiles/{id}/erase`: erases the profile when the form repeats its id.
pub(super) async fn erase(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<Erase>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return refused;
    }
    if let Err(refused) = viewer.require(ADMIN, "erase a profile") {
        return refused;
    }
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(page) => return page,
    };
    if form.confirm.trim() != id.to_string() {
        return message_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not erased",
            &format!("To erase, type the profile id {id} exactly; nothing was changed."),
        );
    }
    let actor = viewer.actor();
    match on_engine(&state, move |e| -> Result<_, EngineError> { e.erase_profile(&actor, id) }).await {
        Ok(_) => Redirect::to(&format!("/profiles?erased={id}")).into_response(),
        Err(page) => page,
    }
}
