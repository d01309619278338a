//! The store conformance suite: the same test bodies run against SQLite and DynamoDB Local
//! (`tests/tests/store_sqlite.rs`, `tests/tests/store_dynamodb.rs`), through the application core.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use leadpipe_core::domain::counters::{split_bucket, CounterQuery, Registry};
use leadpipe_core::domain::{Email, Lead, Pipeline, Postback, Stage, Via};
use leadpipe_core::idempotency::{Answer, IdempotencyKey};
use leadpipe_core::ingest::{Caller, Origin, PostbackOutcome};
use leadpipe_core::service::ServiceError;
use leadpipe_core::store::{IdempotencyClaim, StoredResponse};
use leadpipe_core::store::{LeadRef, ListQuery};
use leadpipe_core::totals::{Total, COUNT_BUDGET};
use leadpipe_core::{Leadpipe, ValidationError};
use serde_json::{json, Value};
use uuid::Uuid;

/// Generates one `#[tokio::test]` per conformance case, each on a fresh store from `$make` (an async expression
/// returning a [`Leadpipe`]).
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@cases $make;
            seed_examples_create_then_advance_a_lead, matching_uses_lead_id_then_email, postback_rules_for_stages,
            custom_data_round_trips_any_json, email_stays_unique, email_change_frees_the_old_address,
            fifty_concurrent_first_postbacks_make_one_lead, concurrent_postbacks_on_different_fields_all_persist,
            manual_moves_and_deletes, listing_filters_and_pages, counters_equal_a_full_recount,
            idempotent_postbacks_apply_once_per_tier, idempotency_claims_expire_lease_and_release,
            concurrent_repeats_of_one_event_apply_once, listing_totals_exact_from_counters_else_bounded,
            search_follows_edits_and_deletes_with_any_characters, revenue_equals_a_recomputation_from_orders);
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::conformance::$case($make.await).await;
            }
        )*
    };
}

/// Why a postback posted through [`post`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// Refused by validation.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Refused or failed in the core.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Posts a JSON body through validation and the core, as the handler does.
pub async fn post(app: &Leadpipe, body: Value) -> Result<PostbackOutcome, PostError> {
    let pb = Postback::parse(body.to_string().as_bytes(), &app.settings.pipeline, None)?.postback;
    Ok(app.ingest_postback(&pb).await?)
}

/// `app`, once its store's derived data (stage-change items, counters) reflects every earlier write.
pub async fn settled(app: &Leadpipe) -> &Leadpipe {
    app.store.settle().await.expect("derived data catches up");
    app
}

/// A stage of the default pipeline.
pub fn stage(name: &str) -> Stage {
    Pipeline::default().stage(name).expect("a default stage")
}

/// The lead holding `email`, if any.
pub async fn by_email(app: &Leadpipe, email: &str) -> Option<Lead> {
    let target = LeadRef {
        id: None,
        email: Some(Email::parse(email).expect("email")),
    };
    app.store.find(&target).await.expect("find")
}

async fn ok(app: &Leadpipe, body: Value) -> PostbackOutcome {
    post(app, body.clone())
        .await
        .unwrap_or_else(|e| panic!("postback {body} failed: {e}"))
}

/// Every lead in the store, read page by page through `list`.
pub async fn all_leads(app: &Leadpipe) -> Vec<Lead> {
    let mut out = Vec::new();
    let mut q = ListQuery {
        limit: 200,
        ..Default::default()
    };
    loop {
        let page = app.store.list(&q).await.expect("list");
        out.extend(page.leads);
        match page.next_after {
            Some(after) => q.after = Some(after),
            None => return out,
        }
    }
}

/// Asserts the stored counters equal a full recount of the stored leads, once derived data has caught up
/// (every bucket the recount has, and every bucket stored in the same scopes).
pub async fn assert_counters_exact(app: &Leadpipe) {
    app.store.settle().await.expect("derived data catches up");
    assert_counters_match_recount(app).await;
}

/// Asserts the stored counters equal a full recount of the stored leads, as they are now.
pub async fn assert_counters_match_recount(app: &Leadpipe) {
    let mut leads = all_leads(app).await;
    leads.sort_by_key(Lead::created_key);
    let recount = app
        .settings
        .counter_rules()
        .recount(&leads, &mut Registry::default());
    let mut query = CounterQuery {
        buckets: recount.0.keys().cloned().collect(),
        ..Default::default()
    };
    query.scopes = recount
        .0
        .keys()
        .filter_map(|b| split_bucket(b).map(|(scope, _)| scope.to_string()))
        .collect();
    let stored = app
        .store
        .counters(&query)
        .await
        .expect("counters")
        .without_watermark();
    assert_eq!(
        stored,
        recount,
        "stored counters differ from a recount of {} leads",
        leads.len()
    );
}

/// The seed's two curl examples: one lead moves from Form Started to Application Submitted, history kept.
pub async fn seed_examples_create_then_advance_a_lead(app: Leadpipe) {
    let first = ok(
        &app,
        json!({
            "email": "john@example.com", "first_name": "John", "stage": "Form Started", "source": "google",
            "domain": "myeinregistry.com", "campaign": "llc-spring-2026", "utm_source": "google", "utm_medium": "cpc",
            "utm_campaign": "llc-spring-2026", "ip_address": "192.168.1.1", "browser": "Chrome 124",
            "device_type": "desktop", "form_completion_percent": 10, "form_fields_total": 12
        }),
    )
    .await;
    assert!(first.created && first.stage_changed);
    assert_eq!(first.stage, "Form Started");
    let second = ok(
        &app,
        json!({
            "email": "john@example.com", "stage": "Application Submitted", "form_completion_percent": 100,
            "form_fields_completed": 12, "form_fields_total": 12
        }),
    )
    .await;
    assert_eq!(second.lead_id, first.lead_id);
    assert!(!second.created && second.stage_changed);
    let (lead, history) = settled(&app)
        .await
        .lead_with_history(first.lead_id)
        .await
        .expect("lead");
    assert_eq!(lead.stage, "Application Submitted");
    assert_eq!(
        lead.text.first_name.as_deref(),
        Some("John"),
        "absent fields keep their value"
    );
    assert_eq!(lead.form_completion_percent, Some(100.0));
    assert_eq!(lead.form_fields_completed, Some(12));
    assert_eq!(
        lead.first_touch.campaign.as_deref(),
        Some("llc-spring-2026")
    );
    let moves: Vec<_> = history
        .iter()
        .map(|h| (h.from.clone(), h.to.clone(), h.via))
        .collect();
    assert_eq!(
        moves,
        [
            (None, stage("Form Started"), Via::Postback),
            (
                Some(stage("Form Started")),
                stage("Application Submitted"),
                Via::Postback
            )
        ]
    );
    assert!(history[0].at <= history[1].at);
    assert_counters_exact(&app).await;
}

/// `lead_id` first, then email; an unknown lead_id falls back to email; ids are never client-chosen.
pub async fn matching_uses_lead_id_then_email(app: Leadpipe) {
    let a = ok(&app, json!({"email": "a@example.com"})).await;
    let b = ok(&app, json!({"email": "b@example.com"})).await;
    let by_id = ok(
        &app,
        json!({"lead_id": a.lead_id.to_string(), "phone": "111"}),
    )
    .await;
    assert_eq!(by_id.lead_id, a.lead_id);
    let by_email = ok(&app, json!({"email": "  B@Example.COM ", "phone": "222"})).await;
    assert_eq!(
        by_email.lead_id, b.lead_id,
        "emails match trimmed and case-insensitively"
    );
    let unknown = Uuid::new_v4();
    let fallback = ok(
        &app,
        json!({"lead_id": unknown.to_string(), "email": "a@example.com", "company": "Acme"}),
    )
    .await;
    assert_eq!(
        fallback.lead_id, a.lead_id,
        "an unknown lead_id falls back to email"
    );
    let fresh = ok(&app, json!({"lead_id": unknown.to_string()})).await;
    assert!(fresh.created);
    assert_ne!(fresh.lead_id, unknown, "the server chooses lead ids");
    let anonymous = ok(&app, json!({"stage": "Form Started"})).await;
    assert!(anonymous.created);
    let a_lead = app.store.get(a.lead_id).await.unwrap().unwrap();
    assert_eq!(
        (a_lead.text.phone.as_deref(), a_lead.text.company.as_deref()),
        (Some("111"), Some("Acme"))
    );
    assert_eq!(all_leads(&app).await.len(), 4);
    assert_counters_exact(&app).await;
}

/// Forward moves, backward attempts (kept stage, other fields updated), forced moves, repeats without history.
pub async fn postback_rules_for_stages(app: Leadpipe) {
    let lead = ok(&app, json!({"email": "s@example.com", "stage": "Paid"})).await;
    let back = ok(
        &app,
        json!({"email": "s@example.com", "stage": "Form Started", "phone": "5"}),
    )
    .await;
    assert!(!back.stage_changed);
    assert_eq!(back.stage, "Paid");
    let repeat = ok(&app, json!({"email": "s@example.com", "stage": "Paid"})).await;
    assert!(!repeat.stage_changed);
    let before_noop = app.store.get(lead.lead_id).await.unwrap().unwrap();
    ok(
        &app,
        json!({"email": "s@example.com", "stage": "paid", "phone": "5"}),
    )
    .await;
    let after_noop = app.store.get(lead.lead_id).await.unwrap().unwrap();
    assert_eq!(
        before_noop, after_noop,
        "a repeat that changes nothing writes nothing"
    );
    let forced = ok(
        &app,
        json!({"email": "s@example.com", "stage": "Form Started", "force_stage": true}),
    )
    .await;
    assert!(forced.stage_changed);
    assert_eq!(forced.stage, "Form Started");
    let (stored, history) = settled(&app)
        .await
        .lead_with_history(lead.lead_id)
        .await
        .unwrap();
    assert_eq!(stored.text.phone.as_deref(), Some("5"));
    assert_eq!(history.len(), 2, "creation and the forced move only");
    assert!(history[1].forced);
    assert_counters_exact(&app).await;
}

/// Custom data of any JSON shape survives the store, merged by key.
pub async fn custom_data_round_trips_any_json(app: Leadpipe) {
    let data = json!({"n": 1e300, "neg": -0.5, "big": 12345678901234567u64, "s": "", "nested": {"a": [1, {"b": null}]},
        "unicode": "ünïcødé ✓ <script>", "t": true});
    let lead = ok(&app, json!({"custom_data": data})).await;
    ok(
        &app,
        json!({"lead_id": lead.lead_id.to_string(), "custom_data": {"t": false, "extra": "x"}}),
    )
    .await;
    let stored = app.store.get(lead.lead_id).await.unwrap().unwrap();
    let mut expected = data.as_object().unwrap().clone();
    expected.insert("t".into(), json!(false));
    expected.insert("extra".into(), json!("x"));
    assert_eq!(stored.custom_data, expected);
}

/// An update that would give a lead another lead's email keeps the lead's email, stores the rest, and says so.
pub async fn email_stays_unique(app: Leadpipe) {
    let a = ok(&app, json!({"email": "one@example.com", "phone": "1"})).await;
    let b = ok(&app, json!({"email": "two@example.com"})).await;
    let out = ok(
        &app,
        json!({"lead_id": a.lead_id.to_string(), "email": "TWO@example.com", "phone": "2"}),
    )
    .await;
    assert_eq!(out.lead_id, a.lead_id);
    assert_eq!(
        (out.warnings[0].field.as_str(), out.warnings[0].code),
        ("email", leadpipe_core::domain::WarningCode::Conflict)
    );
    let stored = app.store.get(a.lead_id).await.unwrap().unwrap();
    assert_eq!(
        stored.email.as_ref().map(Email::as_str),
        Some("one@example.com"),
        "the lead keeps its email"
    );
    assert_eq!(
        stored.text.phone.as_deref(),
        Some("2"),
        "the rest of the postback is stored"
    );
    assert_eq!(
        by_email(&app, "two@example.com").await.map(|l| l.id),
        Some(b.lead_id),
        "the other lead keeps its email"
    );
    assert_counters_exact(&app).await;
}

/// Changing a lead's email releases the old address for new leads.
pub async fn email_change_frees_the_old_address(app: Leadpipe) {
    let a = ok(&app, json!({"email": "old@example.com"})).await;
    let moved = ok(
        &app,
        json!({"lead_id": a.lead_id.to_string(), "email": "new@example.com"}),
    )
    .await;
    assert_eq!(moved.lead_id, a.lead_id);
    let found = by_email(&app, "new@example.com").await.unwrap();
    assert_eq!(found.id, a.lead_id);
    assert!(by_email(&app, "old@example.com").await.is_none());
    let b = ok(&app, json!({"email": "old@example.com"})).await;
    assert!(b.created && b.lead_id != a.lead_id);
}

/// 50 simultaneous first postbacks for one email create exactly one lead.
pub async fn fifty_concurrent_first_postbacks_make_one_lead(app: Leadpipe) {
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                post(
                    &app,
                    json!({"email": "race@example.com", "custom_data": {format!("k{i}"): i}}),
                )
                .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.expect("task").expect("postback"));
    }
    let ids: BTreeSet<Uuid> = outcomes.iter().map(|o| o.lead_id).collect();
    assert_eq!(ids.len(), 1, "all postbacks resolved to one lead");
    assert_eq!(
        outcomes.iter().filter(|o| o.created).count(),
        1,
        "exactly one postback created it"
    );
    let leads = all_leads(&app).await;
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0].custom_data.len(), 50, "no postback was lost");
    assert_counters_exact(&app).await;
}

/// Concurrent postbacks changing different fields of one lead all persist (no lost update).
pub async fn concurrent_postbacks_on_different_fields_all_persist(app: Leadpipe) {
    let lead = ok(&app, json!({"email": "busy@example.com"})).await;
    let app = Arc::new(app);
    let fields = [
        "first_name",
        "last_name",
        "phone",
        "company",
        "browser",
        "device_type",
        "user_agent",
        "ip_address",
    ];
    let tasks: Vec<_> = fields
        .iter()
        .map(|f| {
            let app = Arc::clone(&app);
            let body = json!({"lead_id": lead.lead_id.to_string(), *f: format!("value-{f}")});
            tokio::spawn(async move { post(&app, body).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("postback");
    }
    let stored = serde_json::to_value(app.store.get(lead.lead_id).await.unwrap().unwrap()).unwrap();
    for f in fields {
        assert_eq!(stored[f], json!(format!("value-{f}")), "{f} was lost");
    }
    assert_eq!(stored["version"], json!(1 + fields.len()));
}

/// Manual moves go both ways and are recorded; delete removes the lead, its history and its email claim.
pub async fn manual_moves_and_deletes(app: Leadpipe) {
    let lead = ok(&app, json!({"email": "m@example.com", "stage": "Paid"})).await;
    let (moved, changed) = app.move_stage(lead.lead_id, &stage("new")).await.unwrap();
    assert!(changed);
    assert_eq!(moved.stage, "New");
    let (_, unchanged) = app.move_stage(lead.lead_id, &stage("New")).await.unwrap();
    assert!(!unchanged);
    assert!(matches!(
        app.move_stage(Uuid::new_v4(), &stage("New")).await,
        Err(ServiceError::NotFound)
    ));
    let (_, history) = settled(&app)
        .await
        .lead_with_history(lead.lead_id)
        .await
        .unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (last.via, last.forced, last.to.as_str()),
        (Via::Manual, true, "New")
    );
    assert_counters_exact(&app).await;

    app.delete_lead(lead.lead_id).await.unwrap();
    assert!(app.store.get(lead.lead_id).await.unwrap().is_none());
    assert!(
        app.store
            .get_with_history(lead.lead_id)
            .await
            .unwrap()
            .is_none(),
        "no orphan history"
    );
    assert!(matches!(
        app.delete_lead(lead.lead_id).await,
        Err(ServiceError::NotFound)
    ));
    assert!(
        by_email(&app, "m@example.com").await.is_none(),
        "claim released"
    );
    let again = ok(&app, json!({"email": "m@example.com"})).await;
    assert!(again.created, "the email can be used again");
    assert_counters_exact(&app).await;
}

/// Newest first, every filter, and cursor pages that return each matching lead exactly once.
pub async fn listing_filters_and_pages(app: Leadpipe) {
    let mut ids = Vec::new();
    for i in 0..25 {
        let source = if i % 2 == 0 { "Google" } else { "facebook" };
        let stage = if i % 5 == 0 { "Paid" } else { "Form Started" };
        let o = ok(
            &app,
            json!({"email": format!("list{i}@example.com"), "first_name": format!("Person{i}"), "source": source,
            "campaign": format!("c{}", i % 3), "stage": stage, "company": if i == 7 { "Needle Corp" } else { "Hay" }}),
        )
        .await;
        ids.push(o.lead_id);
    }
    let all = all_leads(&app).await;
    assert_eq!(
        all.iter().map(|l| l.id).collect::<Vec<_>>(),
        ids.iter().rev().copied().collect::<Vec<_>>(),
        "newest first"
    );

    let page = |q: ListQuery| {
        let app = app.clone();
        async move { collect(&app, q).await }
    };
    let paid = page(ListQuery {
        stage: Some(stage("Paid")),
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(paid.len(), 5);
    assert!(paid.iter().all(|l| l.stage == "Paid"));
    let google = page(ListQuery {
        source: Some("google".into()),
        limit: 4,
        ..Default::default()
    })
    .await;
    assert_eq!(google.len(), 13);
    let c1_fb = page(ListQuery {
        source: Some("facebook".into()),
        campaign: Some("c1".into()),
        limit: 3,
        ..Default::default()
    })
    .await;
    assert_eq!(
        c1_fb
            .iter()
            .map(|l| l.text.first_name.clone().unwrap())
            .collect::<BTreeSet<_>>()
            .len(),
        c1_fb.len()
    );
    assert!(c1_fb
        .iter()
        .all(|l| l.text.campaign.as_deref() == Some("c1")
            && l.text.source.as_deref() == Some("facebook")));
    assert_eq!(
        c1_fb.len(),
        (0..25).filter(|i| i % 2 == 1 && i % 3 == 1).count()
    );
    let needle = page(ListQuery {
        search: Some("needle".into()),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(needle.len(), 1);
    assert_eq!(needle[0].id, ids[7]);
    let by_email = page(ListQuery {
        search: Some("list1".into()),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(by_email.len(), 11, "list1, list10..list19");

    let mid = all[10].created_at;
    let recent = page(ListQuery {
        created_from: Some(mid),
        limit: 3,
        ..Default::default()
    })
    .await;
    assert_eq!(recent.len(), 11);
    let older = page(ListQuery {
        created_before: Some(mid),
        limit: 3,
        ..Default::default()
    })
    .await;
    assert_eq!(older.len(), 14);
    let window = page(ListQuery {
        created_from: Some(all[20].created_at),
        created_before: Some(mid),
        stage: Some(stage("Form Started")),
        limit: 3,
        ..Default::default()
    })
    .await;
    assert!(window.iter().all(|l| l.created_at >= all[20].created_at
        && l.created_at < mid
        && l.stage == "Form Started"));
    assert_eq!(
        window.len(),
        all[11..=20]
            .iter()
            .filter(|l| l.stage == "Form Started")
            .count()
    );

    let third = app
        .store
        .list(&ListQuery {
            limit: 5,
            skip: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        third.leads.iter().map(|l| l.id).collect::<Vec<_>>(),
        all[10..15].iter().map(|l| l.id).collect::<Vec<_>>()
    );
    let (_, total) = settled(&app)
        .await
        .list_leads(&ListQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        total,
        Total {
            count: 25,
            exact: true
        }
    );
    let (_, paid_total) = app
        .list_leads(&ListQuery {
            stage: Some(stage("Paid")),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        paid_total,
        Total {
            count: 5,
            exact: true
        }
    );
}

/// `GET /api/leads` totals: exact from counters for the combinations they hold (whole-day ranges, one source or
/// campaign, a stage), exact from the listing when it ends within the read budget, else a lower bound.
pub async fn listing_totals_exact_from_counters_else_bounded(app: Leadpipe) {
    use leadpipe_core::domain::import::{Format, Rows};
    let tz = app.settings.time_zone.clone();
    let today = tz.local_date(Utc::now());
    let day = |back: u64| {
        today
            .checked_sub_days(chrono::Days::new(back))
            .expect("a day")
    };
    let (a, b, c) = (day(5), day(4), day(3));
    let mut file = String::new();
    for (d, source, stage, campaign) in [
        (a, "google", "Paid", "c1"),
        (a, "google", "New", "c1"),
        (a, "facebook", "Paid", "c2"),
        (a, "", "New", ""),
        (b, "Google", "Paid", "c1"),
        (b, "facebook", "New", "c1"),
        (b, "google", "New", "c2"),
        (c, "google", "Paid", "c2"),
        (c, "facebook", "New", "c1"),
    ] {
        let n = file.lines().count();
        let mut row = json!({"email": format!("dated{n}@example.com"), "stage": stage, "created_at": format!("{d}T12:00:00Z")});
        for (k, v) in [("source", source), ("campaign", campaign)] {
            if !v.is_empty() {
                row[k] = json!(v);
            }
        }
        file.push_str(&format!("{row}\n"));
    }
    let bulk = COUNT_BUDGET + 50;
    for i in 0..bulk {
        file.push_str(&format!(
            "{}\n",
            json!({"email": format!("bulk{i}@example.com"), "source": "bulk"})
        ));
    }
    let rows = Rows::new(file.as_bytes(), Some(Format::JsonLines)).expect("rows");
    let report = app.import(rows, |_| {}).await.expect("import");
    assert_eq!(
        (report.imported, report.rejected_total),
        (9 + bulk as u64, 0),
        "{:?}",
        report.rejected
    );
    settled(&app).await;
    let start = |d: chrono::NaiveDate| Some(tz.start_of_day(d).expect("a day start"));
    let next = |d: chrono::NaiveDate| d.checked_add_days(chrono::Days::new(1)).expect("a day");
    let total = |q: ListQuery| {
        let app = app.clone();
        async move {
            app.list_leads(&ListQuery { limit: 1, ..q })
                .await
                .expect("list")
                .1
        }
    };
    let exact = |count: usize| Total {
        count: i64::try_from(count).expect("small"),
        exact: true,
    };
    let google = || Some("google".to_string());
    // From counters.
    assert_eq!(total(ListQuery::default()).await, exact(9 + bulk));
    assert_eq!(
        total(ListQuery {
            source: google(),
            ..Default::default()
        })
        .await,
        exact(5),
        "google and Google"
    );
    assert_eq!(
        total(ListQuery {
            campaign: Some("c1".into()),
            ..Default::default()
        })
        .await,
        exact(5)
    );
    let range = ListQuery {
        created_from: start(a),
        created_before: start(next(b)),
        ..Default::default()
    };
    assert_eq!(total(range.clone()).await, exact(7));
    assert_eq!(
        total(ListQuery {
            stage: Some(stage("Paid")),
            source: google(),
            ..range.clone()
        })
        .await,
        exact(2)
    );
    assert_eq!(
        total(ListQuery {
            created_from: start(b),
            campaign: Some("c1".into()),
            ..Default::default()
        })
        .await,
        exact(3)
    );
    assert_eq!(
        total(ListQuery {
            created_before: start(next(b)),
            ..Default::default()
        })
        .await,
        exact(7),
        "to alone"
    );
    assert_eq!(
        total(ListQuery {
            created_before: start(next(b)),
            source: google(),
            ..Default::default()
        })
        .await,
        exact(4)
    );
    assert_eq!(
        total(ListQuery {
            created_from: start(today),
            ..Default::default()
        })
        .await,
        exact(bulk)
    );
    // Through the listing, within the budget: exact.
    assert_eq!(
        total(ListQuery {
            source: google(),
            campaign: Some("c1".into()),
            ..Default::default()
        })
        .await,
        exact(3)
    );
    assert_eq!(
        total(ListQuery {
            source: google(),
            stage: Some(stage("New")),
            ..Default::default()
        })
        .await,
        exact(2)
    );
    let midday = ListQuery {
        created_from: start(b).map(|t| t + chrono::Duration::hours(1)),
        ..Default::default()
    };
    assert_eq!(
        total(ListQuery {
            stage: Some(stage("Paid")),
            ..midday
        })
        .await,
        exact(2),
        "a range that is not whole days"
    );
    assert_eq!(
        total(ListQuery {
            search: Some("dated".into()),
            ..Default::default()
        })
        .await,
        exact(9)
    );
    // Past the budget: a lower bound.
    let over = total(ListQuery {
        search: Some("bulk".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        over,
        Total {
            count: i64::try_from(COUNT_BUDGET).expect("small"),
            exact: false
        }
    );
    // The first page of a small listing is its whole total, whatever the filter.
    let (page, whole) = app
        .list_leads(&ListQuery {
            search: Some("dated".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!((page.leads.len(), whole), (9, exact(9)));
}

/// `search` is a plain substring of name, email, phone or company: punctuation and quotes are literal, short terms
/// work, and edits and deletes show at once (stores that index the text keep the index in step).
pub async fn search_follows_edits_and_deletes_with_any_characters(app: Leadpipe) {
    let rockets = ok(
        &app,
        json!({"email": "r1@example.com", "company": "Acme \"Rockets\" (UK) *beta* -x OR y"}),
    )
    .await;
    let zoe = ok(&app, json!({"email": "zoe@example.com", "first_name": "Zoë", "last_name": "Ünal", "phone": "+1 555-0100"})).await;
    let filler = ok(
        &app,
        json!({"email": "f1@example.com", "company": "Rocket Science"}),
    )
    .await;
    let found = |term: &str| {
        let app = app.clone();
        let q = ListQuery {
            search: Some(term.to_string()),
            limit: 10,
            ..Default::default()
        };
        async move {
            collect(&app, q)
                .await
                .into_iter()
                .map(|l| l.id)
                .collect::<BTreeSet<_>>()
        }
    };
    let set = |ids: &[Uuid]| ids.iter().copied().collect::<BTreeSet<_>>();
    for term in ["\"rockets\"", "(uk)", "*beta*", "-x or y", "acme \"", "\""] {
        assert_eq!(found(term).await, set(&[rockets.lead_id]), "{term}");
    }
    assert_eq!(
        found("rocket").await,
        set(&[rockets.lead_id, filler.lead_id])
    );
    assert_eq!(
        found("zoë ünal").await,
        set(&[zoe.lead_id]),
        "first and last name together"
    );
    assert_eq!(found("ün").await, set(&[zoe.lead_id]), "two characters");
    assert_eq!(found("e").await.len(), 3, "one character");
    assert_eq!(found("555-0100").await, set(&[zoe.lead_id]));
    assert!(found("rocketsx").await.is_empty());
    assert!(
        found("rock\0ets").await.is_empty(),
        "a NUL is a character like any other"
    );
    assert!(found("zoe ").await.is_empty(), "ë is not e");

    // An edit replaces the old text; a delete removes it.
    ok(
        &app,
        json!({"email": "r1@example.com", "company": "Globex"}),
    )
    .await;
    assert!(found("acme").await.is_empty(), "the old company is gone");
    assert_eq!(found("globex").await, set(&[rockets.lead_id]));
    assert_eq!(found("rocket").await, set(&[filler.lead_id]));
    app.delete_lead(filler.lead_id).await.expect("delete");
    assert!(found("rocket").await.is_empty());
    assert!(found("science").await.is_empty());
    let (_, total) = app
        .list_leads(&ListQuery {
            search: Some("globex".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(
        total,
        Total {
            count: 1,
            exact: true
        }
    );
}

async fn collect(app: &Leadpipe, mut q: ListQuery) -> Vec<Lead> {
    let mut out: Vec<Lead> = Vec::new();
    for _ in 0..1000 {
        let page = app.store.list(&q).await.expect("list");
        assert!(page.leads.len() <= q.limit);
        out.extend(page.leads);
        match page.next_after {
            Some(after) => q.after = Some(after),
            None => {
                let unique: BTreeSet<Uuid> = out.iter().map(|l| l.id).collect();
                assert_eq!(unique.len(), out.len(), "a lead appeared on two pages");
                assert!(
                    out.windows(2)
                        .all(|w| w[0].created_key() > w[1].created_key()),
                    "pages are newest first"
                );
                return out;
            }
        }
    }
    panic!("listing did not end");
}

/// After a mix of creates, forward, backward, forced and manual moves, email changes and deletes, the counters
/// equal a full recount, and analytics agrees with the leads.
pub async fn counters_equal_a_full_recount(app: Leadpipe) {
    let stages = Pipeline::default().stages().to_vec();
    let mut ids = Vec::new();
    let sources = ["google", "fb", "x"];
    for i in 0..12 {
        let (source, stage) = (sources[i % 3], &stages[i % 4]);
        let o = ok(
            &app,
            json!({"email": format!("c{i}@example.com"), "source": source, "stage": stage}),
        )
        .await;
        ids.push(o.lead_id);
    }
    for (i, id) in ids.iter().enumerate() {
        let target = &stages[(i * 7) % stages.len()];
        ok(&app, json!({"lead_id": id.to_string(), "stage": target, "force_stage": i % 2 == 0, "source": "later"})).await;
        if i % 3 == 0 {
            app.move_stage(*id, &stages[i % stages.len()])
                .await
                .unwrap();
        }
        if i % 4 == 1 {
            ok(
                &app,
                json!({"lead_id": id.to_string(), "email": format!("changed{i}@example.com")}),
            )
            .await;
        }
    }
    for id in ids.iter().step_by(5) {
        app.delete_lead(*id).await.unwrap();
    }
    assert_counters_exact(&app).await;
    let analytics = app.analytics(None, Utc::now()).await.unwrap();
    let leads = all_leads(&app).await;
    assert_eq!(analytics.total_leads, leads.len() as i64);
    for f in &analytics.current.funnel {
        assert_eq!(
            f.count,
            leads.iter().filter(|l| l.stage == f.stage).count() as i64,
            "{}",
            f.stage
        );
    }
    assert_eq!(analytics.new_today, leads.len() as i64);
    assert!(analytics.changes > 0, "the watermark moved");
    let google = analytics
        .current
        .top_sources
        .iter()
        .find(|s| s.source == "google")
        .map(|s| s.count);
    assert_eq!(
        google,
        Some(
            leads
                .iter()
                .filter(|l| l.first_touch.source.as_deref() == Some("google"))
                .count() as i64
        )
    );
}

/// Posts a JSON body with an idempotency key, as the handler does.
pub async fn post_once(
    app: &Leadpipe,
    body: Value,
    caller: Caller,
    key: &str,
) -> Result<Answer, ServiceError> {
    let raw = body.to_string();
    let parsed = Postback::parse(raw.as_bytes(), &app.settings.pipeline, None).expect("valid body");
    let key = IdempotencyKey::parse(key, "event_id").expect("valid key");
    app.ingest_once(
        parsed,
        caller,
        &Origin::default(),
        Some(&key),
        raw.as_bytes(),
    )
    .await
}

/// A repeat answers the first response and changes nothing; the other tier's same key is its own key.
pub async fn idempotent_postbacks_apply_once_per_tier(app: Leadpipe) {
    let first = post_once(
        &app,
        json!({"email": "once@example.com", "stage": "Form Started"}),
        Caller::Server,
        "evt-1",
    )
    .await
    .expect("first");
    assert!(!first.replayed);
    assert_eq!(first.response.status, 201);
    let repeat = post_once(
        &app,
        json!({"email": "once@example.com", "stage": "Form Started"}),
        Caller::Server,
        "evt-1",
    )
    .await
    .expect("repeat");
    assert!(repeat.replayed);
    assert_eq!(
        repeat.response, first.response,
        "the first response, byte for byte"
    );
    let lead = by_email(&app, "once@example.com").await.expect("lead");
    assert_eq!(
        lead.stage,
        stage("Form Started"),
        "the repeat changed nothing"
    );
    assert_eq!(lead.text.first_name, None);
    assert_eq!(lead.version, 1);
    // The browser key's "evt-1" is not the server key's: it is applied, and answered in its own shape.
    let public = post_once(
        &app,
        json!({"email": "other@example.com"}),
        Caller::Public,
        "evt-1",
    )
    .await
    .expect("public");
    assert!(!public.replayed);
    assert_eq!(public.response.status, 202);
    assert!(
        !public.response.body.contains(&lead.id.to_string()),
        "never the server response"
    );
    // A new key applies.
    let next = post_once(
        &app,
        json!({"email": "once@example.com", "stage": "Paid"}),
        Caller::Server,
        "evt-2",
    )
    .await
    .expect("next");
    assert!(!next.replayed);
    assert_eq!(next.response.status, 200);
    assert_eq!(
        by_email(&app, "once@example.com")
            .await
            .expect("lead")
            .stage,
        stage("Paid")
    );
    assert_counters_exact(&app).await;
}

/// Claims at the store: exclusive while leased, taken over after the lease, answered once done, free again
/// after expiry or release.
pub async fn idempotency_claims_expire_lease_and_release(app: Leadpipe) {
    let store = &app.store;
    let t0 = Utc::now();
    let s = |secs: i64| t0 + chrono::Duration::seconds(secs);
    let day = 86_400;
    assert_eq!(
        store
            .claim_idempotency("server#k", t0, s(30), s(day))
            .await
            .expect("claim"),
        IdempotencyClaim::Claimed
    );
    assert_eq!(
        store
            .claim_idempotency("server#k", s(1), s(31), s(day + 1))
            .await
            .expect("claim"),
        IdempotencyClaim::InProgress
    );
    // The claimant died: once its lease ran out another request takes the key over.
    assert_eq!(
        store
            .claim_idempotency("server#k", s(31), s(61), s(day + 31))
            .await
            .expect("claim"),
        IdempotencyClaim::Claimed
    );
    let response = StoredResponse {
        status: 201,
        body: r#"{"lead_id":"x"}"#.into(),
    };
    store
        .complete_idempotency("server#k", &response, s(day + 31))
        .await
        .expect("complete");
    assert_eq!(
        store
            .claim_idempotency("server#k", s(100), s(130), s(day + 100))
            .await
            .expect("claim"),
        IdempotencyClaim::Done(response.clone())
    );
    // A response stays however old its lease; a release does not remove it.
    store
        .release_idempotency("server#k")
        .await
        .expect("release");
    assert_eq!(
        store
            .claim_idempotency("server#k", s(5000), s(5030), s(day + 5000))
            .await
            .expect("claim"),
        IdempotencyClaim::Done(response)
    );
    // After a day the key is new again.
    assert_eq!(
        store
            .claim_idempotency("server#k", s(day + 32), s(day + 62), s(2 * day))
            .await
            .expect("claim"),
        IdempotencyClaim::Claimed
    );
    // Another tier's key is another key; a released claim is free at once.
    assert_eq!(
        store
            .claim_idempotency("public#k", t0, s(30), s(day))
            .await
            .expect("claim"),
        IdempotencyClaim::Claimed
    );
    store
        .release_idempotency("public#k")
        .await
        .expect("release");
    assert_eq!(
        store
            .claim_idempotency("public#k", s(1), s(31), s(day))
            .await
            .expect("claim"),
        IdempotencyClaim::Claimed
    );
}

/// 40 simultaneous repeats of one event (each would create a lead: no email) create exactly one lead; every
/// repeat answers its response or, if it gave up waiting for it, "in progress" — and a later repeat gets it.
pub async fn concurrent_repeats_of_one_event_apply_once(app: Leadpipe) {
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                post_once(
                    &app,
                    json!({"first_name": "Try"}),
                    Caller::Server,
                    "evt-race",
                )
                .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        match t.await.expect("task") {
            Ok(answer) => answers.push(answer),
            Err(ServiceError::InProgress) => {}
            Err(e) => panic!("a repeat failed: {e}"),
        }
    }
    answers.push(
        post_once(
            &app,
            json!({"first_name": "Try"}),
            Caller::Server,
            "evt-race",
        )
        .await
        .expect("a later repeat"),
    );
    assert_eq!(
        answers.iter().filter(|a| !a.replayed).count(),
        1,
        "applied exactly once"
    );
    let bodies: BTreeSet<&str> = answers.iter().map(|a| a.response.body.as_str()).collect();
    assert_eq!(bodies.len(), 1, "every repeat answers the first response");
    assert!(answers.iter().all(|a| a.response.status == 201));
    assert_eq!(all_leads(&app).await.len(), 1, "one lead");
    assert_counters_exact(&app).await;
}

/// Recomputes the revenue of `leads` independently of counters: orders with a value that are not removed,
/// grouped by (order day, currency) — the grouping every money figure converts by — converted with `rates`.
/// Returns the converted total and what had no rate, per currency. `keep` picks the leads of a row.
pub fn revenue_recomputed(
    leads: &[Lead],
    rates: &leadpipe_core::domain::spend::Rates,
    tz: &leadpipe_core::domain::ReportingZone,
    range: (chrono::NaiveDate, chrono::NaiveDate),
    keep: impl Fn(&Lead) -> bool,
) -> (i64, std::collections::BTreeMap<String, i64>) {
    use leadpipe_core::domain::money::Currency;
    let mut sums: std::collections::BTreeMap<(chrono::NaiveDate, Currency), i128> =
        Default::default();
    for lead in leads.iter().filter(|l| l.quarantine.is_none() && keep(l)) {
        for order in lead.orders.iter().filter(|o| o.removed_at.is_none()) {
            let Some(m) = order.value else { continue };
            let day = tz.local_date(order.at);
            if range.0 <= day && day <= range.1 {
                *sums.entry((day, m.currency)).or_default() += i128::from(m.minor);
            }
        }
    }
    let mut total = 0i128;
    let mut apart: std::collections::BTreeMap<String, i64> = Default::default();
    for ((day, currency), minor) in sums {
        match rates.convert(minor, currency, day) {
            Some(v) => total += v,
            None => *apart.entry(currency.to_string()).or_default() += minor as i64,
        }
    }
    apart.retain(|_, m| *m != 0);
    (total as i64, apart)
}

/// Orders from server postbacks (a repeat order id, a refund, a value kept apart, three currencies) and admin
/// edits: the counters equal a recount, and every revenue figure (the range, each campaign, the board's columns)
/// equals a recomputation from the stored leads' orders.
pub async fn revenue_equals_a_recomputation_from_orders(app: Leadpipe) {
    let campaigns = ["spring", "fall", "summer"];
    let currencies = ["USD", "JPY", "BHD"];
    let values = ["49.99", "1500", "1.234"];
    let mut ids = Vec::new();
    for i in 0..9 {
        let o = ok(
            &app,
            json!({"email": format!("m{i}@example.com"), "campaign": campaigns[i % 3], "stage": if i % 2 == 0 { "Paid" } else { "New" },
                   "value": values[i % 3], "currency": currencies[i % 3], "order_id": format!("o{i}")}),
        )
        .await;
        ids.push(o.lead_id);
    }
    // A repeat order id replaces; a second order adds; a refund subtracts; a bad value is kept apart.
    ok(
        &app,
        json!({"lead_id": ids[0].to_string(), "value": 59, "currency": "USD", "order_id": "o0"}),
    )
    .await;
    ok(&app, json!({"lead_id": ids[0].to_string(), "value": "10.01", "currency": "USD", "order_id": "o0b"})).await;
    ok(
        &app,
        json!({"lead_id": ids[3].to_string(), "value": -5, "currency": "USD", "order_id": "r3"}),
    )
    .await;
    ok(
        &app,
        json!({"lead_id": ids[4].to_string(), "value": "12,x", "currency": "JPY"}),
    )
    .await;
    use leadpipe_core::domain::money::{Currency, Money};
    use leadpipe_core::domain::orders::OrderEdit;
    let usd = Currency::parse("USD").expect("USD");
    app.edit_order(
        ids[6],
        OrderEdit::Put {
            order_id: None,
            value: Money {
                minor: 700,
                currency: usd,
            },
        },
    )
    .await
    .expect("admin adds an order");
    app.edit_order(
        ids[1],
        OrderEdit::Remove {
            order_id: "o1".into(),
        },
    )
    .await
    .expect("admin removes an order");
    app.move_stage(ids[2], &stage("Completed")).await.unwrap();
    app.delete_lead(ids[8]).await.unwrap();
    let stored = app.store.get(ids[0]).await.unwrap().expect("lead");
    assert_eq!(
        stored.orders.len(),
        2,
        "a repeat order id replaces, never adds"
    );
    assert_eq!(stored.orders[0].value.map(|m| m.minor), Some(5900));
    assert_counters_exact(&app).await;

    let now = Utc::now();
    let range = app.default_range(now);
    // JPY has a rate from the range's start (BHD has none: it stays apart); spend in two currencies, one of them
    // without a rate, for two of the three campaigns and one with no leads.
    use leadpipe_core::domain::money::Rate;
    use leadpipe_core::domain::spend::{RateRow, SpendRow};
    let jpy = Currency::parse("JPY").expect("JPY");
    let eur = Currency::parse("EUR").expect("EUR");
    app.store
        .put_rates(&[RateRow {
            day: range.from,
            currency: jpy,
            rate: Rate::parse("0.0067").expect("rate"),
        }])
        .await
        .expect("rates");
    let spend_row = |campaign: &str, minor: i64, currency: Currency| SpendRow {
        day: range.to,
        source: "google".into(),
        campaign: campaign.into(),
        domain: None,
        amount: Money { minor, currency },
        clicks: Some(3),
        impressions: None,
    };
    let spend = vec![
        spend_row("spring", 2500, usd),
        spend_row("fall", 120_000, jpy),
        spend_row("winter", 999, usd),
        SpendRow {
            domain: Some("example.com".into()),
            ..spend_row("spring", 700, eur)
        },
    ];
    app.store.put_spend(&spend).await.expect("spend");
    let leads = all_leads(&app).await;
    let rates = app.rates().await.expect("rates");
    let spend_recomputed = |keep: &dyn Fn(&SpendRow) -> bool| {
        let mut total = 0i128;
        let mut apart: std::collections::BTreeMap<String, i64> = Default::default();
        for r in spend.iter().filter(|r| keep(r)) {
            match rates.convert(i128::from(r.amount.minor), r.amount.currency, r.day) {
                Some(v) => total += v,
                None => *apart.entry(r.amount.currency.to_string()).or_default() += r.amount.minor,
            }
        }
        (total as i64, apart)
    };
    let tz = &app.settings.time_zone;
    let bounds = (range.from, range.to);
    let analytics = app.analytics(Some(range), now).await.unwrap();
    let (total, apart) = revenue_recomputed(&leads, &rates, tz, bounds, |_| true);
    let money = &analytics.current.money;
    assert_eq!(money.revenue.minor, total);
    let shown: std::collections::BTreeMap<String, i64> = money
        .revenue_not_converted
        .iter()
        .map(|a| (a.currency.to_string(), a.minor))
        .collect();
    assert_eq!(shown, apart);
    assert_eq!(money.orders_kept_apart, 1);
    let orders = leads
        .iter()
        .flat_map(|l| &l.orders)
        .filter(|o| o.removed_at.is_none() && o.value.is_some())
        .count() as i64;
    assert_eq!(money.orders, orders);
    let (spent, spend_apart) = spend_recomputed(&|_| true);
    assert_eq!(money.spend.as_ref().map(|a| a.minor), Some(spent));
    let shown: std::collections::BTreeMap<String, i64> = money
        .spend_not_converted
        .iter()
        .map(|a| (a.currency.to_string(), a.minor))
        .collect();
    assert_eq!(shown, spend_apart);
    // Spend in a currency without a rate is never taken as 0: the figures that need it are absent ("—").
    let complete = spend_apart.is_empty();
    assert_eq!(
        money.profit.as_ref().map(|a| a.minor),
        complete.then_some(total - spent)
    );
    assert!(!money.revenue_not_converted.is_empty(), "BHD has no rate");
    let breakdown = app
        .breakdown(
            leadpipe_core::domain::counters::Dim::Campaign,
            leadpipe_core::domain::counters::Touch::First,
            range,
        )
        .await
        .unwrap();
    for row in &breakdown.rows {
        let (total, apart) = revenue_recomputed(&leads, &rates, tz, bounds, |l| {
            l.first_touch.campaign.as_deref() == Some(row.value.as_str())
        });
        assert_eq!(row.money.revenue.minor, total, "campaign {}", row.value);
        let shown: std::collections::BTreeMap<String, i64> = row
            .money
            .revenue_not_converted
            .iter()
            .map(|a| (a.currency.to_string(), a.minor))
            .collect();
        assert_eq!(shown, apart, "campaign {}", row.value);
        let has_spend = spend.iter().any(|r| r.campaign == row.value);
        let (spent, spend_apart) = spend_recomputed(&|r| r.campaign == row.value);
        assert_eq!(
            row.money.spend.as_ref().map(|a| a.minor),
            has_spend.then_some(spent),
            "campaign {}",
            row.value
        );
        let cpl = (has_spend && spend_apart.is_empty())
            .then(|| leadpipe_core::domain::money_report::divide(spent, row.leads))
            .flatten();
        assert_eq!(
            row.money.cpl.as_ref().map(|a| a.minor),
            cpl,
            "campaign {}",
            row.value
        );
    }
    let winter = breakdown
        .rows
        .iter()
        .find(|r| r.value == "winter")
        .expect("spend without leads shows");
    assert_eq!((winter.leads, winter.money.cpl.clone()), (0, None));
    assert_eq!(breakdown.rows.len(), 4);
    // The board: each column's leads with revenue, and their revenue at today's rates (here only the reporting
    // currency has a rate, so the rest is listed apart per currency).
    let pipeline = app.pipeline_value(now).await.unwrap();
    let today = tz.local_date(now);
    for column in &pipeline.stages {
        let in_stage: Vec<&Lead> = leads.iter().filter(|l| l.stage == column.stage).collect();
        let mut by_currency: std::collections::BTreeMap<Currency, i128> = Default::default();
        let mut with_revenue = 0;
        for l in &in_stage {
            let revenue = leadpipe_core::domain::orders::revenue_by_currency(l);
            with_revenue += i64::from(!revenue.is_empty());
            for m in revenue {
                *by_currency.entry(m.currency).or_default() += i128::from(m.minor);
            }
        }
        let mut value = 0i128;
        let mut apart = std::collections::BTreeMap::new();
        for (c, minor) in by_currency {
            match rates.convert(minor, c, today) {
                Some(v) => value += v,
                None if minor != 0 => {
                    apart.insert(c.to_string(), minor as i64);
                }
                None => {}
            }
        }
        assert_eq!(column.leads_with_revenue, with_revenue, "{}", column.stage);
        assert_eq!(i128::from(column.value.minor), value, "{}", column.stage);
        let shown: std::collections::BTreeMap<String, i64> = column
            .not_converted
            .iter()
            .map(|a| (a.currency.to_string(), a.minor))
            .collect();
        assert_eq!(shown, apart, "{}", column.stage);
    }
    let paid = pipeline
        .stages
        .iter()
        .find(|s| s.stage.as_str() == "Paid")
        .expect("Paid column");
    assert!(
        paid.value.minor > 0 && paid.leads_with_revenue > 0,
        "the test has money in the Paid column"
    );
}
