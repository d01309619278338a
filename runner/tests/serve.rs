//! The real `leadpipe serve` binary, as a newcomer runs it: the seed's curl examples over HTTP on SQLite and on
//! DynamoDB Local, the dashboard at `/`, and a clean shutdown on SIGTERM.

mod common;

use common::{free_port, wait_until_listening};

use std::io::Read;
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(args: &[&str], envs: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadpipe"));
        cmd.arg("serve").arg("--port").arg(port.to_string()).args(args).stdout(Stdio::null()).stderr(Stdio::piped());
        for var in ["API_KEY", "ADMIN_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_PROFILE"] {
            cmd.env_remove(var);
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start leadpipe serve");
        let base = format!("http://127.0.0.1:{port}");
        wait_until_listening(port);
        Self { child, base }
    }

    /// Sends SIGTERM, waits for a clean exit and returns what the server printed on stderr.
    fn terminate(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        let mut out = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut out).unwrap();
        assert!(status.success(), "leadpipe serve exited with {status}: {out}");
        out
    }
}

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
    String::from_utf8(Command::new("curl").args(["-s", url]).output().unwrap().stdout).unwrap()
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
    let detail: serde_json::Value =
        serde_json::from_str(&curl_get(&format!("{base}/api/leads/{}", b1["lead_id"].as_str().unwrap()))).unwrap();
    let moves: Vec<&str> = detail["history"].as_array().unwrap().iter().map(|h| h["to"].as_str().unwrap()).collect();
    assert_eq!(moves, ["Form Started", "Application Submitted"]);
}

#[test]
fn serve_on_sqlite_runs_the_seed_examples_and_stops_cleanly() {
    let dir = std::env::temp_dir().join(format!("leadpipe-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("serve.db");
    let server = Server::start(&["--db", db.to_str().unwrap()], &[]);
    seed_examples(&server.base);
    assert!(curl_get(&format!("{}/", server.base)).contains("<html"), "the dashboard is served at /");
    let stderr = server.terminate();
    assert!(stderr.contains("API_KEY is unset"), "warns about open keys: {stderr}");
    assert!(stderr.contains("Leadpipe stopped."), "{stderr}");
    // Data survives a restart.
    let again = Server::start(&["--db", db.to_str().unwrap()], &[]);
    let list: serde_json::Value = serde_json::from_str(&curl_get(&format!("{}/api/leads", again.base))).unwrap();
    assert_eq!(list["leads"][0]["stage"], "Application Submitted");
    again.terminate();
}

#[test]
fn serve_on_dynamodb_local_runs_the_seed_examples() {
    let endpoint = std::env::var("LEADPIPE_TEST_DYNAMODB").expect("LEADPIPE_TEST_DYNAMODB is not set: run scripts/test.sh");
    let table = format!("leadpipe-serve-{}", std::process::id());
    let server = Server::start(&["--dynamodb"], &[("TABLE_NAME", table), ("AWS_ENDPOINT_URL", endpoint)]);
    seed_examples(&server.base);
    server.terminate();
}
