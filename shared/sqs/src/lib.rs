//! # leadpipe-sqs
//!
//! The webhook delivery queue in AWS: [`SqsDeliveryQueue`] implements `leadpipe_webhooks::DeliveryQueue` by
//! sending one message per delivery to the queue the `webhooks` Lambda reads, delayed until the delivery is due.
//!
//! SQS delays a message by at most 15 minutes ([`MAX_DELAY_SECONDS`]). A delivery due later is sent with the
//! longest delay; the `webhooks` Lambda finds it not yet due when it arrives and schedules it again, so a 4-hour
//! retry hops through the queue 16 times (16 messages, a fraction of a cent per thousand such retries).
//!
//! A message carries only ids ([`QueuedDelivery`]): the delivery itself (its body, its state) stays in the table,
//! so a repeated or late message is harmless — the attempt skips a delivery that is no longer due.
#![warn(missing_docs)]

use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;
use chrono::{DateTime, Utc};
use leadpipe_core::store::StoreError;
use leadpipe_webhooks::{Delivery, DeliveryQueue};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest delay SQS gives a message (15 minutes).
pub const MAX_DELAY_SECONDS: i64 = 900;

/// Most entries in one `SendMessageBatch`.
pub const BATCH: usize = 10;
/// SendMessageBatch calls in flight at once (sized by the heat model in bench/).
pub const SEND_CONCURRENCY: usize = 16;

/// The body of one queue message: which delivery of which webhook to attempt, and for which scheduled time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedDelivery {
    /// The webhook.
    pub webhook_id: Uuid,
    /// The delivery.
    pub delivery_id: Uuid,
    /// The delivery's `next_attempt_at` when the message was sent. A message whose delivery has been rescheduled
    /// since (attempted through another message, retried by hand) is stale and dropped, so duplicates die out
    /// instead of hopping through the queue forever.
    #[serde(default)]
    pub due: Option<DateTime<Utc>>,
}

impl QueuedDelivery {
    /// The message for `delivery`.
    pub fn of(delivery: &Delivery) -> Self {
        Self {
            webhook_id: delivery.webhook_id,
            delivery_id: delivery.id,
            due: delivery.next_attempt_at,
        }
    }

    /// Whether this message still stands for `delivery`'s current schedule (pending, due at the time it was
    /// sent for).
    pub fn is_current_for(&self, delivery: &Delivery) -> bool {
        delivery.state == leadpipe_webhooks::DeliveryState::Pending
            && delivery.next_attempt_at == self.due
    }

    /// Reads a message body; `None` for anything that is not one (logged and dropped by the Lambda).
    pub fn parse(body: &str) -> Option<Self> {
        serde_json::from_str(body).ok()
    }
}

/// How long SQS should hold the message of a delivery due at `due`: the seconds until then, rounded up, within
/// `0..=`[`MAX_DELAY_SECONDS`] (past or missing times: 0).
pub fn delay_seconds(due: Option<DateTime<Utc>>, now: DateTime<Utc>) -> i32 {
    let Some(due) = due else { return 0 };
    let millis = (due - now).num_milliseconds();
    let seconds = millis.div_euclid(1000) + i64::from(millis.rem_euclid(1000) > 0);
    // Clamped to 0..=900 first, so the conversion cannot fail.
    i32::try_from(seconds.clamp(0, MAX_DELAY_SECONDS)).unwrap_or(0)
}

/// The delivery queue on SQS (client built once in `main`).
#[derive(Debug, Clone)]
pub struct SqsDeliveryQueue {
    client: Client,
    queue_url: String,
}

impl SqsDeliveryQueue {
    /// The queue at `queue_url` (the `WEBHOOK_QUEUE_URL` of the template).
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// The queue named by `WEBHOOK_QUEUE_URL`, with a client for `sdk`; `None` when the variable is not set
    /// (webhooks not deployed).
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Option<Self> {
        let url = std::env::var("WEBHOOK_QUEUE_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        Some(Self::new(Client::new(sdk), url))
    }

    async fn send_batch(
        &self,
        deliveries: &[Delivery],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut entries = Vec::with_capacity(deliveries.len());
        for (i, delivery) in deliveries.iter().enumerate() {
            let body = serde_json::to_string(&QueuedDelivery::of(delivery))
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            let entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .delay_seconds(delay_seconds(delivery.next_attempt_at, now))
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            entries.push(entry);
        }
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "SQS SendMessageBatch: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                ))
            })?;
        let failed = out.failed();
        if failed.is_empty() {
            return Ok(());
        }
        let detail: Vec<String> = failed
            .iter()
            .map(|f| format!("{}: {}", f.code(), f.message().unwrap_or_default()))
            .collect();
        Err(StoreError::Unavailable(format!(
            "SQS refused {} of {} messages ({})",
            failed.len(),
            deliveries.len(),
            detail.join("; ")
        )))
    }
}

#[async_trait]
impl DeliveryQueue for SqsDeliveryQueue {
    async fn schedule(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        use futures_util::StreamExt;
        let now = Utc::now();
        // Batches of 10, SEND_CONCURRENCY in flight: one after another, a shard's batch at 10,000 postbacks/s
        // (hundreds of SendMessageBatch calls) would outlast the stream's batching window.
        let batches: Vec<_> = deliveries
            .chunks(BATCH)
            .map(|chunk| self.send_batch(chunk, now))
            .collect();
        let mut sends = futures_util::stream::iter(batches).buffer_unordered(SEND_CONCURRENCY);
        while let Some(result) = sends.next().await {
            result?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn delays_round_up_and_stay_within_what_sqs_allows() {
        let now = at("2026-11-28T12:00:00Z");
        assert_eq!(delay_seconds(None, now), 0);
        assert_eq!(delay_seconds(Some(now - TimeDelta::seconds(30)), now), 0);
        assert_eq!(delay_seconds(Some(now), now), 0);
        assert_eq!(
            delay_seconds(Some(now + TimeDelta::milliseconds(1)), now),
            1
        );
        assert_eq!(delay_seconds(Some(now + TimeDelta::seconds(10)), now), 10);
        assert_eq!(
            delay_seconds(Some(now + TimeDelta::milliseconds(10_400)), now),
            11
        );
        assert_eq!(delay_seconds(Some(now + TimeDelta::minutes(15)), now), 900);
        assert_eq!(delay_seconds(Some(now + TimeDelta::hours(4)), now), 900);
    }

    #[test]
    fn messages_carry_only_ids_and_round_trip() {
        let due = Some(at("2026-11-28T12:00:10Z"));
        let q = QueuedDelivery {
            webhook_id: Uuid::from_u128(1),
            delivery_id: Uuid::from_u128(2),
            due,
        };
        let body = serde_json::to_string(&q).unwrap_or_default();
        assert_eq!(QueuedDelivery::parse(&body), Some(q));
        assert_eq!(
            body,
            r#"{"webhook_id":"00000000-0000-0000-0000-000000000001","delivery_id":"00000000-0000-0000-0000-000000000002","due":"2026-11-28T12:00:10Z"}"#
        );
        assert_eq!(QueuedDelivery::parse("not json"), None);
        assert_eq!(QueuedDelivery::parse(r#"{"webhook_id":"x"}"#), None);
    }
}
