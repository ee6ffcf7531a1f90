//! One error type for the whole API, one table of stable codes. Every error body is
//! `{"error": {"code": "...", "message": "..."}}`; internal details never reach the body. The
//! table below is the only place a code, its HTTP status and its meaning are written: handlers
//! name an [`ErrorCode`], and the OpenAPI document lists the table.
//!
//! The statuses follow one rule: 400 and 422 when the request does not fit the document (its
//! shape, or a rule the document states), 404 when what it names does not exist, and 409 when it
//! fits the document but not the current state of what it names (a campaign's state, an
//! installed plugin's kind, config schema or declared needs): the same request can succeed once
//! that state changes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::engine::EngineError;
use crate::runtime::InstallError;
use crate::store::StorageError;

/// Writes [`ErrorCode`] and its table from one list of (variant, code, status, description).
macro_rules! error_codes {
    ($($variant:ident = $code:literal, $status:ident, $description:literal;)*) => {
        /// Every error the API answers with: a stable snake_case code, its HTTP status and what
        /// it means (`GET /v1/openapi.json` lists them under `x-error-codes`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $(#[doc = $description] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the table's order.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as the body carries it.
            pub fn code(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The HTTP status it is answered with.
            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)*
                }
            }

            /// What it means, and so what to fix.
            pub fn description(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $description,)*
                }
            }
        }
    };
}

error_codes! {
    Unauthorized = "unauthorized", UNAUTHORIZED, "No valid token: send `Authorization: Bearer <token>` with a live token.";
    WebhookSignatureRefused = "webhook_signature_refused", UNAUTHORIZED, "A vendor webhook's signature, signing time or signature header failed the feedback endpoint's check; no plugin saw it.";
    Forbidden = "forbidden", FORBIDDEN, "The token's role may not call this route (the role table is in RELIABILITY.md).";
    RouteNotFound = "route_not_found", NOT_FOUND, "No such route, or no such action on it; `GET /v1/openapi.json` lists the routes.";
    CampaignNotFound = "campaign_not_found", NOT_FOUND, "No campaign has this id.";
    PluginNotFound = "plugin_not_found", NOT_FOUND, "No plugin with this content hash is installed.";
    ProfileNotFound = "profile_not_found", NOT_FOUND, "No profile has this id (it may have been erased).";
    BindingNotFound = "binding_not_found", NOT_FOUND, "The campaign has no plugin bound to this slot.";
    SecretNotFound = "secret_not_found", NOT_FOUND, "No secret has this name.";
    TokenNotFound = "token_not_found", NOT_FOUND, "No token has this id.";
    TraitNotFound = "trait_not_found", NOT_FOUND, "No computed-trait binding has this name.";
    SegmentNotFound = "segment_not_found", NOT_FOUND, "No saved segment has this id.";
    Busy = "busy", TOO_MANY_REQUESTS, "As many ad-hoc scans as `api.max_concurrent_scans` allows are running: retry shortly, or save the segment and read its stored count.";
    FeedbackEndpointNotFound = "feedback_endpoint_not_found", NOT_FOUND, "No feedback endpoint has this name.";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED, "The route exists, but not with this HTTP method.";
    InvalidJson = "invalid_json", BAD_REQUEST, "The body is not the JSON (or NDJSON) the route takes: the message names the field at fault.";
    InvalidQuery = "invalid_query", BAD_REQUEST, "A query parameter is unknown or has the wrong type: the message names it.";
    InvalidHash = "invalid_hash", BAD_REQUEST, "A plugin hash is not `sha256:` and 64 lowercase hex digits.";
    InvalidProfileId = "invalid_profile_id", BAD_REQUEST, "A profile id is not `pr_` and 16 digits.";
    InvalidSlot = "invalid_slot", BAD_REQUEST, "A binding slot is not segment, personalizer, personalizer:<name>, channel or kpi:<name>.";
    CampaignExists = "campaign_exists", CONFLICT, "A campaign with this id exists already; choose another id or update it.";
    InvalidTransition = "invalid_transition", CONFLICT, "The campaign cannot move from its state to the one asked (an ended campaign stays ended).";
    CampaignWrongState = "campaign_wrong_state", CONFLICT, "The campaign's state does not allow this (a draft does not send; an ended campaign does not change).";
    CampaignNotReady = "campaign_not_ready", CONFLICT, "The campaign cannot be activated yet: the message lists what is missing or invalid.";
    PluginNeeds = "plugin_needs", CONFLICT, "The plugin named cannot serve this use as it is (it needs a newer contract, or a grant the request does not give): the message says which.";
    UnsubscribeLinkInvalid = "unsubscribe_link_invalid", NOT_FOUND, "No unsubscribe link like this one works: it was not signed by this Baton, it expired, or its recipient was erased.";
    OwnToken = "own_token", CONFLICT, "A token cannot revoke itself through the API: revoke it with another admin token, or with `baton token revoke` on the server.";
    IdMismatch = "id_mismatch", CONFLICT, "The body's `id` differs from the path's: PUT a campaign to its own URL.";
    PluginBound = "plugin_bound", CONFLICT, "The plugin is still in use (bound to a campaign or a trait, or the adapter of queued sends or dead letters): the message says what to do first.";
    UnsupportedEncoding = "unsupported_encoding", UNSUPPORTED_MEDIA_TYPE, "The body's `Content-Encoding` is not one Baton reads: send gzip or no encoding.";
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE, "The body (or component) is larger than the route's configured limit.";
    InvalidRequest = "invalid_request", UNPROCESSABLE_ENTITY, "The request is well-formed but asks for something invalid: the message says what to fix.";
    InvalidCampaign = "invalid_campaign", UNPROCESSABLE_ENTITY, "The campaign definition has problems, each listed in the message.";
    InvalidSegment = "invalid_segment", UNPROCESSABLE_ENTITY, "The segment definition has problems, each listed in the message.";
    JourneyNotFound = "journey_not_found", NOT_FOUND, "No journey has this id.";
    InvalidJourney = "invalid_journey", CONFLICT, "The journey does not hold together (a step that leads nowhere, a loop that never waits, shares that do not add up) or names what does not exist (a campaign, segment or plugin): each problem is listed in the message with the field at fault. A body that does not fit the schema is 422 `invalid_request`.";
    ContentNotFound = "content_not_found", NOT_FOUND, "No content block has this name.";
    InvalidContent = "invalid_content", CONFLICT, "The content block does not hold together: a template that does not parse (with its line), a snippet it renders that does not exist, a kind that differs from the saved one, a version that does not exist. A body that does not fit the schema is 422 `invalid_request`.";
    JourneyState = "journey_state", CONFLICT, "The journey's state does not allow this change: publish a draft first, or resume a paused journey.";
    SegmentLimit = "segment_limit", CONFLICT, "As many saved segments as `engine.max_saved_segments` allows exist: delete one, or raise the limit.";
    SegmentWrongKind = "segment_wrong_kind", CONFLICT, "The segment is manual where the request needs a rule, or decided by a rule where it needs a manual list.";
    InvalidPlugin = "invalid_plugin", UNPROCESSABLE_ENTITY, "The component cannot be installed: not a Baton component, an unsupported contract, or an import Baton does not provide.";
    WrongPluginKind = "wrong_plugin_kind", CONFLICT, "The plugin exists, but its kind does not fit the slot or the binding: name a plugin of the kind the slot takes.";
    InvalidBindingConfig = "invalid_binding_config", CONFLICT, "The plugin named refused the binding's config (each plugin defines its own); the message has its JSON pointer and reason.";
    UndeclaredGrant = "undeclared_grant", CONFLICT, "The binding grants a host or secret the plugin named did not declare in its needs.";
    PluginFailed = "plugin_failed", UNPROCESSABLE_ENTITY, "A plugin call failed (trap, limit, bad output) while handling the request.";
    Internal = "internal", INTERNAL_SERVER_ERROR, "Baton failed inside; the detail is in its log, never in the answer.";
}

/// An API error: a code from the table and a message saying what to fix.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }

    /// 401: no valid token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// 403: the token's role may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// 405: the route exists, but not with this method.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::MethodNotAllowed, message)
    }

    /// 413: the body is larger than the route allows.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the request body is larger than this route's limit of {limit} bytes; send smaller batches"
            ),
        )
    }

    /// 500: something failed inside Baton. The detail goes to the log, not to the caller.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "Request failed inside Baton.");
        Self::new(ErrorCode::Internal, "Baton failed to handle the request; see its log")
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code.code()
    }

    /// The HTTP status it answers with.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// What went wrong and what to change, for people.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // `code` and `message` also at the top level: Segment's and RudderStack's client
        // libraries read them there, and crash on a body without them.
        let (code, message) = (self.code.code(), self.message);
        let body = serde_json::json!({ "error": { "code": code, "message": message }, "code": code, "message": message });
        (self.code.status(), Json(body)).into_response()
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        ApiError::internal(&err)
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        let message = err.to_string();
        match err {
            EngineError::CampaignNotFound(_) => ApiError::new(ErrorCode::CampaignNotFound, message),
            EngineError::PluginNotFound(_) => ApiError::new(ErrorCode::PluginNotFound, message),
            EngineError::CampaignExists(_) => ApiError::new(ErrorCode::CampaignExists, message),
            EngineError::InvalidTransition { .. } => ApiError::new(ErrorCode::InvalidTransition, message),
            EngineError::WrongState { .. } => ApiError::new(ErrorCode::CampaignWrongState, message),
            EngineError::NotReady { .. } => ApiError::new(ErrorCode::CampaignNotReady, message),
            EngineError::InvalidCampaign(_) => ApiError::new(ErrorCode::InvalidCampaign, message),
            EngineError::WrongPluginKind { .. } => ApiError::new(ErrorCode::WrongPluginKind, message),
            EngineError::InvalidConfig { .. } => ApiError::new(ErrorCode::InvalidBindingConfig, message),
            EngineError::UndeclaredGrant { .. } => ApiError::new(ErrorCode::UndeclaredGrant, message),
            EngineError::PluginNeeds { .. } => ApiError::new(ErrorCode::PluginNeeds, message),
            EngineError::UnsubscribeLinkInvalid => ApiError::new(ErrorCode::UnsubscribeLinkInvalid, message),
            EngineError::Plugin(_) => ApiError::new(ErrorCode::PluginFailed, message),
            EngineError::InvalidRequest(_) => ApiError::new(ErrorCode::InvalidRequest, message),
            EngineError::PluginBound { .. } | EngineError::PluginInUse { .. } => {
                ApiError::new(ErrorCode::PluginBound, message)
            }
            EngineError::Install(err) => ApiError::from(err),
            EngineError::SecretNotFound(_) => ApiError::new(ErrorCode::SecretNotFound, message),
            EngineError::TokenNotFound(_) => ApiError::new(ErrorCode::TokenNotFound, message),
            EngineError::TraitNotFound(_) => ApiError::new(ErrorCode::TraitNotFound, message),
            EngineError::SegmentNotFound(_) => ApiError::new(ErrorCode::SegmentNotFound, message),
            EngineError::InvalidSegment(_) => ApiError::new(ErrorCode::InvalidSegment, message),
            EngineError::JourneyNotFound(_) => ApiError::new(ErrorCode::JourneyNotFound, message),
            EngineError::InvalidJourney(_) => ApiError::new(ErrorCode::InvalidJourney, message),
            EngineError::ContentNotFound(_) => ApiError::new(ErrorCode::ContentNotFound, message),
            EngineError::InvalidContent(_) => ApiError::new(ErrorCode::InvalidContent, message),
            EngineError::JourneyState(_) => ApiError::new(ErrorCode::JourneyState, message),
            EngineError::SegmentWrongKind(_) => ApiError::new(ErrorCode::SegmentWrongKind, message),
            EngineError::SegmentLimit(_) => ApiError::new(ErrorCode::SegmentLimit, message),
            EngineError::BindingNotFound { .. } => ApiError::new(ErrorCode::BindingNotFound, message),
            EngineError::ProfileNotFound(_) | EngineError::NoSuchPerson(_) => {
                ApiError::new(ErrorCode::ProfileNotFound, message)
            }
            EngineError::FeedbackEndpointNotFound(_) => {
                ApiError::new(ErrorCode::FeedbackEndpointNotFound, message)
            }
            EngineError::FeedbackRefused(_) => ApiError::new(ErrorCode::WebhookSignatureRefused, message),
            EngineError::InvalidPolicies(_)
            | EngineError::InvalidSettings(_)
            | EngineError::Http(_)
            | EngineError::Storage(_)
            | EngineError::Runtime(_) => ApiError::internal(&message),
        }
    }
}

impl From<InstallError> for ApiError {
    fn from(err: InstallError) -> Self {
        let message = err.to_string();
        match err {
            InstallError::TooLarge { .. } => ApiError::new(ErrorCode::PayloadTooLarge, message),
            InstallError::Storage(err) => ApiError::internal(&err),
            _ => ApiError::new(ErrorCode::InvalidPlugin, message),
        }
    }
}
