//! Where webhooks and their deliveries are kept: one small trait, [`WebhookStore`], implemented by the SQLite and
//! DynamoDB adapter crates next to their `LeadStore`, and checked by one shared conformance suite
//! (`tests/src/webhook_conformance.rs`).
//!
//! The store keeps state only; the decisions (which webhooks an event triggers, when to retry, when to disable an
//! endpoint) are the pure functions of this crate. Enqueueing is idempotent by delivery id, and a delivery's id is
//! derived from its webhook and message ([`delivery_id`]), so replaying the same lead change (a stream record
//! read twice, a worker restarted mid-batch) never queues a second delivery.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use leadpipe_core::store::StoreError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::retry::{Delivery, EndpointHealth};
use crate::webhook::Webhook;

/// Most webhooks one deployment keeps (`POST /api/webhooks` refuses more): every lead change is matched against
/// all of them, so the list stays small enough to read whole and cache.
pub const MAX_WEBHOOKS: usize = 25;

/// A webhook as stored: its configuration, how its endpoint has been doing, and when it was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredWebhook {
    /// The configuration (with its secret: never shown again after creation).
    pub webhook: Webhook,
    /// The endpoint's recent record, updated after every attempt.
    pub health: EndpointHealth,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Which deliveries of one webhook to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryQuery {
    /// The webhook.
    pub webhook_id: Uuid,
    /// Page size.
    pub limit: usize,
    /// Continue after this listing key (from [`DeliveryPage::next_after`]).
    pub after: Option<String>,
}

/// One page of a webhook's deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryPage {
    /// Newest first (by `created_at`, then id).
    pub deliveries: Vec<Delivery>,
    /// Where the next page starts, if there may be more.
    pub next_after: Option<String>,
}

/// The id of the delivery of message `message_id` to webhook `webhook_id`: a UUID (version 8) made of the first 16
/// bytes of SHA-256 over a fixed label, the webhook id and the message id. The same change always maps to the same
/// delivery, which is what makes [`WebhookStore::enqueue_deliveries`] idempotent.
pub fn delivery_id(webhook_id: Uuid, message_id: &str) -> Uuid {
    let mut hasher = Sha256::new();
    hasher.update(b"leadpipe.webhook-delivery.v1\0");
    hasher.update(webhook_id.as_bytes());
    hasher.update(message_id.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// What every webhook store provides. All methods are safe to call concurrently.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// Stores a new webhook (its id is fresh; the caller has checked [`MAX_WEBHOOKS`]).
    async fn create_webhook(&self, webhook: &StoredWebhook) -> Result<(), StoreError>;
    /// Every webhook, oldest first (at most [`MAX_WEBHOOKS`], so no paging).
    async fn webhooks(&self) -> Result<Vec<StoredWebhook>, StoreError>;
    /// One webhook by id.
    async fn webhook(&self, id: Uuid) -> Result<Option<StoredWebhook>, StoreError>;
    /// Replaces a stored webhook's state (enabled, disabled reason, health). Saving one that was deleted meanwhile
    /// does not bring it back.
    async fn save_webhook(&self, webhook: &StoredWebhook) -> Result<(), StoreError>;
    /// Deletes a webhook; its pending deliveries are never attempted again. Returns whether it existed.
    async fn delete_webhook(&self, id: Uuid) -> Result<bool, StoreError>;
    /// Adds deliveries. One whose id is already stored is left exactly as it is, so enqueueing the same change
    /// twice queues it once.
    async fn enqueue_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StoreError>;
    /// One delivery of one webhook.
    async fn delivery(&self, webhook_id: Uuid, id: Uuid) -> Result<Option<Delivery>, StoreError>;
    /// Replaces a stored delivery's state (after an attempt, or a manual retry). Saving a delivery whose webhook
    /// was deleted stores nothing.
    async fn save_delivery(&self, delivery: &Delivery) -> Result<(), StoreError>;
    /// A page of one webhook's deliveries, newest first.
    async fn deliveries(&self, query: &DeliveryQuery) -> Result<DeliveryPage, StoreError>;
    /// Pending deliveries whose next attempt is due at `now`, earliest first, at most `limit`, skipping those of
    /// deleted or disabled webhooks. This is what a polling worker attempts (`leadpipe serve`).
    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;
}

/// Where stored deliveries go to be attempted when due: in `leadpipe serve` a wake-up of the local worker (which
/// then reads [`WebhookStore::due_deliveries`]); in AWS the SQS queue the `webhooks` Lambda reads, with each
/// message delayed until its delivery's `next_attempt_at`.
#[async_trait]
pub trait DeliveryQueue: Send + Sync + 'static {
    /// Asks for each delivery (already stored) to be attempted at its `next_attempt_at`, or now when that has
    /// passed. A delivery may be queued more than once; the attempt skips one that is no longer due.
    async fn schedule(&self, deliveries: &[Delivery]) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_are_stable_and_distinct() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        assert_eq!(delivery_id(a, "msg_1"), delivery_id(a, "msg_1"));
        assert_ne!(delivery_id(a, "msg_1"), delivery_id(b, "msg_1"));
        assert_ne!(delivery_id(a, "msg_1"), delivery_id(a, "msg_2"));
        assert_eq!(delivery_id(a, "msg_1").get_version_num(), 8);
    }
}
