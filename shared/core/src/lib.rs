//! # leadpipe-core
//!
//! Leadpipe's pure core, shared by every Lambda (`functions/*`), the stream consumer and the local runner. It has
//! no AWS, SQLite, HTTP or Lambda dependency: adapters live in their own crates beside it.
//!
//! - [`domain`]: pure rules — stages, emails, leads, postback validation, merging, counters, analytics.
//! - [`service`]: [`Leadpipe`], the application core the HTTP handlers call; [`ingest`]: its postbacks;
//!   [`idempotency`]: postbacks applied once per `event_id` / `Idempotency-Key`;
//!   [`import`]: importing files of leads.
//! - [`account_service`]: sign-in, sessions, invites and user changes through [`Leadpipe`].
//! - [`audit_service`]: recording and reading the audit log through [`Leadpipe`].
//! - [`spend_service`]: ad spend and exchange rates (JSON rows and import files) through [`Leadpipe`].
//! - [`store`]: the [`store::LeadStore`] trait the adapters implement (`leadpipe-dynamo`, `leadpipe-sqlite`).
//! - [`retry`]: the one retry helper (bounded, exponential backoff with full jitter).
//! - [`error`]: error codes and client-input errors; [`config`]: settings read from the environment.
//! - [`token`]: continuation tokens that let the browser key continue a lead without learning its id.
//! - [`totals`]: listing totals, exact from counters where they allow, else counted within a read budget.
//!
//! Layout of the workspace, one way only: `functions/*` and `runner` → `leadpipe-http` → adapters → this crate.
#![warn(missing_docs)]

pub mod account_service;
pub mod audit_service;
pub mod config;
pub mod domain;
pub mod error;
pub mod idempotency;
pub mod import;
pub mod ingest;
pub mod log_budget;
pub mod money_service;
pub mod privacy_service;
pub mod retry;
pub mod service;
pub mod sign_in_service;
pub mod spend_service;
pub mod store;
pub mod token;
pub mod totals;
pub mod ttl_cache;
pub mod two_factor_service;

pub use config::Settings;
pub use error::{ErrorCode, ValidationError};
pub use service::Leadpipe;
