//! The real `leadpipe serve` binary, as a newcomer runs it: the seed's curl examples over HTTP on SQLite and on
//! DynamoDB Local, the dashboard at `/`, and a clean shutdown on SIGTERM.

mod common;

use common::{temp_dir, Server};

use std::process::Command;

fn curl_post(base: &str, body: &str) -> (u16, serde_json::Value) {
    let out = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            "-X",
            "POST",
            &format!("{base}/api/postback"),
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
        ])
        .output()
        .expect("curl");
    let text = String::from_utf8(out.stdout).unwrap();
    let (json, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), serde_json::from_str(json).unwrap())
}

fn curl_get(url: &str) -> String {
    String::from_utf8(
        Command::new("curl")
            .args(["-s", url])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
}

fn seed_examples(base: &str) {
    let (s1, b1) = curl_post(
        base,
        r#"{"email": "john@example.com", "first_name": "John", "stage": "Form Started", "source": "google",
            "domain": "myeinregistry.com", "campaign": "llc-spring-2026", "utm_source": "google", "utm_medium": "cpc",
            "utm_campaign": "llc-spring-2026", "ip_address": "192.168.1.1", "browser": "Chrome 124", "device_type": "desktop",
            "form_completion_percent": 10, "form_fields_total": 12}"#,
    );
    assert_eq!(s1, 201, "{b1}");
    let (s2, b2) = curl_post(
        base,
        r#"{"email": "john@example.com", "stage": "Application Submitted", "form_completion_percent": 100,
            "form_fields_completed": 12, "form_fields_total": 12}"#,
    );
    assert_eq!(s2, 200, "{b2}");
    assert_eq!(b1["lead_id"], b2["lead_id"]);
    let detail: serde_json::Value = serde_json::from_str(&curl_get(&format!(
        "{base}/api/leads/{}",
        b1["lead_id"].as_str().unwrap()
    )))
    .unwrap();
    let moves: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap())
        .collect();
    assert_eq!(moves, ["Form Started", "Application Submitted"]);
}

#[test]
fn serve_on_sqlite_runs_the_seed_examples_and_stops_cleanly() {
    let db = temp_dir("serve").join("serve.db");
    let server = Server::start(&["--db", db.to_str().unwrap()], &[]);
    seed_examples(&server.base);
    assert!(
        curl_get(&format!("{}/", server.base)).contains("<html"),
        "the dashboard is served at /"
    );
    let stderr = server.terminate();
    assert!(
        stderr.contains("API_KEY is unset"),
        "warns about open keys: {stderr}"
    );
    assert!(stderr.contains("Leadpipe stopped."), "{stderr}");
    // Data survives a restart.
    let again = Server::start(&["--db", db.to_str().unwrap()], &[]);
    let list: serde_json::Value =
        serde_json::from_str(&curl_get(&format!("{}/api/leads", again.base))).unwrap();
    assert_eq!(list["leads"][0]["stage"], "Application Submitted");
    again.terminate();
}

#[test]
fn serve_on_dynamodb_local_runs_the_seed_examples() {
    let endpoint = std::env::var("LEADPIPE_TEST_DYNAMODB")
        .expect("LEADPIPE_TEST_DYNAMODB is not set: run scripts/test.sh");
    let table = format!("leadpipe-serve-{}", std::process::id());
    let server = Server::start(
        &["--dynamodb"],
        &[("TABLE_NAME", &table), ("AWS_ENDPOINT_URL", &endpoint)],
    );
    seed_examples(&server.base);
    server.terminate();
}
