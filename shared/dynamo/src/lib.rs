//! # leadpipe-dynamo
//!
//! The DynamoDB adapter: [`DynamoStore`] implements [`leadpipe_core::store::LeadStore`] on one table, and
//! [`consumer::Consumer`] derives stage-change items and counters from the table's stream.
//!
//! - [`keys`]: every partition and sort key the table uses, built in one place (bench and tests use it too).
//! - [`schema`]: the table definition (the single source of truth for `infra/table-definition.json`).
//! - [`codec`]: items ⇄ domain values (public so bulk loaders write exactly the store's items).
//! - [`client`]: building the SDK client once per process, from the standard AWS environment.
//! - `store`, `listing` (private): the write path, reads, and sharded listings.
//! - [`consumer`]: the stream consumer (the `counters` Lambda, and `leadpipe serve --dynamodb` locally).
//! - [`recount`]: rebuilding every counter from the leads.
//! - [`size`]: DynamoDB's item-size and capacity-unit rules.
//! - `accounts` (private): users, sessions, invites and sign-in failures.
//! - `spend` (private): ad spend and exchange rates (admin data, small items).
//! - [`audit`]: the audit log (day and shard partitions, TTL after the retention).
//! - [`webhooks`]: webhooks and their deliveries ([`leadpipe_webhooks::WebhookStore`]).
//!
//! Design and capacity model: `docs/DYNAMODB.md`.
#![warn(missing_docs)]

mod accounts;
pub mod audit;
mod batch;
pub mod client;
pub mod codec;
pub mod consumer;
mod error;
pub mod keys;
mod listing;
mod privacy;
pub mod recount;
pub mod schema;
pub mod size;
mod spend;
mod store;
mod two_factor;
pub mod webhooks;

pub use consumer::{Consumer, StreamRecord};
pub use listing::LIST_READ_BUDGET;
pub use schema::{table_definition, TableDefinition};
pub use store::{DynamoStore, Settle};
