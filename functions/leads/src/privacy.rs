//! Privacy requests (admin; see [`leadpipe_core::privacy_service`]):
//!
//! - `POST /api/privacy/erasure` erases a person from every place Leadpipe keeps them and answers the receipt;
//! - `GET /api/privacy/export?email=|phone=|lead_id=` answers everything held about them as one JSON document
//!   (a download).

use axum::extract::State;
use axum::http::header::CONTENT_DISPOSITION;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use leadpipe_core::audit_service::ChangedBy;
use leadpipe_core::domain::privacy::{ErasureReceipt, ErasureRequest, ErasureRequestError};
use leadpipe_core::error::json_object_body;
use leadpipe_core::{ErrorCode, Leadpipe, ValidationError};
use leadpipe_http::{AdminAccess, ApiError, ClientOrigin, JsonBody, QueryParams};

/// Largest erasure request body, in bytes.
const MAX_ERASURE_BODY_BYTES: usize = 4 * 1024;

/// The routes of this module.
pub fn router() -> Router<Leadpipe> {
    Router::new()
        .route("/api/privacy/erasure", post(erase))
        .route("/api/privacy/export", get(export))
}

fn invalid(e: ErasureRequestError) -> ApiError {
    let code = if e.field == "query" {
        ErrorCode::InvalidQuery
    } else if e.field == "body" {
        ErrorCode::InvalidBody
    } else {
        ErrorCode::InvalidField
    };
    let error = ValidationError::new(code, e.to_string());
    ApiError::Invalid(if e.field == "body" {
        error
    } else {
        error.at(e.field)
    })
}

async fn erase(
    State(app): State<Leadpipe>,
    AdminAccess(actor): AdminAccess,
    ClientOrigin(origin): ClientOrigin,
    JsonBody(body): JsonBody,
) -> Result<Json<ErasureReceipt>, ApiError> {
    let object = json_object_body(&body, MAX_ERASURE_BODY_BYTES)?;
    let request = ErasureRequest::parse(&serde_json::Value::Object(object)).map_err(invalid)?;
    let by = ChangedBy::new(actor, origin.client_ip);
    Ok(Json(app.erase_person(&request, &by).await?))
}

async fn export(
    State(app): State<Leadpipe>,
    AdminAccess(actor): AdminAccess,
    ClientOrigin(origin): ClientOrigin,
    QueryParams(params): QueryParams,
) -> Result<impl IntoResponse, ApiError> {
    let request = ErasureRequest::from_query(&params).map_err(invalid)?;
    let by = ChangedBy::new(actor, origin.client_ip);
    let export = app.export_person(&request, &by).await?;
    Ok((
        [(
            CONTENT_DISPOSITION,
            "attachment; filename=\"leadpipe-person-export.json\"",
        )],
        Json(export),
    ))
}
