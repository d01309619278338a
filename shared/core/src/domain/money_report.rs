//! The money figures marketers decide with, from counters, spend rows and rates alone.
//!
//! Revenue is what orders placed on the range's days brought (`rev:<currency>` counters, on each order's day);
//! spend is what the spend rows of those days cost; leads and stages reached are of the leads created in the
//! range. Every amount is converted into the reporting currency per day and currency — the day's sum times the
//! rate of that day ([`Rates::on`]), rounded half away from zero — so a recomputation from the orders and spend
//! rows grouped the same way gives the same figure to the unit. What has no rate is kept apart in
//! `not_converted`, never counted as 0. A ratio whose denominator is zero or unknown is `None` (shown "—").

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::counters::{field, Fields, Tally};
use super::money::{format_minor, Currency};
use super::spend::{Rates, SpendRow};
use super::stage::Stage;

/// An amount in one currency, as the API shows money: integer minor units, the currency, and its decimal text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Amount {
    /// Integer minor units.
    pub minor: i64,
    /// ISO 4217 code.
    pub currency: Currency,
    /// The amount in major units as decimal text (`"49.99"`).
    pub amount: String,
}

impl Amount {
    /// `minor` units of `currency`.
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self {
            minor,
            currency,
            amount: format_minor(i128::from(minor), currency.exponent()),
        }
    }
}

/// Sums of one currency's amounts, per day, before conversion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailySums(BTreeMap<(NaiveDate, Currency), i128>);

impl DailySums {
    /// Adds `minor` of `currency` on `day`.
    pub fn add(&mut self, day: NaiveDate, currency: Currency, minor: i128) {
        *self.0.entry((day, currency)).or_default() += minor;
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Σ of the sums that have a rate into the reporting currency on their day (of order counts: the orders
    /// whose amount [`Self::convert`] counts).
    pub fn with_rate(&self, rates: &Rates) -> i64 {
        let n: i128 = self
            .0
            .iter()
            .filter(|((day, c), _)| rates.on(*c, *day).is_some())
            .map(|(_, m)| *m)
            .sum();
        i64::try_from(n).unwrap_or(i64::MAX)
    }

    /// Σ |amount| over days and currencies, unconverted (to rank rows).
    pub fn total_abs(&self) -> i128 {
        self.0.values().map(|m| m.abs()).sum()
    }

    /// Adds every sum of `other`.
    pub fn merge(&mut self, other: &Self) {
        for ((day, c), m) in &other.0 {
            self.add(*day, *c, *m);
        }
    }

    /// The converted total in reporting minor units, and what had no rate, per currency.
    pub fn convert(&self, rates: &Rates) -> (i64, Vec<Amount>) {
        let mut total: i128 = 0;
        let mut apart: BTreeMap<Currency, i128> = BTreeMap::new();
        for ((day, currency), minor) in &self.0 {
            match rates.convert(*minor, *currency, *day) {
                Some(v) => total += v,
                None => *apart.entry(*currency).or_default() += minor,
            }
        }
        let clamp = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
        let apart = apart
            .into_iter()
            .filter(|(_, m)| *m != 0)
            .map(|(c, m)| Amount::new(clamp(m), c))
            .collect();
        (clamp(total), apart)
    }
}

/// The money of one row (a period, a campaign, a source…).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MoneyFigures {
    /// Revenue of orders placed in the range, in the reporting currency.
    pub revenue: Amount,
    /// Revenue with no exchange rate for its day, per currency (not in `revenue`).
    pub revenue_not_converted: Vec<Amount>,
    /// Orders placed in the range (refunds included).
    pub orders: i64,
    /// Orders kept apart: their value could not be read (not in any figure but this).
    pub orders_kept_apart: i64,
    /// Leads created in the range with revenue.
    pub paying_leads: i64,
    /// Spend in the range (`None`: no spend rows, shown "—").
    pub spend: Option<Amount>,
    /// Spend with no exchange rate for its day, per currency (not in `spend`).
    pub spend_not_converted: Vec<Amount>,
    /// Clicks of the spend rows.
    pub clicks: i64,
    /// Impressions of the spend rows.
    pub impressions: i64,
    /// Revenue ÷ the orders it counts (orders without a rate are left out of both, as `revenue_not_converted`).
    pub average_order_value: Option<Amount>,
    /// Revenue ÷ leads created in the range.
    pub revenue_per_lead: Option<Amount>,
    /// Spend ÷ leads created in the range (cost per lead).
    pub cpl: Option<Amount>,
    /// Per stage: spend ÷ leads created in the range that reached it (cost per acquisition of the stage).
    pub cost_per_stage: BTreeMap<String, Option<Amount>>,
    /// Revenue − spend.
    pub profit: Option<Amount>,
    /// Revenue ÷ spend (return on ad spend), 4 decimals.
    pub roas: Option<f64>,
    /// (Revenue − spend) ÷ spend, 4 decimals.
    pub roi: Option<f64>,
}

/// What [`MoneyFigures::compute`] is computed from.
#[derive(Debug, Clone, Default)]
pub struct MoneyInputs {
    /// Order sums per day and currency.
    pub revenue: DailySums,
    /// Orders counted.
    pub orders: i64,
    /// Orders per day and currency (the `revenue` sums they make), so that averages divide by the orders whose
    /// amount has a rate.
    pub order_counts: DailySums,
    /// Orders kept apart.
    pub orders_kept_apart: i64,
    /// The leads' day fields summed over the range (leads, reached, paying).
    pub leads: Fields,
    /// Spend sums per day and currency; `None` when no spend row applies.
    pub spend: Option<DailySums>,
    /// Clicks.
    pub clicks: i64,
    /// Impressions.
    pub impressions: i64,
}

impl MoneyInputs {
    /// Whether it holds no lead, order or spend at all.
    pub fn is_empty(&self) -> bool {
        self.leads.get(field::LEADS).is_none_or(|t| t.n == 0)
            && self.revenue.is_empty()
            && self.orders_kept_apart == 0
            && self.spend.is_none()
    }

    /// Adds the `rev:<currency>` fields of a day's bucket: order sums, orders and kept-apart orders.
    pub fn add_revenue_fields(&mut self, day: NaiveDate, fields: &Fields) {
        let prefix = format!("{}:", field::REVENUE);
        for (name, t) in fields {
            let Some(code) = name.strip_prefix(&prefix) else {
                continue;
            };
            if code == field::KEPT_APART {
                self.orders_kept_apart += t.n;
            } else if let Ok(c) = Currency::parse(code) {
                self.orders += t.n;
                self.order_counts.add(day, c, i128::from(t.n));
                self.revenue.add(day, c, i128::from(t.ms));
            }
        }
    }

    /// Adds everything of `other`.
    pub fn merge(&mut self, other: &Self) {
        self.revenue.merge(&other.revenue);
        self.order_counts.merge(&other.order_counts);
        self.orders += other.orders;
        self.orders_kept_apart += other.orders_kept_apart;
        for (k, t) in &other.leads {
            let e = self.leads.entry(k.clone()).or_default();
            e.n += t.n;
            e.ms += t.ms;
        }
        if let Some(s) = &other.spend {
            self.spend.get_or_insert_with(DailySums::default).merge(s);
        }
        self.clicks += other.clicks;
        self.impressions += other.impressions;
    }

    /// Adds one spend row.
    pub fn add_spend(&mut self, row: &SpendRow) {
        self.spend.get_or_insert_with(DailySums::default).add(
            row.day,
            row.amount.currency,
            i128::from(row.amount.minor),
        );
        self.clicks += i64::try_from(row.clicks.unwrap_or(0)).unwrap_or(i64::MAX);
        self.impressions += i64::try_from(row.impressions.unwrap_or(0)).unwrap_or(i64::MAX);
    }
}

/// `a ÷ b` in minor units, rounded half away from zero; `None` when `b` is 0.
pub fn divide(a: i64, b: i64) -> Option<i64> {
    if b == 0 {
        return None;
    }
    let (a, b) = (i128::from(a), i128::from(b));
    let (q, r) = (a / b, a % b);
    let q = if 2 * r.abs() >= b.abs() {
        q + a.signum() * b.signum()
    } else {
        q
    };
    i64::try_from(q).ok()
}

fn ratio(a: i64, b: i64) -> Option<f64> {
    // Exact to 4 decimals: the division is done in integers, only the result becomes a number.
    let scaled = divide(a.checked_mul(10_000)?, b)?;
    Some(scaled as f64 / 10_000.0)
}

impl MoneyFigures {
    /// The figures of `inputs`, converted with `rates`, for the stages of `stages`.
    pub fn compute(inputs: &MoneyInputs, rates: &Rates, stages: &[Stage]) -> Self {
        let cur = rates.reporting();
        let (revenue, revenue_not_converted) = inputs.revenue.convert(rates);
        let spend = inputs.spend.as_ref().map(|s| s.convert(rates));
        let leads = inputs.leads.get(field::LEADS).map_or(0, |t| t.n);
        let n = |name: &str| {
            inputs
                .leads
                .get(name)
                .copied()
                .unwrap_or(Tally::default())
                .n
        };
        let amount = |m: Option<i64>| m.map(|m| Amount::new(m, cur));
        // Figures from spend (CPL, cost per stage, profit, ROAS, ROI) need all of it: spend in a currency without
        // a rate is never taken as 0, so those figures are "—" until it can be converted.
        let spent = spend
            .as_ref()
            .filter(|(_, apart)| apart.is_empty())
            .map(|(s, _)| *s);
        Self {
            revenue: Amount::new(revenue, cur),
            revenue_not_converted,
            orders: inputs.orders,
            orders_kept_apart: inputs.orders_kept_apart,
            paying_leads: n(field::PAYING),
            spend: amount(spend.as_ref().map(|(s, _)| *s)),
            spend_not_converted: spend.as_ref().map(|(_, a)| a.clone()).unwrap_or_default(),
            clicks: inputs.clicks,
            impressions: inputs.impressions,
            average_order_value: amount(divide(revenue, inputs.order_counts.with_rate(rates))),
            revenue_per_lead: amount(divide(revenue, leads)),
            cpl: amount(spent.and_then(|s| divide(s, leads))),
            cost_per_stage: stages
                .iter()
                .map(|st| {
                    let reached = n(&field::of(field::REACHED, st.as_str()));
                    (
                        st.to_string(),
                        amount(spent.and_then(|s| divide(s, reached))),
                    )
                })
                .collect(),
            profit: amount(spent.map(|s| revenue.saturating_sub(s))),
            roas: spent.and_then(|s| ratio(revenue, s)),
            roi: spent.and_then(|s| ratio(revenue.saturating_sub(s), s)),
        }
    }
}

/// The money in one board column: leads currently in the stage, with their revenue at today's rates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageValue {
    /// The stage.
    pub stage: Stage,
    /// Leads in the stage with revenue.
    pub leads_with_revenue: i64,
    /// Their revenue in the reporting currency.
    pub value: Amount,
    /// Revenue with no rate, per currency.
    pub not_converted: Vec<Amount>,
    /// The stage's probability, in percent.
    pub probability_percent: u8,
    /// `value × probability`.
    pub weighted: Amount,
}

/// `GET /api/analytics/pipeline`: the money in each board column and the weighted pipeline value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineValue {
    /// The reporting currency.
    pub currency: Currency,
    /// One entry per stage, pipeline order.
    pub stages: Vec<StageValue>,
    /// Σ weighted values.
    pub weighted_total: Amount,
    /// Σ values.
    pub total: Amount,
}

impl PipelineValue {
    /// From the all-time bucket's `value:<stage>:<currency>` fields, converted at the rates of `today`.
    pub fn from_fields(
        everyone: &Fields,
        stages: &[Stage],
        probabilities: &[u8],
        rates: &Rates,
        today: NaiveDate,
    ) -> Self {
        let cur = rates.reporting();
        let mut out = Vec::new();
        let (mut total, mut weighted_total) = (0i64, 0i64);
        for (i, stage) in stages.iter().enumerate() {
            let prefix = format!("{}:{}:", field::VALUE, stage.as_str());
            let mut sums = DailySums::default();
            let leads = everyone
                .get(&field::of(field::VALUED, stage.as_str()))
                .map_or(0, |t| t.n);
            for (name, t) in everyone {
                if let Some(code) = name.strip_prefix(&prefix) {
                    if let Ok(c) = Currency::parse(code) {
                        sums.add(today, c, i128::from(t.ms));
                    }
                }
            }
            let (value, not_converted) = sums.convert(rates);
            let p = probabilities.get(i).copied().unwrap_or(0);
            let weighted = divide(value.saturating_mul(i64::from(p)), 100).unwrap_or(0);
            total = total.saturating_add(value);
            weighted_total = weighted_total.saturating_add(weighted);
            out.push(StageValue {
                stage: stage.clone(),
                leads_with_revenue: leads,
                value: Amount::new(value, cur),
                not_converted,
                probability_percent: p,
                weighted: Amount::new(weighted, cur),
            });
        }
        Self {
            currency: cur,
            stages: out,
            weighted_total: Amount::new(weighted_total, cur),
            total: Amount::new(total, cur),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::{Money, Rate};
    use crate::domain::spend::RateRow;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn c(s: &str) -> Currency {
        Currency::parse(s).unwrap()
    }

    #[test]
    fn division_rounds_half_away_from_zero() {
        assert_eq!(divide(10, 4), Some(3));
        assert_eq!(divide(-10, 4), Some(-3));
        assert_eq!(divide(9, 4), Some(2));
        assert_eq!(divide(1, 0), None);
    }

    #[test]
    fn figures_convert_per_day_and_keep_unrated_amounts_apart() {
        let rates = Rates::new(
            c("USD"),
            [RateRow {
                day: d("2026-01-01"),
                currency: c("EUR"),
                rate: Rate::parse("1.10").unwrap(),
            }],
        );
        let mut inputs = MoneyInputs::default();
        let mut fields = Fields::new();
        for (code, minor) in [("EUR", 1000), ("USD", 4999), ("JPY", 1500)] {
            // €10 → $11; the yen have no rate
            fields.insert(format!("rev:{code}"), Tally { n: 1, ms: minor });
        }
        inputs.add_revenue_fields(d("2026-01-02"), &fields);
        assert_eq!(inputs.orders, 3);
        inputs.leads.insert("leads".into(), Tally { n: 4, ms: 0 });
        inputs
            .leads
            .insert("reached:Paid".into(), Tally { n: 2, ms: 0 });
        inputs.add_spend(&SpendRow {
            day: d("2026-01-02"),
            source: "google".into(),
            campaign: "a".into(),
            domain: None,
            amount: Money {
                minor: 2000,
                currency: c("EUR"),
            },
            clicks: Some(10),
            impressions: Some(100),
        });
        let p = crate::domain::Pipeline::parse("New,Paid").unwrap();
        let stages = p.stages();
        let f = MoneyFigures::compute(&inputs, &rates, stages);
        assert_eq!(f.revenue.minor, 1100 + 4999);
        assert_eq!(f.revenue_not_converted, vec![Amount::new(1500, c("JPY"))]);
        assert_eq!(f.spend.as_ref().unwrap().minor, 2200);
        assert_eq!(f.cpl.as_ref().unwrap().minor, 550);
        assert_eq!(f.cost_per_stage["Paid"].as_ref().unwrap().minor, 1100);
        assert_eq!(f.cost_per_stage["New"], None);
        // The average of the two orders whose amount is counted: the yen order is in neither sum nor count.
        assert_eq!(f.average_order_value.unwrap().minor, 3050);
        assert_eq!(f.profit.unwrap().minor, 6099 - 2200);
        assert_eq!(f.roas, Some(2.7723));
        assert_eq!(f.clicks, 10);
    }

    #[test]
    fn no_spend_and_no_leads_are_dashes_not_zero() {
        let rates = Rates::new(c("USD"), []);
        let f = MoneyFigures::compute(&MoneyInputs::default(), &rates, &[]);
        assert_eq!(
            (f.spend, f.cpl, f.roas, f.roi, f.profit),
            (None, None, None, None, None)
        );
        assert_eq!(f.revenue_per_lead, None);
        let mut sums = DailySums::default();
        sums.add(d("2026-01-01"), c("USD"), 500);
        let spend_only = MoneyInputs {
            spend: Some(sums),
            ..Default::default()
        };
        let f = MoneyFigures::compute(&spend_only, &rates, &[]);
        assert_eq!(f.spend.unwrap().minor, 500);
        assert_eq!((f.cpl, f.roas), (None, Some(0.0)));
    }

    #[test]
    fn spend_without_a_rate_makes_its_figures_dashes_not_zero() {
        let rates = Rates::new(c("USD"), []);
        let mut sums = DailySums::default();
        sums.add(d("2026-01-01"), c("BHD"), 2500);
        let mut inputs = MoneyInputs {
            spend: Some(sums),
            ..Default::default()
        };
        inputs.leads.insert("leads".into(), Tally { n: 4, ms: 0 });
        let f = MoneyFigures::compute(&inputs, &rates, &[]);
        assert_eq!(f.spend.unwrap().minor, 0, "the converted part");
        assert_eq!(f.spend_not_converted, vec![Amount::new(2500, c("BHD"))]);
        assert_eq!(
            (f.cpl, f.profit, f.roas, f.roi),
            (None, None, None, None),
            "never computed as if the BHD spend were 0"
        );
    }
}
