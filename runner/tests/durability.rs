//! The embedded store under abuse: `leadpipe serve` killed with SIGKILL mid-load loses no acknowledged postback
//! and leaves a database that passes its integrity check; SIGTERM shuts down cleanly, finishing in-flight work;
//! API keys never reach the logs.

mod common;

use common::{temp_dir, Server};

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leadpipe_sqlite::SqliteStore;

fn temp_db(name: &str) -> std::path::PathBuf {
    temp_dir(name).join("leads.db")
}

/// How many acknowledged postbacks the load must reach before the server is stopped.
const ACKS_BEFORE_STOP: usize = 200;
/// Upper bounds of one load run (it normally ends within seconds, when the server goes away).
const LOAD_MAX_DURATION: Duration = Duration::from_secs(60);
const LOAD_MAX_REQUESTS_PER_WORKER: usize = 20_000;

/// `workers` tasks posting new leads to a running server until it goes away.
///
/// A connection error is the expected end of a worker only once [`Load::server_stopping`] was called (the test is
/// about to kill or stop the server); before that it is recorded as a problem, like any 5xx answer.
struct Load {
    acked: Arc<Mutex<BTreeSet<String>>>,
    problems: Arc<Mutex<Vec<String>>>,
    stopping: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(base: &str, workers: usize) -> Self {
        let acked = Arc::new(Mutex::new(BTreeSet::new()));
        let problems = Arc::new(Mutex::new(Vec::new()));
        let stopping = Arc::new(AtomicBool::new(false));
        let client = reqwest::Client::new();
        let deadline = Instant::now() + LOAD_MAX_DURATION;
        let tasks = (0..workers)
            .map(|w| {
                let (url, client) = (format!("{base}/api/postback"), client.clone());
                let (acked, problems, stopping) = (Arc::clone(&acked), Arc::clone(&problems), Arc::clone(&stopping));
                tokio::spawn(async move {
                    for i in 0..LOAD_MAX_REQUESTS_PER_WORKER {
                        if Instant::now() > deadline {
                            problems.lock().unwrap().push(format!("worker {w}: still running after {LOAD_MAX_DURATION:?}"));
                            return;
                        }
                        let email = format!("w{w}-{i}@example.com");
                        let body = serde_json::json!({"email": email, "stage": "Form Started", "custom_data": {"i": i}});
                        match client.post(&url).json(&body).timeout(Duration::from_secs(10)).send().await {
                            Ok(r) if r.status().is_success() => {
                                acked.lock().unwrap().insert(email);
                            }
                            Ok(r) if r.status().is_server_error() => {
                                let status = r.status();
                                let text = r.text().await.unwrap_or_default();
                                problems.lock().unwrap().push(format!("worker {w}: {email} answered {status}: {text}"));
                            }
                            Ok(_) => {}
                            // The server is being killed or stopped: its connections go away. Expected.
                            Err(_) if stopping.load(Ordering::SeqCst) => return,
                            Err(e) => {
                                problems.lock().unwrap().push(format!("worker {w}: {email} failed before the server was stopped: {e:?}"));
                                return;
                            }
                        }
                    }
                })
            })
            .collect();
        Load {
            acked,
            problems,
            stopping,
            tasks,
        }
    }

    fn acked_count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Waits until `n` postbacks were acknowledged; panics when every worker quit first or after 30 s.
    async fn wait_for_acks(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.acked_count() < n {
            let problems = self.problems.lock().unwrap().clone();
            assert!(
                !self.tasks.iter().all(|t| t.is_finished()),
                "every load worker quit after {} acknowledged postbacks: {problems:#?}",
                self.acked_count()
            );
            assert!(
                Instant::now() < deadline,
                "only {} postbacks acknowledged after 30 s: {problems:#?}",
                self.acked_count()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// From now on a connection error is the expected effect of stopping the server. Call it before the signal.
    fn server_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Waits for every worker; returns the acknowledged emails and the problems seen.
    async fn finish(self) -> (BTreeSet<String>, Vec<String>) {
        for t in self.tasks {
            t.await.expect("load worker panicked");
        }
        let acked = self.acked.lock().unwrap().clone();
        let problems = self.problems.lock().unwrap().clone();
        (acked, problems)
    }
}

async fn stored_emails(db: &std::path::Path) -> BTreeSet<String> {
    let server = Server::start(&["--db", db.to_str().unwrap()], &[]);
    let client = reqwest::Client::new();
    let mut emails = BTreeSet::new();
    let mut url = format!("{}/api/leads?limit=200", server.base);
    loop {
        let page: serde_json::Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        for lead in page["leads"].as_array().unwrap() {
            emails.insert(lead["email"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("{}/api/leads?limit=200&cursor={c}", server.base),
            None => break,
        }
    }
    server.terminate();
    emails
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_load_loses_no_acknowledged_postback() {
    let db = temp_db("sigkill");
    let mut server = Server::start(&["--db", db.to_str().unwrap()], &[]);
    let load = Load::start(&server.base, 8);
    load.wait_for_acks(ACKS_BEFORE_STOP).await;
    load.server_stopping();
    server.kill(); // SIGKILL mid-load
    let (acked, problems) = load.finish().await;
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(
        acked.len() >= ACKS_BEFORE_STOP,
        "the load ran ({} acknowledged)",
        acked.len()
    );
    let store = SqliteStore::open(&db, Default::default()).unwrap();
    store
        .integrity_check()
        .await
        .expect("database passes integrity and foreign-key checks after SIGKILL");
    drop(store);
    let stored = stored_emails(&db).await;
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged postbacks lost, e.g. {:?}",
        lost.len(),
        lost.iter().take(3).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_requests_and_exits_cleanly() {
    let db = temp_db("sigterm");
    let mut server = Server::start(&["--db", db.to_str().unwrap()], &[]);
    let load = Load::start(&server.base, 8);
    load.wait_for_acks(ACKS_BEFORE_STOP).await;
    load.server_stopping();
    server.send_sigterm();
    let status = server.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "clean exit after SIGTERM: {status}");
    let stderr = server.stderr();
    assert!(stderr.contains("Leadpipe stopped."), "{stderr}");
    let (acked, problems) = load.finish().await;
    assert!(problems.is_empty(), "{problems:#?}");
    let stored = stored_emails(&db).await;
    assert!(
        acked.is_subset(&stored),
        "every acknowledged postback was stored before exit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_never_reach_the_logs() {
    let (ingest, admin) = ("ingest-secret-7c1d9a", "admin-secret-4b8e2f");
    let db = temp_db("logs");
    let mut server = Server::start(
        &["--db", db.to_str().unwrap()],
        &[
            ("API_KEY", ingest),
            ("ADMIN_API_KEY", admin),
            ("RUST_LOG", "trace"),
        ],
    );
    let client = reqwest::Client::new();
    for key in [ingest, admin, "wrong-secret-000"] {
        let base = &server.base;
        let _ = client
            .post(format!("{base}/api/postback"))
            .header("x-api-key", key)
            .json(&serde_json::json!({"email": "k@example.com"}))
            .send()
            .await;
        let _ = client
            .get(format!("{base}/api/leads"))
            .header("x-api-key", key)
            .send()
            .await;
        let _ = client
            .post(format!("{base}/api/postback"))
            .header("x-api-key", key)
            .body("{broken")
            .send()
            .await;
    }
    server.send_sigterm();
    server.wait_exit(Duration::from_secs(15));
    let logs = server.stderr() + &server.stdout();
    assert!(logs.len() > 200, "trace logging produced output");
    for secret in [ingest, admin, "wrong-secret-000"] {
        assert!(!logs.contains(secret), "a key appeared in the logs");
    }
}

/// Personal data never reaches the logs, even at `RUST_LOG=trace`: every email, phone number and name sent through
/// postbacks (both keys, GET with query parameters, refused and quarantined ones), searches, an import, a stage
/// move and a delete is looked for in everything the server printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_never_reaches_the_logs() {
    let (ingest, public, admin) = ("ingest-pii-3e8a1c", "public-pii-9d2b7f", "admin-pii-5a1c0e");
    let db = temp_db("pii-logs");
    let mut server = Server::start(
        &["--db", db.to_str().unwrap()],
        &[
            ("API_KEY", ingest),
            ("PUBLIC_API_KEY", public),
            ("ADMIN_API_KEY", admin),
            ("RUST_LOG", "trace"),
        ],
    );
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let person = |i: usize| {
        (
            format!("zelda.quixote{i}@pii-example.org"),
            format!("+44 7700 90{i:04}"),
            format!("Zeldaname{i}"),
            format!("Quixotename{i}"),
        )
    };
    let mut secrets = Vec::new();
    for i in 0..6 {
        let (email, phone, first, last) = person(i);
        let body = serde_json::json!({
            "email": email, "phone": phone, "first_name": first, "last_name": last,
            "ip_address": format!("203.0.113.{}", 10 + i), "stage": "Form Started",
            "custom_data": {"note": format!("secret-note-{i}")},
        });
        let key = if i % 2 == 0 { ingest } else { public };
        let r = client
            .post(format!("{base}/api/postback"))
            .header("x-api-key", key)
            .json(&body)
            .send()
            .await
            .expect("postback");
        assert!(r.status().is_success(), "postback {i}: {}", r.status());
        secrets.extend([email, phone, first, last, format!("secret-note-{i}")]);
    }
    // A refused body, a bad email, a honeypot (quarantined), and a GET postback with the data in its query.
    let (email, phone, first, _) = person(90);
    let refused = format!("{{\"email\": \"{email}\", \"phone\": \"{phone}\", broken");
    let r = client
        .post(format!("{base}/api/postback"))
        .header("x-api-key", ingest)
        .header("content-type", "application/json")
        .body(refused)
        .send()
        .await
        .expect("refused postback");
    assert_eq!(r.status(), 400);
    secrets.extend([email, phone]);
    let bad_email = "not-an-email-zelda@@pii-example.org".to_string();
    let r = client
        .post(format!("{base}/api/postback"))
        .header("x-api-key", ingest)
        .json(&serde_json::json!({"email": bad_email, "first_name": first}))
        .send()
        .await
        .expect("bad email");
    assert!(r.status().is_client_error() || r.status().is_success());
    secrets.extend([bad_email, first]);
    let (email, _, first, _) = person(91);
    let r = client
        .post(format!("{base}/api/postback"))
        .header("x-api-key", public)
        .json(&serde_json::json!({"email": email, "first_name": first, "_gotcha": "bot"}))
        .send()
        .await
        .expect("honeypot");
    assert!(r.status().is_success());
    secrets.extend([email, first]);
    let (email, phone, _, _) = person(92);
    let r = client
        .get(format!("{base}/api/postback"))
        .query(&[("key", ingest), ("email", &email), ("phone", &phone)])
        .send()
        .await
        .expect("GET postback");
    assert!(r.status().is_success(), "GET postback: {}", r.status());
    secrets.extend([email, phone]);
    // Admin reads and changes: a search by email, an import, a move and a delete.
    let (searched, ..) = person(0);
    let r = client
        .get(format!("{base}/api/leads"))
        .query(&[("search", searched.as_str())])
        .header("x-api-key", admin)
        .send()
        .await
        .expect("search");
    let page: serde_json::Value = r.json().await.expect("leads json");
    let id = page["leads"][0]["id"].as_str().expect("found").to_string();
    let (email, phone, first, last) = person(93);
    let r = client
        .post(format!("{base}/api/import"))
        .header("x-api-key", admin)
        .header("content-type", "text/csv")
        .body(format!(
            "email,phone,first_name,last_name\n{email},{phone},{first},{last}\n"
        ))
        .send()
        .await
        .expect("import");
    assert_eq!(r.status(), 200);
    secrets.extend([email, phone, first, last]);
    let r = client
        .put(format!("{base}/api/leads/{id}/stage"))
        .header("x-api-key", admin)
        .json(&serde_json::json!({"stage": "Paid"}))
        .send()
        .await
        .expect("move");
    assert_eq!(r.status(), 200);
    let r = client
        .delete(format!("{base}/api/leads/{id}"))
        .header("x-api-key", admin)
        .send()
        .await
        .expect("delete");
    assert!(r.status().is_success());
    server.send_sigterm();
    server.wait_exit(Duration::from_secs(15));
    let logs = server.stderr() + &server.stdout();
    assert!(logs.len() > 500, "trace logging produced output");
    let leaked: Vec<&String> = secrets
        .iter()
        .filter(|s| logs.to_lowercase().contains(&s.to_lowercase()))
        .collect();
    assert!(
        leaked.is_empty(),
        "personal data in the logs: {leaked:?} (of {} values)",
        secrets.len()
    );
}
