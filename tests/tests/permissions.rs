//! The permission matrix: every operation in `docs/openapi.json` × {no auth, viewer session, member session,
//! admin session, the env admin key}, each answering in the class the role allows (refused: 401 or 403; allowed:
//! anything else). The operations come from the document, so a new route without an expectation here fails.

use chrono::Utc;
use leadpipe_core::domain::account::{SecretToken, Session};
use leadpipe_core::domain::Role;
use leadpipe_tests::{keyed_settings, spawn_app, StoreKind, TestApp, ADMIN_KEY};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const DOC: &str = include_str!("../../docs/openapi.json");

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Needs {
    /// Anyone (health, stages, the document, sign-in, accepting an invite, signing out).
    Anyone,
    /// Postback keys (or the admin key); sessions are not postback credentials.
    PostbackKey,
    /// A session of at least this role, or the admin key.
    AtLeast(Role),
    /// A signed-in user of any role (keys have no sessions: 403).
    UserSession,
}

/// The expectation of each documented operation.
fn needs(method: &str, path: &str) -> Option<Needs> {
    use Needs::*;
    use Role::*;
    Some(match (method, path) {
        (_, "/api/postback") => PostbackKey,
        ("GET", "/api/health" | "/api/stages" | "/api/openapi.json") => Anyone,
        ("POST", "/api/auth/login" | "/api/auth/accept-invite" | "/api/auth/logout") => Anyone,
        ("POST", "/api/auth/logout-all") => UserSession,
        (
            "POST",
            "/api/auth/two-factor/setup"
            | "/api/auth/two-factor/confirm"
            | "/api/auth/two-factor/disable",
        ) => UserSession,
        ("POST", "/api/users/{id}/two-factor/reset") => AtLeast(Admin),
        ("GET", "/api/auth/me") => AtLeast(Viewer),
        (
            "GET",
            "/api/leads" | "/api/leads/count" | "/api/leads/{id}" | "/api/spend" | "/api/rates",
        ) => AtLeast(Viewer),
        ("GET", p) if p.starts_with("/api/analytics") => AtLeast(Viewer),
        ("GET", "/api/leads/export" | "/api/postbacks") => AtLeast(Member),
        ("PUT", "/api/leads/{id}/stage") | ("POST", "/api/leads/{id}/release") => AtLeast(Member),
        ("POST", "/api/leads/{id}/orders") => AtLeast(Member),
        ("PUT" | "DELETE", "/api/leads/{id}/orders/{order_id}") => AtLeast(Member),
        ("POST", "/api/import" | "/api/spend" | "/api/spend/import" | "/api/rates/import") => {
            AtLeast(Member)
        }
        ("PUT", "/api/rates") => AtLeast(Member),
        ("DELETE", "/api/leads/{id}" | "/api/spend" | "/api/rates/{currency}/{day}") => {
            AtLeast(Admin)
        }
        (_, p)
            if p.starts_with("/api/webhooks")
                || p.starts_with("/api/users")
                || p.starts_with("/api/audit")
                || p.starts_with("/api/privacy") =>
        {
            AtLeast(Admin)
        }
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy)]
enum Caller {
    Nobody,
    Session(Role),
    AdminKey,
}

/// Whether `caller` should get past authentication and authorisation.
fn expected_status_class(n: Needs, caller: Caller) -> Result<(), StatusCode> {
    match (n, caller) {
        (Needs::Anyone, _) => Ok(()),
        (_, Caller::Nobody) => Err(StatusCode::UNAUTHORIZED),
        (Needs::PostbackKey, Caller::Session(_)) => Err(StatusCode::UNAUTHORIZED),
        (Needs::PostbackKey | Needs::AtLeast(_), Caller::AdminKey) => Ok(()),
        (Needs::AtLeast(r), Caller::Session(have)) if have.allows(r) => Ok(()),
        (Needs::AtLeast(_), Caller::Session(_)) => Err(StatusCode::FORBIDDEN),
        (Needs::UserSession, Caller::Session(_)) => Ok(()),
        (Needs::UserSession, Caller::AdminKey) => Err(StatusCode::FORBIDDEN),
    }
}

fn operations() -> Vec<(String, String)> {
    let d: Value = serde_json::from_str(DOC).expect("docs/openapi.json");
    let mut ops = Vec::new();
    for (path, item) in d["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// A fresh session cookie for a new user of `role` (straight in the store: no password hashing per request).
async fn session_cookie(app: &TestApp, role: Role) -> String {
    let email = format!(
        "{}-{}@example.com",
        role.as_str(),
        uuid::Uuid::new_v4().simple()
    );
    let user = leadpipe_core::domain::account::User {
        id: uuid::Uuid::new_v4(),
        email: leadpipe_core::domain::Email::parse(&email).unwrap(),
        role,
        disabled: false,
        password_hash: "unused".into(),
        created_at: Utc::now(),
        two_factor: Default::default(),
    };
    app.core.store.create_user(&user).await.unwrap();
    let token = SecretToken::generate().unwrap();
    app.core
        .store
        .create_session(&Session::start(token.hash(), user.id, Utc::now()))
        .await
        .unwrap();
    format!("leadpipe_session={}", token.expose())
}

fn concrete(path: &str) -> String {
    path.replace("{id}", &uuid::Uuid::new_v4().to_string())
        .replace("{delivery_id}", &uuid::Uuid::new_v4().to_string())
        .replace("{order_id}", "o-1")
        .replace("{currency}", "USD")
        .replace("{day}", "2026-01-01")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_answers_each_role_as_the_matrix_says() {
    let app = spawn_app(StoreKind::Sqlite, keyed_settings()).await;
    let ops = operations();
    assert!(ops.len() > 40, "the document lists the routes");
    let missing: Vec<_> = ops.iter().filter(|(m, p)| needs(m, p).is_none()).collect();
    assert!(
        missing.is_empty(),
        "give these operations an expectation: {missing:?}"
    );
    let callers = [
        Caller::Nobody,
        Caller::Session(Role::Viewer),
        Caller::Session(Role::Member),
        Caller::Session(Role::Admin),
        Caller::AdminKey,
    ];
    let mut wrong = Vec::new();
    for (method, path) in &ops {
        let n = needs(method, path).expect("checked above");
        for caller in callers {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let mut req = app.client.request(m.clone(), app.url(&concrete(path)));
            if m != Method::GET {
                req = req.json(&serde_json::json!({}));
            }
            match caller {
                Caller::Nobody => {}
                Caller::AdminKey => req = req.header("x-api-key", ADMIN_KEY),
                Caller::Session(role) => {
                    req = req
                        .header("cookie", session_cookie(&app, role).await)
                        .header("origin", &app.base);
                }
            }
            let status = req.send().await.expect("request").status();
            let refused = status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN;
            let ok = match expected_status_class(n, caller) {
                Ok(()) => !refused,
                Err(want) => status == want,
            };
            assert!(
                status.as_u16() < 500,
                "{method} {path} as {caller:?}: {status}"
            );
            if !ok {
                wrong.push(format!(
                    "{method} {path} as {caller:?}: {status} (wanted {:?})",
                    expected_status_class(n, caller)
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
