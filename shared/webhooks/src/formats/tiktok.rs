//! The `tiktok` format: one TikTok Events API 2.0 web event (`POST /open_api/v1.3/event/track/`).
//!
//! Sources: TikTok's own Events API 2.0 pages (business-api.tiktok.com/portal/docs, ids 1771100865818625 and
//! 1771101303285761) could not be read from here. The field list and rules below follow what two maintained
//! partner integrations implement and quote from them: Segment's TikTok Conversions destination
//! (github.com/segmentio/action-destinations, `tiktok-conversions/reportWebEvent/utils.ts` and `formatter.ts`)
//! and Cloudflare Zaraz's TikTok component (README), plus TikTok's help centre for event names
//! (ads.tiktok.com/help/article/supported-standard-events, …/how-to-adopt-tiktoks-updated-standard-events).
//!
//! ```json
//! {"event_source": "web", "event_source_id": "<pixel code>", "data": [{
//!   "event": "Purchase", "event_time": 1772449200, "event_id": "msg_…",
//!   "user": {"email": "<sha256>", "phone": "<sha256>", "external_id": "<sha256>", "ip": "…", "user_agent": "…",
//!            "ttclid": "…", "ttp": "…"},
//!   "properties": {"currency": "USD", "value": 49.99, "order_id": "A-1001"},
//!   "page": {"url": "https://example.com/apply", "referrer": "https://www.tiktok.com/"}
//! }]}
//! ```
//!
//! - `email`: SHA-256 of the trimmed, lower-cased address; `phone`: SHA-256 of E.164 with `+`; `external_id`:
//!   SHA-256 of the lead id. `ip`, `user_agent`, `ttclid` and `ttp` are sent unhashed.
//! - `event_id` is the Standard Webhooks message id (deduplication); `event_time` is unix seconds.
//! - `properties.value` (a number: "the total price of the order"), `currency` (ISO 4217; both "required for
//!   Return on Ad Spend" and for value-based optimisation, per TikTok's help centre, ads.tiktok.com/help/article/
//!   about-parameters) and `order_id` (a string; in Segment's `getProps`) come from the lead's counted orders by
//!   the rule of [`crate::money`], and are left out, not sent as 0, for a lead without orders.
//! - The pixel code is the webhook's `event_source_id`; the `Access-Token` header is the delivery layer's
//!   business, not part of the signed body.

use serde_json::{json, Map, Value};

use super::normalize::{e164_phone, email_trim_lower, sha256_hex};
use super::signals::Signals;
use crate::event::Event;

/// The TikTok Events API body for `event` sent as `event_name` to pixel `event_source_id`.
pub fn payload(event: &Event, event_name: &str, event_source_id: &str) -> Value {
    let s = Signals::of(&event.lead);
    let mut user = Map::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            user.insert(key.to_string(), Value::String(v));
        }
    };
    put(
        "email",
        s.email.and_then(email_trim_lower).map(|v| sha256_hex(&v)),
    );
    put(
        "phone",
        s.phone.and_then(e164_phone).map(|v| sha256_hex(&v)),
    );
    put("external_id", Some(sha256_hex(&event.lead_id.to_string())));
    put("ip", s.ip.map(str::to_string));
    put("user_agent", s.user_agent.map(str::to_string));
    put("ttclid", s.ttclid.map(str::to_string));
    put("ttp", s.ttp.map(str::to_string));

    let mut properties = Map::new();
    if let Some(money) = event.money() {
        if let Some(value) = money.platform_value() {
            properties.insert("currency".into(), json!(money.currency()));
            properties.insert("value".into(), Value::Number(value));
        }
        properties.insert(
            "order_id".into(),
            json!(money.platform_order_id(event.lead_id)),
        );
    }

    let mut page = Map::new();
    if let Some(url) = s.page_url {
        page.insert("url".into(), Value::String(url));
    }
    if let Some(referrer) = s.referrer {
        page.insert("referrer".into(), json!(referrer));
    }

    let mut data = Map::new();
    data.insert("event".into(), json!(event_name));
    data.insert("event_time".into(), json!(event.occurred_at.timestamp()));
    data.insert("event_id".into(), json!(event.message_id()));
    data.insert("user".into(), Value::Object(user));
    data.insert("properties".into(), Value::Object(properties));
    if !page.is_empty() {
        data.insert("page".into(), Value::Object(page));
    }
    json!({ "event_source": "web", "event_source_id": event_source_id, "data": [data] })
}
