use super::*;
use serde_json::json;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
}

fn entry(time: &str) -> AuditEntry {
    AuditEntry::new(
        at(time),
        Actor::admin_key(),
        Some("203.0.113.9".into()),
        AuditAction::LeadDeleted,
        "lead-1",
        json!({"stage": "New"}),
    )
}

#[test]
fn actions_round_trip_their_names() {
    for a in AuditAction::ALL {
        assert_eq!(AuditAction::parse(a.as_str()), Some(*a));
        assert_eq!(serde_json::to_value(a).unwrap(), json!(a.as_str()));
    }
    assert_eq!(AuditAction::ALL.len(), 35);
    assert_eq!(AuditAction::LeadStageMoved.as_str(), "lead.stage_moved");
    assert_eq!(AuditAction::SignInFailed.as_str(), "auth.sign_in_failed");
    assert_eq!(AuditAction::parse("lead.moved"), None);
}

#[test]
fn ids_are_v7_and_sort_by_time() {
    let a = entry("2026-12-07T10:00:00.001Z");
    let b = entry("2026-12-07T10:00:00.002Z");
    let c = entry("2026-12-08T00:00:00Z");
    assert_eq!(a.id.get_version_num(), 7);
    assert!(a.id < b.id && b.id < c.id);
    assert!(a.id.to_string() < b.id.to_string());
    assert_eq!(day_of_id(c.id), Some(c.day()));
    assert_eq!(day_of_id(a.id), Some(today()));
    assert_eq!(day_of_id(Uuid::new_v4()), None);
    assert!(a.shard() < SHARDS);
}

#[test]
fn entries_expire_after_the_retention() {
    let e = entry("2026-01-01T00:00:00Z");
    assert_eq!(e.expires_at(400), at("2027-02-05T00:00:00Z"));
}

#[test]
fn summaries_and_targets_are_capped() {
    let long = "x".repeat(5000);
    let e = AuditEntry::new(
        at("2026-12-07T10:00:00Z"),
        Actor::open(),
        None,
        AuditAction::LeadsExported,
        &format!("a\u{0}b{long}"),
        json!({"filter": long}),
    );
    assert!(e.target.len() <= MAX_TARGET_BYTES);
    assert!(e.target.starts_with("ab"));
    assert!(e.summary["filter"].as_str().unwrap().len() <= MAX_SUMMARY_TEXT_BYTES);
    let many: Vec<String> = (0..20).map(|i| format!("{i}{}", "y".repeat(150))).collect();
    let big = cap_summary(json!({ "ids": many }));
    assert_eq!(big["truncated"], json!(true));
    assert_eq!(cap_summary(json!({"a": 1})), json!({"a": 1}));
    assert_eq!(
        AuditEntry::new(
            e.at,
            Actor::open(),
            None,
            AuditAction::SettingsChanged,
            " ",
            json!(null)
        )
        .target,
        "-"
    );
}

#[test]
fn queries_default_to_the_last_week() {
    let q = AuditQuery::parse(&[], today()).unwrap();
    assert_eq!((q.from, q.to), (today() - Duration::days(6), today()));
    assert_eq!(q.limit, DEFAULT_PAGE);
    let q = AuditQuery::parse(
        &params(&[
            ("from", "2026-12-01"),
            ("to", "2026-12-03"),
            ("actor", "Ana@Example.com"),
            ("action", "lead.deleted"),
            ("target", "abc"),
            ("limit", "10"),
        ]),
        today(),
    )
    .unwrap();
    assert_eq!(q.actor.as_deref(), Some("ana@example.com"));
    assert_eq!(q.action, Some(AuditAction::LeadDeleted));
    assert_eq!(q.limit, 10);
    assert_eq!(q.to, NaiveDate::from_ymd_opt(2026, 12, 3).unwrap());
}

#[test]
fn bad_queries_name_the_parameter() {
    let field = |pairs: &[(&str, &str)]| match AuditQuery::parse(&params(pairs), today()) {
        Err(AuditQueryError::Invalid { field, .. }) => field,
        Err(AuditQueryError::UnknownParameter(_)) => "unknown",
        Ok(_) => "ok",
    };
    assert_eq!(field(&[("from", "yesterday")]), "from");
    assert_eq!(field(&[("to", "2026-13-01")]), "to");
    assert_eq!(field(&[("from", "2026-12-05"), ("to", "2026-12-01")]), "to");
    assert_eq!(field(&[("from", "2026-01-01")]), "from");
    assert_eq!(field(&[("action", "lead.nuked")]), "action");
    assert_eq!(field(&[("limit", "0")]), "limit");
    assert_eq!(field(&[("limit", "100000")]), "limit");
    assert_eq!(field(&[("cursor", "nope")]), "cursor");
    assert_eq!(field(&[("cursor", &Uuid::new_v4().to_string())]), "cursor");
    assert_eq!(field(&[("target", "a\u{1}")]), "target");
    assert_eq!(field(&[("sort", "x")]), "unknown");
    assert_eq!(field(&[("cursor", "")]), "ok");
}

#[test]
fn filters_and_cursor_match_entries() {
    let a = entry("2026-12-05T10:00:00Z");
    let b = entry("2026-12-06T10:00:00Z");
    let mut q = AuditQuery::recent(today(), 7);
    assert!(q.matches(&a));
    q.cursor = Some(b.id);
    assert!(q.matches(&a) && !q.matches(&b));
    assert_eq!(q.first_day(), b.day());
    q.actor = Some("key:admin_api_key".into());
    assert!(q.matches(&a));
    q.actor = Some("ana@example.com".into());
    assert!(!q.matches(&a));
    q.actor = None;
    q.action = Some(AuditAction::LeadStageMoved);
    assert!(!q.matches(&a));
    q.action = None;
    q.target = Some("lead-2".into());
    assert!(!q.matches(&a));
}
