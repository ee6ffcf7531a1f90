//! Templates: the content blocks (message templates and snippets) with their versions; editing
//! one saves a new version (orchestrators), publishing makes it the one sends use; and any
//! campaign's message previewed as a chosen person, with the newest content, as they would read
//! it (people with access to personal data).

use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::{csrf_field, esc, signed_in, table, when};
use super::on_engine;
use super::session::Viewer;
use crate::api::AppState;
use crate::api::routes::{ORCHESTRATE, PERSONAL, READ};
use crate::content::{ContentKind, ContentSpec};
use crate::engine::{EngineError, RenderedMessage};

fn kind_name(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Snippet => "snippet",
        ContentKind::Template => "template",
    }
}

/// `GET /templates`.
pub(super) async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(READ, "see templates") {
        return refused;
    }
    let contents = match on_engine(&state, |e| e.contents()).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let rows: Vec<String> = contents
        .iter()
        .map(|c| {
            format!(
                "<tr><th scope=\"row\"><a href=\"/templates/{n}\">{n}</a></th><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                kind_name(c.kind),
                c.latest_version,
                c.live_version.map_or("–".into(), |v| v.to_string()),
                when(c.updated_at),
                n = esc(&c.name),
            )
        })
        .collect();
    let content = format!(
        "<h1>Templates</h1><p class=\"muted\">Message templates and the snippets they include, in Liquid. \
         Saving makes a new version that previews show at once; sends use the published one.</p>{}",
        table(
            "Content blocks",
            &["Name", "Kind", "#Newest version", "#Live version", "Changed"],
            &rows,
            "No content blocks yet: save one with `baton content save --file`."
        )
    );
    signed_in(&viewer, "templates", "Templates", &content)
}

/// Whom to preview as, through which campaign.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PreviewAs {
    #[serde(default)]
    person: String,
    #[serde(default)]
    campaign: String,
    saved: Option<u32>,
}

/// `GET /templates/{name}`: the newest version in an editor, and a preview as a person.
pub(super) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(preview): Query<PreviewAs>,
) -> Response {
    if let Err(refused) = viewer.require(READ, "see templates") {
        return refused;
    }
    let personal = viewer.may(PERSONAL);
    let (person, campaign) = (preview.person.trim().to_owned(), preview.campaign.clone());
    let key = name.clone();
    let shown = on_engine(&state, move |e| {
        let view = e.content_view(&key)?;
        let users: Vec<(String, String)> = e
            .campaigns()?
            .into_iter()
            .filter(|c| c.message.content.as_deref() == Some(key.as_str()))
            .map(|c| (c.id, c.name))
            .collect();
        let rendered = if personal && !person.is_empty() && !campaign.is_empty() {
            Some(e.person(&person).and_then(|p| e.render_as(&campaign, p, None)))
        } else {
            None
        };
        Ok((view, users, rendered))
    })
    .await;
    let (view, users, rendered) = match shown {
        Ok(shown) => shown,
        Err(page) => return page,
    };
    let n = esc(&view.content.name);
    let spec = &view.latest;
    let editable = viewer.may(ORCHESTRATE);
    let disabled = if editable { "" } else { " readonly" };
    let field = |id: &str, label: &str, value: &str, rows: u32| {
        format!(
            "<label for=\"{id}\">{label}</label><textarea id=\"{id}\" name=\"{id}\" rows=\"{rows}\" spellcheck=\"false\"{disabled}>{}</textarea>",
            esc(value)
        )
    };
    let mut parts = String::new();
    if view.content.kind == ContentKind::Template {
        parts.push_str(&field("subject", "Subject", spec.subject.as_deref().unwrap_or(""), 1));
    }
    parts.push_str(&field("body", "Body (text)", &spec.body, 10));
    if view.content.kind == ContentKind::Template {
        parts.push_str(&field("html", "HTML", spec.html.as_deref().unwrap_or(""), 8));
    }
    let live = match view.content.live_version {
        Some(v) if v == view.content.latest_version => "the newest version is live".to_owned(),
        Some(v) => format!("version {v} is live; the newest is {}", view.content.latest_version),
        None => "not published yet: sends cannot use it".to_owned(),
    };
    let locales = if spec.locales.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"muted\">Locale variants ({}) are kept as they are when you save here.</p>",
            esc(&spec.locales.keys().cloned().collect::<Vec<_>>().join(", "))
        )
    };
    let editor = if editable {
        format!(
            "<form method=\"post\" action=\"/templates/{n}\" class=\"editor\">{}{parts}{locales}<button type=\"submit\">Save as a new version</button></form>\
             <form method=\"post\" action=\"/templates/{n}/publish\" class=\"inline\">{}<button type=\"submit\" class=\"quiet\">Publish version {}</button></form>",
            csrf_field(&viewer),
            csrf_field(&viewer),
            view.content.latest_version,
        )
    } else {
        format!("<div class=\"editor\">{parts}{locales}</div>")
    };
    let notice = preview.saved.map_or(String::new(), |v| {
        format!("<p class=\"notice\" role=\"status\">Saved as version {v}. Previews show it now; publish it for sends.</p>")
    });
    let preview_html = if !personal {
        String::new()
    } else if users.is_empty() {
        "<h2>Preview as a person</h2><p class=\"muted\">No campaign uses this content yet; a campaign's message names it with <code>\"content\": \"…\"</code>.</p>".into()
    } else {
        let options: String = users
            .iter()
            .map(|(id, label)| {
                let selected = if *id == preview.campaign { " selected" } else { "" };
                format!("<option value=\"{}\"{selected}>{}</option>", esc(id), esc(label))
            })
            .collect();
        format!(
            "<h2>Preview as a person</h2><form method=\"get\" action=\"/templates/{n}\" class=\"range\">\
             <div><label for=\"person\">User id or email</label><input id=\"person\" name=\"person\" type=\"text\" value=\"{}\" required></div>\
             <div><label for=\"campaign\">Through campaign</label><select id=\"campaign\" name=\"campaign\">{options}</select></div>\
             <button type=\"submit\">Preview</button></form>{}",
            esc(&preview.person),
            rendered.map_or(String::new(), |r| rendered_html(&r)),
        )
    };
    let content = format!(
        "<h1>{n}</h1><p class=\"muted\">{} · version {} · {live}</p>{notice}{editor}{preview_html}",
        kind_name(view.content.kind),
        view.content.latest_version,
    );
    signed_in(&viewer, "templates", &view.content.name, &content)
}

/// A rendered message, or why it could not be.
pub(super) fn rendered_html(rendered: &Result<RenderedMessage, EngineError>) -> String {
    let r = match rendered {
        Ok(r) => r,
        Err(err) => return format!("<p class=\"error\" role=\"alert\">{}</p>", esc(&err.to_string())),
    };
    let mut out = String::from("<article class=\"sample\" aria-label=\"Rendered message\">");
    if let Some(skip) = &r.would_skip {
        out.push_str(&format!("<p class=\"error\">This person would not be sent it: {}.</p>", esc(skip)));
    }
    if let Some(error) = &r.error {
        out.push_str(&format!("<p class=\"error\" role=\"alert\">{}</p>", esc(error)));
    }
    if let Some(subject) = &r.subject {
        out.push_str(&format!(
            "<p><strong>Subject:</strong> <span id=\"rendered-subject\">{}</span></p>",
            esc(subject)
        ));
    }
    if let Some(body) = &r.body {
        out.push_str(&format!("<pre class=\"body\" id=\"rendered-body\">{}</pre>", esc(body)));
    }
    if let Some(html) = &r.html {
        // Shown as source: a preview must not run what a template wrote.
        out.push_str(&format!("<details><summary>HTML</summary><pre>{}</pre></details>", esc(html)));
    }
    if !r.undefined.is_empty() {
        out.push_str(&format!(
            "<p class=\"muted\">Not set for this person: {}</p>",
            esc(&r.undefined.join(", "))
        ));
    }
    out.push_str(&format!(
        "<p class=\"muted\">{}{}</p></article>",
        r.locale.as_deref().map_or(String::new(), |l| format!("locale {} · ", esc(l))),
        r.variant.as_deref().map_or("no experiment variant".into(), |v| format!("variant {}", esc(v)))
    ));
    out
}

/// The editor's form.
#[derive(Deserialize)]
pub(super) struct Edit {
    #[serde(default)]
    csrf: String,
    subject: Option<String>,
    #[serde(default)]
    body: String,
    html: Option<String>,
}

/// `POST /templates/{name}`: saves the edited parts as a new version, keeping the rest.
pub(super) async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(form): Form<Edit>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return refused;
    }
    if let Err(refused) = viewer.require(ORCHESTRATE, "edit templates") {
        return refused;
    }
    let actor = viewer.actor();
    let blank = |text: Option<String>| text.map(|t| t.replace("\r\n", "\n")).filter(|t| !t.trim().is_empty());
    let saved = on_engine(&state, move |e| {
        let current = e.content_view(&name)?.latest;
        let spec = ContentSpec {
            subject: if current.kind == ContentKind::Template { blank(form.subject) } else { None },
            body: form.body.replace("\r\n", "\n"),
            html: if current.kind == ContentKind::Template { blank(form.html) } else { None },
            ..current
        };
        e.save_content(&actor, &name, spec)
    })
    .await;
    match saved {
        Ok(content) => Redirect::to(&format!("/templates/{}?saved={}", content.name, content.latest_version))
            .into_response(),
        Err(page) => page,
    }
}

/// A change's form: its CSRF token.
#[derive(Deserialize)]
pub(super) struct Publish {
    #[serde(default)]
    csrf: String,
}

/// `POST /templates/{name}/publish`: makes the newest version the one sends use.
pub(super) async fn publish(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(form): Form<Publish>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return refused;
    }
    if let Err(refused) = viewer.require(ORCHESTRATE, "publish templates") {
        return refused;
    }
    let actor = viewer.actor();
    match on_engine(&state, move |e| e.publish_content(&actor, &name, None)).await {
        Ok(content) => Redirect::to(&format!("/templates/{}", content.name)).into_response(),
        Err(page) => page,
    }
}
