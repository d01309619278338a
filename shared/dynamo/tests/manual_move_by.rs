//! Who moved a lead by hand (`StageChange::by`) in DynamoDB items: stored compatibly both ways (items without it
//! decode; readers that ignore it still decode items with it), and a realistic moved lead stays under 1 KB.

use leadpipe_core::domain::merge::{apply_manual_move, new_lead, Access};
use leadpipe_core::domain::{Pipeline, Postback, StageChange};
use leadpipe_dynamo::codec::{
    history_from_item, history_item, lead_item, lead_record_from_item, realistic_body, LeadRecord,
    VersionedChange,
};
use uuid::Uuid;

fn moved_record(by: Option<&str>) -> LeadRecord {
    let p = Pipeline::default();
    let pb = Postback::parse(realistic_body().to_string().as_bytes(), &p, None)
        .expect("postback")
        .postback;
    let now = leadpipe_core::service::now();
    let created = new_lead(&pb, &p, Uuid::new_v4(), now, &Access::Full);
    let paid = p.stage("Paid").expect("stage");
    let mut moved = apply_manual_move(&created.lead, &paid, &p, now);
    let mut change = moved.history.take().expect("moved");
    change.by = by.map(str::to_string);
    moved.lead.version = 2;
    LeadRecord {
        created: created.history.expect("created"),
        last_change: Some(VersionedChange { version: 2, change }),
        lead: moved.lead,
    }
}

#[test]
fn a_manually_moved_lead_keeps_who_and_stays_under_one_kilobyte() {
    let record = moved_record(Some("ana.maria.longname@example-company.com"));
    let item = lead_item(&record).expect("item");
    let size = leadpipe_dynamo::size::item_size(&item);
    assert!(size < 1024, "moved lead item is {size} B");
    let back = lead_record_from_item(&item).expect("decodes");
    assert_eq!(back, record);
    assert_eq!(
        back.last_change.expect("change").change.by.as_deref(),
        Some("ana.maria.longname@example-company.com")
    );
}

#[test]
fn history_items_with_and_without_who_decode() {
    let change = moved_record(Some("key:ADMIN_API_KEY"))
        .last_change
        .expect("change")
        .change;
    let id = Uuid::new_v4();
    let item = history_item(id, 2, &change).expect("item");
    assert!(item.contains_key("by"));
    assert_eq!(history_from_item(item.clone()).expect("decodes"), change);
    let mut old = item;
    old.remove("by");
    let decoded: StageChange = history_from_item(old).expect("an item written before `by` decodes");
    assert_eq!(decoded.by, None);
    let none = history_item(id, 3, &StageChange { by: None, ..change }).expect("item");
    assert!(!none.contains_key("by"), "postback moves store no `by`");
}

#[test]
fn records_without_who_decode_and_unknown_fields_are_ignored() {
    let json = serde_json::to_value(moved_record(None)).expect("json");
    assert!(json["change"].get("by").is_none());
    let mut with_future = json.clone();
    with_future["change"]["by"] = "ana@example.com".into();
    with_future["change"]["later_field"] = 1.into();
    let r: LeadRecord = serde_json::from_value(with_future).expect("decodes");
    assert_eq!(
        r.last_change.expect("change").change.by.as_deref(),
        Some("ana@example.com")
    );
    let r: LeadRecord = serde_json::from_value(json).expect("decodes");
    assert_eq!(r.last_change.expect("change").change.by, None);
}
