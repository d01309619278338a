//! The webhook store conformance suite: the same cases run against SQLite and DynamoDB Local
//! (`tests/tests/webhooks_sqlite.rs`, `tests/tests/webhooks_dynamodb.rs`), straight on the
//! [`WebhookStore`] trait, plus the SQLite store's lead-change outbox ([`outbox_records_lead_changes`] and
//! friends, SQLite only).

use chrono::{DateTime, TimeDelta, Utc};
use leadpipe_core::store::LeadChange;
use leadpipe_core::Leadpipe;
use leadpipe_sqlite::SqliteStore;
use leadpipe_webhooks::{
    delivery_id, AttemptOutcome, Delivery, DeliveryQuery, DeliveryState, Dispatch, EndpointHealth,
    EventType, Format, RetryPolicy, Secret, StoredWebhook, Webhook, WebhookStore,
};
use serde_json::json;
use uuid::Uuid;

use crate::conformance::{post, stage};

/// Generates one `#[tokio::test]` per webhook store case, each on a fresh store from `$make` (an async expression
/// returning a [`WebhookStore`]).
#[macro_export]
macro_rules! webhook_conformance_suite {
    ($make:expr) => {
        $crate::webhook_conformance_suite!(@cases $make;
            webhooks_create_list_get_delete, save_webhook_keeps_state_and_never_resurrects, enqueue_is_idempotent,
            save_delivery_round_trips, deliveries_list_newest_first_in_pages_per_webhook, due_deliveries_are_pending_due_and_earliest_first,
            deleting_a_webhook_stops_its_pending_deliveries);
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::webhook_conformance::$case($make.await).await;
            }
        )*
    };
}

/// A fixed instant for the cases (`2026-03-01T12:00:00Z`) plus `seconds`.
pub fn t(seconds: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
        .map(|d| d.with_timezone(&Utc))
        .expect("fixed time")
        + TimeDelta::seconds(seconds)
}

/// A new enabled webhook (standard format, every event) created at `created_at`.
pub fn webhook(url: &str, created_at: DateTime<Utc>) -> StoredWebhook {
    StoredWebhook {
        webhook: Webhook {
            id: Uuid::new_v4(),
            url: url.to_string(),
            events: vec![
                EventType::LeadCreated,
                EventType::LeadStageChanged,
                EventType::LeadDeleted,
            ],
            stages: None,
            format: Format::default(),
            event_names: Default::default(),
            event_source_id: None,
            consent: Default::default(),
            secret: Secret::generate().expect("a secret"),
            enabled: true,
            disabled_reason: None,
        },
        health: EndpointHealth::default(),
        created_at,
    }
}

/// A pending delivery of message `message` to `webhook`, created (and due) at `at`.
pub fn delivery(webhook: Uuid, message: &str, at: DateTime<Utc>) -> Delivery {
    let dispatch = Dispatch {
        webhook_id: webhook,
        message_id: message.to_string(),
        event_type: EventType::LeadCreated,
        occurred_at: at,
        body: json!({"type": "lead.created", "message": message}).to_string(),
    };
    Delivery::new(delivery_id(webhook, message), dispatch, at)
}

async fn created<S: WebhookStore>(store: &S, url: &str, at: DateTime<Utc>) -> StoredWebhook {
    let w = webhook(url, at);
    store.create_webhook(&w).await.expect("create webhook");
    w
}

/// Every delivery of `webhook`, page by page (`limit` a page), checking each page's size.
pub async fn all_deliveries<S: WebhookStore>(
    store: &S,
    webhook: Uuid,
    limit: usize,
) -> Vec<Delivery> {
    let mut out = Vec::new();
    let mut query = DeliveryQuery {
        webhook_id: webhook,
        limit,
        after: None,
    };
    for _ in 0..1000 {
        let page = store.deliveries(&query).await.expect("deliveries");
        assert!(
            page.deliveries.len() <= limit,
            "a page of {} for limit {limit}",
            page.deliveries.len()
        );
        out.extend(page.deliveries);
        match page.next_after {
            Some(after) => query.after = Some(after),
            None => return out,
        }
    }
    panic!("listing never ended");
}

fn ids(deliveries: &[Delivery]) -> Vec<Uuid> {
    deliveries.iter().map(|d| d.id).collect()
}

/// Created, listed oldest first, read by id, deleted once.
pub async fn webhooks_create_list_get_delete<S: WebhookStore>(store: S) {
    assert!(store.webhooks().await.unwrap().is_empty());
    let b = created(&store, "https://b.example/hook", t(20)).await;
    let a = created(&store, "https://a.example/hook", t(10)).await;
    let c = created(&store, "https://c.example/hook", t(30)).await;
    assert_eq!(
        store.webhooks().await.unwrap(),
        vec![a.clone(), b.clone(), c.clone()],
        "oldest first, whole"
    );
    assert_eq!(store.webhook(b.webhook.id).await.unwrap(), Some(b.clone()));
    assert_eq!(store.webhook(Uuid::new_v4()).await.unwrap(), None);
    assert!(store.delete_webhook(b.webhook.id).await.unwrap());
    assert!(
        !store.delete_webhook(b.webhook.id).await.unwrap(),
        "already gone"
    );
    assert!(!store.delete_webhook(Uuid::new_v4()).await.unwrap());
    assert_eq!(store.webhook(b.webhook.id).await.unwrap(), None);
    assert_eq!(store.webhooks().await.unwrap(), vec![a, c]);
}

/// `save_webhook` replaces enabled/reason/health, and does not bring back a deleted webhook.
pub async fn save_webhook_keeps_state_and_never_resurrects<S: WebhookStore>(store: S) {
    let mut w = created(&store, "https://a.example/hook", t(0)).await;
    w.webhook
        .disable("the endpoint answered 410 Gone at 2026-03-01T12:00:00Z");
    w.health.record(
        &AttemptOutcome::Response {
            status: 410,
            retry_after: None,
        },
        t(5),
        &Default::default(),
    );
    store.save_webhook(&w).await.unwrap();
    let stored = store
        .webhook(w.webhook.id)
        .await
        .unwrap()
        .expect("still there");
    assert_eq!(stored, w);
    assert!(!stored.webhook.enabled);
    assert_eq!(stored.health.failures, 1);
    w.webhook.enable();
    w.health = EndpointHealth::default();
    store.save_webhook(&w).await.unwrap();
    assert_eq!(store.webhooks().await.unwrap(), vec![w.clone()]);

    assert!(store.delete_webhook(w.webhook.id).await.unwrap());
    store.save_webhook(&w).await.unwrap();
    assert_eq!(
        store.webhook(w.webhook.id).await.unwrap(),
        None,
        "a save after the delete does not resurrect it"
    );
    assert!(store.webhooks().await.unwrap().is_empty());
}

/// Enqueueing a delivery id that is already stored leaves the stored delivery exactly as it was.
pub async fn enqueue_is_idempotent<S: WebhookStore>(store: S) {
    let w = created(&store, "https://a.example/hook", t(0))
        .await
        .webhook
        .id;
    let d = delivery(w, "msg_1", t(1));
    store
        .enqueue_deliveries(&[d.clone(), d.clone()])
        .await
        .unwrap();
    store
        .enqueue_deliveries(std::slice::from_ref(&d))
        .await
        .unwrap();
    assert_eq!(
        all_deliveries(&store, w, 10).await,
        vec![d.clone()],
        "queued once"
    );

    let mut attempted = d.clone();
    attempted.record_attempt(
        &AttemptOutcome::Timeout,
        t(2),
        &RetryPolicy::default(),
        &mut fastrand::Rng::with_seed(1),
    );
    store.save_delivery(&attempted).await.unwrap();
    // The same change replayed: its delivery (same id, fresh state) is enqueued again, with another one.
    let other = delivery(w, "msg_2", t(3));
    store
        .enqueue_deliveries(&[d.clone(), other.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.delivery(w, d.id).await.unwrap(),
        Some(attempted.clone()),
        "state untouched by the replay"
    );
    assert_eq!(all_deliveries(&store, w, 10).await, vec![other, attempted]);
    store.enqueue_deliveries(&[]).await.unwrap();

    // Concurrent enqueues of one batch (two stream consumers replaying the same records) queue each delivery once.
    let batch: Vec<Delivery> = (0..5)
        .map(|i| delivery(w, &format!("msg_c{i}"), t(10 + i)))
        .collect();
    let (r1, r2, r3) = tokio::join!(
        store.enqueue_deliveries(&batch),
        store.enqueue_deliveries(&batch),
        store.enqueue_deliveries(&batch)
    );
    for r in [r1, r2, r3] {
        r.expect("a concurrent enqueue");
    }
    assert_eq!(all_deliveries(&store, w, 100).await.len(), 7);
}

/// What `save_delivery` stores is what `delivery` reads, only under its own webhook.
pub async fn save_delivery_round_trips<S: WebhookStore>(store: S) {
    let w = created(&store, "https://a.example/hook", t(0))
        .await
        .webhook
        .id;
    let other = created(&store, "https://b.example/hook", t(0))
        .await
        .webhook
        .id;
    let mut d = delivery(w, "msg_1", t(1));
    store
        .enqueue_deliveries(std::slice::from_ref(&d))
        .await
        .unwrap();
    assert_eq!(store.delivery(w, d.id).await.unwrap(), Some(d.clone()));
    let mut rng = fastrand::Rng::with_seed(7);
    d.record_attempt(
        &AttemptOutcome::Response {
            status: 503,
            retry_after: None,
        },
        t(2),
        &RetryPolicy::default(),
        &mut rng,
    );
    store.save_delivery(&d).await.unwrap();
    let stored = store.delivery(w, d.id).await.unwrap().expect("stored");
    assert_eq!(stored, d);
    assert_eq!(
        (stored.attempts, stored.last_response_code, stored.state),
        (1, Some(503), DeliveryState::Pending)
    );
    d.record_attempt(
        &AttemptOutcome::Response {
            status: 200,
            retry_after: None,
        },
        t(20),
        &RetryPolicy::default(),
        &mut rng,
    );
    store.save_delivery(&d).await.unwrap();
    assert_eq!(store.delivery(w, d.id).await.unwrap(), Some(d.clone()));
    assert_eq!(
        store.delivery(other, d.id).await.unwrap(),
        None,
        "not under another webhook"
    );
    assert_eq!(store.delivery(w, Uuid::new_v4()).await.unwrap(), None);
}

/// Newest first (creation time, then id), every delivery exactly once across pages, and only the webhook's own.
pub async fn deliveries_list_newest_first_in_pages_per_webhook<S: WebhookStore>(store: S) {
    let a = created(&store, "https://a.example/hook", t(0))
        .await
        .webhook
        .id;
    let b = created(&store, "https://b.example/hook", t(0))
        .await
        .webhook
        .id;
    let mut mine = Vec::new();
    for i in 0..11 {
        // Some share a creation time: the id breaks the tie.
        mine.push(delivery(
            a,
            &format!("msg_a{i}"),
            t(100 + (i % 4) * 7 + i / 4),
        ));
    }
    let theirs: Vec<Delivery> = (0..4)
        .map(|i| delivery(b, &format!("msg_b{i}"), t(100 + i)))
        .collect();
    store.enqueue_deliveries(&mine[..6]).await.unwrap();
    store.enqueue_deliveries(&theirs).await.unwrap();
    store.enqueue_deliveries(&mine[6..]).await.unwrap();
    let mut expected = mine.clone();
    expected.sort_by_key(|d| std::cmp::Reverse((d.created_at, d.id)));
    for limit in [1, 3, 4, 11, 100] {
        assert_eq!(
            ids(&all_deliveries(&store, a, limit).await),
            ids(&expected),
            "pages of {limit}"
        );
    }
    let first = store
        .deliveries(&DeliveryQuery {
            webhook_id: a,
            limit: 4,
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(ids(&first.deliveries), ids(&expected[..4]));
    assert!(first.next_after.is_some());
    let mut theirs_expected = theirs.clone();
    theirs_expected.reverse();
    assert_eq!(all_deliveries(&store, b, 2).await, theirs_expected);
    assert!(all_deliveries(&store, Uuid::new_v4(), 5).await.is_empty());
    for bad in ["garbage", "~", "2026-03-01T12:00:00Z", "zzz#not-a-uuid"] {
        let page = store
            .deliveries(&DeliveryQuery {
                webhook_id: a,
                limit: 5,
                after: Some(bad.into()),
            })
            .await
            .unwrap();
        assert_eq!(
            page,
            Default::default(),
            "a cursor the store never handed out ({bad}) matches nothing"
        );
    }
}

/// Only pending deliveries due by `now`, earliest first, at most `limit`, none of disabled or deleted webhooks.
pub async fn due_deliveries_are_pending_due_and_earliest_first<S: WebhookStore>(store: S) {
    let a = created(&store, "https://a.example/hook", t(0))
        .await
        .webhook
        .id;
    let b = created(&store, "https://b.example/hook", t(0))
        .await
        .webhook
        .id;
    let mut disabled = created(&store, "https://off.example/hook", t(0)).await;
    let deleted = created(&store, "https://gone.example/hook", t(0))
        .await
        .webhook
        .id;
    let now = t(1000);
    let policy = RetryPolicy::default();
    let mut rng = fastrand::Rng::with_seed(3);

    let early = delivery(b, "msg_early", t(100));
    let middle = delivery(a, "msg_middle", t(200));
    let mut retried = delivery(a, "msg_retried", t(50));
    let at_now = delivery(b, "msg_now", now);
    let later = delivery(a, "msg_later", t(1001));
    let mut not_yet = delivery(b, "msg_not_yet", t(10));
    let mut delivered = delivery(a, "msg_delivered", t(20));
    let mut failed = delivery(a, "msg_failed", t(30));
    store
        .enqueue_deliveries(&[
            middle.clone(),
            later.clone(),
            at_now.clone(),
            retried.clone(),
            not_yet.clone(),
        ])
        .await
        .unwrap();
    store
        .enqueue_deliveries(&[early.clone(), delivered.clone(), failed.clone()])
        .await
        .unwrap();
    store
        .enqueue_deliveries(&[
            delivery(disabled.webhook.id, "msg_off", t(1)),
            delivery(deleted, "msg_gone", t(1)),
        ])
        .await
        .unwrap();
    // Attempted once at t(600): due again about 10–12 s later.
    retried.record_attempt(&AttemptOutcome::Timeout, t(600), &policy, &mut rng);
    store.save_delivery(&retried).await.unwrap();
    // Attempted at t(995): its retry comes after `now`.
    not_yet.record_attempt(&AttemptOutcome::Timeout, t(995), &policy, &mut rng);
    store.save_delivery(&not_yet).await.unwrap();
    delivered.record_attempt(
        &AttemptOutcome::Response {
            status: 204,
            retry_after: None,
        },
        t(21),
        &policy,
        &mut rng,
    );
    store.save_delivery(&delivered).await.unwrap();
    failed.record_attempt(
        &AttemptOutcome::Response {
            status: 410,
            retry_after: None,
        },
        t(31),
        &policy,
        &mut rng,
    );
    store.save_delivery(&failed).await.unwrap();
    disabled.webhook.disable("turned off");
    store.save_webhook(&disabled).await.unwrap();
    assert!(store.delete_webhook(deleted).await.unwrap());

    let due = store.due_deliveries(now, 50).await.unwrap();
    assert_eq!(
        ids(&due),
        ids(&[
            early.clone(),
            middle.clone(),
            retried.clone(),
            at_now.clone()
        ]),
        "earliest first"
    );
    assert_eq!(due[2], retried, "as last saved");
    assert_eq!(
        ids(&store.due_deliveries(now, 2).await.unwrap()),
        ids(&[early.clone(), middle.clone()]),
        "at most limit"
    );
    assert_eq!(
        ids(&store.due_deliveries(t(150), 50).await.unwrap()),
        vec![early.id]
    );
    assert!(store.due_deliveries(t(99), 50).await.unwrap().is_empty());

    // Delivered ones leave the queue; re-enabling a webhook brings its pending deliveries back.
    let mut done = early.clone();
    done.record_attempt(
        &AttemptOutcome::Response {
            status: 200,
            retry_after: None,
        },
        now,
        &policy,
        &mut rng,
    );
    store.save_delivery(&done).await.unwrap();
    disabled.webhook.enable();
    store.save_webhook(&disabled).await.unwrap();
    let due = store.due_deliveries(now, 50).await.unwrap();
    assert_eq!(
        ids(&due),
        vec![
            delivery_id(disabled.webhook.id, "msg_off"),
            middle.id,
            retried.id,
            at_now.id
        ]
    );
}

/// Deleting a webhook: its pending deliveries are never due again, and later saves of them store nothing.
pub async fn deleting_a_webhook_stops_its_pending_deliveries<S: WebhookStore>(store: S) {
    let w = created(&store, "https://a.example/hook", t(0))
        .await
        .webhook
        .id;
    let keep = created(&store, "https://b.example/hook", t(0))
        .await
        .webhook
        .id;
    let mine: Vec<Delivery> = (0..3)
        .map(|i| delivery(w, &format!("msg_{i}"), t(i)))
        .collect();
    let other = delivery(keep, "msg_other", t(5));
    store.enqueue_deliveries(&mine).await.unwrap();
    store
        .enqueue_deliveries(std::slice::from_ref(&other))
        .await
        .unwrap();
    assert_eq!(store.due_deliveries(t(10), 50).await.unwrap().len(), 4);

    assert!(store.delete_webhook(w).await.unwrap());
    assert_eq!(
        store.due_deliveries(t(10), 50).await.unwrap(),
        vec![other.clone()]
    );
    // A worker that loaded one before the delete saves its attempt afterwards.
    let mut late = mine[0].clone();
    late.record_attempt(
        &AttemptOutcome::Timeout,
        t(11),
        &RetryPolicy::default(),
        &mut fastrand::Rng::with_seed(1),
    );
    store.save_delivery(&late).await.unwrap();
    assert_eq!(
        store.delivery(w, late.id).await.unwrap(),
        None,
        "nothing stored for a deleted webhook"
    );
    assert_eq!(store.due_deliveries(t(100), 50).await.unwrap(), vec![other]);
}

/// The application core and its SQLite store (the same store: both handles share one database).
pub fn sqlite_app() -> (Leadpipe, SqliteStore) {
    let settings = leadpipe_core::Settings::default();
    let store = crate::sqlite_store(settings.counter_rules());
    (
        Leadpipe::new(std::sync::Arc::new(store.clone()), settings),
        store,
    )
}

async fn post_ok(app: &Leadpipe, body: serde_json::Value) -> Uuid {
    post(app, body.clone())
        .await
        .unwrap_or_else(|e| panic!("postback {body} failed: {e}"))
        .lead_id
}

fn stages(changes: &[LeadChange]) -> Vec<(Option<String>, Option<String>)> {
    changes
        .iter()
        .map(|c| {
            (
                c.before.as_ref().map(|l| l.stage.as_str().to_string()),
                c.after.as_ref().map(|l| l.stage.as_str().to_string()),
            )
        })
        .collect()
}

/// With an enabled webhook, every lead write path (create, update, manual move, delete) records its
/// before/after images, in commit order; ack forgets them.
pub async fn outbox_records_lead_changes() {
    let (app, store) = sqlite_app();
    store
        .create_webhook(&webhook("https://a.example/hook", Utc::now()))
        .await
        .unwrap();
    let before_writes = Utc::now();
    let id = post_ok(
        &app,
        json!({"email": "o@example.com", "stage": "Form Started"}),
    )
    .await;
    post_ok(
        &app,
        json!({"lead_id": id, "stage": "Application Submitted"}),
    )
    .await;
    post_ok(
        &app,
        json!({"lead_id": id, "stage": "Application Submitted"}),
    )
    .await; // a repeat: nothing changes
    app.move_stage(id, &stage("New")).await.unwrap();
    app.delete_lead(id).await.unwrap();

    let changes = store.lead_changes(100).await.unwrap();
    assert_eq!(
        stages(&changes),
        vec![
            (None, Some("Form Started".into())),
            (
                Some("Form Started".into()),
                Some("Application Submitted".into())
            ),
            (Some("Application Submitted".into()), Some("New".into())),
            (Some("New".into()), None),
        ]
    );
    assert!(
        changes.windows(2).all(|w| w[0].seq < w[1].seq),
        "in commit order"
    );
    assert!(changes
        .iter()
        .all(|c| c.at >= before_writes - TimeDelta::seconds(1)));
    assert!(changes
        .iter()
        .flat_map(|c| c.before.iter().chain(c.after.iter()))
        .all(|l| l.id == id));
    assert_eq!(
        changes[1].after.as_ref().map(|l| l.version),
        changes[2].before.as_ref().map(|l| l.version)
    );

    assert_eq!(
        store.lead_changes(2).await.unwrap(),
        changes[..2].to_vec(),
        "oldest first, at most limit"
    );
    store.ack_lead_changes(changes[1].seq).await.unwrap();
    assert_eq!(
        store.lead_changes(100).await.unwrap(),
        changes[2..].to_vec()
    );
    store.ack_lead_changes(changes[3].seq).await.unwrap();
    assert!(store.lead_changes(100).await.unwrap().is_empty());
    let next = post_ok(&app, json!({"email": "p@example.com"})).await;
    let after_ack = store.lead_changes(100).await.unwrap();
    assert_eq!(after_ack.len(), 1);
    assert!(
        after_ack[0].seq > changes[3].seq,
        "sequence numbers are never reused"
    );
    assert_eq!(after_ack[0].after.as_ref().map(|l| l.id), Some(next));
}

/// With no enabled webhook nothing is recorded: none at all, only disabled ones, or after the last is deleted.
pub async fn outbox_records_nothing_without_an_enabled_webhook() {
    let (app, store) = sqlite_app();
    post_ok(&app, json!({"email": "a@example.com"})).await;
    assert!(
        store.lead_changes(100).await.unwrap().is_empty(),
        "no webhook"
    );

    let mut w = webhook("https://a.example/hook", Utc::now());
    w.webhook.disable("off");
    store.create_webhook(&w).await.unwrap();
    post_ok(&app, json!({"email": "b@example.com"})).await;
    assert!(
        store.lead_changes(100).await.unwrap().is_empty(),
        "only a disabled webhook"
    );

    w.webhook.enable();
    store.save_webhook(&w).await.unwrap();
    post_ok(&app, json!({"email": "c@example.com"})).await;
    assert_eq!(
        store.lead_changes(100).await.unwrap().len(),
        1,
        "enabled again"
    );

    assert!(store.delete_webhook(w.webhook.id).await.unwrap());
    post_ok(&app, json!({"email": "d@example.com"})).await;
    assert_eq!(
        store.lead_changes(100).await.unwrap().len(),
        1,
        "nothing more after the delete"
    );
}

/// The "an enabled webhook exists" state comes back from the database when it is reopened, and recorded
/// changes survive the restart.
pub async fn outbox_survives_reopening() {
    let dir = std::env::temp_dir().join(format!("leadpipe-test-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let path = dir.join("leads.db");
    let settings = leadpipe_core::Settings::default();
    {
        let store = SqliteStore::open(&path, settings.counter_rules()).expect("open");
        store
            .create_webhook(&webhook("https://a.example/hook", Utc::now()))
            .await
            .unwrap();
        let app = Leadpipe::new(std::sync::Arc::new(store.clone()), settings.clone());
        post_ok(&app, json!({"email": "a@example.com"})).await;
    }
    let store = SqliteStore::open(&path, settings.counter_rules()).expect("reopen");
    assert_eq!(
        store.lead_changes(100).await.unwrap().len(),
        1,
        "pending changes survive"
    );
    let app = Leadpipe::new(std::sync::Arc::new(store.clone()), settings);
    post_ok(&app, json!({"email": "b@example.com"})).await;
    assert_eq!(
        store.lead_changes(100).await.unwrap().len(),
        2,
        "still recording after the reopen"
    );
}
