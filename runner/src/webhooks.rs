//! Webhook delivery on one machine: the `leadpipe-delivery` worker over the store `leadpipe serve` runs on.
//!
//! - SQLite: the store records each lead change in its outbox (in the lead's transaction, while a webhook is
//!   enabled); the worker drains it through [`SqliteOutbox`], then attempts due deliveries.
//! - DynamoDB (Local): the local stream reader ([`crate::streams::LocalStreamConsumer`]) fans each batch out
//!   through the worker's deliverer before applying it; the worker attempts due deliveries.
//!
//! Retries are stored with the deliveries, so a restart loses none. `LEADPIPE_WEBHOOK_RETRY_SCALE` shortens every
//! retry delay (tests).

use std::sync::Arc;

use async_trait::async_trait;
use leadpipe_core::store::{LeadChange, StoreError};
use leadpipe_delivery::{Outbox, Policies, Reach, Sender, Worker};
use leadpipe_sqlite::SqliteStore;
use leadpipe_webhooks::WebhookStore;

/// The SQLite store's lead-change outbox, as the worker reads it.
pub struct SqliteOutbox(pub SqliteStore);

#[async_trait]
impl Outbox for SqliteOutbox {
    async fn lead_changes(&self, limit: usize) -> Result<Vec<LeadChange>, StoreError> {
        self.0.lead_changes(limit).await
    }

    async fn ack_lead_changes(&self, up_to_seq: i64) -> Result<(), StoreError> {
        self.0.ack_lead_changes(up_to_seq).await
    }
}

/// A delivery worker for `store`, with the policies from the environment (`LEADPIPE_WEBHOOK_RETRY_SCALE`) and a
/// sender that may reach this machine (a local receiver: `WebhookSpec` accepts `http://localhost` and
/// `http://127.0.0.1`) besides public addresses.
pub fn worker(store: Arc<dyn WebhookStore>) -> Result<Worker, Box<dyn std::error::Error>> {
    Ok(Worker::new(
        store,
        Sender::new(Reach::Local)?,
        Policies::from_env()?,
    ))
}

/// The worker of a SQLite store: it drains the store's outbox too.
pub fn sqlite_worker(store: &SqliteStore) -> Result<Worker, Box<dyn std::error::Error>> {
    Ok(worker(Arc::new(store.clone()))?.with_outbox(Arc::new(SqliteOutbox(store.clone()))))
}
