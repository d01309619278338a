//! Two-factor over HTTP, beyond the user's own set-up: wrong codes count toward the sign-in throttle, and an
//! admin resets a user's two-factor (audited).

use leadpipe_core::domain::Role;
use leadpipe_tests::two_factor_http::{account, code_of, enrol, login, send, wrong_code, PASSWORD};
use leadpipe_tests::{call, keyed_settings, spawn_app, StoreKind, ADMIN_KEY};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_codes_count_toward_the_sign_in_throttle() {
    let app = spawn_app(StoreKind::Sqlite, keyed_settings()).await;
    let email = "uma@example.com";
    let cookie = account(&app, email, Role::Viewer).await;
    let (secret, now, _) = enrol(&app, &cookie).await;
    for _ in 0..10 {
        let body = json!({"email": email, "password": PASSWORD, "totp": wrong_code(&secret, now)});
        let (s, _, v) = login(&app, body).await;
        assert_eq!((s, code_of(&v)), (StatusCode::UNAUTHORIZED, "totp_invalid"));
    }
    let body = json!({"email": email, "password": PASSWORD, "totp": secret.code_at(now).expose()});
    let (s, c, v) = login(&app, body).await;
    assert_eq!(
        (s, code_of(&v), c),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_resets_a_users_two_factor_and_it_is_audited() {
    let app = spawn_app(StoreKind::Sqlite, keyed_settings()).await;
    let admin = account(&app, "ada@example.com", Role::Admin).await;
    let member = account(&app, "max@example.com", Role::Member).await;
    enrol(&app, &member).await;
    let (_, _, users) = send(&app, Method::GET, "/api/users", Some(&admin), None).await;
    let max = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "max@example.com")
        .unwrap()
        .clone();
    assert_eq!(max["two_factor"], json!(true));
    let id = max["id"].as_str().unwrap();
    let path = format!("/api/users/{id}/two-factor/reset");
    let (s, _, _) = send(&app, Method::POST, &path, Some(&member), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "members may not");
    let (s, _, v) = send(&app, Method::POST, &path, Some(&admin), None).await;
    assert_eq!(
        (s, v["two_factor"].clone()),
        (StatusCode::OK, json!(false)),
        "{v}"
    );
    let (s, c, v) = login(
        &app,
        json!({"email": "max@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!((s, c.is_some()), (StatusCode::OK, true), "{v}");
    let unknown = format!("/api/users/{}/two-factor/reset", uuid::Uuid::new_v4());
    let (s, _, _) = send(&app, Method::POST, &unknown, Some(&admin), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = send(
        &app,
        Method::POST,
        "/api/users/nope/two-factor/reset",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, log) = call(
        &app,
        Method::GET,
        "/api/audit?limit=200",
        Some(ADMIN_KEY),
        None,
    )
    .await;
    let reset = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "user.two_factor_reset")
        .expect("audited")
        .clone();
    assert_eq!(reset["target"], json!(id));
    assert_eq!(reset["actor_label"], json!("ada@example.com"));
    assert_eq!(
        reset["summary"]["two_factor"],
        json!({"from": true, "to": false})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_proofs_when_turning_two_factor_off_count_toward_the_throttle() {
    let app = spawn_app(StoreKind::Sqlite, keyed_settings()).await;
    let email = "ola@example.com";
    let cookie = account(&app, email, Role::Member).await;
    let (secret, now, _) = enrol(&app, &cookie).await;
    let disable = |body: serde_json::Value| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            send(
                app,
                Method::POST,
                "/api/auth/two-factor/disable",
                Some(&cookie),
                Some(body),
            )
            .await
        }
    };
    for i in 0..10 {
        let body = if i % 2 == 0 {
            json!({"password": "not the password at all"})
        } else {
            json!({"code": wrong_code(&secret, now)})
        };
        let (s, _, v) = disable(body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    }
    let (s, _, v) = disable(json!({"password": PASSWORD})).await;
    assert_eq!(
        (s, code_of(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
    );
    let body = json!({"email": email, "password": PASSWORD, "totp": secret.code_at(now).expose()});
    let (s, c, _) = login(&app, body).await;
    assert_eq!(
        (s, c),
        (StatusCode::TOO_MANY_REQUESTS, None),
        "sign-in waits too"
    );
}
