//! Ad spend and exchange rates on SQLite: tables `spend` (one row per [`SpendRow::key`], indexed by day) and
//! `rates` (one row per currency and day). Both are created by `CREATE TABLE IF NOT EXISTS` when a store opens,
//! so older databases get them with no migration. Writes run on the writing connection, one transaction a call.

use chrono::NaiveDate;
use leadpipe_core::domain::money::{Currency, Money, Rate};
use leadpipe_core::domain::spend::{RateRow, SpendRow};
use leadpipe_core::store::StoreError;
use rusqlite::{params, Connection};

use crate::internal;

/// The tables.
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS spend (
    key         TEXT PRIMARY KEY,
    day         TEXT NOT NULL,
    source      TEXT NOT NULL,
    campaign    TEXT NOT NULL,
    domain      TEXT,
    minor       INTEGER NOT NULL,
    currency    TEXT NOT NULL,
    clicks      INTEGER,
    impressions INTEGER
);
CREATE INDEX IF NOT EXISTS spend_by_day ON spend (day, key);
CREATE TABLE IF NOT EXISTS rates (
    currency TEXT NOT NULL,
    day      TEXT NOT NULL,
    rate     INTEGER NOT NULL,
    PRIMARY KEY (currency, day)
);
"#;

fn day_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn to_i64(n: Option<u64>) -> Option<i64> {
    n.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

/// Upserts `rows` in one transaction.
pub(crate) fn put_spend(c: &mut Connection, rows: &[SpendRow]) -> Result<(), StoreError> {
    let tx = c.transaction().map_err(internal)?;
    {
        let mut st = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO spend (key, day, source, campaign, domain, minor, currency, clicks, impressions) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(internal)?;
        for r in rows {
            st.execute(params![
                r.key(),
                day_text(r.day),
                r.source,
                r.campaign,
                r.domain,
                r.amount.minor,
                r.amount.currency.as_str(),
                to_i64(r.clicks),
                to_i64(r.impressions),
            ])
            .map_err(internal)?;
        }
    }
    tx.commit().map_err(internal)
}

/// Rows of `from ..= to`, by key.
pub(crate) fn spend(
    c: &Connection,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<SpendRow>, StoreError> {
    let mut st = c
        .prepare_cached(
            "SELECT day, source, campaign, domain, minor, currency, clicks, impressions FROM spend \
             WHERE day >= ?1 AND day <= ?2 ORDER BY key",
        )
        .map_err(internal)?;
    read_rows(&mut st, from, to)
}

/// The spend rows a statement selects as (day, source, campaign, domain, minor, currency, clicks, impressions),
/// its parameters the first and last day.
fn read_rows(
    st: &mut rusqlite::CachedStatement<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<SpendRow>, StoreError> {
    let rows = st
        .query_map(params![day_text(from), day_text(to)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, Option<i64>>(7)?,
            ))
        })
        .map_err(internal)?;
    let mut out = Vec::new();
    for row in rows {
        let (day, source, campaign, domain, minor, currency, clicks, impressions) =
            row.map_err(internal)?;
        out.push(SpendRow {
            day: day.parse().map_err(internal)?,
            source,
            campaign,
            domain,
            amount: Money {
                minor,
                currency: Currency::parse(&currency).map_err(internal)?,
            },
            clicks: clicks.and_then(|n| u64::try_from(n).ok()),
            impressions: impressions.and_then(|n| u64::try_from(n).ok()),
        });
    }
    Ok(out)
}

/// Deletes the rows with `keys`, in one transaction.
pub(crate) fn delete_spend(c: &mut Connection, keys: &[String]) -> Result<(), StoreError> {
    let tx = c.transaction().map_err(internal)?;
    {
        let mut st = tx
            .prepare_cached("DELETE FROM spend WHERE key = ?1")
            .map_err(internal)?;
        for k in keys {
            st.execute([k]).map_err(internal)?;
        }
    }
    tx.commit().map_err(internal)
}

/// Upserts rates in one transaction.
pub(crate) fn put_rates(c: &mut Connection, rows: &[RateRow]) -> Result<(), StoreError> {
    let tx = c.transaction().map_err(internal)?;
    {
        let mut st = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO rates (currency, day, rate) VALUES (?1, ?2, ?3)",
            )
            .map_err(internal)?;
        for r in rows {
            st.execute(params![r.currency.as_str(), day_text(r.day), r.rate.0])
                .map_err(internal)?;
        }
    }
    tx.commit().map_err(internal)
}

/// Every rate, by currency then day.
pub(crate) fn rates(c: &Connection) -> Result<Vec<RateRow>, StoreError> {
    let mut st = c
        .prepare_cached("SELECT currency, day, rate FROM rates ORDER BY currency, day")
        .map_err(internal)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .map_err(internal)?;
    let mut out = Vec::new();
    for row in rows {
        let (currency, day, rate) = row.map_err(internal)?;
        out.push(RateRow {
            day: day.parse().map_err(internal)?,
            currency: Currency::parse(&currency).map_err(internal)?,
            rate: Rate(rate),
        });
    }
    Ok(out)
}

/// Deletes one rate.
pub(crate) fn delete_rate(
    c: &Connection,
    day: NaiveDate,
    currency: Currency,
) -> Result<(), StoreError> {
    c.prepare_cached("DELETE FROM rates WHERE currency = ?1 AND day = ?2")
        .and_then(|mut st| st.execute(params![currency.as_str(), day_text(day)]))
        .map_err(internal)?;
    Ok(())
}

/// The spend of `from..=to` summed in SQL per day, currency and `grouping`'s value (as `group_spend` sums it).
pub(crate) fn spend_sums(
    c: &Connection,
    from: NaiveDate,
    to: NaiveDate,
    grouping: leadpipe_core::domain::spend::SpendGrouping,
) -> Result<Vec<SpendRow>, StoreError> {
    use leadpipe_core::domain::spend::SpendGrouping as G;
    // (source, campaign, domain) as selected, the grouped column, and the rows left out.
    let (source, campaign, domain, value, only) = match grouping {
        G::Total => ("''", "''", "NULL", "''", ""),
        G::Source => ("source", "''", "NULL", "source", ""),
        G::Campaign => ("''", "campaign", "NULL", "campaign", ""),
        G::Domain => ("''", "''", "domain", "domain", " AND domain IS NOT NULL"),
    };
    let sql = format!(
        "SELECT day, {source}, {campaign}, {domain}, SUM(minor), currency, SUM(clicks), SUM(impressions) \
         FROM spend WHERE day >= ?1 AND day <= ?2{only} GROUP BY day, {value}, currency \
         ORDER BY day, {value}, currency"
    );
    let mut st = c.prepare_cached(&sql).map_err(internal)?;
    read_rows(&mut st, from, to)
}
