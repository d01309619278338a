//! The `ga4` format: one GA4 Measurement Protocol request body (web stream).
//!
//! Sources: Google Analytics "Measurement Protocol reference" (developers.google.com/analytics/devguides/collection/protocol/ga4/reference),
//! "Send Measurement Protocol events" (…/protocol/ga4/sending-events) and "Send user-provided data with User-ID"
//! (developers.google.com/analytics/devguides/collection/ga4/uid-data); recommended events from "\[GA4\] Recommended
//! events" (support.google.com/analytics/answer/9267735).
//!
//! ```json
//! {
//!   "client_id": "1234567890.1700000000", "user_id": "<lead id>", "timestamp_micros": 1772449200000000,
//!   "events": [{"name": "purchase", "params": {"lead_stage": "Paid", "currency": "USD", "value": 49.99,
//!                                              "transaction_id": "A-1001"}}],
//!   "user_data": {"sha256_email_address": ["<sha256>"], "sha256_phone_number": ["<sha256>"],
//!                 "address": [{"sha256_first_name": "<sha256>", "sha256_last_name": "<sha256>"}]}
//! }
//! ```
//!
//! - `client_id` must be the site's GA client id (from the `_ga` cookie, see [`super::signals`]) for the hit to
//!   join the visitor's session; without one the lead id is used, which GA accepts but counts as a new user.
//! - `user_id` is the lead id (not personal data): Google asks for `user_id` whenever `user_data` is sent.
//! - `timestamp_micros` is the stage change; Google documents that it may be backdated at most 72 hours, so a
//!   delivery retried past that is recorded at receipt time or dropped (not confirmable from here).
//! - `user_data` values are hex SHA-256 of Google's normalisation ([`super::normalize::email_google`],
//!   [`super::normalize::e164_phone`], [`super::normalize::name_google`]).
//! - `value` (a number) and `currency` (ISO 4217, "required if you set value" in the recommended events
//!   reference, …/protocol/ga4/reference/events, for `purchase`, `generate_lead` and the others) come from the
//!   lead's counted orders by the rule of [`crate::money`], on every event of a lead that has orders; a lead
//!   without orders sends neither (not 0).
//! - `transaction_id` (required by `purchase`; GA4 drops a purchase whose id it has seen) is the most recent
//!   counted order's id (made unique across leads when Leadpipe generated it), else the lead id, as before
//!   orders existed. Other events carry none. `session_id` is added when the lead has one.
//! - Not sent: `gclid` (the Measurement Protocol documents no field for it), `engagement_time_msec`.
//! - The `measurement_id` and `api_secret` belong in the webhook URL's query string.

use serde_json::{json, Map, Value};

use super::normalize::{e164_phone, email_google, name_google, sha256_hex};
use super::signals::Signals;
use crate::event::Event;

/// The GA4 Measurement Protocol body for `event` sent as event `name`. `consent` is the lead's `ad_user_data`
/// consent when the webhook requires it (see [`super::consent`]): `Some(false)` sends no `user_data` or
/// `user_id`, and either answer is stated in consent mode's `consent` object; `None` states nothing.
pub fn payload(event: &Event, name: &str, consent: Option<bool>) -> Value {
    let consented = consent.unwrap_or(true);
    let s = Signals::of(&event.lead);
    let lead_id = event.lead_id.to_string();

    let mut params = Map::new();
    if let Some(stage) = &event.to_stage {
        params.insert("lead_stage".into(), json!(stage));
    }
    let money = event.money();
    if let Some(m) = &money {
        if let Some(value) = m.platform_value() {
            params.insert("currency".into(), json!(m.currency()));
            params.insert("value".into(), Value::Number(value));
        }
    }
    if name == "purchase" {
        let transaction_id = money
            .as_ref()
            .map_or_else(|| lead_id.clone(), |m| m.platform_order_id(event.lead_id));
        params.insert("transaction_id".into(), json!(transaction_id));
    }
    if let Some(session) = s.ga_session_id {
        params.insert("session_id".into(), json!(session));
    }

    let mut user_data = Map::new();
    if let Some(email) = s.email.and_then(email_google) {
        user_data.insert("sha256_email_address".into(), json!([sha256_hex(&email)]));
    }
    if let Some(phone) = s.phone.and_then(e164_phone) {
        user_data.insert("sha256_phone_number".into(), json!([sha256_hex(&phone)]));
    }
    let mut address = Map::new();
    if let Some(first) = s.first_name.and_then(name_google) {
        address.insert("sha256_first_name".into(), json!(sha256_hex(&first)));
    }
    if let Some(last) = s.last_name.and_then(name_google) {
        address.insert("sha256_last_name".into(), json!(sha256_hex(&last)));
    }
    if !address.is_empty() {
        user_data.insert("address".into(), json!([address]));
    }

    let mut body = Map::new();
    body.insert(
        "client_id".into(),
        json!(s.ga_client_id.unwrap_or_else(|| lead_id.clone())),
    );
    if consented {
        body.insert("user_id".into(), json!(lead_id));
    }
    body.insert(
        "timestamp_micros".into(),
        json!(event.occurred_at.timestamp_micros()),
    );
    body.insert("events".into(), json!([{ "name": name, "params": params }]));
    if consented && !user_data.is_empty() {
        body.insert("user_data".into(), Value::Object(user_data));
    }
    if consent.is_some() {
        let granted = |yes: bool| if yes { "GRANTED" } else { "DENIED" };
        let personalization = consented
            && event
                .lead
                .consent
                .as_ref()
                .is_some_and(|c| c.grants("ad_personalization"));
        body.insert(
            "consent".into(),
            json!({"ad_user_data": granted(consented), "ad_personalization": granted(personalization)}),
        );
    }
    Value::Object(body)
}
