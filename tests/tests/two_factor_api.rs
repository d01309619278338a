//! Two-factor sign-in over HTTP: set-up, confirmation, sign-in with a code (once) and a recovery code (once), no
//! user enumeration, turning it off, and an audit log without secrets or codes.

use leadpipe_core::domain::totp::TotpSecret;
use leadpipe_core::domain::Role;
use leadpipe_tests::two_factor_http::{
    account, code_of, fresh_step, login, send, wrong_code, PASSWORD,
};
use leadpipe_tests::{call, keyed_settings, spawn_app, StoreKind, ADMIN_KEY};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn set_up_confirm_sign_in_with_a_code_once_and_turn_it_off() {
    let app = spawn_app(StoreKind::Sqlite, keyed_settings()).await;
    let email = "tia@example.com";
    let cookie = account(&app, email, Role::Member).await;
    let (s, _, v) = send(&app, Method::GET, "/api/auth/me", Some(&cookie), None).await;
    assert_eq!((s, v["two_factor"].clone()), (StatusCode::OK, json!(false)));
    let confirm = |code: String| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            send(
                app,
                Method::POST,
                "/api/auth/two-factor/confirm",
                Some(&cookie),
                Some(json!({ "code": code })),
            )
            .await
        }
    };
    let (s, _, v) = confirm("123456".into()).await;
    assert_eq!(
        (s, code_of(&v)),
        (StatusCode::CONFLICT, "conflict"),
        "nothing to confirm"
    );

    let (s, _, v) = send(
        &app,
        Method::POST,
        "/api/auth/two-factor/setup",
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let secret_text = v["secret"].as_str().unwrap().to_string();
    assert_eq!(
        v["otpauth_uri"],
        format!("otpauth://totp/Leadpipe:tia%40example.com?secret={secret_text}&issuer=Leadpipe")
    );
    let secret = TotpSecret::parse(&secret_text).unwrap();
    let (s, _, _) = login(&app, json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(s, StatusCode::OK, "a set-up not confirmed asks for no code");
    let now = fresh_step().await;
    let (s, _, v) = confirm(wrong_code(&secret, now)).await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("code")),
        "{v}"
    );
    let (s, _, v) = confirm(secret.code_at(now - 1).expose()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let recovery: Vec<String> = serde_json::from_value(v["recovery_codes"].clone()).unwrap();
    assert_eq!(recovery.len(), 10);
    let (s, _, _) = send(
        &app,
        Method::POST,
        "/api/auth/two-factor/setup",
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "on already");
    let (_, _, v) = send(&app, Method::GET, "/api/auth/me", Some(&cookie), None).await;
    assert_eq!(v["two_factor"], json!(true));

    let creds = |extra: Value| {
        let mut b = json!({"email": email, "password": PASSWORD});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    let (s, c, v) = login(&app, creds(json!({}))).await;
    assert_eq!(
        (s, code_of(&v), c),
        (StatusCode::UNAUTHORIZED, "totp_required", None)
    );
    let (s, c, v) = login(&app, creds(json!({"totp": ""}))).await;
    assert_eq!(
        (s, code_of(&v), c),
        (StatusCode::UNAUTHORIZED, "totp_required", None)
    );
    let (s, c, v) = login(&app, creds(json!({"totp": wrong_code(&secret, now)}))).await;
    assert_eq!(
        (s, code_of(&v), c),
        (StatusCode::UNAUTHORIZED, "totp_invalid", None)
    );
    let (s, c, v) = login(&app, creds(json!({"totp": "12ab"}))).await;
    assert_eq!(
        (s, code_of(&v), c),
        (StatusCode::UNAUTHORIZED, "totp_invalid", None)
    );
    let used_at_confirm = secret.code_at(now - 1).expose();
    let (s, c, v) = login(&app, creds(json!({"totp": used_at_confirm}))).await;
    assert_eq!(
        (s, code_of(&v), c),
        (StatusCode::UNAUTHORIZED, "totp_reused", None)
    );
    let code = secret.code_at(now).expose();
    let (s, c, v) = login(&app, creds(json!({"totp": code}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(c.is_some(), "a session");
    assert_eq!(v["two_factor"], json!(true));
    let (s, c, v) = login(&app, creds(json!({"totp": code}))).await;
    assert_eq!(
        (s, code_of(&v), c),
        (StatusCode::UNAUTHORIZED, "totp_reused", None),
        "replay"
    );
    let (s, _, v) = login(
        &app,
        creds(json!({"totp": code, "recovery_code": recovery[0]})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, c, v) = login(
        &app,
        creds(json!({"recovery_code": recovery[0].to_uppercase()})),
    )
    .await;
    assert_eq!((s, c.is_some()), (StatusCode::OK, true), "{v}");
    let (s, _, v) = login(&app, creds(json!({"recovery_code": recovery[0]}))).await;
    assert_eq!(
        (s, code_of(&v)),
        (StatusCode::UNAUTHORIZED, "totp_invalid"),
        "used once"
    );

    // No enumeration: an unknown email or a wrong password with a right code answer as a wrong password does.
    let (_, _, wrong_password) = login(
        &app,
        json!({"email": email, "password": "not the password"}),
    )
    .await;
    for body in [
        json!({"email": "nobody@example.com", "password": PASSWORD, "totp": secret.code_at(now + 1).expose()}),
        json!({"email": email, "password": "not the password", "totp": secret.code_at(now + 1).expose()}),
        json!({"email": "nobody@example.com", "password": PASSWORD, "recovery_code": recovery[1]}),
    ] {
        let (s, c, v) = login(&app, body).await;
        assert_eq!(
            (s, c, &v),
            (StatusCode::UNAUTHORIZED, None, &wrong_password)
        );
    }

    let disable = |body: Value| {
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
    let (s, _, _) = disable(json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, v) = disable(json!({"password": "not the password"})).await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("password"))
    );
    let (s, _, v) = disable(json!({"code": code})).await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("code")),
        "used"
    );
    let (s, _, v) = disable(json!({"code": secret.code_at(now + 1).expose()})).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, _, v) = disable(json!({"password": PASSWORD})).await;
    assert_eq!(
        (s, code_of(&v)),
        (StatusCode::CONFLICT, "conflict"),
        "off already"
    );
    let (s, c, _) = login(&app, creds(json!({}))).await;
    assert_eq!(
        (s, c.is_some()),
        (StatusCode::OK, true),
        "the password alone again"
    );

    // The audit log has every step, and never the secret or a code.
    let (s, log) = call(
        &app,
        Method::GET,
        "/api/audit?limit=200",
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for want in [
        "auth.two_factor_setup",
        "auth.two_factor_enabled",
        "auth.two_factor_failed",
        "auth.two_factor_disabled",
        "auth.sign_in_failed",
    ] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
    let text = log.to_string();
    assert!(
        text.contains("totp_reused") && text.contains("totp_invalid"),
        "reasons kept"
    );
    assert!(!text.contains(&secret_text), "no secret");
    assert!(!text.contains(&code), "no code");
    for r in &recovery {
        assert!(!text.contains(r.as_str()), "no recovery code");
    }
}
