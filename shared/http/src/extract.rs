//! Request extractors that fail with [`ApiError`] JSON: keys, JSON bodies, query strings, lead ids and the client.
//!
//! Three keys, all compared in constant time:
//! - `API_KEY` (server key, a secret): postbacks with full power, in the `x-api-key` header;
//! - `PUBLIC_API_KEY` (browser key, public by design): restricted postbacks, in the header or as `?key=` on
//!   `POST /api/postback` (so `navigator.sendBeacon` works) — the only key ever taken from a query string there;
//! - `ADMIN_API_KEY`: everything, in the header only.
//!
//! `GET /api/postback` (for ad networks that can only fire a URL) also takes the server key as `?key=` — the one
//! place the server key travels in a URL; the request log never shows query strings (see `logging`).

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use http_body_util::BodyExt;
use leadpipe_core::domain::postback::MAX_BODY_BYTES;
use leadpipe_core::domain::{Actor, Role};
use leadpipe_core::ingest::{Caller, Origin};
use leadpipe_core::{ErrorCode, Leadpipe, Settings, ValidationError};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::ApiError;

/// The header every key is sent in.
pub const API_KEY_HEADER: &str = "x-api-key";
/// The query parameter the browser key may be sent in on `POST /api/postback`.
pub const KEY_PARAMETER: &str = "key";

fn keys_equal(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

fn matches(given: &str, key: &Option<String>) -> bool {
    key.as_deref().is_some_and(|k| keys_equal(given, k))
}

fn header_key(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(API_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
}

/// The `key` query parameter, if sent.
fn query_key(parts: &Parts) -> Option<String> {
    let raw = parts.uri.query()?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == KEY_PARAMETER)
        .map(|(_, v)| v)
}

/// The tier a postback's key grants, or why it grants none: the header first (server, admin or browser key),
/// else `?key=` (the browser key only; the server and admin keys are never accepted from a URL), else nothing,
/// which is enough only while every key check is off (and then grants the browser tier to a cross-site request).
pub fn postback_caller(parts: &Parts, settings: &Settings) -> Result<Caller, ApiError> {
    if let Some(given) = header_key(parts) {
        if matches(given, &settings.api_key) || matches(given, &settings.admin_api_key) {
            return Ok(Caller::Server);
        }
        if matches(given, &settings.public_api_key) {
            return Ok(Caller::Public);
        }
        return Err(ApiError::Unauthorized);
    }
    if let Some(given) = query_key(parts) {
        return if matches(&given, &settings.public_api_key) {
            Ok(Caller::Public)
        } else {
            Err(ApiError::Unauthorized)
        };
    }
    if settings.api_key.is_none() && settings.public_api_key.is_none() {
        // Keys off: a page on another site gets no more than a landing page's browser key would.
        return Ok(
            if crate::cross_site::is_cross_site(&parts.headers, settings) {
                Caller::Public
            } else {
                Caller::Server
            },
        );
    }
    Err(ApiError::Unauthorized)
}

/// The tier a GET postback's key grants: the header as on POST, else `?key=` with the server key or the browser
/// key (never the admin key), else nothing, which is enough only while every key check is off.
pub fn get_postback_caller(parts: &Parts, settings: &Settings) -> Result<Caller, ApiError> {
    if header_key(parts).is_some() {
        return postback_caller(parts, settings);
    }
    if let Some(given) = query_key(parts) {
        if matches(&given, &settings.api_key) {
            return Ok(Caller::Server);
        }
        return if matches(&given, &settings.public_api_key) {
            Ok(Caller::Public)
        } else {
            Err(ApiError::Unauthorized)
        };
    }
    postback_caller(parts, settings)
}

/// The key tier a request presented, for the postback log (never the key itself).
pub fn presented_tier(parts: &Parts, settings: &Settings) -> &'static str {
    match header_key(parts)
        .map(str::to_string)
        .or_else(|| query_key(parts))
    {
        None => "none",
        Some(k) if matches(&k, &settings.api_key) => "server",
        Some(k) if matches(&k, &settings.admin_api_key) => "admin",
        Some(k) if matches(&k, &settings.public_api_key) => "public",
        Some(_) => "invalid",
    }
}

/// Who the request acts as: a key in the header first (the admin key; the postback keys are refused with 403), else
/// the session cookie (see [`crate::session`]), else anyone while the admin check is off (no `ADMIN_API_KEY`);
/// nothing is `401`.
pub async fn authenticate(parts: &Parts, app: &Leadpipe) -> Result<Actor, ApiError> {
    let s = &app.settings;
    if let Some(k) = header_key(parts) {
        let Some(admin) = &s.admin_api_key else {
            return Ok(Actor::open());
        };
        return if keys_equal(k, admin) {
            Ok(Actor::admin_key())
        } else if matches(k, &s.api_key) || matches(k, &s.public_api_key) {
            Err(ApiError::Forbidden)
        } else {
            Err(ApiError::Unauthorized)
        };
    }
    if let Some(raw) = crate::session::session_cookie(&parts.headers) {
        return crate::session::cookie_actor(parts, app, raw).await;
    }
    if s.admin_api_key.is_none() {
        return Ok(Actor::open());
    }
    Err(ApiError::Unauthorized)
}

/// Defines an extractor that admits an [`Actor`] whose role allows `$role` (else `403`).
macro_rules! role_access {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        pub struct $name(pub Actor);

        impl FromRequestParts<Leadpipe> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, app: &Leadpipe) -> Result<Self, ApiError> {
                let actor = authenticate(parts, app).await?;
                if actor.role.allows($role) {
                    Ok(Self(actor))
                } else {
                    Err(ApiError::Forbidden)
                }
            }
        }
    };
}

role_access!(
    /// A caller allowed to read dashboards and leads (viewer or above).
    ViewerAccess,
    Role::Viewer
);
role_access!(
    /// A caller allowed to move, edit, import and export (member or above).
    MemberAccess,
    Role::Member
);
role_access!(
    /// A caller allowed everything: users, keys, webhooks, settings, deletes (admin).
    AdminAccess,
    Role::Admin
);

/// Where the request came from: the client's address (API Gateway's source IP on Lambda, the socket's peer
/// locally; the first `X-Forwarded-For` address only when `TRUST_FORWARDED_FOR` says a trusted proxy is in front)
/// and its `User-Agent`.
pub struct ClientOrigin(pub Origin);

impl FromRequestParts<Leadpipe> for ClientOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Leadpipe) -> Result<Self, ApiError> {
        let from_proxy = if app.settings.trust_forwarded_for
            && from_trusted_proxy(&parts.headers, origin_secret())
        {
            proxied_client(&parts.headers)
        } else {
            None
        };
        let from_lambda = match parts
            .extensions
            .get::<lambda_http::request::RequestContext>()
        {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => {
                ctx.http.source_ip.clone()
            }
            _ => None,
        };
        let from_socket = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect());
        Ok(Self(Origin {
            client_ip: from_proxy.or(from_lambda).or(from_socket),
            user_agent,
        }))
    }
}

/// The header CloudFront adds to every request it forwards to the API (`ApiEdge=on`), holding [`ORIGIN_SECRET_VAR`].
pub const ORIGIN_SECRET_HEADER: &str = "x-leadpipe-origin-secret";
/// The variable holding the value CloudFront sends in [`ORIGIN_SECRET_HEADER`] (set by the template with
/// `ApiEdge=on`; unset locally).
pub const ORIGIN_SECRET_VAR: &str = "ORIGIN_SECRET";

fn origin_secret() -> Option<&'static str> {
    static SECRET: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    SECRET
        .get_or_init(|| {
            std::env::var(ORIGIN_SECRET_VAR)
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .as_deref()
}

/// Whether the forwarded client-address headers may be believed: always without an origin secret (a local
/// reverse proxy), else only when the request carries it. With `ApiEdge=on` the `execute-api` URL stays
/// reachable: a direct caller could forge `CloudFront-Viewer-Address` to escape the per-address quarantine, but
/// cannot know the secret CloudFront adds, so its own source address is used.
pub fn from_trusted_proxy(headers: &HeaderMap, secret: Option<&str>) -> bool {
    match secret {
        None => true,
        Some(secret) => headers
            .get(ORIGIN_SECRET_HEADER)
            .is_some_and(|v| bool::from(v.as_bytes().ct_eq(secret.as_bytes()))),
    }
}

/// The client address a trusted proxy reports: CloudFront's `CloudFront-Viewer-Address` (`ip:port`), else the
/// LAST `X-Forwarded-For` entry — the one the proxy appended; earlier entries come from the client and prove
/// nothing.
pub fn proxied_client(headers: &HeaderMap) -> Option<String> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(viewer) = text("cloudfront-viewer-address") {
        // "203.0.113.7:46532" or "[2001:db8::1]:46532" / "2001:db8::1:46532": the port is after the last colon.
        let ip = viewer
            .rsplit_once(':')
            .map_or(viewer, |(ip, _)| ip)
            .trim_start_matches('[')
            .trim_end_matches(']');
        if ip.parse::<std::net::IpAddr>().is_ok() {
            return Some(ip.to_string());
        }
    }
    let last = text("x-forwarded-for")?.rsplit(',').next()?.trim();
    last.parse::<std::net::IpAddr>()
        .is_ok()
        .then(|| last.to_string())
}

/// A refused body, with what was read of it (for the postback log).
pub struct BodyRefused {
    /// The error to answer.
    pub error: ApiError,
    /// The first bytes of the body.
    pub prefix: Bytes,
}

/// Reads a JSON body of at most [`MAX_BODY_BYTES`]: `application/json`, `text/plain` (what `sendBeacon` and simple
/// CORS requests send), `+json` types or no content type; anything else is 415, a larger body 413.
pub async fn read_json_body(headers: &HeaderMap, body: Body) -> Result<Bytes, BodyRefused> {
    if let Some(ct) = headers.get(CONTENT_TYPE) {
        let mime = ct
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != "application/json" && mime != "text/plain" && !mime.ends_with("+json") {
            let prefix = read_prefix(body).await;
            return Err(BodyRefused {
                error: ApiError::UnsupportedMediaType,
                prefix,
            });
        }
    }
    let too_large = || {
        ApiError::Invalid(ValidationError::body(
            ErrorCode::PayloadTooLarge,
            format!("body is larger than {MAX_BODY_BYTES} bytes"),
        ))
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = body;
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        let prefix = read_prefix(body).await;
        return Err(BodyRefused {
            error: too_large(),
            prefix,
        });
    }
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyRefused {
            error: ApiError::Invalid(ValidationError::body(
                ErrorCode::InvalidBody,
                format!("could not read the body: {e}"),
            )),
            prefix: Bytes::new(),
        })?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > MAX_BODY_BYTES {
                drain(body).await;
                bytes.truncate(leadpipe_core::store::POSTBACK_LOG_BODY_BYTES);
                return Err(BodyRefused {
                    error: too_large(),
                    prefix: Bytes::from(bytes),
                });
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(bytes))
}

/// Reads a whole body of at most `max` bytes, whatever its content type (the caller reads it); a larger body is a
/// 413, answered before reading it when `Content-Length` says so.
pub async fn read_limited_body(
    headers: &HeaderMap,
    body: Body,
    max: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::Invalid(ValidationError::body(
            ErrorCode::PayloadTooLarge,
            format!("body is larger than {max} bytes"),
        ))
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        drain_up_to(body, max.saturating_add(DRAIN_LIMIT)).await;
        return Err(too_large());
    }
    let mut body = body;
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::Invalid(ValidationError::body(
                ErrorCode::InvalidBody,
                format!("could not read the body: {e}"),
            ))
        })?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > max {
                drain_up_to(body, max.saturating_add(DRAIN_LIMIT)).await;
                return Err(too_large());
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(bytes))
}

/// The first bytes of a body that will not be used (kept for the postback log), the rest drained.
async fn read_prefix(mut body: Body) -> Bytes {
    let mut prefix = Vec::new();
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            let room = leadpipe_core::store::POSTBACK_LOG_BODY_BYTES.saturating_sub(prefix.len());
            prefix.extend_from_slice(&data[..data.len().min(room)]);
            if room < data.len() {
                break;
            }
        }
    }
    drain(body).await;
    Bytes::from(prefix)
}

/// A raw JSON body (see [`read_json_body`]).
pub struct JsonBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        read_json_body(&parts.headers, body)
            .await
            .map(Self)
            .map_err(|r| r.error)
    }
}

/// Most bytes of an oversized body read and discarded before answering 413, past what the route accepts: reading
/// them lets the client finish sending and read the answer (instead of a broken pipe); past this the connection is
/// simply closed.
const DRAIN_LIMIT: usize = 1024 * 1024;

async fn drain(body: Body) {
    drain_up_to(body, DRAIN_LIMIT).await
}

/// Reads and discards up to `limit` bytes of `body`.
async fn drain_up_to(mut body: Body, limit: usize) {
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        seen += frame.data_ref().map_or(0, |d| d.len());
        if seen > limit {
            break;
        }
    }
}

/// Decodes a query string into its parameters, in order; a malformed one is a 400.
pub fn decode_query(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(raw).map_err(|e| {
        ApiError::Invalid(ValidationError::body(
            ErrorCode::InvalidQuery,
            format!("query string does not decode: {e}"),
        ))
    })
}

/// Decoded query parameters, in order; a malformed query string is a 400.
pub struct QueryParams(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        decode_query(parts.uri.query().unwrap_or("")).map(Self)
    }
}

/// The `{id}` path parameter as a lead id; anything but a UUID is a 400.
pub struct LeadIdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for LeadIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let invalid = || ApiError::Invalid(ValidationError::field("id", "lead id must be a UUID"));
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| invalid())?;
        Uuid::parse_str(&raw).map(Self).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_with_the_origin_secret_when_one_is_set() {
        let forged = headers(&[("cloudfront-viewer-address", "198.51.100.9:1")]);
        assert!(
            from_trusted_proxy(&forged, None),
            "no secret: a local proxy"
        );
        assert!(!from_trusted_proxy(&forged, Some("s3cret-from-the-stack")));
        let wrong = headers(&[
            ("cloudfront-viewer-address", "198.51.100.9:1"),
            (ORIGIN_SECRET_HEADER, "guess"),
        ]);
        assert!(!from_trusted_proxy(&wrong, Some("s3cret-from-the-stack")));
        let edge = headers(&[
            ("cloudfront-viewer-address", "198.51.100.9:1"),
            (ORIGIN_SECRET_HEADER, "s3cret-from-the-stack"),
        ]);
        assert!(from_trusted_proxy(&edge, Some("s3cret-from-the-stack")));
    }

    #[test]
    fn the_proxy_reported_address_wins_and_client_supplied_entries_do_not() {
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7")]);
        assert_eq!(
            proxied_client(&h).as_deref(),
            Some("203.0.113.7"),
            "the last entry is the proxy's"
        );
        let h = headers(&[
            ("cloudfront-viewer-address", "198.51.100.9:46532"),
            ("x-forwarded-for", "6.6.6.6"),
        ]);
        assert_eq!(proxied_client(&h).as_deref(), Some("198.51.100.9"));
        let h = headers(&[("cloudfront-viewer-address", "[2001:db8::1]:443")]);
        assert_eq!(proxied_client(&h).as_deref(), Some("2001:db8::1"));
        let h = headers(&[("cloudfront-viewer-address", "2001:db8::1:443")]);
        assert_eq!(proxied_client(&h).as_deref(), Some("2001:db8::1"));
        for junk in ["", "not-an-ip", "1.2.3.4, <script>"] {
            assert_eq!(
                proxied_client(&headers(&[("x-forwarded-for", junk)])),
                None,
                "{junk:?}"
            );
        }
    }
}
