//! Logging: JSON lines on Lambda (for CloudWatch), plain text elsewhere (colours only on a terminal), and one
//! line per request with method, path, status and duration — never keys, query strings or bodies.

use std::io::IsTerminal;
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// Initialises logging once; `RUST_LOG` filters (`level` or `target=level`, comma-separated; an unparsable value
/// falls back to the default). Default: `info` locally (a line per request), `warn` on Lambda (CloudWatch Logs bill
/// per byte; API Gateway access logs are the per-request record there). A `Targets` filter, not `EnvFilter`: the
/// same directives without linking a regex engine into every Lambda.
pub fn init_tracing() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let default = if on_lambda { "warn" } else { "info,tower_http=warn,aws_config=warn,aws_smithy_runtime=warn" };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| default.parse::<Targets>().unwrap_or_default());
    let layer = tracing_subscriber::fmt::layer().with_target(false).with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if on_lambda {
        registry.with(layer.json().without_time()).try_init()
    } else {
        registry.with(layer.with_ansi(std::io::stderr().is_terminal())).try_init()
    };
}

/// Middleware: logs `method path status duration_ms` for every request, at `info`.
pub async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(method = %method, path = %path, status = response.status().as_u16(), duration_ms = format!("{ms:.1}"), "request");
    response
}
