//! The `leads` Lambda: listing, reading and deleting leads (admin key).
//!
//! - `GET /api/leads` — newest first, filtered, paginated by an opaque cursor (see [`query`]).
//! - `GET /api/leads/{id}` — the lead and its stage history.
//! - `DELETE /api/leads/{id}` — removes the lead, its history and its email claim; 204.
//! - `GET /api/postbacks?status=rejected|quarantined` — the postback log: what was refused or quarantined, why,
//!   and the start of its body, newest first.
//!
//! Every answer stays under [`MAX_RESPONSE_BYTES`]: a page of large leads is cut short (with its cursor), far
//! from Lambda's 6 MB response limit.

pub mod query;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use leadpipe_core::domain::{Lead, StageChange};
use leadpipe_core::store::PostbackLogEntry;
use leadpipe_core::Leadpipe;
use leadpipe_http::{AdminAccess, ApiError, LeadIdPath, QueryParams};
use serde::Serialize;

/// Largest answer, in bytes of JSON.
pub const MAX_RESPONSE_BYTES: usize = 900 * 1024;

/// The routes this function serves.
pub fn router() -> Router<Leadpipe> {
    Router::new()
        .route("/api/leads", get(list_leads))
        .route("/api/leads/{id}", get(get_lead).delete(delete_lead))
        .route("/api/postbacks", get(postback_log))
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
    let q = query::parse_list_query(&params, &app.settings.pipeline, &app.settings.time_zone, chrono::Utc::now())?;
    let (mut page, total) = app.list_leads(&q).await?;
    // Keep the answer small whatever the leads hold: cut the page, and continue from its last lead.
    let mut size = 0usize;
    if let Some(cut) = page.leads.iter().position(|l| {
        size += serde_json::to_vec(l).map(|v| v.len()).unwrap_or(0) + 1;
        size > MAX_RESPONSE_BYTES
    }) {
        page.leads.truncate(cut.max(1));
        page.next_after = page.leads.last().map(Lead::created_key);
    }
    let next_cursor = page.next_after.as_deref().map(|k| query::encode_cursor(k, q.oldest_first));
    Ok(Json(LeadList { leads: page.leads, next_cursor, total }))
}

/// `GET /api/postbacks` answer.
#[derive(Serialize)]
pub struct PostbackLog {
    /// Newest first.
    pub entries: Vec<PostbackLogEntry>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

async fn postback_log(
    State(app): State<Leadpipe>,
    _: AdminAccess,
    QueryParams(params): QueryParams,
) -> Result<Json<PostbackLog>, ApiError> {
    let since = (chrono::Utc::now() - chrono::Duration::days(i64::from(app.settings.postback_log_days))).date_naive();
    let q = query::parse_log_query(&params, since)?;
    let page = app.postback_log(&q).await?;
    let next_cursor = page.next_after.as_deref().map(|k| URL_SAFE_NO_PAD.encode(k));
    Ok(Json(PostbackLog { entries: page.entries, next_cursor }))
}

async fn get_lead(State(app): State<Leadpipe>, _: AdminAccess, LeadIdPath(id): LeadIdPath) -> Result<Json<LeadDetail>, ApiError> {
    let (lead, history) = app.lead_with_history(id).await?;
    Ok(Json(LeadDetail { lead, history }))
}

async fn delete_lead(State(app): State<Leadpipe>, _: AdminAccess, LeadIdPath(id): LeadIdPath) -> Result<StatusCode, ApiError> {
    app.delete_lead(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
