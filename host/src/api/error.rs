//! One error type for the whole API, one table of stable codes. Every error body is
//! `{"error": {"code": "...", "message": "..."}}`; internal details never reach the body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::engine::EngineError;
use crate::runtime::InstallError;
use crate::store::StorageError;

/// An API error: a status, a stable snake_case code, and a message saying what to fix.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }

    /// 401: no valid token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: the token's role may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 with a specific code, for example `campaign_not_found`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 400: the request is malformed (bad JSON, wrong types).
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 405: the route exists, but not with this method.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", message)
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 413: the body is larger than the route allows.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the request body is larger than this route's limit of {limit} bytes; send smaller batches"
            ),
        )
    }

    /// 422: well-formed, but invalid for the domain.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 500: something failed inside Baton. The detail goes to the log, not to the caller.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "Request failed inside Baton.");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Baton failed to handle the request; see its log",
        )
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
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
            EngineError::CampaignNotFound(_) => ApiError::not_found("campaign_not_found", message),
            EngineError::PluginNotFound(_) => ApiError::not_found("plugin_not_found", message),
            EngineError::CampaignExists(_) => ApiError::conflict("campaign_exists", message),
            EngineError::InvalidTransition { .. } => ApiError::conflict("invalid_transition", message),
            EngineError::WrongState { .. } => ApiError::conflict("campaign_wrong_state", message),
            EngineError::NotReady { .. } => ApiError::conflict("campaign_not_ready", message),
            EngineError::InvalidCampaign(_) => ApiError::invalid("invalid_campaign", message),
            EngineError::WrongPluginKind { .. } => ApiError::invalid("wrong_plugin_kind", message),
            EngineError::InvalidConfig { .. } => ApiError::invalid("invalid_binding_config", message),
            EngineError::UndeclaredGrant { .. } => ApiError::invalid("undeclared_grant", message),
            EngineError::Plugin(_) => ApiError::invalid("plugin_failed", message),
            EngineError::InvalidRequest(_) => ApiError::invalid("invalid_request", message),
            EngineError::PluginBound { .. } => ApiError::conflict("plugin_bound", message),
            EngineError::Install(err) => ApiError::from(err),
            EngineError::SecretNotFound(_) => ApiError::not_found("secret_not_found", message),
            EngineError::TokenNotFound(_) => ApiError::not_found("token_not_found", message),
            EngineError::TraitNotFound(_) => ApiError::not_found("trait_not_found", message),
            EngineError::BindingNotFound { .. } => ApiError::not_found("binding_not_found", message),
            EngineError::ProfileNotFound(_) => ApiError::not_found("profile_not_found", message),
            EngineError::FeedbackEndpointNotFound(_) => {
                ApiError::not_found("feedback_endpoint_not_found", message)
            }
            EngineError::FeedbackRefused(_) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "webhook_signature_refused", message)
            }
            EngineError::InvalidPolicies(_)
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
            InstallError::TooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
            }
            InstallError::Storage(err) => ApiError::internal(&err),
            _ => ApiError::invalid("invalid_plugin", message),
        }
    }
}
