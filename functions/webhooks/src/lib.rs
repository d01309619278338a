//! The `webhooks` Lambda: attempts webhook deliveries (not an endpoint group).
//!
//! The stream consumer (`counters`) stores the deliveries each lead change triggers and sends one SQS message per
//! delivery ([`leadpipe_sqs::QueuedDelivery`]); this function reads that queue. For each message it:
//!
//! - drops it when it is not a delivery message, when the delivery is gone or finished, or when the delivery was
//!   rescheduled since the message was sent (a duplicate or stale message: [`QueuedDelivery::is_current_for`]);
//! - sends it back with the remaining delay when the delivery is not due yet (SQS delays a message by at most
//!   15 minutes, so long retry delays hop through the queue);
//! - otherwise attempts it ([`Deliverer::attempt_loaded`], without reading it again), which records the outcome, schedules the retry on the queue
//!   and disables a failing endpoint.
//!
//! The messages of a batch are handled concurrently (each attempt may wait up to the sender's timeout). A message
//! that could not be handled (the table or the queue failed) is reported in `batchItemFailures`: SQS delivers it
//! again after its visibility timeout, and after five receives moves it to the dead-letter queue, where an alarm
//! fires. A failed HTTP attempt is not such a failure: it is recorded on the delivery and retried on schedule.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, TimeDelta, Utc};
use leadpipe_delivery::{Attempted, Deliverer, DeliveryError};
use leadpipe_sqs::QueuedDelivery;

/// How early a message may arrive and still be attempted (SQS delays are whole seconds).
const EARLY_TOLERANCE: TimeDelta = TimeDelta::seconds(1);

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Not a delivery message, or its delivery is gone, finished or rescheduled since: dropped.
    Dropped(&'static str),
    /// Not due yet: sent back to the queue with the remaining delay.
    Requeued,
    /// Attempted (or abandoned because its webhook is disabled or deleted).
    Attempted,
}

/// Handles one message at `now`.
pub async fn handle_message(
    deliverer: &Deliverer,
    body: &str,
    now: DateTime<Utc>,
) -> Result<Handled, DeliveryError> {
    let Some(message) = QueuedDelivery::parse(body) else {
        return Ok(Handled::Dropped("not a delivery message"));
    };
    let Some(delivery) = deliverer
        .store()
        .delivery(message.webhook_id, message.delivery_id)
        .await?
    else {
        return Ok(Handled::Dropped("no such delivery"));
    };
    if !message.is_current_for(&delivery) {
        return Ok(Handled::Dropped("finished or rescheduled since"));
    }
    if delivery
        .next_attempt_at
        .is_some_and(|due| due > now + EARLY_TOLERANCE)
    {
        deliverer
            .queue()
            .schedule(std::slice::from_ref(&delivery))
            .await?;
        return Ok(Handled::Requeued);
    }
    let mut rng = fastrand::Rng::new();
    match deliverer.attempt_loaded(delivery, now, &mut rng).await? {
        Attempted::Missing | Attempted::NotDue(_) => {
            Ok(Handled::Dropped("finished or rescheduled since"))
        }
        Attempted::Abandoned(_) | Attempted::Sent { .. } => Ok(Handled::Attempted),
    }
}

fn failure(message: &SqsMessage) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = message.message_id.clone().unwrap_or_default();
    failure
}

/// Handles one SQS batch; the messages that could not be handled are returned for SQS to deliver again.
pub async fn handle(deliverer: &Deliverer, event: &SqsEvent) -> SqsBatchResponse {
    let now = Utc::now();
    let results = futures_util::future::join_all(event.records.iter().map(|message| async move {
        (
            message,
            handle_message(deliverer, message.body.as_deref().unwrap_or(""), now).await,
        )
    }))
    .await;
    let mut response = SqsBatchResponse::default();
    for (message, result) in results {
        match result {
            Ok(handled) => {
                tracing::debug!(message = ?message.message_id, ?handled, "message handled")
            }
            Err(e) => {
                tracing::error!(message = ?message.message_id, error = %e, "message not handled; SQS delivers it again");
                response.batch_item_failures.push(failure(message));
            }
        }
    }
    response
}
