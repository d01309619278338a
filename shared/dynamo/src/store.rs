//! [`DynamoStore`]: the lead store on one DynamoDB table (keys in [`crate::keys`], schema in [`crate::schema`]).
//!
//! The write path touches only the lead's own item and, when an email is claimed or released, its claim item:
//!
//! - **create**: put the email claim with `attribute_not_exists` (the race-free dedup point), then put the lead
//!   with `attribute_not_exists`. A claim whose lead does not exist (a crash between the two, or a concurrent
//!   creator) is *adopted*: the lead is created under the claim's id, so concurrent creators meet in one lead.
//! - **update**: put the lead conditioned on its `version`; an email change also moves the claim, in one
//!   transaction (rare: only a server key may change an email).
//! - **delete**: release the claim, then delete the lead conditioned on its `version`.
//!
//! Stage-change items and counters are derived from the table's stream by [`crate::consumer`], off the write
//! path. A lost race is retried by [`leadpipe_core::retry`] after reading the lead again.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use leadpipe_core::domain::account::{Invite, InviteTake, Session, TokenHash, User};
use leadpipe_core::domain::counters::{value_bucket, CounterQuery, CounterRules, Counters, OTHER};
use leadpipe_core::domain::lead::key_time;
use leadpipe_core::domain::two_factor::TwoFactor;
use leadpipe_core::domain::{Email, Lead, StageChange};
use leadpipe_core::retry::{retry, RetryPolicy};
use leadpipe_core::store::{
    Changed, Decide, Decision, IdempotencyClaim, LeadPage, LeadRef, LeadStore, ListQuery,
    MinuteCounts, PostbackLogEntry, PostbackLogPage, PostbackLogQuery, StoreError, StoredResponse,
};
use uuid::Uuid;

use crate::codec::{
    add_counter_item, attr, claim_item, claim_target, history_from_item, is_lead_item, lead_item,
    lead_record_from_item, n, s, Item, LeadRecord, VersionedChange,
};
use crate::error::{internal, is_throttled_or_server_error, sdk_error, transaction_error};
use crate::keys::{self, HISTORY_PREFIX, PK, SK};
use crate::schema::{ensure_table, index};

/// The DynamoDB lead store. Cheap to clone; build it once per process and share it.
#[derive(Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: String,
    pub(crate) rules: Arc<CounterRules>,
    settle: Option<Arc<dyn Settle>>,
    new_leads: Arc<MinuteCounts>,
    /// Which webhooks exist, read at most every few seconds (see [`crate::webhooks`]).
    pub(crate) webhook_ids: Arc<crate::webhooks::WebhookIds>,
}

/// Something that brings derived data (stage changes, counters) up to date: the local stream consumer.
#[async_trait]
pub trait Settle: Send + Sync {
    /// Returns once every change made before the call has been processed.
    async fn settle(&self) -> Result<(), StoreError>;
}

/// One attempt of a change: lost a race (try again) or failed for good.
enum Attempt {
    Lost,
    Failed(StoreError),
}

impl From<StoreError> for Attempt {
    fn from(e: StoreError) -> Self {
        Self::Failed(e)
    }
}

/// What resolving a [`LeadRef`] found: the lead (with its record), or the id an orphan email claim reserves.
struct Resolved {
    record: Option<LeadRecord>,
    adopt: Option<Uuid>,
}

impl DynamoStore {
    /// Wraps an SDK client (built once, in `main`), the table name and the counter rules.
    pub fn new(client: Client, table: impl Into<String>, rules: CounterRules) -> Self {
        Self {
            client,
            table: table.into(),
            rules: Arc::new(rules),
            settle: None,
            new_leads: Arc::default(),
            webhook_ids: Arc::default(),
        }
    }

    /// The same store, whose [`LeadStore::settle`] waits for `settle` (a local stream consumer).
    pub fn with_settle(mut self, settle: Arc<dyn Settle>) -> Self {
        self.settle = Some(settle);
        self
    }

    /// The SDK client (for tools and tests that inspect the table directly).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The counter rules.
    pub fn rules(&self) -> &CounterRules {
        &self.rules
    }

    /// Creates the table when it does not exist (for local use and tests).
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        ensure_table(&self.client, &self.table).await
    }

    pub(crate) async fn get_item(
        &self,
        key: keys::Key,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }

    /// Writes `item` whole, unconditionally (a new item under a fresh key, or one that may simply be replaced).
    pub(crate) async fn put_item(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn get_record(&self, id: Uuid) -> Result<Option<LeadRecord>, StoreError> {
        self.get_item(keys::lead_key(id), true)
            .await?
            .map(|i| lead_record_from_item(&i))
            .transpose()
    }

    /// The lead `target` refers to. Email lookups go through the `by_email` index first (eventually consistent; a
    /// stale answer costs a lost race and a retry, because every write is conditional) and, when `consistent`,
    /// through the email's claim — which may reserve an id whose lead does not exist (yet): then `adopt` is set.
    async fn resolve(&self, target: &LeadRef, consistent: bool) -> Result<Resolved, StoreError> {
        if let Some(id) = target.id {
            if let Some(record) = self.get_record(id).await? {
                return Ok(Resolved {
                    record: Some(record),
                    adopt: None,
                });
            }
        }
        let Some(email) = &target.email else {
            return Ok(Resolved {
                record: None,
                adopt: None,
            });
        };
        if !consistent {
            for id in self.ids_by_email(email).await? {
                if let Some(record) = self
                    .get_record(id)
                    .await?
                    .filter(|r| r.lead.email.as_ref() == Some(email))
                {
                    return Ok(Resolved {
                        record: Some(record),
                        adopt: None,
                    });
                }
            }
            return Ok(Resolved {
                record: None,
                adopt: None,
            });
        }
        let Some(claim) = self.get_item(keys::claim_key(email), true).await? else {
            return Ok(Resolved {
                record: None,
                adopt: None,
            });
        };
        let id = claim_target(&claim)?;
        match self.get_record(id).await? {
            Some(record) if record.lead.email.as_ref() == Some(email) => Ok(Resolved {
                record: Some(record),
                adopt: None,
            }),
            // The claimed lead moved to another email without releasing this claim (a crash mid-change): stale.
            Some(_) => {
                self.release_claim(email, id).await?;
                Ok(Resolved {
                    record: None,
                    adopt: None,
                })
            }
            None => Ok(Resolved {
                record: None,
                adopt: Some(id),
            }),
        }
    }

    async fn ids_by_email(&self, email: &Email) -> Result<Vec<Uuid>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index::BY_EMAIL)
            .key_condition_expression("#e = :e")
            .expression_attribute_names("#e", attr::EMAIL)
            .expression_attribute_values(":e", s(email.as_str()))
            .limit(4)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|i| {
                i.get(PK)
                    .and_then(|v| v.as_s().ok())
                    .and_then(|pk| keys::lead_id_of(pk))
            })
            .collect())
    }

    async fn attempt(
        &self,
        target: &LeadRef,
        decide: &Decide,
        attempt: u32,
    ) -> Result<Changed, Attempt> {
        let resolved = self.resolve(target, attempt > 0).await?;
        let before = resolved.record.as_ref().map(|r| r.lead.clone());
        let mut decision = decide(before.as_ref());
        match (&mut decision, &resolved.record) {
            (Decision::Apply(applied), None) if applied.modified => {
                if let Some(id) = resolved.adopt {
                    applied.lead.id = id;
                }
                let created = applied
                    .history
                    .clone()
                    .ok_or_else(|| internal("a new lead without its creation entry"))?;
                let record = LeadRecord {
                    lead: applied.lead.clone(),
                    last_change: None,
                    created,
                };
                self.insert(&record).await?;
            }
            (Decision::Apply(applied), Some(old)) if applied.modified => {
                let last_change = match &applied.history {
                    Some(change) => Some(VersionedChange {
                        version: applied.lead.version,
                        change: change.clone(),
                    }),
                    None => old.last_change.clone(),
                };
                let record = LeadRecord {
                    lead: applied.lead.clone(),
                    last_change,
                    created: old.created.clone(),
                };
                self.update(&old.lead, &record).await?;
            }
            (Decision::Delete, Some(old)) => self.delete(&old.lead).await?,
            _ => {}
        }
        Ok(Changed { before, decision })
    }

    /// Creates a lead: claims its email, then puts it, both only if absent.
    async fn insert(&self, record: &LeadRecord) -> Result<(), Attempt> {
        let lead = &record.lead;
        if let Some(email) = &lead.email {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(claim_item(email, lead.id)))
                .condition_expression("attribute_not_exists(pk) OR #id = :id")
                .expression_attribute_names("#id", attr::CLAIM_ID)
                .expression_attribute_values(":id", s(lead.id.to_string()));
            put_conditionally(put.send().await)?;
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(lead_item(record)?))
            .condition_expression("attribute_not_exists(pk)");
        put_conditionally(put.send().await)
    }

    /// Replaces a lead if it still has the version it was read at; an email change moves its claim atomically.
    async fn update(&self, old: &Lead, record: &LeadRecord) -> Result<(), Attempt> {
        let lead = &record.lead;
        if old.email == lead.email {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(lead_item(record)?))
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", attr::VERSION)
                .expression_attribute_values(":v", n(old.version));
            return put_conditionally(put.send().await);
        }
        let id = s(lead.id.to_string());
        let mut items = Vec::new();
        let mut claim_index = None;
        if let Some(new) = &lead.email {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(claim_item(new, lead.id)))
                .condition_expression("attribute_not_exists(pk) OR #id = :id")
                .expression_attribute_names("#id", attr::CLAIM_ID)
                .expression_attribute_values(":id", id.clone())
                .build()
                .map_err(internal)?;
            claim_index = Some(items.len());
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(lead_item(record)?))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", attr::VERSION)
            .expression_attribute_values(":v", n(old.version))
            .build()
            .map_err(internal)?;
        items.push(TransactWriteItem::builder().put(put).build());
        if let Some(previous) = &old.email {
            let del = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(keys::claim_key(previous)))
                .condition_expression("attribute_not_exists(pk) OR #id = :id")
                .expression_attribute_names("#id", attr::CLAIM_ID)
                .expression_attribute_values(":id", id.clone())
                .build()
                .map_err(internal)?;
            items.push(TransactWriteItem::builder().delete(del).build());
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match transaction_error(e, claim_index, lead.email.as_ref()) {
                StoreError::Conflict => Err(Attempt::Lost),
                StoreError::EmailTaken(email) => {
                    // A claim whose lead is gone or moved on is stale: release it and try again.
                    if self.claim_is_stale(&email).await? {
                        Err(Attempt::Lost)
                    } else {
                        Err(Attempt::Failed(StoreError::EmailTaken(email)))
                    }
                }
                other => Err(Attempt::Failed(other)),
            },
        }
    }

    /// Whether `email`'s claim points at a lead that no longer holds it; releases it if so.
    async fn claim_is_stale(&self, email: &Email) -> Result<bool, StoreError> {
        let Some(claim) = self.get_item(keys::claim_key(email), true).await? else {
            return Ok(true);
        };
        let holder = claim_target(&claim)?;
        match self.get_record(holder).await? {
            Some(r) if r.lead.email.as_ref() == Some(email) => Ok(false),
            _ => {
                self.release_claim(email, holder).await?;
                Ok(true)
            }
        }
    }

    /// Deletes `email`'s claim if it still points at `id`.
    pub(crate) async fn release_claim(&self, email: &Email, id: Uuid) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::claim_key(email)))
            .condition_expression("#id = :id")
            .expression_attribute_names("#id", attr::CLAIM_ID)
            .expression_attribute_values(":id", s(id.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Releases the lead's claim, then deletes the lead if it still has the version it was read at. Its stage
    /// changes are removed by the stream consumer.
    async fn delete(&self, lead: &Lead) -> Result<(), Attempt> {
        if let Some(email) = &lead.email {
            self.release_claim(email, lead.id).await?;
        }
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::lead_key(lead.id)))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", attr::VERSION)
            .expression_attribute_values(":v", n(lead.version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(Attempt::Lost)
            }
            Err(e) => Err(Attempt::Failed(sdk_error(e))),
        }
    }

    /// Reads items by key with BatchGetItem (see [`crate::batch`]).
    pub(crate) async fn batch_get(
        &self,
        keys: Vec<keys::Key>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        crate::batch::get(&self.client, &self.table, keys, consistent).await
    }

    /// Writes with BatchWriteItem (see [`crate::batch`]).
    pub(crate) async fn batch_write(
        &self,
        requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
    ) -> Result<(), StoreError> {
        crate::batch::write(&self.client, &self.table, requests).await
    }

    /// Reads every item of one partition, all pages (strongly consistent).
    pub(crate) async fn query_partition(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }
}

/// Maps a conditional put's result: a failed condition lost a race.
fn put_conditionally<R>(
    result: Result<
        R,
        aws_sdk_dynamodb::error::SdkError<
            PutItemError,
            aws_sdk_dynamodb::config::http::HttpResponse,
        >,
    >,
) -> Result<(), Attempt> {
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            Err(Attempt::Lost)
        }
        Err(e) => Err(Attempt::Failed(sdk_error(e))),
    }
}

#[async_trait]
impl LeadStore for DynamoStore {
    async fn get(&self, id: Uuid) -> Result<Option<Lead>, StoreError> {
        Ok(self.get_record(id).await?.map(|r| r.lead))
    }

    async fn find(&self, target: &LeadRef) -> Result<Option<Lead>, StoreError> {
        Ok(self.resolve(target, true).await?.record.map(|r| r.lead))
    }

    async fn change(&self, target: &LeadRef, decide: Arc<Decide>) -> Result<Changed, StoreError> {
        let result = retry(
            RetryPolicy::CONFLICTS,
            |e| matches!(e, Attempt::Lost),
            |attempt| self.attempt(target, &*decide, attempt),
        )
        .await;
        match result {
            Ok(changed) => Ok(changed),
            Err(Attempt::Lost) => Err(StoreError::Conflict),
            Err(Attempt::Failed(e)) => Err(e),
        }
    }

    /// One Query of the lead's partition: the lead, and its stage-change items. The creation entry comes from the
    /// lead item; the latest change too when the stream consumer has not written its item yet.
    async fn get_with_history(
        &self,
        id: Uuid,
    ) -> Result<Option<(Lead, Vec<StageChange>)>, StoreError> {
        let mut record = None;
        let mut changes = std::collections::BTreeMap::new();
        for item in self.query_partition(&keys::lead_pk(id)).await? {
            let sk = item
                .get(SK)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            if is_lead_item(&item) {
                record = Some(lead_record_from_item(&item)?);
            } else if sk.starts_with(HISTORY_PREFIX) {
                let version =
                    keys::history_version(&sk).ok_or_else(|| internal("bad history key"))?;
                changes.insert(version, history_from_item(item)?);
            }
        }
        let Some(record) = record else {
            return Ok(None);
        };
        if let Some(last) = &record.last_change {
            changes
                .entry(last.version)
                .or_insert_with(|| last.change.clone());
        }
        let mut history = vec![record.created.clone()];
        history.extend(changes.into_values());
        Ok(Some((record.lead, history)))
    }

    async fn list(&self, q: &ListQuery) -> Result<LeadPage, StoreError> {
        crate::listing::list(self, q).await
    }

    /// Counts from the listing index's entries alone (see [`crate::listing::count`]).
    async fn count(&self, q: &ListQuery) -> Result<leadpipe_core::totals::Total, StoreError> {
        crate::listing::count(self, q).await
    }

    /// Counts from the listing index's entries alone, up to "count all"'s ceiling.
    async fn count_all(&self, q: &ListQuery) -> Result<leadpipe_core::totals::Total, StoreError> {
        let ceiling = leadpipe_core::totals::FULL_COUNT_READS;
        crate::listing::count_up_to(self, q, ceiling, ceiling).await
    }

    /// Counter buckets by key with BatchGetItem; for scopes, first the scope's registry of admitted values.
    async fn counters(&self, query: &CounterQuery) -> Result<Counters, StoreError> {
        let mut buckets: Vec<String> = query.buckets.iter().cloned().collect();
        let registries = self
            .batch_get(
                query.scopes.iter().map(|s| keys::registry_key(s)).collect(),
                false,
            )
            .await?;
        for item in &registries {
            let Some(scope) = item
                .get(PK)
                .and_then(|v| v.as_s().ok())
                .and_then(|pk| pk.strip_prefix("R#"))
            else {
                continue;
            };
            if let Some(AttributeValue::Ss(values)) = item.get("vals") {
                buckets.extend(values.iter().map(|v| value_bucket(scope, v)));
            }
        }
        buckets.extend(query.scopes.iter().map(|scope| value_bucket(scope, OTHER)));
        buckets.sort();
        buckets.dedup();
        let items = self
            .batch_get(
                buckets.iter().map(|b| keys::counter_key(b)).collect(),
                false,
            )
            .await?;
        let mut counters = Counters::default();
        for item in &items {
            if let Some(bucket) = item
                .get(PK)
                .and_then(|v| v.as_s().ok())
                .and_then(|pk| keys::bucket_of(pk))
            {
                add_counter_item(&mut counters, bucket, item)?;
            }
        }
        Ok(counters)
    }

    /// One item per entry, spread over [`keys::LOG_SHARDS`] partitions per day and status; DynamoDB's TTL deletes
    /// it at `expires_at`.
    async fn log_postback(&self, entry: &PostbackLogEntry) -> Result<(), StoreError> {
        let shard = entry.id.as_bytes()[0] % keys::LOG_SHARDS;
        let mut item = keys::key(
            keys::log_pk(entry.status.as_str(), entry.at.date_naive(), shard),
            format!("{}#{}", key_time(entry.at), entry.id),
        );
        item.insert(
            attr::DATA.into(),
            s(serde_json::to_string(entry).map_err(internal)?),
        );
        item.insert(
            crate::schema::TTL_ATTRIBUTE.into(),
            n(entry.expires_at.timestamp()),
        );
        self.put_item(item).await
    }

    /// Newest first: each day's shards are read and merged, today back to the oldest day entries can still exist.
    async fn postback_log(&self, q: &PostbackLogQuery) -> Result<PostbackLogPage, StoreError> {
        crate::listing::postback_log(self, q).await
    }

    /// Counted in this process; once a client repeats here within a minute, also in a shared item (so repeated
    /// bursts are seen across Lambda instances while one-off visitors cost no write). When that item cannot be
    /// written (throttled by the client's own flood), the count of this process stands.
    async fn put_spend(
        &self,
        rows: &[leadpipe_core::domain::spend::SpendRow],
    ) -> Result<(), StoreError> {
        self.put_spend_rows(rows).await
    }

    async fn spend(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<leadpipe_core::domain::spend::SpendRow>, StoreError> {
        self.spend_rows(from, to).await
    }

    async fn delete_spend(&self, keys: &[String]) -> Result<(), StoreError> {
        self.delete_spend_rows(keys).await
    }

    async fn put_rates(
        &self,
        rows: &[leadpipe_core::domain::spend::RateRow],
    ) -> Result<(), StoreError> {
        self.put_rate_rows(rows).await
    }

    async fn rates(&self) -> Result<Vec<leadpipe_core::domain::spend::RateRow>, StoreError> {
        self.rate_rows().await
    }

    async fn delete_rate(
        &self,
        day: chrono::NaiveDate,
        currency: leadpipe_core::domain::money::Currency,
    ) -> Result<(), StoreError> {
        self.delete_rate_row(day, currency).await
    }

    async fn count_new_lead(&self, client: &str, at: DateTime<Utc>) -> Result<u32, StoreError> {
        let local = self.new_leads.add(client, at);
        if local < 2 {
            return Ok(local);
        }
        let minute = at.timestamp().div_euclid(60);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::rate_key(client, minute)))
            .update_expression("ADD #n :n SET #ttl = :ttl")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#ttl", crate::schema::TTL_ATTRIBUTE)
            .expression_attribute_values(":n", n(if local == 2 { 2 } else { 1 }))
            .expression_attribute_values(":ttl", n((minute + 10) * 60))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await;
        // A client hot enough to throttle its own rate item (~1,000 new leads/s) is counted here alone: this
        // process's count is a lower bound and quarantines it just as well.
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                tracing::warn!(error = %sdk_error(e), "client rate item not updated; counting in this process only");
                return Ok(local);
            }
        };
        let shared = out
            .attributes
            .and_then(|a| {
                a.get("n")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<u32>().ok())
            })
            .unwrap_or(local);
        Ok(shared.max(local))
    }

    async fn settle(&self) -> Result<(), StoreError> {
        match &self.settle {
            Some(s) => s.settle().await,
            None => Ok(()),
        }
    }

    /// A conditional put that one of many concurrent claims wins; a loser reads the item (strongly consistent)
    /// to tell a stored response from a claim in progress.
    // Accounts (see `accounts.rs`).
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        self.accounts_create_user(user).await
    }

    async fn user(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        self.accounts_user(id).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.accounts_user_by_email(email).await
    }

    async fn users(&self) -> Result<Vec<User>, StoreError> {
        self.accounts_users().await
    }

    async fn update_user(&self, user: &User, keeper: Option<Uuid>) -> Result<bool, StoreError> {
        self.accounts_update_user(user, keeper).await
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        self.accounts_create_session(session).await
    }

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<Session>, StoreError> {
        self.accounts_session(token_hash).await
    }

    async fn touch_session(
        &self,
        token_hash: &TokenHash,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.accounts_touch_session(token_hash, at).await
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> Result<(), StoreError> {
        self.accounts_delete_session(token_hash).await
    }

    async fn delete_user_sessions(&self, user_id: Uuid) -> Result<(), StoreError> {
        self.accounts_delete_user_sessions(user_id).await
    }

    async fn create_invite(&self, invite: &Invite) -> Result<(), StoreError> {
        self.accounts_create_invite(invite).await
    }

    async fn take_invite(
        &self,
        token_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<InviteTake, StoreError> {
        self.accounts_take_invite(token_hash, now).await
    }

    async fn add_login_failure(
        &self,
        key: &str,
        window: i64,
        expires_at: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        self.accounts_add_login_failure(key, window, expires_at)
            .await
    }

    async fn login_failures(&self, key: &str, window: i64) -> Result<u32, StoreError> {
        self.accounts_login_failures(key, window).await
    }

    async fn set_two_factor(&self, user_id: Uuid, state: &TwoFactor) -> Result<bool, StoreError> {
        self.two_factor_set(user_id, state).await
    }

    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool, StoreError> {
        self.two_factor_use_step(user_id, step).await
    }

    async fn use_recovery_code(&self, user_id: Uuid, hash: &str) -> Result<bool, StoreError> {
        self.two_factor_use_recovery(user_id, hash).await
    }
    // End of accounts.

    async fn claim_idempotency(
        &self,
        key: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, StoreError> {
        let item_key = keys::idempotency_key(key);
        // The key may vanish between a lost claim and the read (its claimant failed and released it): claim again.
        for _ in 0..3 {
            let mut item = item_key.clone();
            item.insert(IDEM_LEASE.into(), n(lease_until.timestamp_millis()));
            item.insert(
                crate::schema::TTL_ATTRIBUTE.into(),
                n(expires_at.timestamp()),
            );
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk) OR #ttl <= :now OR (attribute_not_exists(#resp) AND #lease <= :now_ms)")
                .expression_attribute_names("#ttl", crate::schema::TTL_ATTRIBUTE)
                .expression_attribute_names("#resp", IDEM_RESPONSE)
                .expression_attribute_names("#lease", IDEM_LEASE)
                .expression_attribute_values(":now", n(now.timestamp()))
                .expression_attribute_values(":now_ms", n(now.timestamp_millis()))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(IdempotencyClaim::Claimed),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(sdk_error(e)),
            }
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(item_key.clone()))
                .consistent_read(true)
                .send()
                .await
                .map_err(sdk_error)?;
            let Some(found) = out.item else { continue };
            return match found.get(IDEM_RESPONSE).and_then(|v| v.as_s().ok()) {
                Some(json) => Ok(IdempotencyClaim::Done(
                    serde_json::from_str::<StoredResponse>(json).map_err(internal)?,
                )),
                None => Ok(IdempotencyClaim::InProgress),
            };
        }
        Ok(IdempotencyClaim::InProgress)
    }

    async fn complete_idempotency(
        &self,
        key: &str,
        response: &StoredResponse,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut item = keys::idempotency_key(key);
        item.insert(
            IDEM_RESPONSE.into(),
            s(serde_json::to_string(response).map_err(internal)?),
        );
        item.insert(
            crate::schema::TTL_ATTRIBUTE.into(),
            n(expires_at.timestamp()),
        );
        // Throttling that outlasts the SDK's retries must not leave the key held without its response: repeats
        // would be refused as in progress until the lease ends, then applied again.
        retry(
            RetryPolicy::THROTTLING,
            is_throttled_or_server_error,
            |_| {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item.clone()))
                    .send()
            },
        )
        .await
        .map_err(sdk_error)?;
        Ok(())
    }

    async fn release_idempotency(&self, key: &str) -> Result<(), StoreError> {
        // Retried through throttling like the response above: a claim left behind makes the sender's retry of a
        // refused (503) postback a 409 until its lease ends.
        let result = retry(
            RetryPolicy::THROTTLING,
            is_throttled_or_server_error,
            |_| {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(keys::idempotency_key(key)))
                    .condition_expression("attribute_not_exists(#resp)")
                    .expression_attribute_names("#resp", IDEM_RESPONSE)
                    .send()
            },
        )
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    // Audit log
    /// One conditional PutItem in the entry's day and shard (see [`crate::audit`]).
    async fn append_audit(
        &self,
        entry: &leadpipe_core::domain::AuditEntry,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        self.put_audit(entry, expires_at).await
    }

    /// Each day's shards queried and merged, newest day first (never a scan).
    async fn audit(
        &self,
        q: &leadpipe_core::domain::AuditQuery,
    ) -> Result<leadpipe_core::domain::AuditPage, StoreError> {
        self.audit_page(q).await
    }

    async fn privacy_state(&self) -> Result<leadpipe_core::store::PrivacyState, StoreError> {
        self.privacy_state_item().await
    }

    async fn suppress(&self, key: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.put_suppression(key, at).await
    }

    async fn is_suppressed(&self, key: &str) -> Result<bool, StoreError> {
        self.has_suppression(key).await
    }

    async fn erase_copies(
        &self,
        scope: &leadpipe_core::domain::privacy::ErasureScope,
    ) -> Result<leadpipe_core::domain::privacy::ErasedCopies, StoreError> {
        self.erase_person_copies(scope).await
    }

    async fn person_copies(
        &self,
        scope: &leadpipe_core::domain::privacy::ErasureScope,
    ) -> Result<leadpipe_core::store::PersonCopies, StoreError> {
        self.person_copies_of(scope).await
    }
}

/// Attribute of an idempotency item: until when (Unix milliseconds) a claim without a response holds the key.
const IDEM_LEASE: &str = "lease";
/// Attribute of an idempotency item: the first response, as JSON.
const IDEM_RESPONSE: &str = "resp";
