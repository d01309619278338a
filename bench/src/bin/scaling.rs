//! Scaling: analytics and a list page with few and with many leads stored, on SQLite and on DynamoDB Local.
//! Shows that their cost (latency; on DynamoDB also round trips and read capacity) does not grow with the
//! number of leads.
//!
//! Leads are seeded directly through the store API (`LeadStore::write`, the same prepared write the service
//! makes for a new lead: lead, history entry, email claim and counter deltas in one atomic write), from
//! concurrent tasks, with creation times spread over the last 90 days, stages and sources varied.
//!
//! ```text
//! scaling [--sizes 1000,100000] [--dynamo-sizes 1000,100000] [--concurrency 16] [--repeats 15] [--api-seed-max 2000]
//!         [--json PATH] [--smoke]
//! ```
//! On DynamoDB Local, a step that adds more than `--api-seed-max` leads loads them in bulk (BatchWriteItem of the
//! same items the store writes, counters summed): DynamoDB Local runs about 30 store transactions a second here.
//! ```text
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use chrono::{Duration as ChronoDuration, SubsecRound, Utc};
use leadpipe_bench::ddb::{metered_store, DynamoLocal, Meter};
use leadpipe_bench::{arg_flag, arg_parse, arg_value, median, postback_body, SOURCES, STAGES};
use leadpipe_core::domain::counters::Counters;
use leadpipe_core::domain::merge::{new_lead, Applied};
use leadpipe_core::domain::{Pipeline, Postback};
use leadpipe_core::retry::{retry, RetryPolicy};
use leadpipe_core::store::{Decision, LeadRef, LeadStore, ListQuery, StoreError};
use leadpipe_core::{Leadpipe, Settings};
use leadpipe_dynamo::codec::{claim_item, lead_item, LeadRecord};
use leadpipe_dynamo::DynamoStore;
use leadpipe_sqlite::SqliteStore;
use serde_json::json;
use uuid::Uuid;

fn sizes(args: &[String], name: &str, default: &str) -> Vec<usize> {
    arg_value(args, name)
        .unwrap_or_else(|| default.into())
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect(name))
        .collect()
}

/// Seeds leads `from..to` into `store` from `conc` tasks; returns the seconds it took.
async fn seed(store: Arc<dyn LeadStore>, from: usize, to: usize, conc: usize, run: &str) -> f64 {
    let t = Instant::now();
    let next = Arc::new(AtomicUsize::new(from));
    let pipeline = Pipeline::default();
    let tasks: Vec<_> = (0..conc)
        .map(|_| {
            let (store, next, pipeline, run) = (
                store.clone(),
                next.clone(),
                pipeline.clone(),
                run.to_string(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= to {
                        break;
                    }
                    let (applied, _) = generated_lead(i, &run, &pipeline);
                    let target = LeadRef::id(applied.lead.id);
                    let decide = Arc::new(move |_: Option<&leadpipe_core::domain::Lead>| {
                        Decision::Apply(Box::new(applied.clone()))
                    });
                    let result = retry(
                        RetryPolicy::CONFLICTS,
                        |e| matches!(e, StoreError::Unavailable(_)),
                        |_| store.change(&target, decide.clone()),
                    )
                    .await;
                    if let Err(e) = result {
                        panic!("seed write failed: {e}");
                    }
                    if i > 0 && i % 20_000 == 0 {
                        eprintln!("  seeded {i}");
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("seed task");
    }
    t.elapsed().as_secs_f64()
}

/// Bulk-loads leads `from..to` into a DynamoDB table with BatchWriteItem (lead and email-claim items exactly as
/// the store writes them, 25 per request, `conc` requests in flight), then rebuilds the counters with
/// `leadpipe_dynamo::recount`. The end state is what the store's own writes and its stream consumer produce.
/// Used above the size where seeding through the store (about 30 writes a second on DynamoDB Local) would take
/// too long.
async fn bulk_seed_dynamo(
    store: &DynamoStore,
    from: usize,
    to: usize,
    conc: usize,
    run: &str,
) -> f64 {
    let t = Instant::now();
    let pipeline = Pipeline::default();
    let next = Arc::new(AtomicUsize::new(from));
    let tasks: Vec<_> = (0..conc)
        .map(|_| {
            let (client, table, next, pipeline, run) = (
                store.client().clone(),
                store.table().to_string(),
                next.clone(),
                pipeline.clone(),
                run.to_string(),
            );
            tokio::spawn(async move {
                loop {
                    let start = next.fetch_add(12, Ordering::Relaxed);
                    if start >= to {
                        break;
                    }
                    let mut requests = Vec::new();
                    for i in start..(start + 12).min(to) {
                        let (applied, _) = generated_lead(i, &run, &pipeline);
                        let created = applied.history.clone().expect("creation entry");
                        let record = LeadRecord {
                            lead: applied.lead,
                            created,
                            last_change: None,
                        };
                        let claim =
                            claim_item(record.lead.email.as_ref().expect("email"), record.lead.id);
                        for item in [lead_item(&record).expect("lead item"), claim] {
                            requests.push(
                                WriteRequest::builder()
                                    .put_request(
                                        PutRequest::builder()
                                            .set_item(Some(item))
                                            .build()
                                            .expect("put"),
                                    )
                                    .build(),
                            );
                        }
                    }
                    for attempt in 0..50u64 {
                        let out = client
                            .batch_write_item()
                            .request_items(&table, std::mem::take(&mut requests))
                            .send()
                            .await;
                        match out {
                            Ok(o) => {
                                requests = o
                                    .unprocessed_items
                                    .and_then(|mut m| m.remove(&table))
                                    .unwrap_or_default();
                                if requests.is_empty() {
                                    break;
                                }
                            }
                            Err(e) => panic!("bulk write failed: {e:?}"),
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(10 * (attempt + 1)))
                            .await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("bulk task");
    }
    leadpipe_dynamo::recount::recount(store)
        .await
        .expect("recount");
    t.elapsed().as_secs_f64()
}

/// Lead number `i` of a seeding run and its counter contribution.
fn generated_lead(i: usize, run: &str, pipeline: &Pipeline) -> (Applied, Counters) {
    let mut rng = fastrand::Rng::with_seed(i as u64);
    let stage = STAGES[rng.usize(1..STAGES.len())];
    let mut body = postback_body(
        &format!("seed{i}-{run}@bench.example"),
        stage,
        rng.u32(10..=100),
        &[],
    );
    body["source"] = SOURCES[rng.usize(0..SOURCES.len())].into();
    let pb = Postback::parse(body.to_string().as_bytes(), pipeline, None)
        .expect("seed postback")
        .postback;
    let created = (Utc::now() - ChronoDuration::seconds(rng.i64(0..90 * 86_400))).trunc_subsecs(6);
    let applied = new_lead(
        &pb,
        pipeline,
        Uuid::new_v4(),
        created,
        &leadpipe_core::domain::merge::Access::Full,
    );
    (applied, Counters::default())
}

/// Figures for one store at one size.
struct Point {
    store: &'static str,
    leads: usize,
    seed_secs: f64,
    analytics_ms: f64,
    list_ms: f64,
    list_stage_ms: f64,
    analytics_requests: Option<u64>,
    analytics_rcu: Option<f64>,
    list_requests: Option<u64>,
    list_rcu: Option<f64>,
    list_stage_requests: Option<u64>,
    list_stage_rcu: Option<f64>,
}

async fn measure(
    app: &Leadpipe,
    meter: Option<&Meter>,
    repeats: usize,
) -> [(f64, Option<u64>, Option<f64>); 3] {
    let q = ListQuery {
        limit: 50,
        ..Default::default()
    };
    let qs = ListQuery {
        limit: 50,
        stage: Some(Pipeline::default().stage(STAGES[2]).expect("stage")),
        ..Default::default()
    };
    let mut out = [
        (Vec::new(), None, None),
        (Vec::new(), None, None),
        (Vec::new(), None, None),
    ];
    // One untimed warm-up of each.
    app.analytics(None, Utc::now()).await.expect("analytics");
    app.list_leads(&q).await.expect("list");
    app.list_leads(&qs).await.expect("list");
    for _ in 0..repeats {
        for (k, slot) in out.iter_mut().enumerate() {
            if let Some(m) = meter {
                m.take();
            }
            let t = Instant::now();
            match k {
                0 => drop(app.analytics(None, Utc::now()).await.expect("analytics")),
                1 => drop(app.list_leads(&q).await.expect("list")),
                _ => drop(app.list_leads(&qs).await.expect("list")),
            }
            slot.0.push(t.elapsed().as_secs_f64() * 1000.0);
            if let Some(m) = meter {
                let u = m.take();
                slot.1 = Some(u.total_requests());
                slot.2 = Some(u.rcu);
            }
        }
    }
    out.map(|(v, r, c)| (median(&v), r, c))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = arg_flag(&args, "--smoke");
    let sqlite_sizes = sizes(
        &args,
        "--sizes",
        if smoke { "200,2000" } else { "1000,100000" },
    );
    let dynamo_sizes = sizes(
        &args,
        "--dynamo-sizes",
        if smoke { "60,300" } else { "1000,100000" },
    );
    let conc: usize = arg_parse(&args, "--concurrency", 16);
    let repeats: usize = arg_parse(&args, "--repeats", if smoke { 3 } else { 15 });
    // Above this many new leads in one step, DynamoDB is seeded in bulk (see bulk_seed_dynamo).
    let api_seed_max: usize = arg_parse(&args, "--api-seed-max", 2000);
    let run = Uuid::new_v4().simple().to_string()[..8].to_string();
    let mut points = Vec::new();

    // SQLite, in a temporary file.
    if !sqlite_sizes.is_empty() {
        let dir = std::env::temp_dir().join(format!("leadpipe-scaling-{run}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let store: Arc<dyn LeadStore> =
            Arc::new(SqliteStore::open(&dir.join("leads.db"), Default::default()).expect("sqlite"));
        let app = Leadpipe::new(store.clone(), Settings::default());
        let mut have = 0;
        for &n in &sqlite_sizes {
            let secs = seed(store.clone(), have, n, conc.min(4), &run).await;
            eprintln!("sqlite: seeded {} leads in {secs:.1} s", n - have);
            have = n;
            let [a, l, ls] = measure(&app, None, repeats).await;
            points.push(Point {
                store: "sqlite",
                leads: n,
                seed_secs: secs,
                analytics_ms: a.0,
                list_ms: l.0,
                list_stage_ms: ls.0,
                analytics_requests: None,
                analytics_rcu: None,
                list_requests: None,
                list_rcu: None,
                list_stage_requests: None,
                list_stage_rcu: None,
            });
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    // DynamoDB Local.
    if !dynamo_sizes.is_empty() {
        let ddb = DynamoLocal::obtain();
        let (store, meter) = metered_store(&ddb.endpoint, "scaling").await;
        let raw = DynamoStore::new(
            leadpipe_bench::ddb::client(&ddb.endpoint, None),
            store.table(),
            Default::default(),
        );
        let store: Arc<dyn LeadStore> = Arc::new(store);
        let app = Leadpipe::new(store.clone(), Settings::default());
        let mut have = 0;
        for &n in &dynamo_sizes {
            let bulk = n - have > api_seed_max;
            let secs = if bulk {
                bulk_seed_dynamo(&raw, have, n, conc.min(8), &run).await
            } else {
                let secs = seed(store.clone(), have, n, conc, &run).await;
                // No stream consumer runs here: rebuild the counters the consumer would have written.
                leadpipe_dynamo::recount::recount(&raw)
                    .await
                    .expect("recount");
                secs
            };
            eprintln!(
                "dynamodb: seeded {} leads {} in {secs:.1} s ({:.0}/s)",
                n - have,
                if bulk {
                    "in bulk (BatchWriteItem)"
                } else {
                    "through LeadStore::write"
                },
                (n - have) as f64 / secs
            );
            meter.take();
            have = n;
            let [a, l, ls] = measure(&app, Some(&meter), repeats).await;
            points.push(Point {
                store: "dynamodb-local",
                leads: n,
                seed_secs: secs,
                analytics_ms: a.0,
                list_ms: l.0,
                list_stage_ms: ls.0,
                analytics_requests: a.1,
                analytics_rcu: a.2,
                list_requests: l.1,
                list_rcu: l.2,
                list_stage_requests: ls.1,
                list_stage_rcu: ls.2,
            });
        }
    }

    println!("# scaling ({repeats} repeats, medians; list page = 50 leads newest first, with the total from counters)");
    println!(
        "{:<15} {:>8} {:>9} {:>13} {:>13} {:>13} {:>14} {:>14} {:>14}",
        "store",
        "leads",
        "seed s",
        "analytics ms",
        "list ms",
        "list/stage ms",
        "analytics req",
        "list req",
        "list/stage req"
    );
    let fmt_req = |r: Option<u64>, c: Option<f64>| {
        r.map(|r| format!("{r} ({:.1} RCU)", c.unwrap_or(0.0)))
            .unwrap_or_else(|| "-".into())
    };
    for p in &points {
        println!(
            "{:<15} {:>8} {:>9.1} {:>13.3} {:>13.3} {:>13.3} {:>14} {:>14} {:>14}",
            p.store,
            p.leads,
            p.seed_secs,
            p.analytics_ms,
            p.list_ms,
            p.list_stage_ms,
            fmt_req(p.analytics_requests, p.analytics_rcu),
            fmt_req(p.list_requests, p.list_rcu),
            fmt_req(p.list_stage_requests, p.list_stage_rcu)
        );
    }
    // Ratios largest / smallest size per store.
    let mut ratios = Vec::new();
    for store in ["sqlite", "dynamodb-local"] {
        let of: Vec<&Point> = points.iter().filter(|p| p.store == store).collect();
        if let (Some(a), Some(b)) = (of.first(), of.last()) {
            if a.leads != b.leads {
                println!(
                    "{store}: {} -> {} leads: analytics x{:.2}, list x{:.2}, list/stage x{:.2} (latency ratios; target: no growth)",
                    a.leads,
                    b.leads,
                    b.analytics_ms / a.analytics_ms,
                    b.list_ms / a.list_ms,
                    b.list_stage_ms / a.list_stage_ms
                );
                ratios.push(json!({"store": store, "from": a.leads, "to": b.leads, "analytics": b.analytics_ms / a.analytics_ms,
                                   "list": b.list_ms / a.list_ms, "list_stage": b.list_stage_ms / a.list_stage_ms}));
            }
        }
    }
    let out = json!({
        "benchmark": "scaling", "machine": leadpipe_bench::machine_description(), "smoke": smoke, "repeats": repeats,
        "points": points.iter().map(|p| json!({
            "store": p.store, "leads": p.leads, "seed_secs": p.seed_secs, "analytics_ms": p.analytics_ms, "list_ms": p.list_ms,
            "list_stage_ms": p.list_stage_ms, "analytics_requests": p.analytics_requests, "analytics_rcu": p.analytics_rcu,
            "list_requests": p.list_requests, "list_rcu": p.list_rcu, "list_stage_requests": p.list_stage_requests, "list_stage_rcu": p.list_stage_rcu,
        })).collect::<Vec<_>>(),
        "ratios": ratios,
    });
    leadpipe_bench::write_json(arg_value(&args, "--json").as_deref(), &out);
}
