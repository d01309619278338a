//! Helpers of the two-factor HTTP tests (`tests/tests/two_factor_api.rs`, `tests/tests/two_factor_admin_api.rs`).

use crate::TestApp;
use chrono::Utc;
use leadpipe_core::domain::totp::{time_step, TotpSecret, STEP_SECS};
use leadpipe_core::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The password of every account these helpers create.
pub const PASSWORD: &str = "correct horse battery";

/// A request with an optional session cookie (writes carry the dashboard's Origin): status, the cookie's
/// `name=value` when one was set, and the JSON answer (`null` when empty).
pub async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    let mut req = app
        .client
        .request(method, app.url(path))
        .header("origin", &app.base);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .filter(|v| !v.ends_with('='))
        .map(str::to_string);
    let text = resp.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, cookie, value)
}

/// Signs in with `body`.
pub async fn login(app: &TestApp, body: Value) -> (StatusCode, Option<String>, Value) {
    send(app, Method::POST, "/api/auth/login", None, Some(body)).await
}

/// Creates an account with [`PASSWORD`] and signs it in: its session cookie.
pub async fn account(app: &TestApp, email: &str, role: Role) -> String {
    app.core
        .create_account(email, PASSWORD, role, Utc::now())
        .await
        .expect("account");
    let (s, cookie, v) = login(app, json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    cookie.expect("session cookie")
}

/// Waits out the last seconds of a time step, so a test's codes stay in one window of ±1 step.
pub async fn fresh_step() -> i64 {
    let into = Utc::now().timestamp().rem_euclid(STEP_SECS);
    if into > STEP_SECS - 8 {
        let wait = u64::try_from(STEP_SECS - into + 1).unwrap_or(1);
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    }
    time_step(Utc::now().timestamp())
}

/// Sets two-factor up for the session's user: the secret, the step its confirming code used, and the recovery
/// codes.
pub async fn enrol(app: &TestApp, cookie: &str) -> (TotpSecret, i64, Vec<String>) {
    let (s, _, v) = send(
        app,
        Method::POST,
        "/api/auth/two-factor/setup",
        Some(cookie),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let secret = TotpSecret::parse(v["secret"].as_str().unwrap()).expect("base32 secret");
    let now = fresh_step().await;
    let code = secret.code_at(now - 1).expose();
    let (s, _, v) = send(
        app,
        Method::POST,
        "/api/auth/two-factor/confirm",
        Some(cookie),
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let codes = v["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (secret, now, codes)
}

/// A six-digit code that is none of the codes accepted now.
pub fn wrong_code(secret: &TotpSecret, now: i64) -> String {
    let valid: Vec<String> = (now - 2..=now + 2)
        .map(|s| secret.code_at(s).expose())
        .collect();
    (0..10)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|c| !valid.contains(c))
        .expect("a wrong code")
}

/// The error code of an answer (`""` when none).
pub fn code_of(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}
