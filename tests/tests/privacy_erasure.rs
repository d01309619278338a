//! Erasure (`POST /api/privacy/erasure`) on both stores, proven at the bytes: after an erasure neither the whole
//! SQLite file and its WAL nor a scan of the whole DynamoDB Local table holds the person's email, phone or name,
//! while they did before; the receipt and the audit log's record of it hold none of them either; a suppressed
//! email cannot bring the person back.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use leadpipe_core::config::Settings;
use leadpipe_core::store::LeadStore;
use leadpipe_sqlite::SqliteStore;
use leadpipe_tests::{
    call, dynamodb_store, keyed_settings, spawn_app_on, TestApp, ADMIN_KEY, INGEST_KEY, PUBLIC_KEY,
};
use leadpipe_webhooks::retry::{Delivery, DeliveryState};
use leadpipe_webhooks::store::{delivery_id, WebhookStore};
use leadpipe_webhooks::EventType;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

const EMAIL: &str = "ada.lovelace.erasure@example.org";
const PHONE: &str = "+44 20 7946 0958";
const LAST_NAME: &str = "Byronlovelace";
const KEEP_EMAIL: &str = "grace.hopper.kept@example.org";

/// What must be gone: the email, the phone (as sent and as digits) and the family name.
const PERSON: [&str; 4] = [EMAIL, PHONE, "442079460958", LAST_NAME];
/// What the store holds of them before (the digits-only phone is never stored as such).
const STORED: [&str; 3] = [EMAIL, PHONE, LAST_NAME];

/// Leaves the person in every place an erasure must reach; returns their lead id and the kept lead's.
async fn leave_traces(app: &TestApp) -> (Uuid, Uuid) {
    let person = json!({
        "email": EMAIL, "first_name": "Ada", "last_name": LAST_NAME, "phone": PHONE,
        "utm_campaign": "spring", "custom_data": {"note": "call after 6"}, "event_id": "signup-ada-1",
    });
    let (status, created) = call(
        app,
        Method::POST,
        "/api/postback",
        Some(INGEST_KEY),
        Some(person),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id: Uuid = created["lead_id"].as_str().unwrap().parse().unwrap();
    let progress = json!({"email": EMAIL, "stage": "Qualified"});
    assert!(call(
        app,
        Method::POST,
        "/api/postback",
        Some(INGEST_KEY),
        Some(progress)
    )
    .await
    .0
    .is_success());
    // A refusal (wrong key) keeps the body in the postback log.
    let refused = json!({"email": EMAIL, "phone": PHONE});
    assert_eq!(
        call(
            app,
            Method::POST,
            "/api/postback",
            Some("wrong-key-123456"),
            Some(refused)
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    // Admin actions whose audit entries name the person: a manual move, and an export filtered by the email.
    let (status, _) = call(
        app,
        Method::PUT,
        &format!("/api/leads/{id}/stage"),
        Some(ADMIN_KEY),
        Some(json!({"stage": "Paid"})),
    )
    .await;
    assert!(status.is_success(), "{status}");
    let export = app
        .client
        .get(app.url(&format!("/api/leads/export?search={EMAIL}")))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .expect("export");
    assert!(export.status().is_success(), "{}", export.status());
    // A pending webhook delivery carrying the lead.
    if let Some(webhooks) = &app.webhooks {
        let (status, hook) = call(
            app,
            Method::POST,
            "/api/webhooks",
            Some(ADMIN_KEY),
            Some(json!({
                "url": "https://hooks.example.com/leads", "events": ["lead.created"],
            })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        let webhook_id: Uuid = hook["webhook"]["id"]
            .as_str()
            .or(hook["id"].as_str())
            .unwrap()
            .parse()
            .unwrap();
        let lead = app.core.store.get(id).await.unwrap().unwrap();
        let payload = json!({"type": "lead.created", "data": {"lead": lead}}).to_string();
        webhooks
            .enqueue_deliveries(&[pending_delivery(webhook_id, &payload)])
            .await
            .unwrap();
    }
    let keep = json!({"email": KEEP_EMAIL, "first_name": "Grace", "last_name": "Hopper"});
    let (_, kept) = call(
        app,
        Method::POST,
        "/api/postback",
        Some(INGEST_KEY),
        Some(keep),
    )
    .await;
    app.settle().await;
    (id, kept["lead_id"].as_str().unwrap().parse().unwrap())
}

fn pending_delivery(webhook_id: Uuid, payload: &str) -> Delivery {
    let now = Utc::now();
    Delivery {
        id: delivery_id(webhook_id, "msg-ada"),
        webhook_id,
        message_id: "msg-ada".into(),
        event_type: EventType::LeadCreated,
        payload: payload.into(),
        attempts: 0,
        created_at: now,
        first_attempt_at: None,
        last_attempt_at: None,
        next_attempt_at: Some(now + chrono::Duration::hours(1)),
        last_status: None,
        last_response_code: None,
        last_error: None,
        state: DeliveryState::Pending,
    }
}

/// The access export holds everything the traces left, and refuses a request that names nobody.
async fn export_holds_the_person(app: &TestApp, id: Uuid) {
    let (status, export) = call(
        app,
        Method::GET,
        &format!("/api/privacy/export?email={EMAIL}"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(
        export["leads"][0]["lead"]["id"],
        json!(id.to_string()),
        "{export}"
    );
    assert_eq!(export["leads"][0]["lead"]["last_name"], json!(LAST_NAME));
    assert!(
        export["leads"][0]["history"].as_array().unwrap().len() >= 2,
        "{export}"
    );
    assert!(
        !export["postback_log"].as_array().unwrap().is_empty(),
        "{export}"
    );
    assert_eq!(
        export["webhook_deliveries"].as_array().unwrap().len(),
        1,
        "{export}"
    );
    assert!(export["audit"].as_array().unwrap().len() >= 2, "{export}");
    assert_eq!(export["suppressed"], json!(false));
    for (query, code) in [
        ("", "invalid_query"),
        ("?email=not-an-email", "invalid_field"),
        ("?name=Ada", "invalid_query"),
        ("?lead_id=1&lead_id=2", "invalid_query"),
    ] {
        let (status, body) = call(
            app,
            Method::GET,
            &format!("/api/privacy/export{query}"),
            Some(ADMIN_KEY),
            None,
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{query}: {body}"
        );
    }
}

/// Erases the person with suppression and checks the receipt, the API's view and the audit record.
async fn erase_and_check(app: &TestApp, id: Uuid, kept: Uuid) -> Value {
    let (status, receipt) = call(
        app,
        Method::POST,
        "/api/privacy/erasure",
        Some(ADMIN_KEY),
        Some(json!({
            "email": EMAIL.to_uppercase(), "suppress": true,
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["leads"], json!([id.to_string()]), "{receipt}");
    assert_eq!(receipt["suppressed"], json!(true));
    let copies = &receipt["copies"];
    assert!(copies["postback_log"].as_u64().unwrap() >= 1, "{receipt}");
    assert!(copies["audit_redacted"].as_u64().unwrap() >= 2, "{receipt}");
    assert_eq!(copies["deliveries"], json!(1), "{receipt}");
    let text = receipt.to_string().to_lowercase();
    for bytes in PERSON {
        assert!(
            !text.contains(&bytes.to_lowercase()),
            "receipt holds {bytes}"
        );
    }
    assert_eq!(
        call(
            app,
            Method::GET,
            &format!("/api/leads/{id}"),
            Some(ADMIN_KEY),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(
            app,
            Method::GET,
            &format!("/api/leads/{kept}"),
            Some(ADMIN_KEY),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    // The audit log records the erasure, and no entry holds the person any more.
    let today = Utc::now().date_naive();
    let (status, audit) = call(
        app,
        Method::GET,
        &format!("/api/audit?from={today}&to={today}&limit=200"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let entries = audit["entries"].as_array().expect("entries");
    let erasure = entries
        .iter()
        .find(|e| e["action"] == "privacy.erased")
        .expect("privacy.erased entry");
    assert_eq!(erasure["target"], receipt["id"]);
    assert!(entries.iter().any(|e| e["action"] == "privacy.exported"));
    let (_, after) = call(
        app,
        Method::GET,
        &format!("/api/privacy/export?email={EMAIL}"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(
        (
            &after["leads"],
            &after["postback_log"],
            &after["webhook_deliveries"],
            &after["suppressed"]
        ),
        (&json!([]), &json!([]), &json!([]), &json!(true)),
        "{after}"
    );
    let audit_text = audit.to_string().to_lowercase();
    for bytes in PERSON {
        assert!(
            !audit_text.contains(&bytes.to_lowercase()),
            "audit log holds {bytes}"
        );
    }
    receipt
}

/// A suppressed email brings nobody back: the server key is told, the browser key cannot tell.
async fn suppression_holds(app: &TestApp) {
    let again = json!({"email": EMAIL, "first_name": "Ada", "last_name": LAST_NAME});
    let (status, body) = call(
        app,
        Method::POST,
        "/api/postback",
        Some(INGEST_KEY),
        Some(again.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "suppressed");
    let (status, public) = call(
        app,
        Method::POST,
        "/api/postback",
        Some(PUBLIC_KEY),
        Some(again),
    )
    .await;
    let (fresh_status, fresh) = call(
        app,
        Method::POST,
        "/api/postback",
        Some(PUBLIC_KEY),
        Some(json!({"email": "someone.new@example.org"})),
    )
    .await;
    assert_eq!(
        (status, fresh_status),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    let shape = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(shape(&public), shape(&fresh), "{public} vs {fresh}");
    let (_, found) = call(
        app,
        Method::GET,
        &format!("/api/leads?search={EMAIL}"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(found["leads"], json!([]), "{found}");
}

fn hits(haystack: &[u8], needle: &str) -> usize {
    let mut count = 0;
    for n in [needle.to_string(), needle.to_lowercase()] {
        count += haystack
            .windows(n.len())
            .filter(|w| *w == n.as_bytes())
            .count();
    }
    count
}

/// The API on `store` (also its webhook store), with the person's traces left in it (see [`leave_traces`]).
async fn traced_app<S: LeadStore + WebhookStore>(
    store: Arc<S>,
    settings: Settings,
) -> (Uuid, Uuid, TestApp) {
    let app = spawn_app_on(
        store.clone(),
        Some(store as Arc<dyn WebhookStore>),
        settings,
    )
    .await;
    let (id, kept) = leave_traces(&app).await;
    export_holds_the_person(&app, id).await;
    (id, kept, app)
}

/// The person is in `bytes` before the erasure (so the check after it can fail).
fn assert_person_held(bytes: &[u8], place: &str) {
    for run in STORED {
        assert!(
            hits(bytes, run) > 0,
            "{run} should be in {place} before the erasure"
        );
    }
}

/// Not one byte run of the person is left in `bytes`, and the other lead still is.
fn assert_person_gone(bytes: &[u8], place: &str) {
    for run in PERSON {
        assert_eq!(hits(bytes, run), 0, "{run} is still in {place}");
    }
    assert!(
        hits(bytes, KEEP_EMAIL) > 0,
        "the other lead must stay in {place}"
    );
}

fn file_bytes(db: &std::path::Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db).expect("database file");
    if let Ok(wal) = std::fs::read(db.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_erased_person_is_in_no_byte_of_the_sqlite_file() {
    let dir = std::env::temp_dir().join(format!("leadpipe-erasure-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("leads.db");
    let settings: Settings = keyed_settings();
    let store = Arc::new(SqliteStore::open(&db, settings.counter_rules()).unwrap());
    let (id, kept, app) = traced_app(store.clone(), settings).await;
    assert_person_held(&file_bytes(&db), "the SQLite file");
    let receipt = erase_and_check(&app, id, kept).await;
    assert!(
        receipt["copies"]["idempotency"].as_u64().unwrap() >= 1,
        "{receipt}"
    );
    assert_person_gone(&file_bytes(&db), "the SQLite file or its WAL");
    suppression_holds(&app).await;
}

/// Every string and binary value of every item of the table, as bytes.
async fn table_bytes(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<u8> {
    fn collect(v: &AttributeValue, out: &mut Vec<u8>) {
        match v {
            AttributeValue::S(s) | AttributeValue::N(s) => out.extend(s.as_bytes()),
            AttributeValue::B(b) => {
                out.extend(b.as_ref());
                if let Ok(text) = leadpipe_dynamo::codec::decompress(b.as_ref()) {
                    out.extend(text);
                }
            }
            AttributeValue::M(m) => m.values().for_each(|v| collect(v, out)),
            AttributeValue::L(l) => l.iter().for_each(|v| collect(v, out)),
            AttributeValue::Ss(l) => l.iter().for_each(|s| out.extend(s.as_bytes())),
            _ => {}
        }
        out.push(0);
    }
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("scan");
        for item in page.items.unwrap_or_default() {
            item.values().for_each(|v| collect(v, &mut out));
        }
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_erased_person_is_in_no_item_of_the_dynamodb_table() {
    let settings: Settings = keyed_settings();
    let store = Arc::new(dynamodb_store(settings.counter_rules()).await);
    let (client, table) = (store.client().clone(), store.table().to_string());
    let (id, kept, app) = traced_app(store.clone(), settings).await;
    assert_person_held(&table_bytes(&client, &table).await, "the DynamoDB table");
    erase_and_check(&app, id, kept).await;
    app.settle().await;
    assert_person_gone(&table_bytes(&client, &table).await, "the DynamoDB table");
    suppression_holds(&app).await;
}
