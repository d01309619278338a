//! The delivery worker of `leadpipe serve`: one loop that fans out the SQLite outbox's lead changes (or is fed by
//! the local DynamoDB stream reader through [`Deliverer::fan_out`]) and attempts due deliveries.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::stream::{self, StreamExt};
use leadpipe_core::store::{LeadChange, StoreError};
use leadpipe_webhooks::{Delivery, DeliveryQueue, WebhookStore};
use tokio::sync::Notify;

use crate::{Attempted, Change, Deliverer, DeliveryError, Policies, Sender, WebhookCache};

/// Longest the worker sleeps between passes when nothing wakes it.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// Due deliveries read per pass.
pub const DUE_PER_PASS: usize = 50;
/// Attempts in flight at once.
pub const CONCURRENCY: usize = 8;
/// Outbox changes read per batch.
const OUTBOX_BATCH: usize = 100;
/// How long a pass in progress may go on after shutdown was asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A durable queue of lead changes written with the leads (the SQLite store's outbox), drained by the worker:
/// each batch is fanned out, then acknowledged, so a crash in between replays it (and enqueueing is idempotent).
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Up to `limit` unacknowledged changes, oldest first.
    async fn lead_changes(&self, limit: usize) -> Result<Vec<LeadChange>, StoreError>;
    /// Drops every change up to and including `up_to_seq`.
    async fn ack_lead_changes(&self, up_to_seq: i64) -> Result<(), StoreError>;
}

/// The local [`DeliveryQueue`]: stored deliveries are read back by the worker, so scheduling one only wakes it
/// (at once when it is due, else at its next attempt time).
#[derive(Debug, Default)]
pub struct LocalQueue {
    wake: Notify,
    /// Upcoming attempt times (at most [`MAX_TIMERS`]; the polling catches anything beyond).
    times: Mutex<BTreeSet<DateTime<Utc>>>,
}

/// Most upcoming attempt times a [`LocalQueue`] remembers.
const MAX_TIMERS: usize = 1024;

impl LocalQueue {
    /// Wakes the worker now (a webhook was re-enabled, a delivery retried by hand).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// How long the worker may sleep from `now`: no time when a scheduled attempt came due since the last call,
    /// else until the next scheduled attempt, at most [`POLL_EVERY`].
    pub(crate) fn sleep_from(&self, now: DateTime<Utc>) -> Duration {
        let Ok(mut times) = self.times.lock() else {
            return POLL_EVERY;
        };
        let later = times.split_off(&(now + TimeDelta::nanoseconds(1)));
        let came_due = !times.is_empty();
        *times = later;
        if came_due {
            return Duration::ZERO;
        }
        times
            .first()
            .and_then(|next| (*next - now).to_std().ok())
            .map_or(POLL_EVERY, |d| d.min(POLL_EVERY))
    }
}

#[async_trait]
impl DeliveryQueue for LocalQueue {
    async fn schedule(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut due_now = false;
        if let Ok(mut times) = self.times.lock() {
            for at in deliveries.iter().filter_map(|d| d.next_attempt_at) {
                if at <= now {
                    due_now = true;
                } else {
                    times.insert(at);
                    if times.len() > MAX_TIMERS {
                        times.pop_last();
                    }
                }
            }
        }
        if due_now {
            self.wake();
        }
        Ok(())
    }
}

/// What one [`Worker::pass`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// Outbox changes fanned out (and acknowledged).
    pub changes: usize,
    /// Deliveries stored by the fan-out.
    pub enqueued: usize,
    /// Attempts made.
    pub attempts: usize,
    /// Whether a full page of due deliveries was read (so the next pass should start at once).
    pub more: bool,
}

/// The polling worker: build one per process and [`run`](Self::run) it next to the server.
pub struct Worker {
    deliverer: Deliverer,
    queue: Arc<LocalQueue>,
    outbox: Option<Arc<dyn Outbox>>,
}

impl Worker {
    /// A worker delivering `store`'s webhooks through `sender` with `policies`, reading the webhook list afresh
    /// for every change.
    pub fn new(store: Arc<dyn WebhookStore>, sender: Sender, policies: Policies) -> Self {
        let queue = Arc::new(LocalQueue::default());
        let deliverer = Deliverer::new(
            store,
            queue.clone(),
            sender,
            policies,
            WebhookCache::new(Duration::ZERO),
        );
        Self {
            deliverer,
            queue,
            outbox: None,
        }
    }

    /// The same worker, also draining `outbox` on every pass (SQLite).
    pub fn with_outbox(mut self, outbox: Arc<dyn Outbox>) -> Self {
        self.outbox = Some(outbox);
        self
    }

    /// Its queue: hand it to whatever stores or retries deliveries in this process (the `/api/webhooks` handlers),
    /// and call [`LocalQueue::wake`] after a lead change was written to the outbox.
    pub fn queue(&self) -> Arc<LocalQueue> {
        self.queue.clone()
    }

    /// Its fan-out and attempts (the local DynamoDB stream reader calls [`Deliverer::fan_out`] per record).
    pub fn deliverer(&self) -> &Deliverer {
        &self.deliverer
    }

    /// One pass: drains the outbox (fan-out, then acknowledge, batch by batch), then attempts up to
    /// [`DUE_PER_PASS`] due deliveries, [`CONCURRENCY`] at a time. A change that does not decode into an event is
    /// logged and skipped (see [`Deliverer::fan_out_all`]); a store error ends the pass (the next pass starts again from the unacknowledged changes).
    pub async fn pass(&self) -> Result<Pass, DeliveryError> {
        let mut pass = Pass::default();
        if let Some(outbox) = &self.outbox {
            loop {
                let changes = outbox.lead_changes(OUTBOX_BATCH).await?;
                let Some(last) = changes.last().map(|c| c.seq) else {
                    break;
                };
                let batch: Vec<Change<'_>> = changes
                    .iter()
                    .map(|c| Change {
                        before: c.before.as_ref(),
                        after: c.after.as_ref(),
                        observed_at: c.at,
                    })
                    .collect();
                pass.enqueued += self.deliverer.fan_out_all(&batch, Utc::now()).await?.len();
                outbox.ack_lead_changes(last).await?;
                pass.changes += changes.len();
                if changes.len() < OUTBOX_BATCH {
                    break;
                }
            }
        }
        let due = self
            .deliverer
            .store()
            .due_deliveries(Utc::now(), DUE_PER_PASS)
            .await?;
        pass.more = due.len() == DUE_PER_PASS;
        pass.attempts = due.len();
        let results: Vec<_> = stream::iter(due)
            .map(|d| async move {
                let mut rng = fastrand::Rng::new();
                (
                    d.id,
                    self.deliverer
                        .attempt(d.webhook_id, d.id, Utc::now(), &mut rng)
                        .await,
                )
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (id, result) in results {
            match result {
                Ok(Attempted::Sent {
                    delivery,
                    disabled: Some(reason),
                    ..
                }) => {
                    tracing::warn!(delivery = %id, webhook = %delivery.webhook_id, reason = %reason, "webhook disabled after an attempt")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(delivery = %id, error = %e, "webhook delivery attempt not recorded; will retry")
                }
            }
        }
        Ok(pass)
    }

    /// Runs passes until `shutdown` completes: after each pass it sleeps until woken by its queue, until the
    /// earliest scheduled retry, or for [`POLL_EVERY`] at most (a full page of due deliveries runs the next pass at
    /// once). When `shutdown` completes mid-pass, the pass may go on for a few seconds (attempts in flight are
    /// recorded); whatever is left stays stored and pending for the next start.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        loop {
            let pass = self.pass();
            tokio::pin!(pass);
            let result = tokio::select! {
                result = &mut pass => result,
                () = &mut shutdown => {
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, &mut pass).await;
                    return;
                }
            };
            let wait = match result {
                Ok(pass) if pass.more => Duration::ZERO,
                Ok(_) => self.queue.sleep_from(Utc::now()),
                Err(e) => {
                    tracing::warn!(error = %e, "webhook worker: will retry");
                    POLL_EVERY
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = self.queue.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
