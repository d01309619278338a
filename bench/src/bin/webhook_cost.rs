//! What webhooks add per million postbacks in AWS, measured against DynamoDB Local through the code the Lambdas
//! run: the stream consumer's fan-out (`counters::fan_out`) over real stream records of the postback mix, and the
//! `webhooks` Lambda's message handler (`webhooks::handle_message`) delivering to a local receiver. DynamoDB
//! round trips and units come from the metered client (`bench/src/ddb.rs`: units by DynamoDB's rules from the real
//! item sizes, indexes included); SQS requests are counted from the messages the queue is asked to send.
//!
//! Three cases, each per million postbacks of the mix (30 % new, 35 % progress, 25 % repeat, 10 % refused
//! backward), with every batch fanned out as the consumer does:
//! - **webhooks off** (none configured): what fan-out costs per batch;
//! - **one webhook on `lead.stage_changed`**, receiver answering 200 at once;
//! - the same with the receiver failing each first attempt (503), so every delivery is retried once.
//!
//! ```text
//! webhook_cost [--leads 40] [--smoke] [--json PATH] [--invoke-ms 150]
//! ```
//! `--invoke-ms`: the webhooks Lambda's billed duration per invocation assumed for the dollar figure (a receiver's
//! answer time dominates it; a local receiver's is not a fair stand-in). DynamoDB Local: `LEADPIPE_TEST_DYNAMODB`,
//! else started with `scripts/dynamodb-local.sh`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::StatusCode;
use chrono::Utc;
use leadpipe_bench::ddb::{client, streams_client, table_name, DynamoLocal, Meter, Usage};
use leadpipe_bench::heat::price as listed;
use leadpipe_bench::{arg_flag, arg_parse, arg_value, postback_body, STAGES};
use leadpipe_core::domain::Postback;
use leadpipe_core::store::StoreError;
use leadpipe_core::{Leadpipe, Settings};
use leadpipe_delivery::{Deliverer, Policies, Reach, Sender, WebhookCache};
use leadpipe_dynamo::{DynamoStore, StreamRecord};
use leadpipe_sqs::QueuedDelivery;
use leadpipe_webhooks::{
    Delivery, DeliveryQueue, Secret, StoredWebhook, Webhook, WebhookSpec, WebhookStore,
};
use serde_json::json;
use uuid::Uuid;

/// Prices beyond the shared list prices of [`leadpipe_bench::heat::price`].
mod price {
    /// SQS standard queue, per million requests (each up to 64 KB) after the free tier.
    pub const SQS_PER_M: f64 = 0.40;
    /// Memory of the webhooks function (infra/template.yaml).
    pub const WEBHOOKS_MEMORY_GB: f64 = 0.125;
}

/// Counts what SQS would be asked to do: messages sent (SendMessageBatch takes 10 at once).
#[derive(Default)]
struct CountingQueue {
    messages: AtomicU64,
    batches: AtomicU64,
    last: std::sync::Mutex<Vec<QueuedDelivery>>,
}

#[async_trait]
impl DeliveryQueue for CountingQueue {
    async fn schedule(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        self.messages
            .fetch_add(deliveries.len() as u64, Ordering::Relaxed);
        self.batches
            .fetch_add(deliveries.len().div_ceil(10) as u64, Ordering::Relaxed);
        self.last
            .lock()
            .map_err(|_| StoreError::Internal("queue lock".into()))?
            .extend(deliveries.iter().map(QueuedDelivery::of));
        Ok(())
    }
}

impl CountingQueue {
    fn take(&self) -> (u64, u64, Vec<QueuedDelivery>) {
        let messages = self.messages.swap(0, Ordering::Relaxed);
        let batches = self.batches.swap(0, Ordering::Relaxed);
        let last = self
            .last
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        (messages, batches, last)
    }
}

/// A receiver answering 503 to the first request of each webhook-id when `fail_first`, else 200.
async fn spawn_receiver(fail_first: bool) -> String {
    let seen = Arc::new(std::sync::Mutex::new(
        std::collections::HashSet::<String>::new(),
    ));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let seen = seen.clone();
            async move {
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let first = seen.lock().map(|mut s| s.insert(id)).unwrap_or(false);
                if fail_first && first {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let addr = listener.local_addr().expect("receiver address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}

fn postback(v: serde_json::Value, app: &Leadpipe) -> Postback {
    Postback::parse(v.to_string().as_bytes(), &app.settings.pipeline, None)
        .expect("valid postback")
        .postback
}

/// Writes `leads` leads' worth of the postback mix; returns how many postbacks were sent.
async fn mix(app: &Leadpipe, leads: usize, tag: &str) -> usize {
    let mut sent = 0;
    for i in 0..leads {
        let email = format!("{tag}{i}-{}@bench.example", Uuid::new_v4().simple());
        // Per lead: 3 new : 3.5 progress : 2.5 repeat : 1 backward, as 10 postbacks over 3 leads ≈ the mix.
        let id = app
            .ingest_postback(&postback(postback_body(&email, STAGES[1], 10, &[]), app))
            .await
            .expect("new")
            .lead_id;
        sent += 1;
        let progress = if i % 2 == 0 { 1 } else { 2 };
        for step in 0..progress {
            let stage = STAGES[2 + step];
            app.ingest_postback(&postback(
                json!({"lead_id": id.to_string(), "stage": stage}),
                app,
            ))
            .await
            .expect("progress");
            sent += 1;
        }
        if i % 6 < 5 {
            app.ingest_postback(&postback(
                json!({"lead_id": id.to_string(), "stage": STAGES[2]}),
                app,
            ))
            .await
            .expect("repeat");
            sent += 1;
        }
        if i % 3 == 0 {
            app.ingest_postback(&postback(
                json!({"lead_id": id.to_string(), "stage": STAGES[1]}),
                app,
            ))
            .await
            .expect("backward");
            sent += 1;
        }
    }
    sent
}

struct Case {
    name: &'static str,
    postbacks: usize,
    deliveries: u64,
    fan_out: Usage,
    attempts: Usage,
    sqs_requests: f64,
    invocations: f64,
}

impl Case {
    fn per_m_postbacks(&self, x: f64) -> f64 {
        x / self.postbacks as f64 * 1e6
    }

    fn dollars(&self, invoke_ms: f64) -> f64 {
        let wru = self.fan_out.model_wru + self.attempts.model_wru;
        let rru = self.fan_out.model_rru + self.attempts.model_rru;
        let ddb = self.per_m_postbacks(wru) * listed::WRU_PER_M / 1e6
            + self.per_m_postbacks(rru) * listed::RRU_PER_M / 1e6;
        let sqs = self.per_m_postbacks(self.sqs_requests) * price::SQS_PER_M / 1e6;
        let lambda = self.per_m_postbacks(self.invocations)
            * (listed::LAMBDA_REQ_PER_M / 1e6
                + price::WEBHOOKS_MEMORY_GB * invoke_ms / 1000.0 * listed::LAMBDA_GB_S);
        ddb + sqs + lambda
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = arg_flag(&args, "--smoke");
    let leads: usize = arg_parse(&args, "--leads", if smoke { 12 } else { 60 });
    let invoke_ms: f64 = arg_parse(&args, "--invoke-ms", 150.0);
    let ddb = DynamoLocal::obtain();
    let settings = Settings::default();
    let mut cases = Vec::new();
    for (name, webhook, fail_first) in [
        ("webhooks off", false, false),
        ("one webhook on stage changes", true, false),
        ("same, every first attempt fails", true, true),
    ] {
        let meter = Arc::new(Meter::default());
        let table = table_name("webhooks");
        let (app_store, poller) = leadpipe::dynamo_with_local_consumer(
            client(&ddb.endpoint, None),
            streams_client(&ddb.endpoint),
            &table,
            settings.counter_rules(),
        );
        app_store
            .ensure_table()
            .await
            .expect("create the benchmark table in DynamoDB Local");
        let metered = DynamoStore::new(
            client(&ddb.endpoint, Some(meter.clone())),
            table.clone(),
            settings.counter_rules(),
        );
        let app = Leadpipe::new(Arc::new(app_store.clone()), settings.clone());
        if webhook {
            let url = spawn_receiver(fail_first).await;
            let spec = WebhookSpec::parse(
                json!({"url": url, "events": ["lead.stage_changed"]})
                    .to_string()
                    .as_bytes(),
                &settings.pipeline,
            )
            .expect("a valid webhook");
            let stored = StoredWebhook {
                webhook: Webhook::new(Uuid::new_v4(), spec, Secret::generate().expect("a secret")),
                health: Default::default(),
                created_at: Utc::now(),
            };
            app_store
                .create_webhook(&stored)
                .await
                .expect("store the webhook");
        }
        let queue = Arc::new(CountingQueue::default());
        let deliverer = Deliverer::new(
            Arc::new(metered),
            queue.clone(),
            Sender::with_timeout(Reach::Local, Duration::from_secs(5)).expect("an HTTP client"),
            Policies::default(),
            WebhookCache::new(Duration::from_secs(30)),
        );
        // Two batches: the first reads the webhook list into the cache (once per 30 s per consumer instance,
        // whatever the traffic), the second is what every later batch costs; only the second is counted.
        let mut seen_records = 0;
        let mut measured = None;
        for batch in 0..2 {
            let sent = mix(&app, leads, &format!("b{batch}")).await;
            let records: Vec<StreamRecord> = poller
                .read_all()
                .await
                .expect("read the stream")
                .into_iter()
                .flat_map(|(_, r)| r)
                .skip(seen_records)
                .collect();
            seen_records += records.len();
            meter.take();
            let queued = counters::fan_out(&deliverer, &records, Utc::now())
                .await
                .expect("fan-out");
            let usage = meter.take();
            let (_, send_batches, messages) = queue.take();
            measured = Some((sent, queued as u64, usage, send_batches as f64, messages));
        }
        let (postbacks, deliveries, fan_out, mut sqs_requests, mut round) =
            measured.expect("the second batch ran");
        // Attempts: each queued message as SQS would hand it to the webhooks Lambda (one message per invocation:
        // the worst case, at low traffic), then each retry at its time.
        let mut attempts = Usage::default();
        let mut invocations = 0.0;
        while !round.is_empty() {
            let mut next = Vec::new();
            for message in round {
                let body = serde_json::to_string(&message).expect("a message");
                let at = message.due.unwrap_or_else(Utc::now).max(Utc::now());
                meter.take();
                webhooks::handle_message(&deliverer, &body, at)
                    .await
                    .expect("handled");
                add(&mut attempts, &meter.take());
                invocations += 1.0;
                // ReceiveMessage and DeleteMessage for this message.
                sqs_requests += 2.0;
                let (_, send_batches, retried) = queue.take();
                sqs_requests += send_batches as f64;
                next.extend(retried);
            }
            round = next;
        }
        cases.push(Case {
            name,
            postbacks,
            deliveries,
            fan_out,
            attempts,
            sqs_requests,
            invocations,
        });
    }
    report(&cases, invoke_ms, arg_value(&args, "--json"));
}

fn add(total: &mut Usage, more: &Usage) {
    for (op, n) in &more.requests {
        *total.requests.entry(op.clone()).or_default() += n;
    }
    total.rcu += more.rcu;
    total.wcu += more.wcu;
    total.model_rru += more.model_rru;
    total.model_wru += more.model_wru;
}

fn report(cases: &[Case], invoke_ms: f64, json_path: Option<String>) {
    println!("# webhook cost per million postbacks of the mix (DynamoDB Local, units by DynamoDB's rules from real item sizes)");
    println!("# prices: DynamoDB $0.625/M WRU, $0.125/M RRU; SQS $0.40/M requests; Lambda $0.20/M + 128 MB x {invoke_ms} ms x $0.0000133334/GB-s");
    println!(
        "{:<34} {:>9} {:>11} {:>13} {:>13} {:>13} {:>13} {:>12} {:>12} {:>10}",
        "case",
        "postbacks",
        "deliveries",
        "fan-out req",
        "fan-out WRU",
        "attempt WRU",
        "attempt RRU",
        "SQS req",
        "invocations",
        "$/M pb"
    );
    let mut out = Vec::new();
    for c in cases {
        let per = |x: f64| c.per_m_postbacks(x) / 1e6;
        println!(
            "{:<34} {:>9} {:>11} {:>13.3} {:>13.3} {:>13.3} {:>13.3} {:>12.3} {:>12.3} {:>10.3}",
            c.name,
            c.postbacks,
            c.deliveries,
            per(c.fan_out.total_requests() as f64),
            per(c.fan_out.model_wru),
            per(c.attempts.model_wru),
            per(c.attempts.model_rru + c.fan_out.model_rru),
            per(c.sqs_requests),
            per(c.invocations),
            c.dollars(invoke_ms)
        );
        out.push(json!({
            "case": c.name, "postbacks": c.postbacks, "deliveries": c.deliveries, "fan_out": c.fan_out.json(),
            "attempts": c.attempts.json(), "sqs_requests": c.sqs_requests, "invocations": c.invocations,
            "dollars_per_million_postbacks": c.dollars(invoke_ms)
        }));
    }
    println!("(per postback columns; the first batch's read of the webhook list into the 30 s cache is left out: it is per consumer instance, not per postback)");
    if let Some(path) = json_path {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&out).unwrap_or_default(),
        )
        .expect("write the JSON");
    }
}
