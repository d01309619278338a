//! Payload formats: the Leadpipe event JSON, and the three ad-platform conversion APIs.
//!
//! - [`Format::Standard`]: Leadpipe's own event ([`standard`]), for any event type.
//! - [`Format::MetaCapi`], [`Format::Ga4`], [`Format::TikTok`]: one conversion per lead entering a stage that maps
//!   to a platform event name ([`EventNames`]); other stages, and deletions, send nothing.
//!
//! Every builder is pure: it reads the [`Event`] (and the lead inside it) and returns JSON. Where a platform
//! field comes from is documented on each module; the lead's `custom_data` supplies browser identifiers that
//! Leadpipe has no column for (`fbc`, `fbp`, `ttclid`, `_ga`, `value`/`currency`, …), see [`signals`].

pub mod consent;
pub mod ga4;
pub mod meta;
pub mod normalize;
pub mod signals;
pub mod standard;
pub mod tiktok;

use std::collections::BTreeMap;
use std::fmt;

use leadpipe_core::domain::Stage;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::Event;
use crate::webhook::Webhook;

/// What a webhook's body looks like.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// The Leadpipe event JSON (`{type, timestamp, data}`).
    #[default]
    Standard,
    /// A Meta Conversions API server event.
    MetaCapi,
    /// A GA4 Measurement Protocol hit.
    Ga4,
    /// A TikTok Events API 2.0 web event.
    #[serde(rename = "tiktok")]
    TikTok,
}

impl Format {
    /// Every format, in documentation order.
    pub const ALL: [Format; 4] = [
        Format::Standard,
        Format::MetaCapi,
        Format::Ga4,
        Format::TikTok,
    ];

    /// The wire name used in `POST /api/webhooks`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::MetaCapi => "meta_capi",
            Self::Ga4 => "ga4",
            Self::TikTok => "tiktok",
        }
    }

    /// The format with this wire name (exact match).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// Whether this is an ad-platform conversion format (stage → platform event name).
    pub fn is_conversion(self) -> bool {
        !matches!(self, Self::Standard)
    }

    /// The platform event name a stage maps to when the webhook does not override it.
    ///
    /// Defaults exist for the default pipeline's stages whose meaning is clear (matched case-insensitively);
    /// every other stage sends nothing unless `event_names` names it:
    ///
    /// | stage | Meta | GA4 | TikTok |
    /// | --- | --- | --- | --- |
    /// | New | `Lead` | `generate_lead` | `Lead` |
    /// | Application Submitted | `SubmitApplication` | `submit_application` | `SubmitApplication` |
    /// | Paid | `Purchase` | `purchase` | `Purchase` |
    ///
    /// Meta's names are its standard events; GA4's `generate_lead` and `purchase` are recommended events, and
    /// `submit_application` is a custom event (GA4 has no recommended one for it); TikTok's are standard events
    /// as renamed in May 2025 (`Lead` was `SubmitForm`, `Purchase` was `CompletePayment`).
    pub fn default_event_name(self, stage: &Stage) -> Option<&'static str> {
        let stage = stage.as_str().to_lowercase();
        let names = match stage.as_str() {
            "new" => ["Lead", "generate_lead", "Lead"],
            "application submitted" => [
                "SubmitApplication",
                "submit_application",
                "SubmitApplication",
            ],
            "paid" => ["Purchase", "purchase", "Purchase"],
            _ => return None,
        };
        match self {
            Self::Standard => None,
            Self::MetaCapi => Some(names[0]),
            Self::Ga4 => Some(names[1]),
            Self::TikTok => Some(names[2]),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A webhook's stage → platform event name overrides, keyed by canonical stage name. A `None` value turns a
/// default off (that stage sends nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventNames(pub BTreeMap<String, Option<String>>);

impl EventNames {
    /// The platform event name for a lead entering `stage`: the override if there is one, else the format's
    /// default; `None` = send nothing.
    pub fn resolve(&self, format: Format, stage: &Stage) -> Option<String> {
        match self.0.get(stage.as_str()) {
            Some(name) => name.clone(),
            None => format.default_event_name(stage).map(str::to_string),
        }
    }
}

/// The body `webhook` gets for `event`, or `None` when it gets nothing (a conversion format and a deletion, a
/// stage with no event name, or a lead without the consent Meta or TikTok need: see [`consent`]). Does not look at the webhook's subscription; see [`Webhook::wants`].
pub fn payload(webhook: &Webhook, event: &Event) -> Option<Value> {
    if webhook.format == Format::Standard {
        return Some(standard::payload(event));
    }
    if !event.event_type.enters_stage() {
        return None;
    }
    let name = webhook
        .event_names
        .resolve(webhook.format, event.to_stage.as_ref()?)?;
    let consented = webhook.consent.allows(&event.lead);
    match webhook.format {
        Format::Standard => None,
        Format::Ga4 => Some(ga4::payload(
            event,
            &name,
            (webhook.consent == consent::ConsentRule::Required).then_some(consented),
        )),
        // Meta's and TikTok's APIs have no consent signal: without consent they get nothing.
        _ if !consented => None,
        Format::MetaCapi => Some(meta::payload(event, &name)),
        Format::TikTok => Some(tiktok::payload(
            event,
            &name,
            webhook.event_source_id.as_deref().unwrap_or_default(),
        )),
    }
}

#[cfg(test)]
pub(crate) mod golden;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::tests::stage;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.as_str()), Some(f));
            assert_eq!(
                serde_json::to_value(f).unwrap(),
                Value::String(f.to_string())
            );
        }
        assert_eq!(Format::parse("meta"), None);
        assert!(!Format::Standard.is_conversion() && Format::Ga4.is_conversion());
    }

    #[test]
    fn default_names_cover_the_clear_stages() {
        assert_eq!(
            Format::MetaCapi.default_event_name(&stage("New")),
            Some("Lead")
        );
        assert_eq!(
            Format::MetaCapi.default_event_name(&stage("Application Submitted")),
            Some("SubmitApplication")
        );
        assert_eq!(
            Format::Ga4.default_event_name(&stage("Paid")),
            Some("purchase")
        );
        assert_eq!(
            Format::TikTok.default_event_name(&stage("Paid")),
            Some("Purchase")
        );
        assert_eq!(
            Format::TikTok.default_event_name(&stage("Form Started")),
            None
        );
        assert_eq!(
            Format::MetaCapi.default_event_name(&stage("Completed")),
            None
        );
        assert_eq!(Format::Standard.default_event_name(&stage("Paid")), None);
    }

    #[test]
    fn overrides_replace_or_silence_defaults() {
        let names = EventNames(BTreeMap::from([
            ("Completed".to_string(), Some("Subscribe".to_string())),
            ("New".to_string(), None),
        ]));
        assert_eq!(
            names
                .resolve(Format::MetaCapi, &stage("Completed"))
                .as_deref(),
            Some("Subscribe")
        );
        assert_eq!(names.resolve(Format::MetaCapi, &stage("New")), None);
        assert_eq!(
            names.resolve(Format::MetaCapi, &stage("Paid")).as_deref(),
            Some("Purchase")
        );
    }
}
