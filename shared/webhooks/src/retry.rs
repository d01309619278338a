//! At-least-once delivery: one delivery's state machine, the retry schedule, and when to give up on an endpoint.
//!
//! A delivery worker (elsewhere) loads due [`Delivery`]s, signs and POSTs each body, then calls
//! [`Delivery::record_attempt`] with what happened and [`EndpointHealth::record`] for the webhook; both are pure
//! and take `now` and a random source, so the schedule is testable to the second.
//!
//! How outcomes are treated ([`OutcomeClass`], following the Standard Webhooks "Delivery success and failure"
//! section):
//!
//! | outcome | delivery | endpoint |
//! | --- | --- | --- |
//! | 2xx | delivered | healthy again (counters reset) |
//! | 410 Gone | failed at once | disabled at once |
//! | 408, 425, 429, 5xx, timeout, connection error | retried (a `Retry-After` is honoured, capped) | failing |
//! | any other status (1xx, 3xx, other 4xx) | retried too: the owner may fix the endpoint | failing, and counts toward [`DisablePolicy::max_rejections`] |
//!
//! Schedule ([`RetryPolicy::default`]): the first attempt is immediate; after a failure the next comes after
//! 10 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, then every 8 h, each delay stretched by up to 20 % of
//! random jitter. A delivery keeps being retried until an attempt fails 24 hours or more after its first attempt;
//! then it is `failed` (with the default delays, the 11th or 12th attempt, 24 to about 38 hours in).
//!
//! An endpoint is disabled, with a reason its owner sees ([`DisableReason`]), when it answers 410, when it has
//! failed every attempt for 24 hours, or when it has rejected 20 attempts (other 3xx/4xx) with no success
//! between: a wrong URL or a revoked token does not fix itself, so it should not take a day to notice.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::EventType;
use crate::webhook::Dispatch;

/// Longest error text kept on a delivery.
const MAX_ERROR_CHARS: usize = 500;

/// What one delivery attempt came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The endpoint answered.
    Response {
        /// The HTTP status code.
        status: u16,
        /// The `Retry-After` header, if any, read with [`parse_retry_after`].
        retry_after: Option<TimeDelta>,
    },
    /// No answer within the request timeout (15–30 s is the specification's recommendation).
    Timeout,
    /// The request could not be made or completed (DNS, TLS, connection reset, …).
    Network(String),
}

/// How an outcome counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeClass {
    /// 2xx.
    Success,
    /// 410 Gone: the receiver wants no more webhooks.
    Gone,
    /// Probably temporary: 408, 425, 429, 5xx, timeouts, connection errors.
    Transient,
    /// Any other answer (1xx, 3xx, other 4xx): retried, and counted against the endpoint.
    Rejected,
}

impl AttemptOutcome {
    /// How this outcome counts.
    pub fn class(&self) -> OutcomeClass {
        match self {
            Self::Response { status, .. } => match status {
                200..=299 => OutcomeClass::Success,
                410 => OutcomeClass::Gone,
                408 | 425 | 429 | 500..=599 => OutcomeClass::Transient,
                _ => OutcomeClass::Rejected,
            },
            Self::Timeout | Self::Network(_) => OutcomeClass::Transient,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Self::Response { status, .. } => Some(*status),
            _ => None,
        }
    }

    fn error_text(&self) -> Option<String> {
        match self {
            Self::Response { status, .. } => {
                (!(200..=299).contains(status)).then(|| format!("HTTP {status}"))
            }
            Self::Timeout => Some("timed out".to_string()),
            Self::Network(e) => Some(e.chars().take(MAX_ERROR_CHARS).collect()),
        }
    }
}

/// Reads a `Retry-After` header: delay-seconds, or an HTTP date (then the time left until it, never negative).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<TimeDelta> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u32>() {
        return Some(TimeDelta::seconds(i64::from(seconds)));
    }
    let date = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((date - now).max(TimeDelta::zero()))
}

/// When to retry and when to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// The delay after the 1st, 2nd, … failed attempt; the last one repeats.
    pub delays: Vec<TimeDelta>,
    /// Each delay is multiplied by `1 + jitter × u`, `u` uniform in [0, 1): delays only grow, so the schedule's
    /// total never drops below its nominal length.
    pub jitter: f64,
    /// Keep retrying until an attempt fails at least this long after the first attempt.
    pub retry_for: TimeDelta,
    /// Longest `Retry-After` honoured.
    pub max_retry_after: TimeDelta,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            delays: vec![
                TimeDelta::seconds(10),
                TimeDelta::seconds(30),
                TimeDelta::minutes(2),
                TimeDelta::minutes(10),
                TimeDelta::minutes(30),
                TimeDelta::hours(1),
                TimeDelta::hours(2),
                TimeDelta::hours(4),
                TimeDelta::hours(8),
            ],
            jitter: 0.2,
            retry_for: TimeDelta::hours(24),
            max_retry_after: TimeDelta::hours(8),
        }
    }
}

impl RetryPolicy {
    /// The delay after the `failures`-th failed attempt (1-based), jittered with `rng`.
    pub fn backoff(&self, failures: u32, rng: &mut fastrand::Rng) -> TimeDelta {
        let index = usize::try_from(failures.saturating_sub(1)).unwrap_or(usize::MAX);
        let base = self
            .delays
            .get(index)
            .or(self.delays.last())
            .copied()
            .unwrap_or(TimeDelta::seconds(10));
        let factor = 1.0 + self.jitter.max(0.0) * rng.f64();
        let millis = (base.num_milliseconds() as f64 * factor).round() as i64;
        TimeDelta::milliseconds(millis)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// An attempt got a 2xx.
    Delivered,
    /// Given up: retries exhausted, 410 Gone, or abandoned with its webhook.
    Failed,
}

/// One body on its way to one webhook, as stored between attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Server-generated id.
    pub id: Uuid,
    /// The webhook it goes to.
    pub webhook_id: Uuid,
    /// The Standard Webhooks `webhook-id`, the same on every attempt.
    pub message_id: String,
    /// What happened.
    pub event_type: EventType,
    /// The exact body to sign and send.
    pub payload: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the delivery was created.
    pub created_at: DateTime<Utc>,
    /// When the first attempt was made.
    pub first_attempt_at: Option<DateTime<Utc>>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due; `None` once delivered or failed.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// How the last attempt counted.
    pub last_status: Option<OutcomeClass>,
    /// The last HTTP status received (kept across later timeouts).
    pub last_response_code: Option<u16>,
    /// What went wrong last (`HTTP 503`, `timed out`, a connection error, or why it was abandoned).
    pub last_error: Option<String>,
    /// Where it stands.
    pub state: DeliveryState,
}

/// What to do after recording an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Done: delivered.
    Delivered,
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Done: given up.
    Failed,
}

impl Delivery {
    /// A pending delivery of `dispatch`, due at once.
    pub fn new(id: Uuid, dispatch: Dispatch, now: DateTime<Utc>) -> Self {
        Self {
            id,
            webhook_id: dispatch.webhook_id,
            message_id: dispatch.message_id,
            event_type: dispatch.event_type,
            payload: dispatch.body,
            attempts: 0,
            created_at: now,
            first_attempt_at: None,
            last_attempt_at: None,
            next_attempt_at: Some(now),
            last_status: None,
            last_response_code: None,
            last_error: None,
            state: DeliveryState::Pending,
        }
    }

    /// Whether an attempt is due at `now`.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.state == DeliveryState::Pending && self.next_attempt_at.is_some_and(|t| t <= now)
    }

    /// Records an attempt made at `now` and decides what comes next. Recording on a finished delivery changes
    /// nothing and repeats its end state.
    pub fn record_attempt(
        &mut self,
        outcome: &AttemptOutcome,
        now: DateTime<Utc>,
        policy: &RetryPolicy,
        rng: &mut fastrand::Rng,
    ) -> Next {
        match self.state {
            DeliveryState::Delivered => return Next::Delivered,
            DeliveryState::Failed => return Next::Failed,
            DeliveryState::Pending => {}
        }
        self.attempts = self.attempts.saturating_add(1);
        let first = *self.first_attempt_at.get_or_insert(now);
        self.last_attempt_at = Some(now);
        let class = outcome.class();
        self.last_status = Some(class);
        if let Some(status) = outcome.status() {
            self.last_response_code = Some(status);
        }
        self.last_error = outcome.error_text();
        let next = match class {
            OutcomeClass::Success => Next::Delivered,
            OutcomeClass::Gone => Next::Failed,
            OutcomeClass::Transient | OutcomeClass::Rejected if now - first >= policy.retry_for => {
                Next::Failed
            }
            OutcomeClass::Transient | OutcomeClass::Rejected => {
                let mut delay = policy.backoff(self.attempts, rng);
                if let AttemptOutcome::Response {
                    retry_after: Some(asked),
                    ..
                } = outcome
                {
                    delay = delay.max((*asked).min(policy.max_retry_after));
                }
                Next::RetryAt(now + delay)
            }
        };
        match next {
            Next::Delivered => self.finish(DeliveryState::Delivered),
            Next::Failed => self.finish(DeliveryState::Failed),
            Next::RetryAt(at) => self.next_attempt_at = Some(at),
        }
        next
    }

    /// Gives up on a pending delivery without an attempt (its webhook was disabled or deleted).
    pub fn abandon(&mut self, reason: &str) {
        if self.state == DeliveryState::Pending {
            self.last_error = Some(reason.chars().take(MAX_ERROR_CHARS).collect());
            self.finish(DeliveryState::Failed);
        }
    }

    fn finish(&mut self, state: DeliveryState) {
        self.state = state;
        self.next_attempt_at = None;
    }
}

/// When an endpoint is disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisablePolicy {
    /// Disable after failing every attempt for this long.
    pub failing_for: TimeDelta,
    /// Disable after this many rejected attempts (1xx, 3xx, 4xx other than 408/410/425/429) since the last success.
    pub max_rejections: u32,
}

impl Default for DisablePolicy {
    fn default() -> Self {
        Self {
            failing_for: TimeDelta::hours(24),
            max_rejections: 20,
        }
    }
}

/// Why an endpoint was disabled; its `Display` is the text stored in `Webhook::disabled_reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisableReason {
    /// It answered 410 Gone.
    Gone {
        /// When.
        at: DateTime<Utc>,
    },
    /// Every attempt failed for too long.
    Failing {
        /// The first failed attempt since the last success.
        since: DateTime<Utc>,
        /// Failed attempts since then.
        attempts: u32,
        /// The last status, if the last failure was an answer.
        last_status: Option<u16>,
    },
    /// Too many rejected attempts.
    Rejected {
        /// Rejected attempts since the last success.
        count: u32,
        /// The last status.
        last_status: Option<u16>,
    },
}

impl fmt::Display for DisableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = |s: &Option<u16>| {
            s.map(|s| format!("; last answer HTTP {s}"))
                .unwrap_or_default()
        };
        match self {
            Self::Gone { at } => write!(
                f,
                "the endpoint answered 410 Gone at {}",
                at.format("%Y-%m-%dT%H:%M:%SZ")
            ),
            Self::Failing {
                since,
                attempts,
                last_status,
            } => write!(
                f,
                "every delivery attempt failed since {} ({attempts} attempts{})",
                since.format("%Y-%m-%dT%H:%M:%SZ"),
                status(last_status)
            ),
            Self::Rejected { count, last_status } => {
                write!(
                    f,
                    "the endpoint rejected {count} delivery attempts in a row{}",
                    status(last_status)
                )
            }
        }
    }
}

/// An endpoint's recent record, stored with its webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointHealth {
    /// The first failed attempt since the last success; `None` while healthy.
    pub failing_since: Option<DateTime<Utc>>,
    /// Failed attempts since the last success.
    pub failures: u32,
    /// Rejected attempts (see [`OutcomeClass::Rejected`]) since the last success.
    pub rejections: u32,
    /// The last success.
    pub last_success_at: Option<DateTime<Utc>>,
}

impl EndpointHealth {
    /// Records one attempt's outcome at `now`; `Some` means: disable the webhook for this reason (and abandon
    /// its pending deliveries). Attempts are recorded in the order they finish; concurrent workers must update
    /// the stored health atomically.
    pub fn record(
        &mut self,
        outcome: &AttemptOutcome,
        now: DateTime<Utc>,
        policy: &DisablePolicy,
    ) -> Option<DisableReason> {
        let class = outcome.class();
        if class == OutcomeClass::Success {
            *self = Self {
                last_success_at: Some(now),
                ..Self::default()
            };
            return None;
        }
        let since = *self.failing_since.get_or_insert(now);
        self.failures = self.failures.saturating_add(1);
        if class == OutcomeClass::Rejected {
            self.rejections = self.rejections.saturating_add(1);
        }
        if class == OutcomeClass::Gone {
            Some(DisableReason::Gone { at: now })
        } else if self.rejections >= policy.max_rejections {
            Some(DisableReason::Rejected {
                count: self.rejections,
                last_status: outcome.status(),
            })
        } else if now - since >= policy.failing_for {
            Some(DisableReason::Failing {
                since,
                attempts: self.failures,
                last_status: outcome.status(),
            })
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::tests::at;

    const T0: &str = "2026-03-01T00:00:00Z";

    fn delivery() -> Delivery {
        let dispatch = Dispatch {
            webhook_id: Uuid::from_u128(1),
            message_id: "msg_x".into(),
            event_type: EventType::LeadCreated,
            occurred_at: at(T0),
            body: "{}".into(),
        };
        Delivery::new(Uuid::from_u128(9), dispatch, at(T0))
    }

    fn status(code: u16) -> AttemptOutcome {
        AttemptOutcome::Response {
            status: code,
            retry_after: None,
        }
    }

    fn no_jitter() -> RetryPolicy {
        RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn classification_follows_the_specification() {
        assert_eq!(status(200).class(), OutcomeClass::Success);
        assert_eq!(status(204).class(), OutcomeClass::Success);
        assert_eq!(status(410).class(), OutcomeClass::Gone);
        for transient in [408, 425, 429, 500, 502, 503, 504] {
            assert_eq!(
                status(transient).class(),
                OutcomeClass::Transient,
                "{transient}"
            );
        }
        for rejected in [100, 301, 302, 400, 401, 403, 404, 413, 422] {
            assert_eq!(
                status(rejected).class(),
                OutcomeClass::Rejected,
                "{rejected}"
            );
        }
        assert_eq!(AttemptOutcome::Timeout.class(), OutcomeClass::Transient);
        assert_eq!(
            AttemptOutcome::Network("reset".into()).class(),
            OutcomeClass::Transient
        );
    }

    #[test]
    fn new_delivery_is_due_at_once() {
        let d = delivery();
        assert_eq!(d.state, DeliveryState::Pending);
        assert!(d.is_due(at(T0)));
        assert_eq!(d.attempts, 0);
    }

    #[test]
    fn success_delivers() {
        let mut d = delivery();
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(
            d.record_attempt(&status(200), at(T0), &RetryPolicy::default(), &mut rng),
            Next::Delivered
        );
        assert_eq!(
            (
                d.state,
                d.attempts,
                d.next_attempt_at,
                d.last_response_code,
                d.last_error.clone()
            ),
            (DeliveryState::Delivered, 1, None, Some(200), None)
        );
        assert!(!d.is_due(at(T0)));
        assert_eq!(
            d.record_attempt(&status(500), at(T0), &RetryPolicy::default(), &mut rng),
            Next::Delivered,
            "finished deliveries stay finished"
        );
        assert_eq!(d.attempts, 1);
    }

    #[test]
    fn the_nominal_schedule_spans_more_than_a_day() {
        let policy = no_jitter();
        let mut rng = fastrand::Rng::with_seed(1);
        let mut d = delivery();
        let mut now = at(T0);
        let mut gaps = Vec::new();
        loop {
            match d.record_attempt(&status(503), now, &policy, &mut rng) {
                Next::RetryAt(t) => {
                    gaps.push((t - now).num_seconds());
                    now = t;
                }
                Next::Failed => break,
                Next::Delivered => unreachable!(),
            }
        }
        assert_eq!(
            gaps,
            [10, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800]
        );
        assert_eq!(d.attempts, 12);
        assert_eq!(d.state, DeliveryState::Failed);
        let span = now - at(T0);
        assert!(span >= TimeDelta::hours(24), "retried for {span}");
        assert_eq!(
            span.num_seconds(),
            10 + 30 + 120 + 600 + 1800 + 3600 + 7200 + 14400 + 3 * 28800
        );
        assert_eq!(
            (
                d.last_response_code,
                d.last_error.as_deref(),
                d.next_attempt_at
            ),
            (Some(503), Some("HTTP 503"), None)
        );
    }

    #[test]
    fn jitter_only_stretches_delays_and_is_deterministic_per_seed() {
        let policy = RetryPolicy::default();
        let run = |seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut d = delivery();
            let mut now = at(T0);
            let mut gaps = Vec::new();
            while let Next::RetryAt(t) =
                d.record_attempt(&AttemptOutcome::Timeout, now, &policy, &mut rng)
            {
                gaps.push(t - now);
                now = t;
            }
            (gaps, now - at(T0))
        };
        let (gaps, span) = run(7);
        assert_eq!(run(7).0, gaps, "same seed, same schedule");
        assert_ne!(run(8).0, gaps, "another seed, another jitter");
        assert!(
            gaps[0] >= TimeDelta::seconds(10) && gaps[0] <= TimeDelta::seconds(12),
            "first retry within about 10 s: {}",
            gaps[0]
        );
        for (gap, base) in gaps.iter().zip(
            policy
                .delays
                .iter()
                .chain(std::iter::repeat(&TimeDelta::hours(8))),
        ) {
            assert!(
                *gap >= *base && *gap <= *base * 6 / 5 + TimeDelta::milliseconds(1),
                "{gap} vs {base}"
            );
        }
        assert!(
            span >= TimeDelta::hours(24) && span <= TimeDelta::hours(40),
            "{span}"
        );
    }

    #[test]
    fn gone_fails_at_once() {
        let mut d = delivery();
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(
            d.record_attempt(&status(410), at(T0), &RetryPolicy::default(), &mut rng),
            Next::Failed
        );
        assert_eq!(
            (d.state, d.last_status, d.last_error.as_deref()),
            (
                DeliveryState::Failed,
                Some(OutcomeClass::Gone),
                Some("HTTP 410")
            )
        );
    }

    #[test]
    fn client_errors_are_retried_too() {
        let mut d = delivery();
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(
            d.record_attempt(&status(404), at(T0), &no_jitter(), &mut rng),
            Next::RetryAt(at("2026-03-01T00:00:10Z"))
        );
        assert_eq!(d.last_status, Some(OutcomeClass::Rejected));
    }

    #[test]
    fn retry_after_is_honoured_up_to_a_cap() {
        let mut rng = fastrand::Rng::with_seed(1);
        let asked = |secs| AttemptOutcome::Response {
            status: 429,
            retry_after: Some(TimeDelta::seconds(secs)),
        };
        let mut d = delivery();
        assert_eq!(
            d.record_attempt(&asked(120), at(T0), &no_jitter(), &mut rng),
            Next::RetryAt(at("2026-03-01T00:02:00Z"))
        );
        let mut d = delivery();
        assert_eq!(
            d.record_attempt(&asked(1), at(T0), &no_jitter(), &mut rng),
            Next::RetryAt(at("2026-03-01T00:00:10Z")),
            "never sooner than the schedule"
        );
        let mut d = delivery();
        assert_eq!(
            d.record_attempt(&asked(86_400 * 7), at(T0), &no_jitter(), &mut rng),
            Next::RetryAt(at("2026-03-01T08:00:00Z"))
        );
    }

    #[test]
    fn timeouts_keep_the_last_status_code_and_say_why() {
        let mut d = delivery();
        let mut rng = fastrand::Rng::with_seed(1);
        d.record_attempt(&status(502), at(T0), &no_jitter(), &mut rng);
        d.record_attempt(
            &AttemptOutcome::Network("connection reset by peer".into()),
            at("2026-03-01T00:00:10Z"),
            &no_jitter(),
            &mut rng,
        );
        assert_eq!(d.last_response_code, Some(502));
        assert_eq!(d.last_error.as_deref(), Some("connection reset by peer"));
        let long = "x".repeat(2000);
        d.record_attempt(
            &AttemptOutcome::Network(long),
            at("2026-03-01T00:01:00Z"),
            &no_jitter(),
            &mut rng,
        );
        assert_eq!(
            d.last_error.as_ref().map(|e| e.chars().count()),
            Some(MAX_ERROR_CHARS)
        );
        d.record_attempt(
            &AttemptOutcome::Timeout,
            at("2026-03-01T00:05:00Z"),
            &no_jitter(),
            &mut rng,
        );
        assert_eq!(d.last_error.as_deref(), Some("timed out"));
    }

    #[test]
    fn abandon_fails_only_pending_deliveries() {
        let mut d = delivery();
        d.abandon("webhook disabled: the endpoint answered 410 Gone");
        assert_eq!((d.state, d.next_attempt_at), (DeliveryState::Failed, None));
        let mut done = delivery();
        done.record_attempt(
            &status(200),
            at(T0),
            &RetryPolicy::default(),
            &mut fastrand::Rng::with_seed(1),
        );
        done.abandon("late");
        assert_eq!(
            (done.state, done.last_error),
            (DeliveryState::Delivered, None)
        );
    }

    #[test]
    fn retry_after_header_forms() {
        let now = at("2015-10-21T07:28:00Z");
        assert_eq!(parse_retry_after("120", now), Some(TimeDelta::seconds(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now),
            Some(TimeDelta::seconds(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(TimeDelta::zero())
        );
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn gone_disables_the_endpoint_at_once() {
        let mut h = EndpointHealth::default();
        let reason = h
            .record(&status(410), at(T0), &DisablePolicy::default())
            .unwrap();
        assert_eq!(reason, DisableReason::Gone { at: at(T0) });
        assert_eq!(
            reason.to_string(),
            "the endpoint answered 410 Gone at 2026-03-01T00:00:00Z"
        );
    }

    #[test]
    fn a_day_of_failures_disables_and_a_success_resets() {
        let policy = DisablePolicy::default();
        let mut h = EndpointHealth::default();
        assert_eq!(h.record(&status(503), at(T0), &policy), None);
        assert_eq!(
            h.record(
                &AttemptOutcome::Timeout,
                at("2026-03-01T23:59:59Z"),
                &policy
            ),
            None
        );
        assert_eq!(
            h.record(&status(200), at("2026-03-02T00:00:00Z"), &policy),
            None
        );
        assert_eq!(
            (h.failing_since, h.failures, h.last_success_at),
            (None, 0, Some(at("2026-03-02T00:00:00Z")))
        );
        assert_eq!(
            h.record(&status(500), at("2026-03-02T01:00:00Z"), &policy),
            None
        );
        let reason = h
            .record(&status(503), at("2026-03-03T01:00:00Z"), &policy)
            .unwrap();
        assert_eq!(
            reason,
            DisableReason::Failing {
                since: at("2026-03-02T01:00:00Z"),
                attempts: 2,
                last_status: Some(503)
            }
        );
        assert_eq!(reason.to_string(), "every delivery attempt failed since 2026-03-02T01:00:00Z (2 attempts; last answer HTTP 503)");
    }

    #[test]
    fn repeated_rejections_disable_sooner() {
        let policy = DisablePolicy::default();
        let mut h = EndpointHealth::default();
        let mut now = at(T0);
        for _ in 0..19 {
            assert_eq!(h.record(&status(401), now, &policy), None);
            assert_eq!(
                h.record(&status(503), now, &policy),
                None,
                "transient failures neither count nor reset"
            );
            now += TimeDelta::minutes(1);
        }
        let reason = h.record(&status(404), now, &policy).unwrap();
        assert_eq!(
            reason,
            DisableReason::Rejected {
                count: 20,
                last_status: Some(404)
            }
        );
        assert_eq!(
            reason.to_string(),
            "the endpoint rejected 20 delivery attempts in a row; last answer HTTP 404"
        );
    }

    #[test]
    fn a_dead_endpoint_is_disabled_when_its_first_delivery_gives_up() {
        // One delivery against an endpoint that never answers: the endpoint is disabled on the same attempt
        // that fails the delivery, so nothing is retried to a disabled webhook.
        let (retry, disable) = (RetryPolicy::default(), DisablePolicy::default());
        let mut rng = fastrand::Rng::with_seed(3);
        let (mut d, mut h) = (delivery(), EndpointHealth::default());
        let mut now = at(T0);
        loop {
            let next = d.record_attempt(&AttemptOutcome::Timeout, now, &retry, &mut rng);
            let verdict = h.record(&AttemptOutcome::Timeout, now, &disable);
            match next {
                Next::RetryAt(t) => {
                    assert_eq!(verdict, None);
                    now = t;
                }
                Next::Failed => {
                    assert!(matches!(verdict, Some(DisableReason::Failing { .. })));
                    break;
                }
                Next::Delivered => unreachable!(),
            }
        }
        assert!((11..=12).contains(&d.attempts), "{} attempts", d.attempts);
    }
}
