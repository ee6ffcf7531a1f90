//! Every route of the API, declared once: path, method, the roles that may call it, a summary,
//! and the handler. The router is built from this table and so is the OpenAPI document, so the
//! two cannot drift; a per-route middleware enforces the roles, so no handler can forget to.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

use super::auth::Caller;
use super::{
    AppState, access, audiences, campaigns, events, exports, feedback, metrics, openapi, plugins, profiles,
    segment, traits,
};
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
    handler: MethodRouter<AppState>,
}

// Who may call what, besides admin. A write key ships inside apps, so it may only ingest;
// reading personal data, editing campaigns and installing plugins are separate permissions.

/// Campaigns, plugins, KPIs and metrics: no personal data.
const READ: &[Role] = &[Role::Viewer, Role::Orchestrator, Role::Analyst, Role::Developer];
/// Profiles, audience members, rendered messages, skips by profile.
const PERSONAL: &[Role] = &[Role::Orchestrator, Role::Analyst];
/// Campaigns, bindings, runs, replays, consent updates.
const ORCHESTRATE: &[Role] = &[Role::Orchestrator];
/// Installing, removing and re-enabling plugins.
const DEVELOP: &[Role] = &[Role::Developer];
/// Sending events: the write key's one permission.
const INGEST: &[Role] = &[Role::Connector];
/// Secrets, tokens, audit, erasure, export.
const ADMIN: &[Role] = &[];

fn spec(
    method: Method,
    path: &'static str,
    roles: Option<&'static [Role]>,
    summary: &'static str,
    handler: MethodRouter<AppState>,
) -> RouteSpec {
    RouteSpec { method, path, roles, summary, handler }
}

/// The table.
pub fn table() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        spec(M::GET, "/healthz", None, "Liveness: the process answers.", get(|| async { "ok" })),
        spec(M::GET, "/readyz", None, "Readiness: the store answers.", get(super::ready)),
        spec(
            M::POST,
            "/v1/events",
            Some(INGEST),
            "Ingest events (NDJSON or JSON array), per-event results.",
            post(events::ingest),
        ),
        spec(M::POST, "/v1/batch", Some(INGEST), "Segment-compatible batch.", post(segment::batch)),
        spec(
            M::POST,
            "/v1/{call}",
            Some(INGEST),
            "Segment-compatible identify, track, page, screen, group, alias.",
            post(segment::single),
        ),
        spec(M::GET, "/metrics", Some(READ), "Prometheus metrics.", get(metrics::render)),
        spec(M::GET, "/v1/openapi.json", Some(READ), "This document.", get(openapi::document)),
        spec(M::GET, "/v1/plugins", Some(READ), "List installed plugins.", get(plugins::list_plugins)),
        spec(
            M::POST,
            "/v1/plugins",
            Some(DEVELOP),
            "Install a component (body: the .wasm bytes).",
            post(plugins::install_plugin),
        ),
        spec(
            M::GET,
            "/v1/plugins/{hash}",
            Some(READ),
            "Show a plugin and the bindings that pin it.",
            get(plugins::show_plugin),
        ),
        spec(
            M::POST,
            "/v1/plugins/{hash}/enable",
            Some(DEVELOP),
            "Enable a quarantined plugin again.",
            post(plugins::enable_plugin),
        ),
        spec(
            M::DELETE,
            "/v1/plugins/{hash}",
            Some(DEVELOP),
            "Remove a plugin no binding pins.",
            delete(plugins::remove_plugin),
        ),
        spec(M::GET, "/v1/campaigns", Some(READ), "List campaigns.", get(campaigns::list_campaigns)),
        spec(
            M::POST,
            "/v1/campaigns",
            Some(ORCHESTRATE),
            "Create a campaign (draft).",
            post(campaigns::create_campaign),
        ),
        spec(
            M::GET,
            "/v1/campaigns/{id}",
            Some(READ),
            "Show a campaign with its bindings.",
            get(campaigns::show_campaign),
        ),
        spec(
            M::PUT,
            "/v1/campaigns/{id}",
            Some(ORCHESTRATE),
            "Replace a campaign's definition.",
            put(campaigns::update_campaign),
        ),
        spec(
            M::POST,
            "/v1/campaigns/{id}/{transition}",
            Some(ORCHESTRATE),
            "activate, pause or end a campaign.",
            post(campaigns::transition),
        ),
        spec(
            M::PUT,
            "/v1/campaigns/{id}/bindings/{slot}",
            Some(ORCHESTRATE),
            "Bind or swap the plugin of a slot.",
            put(campaigns::bind),
        ),
        spec(
            M::DELETE,
            "/v1/campaigns/{id}/bindings/{slot}",
            Some(ORCHESTRATE),
            "Unbind a slot.",
            delete(campaigns::unbind),
        ),
        spec(
            M::GET,
            "/v1/campaigns/{id}/preview",
            Some(PERSONAL),
            "Dry run: counts, skip reasons, variants, samples.",
            get(campaigns::preview),
        ),
        spec(
            M::POST,
            "/v1/campaigns/{id}/runs",
            Some(ORCHESTRATE),
            "Send a batch campaign to its audience now.",
            post(campaigns::run),
        ),
        spec(M::GET, "/v1/campaigns/{id}/kpis", Some(READ), "KPI snapshots.", get(campaigns::kpis)),
        spec(
            M::POST,
            "/v1/campaigns/{id}/kpis",
            Some(ORCHESTRATE),
            "Compute KPIs now.",
            post(campaigns::compute_kpis),
        ),
        spec(
            M::GET,
            "/v1/campaigns/{id}/skips",
            Some(PERSONAL),
            "Suppressed and delayed sends with reason codes.",
            get(campaigns::skips),
        ),
        spec(
            M::GET,
            "/v1/campaigns/{id}/deliveries",
            Some(PERSONAL),
            "Finished sends.",
            get(campaigns::deliveries),
        ),
        spec(
            M::GET,
            "/v1/campaigns/{id}/dead-letters",
            Some(PERSONAL),
            "Sends whose retries ran out.",
            get(campaigns::dead_letters),
        ),
        spec(
            M::POST,
            "/v1/campaigns/{id}/dead-letters/replay",
            Some(ORCHESTRATE),
            "Replay dead letters.",
            post(campaigns::replay),
        ),
        spec(
            M::POST,
            "/v1/audiences",
            Some(PERSONAL),
            "How many would a segment rule reach? Count, sample, or every member as CSV/NDJSON.",
            post(audiences::audience),
        ),
        spec(
            M::GET,
            "/v1/exports/{what}",
            Some(PERSONAL),
            "Stream every event or profile, or a campaign's deliveries, as NDJSON or CSV.",
            get(exports::export),
        ),
        spec(
            M::POST,
            "/v1/imports/profiles",
            Some(ORCHESTRATE),
            "Import profile rows (NDJSON): traits, consents, suppressions, time zones.",
            post(profiles::import_profiles),
        ),
        spec(
            M::GET,
            "/v1/profiles",
            Some(PERSONAL),
            "Find profiles by user_id, anonymous_id or email.",
            get(profiles::find_profiles),
        ),
        spec(M::GET, "/v1/profiles/{id}", Some(PERSONAL), "Show a profile.", get(profiles::show_profile)),
        spec(
            M::PATCH,
            "/v1/profiles/{id}",
            Some(ORCHESTRATE),
            "Update consents, suppressions, time zone.",
            patch(profiles::update_profile),
        ),
        spec(
            M::DELETE,
            "/v1/profiles/{id}",
            Some(ADMIN),
            "Erase a profile and everything about it.",
            delete(profiles::erase_profile),
        ),
        spec(
            M::GET,
            "/v1/profiles/{id}/export",
            Some(ADMIN),
            "Export everything about a profile.",
            get(profiles::export_profile),
        ),
        spec(M::GET, "/v1/traits", Some(READ), "List computed-trait bindings.", get(traits::list)),
        spec(
            M::PUT,
            "/v1/traits/{name}",
            Some(ORCHESTRATE),
            "Bind a computed-trait plugin under a name; its traits follow events from then on.",
            put(traits::bind),
        ),
        spec(
            M::DELETE,
            "/v1/traits/{name}",
            Some(ORCHESTRATE),
            "Remove a trait binding.",
            delete(traits::unbind),
        ),
        spec(
            M::POST,
            "/v1/traits/{name}/recompute",
            Some(ORCHESTRATE),
            "Recompute a trait binding's traits over every profile.",
            post(traits::recompute),
        ),
        spec(
            M::GET,
            "/v1/feedback-endpoints",
            Some(ADMIN),
            "List vendor feedback endpoints.",
            get(feedback::list),
        ),
        spec(
            M::PUT,
            "/v1/feedback-endpoints/{name}",
            Some(ADMIN),
            "Make a vendor feedback endpoint: a channel adapter, its config, the secrets its signature check may use.",
            put(feedback::put),
        ),
        spec(
            M::DELETE,
            "/v1/feedback-endpoints/{name}",
            Some(ADMIN),
            "Remove a vendor feedback endpoint.",
            delete(feedback::delete),
        ),
        spec(
            M::POST,
            "/v1/feedback/{name}",
            None,
            "A vendor's webhook: authenticated by the vendor's signature, checked before any plugin runs.",
            post(feedback::receive),
        ),
        spec(
            M::GET,
            "/v1/secrets",
            Some(ADMIN),
            "List secrets with the hosts each may go to (never values).",
            get(access::list_secrets),
        ),
        spec(
            M::PUT,
            "/v1/secrets/{name}",
            Some(ADMIN),
            "Set a secret (write-only).",
            put(access::set_secret),
        ),
        spec(M::DELETE, "/v1/secrets/{name}", Some(ADMIN), "Delete a secret.", delete(access::delete_secret)),
        spec(
            M::GET,
            "/v1/tokens",
            Some(ADMIN),
            "List tokens (never the tokens themselves).",
            get(access::list_tokens),
        ),
        spec(
            M::POST,
            "/v1/tokens",
            Some(ADMIN),
            "Create a token; it is shown once.",
            post(access::create_token),
        ),
        spec(M::DELETE, "/v1/tokens/{id}", Some(ADMIN), "Revoke a token.", delete(access::revoke_token)),
        spec(M::GET, "/v1/audit", Some(ADMIN), "The newest audit records.", get(access::audit_log)),
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
    let (mut parts, body) = request.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(err) => return err.into_response(),
    };
    let what = format!("call {} {}", parts.method, parts.uri.path());
    if let Err(err) = caller.require(roles, &what) {
        return err.into_response();
    }
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}
