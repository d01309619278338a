//! Standard Webhooks signing and verification (symmetric scheme, `v1` = HMAC-SHA256).
//!
//! Specification: Standard Webhooks 1.0.0, `spec/standard-webhooks.md` in github.com/standard-webhooks/standard-webhooks
//! (read at commit b2fa7b8719fb75d326b591077f5d1b385cfcdfae), section "Verifying webhook authenticity":
//!
//! - Every request carries `webhook-id` (the message id, the same on every retry), `webhook-timestamp` (integer
//!   unix seconds of this *attempt*) and `webhook-signature`.
//! - The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the signature is
//!   `v1,` + base64(HMAC-SHA256(secret bytes, content)). The header is a space-separated list, so a webhook can
//!   be signed with the old and the new secret during a rotation.
//! - Secrets are 24 to 64 random bytes, shown to users base64-encoded with the `whsec_` prefix.
//! - Verifiers compare in constant time and refuse timestamps outside a tolerance (the reference libraries use
//!   5 minutes) to stop replays.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Header carrying the message id.
pub const HEADER_ID: &str = "webhook-id";
/// Header carrying the attempt's unix timestamp in seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying the space-separated signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// The prefix of a serialised symmetric secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Shortest secret the specification allows, in bytes.
pub const MIN_SECRET_BYTES: usize = 24;
/// Longest secret the specification allows, in bytes.
pub const MAX_SECRET_BYTES: usize = 64;
/// Length of the secrets [`Secret::generate`] makes, in bytes.
pub const GENERATED_SECRET_BYTES: usize = 32;
/// The signature scheme identifier of HMAC-SHA256 signatures.
pub const SIGNATURE_VERSION: &str = "v1";
/// How far a timestamp may be from the verifier's clock, either way (the reference libraries' value).
pub const DEFAULT_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// A webhook's signing secret. `Debug` never shows it; it is serialised as `whsec_<base64>` for storage.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

/// Why a secret could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The text after `whsec_` is not standard base64.
    #[error("the secret is not valid base64")]
    InvalidBase64,
    /// The decoded secret is shorter than 24 or longer than 64 bytes.
    #[error("the secret has {0} bytes; Standard Webhooks secrets have 24 to 64")]
    Length(usize),
    /// The operating system's random source failed.
    #[error("no randomness available for a new secret: {0}")]
    Random(String),
}

impl Secret {
    /// A new random secret of [`GENERATED_SECRET_BYTES`] bytes from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = vec![0u8; GENERATED_SECRET_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| SecretError::Random(e.to_string()))?;
        Self::from_bytes(&bytes)
    }

    /// A secret from raw bytes (24 to 64 of them).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            return Err(SecretError::Length(bytes.len()));
        }
        Ok(Self(bytes.to_vec()))
    }

    /// Reads `whsec_<base64>` (the prefix is optional, as in the reference libraries).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| SecretError::InvalidBase64)?;
        Self::from_bytes(&bytes)
    }

    /// The secret as shown to its owner once, and as stored: `whsec_<base64>`.
    pub fn to_whsec(&self) -> String {
        format!("{SECRET_PREFIX}{}", BASE64.encode(&self.0))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(whsec_…redacted)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_whsec())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// HMAC-SHA256 of `{msg_id}.{timestamp}.{body}`.
fn mac(secret: &Secret, msg_id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// One signature, `v1,<base64>`, of `body` sent as message `msg_id` at unix second `timestamp`.
pub fn sign(secret: &Secret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "{SIGNATURE_VERSION},{}",
        BASE64.encode(mac(secret, msg_id, timestamp, body))
    )
}

/// The three Standard Webhooks headers of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp` (unix seconds).
    pub timestamp: i64,
    /// `webhook-signature`: one `v1,…` per secret, space-separated.
    pub signature: String,
}

impl SignedHeaders {
    /// Signs one attempt: `secrets` are the current secret and, during a rotation, the previous ones.
    pub fn new(secrets: &[&Secret], msg_id: &str, at: DateTime<Utc>, body: &[u8]) -> Self {
        let timestamp = at.timestamp();
        let signature = secrets
            .iter()
            .map(|s| sign(s, msg_id, timestamp, body))
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            id: msg_id.to_string(),
            timestamp,
            signature,
        }
    }

    /// The headers as (name, value) pairs, ready for an HTTP client.
    pub fn pairs(&self) -> [(&'static str, String); 3] {
        [
            (HEADER_ID, self.id.clone()),
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_SIGNATURE, self.signature.clone()),
        ]
    }
}

/// The Standard Webhooks headers of a received request, as the receiver's HTTP layer found them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceivedHeaders<'a> {
    /// `webhook-id`, if present.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`, if present.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`, if present.
    pub signature: Option<&'a str>,
}

/// Why a received webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required header is absent (or empty).
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not an integer.
    #[error("webhook-timestamp is not an integer")]
    InvalidTimestamp,
    /// The timestamp is older than the tolerance allows (a replay, or a very slow delivery).
    #[error("webhook-timestamp is too old")]
    TimestampTooOld,
    /// The timestamp is further in the future than the tolerance allows.
    #[error("webhook-timestamp is too far in the future")]
    TimestampInFuture,
    /// No `v1` signature in the header matches.
    #[error("no valid signature")]
    NoValidSignature,
}

/// Checks received webhooks against one secret.
#[derive(Debug, Clone)]
pub struct Verifier {
    secret: Secret,
    tolerance: TimeDelta,
}

impl Verifier {
    /// A verifier with the default 5-minute tolerance.
    pub fn new(secret: Secret) -> Self {
        Self {
            secret,
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// The same verifier with another timestamp tolerance.
    pub fn with_tolerance(mut self, tolerance: TimeDelta) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies one request at `now`: headers present, timestamp within tolerance, and at least one `v1`
    /// signature of the space-separated list matching (compared in constant time). Signatures of other schemes
    /// (`v1a`, …) are skipped, as the specification asks.
    pub fn verify(
        &self,
        headers: &ReceivedHeaders<'_>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        fn present<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, VerifyError> {
            value
                .filter(|s| !s.is_empty())
                .ok_or(VerifyError::MissingHeader(name))
        }
        let id = present(headers.id, HEADER_ID)?;
        let timestamp = present(headers.timestamp, HEADER_TIMESTAMP)?;
        let signatures = present(headers.signature, HEADER_SIGNATURE)?;
        let timestamp: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::InvalidTimestamp)?;
        let now = now.timestamp();
        let tolerance = self.tolerance.num_seconds();
        if now.saturating_sub(timestamp) > tolerance {
            return Err(VerifyError::TimestampTooOld);
        }
        if timestamp.saturating_sub(now) > tolerance {
            return Err(VerifyError::TimestampInFuture);
        }
        let expected = mac(&self.secret, id, timestamp, body);
        let matched = signatures
            .split(' ')
            .filter_map(|s| s.split_once(','))
            .filter(|(version, _)| *version == SIGNATURE_VERSION)
            .filter_map(|(_, encoded)| BASE64.decode(encoded).ok())
            .fold(false, |found, candidate| {
                found | bool::from(candidate.as_slice().ct_eq(&expected))
            });
        if matched {
            Ok(())
        } else {
            Err(VerifyError::NoValidSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Published test vectors of the Standard Webhooks reference libraries, github.com/standard-webhooks/standard-webhooks
    // at commit b2fa7b8719fb75d326b591077f5d1b385cfcdfae:
    // - libraries/go/webhook_test.go, TestWebhookSign (the same vector is in libraries/javascript/src/webhook.test.ts);
    // - libraries/rust/src/lib.rs, test_sign.
    const GO_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const GO_MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const GO_TIMESTAMP: i64 = 1614265330;
    const GO_PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const GO_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    const RUST_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const RUST_MSG_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const RUST_TIMESTAMP: i64 = 1649367553;
    const RUST_PAYLOAD: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const RUST_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn unix(t: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(t, 0).unwrap()
    }

    fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> ReceivedHeaders<'a> {
        ReceivedHeaders {
            id: Some(id),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn signs_the_published_vectors() {
        let go = Secret::parse(GO_SECRET).unwrap();
        assert_eq!(sign(&go, GO_MSG_ID, GO_TIMESTAMP, GO_PAYLOAD), GO_SIGNATURE);
        let rust = Secret::parse(RUST_SECRET).unwrap();
        assert_eq!(
            sign(&rust, RUST_MSG_ID, RUST_TIMESTAMP, RUST_PAYLOAD),
            RUST_SIGNATURE
        );
    }

    #[test]
    fn verifies_the_published_vectors_at_their_time() {
        let v = Verifier::new(Secret::parse(GO_SECRET).unwrap());
        let ts = GO_TIMESTAMP.to_string();
        assert_eq!(
            v.verify(
                &headers(GO_MSG_ID, &ts, GO_SIGNATURE),
                GO_PAYLOAD,
                unix(GO_TIMESTAMP)
            ),
            Ok(())
        );
        let v = Verifier::new(Secret::parse(RUST_SECRET).unwrap());
        let ts = RUST_TIMESTAMP.to_string();
        assert_eq!(
            v.verify(
                &headers(RUST_MSG_ID, &ts, RUST_SIGNATURE),
                RUST_PAYLOAD,
                unix(RUST_TIMESTAMP + 299)
            ),
            Ok(())
        );
    }

    #[test]
    fn refuses_tampering() {
        let v = Verifier::new(Secret::parse(GO_SECRET).unwrap());
        let ts = GO_TIMESTAMP.to_string();
        let now = unix(GO_TIMESTAMP);
        // The published "invalid signature" vector differs from the valid one in its last character.
        let bad = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=";
        assert_eq!(
            v.verify(&headers(GO_MSG_ID, &ts, bad), GO_PAYLOAD, now),
            Err(VerifyError::NoValidSignature)
        );
        assert_eq!(
            v.verify(
                &headers(GO_MSG_ID, &ts, GO_SIGNATURE),
                br#"{"test": 2432232315}"#,
                now
            ),
            Err(VerifyError::NoValidSignature)
        );
        assert_eq!(
            v.verify(&headers("msg_other", &ts, GO_SIGNATURE), GO_PAYLOAD, now),
            Err(VerifyError::NoValidSignature)
        );
        let next = (GO_TIMESTAMP + 1).to_string();
        assert_eq!(
            v.verify(&headers(GO_MSG_ID, &next, GO_SIGNATURE), GO_PAYLOAD, now),
            Err(VerifyError::NoValidSignature)
        );
        for partial in [
            "v1,",
            "v1,g0hM9SsE",
            "v1",
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ] {
            assert_eq!(
                v.verify(&headers(GO_MSG_ID, &ts, partial), GO_PAYLOAD, now),
                Err(VerifyError::NoValidSignature),
                "{partial}"
            );
        }
        let other = Verifier::new(Secret::parse(RUST_SECRET).unwrap());
        assert_eq!(
            other.verify(&headers(GO_MSG_ID, &ts, GO_SIGNATURE), GO_PAYLOAD, now),
            Err(VerifyError::NoValidSignature)
        );
    }

    #[test]
    fn accepts_any_of_several_signatures() {
        let v = Verifier::new(Secret::parse(GO_SECRET).unwrap());
        let ts = GO_TIMESTAMP.to_string();
        let now = unix(GO_TIMESTAMP);
        // As in the reference libraries' multi-signature tests: other versions and wrong v1 values around the valid one.
        let multi = format!("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {GO_SIGNATURE} v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==");
        assert_eq!(
            v.verify(&headers(GO_MSG_ID, &ts, &multi), GO_PAYLOAD, now),
            Ok(())
        );
        let none_valid = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ=";
        assert_eq!(
            v.verify(&headers(GO_MSG_ID, &ts, none_valid), GO_PAYLOAD, now),
            Err(VerifyError::NoValidSignature)
        );
    }

    #[test]
    fn enforces_the_timestamp_tolerance() {
        let v = Verifier::new(Secret::parse(GO_SECRET).unwrap());
        let ts = GO_TIMESTAMP.to_string();
        let h = headers(GO_MSG_ID, &ts, GO_SIGNATURE);
        assert_eq!(
            v.verify(&h, GO_PAYLOAD, unix(GO_TIMESTAMP + 300)),
            Ok(()),
            "exactly 5 minutes old"
        );
        assert_eq!(
            v.verify(&h, GO_PAYLOAD, unix(GO_TIMESTAMP + 301)),
            Err(VerifyError::TimestampTooOld)
        );
        assert_eq!(v.verify(&h, GO_PAYLOAD, unix(GO_TIMESTAMP - 300)), Ok(()));
        assert_eq!(
            v.verify(&h, GO_PAYLOAD, unix(GO_TIMESTAMP - 301)),
            Err(VerifyError::TimestampInFuture)
        );
        let lax = v.clone().with_tolerance(TimeDelta::hours(1));
        assert_eq!(
            lax.verify(&h, GO_PAYLOAD, unix(GO_TIMESTAMP + 3600)),
            Ok(())
        );
    }

    #[test]
    fn refuses_missing_or_malformed_headers() {
        let v = Verifier::new(Secret::parse(GO_SECRET).unwrap());
        let now = unix(GO_TIMESTAMP);
        let ts = GO_TIMESTAMP.to_string();
        let full = headers(GO_MSG_ID, &ts, GO_SIGNATURE);
        assert_eq!(
            v.verify(&ReceivedHeaders { id: None, ..full }, GO_PAYLOAD, now),
            Err(VerifyError::MissingHeader(HEADER_ID))
        );
        assert_eq!(
            v.verify(
                &ReceivedHeaders {
                    timestamp: None,
                    ..full
                },
                GO_PAYLOAD,
                now
            ),
            Err(VerifyError::MissingHeader(HEADER_TIMESTAMP))
        );
        assert_eq!(
            v.verify(
                &ReceivedHeaders {
                    signature: Some(""),
                    ..full
                },
                GO_PAYLOAD,
                now
            ),
            Err(VerifyError::MissingHeader(HEADER_SIGNATURE))
        );
        assert_eq!(
            v.verify(
                &ReceivedHeaders {
                    timestamp: Some("hello"),
                    ..full
                },
                GO_PAYLOAD,
                now
            ),
            Err(VerifyError::InvalidTimestamp)
        );
        assert_eq!(
            v.verify(
                &ReceivedHeaders {
                    timestamp: Some("1614265330.5"),
                    ..full
                },
                GO_PAYLOAD,
                now
            ),
            Err(VerifyError::InvalidTimestamp)
        );
    }

    #[test]
    fn signed_headers_round_trip_and_support_rotation() {
        let old = Secret::parse(GO_SECRET).unwrap();
        let new = Secret::generate().unwrap();
        let at = unix(1_700_000_000);
        let body = br#"{"type":"lead.created"}"#;
        let h = SignedHeaders::new(&[&new, &old], "msg_abc", at, body);
        assert_eq!(h.timestamp, 1_700_000_000);
        assert_eq!(h.signature.split(' ').count(), 2);
        let ts = h.timestamp.to_string();
        let received = headers(&h.id, &ts, &h.signature);
        assert_eq!(Verifier::new(new).verify(&received, body, at), Ok(()));
        assert_eq!(Verifier::new(old).verify(&received, body, at), Ok(()));
        let pairs = h.pairs();
        assert_eq!(pairs[0], (HEADER_ID, "msg_abc".to_string()));
        assert_eq!(pairs[1], (HEADER_TIMESTAMP, "1700000000".to_string()));
        assert_eq!(pairs[2].0, HEADER_SIGNATURE);
    }

    #[test]
    fn generated_secrets_are_random_and_well_formed() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_bytes().len(), GENERATED_SECRET_BYTES);
        let text = a.to_whsec();
        assert!(text.starts_with("whsec_"));
        assert_eq!(Secret::parse(&text).unwrap(), a);
    }

    #[test]
    fn secret_parsing_checks_encoding_and_length() {
        assert_eq!(
            Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            Secret::parse(GO_SECRET).unwrap(),
            "prefix optional"
        );
        assert_eq!(Secret::parse("whsec_"), Err(SecretError::Length(0)));
        assert_eq!(
            Secret::parse("whsec_not base64!"),
            Err(SecretError::InvalidBase64)
        );
        assert_eq!(
            Secret::parse(&format!("whsec_{}", BASE64.encode([7u8; 23]))),
            Err(SecretError::Length(23))
        );
        assert_eq!(
            Secret::parse(&format!("whsec_{}", BASE64.encode([7u8; 65]))),
            Err(SecretError::Length(65))
        );
        assert!(Secret::from_bytes(&[7u8; 24]).is_ok());
        assert!(Secret::from_bytes(&[7u8; 64]).is_ok());
    }

    #[test]
    fn secrets_never_show_in_debug_and_serialise_as_whsec() {
        let s = Secret::parse(GO_SECRET).unwrap();
        assert!(!format!("{s:?}").contains("MfKQ"));
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!(GO_SECRET)
        );
        let back: Secret = serde_json::from_value(serde_json::json!(GO_SECRET)).unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_value::<Secret>(serde_json::json!("whsec_short")).is_err());
    }
}
