//! The DynamoDB store: one table, single-table design.
//!
//! | item | `pk` | `sk` | notes |
//! |---|---|---|---|
//! | lead | `LEAD#<id>` | `LEAD` | the lead's fields, plus `list_pk`/`stage_key`/`created_key` for listings and `email` for the GSI |
//! | history | `LEAD#<id>` | `HIST#<version>` | one per stage change; same item collection as the lead, so one Query reads both |
//! | email claim | `EMAIL#<email>` | `EMAIL` | `lead_id`; created with a condition in the same transaction as the lead, which makes dedup race-free |
//! | counter | `COUNTERS` | `<kind>#<name>#<shard>` | `n`, `ms`; sharded so concurrent transactions rarely touch the same item |
//!
//! GSIs (projection ALL): `by_email` (`email`), `by_created` (`list_pk`, `created_key`), `by_stage` (`stage_key`, `created_key`).
//! Every write is one `TransactWriteItems` guarded by the lead's `version`.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, Delete, DeleteRequest, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    Put, ScalarAttributeType, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;
use serde::Serialize;
use uuid::Uuid;

use super::{filter_columns, LeadDelete, LeadPage, LeadStore, LeadWrite, ListQuery, StoreError};
use crate::domain::counters::{day_key, kind, Counters};
use crate::domain::lead::key_time;
use crate::domain::{Email, Lead, StageChange};

type Item = HashMap<String, AttributeValue>;

/// Number of shards each counter is spread over.
pub const COUNTER_SHARDS: u32 = 8;
/// Most items a filtered listing evaluates per request before it returns a cursor (plus the page itself).
pub const LIST_READ_BUDGET: usize = 1000;

const PK: &str = "pk";
const SK: &str = "sk";
const LEAD_SK: &str = "LEAD";
const CLAIM_SK: &str = "EMAIL";
const COUNTERS_PK: &str = "COUNTERS";
const LIST_PK_VALUE: &str = "LEAD";
/// Attributes that exist only for keys and filters; stripped when decoding a lead.
const INDEX_ATTRIBUTES: &[&str] = &[PK, SK, "list_pk", "stage_key", "created_key", "source_lc", "campaign_lc", "search_text"];

/// Index names.
pub mod index {
    /// Lead by email.
    pub const BY_EMAIL: &str = "by_email";
    /// Leads newest first.
    pub const BY_CREATED: &str = "by_created";
    /// Leads in one stage, newest first.
    pub const BY_STAGE: &str = "by_stage";
}

/// The table's key schema and indexes, in the shape of a CreateTable request. The single source of truth:
/// [`ensure_table`](DynamoStore::ensure_table) creates from it and `infra/table-definition.json` must equal it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    #[allow(missing_docs)]
    pub attribute_definitions: Vec<AttributeDef>,
    #[allow(missing_docs)]
    pub key_schema: Vec<KeyDef>,
    #[allow(missing_docs)]
    pub global_secondary_indexes: Vec<IndexDef>,
}

/// An attribute used in a key (all are strings).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDef {
    #[allow(missing_docs)]
    pub attribute_name: &'static str,
    #[allow(missing_docs)]
    pub attribute_type: &'static str,
}

/// One key element: `HASH` or `RANGE`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyDef {
    #[allow(missing_docs)]
    pub attribute_name: &'static str,
    #[allow(missing_docs)]
    pub key_type: &'static str,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexDef {
    #[allow(missing_docs)]
    pub index_name: &'static str,
    #[allow(missing_docs)]
    pub key_schema: Vec<KeyDef>,
    #[allow(missing_docs)]
    pub projection: ProjectionDef,
}

/// An index projection.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionDef {
    #[allow(missing_docs)]
    pub projection_type: &'static str,
}

fn hash(name: &'static str) -> KeyDef {
    KeyDef { attribute_name: name, key_type: "HASH" }
}

fn range(name: &'static str) -> KeyDef {
    KeyDef { attribute_name: name, key_type: "RANGE" }
}

/// The table definition the code relies on.
pub fn table_definition() -> TableDefinition {
    let all = || ProjectionDef { projection_type: "ALL" };
    TableDefinition {
        attribute_definitions: ["pk", "sk", "email", "list_pk", "stage_key", "created_key"]
            .into_iter()
            .map(|n| AttributeDef { attribute_name: n, attribute_type: "S" })
            .collect(),
        key_schema: vec![hash(PK), range(SK)],
        global_secondary_indexes: vec![
            IndexDef { index_name: index::BY_EMAIL, key_schema: vec![hash("email")], projection: all() },
            IndexDef { index_name: index::BY_CREATED, key_schema: vec![hash("list_pk"), range("created_key")], projection: all() },
            IndexDef { index_name: index::BY_STAGE, key_schema: vec![hash("stage_key"), range("created_key")], projection: all() },
        ],
    }
}

/// The DynamoDB lead store. Cheap to clone; build it once per process and share it.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// Wraps an SDK client (built once, in `main`).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Builds the client from the standard AWS environment (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`…),
    /// with short timeouts so an unreachable DynamoDB turns into a quick 503.
    pub async fn from_env(table: impl Into<String>) -> Self {
        Self::from_loader(table, aws_config::defaults(aws_config::BehaviorVersion::latest())).await
    }

    /// Like [`from_env`](Self::from_env), for local runs: when no region or credentials are configured it uses
    /// `us-east-1` and dummy credentials (DynamoDB Local accepts any).
    pub async fn from_env_for_local_use(table: impl Into<String>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
            loader = loader.region(aws_config::Region::new("us-east-1"));
        }
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() && std::env::var_os("AWS_PROFILE").is_none() {
            loader =
                loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "leadpipe-local"));
        }
        Self::from_loader(table, loader).await
    }

    async fn from_loader(table: impl Into<String>, loader: aws_config::ConfigLoader) -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(Duration::from_secs(5))
            .operation_timeout(Duration::from_secs(12))
            .build();
        let config = loader.timeout_config(timeouts).load().await;
        Self::new(Client::new(&config), table)
    }

    /// The SDK client (for tools and tests that inspect the table directly).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table from [`table_definition`] when it does not exist (for local use and tests).
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        match self.client.describe_table().table_name(&self.table).send().await {
            Ok(_) => return Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {}
            Err(e) => return Err(sdk_error(e)),
        }
        let def = table_definition();
        let key = |k: &KeyDef| {
            KeySchemaElement::builder()
                .attribute_name(k.attribute_name)
                .key_type(if k.key_type == "HASH" { KeyType::Hash } else { KeyType::Range })
                .build()
                .map_err(internal)
        };
        let mut req = self.client.create_table().table_name(&self.table).billing_mode(BillingMode::PayPerRequest);
        for a in &def.attribute_definitions {
            req = req.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(a.attribute_name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(internal)?,
            );
        }
        for k in &def.key_schema {
            req = req.key_schema(key(k)?);
        }
        for g in &def.global_secondary_indexes {
            let mut gsi = GlobalSecondaryIndex::builder()
                .index_name(g.index_name)
                .projection(Projection::builder().projection_type(ProjectionType::All).build());
            for k in &g.key_schema {
                gsi = gsi.key_schema(key(k)?);
            }
            req = req.global_secondary_indexes(gsi.build().map_err(internal)?);
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }

    fn lead_key(id: Uuid) -> Item {
        HashMap::from([(PK.into(), s(format!("LEAD#{id}"))), (SK.into(), s(LEAD_SK))])
    }

    fn claim_key(email: &Email) -> Item {
        HashMap::from([(PK.into(), s(format!("EMAIL#{email}"))), (SK.into(), s(CLAIM_SK))])
    }

    async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out =
            self.client.get_item().table_name(&self.table).set_key(Some(key)).consistent_read(true).send().await.map_err(sdk_error)?;
        Ok(out.item)
    }

    fn counter_updates(&self, counters: &Counters) -> Result<Vec<TransactWriteItem>, StoreError> {
        counters
            .0
            .iter()
            .map(|(k, t)| {
                let shard = fastrand::u32(0..COUNTER_SHARDS);
                let update = Update::builder()
                    .table_name(&self.table)
                    .key(PK, s(COUNTERS_PK))
                    .key(SK, s(format!("{k}#{shard:02}")))
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
        let items = self.query_partition(&format!("LEAD#{id}"), SortKeyCondition::Prefix("HIST#")).await?;
        for chunk in items.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    let key: Item = [PK, SK].iter().filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
                    Ok(WriteRequest::builder()
                        .delete_request(DeleteRequest::builder().set_key(Some(key)).build().map_err(internal)?)
                        .build())
                })
                .collect::<Result<_, StoreError>>()?;
            for attempt in 0..8u32 {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut requests))
                    .send()
                    .await
                    .map_err(sdk_error)?;
                requests = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
            }
            if !requests.is_empty() {
                return Err(StoreError::Unavailable("history cleanup was throttled".into()));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum SortKeyCondition<'a> {
    All,
    Prefix(&'a str),
    Between(&'a str, &'a str),
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// Maps an SDK error: transport failures and throttling are `Unavailable`, the rest `Internal` (with full context).
fn sdk_error<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = e.code().unwrap_or_default().to_string();
    let detail = DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => StoreError::Unavailable(detail),
        _ if is_throttling(&code) => StoreError::Unavailable(detail),
        _ => StoreError::Internal(detail),
    }
}

fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "ThrottlingError"
            | "ProvisionedThroughputExceeded"
    )
}

/// Maps a failed transaction: a failed claim condition is `EmailTaken`, any other condition failure or conflict is
/// `Conflict` (the caller re-reads and retries), transport trouble is `Unavailable`.
fn transaction_error(
    e: SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
    claim_index: Option<usize>,
    email: Option<&Email>,
) -> StoreError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) = e.as_service_error() {
        let codes: Vec<&str> = cancel.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None")).collect();
        let failed = |i: usize| codes.get(i).is_some_and(|c| *c == "ConditionalCheckFailed");
        let other_condition_failed = codes.iter().enumerate().any(|(i, c)| *c == "ConditionalCheckFailed" && Some(i) != claim_index);
        return match (claim_index, email) {
            (Some(i), Some(email)) if failed(i) && !other_condition_failed => StoreError::EmailTaken(email.clone()),
            _ => StoreError::Conflict,
        };
    }
    if e.as_service_error().is_some_and(|s| s.is_transaction_in_progress_exception() || s.code() == Some("TransactionConflictException")) {
        return StoreError::Conflict;
    }
    sdk_error(e)
}

/// Encodes a lead as its item: fields via serde_dynamo (nulls dropped), custom data as a JSON string (so any JSON,
/// numbers and empty keys included, round-trips), plus the key and filter attributes.
fn lead_item(lead: &Lead) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(lead).map_err(internal)?;
    item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
    item.insert("custom_data".into(), s(serde_json::to_string(&lead.custom_data).map_err(internal)?));
    let (source_lc, campaign_lc, search_text) = filter_columns(lead);
    item.extend(DynamoStore::lead_key(lead.id));
    item.insert("list_pk".into(), s(LIST_PK_VALUE));
    item.insert("stage_key".into(), s(&lead.stage));
    item.insert("created_key".into(), s(lead.created_key()));
    item.insert("search_text".into(), s(search_text));
    if let Some(v) = source_lc {
        item.insert("source_lc".into(), s(v));
    }
    if let Some(v) = campaign_lc {
        item.insert("campaign_lc".into(), s(v));
    }
    Ok(item)
}

fn lead_from_item(mut item: Item) -> Result<Lead, StoreError> {
    let custom = match item.remove("custom_data") {
        Some(AttributeValue::S(json)) => serde_json::from_str(&json).map_err(|e| internal(format!("custom_data does not decode: {e}")))?,
        _ => serde_json::Map::new(),
    };
    for a in INDEX_ATTRIBUTES {
        item.remove(*a);
    }
    let mut lead: Lead = serde_dynamo::from_item(item).map_err(|e| internal(format!("lead item does not decode: {e}")))?;
    lead.custom_data = custom;
    Ok(lead)
}

/// Sums counter items (`<key>#<shard>` sort keys) into counters; a malformed count is an error, not a zero.
fn counters_from_items(items: impl IntoIterator<Item = Item>) -> Result<Counters, StoreError> {
    let mut counters = Counters::default();
    for item in items {
        let Some(AttributeValue::S(sk)) = item.get(SK) else { continue };
        let Some((key, _shard)) = sk.rsplit_once('#') else { continue };
        let num = |name: &str| match item.get(name) {
            Some(AttributeValue::N(v)) => v.parse::<i64>().map_err(|_| internal(format!("counter {sk} holds a non-integer {name}"))),
            _ => Ok(0),
        };
        counters.add(key, num("n")?, num("ms")?);
    }
    Ok(counters)
}

fn history_sk(version: u64) -> String {
    format!("HIST#{version:020}")
}

#[async_trait]
impl LeadStore for DynamoStore {
    async fn get(&self, id: Uuid) -> Result<Option<Lead>, StoreError> {
        self.get_item(Self::lead_key(id)).await?.map(lead_from_item).transpose()
    }

    async fn find_by_email(&self, email: &Email, consistent: bool) -> Result<Option<Lead>, StoreError> {
        if consistent {
            let Some(claim) = self.get_item(Self::claim_key(email)).await? else { return Ok(None) };
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

    async fn write(&self, w: LeadWrite<'_>) -> Result<(), StoreError> {
        let lead = w.after;
        let id = s(lead.id.to_string());
        let mut items = Vec::new();
        let put = Put::builder().table_name(&self.table).set_item(Some(lead_item(lead)?));
        let put = match w.before {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(b) => put.condition_expression("version = :v").expression_attribute_values(":v", n(b.version)),
        };
        items.push(TransactWriteItem::builder().put(put.build().map_err(internal)?).build());
        let old_email = w.before.and_then(|b| b.email.as_ref());
        let mut claim_index = None;
        if old_email != lead.email.as_ref() {
            if let Some(old) = old_email {
                let del = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(Self::claim_key(old)))
                    .condition_expression("lead_id = :id")
                    .expression_attribute_values(":id", id.clone())
                    .build()
                    .map_err(internal)?;
                items.push(TransactWriteItem::builder().delete(del).build());
            }
            if let Some(new) = &lead.email {
                let mut claim = Self::claim_key(new);
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
        if let Some(h) = w.history {
            let mut item: Item = serde_dynamo::to_item(h).map_err(internal)?;
            item.insert(PK.into(), s(format!("LEAD#{}", lead.id)));
            item.insert(SK.into(), s(history_sk(lead.version)));
            let put = Put::builder().table_name(&self.table).set_item(Some(item)).build().map_err(internal)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        items.extend(self.counter_updates(w.counters)?);
        self.transact(items, claim_index, lead.email.as_ref()).await
    }

    async fn delete(&self, d: LeadDelete<'_>) -> Result<(), StoreError> {
        let lead = d.lead;
        let mut items = vec![TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(Self::lead_key(lead.id)))
                    .condition_expression("version = :v")
                    .expression_attribute_values(":v", n(lead.version))
                    .build()
                    .map_err(internal)?,
            )
            .build()];
        if let Some(email) = &lead.email {
            let del = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Self::claim_key(email)))
                .condition_expression("lead_id = :id")
                .expression_attribute_values(":id", s(lead.id.to_string()))
                .build()
                .map_err(internal)?;
            items.push(TransactWriteItem::builder().delete(del).build());
        }
        items.extend(self.counter_updates(d.counters)?);
        match self.transact(items, None, None).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(if self.get(lead.id).await?.is_some() { StoreError::Conflict } else { StoreError::NotFound });
            }
            Err(e) => return Err(e),
        }
        // The lead is gone, so no new history can be written for it (every write is version-guarded).
        self.delete_history(lead.id).await
    }

    async fn get_with_history(&self, id: Uuid) -> Result<Option<(Lead, Vec<StageChange>)>, StoreError> {
        let items = self.query_partition(&format!("LEAD#{id}"), SortKeyCondition::All).await?;
        let mut lead = None;
        let mut history = Vec::new();
        for mut item in items {
            match item.get(SK) {
                Some(AttributeValue::S(sk)) if sk == LEAD_SK => lead = Some(lead_from_item(item)?),
                Some(AttributeValue::S(sk)) if sk.starts_with("HIST#") => {
                    item.remove(PK);
                    item.remove(SK);
                    history.push(serde_dynamo::from_item(item).map_err(internal)?);
                }
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
            HashMap::from([
                (PK.into(), s(format!("LEAD#{id}"))),
                (SK.into(), s(LEAD_SK)),
                (hash_attr.into(), s(hash_value)),
                ("created_key".into(), s(after.clone())),
            ])
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
