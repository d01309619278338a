//! Error codes and client-input errors, shared by every boundary. The HTTP adapter maps each [`ErrorCode`] to its
//! status in one place.

use std::fmt;

use serde::Serialize;

/// Every machine-readable error code the API answers with (`error.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON, or not a JSON object.
    InvalidJson,
    /// The body could not be read.
    InvalidBody,
    /// One field (or query parameter) has a bad value.
    InvalidField,
    /// A field that the endpoint does not know.
    UnknownField,
    /// A stage that is not in the pipeline.
    UnknownStage,
    /// A query parameter that the endpoint does not know.
    UnknownParameter,
    /// The query string does not decode.
    InvalidQuery,
    /// The body is larger than the endpoint accepts.
    PayloadTooLarge,
    /// The content type is not one the endpoint reads.
    UnsupportedMediaType,
    /// No key, or a wrong key.
    Unauthorized,
    /// A valid key that may not do this.
    Forbidden,
    /// No such lead or route.
    NotFound,
    /// The route exists, the method does not.
    MethodNotAllowed,
    /// The request conflicts with stored data (e.g. an email held by another lead).
    Conflict,
    /// `POST /api/webhooks` when the deployment already has the most webhooks it keeps.
    TooManyWebhooks,
    /// The webhook is disabled: enable it before retrying its deliveries.
    WebhookDisabled,
    /// The store is unreachable or contention persisted; retry shortly.
    Unavailable,
    /// Anything unexpected (details are logged, never sent).
    Internal,
    /// Sign-in with a wrong email or password (one answer for both).
    InvalidCredentials,
    /// Too many failed sign-ins: wait for `Retry-After`.
    TooManyAttempts,
    /// An invite link this deployment did not issue.
    InvalidInvite,
    /// An invite link used already.
    InviteUsed,
    /// An invite link past its expiry.
    InviteExpired,
    /// The change would leave no active admin.
    LastAdmin,
    /// Sign-in: the password is right and the account has two-factor on: send `totp` (or `recovery_code`).
    TotpRequired,
    /// Sign-in: the two-factor code or recovery code is wrong.
    TotpInvalid,
    /// Sign-in: the two-factor code was used already; wait for the next one.
    TotpReused,
    /// A postback for a person on the suppression list (erased at their request): nothing stored.
    Suppressed,
}

impl ErrorCode {
    /// The code as sent to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::InvalidBody => "invalid_body",
            Self::InvalidField => "invalid_field",
            Self::UnknownField => "unknown_field",
            Self::UnknownStage => "unknown_stage",
            Self::UnknownParameter => "unknown_parameter",
            Self::InvalidQuery => "invalid_query",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::TooManyWebhooks => "too_many_webhooks",
            Self::WebhookDisabled => "webhook_disabled",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::InvalidCredentials => "invalid_credentials",
            Self::TooManyAttempts => "too_many_attempts",
            Self::InvalidInvite => "invalid_invite",
            Self::InviteUsed => "invite_used",
            Self::InviteExpired => "invite_expired",
            Self::LastAdmin => "last_admin",
            Self::TotpRequired => "totp_required",
            Self::TotpInvalid => "totp_invalid",
            Self::TotpReused => "totp_reused",
            Self::Suppressed => "suppressed",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A client input problem: an error code, a human message and the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// What is wrong and how to fix it.
    pub message: String,
    /// The body field (or query parameter) at fault.
    pub field: Option<String>,
}

impl ValidationError {
    /// A bad value in one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidField, message).at(field)
    }

    /// A problem with the input as a whole.
    pub fn body(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(code, message)
    }

    /// An error with `code` and `message` and no field.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// The same error, naming `field` (at most 64 characters of it).
    pub fn at(mut self, field: &str) -> Self {
        self.field = Some(field.chars().take(64).collect());
        self
    }
}

/// A request body read as one JSON object of at most `max_bytes`: the first check of every JSON body the API takes.
pub fn json_object_body(
    body: &[u8],
    max_bytes: usize,
) -> Result<serde_json::Map<String, serde_json::Value>, ValidationError> {
    if body.len() > max_bytes {
        return Err(ValidationError::body(
            ErrorCode::PayloadTooLarge,
            format!("body is larger than {max_bytes} bytes"),
        ));
    }
    match serde_json::from_slice(body) {
        Ok(serde_json::Value::Object(obj)) => Ok(obj),
        Ok(_) => Err(ValidationError::body(
            ErrorCode::InvalidJson,
            "body must be a JSON object",
        )),
        Err(e) => Err(ValidationError::body(
            ErrorCode::InvalidJson,
            format!("body is not valid JSON: {e}"),
        )),
    }
}

impl From<crate::domain::stage::UnknownStage> for ValidationError {
    fn from(e: crate::domain::stage::UnknownStage) -> Self {
        Self::new(ErrorCode::UnknownStage, e.to_string()).at("stage")
    }
}
