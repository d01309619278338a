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

use chrono::SecondsFormat;
use serde_json::{json, Value};

use crate::event::Event;

/// The Leadpipe event JSON for `event`.
pub fn payload(event: &Event) -> Value {
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
