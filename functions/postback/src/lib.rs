//! The `postback` Lambda: `POST /api/postback`, where landing pages create and update leads.
//!
//! Answers 201 when the postback created a lead and 200 when it updated one, with
//! `{"lead_id", "created", "stage", "stage_changed", "warnings"}` only: a landing page's key never reads lead data.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use leadpipe_core::domain::Postback;
use leadpipe_core::service::PostbackOutcome;
use leadpipe_core::Leadpipe;
use leadpipe_http::{ApiError, IngestAccess, JsonBody};

/// The routes this function serves.
pub fn router() -> Router<Leadpipe> {
    Router::new().route("/api/postback", post(receive_postback))
}

async fn receive_postback(
    State(app): State<Leadpipe>,
    _access: IngestAccess,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<PostbackOutcome>), ApiError> {
    let postback = Postback::parse(&body, &app.settings.pipeline)?;
    let outcome = app.ingest_postback(&postback).await?;
    let status = if outcome.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(outcome)))
}
