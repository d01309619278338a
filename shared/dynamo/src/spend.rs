//! Ad spend and exchange rates on DynamoDB (keys in [`crate::keys`], sizes in `docs/DYNAMODB.md`).
//!
//! - **spend row**: `pk = S#<day>`, `sk = <source>|<campaign>|<domain>` (the row's key after its day), with `m`
//!   (amount in minor units), `cu` (currency), `cl` (clicks) and `im` (impressions) when known. One partition per
//!   day: a range is read by querying each day's partition (all pages), [`SPEND_READ_CONCURRENCY`] at a time.
//!   Written only by admin requests (imports), so no partition is hot.
//! - **exchange rate**: `pk = X#<currency>`, `sk = <day>`, with `r` (the rate, 12 decimals as an integer).
//! - **rate registry**: `pk = X`, `sk = X`, with `cs`, the string set of currencies that have (or had) rates, so
//!   reading every rate is one GetItem and one Query per currency: never a scan. A currency stays in the registry
//!   when its last rate is deleted (an empty partition costs one 0.5-unit query), which keeps deletes race-free.
//!
//! Source, campaign and domain of stored rows are normalised (`|` never occurs in them), so a sort key splits back
//! into its three parts.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use chrono::NaiveDate;
use futures_util::{StreamExt, TryStreamExt};
use leadpipe_core::domain::money::{Currency, Money, Rate};
use leadpipe_core::domain::spend::{RateRow, SpendRow};
use leadpipe_core::store::StoreError;

use crate::codec::{n, s, Item};
use crate::error::{internal, sdk_error};
use crate::keys::{self, PK, SK};
use crate::store::DynamoStore;

/// Day partitions (or currency partitions) read at once.
pub const SPEND_READ_CONCURRENCY: usize = 16;
/// BatchWriteItem requests (25 items each) in flight at once.
const WRITE_CONCURRENCY: usize = 8;

/// Attribute: amount in minor units.
const MINOR: &str = "m";
/// Attribute: currency code.
const CURRENCY: &str = "cu";
/// Attribute: clicks.
const CLICKS: &str = "cl";
/// Attribute: impressions.
const IMPRESSIONS: &str = "im";
/// Attribute: a rate (units of 10^-12).
const RATE: &str = "r";
/// Attribute of the rate registry: its currencies.
const CURRENCIES: &str = "cs";

fn day_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The item of a spend row.
pub fn spend_item(row: &SpendRow) -> Result<Item, StoreError> {
    let parts = [
        row.source.as_str(),
        row.campaign.as_str(),
        row.domain.as_deref().unwrap_or(""),
    ];
    if parts.iter().any(|p| p.contains('|')) {
        return Err(internal(
            "spend rows must be normalised before they are stored",
        ));
    }
    let mut item = keys::spend_key(row.day, &parts.join("|"));
    item.insert(MINOR.into(), n(row.amount.minor));
    item.insert(CURRENCY.into(), s(row.amount.currency.as_str()));
    if let Some(c) = row.clicks {
        item.insert(CLICKS.into(), n(c));
    }
    if let Some(i) = row.impressions {
        item.insert(IMPRESSIONS.into(), n(i));
    }
    Ok(item)
}

fn text<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| internal(format!("spend item without {name}")))
}

fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// The spend row of an item.
pub fn spend_from_item(item: &Item) -> Result<SpendRow, StoreError> {
    let day = keys::spend_day(text(item, PK)?).ok_or_else(|| internal("bad spend pk"))?;
    let mut parts = text(item, SK)?.splitn(3, '|');
    let (source, campaign, domain) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    Ok(SpendRow {
        day,
        source,
        campaign,
        domain: (!domain.is_empty()).then_some(domain),
        amount: Money {
            minor: number(item, MINOR).ok_or_else(|| internal("spend item without m"))?,
            currency: Currency::parse(text(item, CURRENCY)?).map_err(internal)?,
        },
        clicks: number(item, CLICKS),
        impressions: number(item, IMPRESSIONS),
    })
}

impl DynamoStore {
    /// Every item of one partition (all pages), strongly consistent, oldest sort key first.
    async fn partition(&self, pk: String) -> Result<Vec<Item>, StoreError> {
        self.query_partition(&pk).await
    }

    /// Writes requests in batches of 25, [`WRITE_CONCURRENCY`] batches at a time.
    async fn write_all(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let chunks: Vec<Vec<WriteRequest>> = requests.chunks(25).map(<[_]>::to_vec).collect();
        futures_util::stream::iter(chunks)
            .map(|c| self.batch_write(c))
            .buffer_unordered(WRITE_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    pub(crate) async fn put_spend_rows(&self, rows: &[SpendRow]) -> Result<(), StoreError> {
        // One request per key (BatchWriteItem refuses a key twice): the last row of a key wins.
        let mut by_key = BTreeMap::new();
        for r in rows {
            by_key.insert(r.key(), spend_item(r)?);
        }
        let requests = by_key
            .into_values()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(internal)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.write_all(requests).await
    }

    pub(crate) async fn spend_rows(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<SpendRow>, StoreError> {
        let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
        let pages: Vec<Vec<Item>> = futures_util::stream::iter(days)
            .map(|d| self.partition(keys::spend_pk(d)))
            .buffered(SPEND_READ_CONCURRENCY)
            .try_collect()
            .await?;
        pages.iter().flatten().map(spend_from_item).collect()
    }

    pub(crate) async fn delete_spend_rows(&self, row_keys: &[String]) -> Result<(), StoreError> {
        let mut keys_seen = BTreeMap::new();
        for k in row_keys {
            let Some((day, rest)) = k.split_once('|') else {
                continue;
            };
            let Ok(day) = NaiveDate::parse_from_str(day, "%Y-%m-%d") else {
                continue;
            };
            keys_seen.insert(k.clone(), keys::spend_key(day, rest));
        }
        let requests = keys_seen
            .into_values()
            .map(|key| {
                DeleteRequest::builder()
                    .set_key(Some(key))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(internal)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.write_all(requests).await
    }

    pub(crate) async fn put_rate_rows(&self, rows: &[RateRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        // The registry first: a currency listed without rates is harmless, rates not listed would be invisible.
        let currencies: std::collections::BTreeSet<String> =
            rows.iter().map(|r| r.currency.to_string()).collect();
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::rates_registry_key()))
            .update_expression("ADD #cs :cs")
            .expression_attribute_names("#cs", CURRENCIES)
            .expression_attribute_values(
                ":cs",
                AttributeValue::Ss(currencies.into_iter().collect()),
            )
            .send()
            .await
            .map_err(sdk_error)?;
        let mut by_key = BTreeMap::new();
        for r in rows {
            let mut item = keys::exchange_rate_key(r.currency.as_str(), &day_text(r.day));
            item.insert(RATE.into(), n(r.rate.0));
            by_key.insert((r.currency, r.day), item);
        }
        let requests = by_key
            .into_values()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(internal)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.write_all(requests).await
    }

    pub(crate) async fn rate_rows(&self) -> Result<Vec<RateRow>, StoreError> {
        let registry = self
            .get_item(keys::rates_registry_key(), true)
            .await?
            .unwrap_or_default();
        let mut currencies: Vec<String> = registry
            .get(CURRENCIES)
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        currencies.sort();
        let pages: Vec<(String, Vec<Item>)> = futures_util::stream::iter(currencies)
            .map(|c| async move {
                let items = self.partition(keys::rates_pk(&c)).await?;
                Ok::<_, StoreError>((c, items))
            })
            .buffered(SPEND_READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut out = Vec::new();
        for (code, items) in pages {
            let currency = Currency::parse(&code).map_err(internal)?;
            for item in items {
                let day =
                    NaiveDate::parse_from_str(text(&item, SK)?, "%Y-%m-%d").map_err(internal)?;
                let rate = number(&item, RATE).ok_or_else(|| internal("rate item without r"))?;
                out.push(RateRow {
                    day,
                    currency,
                    rate: Rate(rate),
                });
            }
        }
        Ok(out)
    }

    pub(crate) async fn delete_rate_row(
        &self,
        day: NaiveDate,
        currency: Currency,
    ) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::exchange_rate_key(
                currency.as_str(),
                &day_text(day),
            )))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size::{item_size, read_units};

    fn row(campaign: &str, domain: Option<&str>) -> SpendRow {
        SpendRow {
            day: "2026-11-01".parse().unwrap_or_default(),
            source: "facebook".into(),
            campaign: campaign.into(),
            domain: domain.map(Into::into),
            amount: Money {
                minor: 123_456,
                currency: Currency::usd(),
            },
            clicks: Some(1_042),
            impressions: Some(48_210),
        }
    }

    #[test]
    fn spend_items_round_trip_and_stay_small() {
        for r in [
            row("llc-spring-2026", None),
            row("a", Some("shop.example.com")),
        ] {
            let item = spend_item(&r).expect("item");
            assert_eq!(spend_from_item(&item).expect("row"), r);
        }
        let bad = row("a|b", None);
        assert!(spend_item(&bad).is_err());
        // The size docs/DYNAMODB.md uses: a 24-character campaign, a 16-character domain.
        let typical =
            spend_item(&row("llc-spring-2026-lookalik", Some("shop.example.com"))).expect("item");
        let size = item_size(&typical);
        assert_eq!(size, 86);
        // A day of 50 campaigns × 6 sources in one Query: 300 items, 25,800 B, 7 read units (strongly consistent).
        assert_eq!(read_units(300 * size, true), 7.0);
    }
}
