//! # leadpipe-http
//!
//! The HTTP and Lambda adapter shared by every function and by `leadpipe serve`:
//!
//! - [`cross_site`]: refuses cross-site browser writes to every route but the postback;
//! - [`error`]: [`ApiError`], the one error type (code → status in one place, internals logged, never sent);
//! - [`extract`]: extractors for keys, JSON bodies, query strings and lead ids;
//! - [`routes`]: the public routes (health, stages, the OpenAPI document);
//! - [`app`]: the complete application around a function's router (JSON 404/405, CORS, request log, dashboard);
//! - [`logging`]: log set-up and the one-line-per-request log;
//! - [`secrets`]: the keys, read once at start-up from SSM Parameter Store;
//! - [`webhooks`]: the webhook store and delivery queue the `/api/webhooks` handlers extract;
//! - [`run_lambda`]: the `main` of every Lambda.
#![warn(missing_docs)]

pub mod app;
pub mod cross_site;
pub mod error;
pub mod extract;
pub mod logging;
pub mod routes;
pub mod secrets;
pub mod session;
pub mod webhooks;

pub use app::app;
pub use error::ApiError;
pub use extract::{
    authenticate, read_limited_body, AdminAccess, ClientOrigin, JsonBody, LeadIdPath, MemberAccess,
    QueryParams, ViewerAccess, API_KEY_HEADER,
};
pub use lambda_http::Error as LambdaError;
pub use logging::init_tracing;
pub use webhooks::{PolledQueue, WebhookServices};

use axum::Router;
use leadpipe_core::config::ConfigError;
use leadpipe_core::Leadpipe;
use leadpipe_dynamo::DynamoStore;
use leadpipe_webhooks::DeliveryQueue;
use std::sync::Arc;

/// The `main` of every endpoint Lambda: reads settings — the keys from SSM Parameter Store (see [`secrets`]) — and
/// builds the AWS clients once, then serves `routes` through the Lambda runtime until it shuts the process down.
///
/// Fails closed: without both the server key and the admin key (or with two equal keys) the function refuses to
/// start, with one clear log line, and Lambda reports an init error.
///
/// The `/api/webhooks` routes get the same DynamoDB store as their webhook store and a [`PolledQueue`]: use
/// [`run_lambda_with_queue`] where retried deliveries must be handed to a queue (SQS in AWS).
pub async fn run_lambda(routes: Router<Leadpipe>) -> Result<(), LambdaError> {
    run_lambda_with_queue(routes, |_| Arc::new(PolledQueue)).await
}

/// [`run_lambda`], with the delivery queue the `/api/webhooks` routes schedule retried deliveries on built once
/// from the SDK configuration.
pub async fn run_lambda_with_queue(
    routes: Router<Leadpipe>,
    make_queue: impl FnOnce(&aws_config::SdkConfig) -> Arc<dyn DeliveryQueue>,
) -> Result<(), LambdaError> {
    init_tracing();
    let sdk = leadpipe_dynamo::client::config_from_env().await;
    let settings = match secrets::settings_with_keys(&sdk).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "refusing to start");
            return Err(e.into());
        }
    };
    let table = std::env::var("TABLE_NAME").map_err(|_| ConfigError::Missing("TABLE_NAME"))?;
    let store = DynamoStore::new(
        leadpipe_dynamo::client::client(&sdk),
        table,
        settings.counter_rules(),
    );
    let store = Arc::new(store);
    let webhooks = WebhookServices::new(store.clone(), make_queue(&sdk));
    let state = Leadpipe::new(store, settings);
    lambda_http::run(app(routes, state, None).layer(axum::Extension(webhooks))).await
}
