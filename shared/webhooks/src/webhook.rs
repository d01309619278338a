//! A webhook's configuration, and the pure decision of which webhooks an event triggers with which body.

use chrono::{DateTime, Utc};
use leadpipe_core::domain::Stage;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::WebhookSpec;
use crate::event::{Event, EventType};
use crate::formats::{self, EventNames, Format};
use crate::signing::Secret;

/// One configured webhook, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    /// Server-generated id.
    pub id: Uuid,
    /// Where deliveries are POSTed (validated by [`crate::config::check_url`]).
    pub url: String,
    /// The event types it subscribes to (sorted, no duplicates).
    pub events: Vec<EventType>,
    /// Only events that put the lead into one of these stages (`lead.created`, `lead.stage_changed`);
    /// `None` = every stage. `lead.deleted` is never filtered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<Stage>>,
    /// The body format.
    #[serde(default)]
    pub format: Format,
    /// Stage → platform event name overrides (conversion formats only).
    #[serde(default, skip_serializing_if = "is_empty_names")]
    pub event_names: EventNames,
    /// The TikTok pixel code (`event_source_id`); set exactly when `format` is `tiktok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source_id: Option<String>,
    /// Conversion formats: whether a lead's data needs its `ad_user_data` consent (see
    /// [`crate::formats::consent`]); webhooks stored before it existed read as `required`.
    #[serde(default, skip_serializing_if = "crate::formats::consent::is_default")]
    pub consent: crate::formats::consent::ConsentRule,
    /// The Standard Webhooks signing secret (`whsec_…`), shown to the owner once at creation.
    pub secret: Secret,
    /// False once disabled (by its owner, or automatically: see [`crate::retry::EndpointHealth`]).
    pub enabled: bool,
    /// Why it was disabled, for the owner to see; `None` while enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
}

fn is_empty_names(names: &EventNames) -> bool {
    names.0.is_empty()
}

impl Webhook {
    /// A new, enabled webhook from a validated `POST /api/webhooks` body and a fresh secret.
    pub fn new(id: Uuid, spec: WebhookSpec, secret: Secret) -> Self {
        Self {
            id,
            url: spec.url,
            events: spec.events,
            stages: spec.stages,
            format: spec.format,
            event_names: spec.event_names,
            event_source_id: spec.event_source_id,
            consent: spec.consent,
            secret,
            enabled: true,
            disabled_reason: None,
        }
    }

    /// Whether this webhook is enabled, subscribes to the event's type and, for stage-entering events, its
    /// stage filter lets the event's stage through.
    pub fn wants(&self, event: &Event) -> bool {
        if !self.enabled || !self.events.contains(&event.event_type) {
            return false;
        }
        match (&self.stages, event.event_type.enters_stage()) {
            (Some(stages), true) => event.to_stage.as_ref().is_some_and(|s| stages.contains(s)),
            _ => true,
        }
    }

    /// Disables the webhook, keeping the first reason if it is already disabled.
    pub fn disable(&mut self, reason: impl Into<String>) {
        if self.enabled {
            self.enabled = false;
            self.disabled_reason = Some(reason.into());
        }
    }

    /// Re-enables the webhook (its owner fixed the endpoint) and clears the reason.
    pub fn enable(&mut self) {
        self.enabled = true;
        self.disabled_reason = None;
    }
}

/// One body to deliver to one webhook: what a delivery worker needs, and what [`crate::retry::Delivery::new`]
/// stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispatch {
    /// The webhook to deliver to.
    pub webhook_id: Uuid,
    /// The Standard Webhooks `webhook-id`, the same on every attempt.
    pub message_id: String,
    /// What happened.
    pub event_type: EventType,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The exact request body (JSON): sign and send these bytes, never a re-serialisation.
    pub body: String,
}

/// Every delivery `event` triggers: one per webhook that [`Webhook::wants`] it and whose format has a body for
/// it (conversion formats skip deletions and unmapped stages).
pub fn dispatch(webhooks: &[Webhook], event: &Event) -> Vec<Dispatch> {
    webhooks
        .iter()
        .filter(|w| w.wants(event))
        .filter_map(|w| {
            let body = formats::payload(w, event)?;
            Some(Dispatch {
                webhook_id: w.id,
                message_id: event.message_id(),
                event_type: event.event_type,
                occurred_at: event.occurred_at,
                body: body.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::event::event_for;
    use crate::event::tests::{at, lead, stage};

    pub(crate) fn hook(n: u128, events: &[EventType], format: Format) -> Webhook {
        Webhook {
            id: Uuid::from_u128(n),
            url: format!("https://hooks.example.com/{n}"),
            events: events.to_vec(),
            stages: None,
            format,
            event_names: EventNames::default(),
            event_source_id: (format == Format::TikTok).then(|| "CPIXEL123".to_string()),
            // The format tests look at what is sent with consent; `formats::consent` tests the rule itself.
            consent: crate::formats::consent::ConsentRule::NotRequired,
            secret: Secret::from_bytes(&[n as u8; 32]).unwrap(),
            enabled: true,
            disabled_reason: None,
        }
    }

    fn moved(from: &str, to: &str) -> Event {
        event_for(
            Some(&lead(from, 1)),
            Some(&lead(to, 2)),
            at("2026-03-05T00:00:00Z"),
        )
        .unwrap()
        .unwrap()
    }

    #[test]
    fn subscription_and_enabled_flag_decide() {
        let e = moved("New", "Paid");
        let all = hook(1, &EventType::ALL, Format::Standard);
        let created_only = hook(2, &[EventType::LeadCreated], Format::Standard);
        let mut off = hook(3, &EventType::ALL, Format::Standard);
        off.disable("410 Gone");
        assert!(all.wants(&e));
        assert!(!created_only.wants(&e));
        assert!(!off.wants(&e));
        let d = dispatch(&[all, created_only, off], &e);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].webhook_id, Uuid::from_u128(1));
        assert_eq!(d[0].message_id, e.message_id());
    }

    #[test]
    fn stage_filter_applies_to_stage_entering_events_only() {
        let mut paid_only = hook(1, &EventType::ALL, Format::Standard);
        paid_only.stages = Some(vec![stage("Paid")]);
        assert!(paid_only.wants(&moved("New", "Paid")));
        assert!(!paid_only.wants(&moved("New", "Form Started")));
        let created_new = event_for(None, Some(&lead("New", 1)), at("2026-03-05T00:00:00Z"))
            .unwrap()
            .unwrap();
        assert!(
            !paid_only.wants(&created_new),
            "created into New is not entering Paid"
        );
        let created_paid = event_for(None, Some(&lead("Paid", 1)), at("2026-03-05T00:00:00Z"))
            .unwrap()
            .unwrap();
        assert!(paid_only.wants(&created_paid), "created straight into Paid");
        let deleted = event_for(Some(&lead("New", 1)), None, at("2026-03-05T00:00:00Z"))
            .unwrap()
            .unwrap();
        assert!(
            paid_only.wants(&deleted),
            "deletions are not stage-filtered"
        );
    }

    #[test]
    fn conversion_formats_send_only_mapped_stages_and_never_deletions() {
        let meta = hook(1, &EventType::ALL, Format::MetaCapi);
        assert_eq!(
            dispatch(std::slice::from_ref(&meta), &moved("New", "Paid")).len(),
            1
        );
        assert!(dispatch(std::slice::from_ref(&meta), &moved("New", "Form Started")).is_empty());
        let deleted = event_for(Some(&lead("Paid", 1)), None, at("2026-03-05T00:00:00Z"))
            .unwrap()
            .unwrap();
        assert!(dispatch(std::slice::from_ref(&meta), &deleted).is_empty());
        let mut custom = hook(2, &EventType::ALL, Format::MetaCapi);
        custom.event_names = EventNames(BTreeMap::from([(
            "Form Started".to_string(),
            Some("InitiateCheckout".to_string()),
        )]));
        let d = dispatch(&[custom], &moved("New", "Form Started"));
        assert_eq!(d.len(), 1);
        assert!(d[0].body.contains(r#""event_name":"InitiateCheckout""#));
    }

    #[test]
    fn one_event_fans_out_to_every_format() {
        let hooks = [
            hook(1, &EventType::ALL, Format::Standard),
            hook(2, &EventType::ALL, Format::MetaCapi),
            hook(3, &EventType::ALL, Format::Ga4),
            hook(4, &EventType::ALL, Format::TikTok),
        ];
        let e = moved("New", "Paid");
        let d = dispatch(&hooks, &e);
        assert_eq!(d.len(), 4);
        assert!(
            d.iter()
                .all(|d| d.message_id == e.message_id()
                    && d.event_type == EventType::LeadStageChanged)
        );
        for one in &d {
            let parsed: serde_json::Value = serde_json::from_str(&one.body).unwrap();
            assert!(parsed.is_object());
        }
    }

    #[test]
    fn disable_keeps_the_first_reason_and_enable_clears_it() {
        let mut w = hook(1, &EventType::ALL, Format::Standard);
        w.disable("first");
        w.disable("second");
        assert_eq!(
            (w.enabled, w.disabled_reason.as_deref()),
            (false, Some("first"))
        );
        w.enable();
        assert_eq!((w.enabled, w.disabled_reason), (true, None));
    }

    #[test]
    fn stored_form_round_trips() {
        let mut w = hook(4, &[EventType::LeadStageChanged], Format::TikTok);
        w.stages = Some(vec![stage("Paid")]);
        let json = serde_json::to_value(&w).unwrap();
        assert_eq!(json["format"], "tiktok");
        assert_eq!(json["events"], serde_json::json!(["lead.stage_changed"]));
        assert!(json["secret"].as_str().unwrap().starts_with("whsec_"));
        let back: Webhook = serde_json::from_value(json).unwrap();
        assert_eq!(back, w);
    }
}
