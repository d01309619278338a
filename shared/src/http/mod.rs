//! HTTP plumbing shared by every function and by `leadpipe serve`: the error type, extractors, the public routes
//! (health, stages, OpenAPI), CORS, JSON fallbacks and the Lambda entry point.

pub mod error;
pub mod extract;

use std::path::PathBuf;

use axum::http::{header, HeaderName, HeaderValue, Method, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use extract::{AdminAccess, IngestAccess, JsonBody, LeadIdPath, QueryParams, API_KEY_HEADER};

use crate::config::Settings;
use crate::service::Leadpipe;

/// The OpenAPI 3.1 contract, served at `GET /api/openapi.json` and kept in `docs/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"));

/// Public routes every deployment answers: health, stage list and the OpenAPI document.
pub fn public_routes() -> Router<Leadpipe> {
    Router::new().route("/api/health", get(health)).route("/api/stages", get(stages)).route("/api/openapi.json", get(openapi))
}

async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

async fn stages(axum::extract::State(app): axum::extract::State<Leadpipe>) -> impl IntoResponse {
    Json(json!({"stages": app.settings.pipeline.stages()}))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

async fn api_not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no API route at {}", uri.path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// CORS for the configured origins (`*` = any); none configured = same-origin only.
pub fn cors(settings: &Settings) -> CorsLayer {
    let origins = &settings.allowed_origins;
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, HeaderName::from_static(API_KEY_HEADER)])
        .max_age(std::time::Duration::from_secs(86_400))
}

/// The complete application around `routes`: public routes, JSON 404/405, CORS and request tracing. With
/// `static_dir`, paths outside `/api` serve the dashboard from it (as `leadpipe serve` does).
pub fn app(routes: Router<Leadpipe>, state: Leadpipe, static_dir: Option<PathBuf>) -> Router {
    let cors = cors(&state.settings);
    let mut router = routes
        .merge(public_routes())
        .route("/api", get(api_not_found))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .method_not_allowed_fallback(method_not_allowed);
    router = match static_dir {
        Some(dir) => {
            let index = dir.join("index.html");
            router.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
        }
        None => router.fallback(api_not_found),
    };
    router.layer(cors).layer(TraceLayer::new_for_http()).with_state(state)
}

/// Initialises logging: JSON lines on Lambda (for CloudWatch), human-readable elsewhere; `RUST_LOG` filters.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn,aws_config=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ =
        if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() { builder.json().without_time().try_init() } else { builder.try_init() };
}

/// The `main` of every Lambda: reads settings and builds the DynamoDB client once, then serves `routes` through the
/// Lambda runtime until it shuts the process down.
pub async fn run_lambda(routes: Router<Leadpipe>) -> Result<(), lambda_http::Error> {
    init_tracing();
    let settings = Settings::from_env()?;
    let table = std::env::var("TABLE_NAME").map_err(|_| crate::config::ConfigError::Missing("TABLE_NAME"))?;
    let store = crate::store::dynamo::DynamoStore::from_env(table).await;
    let state = Leadpipe::new(std::sync::Arc::new(store), settings);
    lambda_http::run(app(routes, state, None)).await
}
