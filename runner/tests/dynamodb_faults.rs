//! DynamoDB throttling and failing under `leadpipe serve --dynamodb`: a real HTTP proxy in front of DynamoDB
//! Local (the [`FaultProxy`] below, `AWS_ENDPOINT_URL` of the server) answers a seeded 10 % of requests with
//! DynamoDB's own throttling errors, 1 % with HTTP 500, and holds back 3 % for 2 s, while the realistic postback
//! mix runs through the server. Some throttled calls stay throttled on every SDK retry (a hot partition), so
//! failures reach the application and the stream consumer, not only the SDK's retry loop.
//!
//! Then: no acknowledged (2xx) postback is lost, every refused one was a 503 with `Retry-After` and a clean body,
//! the counters equal a recount of the stored leads once the server's own stream consumer caught up (its batches
//! retried through the faults), and each lead's history has exactly its stage changes. The figures are printed.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use common::Server;
use leadpipe_core::domain::counters::{split_bucket, CounterQuery, Registry};
use leadpipe_core::domain::Lead;
use leadpipe_core::store::ListQuery;
use leadpipe_core::{Leadpipe, Settings};
use leadpipe_dynamo::DynamoStore;
use serde_json::{json, Value};

/// The fault schedule's seed: the same seed gives every operation type the same sequence of faults and every
/// visitor the same postbacks. Another one for a run: `LEADPIPE_FAULT_SEED=12345` (decimal).
const SEED: u64 = 0x1ead_f1fe;

fn seed() -> u64 {
    std::env::var("LEADPIPE_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED)
}
/// Visitors posting at once, and postbacks each sends (retries of a refused one not counted).
const VISITORS: usize = 12;
const POSTBACKS_PER_VISITOR: usize = 20;
/// Times a visitor sends a refused postback again (after its `Retry-After`) before giving up on it.
const RESENDS: usize = 8;
/// How long the postback mix may take, and then the server's stream consumer to catch up, before the run fails
/// (normally about 30 s and 5 s on a busy 2-core machine).
const RUN_DEADLINE: Duration = Duration::from_secs(75);
const SETTLE_DEADLINE: Duration = Duration::from_secs(30);

const STAGES: &[&str] = &[
    "New",
    "Form Started",
    "Application Submitted",
    "Paid",
    "Completed",
];
const SOURCES: &[&str] = &["google", "facebook", "bing", "newsletter", "linkedin"];

/// What the proxy does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Forward,
    /// 400 `ProvisionedThroughputExceededException` (DynamoDB API, when `provisioned`) or `ThrottlingException`.
    Throttle {
        provisioned: bool,
    },
    /// 500 `InternalServerError`.
    ServerError,
    /// Forwarded after 2 s.
    Delay,
}

/// SplitMix64: a tiny deterministic generator (the schedule must not depend on a crate's algorithm).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What the proxy did, per operation (`X-Amz-Target` without its API version).
#[derive(Debug, Default, Clone)]
struct OpFigures {
    requests: u64,
    throttled: u64,
    server_errors: u64,
    delayed: u64,
}

#[derive(Default)]
struct ProxyState {
    /// Requests seen per target (the position in that target's fault sequence).
    seen: HashMap<String, u64>,
    /// SDK invocations (`amz-sdk-invocation-id`) whose every attempt is throttled.
    sticky: HashMap<String, Fault>,
    figures: BTreeMap<String, OpFigures>,
}

/// A fault-injecting HTTP proxy in front of DynamoDB Local, on a loopback ephemeral port.
struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    faults_on: Arc<AtomicBool>,
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    client: reqwest::Client,
    state: Arc<Mutex<ProxyState>>,
    faults_on: Arc<AtomicBool>,
    request_ids: Arc<AtomicU64>,
}

impl FaultProxy {
    async fn start(upstream: &str) -> Self {
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let faults_on = Arc::new(AtomicBool::new(false));
        let shared = Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
            state: state.clone(),
            faults_on: faults_on.clone(),
            request_ids: Arc::new(AtomicU64::new(0)),
        };
        let app = axum::Router::new().fallback(
            move |method: axum::http::Method,
                  uri: axum::http::Uri,
                  headers: HeaderMap,
                  body: Bytes| {
                let shared = shared.clone();
                async move { shared.handle(method, uri, headers, body).await }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            state,
            faults_on,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set_faults(&self, on: bool) {
        self.faults_on.store(on, Ordering::SeqCst);
    }

    fn figures(&self) -> BTreeMap<String, OpFigures> {
        self.state.lock().unwrap().figures.clone()
    }
}

impl Shared {
    /// The fault for this request: the next one in its target's seeded sequence, except that a retry of an
    /// invocation chosen to stay throttled is throttled again.
    fn decide(&self, target: &str, invocation: Option<&str>, attempt: u32) -> Fault {
        if !self.faults_on.load(Ordering::SeqCst) {
            return Fault::Forward;
        }
        let mut state = self.state.lock().unwrap();
        if attempt > 1 {
            if let Some(f) = invocation.and_then(|i| state.sticky.get(i)) {
                return *f;
            }
        }
        let n = state.seen.entry(target.to_string()).or_default();
        *n += 1;
        let roll = mix(seed() ^ fnv(target) ^ mix(*n));
        let fault = match roll % 1000 {
            0..100 => Fault::Throttle {
                provisioned: (roll >> 40) & 1 == 0,
            },
            100..110 => Fault::ServerError,
            110..140 => Fault::Delay,
            _ => Fault::Forward,
        };
        // A third of the throttled invocations stay throttled on every attempt: the SDK gives up.
        if matches!(fault, Fault::Throttle { .. }) && (roll >> 20).is_multiple_of(3) {
            if let Some(i) = invocation {
                state.sticky.insert(i.to_string(), fault);
            }
        }
        fault
    }

    async fn handle(
        &self,
        method: axum::http::Method,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let target = header("x-amz-target").unwrap_or("").to_string();
        let op = target
            .split_once('.')
            .map_or(target.as_str(), |(_, op)| op)
            .to_string();
        let streams = target.starts_with("DynamoDBStreams");
        // `amz-sdk-request: attempt=2; max=3`
        let attempt = header("amz-sdk-request")
            .and_then(|v| v.split(';').find_map(|p| p.trim().strip_prefix("attempt=")))
            .and_then(|a| a.parse().ok())
            .unwrap_or(1);
        let fault = self.decide(&target, header("amz-sdk-invocation-id"), attempt);
        {
            let mut state = self.state.lock().unwrap();
            let f = state.figures.entry(op.clone()).or_default();
            f.requests += 1;
            match fault {
                Fault::Throttle { .. } => f.throttled += 1,
                Fault::ServerError => f.server_errors += 1,
                Fault::Delay => f.delayed += 1,
                Fault::Forward => {}
            }
        }
        let id = self.request_ids.fetch_add(1, Ordering::SeqCst);
        match fault {
            Fault::Throttle { provisioned } if streams || !provisioned => aws_error(
                StatusCode::BAD_REQUEST,
                "ThrottlingException",
                "com.amazon.coral.availability",
                "Rate of requests exceeds the allowed throughput.",
                id,
            ),
            Fault::Throttle { .. } => aws_error(
                StatusCode::BAD_REQUEST,
                "ProvisionedThroughputExceededException",
                "com.amazonaws.dynamodb.v20120810",
                "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
                id,
            ),
            Fault::ServerError => aws_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "com.amazonaws.dynamodb.v20120810",
                "Internal server error",
                id,
            ),
            Fault::Delay | Fault::Forward => {
                if fault == Fault::Delay {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                self.forward(method, uri, headers, body).await
            }
        }
    }

    async fn forward(
        &self,
        method: axum::http::Method,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut out = HeaderMap::new();
        for (k, v) in &headers {
            if !matches!(
                k.as_str(),
                "host" | "content-length" | "connection" | "transfer-encoding"
            ) {
                out.append(k.clone(), v.clone());
            }
        }
        let sent = self
            .client
            .request(method, format!("{}{path}", self.upstream))
            .headers(out)
            .body(body)
            .send()
            .await;
        let Ok(resp) = sent else {
            return StatusCode::BAD_GATEWAY.into_response();
        };
        let status = resp.status();
        let mut back = HeaderMap::new();
        for (k, v) in resp.headers() {
            if !matches!(
                k.as_str(),
                "content-length" | "connection" | "transfer-encoding"
            ) {
                back.append(k.clone(), v.clone());
            }
        }
        let bytes = resp.bytes().await.unwrap_or_default();
        (status, back, bytes).into_response()
    }
}

/// An error as DynamoDB answers it (AWS JSON 1.0): `__type` in the body, `x-amzn-ErrorType` header.
fn aws_error(status: StatusCode, code: &str, namespace: &str, message: &str, id: u64) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    headers.insert(
        "x-amzn-errortype",
        HeaderValue::from_str(&format!(
            "{code}:http://internal.amazon.com/coral/{namespace}/"
        ))
        .unwrap(),
    );
    headers.insert(
        "x-amzn-requestid",
        HeaderValue::from_str(&format!("FAULTPROXY{id:026}")).unwrap(),
    );
    let body = json!({"__type": format!("{namespace}#{code}"), "message": message});
    (status, headers, body.to_string()).into_response()
}

/// One visitor's lead as the visitor knows it.
struct SimLead {
    email: String,
    id: Option<String>,
    stage: usize,
    last_body: Value,
}

#[derive(Default)]
struct Outcome {
    /// Postbacks sent (first sends), answered 2xx in the end, and given up on.
    postbacks: usize,
    acknowledged: usize,
    given_up: usize,
    /// Answers that were 503 (each resend counted), and every answer that was wrong (not 2xx, not a clean 503).
    refused_503: usize,
    wrong: Vec<String>,
    /// Acknowledged leads: email → the stage the visitor last got acknowledged, and the stage changes it made.
    leads: BTreeMap<String, (usize, usize)>,
}

/// One visitor: the load generator's mix on its own leads (30 % new, 35 % progress by `lead_id` or email,
/// 25 % repeats, 10 % backward attempts), each refused postback sent again after its `Retry-After`.
async fn visitor(base: String, v: usize, client: reqwest::Client) -> Outcome {
    let mut rng = mix(mix(seed()) ^ v as u64);
    let mut next = move || {
        rng = mix(rng);
        rng
    };
    let mut leads: Vec<SimLead> = Vec::new();
    let mut out = Outcome::default();
    for i in 0..POSTBACKS_PER_VISITOR {
        let roll = next() % 100;
        let pick = (next() as usize) % leads.len().max(1);
        let (body, lead, moves) = if leads.is_empty() || roll < 30 {
            let email = format!("v{v}-{i}@faults.example");
            let body = json!({
                "email": email, "stage": "Form Started", "first_name": "Jane", "last_name": "Doe",
                "source": SOURCES[(v + i) % SOURCES.len()], "campaign": format!("spring-{}", i % 3),
                "utm_source": "google", "utm_medium": "cpc", "device_type": if i % 2 == 0 { "mobile" } else { "desktop" },
                "form_completion_percent": 10, "form_fields_total": 12, "form_fields_completed": 1,
                "custom_data": {"plan": "starter", "visitor": v},
            });
            leads.push(SimLead {
                email,
                id: None,
                stage: 1,
                last_body: body.clone(),
            });
            (body, leads.len() - 1, 0)
        } else if roll < 65 && leads[pick].stage + 1 < STAGES.len() {
            let lead = &mut leads[pick];
            lead.stage += 1;
            let percent = (lead.stage * 25).min(100);
            let mut body = json!({"stage": STAGES[lead.stage], "form_completion_percent": percent,
                "form_fields_completed": percent * 12 / 100, "form_fields_total": 12});
            match (&lead.id, next() % 2 == 0) {
                (Some(id), true) => body["lead_id"] = id.clone().into(),
                _ => body["email"] = lead.email.clone().into(),
            }
            lead.last_body = body.clone();
            (body, pick, 1)
        } else if roll < 90 || leads[pick].stage < 2 {
            (leads[pick].last_body.clone(), pick, 0)
        } else {
            let lead = &leads[pick];
            let stage = STAGES[1 + (next() as usize) % (lead.stage - 1)];
            (json!({"email": lead.email, "stage": stage}), pick, 0)
        };
        // Half the server's postbacks carry an event id (a repeat sends the same one again: a replay).
        let mut body = body;
        if body.get("event_id").is_none() && next() % 2 == 0 {
            body["event_id"] = format!("v{v}-{i}").into();
            if moves == 1 || leads[lead].last_body.get("email") == body.get("email") {
                leads[lead].last_body = body.clone();
            }
        }
        out.postbacks += 1;
        let mut acked = false;
        for _ in 0..=RESENDS {
            let resp = match client
                .post(format!("{base}/api/postback"))
                .json(&body)
                .timeout(Duration::from_secs(30))
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    out.wrong.push(format!("visitor {v}: transport error {e}"));
                    break;
                }
            };
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|h| h.to_str().ok())
                .and_then(|s| s.parse::<u64>().ok());
            let text = resp.text().await.unwrap_or_default();
            if status.is_success() {
                let answer: Value = serde_json::from_str(&text).unwrap_or_default();
                if let Some(id) = answer["lead_id"].as_str() {
                    leads[lead].id = Some(id.to_string());
                }
                acked = true;
                break;
            }
            let clean = status == StatusCode::SERVICE_UNAVAILABLE
                && retry_after.is_some()
                && serde_json::from_str::<Value>(&text)
                    .is_ok_and(|b| b["error"]["code"] == "unavailable")
                && ![
                    "127.0.0.1",
                    "dispatch",
                    "Exception",
                    "service error",
                    "amazon",
                    "Throughput",
                ]
                .iter()
                .any(|s| text.contains(s));
            if !clean {
                out.wrong.push(format!(
                    "visitor {v}: {status} (Retry-After {retry_after:?}): {text}"
                ));
                break;
            }
            out.refused_503 += 1;
            // The client's side of Retry-After (load behaviour, not an assertion).
            tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1))).await;
        }
        if acked {
            out.acknowledged += 1;
            let entry = out.leads.entry(leads[lead].email.clone()).or_insert((0, 0));
            entry.0 = entry.0.max(leads[lead].stage);
            entry.1 += moves;
        } else {
            out.given_up += 1;
            // The visitor's view of the lead is unknown now: later postbacks on it could not be checked exactly.
            leads[lead].stage = STAGES.len();
        }
    }
    out
}

async fn all_leads(app: &Leadpipe) -> Vec<Lead> {
    let mut out = Vec::new();
    let mut q = ListQuery {
        limit: 200,
        ..Default::default()
    };
    loop {
        let page = app.store.list(&q).await.expect("list");
        out.extend(page.leads);
        match page.next_after {
            Some(after) => q.after = Some(after),
            None => return out,
        }
    }
}

/// Whether the stored counters equal a recount of `leads` (and the difference when not).
async fn counters_match_recount(app: &Leadpipe, leads: &[Lead]) -> Result<(), String> {
    let mut leads = leads.to_vec();
    leads.sort_by_key(Lead::created_key);
    let recount = app
        .settings
        .counter_rules()
        .recount(&leads, &mut Registry::default());
    let mut query = CounterQuery {
        buckets: recount.0.keys().cloned().collect(),
        ..Default::default()
    };
    query.scopes = recount
        .0
        .keys()
        .filter_map(|b| split_bucket(b).map(|(scope, _)| scope.to_string()))
        .collect();
    let stored = app
        .store
        .counters(&query)
        .await
        .map_err(|e| e.to_string())?
        .without_watermark();
    if stored == recount {
        Ok(())
    } else {
        Err(format!("stored {stored:?}\nrecount {recount:?}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_and_failing_dynamodb_loses_no_acknowledged_postback() {
    let endpoint = std::env::var("LEADPIPE_TEST_DYNAMODB")
        .expect("LEADPIPE_TEST_DYNAMODB is not set: run scripts/test.sh");
    let started = Instant::now();
    let proxy = FaultProxy::start(&endpoint).await;
    let table = format!("leadpipe-faults-{}", uuid::Uuid::new_v4().simple());
    let server = Server::start(
        &["--dynamodb"],
        &[("TABLE_NAME", &table), ("AWS_ENDPOINT_URL", &proxy.url())],
    );
    proxy.set_faults(true);

    let client = reqwest::Client::new();
    let visitors: Vec<_> = (0..VISITORS)
        .map(|v| tokio::spawn(visitor(server.base.clone(), v, client.clone())))
        .collect();
    let mut run = Outcome::default();
    for v in visitors {
        let o = tokio::time::timeout(RUN_DEADLINE, v)
            .await
            .expect("the postback mix finished in time")
            .expect("visitor");
        run.postbacks += o.postbacks;
        run.acknowledged += o.acknowledged;
        run.given_up += o.given_up;
        run.refused_503 += o.refused_503;
        run.wrong.extend(o.wrong);
        run.leads.extend(o.leads);
    }
    let mix_done = started.elapsed();

    // Read DynamoDB Local directly (not through the proxy) while the server's consumer catches up through it.
    let sdk = leadpipe_dynamo::client::config_for_local_use().await;
    let direct = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(&endpoint)
        .build();
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(direct),
        &table,
        Settings::default().counter_rules(),
    );
    let app = Leadpipe::new(Arc::new(store), Settings::default());
    let deadline = Instant::now() + SETTLE_DEADLINE;
    let (stored, history_wrong) = loop {
        let stored = all_leads(&app).await;
        let mut history_wrong = Vec::new();
        let counted = counters_match_recount(&app, &stored).await;
        if counted.is_ok() {
            for lead in &stored {
                let email = lead.email.as_ref().map(|e| e.as_str().to_string());
                let Some((_, moves)) = email.as_ref().and_then(|e| run.leads.get(e)) else {
                    continue;
                };
                let (_, history) = app.lead_with_history(lead.id).await.expect("history");
                if history.len() != 1 + moves {
                    history_wrong.push(format!(
                        "{email:?}: {} history entries, expected {}",
                        history.len(),
                        1 + moves
                    ));
                }
            }
        }
        match counted {
            Ok(()) if history_wrong.is_empty() => break (stored, history_wrong),
            Ok(()) if Instant::now() > deadline => break (stored, history_wrong),
            Err(diff) if Instant::now() > deadline => {
                panic!(
                    "the counters never equalled a recount:\n{diff}\n{}",
                    server.logs_report()
                )
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let settled = started.elapsed();
    proxy.set_faults(false);

    let by_email: HashMap<String, &Lead> = stored
        .iter()
        .filter_map(|l| l.email.as_ref().map(|e| (e.as_str().to_string(), l)))
        .collect();
    let mut lost = Vec::new();
    for (email, (stage, _)) in &run.leads {
        match by_email.get(email) {
            // A lead whose last postback was given up on may be at either stage (the run fails on that anyway).
            Some(lead) if STAGES.get(*stage).is_none_or(|s| lead.stage.as_str() == *s) => {}
            Some(lead) => lost.push(format!(
                "{email}: at {}, acknowledged {}",
                lead.stage, STAGES[*stage]
            )),
            None => lost.push(format!("{email}: missing")),
        }
    }
    let analytics = app
        .analytics(None, chrono::Utc::now())
        .await
        .expect("analytics");
    let stderr = server.stderr();
    let consumer_retries = stderr.matches("stream consumer: will retry").count();
    let figures = proxy.figures();
    let total = figures.values().fold(OpFigures::default(), |mut t, f| {
        t.requests += f.requests;
        t.throttled += f.throttled;
        t.server_errors += f.server_errors;
        t.delayed += f.delayed;
        t
    });

    println!("fault run (seed {}): {VISITORS} visitors x {POSTBACKS_PER_VISITOR} postbacks of the mix through leadpipe serve --dynamodb", seed());
    println!(
        "proxy: {} DynamoDB requests, {} throttled (400), {} HTTP 500, {} delayed 2 s",
        total.requests, total.throttled, total.server_errors, total.delayed
    );
    for (op, f) in &figures {
        println!(
            "  {op:<20} {:>5} requests {:>4} throttled {:>3} 500 {:>3} delayed",
            f.requests, f.throttled, f.server_errors, f.delayed
        );
    }
    println!(
        "postbacks: {} sent, {} acknowledged (2xx), {} answers 503 + Retry-After (then sent again), {} given up, {} wrong answers",
        run.postbacks, run.acknowledged, run.refused_503, run.given_up, run.wrong.len()
    );
    println!(
        "acknowledged leads: {}, stored leads: {}, lost: {}",
        run.leads.len(),
        stored.len(),
        lost.len()
    );
    println!(
        "analytics: total_leads {}, changes {}; counters equal a recount: yes; stream consumer batches retried: {consumer_retries}; history mismatches: {}",
        analytics.total_leads,
        analytics.changes,
        history_wrong.len()
    );
    println!("time: mix {mix_done:.1?}, settled {settled:.1?}");

    assert!(
        run.wrong.is_empty(),
        "answers other than 2xx or a clean 503: {:#?}",
        run.wrong
    );
    assert!(lost.is_empty(), "acknowledged postbacks lost: {lost:#?}");
    assert!(
        history_wrong.is_empty(),
        "stage changes missing or counted twice: {history_wrong:#?}"
    );
    assert!(
        total.throttled > 0 && total.server_errors > 0 && total.delayed > 0,
        "every fault kind was injected"
    );
    assert_eq!(
        run.given_up, 0,
        "every refused postback went through on a resend"
    );
    assert_eq!(
        stored.len(),
        run.leads.len(),
        "one lead per acknowledged email, no duplicate"
    );
    assert!(
        consumer_retries > 0,
        "the stream consumer met a failure it had to retry:\n{}",
        server.logs_report()
    );
    for sign in ["request failed", "panicked"] {
        assert!(
            !stderr.contains(sign),
            "no internal error or panic under faults ({sign}):\n{}",
            server.logs_report()
        );
    }
    server.terminate();
}
