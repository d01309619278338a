//! The embedded store under abuse: `leadpipe serve` killed with SIGKILL mid-load loses no acknowledged postback
//! and leaves a database that passes its integrity check; SIGTERM shuts down cleanly, finishing in-flight work;
//! API keys never reach the logs.

mod common;

use common::{free_port, wait_until_listening};

use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leadpipe_sqlite::SqliteStore;

fn start(db: &std::path::Path, envs: &[(&str, &str)]) -> (Child, String) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadpipe"));
    cmd.args(["serve", "--port", &port.to_string(), "--db"]).arg(db).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.env_remove("API_KEY").env_remove("ADMIN_API_KEY").env("RUST_LOG", "warn");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    wait_until_listening(port);
    (child, format!("http://127.0.0.1:{port}"))
}

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("leadpipe-{name}-{}-{}", std::process::id(), fastish_id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("leads.db")
}

fn fastish_id() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

/// Posts new leads from `workers` tasks until the server stops answering; returns the acknowledged emails and
/// whether any answer was a 5xx.
async fn load(base: String, workers: usize) -> (BTreeSet<String>, bool) {
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let server_error = Arc::new(Mutex::new(false));
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (base, acked, server_error) = (base.clone(), Arc::clone(&acked), Arc::clone(&server_error));
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0.. {
                let email = format!("w{w}-{i}@example.com");
                let body = serde_json::json!({"email": email, "stage": "Form Started", "custom_data": {"i": i}});
                match client.post(format!("{base}/api/postback")).json(&body).timeout(Duration::from_secs(5)).send().await {
                    Ok(r) if r.status().is_success() => {
                        acked.lock().unwrap().insert(email);
                    }
                    Ok(r) if r.status().is_server_error() => *server_error.lock().unwrap() = true,
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    let server_error = *server_error.lock().unwrap();
    (acked, server_error)
}

async fn stored_emails(db: &std::path::Path) -> BTreeSet<String> {
    let (mut child, base) = start(db, &[]);
    let client = reqwest::Client::new();
    let mut emails = BTreeSet::new();
    let mut url = format!("{base}/api/leads?limit=200");
    loop {
        let page: serde_json::Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        for lead in page["leads"].as_array().unwrap() {
            emails.insert(lead["email"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("{base}/api/leads?limit=200&cursor={c}"),
            None => break,
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    emails
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_load_loses_no_acknowledged_postback() {
    let db = temp_db("sigkill");
    let (mut child, base) = start(&db, &[]);
    let loader = tokio::spawn(load(base, 8));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (acked, server_error) = loader.await.unwrap();
    assert!(acked.len() > 20, "the load ran ({} acknowledged)", acked.len());
    assert!(!server_error);
    let store = SqliteStore::open(&db, Default::default()).unwrap();
    store.integrity_check().await.expect("database passes integrity and foreign-key checks after SIGKILL");
    drop(store);
    let stored = stored_emails(&db).await;
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged postbacks lost, e.g. {:?}", lost.len(), lost.iter().take(3).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_requests_and_exits_cleanly() {
    let db = temp_db("sigterm");
    let (mut child, base) = start(&db, &[]);
    let loader = tokio::spawn(load(base, 8));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "server did not stop within 15 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "clean exit after SIGTERM: {status}");
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("Leadpipe stopped."), "{stderr}");
    let (acked, server_error) = loader.await.unwrap();
    assert!(!server_error);
    let stored = stored_emails(&db).await;
    assert!(acked.is_subset(&stored), "every acknowledged postback was stored before exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_never_reach_the_logs() {
    let (ingest, admin) = ("ingest-secret-7c1d9a", "admin-secret-4b8e2f");
    let db = temp_db("logs");
    let (mut child, base) = start(&db, &[("API_KEY", ingest), ("ADMIN_API_KEY", admin), ("RUST_LOG", "trace")]);
    let client = reqwest::Client::new();
    for key in [ingest, admin, "wrong-secret-000"] {
        let _ = client
            .post(format!("{base}/api/postback"))
            .header("x-api-key", key)
            .json(&serde_json::json!({"email": "k@example.com"}))
            .send()
            .await;
        let _ = client.get(format!("{base}/api/leads")).header("x-api-key", key).send().await;
        let _ = client.post(format!("{base}/api/postback")).header("x-api-key", key).body("{broken").send().await;
    }
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    child.wait().unwrap();
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    child.stdout.take().unwrap().read_to_string(&mut logs).unwrap();
    assert!(logs.len() > 200, "trace logging produced output");
    for secret in [ingest, admin, "wrong-secret-000"] {
        assert!(!logs.contains(secret), "a key appeared in the logs");
    }
}
