//! The AWS webhook path against DynamoDB Local's real stream: the stream consumer's fan-out (`counters::fan_out`)
//! stores deliveries in DynamoDB and schedules them; the `webhooks` Lambda's message handler
//! (`webhooks::handle_message`) attempts them against a local receiver, reschedules the failures, requeues
//! messages that come early and drops stale ones.
//!
//! SQS itself is not run here (there is no local SQS in the test machine): the queue is a recording
//! `DeliveryQueue` whose messages the test hands to the handler at the time each is due, exactly as SQS would
//! after its delay — the message bodies are the real ones (`QueuedDelivery`), built by the same code
//! `SqsDeliveryQueue` uses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, TimeDelta, Utc};
use leadpipe_core::store::StoreError;
use leadpipe_core::{Leadpipe, Settings};
use leadpipe_delivery::{Deliverer, Policies, Reach, Sender, WebhookCache};
use leadpipe_dynamo::StreamRecord;
use leadpipe_sqs::QueuedDelivery;
use leadpipe_tests::conformance::post;
use leadpipe_tests::dynamodb_store_with_consumer;
use leadpipe_webhooks::{
    Delivery, DeliveryQueue, DeliveryState, ReceivedHeaders, Secret, StoredWebhook, Verifier,
    Webhook, WebhookSpec, WebhookStore,
};
use serde_json::json;
use uuid::Uuid;
use webhooks::Handled;

/// Every schedule call, in order: what SQS would have been sent.
#[derive(Default)]
struct RecordingQueue(Mutex<Vec<QueuedDelivery>>);

impl RecordingQueue {
    fn take(&self) -> Vec<QueuedDelivery> {
        std::mem::take(&mut *self.0.lock().expect("queue lock"))
    }
}

#[async_trait]
impl DeliveryQueue for RecordingQueue {
    async fn schedule(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        self.0
            .lock()
            .expect("queue lock")
            .extend(deliveries.iter().map(QueuedDelivery::of));
        Ok(())
    }
}

/// A receiver that answers 503 to the first `fail_first` requests of each webhook-id, then 200, and keeps every
/// request it got.
#[derive(Clone, Default)]
struct Receiver {
    fail_first: usize,
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut got = receiver.got.lock().expect("receiver lock");
    let id = headers.get("webhook-id").cloned();
    let seen = got
        .iter()
        .filter(|(h, _)| h.get("webhook-id") == id.as_ref())
        .count();
    got.push((headers, body));
    if seen < receiver.fail_first {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

async fn spawn_receiver(fail_first: usize) -> (String, Receiver) {
    let receiver = Receiver {
        fail_first,
        ..Receiver::default()
    };
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let addr = listener.local_addr().expect("receiver address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), receiver)
}

struct Setup {
    app: Leadpipe,
    deliverer: Deliverer,
    queue: Arc<RecordingQueue>,
    poller: Arc<leadpipe::streams::LocalStreamConsumer>,
    secret: Secret,
    webhook_id: Uuid,
}

async fn setup(receiver_url: &str, events: serde_json::Value) -> Setup {
    let settings = Settings::default();
    let (store, poller) = dynamodb_store_with_consumer(settings.counter_rules()).await;
    let app = Leadpipe::new(Arc::new(store.clone()), settings.clone());
    let spec = WebhookSpec::parse(
        json!({"url": receiver_url, "events": events})
            .to_string()
            .as_bytes(),
        &settings.pipeline,
    )
    .expect("a valid webhook");
    let secret = Secret::generate().expect("a secret");
    let webhook_id = Uuid::new_v4();
    let stored = StoredWebhook {
        webhook: Webhook::new(webhook_id, spec, secret.clone()),
        health: Default::default(),
        created_at: Utc::now(),
    };
    store
        .create_webhook(&stored)
        .await
        .expect("store the webhook");
    let queue = Arc::new(RecordingQueue::default());
    let deliverer = Deliverer::new(
        Arc::new(store),
        queue.clone(),
        Sender::with_timeout(Reach::Local, Duration::from_secs(5)).expect("an HTTP client"),
        Policies::scaled(1.0),
        WebhookCache::new(Duration::from_secs(30)),
    );
    Setup {
        app,
        deliverer,
        queue,
        poller,
        secret,
        webhook_id,
    }
}

async fn stream_records(poller: &leadpipe::streams::LocalStreamConsumer) -> Vec<StreamRecord> {
    poller
        .read_all()
        .await
        .expect("read DynamoDB Local's stream")
        .into_iter()
        .flat_map(|(_, records)| records)
        .collect()
}

async fn handle(s: &Setup, message: &QueuedDelivery, now: DateTime<Utc>) -> Handled {
    let body = serde_json::to_string(message).expect("a message body");
    webhooks::handle_message(&s.deliverer, &body, now)
        .await
        .expect("the message is handled")
}

fn verified_ids(receiver: &Receiver, secret: &Secret) -> Vec<String> {
    let verifier = Verifier::new(secret.clone());
    let got = receiver.got.lock().expect("receiver lock");
    got.iter()
        .map(|(headers, body)| {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            let (id, timestamp, signature) = (
                header("webhook-id"),
                header("webhook-timestamp"),
                header("webhook-signature"),
            );
            let received = ReceivedHeaders {
                id: Some(&id),
                timestamp: Some(&timestamp),
                signature: Some(&signature),
            };
            verifier
                .verify(&received, body, Utc::now())
                .expect("a valid Standard Webhooks signature");
            id
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stream_fan_out_then_queue_attempts_retries_and_delivers_each_event_once() {
    let (url, receiver) = spawn_receiver(1).await;
    let s = setup(
        &url,
        json!(["lead.created", "lead.stage_changed", "lead.deleted"]),
    )
    .await;

    // Three lead changes that are events (created, moved, deleted) and one that is not (a field update).
    let created = post(
        &s.app,
        json!({"email": "hook@example.com", "stage": "Form Started"}),
    )
    .await
    .expect("create");
    let lead = created.lead_id;
    post(
        &s.app,
        json!({"lead_id": lead.to_string(), "phone": "+1 555 0100"}),
    )
    .await
    .expect("update");
    post(
        &s.app,
        json!({"lead_id": lead.to_string(), "stage": "Paid"}),
    )
    .await
    .expect("move");
    s.app.delete_lead(lead).await.expect("delete");

    let records = stream_records(&s.poller).await;
    let now = Utc::now();
    let queued = counters::fan_out(&s.deliverer, &records, now)
        .await
        .expect("fan-out");
    assert_eq!(
        queued, 3,
        "created, stage_changed, deleted; the field update is no event"
    );
    let first = s.queue.take();
    assert_eq!(first.len(), 3);
    assert!(
        first
            .iter()
            .all(|m| m.webhook_id == s.webhook_id && m.due == Some(now)),
        "due at once: {first:?}"
    );

    // A redelivered batch (Lambda retries a failed batch) stores nothing new: the messages it sends are stale.
    assert_eq!(
        counters::fan_out(&s.deliverer, &records, now + TimeDelta::seconds(1))
            .await
            .expect("replay"),
        3
    );
    let replayed = s.queue.take();

    // First attempts: the receiver answers 503 to each event's first request.
    for message in &first {
        assert_eq!(handle(&s, message, now).await, Handled::Attempted);
    }
    let retries = s.queue.take();
    assert_eq!(retries.len(), 3, "each failure schedules its retry");
    for (retry, message) in retries.iter().zip(&first) {
        assert_eq!(retry.delivery_id, message.delivery_id);
        let delay = retry.due.expect("a retry time") - now;
        assert!(
            delay >= TimeDelta::seconds(10) && delay <= TimeDelta::seconds(12),
            "the first retry comes after ~10 s: {delay}"
        );
    }
    // The replayed messages name the old schedule: dropped, never attempted.
    for message in &replayed {
        assert_eq!(
            handle(&s, message, now + TimeDelta::seconds(2)).await,
            Handled::Dropped("finished or rescheduled since")
        );
    }
    // A retry message that SQS hands out early goes back to the queue.
    assert_eq!(
        handle(&s, &retries[0], now + TimeDelta::seconds(3)).await,
        Handled::Requeued
    );
    assert_eq!(s.queue.take().len(), 1);
    // At their time, the retries are delivered.
    for retry in &retries {
        let due = retry.due.expect("a retry time");
        assert_eq!(handle(&s, retry, due).await, Handled::Attempted);
    }
    assert!(s.queue.take().is_empty(), "nothing left to schedule");
    // The same retry message again (SQS delivers at least once): the delivery is finished, so it is dropped.
    assert_eq!(
        handle(&s, &retries[0], Utc::now() + TimeDelta::minutes(1)).await,
        Handled::Dropped("finished or rescheduled since")
    );

    for message in &first {
        let delivery = s
            .deliverer
            .store()
            .delivery(s.webhook_id, message.delivery_id)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(
            (
                delivery.state,
                delivery.attempts,
                delivery.last_response_code
            ),
            (DeliveryState::Delivered, 2, Some(200))
        );
    }
    let ids = verified_ids(&receiver, &s.secret);
    assert_eq!(ids.len(), 6, "two attempts per event");
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for id in &ids {
        *per_id.entry(id.as_str()).or_default() += 1;
    }
    assert_eq!(
        per_id.len(),
        3,
        "three events, each with one webhook-id kept across its retry: {per_id:?}"
    );
    assert!(per_id.values().all(|n| *n == 2));
    let bodies: Vec<serde_json::Value> = {
        let got = receiver.got.lock().expect("receiver lock");
        let mut seen = std::collections::BTreeSet::new();
        got.iter()
            .filter(|(h, _)| seen.insert(h.get("webhook-id").cloned()))
            .map(|(_, b)| serde_json::from_slice(b).expect("a JSON body"))
            .collect()
    };
    let types: Vec<&str> = bodies.iter().filter_map(|b| b["type"].as_str()).collect();
    assert_eq!(
        types,
        ["lead.created", "lead.stage_changed", "lead.deleted"],
        "after dedup by webhook-id, each event once, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_webhook_means_no_delivery_and_no_message() {
    let (url, receiver) = spawn_receiver(0).await;
    let s = setup(&url, json!(["lead.deleted"])).await;
    post(
        &s.app,
        json!({"email": "quiet@example.com", "stage": "Form Started"}),
    )
    .await
    .expect("create");
    let records = stream_records(&s.poller).await;
    assert!(!records.is_empty());
    assert_eq!(
        counters::fan_out(&s.deliverer, &records, Utc::now())
            .await
            .expect("fan-out"),
        0,
        "only deletions are subscribed"
    );
    assert!(s.queue.take().is_empty());
    assert!(receiver.got.lock().expect("receiver lock").is_empty());
}
