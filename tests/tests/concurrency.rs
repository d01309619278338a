//! Bursts like a busy landing page sends them, on both stores: many concurrent postbacks over few emails, and
//! concurrent manual moves and deletes. Nothing is lost, duplicated or orphaned; counters stay exact.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use leadpipe_core::domain::Pipeline;
use leadpipe_core::{Leadpipe, Settings};
use leadpipe_tests::conformance::{all_leads, assert_counters_exact, post, settled, PostError};
use leadpipe_tests::{
    dynamodb_orphans, dynamodb_store, on_both_stores, sqlite_store, Orphans, StoreKind,
};
use serde_json::json;

/// The store plus an audit of its raw contents.
async fn store_with_audit(
    kind: StoreKind,
) -> (
    Leadpipe,
    Box<dyn Fn() -> futures_audit::AuditFuture + Send + Sync>,
) {
    match kind {
        StoreKind::Sqlite => {
            let store = sqlite_store(Default::default());
            (
                Leadpipe::new(Arc::new(store.clone()), Settings::default()),
                Box::new(move || {
                    let store = store.clone();
                    Box::pin(async move {
                        store
                            .integrity_check()
                            .await
                            .expect("sqlite integrity and foreign keys");
                        Orphans::default()
                    })
                }),
            )
        }
        StoreKind::Dynamo => {
            let store = dynamodb_store(Default::default()).await;
            (
                Leadpipe::new(Arc::new(store.clone()), Settings::default()),
                Box::new(move || {
                    let store = store.clone();
                    Box::pin(async move { dynamodb_orphans(&store).await })
                }),
            )
        }
    }
}

mod futures_audit {
    /// A boxed audit future.
    pub type AuditFuture =
        std::pin::Pin<Box<dyn std::future::Future<Output = leadpipe_tests::Orphans> + Send>>;
}

/// 400 concurrent postbacks over 20 emails, each with a random stage and no force.
async fn four_hundred_postbacks_over_twenty_emails(kind: StoreKind) {
    let (app, audit) = store_with_audit(kind).await;
    let app = Arc::new(app);
    let stages = Pipeline::default().stages().to_vec();
    let mut sent: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut tasks = Vec::new();
    let mut rng = fastrand::Rng::with_seed(7);
    for i in 0..400 {
        let email = format!("burst{}@example.com", i % 20);
        let stage = rng.usize(..stages.len());
        sent.entry(email.clone()).or_default().push(stage);
        let app = Arc::clone(&app);
        let body = json!({"email": email, "stage": stages[stage], "custom_data": {format!("hit{i}"): true}});
        tasks.push(tokio::spawn(async move { post(&app, body).await }));
    }
    let mut created = 0;
    for t in tasks {
        let outcome = t.await.expect("task").expect("every postback succeeds");
        created += usize::from(outcome.created);
    }
    let leads = all_leads(&app).await;
    assert_eq!(leads.len(), 20, "exactly one lead per email");
    assert_eq!(created, 20);
    for lead in &leads {
        let email = lead.email.as_ref().unwrap().as_str();
        let highest = *sent[email].iter().max().unwrap();
        assert_eq!(
            lead.stage, stages[highest],
            "{email} ends at the highest stage it was sent"
        );
        assert_eq!(
            lead.custom_data.len(),
            sent[email].len(),
            "{email}: every postback's data arrived"
        );
        let (_, history) = settled(&app)
            .await
            .lead_with_history(lead.id)
            .await
            .unwrap();
        let path: Vec<usize> = history
            .iter()
            .map(|h| Pipeline::default().index_of(&h.to).unwrap())
            .collect();
        assert!(
            path.windows(2).all(|w| w[0] < w[1]),
            "{email}: history holds only forward moves: {path:?}"
        );
        assert!(history.iter().all(|h| !h.forced));
        let sent_set: BTreeSet<usize> = sent[email].iter().copied().collect();
        assert!(
            path.iter().all(|s| sent_set.contains(s)),
            "{email}: history names only stages that were sent"
        );
        assert_eq!(path.last(), Some(&highest));
    }
    assert_counters_exact(&app).await;
    assert_eq!(audit().await, Orphans::default());
}

/// Concurrent manual moves, postbacks and deletes on the same leads leave no orphans and exact counters.
async fn concurrent_moves_and_deletes(kind: StoreKind) {
    let (app, audit) = store_with_audit(kind).await;
    let app = Arc::new(app);
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(
            post(
                &app,
                json!({"email": format!("md{i}@example.com"), "stage": "Form Started"}),
            )
            .await
            .unwrap()
            .lead_id,
        );
    }
    let stages = Pipeline::default().stages().to_vec();
    let mut tasks = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        for k in 0..6 {
            let app = Arc::clone(&app);
            let (id, stage) = (*id, stages[(n + k) % stages.len()].clone());
            tasks.push(tokio::spawn(async move {
                match k {
                    0 if n % 2 == 0 => app.delete_lead(id).await.map(|_| ()),
                    1 => match post(
                        &app,
                        json!({"lead_id": id.to_string(), "stage": stage, "phone": format!("{k}")}),
                    )
                    .await
                    {
                        Ok(_) => Ok(()),
                        Err(PostError::Service(e)) => Err(e),
                        Err(PostError::Invalid(e)) => panic!("refused: {e}"),
                    },
                    _ => app.move_stage(id, &stage).await.map(|_| ()),
                }
            }));
        }
    }
    for t in tasks {
        match t.await.expect("task") {
            Ok(()) | Err(leadpipe_core::service::ServiceError::NotFound) => {}
            Err(e) => panic!("unexpected failure: {e}"),
        }
    }
    let leads = all_leads(&app).await;
    for id in &ids {
        let stored = app.store.get(*id).await.unwrap();
        let listed = leads.iter().any(|l| l.id == *id);
        assert_eq!(stored.is_some(), listed);
        if stored.is_none() {
            assert!(app.store.get_with_history(*id).await.unwrap().is_none());
        }
    }
    // A postback for a deleted lead_id creates a new (anonymous) lead; emails stay unique all the same.
    let with_email: Vec<_> = leads.iter().filter_map(|l| l.email.clone()).collect();
    assert_eq!(
        with_email.iter().collect::<BTreeSet<_>>().len(),
        with_email.len()
    );
    assert_counters_exact(&app).await;
    assert_eq!(audit().await, Orphans::default());
}

on_both_stores!(
    four_hundred_postbacks_over_twenty_emails,
    concurrent_moves_and_deletes
);
