//! The complete application around a function's router: public routes, JSON 404/405, CORS, the cross-site
//! guard, the request log and,
//! for `leadpipe serve`, the dashboard's static files.

use std::path::PathBuf;

use axum::http::{header, HeaderName, HeaderValue, Method, Uri};
use axum::routing::{any, get_service};
use axum::Router;
use leadpipe_core::{Leadpipe, Settings};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

use crate::error::ApiError;
use crate::extract::API_KEY_HEADER;
use crate::{cross_site, logging, routes};

async fn api_not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no API route at {}", uri.path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// CORS: `POST /api/postback` from any origin (postbacks are authorised by key, never by cookies, and the browser
/// key is public by design); every other route only from the configured origins (`*` = any; none configured =
/// same origin only).
pub fn cors(settings: &Settings) -> CorsLayer {
    let origins: Vec<HeaderValue> = settings
        .allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let any = settings.allowed_origins.iter().any(|o| o == "*");
    let allow = AllowOrigin::predicate(
        move |origin: &HeaderValue, parts: &axum::http::request::Parts| {
            any || parts.uri.path() == "/api/postback" || origins.contains(origin)
        },
    );
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static(API_KEY_HEADER),
            HeaderName::from_static(leadpipe_core::idempotency::IDEMPOTENCY_HEADER),
        ])
        .expose_headers([HeaderName::from_static("idempotent-replayed")])
        .max_age(std::time::Duration::from_secs(86_400))
}

/// The application around `routes`. With `static_dir`, the dashboard is served from it: `/` and `/index.html`
/// answer its page (its screens are `#/…` routes), other files as they are, and anything missing a 404. Every
/// unknown `/api…` path answers a JSON 404.
pub fn app(routes: Router<Leadpipe>, state: Leadpipe, static_dir: Option<PathBuf>) -> Router {
    let cors = cors(&state.settings);
    let mut router = routes
        .merge(routes::router())
        .route("/api", any(api_not_found))
        .route("/api/", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found))
        .method_not_allowed_fallback(method_not_allowed);
    router = match static_dir {
        Some(dir) => {
            let index = dir.join("index.html");
            router
                .route("/", get_service(ServeFile::new(&index)))
                .fallback_service(ServeDir::new(dir))
        }
        None => router.fallback(api_not_found),
    };
    router
        .layer(axum::middleware::from_fn_with_state(
            state.settings.clone(),
            cross_site::refuse_cross_site,
        ))
        .layer(cors)
        .layer(axum::middleware::from_fn(logging::log_request))
        .with_state(state)
}
