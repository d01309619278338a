//! From one lead change to stored deliveries: what the SQLite outbox loop, the local DynamoDB stream reader and
//! the AWS stream consumer Lambda each do per change.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use leadpipe_core::domain::Lead;
use leadpipe_core::store::StoreError;
use leadpipe_webhooks::{
    delivery_id, dispatch, event_for, Delivery, EndpointHealth, StoredWebhook, Webhook,
    WebhookStore,
};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::{Deliverer, DeliveryError};

/// The webhook list, read from the store at most once per `ttl`: the AWS stream consumer reads it once per 30 s
/// per instance, so a table without webhooks costs no extra request per postback. A zero `ttl` reads it every
/// time (`leadpipe serve`, where a read is cheap and a new webhook must see the very next change).
#[derive(Debug)]
pub struct WebhookCache {
    ttl: Duration,
    cached: Mutex<Option<Cached>>,
}

/// One read of the webhook list: the enabled webhooks, as fan-out matches them and as attempts send to them.
#[derive(Debug)]
struct Cached {
    read_at: Instant,
    webhooks: Arc<Vec<Webhook>>,
    stored: Arc<Vec<StoredWebhook>>,
}

impl WebhookCache {
    /// A cache keeping the list for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            cached: Mutex::new(None),
        }
    }

    async fn read(
        &self,
        store: &dyn WebhookStore,
    ) -> Result<(Arc<Vec<Webhook>>, Arc<Vec<StoredWebhook>>), StoreError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            if !self.ttl.is_zero() && c.read_at.elapsed() < self.ttl {
                return Ok((c.webhooks.clone(), c.stored.clone()));
            }
        }
        let stored: Vec<StoredWebhook> = store
            .webhooks()
            .await?
            .into_iter()
            .filter(|w| w.webhook.enabled)
            .collect();
        let webhooks = Arc::new(stored.iter().map(|w| w.webhook.clone()).collect::<Vec<_>>());
        let stored = Arc::new(stored);
        *cached = Some(Cached {
            read_at: Instant::now(),
            webhooks: webhooks.clone(),
            stored: stored.clone(),
        });
        Ok((webhooks, stored))
    }

    /// The enabled webhooks, from the cache while it is fresh, else from `store`.
    pub async fn enabled(&self, store: &dyn WebhookStore) -> Result<Arc<Vec<Webhook>>, StoreError> {
        Ok(self.read(store).await?.0)
    }

    /// The enabled webhook `id` as stored (with its health) when the cached list has it — at most the cache's
    /// TTL old — else `None` (deleted, disabled, or created since the list was read).
    pub async fn stored(
        &self,
        store: &dyn WebhookStore,
        id: Uuid,
    ) -> Result<Option<StoredWebhook>, StoreError> {
        Ok(self
            .read(store)
            .await?
            .1
            .iter()
            .find(|w| w.webhook.id == id)
            .cloned())
    }

    /// Puts the health just read from the store into the cached copy of webhook `id`, so later attempts judge
    /// from it (and do not read the webhook again for the rest of the TTL).
    pub async fn note_health(&self, id: Uuid, health: &EndpointHealth) {
        let mut cached = self.cached.lock().await;
        let Some(c) = cached.as_mut() else { return };
        if c.stored
            .iter()
            .any(|w| w.webhook.id == id && w.health != *health)
        {
            let mut stored = (*c.stored).clone();
            stored
                .iter_mut()
                .filter(|w| w.webhook.id == id)
                .for_each(|w| w.health = health.clone());
            c.stored = Arc::new(stored);
        }
    }

    /// Forgets the cached list (a webhook was created, changed or deleted in this process).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}

/// One lead change to fan out: the lead before and after (`None`: did not exist), and when the change was seen
/// (dates deletions).
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// The lead before.
    pub before: Option<&'a Lead>,
    /// The lead after.
    pub after: Option<&'a Lead>,
    /// When the change was written or read.
    pub observed_at: DateTime<Utc>,
}

/// The deliveries one lead change triggers, not stored yet: [`event_for`] → [`dispatch`] → one pending
/// [`Delivery`] per webhook, due at `now`, with its id from [`delivery_id`] (so the same change always gives the
/// same deliveries). `observed_at` dates deletions.
pub fn deliveries_for(
    webhooks: &[Webhook],
    before: Option<&Lead>,
    after: Option<&Lead>,
    observed_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Delivery>, DeliveryError> {
    if webhooks.is_empty() {
        return Ok(Vec::new());
    }
    let Some(event) = event_for(before, after, observed_at)? else {
        return Ok(Vec::new());
    };
    Ok(dispatch(webhooks, &event)
        .into_iter()
        .map(|d| Delivery::new(delivery_id(d.webhook_id, &d.message_id), d, now))
        .collect())
}

impl Deliverer {
    /// Fans one lead change out: the deliveries it triggers ([`deliveries_for`], against the cached webhook list)
    /// are stored (idempotently: a replayed change stores nothing new) and scheduled on the queue. Returns them.
    pub async fn fan_out(
        &self,
        before: Option<&Lead>,
        after: Option<&Lead>,
        observed_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, DeliveryError> {
        let webhooks = self.webhooks.enabled(self.store.as_ref()).await?;
        let deliveries = deliveries_for(&webhooks, before, after, observed_at, now)?;
        if !deliveries.is_empty() {
            self.store.enqueue_deliveries(&deliveries).await?;
            self.queue.schedule(&deliveries).await?;
        }
        Ok(deliveries)
    }

    /// Fans out a batch of changes (an outbox batch, a stream batch) with one read of the webhook list and one
    /// enqueue: like [`fan_out`](Self::fan_out) for each, except that a change which is not a valid event is logged
    /// and skipped instead of failing the batch.
    pub async fn fan_out_all(
        &self,
        changes: &[Change<'_>],
        now: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, DeliveryError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let webhooks = self.webhooks.enabled(self.store.as_ref()).await?;
        let mut deliveries = Vec::new();
        for change in changes {
            match deliveries_for(
                &webhooks,
                change.before,
                change.after,
                change.observed_at,
                now,
            ) {
                Ok(more) => deliveries.extend(more),
                Err(e) => {
                    tracing::warn!(error = %e, "webhooks: a lead change that is no event was skipped")
                }
            }
        }
        if !deliveries.is_empty() {
            self.store.enqueue_deliveries(&deliveries).await?;
            self.queue.schedule(&deliveries).await?;
        }
        Ok(deliveries)
    }

    /// The cached webhook list (invalidate it after changing webhooks in this process).
    pub fn webhooks(&self) -> &WebhookCache {
        &self.webhooks
    }
}
