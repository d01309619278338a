//! The `stage` Lambda: a marketer's changes to one lead (admin key).
//!
//! - `PUT /api/leads/{id}/stage` with `{"stage": "Paid"}` — a manual move, allowed in either direction and
//!   recorded in the history with `via: manual`.
//! - `POST /api/leads/{id}/release` — releases a quarantined lead: it counts in analytics and shows on the board
//!   again.
//! - `/api/leads/{id}/orders…` — an admin's changes to the lead's orders (see [`orders`]).

pub mod orders;

use axum::extract::State;
use axum::routing::{post, put};
use axum::{Json, Router};
use leadpipe_core::audit_service::ChangedBy;
use leadpipe_core::domain::{AuditAction, Lead};
use leadpipe_core::{ErrorCode, Leadpipe, ValidationError};
use leadpipe_http::{ApiError, ClientOrigin, JsonBody, LeadIdPath, MemberAccess};
use serde::Serialize;
use serde_json::{json, Value};

/// The routes this function serves.
pub fn router() -> Router<Leadpipe> {
    Router::new()
        .route("/api/leads/{id}/stage", put(move_stage))
        .route("/api/leads/{id}/release", post(release))
        .merge(orders::router())
}

/// `POST /api/leads/{id}/release` answer.
#[derive(Serialize)]
pub struct Released {
    /// The lead, no longer quarantined.
    pub lead: Lead,
}

async fn release(
    State(app): State<Leadpipe>,
    MemberAccess(actor): MemberAccess,
    ClientOrigin(origin): ClientOrigin,
    LeadIdPath(id): LeadIdPath,
) -> Result<Json<Released>, ApiError> {
    let lead = app.set_quarantine(id, None).await?;
    let by = ChangedBy::new(actor, origin.client_ip);
    app.audit(&by, AuditAction::LeadReleased, &id.to_string(), json!({}))
        .await;
    Ok(Json(Released { lead }))
}

/// `PUT /api/leads/{id}/stage` answer.
#[derive(Serialize)]
pub struct StageMoved {
    /// The lead after the move.
    pub lead: Lead,
    /// False when the lead already was in that stage.
    pub stage_changed: bool,
}

/// Reads `{"stage": "<name>"}`; anything else is a 400 naming the problem.
pub fn parse_stage_body(body: &[u8]) -> Result<String, ValidationError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ValidationError::body(
            ErrorCode::InvalidJson,
            format!("body is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(obj) = value else {
        return Err(ValidationError::body(
            ErrorCode::InvalidJson,
            "body must be a JSON object like {\"stage\": \"Paid\"}",
        ));
    };
    if let Some(other) = obj.keys().find(|k| *k != "stage") {
        return Err(
            ValidationError::new(ErrorCode::UnknownField, "only \"stage\" may be sent").at(other),
        );
    }
    match obj.get("stage") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(ValidationError::field("stage", "stage is required"))
        }
        Some(_) => Err(ValidationError::field("stage", "stage must be a string")),
    }
}

async fn move_stage(
    State(app): State<Leadpipe>,
    MemberAccess(actor): MemberAccess,
    ClientOrigin(origin): ClientOrigin,
    LeadIdPath(id): LeadIdPath,
    JsonBody(body): JsonBody,
) -> Result<Json<StageMoved>, ApiError> {
    let stage = app.settings.pipeline.stage(&parse_stage_body(&body)?)?;
    let (lead, stage_changed, before) = app.move_stage_by(id, &stage, Some(actor.label())).await?;
    if stage_changed {
        let by = ChangedBy::new(actor, origin.client_ip);
        let summary = json!({"from": before.as_str(), "to": lead.stage.as_str()});
        app.audit(&by, AuditAction::LeadStageMoved, &id.to_string(), summary)
            .await;
    }
    Ok(Json(StageMoved {
        lead,
        stage_changed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_stage() {
        assert_eq!(parse_stage_body(br#"{"stage": "paid"}"#).unwrap(), "paid");
    }

    #[test]
    fn refuses_everything_else() {
        assert_eq!(
            parse_stage_body(b"{").unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            parse_stage_body(b"\"Paid\"").unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            parse_stage_body(b"{}").unwrap_err().field.as_deref(),
            Some("stage")
        );
        assert_eq!(
            parse_stage_body(br#"{"stage": 3}"#)
                .unwrap_err()
                .field
                .as_deref(),
            Some("stage")
        );
        assert_eq!(
            parse_stage_body(br#"{"stage": " "}"#)
                .unwrap_err()
                .field
                .as_deref(),
            Some("stage")
        );
        assert_eq!(
            parse_stage_body(br#"{"stage": "Paid", "x": 1}"#)
                .unwrap_err()
                .code,
            ErrorCode::UnknownField
        );
    }
}
