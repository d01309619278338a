//! The lead, its first-touch attribution and its stage history.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::email::Email;
use super::orders::Order;
use super::stage::Stage;

/// Calls `$m!` with every free-text field of a lead and its maximum length in bytes (UTF-8).
/// One list drives the lead's fields, postback parsing and merging, so they cannot drift apart.
macro_rules! with_text_fields {
    ($m:ident) => {
        $m! {
            first_name: 200, last_name: 200, phone: 64, company: 200,
            source: 200, domain: 255, campaign: 200,
            utm_source: 200, utm_medium: 200, utm_campaign: 200, utm_term: 200, utm_content: 200,
            referrer: 2048, ip_address: 64, user_agent: 512, browser: 100, device_type: 50
        }
    };
}

/// Calls `$m!` with the attribution fields whose first-seen value is kept in [`Lead::first_touch`].
macro_rules! with_attribution_fields {
    ($m:ident) => {
        $m! { source, domain, campaign, utm_source, utm_medium, utm_campaign, utm_term, utm_content, referrer, device_type }
    };
}

macro_rules! define_text_fields {
    ($($name:ident: $max:expr),* $(,)?) => {
        /// The free-text fields a postback may carry, each trimmed and length-checked; `None` when absent.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct TextFields {
            $(
                #[doc = concat!("`", stringify!($name), "` (at most ", stringify!($max), " bytes).")]
                pub $name: Option<String>,
            )*
        }

        impl TextFields {
            /// Every field name with its maximum length in bytes.
            pub const LIMITS: &'static [(&'static str, usize)] = &[$((stringify!($name), $max)),*];

            /// Overwrites each field that `newer` carries, keeping the others.
            pub fn overwrite_with(&mut self, newer: &TextFields) {
                $(
                    if newer.$name.is_some() {
                        self.$name.clone_from(&newer.$name);
                    }
                )*
            }

            /// Fills each still-empty field from `newer`; fields that hold a value keep it.
            pub fn fill_empty_from(&mut self, newer: &TextFields) {
                $(
                    if self.$name.is_none() {
                        self.$name.clone_from(&newer.$name);
                    }
                )*
            }

            /// Builds the fields from a JSON object, using `read(name, max_len)` for each.
            pub(crate) fn read_each<E>(mut read: impl FnMut(&'static str, usize) -> Result<Option<String>, E>) -> Result<Self, E> {
                Ok(Self { $($name: read(stringify!($name), $max)?,)* })
            }

            /// The field values in declaration order, for search indexing and display.
            pub fn values(&self) -> [(&'static str, Option<&str>); Self::LIMITS.len()] {
                [$((stringify!($name), self.$name.as_deref())),*]
            }
        }
    };
}
with_text_fields!(define_text_fields);

macro_rules! define_attribution {
    ($($name:ident),* $(,)?) => {
        /// Where a lead came from, as first seen: each field is set once, by the first postback that carries it.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct Attribution {
            $(
                #[doc = concat!("First `", stringify!($name), "` seen.")]
                pub $name: Option<String>,
            )*
        }

        impl Attribution {
            /// Fills each still-unknown field from `seen`; known fields never change.
            pub fn fill_from(&mut self, seen: &TextFields) {
                $(
                    if self.$name.is_none() {
                        self.$name.clone_from(&seen.$name);
                    }
                )*
            }
        }
    };
}
with_attribution_fields!(define_attribution);

/// Stage changes after creation kept in a lead's history; later ones still change the lead, and are counted in
/// [`Lead::stage_changes`].
pub const MAX_RECORDED_CHANGES: u32 = 200;

/// How a stage change happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// A landing page's postback.
    Postback,
    /// A marketer's manual move (`PUT /api/leads/:id/stage`).
    Manual,
}

/// One entry of a lead's stage history; the creation entry has `from: None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageChange {
    /// The stage before the change (`None` when the lead was created).
    pub from: Option<Stage>,
    /// The stage after the change.
    pub to: Stage,
    /// When it happened (UTC).
    pub at: DateTime<Utc>,
    /// What caused it.
    pub via: Via,
    /// True when a postback moved the lead backwards with `force_stage`, or a manual move went backwards.
    pub forced: bool,
    /// Who moved the lead by hand (the actor's label: an email, `key:<name>` or `open`); absent for postbacks,
    /// imports and entries stored before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// A lead as stored and as shown to admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    /// Server-generated UUID v4.
    pub id: Uuid,
    /// Normalised email, unique across leads.
    pub email: Option<Email>,
    /// Current stage.
    pub stage: Stage,
    /// Latest value of every free-text field.
    #[serde(flatten)]
    pub text: TextFields,
    /// How much of the form is filled in, 0–100.
    pub form_completion_percent: Option<f64>,
    /// Form fields filled in (never more than `form_fields_total`).
    pub form_fields_completed: Option<u32>,
    /// Form fields in all.
    pub form_fields_total: Option<u32>,
    /// Extra key/value pairs, merged by key across postbacks.
    #[serde(default)]
    pub custom_data: Map<String, Value>,
    /// Attribution as first seen.
    #[serde(default)]
    pub first_touch: Attribution,
    /// When the first postback created the lead.
    pub created_at: DateTime<Utc>,
    /// When the lead last changed.
    pub updated_at: DateTime<Utc>,
    /// When the lead entered its current stage.
    pub stage_entered_at: DateTime<Utc>,
    /// When the lead first reached each stage (or passed it by skipping); drives funnel analytics.
    #[serde(default)]
    pub stage_reached_at: BTreeMap<Stage, DateTime<Utc>>,
    /// Stage changes after creation. Only the first [`MAX_RECORDED_CHANGES`] are kept in the history, so a lead
    /// toggled back and forth forever cannot grow it without bound.
    #[serde(default)]
    pub stage_changes: u32,
    /// Set when the lead looks like a bot or spam: it is stored but kept out of analytics and the board until an
    /// admin releases it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<Quarantine>,
    /// Orders: the money the lead brought (see [`super::orders`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<Order>,
    /// The counted revenue in the reporting currency (minor units), converted with the rates known when the lead
    /// was last written or re-ranked; orders without a rate are left out of it. `None` without counted orders.
    /// Revenue listings sort by it (see [`Lead::revenue_key`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue_reporting_minor: Option<i64>,
    /// The person's consent now, per purpose (see [`super::consent`]); `None` when no postback carried any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<super::consent::Consent>,
    /// Every change of the consent, oldest first (at most [`super::consent::MAX_CONSENT_HISTORY`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent_history: Vec<super::consent::ConsentChange>,
    /// Optimistic-concurrency version, incremented by every write.
    #[serde(default)]
    pub version: u64,
}

/// Why and when a lead was quarantined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantine {
    /// What gave it away (e.g. `honeypot`, `bot_user_agent`, `ip_rate`).
    pub reason: String,
    /// When it was quarantined.
    pub at: DateTime<Utc>,
}

impl Lead {
    /// Sort key for newest-first listings: creation time with microseconds, then the id (unique, fixed width).
    pub fn created_key(&self) -> String {
        created_key(self.created_at, self.id)
    }

    /// Sort key of revenue listings (`None` without counted orders): see [`revenue_key`].
    pub fn revenue_key(&self) -> Option<String> {
        self.revenue_reporting_minor
            .map(|minor| revenue_key(minor, &self.created_key()))
    }

    /// Lower-cased text that `search` matches: names, email, phone and company, one per line.
    pub fn search_text(&self) -> String {
        let t = &self.text;
        let parts = [
            t.first_name.as_deref(),
            t.last_name.as_deref(),
            self.email.as_ref().map(Email::as_str),
            t.phone.as_deref(),
            t.company.as_deref(),
        ];
        let mut out = String::new();
        for part in parts.into_iter().flatten() {
            out.push_str(&part.to_lowercase());
            out.push('\n');
        }
        // First and last name together, so "john smith" matches.
        if let (Some(f), Some(l)) = (&t.first_name, &t.last_name) {
            out.push_str(&format!("{} {}\n", f.to_lowercase(), l.to_lowercase()));
        }
        out
    }
}

/// The listing sort key for a creation time and id; see [`Lead::created_key`].
pub fn created_key(at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}#{}", key_time(at), id)
}

/// The sort key of a revenue listing: the reporting-currency amount as 20 digits that sort in numeric order
/// (the sign bit flipped, so refunds sort below zero), then the creation key, which breaks ties by time.
pub fn revenue_key(minor: i64, created_key: &str) -> String {
    format!("{:020}#{created_key}", (minor as u64) ^ (1 << 63))
}

/// The time part of listing keys (fixed-width UTC with microseconds, so keys sort by time). Every key of a lead
/// created at or after `at` sorts at or after `key_time(at)`, which makes it the bound for date filters too.
pub fn key_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revenue_keys_sort_by_amount_then_time() {
        let (early, late) = (
            "2026-01-01T00:00:00.000000Z#a",
            "2026-01-02T00:00:00.000000Z#a",
        );
        let keys: Vec<String> = [
            (i64::MIN, late),
            (-250, early),
            (0, early),
            (0, late),
            (99, late),
            (100, early),
            (i64::MAX, early),
        ]
        .iter()
        .map(|(m, k)| revenue_key(*m, k))
        .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(sorted, keys);
        assert!(keys.iter().all(|k| k.len() == keys[0].len()), "fixed width");
    }

    #[test]
    fn created_keys_sort_by_time() {
        let id = Uuid::nil();
        let a = created_key("2026-01-02T03:04:05.1Z".parse().unwrap(), id);
        let b = created_key("2026-01-02T03:04:05.123456Z".parse().unwrap(), id);
        let c = created_key("2026-01-10T00:00:00Z".parse().unwrap(), id);
        assert_eq!(
            a,
            "2026-01-02T03:04:05.100000Z#00000000-0000-0000-0000-000000000000"
        );
        assert!(a < b && b < c);
    }

    #[test]
    fn overwrite_keeps_absent_fields() {
        let mut old = TextFields {
            first_name: Some("John".into()),
            phone: Some("1".into()),
            ..Default::default()
        };
        old.overwrite_with(&TextFields {
            phone: Some("2".into()),
            company: Some("Acme".into()),
            ..Default::default()
        });
        assert_eq!(old.first_name.as_deref(), Some("John"));
        assert_eq!(old.phone.as_deref(), Some("2"));
        assert_eq!(old.company.as_deref(), Some("Acme"));
    }

    #[test]
    fn first_touch_is_set_once() {
        let mut ft = Attribution::default();
        ft.fill_from(&TextFields {
            source: Some("google".into()),
            ..Default::default()
        });
        ft.fill_from(&TextFields {
            source: Some("facebook".into()),
            campaign: Some("x".into()),
            ..Default::default()
        });
        assert_eq!(ft.source.as_deref(), Some("google"));
        assert_eq!(
            ft.campaign.as_deref(),
            Some("x"),
            "a field first seen later is still recorded"
        );
    }
}
