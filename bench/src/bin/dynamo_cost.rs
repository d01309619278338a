//! DynamoDB cost per operation, measured against DynamoDB Local through the real store and application core:
//! round trips per operation (counted by an SDK interceptor on the client handed to `DynamoStore::new`) and the
//! read/write capacity DynamoDB reports (`ReturnConsumedCapacity=TOTAL`, added to each request by the same
//! interceptor). Then the dollar cost per million postbacks for a stated mix at public on-demand prices.
//!
//! ```text
//! dynamo_cost [--repeats 10] [--lambda-ms MS | --cold-start-json PATH] [--json PATH] [--smoke]
//! ```
//! DynamoDB Local: `LEADPIPE_TEST_DYNAMODB`, else started with `scripts/dynamodb-local.sh`.

use std::time::Instant;

use leadpipe_bench::ddb::{metered_store, DynamoLocal, Usage};
use leadpipe_bench::{arg_flag, arg_parse, arg_value, median, postback_body, STAGES};
use leadpipe_core::domain::Postback;
use leadpipe_core::store::ListQuery;
use leadpipe_core::{Leadpipe, Settings};
use serde_json::json;
use uuid::Uuid;

/// Public on-demand list prices used (us-east-1). See docs/PERFORMANCE.md for the date and sources.
mod price {
    /// API Gateway HTTP API, per million requests (first 300 million a month).
    pub const APIGW_HTTP_PER_M: f64 = 1.00;
    /// Lambda requests, per million.
    pub const LAMBDA_REQ_PER_M: f64 = 0.20;
    /// Lambda arm64 duration, per GB-second (first 7.5 billion GB-s a month).
    pub const LAMBDA_ARM_GB_S: f64 = 0.000_013_333_4;
    /// DynamoDB on-demand, per million write request units.
    pub const DDB_WRU_PER_M: f64 = 0.625;
    /// DynamoDB on-demand, per million read request units.
    pub const DDB_RRU_PER_M: f64 = 0.125;
    /// Memory configured for the functions (infra/template.yaml).
    pub const LAMBDA_MEMORY_MB: f64 = 256.0;
}

/// The stated postback mix (same as the load generator): new, progress, repeat, backward.
const MIX: [(&str, f64); 4] = [("new lead", 0.30), ("progress update", 0.35), ("repeat (no change)", 0.25), ("backward attempt", 0.10)];

fn postback(v: serde_json::Value, app: &Leadpipe) -> Postback {
    Postback::parse(v.to_string().as_bytes(), &app.settings.pipeline, None).expect("valid postback").postback
}

#[derive(Default)]
struct Samples {
    usages: Vec<Usage>,
    millis: Vec<f64>,
}

impl Samples {
    fn push(&mut self, u: Usage, started: Instant) {
        self.usages.push(u);
        self.millis.push(started.elapsed().as_secs_f64() * 1000.0);
    }

    fn requests(&self) -> f64 {
        median(&self.usages.iter().map(|u| u.total_requests() as f64).collect::<Vec<_>>())
    }
    fn max_requests(&self) -> u64 {
        self.usages.iter().map(Usage::total_requests).max().unwrap_or(0)
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
        seen.into_iter().max_by_key(|(_, n)| *n).map(|(d, _)| d).unwrap_or_default()
    }
}

/// Runs `$body` with the meter reset before and read after, into `samples[$i]`.
macro_rules! measure {
    ($meter:expr, $samples:expr, $i:expr, $body:expr) => {{
        $meter.take();
        let t = Instant::now();
        let v = $body;
        $samples[$i].push($meter.take(), t);
        v
    }};
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = arg_flag(&args, "--smoke");
    let repeats: usize = arg_parse(&args, "--repeats", if smoke { 3 } else { 10 });
    let lambda_ms: f64 = match (arg_value(&args, "--lambda-ms"), arg_value(&args, "--cold-start-json")) {
        (Some(ms), _) => ms.parse().expect("--lambda-ms"),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v["postback_warm_invoke_ms_p50"].as_f64())
            .unwrap_or(10.0),
        (None, None) => 10.0,
    };
    let ddb = DynamoLocal::obtain();
    let (store, meter) = metered_store(&ddb.endpoint, "cost").await;
    let app = Leadpipe::new(std::sync::Arc::new(store), Settings::default());

    let ops = [
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
    let mut samples: Vec<Samples> = ops.iter().map(|_| Samples::default()).collect();
    // Some leads so listings have pages to fill.
    for i in 0..60 {
        let pb = postback(postback_body(&format!("filler{i}@bench.example"), STAGES[1], 10, &[]), &app);
        app.ingest_postback(&pb).await.expect("filler");
    }
    for r in 0..repeats {
        let email = format!("cost{r}-{}@bench.example", Uuid::new_v4().simple());
        let first = postback(postback_body(&email, STAGES[1], 10, &[]), &app);
        let id = measure!(meter, samples, 0, app.ingest_postback(&first).await.expect("new").lead_id);
        let by_id = postback(
            json!({"lead_id": id.to_string(), "stage": STAGES[2], "form_completion_percent": 60, "form_fields_completed": 7}),
            &app,
        );
        measure!(meter, samples, 1, assert!(app.ingest_postback(&by_id).await.expect("progress").stage_changed));
        let by_email =
            postback(json!({"email": email, "stage": STAGES[3], "form_completion_percent": 100, "form_fields_completed": 12}), &app);
        measure!(meter, samples, 2, assert!(app.ingest_postback(&by_email).await.expect("progress").stage_changed));
        measure!(meter, samples, 3, assert!(!app.ingest_postback(&by_email_as_id(&by_email, id)).await.expect("repeat").stage_changed));
        measure!(meter, samples, 4, assert!(!app.ingest_postback(&by_email).await.expect("repeat").stage_changed));
        let backward = postback(json!({"lead_id": id.to_string(), "stage": STAGES[1]}), &app);
        measure!(meter, samples, 5, assert!(!app.ingest_postback(&backward).await.expect("backward").stage_changed));
        measure!(
            meter,
            samples,
            6,
            assert!(app.move_stage(id, &app.settings.pipeline.stage(STAGES[4]).expect("stage")).await.expect("move").1)
        );
        measure!(meter, samples, 7, app.lead_with_history(id).await.expect("get"));
        let q = ListQuery { limit: 50, ..Default::default() };
        measure!(meter, samples, 8, app.list_leads(&q).await.expect("list"));
        let qs = ListQuery { limit: 50, stage: Some(app.settings.pipeline.stage(STAGES[1]).expect("stage")), ..Default::default() };
        measure!(meter, samples, 9, app.list_leads(&qs).await.expect("list"));
        measure!(meter, samples, 10, app.analytics(None, chrono::Utc::now()).await.expect("analytics"));
        // A lead with exactly 3 history entries (created, progress, submitted) to delete.
        let e2 = format!("del{r}-{}@bench.example", Uuid::new_v4().simple());
        let d = app.ingest_postback(&postback(postback_body(&e2, STAGES[1], 10, &[]), &app)).await.expect("new").lead_id;
        app.ingest_postback(&postback(json!({"lead_id": d.to_string(), "stage": STAGES[2]}), &app)).await.expect("move");
        app.ingest_postback(&postback(json!({"lead_id": d.to_string(), "stage": STAGES[3]}), &app)).await.expect("move");
        measure!(meter, samples, 11, app.delete_lead(d).await.expect("delete"));
    }

    println!("# DynamoDB cost per operation (DynamoDB Local {}, {repeats} repeats, medians)", ddb.endpoint);
    println!("# RCU/WCU: as DynamoDB Local reports them (ReturnConsumedCapacity=TOTAL); RRU/WRU: by DynamoDB's sizing rules");
    println!(
        "{:<32} {:>8} {:>4} {:>6} {:>6} {:>6} {:>6} {:>9}  round trips",
        "operation", "requests", "max", "RCU", "WCU", "RRU", "WRU", "local ms"
    );
    let mut rows = Vec::new();
    for (op, s) in ops.iter().zip(&samples) {
        println!(
            "{op:<32} {:>8} {:>4} {:>6.2} {:>6.2} {:>6.2} {:>6.2} {:>9.2}  {}",
            s.requests(),
            s.max_requests(),
            s.rcu(),
            s.wcu(),
            s.model_rru(),
            s.model_wru(),
            median(&s.millis),
            s.typical()
        );
        rows.push(json!({"operation": op, "requests_median": s.requests(), "requests_max": s.max_requests(), "rcu_reported": s.rcu(),
                         "wcu_reported": s.wcu(), "rru_model": s.model_rru(), "wru_model": s.model_wru(),
                         "local_ms_median": (median(&s.millis) * 100.0).round() / 100.0, "typical": s.typical()}));
    }

    // Cost per million postbacks for the mix. Progress = mean of by-id and by-email; repeat likewise.
    let per = |i: usize| [samples[i].requests(), samples[i].rcu(), samples[i].wcu(), samples[i].model_rru(), samples[i].model_wru()];
    let avg = |a: [f64; 5], b: [f64; 5]| [0, 1, 2, 3, 4].map(|k| (a[k] + b[k]) / 2.0);
    let mix_ops = [per(0), avg(per(1), per(2)), avg(per(3), per(4)), per(5)];
    let mut m = [0.0; 5];
    for ((_, w), v) in MIX.iter().zip(mix_ops) {
        for k in 0..5 {
            m[k] += w * v[k];
        }
    }
    let [req, rcu, wcu, rru, wru] = m;
    let billed_ms = lambda_ms.ceil().max(1.0);
    let gb_s = price::LAMBDA_MEMORY_MB / 1024.0 * billed_ms / 1000.0;
    let apigw = price::APIGW_HTTP_PER_M;
    let lambda = price::LAMBDA_REQ_PER_M + gb_s * 1e6 * price::LAMBDA_ARM_GB_S;
    let dynamo_reported = wcu * price::DDB_WRU_PER_M + rcu * price::DDB_RRU_PER_M;
    let dynamo_model = wru * price::DDB_WRU_PER_M + rru * price::DDB_RRU_PER_M;
    let total = apigw + lambda + dynamo_model;
    println!("\n# mix: {}", MIX.iter().map(|(n, w)| format!("{:.0} % {n}", w * 100.0)).collect::<Vec<_>>().join(", "));
    println!(
        "per postback: {req:.2} DynamoDB requests; DynamoDB Local reports {rcu:.2} RCU + {wcu:.2} WCU; by the sizing rules {rru:.2} RRU + {wru:.2} WRU"
    );
    println!(
        "Lambda: {lambda_ms:.2} ms measured (warm postback invocation, cold_start benchmark) -> {billed_ms} ms billed at {} MB arm64",
        price::LAMBDA_MEMORY_MB
    );
    println!(
        "per million postbacks: API Gateway ${apigw:.2} + Lambda ${lambda:.2} + DynamoDB ${dynamo_model:.2} (by the rules; ${dynamo_reported:.2} from Local's figures) = ${total:.2}"
    );
    let max_pb = [0, 1, 2, 3, 4, 5].iter().map(|&i| samples[i].max_requests()).max().unwrap_or(0);
    let repeat_wcu = samples[3].wcu().max(samples[4].wcu()).max(samples[3].model_wru()).max(samples[4].model_wru());
    let repeat_writes: u64 = samples[3..=5]
        .iter()
        .flat_map(|s| &s.usages)
        .map(|u| {
            u.requests
                .iter()
                .filter(|(op, _)| op.contains("Write") || op.contains("Put") || op.contains("Update"))
                .map(|(_, n)| n)
                .sum::<u64>()
        })
        .sum();
    println!(
        "targets: a postback takes at most 2 round trips -> max seen {max_pb}; a repeat (or refused backward move) writes nothing -> {repeat_writes} write requests, {repeat_wcu} write units"
    );

    let out = json!({
        "benchmark": "dynamo_cost", "machine": leadpipe_bench::machine_description(), "repeats": repeats, "smoke": smoke,
        "operations": rows,
        "mix": MIX.iter().map(|(n, w)| json!({"operation": n, "share": w})).collect::<Vec<_>>(),
        "per_postback": {"requests": req, "rcu_reported": rcu, "wcu_reported": wcu, "rru_model": rru, "wru_model": wru},
        "lambda_ms_measured": lambda_ms, "lambda_ms_billed": billed_ms, "lambda_memory_mb": price::LAMBDA_MEMORY_MB,
        "cost_per_million_postbacks_usd": {"api_gateway": apigw, "lambda": (lambda * 1000.0).round() / 1000.0,
                                            "dynamodb": (dynamo_model * 1000.0).round() / 1000.0,
                                            "dynamodb_from_local_figures": (dynamo_reported * 1000.0).round() / 1000.0,
                                            "total": (total * 1000.0).round() / 1000.0},
        "prices": {"apigw_http_per_million": price::APIGW_HTTP_PER_M, "lambda_requests_per_million": price::LAMBDA_REQ_PER_M,
                   "lambda_arm64_per_gb_s": price::LAMBDA_ARM_GB_S, "dynamodb_wru_per_million": price::DDB_WRU_PER_M,
                   "dynamodb_rru_per_million": price::DDB_RRU_PER_M},
        "targets": {"max_round_trips_per_postback": max_pb, "repeat_write_requests": repeat_writes, "repeat_wcu": repeat_wcu},
    });
    leadpipe_bench::write_json(arg_value(&args, "--json").as_deref(), &out);
}

/// The same postback addressed by `lead_id` instead of email.
fn by_email_as_id(pb: &Postback, id: Uuid) -> Postback {
    Postback { lead_id: Some(id), email: None, ..pb.clone() }
}
