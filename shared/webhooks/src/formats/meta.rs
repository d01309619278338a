//! The `meta_capi` format: one Meta Conversions API server event.
//!
//! Sources: Meta for Developers, Conversions API "Parameters" (developers.facebook.com/documentation/ads-commerce/conversions-api/parameters),
//! "Server Event Parameters" and "Customer Information Parameters"
//! (developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters).
//!
//! ```json
//! {"data": [{
//!   "event_name": "Purchase", "event_time": 1772449200, "event_id": "msg_…", "action_source": "website",
//!   "event_source_url": "https://example.com/apply",
//!   "user_data": {"em": "<sha256>", "ph": "<sha256>", "fn": "<sha256>", "ln": "<sha256>", "external_id": "<sha256>",
//!                 "client_ip_address": "…", "client_user_agent": "…", "fbc": "…", "fbp": "…"},
//!   "custom_data": {"lead_stage": "Paid", "currency": "USD", "value": 49.99, "order_id": "A-1001"}
//! }]}
//! ```
//!
//! - `event_time` is unix seconds of the stage change; `event_id` is the Standard Webhooks message id, stable
//!   across retries, which Meta uses to deduplicate.
//! - `em`, `ph`, `fn`, `ln` are "Hashing required" (normalised as in [`super::normalize`]); `external_id` is
//!   "Hashing recommended" and is the SHA-256 of the lead id; `client_ip_address`, `client_user_agent`, `fbc`
//!   and `fbp` are "Do not hash" and are sent as stored.
//! - Website events require `client_user_agent`, `action_source` and `event_source_url`: the first and last come
//!   from the lead and are left out when unknown (Meta then rejects or down-ranks the event; we do not invent
//!   them).
//! - `custom_data.value` (a number), `currency` (ISO 4217) and `order_id` (a string) are Meta's "Custom Data
//!   Parameters" (…/conversions-api/parameters/custom-data; the Business SDK's `CustomData`: "value: A numeric
//!   value associated with this event", "order_id: The order ID for this transaction as a String"). Meta's
//!   value-optimisation guide (…/conversions-api/guides/value-optimization) asks for value and currency on
//!   every event optimised for value, and `Purchase` requires them. They come from the lead's counted orders
//!   by the rule of [`crate::money`] (sent on every conversion of a lead that has orders, `Lead` included) and
//!   are left out, not sent as 0, for a lead without orders. `currency` is upper case, as Meta's examples
//!   write it (the code is case-insensitive there). `lead_stage` is a custom property.

use serde_json::{json, Map, Value};

use super::normalize::{email_trim_lower, name_meta, phone_meta, sha256_hex};
use super::signals::Signals;
use crate::event::Event;

/// The Meta CAPI request body for `event` sent as `event_name`.
pub fn payload(event: &Event, event_name: &str) -> Value {
    let s = Signals::of(&event.lead);
    let mut user = Map::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            user.insert(key.to_string(), Value::String(v));
        }
    };
    put(
        "em",
        s.email.and_then(email_trim_lower).map(|v| sha256_hex(&v)),
    );
    put("ph", s.phone.and_then(phone_meta).map(|v| sha256_hex(&v)));
    put(
        "fn",
        s.first_name.and_then(name_meta).map(|v| sha256_hex(&v)),
    );
    put(
        "ln",
        s.last_name.and_then(name_meta).map(|v| sha256_hex(&v)),
    );
    put("external_id", Some(sha256_hex(&event.lead_id.to_string())));
    put("client_ip_address", s.ip.map(str::to_string));
    put("client_user_agent", s.user_agent.map(str::to_string));
    put("fbc", s.fbc.map(str::to_string));
    put("fbp", s.fbp.map(str::to_string));

    let mut custom = Map::new();
    if let Some(stage) = &event.to_stage {
        custom.insert("lead_stage".into(), json!(stage));
    }
    if let Some(money) = event.money() {
        if let Some(value) = money.platform_value() {
            custom.insert("currency".into(), json!(money.currency()));
            custom.insert("value".into(), Value::Number(value));
        }
        custom.insert(
            "order_id".into(),
            json!(money.platform_order_id(event.lead_id)),
        );
    }

    let mut server_event = Map::new();
    server_event.insert("event_name".into(), json!(event_name));
    server_event.insert("event_time".into(), json!(event.occurred_at.timestamp()));
    server_event.insert("event_id".into(), json!(event.message_id()));
    server_event.insert("action_source".into(), json!("website"));
    if let Some(url) = s.page_url {
        server_event.insert("event_source_url".into(), Value::String(url));
    }
    server_event.insert("user_data".into(), Value::Object(user));
    server_event.insert("custom_data".into(), Value::Object(custom));
    json!({ "data": [server_event] })
}
