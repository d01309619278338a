//! DynamoDB going away mid-run: requests get clean 503 JSON errors (never a hang, a panic or a 500), and the
//! service recovers by itself when DynamoDB comes back, with nothing acknowledged lost.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use leadpipe_core::Settings;
use leadpipe_dynamo::DynamoStore;
use serde_json::{json, Value};

/// A private DynamoDB Local on a file database (so its data survives a restart), from `LEADPIPE_DYNAMODB_JAR`.
struct PrivateDynamo {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl PrivateDynamo {
    fn start(port: u16, dir: &std::path::Path) -> Self {
        let jar = std::env::var("LEADPIPE_DYNAMODB_JAR")
            .expect("LEADPIPE_DYNAMODB_JAR is not set: run scripts/test.sh");
        let lib = std::path::Path::new(&jar)
            .parent()
            .unwrap()
            .join("DynamoDBLocal_lib");
        let child = Command::new("java")
            .args(["-XX:+UseSerialGC", "-Xmx256m", "-XX:TieredStopAtLevel=1"])
            .arg(format!("-Djava.library.path={}", lib.display()))
            .args(["-jar", &jar, "-sharedDb", "-disableTelemetry", "-dbPath"])
            .arg(dir)
            .args(["-port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start java");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "DynamoDB Local did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// Stops it with SIGTERM (its own shutdown flushes the file database; the outage is the same to clients).
    fn stop(mut self) -> (u16, std::path::PathBuf) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        (self.port, self.dir.clone())
    }
}

impl Drop for PrivateDynamo {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_gives_503_and_recovers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("leadpipe-outage-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let dynamo = PrivateDynamo::start(port, &dir);

    // The client as every Lambda builds it (its timeouts and retries), pointed at the private DynamoDB Local.
    let sdk = leadpipe_dynamo::client::config_for_local_use().await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .build();
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        "outage",
        Default::default(),
    );
    store.ensure_table().await.unwrap();
    let core = leadpipe_core::Leadpipe::new(std::sync::Arc::new(store), Settings::default());
    let router = leadpipe_http::app(leadpipe::all_routes(), core, None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = reqwest::Client::new();
    let post = |email: &str| {
        client
            .post(format!("{base}/api/postback"))
            .json(&json!({"email": email}))
            .send()
    };

    assert_eq!(post("before@example.com").await.unwrap().status(), 201);

    let (port, dir) = dynamo.stop();
    for path in ["/api/postback", "/api/leads", "/api/analytics"] {
        let started = Instant::now();
        let resp = if path == "/api/postback" {
            post("during@example.com").await
        } else {
            client.get(format!("{base}{path}")).send().await
        }
        .unwrap();
        assert_eq!(resp.status(), 503, "{path}");
        assert_eq!(resp.headers()["retry-after"], "1");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unavailable", "{path}: {body}");
        assert!(
            !body.to_string().contains("127.0.0.1") && !body.to_string().contains("dispatch"),
            "no internals: {body}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{path} answered quickly"
        );
    }

    let _dynamo = PrivateDynamo::start(port, &dir);
    let mut recovered = false;
    for _ in 0..50 {
        if post("after@example.com").await.unwrap().status() == 201 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "postbacks succeed again once DynamoDB is back");
    let list: Value = client
        .get(format!("{base}/api/leads"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let emails: Vec<&str> = list["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["after@example.com", "before@example.com"],
        "the acknowledged lead survived; the refused one was not half-written"
    );
}
