//! Each function's own router fed real API Gateway HTTP API (v2) events through `lambda_http`'s adapter, on both
//! stores: the same path the deployed Lambda takes, minus the runtime API's polling.

use axum::Router;
use base64::Engine;
use leadpipe_core::{Leadpipe, Settings};
use leadpipe_tests::{
    apigw_v2_event, invoke_lambda, keyed_settings, on_both_stores, StoreKind, ADMIN_KEY, INGEST_KEY,
};
use serde_json::{json, Value};

fn body_of(response: &Value) -> Value {
    let body = response["body"].as_str().unwrap_or("");
    if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| panic!("body is not JSON: {body}"))
    }
}

struct Lambdas {
    core: Leadpipe,
}

impl Lambdas {
    async fn invoke(&self, routes: Router<Leadpipe>, event: Value) -> (u16, Value, Value) {
        let response = invoke_lambda(routes, self.core.clone(), event).await;
        let status = response["statusCode"].as_u64().expect("statusCode") as u16;
        let body = body_of(&response);
        (status, body, response)
    }
}

async fn every_function_through_its_event(kind: StoreKind) {
    let l = Lambdas {
        core: Leadpipe::new(kind.make(&keyed_settings()).await, keyed_settings()),
    };
    let admin = [("x-api-key", ADMIN_KEY)];
    let ingest = [
        ("x-api-key", INGEST_KEY),
        ("content-type", "application/json"),
    ];

    let body = json!({"email": "lambda@example.com", "stage": "Form Started", "source": "google"})
        .to_string();
    let (status, created, response) = l
        .invoke(
            postback::router(),
            apigw_v2_event(
                "POST",
                "/api/postback",
                "/api/postback",
                "",
                &ingest,
                Some(&body),
            ),
        )
        .await;
    assert_eq!(status, 201, "{response}");
    assert_eq!(response["headers"]["content-type"], "application/json");
    let id = created["lead_id"].as_str().unwrap().to_string();

    // A base64-encoded body, as API Gateway sends binary-typed payloads.
    let mut event = apigw_v2_event("POST", "/api/postback", "/api/postback", "", &ingest, None);
    let update =
        json!({"email": "lambda@example.com", "stage": "Application Submitted"}).to_string();
    event["body"] = base64::engine::general_purpose::STANDARD
        .encode(update.as_bytes())
        .into();
    event["isBase64Encoded"] = true.into();
    let (status, updated, _) = l.invoke(postback::router(), event).await;
    assert_eq!(
        (status, updated["stage_changed"].clone()),
        (200, json!(true))
    );

    // GET postbacks, as networks that can only fire a URL send them: the key in the query string, and a pixel.
    let query = format!(
        "key={INGEST_KEY}&email=lambda-get%40example.com&stage=Form%20Started&source=network"
    );
    let (status, by_get, response) = l
        .invoke(
            postback::router(),
            apigw_v2_event("GET", "/api/postback", "/api/postback", &query, &[], None),
        )
        .await;
    assert_eq!(status, 201, "{response}");
    assert!(by_get["lead_id"].is_string(), "{by_get}");
    let event = apigw_v2_event(
        "GET",
        "/api/postback",
        "/api/postback",
        &format!("{query}&company=Acme&pixel=1"),
        &[],
        None,
    );
    let response = invoke_lambda(postback::router(), l.core.clone(), event).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["content-type"], "image/gif");
    let (status, err, _) = l
        .invoke(
            postback::router(),
            apigw_v2_event(
                "GET",
                "/api/postback",
                "/api/postback",
                "key=wrong&email=x%40example.com",
                &[],
                None,
            ),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].clone()),
        (401, json!("unauthorized"))
    );

    l.core.store.settle().await.expect("settle");
    let (status, list, _) = l
        .invoke(
            leads::router(),
            apigw_v2_event(
                "GET",
                "/api/leads",
                "/api/leads",
                "stage=application%20submitted&limit=5",
                &admin,
                None,
            ),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["leads"][0]["id"], json!(id));
    assert_eq!(list["total"], 1);

    let path = format!("/api/leads/{id}");
    let (status, detail, _) = l
        .invoke(
            leads::router(),
            apigw_v2_event("GET", "/api/leads/{id}", &path, "", &admin, None),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail["history"].as_array().unwrap().len(), 2);

    let stage_path = format!("/api/leads/{id}/stage");
    let put_headers = [
        ("x-api-key", ADMIN_KEY),
        ("content-type", "application/json"),
    ];
    let (status, moved, _) = l
        .invoke(
            stage::router(),
            apigw_v2_event(
                "PUT",
                "/api/leads/{id}/stage",
                &stage_path,
                "",
                &put_headers,
                Some(r#"{"stage":"Paid"}"#),
            ),
        )
        .await;
    assert_eq!(
        (status, moved["lead"]["stage"].clone()),
        (200, json!("Paid"))
    );

    l.core.store.settle().await.expect("settle");
    let (status, analytics, _) = l
        .invoke(
            analytics::router(),
            apigw_v2_event("GET", "/api/analytics", "/api/analytics", "", &admin, None),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        analytics["funnel"][3],
        json!({"stage": "Paid", "count": 1, "reached": 1, "conversion_to_next": 0.0, "avg_seconds_to_next": null})
    );

    let (status, health, _) = l
        .invoke(
            analytics::router(),
            apigw_v2_event("GET", "/api/health", "/api/health", "", &[], None),
        )
        .await;
    assert_eq!((status, health["status"].clone()), (200, json!("ok")));

    // Keys are enforced inside the Lambda too.
    let (status, err, _) = l
        .invoke(
            leads::router(),
            apigw_v2_event("GET", "/api/leads", "/api/leads", "", &[], None),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].clone()),
        (401, json!("unauthorized"))
    );
    let (status, _, _) = l
        .invoke(
            stage::router(),
            apigw_v2_event(
                "PUT",
                "/api/leads/{id}/stage",
                &stage_path,
                "",
                &ingest,
                Some(r#"{"stage":"New"}"#),
            ),
        )
        .await;
    assert_eq!(status, 403);
    // A function only answers its own routes.
    let (status, _, _) = l
        .invoke(
            leads::router(),
            apigw_v2_event(
                "POST",
                "/api/postback",
                "/api/postback",
                "",
                &ingest,
                Some(&body),
            ),
        )
        .await;
    assert_eq!(status, 404);

    let (status, _, response) = l
        .invoke(
            leads::router(),
            apigw_v2_event("DELETE", "/api/leads/{id}", &path, "", &admin, None),
        )
        .await;
    assert_eq!(status, 204, "{response}");
    let (status, _, _) = l
        .invoke(
            leads::router(),
            apigw_v2_event("GET", "/api/leads/{id}", &path, "", &admin, None),
        )
        .await;
    assert_eq!(status, 404);
    let (status, err, _) = l
        .invoke(
            leads::router(),
            apigw_v2_event(
                "GET",
                "/api/leads/{id}",
                "/api/leads/nope",
                "",
                &admin,
                None,
            ),
        )
        .await;
    assert_eq!((status, err["error"]["field"].clone()), (400, json!("id")));
}

on_both_stores!(every_function_through_its_event);

/// With no keys configured the Lambda serves the seed's example as-is.
#[tokio::test]
async fn open_lambda_accepts_the_seed_example() {
    let core = Leadpipe::new(
        StoreKind::Sqlite.make(&Settings::default()).await,
        Settings::default(),
    );
    let body = r#"{"email": "john@example.com", "first_name": "John", "stage": "Form Started"}"#;
    let event = apigw_v2_event(
        "POST",
        "/api/postback",
        "/api/postback",
        "",
        &[],
        Some(body),
    );
    let response = invoke_lambda(postback::router(), core, event).await;
    assert_eq!(response["statusCode"], 201);
}
