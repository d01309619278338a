//! The `standard` format: Leadpipe's own event JSON, shaped as the Standard Webhooks specification recommends
//! (section "Payload structure": `type`, `timestamp` in ISO 8601, `data`).
//!
//! ```json
//! {
//!   "type": "lead.stage_changed",
//!   "timestamp": "2026-03-02T11:00:00.000000Z",
//!   "data": { "lead_id": "…", "version": 2, "from_stage": "New", "to_stage": "Paid", "lead": { … } }
//! }
//! ```
//!
//! Every event type has the same `data` keys: `from_stage` is `null` for `lead.created`, `to_stage` is `null`
//! for `lead.deleted`, and `lead` is the full lead as stored (for a deletion, as it was last stored).
//!
//! Money: a `lead.created` or `lead.stage_changed` of a lead with counted orders adds four keys to `data`, by
//! the rule of [`crate::money`] (a lead without counted orders, and `lead.deleted`, add none):
//!
//! ```json
//! "value": "39.99", "currency": "USD", "order_id": "A-1001",
//! "revenue": [{"currency": "EUR", "value": "12.00", "minor": 1200}, {"currency": "USD", "value": "39.99", "minor": 3999}]
//! ```
//!
//! `value` is the counted revenue in `currency` (the currency of the most recent counted order, refunds
//! subtracted, so it may be `"0.00"` or negative) as exact decimal text with the currency's decimals; `order_id`
//! is the most recent counted sale's id in that currency, as stored; `revenue` is the counted revenue in every currency of the
//! lead, in currency-code order, with `minor` the integer amount in minor units. Amounts are strings and
//! integers so that no receiver has to go through a float. The orders themselves are in `lead.orders`.

use chrono::SecondsFormat;
use serde_json::{json, Value};

use crate::event::Event;

/// The Leadpipe event JSON for `event`.
pub fn payload(event: &Event) -> Value {
    let mut body = plain(event);
    if let (Some(money), Some(data)) = (event.money(), body["data"].as_object_mut()) {
        data.insert("value".into(), json!(money.value.to_decimal()));
        data.insert("currency".into(), json!(money.currency()));
        data.insert("order_id".into(), json!(money.order_id));
        data.insert("revenue".into(), money.revenue_json());
    }
    body
}

/// The body without money: what every event carried before orders existed.
fn plain(event: &Event) -> Value {
    json!({
        "type": event.event_type.as_str(),
        "timestamp": event.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "data": {
            "lead_id": event.lead_id,
            "version": event.version,
            "from_stage": event.from_stage,
            "to_stage": event.to_stage,
            "lead": event.lead,
        }
    })
}
