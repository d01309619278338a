//! Idempotent postbacks: a postback sent with an `event_id` (body) or an `Idempotency-Key` (header) is applied
//! once; a repeat within [`IDEMPOTENCY_HOURS`] answers the first response (same status, same body) and changes
//! nothing.
//!
//! How it holds under concurrency, on every store: the key is first *claimed* — a conditional write that exactly
//! one of many concurrent repeats wins — then the postback is applied, then its response is stored under the key.
//! A repeat that finds a claim without a response waits for it (polling, backing off, for up to [`IN_PROGRESS_WAIT_MS`]) and
//! then answers 409 `conflict` ("still being processed; retry shortly") — never a second application. A claim
//! whose process died before storing the response is taken over once its lease ([`CLAIM_LEASE_SECS`]) has run
//! out, so a crash delays a retried event by at most the lease instead of losing it; the postback is then
//! applied again, which a crash between the lead write and the response write makes a second application (the
//! one window left, as narrow as two consecutive writes). A postback that fails (the store is unavailable)
//! releases its claim, so the sender's retry is applied.
//!
//! Keys are scoped per caller tier (`server#…`, `public#…`): the browser key — public by design — can never
//! replay or read a response given to the server key. Every holder of the browser key shares its scope, so a key
//! is also bound to a digest of the request body: pre-claiming someone's event id, or replaying it with another
//! body, only ever applies the new body as its own event. Browser-side event ids should still be unguessable.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::postback::Parsed;
use crate::ingest::{Caller, Ingested, Origin};
use crate::service::{now, Leadpipe, ServiceError};
use crate::store::IdempotencyClaim;
use crate::ValidationError;

/// How long a key is remembered.
pub const IDEMPOTENCY_HOURS: i64 = 24;
/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 255;
/// How long a claim without a response blocks repeats before another request may take it over.
pub const CLAIM_LEASE_SECS: i64 = 30;
/// How long a repeat waits for the first request's response before answering 409.
pub const IN_PROGRESS_WAIT_MS: u64 = 5_000;
/// The header the key may be sent in.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// A client's idempotency key: 1 to [`MAX_KEY_BYTES`] bytes of printable text (no control characters, no
/// leading or trailing spaces).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Validates a key as sent; `field` names where it came from in the error.
    pub fn parse(raw: &str, field: &str) -> Result<Self, ValidationError> {
        if raw.is_empty()
            || raw.len() > MAX_KEY_BYTES
            || raw.trim() != raw
            || raw.chars().any(char::is_control)
        {
            return Err(ValidationError::field(
                field,
                format!("{field} must be 1 to {MAX_KEY_BYTES} bytes of printable text without surrounding spaces"),
            ));
        }
        Ok(Self(raw.to_string()))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as stored: scoped to the caller's tier, so tiers never share responses, and bound to the body it
    /// came with (a digest of it), so only the same request is answered again: a different body sent with a key
    /// someone else used is applied as its own event, never answered with their response or token.
    pub fn scoped(&self, caller: Caller, body: &[u8]) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(body);
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}#{}#{hex}", caller.as_str(), self.0)
    }
}

/// A response kept under an idempotency key and answered again to repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: String,
}

impl StoredResponse {
    /// The response a postback's outcome is answered with: 201 created / 200 updated (server key), 202 (browser
    /// key), with the outcome as JSON.
    pub fn of(ingested: &Ingested) -> Result<Self, ServiceError> {
        let (status, body) = match ingested {
            Ingested::Server(o) => (if o.created { 201 } else { 200 }, serde_json::to_string(o)),
            Ingested::Public(o) => (202, serde_json::to_string(o)),
        };
        Ok(Self {
            status,
            body: body
                .map_err(|e| ServiceError::Internal(format!("outcome does not serialise: {e}")))?,
        })
    }
}

/// A postback's answer, and whether it is a repeat's replay of the first one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// What to answer.
    pub response: StoredResponse,
    /// True when this request changed nothing and answers the first request's response.
    pub replayed: bool,
}

impl Leadpipe {
    /// [`Leadpipe::ingest`] applied at most once per `key` and `body` (the request body as received, see the module
    /// documentation); without a key, simply ingests.
    pub async fn ingest_once(
        &self,
        parsed: Parsed,
        caller: Caller,
        origin: &Origin,
        key: Option<&IdempotencyKey>,
        body: &[u8],
    ) -> Result<Answer, ServiceError> {
        let Some(key) = key else {
            let ingested = self.ingest(parsed, caller, origin).await?;
            return Ok(Answer {
                response: StoredResponse::of(&ingested)?,
                replayed: false,
            });
        };
        let scoped = key.scoped(caller, body);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(IN_PROGRESS_WAIT_MS);
        // Polls back off from 20 ms to 320 ms: a repeat usually finds the response within one or two reads, and
        // many waiting repeats do not flood the store.
        let mut pause = Duration::from_millis(20);
        loop {
            let at = now();
            let lease_until = at + chrono::Duration::seconds(CLAIM_LEASE_SECS);
            let expires_at = at + chrono::Duration::hours(IDEMPOTENCY_HOURS);
            match self
                .store
                .claim_idempotency(&scoped, at, lease_until, expires_at)
                .await?
            {
                IdempotencyClaim::Done(response) => {
                    return Ok(Answer {
                        response,
                        replayed: true,
                    })
                }
                IdempotencyClaim::InProgress if tokio::time::Instant::now() + pause < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(320));
                }
                IdempotencyClaim::InProgress => return Err(ServiceError::InProgress),
                IdempotencyClaim::Claimed => {
                    return self
                        .apply_claimed(parsed, caller, origin, &scoped, expires_at)
                        .await
                }
            }
        }
    }

    async fn apply_claimed(
        &self,
        parsed: Parsed,
        caller: Caller,
        origin: &Origin,
        scoped: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<Answer, ServiceError> {
        let response = match self
            .ingest(parsed, caller, origin)
            .await
            .and_then(|i| StoredResponse::of(&i))
        {
            Ok(response) => response,
            Err(e) => {
                // Nothing was applied: free the key so the sender's retry is.
                if let Err(release) = self.store.release_idempotency(scoped).await {
                    tracing::warn!(error = %release, "could not release an idempotency claim; repeats wait for its lease");
                }
                return Err(e);
            }
        };
        // The postback is applied: a response that cannot be stored must not fail it (a retry would be refused
        // as in progress until the lease ends, then applied again), so it is logged.
        if let Err(e) = self
            .store
            .complete_idempotency(scoped, &response, expires_at)
            .await
        {
            tracing::warn!(error = %e, "could not store an idempotent postback's response");
        }
        Ok(Answer {
            response,
            replayed: false,
        })
    }
}

/// The idempotency key of a postback: the `Idempotency-Key` header if sent (a bad one is a 400), else the body's
/// `event_id` (already checked by the parser).
pub fn postback_key(
    header: Option<&str>,
    event_id: Option<&IdempotencyKey>,
) -> Result<Option<IdempotencyKey>, ValidationError> {
    match header {
        Some(h) => IdempotencyKey::parse(h, "Idempotency-Key").map(Some),
        None => Ok(event_id.cloned()),
    }
}

/// An `Idempotency-Key` header that is not text is a 400.
pub fn header_not_text() -> ValidationError {
    ValidationError::field("Idempotency-Key", "Idempotency-Key must be printable text")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_printable_text_scoped_per_tier() {
        let k = IdempotencyKey::parse("evt_123", "event_id").expect("valid");
        let server = k.scoped(Caller::Server, b"{}");
        assert!(
            server.starts_with("server#evt_123#") && server.len() == 15 + 16,
            "{server}"
        );
        assert!(k
            .scoped(Caller::Public, b"{}")
            .starts_with("public#evt_123#"));
        assert_eq!(
            server,
            k.scoped(Caller::Server, b"{}"),
            "the same request, the same key"
        );
        assert_ne!(
            server,
            k.scoped(Caller::Server, b"{\"a\":1}"),
            "another body, another key"
        );
        for bad in ["", " padded", "tab\tin", &"x".repeat(MAX_KEY_BYTES + 1)] {
            let e = IdempotencyKey::parse(bad, "event_id").expect_err(bad);
            assert_eq!(e.field.as_deref(), Some("event_id"));
        }
        assert!(IdempotencyKey::parse(&"é".repeat(MAX_KEY_BYTES / 2), "event_id").is_ok());
        let b = IdempotencyKey("b".into());
        assert_eq!(
            postback_key(Some("h"), Some(&b)).expect("ok").map(|k| k.0),
            Some("h".into())
        );
        assert_eq!(
            postback_key(None, Some(&b)).expect("ok").map(|k| k.0),
            Some("b".into())
        );
        assert!(postback_key(Some(" h"), Some(&b)).is_err());
        assert_eq!(postback_key(None, None).expect("ok"), None);
    }
}
