//! Partition heat and cost of the DynamoDB design (table design v2), measured through the real application core
//! and the real stream consumer against DynamoDB Local, extrapolated to a production rate (see
//! `leadpipe_bench::heat` for the method and `docs/DYNAMODB.md` for the model it is compared with).
//!
//! ```text
//! heat [--postbacks 8000] [--lanes 8] [--seed 7] [--bodies benchmark,realistic,varied] [--rate 10000] [--shards 12]
//!      [--window-s 5] [--lead-rate 1] [--lambda-ms 12 | --cold-start-json PATH] [--check] [--json PATH] [--smoke]
//! ```
//! Bodies: `benchmark` (the load generator's), `realistic` (`codec::realistic_body()`, email and names varied per
//! lead) and `varied` (the realistic body with source, campaign, domain and device varied too: 8 × 60 × 12 × 3).
//!
//! `--check` (what `scripts/bench.sh --smoke` runs): a seeded, shorter run (default 1,600 postbacks per body, the
//! benchmark and realistic bodies)
//! that exits 1 when, at the production rate, a partition key value would take more than 1,000 WRU/s or 3,000
//! RRU/s, an item would be written more than 100 times a second, the realistic lead item is 1 KB or more, or the
//! all-in cost passes $3.00 per million postbacks. It asserts limits, not figures: lead ids (and so listing shards)
//! are random.
//! DynamoDB Local: `LEADPIPE_TEST_DYNAMODB`, else started with `scripts/dynamodb-local.sh`.

use leadpipe_bench::ddb::{DynamoLocal, TABLE};
use leadpipe_bench::heat::{
    cost, show_key, violations, Bench, BodyStyle, Class, Cost, HeatReport, Limits, Production,
    RunInfo,
};
use leadpipe_bench::{arg_flag, arg_parse, arg_value, median};
use serde_json::json;

/// Memory of the postback function as the model states it (docs/DYNAMODB.md), and of the consumer.
const POSTBACK_MB: f64 = 128.0;
const CONSUMER_MB: f64 = 256.0;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = arg_flag(&args, "--check");
    let smoke = arg_flag(&args, "--smoke");
    let postbacks: usize = arg_parse(
        &args,
        "--postbacks",
        if check || smoke { 1600 } else { 8000 },
    );
    let lanes: usize = arg_parse(&args, "--lanes", 8);
    let seed: u64 = arg_parse(&args, "--seed", 7);
    let production = Production {
        rate: arg_parse(&args, "--rate", 10_000.0),
        shards: arg_parse(&args, "--shards", 12.0),
        window_s: arg_parse(&args, "--window-s", 5.0),
        lead_rate: arg_parse(&args, "--lead-rate", 1.0),
    };
    let (lambda_ms, lambda_source) = match (
        arg_value(&args, "--lambda-ms"),
        arg_value(&args, "--cold-start-json"),
    ) {
        (Some(ms), _) => (
            ms.parse().expect("--lambda-ms"),
            "given with --lambda-ms".to_string(),
        ),
        (None, Some(path)) => match std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v["postback_warm_invoke_ms_p50"].as_f64())
        {
            Some(ms) => (
                ms,
                format!(
                    "measured: median warm postback invocation against DynamoDB Local ({path})"
                ),
            ),
            None => (
                12.0,
                "stated (docs/DYNAMODB.md); no figure in the cold-start JSON".to_string(),
            ),
        },
        (None, None) => (12.0, "stated (docs/DYNAMODB.md)".to_string()),
    };
    // The check runs the two bodies the limits are stated for; the full run adds the varied attribution.
    let bodies: Vec<BodyStyle> = arg_value(&args, "--bodies")
        .unwrap_or_else(|| {
            if check || smoke {
                "benchmark,realistic".into()
            } else {
                "benchmark,realistic,varied".into()
            }
        })
        .split(',')
        .map(|b| match b.trim() {
            "benchmark" => BodyStyle::Benchmark,
            "realistic" => BodyStyle::Realistic,
            "varied" => BodyStyle::Varied,
            other => panic!("unknown body {other}: benchmark, realistic or varied"),
        })
        .collect();
    let ddb = DynamoLocal::obtain();
    let bench = Bench {
        endpoint: ddb.endpoint.clone(),
        postbacks,
        lanes,
        seed,
        production,
    };
    let limits = Limits::default();

    println!(
        "# partition heat and cost, DynamoDB design v2 (`heat{}`)",
        if check { " --check" } else { "" }
    );
    println!(
        "# {postbacks} postbacks per body through leadpipe_core::Leadpipe on DynamoStore (DynamoDB Local {}), {lanes} lanes, seed {seed};",
        ddb.endpoint
    );
    println!(
        "# extrapolated to {:.0} postbacks/s, {:.0} stream shards, {:.0} s batching window; a lead's own postbacks at {}/s",
        production.rate, production.shards, production.window_s, production.lead_rate
    );
    let mut all_violations = Vec::new();
    let fan = leadpipe_bench::heat::fan_out(
        &production,
        1.0,
        leadpipe_bench::heat::DELIVERY_PUT_CONCURRENCY,
        leadpipe_bench::heat::SEND_CONCURRENCY,
    );
    println!(
        "# webhook fan-out, one webhook wanting every change: {:.0} deliveries per shard batch, {:.0} PutItem rounds ({} in flight) + {:.0} SendMessageBatch rounds ({} in flight) = {:.2} s of the {:.0} s window",
        fan.deliveries,
        fan.put_rounds,
        leadpipe_bench::heat::DELIVERY_PUT_CONCURRENCY,
        fan.send_rounds,
        leadpipe_bench::heat::SEND_CONCURRENCY,
        fan.seconds,
        production.window_s
    );
    all_violations.extend(leadpipe_bench::heat::fan_out_violations(&production, &fan));
    let mut out_bodies = Vec::new();
    for style in bodies {
        let (report, info) = bench.run(style).await;
        let consumer_ms_per_record = report.consumer_run.steady().map(|b| b.ms).sum::<f64>()
            / report
                .consumer_run
                .steady()
                .map(|b| b.records)
                .sum::<usize>()
                .max(1) as f64;
        let consumer_ms_per_batch = consumer_ms_per_record * report.consumer_run.production_batch;
        let c = cost(
            &report,
            lambda_ms,
            POSTBACK_MB,
            CONSUMER_MB,
            consumer_ms_per_batch,
        );
        print_report(
            &report,
            &info,
            &c,
            &production,
            &limits,
            lambda_ms,
            &lambda_source,
            consumer_ms_per_batch,
        );
        let v = violations(&report, &c, &limits, style != BodyStyle::Benchmark);
        all_violations.extend(v.clone());
        out_bodies.push(report_json(&report, &info, &c, &v));
    }
    println!("\n## check against the limits (1,000 WRU/s and 3,000 RRU/s per key value, 100 writes/s per item, realistic lead item < 1 KB, <= $3.00 per million)");
    if all_violations.is_empty() {
        println!("OK: every limit holds for every body run");
    } else {
        for v in all_violations.iter().take(12) {
            println!("VIOLATION: {v}");
        }
        if all_violations.len() > 12 {
            println!("... and {} more", all_violations.len() - 12);
        }
    }
    let out = json!({
        "benchmark": "heat", "machine": leadpipe_bench::machine_description(), "check": check, "postbacks_per_body": postbacks,
        "lanes": lanes, "seed": seed,
        "production": {"rate": production.rate, "stream_shards": production.shards, "window_s": production.window_s, "lead_rate": production.lead_rate},
        "lambda_ms": lambda_ms, "lambda_ms_source": lambda_source, "postback_memory_mb": POSTBACK_MB, "consumer_memory_mb": CONSUMER_MB,
        "bodies": out_bodies, "violations": all_violations,
    });
    leadpipe_bench::write_json(arg_value(&args, "--json").as_deref(), &out);
    drop(ddb);
    if check && !all_violations.is_empty() {
        std::process::exit(1);
    }
}

fn class_label(c: Class) -> &'static str {
    c.label()
}

#[allow(clippy::too_many_arguments)]
fn print_report(
    r: &HeatReport,
    info: &RunInfo,
    c: &Cost,
    p: &Production,
    limits: &Limits,
    lambda_ms: f64,
    lambda_source: &str,
    consumer_ms_per_batch: f64,
) {
    let w = &info.workload;
    let lat: Vec<f64> = w.latencies_us.iter().map(|u| *u as f64 / 1000.0).collect();
    println!("\n================ {} ================", r.body);
    println!(
        "workload: {} postbacks in {:.1} s ({}), new-lead body {:.0} B; local latency median {:.2} ms; surprises {}; consumer {:.1} s",
        w.postbacks,
        w.seconds,
        w.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "),
        w.new_body_bytes,
        median(&lat),
        w.surprises,
        info.consumer_seconds
    );
    println!(
        "recorder: {} failed conditional writes; shadow copy vs ALL_OLD mismatches {}, update expressions not followed {}",
        r.failed_writes, info.shadow.0, info.shadow.1
    );

    println!("\n## units per postback kind (write path, by DynamoDB's rules from real item sizes)");
    println!(
        "{:<22} {:>6} {:>8} {:>6} {:>22} {:>6}  requests (most frequent)",
        "kind", "count", "requests", "WRU", "table/by_email/by_created", "RRU"
    );
    for (kind, k) in &r.kinds {
        let t = |n: &str| k.wru_by_target.get(n).copied().unwrap_or(0.0);
        println!(
            "{kind:<22} {:>6} {:>8.2} {:>6.2} {:>22} {:>6.2}  {}",
            k.count,
            k.requests,
            k.wru,
            format!(
                "{:.2}/{:.2}/{:.2}",
                t(TABLE),
                t("by_email"),
                t("by_created")
            ),
            k.rru,
            k.typical
        );
    }
    let (cw, cr) = r.consumer_units();
    println!(
        "all kinds: {:.2} requests, {:.3} WRU, {:.3} RRU per postback on the write path; consumer {:.3} WRU, {:.3} RRU, {:.3} requests per postback",
        r.write_requests, r.write_wru, r.write_rru, cw, cr, r.consumer_requests
    );

    let run = &r.consumer_run;
    let steady: Vec<&leadpipe_bench::heat::BatchStat> = run.steady().collect();
    let per_batch = |f: &dyn Fn(&leadpipe_bench::heat::BatchStat) -> f64| {
        median(&steady.iter().map(|b| f(b)).collect::<Vec<_>>())
    };
    let per_record = |f: &dyn Fn(&leadpipe_bench::heat::BatchStat) -> f64| {
        steady.iter().map(|b| f(b)).sum::<f64>()
            / steady.iter().map(|b| b.records).sum::<usize>().max(1) as f64
    };
    println!("\n## stream consumer (Consumer::apply over the recorded stream)");
    println!(
        "{} lead-item records ({:.3} per postback; {} other records dropped, as the `sk = L` filter does); production batch = {:.3} × {:.0}/s × {:.0} s / {:.0} shards = {:.0} records",
        run.lead_records,
        run.lead_records as f64 / r.postbacks.max(1) as f64,
        run.other_records,
        run.lead_records as f64 / r.postbacks.max(1) as f64,
        p.rate,
        p.window_s,
        p.shards,
        run.production_batch
    );
    for b in run.batches.iter().filter(|b| b.day_start) {
        println!(
            "day-start batch: {} records, {} counter transactions, {} bucket updates, {} stage changes, {:.0} ms; write units {}",
            b.records,
            b.transactions,
            b.buckets,
            b.stage_changes,
            b.ms,
            r.day_start_wru.iter().map(|(k, v)| format!("{k} {v:.0}")).collect::<Vec<_>>().join(", ")
        );
    }
    println!(
        "steady state: {} shard(s), {} batch(es) of median {:.0} records; per batch (median): {:.0} counter transactions, {:.0} bucket updates, {:.0} stage changes, {:.0} ms against DynamoDB Local",
        run.sim_shards,
        steady.len(),
        per_batch(&|b| b.records as f64),
        per_batch(&|b| b.transactions as f64),
        per_batch(&|b| b.buckets as f64),
        per_batch(&|b| b.stage_changes as f64),
        per_batch(&|b| b.ms),
    );
    let real: usize = steady.iter().map(|b| b.real_records).sum();
    let all: usize = steady.iter().map(|b| b.records).sum();
    println!(
        "  per 1,000 records: {:.1} counter transactions, {:.0} bucket updates; {:.0} ms per production batch; {}",
        per_record(&|b| b.transactions as f64) * 1000.0,
        per_record(&|b| b.buckets as f64) * 1000.0,
        consumer_ms_per_batch,
        if real < all {
            format!("{real} recorded records filled up to {all} by applying them again under new sequence numbers")
        } else {
            "every record applied once".to_string()
        }
    );
    println!(
        "consumer units per postback (steady state): {}",
        r.consumer
            .iter()
            .map(|(k, v)| format!("{k} {:.3} WRU / {:.3} RRU", v.0, v.1))
            .collect::<Vec<_>>()
            .join("; ")
    );
    if let Some(top) = r.day_start_items.first() {
        println!(
            "day start: the most written item was {} / {}: {:.0} writes in the first batch; if all {:.0} shards' first batches of the day fall in one {:.0} s window: {:.0} writes/s (a burst once a day, not in the check)",
            show_key(&top.0),
            top.1,
            top.2,
            p.shards,
            p.window_s,
            top.3
        );
    }

    println!(
        "\n## hottest partition key values at {:.0} postbacks/s (limits {:.0} WRU/s, {:.0} RRU/s)",
        p.rate, limits.wru_s, limits.rru_s
    );
    println!(
        "{:<11} {:<46} {:<17} {:>9} {:>9} {:>7}",
        "where", "partition key value", "traffic", "WRU/s", "RRU/s", "% limit"
    );
    for target in [TABLE, "by_email", "by_created"] {
        for k in r.hottest(target, if target == "by_created" { 16 } else { 6 }) {
            let pct = (k.wru_s / limits.wru_s).max(k.rru_s / limits.rru_s) * 100.0;
            println!(
                "{target:<11} {:<46} {:<17} {:>9.1} {:>9.1} {:>6.1}%",
                show_key(&k.pk),
                class_label(k.class),
                k.wru_s,
                k.rru_s,
                pct
            );
        }
    }
    let shards: Vec<f64> = r
        .keys
        .iter()
        .filter(|k| k.target == "by_created")
        .map(|k| k.wru_s)
        .collect();
    if !shards.is_empty() {
        println!(
            "by_created: {} shard key values; WRU/s mean {:.0}, max {:.0} (max/mean {:.2}: the sample's spread of random ids over 16 shards)",
            shards.len(),
            shards.iter().sum::<f64>() / shards.len() as f64,
            shards.iter().copied().fold(0.0, f64::max),
            shards.iter().copied().fold(0.0, f64::max) / (shards.iter().sum::<f64>() / shards.len() as f64)
        );
    }
    println!("hottest by reads:");
    for k in r.hottest_reads(5) {
        println!(
            "  {:<10} {:<46} {:<17} {:>9.1} RRU/s",
            k.target,
            show_key(&k.pk),
            class_label(k.class),
            k.rru_s
        );
    }

    println!(
        "\n## hottest items (writes/s; limit {:.0})",
        limits.item_writes_s
    );
    println!(
        "{:<48} {:<22} {:<17} {:>9} {:>12}",
        "pk", "sk", "traffic", "writes/s", "writes per"
    );
    for i in r.items.iter().take(10) {
        let per = match i.class {
            Class::PerLead => "own postback",
            _ => "batch",
        };
        println!(
            "{:<48} {:<22} {:<17} {:>9.2} {:>7.2} / {per}",
            show_key(&i.pk),
            show_key(&i.sk),
            class_label(i.class),
            i.writes_s,
            i.writes_per_unit
        );
    }
    let lead_max = r
        .items
        .iter()
        .filter(|i| i.class == Class::PerLead)
        .map(|i| i.writes_per_unit)
        .fold(0.0, f64::max);
    println!(
        "per-lead items: at most {lead_max:.2} writes per postback of their own lead, so one lead would need {:.0} postbacks/s of its own to pass {:.0} writes/s",
        limits.item_writes_s / lead_max.max(1e-9),
        limits.item_writes_s
    );

    println!("\n## cost per million postbacks, all in (Lambda {lambda_ms:.1} ms: {lambda_source})");
    for (item, arithmetic, usd) in &c.lines {
        println!("{item:<36} {arithmetic:<78} ${usd:>6.3}");
    }
    println!("{:<36} {:<78} ${:>6.3}", "total", "", c.total);

    let s = &r.storage;
    println!("\n## stored bytes per lead ({} leads; each item and index entry with DynamoDB's 100 B overhead)", s.leads);
    for (k, v) in &s.per_lead {
        println!("  {k:<18} {v:>7.0} B");
    }
    println!(
        "  {:<18} {:>7.0} B  (lead item alone: mean {:.0} B, max {} B; {:.2} $/month per million leads at $0.25/GB-month)",
        "total",
        s.total_per_lead(),
        s.lead_item_mean,
        s.lead_item_max,
        s.total_per_lead() * 1e6 / 1e9 * 0.25
    );
    println!(
        "  not per lead: {} counter, registry and checkpoint items, {:.1} KB in all (bounded: days × dimensions × values)",
        s.shared_count,
        s.shared_items as f64 / 1024.0
    );

    compare_with_model(r, c, p);
}

/// docs/DYNAMODB.md's figures beside the measured ones.
fn compare_with_model(r: &HeatReport, c: &Cost, p: &Production) {
    let kind = |k: &str| {
        r.kinds
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let by_created_max = r
        .keys
        .iter()
        .filter(|k| k.target == "by_created")
        .map(|k| k.wru_s)
        .fold(0.0, f64::max);
    let by_created_mean = {
        let v: Vec<f64> = r
            .keys
            .iter()
            .filter(|k| k.target == "by_created")
            .map(|k| k.wru_s)
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let bucket = |prefix: &str| {
        r.items
            .iter()
            .filter(|i| i.pk.starts_with(prefix))
            .map(|i| i.writes_s)
            .fold(0.0, f64::max)
    };
    let bucket_wru = |prefix: &str| {
        r.keys
            .iter()
            .filter(|k| k.pk.starts_with(prefix))
            .map(|k| k.wru_s)
            .fold(0.0, f64::max)
    };
    let stage = r.consumer.get("stage changes").map_or(0.0, |v| v.0);
    let counters: f64 = ["counter buckets", "checkpoints", "value registries"]
        .iter()
        .filter_map(|k| r.consumer.get(k))
        .map(|v| v.0)
        .sum();
    println!(
        "\n## docs/DYNAMODB.md model vs measured ({}, at {:.0} postbacks/s)",
        r.body, p.rate
    );
    println!("{:<52} {:>14} {:>14}", "figure", "model", "measured");
    let row = |name: &str, model: String, measured: String| {
        println!("{name:<52} {model:>14} {measured:>14}")
    };
    row(
        "new lead: WRU / RRU",
        "4 / 0.5".into(),
        format!("{:.2} / {:.2}", kind("new").wru, kind("new").rru),
    );
    row(
        "progress by lead_id: WRU / RRU",
        "2 / 1".into(),
        format!(
            "{:.2} / {:.2}",
            kind("progress by lead_id").wru,
            kind("progress by lead_id").rru
        ),
    );
    row(
        "progress by email: WRU / RRU",
        "2 / 1.5".into(),
        format!(
            "{:.2} / {:.2}",
            kind("progress by email").wru,
            kind("progress by email").rru
        ),
    );
    row(
        "repeat: WRU / RRU",
        "0 / 1-1.5".into(),
        format!("{:.2} / {:.2}", kind("repeat").wru, kind("repeat").rru),
    );
    row(
        "refused backward: WRU / RRU",
        "0 / 1-1.5".into(),
        format!(
            "{:.2} / {:.2}",
            kind("backward (refused)").wru,
            kind("backward (refused)").rru
        ),
    );
    row(
        "write path WRU per postback",
        "1.90".into(),
        format!("{:.3}", r.write_wru),
    );
    row(
        "write path RRU per postback",
        "1.03".into(),
        format!("{:.3}", r.write_rru),
    );
    row(
        "stage-change items WRU per postback",
        "0.35".into(),
        format!("{stage:.3}"),
    );
    row(
        "counters (+checkpoints, registries) WRU per postback",
        "0.19".into(),
        format!("{counters:.3}"),
    );
    row(
        "by_created shard WRU/s (mean / max)",
        "406".into(),
        format!("{by_created_mean:.0} / {by_created_max:.0}"),
    );
    row(
        "hottest counter bucket writes/s",
        "2.4".into(),
        format!("{:.1}", bucket("C#")),
    );
    row(
        "hottest counter bucket WRU/s",
        "4.8".into(),
        format!("{:.1}", bucket_wru("C#")),
    );
    row(
        "checkpoint writes/s",
        "0.8".into(),
        format!("{:.1}", bucket("K#")),
    );
    row(
        "checkpoint WRU/s",
        "1.6".into(),
        format!("{:.1}", bucket_wru("K#")),
    );
    row(
        "lead item bytes (realistic body)",
        "941".into(),
        format!(
            "{:.0} (max {})",
            r.storage.lead_item_mean, r.storage.lead_item_max
        ),
    );
    row(
        "stored bytes per lead (all in)",
        "~2,000".into(),
        format!("{:.0}", r.storage.total_per_lead()),
    );
    row(
        "$ per million postbacks (realistic body)",
        "2.88".into(),
        format!("{:.2}", c.total),
    );
}

fn report_json(
    r: &HeatReport,
    info: &RunInfo,
    c: &Cost,
    violations: &[String],
) -> serde_json::Value {
    let keys = |target: &str| {
        r.hottest(target, 16)
            .iter()
            .map(|k| json!({"pk": k.pk, "class": k.class.label(), "wru_s": k.wru_s, "rru_s": k.rru_s}))
            .collect::<Vec<_>>()
    };
    json!({
        "body": r.body, "postbacks": r.postbacks, "kinds_sent": info.workload.kinds,
        "surprises": info.workload.surprises, "failed_conditional_writes": r.failed_writes,
        "shadow_mismatches": info.shadow.0, "unsupported_updates": info.shadow.1,
        "per_kind": r.kinds.iter().map(|(k, v)| json!({"kind": k, "count": v.count, "requests": v.requests, "wru": v.wru, "rru": v.rru,
                                                        "wru_by_target": v.wru_by_target, "typical": v.typical})).collect::<Vec<_>>(),
        "write_path": {"requests": r.write_requests, "wru": r.write_wru, "rru": r.write_rru},
        "consumer": {"per_postback": r.consumer.iter().map(|(k, v)| (k.to_string(), json!({"wru": v.0, "rru": v.1}))).collect::<serde_json::Map<_, _>>(),
                     "requests_per_postback": r.consumer_requests, "lead_records": r.consumer_run.lead_records,
                     "production_batch": r.consumer_run.production_batch, "sim_shards": r.consumer_run.sim_shards,
                     "batches": r.consumer_run.batches.iter().map(|b| json!({"shard": b.shard, "records": b.records, "transactions": b.transactions,
                                                                              "buckets": b.buckets, "stage_changes": b.stage_changes, "ms": b.ms})).collect::<Vec<_>>()},
        "hottest": {"table": keys(TABLE), "by_email": keys("by_email"), "by_created": keys("by_created")},
        "hottest_items": r.items.iter().take(10).map(|i| json!({"pk": i.pk, "sk": i.sk, "class": i.class.label(), "writes_s": i.writes_s,
                                                                "writes_per_unit": i.writes_per_unit})).collect::<Vec<_>>(),
        "cost_per_million": {"lines": c.lines.iter().map(|(a, b, usd)| json!({"item": a, "arithmetic": b, "usd": usd})).collect::<Vec<_>>(), "total": c.total},
        "storage": {"leads": r.storage.leads, "lead_item_mean": r.storage.lead_item_mean, "lead_item_max": r.storage.lead_item_max,
                    "per_lead": r.storage.per_lead, "total_per_lead": r.storage.total_per_lead(), "shared_items_bytes": r.storage.shared_items},
        "violations": violations,
    })
}
