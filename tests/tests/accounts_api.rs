//! Personal sign-in over HTTP: login, logout, logout everywhere, disabling, invites (reused, expired, unknown),
//! tampered cookies, cross-site cookie writes, the throttle and the last admin. Every refusal is a clear 4xx.

use chrono::{Duration, Utc};
use leadpipe_core::domain::account::{Invite, SecretToken};
use leadpipe_core::domain::{Email, Role};
use leadpipe_tests::{call, keyed_settings, spawn_app, StoreKind, TestApp, ADMIN_KEY, INGEST_KEY};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

/// Sends a request with an optional session cookie; writes carry the dashboard's Origin unless `origin` says
/// otherwise. Returns status, `Set-Cookie` and the JSON answer.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let set_cookie = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, set_cookie, value)
}

/// Signs in; the `name=value` part of the cookie on success.
async fn login(app: &TestApp, email: &str, password: &str) -> (StatusCode, Option<String>, Value) {
    let (s, c, v) = send(
        app,
        Method::POST,
        "/api/auth/login",
        None,
        Some(&app.base),
        Some(json!({"email": email, "password": password})),
    )
    .await;
    (s, c.map(|c| c.split(';').next().unwrap().to_string()), v)
}

async fn user(app: &TestApp, email: &str, role: Role) {
    app.core
        .create_account(email, PASSWORD, role, Utc::now())
        .await
        .expect("account");
}

async fn me(app: &TestApp, cookie: &str) -> (StatusCode, Value) {
    let (s, _, v) = send(app, Method::GET, "/api/auth/me", Some(cookie), None, None).await;
    (s, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_in_sets_a_strict_cookie_and_wrong_credentials_look_alike() {
    let app = spawn_app(StoreKind::Sqlite, keyed_settings()).await;
    user(&app, "ana@example.com", Role::Member).await;
    let (s, cookie, body) = send(
        &app,
        Method::POST,
        "/api/auth/login",
        None,
        Some(&app.base),
        Some(json!({"email": "Ana@Example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "ana@example.com");
    assert_eq!(body["role"], "member");
    assert!(body.get("password_hash").is_none());
    let cookie = cookie.expect("Set-Cookie");
    assert!(
        cookie.ends_with("; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=43200"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap();
    let (s, who) = me(&app, session).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(who["kind"], "user");
    assert_eq!(who["email"], "ana@example.com");
    assert_eq!(who["role"], "member");

    let (s1, c1, wrong) = login(&app, "ana@example.com", "not the password!").await;
    let (s2, c2, unknown) = login(&app, "nobody@example.com", PASSWORD).await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(wrong, unknown, "no user enumeration");
    assert_eq!(wrong["error"]["code"], "invalid_credentials");
    assert!(c1.is_none() && c2.is_none(), "never a session");
    let (s, _, v) = login(&app, "not-an-email", PASSWORD).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _, _) = send(
        &app,
        Method::POST,
        "/api/auth/login",
        None,
        Some(&app.base),
        Some(json!({"email": 1})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, _, key) = send(&app, Method::GET, "/api/auth/me", None, None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{key}");
    let who = app
        .client
        .get(app.url("/api/auth/me"))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        who,
        json!({"kind": "key", "name": "ADMIN_API_KEY", "role": "admin"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logout_logout_all_and_disabling_end_sessions_and_tampered_cookies_are_401() {
    let app = spawn_app(StoreKind::Sqlite, keyed_settings()).await;
    user(&app, "bo@example.com", Role::Member).await;
    user(&app, "root@example.com", Role::Admin).await;
    let (_, a, _) = login(&app, "bo@example.com", PASSWORD).await;
    let (_, b, _) = login(&app, "bo@example.com", PASSWORD).await;
    let (_, c, _) = login(&app, "bo@example.com", PASSWORD).await;
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let (s, cleared, _) = send(
        &app,
        Method::POST,
        "/api/auth/logout",
        Some(&a),
        Some(&app.base),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(cleared.unwrap().contains("Max-Age=0"));
    let (s, v) = me(&app, &a).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(me(&app, &b).await.0, StatusCode::OK, "other sessions stay");
    let (s, _, _) = send(
        &app,
        Method::POST,
        "/api/auth/logout-all",
        Some(&b),
        Some(&app.base),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(me(&app, &b).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &c).await.0, StatusCode::UNAUTHORIZED, "everywhere");

    // Disabling takes effect at once, and the disabled user cannot sign in again.
    let (_, d, _) = login(&app, "bo@example.com", PASSWORD).await;
    let d = d.unwrap();
    let (_, root, _) = login(&app, "root@example.com", PASSWORD).await;
    let root = root.unwrap();
    let (_, _, list) = send(&app, Method::GET, "/api/users", Some(&root), None, None).await;
    let bo = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "bo@example.com")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _, v) = send(
        &app,
        Method::PATCH,
        &format!("/api/users/{bo}"),
        Some(&root),
        Some(&app.base),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["disabled"], true);
    assert_eq!(me(&app, &d).await.0, StatusCode::UNAUTHORIZED);
    let (s, _, v) = login(&app, "bo@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "invalid_credentials");

    // Tampered, truncated and made-up cookies: 401, never a 500.
    let last = if root.ends_with('A') { "B" } else { "A" };
    let flipped = format!("{}{last}", &root[..root.len() - 1]);
    for bad in [
        flipped.as_str(),
        "leadpipe_session=",
        "leadpipe_session=%00%ff",
        "leadpipe_session=short",
    ] {
        let (s, v) = me(&app, bad).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{bad}: {v}");
        assert_eq!(v["error"]["code"], "unauthorized");
    }
    let fresh = format!(
        "leadpipe_session={}",
        SecretToken::generate().unwrap().expose()
    );
    assert_eq!(me(&app, &fresh).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cookie_writes_from_another_site_or_without_an_origin_are_403() {
    let app = spawn_app(StoreKind::Sqlite, keyed_settings()).await;
    user(&app, "cy@example.com", Role::Admin).await;
    let (_, cookie, _) = login(&app, "cy@example.com", PASSWORD).await;
    let cookie = cookie.unwrap();
    let body = Some(json!({"email": "x@example.com", "role": "viewer"}));
    let (s, _, v) = send(
        &app,
        Method::POST,
        "/api/users/invites",
        Some(&cookie),
        Some("https://evil.test"),
        body.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _, v) = send(
        &app,
        Method::POST,
        "/api/users/invites",
        Some(&cookie),
        None,
        body.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no Origin: {v}");
    let (s, _, v) = send(
        &app,
        Method::POST,
        "/api/users/invites",
        Some(&cookie),
        Some(&app.base),
        body,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _, _) = send(
        &app,
        Method::GET,
        "/api/users",
        Some(&cookie),
        Some("https://evil.test"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "reads are not writes (CORS guards them)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invites_work_once_and_expire() {
    let app = spawn_app(StoreKind::Sqlite, keyed_settings()).await;
    user(&app, "dee@example.com", Role::Admin).await;
    let (_, admin, _) = login(&app, "dee@example.com", PASSWORD).await;
    let admin = admin.unwrap();
    let (s, _, v) = send(
        &app,
        Method::POST,
        "/api/users/invites",
        Some(&admin),
        Some(&app.base),
        Some(json!({"email": "Vi@Example.com", "role": "viewer"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let url = v["invite_url"].as_str().unwrap();
    let token = url
        .strip_prefix("/#/accept-invite?token=")
        .expect("link")
        .to_string();
    let accept = |token: String, password: &'static str| {
        let app = &app;
        async move {
            send(
                app,
                Method::POST,
                "/api/auth/accept-invite",
                None,
                Some(&app.base),
                Some(json!({"token": token, "password": password})),
            )
            .await
        }
    };
    let (s, _, v) = accept(token.clone(), "short").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["field"], "password");
    let (s, c, v) = accept(token.clone(), "a viewer's long password").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(c.is_none(), "accepting does not sign in");
    assert_eq!(
        (v["email"].as_str(), v["role"].as_str()),
        (Some("vi@example.com"), Some("viewer"))
    );
    let (s, _, v) = accept(token, "a viewer's long password").await;
    assert_eq!(s, StatusCode::GONE);
    assert_eq!(v["error"]["code"], "invite_used");
    let (s, _, v) = accept("garbage".into(), "a viewer's long password").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "invalid_invite");
    let (s, _, v) = accept(
        SecretToken::generate().unwrap().expose().into(),
        "a viewer's long password",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "invalid_invite");
    let old = SecretToken::generate().unwrap();
    let invite = Invite::new(
        old.hash(),
        Email::parse("old@example.com").unwrap(),
        Role::Member,
        "test".into(),
        Utc::now() - Duration::hours(73),
    );
    app.core.store.create_invite(&invite).await.unwrap();
    let (s, _, v) = accept(old.expose().into(), "a viewer's long password").await;
    assert_eq!(s, StatusCode::GONE);
    assert_eq!(v["error"]["code"], "invite_expired");

    // The viewer signs in and may read but not export, write or manage users.
    let (s, viewer, _) = login(&app, "vi@example.com", "a viewer's long password").await;
    assert_eq!(s, StatusCode::OK);
    let viewer = viewer.unwrap();
    assert_eq!(
        send(&app, Method::GET, "/api/leads", Some(&viewer), None, None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(
            &app,
            Method::GET,
            "/api/leads/export",
            Some(&viewer),
            None,
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(
            &app,
            Method::GET,
            "/api/leads/export",
            Some(&admin),
            None,
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    let (s, _, _) = send(
        &app,
        Method::POST,
        "/api/import",
        Some(&viewer),
        Some(&app.base),
        Some(json!({"email": "z@example.com"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        send(&app, Method::GET, "/api/users", Some(&viewer), None, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // An invite for an existing account is a conflict.
    let (s, _, _) = send(
        &app,
        Method::POST,
        "/api/users/invites",
        Some(&admin),
        Some(&app.base),
        Some(json!({"email": "vi@example.com", "role": "admin"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _, v) = send(
        &app,
        Method::POST,
        "/api/users/invites",
        Some(&admin),
        Some(&app.base),
        Some(json!({"email": "q@example.com", "role": "owner"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["field"], "role");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_last_admin_stays_and_failed_sign_ins_are_throttled() {
    let app = spawn_app(StoreKind::Sqlite, keyed_settings()).await;
    user(&app, "eve@example.com", Role::Admin).await;
    let (_, admin, body) = login(&app, "eve@example.com", PASSWORD).await;
    let (admin, id) = (admin.unwrap(), body["id"].as_str().unwrap().to_string());
    for change in [json!({"role": "member"}), json!({"disabled": true})] {
        let (s, _, v) = send(
            &app,
            Method::PATCH,
            &format!("/api/users/{id}"),
            Some(&admin),
            Some(&app.base),
            Some(change),
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert_eq!(v["error"]["code"], "last_admin");
    }
    let (s, _, _) = send(
        &app,
        Method::PATCH,
        "/api/users/not-a-uuid",
        Some(&admin),
        Some(&app.base),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = send(
        &app,
        Method::PATCH,
        &format!("/api/users/{}", uuid::Uuid::new_v4()),
        Some(&admin),
        Some(&app.base),
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    for _ in 0..10 {
        let (s, _, _) = login(&app, "eve@example.com", "wrong password!!").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let resp = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "eve@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "too_many_attempts");
}

/// Every audit entry, oldest first, as `(actor_label, action, target)`.
async fn audit_trail(app: &TestApp) -> Vec<(String, String, String, Value)> {
    let (s, v) = call(
        app,
        Method::GET,
        "/api/audit?limit=200",
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut rows: Vec<_> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor_label"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap().to_string(),
                e["summary"].clone(),
            )
        })
        .collect();
    rows.reverse();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn account_changes_and_exports_are_in_the_audit_log_with_their_actor() {
    let app = spawn_app(StoreKind::Sqlite, keyed_settings()).await;
    let admin = app
        .core
        .create_account("dee@example.com", PASSWORD, Role::Admin, Utc::now())
        .await
        .unwrap();
    let admin_id = admin.id.to_string();
    // A wrong password for a real account is recorded; one for an address with no account is not (made-up
    // addresses cannot fill the log).
    let (s, _, _) = login(&app, "dee@example.com", "not the password at all").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = login(&app, "nobody@example.com", "not the password at all").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, cookie, _) = login(&app, "dee@example.com", PASSWORD).await;
    let cookie = cookie.unwrap();
    let (s, _, v) = send(
        &app,
        Method::POST,
        "/api/users/invites",
        Some(&cookie),
        Some(&app.base),
        Some(json!({"email": "vi@example.com", "role": "member"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = v["invite_url"].as_str().unwrap()["/#/accept-invite?token=".len()..].to_string();
    let (s, _, v) = send(
        &app,
        Method::POST,
        "/api/auth/accept-invite",
        None,
        Some(&app.base),
        Some(json!({"token": token, "password": "a member's long password"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vi_id = v["id"].as_str().unwrap().to_string();
    let (s, _, v) = send(
        &app,
        Method::PATCH,
        &format!("/api/users/{vi_id}"),
        Some(&cookie),
        Some(&app.base),
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // An export of two pages is one entry, with its filter.
    for n in 0..3 {
        let lead = json!({"email": format!("lead{n}@example.com"), "source": "ads"});
        let (s, v) = call(
            &app,
            Method::POST,
            "/api/postback",
            Some(INGEST_KEY),
            Some(lead),
        )
        .await;
        assert!(s.is_success(), "{v}");
    }
    let (s, _, first) = send(
        &app,
        Method::GET,
        "/api/leads/export?source=ads&limit=2",
        Some(&cookie),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (s, _, _) = send(
        &app,
        Method::GET,
        &format!("/api/leads/export?source=ads&limit=2&cursor={cursor}"),
        Some(&cookie),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = send(
        &app,
        Method::POST,
        "/api/auth/logout",
        Some(&cookie),
        Some(&app.base),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    let trail = audit_trail(&app).await;
    let short: Vec<(&str, &str, &str)> = trail
        .iter()
        .map(|(a, b, c, _)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        short,
        vec![
            ("cli:users create-admin", "user.created", admin_id.as_str()),
            ("dee@example.com", "auth.sign_in_failed", admin_id.as_str()),
            ("dee@example.com", "auth.signed_in", admin_id.as_str()),
            ("dee@example.com", "user.invited", "vi@example.com"),
            ("vi@example.com", "user.created", vi_id.as_str()),
            ("dee@example.com", "user.changed", vi_id.as_str()),
            ("dee@example.com", "leads.exported", "-"),
            ("dee@example.com", "auth.signed_out", admin_id.as_str()),
        ]
    );
    assert_eq!(trail[1].3["reason"], "wrong_password");
    assert_eq!(trail[4].3["invited_by"], "dee@example.com");
    assert_eq!(
        trail[5].3["role"],
        json!({"from": "member", "to": "viewer"})
    );
    assert_eq!(trail[6].3["filter"], json!({"source": "ads"}));
    assert_eq!(trail[6].3["total"], 3);
    assert!(
        !trail
            .iter()
            .any(|(_, _, t, s)| t.contains("nobody") || s.to_string().contains("nobody")),
        "an address with no account is never written"
    );
}
