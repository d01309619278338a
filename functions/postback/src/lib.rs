//! The `postback` Lambda: `POST /api/postback`, where landing pages create and update leads, and
//! `GET /api/postback?key=…&email=…&stage=…` for ad networks that can only fire a URL.
//!
//! - With the server key (`API_KEY`, or keys off): 201 when the postback created a lead, 200 when it updated one,
//!   with `{"lead_id", "created", "stage", "stage_changed", "warnings"}`.
//! - With the browser key (`PUBLIC_API_KEY`, header or `?key=`): always 202 with `{"token", "warnings"}` — the
//!   same status and shape for a new and an existing lead, nothing about the stored lead.
//!
//! Idempotent: a postback with an `event_id` field or an `Idempotency-Key` header (which wins) is applied once; a
//! repeat within 24 hours answers the first response (same status and body, with `Idempotent-Replayed: true`) and
//! changes nothing, or 409 while the first is still being applied (see `leadpipe_core::idempotency`). Keys are
//! per key tier: the browser key never sees a server key's response.
//!
//! GET postbacks: every postback field as a query parameter (see `Postback::from_query`), with the same rules,
//! warnings, statuses and idempotency (`event_id` parameter or `Idempotency-Key` header) as POST. `key` may be the
//! server key (`API_KEY`, the one place it may travel in a URL) or the browser key with its restrictions; the admin
//! key never. With `pixel=1` the answer is always a 1×1 GIF (`image/gif`, `Cache-Control: no-store`), whatever
//! happened — the postback is still stored, refusals still logged.
//!
//! A postback the store could not take (503) is kept in the postback log, or in the error log when the store is
//! down altogether. Only what cannot be a lead is refused — not JSON, not an object, too large, an unsupported content type, a bad
//! key — and every refusal is kept in the postback log (`GET /api/postbacks?status=rejected`) with its reason and
//! the start of its body. Anything else is stored, with what was not taken as sent in `warnings`. Any origin may
//! post (CORS `*`): postbacks are authorised by key, never by cookies.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use leadpipe_core::domain::postback::MAX_BODY_BYTES;
use leadpipe_core::domain::Postback;
use leadpipe_core::idempotency::{header_not_text, postback_key, Answer, IDEMPOTENCY_HEADER};
use leadpipe_core::ingest::Origin;
use leadpipe_core::store::LogStatus;
use leadpipe_core::Leadpipe;
use leadpipe_core::{ErrorCode, ValidationError};
use leadpipe_http::extract::{
    get_postback_caller, postback_caller, presented_tier, read_json_body, BodyRefused,
    KEY_PARAMETER,
};
use leadpipe_http::{ApiError, ClientOrigin};

/// The routes this function serves.
pub fn router() -> Router<Leadpipe> {
    Router::new().route(
        "/api/postback",
        post(receive_postback).get(receive_get_postback),
    )
}

async fn receive_postback(
    State(app): State<Leadpipe>,
    ClientOrigin(origin): ClientOrigin,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let tier = presented_tier(&parts, &app.settings);
    let caller = match postback_caller(&parts, &app.settings) {
        Ok(caller) => caller,
        Err(error) => {
            let prefix = match read_json_body(&parts.headers, body).await {
                Ok(b) => b,
                Err(BodyRefused { prefix, .. }) => prefix,
            };
            return refuse(&app, error, tier, &origin, &prefix).await;
        }
    };
    let body = match read_json_body(&parts.headers, body).await {
        Ok(body) => body,
        Err(BodyRefused { error, prefix }) => {
            return refuse(&app, error, tier, &origin, &prefix).await
        }
    };
    let parsed = match Postback::parse(
        &body,
        &app.settings.pipeline,
        app.settings.honeypot_field.as_deref(),
    ) {
        Ok(parsed) => parsed,
        Err(invalid) => {
            return refuse(&app, ApiError::Invalid(invalid), tier, &origin, &body).await
        }
    };
    apply(&app, &parts, &origin, parsed, caller, tier, &body).await
}

/// The query parameter that asks for a 1×1 GIF answer.
pub const PIXEL_PARAMETER: &str = "pixel";

/// The 1×1 transparent GIF a `pixel=1` GET postback answers.
pub const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

async fn receive_get_postback(
    State(app): State<Leadpipe>,
    ClientOrigin(origin): ClientOrigin,
    req: Request,
) -> Response {
    let (parts, _body) = req.into_parts();
    let raw = parts.uri.query().unwrap_or("");
    let decoded = leadpipe_http::extract::decode_query(raw);
    let pixel = decoded.as_ref().is_ok_and(|pairs| {
        pairs
            .iter()
            .any(|(k, v)| k == PIXEL_PARAMETER && matches!(v.as_str(), "1" | "true"))
    });
    let answer = get_postback(&app, &parts, &origin, raw, decoded).await;
    if pixel {
        return (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/gif")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            PIXEL_GIF,
        )
            .into_response();
    }
    answer
}

async fn get_postback(
    app: &Leadpipe,
    parts: &axum::http::request::Parts,
    origin: &Origin,
    raw: &str,
    decoded: Result<Vec<(String, String)>, ApiError>,
) -> Response {
    let tier = presented_tier(parts, &app.settings);
    let too_large = raw.len() > MAX_BODY_BYTES;
    // What the postback log keeps: the query without the key.
    let pairs: Vec<(String, String)> = match decoded {
        Ok(pairs) => pairs
            .into_iter()
            .filter(|(k, _)| k != KEY_PARAMETER && k != PIXEL_PARAMETER)
            .collect(),
        Err(error) => return refuse(app, error, tier, origin, b"").await,
    };
    let (parsed, object) = Postback::from_query(
        pairs,
        &app.settings.pipeline,
        app.settings.honeypot_field.as_deref(),
    );
    let logged = serde_json::to_vec(&object).unwrap_or_default();
    let caller = match get_postback_caller(parts, &app.settings) {
        Ok(caller) => caller,
        Err(error) => return refuse(app, error, tier, origin, &logged).await,
    };
    if too_large {
        let error = ValidationError::body(
            ErrorCode::PayloadTooLarge,
            format!("query string is larger than {MAX_BODY_BYTES} bytes"),
        );
        return refuse(app, ApiError::Invalid(error), tier, origin, &logged).await;
    }
    apply(app, parts, origin, parsed, caller, tier, &logged).await
}

/// Applies a parsed postback once per idempotency key, answering as POST does.
async fn apply(
    app: &Leadpipe,
    parts: &axum::http::request::Parts,
    origin: &Origin,
    parsed: leadpipe_core::domain::postback::Parsed,
    caller: leadpipe_core::ingest::Caller,
    tier: &str,
    body: &[u8],
) -> Response {
    let header = match parts.headers.get(IDEMPOTENCY_HEADER).map(|v| v.to_str()) {
        None => None,
        Some(Ok(text)) => Some(text),
        Some(Err(_)) => {
            return refuse(
                app,
                ApiError::Invalid(header_not_text()),
                tier,
                origin,
                body,
            )
            .await
        }
    };
    let key = match postback_key(header, parsed.postback.event_id.as_ref()) {
        Ok(key) => key,
        Err(invalid) => return refuse(app, ApiError::Invalid(invalid), tier, origin, body).await,
    };
    match app
        .ingest_once(parsed, caller, origin, key.as_ref(), body)
        .await
    {
        Ok(answer) => answered(answer),
        // The person asked to be erased: the refusal is logged without the body (it holds them).
        Err(e @ leadpipe_core::service::ServiceError::Suppressed) => {
            refuse(app, ApiError::from(e), tier, origin, b"").await
        }
        // Nothing was stored (the store is unavailable or lost every retry): the body is kept in the postback log,
        // or in the error log when the store cannot take that either, and the client is told to retry.
        Err(e) => refuse(app, ApiError::from(e), tier, origin, body).await,
    }
}

/// The answer of an applied (or replayed) postback: its status and JSON body as stored.
pub fn answered(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.response.status).unwrap_or(StatusCode::OK);
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        answer.response.body,
    )
        .into_response();
    if answer.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// Answers a refused postback, after keeping it in the postback log.
async fn refuse(
    app: &Leadpipe,
    error: ApiError,
    tier: &str,
    origin: &Origin,
    body: &[u8],
) -> Response {
    let tier = if matches!(error, ApiError::Unauthorized) && tier != "none" {
        "invalid"
    } else {
        tier
    };
    app.log_postback(
        LogStatus::Rejected,
        error.code().as_str(),
        error.to_string(),
        tier,
        origin,
        None,
        body,
    )
    .await;
    error.into_response()
}
