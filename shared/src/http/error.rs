//! The one HTTP error type: every failure becomes `{"error": {"code", "message", "field"?}}` with the right status.
//! Internal details are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::domain::ValidationError;
use crate::service::ServiceError;
use crate::store::StoreError;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad input (400, or 413 for an oversized body).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Missing or wrong `x-api-key` (401).
    #[error("a valid x-api-key header is required")]
    Unauthorized,
    /// The ingest key used on an admin route (403).
    #[error("this key may only send postbacks; use the admin key")]
    Forbidden,
    /// No such lead or route (404).
    #[error("{0}")]
    NotFound(String),
    /// Route exists, method does not (405).
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// Body is not JSON (415).
    #[error("send the body as JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    /// Email held by another lead (409).
    #[error("{0}")]
    Conflict(String),
    /// Retries exhausted or the store is unreachable (503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything unexpected (500); the cause is logged only.
    #[error("internal error")]
    Internal(String),
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(v) => Self::Invalid(v),
            ServiceError::NotFound => Self::NotFound("lead not found".into()),
            ServiceError::EmailInUse(email) => Self::Conflict(format!("email {email} already belongs to another lead")),
            ServiceError::Contended => Self::Unavailable(e.to_string()),
            ServiceError::Store(StoreError::Unavailable(detail)) => {
                tracing::warn!(error = %detail, "store unavailable");
                Self::Unavailable("the lead store is unavailable; retry shortly".into())
            }
            ServiceError::Store(other) => Self::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(v) if v.code == "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(v) => v.code,
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Conflict(_) => "conflict",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        let mut error = json!({"code": self.code(), "message": self.to_string()});
        if let Self::Invalid(ValidationError { field: Some(f), .. }) = &self {
            error["field"] = json!(f);
        }
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of an oversized body may still be in flight: do not reuse this connection.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
