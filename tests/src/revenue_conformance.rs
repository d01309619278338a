//! The revenue-listing conformance suite: leads sorted by reporting-currency revenue across pages, on SQLite and
//! DynamoDB Local (`tests/tests/store_sqlite.rs`, `tests/tests/store_dynamodb.rs`), through the application core.
//!
//! Every expected amount below is worked out by hand from the orders and rates the case writes, so the cases do
//! not trust the ranking code to check itself.

use chrono::{Duration, Utc};
use leadpipe_core::domain::money::{Currency, Money};
use leadpipe_core::domain::orders::OrderEdit;
use leadpipe_core::store::{ListOrder, ListQuery};
use leadpipe_core::Leadpipe;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::conformance::{post, settled};

/// Generates one `#[tokio::test]` per revenue-listing case, each on a fresh store from `$make` (an async
/// expression returning a [`Leadpipe`]).
#[macro_export]
macro_rules! revenue_conformance_suite {
    ($make:expr) => {
        $crate::revenue_conformance_suite!(@cases $make;
            revenue_listings_sort_across_pages_in_the_reporting_currency,
            rate_changes_and_order_edits_move_leads_in_the_revenue_order);
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        mod revenue {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    $crate::revenue_conformance::$case($make.await).await;
                }
            )*
        }
    };
}

/// Posts `body` with the server key's rights and returns the lead's id.
async fn lead(app: &Leadpipe, body: Value) -> Uuid {
    post(app, body.clone())
        .await
        .unwrap_or_else(|e| panic!("postback {body} failed: {e}"))
        .lead_id
}

/// Stores rates through the service (as `PUT /api/rates` does, so leads are re-ranked).
async fn put_rates(app: &Leadpipe, rows: Value) {
    let body = json!({ "rows": rows }).to_string();
    let stored = app
        .put_rates_json(body.as_bytes())
        .await
        .expect("rates stored");
    assert!(stored.rejected.is_empty(), "{:?}", stored.rejected);
}

/// The leads of `q` walked page by page (`limit` each): their ids and ranks in listing order.
async fn walk(app: &Leadpipe, q: ListQuery) -> Vec<(Uuid, Option<i64>)> {
    let mut q = q;
    let mut out = Vec::new();
    loop {
        let page = app.store.list(&q).await.expect("list");
        assert!(page.leads.len() <= q.limit);
        out.extend(page.leads.iter().map(|l| (l.id, l.revenue_reporting_minor)));
        match page.next_after {
            Some(after) => q.after = Some(after),
            None => return out,
        }
    }
}

fn by_revenue(order: ListOrder, limit: usize) -> ListQuery {
    ListQuery {
        order,
        limit,
        ..Default::default()
    }
}

/// The day `days` ago, as the rates' `day`.
fn days_ago(days: i64) -> String {
    (Utc::now() - Duration::days(days))
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

/// Six paying leads in four currencies (one without a rate, one refund, one with two orders) and two without
/// orders: the revenue order walks every paying lead exactly once across pages of 2, converted with each
/// order's day, highest first and lowest first, with filters, and counts them.
pub async fn revenue_listings_sort_across_pages_in_the_reporting_currency(app: Leadpipe) {
    put_rates(
        &app,
        json!([
            {"day": days_ago(30), "currency": "EUR", "rate": "1.10"},
            {"day": days_ago(30), "currency": "JPY", "rate": "0.0067"},
        ]),
    )
    .await;
    let order = |i: usize, value: &str, currency: &str| {
        json!({"email": format!("r{i}@example.com"), "campaign": if i.is_multiple_of(2) { "even" } else { "odd" },
               "value": value, "currency": currency, "order_id": format!("o{i}")})
    };
    // Expected ranks in US cents, by hand.
    let usd = lead(&app, order(0, "49.99", "USD")).await; // 4,999
    let eur = lead(&app, order(1, "20.00", "EUR")).await; // 20 × 1.10 = 22.00 → 2,200
    let jpy = lead(&app, order(2, "1500", "JPY")).await; // 1,500 × 0.0067 = 10.05 → 1,005
    let gbp = lead(&app, order(3, "75.00", "GBP")).await; // no GBP rate: 0, still a paying lead
    let refund = lead(&app, order(4, "-5.00", "USD")).await; // −500
    let two = lead(&app, order(5, "10.00", "USD")).await;
    post(
        &app,
        json!({"lead_id": two.to_string(), "value": "30.00", "currency": "EUR", "order_id": "o5b"}),
    )
    .await
    .expect("second order"); // 1,000 + 3,300 = 4,300
    for i in 6..8 {
        lead(
            &app,
            json!({"email": format!("r{i}@example.com"), "campaign": "even"}),
        )
        .await;
    }
    settled(&app).await;

    let highest = vec![
        (usd, Some(4_999)),
        (two, Some(4_300)),
        (eur, Some(2_200)),
        (jpy, Some(1_005)),
        (gbp, Some(0)),
        (refund, Some(-500)),
    ];
    assert_eq!(
        walk(&app, by_revenue(ListOrder::RevenueHighest, 2)).await,
        highest
    );
    let mut lowest = highest.clone();
    lowest.reverse();
    assert_eq!(
        walk(&app, by_revenue(ListOrder::RevenueLowest, 4)).await,
        lowest
    );

    let even = ListQuery {
        campaign: Some("even".into()),
        ..by_revenue(ListOrder::RevenueHighest, 1)
    };
    assert_eq!(
        walk(&app, even.clone()).await,
        vec![(usd, Some(4_999)), (jpy, Some(1_005)), (refund, Some(-500))],
        "a filter keeps the revenue order and leaves out the leads without orders"
    );
    let total = app.store.count_all(&even).await.expect("count");
    assert_eq!((total.count, total.exact), (3, true));
    let all = app
        .store
        .count_all(&by_revenue(ListOrder::RevenueHighest, 50))
        .await
        .expect("count");
    assert_eq!((all.count, all.exact), (6, true), "paying leads only");
    let (_, listed) = app
        .list_leads(&by_revenue(ListOrder::RevenueHighest, 2))
        .await
        .expect("listing");
    assert_eq!(
        (listed.count, listed.exact),
        (6, true),
        "the listing's total counts the paying leads, not every lead"
    );

    let future = ListQuery {
        created_from: Some(Utc::now() + Duration::hours(1)),
        ..by_revenue(ListOrder::RevenueHighest, 2)
    };
    assert!(
        walk(&app, future).await.is_empty(),
        "the date range applies"
    );
    let recent = ListQuery {
        created_from: Some(Utc::now() - Duration::hours(1)),
        ..by_revenue(ListOrder::RevenueHighest, 5)
    };
    assert_eq!(walk(&app, recent).await, highest);
}

/// A rate added later moves the lead it converts, a changed rate re-ranks, and an order an admin removes or
/// adds moves its lead out of or into the listing.
pub async fn rate_changes_and_order_edits_move_leads_in_the_revenue_order(app: Leadpipe) {
    let gbp = lead(
        &app,
        json!({"email": "g@example.com", "value": "10.00", "currency": "GBP", "order_id": "g"}),
    )
    .await;
    let usd = lead(
        &app,
        json!({"email": "u@example.com", "value": "12.00", "currency": "USD", "order_id": "u"}),
    )
    .await;
    let none = lead(&app, json!({"email": "n@example.com"})).await;
    settled(&app).await;
    let highest = || walk(&app, by_revenue(ListOrder::RevenueHighest, 1));
    assert_eq!(highest().await, vec![(usd, Some(1_200)), (gbp, Some(0))]);

    put_rates(
        &app,
        json!([{"day": days_ago(2), "currency": "GBP", "rate": "1.25"}]),
    )
    .await;
    settled(&app).await;
    assert_eq!(
        highest().await,
        vec![(gbp, Some(1_250)), (usd, Some(1_200))],
        "a new rate re-ranks the leads it converts"
    );
    put_rates(
        &app,
        json!([{"day": days_ago(2), "currency": "GBP", "rate": "1.00"}]),
    )
    .await;
    settled(&app).await;
    assert_eq!(
        highest().await,
        vec![(usd, Some(1_200)), (gbp, Some(1_000))]
    );

    app.edit_order(
        usd,
        OrderEdit::Remove {
            order_id: "u".into(),
        },
    )
    .await
    .expect("admin removes the order");
    let usd_currency = Currency::parse("USD").expect("USD");
    app.edit_order(
        none,
        OrderEdit::Put {
            order_id: None,
            value: Money {
                minor: 999,
                currency: usd_currency,
            },
        },
    )
    .await
    .expect("admin adds an order");
    settled(&app).await;
    assert_eq!(
        highest().await,
        vec![(gbp, Some(1_000)), (none, Some(999))],
        "a lead whose only order is removed leaves the revenue order; one given an order joins it"
    );
    let removed = app.store.get(usd).await.expect("get").expect("lead");
    assert_eq!(removed.revenue_reporting_minor, None);
}
