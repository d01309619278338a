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
    let default = if on_lambda {
        "warn"
    } else {
        "info,tower_http=warn,aws_config=warn,aws_smithy_runtime=warn"
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| default.parse::<Targets>().unwrap_or_default());
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if on_lambda {
        registry.with(layer.json().without_time()).try_init()
    } else {
        registry
            .with(layer.with_ansi(std::io::stderr().is_terminal()))
            .try_init()
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::log_request;

    /// Log output, kept in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// A GET postback carries the server key in its URL: the request line shows the path, never the query.
    #[tokio::test]
    async fn the_request_line_shows_the_path_without_the_query_or_its_key() {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = Router::new()
            .route("/api/postback", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(log_request));
        let request =
            Request::get("/api/postback?key=server-secret-123&email=a%40b.example&stage=Paid")
                .body(Body::empty())
                .expect("request");
        let response = app.oneshot(request).await.expect("response");
        assert_eq!(response.status(), 200);
        let text =
            String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("utf-8");
        assert!(
            text.contains("path=/api/postback ") && text.contains("status=200"),
            "{text}"
        );
        assert!(
            !text.contains("server-secret-123")
                && !text.contains("key=")
                && !text.contains("b.example"),
            "{text}"
        );
    }
}
