//! The money a lead event carries: one rule, used by every format.
//!
//! A lead's money comes only from its orders (`leadpipe_core::domain::orders`), which only server-key postbacks
//! and admins can write: the browser key can never set one. Custom data is never read as money, whatever keys it
//! holds (`value`, `currency`, …), since the browser key may add custom-data keys.
//!
//! The rule, for `lead.created` and `lead.stage_changed`:
//!
//! - Only **counted** orders take part: not removed by an admin, and with an exact amount (an order kept apart,
//!   whose value could not be read, counts nowhere).
//! - A lead without counted orders carries **no money at all**: no `value`, no `currency` (never a 0).
//! - The **currency** is that of the lead's most recent counted order (latest `at`; on a tie, the one recorded
//!   last). The **value** is the sum of the lead's counted orders in that currency, refunds (negative orders)
//!   subtracted. Orders in other currencies are not converted or added in: the `standard` format lists each
//!   currency's sum in `revenue`; the conversion formats send one value in one currency, as the platforms take.
//! - The **order id** is that of the most recent counted sale (a positive order) in that currency, so a purchase
//!   is named by what was bought, not by a refund; when there is none (only refunds), the most recent counted
//!   order in that currency. For the ad platforms, an id Leadpipe generated
//!   (`auto-<version>` for a postback without `order_id`, `admin-<version>` for an admin's) is prefixed with the
//!   lead id (`<lead id>:auto-3`): such ids repeat across leads, and GA4 drops a purchase whose `transaction_id`
//!   it has seen.
//! - Ad platforms get a JSON **number** ([`LeadMoney::platform_value`]): never negative (a lead whose refunds
//!   outweigh its orders is worth 0 to an ad platform), built from the integer minor units and the currency's
//!   exponent, never from a float computation: a whole amount is a JSON integer (`1500`), any other is the exact
//!   decimal text (`49.99`, `1.234`), checked to read back as the same amount. The `standard` format sends the
//!   decimal text as a string and the minor units as an integer, so no receiver needs a float.

use std::str::FromStr;

use leadpipe_core::domain::money::{format_minor, Decimal, Money};
use leadpipe_core::domain::orders::revenue_by_currency;
use leadpipe_core::domain::Lead;
use serde_json::{json, Number, Value};
use uuid::Uuid;

/// What a lead's counted orders are worth, by the rule in the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadMoney {
    /// The counted revenue in the currency of the most recent counted order (refunds subtracted; may be 0 or
    /// negative).
    pub value: Money,
    /// The id of the most recent counted sale in the value's currency (else of its most recent counted order), as
    /// stored.
    pub order_id: String,
    /// The counted revenue in each currency the lead has orders in, in currency-code order (the currency of
    /// `value` among them).
    pub revenue: Vec<Money>,
}

impl LeadMoney {
    /// The money `lead` carries; `None` when it has no counted order.
    pub fn of(lead: &Lead) -> Option<Self> {
        // Counted orders with their place, so a tie in time goes to the one recorded last.
        let counted = || {
            lead.orders
                .iter()
                .enumerate()
                .filter_map(|(i, o)| o.counted().map(|m| (i, o, m)))
        };
        let (_, _, latest) = counted().max_by_key(|(i, o, _)| (o.at, *i))?;
        let currency = latest.currency;
        let in_currency = || counted().filter(|(_, _, m)| m.currency == currency);
        let (_, order, _) = in_currency()
            .filter(|(_, _, m)| m.minor > 0)
            .max_by_key(|(i, o, _)| (o.at, *i))
            .or_else(|| in_currency().max_by_key(|(i, o, _)| (o.at, *i)))?;
        let revenue = revenue_by_currency(lead);
        let value = revenue
            .iter()
            .copied()
            .find(|m| m.currency == currency)
            .unwrap_or(latest);
        Some(Self {
            value,
            order_id: order.order_id.clone(),
            revenue,
        })
    }

    /// The value as an ad platform takes it: a JSON number, at least 0. `None` only for an amount a JSON number
    /// cannot carry exactly (more than 15 significant digits, e.g. above 10^13 in a 2-decimal currency), which
    /// is then left out rather than rounded.
    pub fn platform_value(&self) -> Option<Number> {
        exact_number(Money {
            minor: self.value.minor.max(0),
            currency: self.value.currency,
        })
    }

    /// The upper-case ISO 4217 code of the value (`USD`).
    pub fn currency(&self) -> &str {
        self.value.currency.as_str()
    }

    /// The order id for an ad platform's `order_id` / `transaction_id`: the stored id, prefixed with the lead id
    /// when Leadpipe generated it (see the [module documentation](self)).
    pub fn platform_order_id(&self, lead_id: Uuid) -> String {
        if is_generated_id(&self.order_id) {
            format!("{lead_id}:{}", self.order_id)
        } else {
            self.order_id.clone()
        }
    }

    /// The `revenue` array of the `standard` format: `[{"currency": "USD", "value": "49.99", "minor": 4999}]`.
    pub fn revenue_json(&self) -> Value {
        Value::Array(self.revenue.iter().map(|m| money_json(*m)).collect())
    }
}

/// `{"currency", "value" (decimal text), "minor" (integer)}` for one amount.
pub fn money_json(m: Money) -> Value {
    json!({"currency": m.currency.as_str(), "value": m.to_decimal(), "minor": m.minor})
}

/// Whether Leadpipe made this order id up (the sender gave none, or an admin added the order without one).
fn is_generated_id(order_id: &str) -> bool {
    ["auto-", "admin-"].iter().any(|p| {
        order_id
            .strip_prefix(p)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// `m` as a JSON number that serialises to its exact decimal value: an integer when it is whole, else the
/// decimal text (`49.99`) read as a number and checked to write back as the same amount. `None` when no JSON
/// number serde_json can hold writes back exactly.
pub fn exact_number(m: Money) -> Option<Number> {
    let exponent = u32::from(m.currency.exponent());
    let scale = 10i64.checked_pow(exponent)?;
    if m.minor % scale == 0 {
        return Some(Number::from(m.minor / scale));
    }
    let text = format_minor(i128::from(m.minor), m.currency.exponent());
    let number = Number::from_str(&text).ok()?;
    let written = Decimal::parse(&number.to_string())?;
    let exact = written.scale <= exponent
        && written
            .digits
            .checked_mul(10i128.checked_pow(exponent - written.scale)?)
            == Some(i128::from(m.minor));
    exact.then_some(number)
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{DateTime, Utc};
    use leadpipe_core::domain::money::Currency;
    use leadpipe_core::domain::orders::{Order, OrderVia};

    use super::*;
    use crate::event::tests::{at, lead, stage};

    pub(crate) fn money(minor: i64, currency: &str) -> Money {
        Money {
            minor,
            currency: Currency::parse(currency).expect("a known currency"),
        }
    }

    pub(crate) fn order(id: &str, value: Option<Money>, at: DateTime<Utc>) -> Order {
        Order {
            order_id: id.into(),
            value,
            unread: None,
            at,
            stage: stage("Paid"),
            via: OrderVia::Postback,
            removed_at: None,
            changes: Vec::new(),
        }
    }

    fn with(orders: Vec<Order>) -> Lead {
        let mut l = lead("Paid", 2);
        l.orders = orders;
        l
    }

    #[test]
    fn no_orders_no_money() {
        assert_eq!(LeadMoney::of(&lead("Paid", 2)), None);
    }

    #[test]
    fn removed_and_kept_apart_orders_count_nowhere() {
        let mut removed = order("A", Some(money(4999, "USD")), at("2026-03-02T10:00:00Z"));
        removed.removed_at = Some(at("2026-03-02T10:30:00Z"));
        let kept_apart = order("B", None, at("2026-03-02T10:45:00Z"));
        assert_eq!(
            LeadMoney::of(&with(vec![removed.clone(), kept_apart.clone()])),
            None
        );

        let counted = order("C", Some(money(1000, "EUR")), at("2026-03-01T09:00:00Z"));
        let m = LeadMoney::of(&with(vec![counted, removed, kept_apart])).unwrap();
        assert_eq!(
            m.value,
            money(1000, "EUR"),
            "only C counts, though A and B are later"
        );
        assert_eq!(m.order_id, "C");
        assert_eq!(m.revenue, vec![money(1000, "EUR")]);
    }

    #[test]
    fn value_is_the_latest_orders_currency_summed_with_refunds() {
        let m = LeadMoney::of(&with(vec![
            order("U1", Some(money(4999, "USD")), at("2026-03-01T09:00:00Z")),
            order("E1", Some(money(2000, "EUR")), at("2026-03-01T10:00:00Z")),
            order("U2", Some(money(1001, "USD")), at("2026-03-01T11:00:00Z")),
            order(
                "U2-refund",
                Some(money(-500, "USD")),
                at("2026-03-01T12:00:00Z"),
            ),
        ]))
        .unwrap();
        assert_eq!(
            m.value,
            money(5500, "USD"),
            "49.99 + 10.01 - 5.00; EUR not added in"
        );
        assert_eq!(m.order_id, "U2", "the latest sale, not its refund");
        assert_eq!(m.revenue, vec![money(2000, "EUR"), money(5500, "USD")]);
    }

    #[test]
    fn a_tie_in_time_goes_to_the_order_recorded_last() {
        let t = at("2026-03-01T09:00:00Z");
        let m = LeadMoney::of(&with(vec![
            order("first", Some(money(100, "USD")), t),
            order("second", Some(money(150, "JPY")), t),
        ]))
        .unwrap();
        assert_eq!(
            (m.value, m.order_id.as_str()),
            (money(150, "JPY"), "second")
        );
    }

    #[test]
    fn only_refunds_name_the_latest_refund() {
        let m = LeadMoney::of(&with(vec![
            order("R1", Some(money(-100, "USD")), at("2026-03-01T09:00:00Z")),
            order("R2", Some(money(-200, "USD")), at("2026-03-01T10:00:00Z")),
            order("E", Some(money(900, "EUR")), at("2026-03-01T08:00:00Z")),
        ]))
        .unwrap();
        assert_eq!((m.value, m.order_id.as_str()), (money(-300, "USD"), "R2"));
    }

    #[test]
    fn platforms_never_get_a_negative_value() {
        let m = LeadMoney::of(&with(vec![
            order("A", Some(money(1000, "USD")), at("2026-03-01T09:00:00Z")),
            order(
                "A-refund",
                Some(money(-2500, "USD")),
                at("2026-03-01T10:00:00Z"),
            ),
        ]))
        .unwrap();
        assert_eq!(
            m.value,
            money(-1500, "USD"),
            "the standard format keeps the truth"
        );
        assert_eq!(m.order_id, "A");
        assert_eq!(m.platform_value(), Some(Number::from(0)));
    }

    #[test]
    fn generated_order_ids_are_made_unique_for_platforms() {
        let id = Uuid::parse_str("0b9a3c2e-6a51-4f4e-9d47-2f0c3f1f6a10").unwrap();
        let m = |order_id: &str| LeadMoney {
            value: money(1, "USD"),
            order_id: order_id.into(),
            revenue: vec![],
        };
        assert_eq!(
            m("auto-3").platform_order_id(id),
            "0b9a3c2e-6a51-4f4e-9d47-2f0c3f1f6a10:auto-3"
        );
        assert_eq!(
            m("admin-12").platform_order_id(id),
            "0b9a3c2e-6a51-4f4e-9d47-2f0c3f1f6a10:admin-12"
        );
        assert_eq!(m("A-1001").platform_order_id(id), "A-1001");
        assert_eq!(
            m("auto-x").platform_order_id(id),
            "auto-x",
            "not one we made"
        );
    }

    fn written(m: Money) -> String {
        serde_json::to_string(&exact_number(m).expect("exact")).unwrap()
    }

    #[test]
    fn numbers_are_exact_in_every_exponent() {
        assert_eq!(written(money(4999, "USD")), "49.99");
        assert_eq!(written(money(1500, "JPY")), "1500");
        assert_eq!(written(money(1234, "BHD")), "1.234");
        assert_eq!(
            written(money(1000, "BHD")),
            "1",
            "whole amounts are integers"
        );
        assert_eq!(written(money(150_000, "USD")), "1500");
        assert_eq!(written(money(10, "USD")), "0.1");
        assert_eq!(written(money(1, "BHD")), "0.001");
        assert_eq!(written(money(12_345, "CLF")), "1.2345");
        assert_eq!(written(money(-1999, "USD")), "-19.99");
        assert_eq!(written(money(99_999_999_999_999, "USD")), "999999999999.99");
        assert_eq!(
            written(money(999_999_999_999_999, "BHD")),
            "999999999999.999"
        );
    }

    #[test]
    fn every_amount_below_100_000_minor_units_writes_back_as_itself() {
        // Exhaustive over the amounts real leads carry, and a sample above: the decimal text goes in, the same
        // text must come out of serde_json.
        let currencies = ["USD", "BHD", "JPY"].map(|c| money(0, c).currency);
        for minor in (0..100_000i64).chain((0..50_000).map(|i| 1_000_000_000_000 + i * 7919)) {
            for currency in currencies {
                let m = Money { minor, currency };
                let d = m.to_decimal();
                let expected = if d.contains('.') {
                    d.trim_end_matches('0').trim_end_matches('.')
                } else {
                    &d
                };
                assert_eq!(written(m), expected, "{minor} {currency}");
            }
        }
    }

    #[test]
    fn beyond_what_a_json_number_holds_nothing_is_rounded() {
        // 17 significant digits: no f64 holds it, so it is left out rather than sent rounded.
        assert_eq!(exact_number(money(12_345_678_901_234_567, "USD")), None);
    }
}
