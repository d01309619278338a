//! The pure rules that turn a postback or a manual move into a lead's next state.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::lead::{Attribution, Lead, StageChange, Via};
use super::postback::{check_custom_data, check_fields_completed, Postback, ValidationError};
use super::stage::Pipeline;

/// A lead's next state and what changed on the way there.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The lead to store (its `version` already incremented when `modified`).
    pub lead: Lead,
    /// The history entry to record, when the stage changed.
    pub history: Option<StageChange>,
    /// False when nothing at all changed: then nothing needs to be written.
    pub modified: bool,
}

impl Applied {
    /// Whether the stage changed.
    pub fn stage_changed(&self) -> bool {
        self.history.is_some()
    }
}

/// A new lead from its first postback: the given stage, or the pipeline's first.
pub fn new_lead(pb: &Postback, pipeline: &Pipeline, id: Uuid, now: DateTime<Utc>) -> Result<Applied, ValidationError> {
    let stage = pb.stage.clone().unwrap_or_else(|| pipeline.first().to_string());
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
        version: 1,
    };
    mark_reached(&mut lead, pipeline, now);
    let history = StageChange { from: None, to: stage, at: now, via: Via::Postback, forced: false };
    Ok(Applied { lead, history: Some(history), modified: true })
}

/// Merges a postback into an existing lead: present fields overwrite, absent ones stay, `custom_data` merges by key,
/// first-touch attribution is only filled in, and the stage only moves forward unless `force_stage` is set.
pub fn apply_postback(existing: &Lead, pb: &Postback, pipeline: &Pipeline, now: DateTime<Utc>) -> Result<Applied, ValidationError> {
    let mut lead = existing.clone();
    if let Some(email) = &pb.email {
        lead.email = Some(email.clone());
    }
    lead.text.overwrite_with(&pb.text);
    lead.first_touch.fill_from(&pb.text);
    if pb.form_completion_percent.is_some() {
        lead.form_completion_percent = pb.form_completion_percent;
    }
    if pb.form_fields_completed.is_some() {
        lead.form_fields_completed = pb.form_fields_completed;
    }
    if pb.form_fields_total.is_some() {
        lead.form_fields_total = pb.form_fields_total;
    }
    check_fields_completed(lead.form_fields_completed, lead.form_fields_total)?;
    if let Some(extra) = &pb.custom_data {
        for (k, v) in extra {
            lead.custom_data.insert(k.clone(), v.clone());
        }
        check_custom_data(&lead.custom_data)?;
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
    Ok(finish(existing, lead, history, now))
}

/// A marketer's move to `target` (canonical), allowed in either direction; backward moves are marked `forced`.
pub fn apply_manual_move(existing: &Lead, target: &str, pipeline: &Pipeline, now: DateTime<Utc>) -> Applied {
    let mut lead = existing.clone();
    let history = match direction(pipeline, &lead.stage, target) {
        Direction::Same => None,
        Direction::Forward => Some(move_to(&mut lead, target, Via::Manual, false, pipeline, now)),
        Direction::Backward => Some(move_to(&mut lead, target, Via::Manual, true, pipeline, now)),
    };
    finish(existing, lead, history, now)
}

fn finish(existing: &Lead, mut lead: Lead, history: Option<StageChange>, now: DateTime<Utc>) -> Applied {
    let modified = lead != *existing;
    if modified {
        lead.updated_at = now;
        lead.version = existing.version + 1;
    }
    Applied { lead, history, modified }
}

enum Direction {
    Same,
    Forward,
    Backward,
}

/// Compares stages by pipeline position; a current stage no longer in the pipeline lets any move count as forward.
fn direction(pipeline: &Pipeline, current: &str, target: &str) -> Direction {
    if current == target {
        return Direction::Same;
    }
    match (pipeline.index_of(current), pipeline.index_of(target)) {
        (Some(c), Some(t)) if t < c => Direction::Backward,
        _ => Direction::Forward,
    }
}

fn move_to(lead: &mut Lead, target: &str, via: Via, forced: bool, pipeline: &Pipeline, now: DateTime<Utc>) -> StageChange {
    let change = StageChange { from: Some(lead.stage.clone()), to: target.to_string(), at: now, via, forced };
    lead.stage = target.to_string();
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

    fn created(v: serde_json::Value) -> Lead {
        new_lead(&pb(v), &Pipeline::default(), Uuid::new_v4(), t(0)).unwrap().lead
    }

    #[test]
    fn new_lead_starts_at_first_stage_with_creation_history() {
        let a = new_lead(&pb(json!({"email": "a@b.co"})), &Pipeline::default(), Uuid::nil(), t(0)).unwrap();
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
        assert!(reached.contains(&"New".to_string()) && reached.contains(&"Form Started".to_string()));
    }

    #[test]
    fn forward_moves_backward_stays_without_force() {
        let p = Pipeline::default();
        let lead = created(json!({"stage": "Form Started", "phone": "1"}));
        let fwd = apply_postback(&lead, &pb(json!({"stage": "Paid"})), &p, t(10)).unwrap();
        assert!(fwd.stage_changed());
        assert_eq!(fwd.lead.stage, "Paid");
        assert_eq!(fwd.lead.stage_entered_at, t(10));
        assert_eq!(fwd.lead.version, 2);

        let back = apply_postback(&fwd.lead, &pb(json!({"stage": "Form Started", "phone": "2"})), &p, t(20)).unwrap();
        assert!(!back.stage_changed());
        assert!(back.modified, "the other fields are still updated");
        assert_eq!(back.lead.stage, "Paid");
        assert_eq!(back.lead.text.phone.as_deref(), Some("2"));

        let forced = apply_postback(&fwd.lead, &pb(json!({"stage": "form started", "force_stage": true})), &p, t(30)).unwrap();
        let h = forced.history.unwrap();
        assert_eq!((h.from.as_deref(), h.to.as_str(), h.forced), (Some("Paid"), "Form Started", true));
        assert_eq!(forced.lead.stage_reached_at["Paid"], t(10), "reaching is remembered after a backward move");
    }

    #[test]
    fn repeating_the_same_postback_changes_nothing() {
        let p = Pipeline::default();
        let body = json!({"stage": "Form Started", "phone": "1", "custom_data": {"a": 1}});
        let lead = created(body.clone());
        let again = apply_postback(&lead, &pb(body), &p, t(5)).unwrap();
        assert!(!again.modified && again.history.is_none());
        assert_eq!(again.lead, lead, "no version bump, no updated_at change");
    }

    #[test]
    fn merge_overwrites_present_keeps_absent_and_merges_custom_data() {
        let p = Pipeline::default();
        let lead = created(json!({"first_name": "John", "phone": "1", "custom_data": {"a": 1, "b": 2}}));
        let next = apply_postback(&lead, &pb(json!({"phone": "2", "custom_data": {"b": 3, "c": 4}})), &p, t(1)).unwrap().lead;
        assert_eq!(next.text.first_name.as_deref(), Some("John"));
        assert_eq!(next.text.phone.as_deref(), Some("2"));
        assert_eq!(serde_json::Value::Object(next.custom_data), json!({"a": 1, "b": 3, "c": 4}));
    }

    #[test]
    fn first_touch_attribution_survives_later_campaigns() {
        let p = Pipeline::default();
        let lead = created(json!({"source": "google", "campaign": "spring", "utm_source": "google"}));
        let next = apply_postback(&lead, &pb(json!({"source": "facebook", "campaign": "fall", "referrer": "https://x.test/"})), &p, t(1))
            .unwrap()
            .lead;
        assert_eq!(next.text.source.as_deref(), Some("facebook"), "latest value kept");
        assert_eq!(next.first_touch.source.as_deref(), Some("google"), "first touch kept");
        assert_eq!(next.first_touch.campaign.as_deref(), Some("spring"));
        assert_eq!(next.first_touch.referrer.as_deref(), Some("https://x.test/"), "first seen later still counts");
    }

    #[test]
    fn merged_counts_are_checked() {
        let p = Pipeline::default();
        let lead = created(json!({"form_fields_total": 12}));
        let err = apply_postback(&lead, &pb(json!({"form_fields_completed": 13})), &p, t(1)).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("form_fields_completed"));
    }

    #[test]
    fn merged_custom_data_is_bounded() {
        let p = Pipeline::default();
        let first: serde_json::Map<_, _> = (0..60).map(|i| (format!("a{i}"), json!(i))).collect();
        let second: serde_json::Map<_, _> = (0..60).map(|i| (format!("b{i}"), json!(i))).collect();
        let lead = created(json!({"custom_data": first}));
        assert!(apply_postback(&lead, &pb(json!({"custom_data": second})), &p, t(1)).is_err());
    }

    #[test]
    fn email_change_is_applied() {
        let p = Pipeline::default();
        let lead = created(json!({"email": "a@b.co"}));
        let next = apply_postback(&lead, &pb(json!({"email": "c@d.co"})), &p, t(1)).unwrap().lead;
        assert_eq!(next.email, Some(Email::parse("c@d.co").unwrap()));
    }

    #[test]
    fn manual_moves_go_both_ways() {
        let p = Pipeline::default();
        let lead = created(json!({"stage": "Paid"}));
        let back = apply_manual_move(&lead, "New", &p, t(1));
        let h = back.history.clone().unwrap();
        assert_eq!((h.via, h.forced, h.to.as_str()), (Via::Manual, true, "New"));
        let fwd = apply_manual_move(&back.lead, "Completed", &p, t(2));
        assert!(!fwd.history.unwrap().forced);
        assert!(!apply_manual_move(&fwd.lead, "Completed", &p, t(3)).modified);
    }

    #[test]
    fn a_stage_dropped_from_the_pipeline_can_move_anywhere() {
        let mut lead = created(json!({}));
        lead.stage = "Legacy".into();
        let next = apply_postback(&lead, &pb(json!({"stage": "New"})), &Pipeline::default(), t(1)).unwrap();
        assert!(next.stage_changed());
    }
}
