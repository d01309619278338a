//! What an ad-platform webhook sends for a lead, by the lead's consent (see
//! [`leadpipe_core::domain::consent`]). The purpose that matters is `ad_user_data`: consent to send the person's
//! data to an advertising platform.
//!
//! | format | `ad_user_data` granted | not granted (refused, or never asked) |
//! |---|---|---|
//! | `meta_capi` | the conversion | **nothing** (the Conversions API has no consent signal; every event carries user data) |
//! | `tiktok` | the conversion | **nothing** (the same holds for the Events API) |
//! | `ga4` | the hit with `user_data`, and `consent: {ad_user_data: GRANTED, ad_personalization: …}` | the hit **without** `user_data` or `user_id`, with `consent: {ad_user_data: DENIED, ad_personalization: DENIED}` (Google's consent mode: GA4 still counts the conversion, and uses no personal data for ads) |
//! | `standard` | the event (the lead inside it carries its consent, for the receiver to honour) | the same |
//!
//! A webhook created with `"consent": "not_required"` (for deployments that record consent elsewhere, or rely on
//! another legal basis) sends as if `ad_user_data` were granted. The default is `required`.

use leadpipe_core::domain::consent::AD_USER_DATA;
use leadpipe_core::domain::Lead;
use serde::{Deserialize, Serialize};

/// Whether a conversion webhook needs the lead's `ad_user_data` consent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentRule {
    /// Send a lead's data only with its `ad_user_data` consent (the table in the module documentation).
    #[default]
    Required,
    /// Send as if every lead consented.
    NotRequired,
}

impl ConsentRule {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::NotRequired => "not_required",
        }
    }

    /// The rule with this wire name.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Required, Self::NotRequired]
            .into_iter()
            .find(|r| r.as_str() == name)
    }

    /// Whether `lead`'s data may go to an ad platform under this rule.
    pub fn allows(self, lead: &Lead) -> bool {
        self == Self::NotRequired
            || lead
                .consent
                .as_ref()
                .is_some_and(|c| c.grants(AD_USER_DATA))
    }
}

/// Whether this is the default rule (left out of a stored webhook).
pub fn is_default(rule: &ConsentRule) -> bool {
    *rule == ConsentRule::default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use leadpipe_core::domain::consent::Consent;
    use leadpipe_core::domain::Email;
    use serde_json::Value;

    use super::*;
    use crate::event::event_for;
    use crate::event::tests::{at, lead};
    use crate::formats::{payload, Format};
    use crate::webhook::tests::hook;
    use crate::EventType;

    fn paid(consent: Option<&[(&str, bool)]>) -> crate::Event {
        let mut after = lead("Paid", 2);
        after.email = Some(Email::parse("ada@example.com").unwrap());
        after.consent = consent.map(|purposes| Consent {
            purposes: purposes
                .iter()
                .map(|(p, g)| ((*p).to_string(), *g))
                .collect::<BTreeMap<_, _>>(),
            ..Consent::default()
        });
        event_for(
            Some(&lead("New", 1)),
            Some(&after),
            at("2026-03-05T00:00:00Z"),
        )
        .unwrap()
        .unwrap()
    }

    fn required(format: Format) -> crate::Webhook {
        crate::Webhook {
            consent: ConsentRule::Required,
            ..hook(1, &[EventType::LeadStageChanged], format)
        }
    }

    #[test]
    fn meta_and_tiktok_send_nothing_without_ad_user_data_consent() {
        for format in [Format::MetaCapi, Format::TikTok] {
            let hook = required(format);
            assert_eq!(payload(&hook, &paid(None)), None, "{format}: never asked");
            assert_eq!(
                payload(
                    &hook,
                    &paid(Some(&[("ad_user_data", false), ("marketing", true)]))
                ),
                None,
                "{format}: refused"
            );
            assert!(
                payload(&hook, &paid(Some(&[("ad_user_data", true)]))).is_some(),
                "{format}: granted"
            );
            let anyway = crate::Webhook {
                consent: ConsentRule::NotRequired,
                ..hook
            };
            assert!(
                payload(&anyway, &paid(None)).is_some(),
                "{format}: not_required sends"
            );
        }
    }

    #[test]
    fn ga4_without_consent_counts_the_conversion_without_personal_data() {
        let hook = required(Format::Ga4);
        let denied = payload(&hook, &paid(Some(&[("ad_user_data", false)]))).unwrap();
        assert!(
            denied.get("user_data").is_none() && denied.get("user_id").is_none(),
            "{denied}"
        );
        assert_eq!(
            denied["consent"],
            serde_json::json!({"ad_user_data": "DENIED", "ad_personalization": "DENIED"})
        );
        assert_eq!(denied["events"][0]["name"], Value::from("purchase"));
        let granted = payload(
            &hook,
            &paid(Some(&[
                ("ad_user_data", true),
                ("ad_personalization", true),
            ])),
        )
        .unwrap();
        assert!(
            granted["user_data"]["sha256_email_address"].is_array(),
            "{granted}"
        );
        assert_eq!(
            granted["consent"],
            serde_json::json!({"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"})
        );
        let unsaid = payload(
            &crate::Webhook {
                consent: ConsentRule::NotRequired,
                ..hook
            },
            &paid(None),
        )
        .unwrap();
        assert!(unsaid.get("consent").is_none() && unsaid.get("user_data").is_some());
    }

    #[test]
    fn rule_names_round_trip_and_old_webhooks_read_as_required() {
        for rule in [ConsentRule::Required, ConsentRule::NotRequired] {
            assert_eq!(ConsentRule::parse(rule.as_str()), Some(rule));
        }
        assert_eq!(ConsentRule::parse("yes"), None);
        let mut stored =
            serde_json::to_value(hook(2, &[EventType::LeadCreated], Format::MetaCapi)).unwrap();
        stored.as_object_mut().unwrap().remove("consent");
        let read: crate::Webhook = serde_json::from_value(stored).unwrap();
        assert_eq!(read.consent, ConsentRule::Required);
    }
}
