//! The `analytics` Lambda: `GET /api/analytics` — totals, the funnel, top sources and new leads per day, all read
//! from counters, so the cost does not grow with the number of leads (admin key). In the deployed stack this
//! function also answers the public routes (`/api/health`, `/api/stages`, `/api/openapi.json`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use leadpipe_core::domain::analytics::Analytics;
use leadpipe_core::Leadpipe;
use leadpipe_http::{AdminAccess, ApiError};

/// The routes this function serves.
pub fn router() -> Router<Leadpipe> {
    Router::new().route("/api/analytics", get(analytics))
}

async fn analytics(State(app): State<Leadpipe>, _: AdminAccess) -> Result<Json<Analytics>, ApiError> {
    Ok(Json(app.analytics(chrono::Utc::now()).await?))
}
