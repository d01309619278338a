//! # leadpipe-delivery
//!
//! Delivers webhooks: the part of Leadpipe's integrations that talks HTTP and keeps state, on top of the pure
//! decisions of `leadpipe-webhooks` and any [`WebhookStore`]. The same code runs in `leadpipe serve` (SQLite or
//! DynamoDB Local) and in the AWS Lambdas; nothing here knows which store or queue it is given.
//!
//! Layout, in the order a lead change flows through it:
//!
//! - [`fan_out`]: [`Deliverer::fan_out`] turns one lead change (before, after) into stored, scheduled deliveries,
//!   against a [`WebhookCache`] of the webhook list ([`Deliverer::fan_out_all`] for a batch); [`deliveries_for`]
//!   is its pure core.
//! - [`sender`]: the [`Sender`], one HTTP client per process that POSTs a delivery's body signed per Standard
//!   Webhooks and reports an `AttemptOutcome`.
//! - [`attempt`]: [`Deliverer::attempt`], one attempt of one stored delivery: load, send, record the outcome on the
//!   delivery and on its endpoint's health, reschedule, or disable the webhook and abandon its pending deliveries.
//!   [`Policies`] holds the retry and disable policies (scaled by `LEADPIPE_WEBHOOK_RETRY_SCALE` in tests).
//! - [`worker`]: the local [`Worker`]: a loop that drains an [`Outbox`] (SQLite's lead-change outbox) and
//!   attempts due deliveries, woken by its [`LocalQueue`] (the local `DeliveryQueue`).
//!
//! In AWS, the stream consumer builds a [`Deliverer`] whose queue is SQS and calls [`Deliverer::fan_out`] per
//! stream record; the `webhooks` Lambda calls [`Deliverer::attempt`] per SQS message.
//!
//! Errors: one boundary type, [`DeliveryError`] (a store failure, or a change that is not a valid event). A failed
//! HTTP attempt is not an error: it is an outcome, recorded on the delivery.
#![warn(missing_docs)]

pub mod attempt;
pub mod fan_out;
pub mod sender;
pub mod worker;

use std::sync::Arc;

use leadpipe_core::store::StoreError;
use leadpipe_webhooks::{DeliveryQueue, EventError, WebhookStore};

pub use attempt::{
    health_changed, Attempted, Policies, PolicyError, HEALTH_WRITE_INTERVAL, RETRY_SCALE_ENV,
};
pub use fan_out::{deliveries_for, Change, WebhookCache};
pub use sender::{Reach, Sender, SenderError};
pub use worker::{LocalQueue, Outbox, Pass, Worker};

/// Why a fan-out or an attempt could not be completed (and should be tried again later, or skipped).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The store or the queue failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The change's before and after images are not one lead's: nothing can be sent for it.
    #[error("the change is not a lead event: {0}")]
    Event(#[from] EventError),
}

/// What fan-out and attempts need, built once per process: the store, the queue deliveries are scheduled on, the
/// HTTP sender, the policies, and the cached webhook list.
pub struct Deliverer {
    store: Arc<dyn WebhookStore>,
    queue: Arc<dyn DeliveryQueue>,
    sender: Sender,
    policies: Policies,
    webhooks: WebhookCache,
    /// When this process last recorded a failure on each webhook's stored health (see
    /// [`attempt::HEALTH_WRITE_INTERVAL`]).
    health_written:
        tokio::sync::Mutex<std::collections::HashMap<uuid::Uuid, chrono::DateTime<chrono::Utc>>>,
}

impl Deliverer {
    /// Puts the parts together.
    pub fn new(
        store: Arc<dyn WebhookStore>,
        queue: Arc<dyn DeliveryQueue>,
        sender: Sender,
        policies: Policies,
        webhooks: WebhookCache,
    ) -> Self {
        Self {
            store,
            queue,
            sender,
            policies,
            webhooks,
            health_written: Default::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn WebhookStore> {
        &self.store
    }

    /// The queue deliveries are scheduled on.
    pub fn queue(&self) -> &Arc<dyn DeliveryQueue> {
        &self.queue
    }

    /// The policies attempts apply.
    pub fn policies(&self) -> &Policies {
        &self.policies
    }
}

#[cfg(test)]
mod tests;
