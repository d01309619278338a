//! Ad spend and exchange rates (admin key), served by the analytics function beside the figures they feed.
//!
//! - `GET /api/spend?from=YYYY-MM-DD&to=YYYY-MM-DD` — the spend rows of those days (default: the last 30 days),
//!   amounts as `{"minor", "currency", "amount"}` (integer minor units and their decimal text: never a float).
//! - `POST /api/spend` — `{"rows": [{"day", "source", "campaign", "domain"?, "amount", "currency", "clicks"?,
//!   "impressions"?}]}` (at most 5,000 rows); each row replaces the stored row of its day × source × campaign ×
//!   domain. Answers `{"stored", "rejected": [{"row", "field", "message"}]}`.
//! - `DELETE /api/spend` — `{"keys": ["<day>|<source>|<campaign>|<domain>", …]}` (the `key` of each row); answers
//!   `{"deleted"}`.
//! - `POST /api/spend/import?format=auto|google_ads|meta|native&source=&currency=` — a spend file as `text/csv`
//!   (Google Ads campaign report by day, Meta Ads Manager daily breakdown, or Leadpipe's own columns); answers
//!   `{"format", "stored", "rejected": [{"line", "field", "message"}], "rejected_total", "skipped"}`.
//! - `GET /api/rates` — `{"reporting_currency", "rates": [{"day", "currency", "rate"}]}`.
//! - `PUT /api/rates` — `{"rows": [{"day", "currency", "rate": "1.08"}]}`: upserts per day × currency.
//! - `POST /api/rates/import` — a `day,currency,rate` file as `text/csv`.
//! - `DELETE /api/rates/{currency}/{day}` — removes one rate; 204.

use axum::extract::{Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use leadpipe_core::audit_service::ChangedBy;
use leadpipe_core::domain::money::Currency;
use leadpipe_core::domain::spend::{RateRow, SpendRow};
use leadpipe_core::domain::spend_import::{SpendFormat, SpendImportOptions};
use leadpipe_core::domain::AuditAction;
use leadpipe_core::spend_service::{FileImport, SpendError, StoredRows, MAX_FILE_BYTES};
use leadpipe_core::{ErrorCode, Leadpipe, ValidationError};
use leadpipe_http::{
    read_limited_body, AdminAccess, ApiError, ClientOrigin, JsonBody, MemberAccess, QueryParams,
    ViewerAccess,
};
use serde::Serialize;
use serde_json::{json, Value};

/// The audit summary of stored rows: how many were stored and refused.
fn stored_summary(rows: &StoredRows) -> Value {
    json!({"stored": rows.stored, "rejected": rows.rejected.len()})
}

/// The audit summary of an imported file: its size, format and what became of its lines.
fn file_summary(bytes: usize, file: &FileImport) -> Value {
    json!({
        "bytes": bytes,
        "format": file.format,
        "stored": file.stored,
        "rejected": file.rejected_total,
        "skipped": file.skipped,
    })
}

/// The routes of spend and rates.
pub fn router() -> Router<Leadpipe> {
    Router::new()
        .route(
            "/api/spend",
            get(list_spend).post(put_spend).delete(delete_spend),
        )
        .route("/api/spend/import", post(import_spend))
        .route("/api/rates", get(list_rates).put(put_rates))
        .route("/api/rates/import", post(import_rates))
        .route("/api/rates/{currency}/{day}", delete(delete_rate))
}

fn api(e: SpendError) -> ApiError {
    match e {
        SpendError::Invalid(v) => ApiError::Invalid(v),
        SpendError::Service(s) => s.into(),
    }
}

/// An amount in the API: integer minor units, the currency, and the decimal text of the amount.
#[derive(Debug, Serialize)]
pub struct AmountJson {
    /// Minor units (cents, yen, fils).
    pub minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The amount in major units as decimal text (`12.34`).
    pub amount: String,
}

/// One spend row in the API.
#[derive(Debug, Serialize)]
pub struct SpendJson {
    /// `<day>|<source>|<campaign>|<domain>`: what `DELETE /api/spend` takes.
    pub key: String,
    /// The day.
    pub day: String,
    /// Normalised source.
    pub source: String,
    /// Normalised campaign.
    pub campaign: String,
    /// Normalised domain, when the row has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// What it cost.
    pub amount: AmountJson,
    /// Clicks, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clicks: Option<u64>,
    /// Impressions, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impressions: Option<u64>,
}

impl From<SpendRow> for SpendJson {
    fn from(r: SpendRow) -> Self {
        Self {
            key: r.key(),
            day: r.day.format("%Y-%m-%d").to_string(),
            amount: AmountJson {
                minor: r.amount.minor,
                currency: r.amount.currency.to_string(),
                amount: r.amount.to_decimal(),
            },
            source: r.source,
            campaign: r.campaign,
            domain: r.domain,
            clicks: r.clicks,
            impressions: r.impressions,
        }
    }
}

/// `GET /api/spend` answer.
#[derive(Debug, Serialize)]
pub struct SpendList {
    /// First day read.
    pub from: String,
    /// Last day read (inclusive).
    pub to: String,
    /// The rows, by day, then source, campaign and domain.
    pub rows: Vec<SpendJson>,
}

async fn list_spend(
    State(app): State<Leadpipe>,
    _: ViewerAccess,
    QueryParams(params): QueryParams,
) -> Result<Json<SpendList>, ApiError> {
    let q = crate::query::parse(
        &params,
        &["from", "to"],
        app.default_range(chrono::Utc::now()),
    )?;
    let rows = app
        .spend_between(q.range.from, q.range.to)
        .await
        .map_err(api)?;
    Ok(Json(SpendList {
        from: q.range.from.to_string(),
        to: q.range.to.to_string(),
        rows: rows.into_iter().map(SpendJson::from).collect(),
    }))
}

async fn put_spend(
    State(app): State<Leadpipe>,
    MemberAccess(actor): MemberAccess,
    ClientOrigin(origin): ClientOrigin,
    JsonBody(body): JsonBody,
) -> Result<Json<StoredRows>, ApiError> {
    let stored = app.put_spend_json(&body).await.map_err(api)?;
    let by = ChangedBy::new(actor, origin.client_ip);
    app.audit(&by, AuditAction::SpendSaved, "-", stored_summary(&stored))
        .await;
    Ok(Json(stored))
}

/// `DELETE /api/spend` answer.
#[derive(Debug, Serialize)]
pub struct Deleted {
    /// Keys given (rows with them no longer exist).
    pub deleted: usize,
}

async fn delete_spend(
    State(app): State<Leadpipe>,
    AdminAccess(actor): AdminAccess,
    ClientOrigin(origin): ClientOrigin,
    JsonBody(body): JsonBody,
) -> Result<Json<Deleted>, ApiError> {
    let deleted = app.delete_spend_json(&body).await.map_err(api)?;
    let by = ChangedBy::new(actor, origin.client_ip);
    app.audit(
        &by,
        AuditAction::SpendDeleted,
        "-",
        json!({"keys": deleted}),
    )
    .await;
    Ok(Json(Deleted { deleted }))
}

/// The body of an import: a CSV (`text/csv`, `application/csv`, `text/tab-separated-values`) of at most
/// [`MAX_FILE_BYTES`].
async fn csv_body(request: Request) -> Result<axum::body::Bytes, ApiError> {
    let (parts, body) = request.into_parts();
    let essence = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if !matches!(
        essence.as_deref(),
        Some("text/csv" | "application/csv" | "text/tab-separated-values")
    ) {
        return Err(ApiError::Invalid(ValidationError::body(
            ErrorCode::UnsupportedMediaType,
            "send the file with Content-Type: text/csv",
        )));
    }
    read_limited_body(&parts.headers, body, MAX_FILE_BYTES).await
}

fn unknown(name: &str, allowed: &str) -> ApiError {
    ApiError::Invalid(
        ValidationError::new(
            ErrorCode::UnknownParameter,
            format!(
                "unknown query parameter \"{}\"; allowed: {allowed}",
                name.chars().take(64).collect::<String>()
            ),
        )
        .at(name),
    )
}

/// The options of `POST /api/spend/import`.
pub fn import_options(params: &[(String, String)]) -> Result<SpendImportOptions, ApiError> {
    let mut options = SpendImportOptions::default();
    for (name, value) in params {
        match name.as_str() {
            "format" => {
                options.format = SpendFormat::parse(value)
                    .map_err(|m| ApiError::Invalid(ValidationError::field("format", m)))?
            }
            "source" => {
                let v = value.trim();
                if v.chars().count() > 64 {
                    return Err(ValidationError::field(
                        "source",
                        "source is longer than 64 characters",
                    )
                    .into());
                }
                options.source = (!v.is_empty()).then(|| v.to_string());
            }
            "currency" if value.trim().is_empty() => {}
            "currency" => {
                options.currency = Some(Currency::parse(value).map_err(|e| {
                    ApiError::Invalid(ValidationError::field("currency", e.to_string()))
                })?)
            }
            _ => return Err(unknown(name, "format, source, currency")),
        }
    }
    Ok(options)
}

async fn import_spend(
    State(app): State<Leadpipe>,
    MemberAccess(actor): MemberAccess,
    ClientOrigin(origin): ClientOrigin,
    QueryParams(params): QueryParams,
    request: Request,
) -> Result<Json<FileImport>, ApiError> {
    let options = import_options(&params)?;
    let bytes = csv_body(request).await?;
    let file = app.import_spend(&bytes, &options).await.map_err(api)?;
    let by = ChangedBy::new(actor, origin.client_ip);
    let summary = file_summary(bytes.len(), &file);
    app.audit(&by, AuditAction::SpendImported, "-", summary)
        .await;
    Ok(Json(file))
}

/// One exchange rate in the API.
#[derive(Debug, Serialize)]
pub struct RateJson {
    /// First day the rate applies to.
    pub day: String,
    /// The currency converted.
    pub currency: String,
    /// Reporting-currency units per unit, as decimal text.
    pub rate: String,
}

impl From<RateRow> for RateJson {
    fn from(r: RateRow) -> Self {
        Self {
            day: r.day.format("%Y-%m-%d").to_string(),
            currency: r.currency.to_string(),
            rate: r.rate.to_decimal(),
        }
    }
}

/// `GET /api/rates` answer.
#[derive(Debug, Serialize)]
pub struct RateList {
    /// What every rate converts into (`REPORTING_CURRENCY`).
    pub reporting_currency: String,
    /// By currency, then day.
    pub rates: Vec<RateJson>,
}

async fn list_rates(
    State(app): State<Leadpipe>,
    _: ViewerAccess,
    QueryParams(params): QueryParams,
) -> Result<Json<RateList>, ApiError> {
    if let Some((name, _)) = params.first() {
        return Err(unknown(name, "none"));
    }
    let rates = app.exchange_rates().await.map_err(api)?;
    Ok(Json(RateList {
        reporting_currency: app.settings.reporting_currency.to_string(),
        rates: rates.into_iter().map(RateJson::from).collect(),
    }))
}

async fn put_rates(
    State(app): State<Leadpipe>,
    MemberAccess(actor): MemberAccess,
    ClientOrigin(origin): ClientOrigin,
    JsonBody(body): JsonBody,
) -> Result<Json<StoredRows>, ApiError> {
    let stored = app.put_rates_json(&body).await.map_err(api)?;
    let by = ChangedBy::new(actor, origin.client_ip);
    app.audit(&by, AuditAction::RatesSaved, "-", stored_summary(&stored))
        .await;
    Ok(Json(stored))
}

async fn import_rates(
    State(app): State<Leadpipe>,
    MemberAccess(actor): MemberAccess,
    ClientOrigin(origin): ClientOrigin,
    QueryParams(params): QueryParams,
    request: Request,
) -> Result<Json<FileImport>, ApiError> {
    if let Some((name, _)) = params.first() {
        return Err(unknown(name, "none"));
    }
    let bytes = csv_body(request).await?;
    let file = app.import_rates(&bytes).await.map_err(api)?;
    let by = ChangedBy::new(actor, origin.client_ip);
    let summary = file_summary(bytes.len(), &file);
    app.audit(&by, AuditAction::RatesImported, "-", summary)
        .await;
    Ok(Json(file))
}

async fn delete_rate(
    State(app): State<Leadpipe>,
    AdminAccess(actor): AdminAccess,
    ClientOrigin(origin): ClientOrigin,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Ok(Path((currency, day))) = path else {
        return Err(
            ValidationError::field("currency", "the path is /api/rates/{currency}/{day}").into(),
        );
    };
    let currency = Currency::parse(&currency)
        .map_err(|e| ApiError::Invalid(ValidationError::field("currency", e.to_string())))?;
    let day = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|_| {
        ApiError::Invalid(ValidationError::field(
            "day",
            "day must be a date (YYYY-MM-DD)",
        ))
    })?;
    app.delete_rate(day, currency).await.map_err(api)?;
    let by = ChangedBy::new(actor, origin.client_ip);
    let target = format!("{}/{day}", currency.as_str());
    app.audit(&by, AuditAction::RateDeleted, &target, json!({}))
        .await;
    Ok(StatusCode::NO_CONTENT)
}
