//! `/api/webhooks` over HTTP through the merged router `leadpipe serve` runs, on both stores: keys, creation (the
//! secret shown once), validation, the limit, deletion, the deliveries listing and its paging, retry and enable.
//! Deliveries are enqueued straight into the store (what the fan-out does), since no worker runs here.

use chrono::{TimeDelta, Utc};
use leadpipe_core::Settings;
use leadpipe_tests::{
    call, keyed_settings, spawn_app, StoreKind, TestApp, ADMIN_KEY, INGEST_KEY, PUBLIC_KEY,
};
use leadpipe_webhooks::{Delivery, DeliveryState, Dispatch, EventType, WebhookStore, MAX_WEBHOOKS};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

async fn admin(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call(app, method, path, Some(ADMIN_KEY), body).await
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

fn store(app: &TestApp) -> &dyn WebhookStore {
    app.webhooks
        .as_deref()
        .expect("this store kind keeps webhooks")
}

async fn create(app: &TestApp, url: &str) -> Value {
    let (status, v) = admin(
        app,
        Method::POST,
        "/api/webhooks",
        Some(json!({"url": url, "events": ["lead.created"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v
}

fn id_of(v: &Value) -> Uuid {
    v["id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .unwrap_or_else(|| panic!("no id in {v}"))
}

/// `n` deliveries of one webhook, created one second apart (oldest first), stored as the fan-out would.
async fn enqueue(app: &TestApp, webhook_id: Uuid, n: usize) -> Vec<Delivery> {
    let start = Utc::now() - TimeDelta::minutes(10);
    let deliveries: Vec<Delivery> = (0..n)
        .map(|i| {
            let message_id = format!("msg_{webhook_id}_{i}");
            let dispatch = Dispatch {
                webhook_id,
                message_id: message_id.clone(),
                event_type: EventType::LeadCreated,
                occurred_at: start,
                body: json!({"n": i}).to_string(),
            };
            Delivery::new(
                leadpipe_webhooks::delivery_id(webhook_id, &message_id),
                dispatch,
                start + TimeDelta::seconds(i as i64),
            )
        })
        .collect();
    store(app)
        .enqueue_deliveries(&deliveries)
        .await
        .expect("enqueue");
    deliveries
}

/// Every webhook route refuses no key (401), the server and browser keys (403), and answers the admin key.
async fn keys(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let hook = create(&app, "https://hooks.example.com/keys").await;
    let id = id_of(&hook);
    let delivery = enqueue(&app, id, 1).await.remove(0);
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/webhooks".into(), None),
        (
            Method::POST,
            "/api/webhooks".into(),
            Some(json!({"url": "https://hooks.example.com/k2", "events": ["lead.deleted"]})),
        ),
        (Method::GET, format!("/api/webhooks/{id}/deliveries"), None),
        (
            Method::POST,
            format!("/api/webhooks/{id}/deliveries/{}/retry", delivery.id),
            None,
        ),
        (Method::POST, format!("/api/webhooks/{id}/enable"), None),
        (Method::DELETE, format!("/api/webhooks/{id}"), None),
    ];
    for (method, path, body) in &routes {
        for (key, want) in [
            (None, StatusCode::UNAUTHORIZED),
            (Some("wrong-key-000000"), StatusCode::UNAUTHORIZED),
            (Some(INGEST_KEY), StatusCode::FORBIDDEN),
            (Some(PUBLIC_KEY), StatusCode::FORBIDDEN),
        ] {
            let (status, v) = call(&app, method.clone(), path, key, body.clone()).await;
            assert_eq!(status, want, "{method} {path} with {key:?}: {v}");
            assert_error(
                &v,
                if want == StatusCode::UNAUTHORIZED {
                    "unauthorized"
                } else {
                    "forbidden"
                },
                None,
            );
        }
    }
    assert_eq!(
        store(&app).webhooks().await.unwrap().len(),
        1,
        "no refused call created anything"
    );
    for (method, path, body) in routes {
        let (status, v) = admin(&app, method.clone(), &path, body).await;
        assert!(
            status.is_success(),
            "{method} {path} with the admin key: {status} {v}"
        );
    }
}

/// Creation answers 201 with the secret; no later answer shows it; the stored webhook signs with it.
async fn create_shows_the_secret_once(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let body = json!({
        "url": "https://graph.example.com/v21.0/123/events?access_token=abc",
        "events": ["lead.stage_changed", "lead.created"],
        "stages": ["paid"],
        "format": "meta_capi",
        "event_names": {"Completed": "Subscribe"},
    });
    let (status, created) = admin(&app, Method::POST, "/api/webhooks", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().expect("secret").to_string();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 30,
        "{secret}"
    );
    assert_eq!(
        created["events"],
        json!(["lead.created", "lead.stage_changed"])
    );
    assert_eq!(created["stages"], json!(["Paid"]));
    assert_eq!(created["format"], "meta_capi");
    assert_eq!(created["event_names"], json!({"Completed": "Subscribe"}));
    assert_eq!(created["event_source_id"], Value::Null);
    assert_eq!(
        created["consent"], "required",
        "conversion formats need consent unless told"
    );
    assert_eq!(created["enabled"], true);
    assert_eq!(created["disabled_reason"], Value::Null);
    assert!(created["created_at"].as_str().is_some());
    let id = id_of(&created);

    let stored = store(&app).webhook(id).await.unwrap().expect("stored");
    assert_eq!(
        stored.webhook.secret.to_whsec(),
        secret,
        "the stored secret is the one shown"
    );

    let (status, list) = admin(&app, Method::GET, "/api/webhooks", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["webhooks"].as_array().map(Vec::len), Some(1));
    let listed = &list["webhooks"][0];
    assert_eq!(listed["id"], created["id"]);
    assert!(listed.get("secret").is_none(), "{listed}");
    assert!(
        !list.to_string().contains(&secret[6..]),
        "the secret never appears again"
    );
    assert_eq!(
        listed["health"],
        json!({"failing_since": null, "failures": 0, "last_success_at": null})
    );
    let mut without_secret = created.clone();
    without_secret.as_object_mut().unwrap().remove("secret");
    assert_eq!(
        listed, &without_secret,
        "the list shows what creation did, minus the secret"
    );

    let (_, enabled) = admin(
        &app,
        Method::POST,
        &format!("/api/webhooks/{id}/enable"),
        None,
    )
    .await;
    assert!(
        !enabled.to_string().contains(&secret[6..]),
        "nor does enable"
    );
}

/// Bad bodies are 400s naming the field (or 413/415), and nothing is stored.
async fn validation(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (
            json!({"url": "http://hooks.example.com/x", "events": ["lead.created"]}),
            "invalid_field",
            Some("url"),
        ),
        (
            json!({"url": "https://10.0.0.8/x", "events": ["lead.created"]}),
            "invalid_field",
            Some("url"),
        ),
        (
            json!({"url": "https://hooks.example.com/x"}),
            "invalid_field",
            Some("events"),
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": []}),
            "invalid_field",
            Some("events"),
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["lead.updated"]}),
            "invalid_field",
            Some("events"),
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["lead.created"], "stages": ["Won"]}),
            "unknown_stage",
            Some("stages"),
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["lead.created"], "format": "tiktok"}),
            "invalid_field",
            Some("event_source_id"),
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["lead.created"], "consent": "not_required"}),
            "invalid_field",
            Some("consent"),
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["lead.created"], "format": "ga4", "consent": "maybe"}),
            "invalid_field",
            Some("consent"),
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["lead.created"], "secret": "mine"}),
            "unknown_field",
            Some("secret"),
        ),
        (json!(["https://hooks.example.com/x"]), "invalid_json", None),
    ];
    for (body, code, field) in cases {
        let (status, v) = admin(&app, Method::POST, "/api/webhooks", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_error(&v, code, field);
    }
    let resp = app
        .client
        .post(app.url("/api/webhooks"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_error(&resp.json().await.unwrap(), "invalid_json", None);
    let resp = app
        .client
        .post(app.url("/api/webhooks"))
        .header("content-type", "text/csv")
        .body("url,events")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = json!({"url": "https://hooks.example.com/x", "events": ["lead.created"], "pad": "x".repeat(20_000)});
    let (status, v) = admin(&app, Method::POST, "/api/webhooks", Some(big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert!(
        store(&app).webhooks().await.unwrap().is_empty(),
        "nothing stored"
    );
}

/// At most `MAX_WEBHOOKS`: one more is a 409 `too_many_webhooks`; deleting one makes room.
async fn limit(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let mut first = None;
    for i in 0..MAX_WEBHOOKS {
        let v = create(&app, &format!("https://hooks.example.com/{i}")).await;
        first.get_or_insert(id_of(&v));
    }
    let (status, v) = admin(
        &app,
        Method::POST,
        "/api/webhooks",
        Some(json!({"url": "https://hooks.example.com/more", "events": ["lead.created"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_error(&v, "too_many_webhooks", None);
    assert_eq!(store(&app).webhooks().await.unwrap().len(), MAX_WEBHOOKS);
    let (status, _) = admin(
        &app,
        Method::DELETE,
        &format!("/api/webhooks/{}", first.unwrap()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    create(&app, "https://hooks.example.com/more").await;
}

/// Delete answers 204 once, then 404; unknown ids are 404 everywhere, ids that are not UUIDs 400.
async fn delete_and_unknown_ids(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let id = id_of(&create(&app, "https://hooks.example.com/del").await);
    let delivery = enqueue(&app, id, 1).await.remove(0);
    let (status, v) = admin(&app, Method::DELETE, &format!("/api/webhooks/{id}"), None).await;
    assert_eq!((status, v), (StatusCode::NO_CONTENT, Value::Null));
    assert!(store(&app).webhook(id).await.unwrap().is_none());
    let unknown = Uuid::new_v4();
    for wid in [id, unknown] {
        for (method, path) in [
            (Method::DELETE, format!("/api/webhooks/{wid}")),
            (Method::POST, format!("/api/webhooks/{wid}/enable")),
            (Method::GET, format!("/api/webhooks/{wid}/deliveries")),
            (
                Method::POST,
                format!("/api/webhooks/{wid}/deliveries/{}/retry", delivery.id),
            ),
        ] {
            let (status, v) = admin(&app, method.clone(), &path, None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {v}");
            assert_error(&v, "not_found", None);
        }
    }
    for (method, path, field) in [
        (Method::DELETE, "/api/webhooks/not-a-uuid".to_string(), "id"),
        (Method::POST, "/api/webhooks/123/enable".into(), "id"),
        (Method::GET, "/api/webhooks/x/deliveries".into(), "id"),
        (
            Method::POST,
            format!("/api/webhooks/{unknown}/deliveries/nope/retry"),
            "delivery_id",
        ),
    ] {
        let (status, v) = admin(&app, method.clone(), &path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {v}");
        assert_error(&v, "invalid_field", Some(field));
    }
}

/// Deliveries are listed newest first without their bodies, paged by `next_after`; bad parameters are 400s.
async fn deliveries_listing(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let id = id_of(&create(&app, "https://hooks.example.com/list").await);
    let other = id_of(&create(&app, "https://hooks.example.com/other").await);
    let mine = enqueue(&app, id, 5).await;
    enqueue(&app, other, 2).await;
    let (status, empty) = admin(
        &app,
        Method::GET,
        &format!("/api/webhooks/{id}/deliveries?limit=100"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(
        empty["deliveries"].as_array().map(Vec::len),
        Some(5),
        "only this webhook's"
    );

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &after {
            Some(a) => format!("/api/webhooks/{id}/deliveries?limit=2&after={a}"),
            None => format!("/api/webhooks/{id}/deliveries?limit=2"),
        };
        let (status, page) = admin(&app, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        for d in page["deliveries"].as_array().unwrap() {
            assert!(d.get("payload").is_none(), "no body in the list: {d}");
            assert_eq!(d["state"], "pending");
            assert_eq!(d["attempts"], 0);
            assert_eq!(d["event_type"], "lead.created");
            seen.push(d["id"].as_str().unwrap().to_string());
        }
        match page["next_after"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => break,
        }
        assert!(pages < 10, "paging ends");
    }
    let newest_first: Vec<String> = mine.iter().rev().map(|d| d.id.to_string()).collect();
    assert_eq!(seen, newest_first);

    for (query, code, field) in [
        ("limit=0", "invalid_field", "limit"),
        ("limit=101", "invalid_field", "limit"),
        ("limit=ten", "invalid_field", "limit"),
        ("after=%2A%2A", "invalid_field", "after"),
        ("page=2", "unknown_parameter", "page"),
    ] {
        let (status, v) = admin(
            &app,
            Method::GET,
            &format!("/api/webhooks/{id}/deliveries?{query}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {v}");
        assert_error(&v, code, Some(field));
    }
}

/// Retry sets a failed delivery pending and due now, keeping its attempts (202); a delivered one is a 409
/// `conflict`; any delivery of a disabled webhook a 409 `webhook_disabled`, until the webhook is enabled again.
async fn retry_and_enable(kind: StoreKind) {
    let app = spawn_app(kind, Settings::default()).await;
    let id = id_of(&create(&app, "https://hooks.example.com/retry").await);
    let mut ds = enqueue(&app, id, 3).await;
    let policy = leadpipe_webhooks::RetryPolicy::default();
    let mut rng = fastrand::Rng::with_seed(7);
    let now = Utc::now();
    // [0] failed after one attempt (a 500, then abandoned), [1] delivered, [2] pending.
    let outcome = leadpipe_webhooks::AttemptOutcome::Response {
        status: 500,
        retry_after: None,
    };
    ds[0].record_attempt(&outcome, now, &policy, &mut rng);
    ds[0].abandon("given up");
    let ok = leadpipe_webhooks::AttemptOutcome::Response {
        status: 204,
        retry_after: None,
    };
    ds[1].record_attempt(&ok, now, &policy, &mut rng);
    for d in &ds[..2] {
        store(&app).save_delivery(d).await.unwrap();
    }

    let before = Utc::now();
    let (status, v) = admin(
        &app,
        Method::POST,
        &format!("/api/webhooks/{id}/deliveries/{}/retry", ds[0].id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["state"], "pending");
    assert_eq!(v["attempts"], 1, "attempts are kept");
    assert_eq!(v["last_response_code"], 500);
    let stored = store(&app).delivery(id, ds[0].id).await.unwrap().unwrap();
    assert_eq!(stored.state, DeliveryState::Pending);
    assert!(
        stored
            .next_attempt_at
            .is_some_and(|t| t >= before && t <= Utc::now()),
        "due now: {:?}",
        stored.next_attempt_at
    );
    assert!(
        store(&app)
            .due_deliveries(Utc::now(), 10)
            .await
            .unwrap()
            .iter()
            .any(|d| d.id == ds[0].id),
        "the worker finds it due"
    );

    let (status, v) = admin(
        &app,
        Method::POST,
        &format!("/api/webhooks/{id}/deliveries/{}/retry", ds[2].id),
        None,
    )
    .await;
    assert_eq!(
        (status, &v["state"]),
        (StatusCode::ACCEPTED, &json!("pending")),
        "a pending one may be hurried"
    );
    let (status, v) = admin(
        &app,
        Method::POST,
        &format!("/api/webhooks/{id}/deliveries/{}/retry", ds[1].id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_error(&v, "conflict", None);
    let (status, v) = admin(
        &app,
        Method::POST,
        &format!("/api/webhooks/{id}/deliveries/{}/retry", Uuid::new_v4()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");

    // Disabled by its endpoint's failures: retry is refused, the list shows why, enable resets it.
    let mut hook = store(&app).webhook(id).await.unwrap().unwrap();
    hook.health.failing_since = Some(now - TimeDelta::hours(25));
    hook.health.failures = 12;
    hook.webhook
        .disable("the endpoint failed every attempt for 25 hours");
    store(&app).save_webhook(&hook).await.unwrap();
    let (status, v) = admin(
        &app,
        Method::POST,
        &format!("/api/webhooks/{id}/deliveries/{}/retry", ds[0].id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_error(&v, "webhook_disabled", None);
    let (_, list) = admin(&app, Method::GET, "/api/webhooks", None).await;
    assert_eq!(list["webhooks"][0]["enabled"], false);
    assert_eq!(
        list["webhooks"][0]["disabled_reason"],
        "the endpoint failed every attempt for 25 hours"
    );
    assert_eq!(list["webhooks"][0]["health"]["failures"], 12);

    let (status, v) = admin(
        &app,
        Method::POST,
        &format!("/api/webhooks/{id}/enable"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["enabled"], true);
    assert_eq!(v["disabled_reason"], Value::Null);
    assert_eq!(
        v["health"],
        json!({"failing_since": null, "failures": 0, "last_success_at": null})
    );
    let stored = store(&app).webhook(id).await.unwrap().unwrap();
    assert!(stored.webhook.enabled && stored.health == Default::default());
    let (status, _) = admin(
        &app,
        Method::POST,
        &format!("/api/webhooks/{id}/deliveries/{}/retry", ds[0].id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

leadpipe_tests::on_both_stores!(
    keys,
    create_shows_the_secret_once,
    validation,
    limit,
    delete_and_unknown_ids,
    deliveries_listing,
    retry_and_enable
);
