//! `POST /api/import` over HTTP on both stores: CSV and JSON lines, idempotency, rejected lines, keys, size, and
//! back-dated analytics.

use leadpipe_core::Settings;
use leadpipe_tests::{
    keyed_settings, on_both_stores, spawn_app, StoreKind, TestApp, ADMIN_KEY, INGEST_KEY,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn import(
    app: &TestApp,
    content_type: &str,
    body: impl Into<Vec<u8>>,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = app
        .client
        .post(app.url("/api/import"))
        .header("content-type", content_type)
        .body(body.into());
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

async fn get(app: &TestApp, path: &str) -> Value {
    let resp = app
        .client
        .get(app.url(path))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.json().await.expect("JSON")
}

async fn lead_by_email(app: &TestApp, email: &str) -> Value {
    let list = get(app, &format!("/api/leads?search={email}")).await;
    let leads = list["leads"].as_array().expect("leads");
    assert_eq!(leads.len(), 1, "{list}");
    leads[0].clone()
}

/// What the dashboard's export writes (a column per stage with the time it was reached), back-dated.
const EXPORT_CSV: &str = "id,created_at,updated_at,stage,stage_entered_at,email,first_name,phone,source,campaign,form_completion_percent,custom_data,reached New at,reached Form Started at,reached Application Submitted at,reached Paid at,reached Completed at\r\n\
,2026-01-10T09:00:00Z,2026-02-01T00:00:00Z,Paid,2026-01-12T10:00:00Z,ann@example.com,Ann,'+1 555 0100,Google,spring,100,\"{\"\"plan\"\":\"\"pro\"\"}\",2026-01-10T09:00:00Z,2026-01-10T09:05:00Z,2026-01-11T08:00:00Z,2026-01-12T10:00:00Z,\r\n\
,2026-01-11,,New,,bob@example.com,Bob,,bing,,,,,,,,\r\n";

async fn csv_import_creates_back_dated_leads(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let (status, report) = import(&app, "text/csv", EXPORT_CSV, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report,
        json!({"imported": 2, "updated": 0, "unchanged": 0, "rejected": [], "rejected_total": 0})
    );
    let ann = lead_by_email(&app, "ann@example.com").await;
    assert_eq!(ann["created_at"], "2026-01-10T09:00:00Z");
    assert_eq!(ann["stage"], "Paid");
    assert_eq!(ann["stage_entered_at"], "2026-01-12T10:00:00Z");
    assert_eq!(
        ann["phone"], "+1 555 0100",
        "the export's formula guard is undone"
    );
    assert_eq!(ann["custom_data"], json!({"plan": "pro"}));
    assert_eq!(
        ann["stage_reached_at"]["Application Submitted"],
        "2026-01-11T08:00:00Z"
    );
    let bob = lead_by_email(&app, "bob@example.com").await;
    assert_eq!(
        bob["created_at"], "2026-01-11T00:00:00Z",
        "a bare date is the start of the day in REPORTING_TIMEZONE"
    );
    app.settle().await;
    let detail = get(&app, &format!("/api/leads/{}", ann["id"].as_str().unwrap())).await;
    assert_eq!(detail["history"][0]["at"], "2026-01-10T09:00:00Z");
}

async fn jsonl_import_reads_stage_objects(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let body = concat!(
        "{\"email\": \"cy@example.com\", \"created_at\": \"2026-03-01T12:00:00Z\", \"stages\": {\"Form Started\": \"2026-03-02T12:00:00Z\"}, \"source\": \"google\"}\n",
        "\n",
        "{\"email\": \"dee@example.com\", \"stage\": \"Completed\", \"reached Completed at\": \"2026-03-05\", \"utm_source\": \"x\"}\n",
    );
    let (status, report) = import(&app, "application/x-ndjson", body, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["imported"], 2);
    let cy = lead_by_email(&app, "cy@example.com").await;
    assert_eq!(
        cy["stage"], "Form Started",
        "the furthest stage with a time"
    );
    assert_eq!(cy["stage_entered_at"], "2026-03-02T12:00:00Z");
    let dee = lead_by_email(&app, "dee@example.com").await;
    assert_eq!(
        dee["created_at"], "2026-03-05T00:00:00Z",
        "no created_at: the earliest stage time"
    );
    // Sniffed from the content when the type is generic.
    let (status, report) = import(
        &app,
        "application/octet-stream",
        "{\"email\": \"eve@example.com\"}\n",
        None,
    )
    .await;
    assert_eq!(
        (status, report["imported"].clone()),
        (StatusCode::OK, json!(1))
    );
}

async fn importing_twice_changes_nothing(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let (_, first) = import(&app, "text/csv", EXPORT_CSV, None).await;
    assert_eq!(first["imported"], 2);
    let before = lead_by_email(&app, "ann@example.com").await;
    let (status, second) = import(&app, "text/csv", EXPORT_CSV, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        second,
        json!({"imported": 0, "updated": 0, "unchanged": 2, "rejected": [], "rejected_total": 0})
    );
    assert_eq!(
        lead_by_email(&app, "ann@example.com").await,
        before,
        "not even updated_at or version moves"
    );
    // A later file with more news updates the lead, moving it forward only.
    let (_, third) = import(
        &app,
        "text/csv",
        "email,stage,company\nann@example.com,Completed,Acme\nbob@example.com,,Bobco\n",
        None,
    )
    .await;
    assert_eq!(
        (third["imported"].clone(), third["updated"].clone()),
        (json!(0), json!(2))
    );
    let ann = lead_by_email(&app, "ann@example.com").await;
    assert_eq!(
        (ann["stage"].clone(), ann["company"].clone()),
        (json!("Completed"), json!("Acme"))
    );
    assert_eq!(ann["created_at"], "2026-01-10T09:00:00Z");
}

async fn bad_rows_are_rejected_with_their_line(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let csv = "email,stage,created_at,first_name\n\
        ok1@example.com,New,2026-01-01,A\n\
        not-an-email,New,,B\n\
        ok2@example.com,Nope,,C\n\
        ok3@example.com,New,someday,D\n\
        ,New,,E\n\
        ok4@example.com,New,2026-01-02,\"multi\nline\"\n\
        ok5@example.com,New,2999-01-01,F\n";
    let (status, report) = import(&app, "text/csv", csv, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["imported"], 2);
    assert_eq!(report["rejected_total"], 5);
    let lines: Vec<u64> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 5, 6, 9], "{report}");
    assert!(
        report["rejected"][1]["error"]
            .as_str()
            .unwrap()
            .contains("Nope"),
        "{report}"
    );
    // JSON lines count lines from 1.
    let (_, report) = import(
        &app,
        "application/x-ndjson",
        "{\"email\":\"x@example.com\"}\n[]\n{bad\n",
        None,
    )
    .await;
    assert_eq!(
        report["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["line"].clone())
            .collect::<Vec<_>>(),
        [json!(2), json!(3)]
    );
}

async fn keys_size_and_garbage(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let (status, body) = import(&app, "text/csv", EXPORT_CSV, None).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("unauthorized"))
    );
    let (status, _) = import(&app, "text/csv", EXPORT_CSV, Some(INGEST_KEY)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the server key sends postbacks, it does not import"
    );
    let (status, body) = import(&app, "text/csv", "hello,world\n1,2\n", Some(ADMIN_KEY)).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_body"))
    );
    let (status, body) = import(
        &app,
        "application/octet-stream",
        vec![0xff, 0xfe, 0x00, 0x01],
        Some(ADMIN_KEY),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = import(&app, "text/csv", "", Some(ADMIN_KEY)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let big = format!(
        "email\n{}",
        "a@example.com\n".repeat(leads::MAX_IMPORT_BYTES / 14 + 1)
    );
    let (status, body) = import(&app, "text/csv", big, Some(ADMIN_KEY)).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::PAYLOAD_TOO_LARGE, json!("payload_too_large"))
    );
    let (status, _) = import(&app, "text/csv", EXPORT_CSV, Some(ADMIN_KEY)).await;
    assert_eq!(status, StatusCode::OK);
}

async fn back_dated_leads_count_on_their_days(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let (_, report) = import(&app, "text/csv", EXPORT_CSV, None).await;
    assert_eq!(report["imported"], 2);
    app.settle().await;
    let a = get(&app, "/api/analytics?from=2026-01-01&to=2026-01-31").await;
    assert_eq!(a["new_leads"], 2, "{a}");
    let days: Vec<(String, i64)> = a["new_leads_by_day"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["count"].as_i64() > Some(0))
        .map(|d| {
            (
                d["date"].as_str().unwrap().to_string(),
                d["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [("2026-01-10".to_string(), 1), ("2026-01-11".to_string(), 1)]
    );
    let paid = a["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "Paid")
        .unwrap()
        .clone();
    assert_eq!(paid["reached"], 1, "{a}");
    let form = a["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "Form Started")
        .unwrap()
        .clone();
    assert!(
        form["avg_seconds_to_next"]
            .as_f64()
            .is_some_and(|s| s > 0.0),
        "real stage times, not 0 s: {form}"
    );
    let today = get(&app, "/api/analytics").await;
    assert_eq!(today["new_today"], 0, "nothing counts as created today");
    assert_eq!(today["total_leads"], 2);
}

/// Rows are applied 16 at a time, but rows about one lead keep their file order, and the report keeps line order.
async fn concurrent_rows_keep_order_per_lead_and_report_lines_in_order(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let mut body = String::new();
    let mut bad_lines = Vec::new();
    for i in 0..120 {
        let line = i + 1;
        if i % 25 == 7 {
            body.push_str("{\"email\": \"not an email\"}\n");
            bad_lines.push(line);
        } else if i % 3 == 0 {
            // The same lead, again and again: its latest source must be the last row's.
            body.push_str(&format!(
                "{{\"email\": \"same@example.com\", \"source\": \"s{i}\"}}\n"
            ));
        } else {
            body.push_str(&format!(
                "{{\"email\": \"row{i}@example.com\", \"source\": \"r\"}}\n"
            ));
        }
    }
    let (status, report) = import(&app, "application/x-ndjson", body, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let lines: Vec<u64> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(
        lines,
        bad_lines.iter().map(|l| *l as u64).collect::<Vec<_>>(),
        "rejected lines, in order"
    );
    let same_rows = (0..120).filter(|i| i % 3 == 0 && i % 25 != 7).count() as u64;
    let others = 120 - same_rows - bad_lines.len() as u64;
    assert_eq!(
        (report["imported"].as_u64(), report["updated"].as_u64()),
        (Some(others + 1), Some(same_rows - 1)),
        "{report}"
    );
    let last = (0..120).rev().find(|i| i % 3 == 0 && i % 25 != 7).unwrap();
    assert_eq!(
        lead_by_email(&app, "same@example.com").await["source"],
        format!("s{last}"),
        "the last row about a lead wins"
    );
}

/// Issue 21 #6: a person on two rows with different values (a CRM export listing one contact per deal) used to flip
/// back and forth, "updated" on every import. Rows about one lead are merged in file order first: the later row's
/// values win once, and importing the file again reports every row unchanged and moves nothing.
async fn a_person_on_two_rows_is_unchanged_on_reimport(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let mut file = String::from("email,phone,company,stage,source,notes\n");
    for i in 0..25 {
        file.push_str(&format!(
            "p{i}@example.com,555-01{i:02},First Co,Form Started,google,\n"
        ));
        file.push_str(&format!("solo{i}@example.com,,,New,bing,\n"));
        file.push_str(&format!(
            "P{i}@Example.com,555-99{i:02},Second Co,Paid,,second row\n"
        ));
    }
    let (status, first) = import(&app, "text/csv", file.clone(), None).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        first,
        json!({"imported": 50, "updated": 25, "unchanged": 0, "rejected": [], "rejected_total": 0})
    );
    let p3 = lead_by_email(&app, "p3@example.com").await;
    assert_eq!(
        (
            p3["phone"].clone(),
            p3["company"].clone(),
            p3["stage"].clone()
        ),
        (json!("555-9903"), json!("Second Co"), json!("Paid")),
        "the later row's values, the furthest stage"
    );
    assert_eq!(
        p3["first_touch"]["source"], "google",
        "first touch from the first row"
    );
    let (status, second) = import(&app, "text/csv", file, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        second,
        json!({"imported": 0, "updated": 0, "unchanged": 75, "rejected": [], "rejected_total": 0}),
        "a file applied twice changes nothing"
    );
    assert_eq!(
        lead_by_email(&app, "p3@example.com").await,
        p3,
        "not even updated_at or version moves"
    );
}

on_both_stores!(
    a_person_on_two_rows_is_unchanged_on_reimport,
    concurrent_rows_keep_order_per_lead_and_report_lines_in_order,
    csv_import_creates_back_dated_leads,
    jsonl_import_reads_stage_objects,
    importing_twice_changes_nothing,
    bad_rows_are_rejected_with_their_line,
    keys_size_and_garbage,
    back_dated_leads_count_on_their_days,
);
