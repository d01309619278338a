//! `leadpipe`: the whole product on one machine.
//!
//! `leadpipe serve` runs the four Lambda routers (the very same code) plus the dashboard on
//! `http://127.0.0.1:3000`, on SQLite by default or on DynamoDB with `--dynamodb`.
//! `leadpipe users create-admin --email E` creates an admin account.
//! `leadpipe table-definition` prints the DynamoDB table definition the code relies on.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use leadpipe_core::store::LeadStore;
use leadpipe_core::{Leadpipe, Settings};
use leadpipe_delivery::Worker;
use leadpipe_dynamo::{table_definition, DynamoStore};
use leadpipe_http::{app, init_tracing, WebhookServices};
use leadpipe_sqlite::SqliteStore;

mod users;

#[derive(Parser)]
#[command(
    name = "leadpipe",
    version,
    about = "Leadpipe: lead tracking for high-traffic landing pages"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the dashboard (same routers as the Lambdas).
    Serve(ServeArgs),
    /// Print the DynamoDB table definition (CreateTable shape) as JSON.
    TableDefinition,
    /// Create the DynamoDB table named by TABLE_NAME (endpoint from AWS_ENDPOINT_URL…) when it does not exist.
    CreateTable,
    /// Rebuild every analytics counter from the stored leads (after changing PIPELINE_STAGES or
    /// REPORTING_TIMEZONE, or to repair). On DynamoDB, run it with traffic quiet.
    Recount(StoreArgs),
    /// Import leads from a CSV (with a header row) or JSON-lines file, streamed row by row: idempotent by lead id
    /// then email; prints the report as JSON. With --dynamodb the table's stream is applied in this process too,
    /// as `serve --dynamodb` does.
    Import(ImportArgs),
    /// Manage accounts: `leadpipe users create-admin --email E` (password from LEADPIPE_ADMIN_PASSWORD or stdin).
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
}

#[derive(Parser)]
struct ImportArgs {
    /// The file (`-` for standard input).
    file: PathBuf,
    /// Read the file as this format instead of sniffing it from its extension and first line.
    #[arg(long, value_parser = ["csv", "jsonl"])]
    format: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

/// Which store a maintenance command works on.
#[derive(Parser)]
struct StoreArgs {
    /// SQLite database file.
    #[arg(long, default_value = "leadpipe.db")]
    db: PathBuf,
    /// Use DynamoDB (table from TABLE_NAME, endpoint from AWS_ENDPOINT_URL…) instead of SQLite.
    #[arg(long)]
    dynamodb: bool,
}

#[derive(Parser)]
struct ServeArgs {
    /// Port to listen on.
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Address to listen on. Anything but loopback exposes the server; set API keys first.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// SQLite database file (created when missing).
    #[arg(long, default_value = "leadpipe.db")]
    db: PathBuf,
    /// Use DynamoDB (table from TABLE_NAME, endpoint from AWS_ENDPOINT_URL…) instead of SQLite; creates the table when missing.
    #[arg(long)]
    dynamodb: bool,
    /// Folder with the dashboard's static files.
    #[arg(long, env = "LEADPIPE_STATIC_DIR")]
    static_dir: Option<PathBuf>,
}

fn default_static_dir() -> PathBuf {
    let local = PathBuf::from("static-site");
    if local.join("index.html").is_file() {
        local
    } else {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../static-site"))
    }
}

/// The store a command works on, and the webhook worker over it (the same store is its webhook store): on SQLite
/// it drains the store's outbox; on DynamoDB the in-process stream consumer fans each batch out through it. Only
/// `serve` runs its attempt loop; other commands leave the stored deliveries (and SQLite's outbox) to the next
/// `serve`.
async fn open_store(
    db: &std::path::Path,
    dynamodb: bool,
    settings: &Settings,
) -> Result<(Arc<dyn LeadStore>, Arc<Worker>), Box<dyn std::error::Error>> {
    if dynamodb {
        let sdk = leadpipe_dynamo::client::config_for_local_use().await;
        let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME must be set")?;
        let (store, poller) = leadpipe::dynamo_with_local_consumer(
            aws_sdk_dynamodb::Client::new(&sdk),
            aws_sdk_dynamodbstreams::Client::new(&sdk),
            &table,
            settings.counter_rules(),
        );
        store
            .ensure_table()
            .await
            .map_err(|e| format!("cannot reach or create DynamoDB table {table}: {e}"))?;
        let worker = Arc::new(leadpipe::webhooks::worker(Arc::new(store.clone()))?);
        poller.deliver_webhooks(worker.clone());
        poller.spawn(STREAM_POLL_EVERY);
        tracing::info!(
            table = store.table(),
            "using DynamoDB, with its stream consumer in this process"
        );
        Ok((Arc::new(store), worker))
    } else {
        let store = SqliteStore::open(db, settings.counter_rules())
            .map_err(|e| format!("cannot open {}: {e}", db.display()))?;
        let worker = Arc::new(leadpipe::webhooks::sqlite_worker(&store)?);
        tracing::info!(db = %db.display(), "using SQLite");
        Ok((Arc::new(store), worker))
    }
}

/// How often `serve --dynamodb` polls the table's stream (the local analytics lag).
const STREAM_POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

async fn dynamo_from_env(settings: &Settings) -> Result<DynamoStore, Box<dyn std::error::Error>> {
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME must be set")?;
    let sdk = leadpipe_dynamo::client::config_for_local_use().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        table,
        settings.counter_rules(),
    );
    store.ensure_table().await.map_err(|e| {
        format!(
            "cannot reach or create DynamoDB table {}: {e}",
            store.table()
        )
    })?;
    Ok(store)
}

async fn recount(args: StoreArgs) -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    let (leads, store): (usize, Arc<dyn leadpipe_core::store::LeadStore>) = if args.dynamodb {
        let store = dynamo_from_env(&settings).await?;
        let leads = leadpipe_dynamo::recount::recount(&store).await?.leads;
        (leads, Arc::new(store))
    } else {
        let store = SqliteStore::open(&args.db, settings.counter_rules())?;
        (store.recount().await?, Arc::new(store))
    };
    eprintln!("recounted {leads} leads");
    // Leads stored before revenue ranks existed (or ranked with rates since changed) sort by revenue again.
    let app = leadpipe_core::Leadpipe::new(store, settings);
    let reranked = app
        .rerank_revenue(leadpipe_core::money_service::Rerank::All)
        .await?;
    eprintln!("re-ranked {reranked} leads by revenue");
    Ok(())
}

/// Counts the bytes read through it (for the progress display).
struct Counting<R> {
    inner: R,
    read: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

async fn import(args: ImportArgs) -> Result<(), Box<dyn std::error::Error>> {
    use leadpipe_core::domain::import::{Format, Rows};
    use std::io::IsTerminal;
    let settings = Settings::from_env()?;
    let read = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (source, total): (Box<dyn std::io::Read + Send>, Option<u64>) =
        if args.file.as_os_str() == "-" {
            (Box::new(std::io::stdin()), None)
        } else {
            let file = std::fs::File::open(&args.file)
                .map_err(|e| format!("cannot open {}: {e}", args.file.display()))?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(file), size)
        };
    let extension = args
        .file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let format = match (args.format.as_deref(), extension.as_deref()) {
        (Some("csv"), _) | (None, Some("csv")) => Some(Format::Csv),
        (Some("jsonl"), _) | (None, Some("jsonl" | "ndjson")) => Some(Format::JsonLines),
        _ => None,
    };
    let reader = std::io::BufReader::with_capacity(
        256 * 1024,
        Counting {
            inner: source,
            read: read.clone(),
        },
    );
    let rows = Rows::new(reader, format)?;
    let (store, _webhooks) = open_store(&args.store.db, args.store.dynamodb, &settings).await?;
    let app = Leadpipe::new(store.clone(), settings);
    let tty = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let mut last = std::time::Instant::now();
    let show = |rows: u64, done: bool| {
        let bytes = read.load(std::sync::atomic::Ordering::Relaxed);
        let share = total
            .filter(|t| *t > 0)
            .map(|t| format!(" ({}%)", (bytes.min(t) * 100 / t)))
            .unwrap_or_default();
        let rate = rows as f64 / started.elapsed().as_secs_f64().max(0.001);
        let text = format!(
            "{} rows{share}, {} rows/s",
            thousands(rows),
            thousands(rate as u64)
        );
        if tty {
            eprint!("\r{text}   {}", if done { "\n" } else { "" });
        } else {
            eprintln!("{text}");
        }
    };
    let every = if tty {
        std::time::Duration::from_millis(100)
    } else {
        std::time::Duration::from_secs(5)
    };
    let report = app
        .import(rows, |report| {
            if last.elapsed() >= every {
                last = std::time::Instant::now();
                show(report.rows(), false);
            }
        })
        .await?;
    show(report.rows(), true);
    // On DynamoDB, let the stream consumer apply history and counters before exiting.
    store.settle().await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

async fn create_table() -> Result<(), Box<dyn std::error::Error>> {
    let store = dynamo_from_env(&Settings::from_env()?).await?;
    eprintln!("table {} is ready", store.table());
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    if settings.api_key.is_some() && settings.admin_api_key.is_none() {
        return Err("API_KEY is set but ADMIN_API_KEY is not: the dashboard and admin API would be open. Set ADMIN_API_KEY too.".into());
    }
    let keys_off = settings.api_key.is_none() || settings.admin_api_key.is_none();
    if !args.host.is_loopback() && keys_off {
        return Err(format!(
            "refusing to listen on {} without keys: set API_KEY and ADMIN_API_KEY (different values) first, or keep the default 127.0.0.1",
            args.host
        )
        .into());
    }
    for (key, missing) in [
        ("API_KEY", settings.api_key.is_none()),
        ("ADMIN_API_KEY", settings.admin_api_key.is_none()),
    ] {
        if missing {
            eprintln!(
                "WARNING: {key} is unset or \"changeme\": its check is OFF. Fine on this machine; set it before exposing the server."
            );
        }
    }
    let (store, worker) = open_store(&args.db, args.dynamodb, &settings).await?;
    let static_dir = args.static_dir.clone().unwrap_or_else(default_static_dir);
    // The /api/webhooks handlers use the worker's store and wake it when they set a delivery due.
    let webhooks = WebhookServices::new(worker.deliverer().store().clone(), worker.queue());
    let mut router = app(
        leadpipe::all_routes(),
        Leadpipe::new(store, settings),
        Some(static_dir),
    )
    .layer(axum::Extension(webhooks));
    if keys_off {
        // With the key checks off, answer only requests addressed to this machine (no DNS rebinding).
        router = router.layer(axum::middleware::from_fn(local_hosts_only));
    }
    let addr = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    eprintln!("Leadpipe is running: dashboard http://{addr}/  API http://{addr}/api");
    // The webhook worker stops with the server, finishing its attempts in flight (briefly); when the server fails,
    // the dropped sender stops it too.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let deliveries = tokio::spawn(worker.run(async move {
        let mut stopped = stopped;
        let _ = stopped.wait_for(|stop| *stop).await;
    }));
    let served = leadpipe::server::serve(
        listener,
        router,
        leadpipe::server::Limits::from_env(),
        async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        },
    )
    .await;
    let _ = deliveries.await;
    served?;
    eprintln!("Leadpipe stopped.");
    Ok(())
}

/// Refuses requests whose `Host` is not this machine.
async fn local_hosts_only(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if leadpipe::server::is_local_host(host) {
        return next.run(req).await;
    }
    let body = serde_json::json!({"error": {"code": "forbidden", "message": "with the key checks off this server only answers requests for localhost"}});
    (axum::http::StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[tokio::main]
async fn main() {
    init_tracing();
    let result = match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
        Command::TableDefinition => serde_json::to_string_pretty(&table_definition())
            .map(|j| println!("{j}"))
            .map_err(Into::into),
        Command::CreateTable => create_table().await,
        Command::Recount(args) => recount(args).await,
        Command::Import(args) => import(args).await,
        Command::Users { command } => users::run(command).await,
    };
    if let Err(e) = result {
        eprintln!("leadpipe: {e}");
        std::process::exit(1);
    }
}
