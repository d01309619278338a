//! The one HTTP error type: every failure becomes `{"error": {"code", "message", "field"?}}` with the status its
//! [`ErrorCode`] maps to in [`status_of`]. Internal details are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use leadpipe_core::domain::orders::OrderEditError;
use leadpipe_core::service::ServiceError;
use leadpipe_core::store::StoreError;
use leadpipe_core::{ErrorCode, ValidationError};
use serde_json::json;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad input (400, or 413 for an oversized body).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Missing or wrong key (401).
    #[error("a valid x-api-key header is required")]
    Unauthorized,
    /// A valid key that may not use this route (403).
    #[error("this key may only send postbacks; use the admin key")]
    Forbidden,
    /// A write to an admin route sent by the browser for another site's page (403).
    #[error(
        "cross-site requests may only send postbacks; use the dashboard or a script with a key"
    )]
    CrossSite,
    /// No such lead or route (404).
    #[error("{0}")]
    NotFound(String),
    /// Route exists, method does not (405).
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// Body is not JSON (415).
    #[error("send the body as JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    /// Conflicts with stored data (409).
    #[error("{0}")]
    Conflict(String),
    /// A valid request that the stored state refuses with its own code (`too_many_webhooks`, `webhook_disabled`:
    /// both 409).
    #[error("{message}")]
    Refused {
        /// The machine-readable code.
        code: ErrorCode,
        /// What the client is told.
        message: String,
    },
    /// Retries exhausted or the store is unreachable (503); `detail` is logged only.
    #[error("{message}")]
    Unavailable {
        /// What the client is told.
        message: String,
        /// What the logs get.
        detail: String,
    },
    /// Too many failed sign-ins (429 with `Retry-After`).
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    TooManyAttempts {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// Anything unexpected (500); the cause is logged only.
    #[error("internal error")]
    Internal(String),
}

/// The HTTP status of each error code: the one place this mapping is written.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidJson
        | ErrorCode::InvalidBody
        | ErrorCode::InvalidField
        | ErrorCode::UnknownField
        | ErrorCode::UnknownStage
        | ErrorCode::UnknownParameter
        | ErrorCode::InvalidQuery => StatusCode::BAD_REQUEST,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::Unauthorized
        | ErrorCode::InvalidCredentials
        | ErrorCode::TotpRequired
        | ErrorCode::TotpInvalid
        | ErrorCode::TotpReused => StatusCode::UNAUTHORIZED,
        ErrorCode::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::InvalidInvite => StatusCode::BAD_REQUEST,
        ErrorCode::InviteUsed | ErrorCode::InviteExpired => StatusCode::GONE,
        ErrorCode::LastAdmin => StatusCode::CONFLICT,
        ErrorCode::Suppressed => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::Conflict | ErrorCode::TooManyWebhooks | ErrorCode::WebhookDisabled => {
            StatusCode::CONFLICT
        }
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let message = e.to_string();
        match e {
            ServiceError::NotFound => Self::NotFound(message),
            ServiceError::EmailInUse(email) => {
                Self::Conflict(format!("email {email} already belongs to another lead"))
            }
            ServiceError::InProgress => Self::Conflict(message),
            ServiceError::Contended => Self::Unavailable {
                message,
                detail: "retries exhausted".into(),
            },
            ServiceError::Unavailable(detail) => Self::Unavailable { message, detail },
            ServiceError::Internal(detail) => Self::Internal(detail),
            ServiceError::OrderRefused(e @ OrderEditError::NoSuchOrder(_)) => {
                Self::NotFound(e.to_string())
            }
            ServiceError::OrderRefused(e @ OrderEditError::Full) => Self::Conflict(e.to_string()),
            ServiceError::Suppressed => Self::Refused {
                code: leadpipe_core::ErrorCode::Suppressed,
                message,
            },
        }
    }
}

impl From<leadpipe_core::account_service::AuthError> for ApiError {
    fn from(e: leadpipe_core::account_service::AuthError) -> Self {
        use leadpipe_core::account_service::AuthError;
        let message = e.to_string();
        match e {
            AuthError::Invalid(v) => Self::Invalid(v),
            AuthError::Throttled { retry_after_secs } => Self::TooManyAttempts { retry_after_secs },
            AuthError::NoSuchUser => Self::NotFound(message),
            AuthError::EmailInUse => Self::Conflict(message),
            AuthError::Store(s) => s.into(),
            AuthError::Crypto(detail) => Self::Internal(detail),
            other => Self::Refused {
                code: other.code(),
                message,
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<leadpipe_core::domain::stage::UnknownStage> for ApiError {
    fn from(e: leadpipe_core::domain::stage::UnknownStage) -> Self {
        Self::Invalid(e.into())
    }
}

impl ApiError {
    /// The machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(v) => v.code,
            Self::Unauthorized => ErrorCode::Unauthorized,
            Self::Forbidden | Self::CrossSite => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::Refused { code, .. } => *code,
            Self::Unavailable { .. } => ErrorCode::Unavailable,
            Self::TooManyAttempts { .. } => ErrorCode::TooManyAttempts,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        status_of(self.code())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Internal(detail) => tracing::error!(error = %detail, "request failed"),
            Self::Unavailable { detail, .. } => {
                tracing::warn!(error = %detail, "store unavailable")
            }
            _ => {}
        }
        let mut error = json!({"code": self.code(), "message": self.to_string()});
        if let Self::Invalid(ValidationError { field: Some(f), .. }) = &self {
            error["field"] = json!(f);
        }
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of an oversized body may still be in flight: do not reuse this connection.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Self::TooManyAttempts { retry_after_secs } = &self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_bodies_are_413_and_internals_are_hidden() {
        let too_large = ApiError::Invalid(ValidationError::body(ErrorCode::PayloadTooLarge, "big"));
        assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let internal = ApiError::Internal("disk on fire at /var/x".into());
        assert_eq!(internal.to_string(), "internal error");
        assert_eq!(
            ApiError::from(ServiceError::Unavailable("socket".into())).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
