//! The stream consumer: derives everything the write path leaves out from the table's stream (NEW_AND_OLD_IMAGES).
//!
//! For each batch of one stream shard it
//!
//! 1. writes the stage-change item of every lead write that changed the stage (`L#<id>` / `H#<version>`, an
//!    idempotent put), and removes a deleted lead's stage changes and email claim;
//! 2. derives the counter deltas of every lead write from its old and new image with the pure counter rules
//!    (`CounterRules::delta`), sums them over runs of consecutive writes, and applies them **exactly once**:
//!    each transaction holds up to 99 bucket updates plus the shard's checkpoint (`K#<shard>`), moved from
//!    before the run's first sequence number to its last, on condition that it still is before the first. Writes
//!    at or before the checkpoint are skipped, so a retried, bisected or overlapping batch never counts twice.
//!
//! Counter items are one per bucket (`C#<bucket>`), so no key is shared by all writes; each is updated at most
//! once per batch per stream shard. New dimension values are admitted into their scope's registry (`R#<scope>`)
//! before the deltas are computed; admission is append-only, so a replay computes the same deltas.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, PutRequest, ReturnValue, TransactWriteItem, Update, WriteRequest,
};
use leadpipe_core::domain::counters::{
    all_bucket, field, value_limit, Counters, Registry, ValueAdmission,
};
use leadpipe_core::domain::Lead;
use leadpipe_core::retry::{retry, RetryPolicy};
use leadpipe_core::store::StoreError;
use tokio::sync::Mutex;

use crate::codec::{
    count_attribute, history_item, is_lead_item, lead_record_from_item, ms_attribute, n, s, Item,
    LeadRecord,
};
use crate::error::{internal, sdk_error};
use crate::keys::{self, HISTORY_PREFIX, PK, SK};
use crate::store::DynamoStore;

/// Bucket updates per transaction (DynamoDB allows 100 items; one is the checkpoint).
const BUCKETS_PER_TRANSACTION: usize = 99;
/// How long a checkpoint item outlives its shard's last batch (stream records live 24 hours).
const CHECKPOINT_TTL_SECS: u64 = 3 * 86_400;
/// The attribute of a registry item holding its admitted values.
const REGISTRY_VALUES: &str = "vals";

/// One record of the table's stream: its sequence number and the item before and after the write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamRecord {
    /// The record's sequence number in its shard (decimal digits, increasing).
    pub sequence_number: String,
    /// The item before the write (`None` for an insert).
    pub old_image: Option<Item>,
    /// The item after the write (`None` for a delete).
    pub new_image: Option<Item>,
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Records in the batch.
    pub records: usize,
    /// Of them, writes of lead items.
    pub lead_writes: usize,
    /// Stage-change items written.
    pub stage_changes: usize,
    /// Counter buckets updated (summed over the transactions).
    pub buckets: usize,
    /// Counter transactions committed.
    pub transactions: usize,
    /// Lead writes whose counters were applied already (a retried or overlapping batch), and chunks skipped.
    pub replayed: usize,
}

/// The stream consumer of one table. Build it once per process; it caches the value registries it has read.
pub struct Consumer {
    store: DynamoStore,
    registry: Mutex<RegistryCache>,
    fail_after: Mutex<Option<usize>>,
}

#[derive(Default)]
struct RegistryCache {
    known: Registry,
    full: BTreeSet<String>,
}

/// A sync [`ValueAdmission`] over values resolved beforehand.
struct Resolved<'a>(&'a Registry);

impl ValueAdmission for Resolved<'_> {
    fn is_admitted(&self, scope: &str, value: &str) -> bool {
        self.0.is_admitted(scope, value)
    }

    fn admit(&mut self, scope: &str, value: &str) -> bool {
        self.0.is_admitted(scope, value)
    }
}

/// Records which values a computation asks about (answering "admitted" to every question).
#[derive(Default)]
struct Questions(BTreeMap<(String, String), bool>);

impl ValueAdmission for Questions {
    fn is_admitted(&self, _: &str, _: &str) -> bool {
        true
    }

    fn admit(&mut self, scope: &str, value: &str) -> bool {
        self.0.insert((scope.to_string(), value.to_string()), true);
        true
    }
}

impl Questions {
    fn lookup(&mut self, scope: &str, value: &str) {
        self.0
            .entry((scope.to_string(), value.to_string()))
            .or_insert(false);
    }
}

/// A lead write: the lead record before and after.
struct LeadWrite {
    before: Option<LeadRecord>,
    after: Option<LeadRecord>,
}

impl Consumer {
    /// A consumer writing into `store`'s table with its counter rules.
    pub fn new(store: DynamoStore) -> Self {
        Self {
            store,
            registry: Mutex::new(RegistryCache::default()),
            fail_after: Mutex::new(None),
        }
    }

    /// The store it writes into.
    pub fn store(&self) -> &DynamoStore {
        &self.store
    }

    /// Applies one batch of records from stream shard `shard_id` (records in stream order). Safe to call again
    /// with the same batch, or with a batch overlapping one already applied.
    pub async fn apply(
        &self,
        shard_id: &str,
        records: &[StreamRecord],
    ) -> Result<BatchReport, StoreError> {
        let mut report = BatchReport {
            records: records.len(),
            ..Default::default()
        };
        let mut writes: Vec<(String, LeadWrite)> = Vec::new();
        for r in records {
            if let Some(w) = lead_write(r)? {
                writes.push((r.sequence_number.clone(), w));
            }
        }
        report.lead_writes = writes.len();
        let leads: Vec<&LeadWrite> = writes.iter().map(|(_, w)| w).collect();
        report.stage_changes = self.write_stage_changes(&leads).await?;
        for w in &leads {
            if let (Some(gone), None) = (&w.before, &w.after) {
                self.remove_lead_leftovers(&gone.lead).await?;
            }
        }
        if writes.is_empty() {
            return Ok(report);
        }
        self.apply_counters(shard_id, &writes, &mut report).await?;
        Ok(report)
    }

    async fn write_stage_changes(&self, writes: &[&LeadWrite]) -> Result<usize, StoreError> {
        let mut puts = Vec::new();
        for record in writes.iter().filter_map(|w| w.after.as_ref()) {
            if let Some(change) = record.change_of_this_version().filter(|c| c.from.is_some()) {
                let item = history_item(record.lead.id, record.lead.version, change)?;
                puts.push(
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item))
                                .build()
                                .map_err(internal)?,
                        )
                        .build(),
                );
            }
        }
        let written = puts.len();
        self.store.batch_write(puts).await?;
        Ok(written)
    }

    /// Deletes a deleted lead's stage-change items and its email claim (if it still points at the lead).
    async fn remove_lead_leftovers(&self, lead: &Lead) -> Result<(), StoreError> {
        let items = self.store.query_partition(&keys::lead_pk(lead.id)).await?;
        let deletes: Vec<WriteRequest> = items
            .iter()
            .filter(|i| {
                i.get(SK)
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|sk| sk.starts_with(HISTORY_PREFIX))
            })
            .map(|i| {
                let key: Item = [PK, SK]
                    .iter()
                    .filter_map(|k| i.get(*k).map(|v| (k.to_string(), v.clone())))
                    .collect();
                Ok(WriteRequest::builder()
                    .delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(key))
                            .build()
                            .map_err(internal)?,
                    )
                    .build())
            })
            .collect::<Result<_, StoreError>>()?;
        self.store.batch_write(deletes).await?;
        if let Some(email) = &lead.email {
            self.store.release_claim(email, lead.id).await?;
        }
        Ok(())
    }

    /// The counter delta of each lead write, with new values admitted first.
    async fn counter_deltas(&self, writes: &[&LeadWrite]) -> Result<Vec<Counters>, StoreError> {
        let rules = self.store.rules();
        let mut questions = Questions::default();
        for w in writes {
            // Which values the real computation will look up (old image) and admit (new image).
            if let Some(after) = &w.after {
                rules.of_lead(&after.lead, &mut questions);
            }
            if let Some(before) = &w.before {
                let mut asked = Questions::default();
                rules.of_lead(&before.lead, &mut asked);
                for (scope, value) in asked.0.into_keys() {
                    questions.lookup(&scope, &value);
                }
            }
        }
        let known = self.resolve_values(&questions).await?;
        let mut values = Resolved(&known);
        Ok(writes
            .iter()
            .map(|w| {
                let mut d = rules.delta(
                    w.before.as_ref().map(|r| &r.lead),
                    w.after.as_ref().map(|r| &r.lead),
                    &mut values,
                );
                d.add(&all_bucket(None), field::CHANGES, 1, 0);
                d
            })
            .collect())
    }

    /// Makes sure the cache knows, for every question, whether the value is admitted: reads the registries it
    /// does not know the answer from, then admits the new values that ask for it while their scope has room.
    async fn resolve_values(&self, questions: &Questions) -> Result<Registry, StoreError> {
        let mut cache = self.registry.lock().await;
        let unknown: BTreeSet<&str> = questions
            .0
            .keys()
            .filter(|(s, v)| !cache.known.is_admitted(s, v))
            .map(|(s, _)| s.as_str())
            .collect();
        if !unknown.is_empty() {
            let items = self
                .store
                .batch_get(
                    unknown.iter().map(|s| keys::registry_key(s)).collect(),
                    true,
                )
                .await?;
            for item in &items {
                if let Some(scope) = item
                    .get(PK)
                    .and_then(|v| v.as_s().ok())
                    .and_then(|pk| pk.strip_prefix("R#"))
                {
                    remember(&mut cache, scope, item.get(REGISTRY_VALUES));
                }
            }
        }
        for ((scope, value), admit) in &questions.0 {
            if !admit || cache.known.is_admitted(scope, value) || cache.full.contains(scope) {
                continue;
            }
            self.admit(&mut cache, scope, value).await?;
        }
        Ok(cache.known.clone())
    }

    async fn admit(
        &self,
        cache: &mut RegistryCache,
        scope: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        let limit = value_limit(scope);
        let result = self
            .store
            .client
            .update_item()
            .table_name(&self.store.table)
            .set_key(Some(keys::registry_key(scope)))
            .update_expression("ADD #vals :v")
            .condition_expression(
                "attribute_not_exists(#vals) OR size(#vals) < :limit OR contains(#vals, :value)",
            )
            .expression_attribute_names("#vals", REGISTRY_VALUES)
            .expression_attribute_values(":v", AttributeValue::Ss(vec![value.to_string()]))
            .expression_attribute_values(":value", s(value))
            .expression_attribute_values(":limit", n(limit))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                remember(
                    cache,
                    scope,
                    out.attributes.as_ref().and_then(|a| a.get(REGISTRY_VALUES)),
                );
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                // Full: read the final set once and stop asking.
                let item = self.store.get_item(keys::registry_key(scope), true).await?;
                remember(
                    cache,
                    scope,
                    item.as_ref().and_then(|i| i.get(REGISTRY_VALUES)),
                );
                cache.full.insert(scope.to_string());
                Ok(())
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Applies the counter deltas of the writes not applied yet (those after the shard's checkpoint), in
    /// chunks of consecutive writes whose summed delta fits one transaction (99 buckets and the checkpoint). Each
    /// chunk moves the checkpoint to its last write, on condition that it is still before the chunk's first: a
    /// retried, bisected or overlapping batch applies each write exactly once.
    async fn apply_counters(
        &self,
        shard_id: &str,
        writes: &[(String, LeadWrite)],
        report: &mut BatchReport,
    ) -> Result<(), StoreError> {
        let checkpoint = self.checkpoint_padded(shard_id).await?;
        let todo: Vec<&(String, LeadWrite)> = writes
            .iter()
            .filter(|(seq, _)| checkpoint.as_ref().is_none_or(|c| padded(seq) > *c))
            .collect();
        report.replayed = writes.len() - todo.len();
        let leads: Vec<&LeadWrite> = todo.iter().map(|(_, w)| w).collect();
        let deltas = self.counter_deltas(&leads).await?;
        let mut chunk = Counters::default();
        let mut first: Option<&str> = None;
        for (i, ((seq, _), delta)) in todo.iter().zip(&deltas).enumerate() {
            first.get_or_insert(seq.as_str());
            chunk.merge(delta);
            let next_fits = deltas.get(i + 1).is_none_or(|next| {
                let mut joined = chunk.clone();
                joined.merge(next);
                joined.without_zeros().0.len() <= BUCKETS_PER_TRANSACTION
            });
            if next_fits && i + 1 < todo.len() {
                continue;
            }
            let summed = std::mem::take(&mut chunk).without_zeros();
            report.buckets += summed.0.len();
            match self
                .commit(shard_id, first.take().unwrap_or(seq), seq, &summed)
                .await?
            {
                true => report.transactions += 1,
                // The checkpoint moved past this chunk meanwhile (another invocation applied it): skip it.
                false => report.replayed += 1,
            }
        }
        Ok(())
    }

    /// Commits one chunk: its bucket updates and the checkpoint move from before `first` to `last`. Returns false
    /// when the checkpoint is no longer before `first`.
    async fn commit(
        &self,
        shard_id: &str,
        first: &str,
        last: &str,
        delta: &Counters,
    ) -> Result<bool, StoreError> {
        let mut items = vec![self.checkpoint_update(shard_id, &padded(first), last)?];
        for (bucket, fields) in &delta.0 {
            items.push(bucket_update(&self.store.table, bucket, fields)?);
        }
        if let Some(left) = self.fail_after.lock().await.as_mut() {
            if *left == 0 {
                return Err(StoreError::Unavailable(
                    "injected failure before a counter transaction".into(),
                ));
            }
            *left -= 1;
        }
        retry(
            RetryPolicy::CONFLICTS,
            |e| matches!(e, StoreError::Conflict),
            |_| {
                let items = items.clone();
                async move {
                    match self
                        .store
                        .client
                        .transact_write_items()
                        .set_transact_items(Some(items))
                        .send()
                        .await
                    {
                        Ok(_) => Ok(true),
                        Err(e) => checkpoint_outcome(e),
                    }
                }
            },
        )
        .await
    }

    /// Makes the next counter transactions fail once `after` more have committed (`None`: never). For tests that
    /// stop the consumer between a batch's stage changes and its counters, or between two of its transactions.
    pub async fn fail_after_transactions(&self, after: Option<usize>) {
        *self.fail_after.lock().await = after;
    }

    /// Moves the checkpoint to `last` (a sequence number as the stream gives it) if it is before `first_padded`.
    fn checkpoint_update(
        &self,
        shard_id: &str,
        first_padded: &str,
        last: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let expires = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            + CHECKPOINT_TTL_SECS;
        let update = Update::builder()
            .table_name(&self.store.table)
            .set_key(Some(keys::checkpoint_key(shard_id)))
            .update_expression("SET #seq = :last, #raw = :raw, #ttl = :ttl")
            .condition_expression("attribute_not_exists(#seq) OR #seq < :first")
            .expression_attribute_names("#seq", "seq")
            .expression_attribute_names("#raw", "raw")
            .expression_attribute_names("#ttl", crate::schema::TTL_ATTRIBUTE)
            .expression_attribute_values(":first", s(first_padded))
            .expression_attribute_values(":last", s(padded(last)))
            .expression_attribute_values(":raw", s(last))
            .expression_attribute_values(":ttl", n(expires))
            .build()
            .map_err(internal)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    async fn checkpoint_padded(&self, shard_id: &str) -> Result<Option<String>, StoreError> {
        let item = self
            .store
            .get_item(keys::checkpoint_key(shard_id), true)
            .await?;
        Ok(item.and_then(|i| i.get("seq").and_then(|v| v.as_s().ok()).cloned()))
    }

    /// The last sequence number whose counters were applied for `shard_id`, as the stream gave it (where a
    /// poller resumes).
    pub async fn checkpoint(&self, shard_id: &str) -> Result<Option<String>, StoreError> {
        let item = self
            .store
            .get_item(keys::checkpoint_key(shard_id), true)
            .await?;
        Ok(item.and_then(|i| i.get("raw").and_then(|v| v.as_s().ok()).cloned()))
    }
}

/// Whether a failed transaction was a replay (`Ok(false)`: the checkpoint condition failed), a conflict to retry,
/// or an error.
fn checkpoint_outcome(
    e: aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
) -> Result<bool, StoreError> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
        e.as_service_error()
    {
        let first = cancel.cancellation_reasons().first().and_then(|r| r.code());
        return if first == Some("ConditionalCheckFailed") {
            Ok(false)
        } else {
            Err(StoreError::Conflict)
        };
    }
    if e.as_service_error()
        .is_some_and(|s| s.is_transaction_in_progress_exception())
    {
        return Err(StoreError::Conflict);
    }
    Err(sdk_error(e))
}

/// An `ADD` of every non-zero field of a bucket.
fn bucket_update(
    table: &str,
    bucket: &str,
    fields: &leadpipe_core::domain::counters::Fields,
) -> Result<TransactWriteItem, StoreError> {
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::counter_key(bucket)));
    let mut parts = Vec::new();
    for (i, (name, t)) in fields.iter().enumerate() {
        for (j, (attribute, value)) in [(count_attribute(name), t.n), (ms_attribute(name), t.ms)]
            .into_iter()
            .enumerate()
        {
            if value == 0 {
                continue;
            }
            let (a, v) = (format!("#a{i}_{j}"), format!(":v{i}_{j}"));
            parts.push(format!("{a} {v}"));
            update = update
                .expression_attribute_names(a, attribute)
                .expression_attribute_values(v, n(value));
        }
    }
    if parts.is_empty() {
        parts.push("#z :z".into());
        update = update
            .expression_attribute_names("#z", count_attribute(field::LEADS))
            .expression_attribute_values(":z", n(0));
    }
    let update = update
        .update_expression(format!("ADD {}", parts.join(", ")))
        .build()
        .map_err(internal)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

fn remember(cache: &mut RegistryCache, scope: &str, values: Option<&AttributeValue>) {
    if let Some(AttributeValue::Ss(values)) = values {
        let set = cache.known.0.entry(scope.to_string()).or_default();
        set.extend(values.iter().cloned());
        if set.len() >= value_limit(scope) {
            cache.full.insert(scope.to_string());
        }
    }
}

/// A sequence number padded to 40 digits, so text order is numeric order.
fn padded(sequence: &str) -> String {
    format!("{sequence:0>40}")
}

/// The lead write a record carries, if it is one.
fn lead_write(record: &StreamRecord) -> Result<Option<LeadWrite>, StoreError> {
    let decode = |image: &Option<Item>| {
        image
            .as_ref()
            .filter(|i| is_lead_item(i))
            .map(lead_record_from_item)
            .transpose()
    };
    let (before, after) = (decode(&record.old_image)?, decode(&record.new_image)?);
    Ok((before.is_some() || after.is_some()).then_some(LeadWrite { before, after }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_numbers_once_padded() {
        assert!(padded("999") < padded("1000"));
        assert_eq!(padded("12").len(), 40);
    }
}
