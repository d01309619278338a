//! The one retry helper: bounded attempts with exponential backoff and full jitter.
//!
//! Used wherever an operation may lose a race and should simply run again (optimistic-concurrency conflicts on
//! DynamoDB, throttled batch writes). Nothing sleeps before the first attempt.

use std::future::Future;
use std::time::Duration;

/// How often and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff cap before the second attempt, in milliseconds; it doubles per attempt up to `max_backoff_ms`.
    pub base_backoff_ms: u64,
    /// Longest single sleep, in milliseconds.
    pub max_backoff_ms: u64,
}

impl RetryPolicy {
    /// For optimistic writes of one lead: up to 50 attempts, about 5 s of backoff in all.
    pub const CONFLICTS: Self = Self {
        max_attempts: 50,
        base_backoff_ms: 5,
        max_backoff_ms: 200,
    };
    /// For throttled batch requests: up to 8 attempts, 20 ms doubling.
    pub const THROTTLING: Self = Self {
        max_attempts: 8,
        base_backoff_ms: 20,
        max_backoff_ms: 2_000,
    };

    /// The longest sleep before attempt `attempt` (0-based; 0 for the first attempt).
    pub fn backoff_cap(&self, attempt: u32) -> Duration {
        if attempt == 0 {
            return Duration::ZERO;
        }
        let ms = self
            .base_backoff_ms
            .saturating_mul(1u64 << (attempt - 1).min(20))
            .min(self.max_backoff_ms);
        Duration::from_millis(ms)
    }
}

/// Runs `op` (given the 0-based attempt number) until it succeeds, fails with an error `retryable` rejects, or
/// the attempts run out; then the last error is returned. Sleeps a random time up to the policy's cap between
/// attempts (full jitter), so colliding writers spread out.
pub async fn retry<T, E, F, Fut>(
    policy: RetryPolicy,
    retryable: impl Fn(&E) -> bool,
    mut op: F,
) -> Result<T, E>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        let cap = policy.backoff_cap(attempt);
        if !cap.is_zero() {
            let ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX).max(1);
            tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=ms))).await;
        }
        match op(attempt).await {
            Err(e) if retryable(&e) && attempt + 1 < policy.max_attempts => attempt += 1,
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_backoff_ms: 5,
            max_backoff_ms: 30,
        };
        let caps: Vec<u128> = (0..6).map(|a| p.backoff_cap(a).as_millis()).collect();
        assert_eq!(caps, [0, 5, 10, 20, 30, 30]);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_only_retryable_errors_and_stops_at_the_limit() {
        let p = RetryPolicy {
            max_attempts: 4,
            base_backoff_ms: 1,
            max_backoff_ms: 1,
        };
        let mut calls = 0;
        let r: Result<(), &str> = retry(
            p,
            |e| *e == "again",
            |_| {
                calls += 1;
                async { Err("again") }
            },
        )
        .await;
        assert_eq!((r, calls), (Err("again"), 4));

        let mut calls = 0;
        let r: Result<(), &str> = retry(
            p,
            |e| *e == "again",
            |_| {
                calls += 1;
                async { Err("fatal") }
            },
        )
        .await;
        assert_eq!((r, calls), (Err("fatal"), 1));

        let r = retry(
            p,
            |e: &&str| *e == "again",
            |attempt| async move {
                if attempt < 2 {
                    Err("again")
                } else {
                    Ok(attempt)
                }
            },
        )
        .await;
        assert_eq!(r, Ok(2));
    }
}
