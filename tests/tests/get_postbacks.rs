//! `GET /api/postback` on both stores: every field as a query parameter with POST's rules and warnings, the server
//! or browser key as `?key=` (never the admin key), idempotency, `pixel=1` answering a GIF whatever happened, and
//! the key kept out of the postback log.

use axum::http::StatusCode;
use leadpipe_tests::{
    keyed_settings, on_both_stores, spawn_app, StoreKind, TestApp, ADMIN_KEY, INGEST_KEY,
    PUBLIC_KEY,
};
use serde_json::Value;

async fn get(app: &TestApp, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = app
        .client
        .get(app.url("/api/postback"))
        .query(query)
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn admin_get(app: &TestApp, path: &str) -> Value {
    app.settle().await;
    let r = app
        .client
        .get(app.url(path))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.expect("json")
}

fn warned(answer: &Value, field: &str, code: &str) -> bool {
    answer["warnings"]
        .as_array()
        .is_some_and(|w| w.iter().any(|w| w["field"] == field && w["code"] == code))
}

async fn the_server_key_in_the_url_creates_and_updates(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let (s, created) = get(
        &app,
        &[
            ("key", INGEST_KEY),
            ("email", "net@corp.com"),
            ("stage", "form started"),
            ("first_name", "Nia"),
            ("form_completion_percent", "40"),
            ("form_fields_total", "10"),
            ("custom_data[click_id]", "abc123"),
            ("payout", "12.50"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(
        (created["created"].as_bool(), created["stage"].as_str()),
        (Some(true), Some("Form Started"))
    );
    assert!(
        warned(&created, "payout", "moved_to_custom_data"),
        "{created}"
    );
    let id = created["lead_id"].as_str().expect("lead_id").to_string();
    let (s, updated) = get(
        &app,
        &[
            ("key", INGEST_KEY),
            ("lead_id", &id),
            ("stage", "Paid"),
            ("form_fields_completed", "many"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{updated}");
    assert_eq!(
        (
            updated["stage"].as_str(),
            updated["stage_changed"].as_bool()
        ),
        (Some("Paid"), Some(true))
    );
    assert!(
        warned(&updated, "form_fields_completed", "dropped"),
        "POST's rule for a wrong type: {updated}"
    );
    let lead = admin_get(&app, &format!("/api/leads/{id}")).await;
    let lead = if lead["lead"].is_object() {
        lead["lead"].clone()
    } else {
        lead
    };
    assert_eq!(lead["first_name"], "Nia");
    assert_eq!(lead["form_completion_percent"], 40.0);
    assert_eq!(lead["custom_data"]["click_id"], "abc123");
    assert_eq!(lead["custom_data"]["payout"], "12.50");
    // Same warnings as POST: a stage outside the pipeline, a bad email, a repeated parameter.
    let (s, odd) = get(
        &app,
        &[
            ("key", INGEST_KEY),
            ("email", "not-an-email"),
            ("stage", "Bogus"),
            ("first_name", "A"),
            ("first_name", "B"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(
        warned(&odd, "stage", "dropped")
            && warned(&odd, "email", "dropped")
            && warned(&odd, "first_name", "dropped"),
        "{odd}"
    );
}

async fn the_browser_key_keeps_its_restrictions_and_the_admin_key_stays_out_of_urls(
    kind: StoreKind,
) {
    let app = spawn_app(kind, keyed_settings()).await;
    let (s, public) = get(
        &app,
        &[
            ("key", PUBLIC_KEY),
            ("email", "pub@corp.com"),
            ("stage", "Paid"),
            ("lead_id", "00000000-0000-4000-8000-000000000000"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{public}");
    assert!(
        public["token"].is_string() && public.get("lead_id").is_none(),
        "{public}"
    );
    assert!(
        warned(&public, "stage", "not_allowed") && warned(&public, "lead_id", "not_allowed"),
        "{public}"
    );
    for key in [ADMIN_KEY, "wrong-key-987654"] {
        let (s, refused) = get(&app, &[("key", key), ("email", "nope@corp.com")]).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{refused}");
    }
    let (s, _) = get(&app, &[("email", "nope@corp.com")]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The header works as on POST.
    let r = app
        .client
        .get(app.url("/api/postback?email=hdr@corp.com"))
        .header("x-api-key", INGEST_KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::CREATED);
    // The refusals are in the postback log, without the key.
    let log = admin_get(&app, "/api/postbacks?status=rejected").await;
    let text = log.to_string();
    assert!(text.contains("nope@corp.com"), "{text}");
    assert!(
        !text.contains(ADMIN_KEY) && !text.contains("wrong-key-987654"),
        "{text}"
    );
    let list = admin_get(&app, "/api/leads?search=nope").await;
    assert_eq!(list["leads"].as_array().map(Vec::len), Some(0));
}

async fn get_postbacks_are_idempotent(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    let (s, first) = get(
        &app,
        &[
            ("key", INGEST_KEY),
            ("email", "conv@corp.com"),
            ("event_id", "net-conv-1"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, again) = get(
        &app,
        &[
            ("key", INGEST_KEY),
            ("email", "conv@corp.com"),
            ("event_id", "net-conv-1"),
        ],
    )
    .await;
    assert_eq!((s, &again), (StatusCode::CREATED, &first));
    let list = admin_get(&app, "/api/leads?search=conv@corp.com").await;
    assert_eq!(
        list["leads"][0]["stage"], "New",
        "the repeat changed nothing"
    );
    // The same event id with other parameters is its own event, never the first answer.
    let (s, other) = get(
        &app,
        &[
            ("key", INGEST_KEY),
            ("email", "conv@corp.com"),
            ("stage", "Paid"),
            ("event_id", "net-conv-1"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_ne!(other, first);
}

async fn pixel_answers_a_gif_whatever_happened(kind: StoreKind) {
    let app = spawn_app(kind, keyed_settings()).await;
    for (key, email) in [
        (INGEST_KEY, "pix@corp.com"),
        ("wrong-key-555555", "pix-refused@corp.com"),
    ] {
        let r = app
            .client
            .get(app.url("/api/postback"))
            .query(&[("key", key), ("email", email), ("pixel", "1")])
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "image/gif");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let bytes = r.bytes().await.expect("body");
        assert_eq!(&bytes[..6], b"GIF89a");
        assert_eq!(bytes.len(), postback::PIXEL_GIF.len());
    }
    assert_eq!(
        admin_get(&app, "/api/leads?search=pix@corp.com").await["leads"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "still stored"
    );
    assert_eq!(
        admin_get(&app, "/api/leads?search=pix-refused").await["leads"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

on_both_stores!(
    the_server_key_in_the_url_creates_and_updates,
    the_browser_key_keeps_its_restrictions_and_the_admin_key_stays_out_of_urls,
    get_postbacks_are_idempotent,
    pixel_answers_a_gif_whatever_happened,
);
