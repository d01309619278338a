//! One attempt of one stored delivery, from loading it to storing what happened: what the local worker does per
//! due delivery and what the AWS `webhooks` Lambda does per SQS message.

use chrono::{DateTime, TimeDelta, Utc};
use leadpipe_webhooks::{
    AttemptOutcome, Delivery, DeliveryQuery, DeliveryState, DisablePolicy, EndpointHealth, Next, RetryPolicy, WebhookStore,
};
use uuid::Uuid;

use crate::{Deliverer, DeliveryError};

/// How long a healthy endpoint's `last_success_at` may lag before a success is written to the webhook again.
/// Saving the webhook on every success would make it a hot item (one write per delivery on DynamoDB).
pub const SUCCESS_REFRESH: TimeDelta = TimeDelta::minutes(5);

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
        let scale_delay = |d: TimeDelta| TimeDelta::milliseconds((d.num_milliseconds() as f64 * scale).round().max(1.0) as i64);
        policies.retry.delays = policies.retry.delays.iter().copied().map(scale_delay).collect();
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
        let Some(text) = scale else { return Ok(Self::default()) };
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
        let store = self.store.as_ref();
        let Some(mut delivery) = store.delivery(webhook_id, delivery_id).await? else {
            return Ok(Attempted::Missing);
        };
        if !delivery.is_due(now) {
            return Ok(Attempted::NotDue(delivery));
        }
        let webhook = match store.webhook(webhook_id).await? {
            Some(webhook) if webhook.webhook.enabled => webhook,
            other => {
                let reason = match other.and_then(|w| w.webhook.disabled_reason) {
                    Some(why) => format!("webhook disabled: {why}"),
                    None => "webhook deleted or disabled".to_string(),
                };
                delivery.abandon(&reason);
                store.save_delivery(&delivery).await?;
                return Ok(Attempted::Abandoned(delivery));
            }
        };
        let outcome = self.sender.send(&webhook, &delivery, now).await;
        let next = delivery.record_attempt(&outcome, now, &self.policies.retry, rng);
        store.save_delivery(&delivery).await?;
        if let Next::RetryAt(_) = next {
            self.queue.schedule(std::slice::from_ref(&delivery)).await?;
        }
        let disabled = record_health(store, webhook_id, &outcome, now, &self.policies.disable).await?;
        Ok(Attempted::Sent { delivery, outcome, disabled })
    }
}

/// Records `outcome` on the stored webhook's health; disables it (and abandons its pending deliveries) when told.
async fn record_health(
    store: &dyn WebhookStore,
    webhook_id: Uuid,
    outcome: &AttemptOutcome,
    now: DateTime<Utc>,
    policy: &DisablePolicy,
) -> Result<Option<String>, DeliveryError> {
    let Some(mut webhook) = store.webhook(webhook_id).await? else { return Ok(None) };
    let before = webhook.health.clone();
    let verdict = webhook.health.record(outcome, now, policy);
    let Some(reason) = verdict.map(|r| r.to_string()) else {
        if health_changed(&before, &webhook.health, now) {
            store.save_webhook(&webhook).await?;
        }
        return Ok(None);
    };
    if !webhook.webhook.enabled {
        // Disabled meanwhile (by its owner or another attempt): keep that reason.
        store.save_webhook(&webhook).await?;
        return Ok(None);
    }
    webhook.webhook.disable(reason.clone());
    store.save_webhook(&webhook).await?;
    tracing::warn!(webhook = %webhook_id, reason = %reason, "webhook disabled");
    abandon_pending(store, webhook_id, &format!("webhook disabled: {reason}")).await?;
    Ok(Some(reason))
}

/// Whether a health update is worth a write: any failure (the counters move toward disabling), a recovery, or a
/// success when the stored `last_success_at` is missing or older than [`SUCCESS_REFRESH`].
pub fn health_changed(before: &EndpointHealth, after: &EndpointHealth, now: DateTime<Utc>) -> bool {
    if after.failures > 0 || before.failures > 0 || before.failing_since.is_some() {
        return before != after;
    }
    before.last_success_at.is_none_or(|t| now - t >= SUCCESS_REFRESH)
}

/// Gives up every pending delivery of a webhook (it was disabled).
async fn abandon_pending(store: &dyn WebhookStore, webhook_id: Uuid, reason: &str) -> Result<(), DeliveryError> {
    let mut query = DeliveryQuery { webhook_id, limit: ABANDON_PAGE, after: None };
    loop {
        let page = store.deliveries(&query).await?;
        for mut delivery in page.deliveries.into_iter().filter(|d| d.state == DeliveryState::Pending) {
            delivery.abandon(reason);
            store.save_delivery(&delivery).await?;
        }
        match page.next_after {
            Some(after) => query.after = Some(after),
            None => return Ok(()),
        }
    }
}
