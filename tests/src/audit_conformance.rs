//! The audit log conformance suite: the same cases on SQLite and DynamoDB Local (`tests/tests/store_sqlite.rs`,
//! `tests/tests/store_dynamodb.rs`): order, filters, pagination across days and shards, expiry, and cursors.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use leadpipe_core::domain::audit::{AuditAction, AuditEntry, AuditQuery, AuditQueryError};
use leadpipe_core::domain::{Actor, ActorKind, Role};
use leadpipe_core::Leadpipe;
use serde_json::json;
use uuid::Uuid;

/// Generates one `#[tokio::test]` per audit case, each on a fresh store from `$make` (an async expression
/// returning a [`Leadpipe`]).
#[macro_export]
macro_rules! audit_conformance_suite {
    ($make:expr) => {
        $crate::audit_conformance_suite!(@cases $make;
            entries_read_back_newest_first_with_every_field, filters_match_exactly,
            pages_cover_every_entry_once_across_days_and_shards, expired_entries_are_left_out_and_appends_are_idempotent,
            cursors_from_elsewhere_are_refused_or_harmless);
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        mod audit {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    $crate::audit_conformance::$case($make.await).await;
                }
            )*
        }
    };
}

fn ana() -> Actor {
    Actor {
        kind: ActorKind::User {
            id: Uuid::nil(),
            email: "ana@example.com".into(),
        },
        role: Role::Member,
    }
}

/// The UTC day `days` before today (entries must be recent enough not to be expired).
fn day_back(days: i64) -> NaiveDate {
    Utc::now().date_naive() - Duration::days(days)
}

fn time(days_back: i64, seconds: i64) -> DateTime<Utc> {
    day_back(days_back)
        .and_hms_opt(8, 0, 0)
        .expect("time")
        .and_utc()
        + Duration::seconds(seconds)
}

fn entry(at: DateTime<Utc>, actor: Actor, action: AuditAction, target: &str) -> AuditEntry {
    AuditEntry::new(
        at,
        actor,
        Some("203.0.113.7".into()),
        action,
        target,
        json!({"from": "New", "to": "Paid"}),
    )
}

async fn append(app: &Leadpipe, e: &AuditEntry) {
    app.store
        .append_audit(e, e.at + Duration::days(400))
        .await
        .expect("append");
}

fn week() -> AuditQuery {
    AuditQuery::recent(Utc::now().date_naive(), 7)
}

/// Entries come back newest first, whole.
pub async fn entries_read_back_newest_first_with_every_field(app: Leadpipe) {
    let a = entry(time(2, 0), ana(), AuditAction::LeadStageMoved, "lead-a");
    let b = entry(
        time(1, 0),
        Actor::admin_key(),
        AuditAction::LeadDeleted,
        "lead-b",
    );
    let c = entry(time(1, 5), ana(), AuditAction::OrderAdded, "lead-a");
    for e in [&b, &a, &c] {
        append(&app, e).await;
    }
    let page = app.store.audit(&week()).await.expect("audit");
    assert_eq!(page.entries, vec![c, b, a]);
    assert_eq!(page.next_cursor, None);
    let old = AuditQuery {
        from: day_back(30),
        to: day_back(20),
        ..week()
    };
    assert!(app
        .store
        .audit(&old)
        .await
        .expect("audit")
        .entries
        .is_empty());
}

/// Actor, action and target filter exactly; days bound the range.
pub async fn filters_match_exactly(app: Leadpipe) {
    let mut all = Vec::new();
    for i in 0..12 {
        let actor = if i % 3 == 0 {
            Actor::admin_key()
        } else {
            ana()
        };
        let action = if i % 2 == 0 {
            AuditAction::LeadStageMoved
        } else {
            AuditAction::WebhookCreated
        };
        let e = entry(time(i % 4, i), actor, action, &format!("t{}", i % 5));
        append(&app, &e).await;
        all.push(e);
    }
    all.sort_by_key(|e| std::cmp::Reverse(e.id));
    let check = |q: AuditQuery| {
        let want: Vec<AuditEntry> = all
            .iter()
            .filter(|e| q.matches(e) && e.day() >= q.from && e.day() <= q.to)
            .cloned()
            .collect();
        (q, want)
    };
    let cases = [
        AuditQuery {
            actor: Some("ana@example.com".into()),
            ..week()
        },
        AuditQuery {
            actor: Some("key:admin_api_key".into()),
            action: Some(AuditAction::LeadStageMoved),
            ..week()
        },
        AuditQuery {
            target: Some("t1".into()),
            ..week()
        },
        AuditQuery {
            from: day_back(2),
            to: day_back(1),
            ..week()
        },
        AuditQuery {
            action: Some(AuditAction::SignInFailed),
            ..week()
        },
    ];
    for q in cases {
        let (q, want) = check(q);
        let got = app.store.audit(&q).await.expect("audit").entries;
        assert_eq!(got, want, "{q:?}");
    }
}

/// Small pages, across days and every shard, return each entry exactly once, in order.
pub async fn pages_cover_every_entry_once_across_days_and_shards(app: Leadpipe) {
    let mut all = Vec::new();
    for i in 0..45 {
        let e = entry(time(i % 3, i), ana(), AuditAction::SpendSaved, "-");
        append(&app, &e).await;
        all.push(e);
    }
    let shards: std::collections::BTreeSet<u8> = all.iter().map(AuditEntry::shard).collect();
    assert!(shards.len() > 4, "entries spread over shards: {shards:?}");
    all.sort_by_key(|e| std::cmp::Reverse(e.id));
    for limit in [1, 7, 45, 100] {
        let mut q = AuditQuery { limit, ..week() };
        let mut got = Vec::new();
        for _ in 0..100 {
            let page = app.store.audit(&q).await.expect("audit");
            assert!(page.entries.len() <= limit);
            got.extend(page.entries);
            match page.next_cursor {
                Some(c) => q.cursor = Some(c.parse().expect("cursor is an id")),
                None => break,
            }
        }
        assert_eq!(got, all, "limit {limit}");
    }
}

/// Expired entries are not shown; appending an entry twice stores it once.
pub async fn expired_entries_are_left_out_and_appends_are_idempotent(app: Leadpipe) {
    let gone = entry(time(3, 0), ana(), AuditAction::LeadEdited, "x");
    app.store
        .append_audit(&gone, Utc::now() - Duration::minutes(1))
        .await
        .expect("append");
    let kept = entry(time(3, 1), ana(), AuditAction::LeadEdited, "x");
    append(&app, &kept).await;
    append(&app, &kept).await;
    let page = app.store.audit(&week()).await.expect("audit");
    assert_eq!(page.entries, vec![kept]);
}

/// A cursor that is not an audit id is refused before any store read; an id of another day range reads nothing
/// wrong.
pub async fn cursors_from_elsewhere_are_refused_or_harmless(app: Leadpipe) {
    let e = entry(time(1, 0), ana(), AuditAction::KeyCreated, "k");
    append(&app, &e).await;
    let today = Utc::now().date_naive();
    for bad in [
        "x",
        "2026-12-07|abc",
        &Uuid::new_v4().to_string(),
        "'; DROP TABLE",
    ] {
        let params = vec![("cursor".to_string(), bad.to_string())];
        assert!(
            matches!(
                AuditQuery::parse(&params, today),
                Err(AuditQueryError::Invalid {
                    field: "cursor",
                    ..
                })
            ),
            "{bad}"
        );
    }
    let future = entry(time(-30, 0), ana(), AuditAction::KeyCreated, "k");
    let q = AuditQuery {
        cursor: Some(future.id),
        ..week()
    };
    assert_eq!(
        app.store.audit(&q).await.expect("audit").entries,
        vec![e.clone()]
    );
    let q = AuditQuery {
        cursor: Some(e.id),
        ..week()
    };
    assert!(app.store.audit(&q).await.expect("audit").entries.is_empty());
}
