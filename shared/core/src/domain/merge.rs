//! The pure rules that turn a postback or a manual move into a lead's next state.
//!
//! Merging never fails: a postback that identifies a lead is stored, and whatever part of it cannot be applied to
//! the stored lead (a completed-field count above the total, custom data past its limits) is left out and
//! reported as a [`Warning`].

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::lead::{Attribution, Lead, StageChange, Via};
use super::postback::{check_custom_data, Postback, MAX_CUSTOM_DATA_BYTES, MAX_CUSTOM_DATA_KEYS};
use super::stage::{Pipeline, Stage};
use super::warning::{Warning, WarningCode};

/// A lead's next state and what changed on the way there.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The lead to store (its `version` already incremented when `modified`).
    pub lead: Lead,
    /// The history entry to record, when the stage changed.
    pub history: Option<StageChange>,
    /// False when nothing at all changed: then nothing needs to be written.
    pub modified: bool,
    /// What was left out, and why.
    pub warnings: Vec<Warning>,
}

impl Applied {
    /// Whether the stage changed.
    pub fn stage_changed(&self) -> bool {
        self.history.is_some()
    }
}

/// A new lead from its first postback: the given stage, or the pipeline's first.
pub fn new_lead(pb: &Postback, pipeline: &Pipeline, id: Uuid, now: DateTime<Utc>) -> Applied {
    let stage = pb.stage.clone().unwrap_or_else(|| pipeline.first().clone());
    let mut first_touch = Attribution::default();
    first_touch.fill_from(&pb.text);
    let mut lead = Lead {
        id,
        email: pb.email.clone(),
        stage: stage.clone(),
        text: pb.text.clone(),
        form_completion_percent: pb.form_completion_percent,
        form_fields_completed: pb.form_fields_completed,
        form_fields_total: pb.form_fields_total,
        custom_data: pb.custom_data.clone().unwrap_or_default(),
        first_touch,
        created_at: now,
        updated_at: now,
        stage_entered_at: now,
        stage_reached_at: Default::default(),
        quarantine: None,
        version: 1,
    };
    mark_reached(&mut lead, pipeline, now);
    let history = StageChange { from: None, to: stage, at: now, via: Via::Postback, forced: false };
    Applied { lead, history: Some(history), modified: true, warnings: Vec::new() }
}

/// Merges a postback into an existing lead: present fields overwrite, absent ones stay, `custom_data` merges by key,
/// first-touch attribution is only filled in, and the stage only moves forward unless `force_stage` is set.
pub fn apply_postback(existing: &Lead, pb: &Postback, pipeline: &Pipeline, now: DateTime<Utc>) -> Applied {
    let mut lead = existing.clone();
    let mut warnings = Vec::new();
    if let Some(email) = &pb.email {
        lead.email = Some(email.clone());
    }
    lead.text.overwrite_with(&pb.text);
    lead.first_touch.fill_from(&pb.text);
    if pb.form_completion_percent.is_some() {
        lead.form_completion_percent = pb.form_completion_percent;
    }
    merge_field_counts(&mut lead, existing, pb, &mut warnings);
    if let Some(extra) = &pb.custom_data {
        merge_custom_data(&mut lead.custom_data, extra, &mut warnings);
    }
    let history = match &pb.stage {
        Some(target) => match direction(pipeline, &lead.stage, target) {
            Direction::Same => None,
            Direction::Forward => Some(move_to(&mut lead, target, Via::Postback, false, pipeline, now)),
            Direction::Backward if pb.force_stage => Some(move_to(&mut lead, target, Via::Postback, true, pipeline, now)),
            Direction::Backward => None,
        },
        None => None,
    };
    finish(existing, lead, history, warnings, now)
}

/// A marketer's move to `target`, allowed in either direction; backward moves are marked `forced`.
pub fn apply_manual_move(existing: &Lead, target: &Stage, pipeline: &Pipeline, now: DateTime<Utc>) -> Applied {
    let mut lead = existing.clone();
    let history = match direction(pipeline, &lead.stage, target) {
        Direction::Same => None,
        Direction::Forward => Some(move_to(&mut lead, target, Via::Manual, false, pipeline, now)),
        Direction::Backward => Some(move_to(&mut lead, target, Via::Manual, true, pipeline, now)),
    };
    finish(existing, lead, history, Vec::new(), now)
}

/// Applies the postback's field counts unless the result would have more fields completed than in all; then the
/// postback's conflicting count is left out with a warning.
fn merge_field_counts(lead: &mut Lead, existing: &Lead, pb: &Postback, warnings: &mut Vec<Warning>) {
    let completed = pb.form_fields_completed.or(existing.form_fields_completed);
    let total = pb.form_fields_total.or(existing.form_fields_total);
    match (completed, total) {
        (Some(c), Some(t)) if c > t => {
            let field = if pb.form_fields_completed.is_some() { "form_fields_completed" } else { "form_fields_total" };
            warnings.push(Warning::new(
                field,
                WarningCode::Dropped,
                format!("form_fields_completed ({c}) would be larger than form_fields_total ({t}); {field} was not stored"),
            ));
            if pb.form_fields_completed.is_none() {
                lead.form_fields_completed = existing.form_fields_completed;
                lead.form_fields_total = existing.form_fields_total;
            } else {
                lead.form_fields_total = total;
            }
        }
        _ => {
            lead.form_fields_completed = completed;
            lead.form_fields_total = total;
        }
    }
}

/// Merges custom data key by key; a key that would take the lead past the custom-data limits is left out.
fn merge_custom_data(stored: &mut Map<String, Value>, extra: &Map<String, Value>, warnings: &mut Vec<Warning>) {
    let mut left_out = Vec::new();
    for (k, v) in extra {
        let previous = stored.insert(k.clone(), v.clone());
        if check_custom_data(stored).is_err() {
            match previous {
                Some(p) => stored.insert(k.clone(), p),
                None => stored.remove(k),
            };
            left_out.push(k.clone());
        }
    }
    if !left_out.is_empty() {
        warnings.push(Warning::new(
            "custom_data",
            WarningCode::Dropped,
            format!(
                "{} custom_data key(s) left out: a lead keeps at most {MAX_CUSTOM_DATA_KEYS} keys and {MAX_CUSTOM_DATA_BYTES} bytes of custom_data",
                left_out.len()
            ),
        ));
    }
}

fn finish(existing: &Lead, mut lead: Lead, history: Option<StageChange>, warnings: Vec<Warning>, now: DateTime<Utc>) -> Applied {
    let modified = lead != *existing;
    if modified {
        lead.updated_at = now;
        lead.version = existing.version + 1;
    }
    Applied { lead, history, modified, warnings }
}

enum Direction {
    Same,
    Forward,
    Backward,
}

/// Compares stages by pipeline position; a current stage no longer in the pipeline lets any move count as forward.
fn direction(pipeline: &Pipeline, current: &Stage, target: &Stage) -> Direction {
    if current == target {
        return Direction::Same;
    }
    match (pipeline.index_of(current), pipeline.index_of(target)) {
        (Some(c), Some(t)) if t < c => Direction::Backward,
        _ => Direction::Forward,
    }
}

fn move_to(lead: &mut Lead, target: &Stage, via: Via, forced: bool, pipeline: &Pipeline, now: DateTime<Utc>) -> StageChange {
    let change = StageChange { from: Some(lead.stage.clone()), to: target.clone(), at: now, via, forced };
    lead.stage = target.clone();
    lead.stage_entered_at = now;
    mark_reached(lead, pipeline, now);
    change
}

/// Records `now` as the time the lead reached its current stage and every earlier one it has not reached yet.
fn mark_reached(lead: &mut Lead, pipeline: &Pipeline, now: DateTime<Utc>) {
    if let Some(idx) = pipeline.index_of(&lead.stage) {
        for stage in &pipeline.stages()[..=idx] {
            lead.stage_reached_at.entry(stage.clone()).or_insert(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::email::Email;
    use serde_json::json;

    fn t(s: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + i64::from(s), 0).unwrap()
    }

    fn pb(v: serde_json::Value) -> Postback {
        Postback::parse(v.to_string().as_bytes(), &Pipeline::default()).unwrap()
    }

    fn stage(name: &str) -> Stage {
        Pipeline::default().stage(name).unwrap()
    }

    fn created(v: serde_json::Value) -> Lead {
        new_lead(&pb(v), &Pipeline::default(), Uuid::new_v4(), t(0)).lead
    }

    #[test]
    fn new_lead_starts_at_first_stage_with_creation_history() {
        let a = new_lead(&pb(json!({"email": "a@b.co"})), &Pipeline::default(), Uuid::nil(), t(0));
        assert_eq!(a.lead.stage, "New");
        assert_eq!(a.lead.version, 1);
        let h = a.history.unwrap();
        assert_eq!((h.from, h.to.as_str(), h.via, h.forced), (None, "New", Via::Postback, false));
    }

    #[test]
    fn new_lead_at_later_stage_reaches_the_earlier_ones() {
        let lead = created(json!({"stage": "Application Submitted"}));
        let reached: Vec<_> = lead.stage_reached_at.keys().cloned().collect();
        assert_eq!(reached.len(), 3);
        assert!(reached.contains(&stage("New")) && reached.contains(&stage("Form Started")));
    }

    #[test]
    fn forward_moves_backward_stays_without_force() {
        let p = Pipeline::default();
        let lead = created(json!({"stage": "Form Started", "phone": "1"}));
        let fwd = apply_postback(&lead, &pb(json!({"stage": "Paid"})), &p, t(10));
        assert!(fwd.stage_changed());
        assert_eq!(fwd.lead.stage, "Paid");
        assert_eq!(fwd.lead.stage_entered_at, t(10));
        assert_eq!(fwd.lead.version, 2);

        let back = apply_postback(&fwd.lead, &pb(json!({"stage": "Form Started", "phone": "2"})), &p, t(20));
        assert!(!back.stage_changed());
        assert!(back.modified, "the other fields are still updated");
        assert_eq!(back.lead.stage, "Paid");
        assert_eq!(back.lead.text.phone.as_deref(), Some("2"));

        let forced = apply_postback(&fwd.lead, &pb(json!({"stage": "form started", "force_stage": true})), &p, t(30));
        let h = forced.history.unwrap();
        assert_eq!((h.from.unwrap().as_str(), h.to.as_str(), h.forced), ("Paid", "Form Started", true));
        assert_eq!(forced.lead.stage_reached_at[&stage("Paid")], t(10), "reaching is remembered after a backward move");
    }

    #[test]
    fn repeating_the_same_postback_changes_nothing() {
        let p = Pipeline::default();
        let body = json!({"stage": "Form Started", "phone": "1", "custom_data": {"a": 1}});
        let lead = created(body.clone());
        let again = apply_postback(&lead, &pb(body), &p, t(5));
        assert!(!again.modified && again.history.is_none());
        assert_eq!(again.lead, lead, "no version bump, no updated_at change");
    }

    #[test]
    fn merge_overwrites_present_keeps_absent_and_merges_custom_data() {
        let p = Pipeline::default();
        let lead = created(json!({"first_name": "John", "phone": "1", "custom_data": {"a": 1, "b": 2}}));
        let next = apply_postback(&lead, &pb(json!({"phone": "2", "custom_data": {"b": 3, "c": 4}})), &p, t(1)).lead;
        assert_eq!(next.text.first_name.as_deref(), Some("John"));
        assert_eq!(next.text.phone.as_deref(), Some("2"));
        assert_eq!(serde_json::Value::Object(next.custom_data), json!({"a": 1, "b": 3, "c": 4}));
    }

    #[test]
    fn first_touch_attribution_survives_later_campaigns() {
        let p = Pipeline::default();
        let lead = created(json!({"source": "google", "campaign": "spring", "utm_source": "google"}));
        let next =
            apply_postback(&lead, &pb(json!({"source": "facebook", "campaign": "fall", "referrer": "https://x.test/"})), &p, t(1)).lead;
        assert_eq!(next.text.source.as_deref(), Some("facebook"), "latest value kept");
        assert_eq!(next.first_touch.source.as_deref(), Some("google"), "first touch kept");
        assert_eq!(next.first_touch.campaign.as_deref(), Some("spring"));
        assert_eq!(next.first_touch.referrer.as_deref(), Some("https://x.test/"), "first seen later still counts");
    }

    #[test]
    fn a_completed_count_above_the_stored_total_is_left_out_with_a_warning() {
        let p = Pipeline::default();
        let lead = created(json!({"form_fields_total": 12, "form_fields_completed": 3}));
        let next = apply_postback(&lead, &pb(json!({"form_fields_completed": 13, "phone": "5"})), &p, t(1));
        assert_eq!(next.lead.form_fields_completed, Some(3));
        assert_eq!(next.lead.text.phone.as_deref(), Some("5"), "the rest is stored");
        assert_eq!(next.warnings.len(), 1);
        assert_eq!(next.warnings[0].field, "form_fields_completed");

        let shrink = apply_postback(&lead, &pb(json!({"form_fields_total": 2})), &p, t(1));
        assert_eq!((shrink.lead.form_fields_completed, shrink.lead.form_fields_total), (Some(3), Some(12)));
        assert_eq!(shrink.warnings[0].field, "form_fields_total");
        assert!(!shrink.modified);
    }

    #[test]
    fn custom_data_past_its_limits_is_left_out_key_by_key() {
        let p = Pipeline::default();
        let first: serde_json::Map<_, _> = (0..60).map(|i| (format!("a{i}"), json!(i))).collect();
        let second: serde_json::Map<_, _> = (0..60).map(|i| (format!("b{i}"), json!(i))).collect();
        let lead = created(json!({"custom_data": first}));
        let next = apply_postback(&lead, &pb(json!({"custom_data": second})), &p, t(1));
        assert_eq!(next.lead.custom_data.len(), MAX_CUSTOM_DATA_KEYS);
        assert_eq!(next.warnings.len(), 1);
        assert!(next.warnings[0].message.starts_with("20 custom_data key(s) left out"));
    }

    #[test]
    fn email_change_is_applied() {
        let p = Pipeline::default();
        let lead = created(json!({"email": "a@b.co"}));
        let next = apply_postback(&lead, &pb(json!({"email": "c@d.co"})), &p, t(1)).lead;
        assert_eq!(next.email, Some(Email::parse("c@d.co").unwrap()));
    }

    #[test]
    fn manual_moves_go_both_ways() {
        let p = Pipeline::default();
        let lead = created(json!({"stage": "Paid"}));
        let back = apply_manual_move(&lead, &stage("New"), &p, t(1));
        let h = back.history.clone().unwrap();
        assert_eq!((h.via, h.forced, h.to.as_str()), (Via::Manual, true, "New"));
        let fwd = apply_manual_move(&back.lead, &stage("Completed"), &p, t(2));
        assert!(!fwd.history.unwrap().forced);
        assert!(!apply_manual_move(&fwd.lead, &stage("Completed"), &p, t(3)).modified);
    }

    #[test]
    fn a_stage_dropped_from_the_pipeline_can_move_anywhere() {
        let mut lead = created(json!({}));
        lead.stage = serde_json::from_str("\"Legacy\"").unwrap();
        let next = apply_postback(&lead, &pb(json!({"stage": "New"})), &Pipeline::default(), t(1));
        assert!(next.stage_changed());
    }
}
