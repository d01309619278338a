//! Unit tests of the sender (against a real local HTTP server), the fan-out and one attempt's bookkeeping. The
//! store here is a small in-memory `WebhookStore` that keeps state only; the real stores are checked by the
//! conformance suite and the receiver integration tests (`tests/tests/webhook_delivery.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, TimeDelta, Utc};
use leadpipe_core::domain::Lead;
use leadpipe_core::store::StoreError;
use leadpipe_webhooks::{
    AttemptOutcome, Delivery, DeliveryPage, DeliveryQuery, DeliveryQueue, DeliveryState,
    EndpointHealth, EventType, Format, ReceivedHeaders, Secret, StoredWebhook, Verifier, Webhook,
    WebhookStore,
};
use uuid::Uuid;

use crate::*;

#[derive(Default)]
struct MemoryStore {
    webhooks: Mutex<Vec<StoredWebhook>>,
    deliveries: Mutex<HashMap<Uuid, Delivery>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn create_webhook(&self, webhook: &StoredWebhook) -> Result<(), StoreError> {
        lock(&self.webhooks).push(webhook.clone());
        Ok(())
    }
    async fn webhooks(&self) -> Result<Vec<StoredWebhook>, StoreError> {
        Ok(lock(&self.webhooks).clone())
    }
    async fn webhook(&self, id: Uuid) -> Result<Option<StoredWebhook>, StoreError> {
        Ok(lock(&self.webhooks)
            .iter()
            .find(|w| w.webhook.id == id)
            .cloned())
    }
    async fn save_webhook(&self, webhook: &StoredWebhook) -> Result<(), StoreError> {
        if let Some(w) = lock(&self.webhooks)
            .iter_mut()
            .find(|w| w.webhook.id == webhook.webhook.id)
        {
            *w = webhook.clone();
        }
        Ok(())
    }
    async fn delete_webhook(&self, id: Uuid) -> Result<bool, StoreError> {
        let mut hooks = lock(&self.webhooks);
        let before = hooks.len();
        hooks.retain(|w| w.webhook.id != id);
        Ok(hooks.len() != before)
    }
    async fn enqueue_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        let mut all = lock(&self.deliveries);
        for d in deliveries {
            all.entry(d.id).or_insert_with(|| d.clone());
        }
        Ok(())
    }
    async fn delivery(&self, webhook_id: Uuid, id: Uuid) -> Result<Option<Delivery>, StoreError> {
        Ok(lock(&self.deliveries)
            .get(&id)
            .filter(|d| d.webhook_id == webhook_id)
            .cloned())
    }
    async fn save_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        lock(&self.deliveries).insert(delivery.id, delivery.clone());
        Ok(())
    }
    async fn deliveries(&self, query: &DeliveryQuery) -> Result<DeliveryPage, StoreError> {
        let all = lock(&self.deliveries);
        Ok(DeliveryPage {
            deliveries: all
                .values()
                .filter(|d| d.webhook_id == query.webhook_id)
                .cloned()
                .collect(),
            next_after: None,
        })
    }
    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let enabled: Vec<Uuid> = lock(&self.webhooks)
            .iter()
            .filter(|w| w.webhook.enabled)
            .map(|w| w.webhook.id)
            .collect();
        let mut due: Vec<Delivery> = lock(&self.deliveries)
            .values()
            .filter(|d| d.is_due(now) && enabled.contains(&d.webhook_id))
            .cloned()
            .collect();
        due.sort_by_key(|d| d.next_attempt_at);
        due.truncate(limit);
        Ok(due)
    }
}

/// Remembers what was scheduled.
#[derive(Default)]
struct Recorded(Mutex<Vec<Uuid>>);

#[async_trait]
impl DeliveryQueue for Recorded {
    async fn schedule(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        lock(&self.0).extend(deliveries.iter().map(|d| d.id));
        Ok(())
    }
}

/// What the test receiver saw.
#[derive(Clone, Debug)]
struct Seen {
    headers: HeaderMap,
    body: String,
}

/// A local receiver answering `status` (and the given headers) to every POST, recording each request.
async fn receiver(
    status: StatusCode,
    headers: &'static [(&'static str, &'static str)],
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: HeaderMap, body: String| {
            let record = record.clone();
            async move {
                lock(&record).push(Seen { headers: h, body });
                let mut response = status.into_response();
                for (name, value) in headers {
                    if let (Ok(n), Ok(v)) = (
                        axum::http::HeaderName::from_bytes(name.as_bytes()),
                        axum::http::HeaderValue::from_str(value),
                    ) {
                        response.headers_mut().insert(n, v);
                    }
                }
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), seen)
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn hook(url: &str) -> StoredWebhook {
    StoredWebhook {
        webhook: Webhook {
            id: Uuid::new_v4(),
            url: url.to_string(),
            events: EventType::ALL.to_vec(),
            stages: None,
            format: Format::Standard,
            event_names: Default::default(),
            event_source_id: None,
            consent: Default::default(),
            secret: Secret::generate().unwrap(),
            enabled: true,
            disabled_reason: None,
        },
        health: EndpointHealth::default(),
        created_at: at("2026-03-01T00:00:00Z"),
    }
}

fn lead(stage: &str) -> Lead {
    Lead {
        id: Uuid::from_u128(0x0b9a3c2e_6a51_4f4e_9d47_2f0c3f1f6a10),
        email: None,
        stage: leadpipe_core::domain::Pipeline::default()
            .stage(stage)
            .unwrap(),
        text: Default::default(),
        form_completion_percent: None,
        form_fields_completed: None,
        form_fields_total: None,
        custom_data: Default::default(),
        first_touch: Default::default(),
        created_at: at("2026-03-01T10:00:00Z"),
        updated_at: at("2026-03-02T11:00:00Z"),
        stage_entered_at: at("2026-03-02T11:00:00Z"),
        stage_reached_at: Default::default(),
        stage_changes: 0,
        quarantine: None,
        orders: Vec::new(),
        revenue_reporting_minor: None,
        consent: None,
        consent_history: Vec::new(),
        version: 1,
    }
}

fn deliverer(store: Arc<MemoryStore>, queue: Arc<Recorded>, policies: Policies) -> Deliverer {
    Deliverer::new(
        store,
        queue,
        Sender::with_timeout(Reach::Local, Duration::from_secs(2)).unwrap(),
        policies,
        WebhookCache::new(Duration::ZERO),
    )
}

async fn setup(
    url: &str,
) -> (
    Arc<MemoryStore>,
    Arc<Recorded>,
    Deliverer,
    StoredWebhook,
    Delivery,
) {
    let store = Arc::new(MemoryStore::default());
    let queue = Arc::new(Recorded::default());
    let webhook = hook(url);
    store.create_webhook(&webhook).await.unwrap();
    let d = deliverer(store.clone(), queue.clone(), Policies::default());
    let created = d
        .fan_out(None, Some(&lead("New")), Utc::now(), Utc::now())
        .await
        .unwrap();
    assert_eq!(created.len(), 1);
    (store, queue, d, webhook, created[0].clone())
}

#[tokio::test]
async fn the_sender_posts_the_exact_body_signed() {
    let (url, seen) = receiver(StatusCode::NO_CONTENT, &[]).await;
    let (store, queue, d, webhook, delivery) = setup(&url).await;
    let now = Utc::now();
    let result = d
        .attempt(
            webhook.webhook.id,
            delivery.id,
            now,
            &mut fastrand::Rng::with_seed(1),
        )
        .await
        .unwrap();
    let Attempted::Sent {
        delivery: after,
        outcome,
        disabled,
    } = result
    else {
        panic!("not sent: {result:?}")
    };
    assert_eq!(
        (outcome, disabled),
        (
            AttemptOutcome::Response {
                status: 204,
                retry_after: None
            },
            None
        )
    );
    assert_eq!(
        (after.state, after.attempts, after.last_response_code),
        (DeliveryState::Delivered, 1, Some(204))
    );
    assert_eq!(
        store
            .delivery(webhook.webhook.id, delivery.id)
            .await
            .unwrap()
            .unwrap(),
        after
    );
    let requests = lock(&seen).clone();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(
        req.body, delivery.payload,
        "the stored bytes, not a re-serialisation"
    );
    let header = |n: &str| {
        req.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    assert_eq!(header("user-agent").as_deref(), Some(sender::USER_AGENT));
    assert_eq!(header("webhook-id"), Some(delivery.message_id.clone()));
    assert_eq!(
        header("webhook-timestamp"),
        Some(now.timestamp().to_string())
    );
    let (id, ts, sig) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let received = ReceivedHeaders {
        id: id.as_deref(),
        timestamp: ts.as_deref(),
        signature: sig.as_deref(),
    };
    assert_eq!(
        Verifier::new(webhook.webhook.secret.clone()).verify(&received, req.body.as_bytes(), now),
        Ok(())
    );
    assert!(
        lock(&queue.0).iter().all(|id| *id == delivery.id),
        "only the fan-out scheduled it"
    );
    // Healthy and never succeeded before: the success is written once.
    assert_eq!(
        store
            .webhook(webhook.webhook.id)
            .await
            .unwrap()
            .unwrap()
            .health
            .last_success_at,
        Some(now)
    );
    // Finished: a duplicate queue message does nothing.
    assert!(matches!(
        d.attempt(
            webhook.webhook.id,
            delivery.id,
            now,
            &mut fastrand::Rng::new()
        )
        .await
        .unwrap(),
        Attempted::NotDue(_)
    ));
    assert_eq!(lock(&seen).len(), 1);
}

#[tokio::test]
async fn a_failure_is_rescheduled_with_retry_after_and_counted_on_the_endpoint() {
    let (url, seen) = receiver(StatusCode::SERVICE_UNAVAILABLE, &[("retry-after", "60")]).await;
    let (store, queue, d, webhook, delivery) = setup(&url).await;
    let now = Utc::now();
    let result = d
        .attempt(
            webhook.webhook.id,
            delivery.id,
            now,
            &mut fastrand::Rng::with_seed(1),
        )
        .await
        .unwrap();
    let Attempted::Sent {
        delivery: after,
        outcome,
        ..
    } = result
    else {
        panic!("not sent")
    };
    assert_eq!(
        outcome,
        AttemptOutcome::Response {
            status: 503,
            retry_after: Some(TimeDelta::seconds(60))
        }
    );
    assert_eq!(after.state, DeliveryState::Pending);
    assert_eq!(
        after.next_attempt_at,
        Some(now + TimeDelta::seconds(60)),
        "Retry-After beats the 10 s first retry"
    );
    assert_eq!(
        lock(&queue.0).as_slice(),
        [delivery.id, delivery.id],
        "fan-out, then the retry"
    );
    let health = store
        .webhook(webhook.webhook.id)
        .await
        .unwrap()
        .unwrap()
        .health;
    assert_eq!((health.failures, health.failing_since), (1, Some(now)));
    assert_eq!(lock(&seen).len(), 1);
    assert!(matches!(
        d.attempt(
            webhook.webhook.id,
            delivery.id,
            now,
            &mut fastrand::Rng::new()
        )
        .await
        .unwrap(),
        Attempted::NotDue(_)
    ));
}

#[tokio::test]
async fn gone_disables_the_webhook_and_abandons_its_pending_deliveries() {
    let (url, _seen) = receiver(StatusCode::GONE, &[]).await;
    let (store, _queue, d, webhook, delivery) = setup(&url).await;
    let other = d
        .fan_out(
            Some(&lead("New")),
            Some(&lead("Paid")),
            Utc::now(),
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    let result = d
        .attempt(
            webhook.webhook.id,
            delivery.id,
            Utc::now(),
            &mut fastrand::Rng::new(),
        )
        .await
        .unwrap();
    let Attempted::Sent {
        delivery: after,
        disabled,
        ..
    } = result
    else {
        panic!("not sent")
    };
    assert_eq!(after.state, DeliveryState::Failed);
    assert!(
        disabled.as_deref().is_some_and(|r| r.contains("410 Gone")),
        "{disabled:?}"
    );
    let stored = store.webhook(webhook.webhook.id).await.unwrap().unwrap();
    assert!(!stored.webhook.enabled);
    assert_eq!(stored.webhook.disabled_reason, disabled);
    let abandoned = store
        .delivery(webhook.webhook.id, other[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(abandoned.state, DeliveryState::Failed);
    assert!(abandoned
        .last_error
        .as_deref()
        .is_some_and(|e| e.starts_with("webhook disabled: ")));
}

#[tokio::test]
async fn a_disabled_or_deleted_webhook_gets_no_attempt() {
    let (url, seen) = receiver(StatusCode::OK, &[]).await;
    let (store, _queue, d, mut webhook, delivery) = setup(&url).await;
    webhook.webhook.disable("turned off by its owner");
    store.save_webhook(&webhook).await.unwrap();
    let result = d
        .attempt(
            webhook.webhook.id,
            delivery.id,
            Utc::now(),
            &mut fastrand::Rng::new(),
        )
        .await
        .unwrap();
    let Attempted::Abandoned(after) = result else {
        panic!("attempted: {result:?}")
    };
    assert_eq!((after.state, after.attempts), (DeliveryState::Failed, 0));
    assert_eq!(
        after.last_error.as_deref(),
        Some("webhook disabled: turned off by its owner")
    );
    assert!(lock(&seen).is_empty());
    assert_eq!(
        d.attempt(
            Uuid::new_v4(),
            delivery.id,
            Utc::now(),
            &mut fastrand::Rng::new()
        )
        .await
        .unwrap(),
        Attempted::Missing
    );
}

#[tokio::test]
async fn network_errors_and_timeouts_are_outcomes_without_the_url() {
    // A port nobody listens on (bound, then closed).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut webhook = hook(&format!("http://{closed}/hook?api_secret=TOPSECRET"));
    let delivery = deliveries_for(
        std::slice::from_ref(&webhook.webhook),
        None,
        Some(&lead("New")),
        Utc::now(),
        Utc::now(),
    )
    .unwrap()
    .remove(0);
    let sender = Sender::with_timeout(Reach::Local, Duration::from_secs(2)).unwrap();
    let AttemptOutcome::Network(text) = sender.send(&webhook, &delivery, Utc::now()).await else {
        panic!("not a network error")
    };
    assert!(
        !text.contains("TOPSECRET") && !text.contains("api_secret"),
        "{text}"
    );
    assert!(!text.is_empty());
    // An endpoint that accepts the connection and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    webhook.webhook.url = format!("http://{}/hook", silent.local_addr().unwrap());
    let slow = Sender::with_timeout(Reach::Local, Duration::from_millis(300)).unwrap();
    assert_eq!(
        slow.send(&webhook, &delivery, Utc::now()).await,
        AttemptOutcome::Timeout
    );
    drop(silent);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (url, seen) = receiver(
        StatusCode::FOUND,
        &[("location", "http://127.0.0.1:9/elsewhere")],
    )
    .await;
    let webhook = hook(&url);
    let delivery = deliveries_for(
        std::slice::from_ref(&webhook.webhook),
        None,
        Some(&lead("New")),
        Utc::now(),
        Utc::now(),
    )
    .unwrap()
    .remove(0);
    let outcome = Sender::new(Reach::Local)
        .unwrap()
        .send(&webhook, &delivery, Utc::now())
        .await;
    assert_eq!(
        outcome,
        AttemptOutcome::Response {
            status: 302,
            retry_after: None
        }
    );
    assert_eq!(lock(&seen).len(), 1);
}

#[test]
fn deliveries_for_a_change_are_deterministic() {
    let a = hook("http://127.0.0.1:1/a").webhook;
    let mut paid_only = hook("http://127.0.0.1:1/b").webhook;
    paid_only.stages = Some(vec![lead("Paid").stage]);
    let now = at("2026-03-02T00:00:00Z");
    let hooks = [a.clone(), paid_only.clone()];
    let once = deliveries_for(&hooks, Some(&lead("New")), Some(&lead("Paid")), now, now).unwrap();
    let again = deliveries_for(&hooks, Some(&lead("New")), Some(&lead("Paid")), now, now).unwrap();
    assert_eq!(once, again);
    assert_eq!(once.len(), 2);
    assert!(once
        .iter()
        .all(|d| d.event_type == EventType::LeadStageChanged && d.is_due(now)));
    assert_eq!(
        once[0].id,
        leadpipe_webhooks::delivery_id(a.id, &once[0].message_id)
    );
    let created = deliveries_for(&hooks, None, Some(&lead("New")), now, now).unwrap();
    assert_eq!(
        created.len(),
        1,
        "the Paid-only webhook skips a lead created in New"
    );
    assert!(deliveries_for(&[], None, Some(&lead("New")), now, now)
        .unwrap()
        .is_empty());
    assert!(
        deliveries_for(&hooks, Some(&lead("New")), Some(&lead("New")), now, now)
            .unwrap()
            .is_empty(),
        "no stage change"
    );
}

#[test]
fn health_is_written_only_when_it_matters() {
    let now = at("2026-03-02T00:00:00Z");
    let healthy = EndpointHealth {
        last_success_at: Some(now - TimeDelta::minutes(1)),
        ..Default::default()
    };
    let success = EndpointHealth {
        last_success_at: Some(now),
        ..Default::default()
    };
    assert!(
        !health_changed(&healthy, &success, now),
        "a success while healthy and recently written"
    );
    let stale = EndpointHealth {
        last_success_at: Some(now - attempt::SUCCESS_REFRESH),
        ..Default::default()
    };
    assert!(health_changed(&stale, &success, now));
    assert!(
        health_changed(&EndpointHealth::default(), &success, now),
        "the first success"
    );
    let failing = EndpointHealth {
        failing_since: Some(now),
        failures: 1,
        ..Default::default()
    };
    assert!(health_changed(&healthy, &failing, now));
    assert!(health_changed(&failing, &success, now), "a recovery");
}

#[test]
fn the_retry_scale_shrinks_delays_only() {
    let normal = Policies::from_scale(None).unwrap();
    assert_eq!(normal, Policies::default());
    let fast = Policies::from_scale(Some("0.01")).unwrap();
    assert_eq!(fast.retry.delays[0], TimeDelta::milliseconds(100));
    assert_eq!(fast.retry.delays.len(), normal.retry.delays.len());
    assert_eq!(
        (fast.retry.retry_for, fast.disable.clone()),
        (normal.retry.retry_for, normal.disable.clone())
    );
    for bad in ["0", "-1", "2", "fast", ""] {
        assert!(Policies::from_scale(Some(bad)).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn the_local_queue_wakes_for_due_work_and_times_later_work() {
    let queue = LocalQueue::default();
    let webhook = hook("http://127.0.0.1:1/a").webhook;
    let now = Utc::now();
    let at = |ms| {
        let mut d = deliveries_for(
            std::slice::from_ref(&webhook),
            None,
            Some(&lead("New")),
            now,
            now,
        )
        .unwrap()
        .remove(0);
        d.next_attempt_at = Some(now + TimeDelta::milliseconds(ms));
        d
    };
    queue.schedule(&[at(500), at(300)]).await.unwrap();
    assert_eq!(
        queue_sleep(&queue, now),
        Duration::from_millis(300),
        "until the earliest"
    );
    assert_eq!(
        queue_sleep(&queue, now + TimeDelta::milliseconds(400)),
        Duration::ZERO,
        "one came due: run now"
    );
    assert_eq!(
        queue_sleep(&queue, now + TimeDelta::milliseconds(400)),
        Duration::from_millis(100),
        "then the next one"
    );
    assert_eq!(
        queue_sleep(&queue, now + TimeDelta::seconds(1)),
        Duration::ZERO
    );
    assert_eq!(
        queue_sleep(&queue, now + TimeDelta::seconds(1)),
        worker::POLL_EVERY,
        "then poll as usual"
    );
    queue.schedule(&[at(60_000)]).await.unwrap();
    assert_eq!(
        queue_sleep(&queue, now),
        worker::POLL_EVERY,
        "never longer than the poll"
    );
}

fn queue_sleep(queue: &LocalQueue, now: DateTime<Utc>) -> Duration {
    queue.sleep_from(now)
}

#[tokio::test]
async fn the_worker_delivers_what_the_outbox_holds() {
    struct Changes(Mutex<Vec<leadpipe_core::store::LeadChange>>);
    #[async_trait]
    impl Outbox for Changes {
        async fn lead_changes(
            &self,
            limit: usize,
        ) -> Result<Vec<leadpipe_core::store::LeadChange>, StoreError> {
            Ok(lock(&self.0).iter().take(limit).cloned().collect())
        }
        async fn ack_lead_changes(&self, up_to_seq: i64) -> Result<(), StoreError> {
            lock(&self.0).retain(|c| c.seq > up_to_seq);
            Ok(())
        }
    }
    let (url, seen) = receiver(StatusCode::OK, &[]).await;
    let store = Arc::new(MemoryStore::default());
    store.create_webhook(&hook(&url)).await.unwrap();
    let now = Utc::now();
    let change =
        |seq, before: Option<Lead>, after: Option<Lead>| leadpipe_core::store::LeadChange {
            seq,
            at: now,
            before,
            after,
        };
    let outbox = Arc::new(Changes(Mutex::new(vec![
        change(1, None, Some(lead("New"))),
        change(2, Some(lead("New")), Some(lead("Paid"))),
        change(3, Some(lead("Paid")), None),
        // Not one lead's before and after: skipped, and acknowledged with the rest.
        change(
            4,
            Some(lead("New")),
            Some(Lead {
                id: Uuid::from_u128(7),
                ..lead("Paid")
            }),
        ),
    ])));
    let worker = Worker::new(
        store.clone(),
        Sender::new(Reach::Local).unwrap(),
        Policies::default(),
    )
    .with_outbox(outbox.clone());
    let pass = worker.pass().await.unwrap();
    assert_eq!(
        (pass.changes, pass.enqueued, pass.attempts, pass.more),
        (4, 3, 3, false)
    );
    assert!(lock(&outbox.0).is_empty(), "acknowledged");
    let mut types: Vec<String> = lock(&seen)
        .iter()
        .map(|s| {
            serde_json::from_str::<serde_json::Value>(&s.body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    types.sort();
    assert_eq!(
        types,
        ["lead.created", "lead.deleted", "lead.stage_changed"]
    );
    assert_eq!(
        worker.pass().await.unwrap(),
        Pass::default(),
        "nothing left"
    );
}

#[tokio::test]
async fn only_public_addresses_are_reached_unless_local() {
    let (url, seen) = receiver(StatusCode::OK, &[]).await;
    let port = url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/hook")
        .to_string();
    let public = Sender::new(Reach::Public).unwrap();
    let local = Sender::new(Reach::Local).unwrap();
    for target in [url.clone(), format!("http://localhost:{port}/hook")] {
        let webhook = hook(&target);
        let delivery = deliveries_for(
            std::slice::from_ref(&webhook.webhook),
            None,
            Some(&lead("New")),
            Utc::now(),
            Utc::now(),
        )
        .unwrap()
        .remove(0);
        let AttemptOutcome::Network(why) = public.send(&webhook, &delivery, Utc::now()).await
        else {
            panic!("{target} reached")
        };
        assert!(
            why.contains("not a public address") || why.contains("no public address"),
            "{why}"
        );
        assert_eq!(
            local.send(&webhook, &delivery, Utc::now()).await,
            AttemptOutcome::Response {
                status: 200,
                retry_after: None
            },
            "{target}"
        );
    }
    assert_eq!(lock(&seen).len(), 2, "only the local sender got through");
    // The cloud metadata address, as an IP literal.
    let webhook = hook("http://169.254.169.254/latest/meta-data/");
    let delivery = deliveries_for(
        std::slice::from_ref(&webhook.webhook),
        None,
        Some(&lead("New")),
        Utc::now(),
        Utc::now(),
    )
    .unwrap()
    .remove(0);
    assert!(
        matches!(local.send(&webhook, &delivery, Utc::now()).await, AttemptOutcome::Network(why) if why.contains("169.254.169.254"))
    );
}

#[tokio::test]
async fn failures_of_one_endpoint_are_recorded_at_most_every_few_seconds() {
    let (url, seen) = receiver(StatusCode::SERVICE_UNAVAILABLE, &[]).await;
    let (store, _queue, d, webhook, first) = setup(&url).await;
    let mut more = Vec::new();
    for version in 2..5 {
        let (mut before, mut after) = (lead("New"), lead("Paid"));
        (before.version, after.version) = (version - 1, version);
        more.extend(
            d.fan_out(Some(&before), Some(&after), Utc::now(), Utc::now())
                .await
                .unwrap(),
        );
    }
    assert_eq!(more.len(), 3, "three stage changes, three deliveries");
    let failures = || async {
        store
            .webhook(webhook.webhook.id)
            .await
            .unwrap()
            .unwrap()
            .health
            .failures
    };
    let t0 = Utc::now() + TimeDelta::seconds(1);
    let attempt = |delivery: Delivery, at| {
        let d = &d;
        async move {
            d.attempt(
                delivery.webhook_id,
                delivery.id,
                at,
                &mut fastrand::Rng::with_seed(1),
            )
            .await
            .unwrap()
        }
    };
    attempt(first, t0).await;
    assert_eq!(
        failures().await,
        1,
        "the first failure starts the failing period: recorded"
    );
    attempt(more[0].clone(), t0 + TimeDelta::seconds(1)).await;
    attempt(more[1].clone(), t0 + TimeDelta::seconds(2)).await;
    assert_eq!(
        failures().await,
        1,
        "failures within HEALTH_WRITE_INTERVAL of the last recorded one are not written"
    );
    attempt(
        more[2].clone(),
        t0 + HEALTH_WRITE_INTERVAL + TimeDelta::seconds(1),
    )
    .await;
    assert_eq!(
        failures().await,
        2,
        "after the interval the next failure is recorded"
    );
    assert_eq!(lock(&seen).len(), 4, "every delivery was attempted");
}
