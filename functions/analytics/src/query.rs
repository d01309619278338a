//! Parsing analytics query parameters (pure, unit-tested).

use chrono::{Datelike, Days, NaiveDate};
use leadpipe_core::domain::analytics::{DayRange, DEFAULT_DAYS};
use leadpipe_core::domain::counters::{Dim, Touch};
use leadpipe_core::{ErrorCode, ValidationError};

/// The parameters of an analytics request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyticsQuery {
    /// Creation days to report on.
    pub range: DayRange,
    /// Breakdown dimension (`by`, default `source`).
    pub by: Dim,
    /// Breakdown touch (`touch`, default `first`).
    pub touch: Touch,
}

/// Years a range may name: leads are never older than 1970, and every derived day keeps four digits.
const YEARS: std::ops::RangeInclusive<i32> = 1970..=9998;

fn day(field: &str, raw: &str) -> Result<NaiveDate, ValidationError> {
    let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        ValidationError::field(field, format!("{field} must be a date (YYYY-MM-DD)"))
    })?;
    if !YEARS.contains(&date.year()) {
        return Err(ValidationError::field(
            field,
            format!("{field} must be between 1970-01-01 and 9998-12-31"),
        ));
    }
    Ok(date)
}

/// Parses `params`, accepting only the names in `allowed`. A missing `from` or `to` is filled so the range keeps
/// the default length (30 days) ending on `to`, or starting on `from`; both missing is `default`.
pub fn parse(
    params: &[(String, String)],
    allowed: &[&str],
    default: DayRange,
) -> Result<AnalyticsQuery, ValidationError> {
    let (mut from, mut to, mut by, mut touch) = (None, None, Dim::Source, Touch::First);
    for (name, value) in params {
        if !allowed.contains(&name.as_str()) {
            return Err(ValidationError::new(
                ErrorCode::UnknownParameter,
                format!(
                    "unknown query parameter \"{}\"; allowed: {}",
                    name.chars().take(64).collect::<String>(),
                    allowed.join(", ")
                ),
            )
            .at(name));
        }
        match name.as_str() {
            "from" if !value.trim().is_empty() => from = Some(day("from", value)?),
            "to" if !value.trim().is_empty() => to = Some(day("to", value)?),
            "by" => {
                by = match value.trim() {
                    "source" => Dim::Source,
                    "campaign" => Dim::Campaign,
                    "domain" => Dim::Domain,
                    "device_type" => Dim::DeviceType,
                    _ => {
                        return Err(ValidationError::field(
                            "by",
                            "by must be source, campaign, domain or device_type",
                        ))
                    }
                }
            }
            "touch" => {
                touch = match value.trim() {
                    "first" => Touch::First,
                    "latest" => Touch::Latest,
                    _ => {
                        return Err(ValidationError::field(
                            "touch",
                            "touch must be first or latest",
                        ))
                    }
                }
            }
            _ => {}
        }
    }
    let span = Days::new(DEFAULT_DAYS - 1);
    let range = match (from, to) {
        (None, None) => default,
        (Some(f), None) => DayRange::new(f, f.checked_add_days(span).unwrap_or(f))
            .map_err(|m| ValidationError::field("from", m))?,
        (None, Some(t)) => DayRange::new(t.checked_sub_days(span).unwrap_or(t), t)
            .map_err(|m| ValidationError::field("to", m))?,
        (Some(f), Some(t)) => DayRange::new(f, t).map_err(|m| ValidationError::field("from", m))?,
    };
    Ok(AnalyticsQuery { range, by, touch })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn default() -> DayRange {
        DayRange::new("2026-10-30".parse().unwrap(), "2026-11-28".parse().unwrap()).unwrap()
    }

    const ALL: &[&str] = &["from", "to", "by", "touch"];

    #[test]
    fn defaults_and_partial_ranges() {
        assert_eq!(parse(&[], ALL, default()).unwrap().range, default());
        let q = parse(&p(&[("from", "2026-01-01")]), ALL, default()).unwrap();
        assert_eq!(
            (q.range.from.to_string(), q.range.to.to_string()),
            ("2026-01-01".into(), "2026-01-30".into())
        );
        let q = parse(
            &p(&[
                ("to", "2026-01-30"),
                ("by", "campaign"),
                ("touch", "latest"),
            ]),
            ALL,
            default(),
        )
        .unwrap();
        assert_eq!(q.range.from.to_string(), "2026-01-01");
        assert_eq!((q.by, q.touch), (Dim::Campaign, Touch::Latest));
    }

    #[test]
    fn years_outside_1970_to_9998_are_refused() {
        for (name, value) in [
            ("to", "0000-01-01"),
            ("from", "1969-12-31"),
            ("to", "9999-01-01"),
        ] {
            let e = parse(&p(&[(name, value)]), &["from", "to"], default()).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(name), "{name}={value}");
        }
        let q = parse(&p(&[("to", "1970-01-05")]), &["from", "to"], default()).unwrap();
        assert_eq!(q.range.from.to_string(), "1969-12-07");
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (pairs, field) in [
            (vec![("from", "yesterday")], "from"),
            (vec![("to", "2026-13-01")], "to"),
            (vec![("from", "2026-11-02"), ("to", "2026-11-01")], "from"),
            (vec![("from", "2024-01-01"), ("to", "2026-11-01")], "from"),
            (vec![("by", "colour")], "by"),
            (vec![("touch", "middle")], "touch"),
            (vec![("stage", "Paid")], "stage"),
        ] {
            let err = parse(&p(&pairs), ALL, default()).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{pairs:?}");
        }
        assert_eq!(
            parse(&p(&[("by", "source")]), &["from", "to"], default())
                .unwrap_err()
                .code,
            ErrorCode::UnknownParameter
        );
    }
}
