//! Cold-start proxy for the four Lambda functions, run locally against a minimal stand-in for the Lambda Runtime
//! API (served by this process on loopback) and DynamoDB Local.
//!
//! For each function binary (`target/release/{postback,leads,stage,analytics}`): its size, then per trial: exec the
//! binary with the environment Lambda gives (`AWS_LAMBDA_RUNTIME_API` pointing here, function name, memory, version,
//! log names, `TABLE_NAME`, region, credentials, `AWS_ENDPOINT_URL` to DynamoDB Local), and time
//! exec → first `GET /2018-06-01/runtime/invocation/next` (init done) and exec → first
//! `POST /2018-06-01/runtime/invocation/{id}/response` (first API Gateway v2 event answered), then a few warm
//! invocations (event handed over → response posted: what Lambda bills), then peak RSS (VmHWM).
//!
//! ```text
//! cold_start [--functions postback,leads,stage,analytics] [--trials 10] [--warm 30] [--json PATH] [--smoke]
//! ```

use std::collections::VecDeque;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use leadpipe_bench::ddb::{client, DynamoLocal};
use leadpipe_bench::{
    arg_flag, arg_parse, arg_value, median, postback_body, release_binary, vm_hwm_kib, STAGES,
};
use leadpipe_core::{Leadpipe, Settings};
use leadpipe_dynamo::DynamoStore;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};

const FIXTURE: &str = include_str!("../../../tests/fixtures/apigw-v2-event.json");
/// The server key the functions start with (they refuse to start without keys) and postbacks carry.
const SERVER_KEY: &str = "bench-server-key";
/// The admin key the functions start with; the dashboard's routes carry it.
const ADMIN_KEY: &str = "bench-admin-key";

#[derive(Debug)]
enum Seen {
    Poll,
    Response(Bytes),
    Error(Bytes),
    InitError(Bytes),
}

#[derive(Clone)]
struct RuntimeApi {
    queue: Arc<Mutex<VecDeque<(String, Bytes)>>>,
    ready: Arc<Notify>,
    seen: mpsc::UnboundedSender<(Instant, Seen)>,
}

impl RuntimeApi {
    fn push(&self, id: &str, event: &Value) {
        self.queue
            .lock()
            .expect("queue")
            .push_back((id.to_string(), Bytes::from(event.to_string())));
        self.ready.notify_one();
    }
}

async fn next_invocation(State(api): State<RuntimeApi>) -> (StatusCode, HeaderMap, Bytes) {
    let _ = api.seen.send((Instant::now(), Seen::Poll));
    loop {
        let notified = api.ready.notified();
        if let Some((id, body)) = api.queue.lock().expect("queue").pop_front() {
            let mut h = HeaderMap::new();
            let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
            h.insert(
                "lambda-runtime-aws-request-id",
                HeaderValue::from_str(&id).expect("id"),
            );
            h.insert(
                "lambda-runtime-deadline-ms",
                HeaderValue::from_str(&deadline.to_string()).expect("deadline"),
            );
            h.insert(
                "lambda-runtime-invoked-function-arn",
                HeaderValue::from_static(
                    "arn:aws:lambda:us-east-1:123456789012:function:leadpipe-bench",
                ),
            );
            h.insert(
                "lambda-runtime-trace-id",
                HeaderValue::from_static("Root=1-67891233-abcdef012345678912345678;Sampled=0"),
            );
            h.insert("content-type", HeaderValue::from_static("application/json"));
            return (StatusCode::OK, h, body);
        }
        notified.await;
    }
}

async fn invocation_response(
    State(api): State<RuntimeApi>,
    Path(_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let _ = api.seen.send((Instant::now(), Seen::Response(body)));
    StatusCode::ACCEPTED
}

async fn invocation_error(
    State(api): State<RuntimeApi>,
    Path(_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let _ = api.seen.send((Instant::now(), Seen::Error(body)));
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<RuntimeApi>, body: Bytes) -> StatusCode {
    let _ = api.seen.send((Instant::now(), Seen::InitError(body)));
    StatusCode::ACCEPTED
}

/// An API Gateway HTTP API (payload 2.0) event from the test fixture.
fn event(method: &str, route: &str, path: &str, body: Option<&Value>) -> Value {
    let mut e: Value = serde_json::from_str(FIXTURE).expect("fixture");
    let key = format!("{method} {route}");
    e["routeKey"] = key.clone().into();
    e["rawPath"] = path.into();
    e["requestContext"]["routeKey"] = key.into();
    e["requestContext"]["http"]["method"] = method.into();
    e["requestContext"]["http"]["path"] = path.into();
    e["requestContext"]["requestId"] = uuid::Uuid::new_v4().to_string().into();
    let obj = e.as_object_mut().expect("event");
    obj.remove("queryStringParameters");
    let key = if route == "/api/postback" {
        SERVER_KEY
    } else {
        ADMIN_KEY
    };
    if let Some(headers) = obj.get_mut("headers").and_then(Value::as_object_mut) {
        headers.insert("x-api-key".into(), key.into());
    } else {
        obj.insert("headers".into(), json!({ "x-api-key": key }));
    }
    match route.find("{id}") {
        Some(_) => {
            let id = path.split('/').nth(3).unwrap_or_default();
            obj.insert("pathParameters".into(), json!({ "id": id }));
        }
        None => {
            obj.remove("pathParameters");
        }
    }
    match body {
        Some(b) => {
            obj.insert("body".into(), b.to_string().into());
        }
        None => {
            obj.remove("body");
        }
    }
    e
}

/// The event function `name` gets on invocation `n`.
fn event_for(name: &str, n: usize, lead: &str) -> Value {
    match name {
        "postback" => {
            let email = format!("cold{n}-{}@bench.example", uuid::Uuid::new_v4().simple());
            event(
                "POST",
                "/api/postback",
                "/api/postback",
                Some(&postback_body(&email, STAGES[1], 10, &[])),
            )
        }
        "leads" => event("GET", "/api/leads", "/api/leads", None),
        "stage" => {
            let path = format!("/api/leads/{lead}/stage");
            event(
                "PUT",
                "/api/leads/{id}/stage",
                &path,
                Some(&json!({"stage": STAGES[2 + n % 2]})),
            )
        }
        _ => event("GET", "/api/analytics", "/api/analytics", None),
    }
}

struct Trial {
    first_poll_ms: f64,
    first_response_ms: f64,
    warm_ms: Vec<f64>,
    hwm_kib: u64,
    ok: bool,
}

async fn wait_for(
    rx: &mut mpsc::UnboundedReceiver<(Instant, Seen)>,
    want: fn(&Seen) -> bool,
    limit: Duration,
) -> Result<(Instant, Seen), String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => return Err("timed out".into()),
            Ok(None) => return Err("runtime API closed".into()),
            Ok(Some((_, Seen::InitError(b)))) => {
                return Err(format!("init error: {}", String::from_utf8_lossy(&b)))
            }
            Ok(Some((_, Seen::Error(b)))) => {
                return Err(format!("invocation error: {}", String::from_utf8_lossy(&b)))
            }
            Ok(Some((t, s))) if want(&s) => return Ok((t, s)),
            Ok(Some(_)) => {}
        }
    }
}

fn status_of(body: &Bytes) -> u64 {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["statusCode"].as_u64())
        .unwrap_or(0)
}

#[allow(clippy::too_many_arguments)]
async fn trial(
    name: &str,
    bin: &std::path::Path,
    api: &RuntimeApi,
    rx: &mut mpsc::UnboundedReceiver<(Instant, Seen)>,
    api_addr: &str,
    endpoint: &str,
    table: &str,
    lead: &str,
    warm: usize,
) -> Result<Trial, String> {
    while rx.try_recv().is_ok() {}
    api.push("inv-0", &event_for(name, 0, lead));
    let t0 = Instant::now();
    let mut child = Command::new(bin)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api_addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("leadpipe-{name}"))
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/27/[$LATEST]bench")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/leadpipe-{name}"),
        )
        .env("TABLE_NAME", table)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("API_KEY", SERVER_KEY)
        .env("ADMIN_API_KEY", ADMIN_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("exec {}: {e}", bin.display()))?;
    let pid = child.id();
    let result = async {
        let (t_poll, _) =
            wait_for(rx, |s| matches!(s, Seen::Poll), Duration::from_secs(20)).await?;
        let (t_resp, s) = wait_for(
            rx,
            |s| matches!(s, Seen::Response(..)),
            Duration::from_secs(20),
        )
        .await?;
        let mut ok = matches!(&s, Seen::Response(b) if (200..300).contains(&status_of(b)));
        let mut warm_ms = Vec::new();
        for n in 1..=warm {
            // Wait until the runtime is polling again, then hand over the next event.
            wait_for(rx, |s| matches!(s, Seen::Poll), Duration::from_secs(20)).await?;
            let t = Instant::now();
            api.push(&format!("inv-{n}"), &event_for(name, n, lead));
            let (tr, s) = wait_for(
                rx,
                |s| matches!(s, Seen::Response(..)),
                Duration::from_secs(20),
            )
            .await?;
            ok &= matches!(&s, Seen::Response(b) if (200..300).contains(&status_of(b)));
            warm_ms.push(tr.duration_since(t).as_secs_f64() * 1000.0);
        }
        let hwm_kib = vm_hwm_kib(pid).unwrap_or(0);
        Ok::<_, String>(Trial {
            first_poll_ms: t_poll.duration_since(t0).as_secs_f64() * 1000.0,
            first_response_ms: t_resp.duration_since(t0).as_secs_f64() * 1000.0,
            warm_ms,
            hwm_kib,
            ok,
        })
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = arg_flag(&args, "--smoke");
    let trials: usize = arg_parse(&args, "--trials", if smoke { 2 } else { 10 });
    let warm: usize = arg_parse(&args, "--warm", if smoke { 3 } else { 30 });
    let functions: Vec<String> = arg_value(&args, "--functions")
        .unwrap_or_else(|| "postback,leads,stage,analytics".into())
        .split(',')
        .map(str::to_string)
        .collect();

    let ddb = DynamoLocal::obtain();
    let table = format!("leadpipe-bench-cold-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::new(
        client(&ddb.endpoint, None),
        table.clone(),
        Default::default(),
    );
    store.ensure_table().await.expect("create table");
    let app = Leadpipe::new(Arc::new(store), Settings::default());
    let mut lead = String::new();
    for i in 0..60 {
        let pb = leadpipe_core::domain::Postback::parse(
            postback_body(&format!("coldseed{i}@bench.example"), STAGES[1], 10, &[])
                .to_string()
                .as_bytes(),
            &app.settings.pipeline,
            None,
        )
        .expect("postback")
        .postback;
        lead = app
            .ingest_postback(&pb)
            .await
            .expect("seed")
            .lead_id
            .to_string();
    }

    let (tx, mut rx) = mpsc::unbounded_channel();
    let api = RuntimeApi {
        queue: Arc::default(),
        ready: Arc::new(Notify::new()),
        seen: tx,
    };
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(invocation_response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(invocation_error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind runtime API");
    let api_addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move { axum::serve(listener, router).await.expect("runtime API") });

    println!(
        "# cold start proxy: {} ({trials} trials, {warm} warm invocations each; medians)",
        leadpipe_bench::machine_description()
    );
    println!(
        "{:<10} {:>10} {:>14} {:>17} {:>12} {:>12} {:>10} ok",
        "function",
        "size MB",
        "first poll ms",
        "first response ms",
        "warm p50 ms",
        "warm p99 ms",
        "peak RSS MB"
    );
    let mut rows = Vec::new();
    let mut postback_warm = f64::NAN;
    for name in &functions {
        let bin = release_binary(name);
        let size = std::fs::metadata(&bin)
            .map(|m| m.len())
            .unwrap_or_else(|_| panic!("{} is missing: cargo build --release -p postback -p leads -p stage -p analytics", bin.display()));
        let mut done = Vec::new();
        for _ in 0..trials {
            match trial(
                name,
                &bin,
                &api,
                &mut rx,
                &api_addr,
                &ddb.endpoint,
                &table,
                &lead,
                warm,
            )
            .await
            {
                Ok(t) => done.push(t),
                Err(e) => eprintln!("{name}: trial failed: {e}"),
            }
            // Let the stand-in drop the finished process's connection before the next exec.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let poll = median(&done.iter().map(|t| t.first_poll_ms).collect::<Vec<_>>());
        let resp = median(&done.iter().map(|t| t.first_response_ms).collect::<Vec<_>>());
        let mut warm_all: Vec<u64> = done
            .iter()
            .flat_map(|t| t.warm_ms.iter().map(|ms| (ms * 1000.0) as u64))
            .collect();
        let wl = leadpipe_bench::Latency::of(&mut warm_all);
        let hwm = median(&done.iter().map(|t| t.hwm_kib as f64).collect::<Vec<_>>()) / 1024.0;
        let ok = !done.is_empty() && done.iter().all(|t| t.ok);
        if name == "postback" {
            postback_warm = wl.p50_us as f64 / 1000.0;
        }
        println!(
            "{name:<10} {:>10.2} {poll:>14.2} {resp:>17.2} {:>12.2} {:>12.2} {hwm:>10.1} {}",
            size as f64 / 1e6,
            wl.p50_us as f64 / 1000.0,
            wl.p99_us as f64 / 1000.0,
            if ok { "yes" } else { "NO" }
        );
        rows.push(json!({
            "function": name, "binary_bytes": size, "trials": done.len(), "first_poll_ms_median": poll, "first_response_ms_median": resp,
            "first_poll_ms": done.iter().map(|t| t.first_poll_ms).collect::<Vec<_>>(),
            "first_response_ms": done.iter().map(|t| t.first_response_ms).collect::<Vec<_>>(),
            "warm_invoke": wl.json(), "peak_rss_mb_median": (hwm * 10.0).round() / 10.0, "all_responses_2xx": ok,
        }));
    }
    println!("targets: binary < 8 MB stripped, first poll < 20 ms, peak RSS < 30 MB (host build, x86_64; the deployed build is arm64)");
    let out = json!({
        "benchmark": "cold_start", "machine": leadpipe_bench::machine_description(), "smoke": smoke, "trials": trials, "warm": warm,
        "target_triple": format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS), "functions": rows,
        "postback_warm_invoke_ms_p50": postback_warm,
    });
    leadpipe_bench::write_json(arg_value(&args, "--json").as_deref(), &out);
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| r["all_responses_2xx"] != true)
        .filter_map(|r| r["function"].as_str())
        .collect();
    if !failed.is_empty() {
        eprintln!(
            "cold_start: no 2xx from every invocation of {} (a function that cannot start or answer fails the run)",
            failed.join(", ")
        );
        std::process::exit(1);
    }
}
