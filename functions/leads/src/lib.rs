//! The `leads` Lambda: listing, reading and deleting leads (admin key).
//!
//! - `GET /api/leads` — newest first, filtered, paginated by an opaque cursor (see [`query`]), with the listing's
//!   total: exact from counters where they allow, else counted within a read budget (`total_exact: false`).
//! - `GET /api/leads/export` — the same listing for members and admins (viewers may not export).
//! - `GET /api/leads/{id}` — the lead and its stage history.
//! - `DELETE /api/leads/{id}` — removes the lead, its history and its email claim; 204.
//! - `GET /api/postbacks?status=rejected|quarantined` — the postback log: what was refused or quarantined, why,
//!   and the start of its body, newest first.
//! - `POST /api/import` — imports a CSV (header row) or JSON-lines file of leads, at most [`MAX_IMPORT_BYTES`]
//!   (API Gateway and Lambda cap a request near 6 MB, and an HTTP API answers within 30 s: larger files go through
//!   `leadpipe import FILE`); answers the [`ImportReport`].
//! - `/api/webhooks…` — webhooks and their deliveries (see [`webhooks`]).
//! - `/api/auth/…`, `/api/users…` — sign-in, sessions and users (see [`accounts`]).
//! - `POST /api/privacy/erasure` — erases a person everywhere (see [`privacy`]).
//!
//! Every answer stays under [`MAX_RESPONSE_BYTES`]: a page of large leads is cut short (with its cursor), far
//! from Lambda's 6 MB response limit.

pub mod accounts;
pub mod audit;
pub mod privacy;
pub mod query;
pub mod two_factor;
pub mod webhooks;

use axum::extract::Request;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use leadpipe_core::audit_service::ChangedBy;
use leadpipe_core::domain::import::{Format, ImportReport, Rows};
use leadpipe_core::domain::{AuditAction, Lead, StageChange};
use leadpipe_core::store::{ListQuery, PostbackLogEntry};
use leadpipe_core::{ErrorCode, Leadpipe, ValidationError};
use leadpipe_http::{
    read_limited_body, AdminAccess, ApiError, ClientOrigin, LeadIdPath, MemberAccess, QueryParams,
    ViewerAccess,
};
use serde::Serialize;
use serde_json::json;

/// Largest answer, in bytes of JSON.
pub const MAX_RESPONSE_BYTES: usize = 900 * 1024;

/// The routes this function serves.
pub fn router() -> Router<Leadpipe> {
    Router::new()
        .route("/api/leads", get(list_leads))
        .route("/api/leads/count", get(count_leads))
        .route("/api/leads/export", get(export_leads))
        .route("/api/leads/{id}", get(get_lead).delete(delete_lead))
        .route("/api/postbacks", get(postback_log))
        .route("/api/import", post(import))
        .merge(webhooks::router())
        .merge(accounts::router())
        .merge(two_factor::router())
        .merge(audit::router())
        .merge(privacy::router())
}

/// Largest `POST /api/import` body, in bytes, for `leadpipe serve` (5 MiB).
pub const MAX_IMPORT_BYTES: usize = 5 * 1024 * 1024;

/// On Lambda: API Gateway may hand the body base64-encoded (4 bytes per 3) inside the event's JSON, and Lambda
/// refuses requests over 6 MB (6,291,456 bytes): 4 MiB becomes 5,592,408 bytes, leaving room for the envelope.
pub const LAMBDA_MAX_IMPORT_BYTES: usize = 4 * 1024 * 1024;

/// On Lambda: most lines per request. The function has 29 s (API Gateway stops waiting at 30 s); rows cost a
/// round trip or two each, 16 in flight, so 10,000 lines keep well inside it. Bigger files: `leadpipe import`.
pub const LAMBDA_MAX_IMPORT_LINES: usize = 10_000;

/// The body and line limits of one import request: Lambda's when running there.
pub fn import_limits(on_lambda: bool) -> (usize, Option<usize>) {
    if on_lambda {
        (LAMBDA_MAX_IMPORT_BYTES, Some(LAMBDA_MAX_IMPORT_LINES))
    } else {
        (MAX_IMPORT_BYTES, None)
    }
}

/// Whether a body has more than `max` lines (a header row counts; quoted newlines too, which errs on the safe
/// side).
fn too_many_lines(bytes: &[u8], max: usize) -> bool {
    bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .nth(max)
        .is_some()
}

/// `POST /api/import`: the body as CSV (`text/csv`) or JSON lines (`application/x-ndjson`, `application/jsonl`),
/// else sniffed; a body that is neither is a 400, a larger one than [`MAX_IMPORT_BYTES`] a 413.
async fn import(
    State(app): State<Leadpipe>,
    MemberAccess(actor): MemberAccess,
    ClientOrigin(origin): ClientOrigin,
    request: Request,
) -> Result<Json<ImportReport>, ApiError> {
    let (parts, body) = request.into_parts();
    let (max_bytes, max_lines) =
        import_limits(std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some());
    let bytes = read_limited_body(&parts.headers, body, max_bytes).await?;
    if let Some(max) = max_lines.filter(|max| too_many_lines(&bytes, *max)) {
        return Err(ApiError::Invalid(ValidationError::body(
            ErrorCode::PayloadTooLarge,
            format!(
                "more than {max} lines in one request: split the file, or use `leadpipe import`"
            ),
        )));
    }
    let format = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(Format::from_content_type);
    let rows = Rows::new(&bytes[..], format).map_err(|e| {
        ApiError::Invalid(ValidationError::body(ErrorCode::InvalidBody, e.to_string()))
    })?;
    let report = app.import(rows, |_| {}).await?;
    let summary = json!({
        "rows": report.rows(),
        "bytes": bytes.len(),
        "imported": report.imported,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": report.rejected_total,
    });
    let by = ChangedBy::new(actor, origin.client_ip);
    app.audit(&by, AuditAction::LeadsImported, "-", summary)
        .await;
    Ok(Json(report))
}

/// `GET /api/leads` answer.
#[derive(Serialize)]
pub struct LeadList {
    /// Newest first.
    pub leads: Vec<Lead>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
    /// All matching leads when `total_exact`, else a lower bound (see [`leadpipe_core::totals`]).
    pub total: i64,
    /// Whether `total` is exact (from counters, or the whole listing was counted) or a lower bound (counting
    /// stopped at its read budget).
    pub total_exact: bool,
}

/// `GET /api/leads/{id}` answer.
#[derive(Serialize)]
pub struct LeadDetail {
    /// The lead.
    pub lead: Lead,
    /// Oldest first.
    pub history: Vec<StageChange>,
}

/// The listing query of `GET /api/leads` and `GET /api/leads/count`, read against this deployment's stages and zone.
fn list_query(app: &Leadpipe, params: &[(String, String)]) -> Result<ListQuery, ApiError> {
    Ok(query::parse_list_query(
        params,
        &app.settings.pipeline,
        &app.settings.time_zone,
        chrono::Utc::now(),
    )?)
}

async fn list_leads(
    State(app): State<Leadpipe>,
    _: ViewerAccess,
    QueryParams(params): QueryParams,
) -> Result<Json<LeadList>, ApiError> {
    listing(&app, list_query(&app, &params)?).await.map(Json)
}

/// `GET /api/leads/export`: the same pages as `GET /api/leads` (same parameters and answer), for members and
/// admins only — viewers may not export. The dashboard pages through it and writes the CSV itself
/// (`static-site/js/csv.js`: one CSV writer, with revenue per currency and formula neutralising).
///
/// The first page of an export (no cursor, no page past the first) writes one `leads.exported` audit entry
/// holding the filter and the total, so one export is one entry however many pages it reads.
async fn export_leads(
    State(app): State<Leadpipe>,
    MemberAccess(actor): MemberAccess,
    ClientOrigin(origin): ClientOrigin,
    QueryParams(params): QueryParams,
) -> Result<Json<LeadList>, ApiError> {
    let q = list_query(&app, &params)?;
    let first_page = q.after.is_none() && q.skip == 0;
    let list = listing(&app, q).await?;
    if first_page {
        let filter: serde_json::Map<String, serde_json::Value> = params
            .iter()
            .filter(|(k, v)| !v.is_empty() && !matches!(k.as_str(), "cursor" | "limit" | "page"))
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let summary =
            json!({ "filter": filter, "total": list.total, "total_exact": list.total_exact });
        let by = ChangedBy::new(actor, origin.client_ip);
        app.audit(&by, AuditAction::LeadsExported, "-", summary)
            .await;
    }
    Ok(Json(list))
}

async fn listing(app: &Leadpipe, q: ListQuery) -> Result<LeadList, ApiError> {
    let (mut page, total) = app.list_leads(&q).await?;
    // Keep the answer small whatever the leads hold: cut the page, and continue from its last lead.
    let mut size = 0usize;
    if let Some(cut) = page.leads.iter().position(|l| {
        size += serde_json::to_vec(l).map(|v| v.len()).unwrap_or(0) + 1;
        size > MAX_RESPONSE_BYTES
    }) {
        page.leads.truncate(cut.max(1));
        page.next_after = page.leads.last().and_then(|l| q.order.key_of(l));
    }
    let next_cursor = page
        .next_after
        .as_deref()
        .map(|k| query::encode_cursor(k, q.order));
    Ok(LeadList {
        leads: page.leads,
        next_cursor,
        total: total.count,
        total_exact: total.exact,
    })
}

/// `GET /api/leads/count` answer.
#[derive(Serialize)]
pub struct LeadCount {
    /// Every matching lead when `total_exact` (else a lower bound: past the count's read ceiling).
    pub total: i64,
    /// Whether `total` is exact.
    pub total_exact: bool,
}

/// `GET /api/leads/count`: "count all" — the exact number of leads the same filters as `GET /api/leads` list,
/// when the listing's own `total` is only a lower bound (see [`leadpipe_core::store::LeadStore::count_all`]).
async fn count_leads(
    State(app): State<Leadpipe>,
    _: ViewerAccess,
    QueryParams(params): QueryParams,
) -> Result<Json<LeadCount>, ApiError> {
    let q = list_query(&app, &params)?;
    let total = app.count_all_leads(&q).await?;
    Ok(Json(LeadCount {
        total: total.count,
        total_exact: total.exact,
    }))
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
    _: MemberAccess,
    QueryParams(params): QueryParams,
) -> Result<Json<PostbackLog>, ApiError> {
    let since = (chrono::Utc::now()
        - chrono::Duration::days(i64::from(app.settings.postback_log_days)))
    .date_naive();
    let q = query::parse_log_query(&params, since)?;
    let page = app.postback_log(&q).await?;
    let next_cursor = page
        .next_after
        .as_deref()
        .map(|k| URL_SAFE_NO_PAD.encode(k));
    Ok(Json(PostbackLog {
        entries: page.entries,
        next_cursor,
    }))
}

async fn get_lead(
    State(app): State<Leadpipe>,
    _: ViewerAccess,
    LeadIdPath(id): LeadIdPath,
) -> Result<Json<LeadDetail>, ApiError> {
    let (lead, history) = app.lead_with_history(id).await?;
    Ok(Json(LeadDetail { lead, history }))
}

async fn delete_lead(
    State(app): State<Leadpipe>,
    AdminAccess(actor): AdminAccess,
    ClientOrigin(origin): ClientOrigin,
    LeadIdPath(id): LeadIdPath,
) -> Result<StatusCode, ApiError> {
    let before = app.delete_lead(id).await?;
    let summary = json!({
        "stage": before.stage.as_str(),
        "email": before.email.as_ref().map(|e| e.as_str()),
        "orders": before.orders.len(),
    });
    let by = ChangedBy::new(actor, origin.client_ip);
    app.audit(&by, AuditAction::LeadDeleted, &id.to_string(), summary)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod import_limit_tests {
    use super::*;

    #[test]
    fn on_lambda_the_body_fits_6_mb_after_base64_and_lines_are_capped() {
        let (bytes, lines) = import_limits(true);
        let envelope = 64 * 1024;
        assert!(bytes.div_ceil(3) * 4 + envelope <= 6 * 1024 * 1024);
        assert_eq!(lines, Some(LAMBDA_MAX_IMPORT_LINES));
        assert_eq!(import_limits(false), (MAX_IMPORT_BYTES, None));
    }

    #[test]
    fn lines_are_counted_without_blank_ones() {
        assert!(!too_many_lines(b"email\na@x.io\nb@x.io\n\n", 3));
        assert!(too_many_lines(b"email\na@x.io\nb@x.io\nc@x.io", 3));
    }
}
