//! Campaign pages: the list with states; one campaign with its bindings, its actions
//! (activate, pause, end, run: orchestrators), its deliveries and dead letters (people with
//! access to personal data) with replay; and its preview, messages rendered as each recipient
//! would see them.

use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::{csrf_field, esc, signed_in, table, when};
use super::on_engine;
use super::session::Viewer;
use crate::api::AppState;
use crate::api::routes::{ORCHESTRATE, PERSONAL, READ};
use crate::campaign::{Campaign, CampaignState, Trigger};
use crate::delivery::{DeliveryRecord, PendingSend, SendOutcome, SkipRecord};
use crate::engine::{CampaignView, EngineError, RunReport};
use crate::plugin::PluginRecord;
use crate::store::{Page, PageRequest};

/// Rows per page of deliveries and dead letters.
const PAGE: usize = 25;

/// What a trigger means, in words.
fn trigger_words(trigger: &Trigger) -> String {
    match trigger {
        Trigger::Event { event, filter } if filter.is_empty() => format!("on each `{event}` event"),
        Trigger::Event { event, .. } => format!("on `{event}` events matching a filter"),
        Trigger::Batch { every_ms: Some(ms) } => format!("batch, every {}", duration_words(*ms)),
        Trigger::Batch { every_ms: None } => "batch, run by hand".into(),
        Trigger::Journey {} => "sent by journeys".into(),
    }
}

/// A period in the largest whole unit that fits.
pub(super) fn duration_words(ms: u64) -> String {
    const UNITS: [(u64, &str); 4] =
        [(86_400_000, "day"), (3_600_000, "hour"), (60_000, "minute"), (1000, "second")];
    for (size, unit) in UNITS {
        if ms >= size && ms.is_multiple_of(size) {
            let n = ms / size;
            return format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
        }
    }
    format!("{ms} ms")
}

fn state_badge(state: CampaignState) -> String {
    format!("<span class=\"state state-{0}\">{0}</span>", state.name())
}

/// `GET /campaigns`.
pub(super) async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(READ, "see campaigns") {
        return refused;
    }
    let campaigns = match on_engine(&state, |e| e.campaigns()).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let rows: Vec<String> = campaigns
        .iter()
        .map(|c| {
            format!(
                "<tr><th scope=\"row\"><a href=\"/campaigns/{}\">{}</a><br><span class=\"muted\">{}</span></th>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.id),
                esc(&c.name),
                esc(&c.id),
                state_badge(c.state),
                esc(&trigger_words(&c.trigger)),
                esc(&c.channel),
                c.audience.as_deref().map_or("every profile".into(), |a| format!("segment {}", esc(a))),
            )
        })
        .collect();
    let content = format!(
        "<h1>Campaigns</h1>{}",
        table(
            "Campaigns",
            &["Campaign", "State", "Trigger", "Channel", "Audience"],
            &rows,
            "No campaigns yet."
        )
    );
    signed_in(&viewer, "campaigns", "Campaigns", &content)
}

/// Which page of deliveries and dead letters to show.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Pages {
    deliveries: Option<String>,
    dead: Option<String>,
    skips: Option<String>,
}

fn cursor(text: Option<&str>) -> Option<Vec<u8>> {
    text.and_then(|t| hex::decode(t).ok())
}

/// What a campaign page shows.
struct Shown {
    view: CampaignView,
    plugins: Vec<PluginRecord>,
    deliveries: Option<Page<DeliveryRecord>>,
    dead: Option<Page<PendingSend>>,
    skips: Option<Page<SkipRecord>>,
}

/// `GET /campaigns/{id}`.
pub(super) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(pages): Query<Pages>,
) -> Response {
    if let Err(refused) = viewer.require(READ, "see campaigns") {
        return refused;
    }
    let personal = viewer.may(PERSONAL);
    let shown = on_engine(&state, move |e| -> Result<Shown, EngineError> {
        let view = e.campaign_view(&id)?;
        let plugins = e.plugins()?;
        let (deliveries, dead, skips) = if personal {
            let request = |after| PageRequest { after, limit: PAGE };
            (
                Some(e.deliveries_page(&id, &request(cursor(pages.deliveries.as_deref())), |_| true)?),
                Some(e.dead_letters_page(&id, &request(cursor(pages.dead.as_deref())), |_| true)?),
                Some(e.skips_page(&id, &request(cursor(pages.skips.as_deref())), |_| true)?),
            )
        } else {
            (None, None, None)
        };
        Ok(Shown { view, plugins, deliveries, dead, skips })
    })
    .await;
    let shown = match shown {
        Ok(shown) => shown,
        Err(page) => return page,
    };
    let campaign = &shown.view.campaign;
    let id = esc(&campaign.id);
    let mut content = format!(
        "<h1>{}</h1><p>{} <span class=\"muted\">{id} · {} · channel {} · audience {}</span></p>",
        esc(&campaign.name),
        state_badge(campaign.state),
        esc(&trigger_words(&campaign.trigger)),
        esc(&campaign.channel),
        campaign.audience.as_deref().map_or("every profile".into(), |a| format!("segment {}", esc(a))),
    );
    content.push_str(&actions(&viewer, campaign));
    let bindings: Vec<String> = shown
        .view
        .bindings
        .iter()
        .map(|b| {
            let plugin = shown
                .plugins
                .iter()
                .find(|p| p.hash == b.plugin)
                .map_or_else(|| b.plugin.to_string(), |p| p.label());
            let config = serde_json::to_string_pretty(&b.config).unwrap_or_default();
            format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td><pre>{}</pre></td><td>{}</td></tr>",
                esc(&b.slot.key()),
                esc(&plugin),
                esc(&config),
                esc(&b.grants.allowed_hosts.join(", ")),
            )
        })
        .collect();
    content.push_str("<h2>Bindings</h2>");
    content.push_str(&table(
        "Bindings",
        &["Slot", "Plugin", "Config", "Hosts it may reach"],
        &bindings,
        "Nothing bound yet: bind a segment rule, a channel adapter and, if you like, personalizers and KPI calculators.",
    ));
    if let Some(page) = &shown.deliveries {
        content.push_str("<h2>Deliveries</h2>");
        content.push_str(&deliveries(page));
        content.push_str(&more(&campaign.id, "deliveries", page.next.as_deref()));
    }
    if let Some(page) = &shown.skips {
        content.push_str("<h2>Skips</h2><p class=\"muted\">Sends not made, and why: consent, caps, quiet hours, the holdout, a rule that failed for this person.</p>");
        let rows: Vec<String> = page
            .items
            .iter()
            .map(|s| {
                format!(
                    "<tr><td>{}</td><td><a href=\"/profiles/{p}\">{p}</a></td><td>{}</td><td>{}</td></tr>",
                    when(s.at),
                    esc(&reason_name(&s.reason)),
                    esc(&s.detail),
                    p = s.profile,
                )
            })
            .collect();
        content.push_str(&table(
            "Skips",
            &["When", "Profile", "Reason", "Detail"],
            &rows,
            "Nobody was skipped.",
        ));
        content.push_str(&more(&campaign.id, "skips", page.next.as_deref()));
    }
    if let Some(page) = &shown.dead {
        content.push_str("<h2>Dead letters</h2><p class=\"muted\">Sends whose retries ran out. Replaying queues them again under the same idempotency key, so a vendor that did get one does not send it twice.</p>");
        content.push_str(&dead_letters(page));
        content.push_str(&more(&campaign.id, "dead", page.next.as_deref()));
        if !page.items.is_empty() && viewer.may(ORCHESTRATE) {
            content.push_str(&format!(
                "<form method=\"post\" action=\"/campaigns/{id}/replay\">{}<button type=\"submit\">Replay dead letters</button></form>",
                csrf_field(&viewer)
            ));
        }
    }
    signed_in(&viewer, "campaigns", &campaign.name, &content)
}

/// The buttons the viewer may press, for the transitions the campaign's state allows.
fn actions(viewer: &Viewer, campaign: &Campaign) -> String {
    let id = esc(&campaign.id);
    let mut buttons = String::new();
    if viewer.may(PERSONAL) {
        buttons.push_str(&format!("<a class=\"button quiet\" href=\"/campaigns/{id}/preview\">Preview</a>"));
    }
    if viewer.may(ORCHESTRATE) {
        let csrf = csrf_field(viewer);
        for (to, action, label) in [
            (
                CampaignState::Active,
                "activate",
                if campaign.state == CampaignState::Paused { "Resume" } else { "Activate" },
            ),
            (CampaignState::Paused, "pause", "Pause"),
        ] {
            if campaign.state.can_become(to) {
                buttons.push_str(&format!(
                    "<form class=\"inline\" method=\"post\" action=\"/campaigns/{id}/{action}\">{csrf}<button type=\"submit\">{label}</button></form>"
                ));
            }
        }
        if campaign.state == CampaignState::Active && matches!(campaign.trigger, Trigger::Batch { .. }) {
            buttons.push_str(&format!(
                "<form class=\"inline\" method=\"post\" action=\"/campaigns/{id}/run\">{csrf}<button type=\"submit\">Run now</button></form>"
            ));
        }
        if campaign.state.can_become(CampaignState::Ended) {
            buttons.push_str(&format!(
                "<details class=\"inline\"><summary>End…</summary><form method=\"post\" action=\"/campaigns/{id}/end\">{csrf}\
                 <p>Ending is for good: the campaign sends nothing more and cannot be activated again.</p>\
                 <label class=\"check\"><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> End {}</label>\
                 <button type=\"submit\" class=\"danger\">End campaign</button></form></details>",
                esc(&campaign.name)
            ));
        }
    }
    if buttons.is_empty() { String::new() } else { format!("<div class=\"actions\">{buttons}</div>") }
}

fn outcome_words(outcome: &SendOutcome) -> (&'static str, String) {
    match outcome {
        SendOutcome::Delivered { receipt } => ("delivered", receipt.clone().unwrap_or_default()),
        SendOutcome::Rejected { reason } => ("rejected", reason.clone()),
        SendOutcome::DeadLettered { reason } => ("dead-lettered", reason.clone()),
    }
}

fn deliveries(page: &Page<DeliveryRecord>) -> String {
    let rows: Vec<String> = page
        .items
        .iter()
        .map(|d| {
            let (status, detail) = outcome_words(&d.outcome);
            format!(
                "<tr><td>{}</td><td><a href=\"/profiles/{p}\">{p}</a></td><td>{}</td><td><span class=\"state state-{status}\">{status}</span></td><td>{}</td><td class=\"num\">{}</td></tr>",
                when(d.at),
                esc(d.variant.as_deref().unwrap_or("–")),
                esc(&detail),
                d.attempts,
                p = d.profile,
            )
        })
        .collect();
    table(
        "Deliveries",
        &["Finished", "Profile", "Variant", "Outcome", "Detail", "#Attempts"],
        &rows,
        "No sends have finished yet.",
    )
}

fn dead_letters(page: &Page<PendingSend>) -> String {
    let rows: Vec<String> = page
        .items
        .iter()
        .map(|d| {
            format!(
                "<tr><td>{}</td><td><a href=\"/profiles/{p}\">{p}</a></td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                when(d.enqueued_at),
                esc(&d.step),
                d.attempts,
                esc(d.last_error.as_deref().unwrap_or("–")),
                p = d.profile,
            )
        })
        .collect();
    table(
        "Dead letters",
        &["Queued", "Profile", "Step", "#Attempts", "Last error"],
        &rows,
        "No dead letters.",
    )
}

/// A link to the next page of a list, when there is one.
fn more(id: &str, list: &str, next: Option<&[u8]>) -> String {
    next.map_or(String::new(), |key| {
        format!("<p><a href=\"/campaigns/{}?{list}={}\">More {list}</a></p>", esc(id), hex::encode(key))
    })
}

/// Whom to render the message for, on the preview page.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PreviewAs {
    #[serde(default)]
    person: String,
}

/// `GET /campaigns/{id}/preview`: what a run would do now, without sending; and the message as
/// a chosen person would read it.
pub(super) async fn preview(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(preview_as): Query<PreviewAs>,
) -> Response {
    if let Err(refused) = viewer.require(PERSONAL, "preview messages (they show personal data)") {
        return refused;
    }
    let person = preview_as.person.trim().to_owned();
    let shown = on_engine(&state, move |e| {
        let rendered =
            (!person.is_empty()).then(|| e.person(&person).and_then(|p| e.render_as(&id, p, None)));
        Ok((e.campaign(&id)?, e.preview(&id)?, rendered))
    })
    .await;
    let (campaign, report, rendered) = match shown {
        Ok(shown) => shown,
        Err(page) => return page,
    };
    let content = format!(
        "<h1>Preview: {}</h1><p><a href=\"/campaigns/{id}\">Back to the campaign</a></p>\
         <form method=\"get\" action=\"/campaigns/{id}/preview\" class=\"range\"><div><label for=\"person\">Preview as (user id or email)</label>\
         <input id=\"person\" name=\"person\" type=\"text\" value=\"{}\"></div><button type=\"submit\">Render</button></form>{}{}",
        esc(&campaign.name),
        esc(&preview_as.person),
        rendered.as_ref().map_or(String::new(), super::templates::rendered_html),
        report_html(&report),
        id = esc(&campaign.id),
    );
    signed_in(&viewer, "campaigns", "Preview", &content)
}

/// A run's or a preview's figures: counts, skips by reason, variants, sample messages.
fn report_html(report: &RunReport) -> String {
    let skips: Vec<String> = report
        .skipped
        .iter()
        .map(|(reason, n)| {
            format!("<tr><th scope=\"row\">{}</th><td class=\"num\">{n}</td></tr>", esc(&reason_name(reason)))
        })
        .collect();
    let samples: String = report
        .samples
        .iter()
        .map(|m| {
            let body = match &m.html {
                // The HTML as text: a preview must not run what a template wrote.
                Some(html) => format!("<details><summary>HTML</summary><pre>{}</pre></details>", esc(html)),
                None => String::new(),
            };
            format!(
                "<article class=\"sample\"><h3>To {}</h3>{}<pre class=\"body\">{}</pre>{body}</article>",
                esc(&m.recipient),
                m.subject
                    .as_deref()
                    .map_or(String::new(), |s| format!("<p><strong>Subject:</strong> {}</p>", esc(s))),
                esc(&m.body),
            )
        })
        .collect();
    format!(
        "<dl class=\"figures\"><div><dt>Judged</dt><dd id=\"preview-evaluated\">{}</dd></div><div><dt>In the audience</dt><dd id=\"preview-audience\">{}</dd></div>\
         <div><dt>Would be sent</dt><dd id=\"preview-queued\">{}</dd></div><div><dt>Already sent</dt><dd>{}</dd></div></dl>\
         <h2>Skipped, by reason</h2>{}<h2>Sample messages</h2>{}",
        report.evaluated,
        report.audience,
        report.queued,
        report.duplicates,
        table("Skips by reason", &["Reason", "#Profiles"], &skips, "Nobody would be skipped."),
        if samples.is_empty() { "<p class=\"muted\">No message would be sent.</p>".into() } else { samples },
    )
}

fn reason_name(reason: &crate::delivery::SkipReason) -> String {
    serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A change's form: its CSRF token, and the confirmation ending asks for.
#[derive(Deserialize)]
pub(super) struct Action {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /campaigns/{id}/{action}`: activate, pause, end, run or replay, then back to the
/// campaign.
pub(super) async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<Action>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return refused;
    }
    if let Err(refused) = viewer.require(ORCHESTRATE, "change campaigns") {
        return refused;
    }
    if !crate::campaign::valid_id(&id) {
        return super::session::message_page(
            axum::http::StatusCode::NOT_FOUND,
            "No such campaign",
            "Campaign ids are lowercase letters, digits, `-` and `_`.",
        );
    }
    let actor = viewer.actor();
    let to = match action.as_str() {
        "activate" => Some(CampaignState::Active),
        "pause" => Some(CampaignState::Paused),
        "end" if form.confirm == "yes" => Some(CampaignState::Ended),
        "end" => {
            return super::session::message_page(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "Not ended",
                "Tick the box to confirm that the campaign ends for good.",
            );
        }
        "run" | "replay" => None,
        other => {
            return super::session::message_page(
                axum::http::StatusCode::NOT_FOUND,
                "No such action",
                &format!("`{other}` is not an action; use activate, pause, end, run or replay."),
            );
        }
    };
    let target = format!("/campaigns/{id}");
    let done = on_engine(&state, move |e| -> Result<(), EngineError> {
        match to {
            Some(to) => e.transition(&actor, &id, to).map(|_| ()),
            None if action == "run" => {
                e.run_batch(&actor, &id, &format!("console-{}", e.now_ms())).map(|_| ())
            }
            None => e.replay_dead_letters(&actor, &id).map(|_| ()),
        }
    })
    .await;
    match done {
        Ok(()) => Redirect::to(&target).into_response(),
        Err(page) => page,
    }
}
