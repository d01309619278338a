//! The audit log, read-only (admin):
//!
//! - `GET /api/audit?from=&to=&actor=&action=&target=&cursor=&limit=` — entries of UTC days `from..=to` (default
//!   the last 7, at most 31), newest first, filtered exactly by actor label, action and target; `next_cursor`
//!   continues the listing.
//! - `GET /api/audit/export?…` — the same filter as CSV, every page up to [`EXPORT_MAX_ROWS`] entries; a longer
//!   export ends with a `# truncated` line saying so (narrow the days or filters).
//!
//! No route updates or deletes entries: the log is append-only, and entries expire after `AUDIT_RETENTION_DAYS`.

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use leadpipe_core::audit_service::AuditEntryView;
use leadpipe_core::domain::audit::{AuditEntry, AuditQuery, AuditQueryError, MAX_PAGE};
use leadpipe_core::{ErrorCode, Leadpipe, ValidationError};
use leadpipe_http::{AdminAccess, ApiError, QueryParams};
use serde::Serialize;

/// Most entries one export holds.
pub const EXPORT_MAX_ROWS: usize = 5_000;

/// The audit routes.
pub fn router() -> Router<Leadpipe> {
    Router::new()
        .route("/api/audit", get(list))
        .route("/api/audit/export", get(export))
}

/// `GET /api/audit` answer.
#[derive(Serialize)]
pub struct AuditList {
    /// Newest first.
    pub entries: Vec<AuditEntryView>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

/// A bad audit query as the API answers it (400 naming the parameter).
pub fn query_error(e: AuditQueryError) -> ApiError {
    let message = e.to_string();
    ApiError::Invalid(match e {
        AuditQueryError::UnknownParameter(name) => {
            ValidationError::new(ErrorCode::UnknownParameter, message).at(&name)
        }
        AuditQueryError::Invalid { field, .. } => ValidationError::field(field, message),
    })
}

fn parse(params: &[(String, String)]) -> Result<AuditQuery, ApiError> {
    AuditQuery::parse(params, chrono::Utc::now().date_naive()).map_err(query_error)
}

async fn list(
    State(app): State<Leadpipe>,
    _: AdminAccess,
    QueryParams(params): QueryParams,
) -> Result<Json<AuditList>, ApiError> {
    let q = parse(&params)?;
    let page = app.audit_log(&q).await?;
    Ok(Json(AuditList {
        entries: page.entries.into_iter().map(AuditEntryView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// The CSV header of an export.
pub const CSV_HEADER: &str = "id,at,actor,role,client_ip,action,target,summary";

/// One CSV field: quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-` or `@` is prefixed
/// with `'` so spreadsheets do not run it as a formula.
pub fn csv_field(raw: &str) -> String {
    let text = if raw.starts_with(['=', '+', '-', '@']) && raw != "-" {
        format!("'{raw}")
    } else {
        raw.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// An entry as one CSV line (with its line break).
pub fn csv_line(e: &AuditEntry) -> String {
    let fields = [
        e.id.to_string(),
        e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        e.actor_label(),
        e.actor.role.as_str().to_string(),
        e.client_ip.clone().unwrap_or_default(),
        e.action.as_str().to_string(),
        e.target.clone(),
        e.summary.to_string(),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

async fn export(
    State(app): State<Leadpipe>,
    _: AdminAccess,
    QueryParams(params): QueryParams,
) -> Result<Response, ApiError> {
    let mut q = parse(&params)?;
    q.limit = MAX_PAGE;
    let mut out = format!("{CSV_HEADER}\r\n");
    let mut rows = 0usize;
    loop {
        let page = app.audit_log(&q).await?;
        for e in &page.entries {
            if rows == EXPORT_MAX_ROWS {
                out.push_str(&format!(
                    "# truncated: the export keeps {EXPORT_MAX_ROWS} entries; narrow the days or filters\r\n"
                ));
                return Ok(csv_response(out));
            }
            out.push_str(&csv_line(e));
            rows += 1;
        }
        match page.next_cursor.and_then(|c| c.parse().ok()) {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    Ok(csv_response(out))
}

fn csv_response(body: String) -> Response {
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"audit-log.csv\"",
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("-"), "-");
        assert_eq!(
            csv_field("{\"a\":1,\"b\":2}"),
            "\"{\"\"a\"\":1,\"\"b\"\":2}\""
        );
    }
}
