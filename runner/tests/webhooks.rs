//! Webhook delivery end to end: the real `leadpipe serve` process delivering to a receiver in this test, webhooks
//! created through `POST /api/webhooks`.
//!
//! - A receiver that fails the first attempts of every message sees each event (`lead.created`,
//!   `lead.stage_changed`, `lead.deleted`) exactly once after dedup by `webhook-id`, every signature valid, the
//!   first attempt within seconds of the postback (printed) — on SQLite (outbox) and on DynamoDB Local (stream).
//! - A receiver down for longer sees the retries: the same `webhook-id` every time, later timestamps, the stored
//!   attempt count (`GET /api/webhooks/{id}/deliveries`) matching.
//! - `leadpipe serve` killed (SIGKILL) while deliveries are pending loses none: the next start delivers them.
//! - The README's Python verifier accepts a real delivery and refuses tampered ones.
//!
//! Retries are sped up with `LEADPIPE_WEBHOOK_RETRY_SCALE` (0.01: the first retry after 0.1 s; 0.002 for the
//! receiver that stays down). Every wait is
//! for a state (the receiver's hits), with a generous deadline; nothing sleeps for time.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use common::{temp_dir, Server};
use leadpipe_webhooks::{ReceivedHeaders, Secret, Verifier};
use uuid::Uuid;

/// Every test waits at most this long for a state (a debug build on a busy 2-core machine).
const DEADLINE: Duration = Duration::from_secs(60);
/// The retry scale the servers run with.
const FAST_RETRIES: (&str, &str) = ("LEADPIPE_WEBHOOK_RETRY_SCALE", "0.01");

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    id: String,
    timestamp: i64,
    event_type: String,
    body: String,
    headers: BTreeMap<String, String>,
    /// Whether the signature verified (at receipt, with the 5-minute tolerance).
    valid: bool,
    answered: u16,
    at: Instant,
}

#[derive(Default)]
struct ReceiverState {
    /// Checks signatures with the webhook's secret (known once the webhook is created, before any delivery).
    verifier: Option<Verifier>,
    hits: Vec<Hit>,
    /// Answer 503 to this many attempts of each message before answering 200.
    fail_first: usize,
    /// Answer 503 to everything.
    down: bool,
}

/// A local webhook receiver (axum on a loopback port) that verifies every request's signature.
struct Receiver {
    url: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    async fn start(fail_first: usize, down: bool) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState {
            fail_first,
            down,
            ..Default::default()
        }));
        let shared = state.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let state = shared.clone();
                async move {
                    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
                    let received = ReceivedHeaders {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                    };
                    let verifier = state.lock().unwrap().verifier.clone();
                    let valid =
                        verifier.is_some_and(|v| v.verify(&received, &body, Utc::now()).is_ok());
                    let id = header("webhook-id").unwrap_or_default().to_string();
                    let timestamp = header("webhook-timestamp")
                        .and_then(|t| t.parse().ok())
                        .unwrap_or_default();
                    let text = String::from_utf8_lossy(&body).into_owned();
                    let event_type = serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .and_then(|v| v["type"].as_str().map(str::to_string))
                        .unwrap_or_default();
                    let all = headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                        .collect();
                    let mut state = state.lock().unwrap();
                    let earlier = state.hits.iter().filter(|h| h.id == id).count();
                    let status = if state.down || earlier < state.fail_first {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    };
                    state.hits.push(Hit {
                        id,
                        timestamp,
                        event_type,
                        body: text,
                        headers: all,
                        valid,
                        answered: status.as_u16(),
                        at: Instant::now(),
                    });
                    status
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://127.0.0.1:{}/hook",
            listener.local_addr().unwrap().port()
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    fn hits(&self) -> Vec<Hit> {
        self.state.lock().unwrap().hits.clone()
    }

    fn set_secret(&self, secret: &Secret) {
        self.state.lock().unwrap().verifier = Some(Verifier::new(secret.clone()));
    }

    fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    /// Message ids answered 200, with their event types.
    fn delivered(&self) -> BTreeMap<String, String> {
        self.hits()
            .into_iter()
            .filter(|h| h.answered == 200)
            .map(|h| (h.id, h.event_type))
            .collect()
    }

    /// Waits until `done` holds for the hits so far; panics with them after [`DEADLINE`].
    async fn wait_until(&self, what: &str, done: impl Fn(&[Hit]) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let hits = self.hits();
            if done(&hits) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "receiver: {what} did not happen within {DEADLINE:?}; hits so far: {hits:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Creates a webhook for every event type delivering to `receiver` through `POST /api/webhooks` (the key checks
/// are off), hands its secret to the receiver and returns its id and secret.
async fn add_webhook(server: &Server, receiver: &Receiver) -> (Uuid, Secret) {
    let body = serde_json::json!({"url": receiver.url, "events": ["lead.created", "lead.stage_changed", "lead.deleted"]});
    let response = reqwest::Client::new()
        .post(format!("{}/api/webhooks", server.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "POST /api/webhooks");
    let created: serde_json::Value = response.json().await.unwrap();
    let secret = Secret::parse(created["secret"].as_str().unwrap()).unwrap();
    receiver.set_secret(&secret);
    (created["id"].as_str().unwrap().parse().unwrap(), secret)
}

/// A postback; returns the lead id.
async fn postback(client: &reqwest::Client, base: &str, email: &str, stage: &str) -> String {
    let response = client
        .post(format!("{base}/api/postback"))
        .json(&serde_json::json!({"email": email, "stage": stage}))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "postback answered {}",
        response.status()
    );
    let body: serde_json::Value = response.json().await.unwrap();
    body["lead_id"].as_str().unwrap().to_string()
}

async fn delete_lead(client: &reqwest::Client, base: &str, id: &str) {
    let response = client
        .delete(format!("{base}/api/leads/{id}"))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "delete answered {}",
        response.status()
    );
}

/// Creates, moves and deletes one lead against a server whose webhook goes to `receiver` (which fails the first
/// two attempts of each message), then checks what the receiver saw.
async fn every_event_once_after_dedup(store: &str, server: &Server, receiver: &Receiver) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let id = postback(&client, &server.base, "flaky@example.com", "New").await;
    receiver
        .wait_until("a first attempt", |hits| !hits.is_empty())
        .await;
    let first = receiver.hits()[0].at - started;
    println!(
        "{store}: first delivery attempt {} ms after the postback",
        first.as_millis()
    );
    postback(&client, &server.base, "flaky@example.com", "Paid").await;
    // The deletion comes after the stage change was delivered, so the receiver sees them in order.
    receiver
        .wait_until("lead.stage_changed delivered", |hits| {
            hits.iter()
                .any(|h| h.answered == 200 && h.event_type == "lead.stage_changed")
        })
        .await;
    delete_lead(&client, &server.base, &id).await;
    receiver
        .wait_until("three events delivered", |hits| {
            hits.iter().filter(|h| h.answered == 200).count() >= 3
        })
        .await;

    let hits = receiver.hits();
    assert!(
        hits.iter().all(|h| h.valid),
        "every signature verifies: {hits:#?}"
    );
    let delivered = receiver.delivered();
    let types: BTreeSet<&str> = delivered.values().map(String::as_str).collect();
    assert_eq!(
        types,
        BTreeSet::from(["lead.created", "lead.deleted", "lead.stage_changed"]),
        "{hits:#?}"
    );
    assert_eq!(delivered.len(), 3, "one message per event: {hits:#?}");
    for (id, event_type) in &delivered {
        let attempts: Vec<&Hit> = hits.iter().filter(|h| &h.id == id).collect();
        assert_eq!(
            attempts.len(),
            3,
            "{event_type}: two failures, then the success: {attempts:#?}"
        );
        assert_eq!(
            attempts.iter().filter(|h| h.answered == 200).count(),
            1,
            "{event_type} delivered once"
        );
        assert!(
            attempts.iter().all(|h| h.body == attempts[0].body),
            "{event_type}: the same body on every attempt"
        );
        let body: serde_json::Value = serde_json::from_str(&attempts[0].body).unwrap();
        assert_eq!(body["type"], event_type.as_str());
        assert_eq!(body["data"]["lead"]["email"], "flaky@example.com", "{body}");
    }
    let sample = &hits[0];
    assert_eq!(
        sample.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert!(sample
        .headers
        .get("user-agent")
        .is_some_and(|ua| ua.starts_with("Leadpipe-Webhooks/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_receiver_sees_every_event_once_on_sqlite() {
    let db = temp_dir("webhooks-flaky").join("leads.db");
    let receiver = Receiver::start(2, false).await;
    let server = Server::start(&["--db", db.to_str().unwrap()], &[FAST_RETRIES]);
    add_webhook(&server, &receiver).await;
    every_event_once_after_dedup("SQLite", &server, &receiver).await;
    let stderr = server.terminate();
    assert!(stderr.contains("Leadpipe stopped."), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_receiver_sees_every_event_once_on_dynamodb_local() {
    let endpoint = std::env::var("LEADPIPE_TEST_DYNAMODB")
        .expect("LEADPIPE_TEST_DYNAMODB is not set: run scripts/test.sh");
    let table = format!(
        "leadpipe-webhooks-{}-{}",
        std::process::id(),
        Uuid::new_v4().simple()
    );
    let receiver = Receiver::start(2, false).await;
    let server = Server::start(
        &["--dynamodb"],
        &[
            ("TABLE_NAME", &table),
            ("AWS_ENDPOINT_URL", &endpoint),
            FAST_RETRIES,
        ],
    );
    add_webhook(&server, &receiver).await;
    every_event_once_after_dedup("DynamoDB Local", &server, &receiver).await;
    let stderr = server.terminate();
    assert!(stderr.contains("Leadpipe stopped."), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_longer_sees_the_retries_with_one_webhook_id() {
    let db = temp_dir("webhooks-down").join("leads.db");
    let receiver = Receiver::start(0, true).await;
    // Faster still: 5 attempts in about 1.5 s (20 ms, 60 ms, 240 ms, 1.2 s apart, plus jitter).
    let server = Server::start(
        &["--db", db.to_str().unwrap()],
        &[("LEADPIPE_WEBHOOK_RETRY_SCALE", "0.002")],
    );
    let (webhook_id, _) = add_webhook(&server, &receiver).await;
    postback(
        &reqwest::Client::new(),
        &server.base,
        "down@example.com",
        "New",
    )
    .await;
    receiver
        .wait_until("5 failed attempts", |hits| hits.len() >= 5)
        .await;
    receiver.set_down(false);
    receiver
        .wait_until("the delivery", |hits| {
            hits.iter().any(|h| h.answered == 200)
        })
        .await;
    // The stored delivery, as GET /api/webhooks/{id}/deliveries shows it once the success is recorded.
    let url = format!("{}/api/webhooks/{webhook_id}/deliveries", server.base);
    let deadline = Instant::now() + DEADLINE;
    let stored = loop {
        let page: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        let delivery = page["deliveries"][0].clone();
        if delivery["state"] == "delivered" {
            assert_eq!(
                page["deliveries"].as_array().map(Vec::len),
                Some(1),
                "{page}"
            );
            break delivery;
        }
        assert!(
            Instant::now() < deadline,
            "the delivery was not recorded as delivered: {page}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let stderr = server.terminate();
    assert!(stderr.contains("Leadpipe stopped."), "{stderr}");

    let hits = receiver.hits();
    let ids: BTreeSet<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        1,
        "one message, the same webhook-id on every retry: {hits:#?}"
    );
    assert!(
        hits.iter()
            .all(|h| h.valid && h.event_type == "lead.created"),
        "{hits:#?}"
    );
    assert!(
        hits.windows(2).all(|w| w[0].timestamp <= w[1].timestamp),
        "each attempt is signed at its own time: {hits:#?}"
    );
    assert_eq!(
        hits.iter().filter(|h| h.answered == 200).count(),
        1,
        "delivered once: {hits:#?}"
    );
    let gaps: Vec<u128> = hits
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_millis())
        .collect();
    println!("{} attempts; gaps between them (ms): {gaps:?}", hits.len());
    assert_eq!(
        stored["attempts"],
        hits.len(),
        "the stored attempt count: {stored}"
    );
    assert_eq!(stored["last_response_code"], 200);
    assert_eq!(stored["message_id"], hits[0].id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_deliveries_pending_loses_none() {
    const LEADS: usize = 5;
    let db = temp_dir("webhooks-restart").join("leads.db");
    let receiver = Receiver::start(0, true).await;
    let mut server = Server::start(&["--db", db.to_str().unwrap()], &[FAST_RETRIES]);
    add_webhook(&server, &receiver).await;
    let client = reqwest::Client::new();
    for i in 0..LEADS {
        postback(
            &client,
            &server.base,
            &format!("restart{i}@example.com"),
            "New",
        )
        .await;
    }
    // Every delivery was attempted (so it is stored, pending, with a retry scheduled), none delivered.
    receiver
        .wait_until("a failed attempt of every delivery", |hits| {
            hits.iter().map(|h| &h.id).collect::<BTreeSet<_>>().len() == LEADS
        })
        .await;
    server.kill(); // SIGKILL: no chance to finish anything
    receiver.set_down(false);
    let before_restart = receiver.hits().len();
    let again = Server::start(&["--db", db.to_str().unwrap()], &[FAST_RETRIES]);
    receiver
        .wait_until("every delivery after the restart", |hits| {
            hits.iter().filter(|h| h.answered == 200).count() >= LEADS
        })
        .await;
    let stderr = again.terminate();
    assert!(stderr.contains("Leadpipe stopped."), "{stderr}");
    let hits = receiver.hits();
    let delivered = receiver.delivered();
    assert_eq!(delivered.len(), LEADS, "{hits:#?}");
    assert!(delivered.values().all(|t| t == "lead.created"));
    assert!(hits.iter().all(|h| h.valid));
    assert!(
        hits[before_restart..].iter().all(|h| h.answered == 200),
        "after the restart every attempt succeeded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_python_verifier_accepts_a_real_delivery() {
    let db = temp_dir("webhooks-readme").join("leads.db");
    let receiver = Receiver::start(0, false).await;
    let server = Server::start(&["--db", db.to_str().unwrap()], &[FAST_RETRIES]);
    let (_, secret) = add_webhook(&server, &receiver).await;
    postback(
        &reqwest::Client::new(),
        &server.base,
        "readme@example.com",
        "New",
    )
    .await;
    receiver
        .wait_until("a delivery", |hits| hits.iter().any(|h| h.answered == 200))
        .await;
    server.terminate();
    let hit = receiver
        .hits()
        .into_iter()
        .find(|h| h.answered == 200)
        .unwrap();
    assert!(hit.valid, "leadpipe_webhooks::Verifier accepts it");

    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let marker = readme
        .find("<!-- webhook-verify-python")
        .expect("the README marks its Python verifier");
    let after = &readme[marker..];
    let start = after
        .find("```python\n")
        .expect("a python block after the marker")
        + "```python\n".len();
    let snippet = &after[start..start + after[start..].find("```").unwrap()];
    let dir = temp_dir("webhooks-readme-py");
    let harness = format!(
        r#"{snippet}
import json, sys
d = json.load(open(sys.argv[1]))
h, body, secret = d["headers"], d["body"].encode(), d["secret"]
ts = int(h["webhook-timestamp"])
other = "whsec_" + base64.b64encode(b"x" * 32).decode()
print(json.dumps({{
    "valid_now": verify_webhook(secret, h, body),
    "valid_at_send": verify_webhook(secret, h, body, now=ts),
    "valid_5_min_later": verify_webhook(secret, h, body, now=ts + 300),
    "tampered_body": verify_webhook(secret, h, body + b" "),
    "other_secret": verify_webhook(other, h, body),
    "other_id": verify_webhook(secret, dict(h, **{{"webhook-id": "msg_other"}}), body),
    "too_old": verify_webhook(secret, h, body, now=ts + 301),
    "from_the_future": verify_webhook(secret, h, body, now=ts - 301),
}}))
"#
    );
    std::fs::write(dir.join("verify.py"), harness).unwrap();
    let capture =
        serde_json::json!({"headers": hit.headers, "body": hit.body, "secret": secret.to_whsec()});
    std::fs::write(dir.join("delivery.json"), capture.to_string()).unwrap();
    let out = std::process::Command::new("python3")
        .arg(dir.join("verify.py"))
        .arg(dir.join("delivery.json"))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: BTreeMap<String, bool> = serde_json::from_slice(&out.stdout).unwrap();
    let expected: BTreeMap<String, bool> = [
        ("valid_now", true),
        ("valid_at_send", true),
        ("valid_5_min_later", true),
        ("tampered_body", false),
        ("other_secret", false),
        ("other_id", false),
        ("too_old", false),
        ("from_the_future", false),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(results, expected);
}
