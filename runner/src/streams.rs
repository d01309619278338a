//! The stream consumer on one machine: polls DynamoDB (Local)'s Streams API and feeds each shard's records to
//! the very [`Consumer`] the `counters` Lambda runs, so `leadpipe serve --dynamodb` keeps history and analytics
//! right without AWS.
//!
//! Shards are read parents first; a shard resumes after its checkpoint (the last sequence number whose counters
//! were applied), so a restart re-reads at most the records after it — which the consumer applies exactly once.
//!
//! With a webhook worker attached ([`LocalStreamConsumer::deliver_webhooks`]), each batch's lead writes are fanned
//! out into stored deliveries *before* the batch is applied (and the checkpoint moves): a crash in between re-reads
//! the batch, and enqueueing the same change again stores nothing new.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodbstreams::types::{AttributeValue as StreamValue, ShardIteratorType};
use leadpipe_core::domain::Lead;
use leadpipe_core::store::StoreError;
use leadpipe_delivery::{Change, Worker};
use leadpipe_dynamo::codec::{is_lead_item, lead_from_item, Item};
use leadpipe_dynamo::{Consumer, Settle, StreamRecord};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

/// Records read per GetRecords call.
const PAGE: i32 = 1000;
/// Longest `settle` waits while the consumer reads nothing new: a stuck consumer fails it, a slow one does not.
const SETTLE_STALL: Duration = Duration::from_secs(30);

/// Polls a table's stream and applies it through a [`Consumer`].
pub struct LocalStreamConsumer {
    consumer: Consumer,
    streams: aws_sdk_dynamodbstreams::Client,
    state: tokio::sync::Mutex<PollState>,
    webhooks: OnceLock<Arc<Worker>>,
}

#[derive(Default)]
struct PollState {
    /// Next iterator per open shard.
    iterators: HashMap<String, String>,
    /// Shards read to their end.
    finished: HashSet<String>,
    /// Settle markers seen (nonces).
    markers: HashSet<String>,
    /// Records read so far (how `settle` tells a slow consumer from a stuck one).
    records_read: usize,
}

/// The partition key of settle markers (not a lead: the consumer ignores them).
const MARKER_PK: &str = "S#settle";

impl LocalStreamConsumer {
    /// A poller for `consumer`'s table through `streams` (built from the same AWS configuration).
    pub fn new(consumer: Consumer, streams: aws_sdk_dynamodbstreams::Client) -> Self {
        Self {
            consumer,
            streams,
            state: tokio::sync::Mutex::new(PollState::default()),
            webhooks: OnceLock::new(),
        }
    }

    /// From now on, fans every batch's lead writes out to `worker`'s webhooks before applying the batch (set once;
    /// later calls are ignored).
    pub fn deliver_webhooks(&self, worker: Arc<Worker>) {
        let _ = self.webhooks.set(worker);
    }

    /// The consumer it feeds.
    pub fn consumer(&self) -> &Consumer {
        &self.consumer
    }

    /// Every record still in the stream, per shard, from its beginning, without applying anything (for tests
    /// and tools that drive the consumer themselves).
    pub async fn read_all(&self) -> Result<Vec<(String, Vec<StreamRecord>)>, StoreError> {
        let arn = self.stream_arn().await?;
        let mut out = Vec::new();
        for shard in self.shards(&arn).await? {
            let Some(id) = shard.shard_id else { continue };
            let it = self
                .streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(&id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(unavailable)?
                .shard_iterator;
            let mut records = Vec::new();
            let mut iterator = it;
            while let Some(current) = iterator {
                let page = self
                    .streams
                    .get_records()
                    .shard_iterator(&current)
                    .limit(PAGE)
                    .send()
                    .await
                    .map_err(unavailable)?;
                let got = page.records.unwrap_or_default();
                let empty = got.is_empty();
                records.extend(
                    got.iter()
                        .filter_map(|r| r.dynamodb.as_ref())
                        .map(stream_record),
                );
                iterator = if empty {
                    None
                } else {
                    page.next_shard_iterator
                };
            }
            out.push((id, records));
        }
        Ok(out)
    }

    async fn stream_arn(&self) -> Result<String, StoreError> {
        let table = self.consumer.store().table().to_string();
        let described = self
            .consumer
            .store()
            .client()
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .map_err(unavailable)?;
        described
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| StoreError::Internal(format!("table {table} has no stream")))
    }

    async fn shards(
        &self,
        arn: &str,
    ) -> Result<Vec<aws_sdk_dynamodbstreams::types::Shard>, StoreError> {
        let mut shards = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .streams
                .describe_stream()
                .stream_arn(arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            let Some(desc) = out.stream_description else {
                break;
            };
            shards.extend(desc.shards.unwrap_or_default());
            match desc.last_evaluated_shard_id {
                Some(id) => start = Some(id),
                None => break,
            }
        }
        Ok(shards)
    }

    /// Runs [`drain`](Self::drain) every `every` until the process ends (errors are logged and retried).
    pub fn spawn(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.drain().await {
                    tracing::warn!(error = %e, "stream consumer: will retry");
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    /// Reads every shard until it has no more records right now, applying what it reads; returns the records.
    pub async fn drain(&self) -> Result<usize, StoreError> {
        let mut state = self.state.lock().await;
        let table = self.consumer.store().table().to_string();
        let described = self
            .consumer
            .store()
            .client()
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(arn) = described.table.and_then(|t| t.latest_stream_arn) else {
            return Err(StoreError::Internal(format!("table {table} has no stream")));
        };
        let mut shards = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .streams
                .describe_stream()
                .stream_arn(&arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            let Some(desc) = out.stream_description else {
                break;
            };
            shards.extend(desc.shards.unwrap_or_default());
            match desc.last_evaluated_shard_id {
                Some(id) => start = Some(id),
                None => break,
            }
        }
        let known: HashSet<String> = shards.iter().filter_map(|s| s.shard_id.clone()).collect();
        let mut total = 0;
        // Parents first: a shard is read once its parent (if still listed) is finished.
        let mut progress = true;
        while progress {
            progress = false;
            for shard in &shards {
                let Some(id) = shard.shard_id.clone() else {
                    continue;
                };
                if state.finished.contains(&id) {
                    continue;
                }
                if let Some(parent) = &shard.parent_shard_id {
                    if known.contains(parent) && !state.finished.contains(parent) {
                        continue;
                    }
                }
                let (n, finished) = self.read_shard(&mut state, &arn, &id).await?;
                total += n;
                state.records_read += n;
                if finished {
                    state.finished.insert(id);
                    progress = true;
                }
            }
        }
        Ok(total)
    }

    async fn read_shard(
        &self,
        state: &mut PollState,
        arn: &str,
        shard: &str,
    ) -> Result<(usize, bool), StoreError> {
        let mut iterator = match state.iterators.remove(shard) {
            Some(it) => it,
            None => {
                let req = self
                    .streams
                    .get_shard_iterator()
                    .stream_arn(arn)
                    .shard_id(shard);
                let req = match self.consumer.checkpoint(shard).await? {
                    Some(seq) if !seq.is_empty() => req
                        .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                        .sequence_number(seq),
                    _ => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
                };
                match req.send().await.map_err(unavailable)?.shard_iterator {
                    Some(it) => it,
                    None => return Ok((0, true)),
                }
            }
        };
        let mut total = 0;
        loop {
            let out = self
                .streams
                .get_records()
                .shard_iterator(&iterator)
                .limit(PAGE)
                .send()
                .await
                .map_err(unavailable)?;
            let records = out.records.unwrap_or_default();
            let batch: Vec<StreamRecord> = records
                .iter()
                .filter_map(|r| r.dynamodb.as_ref())
                .map(stream_record)
                .collect();
            for r in &batch {
                if let Some(nonce) = r.new_image.as_ref().and_then(marker_nonce) {
                    state.markers.insert(nonce);
                }
            }
            if !batch.is_empty() {
                self.fan_out(&batch).await?;
                self.consumer.apply(shard, &batch).await?;
            }
            total += batch.len();
            match out.next_shard_iterator {
                None => return Ok((total, true)),
                Some(next) if batch.is_empty() => {
                    state.iterators.insert(shard.to_string(), next);
                    return Ok((total, false));
                }
                Some(next) => iterator = next,
            }
        }
    }
}

impl LocalStreamConsumer {
    /// Stores the webhook deliveries of a batch's lead writes (nothing without an attached worker).
    async fn fan_out(&self, batch: &[StreamRecord]) -> Result<(), StoreError> {
        let Some(worker) = self.webhooks.get() else {
            return Ok(());
        };
        let images: Vec<(Option<Lead>, Option<Lead>)> =
            batch.iter().filter_map(lead_images).collect();
        let now = chrono::Utc::now();
        let changes: Vec<Change<'_>> = images
            .iter()
            .map(|(before, after)| Change {
                before: before.as_ref(),
                after: after.as_ref(),
                observed_at: now,
            })
            .collect();
        match worker.deliverer().fan_out_all(&changes, now).await {
            Ok(_) => Ok(()),
            Err(leadpipe_delivery::DeliveryError::Store(e)) => Err(e),
            Err(e) => Err(StoreError::Internal(e.to_string())),
        }
    }
}

/// A record's lead before and after, when it is a lead write (an image that does not decode is logged and left out).
fn lead_images(record: &StreamRecord) -> Option<(Option<Lead>, Option<Lead>)> {
    let decode = |image: &Option<Item>| {
        image.as_ref().filter(|i| is_lead_item(i)).and_then(|i| match lead_from_item(i) {
            Ok(lead) => Some(lead),
            Err(e) => {
                tracing::warn!(error = %e, sequence = %record.sequence_number, "webhooks: a lead image does not decode");
                None
            }
        })
    };
    let (before, after) = (decode(&record.old_image), decode(&record.new_image));
    (before.is_some() || after.is_some()).then_some((before, after))
}

#[async_trait]
impl Settle for LocalStreamConsumer {
    /// Writes a marker item and drains the stream until the marker comes through: every write made before the
    /// call is then applied (a table's stream keeps each key's writes in order, and DynamoDB Local has one shard
    /// per table in practice; the marker is written last).
    async fn settle(&self) -> Result<(), StoreError> {
        let nonce = uuid::Uuid::new_v4().to_string();
        let store = self.consumer.store();
        let mut marker: Item = leadpipe_dynamo::keys::key(MARKER_PK, "S");
        marker.insert("nonce".into(), AttributeValue::S(nonce.clone()));
        store
            .client()
            .put_item()
            .table_name(store.table())
            .set_item(Some(marker))
            .send()
            .await
            .map_err(unavailable)?;
        let mut deadline = tokio::time::Instant::now() + SETTLE_STALL;
        let mut seen = usize::MAX;
        loop {
            self.drain().await?;
            let mut state = self.state.lock().await;
            if state.markers.remove(&nonce) {
                return Ok(());
            }
            if state.records_read != seen {
                seen = state.records_read;
                deadline = tokio::time::Instant::now() + SETTLE_STALL;
            }
            drop(state);
            if tokio::time::Instant::now() > deadline {
                return Err(StoreError::Unavailable(
                    "the stream consumer read nothing new for 30 s".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn stream_record(d: &aws_sdk_dynamodbstreams::types::StreamRecord) -> StreamRecord {
    StreamRecord {
        sequence_number: d.sequence_number.clone().unwrap_or_default(),
        old_image: d.old_image.as_ref().map(item_from_stream),
        new_image: d.new_image.as_ref().map(item_from_stream),
    }
}

fn marker_nonce(item: &Item) -> Option<String> {
    match (item.get("pk"), item.get("nonce")) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(nonce))) if pk == MARKER_PK => {
            Some(nonce.clone())
        }
        _ => None,
    }
}

fn unavailable(e: impl std::error::Error) -> StoreError {
    StoreError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}

/// A Streams API item as a DynamoDB API item.
fn item_from_stream(item: &HashMap<String, StreamValue>) -> Item {
    item.iter()
        .map(|(k, v)| (k.clone(), value_from_stream(v)))
        .collect()
}

fn value_from_stream(v: &StreamValue) -> AttributeValue {
    match v {
        StreamValue::S(s) => AttributeValue::S(s.clone()),
        StreamValue::N(n) => AttributeValue::N(n.clone()),
        StreamValue::B(b) => AttributeValue::B(Blob::new(b.as_ref().to_vec())),
        StreamValue::Ss(s) => AttributeValue::Ss(s.clone()),
        StreamValue::Ns(s) => AttributeValue::Ns(s.clone()),
        StreamValue::Bs(s) => {
            AttributeValue::Bs(s.iter().map(|b| Blob::new(b.as_ref().to_vec())).collect())
        }
        StreamValue::M(m) => AttributeValue::M(item_from_stream(m)),
        StreamValue::L(l) => AttributeValue::L(l.iter().map(value_from_stream).collect()),
        StreamValue::Bool(b) => AttributeValue::Bool(*b),
        _ => AttributeValue::Null(true),
    }
}
