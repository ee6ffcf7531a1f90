//! Every route of the API, declared once: path, method, the roles that may call it, a summary,
//! and the handler. The router is built from this table and so is the OpenAPI document, so the
//! two cannot drift; a per-route middleware enforces the roles, so no handler can forget to.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

use schemars::JsonSchema;

use super::auth::Caller;
use super::openapi::{Answers, RequestBody, SchemaFn, Takes, bytes, ndjson, schema_of};
use super::{
    AppState, access, admin, audiences, calendar, campaigns, content, events, exports, feedback, journeys,
    metrics, openapi, pages, plugins, profiles, segment, segments, traits, unsubscribe,
};
use crate::campaign::Campaign;
use crate::store::Role;

/// One route of the API.
pub struct RouteSpec {
    /// The HTTP method.
    pub method: Method,
    /// The path, with `{param}` segments.
    pub path: &'static str,
    /// Roles allowed besides admin; `None` means no token is needed (health only).
    pub roles: Option<&'static [Role]>,
    /// One line for people.
    pub summary: &'static str,
    /// Its query string and body, for the document.
    pub takes: Takes,
    /// Its success answer, for the document.
    pub answers: Answers,
    handler: MethodRouter<AppState>,
}

impl RouteSpec {
    /// Reads a query string of type `T`.
    fn query<T: JsonSchema>(mut self) -> Self {
        self.takes.query = Some(schema_of::<T>);
        self
    }

    /// Reads a JSON body of type `T`.
    fn takes<T: JsonSchema>(mut self) -> Self {
        self.takes.body = Some(RequestBody::Json(schema_of::<T>));
        self
    }

    /// Reads a body of one of these media types.
    fn takes_raw(mut self, media: &'static [(&'static str, SchemaFn)]) -> Self {
        self.takes.body = Some(RequestBody::Raw(media));
        self
    }

    /// Reads a list's query `Q` (filters, `limit`, `cursor`) and answers a page, with a `Link`
    /// header to the next one.
    fn paged<Q: JsonSchema>(mut self) -> Self {
        self.takes.query = Some(schema_of::<Q>);
        self.answers.paged = true;
        self
    }

    /// Answers 200 with a JSON `T`.
    fn answers<T: JsonSchema>(mut self) -> Self {
        self.answers.json = Some(schema_of::<T>);
        self
    }

    /// Answers 201 with a JSON `T`: something was created.
    fn creates<T: JsonSchema>(mut self) -> Self {
        self.answers = Answers { status: 201, json: Some(schema_of::<T>), ..self.answers };
        self
    }

    /// Answers (also, or only) these non-JSON media types.
    fn answers_text(mut self, media: &'static [&'static str]) -> Self {
        self.answers.text = media;
        self
    }
}

// Who may call what, besides admin. A write key ships inside apps, so it may only ingest;
// reading personal data, editing campaigns and installing plugins are separate permissions.

/// Campaigns, plugins, KPIs and metrics: no personal data.
pub(crate) const READ: &[Role] = &[Role::Viewer, Role::Orchestrator, Role::Analyst, Role::Developer];
/// Profiles, audience members, rendered messages, skips by profile.
pub(crate) const PERSONAL: &[Role] = &[Role::Orchestrator, Role::Analyst];
/// Campaigns, bindings, runs, replays, consent updates.
pub(crate) const ORCHESTRATE: &[Role] = &[Role::Orchestrator];
/// Installing, removing and re-enabling plugins.
const DEVELOP: &[Role] = &[Role::Developer];
/// Sending events: the write key's one permission.
const INGEST: &[Role] = &[Role::Connector];
/// Secrets, tokens, audit, erasure, export.
pub(crate) const ADMIN: &[Role] = &[];

fn spec(
    method: Method,
    path: &'static str,
    roles: Option<&'static [Role]>,
    summary: &'static str,
    handler: MethodRouter<AppState>,
) -> RouteSpec {
    RouteSpec { method, path, roles, summary, takes: Takes::default(), answers: Answers::default(), handler }
}

/// The table.
pub fn table() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        spec(M::GET, "/healthz", None, "Liveness: the process answers.", get(|| async { "ok" })).answers_text(&["text/plain"]),
        spec(M::GET, "/readyz", None, "Readiness: the store answers.", get(super::ready)).answers_text(&["text/plain"]),
        spec(
            M::POST,
            "/v1/events",
            Some(INGEST),
            "Ingest events (NDJSON or JSON array), per-event results.",
            post(events::ingest),
        ).query::<events::IngestQuery>().takes_raw(&[("application/json", schema_of::<events::IngestBody>), ("application/x-ndjson", ndjson::<crate::profile::NewEvent>)]).answers::<events::IngestResponse>(),
        spec(M::POST, "/v1/batch", Some(INGEST), "Segment-compatible batch.", post(segment::batch))
            .takes::<segment::Batch>()
            .answers::<segment::SegmentAnswer>(),
        spec(
            M::POST,
            "/v1/b",
            Some(INGEST),
            "Segment-compatible batch, at the path analytics.js (analytics-next) posts to.",
            post(segment::batch),
        ).takes::<segment::Batch>().answers::<segment::SegmentAnswer>(),
        spec(
            M::POST,
            "/v1/{call}",
            Some(INGEST),
            "Segment-compatible identify, track, page, screen, group, alias.",
            post(segment::single),
        ).takes::<segment::Message>().answers::<segment::SegmentAnswer>(),
        spec(M::GET, "/metrics", Some(READ), "Prometheus metrics.", get(metrics::render)).answers_text(&["text/plain"]),
        spec(M::GET, "/v1/openapi.json", Some(READ), "This document.", get(openapi::document)).answers::<serde_json::Map<String, serde_json::Value>>(),
        spec(M::GET, "/v1/plugins", Some(READ), "List installed plugins.", get(plugins::list_plugins)).paged::<pages::ListQuery>().answers::<Vec<crate::plugin::PluginRecord>>(),
        spec(
            M::POST,
            "/v1/plugins",
            Some(DEVELOP),
            "Install a component (body: the .wasm bytes).",
            post(plugins::install_plugin),
        ).takes_raw(&[("application/wasm", bytes)]).creates::<crate::plugin::PluginRecord>(),
        spec(
            M::GET,
            "/v1/plugins/{hash}",
            Some(READ),
            "Show a plugin and the bindings that pin it.",
            get(plugins::show_plugin),
        ).answers::<crate::engine::PluginView>(),
        spec(
            M::POST,
            "/v1/plugins/{hash}/enable",
            Some(DEVELOP),
            "Enable a quarantined plugin again.",
            post(plugins::enable_plugin),
        ).answers::<admin::Enabled>(),
        spec(
            M::DELETE,
            "/v1/plugins/{hash}",
            Some(DEVELOP),
            "Remove a plugin no binding pins.",
            delete(plugins::remove_plugin),
        )
        .query::<plugins::RemoveQuery>().answers::<admin::Removed>(),
        spec(M::GET, "/v1/campaigns", Some(READ), "List campaigns.", get(campaigns::list_campaigns)).paged::<pages::ListQuery>().answers::<Vec<Campaign>>(),
        spec(
            M::POST,
            "/v1/campaigns",
            Some(ORCHESTRATE),
            "Create a campaign (draft).",
            post(campaigns::create_campaign),
        ).takes::<Campaign>().creates::<Campaign>(),
        spec(
            M::GET,
            "/v1/campaigns/{id}",
            Some(READ),
            "Show a campaign with its bindings.",
            get(campaigns::show_campaign),
        ).answers::<crate::engine::CampaignView>(),
        spec(
            M::PUT,
            "/v1/campaigns/{id}",
            Some(ORCHESTRATE),
            "Replace a campaign's definition.",
            put(campaigns::update_campaign),
        ).takes::<Campaign>().answers::<Campaign>(),
        spec(
            M::POST,
            "/v1/campaigns/{id}/{transition}",
            Some(ORCHESTRATE),
            "activate, pause or end a campaign.",
            post(campaigns::transition),
        ).answers::<Campaign>(),
        spec(
            M::PUT,
            "/v1/campaigns/{id}/bindings/{slot}",
            Some(ORCHESTRATE),
            "Bind or swap the plugin of a slot.",
            put(campaigns::bind),
        ).takes::<campaigns::BindRequest>().answers::<crate::campaign::Binding>(),
        spec(
            M::DELETE,
            "/v1/campaigns/{id}/bindings/{slot}",
            Some(ORCHESTRATE),
            "Unbind a slot.",
            delete(campaigns::unbind),
        ).answers::<admin::Unbound>(),
        spec(
            M::GET,
            "/v1/campaigns/{id}/preview",
            Some(PERSONAL),
            "Dry run: counts, skip reasons, variants, samples.",
            get(campaigns::preview),
        ).answers::<crate::engine::RunReport>(),
        spec(
            M::POST,
            "/v1/campaigns/{id}/render",
            Some(PERSONAL),
            "Render the campaign's message for one person (user id or email) as they would read it: their variant and locale, the newest content, the variables used and those not set, and why they would not be sent it, if so. Sends and writes nothing.",
            post(content::render),
        ).takes::<content::RenderRequest>().answers::<crate::engine::RenderedMessage>(),
        spec(
            M::POST,
            "/v1/campaigns/{id}/runs",
            Some(ORCHESTRATE),
            "Send a batch campaign to its audience now.",
            post(campaigns::run),
        ).takes::<campaigns::RunRequest>().answers::<campaigns::RunAnswer>(),
        spec(M::GET, "/v1/campaigns/{id}/kpis", Some(READ), "KPI snapshots.", get(campaigns::kpis)).paged::<pages::ListQuery>().answers::<Vec<crate::delivery::KpiSnapshot>>(),
        spec(
            M::POST,
            "/v1/campaigns/{id}/kpis",
            Some(ORCHESTRATE),
            "Compute KPIs now.",
            post(campaigns::compute_kpis),
        ).answers::<Vec<crate::delivery::KpiSnapshot>>(),
        spec(
            M::GET,
            "/v1/campaigns/{id}/results",
            Some(READ),
            "The campaign's results now: per variant and control group, with confidence intervals, tests and verdicts.",
            get(campaigns::results),
        ).answers::<crate::measurement::CampaignResults>(),
        spec(
            M::POST,
            "/v1/campaigns/{id}/results",
            Some(ORCHESTRATE),
            "Compute the results and keep them as the latest (this is what moves an early-stopping test).",
            post(campaigns::record_results),
        ).answers::<crate::measurement::CampaignResults>(),
        spec(
            M::GET,
            "/v1/campaigns/{id}/series",
            Some(READ),
            "The campaign's daily KPI series, as of its last update, in the reporting time zone.",
            get(campaigns::series),
        ).query::<campaigns::SeriesQuery>().answers::<crate::engine::CampaignSeries>(),
        spec(
            M::POST,
            "/v1/campaigns/{id}/series",
            Some(ORCHESTRATE),
            "Bring the daily series up to date now (the recent days, or every day with `full=true`).",
            post(campaigns::update_series),
        ).query::<campaigns::SeriesRebuild>().answers::<crate::engine::SeriesUpdate>(),
        spec(
            M::GET,
            "/v1/campaigns/{id}/skips",
            Some(PERSONAL),
            "Suppressed and delayed sends with reason codes.",
            get(campaigns::skips),
        ).paged::<campaigns::SkipsQuery>().answers::<Vec<crate::delivery::SkipRecord>>(),
        spec(
            M::GET,
            "/v1/campaigns/{id}/deliveries",
            Some(PERSONAL),
            "Finished sends.",
            get(campaigns::deliveries),
        ).paged::<campaigns::DeliveriesQuery>().answers::<Vec<crate::delivery::DeliveryRecord>>(),
        spec(
            M::GET,
            "/v1/campaigns/{id}/dead-letters",
            Some(PERSONAL),
            "Sends whose retries ran out.",
            get(campaigns::dead_letters),
        ).paged::<campaigns::DeadLettersQuery>().answers::<Vec<crate::delivery::PendingSend>>(),
        spec(
            M::POST,
            "/v1/campaigns/{id}/dead-letters/replay",
            Some(ORCHESTRATE),
            "Replay dead letters.",
            post(campaigns::replay),
        ).answers::<admin::Replayed>(),
        spec(
            M::POST,
            "/v1/audiences",
            Some(PERSONAL),
            "How many would a segment rule reach? Count, sample, or every member as CSV/NDJSON.",
            post(audiences::audience),
        ).takes::<audiences::AudienceRequest>().answers::<crate::engine::Audience>().answers_text(&["text/csv", "application/x-ndjson"]),
        spec(M::GET, "/v1/segments", Some(READ), "List saved segments with their live member counts.", get(segments::list)).paged::<pages::ListQuery>().answers::<Vec<crate::segment::SavedSegment>>(),
        spec(
            M::GET,
            "/v1/segments/{id}",
            Some(READ),
            "A saved segment with its live member count.",
            get(segments::show),
        ).answers::<crate::segment::SavedSegment>(),
        spec(
            M::PUT,
            "/v1/segments/{id}",
            Some(ORCHESTRATE),
            "Save a segment (a rule with its config, or a manual list); its membership is built, then kept current.",
            put(segments::save),
        ).takes::<segments::SegmentRequest>().answers::<crate::segment::SavedSegment>(),
        spec(
            M::DELETE,
            "/v1/segments/{id}",
            Some(ORCHESTRATE),
            "Delete a saved segment and its stored membership.",
            delete(segments::delete),
        ).answers::<segments::Deleted>(),
        spec(
            M::GET,
            "/v1/segments/{id}/members",
            Some(PERSONAL),
            "A saved segment's members from stored membership: a page, or every member as CSV or NDJSON.",
            get(segments::members),
        ).paged::<segments::MembersQuery>().answers::<Vec<crate::segment::SegmentMember>>().answers_text(&["text/csv", "application/x-ndjson"]),
        spec(
            M::POST,
            "/v1/segments/{id}/members",
            Some(ORCHESTRATE),
            "Add and remove members of a manual segment by user id.",
            post(segments::edit_members),
        ).takes::<segments::MembersEdit>().answers::<crate::engine::ManualEdit>(),
        spec(
            M::POST,
            "/v1/segments/{id}/rebuild",
            Some(ORCHESTRATE),
            "Judge every profile for a rule segment again and store what differs.",
            post(segments::rebuild),
        ).answers::<crate::engine::SegmentUpkeep>(),
        spec(
            M::GET,
            "/v1/calendar",
            Some(READ),
            "What is planned, day by day (UTC): scheduled batch campaign runs and journey waits that come due.",
            get(calendar::calendar),
        ).query::<calendar::CalendarQuery>().answers::<crate::engine::Calendar>(),
        spec(M::GET, "/v1/content", Some(READ), "List content blocks (snippets and message templates) with their newest and live versions.", get(content::list)).paged::<pages::ListQuery>().answers::<Vec<crate::content::Content>>(),
        spec(
            M::GET,
            "/v1/content/{name}",
            Some(READ),
            "A content block: its record, its newest version (what previews render) and its live one (what sends render).",
            get(content::show),
        ).answers::<crate::engine::ContentView>(),
        spec(
            M::PUT,
            "/v1/content/{name}",
            Some(ORCHESTRATE),
            "Save a content block's next version: a snippet that templates `{% render %}`, or a message template campaigns name in `message.content`. Checked: it parses, the snippets it renders exist. Publish to make it live.",
            put(content::save),
        ).takes::<crate::content::ContentSpec>().answers::<crate::content::Content>(),
        spec(
            M::POST,
            "/v1/content/{name}/publish",
            Some(ORCHESTRATE),
            "Make a version (the newest by default) the one sends render.",
            post(content::publish),
        ).takes::<content::PublishRequest>().answers::<crate::content::Content>(),
        spec(M::GET, "/v1/journeys", Some(READ), "List journeys with their state and live version.", get(journeys::list)).paged::<pages::ListQuery>().answers::<Vec<crate::journey::Journey>>(),
        spec(
            M::GET,
            "/v1/journeys/{id}",
            Some(READ),
            "A journey: its newest spec, how many wait in it, and per-step counts of every version.",
            get(journeys::show),
        ).answers::<crate::engine::JourneyView>(),
        spec(
            M::PUT,
            "/v1/journeys/{id}",
            Some(ORCHESTRATE),
            "Save a journey's next version (a new journey starts as a draft); publish to make it live.",
            put(journeys::save),
        ).takes::<crate::journey::JourneySpec>().answers::<crate::journey::Journey>(),
        spec(
            M::POST,
            "/v1/journeys/{id}/publish",
            Some(ORCHESTRATE),
            "Make a version the one new entries take; profiles inside stay on theirs unless `migrate` maps their step.",
            post(journeys::publish),
        ).takes::<journeys::PublishRequest>().answers::<crate::journey::Journey>(),
        spec(
            M::POST,
            "/v1/journeys/{id}/dry-run",
            Some(PERSONAL),
            "Walk one person through a journey on a simulated clock: each step, what it would send, where it ends. Nothing is sent or written.",
            post(journeys::dry_run),
        ).takes::<journeys::DryRunRequest>().answers::<crate::engine::DryRun>(),
        spec(
            M::POST,
            "/v1/journeys/{id}/pause",
            Some(ORCHESTRATE),
            "Pause a live journey: nobody enters, every waiting profile holds where it is.",
            post(journeys::pause),
        ).answers::<crate::journey::Journey>(),
        spec(
            M::POST,
            "/v1/journeys/{id}/resume",
            Some(ORCHESTRATE),
            "Resume a paused journey: timers that came due meanwhile fire.",
            post(journeys::resume),
        ).answers::<crate::journey::Journey>(),
        spec(
            M::POST,
            "/v1/journeys/{id}/end",
            Some(ORCHESTRATE),
            "End a journey for good: everyone inside leaves.",
            post(journeys::end),
        ).answers::<crate::journey::Journey>(),
        spec(
            M::GET,
            "/v1/exports/events",
            Some(PERSONAL),
            "Stream every event as NDJSON or CSV.",
            get(exports::events),
        )
        .query::<exports::ExportQuery>()
        .answers_text(&["application/x-ndjson", "text/csv"]),
        spec(
            M::GET,
            "/v1/exports/profiles",
            Some(PERSONAL),
            "Stream every profile (traits, consents, suppressions, time zone) as NDJSON or CSV.",
            get(exports::profiles),
        )
        .query::<exports::ExportQuery>()
        .answers_text(&["application/x-ndjson", "text/csv"]),
        spec(
            M::GET,
            "/v1/exports/deliveries",
            Some(PERSONAL),
            "Stream a campaign's deliveries as NDJSON or CSV.",
            get(exports::deliveries),
        )
        .query::<exports::DeliveriesQuery>()
        .answers_text(&["application/x-ndjson", "text/csv"]),
        spec(
            M::POST,
            "/v1/imports/profiles",
            Some(ORCHESTRATE),
            "Import profile rows (NDJSON): traits, consents, suppressions, time zones.",
            post(profiles::import_profiles),
        ).takes_raw(&[("application/x-ndjson", ndjson::<crate::engine::ProfileRow>)]).answers::<profiles::ImportAnswer>(),
        spec(
            M::GET,
            "/v1/profiles",
            Some(PERSONAL),
            "Find profiles by user_id, anonymous_id or email.",
            get(profiles::find_profiles),
        ).paged::<profiles::ProfilesQuery>().answers::<Vec<crate::profile::Profile>>(),
        spec(M::GET, "/v1/profiles/{id}", Some(PERSONAL), "Show a profile.", get(profiles::show_profile)).answers::<crate::profile::Profile>(),
        spec(
            M::GET,
            "/v1/profiles/{id}/journeys",
            Some(PERSONAL),
            "Where a profile is in each journey it is inside: step, version, what it waits for, the steps it passed.",
            get(profiles::journeys),
        ).answers::<Vec<crate::journey::Position>>(),
        spec(
            M::PATCH,
            "/v1/profiles/{id}",
            Some(ORCHESTRATE),
            "Update consents, suppressions, time zone.",
            patch(profiles::update_profile),
        ).takes::<crate::engine::ProfileUpdate>().answers::<crate::profile::Profile>(),
        spec(
            M::DELETE,
            "/v1/profiles/{id}",
            Some(ADMIN),
            "Erase a profile and everything about it.",
            delete(profiles::erase_profile),
        ).answers::<crate::store::Erasure>(),
        spec(
            M::GET,
            "/v1/profiles/{id}/export",
            Some(ADMIN),
            "Export everything about a profile.",
            get(profiles::export_profile),
        ).answers::<crate::store::ProfileExport>(),
        spec(M::GET, "/v1/traits", Some(READ), "List computed-trait bindings.", get(traits::list)).paged::<pages::ListQuery>().answers::<Vec<crate::store::TraitBinding>>(),
        spec(
            M::PUT,
            "/v1/traits/{name}",
            Some(ORCHESTRATE),
            "Bind a computed-trait plugin under a name; its traits follow events from then on.",
            put(traits::bind),
        ).takes::<traits::TraitRequest>().answers::<crate::store::TraitBinding>(),
        spec(
            M::DELETE,
            "/v1/traits/{name}",
            Some(ORCHESTRATE),
            "Remove a trait binding.",
            delete(traits::unbind),
        ).answers::<admin::Unbound>(),
        spec(
            M::POST,
            "/v1/traits/{name}/recompute",
            Some(ORCHESTRATE),
            "Recompute a trait binding's traits over every profile.",
            post(traits::recompute),
        ).answers::<crate::engine::TraitReport>(),
        spec(
            M::GET,
            "/v1/feedback-endpoints",
            Some(ADMIN),
            "List vendor feedback endpoints.",
            get(feedback::list),
        ).paged::<pages::ListQuery>().answers::<Vec<crate::store::FeedbackEndpoint>>(),
        spec(
            M::PUT,
            "/v1/feedback-endpoints/{name}",
            Some(ADMIN),
            "Make a vendor feedback endpoint: a channel adapter, its config, the secrets its signature check may use.",
            put(feedback::put),
        ).takes::<feedback::EndpointRequest>().answers::<crate::store::FeedbackEndpoint>(),
        spec(
            M::DELETE,
            "/v1/feedback-endpoints/{name}",
            Some(ADMIN),
            "Remove a vendor feedback endpoint.",
            delete(feedback::delete),
        ).answers::<admin::Deleted>(),
        spec(
            M::POST,
            "/v1/feedback/{name}",
            None,
            "A vendor's webhook: authenticated by the vendor's signature, checked before any plugin runs.",
            post(feedback::receive),
        ).takes_raw(&[("application/json", schema_of::<serde_json::Value>), ("application/x-www-form-urlencoded", schema_of::<std::collections::BTreeMap<String, String>>)]).answers::<crate::engine::FeedbackReport>(),
        spec(
            M::GET,
            "/u/{token}",
            None,
            "An unsubscribe link's confirmation page (the link's signature is the authority).",
            get(unsubscribe::page),
        )
        .answers_text(&["text/html"]),
        spec(
            M::POST,
            "/u/{token}",
            None,
            "Unsubscribe: RFC 8058's one-click POST, or the page's form.",
            post(unsubscribe::unsubscribe),
        )
        .takes_raw(&[("application/x-www-form-urlencoded", schema_of::<unsubscribe::UnsubscribeForm>)])
        .answers_text(&["text/html"]),
        spec(
            M::GET,
            "/v1/secrets",
            Some(ADMIN),
            "List secrets with the hosts each may go to (never values).",
            get(access::list_secrets),
        ).paged::<pages::ListQuery>().answers::<Vec<crate::store::SecretScope>>(),
        spec(
            M::PUT,
            "/v1/secrets/{name}",
            Some(ADMIN),
            "Set a secret (write-only).",
            put(access::set_secret),
        ).takes::<access::SecretRequest>().answers::<access::SecretSet>(),
        spec(M::DELETE, "/v1/secrets/{name}", Some(ADMIN), "Delete a secret.", delete(access::delete_secret)).answers::<admin::Deleted>(),
        spec(
            M::GET,
            "/v1/tokens",
            Some(ADMIN),
            "List tokens (never the tokens themselves).",
            get(access::list_tokens),
        ).paged::<pages::ListQuery>().answers::<Vec<crate::store::TokenRecord>>(),
        spec(
            M::POST,
            "/v1/tokens",
            Some(ADMIN),
            "Create a token; it is shown once.",
            post(access::create_token),
        ).takes::<access::TokenRequest>().creates::<access::TokenCreated>(),
        spec(M::DELETE, "/v1/tokens/{id}", Some(ADMIN), "Revoke a token.", delete(access::revoke_token)).answers::<admin::Revoked>(),
        spec(M::GET, "/v1/audit", Some(ADMIN), "The newest audit records.", get(access::audit_log)).paged::<access::AuditQuery>().answers::<Vec<crate::store::AuditRecord>>(),
    ]
}

/// The role table of RELIABILITY.md, rendered from the route table: one row per route, one
/// column per role, `yes` where the role may call it. A test keeps the document equal to it.
pub fn role_table() -> String {
    let mut out = String::from("| route |");
    for role in Role::ALL {
        out.push_str(&format!(" {} |", role.name()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(Role::ALL.len()));
    out.push('\n');
    for route in table() {
        out.push_str(&format!("| `{} {}` |", route.method, route.path));
        for role in Role::ALL {
            let cell = match route.roles {
                None => "no token",
                Some(roles) if role == Role::Admin || roles.contains(&role) => "yes",
                Some(_) => "",
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out
}

/// Builds the router from the table, each route behind its role check.
pub fn build(state: AppState) -> axum::Router {
    let mut router = axum::Router::new();
    for route in table() {
        let handler = match route.roles {
            None => route.handler,
            Some(roles) => route.handler.route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                move |State(state): State<AppState>, request: Request, next: Next| async move {
                    authorize(state, roles, request, next).await
                },
            )),
        };
        router = router.route(route.path, handler);
    }
    router.with_state(state)
}

async fn authorize(state: AppState, roles: &'static [Role], request: Request, next: Next) -> Response {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;
    let (mut parts, mut body) = request.into_parts();
    let ingest = roles == INGEST;
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        // A browser's analytics.js sends its write key in the body, with no header.
        Err(err) if ingest && !parts.headers.contains_key(axum::http::header::AUTHORIZATION) => {
            let bytes = match super::read_body(body, state.config.max_ingest_bytes).await {
                Ok(bytes) => bytes,
                Err(too_large) => return too_large.into_response(),
            };
            let Some(key) = super::auth::body_write_key(&bytes) else { return err.into_response() };
            body = axum::body::Body::from(bytes);
            match Caller::of_token(&state, key).await {
                Ok(caller) => caller,
                Err(err) => return err.into_response(),
            }
        }
        Err(err) => return err.into_response(),
    };
    let what = format!("call {} {}", parts.method, parts.uri.path());
    if let Err(err) = caller.require(roles, &what) {
        return err.into_response();
    }
    parts.extensions.insert(caller);
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if ingest {
        // Sources include web pages on other origins; a write key is public by design, so any
        // page may read the answer to what it sent.
        response.headers_mut().insert(
            axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            axum::http::HeaderValue::from_static("*"),
        );
    }
    response
}
