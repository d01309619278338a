//! The stream consumer against DynamoDB Local's real stream: batches applied twice, a crash between a batch's
//! stage changes and its counters or between two of its transactions, overlapping retries, several shards, and a
//! workload of creates, progress, forced backward moves, manual moves, email changes and deletes. After every
//! scenario the counters equal a full recount and no stage change or claim is left behind.

use std::collections::BTreeMap;
use std::sync::Arc;

use leadpipe::streams::LocalStreamConsumer;
use leadpipe_core::domain::Pipeline;
use leadpipe_core::{Leadpipe, Settings};
use leadpipe_dynamo::{DynamoStore, StreamRecord};
use leadpipe_tests::conformance::{assert_counters_match_recount, post, stage};
use leadpipe_tests::{dynamodb_orphans, dynamodb_store_with_consumer, Orphans};
use serde_json::json;
use uuid::Uuid;

/// An app on a fresh table whose stream nobody consumes, the poller that reads it, and the raw store.
async fn setup() -> (Leadpipe, Arc<LocalStreamConsumer>, DynamoStore) {
    let settings = Settings::default();
    let (store, poller) = dynamodb_store_with_consumer(settings.counter_rules()).await;
    (
        Leadpipe::new(Arc::new(store.clone()), settings),
        poller,
        store,
    )
}

/// Creates, progress, forced backward moves, manual moves (both ways), email changes and deletes; returns how many
/// stage changes after creation each surviving lead went through.
async fn workload(app: &Leadpipe, leads: usize) -> BTreeMap<Uuid, usize> {
    let sources = ["google", "Facebook", "x"];
    let mut changes = BTreeMap::new();
    let mut ids = Vec::new();
    for i in 0..leads {
        let body = json!({
            "email": format!("w{i}@example.com"), "stage": "Form Started", "source": sources[i % 3],
            "campaign": format!("campaign-{i}"), "domain": format!("site{}.example", i % 5),
            "device_type": if i % 2 == 0 { "mobile" } else { "desktop" }, "form_completion_percent": (i * 7) % 100
        });
        let o = post(app, body).await.expect("create");
        ids.push(o.lead_id);
        changes.insert(o.lead_id, 0);
    }
    for (i, id) in ids.iter().enumerate() {
        let mut moved = |n| *changes.get_mut(id).unwrap() += n;
        if i % 2 == 0 {
            post(
                app,
                json!({"lead_id": id.to_string(), "stage": "Paid", "form_completion_percent": 100}),
            )
            .await
            .unwrap();
            moved(1);
        }
        if i % 4 == 0 {
            post(
                app,
                json!({"lead_id": id.to_string(), "stage": "New", "force_stage": true}),
            )
            .await
            .unwrap();
            moved(1);
        }
        if i % 3 == 0 {
            app.move_stage(*id, &stage("Completed")).await.unwrap();
            app.move_stage(*id, &stage("Application Submitted"))
                .await
                .unwrap();
            moved(2);
        }
        if i % 5 == 1 {
            post(app, json!({"lead_id": id.to_string(), "email": format!("changed{i}@example.com"), "source": "later"})).await.unwrap();
        }
    }
    for (i, id) in ids.iter().enumerate() {
        if i % 6 == 1 {
            app.delete_lead(*id).await.unwrap();
            changes.remove(id);
        }
    }
    changes
}

async fn assert_history(app: &Leadpipe, expected: &BTreeMap<Uuid, usize>) {
    for (id, n) in expected {
        let (_, history) = app.lead_with_history(*id).await.unwrap();
        assert_eq!(
            history.len(),
            1 + n,
            "lead {id}: creation plus every stage change"
        );
        let p = Pipeline::default();
        assert!(
            history
                .windows(2)
                .all(|w| w[0].at <= w[1].at && w[1].from.as_ref() == Some(&w[0].to)),
            "a chain: {history:?}"
        );
        assert!(history.iter().all(|h| p.index_of(&h.to).is_some()));
    }
}

async fn records(poller: &LocalStreamConsumer) -> Vec<(String, Vec<StreamRecord>)> {
    let shards = poller.read_all().await.expect("read the stream");
    assert!(
        shards.iter().map(|(_, r)| r.len()).sum::<usize>() > 0,
        "the stream has records"
    );
    shards
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_batch_applied_twice_counts_once() {
    let (app, poller, store) = setup().await;
    let expected = workload(&app, 12).await;
    for (shard, batch) in records(&poller).await {
        let first = poller.consumer().apply(&shard, &batch).await.unwrap();
        assert!(first.transactions > 0 && first.replayed == 0, "{first:?}");
        let again = poller.consumer().apply(&shard, &batch).await.unwrap();
        assert_eq!(
            (again.transactions, again.replayed),
            (0, again.lead_writes),
            "a replay changes nothing: {again:?}"
        );
    }
    assert_counters_match_recount(&app).await;
    assert_history(&app, &expected).await;
    assert_eq!(dynamodb_orphans(&store).await, Orphans::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_between_stage_changes_and_counters_is_caught_up_exactly() {
    let (app, poller, _) = setup().await;
    let expected = workload(&app, 8).await;
    let consumer = poller.consumer();
    consumer.fail_after_transactions(Some(0)).await;
    for (shard, batch) in records(&poller).await {
        assert!(
            consumer.apply(&shard, &batch).await.is_err(),
            "the injected crash"
        );
    }
    let analytics = app.analytics(None, chrono::Utc::now()).await.unwrap();
    assert_eq!(
        analytics.total_leads, 0,
        "no counter was written before the crash"
    );
    assert_history(&app, &expected).await;
    consumer.fail_after_transactions(None).await;
    for (shard, batch) in records(&poller).await {
        consumer.apply(&shard, &batch).await.unwrap();
    }
    assert_counters_match_recount(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_between_transactions_and_overlapping_retries_count_each_write_once() {
    let (app, poller, _) = setup().await;
    // Distinct campaigns and domains make many buckets: the batch needs several transactions.
    workload(&app, 30).await;
    let consumer = poller.consumer();
    for (shard, batch) in records(&poller).await {
        consumer.fail_after_transactions(Some(1)).await;
        assert!(
            consumer.apply(&shard, &batch).await.is_err(),
            "crashes after one transaction"
        );
        consumer.fail_after_transactions(None).await;
        // Lambda bisects a failing batch: the first half, then the whole batch again (overlapping both).
        let half = &batch[..batch.len() / 2];
        consumer.apply(&shard, half).await.unwrap();
        let whole = consumer.apply(&shard, &batch).await.unwrap();
        assert!(
            whole.replayed > 0,
            "the retry skipped what was applied: {whole:?}"
        );
        assert!(whole.transactions > 0);
    }
    assert_counters_match_recount(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_stream_shards_each_keep_their_checkpoint() {
    let (app, poller, store) = setup().await;
    let expected = workload(&app, 12).await;
    // Two shards, as DynamoDB splits a busy table: each lead's records stay in one shard, in order.
    let mut shards: BTreeMap<String, Vec<StreamRecord>> = BTreeMap::new();
    for (_, batch) in records(&poller).await {
        for r in batch {
            let image = r.new_image.as_ref().or(r.old_image.as_ref()).unwrap();
            let pk = image["pk"].as_s().unwrap();
            let shard = if pk.bytes().map(u32::from).sum::<u32>() % 2 == 0 {
                "shard-a"
            } else {
                "shard-b"
            };
            shards.entry(shard.into()).or_default().push(r);
        }
    }
    assert_eq!(shards.len(), 2);
    for _ in 0..2 {
        for (shard, batch) in &shards {
            poller.consumer().apply(shard, batch).await.unwrap();
        }
    }
    assert_counters_match_recount(&app).await;
    assert_history(&app, &expected).await;
    assert_eq!(dynamodb_orphans(&store).await, Orphans::default());
}
