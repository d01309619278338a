//! One attempt of one stored delivery, from loading it to storing what happened: what the local worker does per
//! due delivery and what the AWS `webhooks` Lambda does per SQS message.

use chrono::{DateTime, TimeDelta, Utc};
use leadpipe_webhooks::{
    AttemptOutcome, Delivery, DeliveryQuery, DeliveryState, DisablePolicy, EndpointHealth, Next,
    OutcomeClass, RetryPolicy, StoredWebhook, WebhookStore,
};
use uuid::Uuid;

use crate::{Deliverer, DeliveryError};

/// How long a healthy endpoint's `last_success_at` may lag before a success is written to the webhook again.
/// Saving the webhook on every success would make it a hot item (one write per delivery on DynamoDB).
pub const SUCCESS_REFRESH: TimeDelta = TimeDelta::minutes(5);

/// After a failure, how long a process waits before recording another failure of the same endpoint on its
/// stored health: an endpoint that is down while thousands of deliveries a second fail would otherwise get one
/// read and one write of its webhook item per attempt (a hot key). Failures in between are not counted, so the
/// disable-after-rejections rule may act a little later; the time-based rule is unaffected.
pub const HEALTH_WRITE_INTERVAL: TimeDelta = TimeDelta::seconds(5);

/// Deliveries abandoned per page when a webhook is disabled.
const ABANDON_PAGE: usize = 100;

/// The retry and disable policies an attempt applies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policies {
    /// When to retry a delivery.
    pub retry: RetryPolicy,
    /// When to disable an endpoint.
    pub disable: DisablePolicy,
}

/// The environment variable that multiplies every retry delay (a float, default 1; tests set e.g. 0.01).
pub const RETRY_SCALE_ENV: &str = "LEADPIPE_WEBHOOK_RETRY_SCALE";

/// Why [`Policies::from_env`] refused the environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{RETRY_SCALE_ENV} must be a number above 0 and at most 1 (got {0:?})")]
pub struct PolicyError(String);

impl Policies {
    /// The default policies with every retry delay (and the longest `Retry-After` honoured) multiplied by `scale`,
    /// so tests can watch several retries in seconds. How long deliveries are retried and when endpoints are
    /// disabled stay as they are.
    pub fn scaled(scale: f64) -> Self {
        let mut policies = Self::default();
        let scale_delay = |d: TimeDelta| {
            TimeDelta::milliseconds((d.num_milliseconds() as f64 * scale).round().max(1.0) as i64)
        };
        policies.retry.delays = policies
            .retry
            .delays
            .iter()
            .copied()
            .map(scale_delay)
            .collect();
        policies.retry.max_retry_after = scale_delay(policies.retry.max_retry_after);
        policies
    }

    /// The default policies, scaled by [`RETRY_SCALE_ENV`] when it is set.
    pub fn from_env() -> Result<Self, PolicyError> {
        Self::from_scale(std::env::var(RETRY_SCALE_ENV).ok().as_deref())
    }

    /// The default policies, scaled by `scale` (the text of [`RETRY_SCALE_ENV`]) when given: a number above 0 and
    /// at most 1.
    pub fn from_scale(scale: Option<&str>) -> Result<Self, PolicyError> {
        let Some(text) = scale else {
            return Ok(Self::default());
        };
        match text.trim().parse::<f64>() {
            Ok(scale) if scale > 0.0 && scale <= 1.0 => Ok(Self::scaled(scale)),
            _ => Err(PolicyError(text.to_string())),
        }
    }
}

/// What [`Deliverer::attempt`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempted {
    /// No such delivery (or its webhook was deleted with it): nothing to do.
    Missing,
    /// The delivery is finished, or its next attempt is not due yet (a duplicate or early queue message).
    NotDue(Delivery),
    /// Its webhook is deleted or disabled: the delivery was given up without an attempt.
    Abandoned(Delivery),
    /// An attempt was made; the delivery as stored after it.
    Sent {
        /// The delivery after the attempt (delivered, failed, or pending with its next attempt time).
        delivery: Delivery,
        /// What the endpoint answered.
        outcome: AttemptOutcome,
        /// `Some` when this attempt got the webhook disabled: why.
        disabled: Option<String>,
    },
}

impl Deliverer {
    /// Attempts delivery `delivery_id` of webhook `webhook_id` at `now`, if it is due:
    ///
    /// 1. loads the delivery (finished or not yet due → [`Attempted::NotDue`]) and its webhook (deleted or
    ///    disabled → the delivery is abandoned);
    /// 2. signs and sends it ([`Sender::send`](crate::Sender::send));
    /// 3. records the outcome on the delivery ([`Delivery::record_attempt`]) and saves it; when a retry is due,
    ///    asks the queue to schedule it;
    /// 4. records it on the endpoint's health, re-reading the webhook first so a concurrent change by its owner is
    ///    kept, and saves the webhook only when its health changed materially (see [`health_changed`]); when the
    ///    health says to disable the endpoint, disables the webhook with the reason and abandons its pending
    ///    deliveries.
    pub async fn attempt(
        &self,
        webhook_id: Uuid,
        delivery_id: Uuid,
        now: DateTime<Utc>,
        rng: &mut fastrand::Rng,
    ) -> Result<Attempted, DeliveryError> {
        let Some(delivery) = self.store.delivery(webhook_id, delivery_id).await? else {
            return Ok(Attempted::Missing);
        };
        self.attempt_loaded(delivery, now, rng).await
    }

    /// [`attempt`](Self::attempt) of a delivery the caller has just read (the `webhooks` Lambda reads it to
    /// check its queue message first), without reading it again.
    ///
    /// The webhook comes from the cached list ([`WebhookCache::stored`](crate::WebhookCache::stored)) when it is
    /// there, else from the store: at thousands of deliveries a second, reading the webhook's item per attempt
    /// would make it a hot key. Its health is read and written only when it matters: not for a success while the
    /// cached health is healthy and recent, and after a failure at most once per [`HEALTH_WRITE_INTERVAL`] per
    /// webhook and process (unless the endpoint just started failing or is to be disabled).
    pub async fn attempt_loaded(
        &self,
        mut delivery: Delivery,
        now: DateTime<Utc>,
        rng: &mut fastrand::Rng,
    ) -> Result<Attempted, DeliveryError> {
        let store = self.store.as_ref();
        if !delivery.is_due(now) {
            return Ok(Attempted::NotDue(delivery));
        }
        let webhook_id = delivery.webhook_id;
        let webhook = match self.webhooks.stored(store, webhook_id).await? {
            Some(webhook) => webhook,
            None => match store.webhook(webhook_id).await? {
                Some(webhook) if webhook.webhook.enabled => {
                    // Created (or re-enabled) since the list was read.
                    self.webhooks.invalidate().await;
                    webhook
                }
                other => {
                    let reason = match other.and_then(|w| w.webhook.disabled_reason) {
                        Some(why) => format!("webhook disabled: {why}"),
                        None => "webhook deleted or disabled".to_string(),
                    };
                    delivery.abandon(&reason);
                    store.save_delivery(&delivery).await?;
                    return Ok(Attempted::Abandoned(delivery));
                }
            },
        };
        let outcome = self.sender.send(&webhook, &delivery, now).await;
        let next = delivery.record_attempt(&outcome, now, &self.policies.retry, rng);
        store.save_delivery(&delivery).await?;
        if let Next::RetryAt(_) = next {
            self.queue.schedule(std::slice::from_ref(&delivery)).await?;
        }
        let disabled = if self.health_needs_writing(&webhook, &outcome, now).await {
            let (disabled, health) =
                record_health(store, webhook_id, &outcome, now, &self.policies.disable).await?;
            if let Some(health) = health {
                self.webhooks.note_health(webhook_id, &health).await;
            }
            disabled
        } else {
            None
        };
        Ok(Attempted::Sent {
            delivery,
            outcome,
            disabled,
        })
    }

    /// Whether this outcome should be recorded on the stored health (a read and maybe a write of the webhook),
    /// judged from the cached health; remembers the time when it says yes for a failure.
    async fn health_needs_writing(
        &self,
        webhook: &StoredWebhook,
        outcome: &AttemptOutcome,
        now: DateTime<Utc>,
    ) -> bool {
        let mut after = webhook.health.clone();
        let verdict = after.record(outcome, now, &self.policies.disable);
        if !health_changed(&webhook.health, &after, now) {
            return false;
        }
        if outcome.class() == OutcomeClass::Success || verdict.is_some() {
            return true;
        }
        let mut written = self.health_written.lock().await;
        // The first failure after a success is always recorded (it starts the failing period).
        let recent = webhook.health.failing_since.is_some()
            && written
                .get(&webhook.webhook.id)
                .is_some_and(|at| now - *at < HEALTH_WRITE_INTERVAL && now >= *at);
        if !recent {
            written.insert(webhook.webhook.id, now);
        }
        !recent
    }
}

/// Records `outcome` on the stored webhook's health; disables it (and abandons its pending deliveries) when told.
/// Returns why it was disabled, if it was, and the health as stored now (`None`: the webhook is gone).
async fn record_health(
    store: &dyn WebhookStore,
    webhook_id: Uuid,
    outcome: &AttemptOutcome,
    now: DateTime<Utc>,
    policy: &DisablePolicy,
) -> Result<(Option<String>, Option<EndpointHealth>), DeliveryError> {
    let Some(mut webhook) = store.webhook(webhook_id).await? else {
        return Ok((None, None));
    };
    let before = webhook.health.clone();
    let verdict = webhook.health.record(outcome, now, policy);
    let Some(reason) = verdict.map(|r| r.to_string()) else {
        if health_changed(&before, &webhook.health, now) {
            store.save_webhook(&webhook).await?;
            return Ok((None, Some(webhook.health)));
        }
        return Ok((None, Some(before)));
    };
    if !webhook.webhook.enabled {
        // Disabled meanwhile (by its owner or another attempt): keep that reason.
        store.save_webhook(&webhook).await?;
        return Ok((None, Some(webhook.health)));
    }
    webhook.webhook.disable(reason.clone());
    store.save_webhook(&webhook).await?;
    tracing::warn!(webhook = %webhook_id, reason = %reason, "webhook disabled");
    abandon_pending(store, webhook_id, &format!("webhook disabled: {reason}")).await?;
    Ok((Some(reason), Some(webhook.health)))
}

/// Whether a health update is worth a write: any failure (the counters move toward disabling), a recovery, or a
/// success when the stored `last_success_at` is missing or older than [`SUCCESS_REFRESH`].
pub fn health_changed(before: &EndpointHealth, after: &EndpointHealth, now: DateTime<Utc>) -> bool {
    if after.failures > 0 || before.failures > 0 || before.failing_since.is_some() {
        return before != after;
    }
    before
        .last_success_at
        .is_none_or(|t| now - t >= SUCCESS_REFRESH)
}

/// Gives up every pending delivery of a webhook (it was disabled).
async fn abandon_pending(
    store: &dyn WebhookStore,
    webhook_id: Uuid,
    reason: &str,
) -> Result<(), DeliveryError> {
    let mut query = DeliveryQuery {
        webhook_id,
        limit: ABANDON_PAGE,
        after: None,
    };
    loop {
        let page = store.deliveries(&query).await?;
        for mut delivery in page
            .deliveries
            .into_iter()
            .filter(|d| d.state == DeliveryState::Pending)
        {
            delivery.abandon(reason);
            store.save_delivery(&delivery).await?;
        }
        match page.next_after {
            Some(after) => query.after = Some(after),
            None => return Ok(()),
        }
    }
}
