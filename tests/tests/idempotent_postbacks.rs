//! Idempotent postbacks over HTTP, on both stores: `Idempotency-Key` and `event_id`, repeats answered with the
//! first response and changing nothing, keys scoped per key tier, concurrent repeats applied once.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use leadpipe_tests::{
    keyed_settings, on_both_stores, spawn_app, StoreKind, TestApp, ADMIN_KEY, INGEST_KEY,
    PUBLIC_KEY,
};
use serde_json::{json, Value};

struct Answer {
    status: StatusCode,
    replayed: bool,
    body: String,
}

async fn post(app: &TestApp, key: &str, idempotency_key: Option<&str>, body: Value) -> Answer {
    let mut r = app
        .client
        .post(app.url("/api/postback"))
        .header("x-api-key", key)
        .json(&body);
    if let Some(k) = idempotency_key {
        r = r.header("idempotency-key", k);
    }
    let r = r.send().await.expect("request");
    let status = r.status();
    let replayed = r
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    Answer {
        status,
        replayed,
        body: r.text().await.expect("body"),
    }
}

async fn leads(app: &TestApp, search: &str) -> Vec<Value> {
    app.settle().await;
    let r = app
        .client
        .get(app.url(&format!("/api/leads?search={search}")))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .expect("list");
    let v: Value = r.json().await.expect("json");
    v["leads"].as_array().cloned().unwrap_or_default()
}

async fn a_repeated_header_key_answers_the_first_response(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let first = post(
        &app,
        INGEST_KEY,
        Some("order-1001"),
        json!({"email": "idem@corp.com", "stage": "Form Started"}),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(!first.replayed);
    let repeat = post(
        &app,
        INGEST_KEY,
        Some("order-1001"),
        json!({"email": "idem@corp.com", "stage": "Form Started"}),
    )
    .await;
    assert_eq!(
        (repeat.status, repeat.replayed),
        (StatusCode::CREATED, true)
    );
    assert_eq!(repeat.body, first.body, "the first response, byte for byte");
    let found = leads(&app, "idem@corp.com").await;
    assert_eq!(found.len(), 1);
    // The same key with another body is its own event: applied, never answered with the first response.
    let other = post(
        &app,
        INGEST_KEY,
        Some("order-1001"),
        json!({"email": "idem@corp.com", "stage": "Application Submitted", "first_name": "Twice"}),
    )
    .await;
    assert_eq!((other.status, other.replayed), (StatusCode::OK, false));
    assert_ne!(other.body, first.body);
    let found = leads(&app, "idem@corp.com").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["stage"], "Application Submitted");
    assert_eq!(found[0]["first_name"], "Twice");
    // The header wins over event_id; another key applies.
    let next = post(
        &app,
        INGEST_KEY,
        Some("order-1002"),
        json!({"email": "idem@corp.com", "stage": "Paid", "event_id": "order-1001"}),
    )
    .await;
    assert_eq!((next.status, next.replayed), (StatusCode::OK, false));
    assert_eq!(leads(&app, "idem@corp.com").await[0]["stage"], "Paid");
}

async fn event_ids_are_per_key_tier(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let server = post(
        &app,
        INGEST_KEY,
        None,
        json!({"email": "tier@corp.com", "event_id": "evt-7"}),
    )
    .await;
    assert_eq!(server.status, StatusCode::CREATED);
    let again = post(
        &app,
        INGEST_KEY,
        None,
        json!({"email": "tier@corp.com", "event_id": "evt-7"}),
    )
    .await;
    assert_eq!(
        (again.status, again.replayed, &again.body),
        (StatusCode::CREATED, true, &server.body)
    );
    // The browser key sending the same event id neither replays nor reads the server key's response.
    let public = post(
        &app,
        PUBLIC_KEY,
        None,
        json!({"email": "someone@corp.com", "event_id": "evt-7"}),
    )
    .await;
    assert_eq!(
        (public.status, public.replayed),
        (StatusCode::ACCEPTED, false)
    );
    assert!(!public.body.contains("lead_id"), "{}", public.body);
    let public_again = post(
        &app,
        PUBLIC_KEY,
        None,
        json!({"email": "someone@corp.com", "event_id": "evt-7"}),
    )
    .await;
    assert_eq!(
        (
            public_again.status,
            public_again.replayed,
            &public_again.body
        ),
        (StatusCode::ACCEPTED, true, &public.body)
    );
}

async fn bad_keys_are_refused_or_reported(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let long = "k".repeat(256);
    for bad in [long.as_str(), "tab\tinside"] {
        let r = post(
            &app,
            INGEST_KEY,
            Some(bad),
            json!({"email": "bad-key@corp.com"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:?}");
        let v: Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(v["error"]["field"], "Idempotency-Key");
    }
    assert!(
        leads(&app, "bad-key@corp.com").await.is_empty(),
        "a refused postback stores nothing"
    );
    // A bad event_id never loses the lead: it is stored, not deduplicated, with a warning.
    for _ in 0..2 {
        let r = post(
            &app,
            INGEST_KEY,
            None,
            json!({"first_name": "NoDedup", "event_id": 42}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let v: Value = serde_json::from_str(&r.body).expect("json");
        assert!(
            v["warnings"]
                .as_array()
                .expect("warnings")
                .iter()
                .any(|w| w["field"] == "event_id" && w["code"] == "dropped"),
            "{v}"
        );
    }
    assert_eq!(leads(&app, "nodedup").await.len(), 2);
}

async fn concurrent_repeats_over_http_apply_once(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (client, url) = (app.client.clone(), app.url("/api/postback"));
            tokio::spawn(async move {
                let r = client
                    .post(url)
                    .header("x-api-key", INGEST_KEY)
                    .header("idempotency-key", "burst-1")
                    .json(&json!({"first_name": "Burst", "custom_data": {"burst": 1}}))
                    .send()
                    .await
                    .expect("request");
                (r.status(), r.text().await.expect("body"))
            })
        })
        .collect();
    let mut bodies = BTreeSet::new();
    for t in tasks {
        let (status, body) = t.await.expect("task");
        match status {
            StatusCode::CREATED => {
                bodies.insert(body);
            }
            StatusCode::CONFLICT => assert!(body.contains("still being processed"), "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(bodies.len(), 1, "every answer is the one response");
    assert_eq!(leads(&app, "burst").await.len(), 1, "applied once");
}

/// An attacker with the browser key pre-claims the event id a landing page will send: the victim's postback is
/// still stored as its own lead, and answered with its own token, never the attacker's.
async fn a_pre_claimed_event_id_cannot_hijack_a_postback(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let attacker = post(
        &app,
        PUBLIC_KEY,
        None,
        json!({"email": "attacker@evil.test", "event_id": "form-submit-42"}),
    )
    .await;
    assert_eq!(attacker.status, StatusCode::ACCEPTED);
    let victim = post(
        &app,
        PUBLIC_KEY,
        None,
        json!({"email": "victim@corp.com", "first_name": "Vic", "event_id": "form-submit-42"}),
    )
    .await;
    assert_eq!(
        (victim.status, victim.replayed),
        (StatusCode::ACCEPTED, false)
    );
    assert_ne!(
        victim.body, attacker.body,
        "never the attacker's answer or token"
    );
    let found = leads(&app, "victim@corp.com").await;
    assert_eq!(found.len(), 1, "the victim's lead is stored");
    assert_eq!(found[0]["first_name"], "Vic");
    // Replaying the victim's event id with another body gets a token of its own, not the victim's.
    let replay = post(
        &app,
        PUBLIC_KEY,
        None,
        json!({"email": "attacker2@evil.test", "event_id": "form-submit-42"}),
    )
    .await;
    assert!(!replay.replayed);
    assert_ne!(replay.body, victim.body);
}

on_both_stores!(
    a_repeated_header_key_answers_the_first_response,
    event_ids_are_per_key_tier,
    a_pre_claimed_event_id_cannot_hijack_a_postback,
    bad_keys_are_refused_or_reported,
    concurrent_repeats_over_http_apply_once,
);
