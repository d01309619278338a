//! Orders: the money a lead brought, recorded once per `order_id` with its time and the stage it came with.
//!
//! A postback with the server key may carry `value` (major units, a JSON number or decimal text), `currency`
//! (ISO 4217) and `order_id`. A repeat `order_id` replaces that order, never adds; without one, the order gets
//! `auto-<lead version>`. A negative value is a refund. A value that cannot be taken exactly (not a number, more
//! decimals than its currency, above 10^12, an unknown or missing currency) is still kept on the lead, with what
//! was sent and why, and reported apart: never counted as 0. The browser key can never set money.
//!
//! Admins add, edit and remove orders ([`apply_order_edit`]); a removed order stays on the lead, marked, and every
//! edit is kept in the order's `changes`, so the history of money on a lead is never lost.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lead::Lead;
use super::money::{parse_amount, Currency, Money};
use super::spend::Rates;
use super::stage::Stage;
use super::warning::{Warning, WarningCode};
use super::zone::ReportingZone;

/// Most orders a lead keeps (a lead item stays a few kilobytes).
pub const MAX_ORDERS: usize = 50;
/// Longest `order_id`, in characters (as JSON Schema's `maxLength` counts them).
pub const MAX_ORDER_ID_CHARS: usize = 100;
/// Most edits kept per order.
pub const MAX_ORDER_CHANGES: usize = 20;

/// Who recorded or changed an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderVia {
    /// A server-key postback.
    Postback,
    /// An admin in the dashboard or API.
    Admin,
}

/// A value that could not be taken as an exact amount: what was sent, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadValue {
    /// The value as sent (at most 40 characters).
    pub value: String,
    /// The currency as sent (at most 16 characters), when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Why it is not counted.
    pub reason: String,
}

/// One earlier state of an order, kept when it was changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderChange {
    /// When it changed.
    pub at: DateTime<Utc>,
    /// Who changed it.
    pub via: OrderVia,
    /// The amount before (`None`: it had none that could be counted).
    pub before: Option<Money>,
    /// `true` when the change removed the order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
}

/// One order of a lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The sender's order id (or `auto-<version>`).
    pub order_id: String,
    /// The exact amount; `None` when what was sent could not be taken (see `unread`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Money>,
    /// What was sent when it could not be taken as an amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread: Option<UnreadValue>,
    /// When it was recorded (its day converts it and places it in reports).
    pub at: DateTime<Utc>,
    /// The lead's stage when it came.
    pub stage: Stage,
    /// Who recorded it.
    pub via: OrderVia,
    /// When an admin removed it (it then counts nowhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<DateTime<Utc>>,
    /// Earlier states, oldest first (at most [`MAX_ORDER_CHANGES`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<OrderChange>,
}

impl Order {
    /// The amount it counts for: its value unless removed.
    pub fn counted(&self) -> Option<Money> {
        self.value.filter(|_| self.removed_at.is_none())
    }

    /// Whether it is kept apart: not removed, and without an amount that can be counted.
    pub fn kept_apart(&self) -> bool {
        self.removed_at.is_none() && self.value.is_none()
    }
}

/// The order a postback carries, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderInput {
    /// The sender's order id, if given.
    pub order_id: Option<String>,
    /// The amount, or what was sent and why it cannot be taken.
    pub value: Result<Money, UnreadValue>,
}

/// The postback fields of an order.
pub const ORDER_FIELDS: &[&str] = &["value", "currency", "order_id"];

/// Reads `value`, `currency` and `order_id` out of a postback object. `None` when it has no `value`; an
/// `order_id` or `currency` without one is left out with a warning. A negative value is taken as a refund, with a
/// warning; a value that cannot be taken exactly is kept apart, with a warning naming the field.
pub fn read_order(obj: &mut Map<String, Value>, w: &mut Vec<Warning>) -> Option<OrderInput> {
    let value = obj.remove("value").filter(|v| !v.is_null());
    let currency = obj.remove("currency").filter(|v| !v.is_null());
    let order_id = match obj.remove("order_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => {
            let s: String = s.trim().chars().filter(|c| !c.is_control()).collect();
            if s.chars().count() > MAX_ORDER_ID_CHARS {
                w.push(Warning::new(
                    "order_id",
                    WarningCode::Truncated,
                    format!("order_id was cut to {MAX_ORDER_ID_CHARS} characters"),
                ));
            }
            Some(s.chars().take(MAX_ORDER_ID_CHARS).collect())
        }
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            w.push(Warning::new(
                "order_id",
                WarningCode::Dropped,
                "order_id must be a string; it was left out",
            ));
            None
        }
    };
    let Some(value) = value else {
        if order_id.is_some() || currency.is_some() {
            let field = if order_id.is_some() {
                "order_id"
            } else {
                "currency"
            };
            w.push(Warning::new(
                field,
                WarningCode::Dropped,
                format!("{field} was sent without value; no order was recorded"),
            ));
        }
        return None;
    };
    let raw = match &value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    };
    let raw_currency = match &currency {
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(other) => Some(other.to_string()),
        None => None,
    };
    let unread = |reason: String| UnreadValue {
        value: raw.chars().take(40).collect(),
        currency: raw_currency.as_ref().map(|c| c.chars().take(16).collect()),
        reason,
    };
    let parsed = match raw_currency.as_deref().map(Currency::parse) {
        None => Err(("currency", unread("currency is required with value".into()))),
        Some(Err(e)) => Err(("currency", unread(e.to_string()))),
        Some(Ok(cur)) if matches!(value, Value::Number(_) | Value::String(_)) => {
            parse_amount(&raw, cur).map_err(|e| ("value", unread(e.to_string())))
        }
        Some(Ok(_)) => Err(("value", unread("value must be a number".into()))),
    };
    let value = match parsed {
        Ok(m) => {
            if m.minor < 0 {
                w.push(Warning::new(
                    "value",
                    WarningCode::Refund,
                    format!(
                        "value is negative: recorded as a refund of {} {}",
                        m.to_decimal().trim_start_matches('-'),
                        m.currency
                    ),
                ));
            }
            Ok(m)
        }
        Err((field, u)) => {
            w.push(Warning::new(
                field,
                WarningCode::KeptApart,
                format!(
                    "{}; the order was kept but is not counted in revenue",
                    u.reason
                ),
            ));
            Err(u)
        }
    };
    Some(OrderInput { order_id, value })
}

/// Records a postback's order on `lead` (already merged: its stage is the one the order came with). A repeat
/// `order_id` replaces the stored order (keeping its first time, with the change kept); a new one is added unless
/// the lead holds [`MAX_ORDERS`] already.
pub fn record_order(lead: &mut Lead, input: &OrderInput, now: DateTime<Utc>, w: &mut Vec<Warning>) {
    let (value, unread) = match &input.value {
        Ok(m) => (Some(*m), None),
        Err(u) => (None, Some(u.clone())),
    };
    let order_id = input
        .order_id
        .clone()
        .unwrap_or_else(|| format!("auto-{}", lead.version + 1));
    if let Some(existing) = lead.orders.iter_mut().find(|o| o.order_id == order_id) {
        if existing.value == value && existing.unread == unread && existing.removed_at.is_none() {
            return;
        }
        push_change(existing, now, OrderVia::Postback, false);
        existing.value = value;
        existing.unread = unread;
        existing.stage = lead.stage.clone();
        existing.removed_at = None;
        return;
    }
    if lead.orders.len() >= MAX_ORDERS {
        w.push(Warning::new(
            "order_id",
            WarningCode::Dropped,
            format!(
                "the lead holds {MAX_ORDERS} orders, the most it keeps; this one was not recorded"
            ),
        ));
        return;
    }
    lead.orders.push(Order {
        order_id,
        value,
        unread,
        at: now,
        stage: lead.stage.clone(),
        via: OrderVia::Postback,
        removed_at: None,
        changes: Vec::new(),
    });
}

fn push_change(order: &mut Order, at: DateTime<Utc>, via: OrderVia, removed: bool) {
    if order.changes.len() >= MAX_ORDER_CHANGES {
        order.changes.remove(0);
    }
    order.changes.push(OrderChange {
        at,
        via,
        before: order.value,
        removed,
    });
}

/// What an admin does to a lead's orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderEdit {
    /// Adds an order, or replaces the one with this id (restoring it if removed).
    Put {
        /// The order id (an admin order without one gets `admin-<version>`).
        order_id: Option<String>,
        /// The exact amount.
        value: Money,
    },
    /// Removes the order with this id (kept on the lead, marked removed).
    Remove {
        /// The order id.
        order_id: String,
    },
}

/// Why an admin edit could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderEditError {
    /// No order with that id.
    #[error("the lead has no order {0}")]
    NoSuchOrder(String),
    /// The lead holds [`MAX_ORDERS`] already.
    #[error("the lead holds {MAX_ORDERS} orders, the most it keeps")]
    Full,
}

/// Applies an admin's edit to `lead`; returns whether anything changed.
pub fn apply_order_edit(
    lead: &mut Lead,
    edit: &OrderEdit,
    now: DateTime<Utc>,
) -> Result<bool, OrderEditError> {
    match edit {
        OrderEdit::Put { order_id, value } => {
            let order_id = order_id
                .clone()
                .unwrap_or_else(|| format!("admin-{}", lead.version + 1));
            if let Some(o) = lead.orders.iter_mut().find(|o| o.order_id == order_id) {
                if o.value == Some(*value) && o.removed_at.is_none() {
                    return Ok(false);
                }
                push_change(o, now, OrderVia::Admin, false);
                o.value = Some(*value);
                o.unread = None;
                o.removed_at = None;
                return Ok(true);
            }
            if lead.orders.len() >= MAX_ORDERS {
                return Err(OrderEditError::Full);
            }
            lead.orders.push(Order {
                order_id,
                value: Some(*value),
                unread: None,
                at: now,
                stage: lead.stage.clone(),
                via: OrderVia::Admin,
                removed_at: None,
                changes: Vec::new(),
            });
            Ok(true)
        }
        OrderEdit::Remove { order_id } => {
            let o = lead
                .orders
                .iter_mut()
                .find(|o| &o.order_id == order_id)
                .ok_or_else(|| OrderEditError::NoSuchOrder(order_id.clone()))?;
            if o.removed_at.is_some() {
                return Ok(false);
            }
            push_change(o, now, OrderVia::Admin, true);
            o.removed_at = Some(now);
            Ok(true)
        }
    }
}

/// A lead's counted revenue per currency (removed and kept-apart orders left out), in currency order.
pub fn revenue_by_currency(lead: &Lead) -> Vec<Money> {
    let mut sums: std::collections::BTreeMap<Currency, i64> = Default::default();
    for m in lead.orders.iter().filter_map(Order::counted) {
        let s = sums.entry(m.currency).or_default();
        *s = s.saturating_add(m.minor);
    }
    sums.into_iter()
        .map(|(currency, minor)| Money { minor, currency })
        .collect()
}

/// The counted revenue of `orders` in the reporting currency (minor units): each counted order converted with the
/// rate of its day in `zone`, orders without a rate left out. `None` without counted orders. Revenue listings
/// sort by it ([`Lead::revenue_reporting_minor`]).
pub fn revenue_in_reporting(orders: &[Order], rates: &Rates, zone: &ReportingZone) -> Option<i64> {
    let mut counted = orders
        .iter()
        .filter_map(|o| o.counted().map(|m| (m, o.at)))
        .peekable();
    counted.peek()?;
    let sum: i128 = counted
        .filter_map(|(m, at)| rates.convert(i128::from(m.minor), m.currency, zone.local_date(at)))
        .sum();
    Some(i64::try_from(sum).unwrap_or(if sum < 0 { i64::MIN } else { i64::MAX }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> (Option<OrderInput>, Vec<Warning>) {
        let mut obj = v.as_object().unwrap().clone();
        let mut w = Vec::new();
        let o = read_order(&mut obj, &mut w);
        assert!(obj.is_empty(), "the order fields are taken out");
        (o, w)
    }

    fn money(minor: i64, c: &str) -> Money {
        Money {
            minor,
            currency: Currency::parse(c).unwrap(),
        }
    }

    #[test]
    fn values_are_read_exactly_from_numbers_and_text() {
        let (o, w) = read(json!({"value": 49.99, "currency": "usd", "order_id": "A1"}));
        let o = o.unwrap();
        assert_eq!(o.value, Ok(money(4999, "USD")));
        assert_eq!(o.order_id.as_deref(), Some("A1"));
        assert!(w.is_empty());
        let (o, _) = read(json!({"value": "1500", "currency": "JPY"}));
        assert_eq!(o.unwrap().value, Ok(money(1500, "JPY")));
        let (o, _) = read(json!({"value": 0.1, "currency": "BHD"}));
        assert_eq!(o.unwrap().value, Ok(money(100, "BHD")));
    }

    #[test]
    fn a_negative_value_is_a_refund_with_a_warning() {
        let (o, w) = read(json!({"value": -12.5, "currency": "EUR"}));
        assert_eq!(o.unwrap().value, Ok(money(-1250, "EUR")));
        assert_eq!(w[0].code, WarningCode::Refund);
        assert_eq!(w[0].field, "value");
    }

    #[test]
    fn bad_values_are_kept_apart_with_the_field_named() {
        for (body, field) in [
            (json!({"value": "NaN", "currency": "USD"}), "value"),
            (json!({"value": "abc", "currency": "USD"}), "value"),
            (json!({"value": 1.001, "currency": "USD"}), "value"),
            (json!({"value": 1e13, "currency": "USD"}), "value"),
            (json!({"value": true, "currency": "USD"}), "value"),
            (json!({"value": 10, "currency": "XYZ"}), "currency"),
            (json!({"value": 10}), "currency"),
        ] {
            let (o, w) = read(body.clone());
            let unread = o.unwrap().value.unwrap_err();
            assert!(!unread.reason.is_empty());
            assert_eq!(w.len(), 1, "{body}");
            assert_eq!(
                (w[0].field.as_str(), w[0].code),
                (field, WarningCode::KeptApart),
                "{body}"
            );
        }
    }

    #[test]
    fn an_order_id_without_value_records_nothing() {
        let (o, w) = read(json!({"order_id": "A1", "currency": "USD"}));
        assert!(o.is_none());
        assert_eq!(w[0].code, WarningCode::Dropped);
        assert_eq!(read(json!({})).0, None);
    }

    fn order(id: &str, minor: i64, currency: &str, day: &str) -> Order {
        Order {
            order_id: id.into(),
            value: Some(money(minor, currency)),
            unread: None,
            at: format!("{day}T12:00:00Z").parse().unwrap(),
            stage: super::super::stage::Pipeline::default()
                .stage("Paid")
                .unwrap(),
            via: OrderVia::Postback,
            removed_at: None,
            changes: Vec::new(),
        }
    }

    #[test]
    fn revenue_in_reporting_converts_each_order_with_its_day_and_leaves_out_what_has_no_rate() {
        use super::super::money::Rate;
        use super::super::spend::RateRow;
        let eur = Currency::parse("EUR").unwrap();
        let rate = |day: &str, r: &str| RateRow {
            day: day.parse().unwrap(),
            currency: eur,
            rate: Rate::parse(r).unwrap(),
        };
        let rates = Rates::new(
            Currency::usd(),
            [rate("2026-01-01", "1.10"), rate("2026-02-01", "1.20")],
        );
        let zone = ReportingZone::utc();
        let mut removed = order("R", 99_999, "USD", "2026-01-05");
        removed.removed_at = Some(removed.at);
        let orders = vec![
            order("A", 1_000, "USD", "2026-01-05"),
            order("B", 500, "EUR", "2026-01-15"),   // 1.10 → 550
            order("C", 500, "EUR", "2026-02-03"),   // 1.20 → 600
            order("D", 9_000, "JPY", "2026-01-05"), // no rate: left out
            order("E", -250, "USD", "2026-01-06"),  // a refund
            removed,
        ];
        assert_eq!(revenue_in_reporting(&orders, &rates, &zone), Some(1_900));
        assert_eq!(revenue_in_reporting(&orders[3..4], &rates, &zone), Some(0));
        assert_eq!(revenue_in_reporting(&orders[5..], &rates, &zone), None);
        assert_eq!(revenue_in_reporting(&[], &rates, &zone), None);
    }
}
