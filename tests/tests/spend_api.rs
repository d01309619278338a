//! Ad spend and exchange rates over HTTP on both stores: the Google Ads and Meta fixtures imported to the exact
//! minor unit, re-imports idempotent, line-numbered rejections, JSON rows, every bad body a 4xx JSON error, and
//! the keys (only the admin key may read or change spend and rates).

use leadpipe_tests::{
    call, keyed_settings, on_both_stores, spawn_app, StoreKind, TestApp, ADMIN_KEY, INGEST_KEY,
    PUBLIC_KEY,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const GOOGLE: &str = include_str!("../fixtures/spend/google-ads.csv");
const META: &str = include_str!("../fixtures/spend/meta-ads.csv");
const NATIVE: &str = include_str!("../fixtures/spend/native.csv");

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: &str,
    body: &str,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = app
        .client
        .request(method, app.url(path))
        .header("content-type", content_type)
        .body(body.to_string());
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, value)
}

async fn import(app: &TestApp, query: &str, csv: &str) -> (StatusCode, Value) {
    send(
        app,
        Method::POST,
        &format!("/api/spend/import{query}"),
        "text/csv",
        csv,
        Some(ADMIN_KEY),
    )
    .await
}

async fn rows(app: &TestApp, from: &str, to: &str) -> Vec<Value> {
    let (status, body) = call(
        app,
        Method::GET,
        &format!("/api/spend?from={from}&to={to}"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["rows"].as_array().expect("rows").clone()
}

fn find<'a>(rows: &'a [Value], key: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {rows:?}"))
}

async fn google_and_meta_exports_import_exactly_and_idempotently(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let (status, report) = import(&app, "", GOOGLE).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["format"], "google_ads");
    assert_eq!(report["stored"], 5);
    assert_eq!(report["skipped"], 3, "the three Total rows");
    assert_eq!(
        report["rejected"],
        json!([
            {"line": 9, "field": "amount", "message": "\"n/a\" is not a number"},
            {"line": 10, "field": "day", "message": "\"2026-11-31\" is not a date"},
        ])
    );
    let (status, report) = import(&app, "?format=auto", META).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["format"].clone(), report["stored"].clone()),
        (json!("meta"), json!(3))
    );
    let lines: Vec<&Value> = report["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| &r["line"])
        .collect();
    assert_eq!(lines, [&json!(5), &json!(6)]);
    let once = rows(&app, "2026-11-01", "2026-11-30").await;
    assert_eq!(once.len(), 8);
    assert_eq!(
        find(&once, "2026-11-01|google|llc-spring-2026|"),
        &json!({"key": "2026-11-01|google|llc-spring-2026|", "day": "2026-11-01", "source": "google",
                "campaign": "llc-spring-2026", "amount": {"minor": 123_456, "currency": "USD", "amount": "1234.56"},
                "clicks": 1042, "impressions": 12_345})
    );
    assert_eq!(
        find(&once, "2026-11-01|facebook|llc spring – lookalike|")["amount"],
        json!({"minor": 123_456, "currency": "EUR", "amount": "1234.56"})
    );
    assert_eq!(
        find(&once, "2026-11-02|google|brand - exact|")["amount"]["minor"],
        0,
        "a spend of 0 is a row"
    );
    // The same files again: the same rows, nothing added.
    assert_eq!(import(&app, "", GOOGLE).await.1["stored"], 5);
    assert_eq!(import(&app, "?format=meta", META).await.1["stored"], 3);
    assert_eq!(rows(&app, "2026-11-01", "2026-11-30").await, once);
    // Bounds are inclusive.
    assert_eq!(rows(&app, "2026-11-03", "2026-11-03").await.len(), 1);
    // A source override files the rows under another source.
    let (_, report) = import(&app, "?format=google_ads&source=google-brand", GOOGLE).await;
    assert_eq!(report["stored"], 5);
    assert_eq!(rows(&app, "2026-11-01", "2026-11-30").await.len(), 13);
}

async fn native_files_and_json_rows_reject_bad_rows_and_keep_good_ones(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let (status, report) = import(&app, "?format=native", NATIVE).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["stored"], 4);
    assert_eq!(report["rejected_total"], 8);
    let by_line: Vec<(u64, String)> = report["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap_or(0),
                r["field"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(by_line[0], (5, "amount".into()));
    assert_eq!(by_line[3], (8, "currency".into()));
    let stored = rows(&app, "2026-11-01", "2026-11-04").await;
    assert_eq!(
        find(&stored, "2026-11-01|yahoo-jp|winter|")["amount"],
        json!({"minor": 12_345, "currency": "JPY", "amount": "12345"})
    );
    assert_eq!(
        find(&stored, "2026-11-01|bing|gulf|")["amount"],
        json!({"minor": 1234, "currency": "BHD", "amount": "1.234"})
    );

    let body = json!({"rows": [
        {"day": "2026-11-05", "source": "Google", "campaign": "Spring", "amount": "12.34", "currency": "EUR", "clicks": 4},
        {"day": "2026-11-05", "source": "google", "campaign": "x", "amount": 7, "currency": "JPY", "domain": "Shop.Example"},
        {"day": "2026-11-05", "source": "google", "campaign": "x", "amount": "1.001", "currency": "USD"},
        {"day": "2026-11-05", "source": "google", "campaign": "x", "amount": "-2", "currency": "USD"},
        {"day": "2026-11-05", "source": "google", "campaign": "x", "amount": "1e13", "currency": "USD"},
        {"day": "2026-11-05", "source": "google", "campaign": "x", "amount": "1", "currency": "ZZZ"},
    ]});
    let (status, answer) = call(
        &app,
        Method::POST,
        "/api/spend",
        Some(ADMIN_KEY),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["stored"], 2);
    let rejected: Vec<(u64, &str)> = answer["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap_or(99),
                r["field"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        [(2, "amount"), (3, "amount"), (4, "amount"), (5, "currency")]
    );
    let day = rows(&app, "2026-11-05", "2026-11-05").await;
    assert_eq!(
        find(&day, "2026-11-05|google|spring|")["amount"],
        json!({"minor": 1234, "currency": "EUR", "amount": "12.34"})
    );
    assert_eq!(
        find(&day, "2026-11-05|google|x|shop.example")["amount"]["minor"],
        7
    );

    // Delete by key.
    let (status, answer) = call(
        &app,
        Method::DELETE,
        "/api/spend",
        Some(ADMIN_KEY),
        Some(json!({"keys": ["2026-11-05|google|spring|"]})),
    )
    .await;
    assert_eq!((status, answer), (StatusCode::OK, json!({"deleted": 1})));
    assert_eq!(rows(&app, "2026-11-05", "2026-11-05").await.len(), 1);
}

async fn bad_requests_are_4xx_json_errors(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let admin = Some(ADMIN_KEY);
    for (method, path, ct, body, status, code) in [
        (
            Method::POST,
            "/api/spend",
            "application/json",
            "[]",
            400,
            "invalid_json",
        ),
        (
            Method::POST,
            "/api/spend",
            "application/json",
            "{\"rows\": 1}",
            400,
            "invalid_field",
        ),
        (
            Method::POST,
            "/api/spend",
            "application/json",
            "{\"rows\": [], \"x\": 1}",
            400,
            "unknown_field",
        ),
        (
            Method::POST,
            "/api/spend",
            "application/json",
            "{oops",
            400,
            "invalid_json",
        ),
        (
            Method::POST,
            "/api/spend",
            "text/csv",
            "{}",
            415,
            "unsupported_media_type",
        ),
        (
            Method::POST,
            "/api/spend/import",
            "application/json",
            "{}",
            415,
            "unsupported_media_type",
        ),
        (
            Method::POST,
            "/api/spend/import",
            "text/csv",
            "a,b\n1,2\n",
            400,
            "invalid_body",
        ),
        (
            Method::POST,
            "/api/spend/import",
            "text/csv",
            "",
            400,
            "invalid_body",
        ),
        (
            Method::POST,
            "/api/spend/import?format=excel",
            "text/csv",
            GOOGLE,
            400,
            "invalid_field",
        ),
        (
            Method::POST,
            "/api/spend/import?currency=XYZ",
            "text/csv",
            GOOGLE,
            400,
            "invalid_field",
        ),
        (
            Method::POST,
            "/api/spend/import?nope=1",
            "text/csv",
            GOOGLE,
            400,
            "unknown_parameter",
        ),
        (
            Method::POST,
            "/api/spend/import?format=meta",
            "text/csv",
            GOOGLE,
            400,
            "invalid_body",
        ),
        (
            Method::GET,
            "/api/spend?from=2026-11-05&to=2026-11-01",
            "application/json",
            "",
            400,
            "invalid_field",
        ),
        (
            Method::GET,
            "/api/spend?from=2020-01-01&to=2026-01-01",
            "application/json",
            "",
            400,
            "invalid_field",
        ),
        (
            Method::GET,
            "/api/spend?from=x",
            "application/json",
            "",
            400,
            "invalid_field",
        ),
        (
            Method::DELETE,
            "/api/spend",
            "application/json",
            "{\"keys\": [\"nope\"]}",
            400,
            "invalid_field",
        ),
        (
            Method::PUT,
            "/api/rates",
            "application/json",
            "{\"rates\": []}",
            400,
            "unknown_field",
        ),
        (
            Method::POST,
            "/api/rates/import",
            "text/csv",
            "day,currency\n",
            400,
            "invalid_body",
        ),
        (
            Method::DELETE,
            "/api/rates/XYZ/2026-11-01",
            "application/json",
            "",
            400,
            "invalid_field",
        ),
        (
            Method::DELETE,
            "/api/rates/EUR/yesterday",
            "application/json",
            "",
            400,
            "invalid_field",
        ),
    ] {
        let (got, body) = send(&app, method.clone(), path, ct, body, admin).await;
        assert_eq!(got.as_u16(), status, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], code, "{method} {path}: {body}");
    }
    // Over the row cap: 413, nothing stored.
    let many: Vec<Value> = (0..5001)
        .map(|i| json!({"day": "2026-11-01", "source": "g", "campaign": format!("c{i}"), "amount": "1", "currency": "USD"}))
        .collect();
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/spend",
        admin,
        Some(json!({"rows": many})),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(rows(&app, "2026-11-01", "2026-11-01").await.is_empty());
}

async fn only_the_admin_key_reads_or_changes_spend_and_rates(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let routes: [(Method, &str, &str, &str); 8] = [
        (Method::GET, "/api/spend", "application/json", ""),
        (
            Method::POST,
            "/api/spend",
            "application/json",
            "{\"rows\": []}",
        ),
        (
            Method::DELETE,
            "/api/spend",
            "application/json",
            "{\"keys\": []}",
        ),
        (Method::POST, "/api/spend/import", "text/csv", GOOGLE),
        (Method::GET, "/api/rates", "application/json", ""),
        (
            Method::PUT,
            "/api/rates",
            "application/json",
            "{\"rows\": []}",
        ),
        (
            Method::POST,
            "/api/rates/import",
            "text/csv",
            "day,currency,rate\n",
        ),
        (
            Method::DELETE,
            "/api/rates/EUR/2026-11-01",
            "application/json",
            "",
        ),
    ];
    for (method, path, ct, body) in &routes {
        for (key, want) in [
            (None, 401),
            (Some("wrong-key-123456"), 401),
            (Some(PUBLIC_KEY), 403),
            (Some(INGEST_KEY), 403),
        ] {
            let (status, answer) = send(&app, method.clone(), path, ct, body, key).await;
            assert_eq!(
                status.as_u16(),
                want,
                "{method} {path} with {key:?}: {answer}"
            );
            assert!(answer["error"]["code"].is_string(), "{answer}");
        }
    }
    assert!(rows(&app, "2026-11-01", "2026-11-30").await.is_empty());
    // A cross-site page cannot post a spend file, even as text/csv.
    let resp = app
        .client
        .post(app.url("/api/spend/import"))
        .header("content-type", "text/csv")
        .header("origin", "https://evil.example")
        .header("x-api-key", ADMIN_KEY)
        .body(GOOGLE)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(rows(&app, "2026-11-01", "2026-11-30").await.is_empty());
}

async fn rates_are_set_imported_listed_and_deleted(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let admin = Some(ADMIN_KEY);
    let (status, answer) = call(
        &app,
        Method::PUT,
        "/api/rates",
        admin,
        Some(json!({"rows": [
            {"day": "2026-11-01", "currency": "EUR", "rate": "1.08"},
            {"day": "2026-11-01", "currency": "usd", "rate": "1"},
            {"day": "2026-11-01", "currency": "JPY", "rate": "-1"},
        ]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["stored"], 1);
    assert_eq!(answer["rejected"][0]["field"], "currency");
    assert_eq!(answer["rejected"][1]["field"], "rate");
    let csv = "day,currency,rate\n2026-11-01,JPY,0.0067\n2026-11-01,BHD,2.659574468085\n2026-11-15,EUR,1.1\nbad,EUR,1\n";
    let (status, report) = send(
        &app,
        Method::POST,
        "/api/rates/import",
        "text/csv",
        csv,
        admin,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["stored"], 3);
    assert_eq!(
        report["rejected"],
        json!([{"line": 5, "field": "day", "message": "\"bad\" is not a date"}])
    );
    // Twice: the same rates.
    send(
        &app,
        Method::POST,
        "/api/rates/import",
        "text/csv",
        csv,
        admin,
    )
    .await;
    let (status, list) = call(&app, Method::GET, "/api/rates", admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list,
        json!({"reporting_currency": "USD", "rates": [
            {"day": "2026-11-01", "currency": "BHD", "rate": "2.659574468085"},
            {"day": "2026-11-01", "currency": "EUR", "rate": "1.08"},
            {"day": "2026-11-15", "currency": "EUR", "rate": "1.1"},
            {"day": "2026-11-01", "currency": "JPY", "rate": "0.0067"},
        ]})
    );
    let (status, _) = send(
        &app,
        Method::DELETE,
        "/api/rates/eur/2026-11-15",
        "application/json",
        "",
        admin,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = call(&app, Method::GET, "/api/rates", admin, None).await;
    assert_eq!(list["rates"].as_array().map(Vec::len), Some(3));
}

on_both_stores!(
    google_and_meta_exports_import_exactly_and_idempotently,
    native_files_and_json_rows_reject_bad_rows_and_keep_good_ones,
    bad_requests_are_4xx_json_errors,
    only_the_admin_key_reads_or_changes_spend_and_rates,
    rates_are_set_imported_listed_and_deleted,
);
