//! The `analytics` Lambda (admin key): figures computed from counters alone, so their cost depends on the range
//! asked for, never on the number of leads. In the deployed stack this function also answers the public routes
//! (`/api/health`, `/api/stages`, `/api/openapi.json`).
//!
//! - `GET /api/analytics?from=YYYY-MM-DD&to=YYYY-MM-DD` — funnel, new leads per day and top sources for leads
//!   created in the range (default: the last 30 days), and the same for the period before.
//! - `GET /api/analytics/breakdown?by=source|campaign|domain|device_type&touch=first|latest&from=&to=` —
//!   leads, stages reached, conversions and times per value.
//! - `GET /api/analytics/abandonment?by=campaign|device_type&from=&to=` — how far forms that stopped got.
//! - `GET /api/analytics/values?by=source|campaign` — every source or campaign with its leads, all time (the All
//!   Leads pickers).
//! - `GET /api/analytics/pipeline` — the money in each board column (leads in the stage, all time) at today's
//!   rates, and the weighted pipeline value (`STAGE_PROBABILITIES`).

pub mod query;
pub mod spend;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use leadpipe_core::domain::analytics::{
    has_value_counts, Abandonment, Analytics, Breakdown, ValueCounts,
};
use leadpipe_core::domain::money_report::PipelineValue;
use leadpipe_core::{Leadpipe, ValidationError};
use leadpipe_http::{ApiError, QueryParams, ViewerAccess};

/// The routes this function serves.
pub fn router() -> Router<Leadpipe> {
    Router::new()
        .route("/api/analytics", get(analytics))
        .route("/api/analytics/breakdown", get(breakdown))
        .route("/api/analytics/abandonment", get(abandonment))
        .route("/api/analytics/values", get(values))
        .route("/api/analytics/pipeline", get(pipeline))
        .merge(spend::router())
}

/// `GET /api/analytics/pipeline`: the money in each board column and the weighted pipeline value.
async fn pipeline(
    State(app): State<Leadpipe>,
    _: ViewerAccess,
    QueryParams(params): QueryParams,
) -> Result<Json<PipelineValue>, ApiError> {
    query::parse(&params, &[], app.default_range(chrono::Utc::now()))?;
    Ok(Json(app.pipeline_value(chrono::Utc::now()).await?))
}

async fn analytics(
    State(app): State<Leadpipe>,
    _: ViewerAccess,
    QueryParams(params): QueryParams,
) -> Result<Json<Analytics>, ApiError> {
    let now = chrono::Utc::now();
    let q = query::parse(&params, &["from", "to"], app.default_range(now))?;
    Ok(Json(app.analytics(Some(q.range), now).await?))
}

async fn breakdown(
    State(app): State<Leadpipe>,
    _: ViewerAccess,
    QueryParams(params): QueryParams,
) -> Result<Json<Breakdown>, ApiError> {
    let q = query::parse(
        &params,
        &["from", "to", "by", "touch"],
        app.default_range(chrono::Utc::now()),
    )?;
    Ok(Json(app.breakdown(q.by, q.touch, q.range).await?))
}

async fn abandonment(
    State(app): State<Leadpipe>,
    _: ViewerAccess,
    QueryParams(params): QueryParams,
) -> Result<Json<Abandonment>, ApiError> {
    let q = query::parse(
        &params,
        &["from", "to", "by"],
        app.default_range(chrono::Utc::now()),
    )?;
    Ok(Json(app.abandonment(q.by, q.range).await?))
}

async fn values(
    State(app): State<Leadpipe>,
    _: ViewerAccess,
    QueryParams(params): QueryParams,
) -> Result<Json<ValueCounts>, ApiError> {
    let q = query::parse(&params, &["by"], app.default_range(chrono::Utc::now()))?;
    if !has_value_counts(q.by) {
        return Err(ValidationError::field("by", "by must be source or campaign").into());
    }
    Ok(Json(app.value_counts(q.by).await?))
}
