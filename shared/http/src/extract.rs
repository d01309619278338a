//! Request extractors that fail with [`ApiError`] JSON: API keys, JSON bodies, query strings and lead ids.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use http_body_util::BodyExt;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use leadpipe_core::domain::postback::MAX_BODY_BYTES;
use leadpipe_core::{ErrorCode, Leadpipe, ValidationError};

use crate::error::ApiError;

/// The header both keys are sent in.
pub const API_KEY_HEADER: &str = "x-api-key";

fn keys_equal(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

fn presented_key(parts: &Parts) -> Option<&str> {
    parts.headers.get(API_KEY_HEADER).and_then(|v| v.to_str().ok())
}

/// Proof that the request may post postbacks: the ingest key or the admin key (or the ingest check is off).
pub struct IngestAccess;

impl FromRequestParts<Leadpipe> for IngestAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Leadpipe) -> Result<Self, ApiError> {
        let s = &app.settings;
        let Some(ingest) = &s.api_key else { return Ok(Self) };
        match presented_key(parts) {
            Some(k) if keys_equal(k, ingest) || s.admin_api_key.as_deref().is_some_and(|a| keys_equal(k, a)) => Ok(Self),
            _ => Err(ApiError::Unauthorized),
        }
    }
}

/// Proof that the request carries the admin key (or the admin check is off).
pub struct AdminAccess;

impl FromRequestParts<Leadpipe> for AdminAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Leadpipe) -> Result<Self, ApiError> {
        let s = &app.settings;
        let Some(admin) = &s.admin_api_key else { return Ok(Self) };
        match presented_key(parts) {
            Some(k) if keys_equal(k, admin) => Ok(Self),
            Some(k) if s.api_key.as_deref().is_some_and(|i| keys_equal(k, i)) => Err(ApiError::Forbidden),
            _ => Err(ApiError::Unauthorized),
        }
    }
}

/// A raw JSON body of at most [`MAX_BODY_BYTES`]. Accepts `application/json`, `text/plain` (what `sendBeacon` and
/// simple CORS requests send) or no content type; anything else is 415.
pub struct JsonBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        if let Some(ct) = req.headers().get(CONTENT_TYPE) {
            let mime = ct.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if mime != "application/json" && mime != "text/plain" && !mime.ends_with("+json") {
                return Err(ApiError::UnsupportedMediaType);
            }
        }
        let too_large =
            || ApiError::Invalid(ValidationError::body(ErrorCode::PayloadTooLarge, format!("body is larger than {MAX_BODY_BYTES} bytes")));
        let declared =
            req.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let mut body = req.into_body();
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            drain(body).await;
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| ApiError::Invalid(ValidationError::body(ErrorCode::InvalidBody, format!("could not read the body: {e}"))))?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > MAX_BODY_BYTES {
                    drain(body).await;
                    return Err(too_large());
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(Self(Bytes::from(bytes)))
    }
}

/// Most bytes of an oversized body read and discarded before answering 413: reading them lets the client finish
/// sending and read the answer (instead of a reset connection); past this the connection is simply closed.
const DRAIN_LIMIT: usize = 1024 * 1024;

async fn drain(mut body: axum::body::Body) {
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        seen += frame.data_ref().map_or(0, |d| d.len());
        if seen > DRAIN_LIMIT {
            break;
        }
    }
}

/// Decoded query parameters, in order; a malformed query string is a 400.
pub struct QueryParams(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let raw = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(raw)
            .map(Self)
            .map_err(|e| ApiError::Invalid(ValidationError::body(ErrorCode::InvalidQuery, format!("query string does not decode: {e}"))))
    }
}

/// The `{id}` path parameter as a lead id; anything but a UUID is a 400.
pub struct LeadIdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for LeadIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let invalid = || ApiError::Invalid(ValidationError::field("id", "lead id must be a UUID"));
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await.map_err(|_| invalid())?;
        Uuid::parse_str(&raw).map(Self).map_err(|_| invalid())
    }
}
