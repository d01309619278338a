//! [`DynamoStore`]: the lead store on one DynamoDB table (keys in [`crate::keys`], schema in [`crate::schema`]).
//!
//! Every write is one `TransactWriteItems` guarded by the lead's `version`: the lead, its history entry, its email
//! claim (created with a condition, which makes dedup race-free) and its counter deltas (sharded), all or nothing.
//! A lost race is retried by [`leadpipe_core::retry`] after reading the lead again.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, DeleteRequest, Put, TransactWriteItem, Update, WriteRequest};
use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;
use leadpipe_core::domain::counters::{day_key, kind, CounterRules, Counters};
use leadpipe_core::domain::lead::key_time;
use leadpipe_core::domain::merge::Applied;
use leadpipe_core::domain::{Email, Lead, StageChange};
use leadpipe_core::retry::{retry, RetryPolicy};
use leadpipe_core::store::{Changed, Decide, Decision, LeadPage, LeadRef, LeadStore, ListQuery, StoreError};
use uuid::Uuid;

use crate::codec::{counters_from_items, history_from_item, history_item, lead_from_item, lead_item, n, s, Item};
use crate::error::{internal, sdk_error, transaction_error};
use crate::keys::{self, COUNTERS_PK, HISTORY_PREFIX, LEAD_SK, LIST_PK_VALUE, PK, SK};
use crate::schema::{ensure_table, index};

/// Number of shards each counter is spread over.
pub const COUNTER_SHARDS: u32 = 8;
/// Most items a filtered listing evaluates per request before it returns a cursor (plus the page itself).
pub const LIST_READ_BUDGET: usize = 1000;

/// The DynamoDB lead store. Cheap to clone; build it once per process and share it.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    rules: Arc<CounterRules>,
}

/// One attempt of a change: lost a race (try again) or failed for good.
enum Attempt {
    Lost,
    Failed(StoreError),
}

impl From<StoreError> for Attempt {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::Lost,
            other => Self::Failed(other),
        }
    }
}

impl DynamoStore {
    /// Wraps an SDK client (built once, in `main`), the table name and the counter rules.
    pub fn new(client: Client, table: impl Into<String>, rules: CounterRules) -> Self {
        Self { client, table: table.into(), rules: Arc::new(rules) }
    }

    /// The SDK client (for tools and tests that inspect the table directly).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table when it does not exist (for local use and tests).
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        ensure_table(&self.client, &self.table).await
    }

    async fn get_item(&self, key: keys::Key) -> Result<Option<Item>, StoreError> {
        let out =
            self.client.get_item().table_name(&self.table).set_key(Some(key)).consistent_read(true).send().await.map_err(sdk_error)?;
        Ok(out.item)
    }

    /// The lead holding `email`: strongly consistent through its claim, or eventually consistent through the
    /// `by_email` index (a stale answer only costs a retry: writes are version-guarded).
    pub async fn find_by_email(&self, email: &Email, consistent: bool) -> Result<Option<Lead>, StoreError> {
        if consistent {
            let Some(claim) = self.get_item(keys::claim_key(email)).await? else { return Ok(None) };
            let id = match claim.get("lead_id") {
                Some(AttributeValue::S(id)) => Uuid::parse_str(id).map_err(internal)?,
                _ => return Err(internal("email claim without lead_id")),
            };
            return self.get(id).await;
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index::BY_EMAIL)
            .key_condition_expression("email = :e")
            .expression_attribute_values(":e", s(email.as_str()))
            .limit(1)
            .send()
            .await
            .map_err(sdk_error)?;
        out.items.unwrap_or_default().into_iter().next().map(lead_from_item).transpose()
    }

    async fn resolve(&self, target: &LeadRef, consistent: bool) -> Result<Option<Lead>, StoreError> {
        if let Some(id) = target.id {
            if let Some(lead) = self.get(id).await? {
                return Ok(Some(lead));
            }
        }
        match &target.email {
            Some(email) => self.find_by_email(email, consistent).await,
            None => Ok(None),
        }
    }

    async fn attempt(&self, target: &LeadRef, decide: &Decide, attempt: u32) -> Result<Changed, Attempt> {
        let before = self.resolve(target, attempt > 0).await?;
        let decision = decide(before.as_ref());
        match (&decision, &before) {
            (Decision::Apply(applied), _) if applied.modified => match self.put(before.as_ref(), applied).await {
                // A concurrent first postback claimed the email: the next attempt finds and updates that lead.
                Err(StoreError::EmailTaken(_)) if before.is_none() => return Err(Attempt::Lost),
                result => result?,
            },
            (Decision::Delete, Some(lead)) => self.delete(lead).await?,
            _ => {}
        }
        Ok(Changed { before, decision })
    }

    fn counter_updates(&self, counters: &Counters) -> Result<Vec<TransactWriteItem>, StoreError> {
        counters
            .0
            .iter()
            .map(|(k, t)| {
                let mut key = keys::key(COUNTERS_PK, keys::counter_sk(k, fastrand::u32(0..COUNTER_SHARDS)));
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(std::mem::take(&mut key)))
                    .update_expression("ADD n :n, ms :ms")
                    .expression_attribute_values(":n", n(t.n))
                    .expression_attribute_values(":ms", n(t.ms))
                    .build()
                    .map_err(internal)?;
                Ok(TransactWriteItem::builder().update(update).build())
            })
            .collect()
    }

    async fn transact(&self, items: Vec<TransactWriteItem>, claim_index: Option<usize>, email: Option<&Email>) -> Result<(), StoreError> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(transaction_error(e, claim_index, email)),
        }
    }

    /// Writes a lead (insert when `before` is `None`, else an update guarded by its version) with its history entry,
    /// email claim changes and counter deltas, in one transaction.
    async fn put(&self, before: Option<&Lead>, applied: &Applied) -> Result<(), StoreError> {
        let lead = &applied.lead;
        let id = s(lead.id.to_string());
        let mut items = Vec::new();
        let put = Put::builder().table_name(&self.table).set_item(Some(lead_item(lead)?));
        let put = match before {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(b) => put.condition_expression("version = :v").expression_attribute_values(":v", n(b.version)),
        };
        items.push(TransactWriteItem::builder().put(put.build().map_err(internal)?).build());
        let old_email = before.and_then(|b| b.email.as_ref());
        let mut claim_index = None;
        if old_email != lead.email.as_ref() {
            if let Some(old) = old_email {
                let del = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::claim_key(old)))
                    .condition_expression("lead_id = :id")
                    .expression_attribute_values(":id", id.clone())
                    .build()
                    .map_err(internal)?;
                items.push(TransactWriteItem::builder().delete(del).build());
            }
            if let Some(new) = &lead.email {
                let mut claim = keys::claim_key(new);
                claim.insert("lead_id".into(), id.clone());
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(claim))
                    .condition_expression("attribute_not_exists(pk) OR lead_id = :id")
                    .expression_attribute_values(":id", id.clone())
                    .build()
                    .map_err(internal)?;
                claim_index = Some(items.len());
                items.push(TransactWriteItem::builder().put(put).build());
            }
        }
        if let Some(h) = &applied.history {
            let put =
                Put::builder().table_name(&self.table).set_item(Some(history_item(lead.id, lead.version, h)?)).build().map_err(internal)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        items.extend(self.counter_updates(&self.rules.delta(before, Some(lead)))?);
        self.transact(items, claim_index, lead.email.as_ref()).await
    }

    /// Deletes a lead (guarded by its version), its claim and its counters in one transaction, then its history.
    async fn delete(&self, lead: &Lead) -> Result<(), StoreError> {
        let mut items = vec![TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(keys::lead_key(lead.id)))
                    .condition_expression("version = :v")
                    .expression_attribute_values(":v", n(lead.version))
                    .build()
                    .map_err(internal)?,
            )
            .build()];
        if let Some(email) = &lead.email {
            let del = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(keys::claim_key(email)))
                .condition_expression("lead_id = :id")
                .expression_attribute_values(":id", s(lead.id.to_string()))
                .build()
                .map_err(internal)?;
            items.push(TransactWriteItem::builder().delete(del).build());
        }
        items.extend(self.counter_updates(&self.rules.delta(Some(lead), None))?);
        self.transact(items, None, None).await?;
        // The lead is gone, so no new history can be written for it (every write is version-guarded).
        self.delete_history(lead.id).await
    }

    /// Reads every item of one partition (optionally only sort keys starting with a prefix, or in a range), all pages.
    async fn query_partition(&self, pk: &str, sk: SortKeyCondition<'_>) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start.take());
            req = match sk {
                SortKeyCondition::All => req.key_condition_expression("pk = :pk"),
                SortKeyCondition::Prefix(p) => {
                    req.key_condition_expression("pk = :pk AND begins_with(sk, :p)").expression_attribute_values(":p", s(p))
                }
                SortKeyCondition::Between(lo, hi) => req
                    .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                    .expression_attribute_values(":lo", s(lo))
                    .expression_attribute_values(":hi", s(hi)),
            };
            let out = req.send().await.map_err(sdk_error)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// Deletes the history items left after the lead itself was deleted, 25 at a time.
    async fn delete_history(&self, id: Uuid) -> Result<(), StoreError> {
        let items = self.query_partition(&keys::lead_pk(id), SortKeyCondition::Prefix(HISTORY_PREFIX)).await?;
        for chunk in items.chunks(25) {
            let requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    let key: Item = [PK, SK].iter().filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
                    Ok(WriteRequest::builder()
                        .delete_request(DeleteRequest::builder().set_key(Some(key)).build().map_err(internal)?)
                        .build())
                })
                .collect::<Result<_, StoreError>>()?;
            self.batch_write(requests).await?;
        }
        Ok(())
    }

    /// Sends one BatchWriteItem, retrying unprocessed requests with backoff.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let pending = std::sync::Mutex::new(requests);
        let throttled = || StoreError::Unavailable("batch write was throttled".into());
        retry(
            RetryPolicy::THROTTLING,
            |e| matches!(e, StoreError::Unavailable(_)),
            |_| async {
                let batch = std::mem::take(&mut *pending.lock().map_err(|_| internal("poisoned"))?);
                let out = self.client.batch_write_item().request_items(&self.table, batch).send().await.map_err(sdk_error)?;
                let left = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
                if left.is_empty() {
                    return Ok(());
                }
                *pending.lock().map_err(|_| internal("poisoned"))? = left;
                Err(throttled())
            },
        )
        .await
    }
}

#[derive(Clone, Copy)]
enum SortKeyCondition<'a> {
    All,
    Prefix(&'a str),
    Between(&'a str, &'a str),
}

#[async_trait]
impl LeadStore for DynamoStore {
    async fn get(&self, id: Uuid) -> Result<Option<Lead>, StoreError> {
        self.get_item(keys::lead_key(id)).await?.map(lead_from_item).transpose()
    }

    async fn find(&self, target: &LeadRef) -> Result<Option<Lead>, StoreError> {
        self.resolve(target, true).await
    }

    async fn change(&self, target: &LeadRef, decide: Arc<Decide>) -> Result<Changed, StoreError> {
        let result = retry(RetryPolicy::CONFLICTS, |e| matches!(e, Attempt::Lost), |attempt| self.attempt(target, &*decide, attempt)).await;
        match result {
            Ok(changed) => Ok(changed),
            Err(Attempt::Lost) => Err(StoreError::Conflict),
            Err(Attempt::Failed(e)) => Err(e),
        }
    }

    async fn get_with_history(&self, id: Uuid) -> Result<Option<(Lead, Vec<StageChange>)>, StoreError> {
        let items = self.query_partition(&keys::lead_pk(id), SortKeyCondition::All).await?;
        let mut lead = None;
        let mut history = Vec::new();
        for item in items {
            match item.get(SK) {
                Some(AttributeValue::S(sk)) if sk == LEAD_SK => lead = Some(lead_from_item(item)?),
                Some(AttributeValue::S(sk)) if sk.starts_with(HISTORY_PREFIX) => history.push(history_from_item(item)?),
                _ => {}
            }
        }
        Ok(lead.map(|l| (l, history)))
    }

    async fn list(&self, q: &ListQuery) -> Result<LeadPage, StoreError> {
        let (index_name, hash_attr, hash_value) = match &q.stage {
            Some(stage) => (index::BY_STAGE, "stage_key", stage.as_str()),
            None => (index::BY_CREATED, "list_pk", LIST_PK_VALUE),
        };
        let key_condition = match (q.created_from, q.created_before) {
            (Some(_), Some(_)) => "#h = :h AND created_key BETWEEN :lo AND :hi",
            (Some(_), None) => "#h = :h AND created_key >= :lo",
            (None, Some(_)) => "#h = :h AND created_key < :hi",
            (None, None) => "#h = :h",
        };
        let mut filters = Vec::new();
        if q.search.is_some() {
            filters.push("contains(search_text, :q)");
        }
        if q.source.is_some() {
            filters.push("source_lc = :src");
        }
        if q.campaign.is_some() {
            filters.push("campaign_lc = :cmp");
        }
        let filtered = !filters.is_empty();
        let mut start: Option<Item> = q.after.as_ref().map(|after| {
            let id = after.rsplit_once('#').map(|(_, id)| id).unwrap_or_default();
            let mut k = keys::key(format!("LEAD#{id}"), LEAD_SK);
            k.insert(hash_attr.into(), s(hash_value));
            k.insert("created_key".into(), s(after.clone()));
            k
        });
        let budget = LIST_READ_BUDGET + q.skip + q.limit;
        let (mut evaluated, mut skipped) = (0usize, 0usize);
        let mut page = LeadPage::default();
        loop {
            let wanted = q.skip - skipped + q.limit + 1 - page.leads.len();
            let request_limit = if filtered { (budget - evaluated).clamp(1, 500) } else { wanted.min(500) };
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index_name)
                .key_condition_expression(key_condition)
                .expression_attribute_names("#h", hash_attr)
                .expression_attribute_values(":h", s(hash_value))
                .scan_index_forward(false)
                .limit(i32::try_from(request_limit).unwrap_or(500))
                .set_exclusive_start_key(start.take());
            if let Some(from) = q.created_from {
                req = req.expression_attribute_values(":lo", s(key_time(from)));
            }
            if let Some(before) = q.created_before {
                req = req.expression_attribute_values(":hi", s(key_time(before)));
            }
            if filtered {
                req = req.filter_expression(filters.join(" AND "));
            }
            for (name, value) in [(":q", &q.search), (":src", &q.source), (":cmp", &q.campaign)] {
                if let Some(v) = value {
                    req = req.expression_attribute_values(name, s(v.clone()));
                }
            }
            let out = req.send().await.map_err(sdk_error)?;
            evaluated += usize::try_from(out.scanned_count).unwrap_or(0);
            for item in out.items.unwrap_or_default() {
                if skipped < q.skip {
                    skipped += 1;
                    continue;
                }
                if page.leads.len() == q.limit {
                    page.next_after = page.leads.last().map(Lead::created_key);
                    return Ok(page);
                }
                page.leads.push(lead_from_item(item)?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => {
                    if evaluated >= budget {
                        page.next_after = match k.get("created_key") {
                            Some(AttributeValue::S(ck)) => Some(ck.clone()),
                            _ => None,
                        };
                        return Ok(page);
                    }
                    start = Some(k);
                }
                _ => return Ok(page),
            }
        }
    }

    async fn stage_counters(&self) -> Result<Counters, StoreError> {
        let prefix = format!("{}#", kind::STAGE);
        counters_from_items(self.query_partition(COUNTERS_PK, SortKeyCondition::Prefix(&prefix)).await?)
    }

    async fn counters(&self, days: (NaiveDate, NaiveDate)) -> Result<Counters, StoreError> {
        let prefixes = [kind::STAGE, kind::REACHED, kind::STEP, kind::SOURCE].map(|k| format!("{k}#"));
        let (lo, hi) = (format!("{}#", day_key(days.0)), format!("{}#~", day_key(days.1)));
        let (a, b, c, d, e) = tokio::join!(
            self.query_partition(COUNTERS_PK, SortKeyCondition::Prefix(&prefixes[0])),
            self.query_partition(COUNTERS_PK, SortKeyCondition::Prefix(&prefixes[1])),
            self.query_partition(COUNTERS_PK, SortKeyCondition::Prefix(&prefixes[2])),
            self.query_partition(COUNTERS_PK, SortKeyCondition::Prefix(&prefixes[3])),
            self.query_partition(COUNTERS_PK, SortKeyCondition::Between(&lo, &hi)),
        );
        counters_from_items([a?, b?, c?, d?, e?].into_iter().flatten())
    }
}
