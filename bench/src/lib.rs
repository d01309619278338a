//! Shared helpers for the benchmark binaries: latency statistics, medians, a postback mix, DynamoDB Local
//! (endpoint, instrumented client that counts requests and consumed capacity), process helpers and output.
//!
//! The binaries print human-readable tables and, with `--json PATH`, a JSON summary that `scripts/bench.sh`
//! collects. They are measurements, not pass/fail tests: targets are printed beside the figures.

pub mod ddb;
pub mod heat;

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Latency summary of one run, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    /// Samples.
    pub count: usize,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
}

impl Latency {
    /// Summarises samples (microseconds); sorts them in place.
    pub fn of(samples: &mut [u64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let q = |p: f64| {
            samples[((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1]
        };
        Self {
            count: samples.len(),
            mean_us: samples.iter().sum::<u64>() as f64 / samples.len() as f64,
            p50_us: q(0.50),
            p90_us: q(0.90),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: *samples.last().unwrap_or(&0),
        }
    }

    /// As JSON (milliseconds, 3 decimals).
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count, "mean_ms": ms(self.mean_us), "p50_ms": ms(self.p50_us as f64), "p90_ms": ms(self.p90_us as f64),
            "p99_ms": ms(self.p99_us as f64), "p999_ms": ms(self.p999_us as f64), "max_ms": ms(self.max_us as f64),
        })
    }
}

/// Microseconds to milliseconds, rounded to 3 decimals.
pub fn ms(us: f64) -> f64 {
    (us / 1000.0 * 1000.0).round() / 1000.0
}

/// Median of values (upper median for even counts is avoided: the mean of the two middle values).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Microseconds elapsed, saturating.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free loopback port")
}

/// The workspace root (bench/..).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The binary `name` under test: in `LEADPIPE_BENCH_BIN_DIR` when set (scripts/bench.sh --smoke uses the debug
/// build), else the release build in the shared target directory (`target/release/NAME`).
pub fn release_binary(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("LEADPIPE_BENCH_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("release").join(name)
}

/// Reads `--name value` style options: the value following `name`, if present.
pub fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Whether `--name` is among the args.
pub fn arg_flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

/// Parses an option or returns the default; exits with a message when it does not parse.
pub fn arg_parse<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    match arg_value(args, name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("cannot parse {name} {v}");
            std::process::exit(2)
        }),
    }
}

/// Writes `value` as pretty JSON to `path` (creating folders), when a path was given.
pub fn write_json(path: Option<&str>, value: &serde_json::Value) {
    let Some(path) = path else { return };
    if let Some(dir) = Path::new(path).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut f = std::fs::File::create(path).unwrap_or_else(|e| panic!("create {path}: {e}"));
    writeln!(f, "{}", serde_json::to_string_pretty(value).expect("json")).expect("write json");
    eprintln!("wrote {path}");
}

/// Peak resident set size (VmHWM) of a live process, in KiB.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "VmHWM:")
}

/// Current resident set size (VmRSS) of a live process, in KiB.
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "VmRSS:")
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Total CPU time (user + system) a live process has used, from /proc/PID/stat, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// A short description of this machine: CPU model, cores, memory, kernel.
pub fn machine_description() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|kib| format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    format!("{model}, {cores} cores, {mem}, Linux {kernel}")
}

/// One realistic landing-page postback body, as sent by the load generator and the cost benchmark.
pub fn postback_body(
    email: &str,
    stage: &str,
    percent: u32,
    extra: &[(&str, serde_json::Value)],
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "email": email,
        "stage": stage,
        "first_name": "Jane",
        "last_name": "Doe",
        "source": SOURCES[email.len() % SOURCES.len()],
        "campaign": "llc-spring-2026",
        "utm_source": "google",
        "utm_medium": "cpc",
        "form_completion_percent": percent,
        "form_fields_total": 12,
        "form_fields_completed": percent * 12 / 100,
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0",
        "custom_data": {"plan": "starter", "state": "DE"},
    });
    for (k, v) in extra {
        body[*k] = v.clone();
    }
    body
}

/// First-touch sources used by generated leads.
pub const SOURCES: &[&str] = &[
    "google",
    "facebook",
    "bing",
    "newsletter",
    "partner",
    "tiktok",
    "direct",
    "linkedin",
];

/// The default pipeline, in order.
pub const STAGES: &[&str] = &[
    "New",
    "Form Started",
    "Application Submitted",
    "Paid",
    "Completed",
];
