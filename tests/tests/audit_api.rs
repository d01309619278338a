//! The audit log over HTTP on both stores: changes by the admin key show up with actor, client address, target
//! and summary; manual moves name who moved the lead in the stage history; postbacks write nothing; only admins
//! read the log; filters, pagination and the CSV export work; bad query values are 400s naming the parameter.

use leadpipe_tests::{
    call, keyed_settings, on_both_stores, spawn_app, StoreKind, TestApp, ADMIN_KEY, INGEST_KEY,
    PUBLIC_KEY,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn new_lead(app: &TestApp, email: &str) -> String {
    let (status, body) = call(
        app,
        Method::POST,
        "/api/postback",
        Some(INGEST_KEY),
        Some(json!({"email": email, "stage": "Form Started"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["lead_id"].as_str().expect("lead id").to_string()
}

async fn audit(app: &TestApp, query: &str) -> (StatusCode, Value) {
    call(
        app,
        Method::GET,
        &format!("/api/audit{query}"),
        Some(ADMIN_KEY),
        None,
    )
    .await
}

async fn changes_are_recorded_with_actor_address_and_summary(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let a = new_lead(&app, "a@example.com").await;
    let b = new_lead(&app, "b@example.com").await;
    let (_, empty) = audit(&app, "").await;
    assert_eq!(empty["entries"], json!([]), "postbacks write no entries");

    let (status, _) = call(
        &app,
        Method::PUT,
        &format!("/api/leads/{a}/stage"),
        Some(ADMIN_KEY),
        Some(json!({"stage": "Paid"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/leads/{b}"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, page) = audit(&app, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let entries = page["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "{page}");
    let (deleted, moved) = (&entries[0], &entries[1]);
    assert_eq!(deleted["action"], "lead.deleted");
    assert_eq!(deleted["target"], b.as_str());
    assert_eq!(deleted["summary"]["email"], "b@example.com");
    assert_eq!(deleted["actor"]["kind"], "key");
    assert_eq!(deleted["actor_label"], "key:ADMIN_API_KEY");
    assert_eq!(deleted["client_ip"], "127.0.0.1");
    assert_eq!(moved["action"], "lead.stage_moved");
    assert_eq!(moved["target"], a.as_str());
    assert_eq!(
        moved["summary"],
        json!({"from": "Form Started", "to": "Paid"})
    );
    assert_eq!(moved["actor"]["role"], "admin");
    assert_eq!(page["next_cursor"], Value::Null);

    app.settle().await;
    let (_, detail) = call(
        &app,
        Method::GET,
        &format!("/api/leads/{a}"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    let history = detail["history"].as_array().expect("history");
    assert_eq!(history.last().expect("move")["by"], "key:ADMIN_API_KEY");
    assert!(
        history[0].get("by").is_none(),
        "the postback entry names nobody"
    );
}

async fn only_admins_read_the_log(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    for path in ["/api/audit", "/api/audit/export"] {
        for key in [INGEST_KEY, PUBLIC_KEY] {
            let (status, body) = call(&app, Method::GET, path, Some(key), None).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert_eq!(body["error"]["code"], "forbidden");
        }
        let (status, _) = call(&app, Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        for method in [Method::POST, Method::PUT, Method::DELETE] {
            let (status, _) = call(&app, method, path, Some(ADMIN_KEY), None).await;
            assert_eq!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{path} is read-only"
            );
        }
    }
}

async fn filters_pages_and_export(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let a = new_lead(&app, "f@example.com").await;
    for stage in ["Paid", "New", "Completed"] {
        let (status, _) = call(
            &app,
            Method::PUT,
            &format!("/api/leads/{a}/stage"),
            Some(ADMIN_KEY),
            Some(json!({"stage": stage})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/spend",
        Some(ADMIN_KEY),
        Some(json!({"rows": [{"day": "2026-11-01", "source": "google", "campaign": "x", "amount": "1.00", "currency": "USD"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (_, moves) = audit(&app, "?action=lead.stage_moved").await;
    assert_eq!(moves["entries"].as_array().map(Vec::len), Some(3));
    let (_, spend) = audit(&app, "?action=spend.saved").await;
    assert_eq!(
        spend["entries"][0]["summary"],
        json!({"stored": 1, "rejected": 0})
    );
    let (_, by_target) = audit(&app, &format!("?target={a}")).await;
    assert_eq!(by_target["entries"].as_array().map(Vec::len), Some(3));
    let (_, by_actor) = audit(&app, "?actor=KEY:ADMIN_API_KEY").await;
    assert_eq!(by_actor["entries"].as_array().map(Vec::len), Some(4));
    let (_, nobody) = audit(&app, "?actor=ana@example.com").await;
    assert_eq!(nobody["entries"], json!([]));

    let (_, first) = audit(&app, "?limit=3").await;
    assert_eq!(first["entries"].as_array().map(Vec::len), Some(3));
    let cursor = first["next_cursor"].as_str().expect("more");
    let (_, rest) = audit(&app, &format!("?limit=3&cursor={cursor}")).await;
    assert_eq!(rest["entries"].as_array().map(Vec::len), Some(1));
    assert_eq!(rest["entries"][0]["action"], "lead.stage_moved");
    assert_eq!(rest["next_cursor"], Value::Null);

    let resp = app
        .client
        .get(app.url("/api/audit/export?action=lead.stage_moved"))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let csv = resp.text().await.expect("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,at,actor,role,client_ip,action,target,summary");
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[1].contains(",key:ADMIN_API_KEY,admin,127.0.0.1,lead.stage_moved,"));
    assert!(
        lines[1].contains(r#""{""from"":""New"",""to"":""Completed""}""#),
        "{}",
        lines[1]
    );
}

async fn bad_query_values_are_400s(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let cases = [
        ("?from=yesterday", "from"),
        ("?to=2026-02-30", "to"),
        ("?from=2026-12-05&to=2026-12-01", "to"),
        ("?from=2025-01-01&to=2026-01-01", "from"),
        ("?action=lead.nuked", "action"),
        ("?limit=0", "limit"),
        ("?limit=501", "limit"),
        ("?limit=abc", "limit"),
        ("?cursor=abc", "cursor"),
        ("?cursor=6f1c1c6e-8a4b-4c1e-9d7a-0c1b2d3e4f50", "cursor"),
        ("?sort=asc", "sort"),
    ];
    for path in ["/api/audit", "/api/audit/export"] {
        for (query, field) in cases {
            let (status, body) = call(
                &app,
                Method::GET,
                &format!("{path}{query}"),
                Some(ADMIN_KEY),
                None,
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}{query}: {body}");
            assert_eq!(body["error"]["field"], field, "{path}{query}: {body}");
        }
    }
}

on_both_stores!(
    changes_are_recorded_with_actor_address_and_summary,
    only_admins_read_the_log,
    filters_pages_and_export,
    bad_query_values_are_400s,
);
