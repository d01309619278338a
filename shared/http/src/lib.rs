//! # leadpipe-http
//!
//! The HTTP and Lambda adapter shared by every function and by `leadpipe serve`:
//!
//! - [`error`]: [`ApiError`], the one error type (code → status in one place, internals logged, never sent);
//! - [`extract`]: extractors for keys, JSON bodies, query strings and lead ids;
//! - [`routes`]: the public routes (health, stages, the OpenAPI document);
//! - [`app`]: the complete application around a function's router (JSON 404/405, CORS, request log, dashboard);
//! - [`logging`]: log set-up and the one-line-per-request log;
//! - [`run_lambda`]: the `main` of every Lambda.
#![warn(missing_docs)]

pub mod app;
pub mod error;
pub mod extract;
pub mod logging;
pub mod routes;

pub use app::app;
pub use error::ApiError;
pub use extract::{AdminAccess, IngestAccess, JsonBody, LeadIdPath, QueryParams, API_KEY_HEADER};
pub use lambda_http::Error as LambdaError;
pub use logging::init_tracing;

use axum::Router;
use leadpipe_core::config::ConfigError;
use leadpipe_core::{Leadpipe, Settings};
use leadpipe_dynamo::DynamoStore;

/// The `main` of every Lambda: reads settings and builds the DynamoDB client once, then serves `routes` through the
/// Lambda runtime until it shuts the process down.
pub async fn run_lambda(routes: Router<Leadpipe>) -> Result<(), LambdaError> {
    init_tracing();
    let settings = Settings::from_env()?;
    let table = std::env::var("TABLE_NAME").map_err(|_| ConfigError::Missing("TABLE_NAME"))?;
    let store = DynamoStore::new(leadpipe_dynamo::client::from_env().await, table, settings.counter_rules());
    let state = Leadpipe::new(std::sync::Arc::new(store), settings);
    lambda_http::run(app(routes, state, None)).await
}
