//! Reading ad spend and exchange rates from the files people have: pure, no I/O.
//!
//! **Spend files** ([`parse_spend_csv`]), in three formats, recognised from their header row
//! ([`SpendFormat::detect`]) or named by the caller:
//!
//! - **Google Ads** — a campaign report by day, as the Reports screen downloads it (CSV, UTF-8 or the UTF-16
//!   tab-separated "Excel CSV"): title lines before the header (`Campaign report`, `November 1, 2026 - November
//!   30, 2026`) are skipped, the header names `Day` (or `Date`), `Campaign`, `Cost` and usually `Currency code`,
//!   `Impr.` (or `Impressions`) and `Clicks`; every other column (`Campaign status`, `Conversions`…) is ignored, and
//!   the `Total: …` rows at the bottom are skipped (counted in `skipped`, never rejected). Source: `google`.
//! - **Meta Ads Manager** — the daily breakdown export: `Campaign name`, `Day`, `Amount spent (EUR)` (the currency
//!   is in the header; a `Currency` column wins when present), `Impressions`, `Link clicks` (else `Clicks (all)`),
//!   and `Reporting starts` / `Reporting ends` (a row without `Day` is taken when both are the same day). `Reach`,
//!   `Results` and the rest are ignored. Source: `facebook`.
//! - **Leadpipe native** — `day,source,campaign,domain,amount,currency,clicks,impressions` (`domain`, `clicks`,
//!   `impressions` optional; `source` optional when the caller names one).
//!
//! Numbers are read as exports write them ([`parse_locale_number`]: `1,234.56`, `1.234,56`, `$1,234.56`); `--`
//! or an empty cell is "unknown" for clicks and impressions. Days are `2026-11-01`, `2026/11/01`, `11/01/2026`
//! (US month first, as both platforms write it in US English), `Nov 1, 2026`, `November 1, 2026` and `Sun, Nov
//! 1, 2026`. A file without a currency column is in the caller's `currency`, else its rows are rejected.
//!
//! A bad row is rejected with its line and field, never taking a good row with it: a bad day, a missing
//! campaign, an amount that is not a number, negative, has more decimals than its currency (1.001 USD) or is over
//! 10^12, an unknown currency, clicks that are not a whole number. A spend of 0 is a row like any other. Rows of
//! one file with the same day × source × campaign × domain (two ad sets of one campaign) are added up, so
//! importing the file again stores the same total.
//!
//! **Rate files** ([`parse_rates_csv`]): `day,currency,rate`, the rate in reporting-currency units per unit.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::money::{amount_of, parse_locale_number, Currency, Money, Rate};
use super::spend::{RateRow, SpendRow};

/// Most data rows one spend or rate file may hold.
pub const MAX_SPEND_ROWS: usize = 20_000;
/// Most rejected rows listed in a report (all are counted in `rejected_total`).
pub const MAX_REJECTIONS_LISTED: usize = 1000;
/// Lines before the header that may hold titles (Google Ads writes two).
const MAX_TITLE_LINES: usize = 10;

/// The spend file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpendFormat {
    /// A Google Ads campaign report by day.
    GoogleAds,
    /// A Meta Ads Manager export with the daily breakdown.
    Meta,
    /// Leadpipe's own columns.
    Native,
}

impl SpendFormat {
    /// The format's API name: `google_ads`, `meta`, `native`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GoogleAds => "google_ads",
            Self::Meta => "meta",
            Self::Native => "native",
        }
    }

    /// Reads an API name (`auto` is `None` inside `Some`: detect).
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(None),
            "google_ads" | "google" => Ok(Some(Self::GoogleAds)),
            "meta" | "facebook" => Ok(Some(Self::Meta)),
            "native" | "leadpipe" => Ok(Some(Self::Native)),
            _ => Err("format must be auto, google_ads, meta or native".into()),
        }
    }

    /// The source of this format's rows when the caller names none.
    pub fn default_source(self) -> Option<&'static str> {
        match self {
            Self::GoogleAds => Some("google"),
            Self::Meta => Some("facebook"),
            Self::Native => None,
        }
    }

    /// The format whose header this is, if any.
    pub fn detect(header: &[String]) -> Option<Self> {
        let has = |name: &str| header.iter().any(|h| norm(h) == name);
        if header.iter().any(|h| norm(h).starts_with("amount spent")) && has("campaign name") {
            Some(Self::Meta)
        } else if has("day") && has("source") && has("campaign") && has("amount") {
            Some(Self::Native)
        } else if (has("day") || has("date")) && has("campaign") && has("cost") {
            Some(Self::GoogleAds)
        } else {
            None
        }
    }
}

/// A file that cannot be read as spend or rates at all (a 400; nothing is stored).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpendFileError(pub String);

/// One rejected row: its 1-based line in the file, the field at fault and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineRejection {
    /// Line where the row starts (the first line of the file is 1).
    pub line: usize,
    /// The field at fault (`day`, `campaign`, `amount`, `currency`, `clicks`, `impressions`, `source`, `rate`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// What a spend file holds: its format, its good rows (summed per key), and its rejected and skipped rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSpend {
    /// The format read.
    pub format: SpendFormat,
    /// Good rows, normalised, one per [`SpendRow::key`].
    pub rows: Vec<SpendRow>,
    /// Rejected rows, the first [`MAX_REJECTIONS_LISTED`].
    pub rejected: Vec<LineRejection>,
    /// All rejected rows.
    pub rejected_total: usize,
    /// Summary rows skipped (Google Ads' `Total: …`).
    pub skipped: usize,
}

/// What a rates file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRates {
    /// Good rows (a later row for the same day and currency wins).
    pub rows: Vec<RateRow>,
    /// Rejected rows, the first [`MAX_REJECTIONS_LISTED`].
    pub rejected: Vec<LineRejection>,
    /// All rejected rows.
    pub rejected_total: usize,
}

/// Options of a spend import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpendImportOptions {
    /// The format (`None`: detect it from the header).
    pub format: Option<SpendFormat>,
    /// The source of every row (instead of the format's own; native files: for rows without one).
    pub source: Option<String>,
    /// The currency of a file without a currency column.
    pub currency: Option<Currency>,
}

fn norm(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .trim_matches('"')
        .trim()
        .to_lowercase()
}

/// Text of a file as sent: UTF-8 (a BOM dropped), or UTF-16 with its BOM (Google Ads' "Excel CSV").
pub fn decode_text(bytes: &[u8]) -> Result<String, SpendFileError> {
    let utf16 = |le: bool, body: &[u8]| {
        let units: Vec<u16> = body
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units)
            .map_err(|_| SpendFileError("the file is not valid UTF-16 text".into()))
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(true, rest),
        [0xFE, 0xFF, rest @ ..] => utf16(false, rest),
        _ => {
            let text = std::str::from_utf8(bytes).map_err(|_| {
                SpendFileError("the file is not UTF-8 text (save it as CSV UTF-8)".into())
            })?;
            Ok(text.trim_start_matches('\u{feff}').to_string())
        }
    }
}

/// CSV records with the line each starts on (RFC 4180 quoting, `""` escapes, quoted line breaks).
fn records(text: &str, delimiter: char) -> Records {
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut at_start) = (false, true);
    let (mut line, mut start) = (1usize, 1usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                fields.push(std::mem::take(&mut field));
                out.push((start, std::mem::take(&mut fields)));
                line += 1;
                start = line;
                at_start = true;
            }
            c if c == delimiter => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
            }
            c => {
                field.push(c);
                at_start = false;
            }
        }
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        out.push((start, fields));
    }
    out.retain(|(_, f)| f.iter().any(|v| !v.trim().is_empty()));
    out
}

/// The delimiter of a file: a tab when its lines have tabs and no commas outside quotes, else a comma.
fn delimiter(text: &str) -> char {
    let head: String = text.lines().take(MAX_TITLE_LINES + 1).collect();
    if head.contains('\t') && head.matches('\t').count() >= head.matches(',').count() {
        '\t'
    } else {
        ','
    }
}

/// Reads a day as ad platforms write it (see the module documentation).
pub fn parse_day(raw: &str) -> Option<NaiveDate> {
    let s = raw.trim().trim_matches('"').trim();
    for f in ["%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(d);
        }
    }
    // `Sun, Nov 1, 2026` → `Nov 1, 2026`.
    let s = match s.split_once(", ") {
        Some((wd, rest)) if wd.len() == 3 && wd.chars().all(char::is_alphabetic) => rest,
        _ => s,
    };
    ["%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
}

fn blank(v: &str) -> bool {
    let v = v.trim();
    v.is_empty() || v == "--" || v == "-"
}

/// A count (clicks, impressions): `None` when blank or `--`.
fn parse_count(raw: &str) -> Result<Option<u64>, String> {
    if blank(raw) {
        return Ok(None);
    }
    match parse_locale_number(raw) {
        Some(d) if d.scale == 0 && d.digits >= 0 => u64::try_from(d.digits)
            .map(Some)
            .map_err(|_| format!("\"{}\" is too large", clip(raw))),
        _ => Err(format!("\"{}\" is not a whole number", clip(raw))),
    }
}

/// A spend amount as an export writes it: a number ≥ 0 with at most its currency's decimals, ≤ 10^12.
pub fn parse_spend_amount(raw: &str, currency: Currency) -> Result<Money, String> {
    if blank(raw) {
        return Err("no amount".into());
    }
    let d = parse_locale_number(raw).ok_or_else(|| format!("\"{}\" is not a number", clip(raw)))?;
    if d.digits < 0 {
        return Err(format!("\"{}\": spend cannot be negative", clip(raw)));
    }
    amount_of(d, currency, raw).map_err(|e| e.to_string())
}

fn clip(raw: &str) -> String {
    raw.trim().chars().take(40).collect()
}

/// Where each field of a format is in a header.
struct Columns {
    day: Option<usize>,
    starts: Option<usize>,
    ends: Option<usize>,
    source: Option<usize>,
    campaign: usize,
    domain: Option<usize>,
    amount: usize,
    currency: Option<usize>,
    header_currency: Option<Currency>,
    clicks: Option<usize>,
    impressions: Option<usize>,
}

impl Columns {
    fn of(format: SpendFormat, header: &[String]) -> Result<Self, SpendFileError> {
        let find = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| header.iter().position(|h| norm(h) == *n))
        };
        let need = |names: &[&str]| {
            find(names).ok_or_else(|| {
                SpendFileError(format!(
                    "the {} header has no \"{}\" column",
                    format.as_str(),
                    names[0]
                ))
            })
        };
        Ok(match format {
            SpendFormat::GoogleAds => Self {
                day: Some(need(&["day", "date"])?),
                starts: None,
                ends: None,
                source: None,
                campaign: need(&["campaign"])?,
                domain: None,
                amount: need(&["cost"])?,
                currency: find(&["currency code", "currency"]),
                header_currency: None,
                clicks: find(&["clicks"]),
                impressions: find(&["impr.", "impressions"]),
            },
            SpendFormat::Meta => {
                let amount = header
                    .iter()
                    .position(|h| norm(h).starts_with("amount spent"))
                    .ok_or_else(|| {
                        SpendFileError("the meta header has no \"Amount spent\" column".into())
                    })?;
                // `Amount spent (EUR)`: the currency in the header.
                let header_currency = norm(&header[amount])
                    .split_once('(')
                    .and_then(|(_, c)| c.strip_suffix(')'))
                    .and_then(|c| Currency::parse(c).ok());
                let day = find(&["day", "date"]);
                let (starts, ends) = (find(&["reporting starts"]), find(&["reporting ends"]));
                if day.is_none() && (starts.is_none() || ends.is_none()) {
                    return Err(SpendFileError(
                        "the meta export has no \"Day\" column: export it with the breakdown by day".into(),
                    ));
                }
                Self {
                    day,
                    starts,
                    ends,
                    source: None,
                    campaign: need(&["campaign name", "campaign"])?,
                    domain: None,
                    amount,
                    currency: find(&["currency"]),
                    header_currency,
                    clicks: find(&["link clicks", "clicks (all)", "clicks"]),
                    impressions: find(&["impressions"]),
                }
            }
            SpendFormat::Native => Self {
                day: Some(need(&["day"])?),
                starts: None,
                ends: None,
                source: find(&["source"]),
                campaign: need(&["campaign"])?,
                domain: find(&["domain"]),
                amount: need(&["amount"])?,
                currency: find(&["currency"]),
                header_currency: None,
                clicks: find(&["clicks"]),
                impressions: find(&["impressions"]),
            },
        })
    }
}

/// Collects rejections, listing the first [`MAX_REJECTIONS_LISTED`].
#[derive(Default)]
struct Rejections {
    listed: Vec<LineRejection>,
    total: usize,
}

impl Rejections {
    fn add(&mut self, line: usize, field: &str, message: impl Into<String>) {
        self.total += 1;
        if self.listed.len() < MAX_REJECTIONS_LISTED {
            self.listed.push(LineRejection {
                line,
                field: field.into(),
                message: message.into(),
            });
        }
    }
}

/// CSV records with their first line.
type Records = Vec<(usize, Vec<String>)>;

/// The header row (the first row, within the first lines, that `accept` takes) and the rows after it.
fn split_header<T>(
    recs: Records,
    accept: impl Fn(&[String]) -> Option<T>,
) -> Option<(T, Vec<String>, Records)> {
    let at = recs
        .iter()
        .take(MAX_TITLE_LINES)
        .position(|(_, r)| accept(r).is_some())?;
    let mut rest = recs;
    let body = rest.split_off(at + 1);
    let (_, header) = rest.pop()?;
    let found = accept(&header)?;
    Some((found, header, body))
}

/// Reads a spend file (see the module documentation).
pub fn parse_spend_csv(
    text: &str,
    options: &SpendImportOptions,
) -> Result<ParsedSpend, SpendFileError> {
    let recs = records(text, delimiter(text));
    let (format, header, body) = split_header(recs, |r| match options.format {
        Some(f) => (SpendFormat::detect(r).is_some() || Columns::of(f, r).is_ok()).then_some(f),
        None => SpendFormat::detect(r),
    })
    .ok_or_else(|| {
        SpendFileError(match options.format {
            Some(f) => format!(
                "no {} header row found in the first {MAX_TITLE_LINES} lines",
                f.as_str()
            ),
            None => "the header row is not one of a Google Ads campaign report by day, a Meta Ads Manager \
                     export by day, or day,source,campaign,amount,currency"
                .into(),
        })
    })?;
    let cols = Columns::of(format, &header)?;
    if body.len() > MAX_SPEND_ROWS {
        return Err(SpendFileError(format!(
            "the file has more than {MAX_SPEND_ROWS} rows: split it"
        )));
    }
    let source = options
        .source
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let mut rejected = Rejections::default();
    let mut skipped = 0;
    let mut summed: BTreeMap<String, (usize, SpendRow)> = BTreeMap::new();
    for (line, rec) in body {
        if rec
            .first()
            .is_some_and(|f| f.trim().to_lowercase().starts_with("total"))
        {
            skipped += 1;
            continue;
        }
        match read_row(format, &cols, &rec, source, options.currency) {
            Err((field, message)) => rejected.add(line, field, message),
            Ok(row) => {
                let row = row.normalised();
                match summed.get_mut(&row.key()) {
                    None => {
                        summed.insert(row.key(), (line, row));
                    }
                    Some((first, sum)) => {
                        if let Err(message) = add_to(sum, &row, *first) {
                            rejected.add(line, "currency", message);
                        }
                    }
                }
            }
        }
    }
    Ok(ParsedSpend {
        format,
        rows: summed.into_values().map(|(_, r)| r).collect(),
        rejected: rejected.listed,
        rejected_total: rejected.total,
        skipped,
    })
}

/// Adds `row` to `sum` (same key): amounts in one currency, counts when known.
fn add_to(sum: &mut SpendRow, row: &SpendRow, first_line: usize) -> Result<(), String> {
    if sum.amount.currency != row.amount.currency {
        return Err(format!(
            "the same day, source and campaign is in {} on line {first_line}",
            sum.amount.currency
        ));
    }
    sum.amount.minor = sum
        .amount
        .minor
        .checked_add(row.amount.minor)
        .ok_or("the day's total is too large")?;
    let add = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    };
    sum.clicks = add(sum.clicks, row.clicks);
    sum.impressions = add(sum.impressions, row.impressions);
    Ok(())
}

type RowResult = Result<SpendRow, (&'static str, String)>;

fn read_row(
    format: SpendFormat,
    cols: &Columns,
    rec: &[String],
    source: Option<&str>,
    default_currency: Option<Currency>,
) -> RowResult {
    let cell = |i: Option<usize>| i.and_then(|i| rec.get(i)).map_or("", |v| v.trim());
    let day = match cols.day.map(|i| cell(Some(i))).filter(|d| !d.is_empty()) {
        Some(raw) => parse_day(raw).ok_or(("day", format!("\"{}\" is not a date", clip(raw))))?,
        None => {
            let (s, e) = (cell(cols.starts), cell(cols.ends));
            match (parse_day(s), parse_day(e)) {
                (Some(s), Some(e)) if s == e => s,
                (Some(_), Some(_)) => {
                    return Err((
                        "day",
                        "the row covers more than one day: export with the breakdown by day".into(),
                    ))
                }
                _ => return Err(("day", "no day".into())),
            }
        }
    };
    let campaign = cell(Some(cols.campaign));
    if campaign.is_empty() || campaign == "--" {
        return Err(("campaign", "no campaign".into()));
    }
    let row_source = match format {
        SpendFormat::Native => {
            let own = cell(cols.source);
            if own.is_empty() {
                source
            } else {
                Some(own)
            }
        }
        _ => source.or(format.default_source()),
    }
    .ok_or((
        "source",
        "no source (add a source column or pass source)".into(),
    ))?;
    let currency_cell = cell(cols.currency);
    let currency = if !currency_cell.is_empty() && currency_cell != "--" {
        Currency::parse(currency_cell).map_err(|e| ("currency", e.to_string()))?
    } else {
        cols.header_currency.or(default_currency).ok_or((
            "currency",
            "no currency: the file has no currency column, pass currency".to_string(),
        ))?
    };
    let amount =
        parse_spend_amount(cell(Some(cols.amount)), currency).map_err(|m| ("amount", m))?;
    let clicks = parse_count(cell(cols.clicks)).map_err(|m| ("clicks", m))?;
    let impressions = parse_count(cell(cols.impressions)).map_err(|m| ("impressions", m))?;
    let domain = cell(cols.domain);
    Ok(SpendRow {
        day,
        source: row_source.to_string(),
        campaign: campaign.to_string(),
        domain: (!domain.is_empty()).then(|| domain.to_string()),
        amount,
        clicks,
        impressions,
    })
}

/// Reads one rate: a positive decimal, for a currency that is not the reporting one.
pub fn parse_rate_row(
    day: &str,
    currency: &str,
    rate: &str,
    reporting: Currency,
) -> Result<RateRow, (&'static str, String)> {
    let day = parse_day(day).ok_or(("day", format!("\"{}\" is not a date", clip(day))))?;
    let currency = Currency::parse(currency).map_err(|e| ("currency", e.to_string()))?;
    if currency == reporting {
        return Err((
            "currency",
            format!("{currency} is the reporting currency: its rate is always 1"),
        ));
    }
    let rate = Rate::parse(rate).ok_or((
        "rate",
        format!(
            "\"{}\" is not a rate: a positive number below 1,000,000 with at most 12 decimals",
            clip(rate)
        ),
    ))?;
    Ok(RateRow {
        day,
        currency,
        rate,
    })
}

/// Reads a rates file: a `day,currency,rate` header, then one rate a row.
pub fn parse_rates_csv(text: &str, reporting: Currency) -> Result<ParsedRates, SpendFileError> {
    let recs = records(text, delimiter(text));
    let find = |h: &[String], n: &str| h.iter().position(|c| norm(c) == n);
    let ((day, currency, rate), _, body) = split_header(recs, |h| {
        Some((find(h, "day")?, find(h, "currency")?, find(h, "rate")?))
    })
    .ok_or_else(|| SpendFileError("the header row must name day, currency and rate".into()))?;
    if body.len() > MAX_SPEND_ROWS {
        return Err(SpendFileError(format!(
            "the file has more than {MAX_SPEND_ROWS} rows: split it"
        )));
    }
    let mut rejected = Rejections::default();
    let mut rows: BTreeMap<(Currency, NaiveDate), RateRow> = BTreeMap::new();
    for (line, rec) in body {
        let cell = |i: usize| rec.get(i).map_or("", |v| v.trim());
        match parse_rate_row(cell(day), cell(currency), cell(rate), reporting) {
            Ok(r) => {
                rows.insert((r.currency, r.day), r);
            }
            Err((field, message)) => rejected.add(line, field, message),
        }
    }
    Ok(ParsedRates {
        rows: rows.into_values().collect(),
        rejected: rejected.listed,
        rejected_total: rejected.total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn opts() -> SpendImportOptions {
        SpendImportOptions::default()
    }

    const GOOGLE: &str = include_str!("../../../../tests/fixtures/spend/google-ads.csv");
    const META: &str = include_str!("../../../../tests/fixtures/spend/meta-ads.csv");
    const NATIVE: &str = include_str!("../../../../tests/fixtures/spend/native.csv");

    fn row<'a>(p: &'a ParsedSpend, key: &str) -> &'a SpendRow {
        p.rows
            .iter()
            .find(|r| r.key() == key)
            .unwrap_or_else(|| panic!("no row {key} in {:?}", p.rows))
    }

    #[test]
    fn days_in_the_formats_exports_write() {
        for s in [
            "2026-11-01",
            "2026/11/01",
            "11/01/2026",
            "Nov 1, 2026",
            "November 1, 2026",
            "Sun, Nov 1, 2026",
            " \"2026-11-01\" ",
        ] {
            assert_eq!(parse_day(s), Some(d("2026-11-01")), "{s}");
        }
        for bad in ["2026-13-01", "yesterday", "", "31/12/2026", "2026-02-30"] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_google_ads_report_is_read_with_its_titles_totals_and_thousands() {
        let p = parse_spend_csv(GOOGLE, &opts()).unwrap();
        assert_eq!(p.format, SpendFormat::GoogleAds);
        let big = row(&p, "2026-11-01|google|llc-spring-2026|");
        assert_eq!(big.amount.minor, 123_456);
        assert_eq!(big.amount.currency.as_str(), "USD");
        assert_eq!(big.impressions, Some(12_345));
        assert_eq!(big.clicks, Some(1_042));
        let zero = row(&p, "2026-11-02|google|brand - exact|");
        assert_eq!((zero.amount.minor, zero.clicks), (0, None));
        assert_eq!(p.skipped, 3, "the Total rows are skipped");
        let lines: Vec<(usize, &str)> = p
            .rejected
            .iter()
            .map(|r| (r.line, r.field.as_str()))
            .collect();
        assert_eq!(lines, vec![(9, "amount"), (10, "day")]);
        assert_eq!(p.rows.len(), 5);
    }

    #[test]
    fn the_meta_export_takes_its_currency_from_the_header() {
        let p = parse_spend_csv(META, &opts()).unwrap();
        assert_eq!(p.format, SpendFormat::Meta);
        let r = row(&p, "2026-11-01|facebook|llc spring – lookalike|");
        assert_eq!(r.amount.minor, 123_456);
        assert_eq!(r.amount.currency.as_str(), "EUR");
        assert_eq!((r.clicks, r.impressions), (Some(311), Some(48_210)));
        let lines: Vec<(usize, &str)> = p
            .rejected
            .iter()
            .map(|r| (r.line, r.field.as_str()))
            .collect();
        assert_eq!(lines, vec![(5, "amount"), (6, "amount")]);
        assert_eq!(p.rows.len(), 3);
    }

    #[test]
    fn native_rows_are_exact_in_every_exponent_and_bad_ones_say_where() {
        let p = parse_spend_csv(NATIVE, &opts()).unwrap();
        assert_eq!(p.format, SpendFormat::Native);
        assert_eq!(
            row(&p, "2026-11-01|tiktok|winter|a.example").amount.minor,
            5000
        );
        assert_eq!(row(&p, "2026-11-01|yahoo-jp|winter|").amount.minor, 12_345);
        assert_eq!(row(&p, "2026-11-01|bing|gulf|").amount.minor, 1_234);
        let got: Vec<(usize, &str)> = p
            .rejected
            .iter()
            .map(|r| (r.line, r.field.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (5, "amount"),
                (6, "amount"),
                (7, "amount"),
                (8, "currency"),
                (9, "day"),
                (10, "amount"),
                (11, "clicks"),
                (12, "campaign"),
            ]
        );
        assert!(p.rejected[0].message.contains("more decimals"));
    }

    #[test]
    fn the_same_key_twice_in_one_file_is_added_up() {
        let text = "day,source,campaign,amount,currency,clicks\n\
                    2026-11-01,google,a,1.50,USD,2\n2026-11-01,Google,A,2.25,USD,\n2026-11-01,google,a,1,EUR,1\n";
        let p = parse_spend_csv(text, &opts()).unwrap();
        assert_eq!(p.rows.len(), 1);
        assert_eq!((p.rows[0].amount.minor, p.rows[0].clicks), (375, Some(2)));
        assert_eq!(p.rejected[0].line, 4);
    }

    #[test]
    fn source_and_currency_options() {
        let text = "Day,Campaign,Cost\n2026-11-01,x,3\n";
        let p = parse_spend_csv(text, &opts()).unwrap();
        assert_eq!(p.rejected[0].field, "currency");
        let p = parse_spend_csv(
            text,
            &SpendImportOptions {
                source: Some("Google-Search".into()),
                currency: Currency::parse("GBP").ok(),
                format: Some(SpendFormat::GoogleAds),
            },
        )
        .unwrap();
        assert_eq!(p.rows[0].key(), "2026-11-01|google-search|x|");
        assert_eq!(p.rows[0].amount.currency.as_str(), "GBP");
        assert!(parse_spend_csv("a,b\n1,2\n", &opts()).is_err());
        assert!(parse_spend_csv("", &opts()).is_err());
    }

    #[test]
    fn utf16_tab_separated_reports_are_read() {
        let text = "Campaign report\n\"November 1, 2026 - November 30, 2026\"\nDay\tCampaign\tCurrency code\tCost\n\
                    2026-11-01\tx\tUSD\t1,234.56\n";
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let p = parse_spend_csv(&decode_text(&bytes).unwrap(), &opts()).unwrap();
        assert_eq!(p.rows[0].amount.minor, 123_456);
        assert!(decode_text(&[0xC3, 0x28]).is_err());
    }

    #[test]
    fn rates_files() {
        let text =
            "day,currency,rate\n2026-11-01,EUR,1.08\n2026-11-01,JPY,0.0067\n2026-11-01,USD,1\n\
                    2026-11-02,EUR,-1\nx,EUR,1\n2026-11-01,XYZ,1\n";
        let p = parse_rates_csv(text, Currency::usd()).unwrap();
        assert_eq!(p.rows.len(), 2);
        let fields: Vec<(usize, &str)> = p
            .rejected
            .iter()
            .map(|r| (r.line, r.field.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![(4, "currency"), (5, "rate"), (6, "day"), (7, "currency")]
        );
        assert!(parse_rates_csv("a,b\n", Currency::usd()).is_err());
    }
}
