//! Rows about one lead, merged in file order before they are applied, so that a file applied twice changes
//! nothing: applied one by one, two rows with different phones for one person would flip the lead back and forth
//! on every import ("updated" each time); merged, the later row's values win once and a second import finds the
//! lead holding them ("unchanged").
//!
//! Rows are grouped by `lead_id`, else by email (a row with an id joins the group of its email when that group has
//! no other id). Merging keeps what applying the rows one by one would leave: later values overwrite earlier ones,
//! custom data is merged key by key, first touch keeps the earliest, the lead moves to the furthest stage (or to
//! the last forced one), and each stage keeps the earliest time it was reached. Rows that each carry an order are
//! not merged (a record carries one order), and neither are rows naming two different lead ids.

use std::collections::HashMap;

use super::import::{attribution_text, ImportRecord};
use super::stage::Pipeline;

/// The rows of one lead within a file: their line numbers and the merged record.
#[derive(Debug, Clone)]
pub struct RowGroup {
    /// The lines merged into this group, in file order.
    pub lines: Vec<usize>,
    /// The rows merged.
    pub record: ImportRecord,
}

/// Groups validated rows by the lead they are about, in order of each group's first line.
#[derive(Debug, Default)]
pub struct Grouper {
    groups: Vec<RowGroup>,
    by_id: HashMap<uuid::Uuid, usize>,
    by_email: HashMap<String, usize>,
}

impl Grouper {
    /// Adds a row: merged into the group of the lead it is about, or a new group.
    pub fn add(&mut self, line: usize, rec: ImportRecord, pipeline: &Pipeline) {
        let id = rec.postback.lead_id;
        let email = rec.postback.email.as_ref().map(|e| e.as_str().to_string());
        let found = id
            .and_then(|i| self.by_id.get(&i).copied())
            .or_else(|| email.as_ref().and_then(|e| self.by_email.get(e).copied()));
        let target = found.filter(|&g| mergeable(&self.groups[g].record, &rec));
        let g = match target {
            Some(g) => {
                let group = &mut self.groups[g];
                group.lines.push(line);
                absorb(&mut group.record, rec, pipeline);
                g
            }
            None => {
                self.groups.push(RowGroup {
                    lines: vec![line],
                    record: rec,
                });
                self.groups.len() - 1
            }
        };
        if let Some(i) = id {
            self.by_id.entry(i).or_insert(g);
        }
        if let Some(e) = email {
            self.by_email.entry(e).or_insert(g);
        }
    }

    /// How many groups are held.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no group is held.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The groups, in order of their first line, leaving the grouper empty.
    pub fn take(&mut self) -> Vec<RowGroup> {
        self.by_id.clear();
        self.by_email.clear();
        std::mem::take(&mut self.groups)
    }
}

/// Whether `later` may be merged into `earlier`: not two different lead ids, not two orders.
fn mergeable(earlier: &ImportRecord, later: &ImportRecord) -> bool {
    let ids_agree = match (earlier.postback.lead_id, later.postback.lead_id) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    ids_agree && !(earlier.postback.order.is_some() && later.postback.order.is_some())
}

/// Merges `later` into `merged` as applying it after the earlier rows would.
fn absorb(merged: &mut ImportRecord, later: ImportRecord, pipeline: &Pipeline) {
    // A new lead's first touch is its first row's: keep the earlier text before the later row overwrites it.
    merged.first_touch.fill_from(&merged.postback.text);
    let (m, l) = (&mut merged.postback, later.postback);
    m.lead_id = m.lead_id.or(l.lead_id);
    if l.email.is_some() {
        m.email = l.email;
    }
    m.text.overwrite_with(&l.text);
    if l.form_completion_percent.is_some() {
        m.form_completion_percent = l.form_completion_percent;
    }
    if l.form_fields_completed.is_some() {
        m.form_fields_completed = l.form_fields_completed;
    }
    if l.form_fields_total.is_some() {
        m.form_fields_total = l.form_fields_total;
    }
    if let Some(cd) = l.custom_data {
        m.custom_data
            .get_or_insert_with(Default::default)
            .extend(cd);
    }
    if l.order.is_some() {
        m.order = l.order;
    }
    // The stage: a forced row sets it; otherwise the furthest one wins (rows never move a lead back unforced).
    if let Some(stage) = l.stage {
        let further = match (&m.stage, pipeline.index_of(&stage)) {
            (None, _) => true,
            (Some(cur), Some(t)) => pipeline.index_of(cur).is_none_or(|c| t > c),
            (Some(cur), None) => *cur != stage,
        };
        if l.force_stage || further {
            m.stage = Some(stage);
            m.force_stage = m.force_stage || l.force_stage;
            if later.stage_entered_at.is_some() {
                merged.stage_entered_at = later.stage_entered_at;
            }
        }
    }
    merged.created_at = match (merged.created_at, later.created_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    for (stage, t) in later.reached {
        let e = merged.reached.entry(stage).or_insert(t);
        *e = (*e).min(t);
    }
    merged
        .first_touch
        .fill_from(&attribution_text(&later.first_touch));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::import::ImportRecord;
    use crate::domain::zone::ReportingZone;
    use chrono::Utc;
    use serde_json::{json, Value};

    fn rec(v: Value) -> ImportRecord {
        let Value::Object(obj) = v else {
            panic!("object")
        };
        ImportRecord::parse(obj, &Pipeline::default(), &ReportingZone::utc(), Utc::now())
            .expect("valid row")
    }

    #[test]
    fn rows_about_one_person_merge_in_file_order() {
        let p = Pipeline::default();
        let mut g = Grouper::default();
        g.add(
            2,
            rec(json!({"email": "a@x.com", "phone": "111", "stage": "Paid", "source": "google"})),
            &p,
        );
        g.add(3, rec(json!({"email": "b@x.com", "phone": "222"})), &p);
        g.add(4, rec(json!({"email": "A@x.com", "phone": "333", "stage": "New", "source": "bing", "custom_data": {"k": "v"}})), &p);
        let groups = g.take();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].lines, [2, 4]);
        let r = &groups[0].record;
        assert_eq!(
            r.postback.text.phone.as_deref(),
            Some("333"),
            "the later value wins"
        );
        assert_eq!(
            r.postback.stage.as_ref().map(|s| s.as_str()),
            Some("Paid"),
            "never back unforced"
        );
        assert_eq!(
            r.first_touch.source.as_deref(),
            Some("google"),
            "first touch is the earliest"
        );
        assert_eq!(r.postback.custom_data.as_ref().unwrap()["k"], "v");
        assert!(g.is_empty());
    }

    #[test]
    fn two_lead_ids_or_two_orders_stay_apart() {
        let p = Pipeline::default();
        let mut g = Grouper::default();
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        g.add(
            2,
            rec(json!({"lead_id": a.to_string(), "email": "a@x.com"})),
            &p,
        );
        g.add(
            3,
            rec(json!({"lead_id": b.to_string(), "email": "a@x.com"})),
            &p,
        );
        g.add(
            4,
            rec(json!({"email": "o@x.com", "value": "10.00", "currency": "USD", "order_id": "1"})),
            &p,
        );
        g.add(
            5,
            rec(json!({"email": "o@x.com", "value": "20.00", "currency": "USD", "order_id": "2"})),
            &p,
        );
        g.add(6, rec(json!({"email": "o@x.com", "phone": "555"})), &p);
        let groups = g.take();
        let lines: Vec<_> = groups.iter().map(|g| g.lines.clone()).collect();
        assert_eq!(lines, [vec![2], vec![3], vec![4, 6], vec![5]]);
    }

    #[test]
    fn a_forced_later_stage_wins() {
        let p = Pipeline::default();
        let mut g = Grouper::default();
        g.add(2, rec(json!({"email": "a@x.com", "stage": "Paid"})), &p);
        g.add(
            3,
            rec(json!({"email": "a@x.com", "stage": "New", "force_stage": true})),
            &p,
        );
        let groups = g.take();
        assert_eq!(
            groups[0].record.postback.stage.as_ref().map(|s| s.as_str()),
            Some("New")
        );
    }
}
