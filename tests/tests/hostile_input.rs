//! Property-based hostile input against the full router (in process, the same one `leadpipe serve` runs):
//! random and malformed postback bodies, content types, query strings, ids and static paths. Whatever arrives,
//! nothing panics, nothing answers 5xx, and every error is the documented JSON shape.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use leadpipe_core::{Leadpipe, Settings};
use leadpipe_tests::{StoreKind, SEED_POSTBACK_FIELDS};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use tower::ServiceExt;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn router(kind: StoreKind) -> Router {
    static SQLITE: OnceLock<Router> = OnceLock::new();
    static DYNAMO: OnceLock<Router> = OnceLock::new();
    let cell = if kind == StoreKind::Sqlite {
        &SQLITE
    } else {
        &DYNAMO
    };
    cell.get_or_init(|| {
        let core = runtime().block_on(async {
            Leadpipe::new(kind.make(&Settings::default()).await, Settings::default())
        });
        let static_dir =
            std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../static-site"));
        leadpipe_http::app(leadpipe::all_routes(), core, Some(static_dir))
    })
    .clone()
}

/// Sends a request and checks the contract every answer must keep. Returns status and body.
fn send(kind: StoreKind, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let what = format!("{} {}", req.method(), req.uri());
    let router = router(kind);
    runtime().block_on(async move {
        let resp = router.oneshot(req).await.expect("router is infallible");
        let status = resp.status();
        let is_json = resp
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/json"));
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        assert!(
            !status.is_server_error(),
            "{what} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        if status.is_client_error() && what.contains(" /api") {
            assert!(is_json, "{what}: error without JSON content type");
            let v: Value = serde_json::from_slice(&body).expect("error body is JSON");
            assert!(
                v["error"]["code"].is_string() && v["error"]["message"].is_string(),
                "{what}: {v}"
            );
            assert!(
                !v.to_string().contains("rusqlite") && !v.to_string().contains("DynamoDB"),
                "{what} leaks internals: {v}"
            );
        }
        (status, body)
    })
}

fn post(kind: StoreKind, content_type: Option<&str>, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let mut req = Request::post("/api/postback");
    // A header value no HTTP client could send (e.g. a NUL) is not a request at all.
    if let Some(ct) = content_type.filter(|ct| axum::http::HeaderValue::from_str(ct).is_ok()) {
        req = req.header("content-type", ct);
    }
    send(kind, req.body(Body::from(body)).expect("request builds"))
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        Just(json!(1e308)),
        Just(json!(-0.0)),
        ".{0,40}".prop_map(Value::from),
        "[\\x00-\\x1f<>&\"'\\\\/]{0,20}".prop_map(Value::from),
        Just(Value::from("x".repeat(5000))),
        Just(Value::from("<img src=x onerror=alert(1)>")),
        Just(Value::from("form started")),
        Just(Value::from("PAID")),
        Just(Value::from("john@example.com")),
        Just(Value::from("6f1c1f4e-8a55-4a4e-9d3b-2f7b0b4f3b11")),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(8, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A postback-shaped object: known field names (and some unknown ones) with arbitrary values.
fn postback_body() -> impl Strategy<Value = Value> {
    let key = prop_oneof![4 => prop::sample::select(SEED_POSTBACK_FIELDS).prop_map(str::to_string), 1 => "[a-z_]{1,12}"];
    prop::collection::btree_map(key, json_value(), 0..10)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
}

fn check_postback_answer(status: StatusCode, body: &[u8]) {
    if status.is_success() {
        let v: Value = serde_json::from_slice(body).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["created", "lead_id", "stage", "stage_changed", "warnings"],
            "a postback answer carries no lead data"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_postback_objects(body in postback_body()) {
        let (status, answer) = post(StoreKind::Sqlite, Some("application/json"), body.to_string().into_bytes());
        check_postback_answer(status, &answer);
    }

    #[test]
    fn random_json_documents(body in json_value()) {
        let (status, answer) = post(StoreKind::Sqlite, Some("application/json"), body.to_string().into_bytes());
        check_postback_answer(status, &answer);
    }

    #[test]
    fn random_bytes_and_truncated_json(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        body in postback_body(),
        cut in any::<prop::sample::Index>(),
        content_type in prop::option::of(prop::sample::select(vec!["application/json", "text/plain", "text/html", "multipart/form-data; boundary=x", "application/json; charset=utf-16", "\u{0}"])),
    ) {
        post(StoreKind::Sqlite, content_type, bytes);
        let text = body.to_string();
        let truncated = text.as_bytes()[..cut.index(text.len().max(1)).min(text.len())].to_vec();
        post(StoreKind::Sqlite, Some("application/json"), truncated);
    }

    #[test]
    fn random_list_queries(pairs in prop::collection::vec((prop::sample::select(vec!["stage", "search", "source", "campaign", "from", "to", "limit", "cursor", "page", "x"]), ".{0,30}"), 0..5), raw in "[ -~]{0,60}") {
        let query = serde_urlencoded::to_string(&pairs).unwrap();
        send(StoreKind::Sqlite, Request::get(format!("/api/leads?{query}")).body(Body::empty()).unwrap());
        let raw_uri = format!("/api/leads?{}", raw.replace(' ', "%20").replace('#', "%23"));
        if let Ok(req) = Request::get(raw_uri).body(Body::empty()) {
            send(StoreKind::Sqlite, req);
        }
    }

    #[test]
    fn random_ids_in_paths(id in "[ -~]{0,50}", stage in json_value()) {
        let id = id.replace(' ', "%20").replace('#', "%23").replace('?', "%3F");
        for (method, path) in [("GET", format!("/api/leads/{id}")), ("DELETE", format!("/api/leads/{id}")), ("PUT", format!("/api/leads/{id}/stage"))] {
            if let Ok(req) = Request::builder().method(method).uri(&path).header("content-type", "application/json").body(Body::from(json!({"stage": stage}).to_string())) {
                send(StoreKind::Sqlite, req);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    /// The same random postbacks against DynamoDB Local: its limits (key sizes, number ranges) never surface as 5xx.
    #[test]
    fn random_postback_objects_on_dynamodb(body in postback_body()) {
        let (status, answer) = post(StoreKind::Dynamo, Some("application/json"), body.to_string().into_bytes());
        check_postback_answer(status, &answer);
    }
}

#[test]
fn extreme_fixed_cases() {
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    for kind in [StoreKind::Sqlite, StoreKind::Dynamo] {
        let (s, _) = post(
            kind,
            Some("application/json"),
            format!("{{\"custom_data\": {{\"a\": {deep}}}}}").into_bytes(),
        );
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = post(kind, Some("application/json"), vec![b'{'; 1 << 20]);
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
        let (s, b) = post(
            kind,
            Some("application/json"),
            br#"{"email": "a\u0000@example.com"}"#.to_vec(),
        );
        assert_eq!(
            s,
            StatusCode::CREATED,
            "stored without the NUL: {}",
            String::from_utf8_lossy(&b)
        );
        assert!(String::from_utf8_lossy(&b).contains("cleaned"));
        let (s, b) = post(
            kind,
            Some("application/json"),
            br#"{"form_completion_percent": 1e999}"#.to_vec(),
        );
        assert_eq!(
            s,
            StatusCode::CREATED,
            "an out-of-range number is a warning"
        );
        assert!(String::from_utf8_lossy(&b).contains("form_completion_percent"));
        let unicode = "\u{1F600}".repeat(200);
        let body = json!({"email": format!("{}@example.com", "\u{00e9}".repeat(30)), "source": unicode, "campaign": unicode, "stage": "Paid",
            "custom_data": {"": 1, "k": "x".repeat(15_000)}});
        let (s, b) = post(
            kind,
            Some("application/json"),
            body.to_string().into_bytes(),
        );
        assert_eq!(
            s,
            StatusCode::CREATED,
            "stored, the empty custom_data key left out: {}",
            String::from_utf8_lossy(&b)
        );
        assert!(String::from_utf8_lossy(&b).contains("custom_data key(s) left out"));
        let body = json!({"email": format!("{}@example.org", "\u{00e9}".repeat(30)), "source": unicode, "campaign": unicode, "stage": "Paid",
            "custom_data": {"n": 1e300, "big": u64::MAX, "k": "x".repeat(15_000)}});
        let (s, b) = post(
            kind,
            Some("application/json"),
            body.to_string().into_bytes(),
        );
        assert_eq!(
            s,
            StatusCode::CREATED,
            "{kind:?}: {}",
            String::from_utf8_lossy(&b)
        );
    }
}

/// Search terms that mean something to a text index (quotes, operators, NUL, which ends an FTS5 string) are plain
/// text: a 200 on both stores, never a query error.
#[test]
fn search_terms_with_index_syntax_and_control_characters() {
    for term in [
        "ab\0cd",
        "\0\0\0",
        "\"abc",
        "abc\"",
        "a\"\"b",
        "NEAR(abc def)",
        "abc OR def",
        "-abc",
        "abc*",
        "^abc",
        "{a}: b",
        "\u{1b}[0m",
    ] {
        let query = serde_urlencoded::to_string([("search", term)]).expect("encodes");
        for kind in [StoreKind::Sqlite, StoreKind::Dynamo] {
            let (status, body) = send(
                kind,
                Request::get(format!("/api/leads?{query}"))
                    .body(Body::empty())
                    .expect("request"),
            );
            assert_eq!(
                status,
                StatusCode::OK,
                "{term:?}: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}

#[test]
fn static_files_do_not_escape_their_folder() {
    for path in [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "/static-site/../Cargo.toml",
        "/%00",
        "/.git/config",
    ] {
        let Ok(req) = Request::get(path).body(Body::empty()) else {
            continue;
        };
        let (status, body) = send(StoreKind::Sqlite, req);
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("root:x:0:0")
                && !text.contains("[workspace]")
                && !text.contains("[core]"),
            "{path} escaped: {status}"
        );
    }
}
