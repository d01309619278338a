//! The HTTP half of an attempt: POST one delivery's body, signed, and say what came back.

use std::time::Duration;

use chrono::{DateTime, Utc};
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

/// Sends deliveries: one HTTP client (connection pool, TLS configuration) built once per process and shared.
///
/// Redirects are not followed (a 3xx counts as a rejection: the owner should fix the URL), and no response body
/// is read.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
}

impl Sender {
    /// A sender with the [`TIMEOUT`] per attempt.
    pub fn new() -> Result<Self, SenderError> {
        Self::with_timeout(TIMEOUT)
    }

    /// A sender with another timeout per attempt (tests of slow endpoints).
    pub fn with_timeout(timeout: Duration) -> Result<Self, SenderError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| SenderError(e.to_string()))?;
        Ok(Self { client })
    }

    /// POSTs `delivery.payload` to `webhook`'s URL with `content-type: application/json` and the Standard Webhooks
    /// headers signed at `now`, and reports the outcome: the status and `Retry-After`, a timeout, or a network error
    /// (whose text never includes the URL, which may carry a token such as GA4's `api_secret`).
    pub async fn send(&self, webhook: &StoredWebhook, delivery: &Delivery, now: DateTime<Utc>) -> AttemptOutcome {
        let body = delivery.payload.as_bytes();
        let signed = SignedHeaders::new(&[&webhook.webhook.secret], &delivery.message_id, now, body);
        let mut request =
            self.client.post(&webhook.webhook.url).header(CONTENT_TYPE, HeaderValue::from_static("application/json")).body(body.to_vec());
        for (name, value) in signed.pairs() {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => {
                let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| parse_retry_after(v, now));
                AttemptOutcome::Response { status: response.status().as_u16(), retry_after }
            }
            Err(e) if e.is_timeout() => AttemptOutcome::Timeout,
            Err(e) => AttemptOutcome::Network(describe(e)),
        }
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
