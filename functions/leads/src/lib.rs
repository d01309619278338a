//! The `leads` Lambda: listing, reading and deleting leads (admin key).
//!
//! - `GET /api/leads` — newest first, filtered, paginated by an opaque cursor (see [`query`]).
//! - `GET /api/leads/{id}` — the lead and its stage history.
//! - `DELETE /api/leads/{id}` — removes the lead, its history and its email claim; 204.

pub mod query;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use leadpipe_core::domain::{Lead, StageChange};
use leadpipe_core::Leadpipe;
use leadpipe_http::{AdminAccess, ApiError, LeadIdPath, QueryParams};
use serde::Serialize;

/// The routes this function serves.
pub fn router() -> Router<Leadpipe> {
    Router::new().route("/api/leads", get(list_leads)).route("/api/leads/{id}", get(get_lead).delete(delete_lead))
}

/// `GET /api/leads` answer.
#[derive(Serialize)]
pub struct LeadList {
    /// Newest first.
    pub leads: Vec<Lead>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
    /// All matching leads, when known from counters (no filter but stage); else `null`.
    pub total: Option<i64>,
}

/// `GET /api/leads/{id}` answer.
#[derive(Serialize)]
pub struct LeadDetail {
    /// The lead.
    pub lead: Lead,
    /// Oldest first.
    pub history: Vec<StageChange>,
}

async fn list_leads(State(app): State<Leadpipe>, _: AdminAccess, QueryParams(params): QueryParams) -> Result<Json<LeadList>, ApiError> {
    let q = query::parse_list_query(&params, &app.settings.pipeline, app.settings.time_zone, chrono::Utc::now())?;
    let (page, total) = app.list_leads(&q).await?;
    let next_cursor = page.next_after.as_deref().map(|k| query::encode_cursor(k, q.oldest_first));
    Ok(Json(LeadList { leads: page.leads, next_cursor, total }))
}

async fn get_lead(State(app): State<Leadpipe>, _: AdminAccess, LeadIdPath(id): LeadIdPath) -> Result<Json<LeadDetail>, ApiError> {
    let (lead, history) = app.lead_with_history(id).await?;
    Ok(Json(LeadDetail { lead, history }))
}

async fn delete_lead(State(app): State<Leadpipe>, _: AdminAccess, LeadIdPath(id): LeadIdPath) -> Result<StatusCode, ApiError> {
    app.delete_lead(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
