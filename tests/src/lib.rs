//! Shared helpers for Leadpipe's integration tests: store constructors for both implementations, `spawn_app()`
//! (the real router on a real socket), API Gateway event helpers, and the store conformance suite.
//!
//! DynamoDB tests need DynamoDB Local: `scripts/test.sh` starts it and sets `LEADPIPE_TEST_DYNAMODB` to its URL.

pub mod conformance;

use std::net::SocketAddr;
use std::sync::Arc;

use leadpipe_shared::store::dynamo::DynamoStore;
use leadpipe_shared::store::sqlite::SqliteStore;
use leadpipe_shared::store::LeadStore;
use leadpipe_shared::{Leadpipe, Settings};

/// The DynamoDB Local endpoint; panics with instructions when the test runs without one.
pub fn dynamodb_endpoint() -> String {
    std::env::var("LEADPIPE_TEST_DYNAMODB")
        .unwrap_or_else(|_| panic!("LEADPIPE_TEST_DYNAMODB is not set: run the tests with scripts/test.sh, which starts DynamoDB Local"))
}

/// A fresh DynamoDB store on its own new table in DynamoDB Local.
pub async fn dynamodb_store() -> DynamoStore {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(dynamodb_endpoint())
        .build();
    let table = format!("leadpipe-test-{}", uuid::Uuid::new_v4());
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), table);
    store.ensure_table().await.expect("create the test table in DynamoDB Local");
    store
}

/// A fresh SQLite store in a new temporary file (WAL needs a real file to behave as in production).
pub fn sqlite_store() -> SqliteStore {
    let dir = std::env::temp_dir().join(format!("leadpipe-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    SqliteStore::open(&dir.join("leads.db")).expect("open sqlite")
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
    /// A fresh, empty store of this kind.
    pub async fn make(self) -> Arc<dyn LeadStore> {
        match self {
            Self::Sqlite => Arc::new(sqlite_store()),
            Self::Dynamo => Arc::new(dynamodb_store().await),
        }
    }
}

/// The application core on a fresh store with default settings.
pub async fn leadpipe(kind: StoreKind) -> Leadpipe {
    Leadpipe::new(kind.make().await, Settings::default())
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
}

impl TestApp {
    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// Serves the merged router of all four functions (what `leadpipe serve` runs) on a free loopback port.
pub async fn spawn_app(kind: StoreKind, settings: Settings) -> TestApp {
    let core = Leadpipe::new(kind.make().await, settings);
    let router = leadpipe_shared::http::app(leadpipe::all_routes(), core.clone(), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    TestApp { base: format!("http://{addr}"), addr, client: reqwest::Client::new(), core }
}
