//! DynamoDB listings past their read budget (DynamoDB Local): a search whose only match is older than the first
//! 2,000 index entries still fills the first page (the service continues the store's early-ended page), and its
//! total is counted from index entries alone.
use std::sync::Arc;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use leadpipe_core::domain::{Email, Postback};
use leadpipe_core::store::ListQuery;
use leadpipe_core::totals::{Total, COUNT_BUDGET};
use leadpipe_core::{Leadpipe, Settings};
use leadpipe_dynamo::codec::{lead_item, LeadRecord};
use leadpipe_dynamo::LIST_READ_BUDGET;
use serde_json::json;
use uuid::Uuid;

/// Newer leads than the needle: more than one read round of every shard (16 × 200 entries) past the budget.
const FILLERS: usize = 3_500;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rare_old_match_fills_the_first_page_and_is_counted_exactly() {
    let settings = Settings::default();
    let store = Arc::new(leadpipe_tests::dynamodb_store(settings.counter_rules()).await);
    let app = Leadpipe::new(store.clone(), settings.clone());
    let body =
        json!({"email": "needle@example.com", "company": "Needle Works", "source": "google"});
    let pb = Postback::parse(body.to_string().as_bytes(), &settings.pipeline, None)
        .expect("valid")
        .postback;
    let needle = app.ingest_postback(&pb).await.expect("stored").lead_id;

    // Fillers written straight as lead items (their listing entries are all this test needs), newer than the needle.
    let (lead, history) = app.lead_with_history(needle).await.expect("the needle");
    let mut requests = Vec::with_capacity(FILLERS);
    for i in 0..FILLERS {
        let mut filler = lead.clone();
        filler.id = Uuid::new_v4();
        filler.email = Some(Email::parse(&format!("filler{i}@example.com")).expect("email"));
        filler.text.company = Some("Haystack".into());
        filler.created_at =
            lead.created_at + chrono::Duration::milliseconds(1 + i64::try_from(i).expect("small"));
        let item = lead_item(&LeadRecord {
            lead: filler,
            created: history[0].clone(),
            last_change: None,
        })
        .expect("item");
        requests.push(
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .expect("put"),
                )
                .build(),
        );
    }
    for chunk in requests.chunks(25) {
        let mut pending = Some(std::collections::HashMap::from([(
            store.table().to_string(),
            chunk.to_vec(),
        )]));
        while let Some(items) = pending.take().filter(|m| m.values().any(|v| !v.is_empty())) {
            let out = store
                .client()
                .batch_write_item()
                .set_request_items(Some(items))
                .send()
                .await
                .expect("batch write");
            pending = out.unprocessed_items;
        }
    }
    let q = ListQuery {
        search: Some("needle".into()),
        limit: 25,
        ..Default::default()
    };
    let first = app.store.list(&q).await.expect("one store page");
    assert!(
        first.leads.is_empty() && first.next_after.is_some(),
        "one store page stops at {LIST_READ_BUDGET} entries, empty"
    );
    let (page, total) = app.list_leads(&q).await.expect("list");
    assert_eq!(
        page.leads.iter().map(|l| l.id).collect::<Vec<_>>(),
        [needle],
        "continued to the match"
    );
    assert_eq!(page.next_after, None);
    assert_eq!(
        total,
        Total {
            count: 1,
            exact: true
        }
    );
    assert_eq!(
        app.store.count(&q).await.expect("count"),
        Total {
            count: 1,
            exact: true
        },
        "every entry within the count's budget"
    );
    let haystack = ListQuery {
        search: Some("haystack".into()),
        ..Default::default()
    };
    let bound = Total {
        count: i64::try_from(COUNT_BUDGET).expect("small"),
        exact: false,
    };
    assert_eq!(
        app.store.count(&haystack).await.expect("count"),
        bound,
        "past 1,000 matches: a lower bound"
    );
    let google = ListQuery {
        source: Some("google".into()),
        search: Some("works".into()),
        ..Default::default()
    };
    assert_eq!(
        app.store.count(&google).await.expect("count"),
        Total {
            count: 1,
            exact: true
        }
    );
}
