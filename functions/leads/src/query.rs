//! Parsing `GET /api/leads` query parameters into a [`ListQuery`] (pure, unit-tested).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Days, NaiveDate, Utc};
use leadpipe_core::domain::Pipeline;
use leadpipe_core::domain::ReportingZone;
use leadpipe_core::store::{ListOrder, ListQuery, LogStatus, PostbackLogQuery, QuarantineFilter};
use leadpipe_core::{ErrorCode, ValidationError};
use uuid::Uuid;

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest `limit`.
pub const MAX_LIMIT: usize = 200;
/// Deepest row `page` may reach (`page * limit`): page numbers read and skip the rows before them.
pub const MAX_PAGE_DEPTH: usize = 10_000;
const ALLOWED: &[&str] = &[
    "stage",
    "search",
    "source",
    "campaign",
    "from",
    "to",
    "limit",
    "cursor",
    "page",
    "sort",
    "quarantine",
    "idle_hours",
];
/// Largest `idle_hours` (a year).
pub const MAX_IDLE_HOURS: usize = 24 * 366;

/// The one-letter tag a cursor carries for the order it belongs to.
fn cursor_tag(order: ListOrder) -> &'static str {
    match order {
        ListOrder::Newest => "n",
        ListOrder::Oldest => "o",
        ListOrder::RevenueHighest => "r",
        ListOrder::RevenueLowest => "a",
    }
}

/// Encodes a listing key as the opaque `next_cursor` of a listing in `order`.
pub fn encode_cursor(after: &str, order: ListOrder) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{after}", cursor_tag(order)))
}

/// Decodes a cursor: the listing key and the order of the listing it came from. A key is a creation key
/// (`<time>#<uuid>`), behind 20 digits of revenue in revenue orders.
fn decode_cursor(cursor: &str) -> Result<(String, ListOrder), ValidationError> {
    let bad = || ValidationError::field("cursor", "cursor is not one this API returned");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (tag, key) = text.split_once('|').ok_or_else(bad)?;
    let order = ListOrder::ALL
        .iter()
        .map(|(o, _)| *o)
        .find(|o| cursor_tag(*o) == tag)
        .ok_or_else(bad)?;
    let created = if order.by_revenue() {
        let (amount, created) = key.split_once('#').ok_or_else(bad)?;
        if amount.len() != 20 || !amount.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        created
    } else {
        key
    };
    let (at, id) = created.split_once('#').ok_or_else(bad)?;
    DateTime::parse_from_rfc3339(at).map_err(|_| bad())?;
    Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((key.to_string(), order))
}

/// A `from`/`to` value: a date (whole day in `tz`) or an RFC 3339 time. Returns the first instant it covers and
/// the first instant after it.
fn parse_bound(
    field: &str,
    raw: &str,
    tz: &ReportingZone,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ValidationError> {
    let bad = || {
        ValidationError::field(
            field,
            format!("{field} must be a date (YYYY-MM-DD) or an RFC 3339 time"),
        )
    };
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let start = |d: NaiveDate| tz.start_of_day(d).ok_or_else(bad);
        let next = day.checked_add_days(Days::new(1)).ok_or_else(bad)?;
        return Ok((start(day)?, start(next)?));
    }
    let at = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| bad())?
        .with_timezone(&Utc);
    Ok((at, at + chrono::Duration::microseconds(1)))
}

fn text_filter(field: &str, raw: &str) -> Result<Option<String>, ValidationError> {
    let v = raw.trim();
    if v.chars().count() > 200 {
        return Err(ValidationError::field(
            field,
            format!("{field} is longer than 200 characters"),
        ));
    }
    Ok((!v.is_empty()).then(|| v.to_lowercase()))
}

fn number(field: &str, raw: &str, min: usize, max: usize) -> Result<usize, ValidationError> {
    raw.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            ValidationError::field(
                field,
                format!("{field} must be a whole number from {min} to {max}"),
            )
        })
}

/// Parses the query parameters at `now`. Dates are whole days in the reporting time zone `tz`; `to` is inclusive.
pub fn parse_list_query(
    params: &[(String, String)],
    pipeline: &Pipeline,
    tz: &ReportingZone,
    now: DateTime<Utc>,
) -> Result<ListQuery, ValidationError> {
    let mut q = ListQuery {
        limit: DEFAULT_LIMIT,
        ..Default::default()
    };
    let mut page = None;
    let mut cursor_order = None;
    for (name, value) in params {
        match name.as_str() {
            "stage" if !value.trim().is_empty() => q.stage = Some(pipeline.stage(value)?),
            "search" => q.search = text_filter("search", value)?,
            "source" => q.source = text_filter("source", value)?,
            "campaign" => q.campaign = text_filter("campaign", value)?,
            "from" if !value.trim().is_empty() => {
                q.created_from = Some(parse_bound("from", value.trim(), tz)?.0)
            }
            "to" if !value.trim().is_empty() => {
                q.created_before = Some(parse_bound("to", value.trim(), tz)?.1)
            }
            "limit" => q.limit = number("limit", value, 1, MAX_LIMIT)?,
            "cursor" if !value.is_empty() => {
                let (key, order) = decode_cursor(value)?;
                q.after = Some(key);
                cursor_order = Some(order);
            }
            "sort" => {
                q.order = match value.trim() {
                    "" => ListOrder::Newest,
                    name => ListOrder::parse(name).ok_or_else(|| {
                        ValidationError::field(
                            "sort",
                            "sort must be newest, oldest, revenue or revenue_asc",
                        )
                    })?,
                }
            }
            "quarantine" => {
                q.quarantine = match value.trim() {
                    "" | "exclude" => QuarantineFilter::Exclude,
                    "only" => QuarantineFilter::Only,
                    _ => {
                        return Err(ValidationError::field(
                            "quarantine",
                            "quarantine must be exclude or only",
                        ))
                    }
                }
            }
            "idle_hours" if !value.trim().is_empty() => {
                let hours = number("idle_hours", value, 1, MAX_IDLE_HOURS)?;
                q.entered_before =
                    Some(now - chrono::Duration::hours(i64::try_from(hours).unwrap_or(0)));
            }
            "page" => page = Some(number("page", value, 1, MAX_PAGE_DEPTH)?),
            known if ALLOWED.contains(&known) => {}
            other => {
                return Err(ValidationError::new(
                    ErrorCode::UnknownParameter,
                    format!(
                        "unknown query parameter \"{}\"; allowed: {}",
                        other.chars().take(64).collect::<String>(),
                        ALLOWED.join(", ")
                    ),
                )
                .at(other))
            }
        }
    }
    if cursor_order.is_some_and(|o| o != q.order) {
        return Err(ValidationError::field(
            "cursor",
            "this cursor belongs to a listing in the other sort order",
        ));
    }
    if let (Some(from), Some(before)) = (q.created_from, q.created_before) {
        if from >= before {
            return Err(ValidationError::field("from", "from must not be after to"));
        }
    }
    if let Some(page) = page {
        if q.after.is_some() {
            return Err(ValidationError::field(
                "page",
                "use either page or cursor, not both",
            ));
        }
        let skip = (page - 1) * q.limit;
        if skip + q.limit > MAX_PAGE_DEPTH {
            return Err(ValidationError::field(
                "page",
                format!("page reaches past row {MAX_PAGE_DEPTH}; use cursor to go deeper"),
            ));
        }
        q.skip = skip;
    }
    Ok(q)
}

/// Parses `GET /api/postbacks` parameters: `status` (`rejected`, the default, or `quarantined`), `limit` (1–200,
/// default 50) and `cursor`.
pub fn parse_log_query(
    params: &[(String, String)],
    since: NaiveDate,
) -> Result<PostbackLogQuery, ValidationError> {
    let mut q = PostbackLogQuery {
        status: LogStatus::Rejected,
        limit: DEFAULT_LIMIT,
        after: None,
        since,
    };
    for (name, value) in params {
        match name.as_str() {
            "status" => {
                q.status = match value.trim() {
                    "rejected" => LogStatus::Rejected,
                    "quarantined" => LogStatus::Quarantined,
                    _ => {
                        return Err(ValidationError::field(
                            "status",
                            "status must be rejected or quarantined",
                        ))
                    }
                }
            }
            "limit" => q.limit = number("limit", value, 1, MAX_LIMIT)?,
            "cursor" if !value.is_empty() => {
                let bad =
                    || ValidationError::field("cursor", "cursor is not one this API returned");
                let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| bad())?;
                q.after = Some(String::from_utf8(bytes).map_err(|_| bad())?);
            }
            "cursor" => {}
            other => {
                return Err(ValidationError::new(
                    ErrorCode::UnknownParameter,
                    format!(
                        "unknown query parameter \"{}\"; allowed: status, limit, cursor",
                        other.chars().take(64).collect::<String>()
                    ),
                )
                .at(other))
            }
        }
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<ListQuery, ValidationError> {
        parse_with(pairs, &ReportingZone::utc())
    }

    fn parse_with(
        pairs: &[(&str, &str)],
        tz: &ReportingZone,
    ) -> Result<ListQuery, ValidationError> {
        let params: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_list_query(
            &params,
            &Pipeline::default(),
            tz,
            "2026-11-28T12:00:00Z".parse().unwrap(),
        )
    }

    #[test]
    fn defaults() {
        let q = parse(&[]).unwrap();
        assert_eq!(q.limit, 50);
        assert_eq!(
            q,
            ListQuery {
                limit: 50,
                ..Default::default()
            }
        );
    }

    #[test]
    fn filters_are_normalised() {
        let q = parse(&[
            ("stage", "paid"),
            ("search", " John "),
            ("source", "Google"),
            ("campaign", ""),
        ])
        .unwrap();
        assert_eq!(q.stage.unwrap(), "Paid");
        assert_eq!(q.search.as_deref(), Some("john"));
        assert_eq!(q.source.as_deref(), Some("google"));
        assert_eq!(q.campaign, None);
    }

    #[test]
    fn dates_are_whole_days_in_the_reporting_zone_and_to_is_inclusive() {
        let q = parse(&[("from", "2026-11-01"), ("to", "2026-11-30")]).unwrap();
        assert_eq!(
            q.created_from.unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(
            q.created_before.unwrap().to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
        let ny = parse_with(
            &[("from", "2026-11-01")],
            &ReportingZone::parse("America/New_York").unwrap(),
        )
        .unwrap();
        assert_eq!(
            ny.created_from.unwrap().to_rfc3339(),
            "2026-11-01T04:00:00+00:00"
        );
        let t = parse(&[("to", "2026-11-01T10:00:00+02:00")]).unwrap();
        assert_eq!(
            t.created_before.unwrap().to_rfc3339(),
            "2026-11-01T08:00:00.000001+00:00"
        );
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (pairs, field) in [
            (vec![("stage", "Won")], "stage"),
            (vec![("from", "yesterday")], "from"),
            (vec![("to", "2026-13-01")], "to"),
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "201")], "limit"),
            (vec![("limit", "ten")], "limit"),
            (vec![("cursor", "!!")], "cursor"),
            (vec![("cursor", "Zm9v")], "cursor"),
            (vec![("page", "0")], "page"),
            (vec![("page", "201")], "page"),
            (vec![("from", "2026-11-02"), ("to", "2026-11-01")], "from"),
            (vec![("color", "red")], "color"),
            (vec![("sort", "random")], "sort"),
            (vec![("quarantine", "yes")], "quarantine"),
            (vec![("idle_hours", "0")], "idle_hours"),
        ] {
            let err = parse(&pairs).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{pairs:?}");
        }
    }

    #[test]
    fn cursor_round_trips() {
        let key = "2026-11-27T03:00:00.000001Z#6f1c1f4e-8a55-4a4e-9d3b-2f7b0b4f3b11";
        let q = parse(&[("cursor", &encode_cursor(key, ListOrder::Newest))]).unwrap();
        assert_eq!(q.after.as_deref(), Some(key));
        let q = parse(&[
            ("cursor", &encode_cursor(key, ListOrder::Oldest)),
            ("sort", "oldest"),
        ])
        .unwrap();
        assert!(q.order == ListOrder::Oldest && q.after.as_deref() == Some(key));
        let revenue = format!("{}#{key}", "9".repeat(20));
        for (order, name) in [
            (ListOrder::RevenueHighest, "revenue"),
            (ListOrder::RevenueLowest, "revenue_asc"),
        ] {
            let q = parse(&[("cursor", &encode_cursor(&revenue, order)), ("sort", name)]).unwrap();
            assert_eq!(
                (q.order, q.after.as_deref()),
                (order, Some(revenue.as_str()))
            );
        }
        let other_order = parse(&[("cursor", &encode_cursor(key, ListOrder::Oldest))]);
        let not_revenue = parse(&[
            ("cursor", &encode_cursor(key, ListOrder::RevenueHighest)),
            ("sort", "revenue"),
        ]);
        for refused in [other_order, not_revenue] {
            assert_eq!(refused.unwrap_err().field.as_deref(), Some("cursor"));
        }
    }

    #[test]
    fn idle_hours_and_quarantine() {
        let q = parse(&[
            ("idle_hours", "24"),
            ("quarantine", "only"),
            ("sort", "oldest"),
        ])
        .unwrap();
        assert_eq!(
            q.entered_before.unwrap().to_rfc3339(),
            "2026-11-27T12:00:00+00:00"
        );
        assert_eq!(q.quarantine, QuarantineFilter::Only);
        assert_eq!(q.order, ListOrder::Oldest);
    }

    #[test]
    fn page_becomes_a_skip() {
        let q = parse(&[("page", "3"), ("limit", "20")]).unwrap();
        assert_eq!((q.skip, q.limit), (40, 20));
        assert!(parse(&[
            ("page", "2"),
            (
                "cursor",
                &encode_cursor(
                    "2026-11-27T03:00:00.000001Z#6f1c1f4e-8a55-4a4e-9d3b-2f7b0b4f3b11",
                    ListOrder::Newest
                )
            )
        ])
        .is_err());
    }
}
