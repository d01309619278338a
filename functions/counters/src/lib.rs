//! The `counters` Lambda: the consumer of the table's DynamoDB stream (not an endpoint group).
//!
//! Its event source mapping delivers each stream shard's records in order, with a tumbling window so the event
//! names the shard; every batch goes to [`leadpipe_dynamo::Consumer::apply`], which writes the stage-change items
//! and applies the counter deltas exactly once per shard. A failed batch is returned as an error: Lambda retries
//! it (bisecting it on repeated failure), and the consumer's checkpoint makes the retry harmless.
//!
//! When webhooks are deployed (`WEBHOOK_QUEUE_URL` set), the same batch is then fanned out to them
//! ([`fan_out`]): the deliveries its lead changes trigger are stored and queued for the `webhooks` Lambda. The
//! webhook list is cached for 30 s per instance, so with no webhook configured this costs no request per
//! postback. Fan-out is idempotent (a delivery's id derives from its webhook and the change), so a retried batch
//! queues nothing twice.

use aws_lambda_events::event::dynamodb::{TimeWindowEvent, TimeWindowEventResponse};
use chrono::{DateTime, Utc};
use leadpipe_core::domain::Lead;
use leadpipe_core::store::StoreError;
use leadpipe_delivery::{Change, Deliverer, DeliveryError};
use leadpipe_dynamo::codec::{is_lead_item, lead_from_item, Item};
use leadpipe_dynamo::{Consumer, StreamRecord};

/// Why an event could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The event source mapping has no tumbling window, so the event does not name its shard.
    #[error(
        "the event names no shard: configure the event source mapping with TumblingWindowInSeconds"
    )]
    MissingShard,
    /// The store failed (the batch is retried).
    #[error(transparent)]
    Store(StoreError),
    /// Storing or queueing the batch's webhook deliveries failed (the batch is retried; counters are not applied
    /// twice, thanks to the checkpoint, and deliveries are not queued twice, thanks to their ids).
    #[error("webhook fan-out: {0}")]
    FanOut(#[from] DeliveryError),
}

/// The event as Lambda delivers it: a [`TimeWindowEvent`] whose `Records` may be missing or `null` (read as none).
/// A tumbling window's final invocation can come without records; refusing it would fail that invocation again
/// and again and stall the shard. (`aws_lambda_events` requires the field, hence this wrapper.)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamEvent(pub TimeWindowEvent);

impl<'de> serde::Deserialize<'de> for StreamEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = serde_json::Value::deserialize(deserializer)?;
        if let Some(obj) = value.as_object_mut() {
            let records = obj
                .entry("Records")
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if records.is_null() {
                *records = serde_json::Value::Array(Vec::new());
            }
        }
        serde_json::from_value(value)
            .map(StreamEvent)
            .map_err(serde::de::Error::custom)
    }
}

/// The stream records of an event, in order, as the consumer takes them.
pub fn records_of(event: &TimeWindowEvent) -> Vec<StreamRecord> {
    event
        .dynamo_db_event
        .records
        .iter()
        .map(|r| StreamRecord {
            sequence_number: r.change.sequence_number.clone().unwrap_or_default(),
            old_image: image(&r.change.old_image),
            new_image: image(&r.change.new_image),
        })
        .collect()
}

fn image(item: &serde_dynamo::Item) -> Option<Item> {
    (!item.is_empty()).then(|| item.clone().into())
}

/// Applies one event's batch, then fans it out to webhooks when `deliverer` is given.
pub async fn handle(
    consumer: &Consumer,
    deliverer: Option<&Deliverer>,
    event: &TimeWindowEvent,
) -> Result<TimeWindowEventResponse, HandleError> {
    let shard = event
        .time_window_properties
        .shard_id
        .as_deref()
        .ok_or(HandleError::MissingShard)?;
    let records = records_of(event);
    // Boxed: the consumer's future is deep enough to overflow the layout query of the runtime's future.
    let report = Box::pin(consumer.apply(shard, &records))
        .await
        .map_err(HandleError::Store)?;
    tracing::debug!(?report, "batch applied");
    if let Some(deliverer) = deliverer {
        let queued = Box::pin(fan_out(deliverer, &records, Utc::now())).await?;
        tracing::debug!(queued, "webhook deliveries queued");
    }
    Ok(TimeWindowEventResponse::default())
}

fn lead_of(image: &Option<Item>) -> Result<Option<Lead>, StoreError> {
    image
        .as_ref()
        .filter(|item| is_lead_item(item))
        .map(lead_from_item)
        .transpose()
}

/// Stores and queues the webhook deliveries a batch of lead changes triggers, all at once
/// ([`Deliverer::fan_out_all`]: one read of the cached webhook list, then the store's and the queue's batch calls).
/// Returns how many were queued; 0 without any enabled webhook, at no cost. `now` dates deletions (a stream
/// record's old image carries no deletion time).
pub async fn fan_out(
    deliverer: &Deliverer,
    records: &[StreamRecord],
    now: DateTime<Utc>,
) -> Result<usize, DeliveryError> {
    let mut leads = Vec::with_capacity(records.len());
    for record in records {
        leads.push((lead_of(&record.old_image)?, lead_of(&record.new_image)?));
    }
    let changes: Vec<Change<'_>> = leads
        .iter()
        .map(|(before, after)| Change {
            before: before.as_ref(),
            after: after.as_ref(),
            observed_at: now,
        })
        .collect();
    Ok(deliverer.fan_out_all(&changes, now).await?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_final_window_invocation_without_records_is_an_empty_batch() {
        for records in [None, Some(serde_json::Value::Null)] {
            let mut event = serde_json::json!({
                "window": {"start": "2026-11-28T00:00:00Z", "end": "2026-11-28T00:01:00Z"},
                "state": {}, "shardId": "shardId-0001",
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x",
                "isFinalInvokeForWindow": true, "isWindowTerminatedEarly": false
            });
            if let Some(r) = records {
                event["Records"] = r;
            }
            let parsed: StreamEvent =
                serde_json::from_value(event).expect("a final invocation without Records");
            assert!(records_of(&parsed.0).is_empty());
            assert_eq!(
                parsed.0.time_window_properties.shard_id.as_deref(),
                Some("shardId-0001")
            );
        }
        // anything else that is not such an event is still refused
        assert!(serde_json::from_value::<StreamEvent>(serde_json::json!([1])).is_err());
    }

    #[test]
    fn an_event_becomes_records_in_order() {
        let event: TimeWindowEvent = serde_json::from_value(serde_json::json!({
            "Records": [
                {"eventID": "1", "eventName": "INSERT", "awsRegion": "us-east-1", "dynamodb": {
                    "Keys": {"pk": {"S": "L#x"}, "sk": {"S": "L"}}, "NewImage": {"pk": {"S": "L#x"}, "sk": {"S": "L"}, "v": {"N": "1"}},
                    "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"}},
                {"eventID": "2", "eventName": "REMOVE", "awsRegion": "us-east-1", "dynamodb": {
                    "Keys": {"pk": {"S": "L#x"}, "sk": {"S": "L"}}, "OldImage": {"pk": {"S": "L#x"}, "sk": {"S": "L"}, "v": {"N": "1"}},
                    "SequenceNumber": "222", "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
            ],
            "window": {"start": "2026-11-28T00:00:00Z", "end": "2026-11-28T00:00:05Z"},
            "state": {}, "shardId": "shardId-0001", "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x",
            "isFinalInvokeForWindow": false, "isWindowTerminatedEarly": false
        }))
        .expect("a tumbling-window DynamoDB event");
        let records = records_of(&event);
        assert_eq!(records.len(), 2);
        assert_eq!(
            (
                records[0].sequence_number.as_str(),
                records[1].sequence_number.as_str()
            ),
            ("111", "222")
        );
        assert!(records[0].old_image.is_none() && records[0].new_image.is_some());
        assert!(records[1].old_image.is_some() && records[1].new_image.is_none());
        assert_eq!(
            event.time_window_properties.shard_id.as_deref(),
            Some("shardId-0001")
        );
    }
}
