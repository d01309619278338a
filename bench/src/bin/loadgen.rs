//! Load generator for `leadpipe serve` on SQLite, over loopback keep-alive HTTP/1.1 connections.
//!
//! For each server binary and each round it starts a fresh `leadpipe serve` (temporary SQLite file), then for each
//! concurrency level runs `GET /api/health` and then the postback mix, each for a bounded time and request count,
//! and reports requests/s, p50/p99 latency and the postback/health ratio measured in that same run. Then a
//! fixed-rate phase at `--rate-fraction` (default half) of the best postback rate reports p50/p99 at that rate.
//!
//! The postback mix (per connection, each on its own leads, like distinct visitors):
//! 30 % new leads (email), 35 % progress updates (next stage, higher completion; half by `lead_id`, half by
//! email), 25 % repeats (the lead's previous body again: nothing changes, nothing is written), 10 % backward
//! attempts (an earlier stage without `force_stage`: refused, nothing written).
//!
//! With `--hot-lead`, each concurrency level also runs a **hot-lead** step right after the mix: one lead is
//! created, then every connection posts to that one lead (half by `lead_id`, half by email), each postback changing
//! its `custom_data` so every one is a write; its p99 is reported beside the mix's and health's of the same round.
//!
//! A server is a `leadpipe` binary (run as `BIN serve --port P --db FILE`) or `node:DIR`: the Express peer in DIR
//! (`node DIR/server.js` with `PORT`, `HOST`, `DB_PATH`; its packages from `LEADPIPE_PEER_NODE_MODULES` through
//! `NODE_PATH` when set). Each server's peak RSS (VmHWM) is read at the end of each round.
//!
//! ```text
//! loadgen [--server BIN|node:DIR[,...]] [--labels A,B] [--target URL] [--concurrency 1,4,16,64] [--step-secs 3]
//!         [--step-max 200000] [--fixed-secs 5 (0: no fixed-rate phase)] [--fixed-connections 32] [--rate-fraction 0.5]
//!         [--rounds 3] [--fixed-rate N] [--hot-lead] [--threads 1] [--json PATH] [--smoke]
//! ```
//! `--target` drives an already running server instead of starting one (then only one "server").

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use leadpipe_bench::{
    arg_flag, arg_parse, arg_value, cpu_seconds, free_port, median, micros, Latency, STAGES,
};
use serde_json::json;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Health,
    Postback,
    HotLead,
}

/// The one lead every connection of a hot-lead step posts to.
struct HotTarget {
    id: String,
    email: String,
}

/// A server under test.
struct Server {
    base_host: String,
    port: u16,
    child: Option<Child>,
    dir: Option<std::path::PathBuf>,
}

impl Server {
    fn start(bin: &str) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "leadpipe-loadgen-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let child = if let Some(peer) = bin.strip_prefix("node:") {
            let mut cmd = Command::new("node");
            cmd.arg(std::path::Path::new(peer).join("server.js"))
                .env("PORT", port.to_string())
                .env("HOST", "127.0.0.1")
                .env("DB_PATH", dir.join("peer.db"))
                .env_remove("API_KEY")
                .env_remove("WORKERS");
            if let Some(modules) = std::env::var_os("LEADPIPE_PEER_NODE_MODULES") {
                cmd.env("NODE_PATH", modules);
            }
            cmd.stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("start the peer in {peer}: {e}"))
        } else {
            Command::new(bin)
                .args(["serve", "--port", &port.to_string(), "--db"])
                .arg(dir.join("leads.db"))
                .env("RUST_LOG", "warn")
                .env_remove("API_KEY")
                .env_remove("ADMIN_API_KEY")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("start {bin}: {e} (build it with: cargo build --release -p leadpipe)")
                })
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{bin} did not listen on port {port} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            base_host: format!("127.0.0.1:{port}"),
            port,
            child: Some(child),
            dir: Some(dir),
        }
    }

    fn target(url: &str) -> Self {
        let host = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let port = host
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(80);
        Self {
            base_host: host,
            port,
            child: None,
            dir: None,
        }
    }

    fn cpu(&self) -> Option<f64> {
        self.child.as_ref().and_then(|c| cpu_seconds(c.id()))
    }

    /// Peak resident set size so far, KiB.
    fn peak_rss_kib(&self) -> Option<u64> {
        self.child
            .as_ref()
            .and_then(|c| leadpipe_bench::vm_hwm_kib(c.id()))
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One simulated lead of one connection.
struct SimLead {
    email: String,
    id: Option<String>,
    stage: usize,
    percent: u32,
    last_body: Bytes,
}

/// Per-connection generator of the postback mix.
struct Mix {
    conn: usize,
    run: String,
    seq: u64,
    leads: Vec<SimLead>,
    rng: fastrand::Rng,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    New,
    Progress(usize),
    Repeat(usize),
    Backward(usize),
}

const MAX_LEADS_PER_CONN: usize = 512;

impl Mix {
    fn new(conn: usize, run: &str) -> Self {
        Self {
            conn,
            run: run.to_string(),
            seq: 0,
            leads: Vec::new(),
            rng: fastrand::Rng::with_seed(conn as u64 * 7919 + 17),
        }
    }

    fn pick(&mut self) -> Op {
        let roll = self.rng.u32(0..100);
        if self.leads.is_empty() || roll < 30 {
            return Op::New;
        }
        let i = self.rng.usize(0..self.leads.len());
        match roll {
            30..=64 if self.leads[i].stage + 1 < STAGES.len() => Op::Progress(i),
            30..=64 => Op::Repeat(i),
            65..=89 => Op::Repeat(i),
            _ if self.leads[i].stage > 1 => Op::Backward(i),
            _ => Op::Repeat(i),
        }
    }

    /// The next request body, and which lead (if any) to store the answer's `lead_id` on.
    fn next(&mut self) -> (Bytes, Option<usize>) {
        match self.pick() {
            Op::New => {
                self.seq += 1;
                let email = format!("c{}-{}-{}@bench.example", self.conn, self.seq, self.run);
                let body = Bytes::from(
                    leadpipe_bench::postback_body(&email, STAGES[1], 10, &[]).to_string(),
                );
                if self.leads.len() >= MAX_LEADS_PER_CONN {
                    let evict = self.rng.usize(0..self.leads.len());
                    self.leads.swap_remove(evict);
                }
                self.leads.push(SimLead {
                    email,
                    id: None,
                    stage: 1,
                    percent: 10,
                    last_body: body.clone(),
                });
                (body, Some(self.leads.len() - 1))
            }
            Op::Progress(i) => {
                let by_id = self.rng.bool();
                let lead = &mut self.leads[i];
                lead.stage += 1;
                lead.percent = (lead.percent + 30).min(100);
                let mut body = json!({
                    "stage": STAGES[lead.stage],
                    "form_completion_percent": lead.percent,
                    "form_fields_completed": lead.percent * 12 / 100,
                    "form_fields_total": 12,
                });
                match (&lead.id, by_id) {
                    (Some(id), true) => body["lead_id"] = id.clone().into(),
                    _ => body["email"] = lead.email.clone().into(),
                }
                lead.last_body = Bytes::from(body.to_string());
                (lead.last_body.clone(), None)
            }
            Op::Repeat(i) => (self.leads[i].last_body.clone(), None),
            Op::Backward(i) => {
                let lead = &self.leads[i];
                let stage = STAGES[self.rng.usize(1..lead.stage)];
                let body = match &lead.id {
                    Some(id) => json!({"lead_id": id, "stage": stage}),
                    None => json!({"email": lead.email, "stage": stage}),
                };
                (Bytes::from(body.to_string()), None)
            }
        }
    }
}

async fn connect(host: &str) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(host)
        .await
        .expect("connect to the server");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("http1 handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

fn request(kind: Kind, host: &str, body: Bytes) -> Request<Full<Bytes>> {
    let builder = Request::builder().header("host", host);
    match kind {
        Kind::Health => builder
            .method(Method::GET)
            .uri("/api/health")
            .body(Full::new(Bytes::new())),
        Kind::Postback | Kind::HotLead => builder
            .method(Method::POST)
            .uri("/api/postback")
            .header("content-type", "application/json")
            .body(Full::new(body)),
    }
    .expect("request")
}

/// Result of one connection's loop.
#[derive(Default)]
struct ConnResult {
    samples: Vec<u64>,
    scheduled_samples: Vec<u64>,
    errors: u64,
    statuses: [u64; 6],
}

/// Schedule for a fixed-rate run: this connection sends request `i` at `start + (i * conns + conn) / rate`.
#[derive(Clone, Copy)]
struct Schedule {
    start: tokio::time::Instant,
    rate: f64,
    conns: usize,
}

#[allow(clippy::too_many_arguments)]
async fn conn_loop(
    kind: Kind,
    host: String,
    conn: usize,
    run: String,
    deadline: Instant,
    issued: Arc<AtomicU64>,
    max: u64,
    stop: Arc<AtomicBool>,
    schedule: Option<Schedule>,
    hot: Option<Arc<HotTarget>>,
) -> ConnResult {
    let mut sender = connect(&host).await;
    let mut mix = Mix::new(conn, &run);
    let mut out = ConnResult {
        samples: Vec::with_capacity(4096),
        ..Default::default()
    };
    let mut i: u64 = 0;
    loop {
        if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
            break;
        }
        let planned = schedule.map(|s| {
            s.start + Duration::from_secs_f64((i as f64 * s.conns as f64 + conn as f64) / s.rate)
        });
        if let Some(at) = planned {
            if at.into_std() >= deadline {
                break;
            }
            tokio::time::sleep_until(at).await;
        }
        if issued.fetch_add(1, Ordering::Relaxed) >= max {
            stop.store(true, Ordering::Relaxed);
            break;
        }
        i += 1;
        let (body, store_id) = match (kind, &hot) {
            (Kind::Postback, _) => mix.next(),
            (Kind::HotLead, Some(t)) => {
                let change = json!({"hot": format!("{conn}-{i}")});
                let body = if i.is_multiple_of(2) {
                    json!({"lead_id": t.id, "custom_data": change})
                } else {
                    json!({"email": t.email, "custom_data": change})
                };
                (Bytes::from(body.to_string()), None)
            }
            _ => (Bytes::new(), None),
        };
        let t0 = Instant::now();
        if sender.ready().await.is_err() {
            sender = connect(&host).await;
        }
        let result = sender.send_request(request(kind, &host, body)).await;
        match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let collected = resp.into_body().collect().await;
                let elapsed = t0.elapsed();
                out.samples.push(micros(elapsed));
                if let Some(at) = planned {
                    out.scheduled_samples.push(micros(
                        Instant::now().saturating_duration_since(at.into_std()),
                    ));
                }
                out.statuses[usize::from(status / 100).min(5)] += 1;
                if status >= 300 {
                    out.errors += 1;
                }
                if let (Some(idx), Ok(body)) = (store_id, collected) {
                    if status == 201 {
                        let bytes = body.to_bytes();
                        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                            if let (Some(id), Some(lead)) =
                                (v["lead_id"].as_str(), mix.leads.get_mut(idx))
                            {
                                lead.id = Some(id.to_string());
                            }
                        }
                    }
                }
            }
            Err(_) => {
                out.errors += 1;
                sender = connect(&host).await;
            }
        }
    }
    out
}

/// One round on one server: per concurrency (health, postback), then the fixed-rate step and its target rate, the
/// hot-lead step per concurrency (with `--hot-lead`), and the server's peak RSS (KiB).
type RoundResult = (Vec<(Step, Step)>, Step, f64, Vec<Option<Step>>, Option<u64>);

/// Figures of one step.
#[derive(Clone, Copy, Default)]
struct Step {
    rps: f64,
    lat: Latency,
    sched: Latency,
    errors: u64,
    server_cpu_us_per_req: f64,
    requests: u64,
}

impl Step {
    fn json(&self) -> serde_json::Value {
        json!({
            "rps": self.rps.round(), "requests": self.requests, "errors": self.errors,
            "latency": self.lat.json(), "latency_from_schedule": if self.sched.count > 0 { self.sched.json() } else { json!(null) },
            "server_cpu_us_per_request": (self.server_cpu_us_per_req * 10.0).round() / 10.0,
        })
    }
}

/// Creates the lead a hot-lead step posts to.
async fn create_hot_lead(server: &Server) -> Arc<HotTarget> {
    let email = format!("hot-{}@bench.example", uuid::Uuid::new_v4().simple());
    let body = leadpipe_bench::postback_body(&email, STAGES[1], 10, &[]).to_string();
    let mut sender = connect(&server.base_host).await;
    let resp = sender
        .send_request(request(
            Kind::Postback,
            &server.base_host,
            Bytes::from(body),
        ))
        .await
        .expect("create the hot lead");
    let bytes = resp
        .into_body()
        .collect()
        .await
        .expect("hot lead response")
        .to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("hot lead response is JSON");
    let id = v["lead_id"]
        .as_str()
        .expect("the hot lead's id")
        .to_string();
    Arc::new(HotTarget { id, email })
}

async fn run_step(
    server: &Server,
    kind: Kind,
    conns: usize,
    secs: f64,
    max: u64,
    schedule_rate: Option<f64>,
) -> Step {
    let hot = if kind == Kind::HotLead {
        Some(create_hot_lead(server).await)
    } else {
        None
    };
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let issued = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let cpu0 = server.cpu();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let schedule = schedule_rate.map(|rate| Schedule {
        start: tokio::time::Instant::now() + Duration::from_millis(5),
        rate,
        conns,
    });
    let tasks: Vec<_> = (0..conns)
        .map(|c| {
            tokio::spawn(conn_loop(
                kind,
                server.base_host.clone(),
                c,
                run.clone(),
                deadline,
                issued.clone(),
                max,
                stop.clone(),
                schedule,
                hot.clone(),
            ))
        })
        .collect();
    let mut all = ConnResult::default();
    for t in tasks {
        let r = t.await.expect("connection task");
        all.samples.extend(r.samples);
        all.scheduled_samples.extend(r.scheduled_samples);
        all.errors += r.errors;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu1 = server.cpu();
    let n = all.samples.len() as u64;
    let server_cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) if n > 0 => (b - a) * 1e6 / n as f64,
        _ => f64::NAN,
    };
    Step {
        rps: n as f64 / elapsed,
        lat: Latency::of(&mut all.samples),
        sched: Latency::of(&mut all.scheduled_samples),
        errors: all.errors,
        server_cpu_us_per_req: server_cpu,
        requests: n,
    }
}

fn print_step(label: &str, round: usize, kind: &str, conns: usize, s: &Step, ratio: Option<f64>) {
    println!(
        "{label:<10} {round:>5} {kind:<9} {conns:>5} {:>10.0} {:>8.3} {:>8.3} {:>8.3} {:>7} {:>9.1} {}",
        s.rps,
        s.lat.p50_us as f64 / 1000.0,
        s.lat.p99_us as f64 / 1000.0,
        s.lat.max_us as f64 / 1000.0,
        s.errors,
        s.server_cpu_us_per_req,
        ratio.map(|r| format!("{r:.2}")).unwrap_or_default()
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads: usize = arg_parse(&args, "--threads", 1);
    if threads > 1 {
        // Re-run the body on a multi-thread runtime with the requested worker count.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .expect("runtime");
        let handle = rt.spawn(run(args));
        rt.block_on(handle).expect("run");
    } else {
        run(args).await;
    }
}

async fn run(args: Vec<String>) {
    let smoke = arg_flag(&args, "--smoke");
    let conc: Vec<usize> = arg_value(&args, "--concurrency")
        .unwrap_or_else(|| {
            if smoke {
                "1,16".into()
            } else {
                "1,2,4,8,16,32,64".into()
            }
        })
        .split(',')
        .map(|c| {
            c.trim()
                .parse()
                .expect("--concurrency: comma-separated numbers")
        })
        .collect();
    let step_secs: f64 = arg_parse(&args, "--step-secs", if smoke { 0.5 } else { 3.0 });
    let step_max: u64 = arg_parse(&args, "--step-max", 200_000);
    let fixed_secs: f64 = arg_parse(&args, "--fixed-secs", if smoke { 1.0 } else { 5.0 });
    let fixed_conns: usize = arg_parse(&args, "--fixed-connections", 32);
    let fraction: f64 = arg_parse(&args, "--rate-fraction", 0.5);
    // An absolute rate instead (to compare servers at the same rate).
    let fixed_rate: Option<f64> =
        arg_value(&args, "--fixed-rate").map(|r| r.parse().expect("--fixed-rate"));
    let rounds: usize = arg_parse(&args, "--rounds", if smoke { 1 } else { 3 });
    let hot_lead = arg_flag(&args, "--hot-lead");
    let target = arg_value(&args, "--target");
    let servers: Vec<String> = match &target {
        Some(t) => vec![t.clone()],
        None => arg_value(&args, "--server")
            .unwrap_or_else(|| {
                leadpipe_bench::release_binary("leadpipe")
                    .display()
                    .to_string()
            })
            .split(',')
            .map(str::to_string)
            .collect(),
    };
    let labels: Vec<String> = arg_value(&args, "--labels")
        .map(|l| l.split(',').map(str::to_string).collect())
        .unwrap_or_else(|| {
            (0..servers.len())
                .map(|i| {
                    if servers.len() == 1 {
                        "leadpipe".into()
                    } else {
                        format!("server{i}")
                    }
                })
                .collect()
        });
    assert_eq!(labels.len(), servers.len(), "one label per server");

    println!("# loadgen: {}", leadpipe_bench::machine_description());
    println!(
        "# steps: concurrency {conc:?}, {step_secs} s or {step_max} requests each; fixed rate {fraction} x best for {fixed_secs} s on {fixed_conns} connections; {rounds} round(s)"
    );
    println!(
        "{:<10} {:>5} {:<9} {:>5} {:>10} {:>8} {:>8} {:>8} {:>7} {:>9} postback/health",
        "server",
        "round",
        "kind",
        "conns",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "srv µs/req"
    );
    let mut results: Vec<Vec<RoundResult>> = (0..servers.len()).map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (si, bin) in servers.iter().enumerate() {
            let mut server = match &target {
                Some(t) => Server::target(t),
                None => Server::start(bin),
            };
            let _ = server.port;
            // Warm-up: connections, page cache, SQLite schema.
            run_step(&server, Kind::Postback, 4, 0.3, 2000, None).await;
            let mut steps = Vec::new();
            let mut hots = Vec::new();
            for &c in &conc {
                let h = run_step(&server, Kind::Health, c, step_secs, step_max, None).await;
                print_step(&labels[si], round + 1, "health", c, &h, None);
                let p = run_step(&server, Kind::Postback, c, step_secs, step_max, None).await;
                print_step(
                    &labels[si],
                    round + 1,
                    "postback",
                    c,
                    &p,
                    Some(p.rps / h.rps),
                );
                if hot_lead {
                    let hl = run_step(&server, Kind::HotLead, c, step_secs, step_max, None).await;
                    print_step(
                        &labels[si],
                        round + 1,
                        "hot lead",
                        c,
                        &hl,
                        Some(hl.rps / h.rps),
                    );
                    println!(
                        "{:<10} {:>5} hot-lead p99 {:.3} ms = {:.2} x the mix's p99 ({:.3} ms), {:.2} x health's ({:.3} ms)",
                        labels[si],
                        round + 1,
                        hl.lat.p99_us as f64 / 1000.0,
                        hl.lat.p99_us as f64 / p.lat.p99_us.max(1) as f64,
                        p.lat.p99_us as f64 / 1000.0,
                        hl.lat.p99_us as f64 / h.lat.p99_us.max(1) as f64,
                        h.lat.p99_us as f64 / 1000.0
                    );
                    hots.push(Some(hl));
                } else {
                    hots.push(None);
                }
                steps.push((h, p));
            }
            let best = steps.iter().map(|(_, p)| p.rps).fold(0.0, f64::max);
            let rate = fixed_rate.unwrap_or(best * fraction).max(1.0);
            let fixed = if fixed_secs > 0.0 {
                run_step(
                    &server,
                    Kind::Postback,
                    fixed_conns,
                    fixed_secs,
                    step_max,
                    Some(rate),
                )
                .await
            } else {
                Step::default()
            };
            let rss = server.peak_rss_kib();
            if fixed_secs > 0.0 {
                println!(
                    "{:<10} {:>5} fixed rate {rate:.0}/s on {fixed_conns} conns: achieved {:.0}/s, p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms (from schedule: p99 {:.3} ms), errors {}",
                    labels[si],
                    round + 1,
                    fixed.rps,
                    fixed.lat.p50_us as f64 / 1000.0,
                    fixed.lat.p99_us as f64 / 1000.0,
                    fixed.lat.p999_us as f64 / 1000.0,
                    fixed.sched.p99_us as f64 / 1000.0,
                    fixed.errors
                );
            }
            if let Some(kib) = rss {
                println!(
                    "{:<10} {:>5} peak RSS {:.1} MB",
                    labels[si],
                    round + 1,
                    kib as f64 / 1024.0
                );
            }
            server.stop();
            results[si].push((steps, fixed, rate, hots, rss));
        }
    }

    // Medians over rounds.
    println!("\n# medians over {rounds} round(s)");
    println!(
        "{:<10} {:>5} {:>12} {:>12} {:>10} {:>10} {:>12} {:>10}",
        "server",
        "conns",
        "health req/s",
        "postback r/s",
        "pb p50 ms",
        "pb p99 ms",
        "pb/health",
        "errors"
    );
    let mut summary = Vec::new();
    for (si, rounds_of) in results.iter().enumerate() {
        let mut per_conc = Vec::new();
        for (ci, &c) in conc.iter().enumerate() {
            let pick = |f: &dyn Fn(&(Step, Step)) -> f64| {
                median(&rounds_of.iter().map(|r| f(&r.0[ci])).collect::<Vec<_>>())
            };
            let h = pick(&|s| s.0.rps);
            let p = pick(&|s| s.1.rps);
            let p50 = pick(&|s| s.1.lat.p50_us as f64 / 1000.0);
            let p99 = pick(&|s| s.1.lat.p99_us as f64 / 1000.0);
            let ratio = pick(&|s| s.1.rps / s.0.rps);
            let hp99 = pick(&|s| s.0.lat.p99_us as f64 / 1000.0);
            let cpu = pick(&|s| s.1.server_cpu_us_per_req);
            let hcpu = pick(&|s| s.0.server_cpu_us_per_req);
            let errors: u64 = rounds_of
                .iter()
                .map(|r| r.0[ci].1.errors + r.0[ci].0.errors)
                .sum();
            println!("{:<10} {c:>5} {h:>12.0} {p:>12.0} {p50:>10.3} {p99:>10.3} {ratio:>12.2} {errors:>10}", labels[si]);
            let hot: Vec<&Step> = rounds_of
                .iter()
                .filter_map(|r| r.3.get(ci).and_then(Option::as_ref))
                .collect();
            let hot_json = if hot.is_empty() {
                json!(null)
            } else {
                let hp = |f: &dyn Fn(&Step) -> f64| {
                    median(&hot.iter().map(|s| f(s)).collect::<Vec<_>>())
                };
                // The hot lead's p99 over the same round's mix p99 (`against_mix`) or health p99, median over rounds.
                let hot_ratio = |against_mix: bool| {
                    median(
                        &rounds_of
                            .iter()
                            .filter_map(|r| {
                                let (health, mix) = &r.0[ci];
                                let base = if against_mix { mix } else { health };
                                r.3.get(ci)
                                    .and_then(Option::as_ref)
                                    .map(|hs| hs.lat.p99_us as f64 / base.lat.p99_us.max(1) as f64)
                            })
                            .collect::<Vec<_>>(),
                    )
                };
                let ratio_mix = hot_ratio(true);
                let ratio_health = hot_ratio(false);
                println!(
                    "{:<10} {c:>5} hot lead: {:.0}/s, p50 {:.3} ms, p99 {:.3} ms = {ratio_mix:.2} x the mix's p99, {ratio_health:.2} x health's (medians of per-round ratios)   [target: <= 2 x the mix]",
                    labels[si],
                    hp(&|s| s.rps),
                    hp(&|s| s.lat.p50_us as f64 / 1000.0),
                    hp(&|s| s.lat.p99_us as f64 / 1000.0)
                );
                json!({"rps": hp(&|s| s.rps).round(), "p50_ms": hp(&|s| s.lat.p50_us as f64 / 1000.0), "p99_ms": hp(&|s| s.lat.p99_us as f64 / 1000.0),
                       "p99_over_mix_p99": ratio_mix, "p99_over_health_p99": ratio_health,
                       "errors": hot.iter().map(|s| s.errors).sum::<u64>()})
            };
            per_conc.push(json!({
                "connections": c, "health_rps": h.round(), "health_p99_ms": hp99, "postback_rps": p.round(), "postback_p50_ms": p50,
                "postback_p99_ms": p99, "postback_to_health_ratio": (ratio * 1000.0).round() / 1000.0, "errors": errors,
                "server_cpu_us_per_postback": (cpu * 10.0).round() / 10.0, "server_cpu_us_per_health": (hcpu * 10.0).round() / 10.0,
                "hot_lead": hot_json,
            }));
        }
        let best: Vec<f64> = rounds_of
            .iter()
            .map(|r| r.0.iter().map(|(_, p)| p.rps).fold(0.0, f64::max))
            .collect();
        let best_health: Vec<f64> = rounds_of
            .iter()
            .map(|r| r.0.iter().map(|(h, _)| h.rps).fold(0.0, f64::max))
            .collect();
        let ratio_best: Vec<f64> = best.iter().zip(&best_health).map(|(p, h)| p / h).collect();
        let fixed_rate = median(&rounds_of.iter().map(|r| r.2).collect::<Vec<_>>());
        let fixed_achieved = median(&rounds_of.iter().map(|r| r.1.rps).collect::<Vec<_>>());
        let fixed_p50 = median(
            &rounds_of
                .iter()
                .map(|r| r.1.lat.p50_us as f64 / 1000.0)
                .collect::<Vec<_>>(),
        );
        let fixed_p99 = median(
            &rounds_of
                .iter()
                .map(|r| r.1.lat.p99_us as f64 / 1000.0)
                .collect::<Vec<_>>(),
        );
        let fixed_sched_p99 = median(
            &rounds_of
                .iter()
                .map(|r| r.1.sched.p99_us as f64 / 1000.0)
                .collect::<Vec<_>>(),
        );
        let rss: Vec<f64> = rounds_of
            .iter()
            .filter_map(|r| r.4)
            .map(|k| k as f64 / 1024.0)
            .collect();
        let peak_rss_mb = if rss.is_empty() {
            f64::NAN
        } else {
            median(&rss)
        };
        println!(
            "{:<10} best postback {:.0}/s (health {:.0}/s, ratio {:.2}); peak RSS {peak_rss_mb:.1} MB; fixed {:.0}/s (achieved {:.0}/s): p50 {:.3} ms, p99 {:.3} ms (from schedule {:.3} ms)   [targets: >= 10000/s; p99 < 10 ms at half rate]",
            labels[si],
            median(&best),
            median(&best_health),
            median(&ratio_best),
            fixed_rate,
            fixed_achieved,
            fixed_p50,
            fixed_p99,
            fixed_sched_p99
        );
        summary.push(json!({
            "label": labels[si], "server": servers[si], "per_concurrency": per_conc,
            "best_postback_rps": median(&best).round(), "best_health_rps": median(&best_health).round(),
            "best_ratio": (median(&ratio_best) * 1000.0).round() / 1000.0, "peak_rss_mb": (peak_rss_mb * 10.0).round() / 10.0,
            "fixed": {"target_rps": fixed_rate.round(), "achieved_rps": fixed_achieved.round(), "p50_ms": fixed_p50, "p99_ms": fixed_p99,
                      "p99_from_schedule_ms": fixed_sched_p99, "connections": fixed_conns},
            "rounds": rounds_of.iter().map(|r| json!({
                "steps": r.0.iter().zip(&conc).map(|((h, p), c)| json!({"connections": c, "health": h.json(), "postback": p.json()})).collect::<Vec<_>>(),
                "fixed": r.1.json(), "fixed_target_rps": r.2.round(),
            })).collect::<Vec<_>>(),
        }));
    }
    let out = json!({
        "benchmark": "loadgen", "machine": leadpipe_bench::machine_description(), "smoke": smoke, "rounds": rounds,
        "step_secs": step_secs, "step_max": step_max, "fixed_secs": fixed_secs, "rate_fraction": fraction,
        "mix": {"new": 30, "progress": 35, "repeat": 25, "backward": 10}, "generator_threads": arg_parse(&args, "--threads", 1usize),
        "hot_lead": hot_lead,
        "servers": summary,
    });
    leadpipe_bench::write_json(arg_value(&args, "--json").as_deref(), &out);
}
