//! The HTTP half of an attempt: POST one delivery's body, signed, and say what came back.
//!
//! Server-side request forgery: `WebhookSpec` refuses URLs whose host is a non-public IP literal, but a host *name*
//! can resolve to one (the cloud metadata address, the VPC). The sender therefore resolves names itself and
//! connects only to public addresses ([`leadpipe_webhooks::config::is_public`]); with [`Reach::Local`] (a
//! `leadpipe serve` on someone's machine) loopback addresses are allowed too, as `WebhookSpec` allows
//! `http://localhost` and `http://127.0.0.1`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use leadpipe_webhooks::config::is_public;
use leadpipe_webhooks::retry::parse_retry_after;
use leadpipe_webhooks::{AttemptOutcome, Delivery, SignedHeaders, StoredWebhook};
use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};

/// How long one attempt may take, connection included (the Standard Webhooks specification recommends 15–30 s).
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// The `User-Agent` of every delivery.
pub const USER_AGENT: &str = concat!("Leadpipe-Webhooks/", env!("CARGO_PKG_VERSION"));

/// Why a [`Sender`] could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client: {0}")]
pub struct SenderError(String);

/// Which addresses deliveries may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Public addresses only (AWS: never the metadata service, the VPC or the Lambda runtime API).
    Public,
    /// Public and loopback addresses (`leadpipe serve`: a receiver on the same machine).
    Local,
}

impl Reach {
    fn allows(self, ip: IpAddr) -> bool {
        is_public(ip) || (self == Self::Local && ip.is_loopback())
    }
}

/// Sends deliveries: one HTTP client (connection pool, TLS configuration) built once per process and shared.
///
/// Redirects are not followed (a 3xx counts as a rejection: the owner should fix the URL), no response body is
/// read, and only the addresses its [`Reach`] allows are connected to.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    reach: Reach,
}

impl Sender {
    /// A sender with the [`TIMEOUT`] per attempt.
    pub fn new(reach: Reach) -> Result<Self, SenderError> {
        Self::with_timeout(reach, TIMEOUT)
    }

    /// A sender with another timeout per attempt (tests of slow endpoints).
    pub fn with_timeout(reach: Reach, timeout: Duration) -> Result<Self, SenderError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .dns_resolver(Arc::new(Resolver(reach)))
            .build()
            .map_err(|e| SenderError(e.to_string()))?;
        Ok(Self { client, reach })
    }

    /// POSTs `delivery.payload` to `webhook`'s URL with `content-type: application/json` and the Standard Webhooks
    /// headers signed at `now`, and reports the outcome: the status and `Retry-After`, a timeout, or a network error
    /// (whose text never includes the URL, which may carry a token such as GA4's `api_secret`).
    pub async fn send(
        &self,
        webhook: &StoredWebhook,
        delivery: &Delivery,
        now: DateTime<Utc>,
    ) -> AttemptOutcome {
        match reqwest::Url::parse(&webhook.webhook.url).map(|u| u.host().map(|h| h.to_owned())) {
            Ok(Some(url::Host::Ipv4(ip))) if !self.reach.allows(IpAddr::V4(ip)) => {
                return refused(IpAddr::V4(ip))
            }
            Ok(Some(url::Host::Ipv6(ip))) if !self.reach.allows(IpAddr::V6(ip)) => {
                return refused(IpAddr::V6(ip))
            }
            _ => {}
        }
        let body = delivery.payload.as_bytes();
        let signed =
            SignedHeaders::new(&[&webhook.webhook.secret], &delivery.message_id, now, body);
        let mut request = self
            .client
            .post(&webhook.webhook.url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body.to_vec());
        for (name, value) in signed.pairs() {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => {
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, now));
                AttemptOutcome::Response {
                    status: response.status().as_u16(),
                    retry_after,
                }
            }
            Err(e) if e.is_timeout() => AttemptOutcome::Timeout,
            Err(e) => AttemptOutcome::Network(describe(e)),
        }
    }
}

fn refused(ip: IpAddr) -> AttemptOutcome {
    AttemptOutcome::Network(format!("refused to connect to {ip}: not a public address"))
}

/// Resolves host names, keeping only the addresses a [`Reach`] allows.
struct Resolver(Reach);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let reach = self.0;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| reach.allows(a.ip()))
                .collect();
            if allowed.is_empty() {
                let text = if found.is_empty() {
                    format!("{host} resolves to no address")
                } else {
                    format!("refused to connect to {host}: it resolves to no public address")
                };
                return Err(text.into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// An error's text with its causes (`error sending request: connection refused …`), without the URL.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
