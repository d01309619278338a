//! Ad spend and exchange rates: admin-maintained data that money figures are computed with.
//!
//! A [`SpendRow`] is what one campaign of one source cost on one day (with clicks and impressions when known). Rows
//! are identified by [`SpendRow::key`] (day × source × campaign × domain): storing a row with the key of a stored
//! one replaces it, so importing an overlapping range again never adds twice. A [`RateRow`] is the exchange rate
//! of one currency into the reporting currency from one day on; an amount is converted with the latest rate on or
//! before its day ([`Rates::on`]).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::counters::normalise_value;
use super::money::{Currency, Money, Rate};

/// What one campaign of one source cost on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendRow {
    /// The day (in the reporting time zone, as ad platforms report it).
    pub day: NaiveDate,
    /// The source, normalised as counters count it (`google`, `facebook`).
    pub source: String,
    /// The campaign, normalised as counters count it.
    pub campaign: String,
    /// The landing page domain, normalised, when the row is per domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// What it cost.
    pub amount: Money,
    /// Clicks, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clicks: Option<u64>,
    /// Impressions, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impressions: Option<u64>,
}

impl SpendRow {
    /// The identity of a row: `<day>|<source>|<campaign>|<domain>` (domain empty when none).
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.day.format("%Y-%m-%d"),
            self.source,
            self.campaign,
            self.domain.as_deref().unwrap_or("")
        )
    }

    /// Normalises source, campaign and domain the way counters group values, so spend meets its leads.
    pub fn normalised(mut self) -> Self {
        self.source = normalise_value(&self.source);
        self.campaign = normalise_value(&self.campaign);
        self.domain = self
            .domain
            .map(|d| normalise_value(&d))
            .filter(|d| !d.is_empty());
        self
    }
}

/// The rate of `currency` into the reporting currency from `day` on (until a later row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateRow {
    /// First day the rate applies to.
    pub day: NaiveDate,
    /// The currency converted.
    pub currency: Currency,
    /// Reporting-currency units per unit of `currency`.
    pub rate: Rate,
}

/// Every known rate, for converting amounts of any day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rates {
    reporting: Option<Currency>,
    by_currency: BTreeMap<Currency, BTreeMap<NaiveDate, Rate>>,
}

impl Rates {
    /// The rates of `rows`, into `reporting`.
    pub fn new(reporting: Currency, rows: impl IntoIterator<Item = RateRow>) -> Self {
        let mut by_currency: BTreeMap<Currency, BTreeMap<NaiveDate, Rate>> = BTreeMap::new();
        for r in rows {
            by_currency
                .entry(r.currency)
                .or_default()
                .insert(r.day, r.rate);
        }
        Self {
            reporting: Some(reporting),
            by_currency,
        }
    }

    /// The reporting currency.
    pub fn reporting(&self) -> Currency {
        self.reporting.unwrap_or_else(Currency::usd)
    }

    /// The rate of `currency` on `day`: 1 for the reporting currency, else the latest rate on or before `day`;
    /// `None` when there is none.
    pub fn on(&self, currency: Currency, day: NaiveDate) -> Option<Rate> {
        if currency == self.reporting() {
            return Some(Rate::ONE);
        }
        self.by_currency
            .get(&currency)?
            .range(..=day)
            .next_back()
            .map(|(_, r)| *r)
    }

    /// `minor` units of `currency` on `day` in reporting-currency minor units, or `None` when there is no rate
    /// (or the product overflows).
    pub fn convert(&self, minor: i128, currency: Currency, day: NaiveDate) -> Option<i128> {
        let rate = self.on(currency, day)?;
        super::money::convert(minor, currency, self.reporting(), rate)
    }
}

/// How spend rows are summed for a money view: per day and currency, and per one value when a breakdown needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendGrouping {
    /// Per day and currency only (source, campaign and domain left empty).
    Total,
    /// Per day, source and currency.
    Source,
    /// Per day, campaign and currency.
    Campaign,
    /// Per day, domain and currency (rows without a domain left out).
    Domain,
}

/// Sums `rows` per day, currency and the grouping's value (what [`crate::store::LeadStore::spend_sums`] returns),
/// in (day, value, currency) order.
pub fn group_spend(rows: &[SpendRow], grouping: SpendGrouping) -> Vec<SpendRow> {
    /// Day, grouped value and currency → minor units, clicks, impressions.
    type Sums = BTreeMap<(NaiveDate, String, Currency), (i64, Option<u64>, Option<u64>)>;
    let mut sums = Sums::new();
    for r in rows {
        let value = match grouping {
            SpendGrouping::Total => String::new(),
            SpendGrouping::Source => r.source.clone(),
            SpendGrouping::Campaign => r.campaign.clone(),
            SpendGrouping::Domain => match &r.domain {
                Some(d) => d.clone(),
                None => continue,
            },
        };
        let e = sums
            .entry((r.day, value, r.amount.currency))
            .or_insert((0, None, None));
        e.0 = e.0.saturating_add(r.amount.minor);
        let add = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
        };
        e.1 = add(e.1, r.clicks);
        e.2 = add(e.2, r.impressions);
    }
    sums.into_iter()
        .map(|((day, value, currency), (minor, clicks, impressions))| {
            let mut row = SpendRow {
                day,
                source: String::new(),
                campaign: String::new(),
                domain: None,
                amount: Money { minor, currency },
                clicks,
                impressions,
            };
            match grouping {
                SpendGrouping::Total => {}
                SpendGrouping::Source => row.source = value,
                SpendGrouping::Campaign => row.campaign = value,
                SpendGrouping::Domain => row.domain = Some(value),
            }
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn spend_groups_per_day_value_and_currency() {
        let usd = Currency::usd();
        let mk =
            |day: &str, source: &str, campaign: &str, minor: i64, clicks: Option<u64>| SpendRow {
                day: d(day),
                source: source.into(),
                campaign: campaign.into(),
                domain: (campaign == "a").then(|| "x.example".to_string()),
                amount: Money {
                    minor,
                    currency: usd,
                },
                clicks,
                impressions: None,
            };
        let rows = [
            mk("2026-01-01", "google", "a", 100, Some(1)),
            mk("2026-01-01", "meta", "a", 50, None),
            mk("2026-01-01", "meta", "b", 7, Some(2)),
            mk("2026-01-02", "google", "b", 3, None),
        ];
        let total = group_spend(&rows, SpendGrouping::Total);
        assert_eq!(total.len(), 2);
        assert_eq!((total[0].amount.minor, total[0].clicks), (157, Some(3)));
        assert_eq!((total[1].amount.minor, total[1].clicks), (3, None));
        let by_source = group_spend(&rows, SpendGrouping::Source);
        let got: Vec<_> = by_source
            .iter()
            .map(|r| (r.day.to_string(), r.source.as_str(), r.amount.minor))
            .collect();
        assert_eq!(
            got,
            [
                ("2026-01-01".to_string(), "google", 100),
                ("2026-01-01".to_string(), "meta", 57),
                ("2026-01-02".to_string(), "google", 3)
            ]
        );
        let by_domain = group_spend(&rows, SpendGrouping::Domain);
        assert_eq!(by_domain.len(), 1, "rows without a domain are left out");
        assert_eq!(by_domain[0].amount.minor, 150);
        assert_eq!(by_domain[0].domain.as_deref(), Some("x.example"));
    }

    #[test]
    fn an_amount_uses_the_latest_rate_on_or_before_its_day() {
        let eur = Currency::parse("EUR").unwrap();
        let rates = Rates::new(
            Currency::usd(),
            [
                RateRow {
                    day: d("2026-01-01"),
                    currency: eur,
                    rate: Rate::parse("1.10").unwrap(),
                },
                RateRow {
                    day: d("2026-02-01"),
                    currency: eur,
                    rate: Rate::parse("1.20").unwrap(),
                },
            ],
        );
        assert_eq!(rates.convert(1000, eur, d("2025-12-31")), None);
        assert_eq!(rates.convert(1000, eur, d("2026-01-15")), Some(1100));
        assert_eq!(rates.convert(1000, eur, d("2026-02-01")), Some(1200));
        assert_eq!(
            rates.convert(1000, Currency::usd(), d("2020-01-01")),
            Some(1000)
        );
    }

    #[test]
    fn rows_with_the_same_day_source_campaign_and_domain_share_a_key() {
        let row = SpendRow {
            day: d("2026-03-01"),
            source: " Google ".into(),
            campaign: "Spring|Sale".into(),
            domain: Some("".into()),
            amount: Money {
                minor: 100,
                currency: Currency::usd(),
            },
            clicks: None,
            impressions: None,
        }
        .normalised();
        assert_eq!(row.key(), "2026-03-01|google|spring/sale|");
    }
}
