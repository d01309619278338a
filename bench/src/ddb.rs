//! DynamoDB Local for the benchmarks, and a metered SDK client: an interceptor that sees every data-plane request
//! and its response and
//!
//! - counts the round trips per operation and sums the capacity DynamoDB Local reports (it adds
//!   `ReturnConsumedCapacity=TOTAL` to each request);
//! - computes the units DynamoDB would bill from the **real item sizes** by DynamoDB's rules
//!   ([`leadpipe_dynamo::size`]), for the table and each index entry, and records every unit against the partition
//!   key value (and, for writes, the item) it lands on, tagged with the [`Ctx`] of the task that made the request.
//!
//! To know an item's size before a write it adds `ReturnValues: ALL_OLD` to PutItem and DeleteItem requests (the
//! response then carries the old item; this does not change what DynamoDB bills) and keeps a shadow copy of every
//! item written through it (for BatchWriteItem, UpdateItem and TransactWriteItems, whose responses do not carry
//! the old item). The store under test is unchanged: it just receives this client.
//!
//! The rules applied (on-demand, as AWS documents them):
//! - an item's size is the sum of its attribute names and values ([`leadpipe_dynamo::size::item_size`]);
//! - a write costs 1 unit per KB of the larger of the old and new item (a delete: the old item), at least 1; in
//!   TransactWriteItems 2 units per KB; a write whose condition fails is still billed (counted, and flagged);
//! - each global secondary index entry a write creates, changes or removes costs 1 unit per KB of the entry (keys of
//!   the table and the index plus the projected attributes): a put when the entry appears, a delete when it
//!   disappears, a delete **and** a put when its key changes, a put when only projected attributes change, and
//!   nothing when neither does (index propagation of a transactional write is counted at the standard rate: an
//!   assumption, not used by the postback path);
//! - a read costs 1 unit per 4 KB strongly consistent, half eventually consistent; GetItem and each item of
//!   BatchGetItem are rounded up separately (a key not found costs the minimum); a Query is billed on the summed
//!   size of the entries it evaluated, rounded up once (entries a filter dropped are estimated from `ScannedCount`
//!   at the returned entries' mean size).

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use leadpipe_dynamo::codec::Item;
use leadpipe_dynamo::size::{item_size, read_units, write_units};
use leadpipe_dynamo::DynamoStore;
use serde_json::Value;

/// Data-plane operations the interceptor meters, and whether they read.
const METERED: &[(&str, bool)] = &[
    ("GetItem", true),
    ("Query", true),
    ("Scan", true),
    ("BatchGetItem", true),
    ("TransactGetItems", true),
    ("PutItem", false),
    ("UpdateItem", false),
    ("DeleteItem", false),
    ("BatchWriteItem", false),
    ("TransactWriteItems", false),
];

/// Partition key of the local stream consumer's settle markers: bookkeeping of `leadpipe serve`, not of the
/// design, so never metered.
const SETTLE_MARKER_PK: &str = "S#settle";

/// Which part of the system made a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// The write path (a postback or another API call).
    WritePath,
    /// The stream consumer.
    Consumer,
}

/// What a task is doing, set around a call with [`CTX`]`.scope(..)`; the interceptor tags every unit with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctx {
    /// Write path or stream consumer.
    pub phase: Phase,
    /// The postback kind or operation (free text).
    pub kind: &'static str,
    /// The simulated lead (write path), or 0.
    pub lead: u64,
    /// The simulated stream shard (consumer), or 0.
    pub shard: u32,
    /// The batch number (consumer), or 0.
    pub batch: u32,
    /// A number unique to one postback or operation (write path), or 0.
    pub op: u64,
}

impl Ctx {
    /// A write-path context.
    pub fn write(kind: &'static str, lead: u64, op: u64) -> Self {
        Self {
            phase: Phase::WritePath,
            kind,
            lead,
            shard: 0,
            batch: 0,
            op,
        }
    }

    /// A consumer context.
    pub fn consumer(kind: &'static str, shard: u32, batch: u32) -> Self {
        Self {
            phase: Phase::Consumer,
            kind,
            lead: 0,
            shard,
            batch,
            op: 0,
        }
    }
}

tokio::task_local! {
    /// The context of the current task's DynamoDB requests.
    pub static CTX: Ctx;
}

/// Where units land: the table or one of its indexes.
pub const TABLE: &str = "table";

/// One unit-bearing effect of a request: on the table or an index, on one partition key value.
#[derive(Debug, Clone)]
pub struct Event {
    /// The context of the task that made the request (`None` outside any [`CTX`] scope).
    pub ctx: Option<Ctx>,
    /// The operation (`PutItem`…).
    pub op: &'static str,
    /// [`TABLE`] or the index name.
    pub target: String,
    /// The partition key value.
    pub pk: String,
    /// For a table item write: `pk` and `sk` of the item.
    pub item: Option<(String, String)>,
    /// Write request units.
    pub wru: f64,
    /// Read request units.
    pub rru: f64,
    /// Whether this write's condition failed (billed, not applied).
    pub failed: bool,
}

/// What a span of work cost in DynamoDB.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Round trips (HTTP attempts) per operation name.
    pub requests: BTreeMap<String, u64>,
    /// Consumed read capacity units, as DynamoDB Local reports them.
    pub rcu: f64,
    /// Consumed write capacity units, as DynamoDB Local reports them.
    pub wcu: f64,
    /// Read request units by DynamoDB's sizing rules, from the real item sizes (see the module documentation).
    pub model_rru: f64,
    /// Write request units by DynamoDB's sizing rules, from the real item sizes, indexes included.
    pub model_wru: f64,
}

impl Usage {
    /// All round trips.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    /// `GetItem×1 + PutItem×1` style summary.
    pub fn describe(&self) -> String {
        if self.requests.is_empty() {
            return "none".into();
        }
        self.requests
            .iter()
            .map(|(op, n)| format!("{op}×{n}"))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// As JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({"requests": self.total_requests(), "by_operation": self.requests, "rcu": self.rcu, "wcu": self.wcu,
                           "model_rru": self.model_rru, "model_wru": self.model_wru})
    }
}

/// One request as the interceptor saw it.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// The context of the task that made it.
    pub ctx: Option<Ctx>,
    /// The operation.
    pub op: &'static str,
}

#[derive(Default)]
struct State {
    usage: Usage,
    events: Vec<Event>,
    requests: Vec<RequestRecord>,
    shadow: HashMap<(String, String), Item>,
    /// PutItem/DeleteItem answers whose old item differed from the shadow copy (should stay 0).
    shadow_mismatches: u64,
    /// Update expressions the shadow could not evaluate (the item's size is then taken as unchanged).
    unsupported_updates: u64,
}

impl State {
    /// The item a PutItem or DeleteItem replaced: from its `ALL_OLD` answer (counting a mismatch with the shadow
    /// copy), or the shadow copy when the condition failed and nothing was written.
    fn old_item(
        &mut self,
        key: &(String, String),
        resp: &Value,
        condition_failed: bool,
    ) -> Option<Item> {
        let shadow_old = self.shadow.get(key).cloned();
        if condition_failed {
            return shadow_old;
        }
        let answered = resp.get("Attributes").map(item_from_json);
        if answered != shadow_old {
            self.shadow_mismatches += 1;
        }
        answered
    }
}

/// Accumulates [`Usage`], and (when [`Meter::record_events`] is on) every [`Event`] and request, from the
/// interceptor.
#[derive(Default)]
pub struct Meter {
    state: Mutex<State>,
    keep: AtomicBool,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Meter")
    }
}

impl Meter {
    /// The usage since the last `take`, resetting it.
    pub fn take(&self) -> Usage {
        std::mem::take(&mut self.lock().usage)
    }

    /// Keeps every event and request from now on (for [`take_events`](Self::take_events)).
    pub fn record_events(&self, on: bool) {
        self.keep.store(on, Ordering::Relaxed);
    }

    /// The events and requests recorded since the last call.
    pub fn take_events(&self) -> (Vec<Event>, Vec<RequestRecord>) {
        let mut s = self.lock();
        (
            std::mem::take(&mut s.events),
            std::mem::take(&mut s.requests),
        )
    }

    /// Shadow-copy disagreements with DynamoDB's `ALL_OLD` answers, and update expressions it could not follow.
    pub fn shadow_health(&self) -> (u64, u64) {
        let s = self.lock();
        (s.shadow_mismatches, s.unsupported_updates)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Debug, Clone)]
struct Recorder {
    meter: Arc<Meter>,
    mode: &'static str,
    indexes: Arc<Vec<IndexShape>>,
}

/// What the interceptor keeps between a request and its response.
#[derive(Debug, Clone)]
struct InFlight {
    op: &'static str,
    ctx: Option<Ctx>,
    body: Value,
    reads: bool,
}

impl Storable for InFlight {
    type Storer = StoreReplace<Self>;
}

fn operation(target: Option<&str>) -> &'static str {
    let op = target
        .and_then(|t| t.rsplit_once('.'))
        .map(|(_, op)| op)
        .unwrap_or("?");
    METERED
        .iter()
        .map(|(name, _)| *name)
        .find(|n| *n == op)
        .unwrap_or("other")
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "leadpipe-bench-recorder"
    }

    fn modify_before_signing(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = ctx.request_mut();
        let op = operation(req.headers().get("x-amz-target"));
        let Some(&(_, reads)) = METERED.iter().find(|(name, _)| *name == op) else {
            return Ok(());
        };
        let Some(bytes) = req.body().bytes() else {
            return Ok(());
        };
        let mut json: Value = serde_json::from_slice(bytes)?;
        if is_settle_marker(op, &json) {
            return Ok(());
        }
        if let Some(obj) = json.as_object_mut() {
            obj.insert("ReturnConsumedCapacity".into(), self.mode.into());
            if matches!(op, "PutItem" | "DeleteItem") && !obj.contains_key("ReturnValues") {
                obj.insert("ReturnValues".into(), "ALL_OLD".into());
            }
        }
        let body = serde_json::to_vec(&json)?;
        req.headers_mut()
            .insert("content-length", body.len().to_string());
        *req.body_mut() = SdkBody::from(body);
        let task = CTX.try_with(Clone::clone).ok();
        {
            let mut s = self.meter.lock();
            *s.usage.requests.entry(op.to_string()).or_default() += 1;
            if self.meter.keep.load(Ordering::Relaxed) {
                s.requests.push(RequestRecord {
                    ctx: task.clone(),
                    op,
                });
            }
        }
        cfg.interceptor_state().store_put(InFlight {
            op,
            ctx: task,
            body: json,
            reads,
        });
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        ctx: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(flight) = cfg.load::<InFlight>().cloned() else {
            return Ok(());
        };
        let status = ctx.response().status().as_u16();
        let Some(bytes) = ctx.response().body().bytes() else {
            return Ok(());
        };
        let resp: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        let mut s = self.meter.lock();
        if let Some(consumed) = resp.get("ConsumedCapacity") {
            let entries: Vec<&Value> = match consumed {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            for e in entries {
                let f = |k: &str| e.get(k).and_then(Value::as_f64);
                let (read, write) = match (f("ReadCapacityUnits"), f("WriteCapacityUnits")) {
                    (None, None) => {
                        let units = f("CapacityUnits").unwrap_or(0.0);
                        if flight.reads {
                            (units, 0.0)
                        } else {
                            (0.0, units)
                        }
                    }
                    (r, w) => (r.unwrap_or(0.0), w.unwrap_or(0.0)),
                };
                s.usage.rcu += read;
                s.usage.wcu += write;
            }
        }
        let error = (status >= 300).then(|| {
            resp.get("__type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        });
        let events = account(&mut s, &self.indexes, &flight, &resp, error.as_deref());
        for e in &events {
            s.usage.model_wru += e.wru;
            s.usage.model_rru += e.rru;
        }
        if self.meter.keep.load(Ordering::Relaxed) {
            s.events.extend(events);
        }
        Ok(())
    }
}

fn is_settle_marker(op: &str, body: &Value) -> bool {
    op == "PutItem" && body["Item"]["pk"]["S"].as_str() == Some(SETTLE_MARKER_PK)
}

// ---------------------------------------------------------------------------------------------------------------
// Items in the wire form ⇄ SDK items.

/// An item from its JSON wire form (`{"attr": {"S": "…"}, …}`).
pub fn item_from_json(v: &Value) -> Item {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), attr_from_json(v)))
                .collect()
        })
        .unwrap_or_default()
}

fn attr_from_json(v: &Value) -> AttributeValue {
    let Some((t, inner)) = v.as_object().and_then(|o| o.iter().next()) else {
        return AttributeValue::Null(true);
    };
    let string = || inner.as_str().unwrap_or_default().to_string();
    let strings = || {
        inner
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let blob = |s: &str| Blob::new(aws_smithy_types::base64::decode(s).unwrap_or_default());
    match t.as_str() {
        "S" => AttributeValue::S(string()),
        "N" => AttributeValue::N(string()),
        "B" => AttributeValue::B(blob(inner.as_str().unwrap_or_default())),
        "BOOL" => AttributeValue::Bool(inner.as_bool().unwrap_or(false)),
        "SS" => AttributeValue::Ss(strings()),
        "NS" => AttributeValue::Ns(strings()),
        "BS" => AttributeValue::Bs(strings().iter().map(|s| blob(s)).collect()),
        "M" => AttributeValue::M(item_from_json(inner)),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .map(|a| a.iter().map(attr_from_json).collect())
                .unwrap_or_default(),
        ),
        _ => AttributeValue::Null(true),
    }
}

fn key_of(item: &Item) -> (String, String) {
    let s = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    (s("pk"), s("sk"))
}

// ---------------------------------------------------------------------------------------------------------------
// Indexes, from the table definition the code relies on.

#[derive(Debug, Clone)]
struct IndexShape {
    name: String,
    hash: String,
    range: Option<String>,
    /// `None`: ALL; `Some(list)`: KEYS_ONLY (empty) or INCLUDE.
    projected: Option<Vec<String>>,
}

fn index_shapes() -> Vec<IndexShape> {
    leadpipe_dynamo::table_definition()
        .global_secondary_indexes
        .iter()
        .map(|g| IndexShape {
            name: g.index_name.to_string(),
            hash: g
                .key_schema
                .iter()
                .find(|k| k.key_type == "HASH")
                .map(|k| k.attribute_name.to_string())
                .unwrap_or_default(),
            range: g
                .key_schema
                .iter()
                .find(|k| k.key_type == "RANGE")
                .map(|k| k.attribute_name.to_string()),
            projected: match g.projection.projection_type {
                "ALL" => None,
                _ => Some(
                    g.projection
                        .non_key_attributes
                        .iter()
                        .map(|a| a.to_string())
                        .collect(),
                ),
            },
        })
        .collect()
}

impl IndexShape {
    /// The index entry of an item, if the item has the index's key attributes.
    fn entry(&self, item: &Item) -> Option<Item> {
        item.get(&self.hash)?;
        if let Some(r) = &self.range {
            item.get(r)?;
        }
        let mut names: Vec<&str> = vec!["pk", "sk", &self.hash];
        if let Some(r) = &self.range {
            names.push(r);
        }
        match &self.projected {
            None => return Some(item.clone()),
            Some(list) => names.extend(list.iter().map(String::as_str)),
        }
        Some(
            names
                .into_iter()
                .filter_map(|n| item.get(n).map(|v| (n.to_string(), v.clone())))
                .collect(),
        )
    }

    fn entry_key(&self, entry: &Item) -> (Option<AttributeValue>, Option<AttributeValue>) {
        (
            entry.get(&self.hash).cloned(),
            self.range.as_ref().and_then(|r| entry.get(r).cloned()),
        )
    }

    fn partition(&self, entry: &Item) -> String {
        entry.get(&self.hash).map(attr_text).unwrap_or_default()
    }
}

/// Storage an index entry takes: its attributes plus DynamoDB's 100 bytes of per-entry overhead.
pub fn index_entry_storage(item: &Item) -> Vec<(String, usize)> {
    index_shapes()
        .iter()
        .filter_map(|ix| {
            ix.entry(item)
                .map(|e| (ix.name.clone(), item_size(&e) + 100))
        })
        .collect()
}

fn attr_text(v: &AttributeValue) -> String {
    match v {
        AttributeValue::S(s) | AttributeValue::N(s) => s.clone(),
        AttributeValue::B(b) => format!("<{} bytes>", b.as_ref().len()),
        other => format!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The accounting.

fn event(
    flight: &InFlight,
    target: &str,
    pk: String,
    item: Option<(String, String)>,
    wru: f64,
    rru: f64,
    failed: bool,
) -> Event {
    Event {
        ctx: flight.ctx.clone(),
        op: flight.op,
        target: target.to_string(),
        pk,
        item,
        wru,
        rru,
        failed,
    }
}

/// Units of one table write from `old` to `new` (either may be absent), plus its index entries' writes.
#[allow(clippy::too_many_arguments)]
fn write_events(
    out: &mut Vec<Event>,
    indexes: &[IndexShape],
    flight: &InFlight,
    key: (String, String),
    old: Option<&Item>,
    new: Option<&Item>,
    factor: f64,
    failed: bool,
) {
    let size = old.map_or(0, item_size).max(new.map_or(0, item_size));
    out.push(event(
        flight,
        TABLE,
        key.0.clone(),
        Some(key),
        factor * write_units(size) as f64,
        0.0,
        failed,
    ));
    if failed {
        return;
    }
    for ix in indexes {
        let (eo, en) = (old.and_then(|o| ix.entry(o)), new.and_then(|n| ix.entry(n)));
        let mut put = |e: &Item| {
            out.push(event(
                flight,
                &ix.name,
                ix.partition(e),
                None,
                write_units(item_size(e)) as f64,
                0.0,
                false,
            ))
        };
        match (&eo, &en) {
            (None, None) => {}
            (Some(o), None) => put(o),
            (None, Some(n)) => put(n),
            (Some(o), Some(n)) if ix.entry_key(o) != ix.entry_key(n) => {
                put(o);
                put(n);
            }
            (Some(o), Some(n)) if o != n => {
                let size = item_size(o).max(item_size(n));
                out.push(event(
                    flight,
                    &ix.name,
                    ix.partition(n),
                    None,
                    write_units(size) as f64,
                    0.0,
                    false,
                ));
            }
            _ => {}
        }
    }
}

fn read_event(
    flight: &InFlight,
    target: &str,
    pk: String,
    bytes: usize,
    consistent: bool,
) -> Event {
    event(
        flight,
        target,
        pk,
        None,
        0.0,
        read_units(bytes, consistent),
        false,
    )
}

/// The value the key condition of a Query fixes its partition key to (`#x = :v` or `pk = :v`: the first equality).
fn query_partition(body: &Value) -> String {
    let cond = body["KeyConditionExpression"].as_str().unwrap_or_default();
    let Some(eq) = cond.find('=') else {
        return "?".into();
    };
    let placeholder: String = cond[eq + 1..]
        .trim_start()
        .chars()
        .take_while(|c| *c == ':' || c.is_alphanumeric() || *c == '_')
        .collect();
    body["ExpressionAttributeValues"]
        .get(&placeholder)
        .map(|v| attr_text(&attr_from_json(v)))
        .unwrap_or_else(|| "?".into())
}

fn account(
    s: &mut State,
    indexes: &[IndexShape],
    flight: &InFlight,
    resp: &Value,
    error: Option<&str>,
) -> Vec<Event> {
    let body = &flight.body;
    let mut out = Vec::new();
    let condition_failed = error.is_some_and(|e| e.contains("ConditionalCheckFailed"));
    let transaction_canceled = error.is_some_and(|e| e.contains("TransactionCanceled"));
    if error.is_some() && !condition_failed && !transaction_canceled {
        return out; // throttled, validation error…: not billed, not applied
    }
    let consistent = body["ConsistentRead"].as_bool().unwrap_or(false);
    match flight.op {
        "GetItem" => {
            let key = item_from_json(&body["Key"]);
            let size = resp
                .get("Item")
                .map(|i| item_size(&item_from_json(i)))
                .unwrap_or(0);
            out.push(read_event(flight, TABLE, key_of(&key).0, size, consistent));
        }
        "Query" | "Scan" => {
            let target = body["IndexName"].as_str().unwrap_or(TABLE);
            let items = resp["Items"].as_array().cloned().unwrap_or_default();
            let returned: usize = items.iter().map(|i| item_size(&item_from_json(i))).sum();
            let count = resp["Count"].as_u64().unwrap_or(items.len() as u64);
            let scanned = resp["ScannedCount"].as_u64().unwrap_or(count);
            let bytes = if count > 0 && scanned > count {
                returned * scanned as usize / count as usize
            } else {
                returned
            };
            let pk = if flight.op == "Scan" {
                "(scan)".to_string()
            } else {
                query_partition(body)
            };
            out.push(read_event(flight, target, pk, bytes, consistent));
        }
        "BatchGetItem" => {
            for (table, request) in body["RequestItems"].as_object().into_iter().flatten() {
                let consistent = request["ConsistentRead"].as_bool().unwrap_or(false);
                let found: HashMap<(String, String), usize> = resp["Responses"][table]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| {
                        let item = item_from_json(i);
                        (key_of(&item), item_size(&item))
                    })
                    .collect();
                let unprocessed: Vec<(String, String)> = resp["UnprocessedKeys"][table]["Keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|k| key_of(&item_from_json(k)))
                    .collect();
                for k in request["Keys"].as_array().into_iter().flatten() {
                    let key = key_of(&item_from_json(k));
                    if unprocessed.contains(&key) {
                        continue;
                    }
                    let size = found.get(&key).copied().unwrap_or(0);
                    out.push(read_event(flight, TABLE, key.0, size, consistent));
                }
            }
        }
        "PutItem" => {
            let new = item_from_json(&body["Item"]);
            let key = key_of(&new);
            let old = s.old_item(&key, resp, condition_failed);
            write_events(
                &mut out,
                indexes,
                flight,
                key.clone(),
                old.as_ref(),
                Some(&new),
                1.0,
                condition_failed,
            );
            if !condition_failed {
                s.shadow.insert(key, new);
            }
        }
        "DeleteItem" => {
            let key = key_of(&item_from_json(&body["Key"]));
            let old = s.old_item(&key, resp, condition_failed);
            write_events(
                &mut out,
                indexes,
                flight,
                key.clone(),
                old.as_ref(),
                None,
                1.0,
                condition_failed,
            );
            if !condition_failed {
                s.shadow.remove(&key);
            }
        }
        "UpdateItem" => {
            let key = key_of(&item_from_json(&body["Key"]));
            let old = s.shadow.get(&key).cloned();
            let new = match (resp.get("Attributes"), body["ReturnValues"].as_str()) {
                (Some(a), Some("ALL_NEW")) if !condition_failed => Some(item_from_json(a)),
                _ => apply_update(s, old.as_ref(), &key, body),
            };
            write_events(
                &mut out,
                indexes,
                flight,
                key.clone(),
                old.as_ref(),
                new.as_ref(),
                1.0,
                condition_failed,
            );
            if let (false, Some(new)) = (condition_failed, new) {
                s.shadow.insert(key, new);
            }
        }
        "BatchWriteItem" => {
            for (table, requests) in body["RequestItems"].as_object().into_iter().flatten() {
                let unprocessed: Vec<(String, String)> = resp["UnprocessedItems"][table]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        key_of(&item_from_json(if r.get("PutRequest").is_some() {
                            &r["PutRequest"]["Item"]
                        } else {
                            &r["DeleteRequest"]["Key"]
                        }))
                    })
                    .collect();
                for r in requests.as_array().into_iter().flatten() {
                    let (key, new) = match r.get("PutRequest") {
                        Some(p) => {
                            let item = item_from_json(&p["Item"]);
                            (key_of(&item), Some(item))
                        }
                        None => (key_of(&item_from_json(&r["DeleteRequest"]["Key"])), None),
                    };
                    if unprocessed.contains(&key) {
                        continue;
                    }
                    let old = s.shadow.get(&key).cloned();
                    write_events(
                        &mut out,
                        indexes,
                        flight,
                        key.clone(),
                        old.as_ref(),
                        new.as_ref(),
                        1.0,
                        false,
                    );
                    match new {
                        Some(n) => s.shadow.insert(key, n),
                        None => s.shadow.remove(&key),
                    };
                }
            }
        }
        "TransactWriteItems" => {
            let mut applied = Vec::new();
            for t in body["TransactItems"].as_array().into_iter().flatten() {
                let (key, new) = if let Some(p) = t.get("Put") {
                    let item = item_from_json(&p["Item"]);
                    (key_of(&item), Some(item))
                } else if let Some(u) = t.get("Update") {
                    let key = key_of(&item_from_json(&u["Key"]));
                    let old = s.shadow.get(&key).cloned();
                    (key.clone(), apply_update(s, old.as_ref(), &key, u))
                } else if let Some(d) = t.get("Delete") {
                    (key_of(&item_from_json(&d["Key"])), None)
                } else {
                    // ConditionCheck: billed like a write of the item, changes nothing.
                    let key = key_of(&item_from_json(&t["ConditionCheck"]["Key"]));
                    let old = s.shadow.get(&key).cloned();
                    (key, old)
                };
                let old = s.shadow.get(&key).cloned();
                write_events(
                    &mut out,
                    indexes,
                    flight,
                    key.clone(),
                    old.as_ref(),
                    new.as_ref(),
                    2.0,
                    transaction_canceled,
                );
                applied.push((key, new));
            }
            if !transaction_canceled {
                for (key, new) in applied {
                    match new {
                        Some(n) => s.shadow.insert(key, n),
                        None => s.shadow.remove(&key),
                    };
                }
            }
        }
        _ => {}
    }
    out
}

/// Follows an update expression (`SET a = :v, …`, `ADD a :v, …`, `REMOVE a, …`, `DELETE a :v`) on a copy of the
/// old item; `None` when the item would not exist. Expressions it cannot follow leave the item as it was
/// (counted in `unsupported_updates`).
fn apply_update(
    s: &mut State,
    old: Option<&Item>,
    key: &(String, String),
    req: &Value,
) -> Option<Item> {
    let mut item = old
        .cloned()
        .unwrap_or_else(|| leadpipe_dynamo::keys::key(key.0.clone(), key.1.clone()));
    let expr = req["UpdateExpression"].as_str().unwrap_or_default();
    let names = &req["ExpressionAttributeNames"];
    let values = &req["ExpressionAttributeValues"];
    let name = |t: &str| -> String {
        names
            .get(t.trim())
            .and_then(Value::as_str)
            .map_or_else(|| t.trim().to_string(), str::to_string)
    };
    let value = |t: &str| values.get(t.trim()).map(attr_from_json);
    let mut ok = true;
    for (clause, body) in clauses(expr) {
        for action in body.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            match clause.as_str() {
                "SET" => match action.split_once('=').map(|(p, v)| (name(p), value(v))) {
                    Some((p, Some(v))) => {
                        item.insert(p, v);
                    }
                    _ => ok = false,
                },
                "REMOVE" => {
                    item.remove(&name(action));
                }
                "ADD" | "DELETE" => {
                    let mut parts = action.split_whitespace();
                    let (Some(p), Some(v)) =
                        (parts.next().map(&name), parts.next().and_then(&value))
                    else {
                        ok = false;
                        continue;
                    };
                    let merged = match (item.get(&p), v, clause.as_str()) {
                        (None, v, "ADD") => Some(v),
                        (Some(AttributeValue::N(a)), AttributeValue::N(b), "ADD") => {
                            Some(AttributeValue::N(add_numbers(a, &b)))
                        }
                        (Some(AttributeValue::Ss(a)), AttributeValue::Ss(b), "ADD") => {
                            Some(AttributeValue::Ss(
                                a.iter()
                                    .chain(b.iter().filter(|x| !a.contains(x)))
                                    .cloned()
                                    .collect(),
                            ))
                        }
                        (Some(AttributeValue::Ss(a)), AttributeValue::Ss(b), "DELETE") => {
                            Some(AttributeValue::Ss(
                                a.iter().filter(|x| !b.contains(x)).cloned().collect(),
                            ))
                        }
                        _ => None,
                    };
                    match merged {
                        Some(v) => {
                            item.insert(p, v);
                        }
                        None => ok = false,
                    }
                }
                _ => ok = false,
            }
        }
    }
    if !ok {
        s.unsupported_updates += 1;
        return old.cloned();
    }
    Some(item)
}

fn add_numbers(a: &str, b: &str) -> String {
    match (a.parse::<i128>(), b.parse::<i128>()) {
        (Ok(x), Ok(y)) => (x + y).to_string(),
        _ => (a.parse::<f64>().unwrap_or(0.0) + b.parse::<f64>().unwrap_or(0.0)).to_string(),
    }
}

/// Splits an update expression into its clauses (`SET …`, `ADD …`).
fn clauses(expr: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for word in expr.split_whitespace() {
        let upper = word.to_ascii_uppercase();
        if matches!(upper.as_str(), "SET" | "ADD" | "REMOVE" | "DELETE") {
            out.push((upper, String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push(' ');
            body.push_str(word);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Clients and DynamoDB Local.

/// An SDK client for `endpoint` with dummy credentials, and, when `meter` is given, the recording interceptor.
pub fn client(endpoint: &str, meter: Option<Arc<Meter>>) -> aws_sdk_dynamodb::Client {
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "bench",
            "bench",
            None,
            None,
            "leadpipe-bench",
        ))
        .endpoint_url(endpoint);
    if let Some(meter) = meter {
        // TOTAL by default; LEADPIPE_BENCH_CAPACITY=INDEXES for DynamoDB Local's per-index breakdown.
        let mode = match std::env::var("LEADPIPE_BENCH_CAPACITY").as_deref() {
            Ok("INDEXES") => "INDEXES",
            _ => "TOTAL",
        };
        config = config.interceptor(Recorder {
            meter,
            mode,
            indexes: Arc::new(index_shapes()),
        });
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// A Streams API client for `endpoint` (dummy credentials).
pub fn streams_client(endpoint: &str) -> aws_sdk_dynamodbstreams::Client {
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
            "bench",
            "bench",
            None,
            None,
            "leadpipe-bench",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodbstreams::Client::from_conf(config)
}

/// A fresh table name `leadpipe-bench-<suffix>-<random>`.
pub fn table_name(suffix: &str) -> String {
    format!("leadpipe-bench-{suffix}-{}", uuid::Uuid::new_v4().simple())
}

/// A store on a fresh table `leadpipe-bench-<suffix>` (created), with a meter on its client.
pub async fn metered_store(endpoint: &str, suffix: &str) -> (DynamoStore, Arc<Meter>) {
    let meter = Arc::new(Meter::default());
    let store = DynamoStore::new(
        client(endpoint, Some(Arc::clone(&meter))),
        table_name(suffix),
        Default::default(),
    );
    store
        .ensure_table()
        .await
        .expect("create the benchmark table in DynamoDB Local");
    meter.take();
    (store, meter)
}

/// DynamoDB Local for one benchmark: `LEADPIPE_TEST_DYNAMODB` when set, else one started with
/// `scripts/dynamodb-local.sh` (its own pid file under `target/bench/`), stopped on drop.
pub struct DynamoLocal {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    cache: Option<std::path::PathBuf>,
}

impl DynamoLocal {
    /// Finds or starts DynamoDB Local.
    pub fn obtain() -> Self {
        if let Ok(endpoint) = std::env::var("LEADPIPE_TEST_DYNAMODB") {
            return Self {
                endpoint,
                cache: None,
            };
        }
        let root = crate::workspace_root();
        let cache = root.join("target/bench/dynamodb-cache");
        std::fs::create_dir_all(&cache).expect("create bench cache");
        // Reuse the jar the tests installed instead of installing a second copy.
        let shared = root.join(".cache/dynamodb-local");
        let link = cache.join("dynamodb-local");
        if shared.is_dir() && !link.exists() {
            let _ = std::os::unix::fs::symlink(&shared, &link);
        }
        eprintln!("starting DynamoDB Local (scripts/dynamodb-local.sh start)...");
        let out = Command::new(root.join("scripts/dynamodb-local.sh"))
            .arg("start")
            .env("LEADPIPE_CACHE", &cache)
            .output()
            .expect("run scripts/dynamodb-local.sh");
        if !out.status.success() {
            panic!(
                "DynamoDB Local did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let endpoint = String::from_utf8_lossy(&out.stdout).trim().to_string();
        eprintln!("DynamoDB Local at {endpoint}");
        Self {
            endpoint,
            cache: Some(cache),
        }
    }
}

impl Drop for DynamoLocal {
    fn drop(&mut self) {
        if let Some(cache) = &self.cache {
            let _ = Command::new(crate::workspace_root().join("scripts/dynamodb-local.sh"))
                .arg("stop")
                .env("LEADPIPE_CACHE", cache)
                .status();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flight(op: &'static str, body: Value) -> InFlight {
        InFlight {
            op,
            ctx: None,
            body,
            reads: false,
        }
    }

    fn lead(stage: &str, extra: usize) -> Value {
        json!({"pk": {"S": "L#abc"}, "sk": {"S": "L"}, "em": {"S": "a@b.c"}, "ls": {"S": "03"}, "ck": {"S": "2026-01-01T00:00:00Z#abc"},
               "st": {"S": stage}, "d": {"B": aws_smithy_types::base64::encode(vec![7u8; extra])}, "v": {"N": "1"}})
    }

    #[test]
    fn index_entries_follow_key_and_projection_changes() {
        let indexes = index_shapes();
        let mut s = State::default();
        // Creation: table + by_email + by_created.
        let put = flight("PutItem", json!({"Item": lead("New", 10)}));
        let e = account(&mut s, &indexes, &put, &json!({}), None);
        assert_eq!(
            e.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(),
            ["table", "by_email", "by_created"]
        );
        // Only `d` changes: table only (neither index projects it).
        let put = flight("PutItem", json!({"Item": lead("New", 20)}));
        let e = account(
            &mut s,
            &indexes,
            &put,
            &json!({"Attributes": lead("New", 10)}),
            None,
        );
        assert_eq!(e.len(), 1);
        assert_eq!(s.shadow_mismatches, 0);
        // The stage changes: by_created (projected) is rewritten, by_email (KEYS_ONLY) is not.
        let put = flight("PutItem", json!({"Item": lead("Paid", 20)}));
        let e = account(
            &mut s,
            &indexes,
            &put,
            &json!({"Attributes": lead("New", 20)}),
            None,
        );
        assert_eq!(
            e.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(),
            ["table", "by_created"]
        );
        // A 1,500-byte item costs 2 units.
        let put = flight("PutItem", json!({"Item": lead("Paid", 1500)}));
        let e = account(
            &mut s,
            &indexes,
            &put,
            &json!({"Attributes": lead("Paid", 20)}),
            None,
        );
        assert_eq!(e[0].wru, 2.0);
        // A delete removes both entries.
        let del = flight(
            "DeleteItem",
            json!({"Key": {"pk": {"S": "L#abc"}, "sk": {"S": "L"}}}),
        );
        let e = account(
            &mut s,
            &indexes,
            &del,
            &json!({"Attributes": lead("Paid", 1500)}),
            None,
        );
        assert_eq!(e.len(), 3);
        assert!(s.shadow.is_empty());
    }

    #[test]
    fn transactional_updates_count_double_and_follow_add() {
        let indexes = index_shapes();
        let mut s = State::default();
        let update = json!({"Update": {"Key": {"pk": {"S": "C#x"}, "sk": {"S": "C"}}, "UpdateExpression": "ADD #a :v, #b :w",
            "ExpressionAttributeNames": {"#a": "n:leads", "#b": "n:in:New"}, "ExpressionAttributeValues": {":v": {"N": "2"}, ":w": {"N": "1"}}}});
        let tx = flight(
            "TransactWriteItems",
            json!({"TransactItems": [update.clone()]}),
        );
        let e = account(&mut s, &indexes, &tx, &json!({}), None);
        assert_eq!(e[0].wru, 2.0);
        account(&mut s, &indexes, &tx, &json!({}), None);
        let item = &s.shadow[&("C#x".to_string(), "C".to_string())];
        assert_eq!(item.get("n:leads"), Some(&AttributeValue::N("4".into())));
        assert_eq!(s.unsupported_updates, 0);
    }

    #[test]
    fn reads_round_per_item_and_per_query() {
        let indexes = index_shapes();
        let mut s = State::default();
        let get = InFlight {
            reads: true,
            ..flight(
                "GetItem",
                json!({"Key": {"pk": {"S": "L#x"}, "sk": {"S": "L"}}, "ConsistentRead": true}),
            )
        };
        assert_eq!(
            account(&mut s, &indexes, &get, &json!({}), None)[0].rru,
            1.0
        );
        let q = InFlight {
            reads: true,
            ..flight(
                "Query",
                json!({"IndexName": "by_email", "KeyConditionExpression": "#e = :e", "ExpressionAttributeValues": {":e": {"S": "a@b.c"}}}),
            )
        };
        let e = account(
            &mut s,
            &indexes,
            &q,
            &json!({"Items": [], "Count": 0, "ScannedCount": 0}),
            None,
        );
        assert_eq!(
            (e[0].pk.as_str(), e[0].rru, e[0].target.as_str()),
            ("a@b.c", 0.5, "by_email")
        );
    }
}
