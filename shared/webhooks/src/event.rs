//! Lead events: what happened to a lead, worked out from its state before and after one write.
//!
//! The input is what a DynamoDB stream record (or the SQLite adapter's write path) carries: the old image, the
//! new image, or both. [`event_for`] turns that pair into at most one [`Event`]:
//!
//! | before | after | event |
//! | --- | --- | --- |
//! | none | lead | `lead.created` |
//! | lead | lead, other stage | `lead.stage_changed` |
//! | lead | lead, same stage | none (a field update is not an event, a new order included) |
//! | lead | none | `lead.deleted` |
//!
//! Quarantined leads (bots, spam) are invisible to integrations: no event is built while a lead is quarantined,
//! and releasing one from quarantine is its `lead.created`, since no integration has heard of it before.
//!
//! `lead.created` and `lead.stage_changed` carry the lead's money ([`Event::money`], by the rule of
//! [`crate::money`]): the orders recorded by the same write are already on the lead, so a server postback that
//! moves a lead to Paid with its order sends the Purchase with its value. An order recorded without a stage
//! change fires nothing: no event type exists for it, and a second `Purchase` carrying the lead's whole revenue
//! would make the platforms count that revenue twice; an order event would have to carry only its own order.

use std::fmt;

use chrono::{DateTime, Utc};
use leadpipe_core::domain::{Lead, Stage};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::money::LeadMoney;

/// The kinds of event a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// A lead was created (or released from quarantine).
    #[serde(rename = "lead.created")]
    LeadCreated,
    /// A lead moved to another stage, forwards or backwards.
    #[serde(rename = "lead.stage_changed")]
    LeadStageChanged,
    /// A lead was deleted.
    #[serde(rename = "lead.deleted")]
    LeadDeleted,
}

impl EventType {
    /// Every event type, in the order the API documents them.
    pub const ALL: [EventType; 3] = [
        EventType::LeadCreated,
        EventType::LeadStageChanged,
        EventType::LeadDeleted,
    ];

    /// The wire name, e.g. `lead.stage_changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LeadCreated => "lead.created",
            Self::LeadStageChanged => "lead.stage_changed",
            Self::LeadDeleted => "lead.deleted",
        }
    }

    /// The event type with this wire name (exact match).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether this event puts the lead into a stage (`lead.created`, `lead.stage_changed`): the events a
    /// webhook's `stages` filter and the conversion formats look at.
    pub fn enters_stage(self) -> bool {
        matches!(self, Self::LeadCreated | Self::LeadStageChanged)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing that happened to one lead.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What happened.
    pub event_type: EventType,
    /// The lead's id.
    pub lead_id: Uuid,
    /// The lead's version after the write (for `lead.deleted`, the last stored version).
    pub version: u64,
    /// When it happened: the creation time, the time the lead entered its new stage, or when the deletion was
    /// observed.
    pub occurred_at: DateTime<Utc>,
    /// The stage before: `None` for `lead.created`; for `lead.deleted`, the stage the lead was in.
    pub from_stage: Option<Stage>,
    /// The stage after: `None` for `lead.deleted`.
    pub to_stage: Option<Stage>,
    /// The lead as it is after the event (for `lead.deleted`, as it was last stored).
    pub lead: Lead,
}

/// Why a (before, after) pair does not describe one lead's change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The two images belong to different leads: the caller paired the wrong records.
    #[error("before and after are different leads ({before} and {after})")]
    LeadMismatch {
        /// The old image's lead id.
        before: Uuid,
        /// The new image's lead id.
        after: Uuid,
    },
}

impl Event {
    /// The money this event carries ([`LeadMoney`], from the lead's counted orders): for `lead.created` and
    /// `lead.stage_changed` only, and `None` for a lead without counted orders.
    pub fn money(&self) -> Option<LeadMoney> {
        if self.event_type.enters_stage() {
            LeadMoney::of(&self.lead)
        } else {
            None
        }
    }

    /// The Standard Webhooks message id, `msg_<uuid>`: derived from the lead id, the lead version and the event
    /// type, so every retry of a delivery, and every replay of the same stream record, carries the same id and
    /// receivers can use it as an idempotency key. It never contains a `.` (the signature scheme needs that).
    pub fn message_id(&self) -> String {
        message_id(self.lead_id, self.version, self.event_type)
    }
}

/// The message id for an event (see [`Event::message_id`]): a UUID (version 8, "custom") made of the first 16
/// bytes of SHA-256 over a fixed label, the lead id, the big-endian version and the event type.
pub fn message_id(lead_id: Uuid, version: u64, event_type: EventType) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"leadpipe.webhook-message.v1\0");
    hasher.update(lead_id.as_bytes());
    hasher.update(version.to_be_bytes());
    hasher.update(event_type.as_str().as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    format!(
        "msg_{}",
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    )
}

/// The event one write produced, from the lead before and after it (`None` = did not exist).
///
/// `observed_at` dates deletions, whose old image carries no deletion time. Returns `Ok(None)` when the write
/// is not an event (a field update without a stage change, or a quarantined lead).
pub fn event_for(
    before: Option<&Lead>,
    after: Option<&Lead>,
    observed_at: DateTime<Utc>,
) -> Result<Option<Event>, EventError> {
    let event = match (before, after) {
        (None, None) => None,
        (None, Some(after)) => visible(after).then(|| created(after, after.created_at)),
        (Some(before), None) => visible(before).then(|| Event {
            event_type: EventType::LeadDeleted,
            lead_id: before.id,
            version: before.version,
            occurred_at: observed_at,
            from_stage: Some(before.stage.clone()),
            to_stage: None,
            lead: before.clone(),
        }),
        (Some(before), Some(after)) => {
            if before.id != after.id {
                return Err(EventError::LeadMismatch {
                    before: before.id,
                    after: after.id,
                });
            }
            if !visible(after) {
                None
            } else if !visible(before) {
                // Released from quarantine: integrations see the lead for the first time.
                Some(created(after, after.updated_at))
            } else if before.stage != after.stage {
                Some(Event {
                    event_type: EventType::LeadStageChanged,
                    lead_id: after.id,
                    version: after.version,
                    occurred_at: after.stage_entered_at,
                    from_stage: Some(before.stage.clone()),
                    to_stage: Some(after.stage.clone()),
                    lead: after.clone(),
                })
            } else {
                None
            }
        }
    };
    Ok(event)
}

fn visible(lead: &Lead) -> bool {
    lead.quarantine.is_none()
}

fn created(lead: &Lead, at: DateTime<Utc>) -> Event {
    Event {
        event_type: EventType::LeadCreated,
        lead_id: lead.id,
        version: lead.version,
        occurred_at: at,
        from_stage: None,
        to_stage: Some(lead.stage.clone()),
        lead: lead.clone(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use leadpipe_core::domain::{Pipeline, Quarantine};

    use super::*;

    pub(crate) fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("test timestamp")
    }

    pub(crate) fn stage(name: &str) -> Stage {
        Pipeline::default().stage(name).expect("default stage")
    }

    pub(crate) fn lead(stage_name: &str, version: u64) -> Lead {
        Lead {
            id: Uuid::parse_str("0b9a3c2e-6a51-4f4e-9d47-2f0c3f1f6a10").expect("uuid"),
            email: None,
            stage: stage(stage_name),
            text: Default::default(),
            form_completion_percent: None,
            form_fields_completed: None,
            form_fields_total: None,
            custom_data: Default::default(),
            first_touch: Default::default(),
            created_at: at("2026-03-01T10:00:00Z"),
            updated_at: at("2026-03-02T11:00:00Z"),
            stage_entered_at: at("2026-03-02T11:00:00Z"),
            stage_reached_at: Default::default(),
            stage_changes: 0,
            quarantine: None,
            orders: Vec::new(),
            revenue_reporting_minor: None,
            consent: None,
            consent_history: Vec::new(),
            version,
        }
    }

    fn quarantined(mut l: Lead) -> Lead {
        l.quarantine = Some(Quarantine {
            reason: "honeypot".into(),
            at: at("2026-03-01T10:00:00Z"),
        });
        l
    }

    const NOW: &str = "2026-03-05T00:00:00Z";

    #[test]
    fn wire_names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::String(t.to_string())
            );
        }
        assert_eq!(EventType::parse("lead.updated"), None);
        assert_eq!(EventType::parse("LEAD.CREATED"), None);
    }

    #[test]
    fn creation_is_lead_created_into_its_first_stage() {
        let after = lead("New", 1);
        let e = event_for(None, Some(&after), at(NOW)).unwrap().unwrap();
        assert_eq!(e.event_type, EventType::LeadCreated);
        assert_eq!((e.from_stage, e.to_stage), (None, Some(stage("New"))));
        assert_eq!(e.occurred_at, after.created_at);
        assert_eq!(e.version, 1);
    }

    #[test]
    fn stage_move_is_stage_changed_with_from_and_to() {
        let before = lead("New", 1);
        let after = lead("Paid", 2);
        let e = event_for(Some(&before), Some(&after), at(NOW))
            .unwrap()
            .unwrap();
        assert_eq!(e.event_type, EventType::LeadStageChanged);
        assert_eq!(e.from_stage, Some(stage("New")));
        assert_eq!(e.to_stage, Some(stage("Paid")));
        assert_eq!(e.occurred_at, after.stage_entered_at);
        assert_eq!(e.lead, after);
    }

    #[test]
    fn backward_move_is_a_stage_change_too() {
        let e = event_for(Some(&lead("Paid", 4)), Some(&lead("New", 5)), at(NOW))
            .unwrap()
            .unwrap();
        assert_eq!(e.event_type, EventType::LeadStageChanged);
        assert_eq!(e.to_stage, Some(stage("New")));
    }

    #[test]
    fn field_update_without_stage_change_is_no_event() {
        let mut after = lead("New", 2);
        after.text.phone = Some("+1 650 555 1234".into());
        assert_eq!(
            event_for(Some(&lead("New", 1)), Some(&after), at(NOW)).unwrap(),
            None
        );
    }

    #[test]
    fn deletion_carries_the_last_state_and_the_observation_time() {
        let before = lead("Paid", 7);
        let e = event_for(Some(&before), None, at(NOW)).unwrap().unwrap();
        assert_eq!(e.event_type, EventType::LeadDeleted);
        assert_eq!(e.from_stage, Some(stage("Paid")));
        assert_eq!(e.to_stage, None);
        assert_eq!(e.occurred_at, at(NOW));
        assert_eq!(e.version, 7);
        assert_eq!(e.lead, before);
    }

    #[test]
    fn nothing_before_or_after_is_no_event() {
        assert_eq!(event_for(None, None, at(NOW)).unwrap(), None);
    }

    #[test]
    fn mismatched_leads_are_refused() {
        let a = lead("New", 1);
        let mut b = lead("Paid", 2);
        b.id = Uuid::nil();
        assert!(matches!(
            event_for(Some(&a), Some(&b), at(NOW)),
            Err(EventError::LeadMismatch { .. })
        ));
    }

    #[test]
    fn quarantined_leads_are_invisible_until_released() {
        let q = quarantined(lead("New", 1));
        assert_eq!(
            event_for(None, Some(&q), at(NOW)).unwrap(),
            None,
            "created in quarantine"
        );
        let q2 = quarantined(lead("Paid", 2));
        assert_eq!(
            event_for(Some(&q), Some(&q2), at(NOW)).unwrap(),
            None,
            "moved while quarantined"
        );
        assert_eq!(
            event_for(Some(&q2), None, at(NOW)).unwrap(),
            None,
            "deleted while quarantined"
        );
        let released = lead("Paid", 3);
        let e = event_for(Some(&q2), Some(&released), at(NOW))
            .unwrap()
            .unwrap();
        assert_eq!(e.event_type, EventType::LeadCreated);
        assert_eq!(e.to_stage, Some(stage("Paid")));
        assert_eq!(e.occurred_at, released.updated_at);
        assert_eq!(
            event_for(
                Some(&lead("New", 1)),
                Some(&quarantined(lead("Paid", 2))),
                at(NOW)
            )
            .unwrap(),
            None
        );
    }

    #[test]
    fn message_id_is_stable_and_distinct() {
        let a = event_for(None, Some(&lead("New", 1)), at(NOW))
            .unwrap()
            .unwrap();
        let again = event_for(None, Some(&lead("New", 1)), at("2030-01-01T00:00:00Z"))
            .unwrap()
            .unwrap();
        assert_eq!(
            a.message_id(),
            again.message_id(),
            "same lead, version and type: same id"
        );
        let id = a.message_id();
        assert!(id.starts_with("msg_"));
        assert!(!id.contains('.'));
        let uuid = Uuid::parse_str(&id["msg_".len()..]).unwrap();
        assert_eq!(uuid.get_version_num(), 8);
        let other_version = message_id(a.lead_id, 2, EventType::LeadCreated);
        let other_type = message_id(a.lead_id, 1, EventType::LeadDeleted);
        let other_lead = message_id(Uuid::nil(), 1, EventType::LeadCreated);
        assert!(
            id != other_version
                && id != other_type
                && id != other_lead
                && other_version != other_type
        );
        // Frozen: the derivation must never change, or in-flight retries would get new ids after a deploy.
        assert_eq!(
            message_id(a.lead_id, 2, EventType::LeadStageChanged),
            "msg_7b1af699-2161-8117-8d92-b55e99c4a951"
        );
    }
}
