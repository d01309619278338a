//! The API over HTTP through the merged router `leadpipe serve` runs, on both stores.

use leadpipe_core::Settings;
use leadpipe_tests::{
    call, keyed_settings, on_both_stores, spawn_app, StoreKind, TestApp, ADMIN_KEY, INGEST_KEY,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn raw_post(app: &TestApp, content_type: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
    let mut req = app.client.post(app.url("/api/postback")).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.expect("JSON error body"))
}

fn assert_error(v: &Value, code: &str, field: Option<&str>) {
    assert_eq!(v["error"]["code"], json!(code), "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    if let Some(f) = field {
        assert_eq!(v["error"]["field"], json!(f), "{v}");
    }
}

/// The seed's curl examples: 201 then 200, one lead, history kept; the answer carries no lead data.
async fn seed_curl_examples(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let (s1, b1) = call(
        &app,
        Method::POST,
        "/api/postback",
        None,
        Some(json!({
        "email": "john@example.com", "first_name": "John", "stage": "Form Started", "source": "google",
        "domain": "myeinregistry.com", "campaign": "llc-spring-2026", "utm_source": "google", "utm_medium": "cpc",
        "utm_campaign": "llc-spring-2026", "ip_address": "192.168.1.1", "browser": "Chrome 124", "device_type": "desktop",
        "form_completion_percent": 10, "form_fields_total": 12})),
    )
    .await;
    assert_eq!(s1, StatusCode::CREATED);
    assert_eq!(
        b1.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["created", "lead_id", "stage", "stage_changed", "warnings"]
    );
    let (s2, b2) = call(
        &app,
        Method::POST,
        "/api/postback",
        None,
        Some(json!({"email": "john@example.com",
        "stage": "Application Submitted", "form_completion_percent": 100, "form_fields_completed": 12, "form_fields_total": 12})),
    )
    .await;
    assert_eq!(s2, StatusCode::OK);
    assert_eq!(
        b2,
        json!({"lead_id": b1["lead_id"], "created": false, "stage": "Application Submitted", "stage_changed": true, "warnings": []})
    );
    let id = b1["lead_id"].as_str().unwrap();
    let (s3, detail) = call(&app, Method::GET, &format!("/api/leads/{id}"), None, None).await;
    assert_eq!(s3, StatusCode::OK);
    assert_eq!(detail["lead"]["stage"], "Application Submitted");
    assert_eq!(detail["lead"]["first_name"], "John");
    assert_eq!(detail["history"].as_array().unwrap().len(), 2);
    assert_eq!(
        detail["history"][1],
        json!({"from": "Form Started", "to": "Application Submitted", "at": detail["history"][1]["at"], "via": "postback", "forced": false})
    );
}

/// Only what cannot be a lead is refused (4xx JSON, kept in the postback log); every other bad field is left out
/// or cut with a warning, and the lead is stored.
async fn bad_postbacks_keep_the_lead_and_say_why(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let (s, v) = raw_post(&app, Some("application/json"), b"{\"email\": ".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&v, "invalid_json", None);
    let (s, v) = raw_post(
        &app,
        Some("application/x-www-form-urlencoded"),
        b"email=a@b.co".to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&v, "unsupported_media_type", None);
    let (s, v) = raw_post(&app, Some("application/json"), vec![b' '; 70 * 1024]).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&v, "payload_too_large", None);
    let (s, v) = raw_post(&app, Some("application/json"), vec![0xff, 0xfe, 0x00]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&v, "invalid_json", None);
    let (_, log) = call(
        &app,
        Method::GET,
        "/api/postbacks?status=rejected",
        None,
        None,
    )
    .await;
    let reasons: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "invalid_json",
            "payload_too_large",
            "unsupported_media_type",
            "invalid_json"
        ],
        "each refusal is kept, newest first"
    );
    assert_eq!(log["entries"][2]["body"], "email=a@b.co");
    for (i, (body, field, code)) in [
        (json!({"email": "nope"}), "email", "dropped"),
        (json!({"email": 12}), "email", "dropped"),
        (json!({"stage": "Won"}), "stage", "dropped"),
        (
            json!({"form_completion_percent": 101}),
            "form_completion_percent",
            "dropped",
        ),
        (
            json!({"form_fields_completed": -3}),
            "form_fields_completed",
            "dropped",
        ),
        (
            json!({"form_fields_completed": 5, "form_fields_total": 4}),
            "form_fields_completed",
            "dropped",
        ),
        (json!({"custom_data": [1, 2]}), "custom_data", "dropped"),
        (
            json!({"first_name": "x".repeat(201)}),
            "first_name",
            "truncated",
        ),
        (json!({"lead_id": "../../etc/passwd"}), "lead_id", "dropped"),
        (json!({"nickname": "x"}), "nickname", "moved_to_custom_data"),
        (json!({"company": "Ac\u{0}me"}), "company", "cleaned"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = body;
        body["phone"] = json!(format!("+1 555 01{i:02}"));
        let (s, v) = call(
            &app,
            Method::POST,
            "/api/postback",
            None,
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{body}: stored");
        let w = v["warnings"].as_array().unwrap();
        assert!(
            w.iter().any(|w| w["field"] == field && w["code"] == code),
            "{body}: {v}"
        );
    }
    let (_, list) = call(&app, Method::GET, "/api/leads?limit=50", None, None).await;
    assert_eq!(
        list["leads"].as_array().unwrap().len(),
        11,
        "every postback that could be a lead made one"
    );
    // text/plain bodies (navigator.sendBeacon) are accepted.
    let (s, _) = raw_post(
        &app,
        Some("text/plain;charset=UTF-8"),
        br#"{"email": "beacon@example.com"}"#.to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
}

/// Giving a lead another lead's email keeps the lead's own email and stores the rest, with a warning.
async fn email_conflict_keeps_the_rest(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let (_, a) = call(
        &app,
        Method::POST,
        "/api/postback",
        None,
        Some(json!({"email": "a@example.com"})),
    )
    .await;
    call(
        &app,
        Method::POST,
        "/api/postback",
        None,
        Some(json!({"email": "b@example.com"})),
    )
    .await;
    let body = json!({"lead_id": a["lead_id"], "email": "b@example.com", "phone": "+1 555 0100"});
    let (s, v) = call(&app, Method::POST, "/api/postback", None, Some(body)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["warnings"][0]["field"], "email");
    assert_eq!(v["warnings"][0]["code"], "conflict");
    // The answer may be kept as an idempotency replay: it says what happened without repeating the address.
    let message = v["warnings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("already belongs to another lead"),
        "{message}"
    );
    assert!(!message.contains("b@example.com"), "{message}");
    let (_, detail) = call(
        &app,
        Method::GET,
        &format!("/api/leads/{}", a["lead_id"].as_str().unwrap()),
        None,
        None,
    )
    .await;
    assert_eq!(
        (
            detail["lead"]["email"].clone(),
            detail["lead"]["phone"].clone()
        ),
        (json!("a@example.com"), json!("+1 555 0100"))
    );
}

/// Listing, filters, cursors, pages, bad filters, manual moves and deletes over HTTP.
async fn leads_endpoints(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let (_, v) = call(
            &app,
            Method::POST,
            "/api/postback",
            None,
            Some(json!({"email": format!("l{i}@example.com"),
            "source": if i < 3 { "google" } else { "bing" }, "stage": if i == 0 { "Paid" } else { "New" }})),
        )
        .await;
        ids.push(v["lead_id"].as_str().unwrap().to_string());
    }
    app.settle().await;
    let (s, page1) = call(&app, Method::GET, "/api/leads?limit=3", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page1["total"], 7);
    let got: Vec<&str> = page1["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [&ids[6], &ids[5], &ids[4]]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = call(
        &app,
        Method::GET,
        &format!("/api/leads?limit=3&cursor={cursor}"),
        None,
        None,
    )
    .await;
    assert_eq!(page2["leads"][0]["id"], json!(ids[3]));
    let (_, by_page) = call(&app, Method::GET, "/api/leads?limit=3&page=3", None, None).await;
    assert_eq!(by_page["leads"].as_array().unwrap().len(), 1);
    assert_eq!(by_page["leads"][0]["id"], json!(ids[0]));
    let (_, google) = call(&app, Method::GET, "/api/leads?source=GOOGLE", None, None).await;
    assert_eq!(google["leads"].as_array().unwrap().len(), 3);
    assert_eq!(
        (google["total"].clone(), google["total_exact"].clone()),
        (json!(3), json!(true)),
        "from the source's counters"
    );
    let (_, google_new) = call(
        &app,
        Method::GET,
        "/api/leads?source=google&stage=New&limit=1",
        None,
        None,
    )
    .await;
    assert_eq!(
        (
            google_new["total"].clone(),
            google_new["total_exact"].clone()
        ),
        (json!(2), json!(true)),
        "counted through the listing"
    );
    let (_, paid) = call(&app, Method::GET, "/api/leads?stage=paid", None, None).await;
    assert_eq!(
        (
            paid["leads"].as_array().unwrap().len(),
            paid["total"].clone()
        ),
        (1, json!(1))
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (_, dated) = call(
        &app,
        Method::GET,
        &format!("/api/leads?from={today}&to={today}&search=L1%40"),
        None,
        None,
    )
    .await;
    assert_eq!(dated["leads"].as_array().unwrap().len(), 1);
    for (query, field) in [
        ("stage=Won", "stage"),
        ("from=tomorrow", "from"),
        ("limit=0", "limit"),
        ("limit=500", "limit"),
        ("cursor=xyz", "cursor"),
        ("sort=asc", "sort"),
    ] {
        let (s, v) = call(
            &app,
            Method::GET,
            &format!("/api/leads?{query}"),
            None,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{query}");
        assert_error(&v, v["error"]["code"].as_str().unwrap(), Some(field));
    }

    let (s, moved) = call(
        &app,
        Method::PUT,
        &format!("/api/leads/{}/stage", ids[0]),
        None,
        Some(json!({"stage": "form started"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            moved["lead"]["stage"].clone(),
            moved["stage_changed"].clone()
        ),
        (json!("Form Started"), json!(true))
    );
    let (_, detail) = call(
        &app,
        Method::GET,
        &format!("/api/leads/{}", ids[0]),
        None,
        None,
    )
    .await;
    assert_eq!(
        detail["history"].as_array().unwrap().last().unwrap()["via"],
        "manual"
    );
    let (s, v) = call(
        &app,
        Method::PUT,
        &format!("/api/leads/{}/stage", ids[0]),
        None,
        Some(json!({"stage": "Won"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("New, Form Started, Application Submitted, Paid, Completed"));
    let unknown = uuid::Uuid::new_v4();
    let (s, _) = call(
        &app,
        Method::PUT,
        &format!("/api/leads/{unknown}/stage"),
        None,
        Some(json!({"stage": "Paid"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, body) = call(
        &app,
        Method::DELETE,
        &format!("/api/leads/{}", ids[1]),
        None,
        None,
    )
    .await;
    assert_eq!((s, body), (StatusCode::NO_CONTENT, Value::Null));
    let (s, v) = call(
        &app,
        Method::GET,
        &format!("/api/leads/{}", ids[1]),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "not_found", None);
    let (s, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/leads/{}", ids[1]),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = call(&app, Method::GET, "/api/leads/not-a-uuid", None, None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&v, "invalid_field", Some("id"));

    app.settle().await;
    let (_, analytics) = call(&app, Method::GET, "/api/analytics", None, None).await;
    assert_eq!(analytics["total_leads"], 6);
    assert_eq!(analytics["new_leads_by_day"].as_array().unwrap().len(), 30);
    assert_eq!(
        analytics["top_sources"][0],
        json!({"source": "bing", "count": 4})
    );
    let (s, sources) = call(
        &app,
        Method::GET,
        "/api/analytics/values?by=source",
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        sources,
        json!({"by": "source", "values": [{"value": "bing", "leads": 4}, {"value": "google", "leads": 2}], "other": 0})
    );
    let (_, campaigns) = call(
        &app,
        Method::GET,
        "/api/analytics/values?by=campaign",
        None,
        None,
    )
    .await;
    assert_eq!(
        campaigns,
        json!({"by": "campaign", "values": [], "other": 0}),
        "leads without a campaign are not a value"
    );
    let (s, v) = call(
        &app,
        Method::GET,
        "/api/analytics/values?by=domain",
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&v, "invalid_field", Some("by"));
}

/// Every endpoint × {no key, ingest key, admin key, wrong key}, with both keys configured.
async fn auth_matrix(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let (_, created) = call(
        &app,
        Method::POST,
        "/api/postback",
        Some(INGEST_KEY),
        Some(json!({"email": "auth@example.com"})),
    )
    .await;
    let id = created["lead_id"]
        .as_str()
        .expect("ingest key may post")
        .to_string();
    let other = uuid::Uuid::new_v4();
    // (method, path, body, who may: "public" | "ingest" | "admin")
    let endpoints: Vec<(Method, String, Option<Value>, &str)> = vec![
        (Method::GET, "/api/health".into(), None, "public"),
        (Method::GET, "/api/stages".into(), None, "public"),
        (Method::GET, "/api/openapi.json".into(), None, "public"),
        (
            Method::POST,
            "/api/postback".into(),
            Some(json!({"email": "auth@example.com"})),
            "ingest",
        ),
        (Method::GET, "/api/leads".into(), None, "admin"),
        (Method::GET, format!("/api/leads/{id}"), None, "admin"),
        (
            Method::PUT,
            format!("/api/leads/{id}/stage"),
            Some(json!({"stage": "Paid"})),
            "admin",
        ),
        (Method::GET, "/api/analytics".into(), None, "admin"),
        (Method::DELETE, format!("/api/leads/{other}"), None, "admin"),
    ];
    for (method, path, body, who) in &endpoints {
        for (key, label) in [
            (None, "no key"),
            (Some(INGEST_KEY), "ingest"),
            (Some(ADMIN_KEY), "admin"),
            (Some("wrong-key-000000"), "wrong"),
        ] {
            let (status, v) = call(&app, method.clone(), path, key, body.clone()).await;
            let allowed = match *who {
                "public" => true,
                "ingest" => matches!(label, "ingest" | "admin"),
                _ => label == "admin",
            };
            let ctx = format!("{method} {path} with {label}");
            if allowed {
                assert!(
                    status.is_success() || status == StatusCode::NOT_FOUND,
                    "{ctx}: {status} {v}"
                );
            } else if label == "ingest" {
                assert_eq!(status, StatusCode::FORBIDDEN, "{ctx}");
                assert_error(&v, "forbidden", None);
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{ctx}");
                assert_error(&v, "unauthorized", None);
            }
            if !allowed {
                assert!(
                    !v.to_string().contains("auth@example.com"),
                    "{ctx}: a refused request revealed lead data"
                );
            }
        }
    }
    let (s, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/leads/{id}"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

/// Money over HTTP: a server postback records an order exactly, the browser key is told it cannot set money
/// and changes none, an admin adds, sets and removes orders (400 naming the field, 404 unknown order), and the
/// analytics and board show the revenue.
async fn orders_over_http(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let (s, v) = call(
        &app,
        Method::POST,
        "/api/postback",
        Some(INGEST_KEY),
        Some(json!({"email": "buyer@corp.com", "stage": "Paid", "campaign": "spring", "value": 49.99, "currency": "USD", "order_id": "A-1"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["warnings"], json!([]));
    let id = v["lead_id"].as_str().expect("lead_id").to_string();
    let (s, v) = call(
        &app,
        Method::POST,
        "/api/postback",
        Some(leadpipe_tests::PUBLIC_KEY),
        Some(json!({"email": "buyer@corp.com", "value": 1000000, "currency": "USD", "order_id": "A-1"})),
    )
    .await;
    assert!(s.is_success(), "{v}");
    let codes: Vec<(&str, &str)> = v["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| {
            (
                w["field"].as_str().unwrap_or(""),
                w["code"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(codes.contains(&("value", "not_allowed")), "{v}");
    let lead = |v: &Value| v["lead"]["orders"].clone();
    let (s, v) = call(
        &app,
        Method::GET,
        &format!("/api/leads/{id}"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        lead(&v),
        json!([{"order_id": "A-1", "value": {"minor": 4999, "currency": "USD"}, "at": v["lead"]["orders"][0]["at"], "stage": "Paid", "via": "postback"}]),
        "the browser key changed nothing"
    );
    let orders = format!("/api/leads/{id}/orders");
    let (s, v) = call(
        &app,
        Method::POST,
        &orders,
        Some(ADMIN_KEY),
        Some(json!({"value": "1.001", "currency": "USD"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&v, "invalid_field", Some("value"));
    let (s, v) = call(
        &app,
        Method::POST,
        &orders,
        Some(ADMIN_KEY),
        Some(json!({"value": "1500", "currency": "JPY", "order_id": "J-1"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        lead(&v)[1]["value"],
        json!({"minor": 1500, "currency": "JPY"})
    );
    assert_eq!(lead(&v)[1]["via"], json!("admin"));
    let (s, v) = call(
        &app,
        Method::PUT,
        &format!("{orders}/A-1"),
        Some(ADMIN_KEY),
        Some(json!({"value": 39.99, "currency": "USD"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(lead(&v)[0]["value"]["minor"], json!(3999));
    assert_eq!(lead(&v)[0]["changes"][0]["before"]["minor"], json!(4999));
    let (s, v) = call(
        &app,
        Method::DELETE,
        &format!("{orders}/J-1"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(lead(&v)[1]["removed_at"].is_string());
    let (s, v) = call(
        &app,
        Method::DELETE,
        &format!("{orders}/nope"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "not_found", None);
    let (s, _) = call(
        &app,
        Method::POST,
        &orders,
        Some(INGEST_KEY),
        Some(json!({"value": 1, "currency": "USD"})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the server key cannot edit orders"
    );
    app.settle().await;
    let (s, v) = call(&app, Method::GET, "/api/analytics", Some(ADMIN_KEY), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["money"]["revenue"],
        json!({"minor": 3999, "currency": "USD", "amount": "39.99"})
    );
    assert_eq!(v["money"]["spend"], Value::Null);
    assert_eq!(v["money"]["cpl"], Value::Null);
    let (_, v) = call(
        &app,
        Method::GET,
        "/api/analytics/breakdown?by=campaign",
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(v["rows"][0]["value"], json!("spring"));
    assert_eq!(v["rows"][0]["money"]["revenue"]["amount"], json!("39.99"));
    let (s, v) = call(
        &app,
        Method::GET,
        "/api/analytics/pipeline",
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let paid = v["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .find(|c| c["stage"] == json!("Paid"))
        .cloned()
        .expect("Paid");
    assert_eq!(paid["value"]["amount"], json!("39.99"));
    assert_eq!(paid["leads_with_revenue"], json!(1));
}

/// "Count all": where the listing's total is a lower bound (a search past the count budget), `GET
/// /api/leads/count` gives the exact number; with filters counters answer, it agrees with them.
async fn count_all_is_exact_past_the_budget(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let n = leadpipe_core::totals::COUNT_BUDGET + 30;
    let mut file = String::from("email,company\n");
    for i in 0..n {
        file.push_str(&format!("c{i}@count.example,Acmecount\n"));
    }
    for i in 0..7 {
        file.push_str(&format!("o{i}@other.example,Other\n"));
    }
    let r = app
        .client
        .post(app.url("/api/import"))
        .header("x-api-key", ADMIN_KEY)
        .header("content-type", "text/csv")
        .body(file)
        .send()
        .await
        .expect("import");
    assert_eq!(r.status(), StatusCode::OK);
    app.settle().await;
    let (s, listed) = call(
        &app,
        Method::GET,
        "/api/leads?search=acmecount&limit=1",
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(listed["total_exact"], json!(false), "{listed}");
    let (s, counted) = call(
        &app,
        Method::GET,
        "/api/leads/count?search=acmecount",
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{counted}");
    assert_eq!(counted, json!({"total": n, "total_exact": true}));
    let (_, all) = call(&app, Method::GET, "/api/leads/count", Some(ADMIN_KEY), None).await;
    assert_eq!(all, json!({"total": n + 7, "total_exact": true}));
    let (s, bad) = call(
        &app,
        Method::GET,
        "/api/leads/count?stage=Nope",
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    let (s, _) = call(
        &app,
        Method::GET,
        "/api/leads/count",
        Some(INGEST_KEY),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

on_both_stores!(
    count_all_is_exact_past_the_budget,
    orders_over_http,
    seed_curl_examples,
    bad_postbacks_keep_the_lead_and_say_why,
    email_conflict_keeps_the_rest,
    leads_endpoints,
    auth_matrix
);

/// With keys unset (or `changeme`) every route is open, as the seed says for local use.
#[tokio::test]
async fn keys_off_means_open() {
    let settings = Settings::from_lookup(|k| {
        (k == "API_KEY" || k == "ADMIN_API_KEY").then(|| "changeme".to_string())
    })
    .unwrap();
    let app = spawn_app(StoreKind::Sqlite, settings).await;
    let (s, _) = call(
        &app,
        Method::POST,
        "/api/postback",
        None,
        Some(json!({"email": "open@example.com"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = call(&app, Method::GET, "/api/analytics", None, None).await;
    assert_eq!(s, StatusCode::OK);
}

/// CORS: postbacks from any origin (they are authorised by key); every other route only from an allowed origin.
#[tokio::test]
async fn cors_preflight() {
    let app = spawn_app(StoreKind::Sqlite, keyed_settings()).await;
    let any_page = app
        .client
        .request(Method::OPTIONS, app.url("/api/postback"))
        .header("origin", "https://some-landing-page.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-api-key")
        .send()
        .await
        .unwrap();
    assert_eq!(
        any_page.headers()["access-control-allow-origin"],
        "https://some-landing-page.example"
    );
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/api/leads"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,x-api-key")
            .send()
    };
    let ok = preflight("https://landing.example").await.unwrap();
    assert!(ok.status().is_success());
    let h = ok.headers();
    assert_eq!(h["access-control-allow-origin"], "https://landing.example");
    let methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_uppercase();
    assert!(methods.contains("POST") && methods.contains("PUT") && methods.contains("DELETE"));
    let headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(headers.contains("x-api-key") && headers.contains("content-type"));
    let denied = preflight("https://evil.example").await.unwrap();
    assert!(denied
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let simple = app
        .client
        .get(app.url("/api/health"))
        .header("origin", "https://landing.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "https://landing.example"
    );
}

/// Unknown API paths and methods are JSON 404/405.
#[tokio::test]
async fn unknown_routes_are_json() {
    let app = spawn_app(StoreKind::Sqlite, Settings::default()).await;
    let (s, v) = call(&app, Method::GET, "/api/nothing/here", None, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "not_found", None);
    let (s, v) = call(&app, Method::PATCH, "/api/postback", None, None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&v, "method_not_allowed", None);
    let (s, v) = call(&app, Method::GET, "/api/stages", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["stages"],
        json!([
            "New",
            "Form Started",
            "Application Submitted",
            "Paid",
            "Completed"
        ])
    );
    let (s, v) = call(&app, Method::GET, "/api/health", None, None).await;
    assert_eq!((s, v["status"].clone()), (StatusCode::OK, json!("ok")));
}
