//! The accounts conformance suite (users, sessions, invites, sign-in failures): the same cases on SQLite and
//! DynamoDB Local (`tests/tests/store_sqlite.rs`, `tests/tests/store_dynamodb.rs`).

use chrono::{DateTime, Duration, Utc};
use leadpipe_core::domain::account::{Invite, InviteTake, SecretToken, Session, TokenHash, User};
use leadpipe_core::domain::{Email, Role};
use leadpipe_core::store::StoreError;
use leadpipe_core::Leadpipe;
use uuid::Uuid;

/// Generates one `#[tokio::test]` per accounts case, each on a fresh store from `$make` (an async expression
/// returning a [`Leadpipe`]).
#[macro_export]
macro_rules! accounts_conformance_suite {
    ($make:expr) => {
        $crate::accounts_conformance_suite!(@cases $make;
            users_have_unique_emails_and_read_back, updates_replace_role_disabled_and_password,
            sessions_are_created_touched_and_ended, invites_are_taken_once_and_expire,
            login_failures_count_per_key_and_window, an_update_with_a_keeper_needs_the_keeper_still_an_admin,
            two_admins_demoting_each_other_at_once_leave_one_admin);
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        mod accounts {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    $crate::accounts_conformance::$case($make.await).await;
                }
            )*
        }
    };
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("now")
}

/// A unique email (stores may be shared between cases on DynamoDB Local).
fn email(name: &str) -> Email {
    Email::parse(&format!("{name}-{}@example.com", Uuid::new_v4().simple())).expect("email")
}

fn user(e: &Email, role: Role) -> User {
    User {
        id: Uuid::new_v4(),
        email: e.clone(),
        role,
        disabled: false,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        created_at: now(),
        two_factor: Default::default(),
    }
}

fn hash() -> TokenHash {
    SecretToken::generate().expect("token").hash()
}

/// Unique emails, reads by id and by email, listing by email.
pub async fn users_have_unique_emails_and_read_back(app: Leadpipe) {
    let s = &app.store;
    let a = user(&email("ana"), Role::Admin);
    s.create_user(&a).await.expect("create");
    assert_eq!(s.user(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.user_by_email(&a.email).await.unwrap(), Some(a.clone()));
    let twin = user(&a.email, Role::Viewer);
    assert!(matches!(
        s.create_user(&twin).await,
        Err(StoreError::EmailTaken(e)) if e == a.email
    ));
    assert_eq!(s.user(twin.id).await.unwrap(), None, "nothing half-written");
    let b = user(&email("bob"), Role::Viewer);
    s.create_user(&b).await.expect("create b");
    let listed = s.users().await.unwrap();
    assert!(listed.contains(&a) && listed.contains(&b));
    let emails: Vec<_> = listed.iter().map(|u| u.email.clone()).collect();
    let mut sorted = emails.clone();
    sorted.sort();
    assert_eq!(emails, sorted, "by email");
    assert_eq!(s.user(Uuid::new_v4()).await.unwrap(), None);
    assert_eq!(s.user_by_email(&email("nobody")).await.unwrap(), None);
}

/// Role, disabled flag and password hash change; a missing account is `false`.
pub async fn updates_replace_role_disabled_and_password(app: Leadpipe) {
    let s = &app.store;
    let mut a = user(&email("cy"), Role::Viewer);
    s.create_user(&a).await.unwrap();
    a.role = Role::Member;
    a.disabled = true;
    a.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3".into();
    assert!(s.update_user(&a, None).await.unwrap());
    assert_eq!(s.user_by_email(&a.email).await.unwrap(), Some(a.clone()));
    assert!(!s
        .update_user(&user(&email("ghost"), Role::Admin), None)
        .await
        .unwrap());
}

/// Sessions read back, touch moves `last_seen` forward only, and one or all end.
pub async fn sessions_are_created_touched_and_ended(app: Leadpipe) {
    let s = &app.store;
    let owner = Uuid::new_v4();
    let (h1, h2, h3) = (hash(), hash(), hash());
    let t0 = now();
    for h in [&h1, &h2] {
        s.create_session(&Session::start(h.clone(), owner, t0))
            .await
            .unwrap();
    }
    let other = Session::start(h3.clone(), Uuid::new_v4(), t0);
    s.create_session(&other).await.unwrap();
    let got = s.session(&h1).await.unwrap().expect("session");
    assert_eq!(got, Session::start(h1.clone(), owner, t0));
    let later = t0 + Duration::minutes(5);
    s.touch_session(&h1, later).await.unwrap();
    s.touch_session(&h1, t0 + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(s.session(&h1).await.unwrap().unwrap().last_seen, later);
    s.touch_session(&hash(), later)
        .await
        .expect("gone: nothing");
    s.delete_session(&h1).await.unwrap();
    assert_eq!(s.session(&h1).await.unwrap(), None);
    s.delete_session(&h1).await.expect("twice: nothing");
    s.create_session(&Session::start(h1.clone(), owner, t0))
        .await
        .unwrap();
    s.delete_user_sessions(owner).await.unwrap();
    assert_eq!(s.session(&h1).await.unwrap(), None);
    assert_eq!(s.session(&h2).await.unwrap(), None);
    assert_eq!(s.session(&h3).await.unwrap(), Some(other), "others stay");
}

/// Of concurrent takes one wins; later takes see `Used`; expired and unknown links say so.
pub async fn invites_are_taken_once_and_expire(app: Leadpipe) {
    let s = app.store.clone();
    let t0 = now();
    let invite = Invite::new(
        hash(),
        email("dee"),
        Role::Member,
        "key:ADMIN_API_KEY".into(),
        t0,
    );
    s.create_invite(&invite).await.unwrap();
    let takes = (0..8).map(|_| {
        let (s, h) = (s.clone(), invite.token_hash.clone());
        tokio::spawn(async move { s.take_invite(&h, t0).await })
    });
    let mut won = 0;
    for t in takes {
        match t.await.unwrap().unwrap() {
            InviteTake::Taken(got) => {
                assert_eq!(got, invite);
                won += 1;
            }
            InviteTake::Used => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one take wins");
    assert_eq!(
        s.take_invite(&invite.token_hash, t0).await.unwrap(),
        InviteTake::Used
    );
    let old = Invite::new(
        hash(),
        email("eve"),
        Role::Viewer,
        "a@example.com".into(),
        t0,
    );
    s.create_invite(&old).await.unwrap();
    assert_eq!(
        s.take_invite(&old.token_hash, old.expires_at)
            .await
            .unwrap(),
        InviteTake::Expired
    );
    assert!(
        matches!(
            s.take_invite(&old.token_hash, t0).await.unwrap(),
            InviteTake::Taken(_)
        ),
        "an expired take does not use the invite up"
    );
    assert_eq!(
        s.take_invite(&hash(), t0).await.unwrap(),
        InviteTake::Unknown
    );
}

/// Counters are per key and window.
pub async fn login_failures_count_per_key_and_window(app: Leadpipe) {
    let s = &app.store;
    let key = format!("a:{}", email("fay"));
    let until = now() + Duration::minutes(30);
    assert_eq!(s.login_failures(&key, 7).await.unwrap(), 0);
    for i in 1..=3 {
        assert_eq!(s.add_login_failure(&key, 7, until).await.unwrap(), i);
    }
    assert_eq!(s.login_failures(&key, 7).await.unwrap(), 3);
    assert_eq!(s.login_failures(&key, 8).await.unwrap(), 0);
    assert_eq!(s.add_login_failure(&key, 8, until).await.unwrap(), 1);
    assert_eq!(s.login_failures("c:10.0.0.1", 7).await.unwrap(), 0);
}

/// With a keeper, an update is written only while the keeper is an active admin; otherwise `Conflict` and
/// nothing changes.
pub async fn an_update_with_a_keeper_needs_the_keeper_still_an_admin(app: Leadpipe) {
    let s = &app.store;
    let a = user(&email("keeper-a"), Role::Admin);
    let mut b = user(&email("keeper-b"), Role::Admin);
    s.create_user(&a).await.unwrap();
    s.create_user(&b).await.unwrap();
    let mut a_viewer = a.clone();
    a_viewer.role = Role::Viewer;
    assert!(s.update_user(&a_viewer, Some(b.id)).await.unwrap());
    assert_eq!(
        s.user_by_email(&a.email).await.unwrap(),
        Some(a_viewer.clone())
    );
    b.disabled = true;
    assert!(
        matches!(
            s.update_user(&b, Some(a.id)).await,
            Err(StoreError::Conflict)
        ),
        "the keeper is a viewer now"
    );
    let stored_b = s.user_by_email(&b.email).await.unwrap().expect("b");
    assert!(!stored_b.disabled, "nothing was written");
    assert!(
        matches!(
            s.update_user(&user(&email("ghost"), Role::Viewer), Some(stored_b.id))
                .await,
            Ok(false)
        ),
        "a missing account with a live keeper is `false`"
    );
}

/// The race the last-admin rule must win: two admins demote each other at the same moment; exactly one change
/// succeeds, the other answers `LastAdmin`, and one active admin remains.
pub async fn two_admins_demoting_each_other_at_once_leave_one_admin(app: Leadpipe) {
    use leadpipe_core::account_service::AuthError;
    use leadpipe_core::audit_service::ChangedBy;
    use leadpipe_core::domain::Actor;
    let a = user(&email("race-a"), Role::Admin);
    let b = user(&email("race-b"), Role::Admin);
    app.store.create_user(&a).await.unwrap();
    app.store.create_user(&b).await.unwrap();
    let by = ChangedBy::new(Actor::cli("test"), None);
    let (first, second) = tokio::join!(
        app.change_user(a.id, Some(Role::Viewer), None, &by),
        app.change_user(b.id, None, Some(true), &by),
    );
    let outcomes = [first.is_ok(), second.is_ok()];
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "exactly one wins: {outcomes:?}"
    );
    for r in [first, second] {
        if let Err(e) = r {
            assert!(
                matches!(e, AuthError::LastAdmin),
                "the loser is told why: {e:?}"
            );
        }
    }
    let admins = app
        .store
        .users()
        .await
        .unwrap()
        .into_iter()
        .filter(|u| [a.id, b.id].contains(&u.id) && u.role == Role::Admin && !u.disabled)
        .count();
    assert_eq!(admins, 1, "one active admin remains");
}
