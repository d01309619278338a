//! Shared helpers for Leadpipe's integration tests: store constructors for both implementations, `spawn_app()`
//! (the real router on a real socket), API Gateway event helpers, and the store conformance suites (leads, webhooks).
//!
//! DynamoDB tests need DynamoDB Local: `scripts/test.sh` starts it and sets `LEADPIPE_TEST_DYNAMODB` to its URL.

pub mod accounts_conformance;
pub mod audit_conformance;
pub mod conformance;
pub mod privacy_conformance;
pub mod revenue_conformance;
pub mod spend_conformance;
pub mod two_factor_conformance;
pub mod two_factor_http;
pub mod webhook_conformance;

use std::net::SocketAddr;
use std::sync::Arc;

use leadpipe_core::domain::counters::CounterRules;
use leadpipe_core::store::LeadStore;
use leadpipe_core::{Leadpipe, Settings};
use leadpipe_dynamo::DynamoStore;
use leadpipe_sqlite::SqliteStore;
use leadpipe_webhooks::WebhookStore;

/// The DynamoDB Local endpoint; panics with instructions when the test runs without one.
pub fn dynamodb_endpoint() -> String {
    std::env::var("LEADPIPE_TEST_DYNAMODB")
        .unwrap_or_else(|_| panic!("LEADPIPE_TEST_DYNAMODB is not set: run the tests with scripts/test.sh, which starts DynamoDB Local"))
}

/// The postback body fields the product spec lists, in its order.
pub const SEED_POSTBACK_FIELDS: &[&str] = &[
    "lead_id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "stage",
    "source",
    "domain",
    "campaign",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
    "ip_address",
    "user_agent",
    "browser",
    "device_type",
    "form_completion_percent",
    "form_fields_completed",
    "form_fields_total",
    "custom_data",
    "force_stage",
];

/// An SDK client for a DynamoDB Local at `endpoint` (dummy region and credentials, short connect timeout).
pub fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::config::{
        retry::RetryConfig, timeout::TimeoutConfig, BehaviorVersion, Credentials, Region,
    };
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        // Under heavy contention DynamoDB Local gives up waiting for its item locks with a 500 that "will succeed in
        // actual DynamoDB": the SDK retries those, given enough attempts.
        .retry_config(RetryConfig::standard().with_max_attempts(10))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(1))
                // DynamoDB Local runs transactions one at a time: hundreds queued on 2 busy cores can take a while; a dead
                // emulator is caught by the connect timeout.
                .operation_timeout(std::time::Duration::from_secs(120))
                .build(),
        )
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A Streams API client for a DynamoDB Local at `endpoint`.
pub fn dynamodb_streams_client(endpoint: &str) -> aws_sdk_dynamodbstreams::Client {
    use aws_sdk_dynamodbstreams::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodbstreams::Client::from_conf(config)
}

/// A fresh DynamoDB store on its own new table in DynamoDB Local, counting by `rules`, with its stream consumed
/// in this process (its `settle` drains the stream; nothing polls in the background).
pub async fn dynamodb_store(rules: CounterRules) -> DynamoStore {
    dynamodb_store_with_consumer(rules).await.0
}

/// Like [`dynamodb_store`], also returning the stream poller (to drive or inspect the consumer directly).
pub async fn dynamodb_store_with_consumer(
    rules: CounterRules,
) -> (DynamoStore, Arc<leadpipe::streams::LocalStreamConsumer>) {
    let endpoint = dynamodb_endpoint();
    let table = format!("leadpipe-test-{}", uuid::Uuid::new_v4());
    let (store, poller) = leadpipe::dynamo_with_local_consumer(
        dynamodb_client(&endpoint),
        dynamodb_streams_client(&endpoint),
        &table,
        rules,
    );
    store
        .ensure_table()
        .await
        .expect("create the test table in DynamoDB Local");
    (store, poller)
}

/// A fresh SQLite store in a new temporary file (WAL needs a real file to behave as in production), counting by
/// `rules`.
pub fn sqlite_store(rules: CounterRules) -> SqliteStore {
    let dir = std::env::temp_dir().join(format!("leadpipe-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    SqliteStore::open(&dir.join("leads.db"), rules).expect("open sqlite")
}

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// The embedded default.
    Sqlite,
    /// DynamoDB Local.
    Dynamo,
}

impl StoreKind {
    /// A fresh, empty store of this kind, counting by the counter rules of `settings`.
    pub async fn make(self, settings: &Settings) -> Arc<dyn LeadStore> {
        self.make_with_webhooks(settings).await.0
    }

    /// Like [`StoreKind::make`], with the same store as a webhook store where this kind keeps webhooks.
    pub async fn make_with_webhooks(
        self,
        settings: &Settings,
    ) -> (Arc<dyn LeadStore>, Option<Arc<dyn WebhookStore>>) {
        match self {
            Self::Sqlite => {
                let store = Arc::new(sqlite_store(settings.counter_rules()));
                (store.clone(), Some(store))
            }
            Self::Dynamo => {
                let store = Arc::new(dynamodb_store(settings.counter_rules()).await);
                (store.clone(), Some(store))
            }
        }
    }
}

/// The application core on a fresh store with default settings.
pub async fn leadpipe(kind: StoreKind) -> Leadpipe {
    let settings = Settings::default();
    Leadpipe::new(kind.make(&settings).await, settings)
}

/// A running server for HTTP tests.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// A client to call it with.
    pub client: reqwest::Client,
    /// The application core behind it (for direct checks).
    pub core: Leadpipe,
    /// The same store as a webhook store (for direct checks and for enqueueing deliveries), where the store kind
    /// keeps webhooks.
    pub webhooks: Option<Arc<dyn WebhookStore>>,
}

impl TestApp {
    /// Waits until derived data (stage-change items, counters) reflects every earlier write.
    pub async fn settle(&self) {
        self.core
            .store
            .settle()
            .await
            .expect("derived data catches up");
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// Sends `method path` to `app` with the key (`x-api-key`) and JSON body given; returns the status and the JSON
/// answer (`null` for an empty body). Panics on a transport error or an answer that is not JSON.
pub async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<serde_json::Value>,
) -> (reqwest::StatusCode, serde_json::Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    let value = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, value)
}

/// Serves the merged router of all four functions (what `leadpipe serve` runs) on a free loopback port.
/// Its `/api/webhooks` routes use the same store, with a queue that only stores (nothing attempts deliveries).
pub async fn spawn_app(kind: StoreKind, settings: Settings) -> TestApp {
    let (store, webhooks) = kind.make_with_webhooks(&settings).await;
    spawn_app_on(store, webhooks, settings).await
}

/// [`spawn_app`] on a store the test made (to look at its file or table directly).
pub async fn spawn_app_on(
    store: Arc<dyn LeadStore>,
    webhooks: Option<Arc<dyn WebhookStore>>,
    settings: Settings,
) -> TestApp {
    let core = Leadpipe::new(store, settings);
    let mut router = leadpipe_http::app(leadpipe::all_routes(), core.clone(), None);
    if let Some(w) = &webhooks {
        router = router.layer(axum::Extension(leadpipe_http::WebhookServices::new(
            w.clone(),
            Arc::new(leadpipe_http::PolledQueue),
        )));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    TestApp {
        base: format!("http://{addr}"),
        addr,
        client: reqwest::Client::new(),
        core,
        webhooks,
    }
}

/// Generates, for each named `async fn case(kind: StoreKind)` in the calling file, one test per store:
/// `case::sqlite` and `case::dynamodb`.
#[macro_export]
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$case($crate::StoreKind::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn dynamodb() {
                    super::$case($crate::StoreKind::Dynamo).await;
                }
            }
        )*
    };
}

/// Settings with all three keys set (`ingest-key-123456` and `admin-key-123456`) and one allowed origin.
pub fn keyed_settings() -> Settings {
    Settings {
        api_key: Some(INGEST_KEY.into()),
        admin_api_key: Some(ADMIN_KEY.into()),
        public_api_key: Some(PUBLIC_KEY.into()),
        allowed_origins: vec!["https://landing.example".into()],
        ..Settings::default()
    }
}

/// The server key (`API_KEY`) of [`keyed_settings`].
pub const INGEST_KEY: &str = "ingest-key-123456";
/// The browser key (`PUBLIC_API_KEY`) of [`keyed_settings`].
pub const PUBLIC_KEY: &str = "public-key-123456";
/// The admin key of [`keyed_settings`].
pub const ADMIN_KEY: &str = "admin-key-123456";

/// A real API Gateway HTTP API (payload format 2.0) event, as API Gateway sends it to a Lambda, built from the
/// fixture `tests/fixtures/apigw-v2-event.json`: method, path, route key, path parameters, query, headers and body.
pub fn apigw_v2_event(
    method: &str,
    route_key_path: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> serde_json::Value {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/apigw-v2-event.json"))
            .expect("fixture parses");
    let route_key = format!("{method} {route_key_path}");
    event["routeKey"] = route_key.clone().into();
    event["rawPath"] = path.into();
    event["rawQueryString"] = query.into();
    event["requestContext"]["routeKey"] = route_key.into();
    event["requestContext"]["http"]["method"] = method.into();
    event["requestContext"]["http"]["path"] = path.into();
    let hdrs = event["headers"].as_object_mut().expect("headers");
    for (k, v) in headers {
        hdrs.insert(k.to_string(), (*v).into());
    }
    if query.is_empty() {
        event
            .as_object_mut()
            .expect("event")
            .remove("queryStringParameters");
    } else {
        let params: Vec<(String, String)> = serde_urlencoded::from_str(query).expect("query");
        event["queryStringParameters"] = params
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::from(v)))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    // Path parameters exactly as API Gateway extracts them from the route key ({id}).
    let mut path_params = serde_json::Map::new();
    for (pattern, actual) in route_key_path.split('/').zip(path.split('/')) {
        if let Some(name) = pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            path_params.insert(name.to_string(), actual.into());
        }
    }
    if path_params.is_empty() {
        event
            .as_object_mut()
            .expect("event")
            .remove("pathParameters");
    } else {
        event["pathParameters"] = path_params.into();
    }
    match body {
        Some(b) => event["body"] = b.into(),
        None => {
            event.as_object_mut().expect("event").remove("body");
        }
    }
    event
}

/// Feeds an API Gateway event through `routes` exactly as the Lambda runtime does (`lambda_http`'s adapter: event
/// → `http::Request` → router → API Gateway response), and returns the response event as JSON.
pub async fn invoke_lambda(
    routes: axum::Router<Leadpipe>,
    core: Leadpipe,
    event: serde_json::Value,
) -> serde_json::Value {
    use lambda_http::Service;
    let app = leadpipe_http::app(routes, core, None);
    let mut adapter = lambda_http::Adapter::from(app);
    let request: lambda_http::request::LambdaRequest =
        serde_json::from_value(event).expect("event deserialises as a Lambda HTTP request");
    let response = adapter
        .call(lambda_http::LambdaEvent::new(
            request,
            lambda_http::Context::default(),
        ))
        .await
        .expect("handler");
    serde_json::to_value(response).expect("response serialises")
}

/// What an audit of a store's raw contents found that no lead explains.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Orphans {
    /// History entries whose lead is gone.
    pub history: usize,
    /// Email claims that no lead holds (or that point at a lead with another email).
    pub claims: usize,
    /// Leads whose email has no claim pointing at them.
    pub unclaimed_leads: usize,
}

/// Reads a DynamoDB store's whole table (paginated Scan — fine for a test table) and reports orphans, once the
/// stream consumer has caught up.
pub async fn dynamodb_orphans(store: &DynamoStore) -> Orphans {
    use aws_sdk_dynamodb::types::AttributeValue;
    use leadpipe_core::store::LeadStore;
    use leadpipe_dynamo::codec::{attr, is_lead_item};
    store
        .settle()
        .await
        .expect("the stream consumer catches up");
    let lead_id = |pk: &str| {
        leadpipe_dynamo::keys::lead_id_of(pk)
            .map(|id| id.to_string())
            .unwrap_or_default()
    };
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = store
            .client()
            .scan()
            .table_name(store.table())
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key.filter(|k| !k.is_empty());
        if start.is_none() {
            break;
        }
    }
    let s = |item: &std::collections::HashMap<String, AttributeValue>, k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let leads: std::collections::HashMap<String, String> = items
        .iter()
        .filter(|i| is_lead_item(i))
        .map(|i| (lead_id(&s(i, "pk")), s(i, attr::EMAIL)))
        .collect();
    let claims: std::collections::HashMap<String, String> = items
        .iter()
        .filter(|i| s(i, "sk") == leadpipe_dynamo::keys::CLAIM_SK)
        .map(|i| {
            (
                s(i, "pk").trim_start_matches("E#").to_string(),
                s(i, attr::CLAIM_ID),
            )
        })
        .collect();
    Orphans {
        history: items
            .iter()
            .filter(|i| {
                s(i, "sk").starts_with(leadpipe_dynamo::keys::HISTORY_PREFIX)
                    && !leads.contains_key(&lead_id(&s(i, "pk")))
            })
            .count(),
        claims: claims
            .iter()
            .filter(|(email, id)| leads.get(*id) != Some(*email))
            .count(),
        unclaimed_leads: leads
            .iter()
            .filter(|(id, email)| !email.is_empty() && claims.get(*email) != Some(*id))
            .count(),
    }
}
