//! # leadpipe-shared
//!
//! Everything the Leadpipe Lambdas (`functions/*`) and the local runner (`leadpipe serve`) have in common.
//!
//! - [`domain`]: pure rules — stages, email, lead, postback validation, merge, counters, analytics.
//! - [`store`]: the [`store::LeadStore`] trait and its DynamoDB and SQLite implementations.
//! - [`service`]: [`service::Leadpipe`], the application core the handlers call (retries included).
//! - [`http`]: the error type, extractors, public routes, CORS and the Lambda entry point.
//! - [`config`]: settings read from the environment.
//!
//! A function crate only adds its routes: `router()` returns an axum `Router<Leadpipe>`, and its `main` calls
//! [`http::run_lambda`]. `leadpipe serve` merges all four routers, so local runs and Lambdas cannot drift.
#![warn(missing_docs)]

pub mod config;
pub mod domain;
pub mod http;
pub mod service;
pub mod store;

pub use config::Settings;
pub use service::Leadpipe;
