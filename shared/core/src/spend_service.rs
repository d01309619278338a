//! Ad spend and exchange rates through the application core: reading the API's JSON rows and the import files
//! ([`crate::domain::spend_import`]), validating, normalising and storing them. Every change to spend or rates
//! goes through the [`Leadpipe`] methods here.
//!
//! JSON rows (`POST /api/spend`, `PUT /api/rates`) are validated one by one: a bad row is rejected with its index
//! and field, the good ones are stored. Two rows of one request with the same key: the later one is stored (a
//! file's rows with one key are added up instead, see [`crate::domain::spend_import`]).

use crate::money_service::Rerank;
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::money::{parse_amount, Currency, Decimal};
use crate::domain::spend::{RateRow, SpendRow};
use crate::domain::spend_import::{
    decode_text, parse_rate_row, parse_rates_csv, parse_spend_csv, LineRejection,
    SpendImportOptions,
};
use crate::error::{json_object_body, ErrorCode, ValidationError};
use crate::service::{Leadpipe, ServiceError};

/// Most rows (or keys) one JSON request may carry.
pub const MAX_JSON_ROWS: usize = 5000;
/// Largest JSON body of the spend and rates routes, in bytes.
pub const MAX_JSON_BYTES: usize = 2 * 1024 * 1024;
/// Largest spend or rates file, in bytes.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Longest range `GET /api/spend` reads, in days (two years and a bit: a year with its previous period).
pub const MAX_RANGE_DAYS: i64 = 800;

/// One rejected JSON row: its 0-based index in `rows`, the field at fault and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowRejection {
    /// Index in the request's `rows`.
    pub row: usize,
    /// The field at fault.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// What storing JSON rows did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredRows {
    /// Rows stored (each replacing the stored row with its key, if any).
    pub stored: usize,
    /// Rows rejected, nothing stored for them.
    pub rejected: Vec<RowRejection>,
}

/// What importing a file did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileImport {
    /// The format read (`google_ads`, `meta`, `native`; `rates` for a rates file).
    pub format: &'static str,
    /// Rows stored (rows of one key in the file count once: they are added up).
    pub stored: usize,
    /// Rejected rows with their line, the first 1,000.
    pub rejected: Vec<LineRejection>,
    /// All rejected rows.
    pub rejected_total: usize,
    /// Summary rows skipped (Google Ads' `Total: …`).
    pub skipped: usize,
}

/// Why a spend or rates operation failed: bad input (nothing stored), or the store.
#[derive(Debug, thiserror::Error)]
pub enum SpendError {
    /// The request cannot be read.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The store failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<crate::store::StoreError> for SpendError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Service(e.into())
    }
}

/// The `rows` array of a JSON body `{"rows": [...]}`, at most [`MAX_JSON_ROWS`].
fn rows_of(body: &[u8]) -> Result<Vec<Value>, ValidationError> {
    let mut obj = json_object_body(body, MAX_JSON_BYTES)?;
    if let Some(k) = obj.keys().find(|k| *k != "rows") {
        return Err(ValidationError::new(
            ErrorCode::UnknownField,
            format!("unknown field {}: the body is {{\"rows\": [...]}}", clip(k)),
        )
        .at(k));
    }
    let rows = match obj.remove("rows") {
        Some(Value::Array(rows)) => rows,
        _ => {
            return Err(ValidationError::field(
                "rows",
                "rows must be an array of row objects",
            ))
        }
    };
    if rows.len() > MAX_JSON_ROWS {
        return Err(ValidationError::body(
            ErrorCode::PayloadTooLarge,
            format!("at most {MAX_JSON_ROWS} rows per request: split them"),
        ));
    }
    Ok(rows)
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

type FieldError = (&'static str, String);

fn text<'a>(
    row: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, FieldError> {
    match row.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim())),
        Some(_) => Err((field, format!("{field} must be a string"))),
    }
}

fn required<'a>(row: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, FieldError> {
    text(row, field)?.ok_or((field, format!("{field} is required")))
}

fn day_of(row: &Map<String, Value>) -> Result<NaiveDate, FieldError> {
    let raw = required(row, "day")?;
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        (
            "day",
            format!("\"{}\" is not a date (YYYY-MM-DD)", clip(raw)),
        )
    })
}

fn count(row: &Map<String, Value>, field: &'static str) -> Result<Option<u64>, FieldError> {
    match row.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or((field, format!("{field} must be a whole number ≥ 0"))),
        Some(_) => Err((field, format!("{field} must be a whole number ≥ 0"))),
    }
}

/// The decimal text of a JSON amount: a string, or a number as written (never through arithmetic on a float).
fn amount_text(v: Option<&Value>) -> Result<String, FieldError> {
    match v {
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        None | Some(Value::Null) => Err(("amount", "amount is required".into())),
        Some(_) => Err((
            "amount",
            "amount must be a decimal string (\"12.34\") or a number".into(),
        )),
    }
}

const SPEND_FIELDS: &[&str] = &[
    "day",
    "source",
    "campaign",
    "domain",
    "amount",
    "currency",
    "clicks",
    "impressions",
];

/// One JSON spend row, validated and normalised.
pub fn spend_row_from_json(v: &Value) -> Result<SpendRow, FieldError> {
    let Value::Object(row) = v else {
        return Err(("row", "each row must be a JSON object".into()));
    };
    if let Some(k) = row.keys().find(|k| !SPEND_FIELDS.contains(&k.as_str())) {
        return Err(("row", format!("unknown field {}", clip(k))));
    }
    let day = day_of(row)?;
    let (source, campaign) = (required(row, "source")?, required(row, "campaign")?);
    let domain = text(row, "domain")?;
    let currency =
        Currency::parse(required(row, "currency")?).map_err(|e| ("currency", e.to_string()))?;
    let raw = amount_text(row.get("amount"))?;
    if Decimal::parse(&raw).is_some_and(|d| d.digits < 0) {
        return Err(("amount", "spend cannot be negative".into()));
    }
    let amount = parse_amount(&raw, currency).map_err(|e| ("amount", e.to_string()))?;
    let spend = SpendRow {
        day,
        source: source.into(),
        campaign: campaign.into(),
        domain: domain.map(Into::into),
        amount,
        clicks: count(row, "clicks")?,
        impressions: count(row, "impressions")?,
    }
    .normalised();
    if spend.source.is_empty() {
        return Err(("source", "source is required".into()));
    }
    if spend.campaign.is_empty() {
        return Err(("campaign", "campaign is required".into()));
    }
    Ok(spend)
}

/// One JSON rate row `{"day", "currency", "rate": "1.08"}`, validated.
pub fn rate_row_from_json(v: &Value, reporting: Currency) -> Result<RateRow, FieldError> {
    let Value::Object(row) = v else {
        return Err(("row", "each row must be a JSON object".into()));
    };
    if let Some(k) = row
        .keys()
        .find(|k| !["day", "currency", "rate"].contains(&k.as_str()))
    {
        return Err(("row", format!("unknown field {}", clip(k))));
    }
    let day = day_of(row)?;
    let rate = match row.get("rate") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(("rate", "rate must be a decimal string (\"1.08\")".into())),
    };
    parse_rate_row(
        &day.format("%Y-%m-%d").to_string(),
        required(row, "currency")?,
        &rate,
        reporting,
    )
}

/// Checks the shape of a spend key (`<day>|<source>|<campaign>|<domain>`).
pub fn is_spend_key(key: &str) -> bool {
    let parts: Vec<&str> = key.split('|').collect();
    parts.len() == 4
        && NaiveDate::parse_from_str(parts[0], "%Y-%m-%d").is_ok()
        && !parts[1].is_empty()
        && !parts[2].is_empty()
}

/// Reads each JSON row with `read`, collecting the good ones (later wins per `key`) and the rejections.
fn read_rows<T>(
    rows: &[Value],
    read: impl Fn(&Value) -> Result<T, FieldError>,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Vec<RowRejection>) {
    let mut good: std::collections::BTreeMap<String, T> = std::collections::BTreeMap::new();
    let mut rejected = Vec::new();
    for (i, v) in rows.iter().enumerate() {
        match read(v) {
            Ok(r) => {
                good.insert(key(&r), r);
            }
            Err((field, message)) => rejected.push(RowRejection {
                row: i,
                field: field.into(),
                message,
            }),
        }
    }
    (good.into_values().collect(), rejected)
}

impl Leadpipe {
    /// `POST /api/spend`: stores the good rows of `{"rows": [...]}` and reports the rejected ones.
    pub async fn put_spend_json(&self, body: &[u8]) -> Result<StoredRows, SpendError> {
        let rows = rows_of(body)?;
        let (good, rejected) = read_rows(&rows, spend_row_from_json, SpendRow::key);
        self.store.put_spend(&good).await?;
        Ok(StoredRows {
            stored: good.len(),
            rejected,
        })
    }

    /// `POST /api/spend/import`: reads a spend file and stores its good rows.
    pub async fn import_spend(
        &self,
        bytes: &[u8],
        options: &SpendImportOptions,
    ) -> Result<FileImport, SpendError> {
        let invalid = |m: String| ValidationError::body(ErrorCode::InvalidBody, m);
        let text = decode_text(bytes).map_err(|e| invalid(e.0))?;
        let parsed = parse_spend_csv(&text, options).map_err(|e| invalid(e.0))?;
        self.store.put_spend(&parsed.rows).await?;
        Ok(FileImport {
            format: parsed.format.as_str(),
            stored: parsed.rows.len(),
            rejected: parsed.rejected,
            rejected_total: parsed.rejected_total,
            skipped: parsed.skipped,
        })
    }

    /// Spend rows of `from ..= to`; a reversed range or one over [`MAX_RANGE_DAYS`] is refused.
    pub async fn spend_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<SpendRow>, SpendError> {
        if to < from {
            return Err(ValidationError::field("to", "to must not be before from").into());
        }
        if (to - from).num_days() >= MAX_RANGE_DAYS {
            return Err(ValidationError::field(
                "to",
                format!("at most {MAX_RANGE_DAYS} days at a time"),
            )
            .into());
        }
        Ok(self.store.spend(from, to).await?)
    }

    /// `DELETE /api/spend`: removes the rows of `{"keys": [...]}`; answers how many keys were given.
    pub async fn delete_spend_json(&self, body: &[u8]) -> Result<usize, SpendError> {
        let mut obj = json_object_body(body, MAX_JSON_BYTES)?;
        if let Some(k) = obj.keys().find(|k| *k != "keys") {
            return Err(ValidationError::new(
                ErrorCode::UnknownField,
                format!("unknown field {}: the body is {{\"keys\": [...]}}", clip(k)),
            )
            .at(k)
            .into());
        }
        let bad = || {
            ValidationError::field(
                "keys",
                "keys must be an array of spend row keys (day|source|campaign|domain)",
            )
        };
        let Some(Value::Array(keys)) = obj.remove("keys") else {
            return Err(bad().into());
        };
        if keys.len() > MAX_JSON_ROWS {
            return Err(ValidationError::body(
                ErrorCode::PayloadTooLarge,
                format!("at most {MAX_JSON_ROWS} keys per request"),
            )
            .into());
        }
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            match k {
                Value::String(s) if is_spend_key(&s) => out.push(s),
                _ => return Err(bad().into()),
            }
        }
        out.sort();
        out.dedup();
        self.store.delete_spend(&out).await?;
        Ok(out.len())
    }

    /// Every exchange rate.
    pub async fn exchange_rates(&self) -> Result<Vec<RateRow>, SpendError> {
        Ok(self.store.rates().await?)
    }

    /// `PUT /api/rates`: stores the good rates of `{"rows": [...]}`.
    pub async fn put_rates_json(&self, body: &[u8]) -> Result<StoredRows, SpendError> {
        let rows = rows_of(body)?;
        let reporting = self.settings.reporting_currency;
        let (good, rejected) = read_rows(
            &rows,
            |v| rate_row_from_json(v, reporting),
            |r: &RateRow| format!("{}|{}", r.currency, r.day),
        );
        self.store.put_rates(&good).await?;
        self.rerank_revenue(Rerank::Ranked).await?;
        Ok(StoredRows {
            stored: good.len(),
            rejected,
        })
    }

    /// `POST /api/rates/import`: reads a `day,currency,rate` file and stores its good rates.
    pub async fn import_rates(&self, bytes: &[u8]) -> Result<FileImport, SpendError> {
        let invalid = |m: String| ValidationError::body(ErrorCode::InvalidBody, m);
        let text = decode_text(bytes).map_err(|e| invalid(e.0))?;
        let parsed =
            parse_rates_csv(&text, self.settings.reporting_currency).map_err(|e| invalid(e.0))?;
        self.store.put_rates(&parsed.rows).await?;
        self.rerank_revenue(Rerank::Ranked).await?;
        Ok(FileImport {
            format: "rates",
            stored: parsed.rows.len(),
            rejected: parsed.rejected,
            rejected_total: parsed.rejected_total,
            skipped: 0,
        })
    }

    /// Removes the rate of `currency` from `day`.
    pub async fn delete_rate(&self, day: NaiveDate, currency: Currency) -> Result<(), SpendError> {
        self.store.delete_rate(day, currency).await?;
        self.rerank_revenue(Rerank::Ranked).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_rows_are_read_one_by_one() {
        let rows = vec![
            json!({"day": "2026-11-01", "source": "Google", "campaign": "A", "amount": "12.34", "currency": "eur", "clicks": 3}),
            json!({"day": "2026-11-01", "source": "x", "campaign": "b", "amount": 1234, "currency": "JPY"}),
            json!({"day": "2026-11-01", "source": "x", "campaign": "c", "amount": 0.5, "currency": "BHD", "domain": "Shop.Example"}),
            json!({"day": "2026-11-01", "source": "x", "campaign": "c", "amount": "1.001", "currency": "USD"}),
            json!({"day": "11/01/2026", "source": "x", "campaign": "c", "amount": "1", "currency": "USD"}),
            json!({"day": "2026-11-01", "source": "x", "campaign": "c", "amount": "-1", "currency": "USD"}),
            json!({"day": "2026-11-01", "source": "x", "campaign": "c", "amount": "NaN", "currency": "USD"}),
            json!({"day": "2026-11-01", "source": "x", "campaign": "c", "amount": "1", "currency": "XXY"}),
            json!({"day": "2026-11-01", "source": "x", "campaign": "c", "amount": "1", "currency": "USD", "cost": 1}),
            json!({"day": "2026-11-01", "source": " ", "campaign": "c", "amount": "1", "currency": "USD"}),
            json!({"day": "2026-11-01", "source": "x", "campaign": "c", "amount": "1", "currency": "USD", "clicks": -1}),
            json!("not a row"),
            json!({"day": "2026-11-01", "source": "x", "campaign": "c", "amount": true, "currency": "USD"}),
        ];
        let (good, rejected) = read_rows(&rows, spend_row_from_json, SpendRow::key);
        let minor: Vec<(String, i64)> = good.iter().map(|r| (r.key(), r.amount.minor)).collect();
        assert_eq!(
            minor,
            vec![
                ("2026-11-01|google|a|".to_string(), 1234),
                ("2026-11-01|x|b|".to_string(), 1234),
                ("2026-11-01|x|c|shop.example".to_string(), 500),
            ]
        );
        let fields: Vec<(usize, &str)> =
            rejected.iter().map(|r| (r.row, r.field.as_str())).collect();
        assert_eq!(
            fields,
            vec![
                (3, "amount"),
                (4, "day"),
                (5, "amount"),
                (6, "amount"),
                (7, "currency"),
                (8, "row"),
                (9, "source"),
                (10, "clicks"),
                (11, "row"),
                (12, "amount"),
            ]
        );
    }

    #[test]
    fn bodies_that_are_not_rows_are_refused() {
        for bad in [
            &b"[]"[..],
            b"{\"rows\": 3}",
            b"{\"rows\": [], \"extra\": 1}",
            b"not json",
        ] {
            assert!(rows_of(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let many = json!({"rows": vec![json!({}); MAX_JSON_ROWS + 1]}).to_string();
        assert_eq!(
            rows_of(many.as_bytes()).unwrap_err().code,
            ErrorCode::PayloadTooLarge
        );
        assert!(is_spend_key("2026-11-01|google|a|") && is_spend_key("2026-11-01|g|a|x.com"));
        assert!(!is_spend_key("2026-11-01|google|a") && !is_spend_key("x|g|a|"));
    }

    #[test]
    fn rate_rows() {
        let usd = Currency::usd();
        let ok = rate_row_from_json(
            &json!({"day": "2026-11-01", "currency": "EUR", "rate": "1.08"}),
            usd,
        )
        .unwrap();
        assert_eq!(ok.rate.to_decimal(), "1.08");
        assert_eq!(
            rate_row_from_json(
                &json!({"day": "2026-11-01", "currency": "USD", "rate": "1"}),
                usd
            )
            .unwrap_err()
            .0,
            "currency"
        );
        assert_eq!(
            rate_row_from_json(
                &json!({"day": "2026-11-01", "currency": "EUR", "rate": "0"}),
                usd
            )
            .unwrap_err()
            .0,
            "rate"
        );
        assert_eq!(
            rate_row_from_json(&json!({"day": "2026-11-01", "currency": "EUR"}), usd)
                .unwrap_err()
                .0,
            "rate"
        );
    }
}
