//! Listing totals (`total` and `total_exact` of `GET /api/leads`): exact from counters wherever counters hold the
//! answer, else counted through the store's listing within a read budget and reported as a lower bound.
//!
//! Counters give a listing's total exactly ([`CounterTotal::plan`]) when the listing has no search, no idle
//! filter and does not list quarantined leads together with another filter, and it filters by at most one of
//! source and campaign:
//!
//! | filters | counters summed |
//! |---|---|
//! | none, or only `stage` | `*|all|` (`leads` or `in:<stage>`) |
//! | `quarantine=only` alone | `*|all|` `quarantined` |
//! | `source` or `campaign` alone | `*|srcL|<value>` or `*|cmpL|<value>` `leads` |
//! | a whole-day range (`from`, `to` or both), with or without `stage` | `<day>|all|` over the range's days |
//! | a whole-day range and `source` or `campaign`, with or without `stage` | `<day>|srcL|<value>` or `<day>|cmpL|<value>` |
//!
//! A range is whole-day when each given bound is the start of a day in the reporting time zone (what a
//! `YYYY-MM-DD` parameter gives), and exact only while the days read stay within [`MAX_DAYS`]: a range with both
//! bounds covers its days (up to tomorrow: no lead is created later); `from` alone covers `from` to tomorrow;
//! `to` alone is the all-time bucket minus the days after `to`. A source or campaign value is counted exactly when
//! it is a value the counters name: it is shorter than [`MAX_VALUE_CHARS`], holds no `/` (counters write `|` as
//! `/`), is not `(none)` or `(other)`, and in each scope read its bucket holds leads or the scope's `(other)` holds
//! none (past the scope's value limit, newcomers are counted as `(other)`). A `stage` with `source` or `campaign`
//! needs a range: the all-time value buckets count leads only.
//!
//! Every other listing is counted by paging through [`LeadStore::list`] ([`LeadStore::count`]): at most
//! [`COUNT_PAGES`] pages of [`COUNT_PAGE_SIZE`], so at most [`COUNT_BUDGET`] leads are read; when the listing
//! ends within them the count is exact, else it is a lower bound. A first page that is also the last one gives
//! its exact total without any further read.

use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::domain::analytics::MAX_DAYS;
use crate::domain::counters::{
    all_bucket, field, normalise_value, scope, value_bucket, BucketKey, CounterQuery, Counters,
    Dim, Touch,
};
use crate::domain::counters::{MAX_VALUE_CHARS, NONE_VALUE, OTHER};
use crate::domain::ReportingZone;
use crate::store::{ListQuery, QuarantineFilter};

/// Leads per page when counting through the listing.
pub const COUNT_PAGE_SIZE: usize = 200;
/// Most listing pages read to count one listing.
pub const COUNT_PAGES: usize = 5;
/// Most leads read to count one listing: past it the total is a lower bound.
pub const COUNT_BUDGET: usize = COUNT_PAGE_SIZE * COUNT_PAGES;
/// Most entries "count all" ([`crate::store::LeadStore::count_all`]) evaluates: past it, a lower bound.
pub const FULL_COUNT_READS: usize = 5_000_000;

/// A listing's total and whether it is exact (else a lower bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    /// Matching leads (at least this many when not `exact`).
    pub count: i64,
    /// Whether `count` is every matching lead.
    pub exact: bool,
}

/// The counters whose sum is a listing's exact total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterTotal {
    /// `(bucket, field, sign)`: the total is the signed sum of these tallies.
    terms: Vec<(BucketKey, String, i64)>,
    /// `(value bucket, its scope's (other) bucket)`: each value must be counted by name for the sum to be exact.
    named: Vec<(BucketKey, BucketKey)>,
}

/// The day starting at `at` in `tz`, if `at` is the start of a day there.
fn whole_day(at: DateTime<Utc>, tz: &ReportingZone) -> Option<NaiveDate> {
    let day = tz.local_date(at);
    (tz.start_of_day(day) == Some(at)).then_some(day)
}

/// Whether a (lower-cased, trimmed) filter value matches exactly the leads counters count under it.
fn counted_by_name(value: &str) -> bool {
    normalise_value(value) == value
        && !value.is_empty()
        && !value.contains('/')
        && value.chars().count() < MAX_VALUE_CHARS
        && value != NONE_VALUE
        && value != OTHER
}

impl CounterTotal {
    /// The counters that answer `q`'s total exactly, if any (see the module documentation); `today` is the
    /// current day in `tz`.
    pub fn plan(q: &ListQuery, tz: &ReportingZone, today: NaiveDate) -> Option<Self> {
        // Revenue listings hold only the leads with orders: the lead counters do not count them apart.
        if q.search.is_some() || q.entered_before.is_some() || q.order.by_revenue() {
            return None;
        }
        let mut plan = Self::default();
        if q.quarantine == QuarantineFilter::Only {
            let alone = q.stage.is_none() && q.source.is_none() && q.campaign.is_none();
            let alone = alone && q.created_from.is_none() && q.created_before.is_none();
            return alone.then(|| {
                plan.terms
                    .push((all_bucket(None), field::QUARANTINED.into(), 1));
                plan
            });
        }
        let dim = match (&q.source, &q.campaign) {
            (None, None) => None,
            (Some(v), None) => Some((Dim::Source, v.as_str())),
            (None, Some(v)) => Some((Dim::Campaign, v.as_str())),
            (Some(_), Some(_)) => return None,
        };
        if dim.is_some_and(|(_, v)| !counted_by_name(v)) {
            return None;
        }
        let fld = q.stage.as_ref().map_or_else(
            || field::LEADS.to_string(),
            |s| field::of(field::IN, s.as_str()),
        );
        let mut add = |day: Option<NaiveDate>, sign: i64| match dim {
            None => plan.terms.push((all_bucket(day), fld.clone(), sign)),
            Some((d, v)) => {
                let scope = scope(day, d.code(Touch::Latest));
                plan.terms
                    .push((value_bucket(&scope, v), fld.clone(), sign));
                plan.named
                    .push((value_bucket(&scope, v), value_bucket(&scope, OTHER)));
            }
        };
        let from = q
            .created_from
            .map(|t| whole_day(t, tz).ok_or(()))
            .transpose()
            .ok()?;
        let before = q
            .created_before
            .map(|t| whole_day(t, tz).ok_or(()))
            .transpose()
            .ok()?;
        // No lead is created after now; tomorrow covers clocks a little ahead of this one.
        let end = today.checked_add_days(Days::new(2))?;
        let all_time_has_field = dim.is_none() || q.stage.is_none();
        let span = |a: NaiveDate, b: NaiveDate| (b - a).num_days();
        match (from, before) {
            (None, None) if all_time_has_field => add(None, 1),
            (None, None) => return None,
            (from, before) => {
                let (first, until, sign) = match from {
                    Some(first) => (first, before.map_or(end, |b| b.min(end)), 1),
                    // `to` alone: everything, minus the days from `to` on.
                    None if all_time_has_field => {
                        add(None, 1);
                        (before?, end, -1)
                    }
                    None => return None,
                };
                if span(first, until) > MAX_DAYS {
                    return None;
                }
                let mut day = first;
                while day < until {
                    add(Some(day), sign);
                    day = day.checked_add_days(Days::new(1))?;
                }
            }
        }
        Some(plan)
    }

    /// The buckets to read.
    pub fn query(&self) -> CounterQuery {
        let mut q = CounterQuery::default();
        q.buckets
            .extend(self.terms.iter().map(|(b, _, _)| b.clone()));
        q.buckets
            .extend(self.named.iter().flat_map(|(v, o)| [v.clone(), o.clone()]));
        q
    }

    /// The exact total from counters read with [`Self::query`], or `None` when a value is not counted by name.
    pub fn total(&self, counters: &Counters) -> Option<i64> {
        let named = |v: &str, o: &str| {
            counters.get(v, field::LEADS).n > 0 || counters.get(o, field::LEADS).n == 0
        };
        if !self.named.iter().all(|(v, o)| named(v, o)) {
            return None;
        }
        Some(
            self.terms
                .iter()
                .map(|(b, f, sign)| sign * counters.get(b, f).n)
                .sum::<i64>()
                .max(0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::counters::Tally;
    use crate::domain::Pipeline;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn plan(q: ListQuery) -> Option<CounterTotal> {
        CounterTotal::plan(&q, &ReportingZone::utc(), day("2026-11-28"))
    }

    #[test]
    fn which_filters_counters_answer() {
        let paid = Some(Pipeline::default().stage("Paid").unwrap());
        let from = Some(utc("2026-11-01T00:00:00Z"));
        let to = Some(utc("2026-11-03T00:00:00Z"));
        let src = Some("google".to_string());
        for (q, exact) in [
            (ListQuery::default(), true),
            (
                ListQuery {
                    stage: paid.clone(),
                    ..Default::default()
                },
                true,
            ),
            (
                ListQuery {
                    source: src.clone(),
                    ..Default::default()
                },
                true,
            ),
            (
                ListQuery {
                    campaign: src.clone(),
                    ..Default::default()
                },
                true,
            ),
            (
                ListQuery {
                    source: src.clone(),
                    stage: paid.clone(),
                    ..Default::default()
                },
                false,
            ),
            (
                ListQuery {
                    source: src.clone(),
                    stage: paid.clone(),
                    created_from: from,
                    ..Default::default()
                },
                true,
            ),
            (
                ListQuery {
                    source: src.clone(),
                    campaign: src.clone(),
                    ..Default::default()
                },
                false,
            ),
            (
                ListQuery {
                    created_from: from,
                    created_before: to,
                    stage: paid.clone(),
                    ..Default::default()
                },
                true,
            ),
            (
                ListQuery {
                    created_before: to,
                    ..Default::default()
                },
                true,
            ),
            (
                ListQuery {
                    created_before: to,
                    source: src.clone(),
                    ..Default::default()
                },
                true,
            ),
            (
                ListQuery {
                    created_before: to,
                    source: src.clone(),
                    stage: paid.clone(),
                    ..Default::default()
                },
                false,
            ),
            (
                ListQuery {
                    created_from: Some(utc("2026-11-01T10:00:00Z")),
                    ..Default::default()
                },
                false,
            ),
            (
                ListQuery {
                    created_from: Some(utc("2024-01-01T00:00:00Z")),
                    ..Default::default()
                },
                false,
            ),
            (
                ListQuery {
                    search: Some("x".into()),
                    ..Default::default()
                },
                false,
            ),
            (
                ListQuery {
                    entered_before: from,
                    ..Default::default()
                },
                false,
            ),
            (
                ListQuery {
                    quarantine: QuarantineFilter::Only,
                    ..Default::default()
                },
                true,
            ),
            (
                ListQuery {
                    quarantine: QuarantineFilter::Only,
                    stage: paid.clone(),
                    ..Default::default()
                },
                false,
            ),
            (
                ListQuery {
                    source: Some("a/b".into()),
                    ..Default::default()
                },
                false,
            ),
            (
                ListQuery {
                    source: Some(NONE_VALUE.into()),
                    ..Default::default()
                },
                false,
            ),
            (
                ListQuery {
                    source: Some("x".repeat(MAX_VALUE_CHARS)),
                    ..Default::default()
                },
                false,
            ),
        ] {
            assert_eq!(plan(q.clone()).is_some(), exact, "{q:?}");
        }
    }

    #[test]
    fn a_range_sums_its_days_and_to_alone_subtracts_the_days_after_it() {
        let p = plan(ListQuery {
            created_from: Some(utc("2026-11-01T00:00:00Z")),
            created_before: Some(utc("2026-11-03T00:00:00Z")),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            p.terms
                .iter()
                .map(|(b, _, s)| (b.as_str(), *s))
                .collect::<Vec<_>>(),
            [("2026-11-01|all|", 1), ("2026-11-02|all|", 1)]
        );
        let p = plan(ListQuery {
            created_before: Some(utc("2026-11-28T00:00:00Z")),
            ..Default::default()
        })
        .unwrap();
        let terms: Vec<_> = p.terms.iter().map(|(b, _, s)| (b.as_str(), *s)).collect();
        assert_eq!(
            terms,
            [
                ("*|all|", 1),
                ("2026-11-28|all|", -1),
                ("2026-11-29|all|", -1)
            ]
        );
        let mut c = Counters::default();
        c.add("*|all|", "leads", 10, 0);
        c.add("2026-11-28|all|", "leads", 3, 0);
        assert_eq!(p.total(&c), Some(7));
    }

    #[test]
    fn a_value_that_may_be_counted_as_other_is_not_exact() {
        let p = plan(ListQuery {
            source: Some("google".into()),
            ..Default::default()
        })
        .unwrap();
        let mut c = Counters::default();
        assert_eq!(
            p.total(&c),
            Some(0),
            "no (other): the value simply has no lead"
        );
        c.add("*|srcL|(other)", "leads", 4, 0);
        assert_eq!(p.total(&c), None, "it may be among the (other) leads");
        c.0.entry("*|srcL|google".into())
            .or_default()
            .insert("leads".into(), Tally { n: 2, ms: 0 });
        assert_eq!(p.total(&c), Some(2), "counted by name");
    }
}
