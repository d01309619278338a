//! DynamoDB Local for the benchmarks, and a metered SDK client: an interceptor that adds
//! `ReturnConsumedCapacity` to every data-plane request, counts the round trips per operation and sums the
//! capacity DynamoDB reports. The store under test is unchanged: it just receives this client.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use leadpipe_dynamo::DynamoStore;

/// Operations that accept `ReturnConsumedCapacity`, and whether they read (RCU) or write (WCU).
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

/// What a span of work cost in DynamoDB.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Round trips (HTTP attempts) per operation name.
    pub requests: BTreeMap<String, u64>,
    /// Consumed read capacity units.
    pub rcu: f64,
    /// Consumed write capacity units.
    pub wcu: f64,
    /// Read request units by DynamoDB's published sizing rules (see [`model`]), computed from the request and
    /// response bodies: DynamoDB Local's own accounting is simplified.
    pub model_rru: f64,
    /// Write request units by DynamoDB's published sizing rules (see [`model`]).
    pub model_wru: f64,
}

impl Usage {
    /// All round trips.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    /// `GetItem×1 + TransactWriteItems×1` style summary.
    pub fn describe(&self) -> String {
        if self.requests.is_empty() {
            return "none".into();
        }
        self.requests.iter().map(|(op, n)| format!("{op}×{n}")).collect::<Vec<_>>().join(" + ")
    }

    /// As JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({"requests": self.total_requests(), "by_operation": self.requests, "rcu": self.rcu, "wcu": self.wcu,
                           "model_rru": self.model_rru, "model_wru": self.model_wru})
    }
}

/// Accumulates [`Usage`] from the interceptor; [`take`](Meter::take) reads and resets it.
#[derive(Debug, Default)]
pub struct Meter {
    usage: Mutex<Usage>,
}

impl Meter {
    /// The usage since the last `take`, resetting it.
    pub fn take(&self) -> Usage {
        std::mem::take(&mut *self.usage.lock().expect("meter"))
    }
}

#[derive(Debug, Clone)]
struct CapacityInterceptor {
    meter: Arc<Meter>,
    mode: &'static str,
}

fn operation(target: Option<&str>) -> String {
    target.and_then(|t| t.rsplit_once('.')).map(|(_, op)| op.to_string()).unwrap_or_else(|| "?".into())
}

impl Intercept for CapacityInterceptor {
    fn name(&self) -> &'static str {
        "leadpipe-bench-capacity-meter"
    }

    fn modify_before_signing(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = ctx.request_mut();
        let op = operation(req.headers().get("x-amz-target"));
        let mut consistent = false;
        if METERED.iter().any(|(name, _)| *name == op) {
            if let Some(bytes) = req.body().bytes() {
                let mut json: serde_json::Value = serde_json::from_slice(bytes)?;
                consistent = json.get("ConsistentRead").and_then(serde_json::Value::as_bool).unwrap_or(false);
                let wru = model::write_units(&op, &json);
                self.meter.usage.lock().expect("meter").model_wru += wru;
                if let Some(obj) = json.as_object_mut() {
                    obj.insert("ReturnConsumedCapacity".into(), self.mode.into());
                }
                let body = serde_json::to_vec(&json)?;
                req.headers_mut().insert("content-length", body.len().to_string());
                *req.body_mut() = SdkBody::from(body);
            }
        }
        let reads = METERED.iter().any(|(name, reads)| *name == op && *reads);
        _cfg.interceptor_state().store_put(IsRead(reads));
        _cfg.interceptor_state().store_put(Consistent(consistent));
        *self.meter.usage.lock().expect("meter").requests.entry(op).or_default() += 1;
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        ctx: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(bytes) = ctx.response().body().bytes() else { return Ok(()) };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes) else { return Ok(()) };
        if _cfg.load::<IsRead>().is_some_and(|r| r.0) {
            let rru = model::read_units(&json, _cfg.load::<Consistent>().is_some_and(|c| c.0));
            self.meter.usage.lock().expect("meter").model_rru += rru;
        }
        let Some(consumed) = json.get("ConsumedCapacity") else { return Ok(()) };
        if std::env::var_os("LEADPIPE_BENCH_DEBUG_CAPACITY").is_some() {
            eprintln!("{consumed}");
        }
        let entries: Vec<&serde_json::Value> = match consumed {
            serde_json::Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        let mut usage = self.meter.usage.lock().expect("meter");
        for e in entries {
            let f = |k: &str| e.get(k).and_then(serde_json::Value::as_f64);
            let (read, write) = match (f("ReadCapacityUnits"), f("WriteCapacityUnits")) {
                (None, None) => {
                    // TOTAL answers CapacityUnits only: attribute it by the kind of request.
                    let units = f("CapacityUnits").unwrap_or(0.0);
                    if _cfg.load::<IsRead>().is_some_and(|r| r.0) {
                        (units, 0.0)
                    } else {
                        (0.0, units)
                    }
                }
                (r, w) => (r.unwrap_or(0.0), w.unwrap_or(0.0)),
            };
            usage.rcu += read;
            usage.wcu += write;
        }
        Ok(())
    }
}

/// Whether the request in flight reads (kept in the config bag between the request and its response).
#[derive(Debug, Clone, Copy)]
struct IsRead(bool);

impl Storable for IsRead {
    type Storer = StoreReplace<Self>;
}

/// Whether the request in flight asked for a strongly consistent read.
#[derive(Debug, Clone, Copy)]
struct Consistent(bool);

impl Storable for Consistent {
    type Storer = StoreReplace<Self>;
}

/// Capacity by DynamoDB's published rules, for on-demand tables:
/// - item size = sum of attribute name lengths and value sizes (strings: UTF-8 bytes; numbers: about 1 byte per
///   2 digits + 1; booleans/null: 1; maps/lists: 3 + their contents + 1 per element);
/// - a write unit covers 1 KB; a transactional write costs 2 units per KB; every GSI entry written costs units too
///   (a put into a table with `ALL`-projection GSIs writes each index whose key attributes the item has; a changed
///   index key is a delete plus a put);
/// - a read unit covers 4 KB strongly consistent, half that eventually consistent (GSI queries); transactional
///   reads are not used; a Query is billed on the summed size of the items it returns, rounded up once.
///
/// Unknown to the request (old item sizes of updates and deletes) are counted as 1 KB items: counters and email
/// claims are far smaller; a deleted lead may be larger, so delete figures are a lower bound.
pub mod model {
    use serde_json::Value;

    /// DynamoDB's size of an attribute value in the JSON wire form.
    fn value_size(v: &Value) -> f64 {
        let Some(obj) = v.as_object() else { return 0.0 };
        let Some((t, inner)) = obj.iter().next() else { return 0.0 };
        match t.as_str() {
            "S" | "B" => inner.as_str().map_or(0.0, |s| s.len() as f64),
            "N" => inner.as_str().map_or(1.0, |s| (s.trim_start_matches('-').len() as f64 / 2.0).ceil() + 1.0),
            "BOOL" | "NULL" => 1.0,
            "M" => 3.0 + inner.as_object().map_or(0.0, |m| m.iter().map(|(k, v)| k.len() as f64 + value_size(v) + 1.0).sum()),
            "L" => 3.0 + inner.as_array().map_or(0.0, |l| l.iter().map(|v| value_size(v) + 1.0).sum()),
            "SS" | "NS" | "BS" => inner.as_array().map_or(0.0, |l| l.iter().map(|s| s.as_str().map_or(0.0, |s| s.len() as f64)).sum()),
            _ => 0.0,
        }
    }

    /// Size of an item (`{"attr": {"S": ...}, ...}`), in bytes.
    pub fn item_size(item: &Value) -> f64 {
        item.as_object().map_or(0.0, |m| m.iter().map(|(k, v)| k.len() as f64 + value_size(v)).sum())
    }

    fn kb(bytes: f64) -> f64 {
        (bytes / 1024.0).ceil().max(1.0)
    }

    fn is_lead(item: &Value) -> bool {
        item.get("list_pk").is_some()
    }

    /// Write units of one request.
    pub fn write_units(op: &str, body: &Value) -> f64 {
        match op {
            "TransactWriteItems" => {
                let items = body["TransactItems"].as_array().cloned().unwrap_or_default();
                let history_put = items.iter().any(|i| i["Put"]["Item"]["sk"]["S"].as_str().is_some_and(|s| s.starts_with("HIST#")));
                let claim_put = items.iter().any(|i| i["Put"]["Item"]["sk"]["S"].as_str() == Some("EMAIL"));
                let mut units = 0.0;
                for i in &items {
                    if let Some(put) = i.get("Put") {
                        let item = &put["Item"];
                        let size = item_size(item);
                        units += 2.0 * kb(size);
                        if is_lead(item) {
                            let insert = put["ConditionExpression"].as_str().is_some_and(|c| c.contains("attribute_not_exists"));
                            // by_created, by_stage and (when it has an email) by_email entries are rewritten.
                            let indexes = 2.0 + f64::from(u8::from(item.get("email").is_some()));
                            units += indexes * kb(size);
                            if !insert && history_put {
                                units += 1.0; // by_stage key changed: the old entry is deleted
                            }
                            if !insert && claim_put {
                                units += 1.0; // by_email key changed
                            }
                        }
                    } else {
                        // Update (counters), Delete (claim or lead), ConditionCheck: 1 KB assumed.
                        units += 2.0;
                        if i["Delete"]["Key"]["sk"]["S"].as_str() == Some("LEAD") {
                            units += 3.0; // its GSI entries
                        }
                    }
                }
                units
            }
            "BatchWriteItem" => body["RequestItems"]
                .as_object()
                .map_or(0.0, |t| t.values().map(|reqs| reqs.as_array().map_or(0.0, |r| r.len() as f64)).sum()),
            "PutItem" => kb(item_size(&body["Item"])),
            "UpdateItem" | "DeleteItem" => 1.0,
            _ => 0.0,
        }
    }

    /// Read units of one response (`Item` or `Items`).
    pub fn read_units(resp: &Value, consistent: bool) -> f64 {
        let bytes = match (resp.get("Item"), resp.get("Items")) {
            (Some(item), _) => item_size(item),
            (None, Some(items)) => items.as_array().map_or(0.0, |l| l.iter().map(item_size).sum()),
            _ => 0.0,
        };
        let units = (bytes / 4096.0).ceil().max(1.0);
        if consistent {
            units
        } else {
            units / 2.0
        }
    }
}

/// An SDK client for `endpoint` with dummy credentials, and, when `meter` is given, the capacity interceptor.
pub fn client(endpoint: &str, meter: Option<Arc<Meter>>) -> aws_sdk_dynamodb::Client {
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("bench", "bench", None, None, "leadpipe-bench"))
        .endpoint_url(endpoint);
    if let Some(meter) = meter {
        // TOTAL by default (as the issue asks); LEADPIPE_BENCH_CAPACITY=INDEXES for a per-index breakdown.
        let mode = match std::env::var("LEADPIPE_BENCH_CAPACITY").as_deref() {
            Ok("INDEXES") => "INDEXES",
            _ => "TOTAL",
        };
        config = config.interceptor(CapacityInterceptor { meter, mode });
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// A store on a fresh table `leadpipe-bench-<suffix>` (created), with a meter on its client.
pub async fn metered_store(endpoint: &str, suffix: &str) -> (DynamoStore, Arc<Meter>) {
    let meter = Arc::new(Meter::default());
    let table = format!("leadpipe-bench-{suffix}-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::new(client(endpoint, Some(Arc::clone(&meter))), table, Default::default());
    store.ensure_table().await.expect("create the benchmark table in DynamoDB Local");
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
            return Self { endpoint, cache: None };
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
            panic!("DynamoDB Local did not start: {}", String::from_utf8_lossy(&out.stderr));
        }
        let endpoint = String::from_utf8_lossy(&out.stdout).trim().to_string();
        eprintln!("DynamoDB Local at {endpoint}");
        Self { endpoint, cache: Some(cache) }
    }
}

impl Drop for DynamoLocal {
    fn drop(&mut self) {
        if let Some(cache) = &self.cache {
            let _ =
                Command::new(crate::workspace_root().join("scripts/dynamodb-local.sh")).arg("stop").env("LEADPIPE_CACHE", cache).status();
        }
    }
}
