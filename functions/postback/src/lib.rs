//! The `postback` Lambda: `POST /api/postback`, where landing pages create and update leads.
//!
//! - With the server key (`API_KEY`, or keys off): 201 when the postback created a lead, 200 when it updated one,
//!   with `{"lead_id", "created", "stage", "stage_changed", "warnings"}`.
//! - With the browser key (`PUBLIC_API_KEY`, header or `?key=`): always 202 with `{"token", "warnings"}` — the
//!   same status and shape for a new and an existing lead, nothing about the stored lead.
//!
//! A postback the store could not take (503) is kept in the postback log, or in the error log when the store is
//! down altogether. Only what cannot be a lead is refused — not JSON, not an object, too large, an unsupported content type, a bad
//! key — and every refusal is kept in the postback log (`GET /api/postbacks?status=rejected`) with its reason and
//! the start of its body. Anything else is stored, with what was not taken as sent in `warnings`. Any origin may
//! post (CORS `*`): postbacks are authorised by key, never by cookies.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use leadpipe_core::domain::Postback;
use leadpipe_core::ingest::{Ingested, Origin};
use leadpipe_core::store::LogStatus;
use leadpipe_core::Leadpipe;
use leadpipe_http::extract::{postback_caller, presented_tier, read_json_body, BodyRefused};
use leadpipe_http::{ApiError, ClientOrigin};

/// The routes this function serves.
pub fn router() -> Router<Leadpipe> {
    Router::new().route("/api/postback", post(receive_postback))
}

async fn receive_postback(State(app): State<Leadpipe>, ClientOrigin(origin): ClientOrigin, req: Request) -> Response {
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
        Err(BodyRefused { error, prefix }) => return refuse(&app, error, tier, &origin, &prefix).await,
    };
    let parsed = match Postback::parse(&body, &app.settings.pipeline, app.settings.honeypot_field.as_deref()) {
        Ok(parsed) => parsed,
        Err(invalid) => return refuse(&app, ApiError::Invalid(invalid), tier, &origin, &body).await,
    };
    match app.ingest(parsed, caller, &origin).await {
        Ok(Ingested::Server(o)) => (if o.created { StatusCode::CREATED } else { StatusCode::OK }, Json(o)).into_response(),
        Ok(Ingested::Public(o)) => (StatusCode::ACCEPTED, Json(o)).into_response(),
        // Nothing was stored (the store is unavailable or lost every retry): the body is kept in the postback log,
        // or in the error log when the store cannot take that either, and the client is told to retry.
        Err(e) => refuse(&app, ApiError::from(e), tier, &origin, &body).await,
    }
}

/// Answers a refused postback, after keeping it in the postback log.
async fn refuse(app: &Leadpipe, error: ApiError, tier: &str, origin: &Origin, body: &[u8]) -> Response {
    let tier = if matches!(error, ApiError::Unauthorized) && tier != "none" { "invalid" } else { tier };
    app.log_postback(LogStatus::Rejected, error.code().as_str(), error.to_string(), tier, origin, None, body).await;
    error.into_response()
}
