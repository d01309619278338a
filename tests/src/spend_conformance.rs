//! The spend and exchange-rate conformance suite: the same cases on SQLite and DynamoDB Local
//! (`tests/tests/store_sqlite.rs`, `tests/tests/store_dynamodb.rs`), through the store and the application core.

use chrono::NaiveDate;
use leadpipe_core::domain::money::{Currency, Money, Rate};
use leadpipe_core::domain::spend::{group_spend, RateRow, Rates, SpendGrouping, SpendRow};
use leadpipe_core::domain::spend_import::SpendImportOptions;
use leadpipe_core::Leadpipe;

/// Generates one `#[tokio::test]` per spend case, each on a fresh store from `$make` (an async expression
/// returning a [`Leadpipe`]).
#[macro_export]
macro_rules! spend_conformance_suite {
    ($make:expr) => {
        $crate::spend_conformance_suite!(@cases $make;
            spend_rows_replace_by_key_and_reimports_are_idempotent, spend_ranges_are_inclusive,
            spend_deletes_remove_only_their_keys, spend_amounts_are_exact_in_every_exponent,
            a_month_of_spend_for_many_campaigns_reads_back_whole, rates_upsert_delete_and_convert_exactly,
            importing_a_file_twice_stores_the_same_rows, spend_sums_equal_a_grouping_of_the_rows);
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        mod spend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    $crate::spend_conformance::$case($make.await).await;
                }
            )*
        }
    };
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("day")
}

fn cur(c: &str) -> Currency {
    Currency::parse(c).expect("currency")
}

fn row(d: &str, source: &str, campaign: &str, minor: i64, currency: &str) -> SpendRow {
    SpendRow {
        day: day(d),
        source: source.into(),
        campaign: campaign.into(),
        domain: None,
        amount: Money {
            minor,
            currency: cur(currency),
        },
        clicks: Some(10),
        impressions: None,
    }
}

/// Every row of the days the cases use (autumn 2026: on DynamoDB, each day of a range is one query).
async fn all_spend(app: &Leadpipe) -> Vec<SpendRow> {
    app.store
        .spend(day("2026-09-01"), day("2026-12-31"))
        .await
        .expect("spend")
}

/// A row with a stored key replaces it; storing the same rows again changes nothing.
pub async fn spend_rows_replace_by_key_and_reimports_are_idempotent(app: Leadpipe) {
    let first = vec![
        row("2026-11-01", "google", "a", 1000, "USD"),
        row("2026-11-01", "google", "b", 2000, "USD"),
        row("2026-11-02", "google", "a", 3000, "USD"),
    ];
    app.store.put_spend(&first).await.expect("put");
    app.store.put_spend(&first).await.expect("put again");
    assert_eq!(
        all_spend(&app).await,
        first,
        "the same rows again: the same rows"
    );
    // Overlapping re-import: 11-02 corrected, 11-03 new; 11-01 b untouched.
    let mut fixed = row("2026-11-02", "google", "a", 3500, "EUR");
    fixed.clicks = None;
    fixed.impressions = Some(99);
    let second = vec![
        row("2026-11-01", "google", "a", 1000, "USD"),
        fixed.clone(),
        row("2026-11-03", "google", "a", 10, "USD"),
    ];
    app.store.put_spend(&second).await.expect("put overlapping");
    let stored = all_spend(&app).await;
    assert_eq!(
        stored,
        vec![
            first[0].clone(),
            first[1].clone(),
            fixed,
            row("2026-11-03", "google", "a", 10, "USD"),
        ]
    );
    // A row with a domain is another row than the one without.
    let mut with_domain = row("2026-11-01", "google", "a", 1, "USD");
    with_domain.domain = Some("shop.example".into());
    app.store
        .put_spend(&[with_domain.clone()])
        .await
        .expect("put");
    let stored = all_spend(&app).await;
    assert_eq!(stored.len(), 5);
    assert!(stored.contains(&with_domain) && stored.contains(&first[0]));
}

/// `spend(from, to)` returns the rows of both bound days and none outside.
pub async fn spend_ranges_are_inclusive(app: Leadpipe) {
    let rows: Vec<SpendRow> = (1..=9)
        .map(|d| row(&format!("2026-10-{d:02}"), "bing", "c", d, "USD"))
        .chain([row("2026-09-30", "bing", "c", 1, "USD")])
        .collect();
    app.store.put_spend(&rows).await.expect("put");
    let got = app
        .store
        .spend(day("2026-10-03"), day("2026-10-05"))
        .await
        .expect("spend");
    let days: Vec<String> = got.iter().map(|r| r.day.to_string()).collect();
    assert_eq!(days, ["2026-10-03", "2026-10-04", "2026-10-05"]);
    let one = app
        .store
        .spend(day("2026-10-09"), day("2026-10-09"))
        .await
        .expect("spend");
    assert_eq!(one, vec![rows[8].clone()]);
    let none = app
        .store
        .spend(day("2026-10-10"), day("2026-10-31"))
        .await
        .expect("spend");
    assert!(none.is_empty());
    // Through the core: a reversed range is refused, not answered empty.
    assert!(app
        .spend_between(day("2026-10-05"), day("2026-10-03"))
        .await
        .is_err());
}

/// Deleting keys removes those rows only; unknown keys are ignored.
pub async fn spend_deletes_remove_only_their_keys(app: Leadpipe) {
    let rows = vec![
        row("2026-11-01", "google", "a", 1, "USD"),
        row("2026-11-01", "google", "b", 2, "USD"),
        row("2026-11-02", "meta", "a", 3, "USD"),
    ];
    app.store.put_spend(&rows).await.expect("put");
    app.store
        .delete_spend(&[
            rows[1].key(),
            "2026-11-05|google|nothing|".into(),
            rows[2].key(),
        ])
        .await
        .expect("delete");
    assert_eq!(all_spend(&app).await, vec![rows[0].clone()]);
    let n = app
        .delete_spend_json(format!("{{\"keys\": [\"{}\"]}}", rows[0].key()).as_bytes())
        .await
        .expect("delete through the core");
    assert_eq!(n, 1);
    assert!(all_spend(&app).await.is_empty());
}

/// JPY (0 decimals), USD (2) and BHD (3) amounts come back as stored, to the unit.
pub async fn spend_amounts_are_exact_in_every_exponent(app: Leadpipe) {
    let rows = vec![
        row("2026-11-01", "g", "bhd", 1_234_567, "BHD"),
        row("2026-11-01", "g", "jpy", 987_654_321, "JPY"),
        row("2026-11-01", "g", "usd", 100_000_000_000_000, "USD"),
        row("2026-11-01", "g", "zero", 0, "EUR"),
    ];
    app.store.put_spend(&rows).await.expect("put");
    let got = all_spend(&app).await;
    assert_eq!(got, rows);
    assert_eq!(got[0].amount.to_decimal(), "1234.567");
    assert_eq!(got[1].amount.to_decimal(), "987654321");
}

/// 30 days × 40 campaigns (1,200 rows, many write batches) read back whole, with exact sums.
pub async fn a_month_of_spend_for_many_campaigns_reads_back_whole(app: Leadpipe) {
    let rows: Vec<SpendRow> = (0..30)
        .flat_map(|d| {
            (0..40).map(move |c| {
                row(
                    &(day("2026-06-01") + chrono::Days::new(d)).to_string(),
                    ["google", "facebook", "tiktok", "bing"][c % 4],
                    &format!("campaign-{c:02}"),
                    (d as i64) * 100 + c as i64,
                    "USD",
                )
            })
        })
        .collect();
    app.store.put_spend(&rows).await.expect("put");
    let got = app
        .store
        .spend(day("2026-06-01"), day("2026-06-30"))
        .await
        .expect("spend");
    assert_eq!(got.len(), 1200);
    let sum = |rs: &[SpendRow]| rs.iter().map(|r| r.amount.minor).sum::<i64>();
    assert_eq!(sum(&got), sum(&rows));
    let mut want = rows.clone();
    want.sort_by_key(SpendRow::key);
    assert_eq!(got, want, "ordered by key");
}

/// Rates upsert per day × currency, delete one at a time, and convert JPY, BHD and EUR exactly.
pub async fn rates_upsert_delete_and_convert_exactly(app: Leadpipe) {
    let r = |d: &str, c: &str, v: &str| RateRow {
        day: day(d),
        currency: cur(c),
        rate: Rate::parse(v).expect("rate"),
    };
    assert!(app.store.rates().await.expect("rates").is_empty());
    app.store
        .put_rates(&[
            r("2026-11-01", "EUR", "1.08"),
            r("2026-11-01", "JPY", "0.0067"),
            r("2026-11-01", "BHD", "2.659574468085"),
            r("2026-12-01", "EUR", "1.05"),
        ])
        .await
        .expect("put");
    app.store
        .put_rates(&[r("2026-11-01", "EUR", "1.1")])
        .await
        .expect("upsert");
    let got = app.store.rates().await.expect("rates");
    assert_eq!(
        got,
        vec![
            r("2026-11-01", "BHD", "2.659574468085"),
            r("2026-11-01", "EUR", "1.1"),
            r("2026-12-01", "EUR", "1.05"),
            r("2026-11-01", "JPY", "0.0067"),
        ]
    );
    let rates = Rates::new(Currency::usd(), got);
    // ¥12,345 × 0.0067 = $82.7115 → 8,271 cents; 1.234 BD × 2.659574468085 = $3.2819… → 328 cents.
    assert_eq!(
        rates.convert(12_345, cur("JPY"), day("2026-11-15")),
        Some(8271)
    );
    assert_eq!(
        rates.convert(1234, cur("BHD"), day("2026-11-15")),
        Some(328)
    );
    assert_eq!(
        rates.convert(1000, cur("EUR"), day("2026-11-30")),
        Some(1100)
    );
    assert_eq!(
        rates.convert(1000, cur("EUR"), day("2026-12-01")),
        Some(1050)
    );
    assert_eq!(rates.convert(1000, cur("EUR"), day("2026-10-31")), None);
    app.store
        .delete_rate(day("2026-11-01"), cur("EUR"))
        .await
        .expect("delete");
    app.store
        .delete_rate(day("2020-01-01"), cur("GBP"))
        .await
        .expect("delete nothing");
    let got = app.store.rates().await.expect("rates");
    assert_eq!(got.len(), 3);
    assert!(!got.contains(&r("2026-11-01", "EUR", "1.1")));
}

/// The Google Ads and Meta fixtures through the core: exact minor units, and a second import stores the same.
pub async fn importing_a_file_twice_stores_the_same_rows(app: Leadpipe) {
    let google = include_bytes!("../fixtures/spend/google-ads.csv");
    let meta = include_bytes!("../fixtures/spend/meta-ads.csv");
    let opts = SpendImportOptions::default();
    let first = app.import_spend(google, &opts).await.expect("import");
    assert_eq!(
        (first.stored, first.rejected_total, first.skipped),
        (5, 2, 3)
    );
    app.import_spend(meta, &opts).await.expect("import");
    let once = all_spend(&app).await;
    app.import_spend(google, &opts).await.expect("again");
    app.import_spend(meta, &opts).await.expect("again");
    assert_eq!(all_spend(&app).await, once);
    let minor = |key: &str| {
        once.iter()
            .find(|r| r.key() == key)
            .map(|r| (r.amount.minor, r.amount.currency.to_string()))
    };
    assert_eq!(
        minor("2026-11-01|google|llc-spring-2026|"),
        Some((123_456, "USD".into()))
    );
    assert_eq!(
        minor("2026-11-01|facebook|llc spring – lookalike|"),
        Some((123_456, "EUR".into()))
    );
    assert_eq!(once.len(), 8);
}

/// The store's sums per day, currency and source, campaign or domain equal a grouping of the stored rows (domain
/// grouping leaves rows without a domain out; clicks sum, impressions stay empty where no row has them).
pub async fn spend_sums_equal_a_grouping_of_the_rows(app: Leadpipe) {
    let mut rows = Vec::new();
    for (i, (d, source, campaign, minor, currency)) in [
        ("2026-10-01", "google", "a", 1000, "USD"),
        ("2026-10-01", "google", "b", 2500, "USD"),
        ("2026-10-01", "meta", "a", 700, "EUR"),
        ("2026-10-01", "meta", "b", 1200, "JPY"),
        ("2026-10-02", "google", "a", 1, "USD"),
        ("2026-10-02", "meta", "a", 99, "USD"),
        ("2026-10-03", "bing", "c", 5, "BHD"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = row(d, source, campaign, minor, currency);
        r.domain = (i % 3 != 0).then(|| format!("site{}.example", i % 2));
        r.impressions = (i == 2).then_some(40);
        rows.push(r);
    }
    app.store.put_spend(&rows).await.expect("put");
    let (from, to) = (day("2026-10-01"), day("2026-10-03"));
    let stored = app.store.spend(from, to).await.expect("spend");
    for grouping in [
        SpendGrouping::Total,
        SpendGrouping::Source,
        SpendGrouping::Campaign,
        SpendGrouping::Domain,
    ] {
        let got = app
            .store
            .spend_sums(from, to, grouping)
            .await
            .expect("sums");
        assert_eq!(got, group_spend(&stored, grouping), "{grouping:?}");
    }
    let total = app
        .store
        .spend_sums(from, to, SpendGrouping::Total)
        .await
        .expect("total");
    let usd_day1 = total
        .iter()
        .find(|r| r.day == day("2026-10-01") && r.amount.currency == cur("USD"))
        .expect("usd day 1");
    assert_eq!(usd_day1.amount.minor, 3500);
    assert_eq!(usd_day1.clicks, Some(20));
    assert_eq!(usd_day1.impressions, None);
    assert_eq!(
        total.len(),
        5,
        "day × currency: 3 on day 1, 1 on day 2, 1 on day 3"
    );
}
