//! The `counters` Lambda: the consumer of the table's DynamoDB stream (not an endpoint group).
//!
//! Its event source mapping delivers each stream shard's records in order, with a tumbling window so the event
//! names the shard; every batch goes to [`leadpipe_dynamo::Consumer::apply`], which writes the stage-change items
//! and applies the counter deltas exactly once per shard. A failed batch is returned as an error: Lambda retries
//! it (bisecting it on repeated failure), and the consumer's checkpoint makes the retry harmless.

use aws_lambda_events::event::dynamodb::{TimeWindowEvent, TimeWindowEventResponse};
use leadpipe_core::store::StoreError;
use leadpipe_dynamo::codec::Item;
use leadpipe_dynamo::{Consumer, StreamRecord};

/// Why an event could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The event source mapping has no tumbling window, so the event does not name its shard.
    #[error("the event names no shard: configure the event source mapping with TumblingWindowInSeconds")]
    MissingShard,
    /// The store failed (the batch is retried).
    #[error(transparent)]
    Store(StoreError),
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

/// Applies one event's batch.
pub async fn handle(consumer: &Consumer, event: &TimeWindowEvent) -> Result<TimeWindowEventResponse, HandleError> {
    let shard = event.time_window_properties.shard_id.as_deref().ok_or(HandleError::MissingShard)?;
    let records = records_of(event);
    // Boxed: the consumer's future is deep enough to overflow the layout query of the runtime's future.
    let report = Box::pin(consumer.apply(shard, &records)).await.map_err(HandleError::Store)?;
    tracing::debug!(?report, "batch applied");
    Ok(TimeWindowEventResponse::default())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!((records[0].sequence_number.as_str(), records[1].sequence_number.as_str()), ("111", "222"));
        assert!(records[0].old_image.is_none() && records[0].new_image.is_some());
        assert!(records[1].old_image.is_some() && records[1].new_image.is_none());
        assert_eq!(event.time_window_properties.shard_id.as_deref(), Some("shardId-0001"));
    }
}
