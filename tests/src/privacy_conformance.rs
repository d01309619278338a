//! The privacy conformance suite (erasure and the suppression list), on SQLite and DynamoDB Local
//! (`tests/tests/store_sqlite.rs`, `tests/tests/store_dynamodb.rs`), through the store and the application core.
//! The byte-level proof (nothing of the person left in the SQLite file or the DynamoDB table) is
//! `tests/tests/privacy_erasure.rs`.

use chrono::Utc;
use leadpipe_core::audit_service::ChangedBy;
use leadpipe_core::domain::audit::{AuditAction, AuditEntry, AuditQuery};
use leadpipe_core::domain::privacy::ErasureRequest;
use leadpipe_core::domain::Actor;
use leadpipe_core::service::ServiceError;
use leadpipe_core::store::{LogStatus, PostbackLogEntry};
use leadpipe_core::Leadpipe;
use serde_json::json;
use uuid::Uuid;

use crate::conformance::{by_email, post, settled, PostError};

/// Generates one `#[tokio::test]` per privacy case, each on a fresh store from `$make` (an async expression
/// returning a [`Leadpipe`]).
#[macro_export]
macro_rules! privacy_conformance_suite {
    ($make:expr) => {
        $crate::privacy_conformance_suite!(@cases $make;
            the_privacy_key_is_made_once_and_the_list_counts_new_entries,
            an_erasure_removes_the_person_and_keeps_everyone_else,
            an_erasure_by_phone_finds_the_lead_whatever_its_formatting,
            consent_is_kept_per_lead_with_its_history);
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        mod privacy {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    $crate::privacy_conformance::$case($make.await).await;
                }
            )*
        }
    };
}

fn admin() -> ChangedBy {
    ChangedBy::new(Actor::admin_key(), None)
}

fn request(body: serde_json::Value) -> ErasureRequest {
    ErasureRequest::parse(&body).expect("a valid erasure request")
}

/// The key is created once and is the same for every later caller; the list counts distinct entries only.
pub async fn the_privacy_key_is_made_once_and_the_list_counts_new_entries(app: Leadpipe) {
    let first = app.store.privacy_state().await.unwrap();
    assert_eq!(first.key.len(), 32);
    assert_eq!(first.suppressions, 0);
    let now = Utc::now();
    app.store.suppress("aa11", now).await.unwrap();
    app.store.suppress("aa11", now).await.unwrap();
    app.store.suppress("bb22", now).await.unwrap();
    let later = app.store.privacy_state().await.unwrap();
    assert_eq!(later.key, first.key);
    assert_eq!(later.suppressions, 2);
    assert!(app.store.is_suppressed("aa11").await.unwrap());
    assert!(!app.store.is_suppressed("cc33").await.unwrap());
}

/// An erasure removes the lead, its postback-log entries and the audit summaries about it, keeps the other
/// leads and entries, and suppresses the email: a postback naming the person by it alone stores nothing, one for
/// another lead is applied without it.
pub async fn an_erasure_removes_the_person_and_keeps_everyone_else(app: Leadpipe) {
    let ada = post(
        &app,
        json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "King"}),
    )
    .await
    .unwrap()
    .lead_id;
    let bob = post(
        &app,
        json!({"email": "bob@example.com", "first_name": "Bob"}),
    )
    .await
    .unwrap()
    .lead_id;
    let now = Utc::now();
    for (body, lead_id) in [
        (r#"{"email":"ADA@example.com","x":1}"#, None),
        (r#"{"email":"bob@example.com"}"#, Some(bob)),
    ] {
        let entry = PostbackLogEntry {
            id: Uuid::new_v4(),
            at: now,
            status: LogStatus::Rejected,
            reason: "invalid_field".into(),
            message: "test".into(),
            key: "server".into(),
            client_ip: None,
            lead_id,
            body: body.into(),
            expires_at: now + chrono::Duration::days(7),
        };
        app.store.log_postback(&entry).await.unwrap();
    }
    for (target, summary) in [
        (ada.to_string(), json!({"stage": "Paid"})),
        ("-".into(), json!({"search": "ada@example.com"})),
        (bob.to_string(), json!({"stage": "Paid"})),
    ] {
        let entry = AuditEntry::new(
            now,
            Actor::admin_key(),
            None,
            AuditAction::LeadEdited,
            &target,
            summary,
        );
        app.store
            .append_audit(&entry, now + chrono::Duration::days(400))
            .await
            .unwrap();
    }
    settled(&app).await;

    let receipt = app
        .erase_person(
            &request(json!({"email": "Ada@Example.com", "suppress": true})),
            &admin(),
        )
        .await
        .unwrap();
    assert_eq!(receipt.leads, vec![ada]);
    assert!(receipt.suppressed);
    assert_eq!(receipt.copies.postback_log, 1, "{receipt:?}");
    assert_eq!(receipt.copies.audit_redacted, 2, "{receipt:?}");
    assert!(app.store.get(ada).await.unwrap().is_none());
    assert!(by_email(&app, "ada@example.com").await.is_none());
    assert!(app.store.get(bob).await.unwrap().is_some());
    let log = app
        .postback_log(&leadpipe_core::store::PostbackLogQuery {
            status: LogStatus::Rejected,
            limit: 50,
            after: None,
            since: now.date_naive() - chrono::Duration::days(1),
        })
        .await
        .unwrap();
    assert_eq!(log.entries.len(), 1);
    assert_eq!(log.entries[0].lead_id, Some(bob));
    let today = now.date_naive();
    let audit = app
        .audit_log(&AuditQuery {
            limit: 50,
            ..AuditQuery::recent(today, 1)
        })
        .await
        .unwrap();
    let text = serde_json::to_string(&audit.entries).unwrap();
    assert!(!text.to_lowercase().contains("ada@example.com"), "{text}");
    assert!(audit
        .entries
        .iter()
        .any(|e| e.action == AuditAction::PersonErased));
    assert!(audit
        .entries
        .iter()
        .any(|e| e.target == bob.to_string() && e.summary == json!({"stage": "Paid"})));

    let again = post(
        &app,
        json!({"email": "ada@example.com", "first_name": "Ada"}),
    )
    .await;
    assert!(
        matches!(again, Err(PostError::Service(ServiceError::Suppressed))),
        "{again:?}"
    );
    assert!(by_email(&app, "ada@example.com").await.is_none());
    let other = post(
        &app,
        json!({"lead_id": bob.to_string(), "email": "ada@example.com", "company": "Acme"}),
    )
    .await
    .unwrap();
    assert_eq!(other.lead_id, bob);
    let bob_now = app.store.get(bob).await.unwrap().unwrap();
    assert_eq!(
        bob_now.email.as_ref().map(|e| e.as_str()),
        Some("bob@example.com")
    );
    assert_eq!(bob_now.text.company.as_deref(), Some("Acme"));
}

/// A phone finds its lead whatever the stored formatting; nobody found is a receipt without leads.
pub async fn an_erasure_by_phone_finds_the_lead_whatever_its_formatting(app: Leadpipe) {
    let cy = post(
        &app,
        json!({"first_name": "Cy", "phone": "+1 (555) 010-9999"}),
    )
    .await
    .unwrap()
    .lead_id;
    let dee = post(
        &app,
        json!({"first_name": "Dee", "phone": "+1 (555) 010-8888"}),
    )
    .await
    .unwrap()
    .lead_id;
    settled(&app).await;
    let receipt = app
        .erase_person(&request(json!({"phone": "1 555 010 9999"})), &admin())
        .await
        .unwrap();
    assert_eq!(receipt.leads, vec![cy]);
    assert!(!receipt.suppressed);
    assert!(app.store.get(cy).await.unwrap().is_none());
    assert!(app.store.get(dee).await.unwrap().is_some());
    let nobody = app
        .erase_person(&request(json!({"email": "nobody@example.com"})), &admin())
        .await
        .unwrap();
    assert!(nobody.leads.is_empty());
}

/// Consent is stored per lead with its history; a later answer replaces a purpose's; consent in another shape is
/// not consent, and the lead is stored anyway with the value in custom_data (the warning it gets is
/// `domain::consent`'s test).
pub async fn consent_is_kept_per_lead_with_its_history(app: Leadpipe) {
    let first = post(
        &app,
        json!({"email": "cy@example.com", "consent": {"purposes": {"marketing": true, "ad_user_data": true}, "version": "v1", "text": "Yes, email me"}}),
    )
    .await
    .unwrap();
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
    post(&app, json!({"email": "cy@example.com", "consent": {"purposes": {"ad_user_data": false}, "version": "v2"}}))
        .await
        .unwrap();
    settled(&app).await;
    let lead = app.store.get(first.lead_id).await.unwrap().unwrap();
    let consent = lead.consent.expect("consent stored");
    assert!(consent.grants("marketing") && !consent.grants("ad_user_data"));
    assert_eq!(consent.version.as_deref(), Some("v2"));
    assert_eq!(lead.consent_history.len(), 2);
    assert_eq!(lead.consent_history[0].version.as_deref(), Some("v1"));

    let odd = post(&app, json!({"email": "dee@example.com", "consent": true}))
        .await
        .unwrap();
    let dee = app.store.get(odd.lead_id).await.unwrap().unwrap();
    assert!(dee.consent.is_none());
    assert_eq!(dee.custom_data.get("consent"), Some(&json!(true)));
}
