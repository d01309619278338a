//! The pure rules that turn a postback or a manual move into a lead's next state.
//!
//! Merging never fails: a postback that identifies a lead is stored, and whatever part of it cannot be applied to
//! the stored lead (a completed-field count above the total, custom data past its limits) is left out and
//! reported as a [`Warning`].
//!
//! What a postback may change depends on its key ([`Access`]): a server key changes everything it sends; the
//! browser key, which sits in public landing pages, may only add to a lead — fill empty fields, add custom data
//! keys, update form progress, and move the stage forward up to a limit.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::lead::{Attribution, Lead, StageChange, Via, MAX_RECORDED_CHANGES};
use super::postback::{custom_data_fits, Postback, MAX_CUSTOM_DATA_BYTES, MAX_CUSTOM_DATA_KEYS};
use super::stage::{Pipeline, Stage};
use super::warning::{Warning, WarningCode};

/// What the key a postback came with may do to a lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// The server key (`API_KEY`) or the admin key: everything the postback asks.
    Full,
    /// The browser key (`PUBLIC_API_KEY`): create leads; on an existing lead only fill empty fields, add custom
    /// data keys it does not have, update form progress, and move the stage forward, never past `max_stage` (and
    /// never backwards, whatever `force_stage` says). The email of a lead that has one never changes.
    Public {
        /// The furthest stage it may move a lead to.
        max_stage: Stage,
    },
}

impl Access {
    /// The stage this access may move to for a requested `target`: the target, capped at the public limit.
    fn cap<'a>(&'a self, target: &'a Stage, pipeline: &Pipeline) -> &'a Stage {
        match self {
            Access::Full => target,
            Access::Public { max_stage } => {
                match (pipeline.index_of(target), pipeline.index_of(max_stage)) {
                    (Some(t), Some(m)) if t > m => max_stage,
                    _ => target,
                }
            }
        }
    }
}

/// A lead's next state and what changed on the way there.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The lead to store (its `version` already incremented when `modified`).
    pub lead: Lead,
    /// The history entry to record, when the stage changed (and the lead's history is not full).
    pub history: Option<StageChange>,
    /// Whether the stage changed.
    pub moved: bool,
    /// False when nothing at all changed: then nothing needs to be written.
    pub modified: bool,
    /// What was left out, and why.
    pub warnings: Vec<Warning>,
}

impl Applied {
    /// Whether the stage changed.
    pub fn stage_changed(&self) -> bool {
        self.moved
    }

    /// A result that keeps `lead` as it is: nothing to write.
    pub fn unchanged(lead: Lead) -> Self {
        Self {
            lead,
            history: None,
            moved: false,
            modified: false,
            warnings: Vec::new(),
        }
    }

    /// A result that stores `lead` (already given its next version), without a stage change.
    pub fn rewritten(lead: Lead) -> Self {
        Self {
            lead,
            history: None,
            moved: false,
            modified: true,
            warnings: Vec::new(),
        }
    }
}

/// A new lead from its first postback: the given stage (capped for the browser key), or the pipeline's first.
pub fn new_lead(
    pb: &Postback,
    pipeline: &Pipeline,
    id: Uuid,
    now: DateTime<Utc>,
    access: &Access,
) -> Applied {
    let stage = pb.stage.as_ref().map_or_else(
        || pipeline.first().clone(),
        |s| access.cap(s, pipeline).clone(),
    );
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
        stage_changes: 0,
        quarantine: None,
        version: 1,
    };
    mark_reached(&mut lead, pipeline, now);
    let history = StageChange {
        from: None,
        to: stage,
        at: now,
        via: Via::Postback,
        forced: false,
    };
    Applied {
        lead,
        history: Some(history),
        moved: true,
        modified: true,
        warnings: Vec::new(),
    }
}

/// Merges a postback into an existing lead. With [`Access::Full`]: present fields overwrite, absent ones stay,
/// `custom_data` merges by key, and the stage only moves forward unless `force_stage` is set. With
/// [`Access::Public`]: see there. First-touch attribution is only ever filled in.
pub fn apply_postback(
    existing: &Lead,
    pb: &Postback,
    pipeline: &Pipeline,
    now: DateTime<Utc>,
    access: &Access,
) -> Applied {
    let mut lead = existing.clone();
    let mut warnings = Vec::new();
    let full = *access == Access::Full;
    if let Some(email) = &pb.email {
        if full || lead.email.is_none() {
            lead.email = Some(email.clone());
        }
    }
    if full {
        lead.text.overwrite_with(&pb.text);
    } else {
        lead.text.fill_empty_from(&pb.text);
    }
    lead.first_touch.fill_from(&pb.text);
    if pb.form_completion_percent.is_some() {
        lead.form_completion_percent = pb.form_completion_percent;
    }
    merge_field_counts(&mut lead, existing, pb, &mut warnings);
    if let Some(extra) = &pb.custom_data {
        if full {
            merge_custom_data(&mut lead.custom_data, extra, &mut warnings);
        } else {
            let new_keys: serde_json::Map<String, serde_json::Value> = extra
                .iter()
                .filter(|(k, _)| !lead.custom_data.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            merge_custom_data(&mut lead.custom_data, &new_keys, &mut warnings);
        }
    }
    let history = match pb.stage.as_ref().map(|s| access.cap(s, pipeline)) {
        Some(target) => match direction(pipeline, &lead.stage, target) {
            Direction::Same => None,
            Direction::Forward => Some(move_to(
                &mut lead,
                target,
                Via::Postback,
                false,
                pipeline,
                now,
            )),
            Direction::Backward if pb.force_stage && full => Some(move_to(
                &mut lead,
                target,
                Via::Postback,
                true,
                pipeline,
                now,
            )),
            Direction::Backward => None,
        },
        None => None,
    };
    let (moved, history) = (history.is_some(), history.flatten());
    if !full {
        // What the browser key could not change depends on the stored lead: saying so would tell the caller what
        // is stored. The service reports the rules instead, the same way for every identified postback.
        warnings.clear();
    }
    finish(existing, lead, moved, history, warnings, now)
}

/// A marketer's move to `target`, allowed in either direction; backward moves are marked `forced`.
pub fn apply_manual_move(
    existing: &Lead,
    target: &Stage,
    pipeline: &Pipeline,
    now: DateTime<Utc>,
) -> Applied {
    let mut lead = existing.clone();
    let history = match direction(pipeline, &lead.stage, target) {
        Direction::Same => None,
        Direction::Forward => Some(move_to(
            &mut lead,
            target,
            Via::Manual,
            false,
            pipeline,
            now,
        )),
        Direction::Backward => Some(move_to(&mut lead, target, Via::Manual, true, pipeline, now)),
    };
    let (moved, history) = (history.is_some(), history.flatten());
    finish(existing, lead, moved, history, Vec::new(), now)
}

/// Applies the postback's field counts unless the result would have more fields completed than in all; then the
/// postback's conflicting count is left out with a warning.
fn merge_field_counts(
    lead: &mut Lead,
    existing: &Lead,
    pb: &Postback,
    warnings: &mut Vec<Warning>,
) {
    let completed = pb.form_fields_completed.or(existing.form_fields_completed);
    let total = pb.form_fields_total.or(existing.form_fields_total);
    match (completed, total) {
        (Some(c), Some(t)) if c > t => {
            let field = if pb.form_fields_completed.is_some() {
                "form_fields_completed"
            } else {
                "form_fields_total"
            };
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
fn merge_custom_data(
    stored: &mut Map<String, Value>,
    extra: &Map<String, Value>,
    warnings: &mut Vec<Warning>,
) {
    let mut left_out = Vec::new();
    for (k, v) in extra {
        let previous = stored.insert(k.clone(), v.clone());
        if !custom_data_fits(stored) {
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

fn finish(
    existing: &Lead,
    mut lead: Lead,
    moved: bool,
    history: Option<StageChange>,
    warnings: Vec<Warning>,
    now: DateTime<Utc>,
) -> Applied {
    let modified = lead != *existing;
    if modified {
        lead.updated_at = now;
        lead.version = existing.version + 1;
    }
    Applied {
        lead,
        history,
        moved,
        modified,
        warnings,
    }
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

/// Moves the lead; returns the history entry to record, or `None` once the lead's history is full.
fn move_to(
    lead: &mut Lead,
    target: &Stage,
    via: Via,
    forced: bool,
    pipeline: &Pipeline,
    now: DateTime<Utc>,
) -> Option<StageChange> {
    let change = StageChange {
        from: Some(lead.stage.clone()),
        to: target.clone(),
        at: now,
        via,
        forced,
    };
    lead.stage = target.clone();
    lead.stage_entered_at = now;
    lead.stage_changes = lead.stage_changes.saturating_add(1);
    mark_reached(lead, pipeline, now);
    (lead.stage_changes <= MAX_RECORDED_CHANGES).then_some(change)
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
        Postback::parse(v.to_string().as_bytes(), &Pipeline::default(), None)
            .unwrap()
            .postback
    }

    fn stage(name: &str) -> Stage {
        Pipeline::default().stage(name).unwrap()
    }

    fn created(v: serde_json::Value) -> Lead {
        new_lead(
            &pb(v),
            &Pipeline::default(),
            Uuid::new_v4(),
            t(0),
            &Access::Full,
        )
        .lead
    }

    fn public() -> Access {
        Access::Public {
            max_stage: stage("Application Submitted"),
        }
    }

    #[test]
    fn the_browser_key_only_adds_to_a_lead() {
        let p = Pipeline::default();
        let lead = created(
            json!({"email": "v@corp.com", "first_name": "Victim", "stage": "Paid", "custom_data": {"plan": "pro"}}),
        );
        let attack = pb(json!({
            "email": "attacker@evil.com", "first_name": "Hacked", "phone": "+1-900-EVIL", "stage": "New", "force_stage": true,
            "custom_data": {"plan": "free", "note": "x"}, "form_completion_percent": 50
        }));
        let next = apply_postback(&lead, &attack, &p, t(1), &public());
        assert_eq!(next.lead.email, lead.email, "the email never changes");
        assert_eq!(
            next.lead.text.first_name.as_deref(),
            Some("Victim"),
            "a non-empty field is kept"
        );
        assert_eq!(
            next.lead.text.phone.as_deref(),
            Some("+1-900-EVIL"),
            "an empty field is filled"
        );
        assert_eq!(
            next.lead.stage, "Paid",
            "never backwards, force_stage or not"
        );
        assert_eq!(
            next.lead.custom_data["plan"],
            json!("pro"),
            "existing keys kept"
        );
        assert_eq!(next.lead.custom_data["note"], json!("x"), "new keys added");
        assert_eq!(
            next.lead.form_completion_percent,
            Some(50.0),
            "form progress updates"
        );
        assert!(
            next.warnings.is_empty(),
            "nothing about the stored lead is told"
        );
    }

    #[test]
    fn the_browser_key_moves_forward_up_to_its_limit() {
        let p = Pipeline::default();
        let lead = created(json!({"stage": "Form Started"}));
        let next = apply_postback(&lead, &pb(json!({"stage": "Paid"})), &p, t(1), &public());
        assert_eq!(next.lead.stage, "Application Submitted", "capped");
        let new = new_lead(
            &pb(json!({"stage": "Completed"})),
            &p,
            Uuid::nil(),
            t(0),
            &public(),
        );
        assert_eq!(new.lead.stage, "Application Submitted");
    }

    #[test]
    fn new_lead_starts_at_first_stage_with_creation_history() {
        let a = new_lead(
            &pb(json!({"email": "a@b.co"})),
            &Pipeline::default(),
            Uuid::nil(),
            t(0),
            &Access::Full,
        );
        assert_eq!(a.lead.stage, "New");
        assert_eq!(a.lead.version, 1);
        let h = a.history.unwrap();
        assert_eq!(
            (h.from, h.to.as_str(), h.via, h.forced),
            (None, "New", Via::Postback, false)
        );
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
        let fwd = apply_postback(
            &lead,
            &pb(json!({"stage": "Paid"})),
            &p,
            t(10),
            &Access::Full,
        );
        assert!(fwd.stage_changed());
        assert_eq!(fwd.lead.stage, "Paid");
        assert_eq!(fwd.lead.stage_entered_at, t(10));
        assert_eq!(fwd.lead.version, 2);

        let back = apply_postback(
            &fwd.lead,
            &pb(json!({"stage": "Form Started", "phone": "2"})),
            &p,
            t(20),
            &Access::Full,
        );
        assert!(!back.stage_changed());
        assert!(back.modified, "the other fields are still updated");
        assert_eq!(back.lead.stage, "Paid");
        assert_eq!(back.lead.text.phone.as_deref(), Some("2"));

        let forced = apply_postback(
            &fwd.lead,
            &pb(json!({"stage": "form started", "force_stage": true})),
            &p,
            t(30),
            &Access::Full,
        );
        let h = forced.history.unwrap();
        assert_eq!(
            (h.from.unwrap().as_str(), h.to.as_str(), h.forced),
            ("Paid", "Form Started", true)
        );
        assert_eq!(
            forced.lead.stage_reached_at[&stage("Paid")],
            t(10),
            "reaching is remembered after a backward move"
        );
    }

    #[test]
    fn repeating_the_same_postback_changes_nothing() {
        let p = Pipeline::default();
        let body = json!({"stage": "Form Started", "phone": "1", "custom_data": {"a": 1}});
        let lead = created(body.clone());
        let again = apply_postback(&lead, &pb(body), &p, t(5), &Access::Full);
        assert!(!again.modified && again.history.is_none());
        assert_eq!(again.lead, lead, "no version bump, no updated_at change");
    }

    #[test]
    fn merge_overwrites_present_keeps_absent_and_merges_custom_data() {
        let p = Pipeline::default();
        let lead =
            created(json!({"first_name": "John", "phone": "1", "custom_data": {"a": 1, "b": 2}}));
        let next = apply_postback(
            &lead,
            &pb(json!({"phone": "2", "custom_data": {"b": 3, "c": 4}})),
            &p,
            t(1),
            &Access::Full,
        )
        .lead;
        assert_eq!(next.text.first_name.as_deref(), Some("John"));
        assert_eq!(next.text.phone.as_deref(), Some("2"));
        assert_eq!(
            serde_json::Value::Object(next.custom_data),
            json!({"a": 1, "b": 3, "c": 4})
        );
    }

    #[test]
    fn first_touch_attribution_survives_later_campaigns() {
        let p = Pipeline::default();
        let lead =
            created(json!({"source": "google", "campaign": "spring", "utm_source": "google"}));
        let next = apply_postback(
            &lead,
            &pb(json!({"source": "facebook", "campaign": "fall", "referrer": "https://x.test/"})),
            &p,
            t(1),
            &Access::Full,
        )
        .lead;
        assert_eq!(
            next.text.source.as_deref(),
            Some("facebook"),
            "latest value kept"
        );
        assert_eq!(
            next.first_touch.source.as_deref(),
            Some("google"),
            "first touch kept"
        );
        assert_eq!(next.first_touch.campaign.as_deref(), Some("spring"));
        assert_eq!(
            next.first_touch.referrer.as_deref(),
            Some("https://x.test/"),
            "first seen later still counts"
        );
    }

    #[test]
    fn a_completed_count_above_the_stored_total_is_left_out_with_a_warning() {
        let p = Pipeline::default();
        let lead = created(json!({"form_fields_total": 12, "form_fields_completed": 3}));
        let next = apply_postback(
            &lead,
            &pb(json!({"form_fields_completed": 13, "phone": "5"})),
            &p,
            t(1),
            &Access::Full,
        );
        assert_eq!(next.lead.form_fields_completed, Some(3));
        assert_eq!(
            next.lead.text.phone.as_deref(),
            Some("5"),
            "the rest is stored"
        );
        assert_eq!(next.warnings.len(), 1);
        assert_eq!(next.warnings[0].field, "form_fields_completed");

        let shrink = apply_postback(
            &lead,
            &pb(json!({"form_fields_total": 2})),
            &p,
            t(1),
            &Access::Full,
        );
        assert_eq!(
            (
                shrink.lead.form_fields_completed,
                shrink.lead.form_fields_total
            ),
            (Some(3), Some(12))
        );
        assert_eq!(shrink.warnings[0].field, "form_fields_total");
        assert!(!shrink.modified);
    }

    #[test]
    fn custom_data_past_its_limits_is_left_out_key_by_key() {
        let p = Pipeline::default();
        let first: serde_json::Map<_, _> = (0..30).map(|i| (format!("a{i}"), json!(i))).collect();
        let second: serde_json::Map<_, _> = (0..30).map(|i| (format!("b{i}"), json!(i))).collect();
        let lead = created(json!({"custom_data": first}));
        let next = apply_postback(
            &lead,
            &pb(json!({"custom_data": second})),
            &p,
            t(1),
            &Access::Full,
        );
        assert_eq!(next.lead.custom_data.len(), MAX_CUSTOM_DATA_KEYS);
        assert_eq!(next.warnings.len(), 1);
        assert!(next.warnings[0]
            .message
            .starts_with("10 custom_data key(s) left out"));
    }

    #[test]
    fn history_stops_growing_but_the_stage_still_changes() {
        let p = Pipeline::default();
        let mut lead = created(json!({"stage": "Paid"}));
        let (back, fwd) = (
            pb(json!({"stage": "New", "force_stage": true})),
            pb(json!({"stage": "Paid"})),
        );
        let mut recorded = 0;
        for i in 0..(MAX_RECORDED_CHANGES + 50) {
            let next = apply_postback(
                &lead,
                if i % 2 == 0 { &back } else { &fwd },
                &p,
                t(i + 1),
                &Access::Full,
            );
            assert!(next.stage_changed());
            recorded += usize::from(next.history.is_some());
            lead = next.lead;
        }
        assert_eq!(recorded, MAX_RECORDED_CHANGES as usize);
        assert_eq!(lead.stage_changes, MAX_RECORDED_CHANGES + 50);
        assert_eq!(lead.stage, "Paid");
    }

    #[test]
    fn email_change_is_applied() {
        let p = Pipeline::default();
        let lead = created(json!({"email": "a@b.co"}));
        let next = apply_postback(
            &lead,
            &pb(json!({"email": "c@d.co"})),
            &p,
            t(1),
            &Access::Full,
        )
        .lead;
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
        let next = apply_postback(
            &lead,
            &pb(json!({"stage": "New"})),
            &Pipeline::default(),
            t(1),
            &Access::Full,
        );
        assert!(next.stage_changed());
    }
}
