//! The reporting time zone (`REPORTING_TIMEZONE`): which calendar day a lead was created on, and where a day starts.
//!
//! Backed by `jiff` with its bundled copy of the IANA time zone database (~200 KB), not `chrono-tz`, whose
//! generated tables made every Lambda that converts times 1.7 MB larger.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// An IANA time zone, by name.
#[derive(Clone)]
pub struct ReportingZone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl ReportingZone {
    /// UTC.
    pub fn utc() -> Self {
        Self {
            name: "UTC".into(),
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    /// The zone named `name` (e.g. `Europe/Berlin`, `UTC`), if the database knows it.
    pub fn parse(name: &str) -> Option<Self> {
        let tz = jiff::tz::TimeZone::get(name.trim()).ok()?;
        let name = tz.iana_name().unwrap_or(name.trim()).to_string();
        Some(Self { name, tz })
    }

    /// Its IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The calendar day `at` falls on in this zone.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        let local = jiff::Timestamp::new(at.timestamp(), at.timestamp_subsec_nanos() as i32)
            .map(|ts| ts.to_zoned(self.tz.clone()).date());
        match local {
            Ok(d) => NaiveDate::from_ymd_opt(
                i32::from(d.year()),
                u32::from(d.month() as u8),
                u32::from(d.day() as u8),
            )
            .unwrap_or(at.date_naive()),
            // Outside jiff's range (years beyond ±9999): no zone has rules there; the UTC day is as good.
            Err(_) => at.date_naive(),
        }
    }

    /// The first instant of `day` in this zone (after the gap when a clock change skips midnight); `None` outside
    /// the years the database covers (±9999).
    pub fn start_of_day(&self, day: NaiveDate) -> Option<DateTime<Utc>> {
        let year = i16::try_from(day.year()).ok()?;
        let date = jiff::civil::Date::new(year, day.month() as i8, day.day() as i8).ok()?;
        let ts = date.to_zoned(self.tz.clone()).ok()?.timestamp();
        DateTime::from_timestamp(ts.as_second(), ts.subsec_nanosecond().try_into().ok()?)
    }
}

impl PartialEq for ReportingZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ReportingZone {}

impl std::fmt::Debug for ReportingZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Default for ReportingZone {
    fn default() -> Self {
        Self::utc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn days_follow_the_zone_and_its_clock_changes() {
        let ny = ReportingZone::parse("America/New_York").unwrap();
        assert_eq!(ny.name(), "America/New_York");
        assert_eq!(
            ny.local_date(at("2026-11-28T03:00:00Z")).to_string(),
            "2026-11-27"
        );
        assert_eq!(
            ny.local_date(at("2026-11-28T05:00:00Z")).to_string(),
            "2026-11-28"
        );
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            ny.start_of_day(day("2026-07-01")),
            Some(at("2026-07-01T04:00:00Z")),
            "EDT"
        );
        assert_eq!(
            ny.start_of_day(day("2026-12-01")),
            Some(at("2026-12-01T05:00:00Z")),
            "EST"
        );
        // Santiago skipped midnight (00:00 → 01:00) on 2022-09-11: the day starts after the gap.
        let scl = ReportingZone::parse("America/Santiago").unwrap();
        assert_eq!(
            scl.start_of_day(day("2022-09-11")),
            Some(at("2022-09-11T04:00:00Z"))
        );
        let kiritimati = ReportingZone::parse("Pacific/Kiritimati").unwrap();
        assert_eq!(
            kiritimati
                .local_date(at("2026-11-28T10:00:00Z"))
                .to_string(),
            "2026-11-29",
            "UTC+14"
        );
    }

    #[test]
    fn unknown_names_are_refused_and_utc_is_the_default() {
        assert!(ReportingZone::parse("Mars/Olympus_Mons").is_none());
        assert!(ReportingZone::parse("").is_none());
        assert_eq!(ReportingZone::default().name(), "UTC");
        assert_eq!(ReportingZone::parse("UTC").unwrap(), ReportingZone::utc());
        let far = NaiveDate::from_ymd_opt(20000, 1, 1).unwrap();
        assert_eq!(ReportingZone::utc().start_of_day(far), None);
    }
}
