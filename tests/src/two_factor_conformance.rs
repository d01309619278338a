//! The two-factor store conformance suite (state on the user, one use per code step and per recovery code): the
//! same cases on SQLite and DynamoDB Local (`tests/tests/store_sqlite.rs`, `tests/tests/store_dynamodb.rs`).

use chrono::Utc;
use leadpipe_core::domain::account::User;
use leadpipe_core::domain::totp::TotpSecret;
use leadpipe_core::domain::two_factor::{recovery_codes, TwoFactor};
use leadpipe_core::domain::{Email, Role};
use leadpipe_core::Leadpipe;
use uuid::Uuid;

/// Generates one `#[tokio::test]` per two-factor case, each on a fresh store from `$make` (an async expression
/// returning a [`Leadpipe`]).
#[macro_export]
macro_rules! two_factor_conformance_suite {
    ($make:expr) => {
        $crate::two_factor_conformance_suite!(@cases $make;
            state_is_stored_replaced_and_cleared, a_step_is_used_once_and_only_later_ones_after_it,
            a_recovery_code_is_used_once, concurrent_uses_of_one_code_let_exactly_one_through);
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        mod two_factor {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    $crate::two_factor_conformance::$case($make.await).await;
                }
            )*
        }
    };
}

async fn new_user(app: &Leadpipe) -> User {
    let email = format!("tf-{}@example.com", Uuid::new_v4().simple());
    let user = User {
        id: Uuid::new_v4(),
        email: Email::parse(&email).expect("email"),
        role: Role::Member,
        disabled: false,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        created_at: chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis())
            .expect("now"),
        two_factor: TwoFactor::default(),
    };
    app.store.create_user(&user).await.expect("create");
    user
}

fn on(step: Option<i64>) -> TwoFactor {
    let mut recovery: Vec<String> = recovery_codes()
        .expect("codes")
        .iter()
        .map(|c| c.hash())
        .collect();
    recovery.sort();
    TwoFactor {
        secret: Some(TotpSecret::generate().expect("secret")),
        pending: None,
        last_step: step,
        recovery,
    }
}

/// Pending, then on, then off; reads by id, by email and in the listing see the same state; other fields stay.
pub async fn state_is_stored_replaced_and_cleared(app: Leadpipe) {
    let s = &app.store;
    let u = new_user(&app).await;
    assert_eq!(
        s.user(u.id).await.unwrap().unwrap().two_factor,
        TwoFactor::default()
    );
    let pending = TwoFactor {
        pending: Some(TotpSecret::generate().unwrap()),
        ..TwoFactor::default()
    };
    assert!(s.set_two_factor(u.id, &pending).await.unwrap());
    assert_eq!(s.user(u.id).await.unwrap().unwrap().two_factor, pending);
    let enabled = on(Some(1_000));
    assert!(s.set_two_factor(u.id, &enabled).await.unwrap());
    let read = s.user_by_email(&u.email).await.unwrap().unwrap();
    let mut got = read.two_factor.clone();
    got.recovery.sort();
    assert_eq!(got, enabled);
    assert_eq!(
        (read.role, read.password_hash.as_str()),
        (u.role, u.password_hash.as_str())
    );
    let listed = s.users().await.unwrap();
    let mine = listed.iter().find(|x| x.id == u.id).expect("listed");
    assert!(mine.two_factor.enabled());
    // A role change leaves two-factor alone.
    let mut changed = read.clone();
    changed.role = Role::Viewer;
    assert!(s.update_user(&changed, None).await.unwrap());
    assert!(s.user(u.id).await.unwrap().unwrap().two_factor.enabled());
    assert!(s.set_two_factor(u.id, &TwoFactor::default()).await.unwrap());
    assert_eq!(
        s.user(u.id).await.unwrap().unwrap().two_factor,
        TwoFactor::default()
    );
    assert!(
        !s.set_two_factor(Uuid::new_v4(), &enabled).await.unwrap(),
        "no such user"
    );
}

/// A step is recorded once; earlier steps are refused after it; nothing is recorded while two-factor is off.
pub async fn a_step_is_used_once_and_only_later_ones_after_it(app: Leadpipe) {
    let s = &app.store;
    let u = new_user(&app).await;
    assert!(
        !s.use_totp_step(u.id, 5).await.unwrap(),
        "two-factor is off"
    );
    assert!(s.set_two_factor(u.id, &on(None)).await.unwrap());
    assert!(s.use_totp_step(u.id, 5).await.unwrap());
    assert!(!s.use_totp_step(u.id, 5).await.unwrap(), "replayed");
    assert!(!s.use_totp_step(u.id, 4).await.unwrap(), "earlier");
    assert!(s.use_totp_step(u.id, 6).await.unwrap());
    assert_eq!(
        s.user(u.id).await.unwrap().unwrap().two_factor.last_step,
        Some(6)
    );
    assert!(!s.use_totp_step(Uuid::new_v4(), 7).await.unwrap());
}

/// Each recovery code signs in once; unknown ones never; the others stay.
pub async fn a_recovery_code_is_used_once(app: Leadpipe) {
    let s = &app.store;
    let u = new_user(&app).await;
    let state = on(Some(1));
    let first = state.recovery[0].clone();
    assert!(!s.use_recovery_code(u.id, &first).await.unwrap(), "off");
    assert!(s.set_two_factor(u.id, &state).await.unwrap());
    assert!(s.use_recovery_code(u.id, &first).await.unwrap());
    assert!(!s.use_recovery_code(u.id, &first).await.unwrap(), "used");
    assert!(!s.use_recovery_code(u.id, &"0".repeat(64)).await.unwrap());
    let left = s.user(u.id).await.unwrap().unwrap().two_factor.recovery;
    assert_eq!(left.len(), state.recovery.len() - 1);
    assert!(!left.contains(&first));
    for h in &state.recovery[1..] {
        assert!(s.use_recovery_code(u.id, h).await.unwrap());
    }
    assert!(s
        .user(u.id)
        .await
        .unwrap()
        .unwrap()
        .two_factor
        .recovery
        .is_empty());
    assert!(s.user(u.id).await.unwrap().unwrap().two_factor.enabled());
}

/// Eight concurrent uses of one step and of one recovery code: exactly one of each wins.
pub async fn concurrent_uses_of_one_code_let_exactly_one_through(app: Leadpipe) {
    let u = new_user(&app).await;
    let state = on(None);
    let code = state.recovery[0].clone();
    assert!(app.store.set_two_factor(u.id, &state).await.unwrap());
    let steps = (0..8).map(|_| {
        let store = app.store.clone();
        tokio::spawn(async move { store.use_totp_step(u.id, 42).await.unwrap() })
    });
    let codes = (0..8).map(|_| {
        let (store, code) = (app.store.clone(), code.clone());
        tokio::spawn(async move { store.use_recovery_code(u.id, &code).await.unwrap() })
    });
    let steps: Vec<_> = steps.collect();
    let codes: Vec<_> = codes.collect();
    let mut won = (0, 0);
    for t in steps {
        won.0 += usize::from(t.await.unwrap());
    }
    for t in codes {
        won.1 += usize::from(t.await.unwrap());
    }
    assert_eq!(won, (1, 1));
}
