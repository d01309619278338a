//! Public routes every deployment answers: `GET /api/health`, `GET /api/stages` and `GET /api/openapi.json`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use leadpipe_core::{Leadpipe, Settings};
use serde_json::{json, Value};

/// The OpenAPI 3.1 contract as kept in `docs/openapi.json`; [`openapi_document`] fills in the configured stages.
pub const OPENAPI_JSON: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/openapi.json"
));

/// The public routes.
pub fn router() -> Router<Leadpipe> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/stages", get(stages))
        .route("/api/openapi.json", get(openapi))
}

async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

async fn stages(State(app): State<Leadpipe>) -> impl IntoResponse {
    Json(json!({"stages": app.settings.pipeline.names()}))
}

async fn openapi(State(app): State<Leadpipe>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi_document(&app.settings),
    )
}

/// The OpenAPI document this deployment answers: `docs/openapi.json` with the `Stage` schema's `enum` set to the
/// configured pipeline, so the contract accepts exactly the stages the server does.
pub fn openapi_document(settings: &Settings) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(OPENAPI_JSON) else {
        return OPENAPI_JSON.to_string();
    };
    if let Some(stage) = doc.pointer_mut("/components/schemas/Stage") {
        stage["enum"] = json!(settings.pipeline.names());
    }
    doc.to_string()
}
