//! The local HTTP server under `leadpipe serve`: HTTP/1.1 with the limits a server facing the internet needs.
//!
//! - **Header-read and idle timeout** ([`Limits::header_read_timeout`]): a connection that does not send a complete
//!   request head in time — a slow-loris, or an idle keep-alive connection — is closed.
//! - **Body-read and request timeouts** ([`Limits::request_timeout`]): a request whose body trickles, or whose
//!   handling hangs, is answered 408/503 and dropped.
//! - **Connection limit** ([`Limits::max_connections`], kept well under the process's file-descriptor limit):
//!   when it is reached, the oldest connection that has not sent a request yet is closed to make room, so idle
//!   sockets opened by the thousand cannot lock out real clients (who send their request as soon as they connect).
//! - **Graceful shutdown**: on the signal, stop accepting, let in-flight requests finish, then return.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tower::ServiceExt;

/// The server's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest wait for a request head, idle keep-alive time included.
    pub header_read_timeout: Duration,
    /// Longest time to read a body and answer.
    pub request_timeout: Duration,
    /// Most open connections.
    pub max_connections: usize,
    /// Longest wait for in-flight requests at shutdown.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: default_max_connections(),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl Limits {
    /// The defaults, with `LEADPIPE_MAX_CONNECTIONS` and `LEADPIPE_HEADER_TIMEOUT_SECS` applied when set.
    pub fn from_env() -> Self {
        let mut limits = Self::default();
        let number = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
        };
        if let Some(n) = number("LEADPIPE_MAX_CONNECTIONS") {
            limits.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = number("LEADPIPE_HEADER_TIMEOUT_SECS") {
            limits.header_read_timeout = Duration::from_secs(n);
        }
        limits
    }
}

/// Half the file-descriptor limit (the rest is for the database, DynamoDB connections and the like), at most 8,192.
fn default_max_connections() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse::<usize>().ok())
        })
        .unwrap_or(1024);
    (soft / 2).clamp(64, 8192)
}

/// One open connection, as the accept loop tracks it.
struct Tracked {
    id: u64,
    /// Set once the connection has sent a request: it is then never evicted for room.
    active: Arc<AtomicBool>,
    evict: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct Connections {
    open: Mutex<VecDeque<Tracked>>,
    next: AtomicU64,
}

impl Connections {
    /// Registers a connection; when at the limit, closes the oldest one that has not sent a request yet. Returns
    /// `None` when there is no room (every open connection is busy).
    fn admit(&self, max: usize) -> Option<(u64, Arc<AtomicBool>, oneshot::Receiver<()>)> {
        let mut open = self.open.lock().ok()?;
        if open.len() >= max {
            let idle = open
                .iter()
                .position(|c| !c.active.load(Ordering::Acquire))?;
            if let Some(mut oldest) = open.remove(idle) {
                if let Some(evict) = oldest.evict.take() {
                    let _ = evict.send(());
                }
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let active = Arc::new(AtomicBool::new(false));
        let (evict, evicted) = oneshot::channel();
        open.push_back(Tracked {
            id,
            active: Arc::clone(&active),
            evict: Some(evict),
        });
        Some((id, active, evicted))
    }

    fn close(&self, id: u64) {
        if let Ok(mut open) = self.open.lock() {
            open.retain(|c| c.id != id);
        }
    }

    fn count(&self) -> usize {
        self.open.lock().map(|o| o.len()).unwrap_or(0)
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then waits for in-flight requests (up to the grace).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let router = router.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        limits.request_timeout,
    ));
    let connections = Arc::new(Connections::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or the like: back off a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some((id, active, evicted)) = connections.admit(limits.max_connections) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (router, connections, mut stop) =
            (router.clone(), Arc::clone(&connections), stop_rx.clone());
        tokio::spawn(async move {
            let service = tower::service_fn(
                move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                    active.store(true, Ordering::Release);
                    req.extensions_mut().insert(ConnectInfo(peer));
                    router.clone().oneshot(req.map(axum::body::Body::new))
                },
            );
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = evicted => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
            connections.close(id);
        });
    }
    let _ = stop_tx.send(true);
    let deadline = tokio::time::Instant::now() + limits.shutdown_grace;
    while connections.count() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// The address a request's `Host` header may name when every key check is off: only this machine, so a web page
/// elsewhere cannot reach the open API through DNS rebinding.
pub fn is_local_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host
            }
        }),
    };
    matches!(
        name.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "::1"
    ) || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_is_a_local_host() {
        for ok in [
            "localhost",
            "localhost:3000",
            "127.0.0.1:3000",
            "[::1]:3000",
            "app.localhost:8080",
        ] {
            assert!(is_local_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:3000",
            "127.0.0.1.evil.example",
            "192.168.1.5:3000",
            "[2001:db8::1]:3000",
        ] {
            assert!(!is_local_host(bad), "{bad}");
        }
    }

    #[test]
    fn at_the_limit_the_oldest_idle_connection_makes_room() {
        let c = Connections::default();
        let (a, a_active, _) = c.admit(2).unwrap();
        let (_b, _, mut b_evicted) = c.admit(2).unwrap();
        a_active.store(true, Ordering::Release);
        let (_c, _, _) = c.admit(2).expect("room made by closing the idle one");
        assert!(
            b_evicted.try_recv().is_ok(),
            "b never sent a request: closed"
        );
        assert_eq!(c.count(), 2);
        c.close(a);
        assert_eq!(c.count(), 1);
    }
}
