//! The pure rules that turn a postback or a manual move into a lead's next state.
//!
//! Merging never fails: a postback that identifies a lead is stored, and whatever part of it cannot be applied to
//! the stored lead (a completed-field count above the total, custom data past its limits) is left out and
//! reported as a [`Warning`].
//!
//! What a postback may change depends on its key ([`Access`]): a server key changes everything it sends; the
//! browser key, which sits in public landing pages, may only add to a lead — fill empty fields, add custom data
//! keys (within its own room), raise form progress while the lead is within its stages, and move the stage
//! forward up to a limit. First touch is what the lead's first postback said, and never changes after.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::lead::{Attribution, Lead, StageChange, Via, MAX_RECORDED_CHANGES};
use super::orders::record_order;
use super::postback::{custom_data_fits, Postback, MAX_CUSTOM_DATA_BYTES, MAX_CUSTOM_DATA_KEYS};
use super::stage::{Pipeline, Stage};
use super::warning::{Warning, WarningCode};

/// What the key a postback came with may do to a lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// The server key (`API_KEY`) or the admin key: everything the postback asks.
    Full,
    /// The browser key (`PUBLIC_API_KEY`): create leads; on an existing lead only fill empty fields, add custom
    /// data keys it does not have (up to half a postback's room), raise form progress while the lead is at or
    /// before `max_stage`, and move the stage forward, never past `max_stage` (and
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
        custom_data: match access {
            Access::Full => pb.custom_data.clone().unwrap_or_default(),
            Access::Public { .. } => {
                // No warning: a browser-key answer must read the same for a new lead and an existing one.
                let mut kept = Map::new();
                if let Some(extra) = &pb.custom_data {
                    merge_custom_data(&mut kept, extra, BROWSER_CUSTOM_DATA, &mut Vec::new());
                }
                kept
            }
        },
        first_touch,
        created_at: now,
        updated_at: now,
        stage_entered_at: now,
        stage_reached_at: Default::default(),
        stage_changes: 0,
        quarantine: None,
        orders: Vec::new(),
        revenue_reporting_minor: None,
        consent: None,
        consent_history: Vec::new(),
        version: 0,
    };
    if let Some(input) = &pb.consent {
        super::consent::merge(&mut lead.consent, &mut lead.consent_history, input, true);
    }
    mark_reached(&mut lead, pipeline, now);
    let mut warnings = Vec::new();
    record_money(&mut lead, pb, access, now, &mut warnings);
    lead.version = 1;
    let history = StageChange {
        from: None,
        to: stage,
        at: now,
        via: Via::Postback,
        forced: false,
        by: None,
    };
    Applied {
        lead,
        history: Some(history),
        moved: true,
        modified: true,
        warnings,
    }
}

/// Records the postback's order with the server key. The browser key never sets money: its order is ignored
/// here (the service tells it so, the same way whatever the lead holds).
fn record_money(
    lead: &mut Lead,
    pb: &Postback,
    access: &Access,
    now: DateTime<Utc>,
    warnings: &mut Vec<Warning>,
) {
    if let (Some(order), Access::Full) = (&pb.order, access) {
        record_order(lead, order, now, warnings);
    }
}

/// Merges a postback into an existing lead. With [`Access::Full`]: present fields overwrite, absent ones stay,
/// `custom_data` merges by key, and the stage only moves forward unless `force_stage` is set. With
/// [`Access::Public`]: see there. First-touch attribution is never changed after the first postback. A backward
/// stage without `force_stage` is kept out with a warning (for the server key; the browser key is told nothing).
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
    // First touch is what the lead's first postback said, as a whole: a later postback never completes it.
    if full {
        if pb.form_completion_percent.is_some() {
            lead.form_completion_percent = pb.form_completion_percent;
        }
        merge_field_counts(&mut lead, existing, pb, &mut warnings);
    } else if form_still_open(existing, access, pipeline) {
        fill_form_progress(&mut lead, existing, pb);
    }
    if let Some(extra) = &pb.custom_data {
        if full {
            merge_custom_data(
                &mut lead.custom_data,
                extra,
                LEAD_CUSTOM_DATA,
                &mut warnings,
            );
        } else {
            let new_keys: serde_json::Map<String, serde_json::Value> = extra
                .iter()
                .filter(|(k, _)| !lead.custom_data.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            merge_custom_data(
                &mut lead.custom_data,
                &new_keys,
                BROWSER_CUSTOM_DATA,
                &mut warnings,
            );
        }
    }
    if let Some(input) = &pb.consent {
        super::consent::merge(&mut lead.consent, &mut lead.consent_history, input, full);
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
            Direction::Backward => {
                warnings.push(Warning::new(
                    "stage",
                    WarningCode::Conflict,
                    format!(
                        "the lead is already at {}, after {}; the stage was kept (send \"force_stage\": true to move it back)",
                        lead.stage.as_str(),
                        target.as_str()
                    ),
                ));
                None
            }
        },
        None => None,
    };
    let (moved, history) = (history.is_some(), history.flatten());
    if !full {
        // What the browser key could not change depends on the stored lead: saying so would tell the caller what
        // is stored. The service reports the rules instead, the same way for every identified postback.
        warnings.clear();
    }
    record_money(&mut lead, pb, access, now, &mut warnings);
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

/// How much custom data a merge may leave on a lead.
#[derive(Debug, Clone, Copy)]
struct CustomDataBudget {
    keys: usize,
    bytes: usize,
}

/// What the browser key may fill a lead's custom data up to: half of what one postback carries, so that a server
/// key's postback (up to [`MAX_CUSTOM_DATA_KEYS`] keys, [`MAX_CUSTOM_DATA_BYTES`]) always fits beside it.
const BROWSER_CUSTOM_DATA: CustomDataBudget = CustomDataBudget {
    keys: MAX_CUSTOM_DATA_KEYS / 2,
    bytes: MAX_CUSTOM_DATA_BYTES / 2,
};

/// What a lead keeps in all: one full postback's custom data plus the browser key's room.
pub const LEAD_CUSTOM_DATA_KEYS: usize = MAX_CUSTOM_DATA_KEYS + BROWSER_CUSTOM_DATA.keys;
/// What a lead keeps in all, serialised, in bytes.
pub const LEAD_CUSTOM_DATA_BYTES: usize = MAX_CUSTOM_DATA_BYTES + BROWSER_CUSTOM_DATA.bytes;
const LEAD_CUSTOM_DATA: CustomDataBudget = CustomDataBudget {
    keys: LEAD_CUSTOM_DATA_KEYS,
    bytes: LEAD_CUSTOM_DATA_BYTES,
};

/// Whether the browser key may still report form progress on this lead: not once it is past the stages the
/// browser key may reach (a paying lead's form is settled, and an attacker must not rewrite it).
fn form_still_open(existing: &Lead, access: &Access, pipeline: &Pipeline) -> bool {
    match access {
        Access::Full => true,
        Access::Public { max_stage } => {
            match (
                pipeline.index_of(&existing.stage),
                pipeline.index_of(max_stage),
            ) {
                (Some(current), Some(max)) => current <= max,
                _ => false,
            }
        }
    }
}

/// The browser key's form progress: fills the field total when unknown, and only ever raises the percentage and
/// the completed count (never above the total), so a replayed or forged postback cannot set a lead's progress back.
fn fill_form_progress(lead: &mut Lead, existing: &Lead, pb: &Postback) {
    if existing.form_fields_total.is_none() {
        lead.form_fields_total = pb.form_fields_total;
    }
    if let Some(p) = pb.form_completion_percent {
        if existing.form_completion_percent.is_none_or(|old| p > old) {
            lead.form_completion_percent = Some(p);
        }
    }
    if let Some(c) = pb.form_fields_completed {
        let within = lead.form_fields_total.is_none_or(|t| c <= t);
        if within && existing.form_fields_completed.is_none_or(|old| c > old) {
            lead.form_fields_completed = Some(c);
        }
    }
}

/// Merges custom data key by key; a key that would take the lead past `budget` is left out.
fn merge_custom_data(
    stored: &mut Map<String, Value>,
    extra: &Map<String, Value>,
    budget: CustomDataBudget,
    warnings: &mut Vec<Warning>,
) {
    let mut left_out = Vec::new();
    for (k, v) in extra {
        let previous = stored.insert(k.clone(), v.clone());
        if !custom_data_fits(stored, budget.keys, budget.bytes) {
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
                "{} custom_data key(s) left out: a lead keeps at most {} keys and {} bytes of custom_data from this key",
                left_out.len(),
                budget.keys,
                budget.bytes
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
        by: None,
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
            next.lead.form_completion_percent, None,
            "a lead past the browser key's stages keeps its form as it is"
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
            next.first_touch.referrer, None,
            "first touch is never completed by a later postback"
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
        let first: serde_json::Map<_, _> = (0..50).map(|i| (format!("a{i}"), json!(i))).collect();
        let second: serde_json::Map<_, _> = (0..30).map(|i| (format!("b{i}"), json!(i))).collect();
        let lead = created(json!({"custom_data": first}));
        let next = apply_postback(
            &lead,
            &pb(json!({"custom_data": second})),
            &p,
            t(1),
            &Access::Full,
        );
        assert_eq!(next.lead.custom_data.len(), LEAD_CUSTOM_DATA_KEYS);
        assert_eq!(next.warnings.len(), 1);
        assert!(next.warnings[0]
            .message
            .starts_with("5 custom_data key(s) left out"));
    }

    #[test]
    fn the_server_keys_custom_data_fits_after_the_browser_key_filled_its_room() {
        let p = Pipeline::default();
        let lead = created(json!({"email": "v@corp.com", "stage": "Form Started"}));
        let junk: serde_json::Map<_, _> = (0..50).map(|i| (format!("j{i}"), json!("x"))).collect();
        let filled = apply_postback(
            &lead,
            &pb(json!({"custom_data": junk})),
            &p,
            t(1),
            &public(),
        );
        assert_eq!(filled.lead.custom_data.len(), BROWSER_CUSTOM_DATA.keys);
        let fresh = new_lead(
            &pb(json!({"custom_data": junk})),
            &p,
            Uuid::new_v4(),
            t(1),
            &public(),
        );
        assert_eq!(fresh.lead.custom_data.len(), BROWSER_CUSTOM_DATA.keys);
        let server: serde_json::Map<_, _> = (0..49)
            .map(|i| (format!("s{i}"), json!("y")))
            .chain([("payment_id".to_string(), json!("pay_123"))])
            .collect();
        let paid = apply_postback(
            &filled.lead,
            &pb(json!({"custom_data": server})),
            &p,
            t(2),
            &Access::Full,
        );
        assert!(paid.warnings.is_empty(), "{:?}", paid.warnings);
        assert_eq!(paid.lead.custom_data["payment_id"], "pay_123");
        assert_eq!(paid.lead.custom_data.len(), 75);
    }

    #[test]
    fn the_browser_key_only_moves_form_progress_forward_and_not_on_settled_leads() {
        let p = Pipeline::default();
        let open = created(
            json!({"stage": "Form Started", "form_completion_percent": 40,
            "form_fields_completed": 4, "form_fields_total": 10}),
        );
        let back = pb(
            json!({"form_completion_percent": 0, "form_fields_completed": 0, "form_fields_total": 99}),
        );
        let next = apply_postback(&open, &back, &p, t(1), &public());
        assert_eq!(next.lead.form_completion_percent, Some(40.0));
        assert_eq!(next.lead.form_fields_completed, Some(4));
        assert_eq!(next.lead.form_fields_total, Some(10));
        assert!(!next.modified);
        let on = pb(json!({"form_completion_percent": 60, "form_fields_completed": 6}));
        let next = apply_postback(&open, &on, &p, t(1), &public());
        assert_eq!(next.lead.form_completion_percent, Some(60.0));
        assert_eq!(next.lead.form_fields_completed, Some(6));
        let paid = created(json!({"stage": "Paid", "form_completion_percent": 100,
            "form_fields_completed": 10, "form_fields_total": 10}));
        let zero = pb(json!({"form_completion_percent": 0}));
        assert!(!apply_postback(&paid, &zero, &p, t(1), &public()).modified);
        let untouched = created(json!({"stage": "Paid"}));
        let fill = pb(json!({"form_completion_percent": 5, "form_fields_total": 12}));
        assert!(!apply_postback(&untouched, &fill, &p, t(1), &public()).modified);
        let server = apply_postback(&paid, &zero, &p, t(1), &Access::Full);
        assert_eq!(server.lead.form_completion_percent, Some(0.0));
    }

    #[test]
    fn first_touch_is_the_first_postback_as_a_whole() {
        let p = Pipeline::default();
        let direct = created(json!({"email": "d@corp.com", "source": "direct"}));
        let retarget = pb(json!({"source": "facebook", "campaign": "black-friday-llc",
            "utm_source": "facebook", "stage": "Form Started"}));
        let next = apply_postback(&direct, &retarget, &p, t(1), &Access::Full).lead;
        assert_eq!(next.first_touch.source.as_deref(), Some("direct"));
        assert_eq!(next.first_touch.campaign, None);
        assert_eq!(next.first_touch.utm_source, None);
        assert_eq!(next.text.campaign.as_deref(), Some("black-friday-llc"));
    }

    #[test]
    fn a_backward_postback_without_force_stage_says_so() {
        let p = Pipeline::default();
        let paid = created(json!({"stage": "Paid"}));
        let next = apply_postback(&paid, &pb(json!({"stage": "New"})), &p, t(1), &Access::Full);
        assert_eq!(next.lead.stage, stage("Paid"));
        assert_eq!(next.warnings.len(), 1);
        assert_eq!(next.warnings[0].field, "stage");
        assert_eq!(next.warnings[0].code, WarningCode::Conflict);
        assert!(next.warnings[0].message.contains("force_stage"));
        let browser = apply_postback(&paid, &pb(json!({"stage": "New"})), &p, t(1), &public());
        assert!(
            browser.warnings.is_empty(),
            "the browser key learns nothing about the stored stage"
        );
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

    #[test]
    fn an_order_is_recorded_once_per_order_id_with_its_stage() {
        let p = Pipeline::default();
        let lead = created(
            json!({"email": "o@corp.com", "stage": "Paid", "value": 49.99, "currency": "USD", "order_id": "A1"}),
        );
        assert_eq!(lead.orders.len(), 1);
        assert_eq!(lead.orders[0].value.unwrap().minor, 4999);
        assert_eq!(lead.orders[0].stage.as_str(), "Paid");
        // The same order again changes nothing; a new amount replaces it, never adds.
        let same = apply_postback(
            &lead,
            &pb(json!({"value": "49.99", "currency": "USD", "order_id": "A1"})),
            &p,
            t(5),
            &Access::Full,
        );
        assert!(!same.modified);
        let again = apply_postback(
            &lead,
            &pb(json!({"value": 59, "currency": "USD", "order_id": "A1"})),
            &p,
            t(5),
            &Access::Full,
        );
        assert_eq!(again.lead.orders.len(), 1);
        assert_eq!(again.lead.orders[0].value.unwrap().minor, 5900);
        assert_eq!(again.lead.orders[0].changes[0].before.unwrap().minor, 4999);
        assert_eq!(
            again.lead.orders[0].at,
            t(0),
            "an order keeps its first time"
        );
        // Without an order_id every postback with a value is its own order.
        let extra = apply_postback(
            &again.lead,
            &pb(json!({"value": 10, "currency": "EUR"})),
            &p,
            t(9),
            &Access::Full,
        );
        assert_eq!(extra.lead.orders.len(), 2);
        assert_eq!(
            extra.lead.orders[1].order_id,
            format!("auto-{}", extra.lead.version)
        );
        let revenue = crate::domain::orders::revenue_by_currency(&extra.lead);
        assert_eq!(
            revenue
                .iter()
                .map(|m| (m.currency.as_str().to_string(), m.minor))
                .collect::<Vec<_>>(),
            vec![("EUR".to_string(), 1000), ("USD".to_string(), 5900)]
        );
    }

    #[test]
    fn the_browser_key_never_sets_money() {
        let p = Pipeline::default();
        let lead = created(
            json!({"email": "o@corp.com", "value": 10, "currency": "USD", "order_id": "A1"}),
        );
        let attack = pb(
            json!({"email": "o@corp.com", "value": 1000000, "currency": "USD", "order_id": "A1"}),
        );
        let applied = apply_postback(&lead, &attack, &p, t(5), &public());
        assert_eq!(applied.lead.orders, lead.orders);
        let fresh = new_lead(&attack, &p, Uuid::new_v4(), t(0), &public());
        assert!(fresh.lead.orders.is_empty());
    }

    #[test]
    fn a_bad_value_is_kept_apart_on_the_lead() {
        let lead = created(json!({"email": "o@corp.com", "value": "12,x", "currency": "USD"}));
        assert_eq!(lead.orders.len(), 1);
        assert!(lead.orders[0].value.is_none() && lead.orders[0].kept_apart());
        assert_eq!(lead.orders[0].unread.as_ref().unwrap().value, "12,x");
    }
}
