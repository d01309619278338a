//! The partition-heat model: the postback mix through the real application core on a `DynamoStore` (DynamoDB
//! Local), the real stream consumer over the recorded stream in production-sized batches, every request's units
//! recorded against the partition key values and items they land on ([`crate::ddb`]), and the figures
//! extrapolated to a stated postback rate.
//!
//! **Extrapolation.** Each key's traffic is classified from what was recorded, not from its name:
//! - a key touched by the write path of exactly **one** simulated lead (its item, its email claim, its `by_email`
//!   entry, and the stage-change items the consumer adds to its partition) is *per lead*: its traffic does not
//!   grow with the total rate, only with that lead's own postbacks. Its rate is its units per postback **of that
//!   lead** × a stated per-lead postback rate (default 1/s, a visitor going through a form);
//! - any other key the write path touches is *shared*: rate = its units per postback × the total rate;
//! - the consumer's checkpoint of the simulated shard it writes is *per stream shard*: rate = units per batch of
//!   that shard ÷ the batching window;
//! - any other key the consumer touches (counter buckets, registries) is written by every stream shard's
//!   batches: rate = units per batch × shards ÷ batching window.
//!
//! Consumer batches are sized like production: records per batch = (lead writes per postback × rate) × window
//! ÷ stream shards. When fewer records were recorded than one such batch, the one batch is smaller (which makes
//! the consumer's cost per postback an over- rather than an under-estimate).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use leadpipe_core::domain::Postback;
use leadpipe_core::Leadpipe;
use leadpipe_dynamo::codec::Item;
use leadpipe_dynamo::size::item_size;
use leadpipe_dynamo::{DynamoStore, StreamRecord};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::ddb::{Ctx, Event, Meter, Phase, RequestRecord, CTX};
use crate::{postback_body, STAGES};

/// Which postback body the mix sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyStyle {
    /// The load generator's body (about 380 bytes; 8 sources by email length, one campaign).
    Benchmark,
    /// `leadpipe_dynamo::codec::realistic_body()` (about 1.6 KB) with email and names varied per lead; its
    /// attribution (source, campaign, domain, device) as in the body.
    Realistic,
    /// The realistic body with the attribution varied too: [`SOURCES_R`], [`CAMPAIGNS_R`] campaigns,
    /// [`DOMAINS_R`], [`DEVICES_R`], drawn uniformly per lead (many landing pages and campaigns at once).
    Varied,
}

impl BodyStyle {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Benchmark => "benchmark body",
            Self::Realistic => "realistic body",
            Self::Varied => "realistic body, varied attribution",
        }
    }

    /// Its name on the command line.
    pub fn arg(self) -> &'static str {
        match self {
            Self::Benchmark => "benchmark",
            Self::Realistic => "realistic",
            Self::Varied => "varied",
        }
    }

    fn realistic(self) -> bool {
        self != Self::Benchmark
    }
}

/// Sources of realistic leads.
pub const SOURCES_R: &[&str] = &[
    "google",
    "facebook",
    "bing",
    "instagram",
    "tiktok",
    "linkedin",
    "newsletter",
    "partner",
];
/// Distinct campaigns of realistic leads.
pub const CAMPAIGNS_R: usize = 60;
/// Domains of realistic leads.
pub const DOMAINS_R: &[&str] = &[
    "www.myeinregistry.com",
    "start.myeinregistry.com",
    "www.llc-formation-now.com",
    "get.incorporatefast.com",
    "www.registeredagent-pro.com",
    "apply.einfilingonline.com",
    "www.businessfilings-hub.com",
    "go.startmybiz.io",
    "www.dba-registration.org",
    "forms.taxid-assist.com",
    "www.corpnet-express.com",
    "lp.formyourllc.co",
];
/// Devices of realistic leads.
pub const DEVICES_R: &[&str] = &["desktop", "mobile", "tablet"];

const FIRST: &[&str] = &[
    "María José",
    "Jonathan",
    "Aisha",
    "Guillermo",
    "Siobhán",
    "Wei",
    "Olusegun",
    "Anneliese",
    "Krzysztof",
    "Priya",
];
const LAST: &[&str] = &[
    "González Hernández",
    "Fitzgerald",
    "Nakamura-Olsen",
    "Oyelaran",
    "Van der Berg",
    "Castillo Ramírez",
    "Wiśniewski",
    "Ramakrishnan",
    "O'Sullivan",
    "Achterberg",
];

/// Postback kinds, in report order.
pub const KINDS: [&str; 5] = [
    "new",
    "progress by lead_id",
    "progress by email",
    "repeat",
    "backward (refused)",
];

struct SimLead {
    email: String,
    first: &'static str,
    last: &'static str,
    id: Option<Uuid>,
    stage: usize,
    percent: u32,
    last_body: Value,
    source: &'static str,
    campaign: String,
    domain: &'static str,
    device: &'static str,
}

/// One lane of the workload: its own leads (like one visitor stream), its own seeded generator.
struct Lane {
    lane: u64,
    seq: u64,
    leads: Vec<SimLead>,
    rng: fastrand::Rng,
    style: BodyStyle,
}

enum Op {
    New,
    Progress(usize),
    Repeat(usize),
    Backward(usize),
}

impl Lane {
    fn new(lane: u64, seed: u64, style: BodyStyle) -> Self {
        Self {
            lane,
            seq: 0,
            leads: Vec::new(),
            rng: fastrand::Rng::with_seed(seed.wrapping_mul(1_000_003).wrapping_add(lane)),
            style,
        }
    }

    /// The stated mix: 30 % new, 35 % progress, 25 % repeat, 10 % backward. A progress goes to a lead that can
    /// still progress and a backward attempt to one past its first stage (a few random tries; a repeat when none
    /// is found), so the mix sent is the stated one.
    fn pick(&mut self) -> Op {
        let roll = self.rng.u32(0..100);
        if self.leads.is_empty() || roll < 30 {
            return Op::New;
        }
        let n = self.leads.len();
        let find = |rng: &mut fastrand::Rng, ok: &dyn Fn(&SimLead) -> bool| {
            (0..32)
                .map(|_| rng.usize(0..n))
                .find(|i| ok(&self.leads[*i]))
        };
        match roll {
            30..=64 => match find(&mut self.rng, &|l| l.stage + 1 < STAGES.len()) {
                Some(i) => Op::Progress(i),
                None => Op::Repeat(self.rng.usize(0..n)),
            },
            65..=89 => Op::Repeat(self.rng.usize(0..n)),
            _ => match find(&mut self.rng, &|l| l.stage > 1) {
                Some(i) => Op::Backward(i),
                None => Op::Repeat(self.rng.usize(0..n)),
            },
        }
    }

    fn body(&self, l: &SimLead, with_id: bool) -> Value {
        let body = match self.style {
            BodyStyle::Benchmark => {
                if l.stage == 1 {
                    postback_body(&l.email, STAGES[1], l.percent, &[])
                } else {
                    json!({"stage": STAGES[l.stage], "form_completion_percent": l.percent,
                           "form_fields_completed": l.percent * 12 / 100, "form_fields_total": 12, "email": l.email})
                }
            }
            BodyStyle::Realistic | BodyStyle::Varied => {
                let mut b = leadpipe_dynamo::codec::realistic_body();
                b["email"] = l.email.clone().into();
                b["first_name"] = l.first.into();
                b["last_name"] = l.last.into();
                b["stage"] = STAGES[l.stage].into();
                b["form_completion_percent"] = l.percent.into();
                b["form_fields_completed"] = (l.percent * 12 / 100).into();
                if self.style == BodyStyle::Realistic {
                    return self.with_id(b, l, with_id);
                }
                b["source"] = l.source.into();
                b["utm_source"] = l.source.into();
                b["campaign"] = l.campaign.clone().into();
                b["utm_campaign"] = l.campaign.clone().into();
                b["domain"] = l.domain.into();
                b["device_type"] = l.device.into();
                b
            }
        };
        self.with_id(body, l, with_id)
    }

    /// Addresses the body by `lead_id` (the benchmark body then drops the email, as the load generator does).
    fn with_id(&self, mut body: Value, l: &SimLead, with_id: bool) -> Value {
        if with_id {
            if let Some(id) = l.id {
                body["lead_id"] = id.to_string().into();
                if self.style == BodyStyle::Benchmark {
                    body.as_object_mut().map(|o| o.remove("email"));
                }
            }
        }
        body
    }

    /// The next postback: its kind, the lead's index in this lane, and its body.
    fn next(&mut self) -> (&'static str, usize, Value) {
        match self.pick() {
            Op::New => {
                self.seq += 1;
                let first = FIRST[self.rng.usize(0..FIRST.len())];
                let last = LAST[self.rng.usize(0..LAST.len())];
                let email = match self.style {
                    BodyStyle::Benchmark => {
                        format!("c{}-{}-bench@bench.example", self.lane, self.seq)
                    }
                    _ => format!(
                        "{}.{}.{}x{}@example-mail.com",
                        ascii(first),
                        ascii(last),
                        self.lane,
                        self.seq
                    ),
                };
                let lead = SimLead {
                    email,
                    first,
                    last,
                    id: None,
                    stage: 1,
                    percent: if self.style.realistic() { 25 } else { 10 },
                    last_body: Value::Null,
                    source: SOURCES_R[self.rng.usize(0..SOURCES_R.len())],
                    campaign: format!(
                        "llc-formation-spring-2026-{:02}",
                        self.rng.usize(0..CAMPAIGNS_R)
                    ),
                    domain: DOMAINS_R[self.rng.usize(0..DOMAINS_R.len())],
                    device: DEVICES_R[self.rng.usize(0..DEVICES_R.len())],
                };
                let body = self.body(&lead, false);
                let mut lead = lead;
                lead.last_body = body.clone();
                self.leads.push(lead);
                ("new", self.leads.len() - 1, body)
            }
            Op::Progress(i) => {
                let by_id = self.rng.bool();
                let l = &mut self.leads[i];
                l.stage += 1;
                l.percent = (l.percent + 30).min(100);
                let l = &self.leads[i];
                let body = self.body(l, by_id);
                self.leads[i].last_body = body.clone();
                (if by_id { KINDS[1] } else { KINDS[2] }, i, body)
            }
            Op::Repeat(i) => ("repeat", i, self.leads[i].last_body.clone()),
            Op::Backward(i) => {
                let l = &self.leads[i];
                let stage = STAGES[self.rng.usize(1..l.stage)];
                let body = match (l.id, self.rng.bool()) {
                    (Some(id), true) => json!({"lead_id": id.to_string(), "stage": stage}),
                    _ => json!({"email": l.email, "stage": stage}),
                };
                (KINDS[4], i, body)
            }
        }
    }
}

fn ascii(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'á' | 'à' => 'a',
            'é' => 'e',
            'í' => 'i',
            'ó' => 'o',
            'ú' => 'u',
            'ś' => 's',
            c => c,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase()
}

/// What the workload did.
#[derive(Debug, Default)]
pub struct Workload {
    /// Postbacks sent.
    pub postbacks: u64,
    /// Postbacks per kind.
    pub kinds: BTreeMap<&'static str, u64>,
    /// Postbacks per simulated lead.
    pub per_lead: HashMap<u64, u64>,
    /// Outcomes that were not what the mix intended (a progress that did not move, a repeat that did…).
    pub surprises: u64,
    /// Each postback's latency through the core and DynamoDB Local, in microseconds.
    pub latencies_us: Vec<u64>,
    /// Wall time of the workload, seconds.
    pub seconds: f64,
    /// Request bodies' mean size for new leads, bytes.
    pub new_body_bytes: f64,
}

/// Sends `postbacks` postbacks of the mix through `app` from `lanes` concurrent lanes (each on its own leads, so
/// no two requests race on one lead: the request counts are deterministic), seeded.
pub async fn drive(
    app: &Leadpipe,
    style: BodyStyle,
    postbacks: usize,
    lanes: usize,
    seed: u64,
) -> Workload {
    let started = Instant::now();
    let tasks: Vec<_> = (0..lanes)
        .map(|lane| {
            let app = app.clone();
            let count = postbacks / lanes + usize::from(lane < postbacks % lanes);
            tokio::spawn(async move {
                let mut gen = Lane::new(lane as u64, seed, style);
                let mut w = Workload::default();
                let mut body_bytes = 0usize;
                for op in 0..count {
                    let (kind, i, body) = gen.next();
                    let op_id = (lane as u64 + 1) * 1_000_000_000 + op as u64;
                    let lead_no = (lane as u64 + 1) * 1_000_000 + i as u64;
                    let text = body.to_string();
                    if kind == "new" {
                        body_bytes += text.len();
                    }
                    let pb = Postback::parse(text.as_bytes(), &app.settings.pipeline, None)
                        .expect("a valid postback")
                        .postback;
                    let t = Instant::now();
                    let outcome = CTX
                        .scope(Ctx::write(kind, lead_no, op_id), app.ingest_postback(&pb))
                        .await
                        .expect("postback");
                    w.latencies_us.push(crate::micros(t.elapsed()));
                    let expected = match kind {
                        "new" => outcome.created,
                        k if k.starts_with("progress") => outcome.stage_changed && !outcome.created,
                        _ => !outcome.stage_changed && !outcome.created,
                    };
                    w.surprises += u64::from(!expected);
                    if kind == "new" {
                        gen.leads[i].id = Some(outcome.lead_id);
                    }
                    w.postbacks += 1;
                    *w.kinds.entry(kind).or_default() += 1;
                    *w.per_lead.entry(lead_no).or_default() += 1;
                }
                w.new_body_bytes = body_bytes as f64;
                w
            })
        })
        .collect();
    let mut all = Workload::default();
    let mut body_bytes = 0.0;
    for t in tasks {
        let w = t.await.expect("lane");
        all.postbacks += w.postbacks;
        for (k, n) in w.kinds {
            *all.kinds.entry(k).or_default() += n;
        }
        all.per_lead.extend(w.per_lead);
        all.surprises += w.surprises;
        all.latencies_us.extend(w.latencies_us);
        body_bytes += w.new_body_bytes;
    }
    all.new_body_bytes = body_bytes / all.kinds.get("new").copied().unwrap_or(1).max(1) as f64;
    all.seconds = started.elapsed().as_secs_f64();
    all
}

/// The production parameters the figures are extrapolated to.
#[derive(Debug, Clone, Copy)]
pub struct Production {
    /// Postbacks per second.
    pub rate: f64,
    /// Stream shards.
    pub shards: f64,
    /// The consumer's batching window, seconds.
    pub window_s: f64,
    /// One lead's own postbacks per second (the cadence of a visitor).
    pub lead_rate: f64,
}

impl Default for Production {
    fn default() -> Self {
        Self {
            rate: 10_000.0,
            shards: 12.0,
            window_s: 5.0,
            lead_rate: 1.0,
        }
    }
}

/// One consumer batch.
#[derive(Debug, Clone)]
pub struct BatchStat {
    /// Its number (the `batch` of its [`Ctx`]).
    pub number: u32,
    /// Simulated stream shard.
    pub shard: u32,
    /// The first batch after the day began: every value is new to the registries and the consumer's cache.
    pub day_start: bool,
    /// Records (lead writes) in the batch.
    pub records: usize,
    /// Of them, recorded ones (the rest are recorded records applied again under new sequence numbers, to fill
    /// the batch to production size).
    pub real_records: usize,
    /// Stage-change items written.
    pub stage_changes: usize,
    /// Counter transactions.
    pub transactions: usize,
    /// Bucket updates.
    pub buckets: usize,
    /// Wall time against DynamoDB Local, ms.
    pub ms: f64,
}

/// What the consumer run did.
#[derive(Debug, Clone, Default)]
pub struct ConsumerRun {
    /// Lead-item records in the stream (what the event source mapping's filter `sk = L` lets through).
    pub lead_records: usize,
    /// Records of other items (claims…), filtered out.
    pub other_records: usize,
    /// Records per batch in production (the formula).
    pub production_batch: f64,
    /// Simulated stream shards used for the steady-state batches.
    pub sim_shards: u32,
    /// The batches.
    pub batches: Vec<BatchStat>,
}

impl ConsumerRun {
    /// The steady-state batches (not the day's first).
    pub fn steady(&self) -> impl Iterator<Item = &BatchStat> {
        self.batches.iter().filter(|b| !b.day_start)
    }
}

fn is_lead_record(r: &StreamRecord) -> bool {
    let is_lead = |i: &Option<Item>| {
        i.as_ref()
            .and_then(|i| i.get("sk"))
            .and_then(|v| v.as_s().ok())
            .is_some_and(|s| s == "L")
    };
    is_lead(&r.new_image) || is_lead(&r.old_image)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Reads the whole stream and keeps the lead records (what the `sk = L` filter lets through). The first records
/// (up to one production batch, at most half of them) form the **day-start** batch: registries and the consumer's
/// cache are empty, so it admits every value it sees. The rest are the **steady state**: spread over simulated
/// shards by partition key (a lead's writes stay in order in one shard, as in DynamoDB Streams), in batches of a
/// production batch each. When a shard has fewer records than that, its batch is filled up by applying its records
/// again under new, higher sequence numbers (the consumer's cost depends on what a batch holds, not on whose lead
/// it is; per-lead items written by such copies are weighted down by [`analyse`]). Every batch is applied by the
/// real consumer under a consumer [`Ctx`].
pub async fn run_consumer(
    store: &DynamoStore,
    streams: aws_sdk_dynamodbstreams::Client,
    postbacks: u64,
    p: &Production,
) -> ConsumerRun {
    let poller = leadpipe::streams::LocalStreamConsumer::new(
        leadpipe_dynamo::Consumer::new(store.clone()),
        streams,
    );
    let all: Vec<StreamRecord> = poller
        .read_all()
        .await
        .expect("read the stream")
        .into_iter()
        .flat_map(|(_, r)| r)
        .collect();
    let (leads, others): (Vec<StreamRecord>, Vec<StreamRecord>) =
        all.into_iter().partition(is_lead_record);
    let per_postback = leads.len() as f64 / postbacks.max(1) as f64;
    let production_batch = per_postback * p.rate * p.window_s / p.shards;
    let target = production_batch.round().max(1.0) as usize;
    let first = target.min(leads.len() / 2).max(1).min(leads.len());
    let (day_start, steady) = leads.split_at(first);
    let sim_shards =
        ((steady.len() as f64 / production_batch).floor() as u32).clamp(1, p.shards as u32);
    let mut shards: Vec<Vec<StreamRecord>> = vec![Vec::new(); sim_shards as usize];
    for r in steady {
        let image = r.new_image.as_ref().or(r.old_image.as_ref());
        let pk = image
            .and_then(|i| i.get("pk"))
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        shards[(fnv(&pk) % u64::from(sim_shards)) as usize].push(r.clone());
    }
    let mut run = ConsumerRun {
        lead_records: leads.len(),
        other_records: others.len(),
        production_batch,
        sim_shards,
        batches: Vec::new(),
    };
    let mut plan: Vec<(u32, bool, Vec<StreamRecord>, usize)> =
        vec![(sim_shards, true, day_start.to_vec(), day_start.len())];
    for (s, records) in shards.into_iter().enumerate() {
        if records.is_empty() {
            continue;
        }
        if records.len() < target {
            let real = records.len();
            let mut seq: u128 = records
                .iter()
                .filter_map(|r| r.sequence_number.parse::<u128>().ok())
                .max()
                .unwrap_or(0);
            let filled: Vec<StreamRecord> = records
                .iter()
                .cycle()
                .take(target)
                .enumerate()
                .map(|(i, r)| {
                    if i < real {
                        return r.clone();
                    }
                    seq += 1;
                    StreamRecord {
                        sequence_number: seq.to_string(),
                        ..r.clone()
                    }
                })
                .collect();
            plan.push((s as u32, false, filled, real));
        } else {
            let k = (records.len() as f64 / production_batch).round().max(1.0) as usize;
            plan.extend(
                records
                    .chunks(records.len().div_ceil(k))
                    .map(|c| (s as u32, false, c.to_vec(), c.len())),
            );
        }
    }
    for (i, (shard, day, chunk, real)) in plan.into_iter().enumerate() {
        let number = i as u32 + 1;
        let t = Instant::now();
        // The day-start batch has a shard of its own: its checkpoint is not a steady shard's.
        let shard_id = format!("sim-{shard:02}");
        let report = CTX
            .scope(
                Ctx::consumer(if day { "day start" } else { "steady" }, shard, number),
                poller.consumer().apply(&shard_id, &chunk),
            )
            .await
            .expect("consumer batch");
        run.batches.push(BatchStat {
            number,
            shard,
            day_start: day,
            records: chunk.len(),
            real_records: real,
            stage_changes: report.stage_changes,
            transactions: report.transactions,
            buckets: report.buckets,
            ms: t.elapsed().as_secs_f64() * 1000.0,
        });
    }
    run
}

/// How a key's traffic scales (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Touched by one lead only.
    PerLead,
    /// Shared by many leads' postbacks, or by every stream shard's batches.
    Shared,
    /// One stream shard's own key.
    PerShard,
}

impl Class {
    /// Short label.
    pub fn label(self) -> &'static str {
        match self {
            Self::PerLead => "per lead",
            Self::Shared => "shared",
            Self::PerShard => "per stream shard",
        }
    }
}

/// One partition key value's extrapolated load.
#[derive(Debug, Clone)]
pub struct KeyHeat {
    /// [`TABLE`] or an index name.
    pub target: String,
    /// The partition key value.
    pub pk: String,
    /// How it scales.
    pub class: Class,
    /// Write units per second at the production rate.
    pub wru_s: f64,
    /// Read units per second.
    pub rru_s: f64,
    /// Write units per second from the write path alone.
    pub write_path_wru_s: f64,
}

/// One table item's extrapolated write rate.
#[derive(Debug, Clone)]
pub struct ItemHeat {
    /// `pk`.
    pub pk: String,
    /// `sk`.
    pub sk: String,
    /// How it scales.
    pub class: Class,
    /// Writes per second.
    pub writes_s: f64,
    /// Writes per batch (consumer items) or per own postback (per-lead items).
    pub writes_per_unit: f64,
}

/// Units and requests of one postback kind (write path only).
#[derive(Debug, Clone, Default)]
pub struct KindCost {
    /// Postbacks of this kind.
    pub count: u64,
    /// Mean DynamoDB requests.
    pub requests: f64,
    /// Mean write units.
    pub wru: f64,
    /// Mean read units.
    pub rru: f64,
    /// Mean write units per target (table, indexes).
    pub wru_by_target: BTreeMap<String, f64>,
    /// The request pattern seen most often.
    pub typical: String,
}

/// Storage per lead.
#[derive(Debug, Clone, Default)]
pub struct Storage {
    /// Leads stored.
    pub leads: usize,
    /// Mean lead item size (bytes, without overhead).
    pub lead_item_mean: f64,
    /// Largest lead item.
    pub lead_item_max: usize,
    /// Per lead, bytes including DynamoDB's 100 B per item or entry: lead item, claim, stage changes, by_email
    /// entry, by_created entry.
    pub per_lead: BTreeMap<&'static str, f64>,
    /// Bytes of items that do not belong to a lead (counters, registries, checkpoints), with overhead.
    pub shared_items: usize,
    /// Their count.
    pub shared_count: usize,
}

impl Storage {
    /// Total bytes per lead.
    pub fn total_per_lead(&self) -> f64 {
        self.per_lead.values().sum()
    }
}

/// The model's output for one body.
#[derive(Debug, Clone, Default)]
pub struct HeatReport {
    /// Which body.
    pub body: &'static str,
    /// Postbacks driven.
    pub postbacks: u64,
    /// Per kind.
    pub kinds: Vec<(&'static str, KindCost)>,
    /// Every key, hottest (by WRU/s) first.
    pub keys: Vec<KeyHeat>,
    /// Every written table item, most written first.
    pub items: Vec<ItemHeat>,
    /// Write-path units per postback.
    pub write_wru: f64,
    /// Write-path read units per postback.
    pub write_rru: f64,
    /// Consumer units per postback, by item kind (`stage changes`, `counters`…): (WRU, RRU).
    pub consumer: BTreeMap<&'static str, (f64, f64)>,
    /// Consumer requests per postback.
    pub consumer_requests: f64,
    /// Write-path requests per postback.
    pub write_requests: f64,
    /// Failed conditional writes (billed, not applied).
    pub failed_writes: u64,
    /// The consumer run.
    pub consumer_run: ConsumerRun,
    /// The day-start batch: writes per item (registries, counters) and the burst rate if every stream shard's
    /// first batch of the day fell in one batching window: (pk, sk, writes in the batch, writes/s).
    pub day_start_items: Vec<(String, String, f64, f64)>,
    /// The day-start batch's write units by item kind.
    pub day_start_wru: BTreeMap<&'static str, f64>,
    /// Storage.
    pub storage: Storage,
}

impl HeatReport {
    /// Consumer (WRU, RRU) per postback, all kinds.
    pub fn consumer_units(&self) -> (f64, f64) {
        self.consumer
            .values()
            .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
    }

    /// The hottest keys of one target.
    pub fn hottest(&self, target: &str, n: usize) -> Vec<&KeyHeat> {
        let mut keys: Vec<&KeyHeat> = self.keys.iter().filter(|k| k.target == target).collect();
        keys.sort_by(|a, b| (b.wru_s + b.rru_s / 1e6).total_cmp(&(a.wru_s + a.rru_s / 1e6)));
        keys.truncate(n);
        keys
    }

    /// The hottest keys by reads, any target.
    pub fn hottest_reads(&self, n: usize) -> Vec<&KeyHeat> {
        let mut keys: Vec<&KeyHeat> = self.keys.iter().collect();
        keys.sort_by(|a, b| b.rru_s.total_cmp(&a.rru_s));
        keys.truncate(n);
        keys
    }
}

/// The kind of item a table key holds, for the consumer breakdown (labels only; classification is by traffic).
fn item_kind(pk: &str, sk: Option<&str>) -> &'static str {
    match (pk.split_once('#').map(|(p, _)| p), sk) {
        (Some("L"), Some(sk)) if sk.starts_with("H#") => "stage changes",
        (Some("L"), _) => "lead items",
        (Some("E"), _) => "email claims",
        (Some("C"), _) => "counter buckets",
        (Some("R"), _) => "value registries",
        (Some("K"), _) => "checkpoints",
        _ => "other",
    }
}

/// Turns the recorded events into the report (see the module documentation for the extrapolation). Consumer
/// figures are the steady state's; the day-start batch is reported on its own. Per-lead items written by a
/// filled-up batch's copies count in proportion to the batch's recorded records.
pub fn analyse(
    body: &'static str,
    workload: &Workload,
    events: &[Event],
    requests: &[RequestRecord],
    run: &ConsumerRun,
    p: &Production,
) -> HeatReport {
    let n = workload.postbacks.max(1) as f64;
    let batch_of: HashMap<u32, &BatchStat> = run.batches.iter().map(|b| (b.number, b)).collect();
    let steady_batches = run.steady().count().max(1) as f64;
    let mut steady_per_shard: HashMap<u32, f64> = HashMap::new();
    for b in run.steady() {
        *steady_per_shard.entry(b.shard).or_default() += 1.0;
    }
    let steady_records = run.steady().map(|b| b.records).sum::<usize>().max(1) as f64;
    let records_per_postback = run.lead_records as f64 / n;
    // Consumer units per recorded unit → per postback (steady state).
    let consumer_per_postback = records_per_postback / steady_records;
    let is_write = |e: &Event| e.ctx.as_ref().is_none_or(|c| c.phase == Phase::WritePath);

    // Which leads touch each key on the write path.
    let mut leads_of: HashMap<(String, String), BTreeSet<u64>> = HashMap::new();
    for e in events.iter().filter(|e| is_write(e)) {
        leads_of
            .entry((e.target.clone(), e.pk.clone()))
            .or_default()
            .insert(e.ctx.as_ref().map_or(0, |c| c.lead));
    }
    let only_lead = |target: &str, pk: &str| -> Option<u64> {
        let leads = leads_of.get(&(target.to_string(), pk.to_string()))?;
        (leads.len() == 1)
            .then(|| *leads.iter().next().unwrap_or(&0))
            .filter(|l| *l != 0)
    };
    let own_postbacks =
        |lead: u64| workload.per_lead.get(&lead).copied().unwrap_or(1).max(1) as f64;

    let mut keys: HashMap<(String, String), KeyHeat> = HashMap::new();
    let mut items: HashMap<(String, String), ItemHeat> = HashMap::new();
    let mut consumer: BTreeMap<&'static str, (f64, f64)> = BTreeMap::new();
    let mut day_items: HashMap<(String, String), f64> = HashMap::new();
    let mut day_wru: BTreeMap<&'static str, f64> = BTreeMap::new();
    let mut failed = 0u64;
    for e in events {
        failed += u64::from(e.failed);
        let ctx = e.ctx.clone().unwrap_or_else(|| Ctx::write("?", 0, 0));
        let batch = batch_of.get(&ctx.batch);
        let kind = item_kind(&e.pk, e.item.as_ref().map(|i| i.1.as_str()));
        if ctx.phase == Phase::Consumer && batch.is_some_and(|b| b.day_start) {
            *day_wru.entry(kind).or_default() += e.wru;
            // Items every shard's first batch of the day writes (not its own checkpoint, not a lead's items).
            let own =
                e.pk == format!("K#sim-{:02}", ctx.shard) || only_lead(&e.target, &e.pk).is_some();
            if let (Some(item), false) = (&e.item, own) {
                *day_items.entry(item.clone()).or_default() += 1.0;
            }
            continue;
        }
        // (class, factor from recorded units to units per second, factor to writes per "unit" of the class)
        let (class, k, per) = if let Some(lead) = only_lead(&e.target, &e.pk) {
            let real = batch.map_or(1.0, |b| b.real_records as f64 / b.records.max(1) as f64);
            (
                Class::PerLead,
                real * p.lead_rate / own_postbacks(lead),
                real / own_postbacks(lead),
            )
        } else if ctx.phase == Phase::WritePath {
            (Class::Shared, p.rate / n, 1.0 / n)
        } else if e.pk == format!("K#sim-{:02}", ctx.shard) {
            let own = steady_per_shard.get(&ctx.shard).copied().unwrap_or(1.0);
            (Class::PerShard, 1.0 / own / p.window_s, 1.0 / own)
        } else {
            (
                Class::Shared,
                p.shards / p.window_s / steady_batches,
                1.0 / steady_batches,
            )
        };
        let entry = keys
            .entry((e.target.clone(), e.pk.clone()))
            .or_insert_with(|| KeyHeat {
                target: e.target.clone(),
                pk: e.pk.clone(),
                class,
                wru_s: 0.0,
                rru_s: 0.0,
                write_path_wru_s: 0.0,
            });
        entry.class = entry.class.min(class);
        entry.wru_s += e.wru * k;
        entry.rru_s += e.rru * k;
        if ctx.phase == Phase::WritePath {
            entry.write_path_wru_s += e.wru * k;
        } else {
            let slot = consumer.entry(kind).or_default();
            slot.0 += e.wru * consumer_per_postback;
            slot.1 += e.rru * consumer_per_postback;
        }
        if let Some((pk, sk)) = &e.item {
            let it = items
                .entry((pk.clone(), sk.clone()))
                .or_insert_with(|| ItemHeat {
                    pk: pk.clone(),
                    sk: sk.clone(),
                    class,
                    writes_s: 0.0,
                    writes_per_unit: 0.0,
                });
            it.class = it.class.min(class);
            it.writes_s += k;
            it.writes_per_unit += per;
        }
    }
    let mut keys: Vec<KeyHeat> = keys.into_values().collect();
    keys.sort_by(|a, b| b.wru_s.total_cmp(&a.wru_s));
    let mut items: Vec<ItemHeat> = items.into_values().collect();
    items.sort_by(|a, b| b.writes_s.total_cmp(&a.writes_s));
    let burst = p.shards / p.window_s;
    let mut day_start_items: Vec<(String, String, f64, f64)> = day_items
        .into_iter()
        .map(|((pk, sk), w)| (pk, sk, w, w * burst))
        .collect();
    day_start_items.sort_by(|a, b| b.2.total_cmp(&a.2));

    // Per postback kind (write path).
    let mut kinds: BTreeMap<&'static str, KindCost> = BTreeMap::new();
    for e in events.iter().filter(|e| is_write(e)) {
        let kind = e.ctx.as_ref().map_or("?", |c| c.kind);
        let k = kinds.entry(kind).or_default();
        k.wru += e.wru;
        k.rru += e.rru;
        *k.wru_by_target.entry(e.target.clone()).or_default() += e.wru;
    }
    let mut patterns: HashMap<(&'static str, u64), BTreeMap<&'static str, u64>> = HashMap::new();
    let mut consumer_requests = 0.0;
    let mut write_requests = 0.0;
    for r in requests {
        match &r.ctx {
            Some(c) if c.phase == Phase::WritePath => {
                kinds.entry(c.kind).or_default().requests += 1.0;
                *patterns
                    .entry((c.kind, c.op))
                    .or_default()
                    .entry(r.op)
                    .or_default() += 1;
                write_requests += 1.0;
            }
            Some(c) if batch_of.get(&c.batch).is_some_and(|b| b.day_start) => {}
            _ => consumer_requests += 1.0,
        }
    }
    // The request pattern seen most often per kind.
    let mut typical: HashMap<&'static str, HashMap<String, u64>> = HashMap::new();
    for ((kind, _), ops) in &patterns {
        let desc = ops
            .iter()
            .map(|(op, c)| format!("{op}×{c}"))
            .collect::<Vec<_>>()
            .join(" + ");
        *typical.entry(kind).or_default().entry(desc).or_default() += 1;
    }
    let mut out_kinds = Vec::new();
    for kind in KINDS {
        let count = workload.kinds.get(kind).copied().unwrap_or(0);
        let mut k = kinds.remove(kind).unwrap_or_default();
        let c = count.max(1) as f64;
        k.count = count;
        k.requests /= c;
        k.wru /= c;
        k.rru /= c;
        for v in k.wru_by_target.values_mut() {
            *v /= c;
        }
        k.typical = typical
            .get(kind)
            .and_then(|m| m.iter().max_by_key(|(_, n)| **n).map(|(d, _)| d.clone()))
            .unwrap_or_default();
        out_kinds.push((kind, k));
    }
    let write_wru = events
        .iter()
        .filter(|e| is_write(e))
        .map(|e| e.wru)
        .sum::<f64>()
        / n;
    let write_rru = events
        .iter()
        .filter(|e| is_write(e))
        .map(|e| e.rru)
        .sum::<f64>()
        / n;
    HeatReport {
        body,
        postbacks: workload.postbacks,
        kinds: out_kinds,
        keys,
        items,
        write_wru,
        write_rru,
        consumer,
        consumer_requests: consumer_requests * consumer_per_postback,
        write_requests: write_requests / n,
        failed_writes: failed,
        consumer_run: run.clone(),
        day_start_items,
        day_start_wru: day_wru,
        storage: Storage::default(),
    }
}

/// Reads the whole table (unmetered Scan) and measures what a lead stores, indexes and overheads included.
pub async fn storage(client: &aws_sdk_dynamodb::Client, table: &str) -> Storage {
    let mut items: Vec<Item> = Vec::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key.filter(|k| !k.is_empty());
        if start.is_none() {
            break;
        }
    }
    let mut s = Storage::default();
    let mut sums: BTreeMap<&'static str, f64> = BTreeMap::new();
    let mut lead_sizes = Vec::new();
    for item in &items {
        let pk = item
            .get("pk")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        let sk = item
            .get("sk")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        let size = item_size(item);
        match item_kind(&pk, Some(&sk)) {
            "lead items" => {
                lead_sizes.push(size);
                *sums.entry("lead item").or_default() += (size + 100) as f64;
                for (index, bytes) in crate::ddb::index_entry_storage(item) {
                    let label = if index == "by_email" {
                        "by_email entry"
                    } else {
                        "by_created entry"
                    };
                    *sums.entry(label).or_default() += bytes as f64;
                }
            }
            "email claims" => *sums.entry("email claim").or_default() += (size + 100) as f64,
            "stage changes" => *sums.entry("stage changes").or_default() += (size + 100) as f64,
            _ if pk.starts_with("S#") => {}
            _ => {
                s.shared_items += size + 100;
                s.shared_count += 1;
            }
        }
    }
    s.leads = lead_sizes.len();
    let leads = s.leads.max(1) as f64;
    s.per_lead = sums.into_iter().map(|(k, v)| (k, v / leads)).collect();
    s.lead_item_mean = lead_sizes.iter().sum::<usize>() as f64 / leads;
    s.lead_item_max = lead_sizes.iter().copied().max().unwrap_or(0);
    s
}

/// Prices (us-east-1, on demand, as docs/DYNAMODB.md states them).
pub mod price {
    /// API Gateway HTTP API per million requests.
    pub const APIGW_PER_M: f64 = 1.00;
    /// Lambda requests per million.
    pub const LAMBDA_REQ_PER_M: f64 = 0.20;
    /// Lambda arm64 per GB-second.
    pub const LAMBDA_GB_S: f64 = 0.000_013_333_4;
    /// DynamoDB per million write request units.
    pub const WRU_PER_M: f64 = 0.625;
    /// DynamoDB per million read request units.
    pub const RRU_PER_M: f64 = 0.125;
}

/// The all-in cost per million postbacks, line by line.
#[derive(Debug, Clone)]
pub struct Cost {
    /// (item, arithmetic, $ per million).
    pub lines: Vec<(String, String, f64)>,
    /// The total.
    pub total: f64,
}

/// Costs a report: `postback_ms` billed per invocation at `postback_mb`; the consumer's batches at `consumer_mb`
/// for `consumer_ms_per_batch` each.
pub fn cost(
    r: &HeatReport,
    postback_ms: f64,
    postback_mb: f64,
    consumer_mb: f64,
    consumer_ms_per_batch: f64,
) -> Cost {
    let mut lines = Vec::new();
    let (cw, cr) = r.consumer_units();
    let dw = r.write_wru * price::WRU_PER_M;
    lines.push((
        "DynamoDB writes, write path".into(),
        format!("{:.3} WRU × $0.625", r.write_wru),
        dw,
    ));
    let dr = r.write_rru * price::RRU_PER_M;
    lines.push((
        "DynamoDB reads, write path".into(),
        format!("{:.3} RRU × $0.125", r.write_rru),
        dr,
    ));
    let cdw = cw * price::WRU_PER_M;
    let detail = r
        .consumer
        .iter()
        .filter(|(_, v)| v.0 > 0.0)
        .map(|(k, v)| format!("{k} {:.3}", v.0))
        .collect::<Vec<_>>()
        .join(" + ");
    lines.push((
        "DynamoDB writes, stream consumer".into(),
        format!("{cw:.3} WRU ({detail}) × $0.625"),
        cdw,
    ));
    let cdr = cr * price::RRU_PER_M;
    lines.push((
        "DynamoDB reads, stream consumer".into(),
        format!("{cr:.3} RRU × $0.125"),
        cdr,
    ));
    lines.push((
        "API Gateway HTTP API".into(),
        "1 request × $1.00".into(),
        price::APIGW_PER_M,
    ));
    let billed = postback_ms.ceil().max(1.0);
    let lp =
        price::LAMBDA_REQ_PER_M + postback_mb / 1024.0 * billed / 1000.0 * price::LAMBDA_GB_S * 1e6;
    lines.push((
        "Lambda postback (arm64)".into(),
        format!("$0.20 + {postback_mb:.0} MB × {billed:.0} ms × $0.0000133334/GB-s"),
        lp,
    ));
    let records_per_postback = r.consumer_run.lead_records as f64 / r.postbacks.max(1) as f64;
    let invocations = 1e6 * records_per_postback / r.consumer_run.production_batch.max(1.0);
    let lc = invocations
        * (price::LAMBDA_REQ_PER_M / 1e6
            + consumer_mb / 1024.0 * consumer_ms_per_batch / 1000.0 * price::LAMBDA_GB_S);
    lines.push((
        "Lambda counters (stream consumer)".into(),
        format!(
            "{invocations:.0} invocations × ($0.20/M + {consumer_mb:.0} MB × {:.2} s)",
            consumer_ms_per_batch / 1000.0
        ),
        lc,
    ));
    lines.push((
        "CloudWatch Logs".into(),
        "JSON logs at WARN: no per-request line".into(),
        0.0,
    ));
    let total = lines.iter().map(|l| l.2).sum();
    Cost { lines, total }
}

/// The webhook fan-out of one shard's batch: how long the counters function spends storing and queueing the
/// deliveries it triggers, with the code's bounded concurrency ([`DELIVERY_PUT_CONCURRENCY`] PutItems,
/// [`SEND_CONCURRENCY`] SendMessageBatch calls of [`SQS_BATCH`] in flight). It must end well within the batching
/// window, or the next batch waits, the iterator age grows and counters lag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FanOut {
    /// Deliveries one shard's batch triggers.
    pub deliveries: f64,
    /// PutItem rounds and SendMessageBatch rounds (calls ÷ concurrency, rounded up).
    pub put_rounds: f64,
    pub send_rounds: f64,
    /// Seconds for the whole fan-out of one batch.
    pub seconds: f64,
}

pub use leadpipe_dynamo::webhooks::DELIVERY_PUT_CONCURRENCY;
pub use leadpipe_sqs::{BATCH as SQS_BATCH, SEND_CONCURRENCY};
/// Round trips assumed in the model (in-region, p99-ish): a conditional PutItem and a SendMessageBatch.
pub const PUT_MS: f64 = 10.0;
pub const SEND_MS: f64 = 25.0;

/// [`FanOut`] at production load with `webhooks` webhooks that each want every change (the worst case),
/// given the concurrency of the PutItems and the sends.
pub fn fan_out(
    p: &Production,
    webhooks: f64,
    put_concurrency: usize,
    send_concurrency: usize,
) -> FanOut {
    let deliveries = (p.rate * p.window_s / p.shards * webhooks).ceil();
    let put_rounds = (deliveries / put_concurrency.max(1) as f64).ceil();
    let send_calls = (deliveries / SQS_BATCH as f64).ceil();
    let send_rounds = (send_calls / send_concurrency.max(1) as f64).ceil();
    FanOut {
        deliveries,
        put_rounds,
        send_rounds,
        seconds: (put_rounds * PUT_MS + send_rounds * SEND_MS) / 1000.0,
    }
}

/// The fan-out must leave at least half the batching window for the counters themselves.
pub fn fan_out_violations(p: &Production, f: &FanOut) -> Vec<String> {
    let budget = p.window_s / 2.0;
    if f.seconds > budget {
        vec![format!(
            "webhook fan-out: {:.0} deliveries per shard batch take {:.2} s > {:.2} s (half the {:.0} s window)",
            f.deliveries, f.seconds, budget, p.window_s
        )]
    } else {
        Vec::new()
    }
}

/// The limits `heat --check` enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Write units per second per partition key value.
    pub wru_s: f64,
    /// Read units per second per partition key value.
    pub rru_s: f64,
    /// Writes per second per item.
    pub item_writes_s: f64,
    /// Lead item bytes (realistic body), exclusive.
    pub lead_item_bytes: usize,
    /// $ per million postbacks, all in.
    pub cost_per_m: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            wru_s: 1000.0,
            rru_s: 3000.0,
            item_writes_s: 100.0,
            lead_item_bytes: 1024,
            cost_per_m: 3.00,
        }
    }
}

/// What breaks a limit, one line each.
pub fn violations(
    r: &HeatReport,
    cost: &Cost,
    limits: &Limits,
    check_item_size: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for k in &r.keys {
        if k.wru_s > limits.wru_s {
            out.push(format!(
                "{}: {} {} at {:.0} WRU/s > {:.0}",
                r.body, k.target, k.pk, k.wru_s, limits.wru_s
            ));
        }
        if k.rru_s > limits.rru_s {
            out.push(format!(
                "{}: {} {} at {:.0} RRU/s > {:.0}",
                r.body, k.target, k.pk, k.rru_s, limits.rru_s
            ));
        }
    }
    for i in &r.items {
        if i.writes_s > limits.item_writes_s {
            out.push(format!(
                "{}: item {} / {} written {:.0} times/s > {:.0}",
                r.body, i.pk, i.sk, i.writes_s, limits.item_writes_s
            ));
        }
    }
    if check_item_size && r.storage.lead_item_max >= limits.lead_item_bytes {
        out.push(format!(
            "{}: a lead item is {} B (limit < {} B)",
            r.body, r.storage.lead_item_max, limits.lead_item_bytes
        ));
    }
    if cost.total > limits.cost_per_m {
        out.push(format!(
            "{}: ${:.2} per million postbacks > ${:.2}",
            r.body, cost.total, limits.cost_per_m
        ));
    }
    out
}

/// Everything one body's run needs.
pub struct Bench {
    /// DynamoDB Local endpoint.
    pub endpoint: String,
    /// Postbacks.
    pub postbacks: usize,
    /// Concurrent lanes.
    pub lanes: usize,
    /// Seed of the mix.
    pub seed: u64,
    /// Extrapolation parameters.
    pub production: Production,
}

/// What one body's run produced besides the report.
pub struct RunInfo {
    /// The workload.
    pub workload: Workload,
    /// Shadow copy health: (mismatches with ALL_OLD, unsupported updates).
    pub shadow: (u64, u64),
    /// Consumer wall time, s.
    pub consumer_seconds: f64,
}

impl Bench {
    /// Runs the mix with `style` on a fresh table, then the consumer, and analyses it.
    pub async fn run(&self, style: BodyStyle) -> (HeatReport, RunInfo) {
        let meter = Arc::new(Meter::default());
        let table = crate::ddb::table_name("heat");
        let settings = leadpipe_core::Settings::default();
        let store = DynamoStore::new(
            crate::ddb::client(&self.endpoint, Some(meter.clone())),
            table.clone(),
            settings.counter_rules(),
        );
        store
            .ensure_table()
            .await
            .expect("create the table in DynamoDB Local");
        meter.take();
        meter.record_events(true);
        let app = Leadpipe::new(Arc::new(store.clone()), settings);
        let workload = drive(&app, style, self.postbacks, self.lanes, self.seed).await;
        let t = Instant::now();
        let run = run_consumer(
            &store,
            crate::ddb::streams_client(&self.endpoint),
            workload.postbacks,
            &self.production,
        )
        .await;
        let consumer_seconds = t.elapsed().as_secs_f64();
        let (events, requests) = meter.take_events();
        let mut report = analyse(
            style.name(),
            &workload,
            &events,
            &requests,
            &run,
            &self.production,
        );
        report.storage = storage(&crate::ddb::client(&self.endpoint, None), &table).await;
        let _ = store
            .client()
            .delete_table()
            .table_name(&table)
            .send()
            .await;
        (
            report,
            RunInfo {
                workload,
                shadow: meter.shadow_health(),
                consumer_seconds,
            },
        )
    }
}

/// A key's value as shown in reports (long values shortened).
pub fn show_key(pk: &str) -> String {
    if pk.chars().count() > 44 {
        format!("{}…", pk.chars().take(43).collect::<String>())
    } else {
        pk.to_string()
    }
}

#[cfg(test)]
mod fan_out_tests {
    use super::*;

    #[test]
    fn bounded_fan_out_fits_the_window_and_serial_sends_do_not() {
        let p = Production::default();
        let bounded = fan_out(&p, 1.0, DELIVERY_PUT_CONCURRENCY, SEND_CONCURRENCY);
        assert!(fan_out_violations(&p, &bounded).is_empty(), "{bounded:?}");
        // one SendMessageBatch after another (the old code): hundreds of calls, longer than the window
        let serial = fan_out(&p, 1.0, DELIVERY_PUT_CONCURRENCY, 1);
        assert!(serial.send_rounds > 400.0, "{serial:?}");
        assert!(!fan_out_violations(&p, &serial).is_empty(), "{serial:?}");
    }
}
