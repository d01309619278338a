//! # leadpipe-dynamo
//!
//! The DynamoDB adapter: [`DynamoStore`] implements [`leadpipe_core::store::LeadStore`] on one table.
//!
//! - [`keys`]: every partition and sort key the table uses, built in one place (bench and tests use it too).
//! - [`schema`]: the table definition (the single source of truth for `infra/table-definition.json`).
//! - [`client`]: building the SDK client once per process, from the standard AWS environment.
//! - [`codec`]: lead ⇄ item encoding (public so bulk loaders write exactly the store's items).
//! - `error` (private): SDK errors ⇄ [`leadpipe_core::store::StoreError`].
//! - `store` (private): the [`DynamoStore`] itself.
#![warn(missing_docs)]

pub mod client;
pub mod codec;
mod error;
pub mod keys;
pub mod schema;
mod store;

pub use schema::{table_definition, TableDefinition};
pub use store::{DynamoStore, LIST_READ_BUDGET};
