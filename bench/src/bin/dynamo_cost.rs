//! DynamoDB cost per operation (table design v2), measured against DynamoDB Local through the real store, the
//! application core and the stream consumer: round trips per operation (counted by the recording interceptor on the
//! client handed to the store, `bench/src/ddb.rs`), the capacity DynamoDB Local reports, and the units DynamoDB would
//! bill by its rules from the real item sizes, indexes included. After each operation the local stream consumer
//! (`LocalStreamConsumer`, the `counters` Lambda's code) is run to completion and its requests and units are shown
//! as that operation's consumer share: the per-write part (stage-change items, a deleted lead's leftovers) and the
//! counter transaction of a batch holding this one write alone (in production a batch holds thousands of writes and
//! shares its counter updates among them: `heat` models that).
//!
//! ```text
//! dynamo_cost [--repeats 10] [--lambda-ms MS | --cold-start-json PATH] [--json PATH] [--smoke]
//! ```
//! DynamoDB Local: `LEADPIPE_TEST_DYNAMODB`, else started with `scripts/dynamodb-local.sh`.

use std::sync::Arc;
use std::time::Instant;

use leadpipe_bench::ddb::{
    client, streams_client, table_name, Ctx, DynamoLocal, Event, Meter, Usage, CTX,
};
use leadpipe_bench::{arg_flag, arg_parse, arg_value, median, postback_body, STAGES};
use leadpipe_core::domain::Postback;
use leadpipe_core::store::{LeadStore, ListQuery};
use leadpipe_core::{Leadpipe, Settings};
use serde_json::json;
use uuid::Uuid;

/// The list prices ([`leadpipe_bench::heat::price`], as docs/DYNAMODB.md states them) and the cost model's memory.
mod price {
    pub use leadpipe_bench::heat::price::*;
    /// Memory of the postback function in the cost model (docs/DYNAMODB.md; infra/template.yaml's Globals say 256).
    pub const LAMBDA_MEMORY_MB: f64 = 128.0;
}

/// A list page's cost in table design v1, from docs/PERFORMANCE.md section 2 (`dynamo_cost`, after the listing
/// total read only the stage counters): one `by_created` Query and one stage-counter Query, 7 read units.
const V1_LIST_PAGE: (u64, f64) = (2, 7.0);

/// The stated postback mix (same as the load generator): new, progress, repeat, backward.
const MIX: [(&str, f64); 4] = [
    ("new lead", 0.30),
    ("progress update", 0.35),
    ("repeat (no change)", 0.25),
    ("backward attempt", 0.10),
];

fn postback(v: serde_json::Value, app: &Leadpipe) -> Postback {
    Postback::parse(v.to_string().as_bytes(), &app.settings.pipeline, None)
        .expect("valid postback")
        .postback
}

/// The stream consumer's share of one operation.
#[derive(Debug, Clone, Copy, Default)]
struct Share {
    requests: u64,
    /// Write units of items that follow from this one write (stage changes, a deleted lead's leftovers).
    per_write_wru: f64,
    /// Write units of the counter transaction (with the checkpoint) of a batch holding only this write.
    counters_wru: f64,
    rru: f64,
}

#[derive(Default)]
struct Samples {
    usages: Vec<Usage>,
    shares: Vec<Share>,
    millis: Vec<f64>,
}

impl Samples {
    fn push(&mut self, u: Usage, started: Instant) {
        self.usages.push(u);
        self.millis.push(started.elapsed().as_secs_f64() * 1000.0);
    }

    fn requests(&self) -> f64 {
        median(
            &self
                .usages
                .iter()
                .map(|u| u.total_requests() as f64)
                .collect::<Vec<_>>(),
        )
    }
    fn max_requests(&self) -> u64 {
        self.usages
            .iter()
            .map(Usage::total_requests)
            .max()
            .unwrap_or(0)
    }
    fn rcu(&self) -> f64 {
        median(&self.usages.iter().map(|u| u.rcu).collect::<Vec<_>>())
    }
    fn wcu(&self) -> f64 {
        median(&self.usages.iter().map(|u| u.wcu).collect::<Vec<_>>())
    }
    fn model_rru(&self) -> f64 {
        median(&self.usages.iter().map(|u| u.model_rru).collect::<Vec<_>>())
    }
    fn model_wru(&self) -> f64 {
        median(&self.usages.iter().map(|u| u.model_wru).collect::<Vec<_>>())
    }
    fn share(&self, f: impl Fn(&Share) -> f64) -> f64 {
        median(&self.shares.iter().map(f).collect::<Vec<_>>())
    }
    /// The breakdown seen most often.
    fn typical(&self) -> String {
        let mut seen: Vec<(String, usize)> = Vec::new();
        for u in &self.usages {
            let d = u.describe();
            match seen.iter_mut().find(|(s, _)| *s == d) {
                Some((_, n)) => *n += 1,
                None => seen.push((d, 1)),
            }
        }
        seen.into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(d, _)| d)
            .unwrap_or_default()
    }
}

fn share_of(usage: &Usage, events: &[Event]) -> Share {
    let counters =
        |e: &Event| e.pk.starts_with("C#") || e.pk.starts_with("K#") || e.pk.starts_with("R#");
    // (`+ 0.0`: an empty f64 sum is -0.0.)
    Share {
        requests: usage.total_requests(),
        per_write_wru: events
            .iter()
            .filter(|e| !counters(e))
            .map(|e| e.wru)
            .sum::<f64>()
            + 0.0,
        counters_wru: events
            .iter()
            .filter(|e| counters(e))
            .map(|e| e.wru)
            .sum::<f64>()
            + 0.0,
        rru: events.iter().map(|e| e.rru).sum::<f64>() + 0.0,
    }
}

/// Runs `$body` with the meter reset before and read after, into `samples[$i]`; then runs the stream consumer
/// to completion and records its share.
macro_rules! measure {
    ($meter:expr, $store:expr, $samples:expr, $i:expr, $body:expr) => {{
        $meter.take();
        $meter.take_events();
        let t = Instant::now();
        let v = CTX.scope(Ctx::write(OPS[$i], 0, 0), async { $body }).await;
        $samples[$i].push($meter.take(), t);
        $meter.take_events();
        CTX.scope(Ctx::consumer(OPS[$i], 0, 0), $store.settle())
            .await
            .expect("the stream consumer catches up");
        let usage = $meter.take();
        let (events, _) = $meter.take_events();
        $samples[$i].shares.push(share_of(&usage, &events));
        v
    }};
}

const OPS: [&str; 12] = [
    "new lead",
    "progress update (by lead_id)",
    "progress update (by email)",
    "repeat (no change, by lead_id)",
    "repeat (no change, by email)",
    "backward attempt",
    "manual move",
    "get lead (with history)",
    "list page (50, no filter)",
    "list page (50, stage filter)",
    "analytics",
    "delete (3 history entries)",
];

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = arg_flag(&args, "--smoke");
    let repeats: usize = arg_parse(&args, "--repeats", if smoke { 3 } else { 10 });
    let lambda_ms: f64 = match (
        arg_value(&args, "--lambda-ms"),
        arg_value(&args, "--cold-start-json"),
    ) {
        (Some(ms), _) => ms.parse().expect("--lambda-ms"),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v["postback_warm_invoke_ms_p50"].as_f64())
            .unwrap_or(12.0),
        (None, None) => 12.0,
    };
    let ddb = DynamoLocal::obtain();
    let meter = Arc::new(Meter::default());
    let settings = Settings::default();
    let (store, _poller) = leadpipe::dynamo_with_local_consumer(
        client(&ddb.endpoint, Some(meter.clone())),
        streams_client(&ddb.endpoint),
        &table_name("cost"),
        settings.counter_rules(),
    );
    store
        .ensure_table()
        .await
        .expect("create the benchmark table in DynamoDB Local");
    meter.record_events(true);
    let app = Leadpipe::new(Arc::new(store.clone()), settings);
    let ops = OPS;
    let mut samples: Vec<Samples> = ops.iter().map(|_| Samples::default()).collect();
    // Some leads so listings have pages to fill.
    for i in 0..60 {
        let pb = postback(
            postback_body(&format!("filler{i}@bench.example"), STAGES[1], 10, &[]),
            &app,
        );
        app.ingest_postback(&pb).await.expect("filler");
    }
    store
        .settle()
        .await
        .expect("the stream consumer catches up");
    for r in 0..repeats {
        let email = format!("cost{r}-{}@bench.example", Uuid::new_v4().simple());
        let first = postback(postback_body(&email, STAGES[1], 10, &[]), &app);
        let id = measure!(
            meter,
            store,
            samples,
            0,
            app.ingest_postback(&first).await.expect("new").lead_id
        );
        let by_id = postback(
            json!({"lead_id": id.to_string(), "stage": STAGES[2], "form_completion_percent": 60, "form_fields_completed": 7}),
            &app,
        );
        measure!(
            meter,
            store,
            samples,
            1,
            assert!(
                app.ingest_postback(&by_id)
                    .await
                    .expect("progress")
                    .stage_changed
            )
        );
        let by_email = postback(
            json!({"email": email, "stage": STAGES[3], "form_completion_percent": 100, "form_fields_completed": 12}),
            &app,
        );
        measure!(
            meter,
            store,
            samples,
            2,
            assert!(
                app.ingest_postback(&by_email)
                    .await
                    .expect("progress")
                    .stage_changed
            )
        );
        measure!(
            meter,
            store,
            samples,
            3,
            assert!(
                !app.ingest_postback(&by_email_as_id(&by_email, id))
                    .await
                    .expect("repeat")
                    .stage_changed
            )
        );
        measure!(
            meter,
            store,
            samples,
            4,
            assert!(
                !app.ingest_postback(&by_email)
                    .await
                    .expect("repeat")
                    .stage_changed
            )
        );
        let backward = postback(json!({"lead_id": id.to_string(), "stage": STAGES[1]}), &app);
        measure!(
            meter,
            store,
            samples,
            5,
            assert!(
                !app.ingest_postback(&backward)
                    .await
                    .expect("backward")
                    .stage_changed
            )
        );
        measure!(
            meter,
            store,
            samples,
            6,
            assert!(
                app.move_stage(id, &app.settings.pipeline.stage(STAGES[4]).expect("stage"))
                    .await
                    .expect("move")
                    .1
            )
        );
        measure!(
            meter,
            store,
            samples,
            7,
            app.lead_with_history(id).await.expect("get")
        );
        let q = ListQuery {
            limit: 50,
            ..Default::default()
        };
        measure!(
            meter,
            store,
            samples,
            8,
            app.list_leads(&q).await.expect("list")
        );
        let qs = ListQuery {
            limit: 50,
            stage: Some(app.settings.pipeline.stage(STAGES[1]).expect("stage")),
            ..Default::default()
        };
        measure!(
            meter,
            store,
            samples,
            9,
            app.list_leads(&qs).await.expect("list")
        );
        measure!(
            meter,
            store,
            samples,
            10,
            app.analytics(None, chrono::Utc::now())
                .await
                .expect("analytics")
        );
        // A lead with exactly 3 history entries (created, progress, submitted) to delete.
        let e2 = format!("del{r}-{}@bench.example", Uuid::new_v4().simple());
        let d = app
            .ingest_postback(&postback(postback_body(&e2, STAGES[1], 10, &[]), &app))
            .await
            .expect("new")
            .lead_id;
        app.ingest_postback(&postback(
            json!({"lead_id": d.to_string(), "stage": STAGES[2]}),
            &app,
        ))
        .await
        .expect("move");
        app.ingest_postback(&postback(
            json!({"lead_id": d.to_string(), "stage": STAGES[3]}),
            &app,
        ))
        .await
        .expect("move");
        store
            .settle()
            .await
            .expect("the stream consumer catches up");
        measure!(
            meter,
            store,
            samples,
            11,
            app.delete_lead(d).await.expect("delete")
        );
    }

    println!("# DynamoDB cost per operation, table design v2 (DynamoDB Local {}, {repeats} repeats, medians)", ddb.endpoint);
    println!("# RCU/WCU: as DynamoDB Local reports them (ReturnConsumedCapacity=TOTAL); RRU/WRU: by DynamoDB's rules from the real item sizes, indexes included");
    println!("# consumer: the stream consumer run after the operation: requests, WRU of items that follow from the write, WRU of a counter transaction for a batch of this write alone");
    println!(
        "{:<32} {:>8} {:>4} {:>6} {:>6} {:>6} {:>6} {:>9} | {:>8} {:>8} {:>9}  round trips",
        "operation",
        "requests",
        "max",
        "RCU",
        "WCU",
        "RRU",
        "WRU",
        "local ms",
        "consumer",
        "per-write",
        "counters"
    );
    let mut rows = Vec::new();
    for (op, s) in ops.iter().zip(&samples) {
        let (creq, cper, ccnt, crru) = (
            s.share(|x| x.requests as f64),
            s.share(|x| x.per_write_wru),
            s.share(|x| x.counters_wru),
            s.share(|x| x.rru),
        );
        println!(
            "{op:<32} {:>8} {:>4} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>9.2} | {:>8} {:>8.2} {:>9.2}  {}",
            s.requests(),
            s.max_requests(),
            s.rcu(),
            s.wcu(),
            s.model_rru(),
            s.model_wru(),
            median(&s.millis),
            creq,
            cper,
            ccnt,
            s.typical()
        );
        rows.push(json!({"operation": op, "requests_median": s.requests(), "requests_max": s.max_requests(), "rcu_reported": s.rcu(),
                         "wcu_reported": s.wcu(), "rru_model": s.model_rru(), "wru_model": s.model_wru(),
                         "local_ms_median": (median(&s.millis) * 100.0).round() / 100.0, "typical": s.typical(),
                         "consumer": {"requests": creq, "per_write_wru": cper, "counters_wru_single_write_batch": ccnt, "rru": crru}}));
    }

    // A list page before (v1) and after (v2).
    let list = &samples[8];
    println!(
        "\nlist page (50 leads, newest first, with its total): v1 {} round trips / {} read units (docs/PERFORMANCE.md) -> v2 {} round trips ({}) / {:.2} read units (rules; {:.2} as Local reports)",
        V1_LIST_PAGE.0,
        V1_LIST_PAGE.1,
        list.requests(),
        list.typical(),
        list.model_rru(),
        list.rcu()
    );

    // Cost per million postbacks for the mix: write path + the consumer's per-write share. Progress = mean of
    // by-id and by-email; repeat likewise. Counter transactions are shared by a whole batch: see `heat`.
    let per = |i: usize| {
        [
            samples[i].requests(),
            samples[i].rcu(),
            samples[i].wcu(),
            samples[i].model_rru(),
            samples[i].model_wru(),
            samples[i].share(|x| x.per_write_wru),
            samples[i].share(|x| x.rru),
        ]
    };
    let avg = |a: [f64; 7], b: [f64; 7]| [0, 1, 2, 3, 4, 5, 6].map(|k| (a[k] + b[k]) / 2.0);
    let mix_ops = [per(0), avg(per(1), per(2)), avg(per(3), per(4)), per(5)];
    let mut m = [0.0; 7];
    for ((_, w), v) in MIX.iter().zip(mix_ops) {
        for k in 0..7 {
            m[k] += w * v[k];
        }
    }
    let [req, rcu, wcu, rru, wru, consumer_wru, consumer_rru] = m;
    let billed_ms = lambda_ms.ceil().max(1.0);
    let gb_s = price::LAMBDA_MEMORY_MB / 1024.0 * billed_ms / 1000.0;
    let apigw = price::APIGW_PER_M;
    let lambda = price::LAMBDA_REQ_PER_M + gb_s * 1e6 * price::LAMBDA_GB_S;
    let dynamo_reported = wcu * price::WRU_PER_M + rcu * price::RRU_PER_M;
    let dynamo_model =
        (wru + consumer_wru) * price::WRU_PER_M + (rru + consumer_rru) * price::RRU_PER_M;
    let total = apigw + lambda + dynamo_model;
    println!(
        "\n# mix: {}",
        MIX.iter()
            .map(|(n, w)| format!("{:.0} % {n}", w * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "per postback: {req:.2} DynamoDB requests; DynamoDB Local reports {rcu:.2} RCU + {wcu:.2} WCU; by the rules {rru:.2} RRU + {wru:.2} WRU on the write path, + {consumer_wru:.2} WRU for the consumer's per-write items"
    );
    println!(
        "Lambda: {lambda_ms:.2} ms ({}) -> {billed_ms} ms billed at {} MB arm64",
        if arg_value(&args, "--lambda-ms").is_some()
            || arg_value(&args, "--cold-start-json").is_some()
        {
            "given"
        } else {
            "default"
        },
        price::LAMBDA_MEMORY_MB
    );
    println!(
        "per million postbacks: API Gateway ${apigw:.2} + Lambda ${lambda:.2} + DynamoDB ${dynamo_model:.2} (by the rules; ${dynamo_reported:.2} from Local's write-path figures) = ${total:.2}, before the counter transactions (shared by a batch; `heat` prices them)"
    );
    let max_pb = [0, 1, 2, 3, 4, 5]
        .iter()
        .map(|&i| samples[i].max_requests())
        .max()
        .unwrap_or(0);
    let repeat_wcu = samples[3]
        .wcu()
        .max(samples[4].wcu())
        .max(samples[3].model_wru())
        .max(samples[4].model_wru());
    let repeat_writes: u64 = samples[3..=5]
        .iter()
        .flat_map(|s| &s.usages)
        .map(|u| {
            u.requests
                .iter()
                .filter(|(op, _)| {
                    op.contains("Write")
                        || op.contains("Put")
                        || op.contains("Update")
                        || op.contains("Delete")
                })
                .map(|(_, n)| n)
                .sum::<u64>()
        })
        .sum();
    println!(
        "targets: a postback takes at most 2 round trips -> max seen {max_pb}; a repeat (or refused backward move) writes nothing -> {repeat_writes} write requests, {repeat_wcu} write units"
    );

    let out = json!({
        "benchmark": "dynamo_cost", "design": 2, "machine": leadpipe_bench::machine_description(), "repeats": repeats, "smoke": smoke,
        "operations": rows,
        "list_page": {"v1": {"requests": V1_LIST_PAGE.0, "read_units": V1_LIST_PAGE.1, "source": "docs/PERFORMANCE.md"},
                      "v2": {"requests": list.requests(), "typical": list.typical(), "rru_model": list.model_rru(), "rcu_reported": list.rcu()}},
        "mix": MIX.iter().map(|(n, w)| json!({"operation": n, "share": w})).collect::<Vec<_>>(),
        "per_postback": {"requests": req, "rcu_reported": rcu, "wcu_reported": wcu, "rru_model": rru, "wru_model": wru,
                         "consumer_per_write_wru": consumer_wru, "consumer_rru": consumer_rru},
        "lambda_ms_measured": lambda_ms, "lambda_ms_billed": billed_ms, "lambda_memory_mb": price::LAMBDA_MEMORY_MB,
        "cost_per_million_postbacks_usd": {"api_gateway": apigw, "lambda": (lambda * 1000.0).round() / 1000.0,
                                            "dynamodb": (dynamo_model * 1000.0).round() / 1000.0,
                                            "dynamodb_from_local_figures": (dynamo_reported * 1000.0).round() / 1000.0,
                                            "total_before_counters": (total * 1000.0).round() / 1000.0},
        "prices": {"apigw_http_per_million": price::APIGW_PER_M, "lambda_requests_per_million": price::LAMBDA_REQ_PER_M,
                   "lambda_arm64_per_gb_s": price::LAMBDA_GB_S, "dynamodb_wru_per_million": price::WRU_PER_M,
                   "dynamodb_rru_per_million": price::RRU_PER_M},
        "targets": {"max_round_trips_per_postback": max_pb, "repeat_write_requests": repeat_writes, "repeat_wcu": repeat_wcu},
    });
    leadpipe_bench::write_json(arg_value(&args, "--json").as_deref(), &out);
}

/// The same postback addressed by `lead_id` instead of email.
fn by_email_as_id(pb: &Postback, id: Uuid) -> Postback {
    Postback {
        lead_id: Some(id),
        email: None,
        ..pb.clone()
    }
}
