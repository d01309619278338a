//! The dashboard's analytics, computed from counters alone, so their cost depends on the range asked for and
//! never on the number of leads.
//!
//! Every figure is "of the leads created in the range" (creation days in the reporting time zone); the previous
//! period is the same number of days just before it.

use crate::domain::ReportingZone;
use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;

use super::counters::{
    all_bucket, field, scope, CounterQuery, Counters, Dim, Fields, Tally, Touch, NONE_VALUE, OTHER,
};
use super::money_report::{MoneyFigures, MoneyInputs};
use super::spend::{Rates, SpendRow};
use super::stage::{Pipeline, Stage};

/// Days in the default range (today and the 29 days before).
pub const DEFAULT_DAYS: u64 = 30;
/// Longest range, in days.
pub const MAX_DAYS: i64 = 400;
/// Sources listed in `top_sources` before the rest is summed as `(other)`.
pub const TOP_SOURCES: usize = 10;
/// Rows of a breakdown before the rest is summed as `(other)`.
pub const TOP_ROWS: usize = 100;

/// An inclusive range of creation days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayRange {
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
}

impl DayRange {
    /// The default range: the last [`DEFAULT_DAYS`] days, today included, in `tz`.
    pub fn last_days(now: DateTime<Utc>, tz: &ReportingZone, days: u64) -> Self {
        let today = tz.local_date(now);
        Self {
            from: today
                .checked_sub_days(Days::new(days.saturating_sub(1)))
                .unwrap_or(today),
            to: today,
        }
    }

    /// A range from client input: `from` ≤ `to`, at most [`MAX_DAYS`] days.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, String> {
        if from > to {
            return Err("from must not be after to".into());
        }
        if (to - from).num_days() + 1 > MAX_DAYS {
            return Err(format!("a range covers at most {MAX_DAYS} days"));
        }
        Ok(Self { from, to })
    }

    /// Days in the range.
    pub fn len(&self) -> u64 {
        u64::try_from((self.to - self.from).num_days() + 1).unwrap_or(0)
    }

    /// Always false: a range has at least one day.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The same number of days just before this range.
    pub fn previous(&self) -> Self {
        let to = self.from.pred_opt().unwrap_or(self.from);
        Self {
            from: to.checked_sub_days(Days::new(self.len() - 1)).unwrap_or(to),
            to,
        }
    }

    /// Whether `day` is in the range.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }

    /// Every day, oldest first.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.from.iter_days().take_while(move |d| d <= &self.to)
    }
}

/// `GET /api/analytics`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analytics {
    /// All leads, quarantined ones excluded.
    pub total_leads: i64,
    /// Quarantined leads (kept out of every other figure).
    pub quarantined: i64,
    /// A number that grows with every write (once analytics caught up): poll it to know when to refresh.
    pub changes: i64,
    /// Leads created today (reporting time zone).
    pub new_today: i64,
    /// Leads created in the last 30 days, today included.
    pub new_last_30_days: i64,
    /// The reporting time zone (IANA name).
    pub time_zone: String,
    /// When this was computed.
    pub generated_at: DateTime<Utc>,
    /// The range asked for, and its figures.
    #[serde(flatten)]
    pub current: Period,
    /// The same figures for the same number of days just before.
    pub previous: Period,
}

/// The figures of one range of creation days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// Leads created in the range.
    pub new_leads: i64,
    /// One entry per stage, pipeline order.
    pub funnel: Vec<FunnelStage>,
    /// Busiest first-touch sources, then `(other)` for the rest.
    pub top_sources: Vec<SourceCount>,
    /// Every day of the range, oldest first, zeros included.
    pub new_leads_by_day: Vec<DayCount>,
    /// Revenue, spend and what they make (see [`MoneyFigures`]).
    pub money: MoneyFigures,
}

/// One stage of the funnel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelStage {
    /// The stage.
    pub stage: Stage,
    /// Leads (created in the range) currently in the stage.
    pub count: i64,
    /// Leads that reached this stage or a later one.
    pub reached: i64,
    /// `reached(next) / reached(this)`; `None` for the last stage or when nobody reached this one.
    pub conversion_to_next: Option<f64>,
    /// Average time leads took to move on to the next stage; `None` when none did.
    pub avg_seconds_to_next: Option<f64>,
}

/// Leads from one source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceCount {
    /// The first-touch source (lower-case), `(none)` or `(other)`.
    pub source: String,
    /// Leads with that source.
    pub count: i64,
}

/// New leads on one day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayCount {
    /// The day, in the reporting time zone.
    pub date: NaiveDate,
    /// Leads created that day.
    pub count: i64,
}

/// The counter buckets analytics for `range` read: the all-leads bucket of every day of the range, of the previous
/// period and of the last 30 days, the first-touch sources of both periods, and the all-time bucket.
pub fn analytics_query(range: DayRange, today: NaiveDate) -> CounterQuery {
    let mut q = CounterQuery::default();
    q.buckets.insert(all_bucket(None));
    let last30 = DayRange {
        from: today
            .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(today),
        to: today,
    };
    for r in [range, range.previous(), last30] {
        for day in r.days() {
            q.buckets.insert(all_bucket(Some(day)));
        }
    }
    for r in [range, range.previous()] {
        for day in r.days() {
            q.scopes
                .insert(scope(Some(day), Dim::Source.code(Touch::First)));
        }
    }
    q
}

impl Analytics {
    /// Builds the analytics of `range` from counters read with [`analytics_query`].
    pub fn from_counters(
        counters: &Counters,
        pipeline: &Pipeline,
        tz: &ReportingZone,
        range: DayRange,
        now: DateTime<Utc>,
        money: &MoneyData<'_>,
    ) -> Self {
        let everyone = counters.bucket(&all_bucket(None));
        let today = tz.local_date(now);
        let last30 = DayRange {
            from: today
                .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
                .unwrap_or(today),
            to: today,
        };
        let new_on = |d: NaiveDate| counters.get(&all_bucket(Some(d)), field::LEADS).n;
        Self {
            total_leads: tally(&everyone, field::LEADS).n,
            quarantined: tally(&everyone, field::QUARANTINED).n,
            changes: tally(&everyone, field::CHANGES).n,
            new_today: new_on(today),
            new_last_30_days: last30.days().map(new_on).sum(),
            time_zone: tz.name().to_string(),
            generated_at: now,
            current: Period::of(counters, pipeline, range, money),
            previous: Period::of(counters, pipeline, range.previous(), money),
        }
    }
}

/// The admin data money figures need besides counters: the spend rows of the range (and of the previous period,
/// for analytics) and every exchange rate.
#[derive(Debug, Clone, Copy)]
pub struct MoneyData<'a> {
    /// Spend rows (any days: each figure takes the rows of its own days).
    pub spend: &'a [SpendRow],
    /// Exchange rates into the reporting currency.
    pub rates: &'a Rates,
}

impl Period {
    fn of(
        counters: &Counters,
        pipeline: &Pipeline,
        range: DayRange,
        money: &MoneyData<'_>,
    ) -> Self {
        let mut all = Fields::new();
        let mut by_day = Vec::new();
        let mut inputs = MoneyInputs::default();
        for day in range.days() {
            let fields = counters.bucket(&all_bucket(Some(day)));
            by_day.push(DayCount {
                date: day,
                count: tally(&fields, field::LEADS).n,
            });
            inputs.add_revenue_fields(day, &fields);
            add_fields(&mut all, &fields);
        }
        for row in money.spend.iter().filter(|r| range.contains(r.day)) {
            inputs.add_spend(row);
        }
        inputs.leads = all.clone();
        let mut sources: BTreeMap<String, i64> = BTreeMap::new();
        for day in range.days() {
            for (value, fields) in
                counters.values_in(&scope(Some(day), Dim::Source.code(Touch::First)))
            {
                *sources.entry(value.to_string()).or_default() += tally(fields, field::LEADS).n;
            }
        }
        let top_sources = top_with_other(
            sources.into_iter().filter(|(_, n)| *n > 0).collect(),
            TOP_SOURCES,
        )
        .into_iter()
        .map(|(source, count)| SourceCount { source, count })
        .collect();
        Self {
            from: range.from,
            to: range.to,
            new_leads: tally(&all, field::LEADS).n,
            funnel: funnel(&all, pipeline),
            top_sources,
            new_leads_by_day: by_day,
            money: MoneyFigures::compute(&inputs, money.rates, pipeline.stages()),
        }
    }
}

fn funnel(fields: &Fields, pipeline: &Pipeline) -> Vec<FunnelStage> {
    let stages = pipeline.stages();
    stages
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            let reached = tally(fields, &field::of(field::REACHED, stage.as_str())).n;
            let next_reached = stages
                .get(i + 1)
                .map(|n| tally(fields, &field::of(field::REACHED, n.as_str())).n);
            let step = tally(fields, &field::of(field::STEP, stage.as_str()));
            FunnelStage {
                stage: stage.clone(),
                count: tally(fields, &field::of(field::IN, stage.as_str())).n,
                reached,
                conversion_to_next: next_reached
                    .filter(|_| reached > 0)
                    .map(|n| n as f64 / reached as f64),
                avg_seconds_to_next: average_seconds(step),
            }
        })
        .collect()
}

fn tally(fields: &Fields, name: &str) -> Tally {
    fields.get(name).copied().unwrap_or_default()
}

fn add_fields(into: &mut Fields, from: &Fields) {
    for (k, t) in from {
        let e = into.entry(k.clone()).or_default();
        e.n += t.n;
        e.ms += t.ms;
    }
}

fn average_seconds(t: Tally) -> Option<f64> {
    (t.n > 0).then(|| t.ms as f64 / t.n as f64 / 1000.0)
}

/// The `n` largest `(name, count)` pairs by count (ties by name), then one `(other)` entry summing the rest and
/// any `(other)` already there.
fn top_with_other(mut rows: Vec<(String, i64)>, n: usize) -> Vec<(String, i64)> {
    let mut other: i64 = rows
        .iter()
        .filter(|(k, _)| k == OTHER)
        .map(|(_, c)| c)
        .sum();
    rows.retain(|(k, _)| k != OTHER);
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if rows.len() > n {
        other += rows.drain(n..).map(|(_, c)| c).sum::<i64>();
    }
    if other > 0 {
        rows.push((OTHER.to_string(), other));
    }
    rows
}

/// `GET /api/analytics/breakdown`: leads and conversions per value of one dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breakdown {
    /// The dimension.
    pub by: Dim,
    /// First or latest touch.
    pub touch: Touch,
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// The pipeline's stages, in order (the keys of each row's maps).
    pub stages: Vec<Stage>,
    /// Busiest values first; the last row may be `(other)`, summing values past the top rows and past the
    /// counters' per-day limit of named values.
    pub rows: Vec<BreakdownRow>,
}

/// One value of a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreakdownRow {
    /// The value (lower-case), `(none)` or `(other)`.
    pub value: String,
    /// Leads created in the range with this value.
    pub leads: i64,
    /// Per stage: leads that reached it.
    pub reached: BTreeMap<String, i64>,
    /// Per stage: `reached(next stage) / reached(stage)`.
    pub step_conversion: BTreeMap<String, Option<f64>>,
    /// Per stage: `reached(stage) / leads`.
    pub overall_conversion: BTreeMap<String, Option<f64>>,
    /// Per stage: average time from creation to reaching it, among leads that reached it after creation.
    pub avg_seconds_to: BTreeMap<String, Option<f64>>,
    /// Revenue of the value's orders placed in the range, its spend and what they make. Spend is matched by
    /// source, campaign or domain; device types have none.
    pub money: MoneyFigures,
}

/// The counter scopes a breakdown reads: every day of the range for the dimension at `touch`.
pub fn breakdown_query(by: Dim, touch: Touch, range: DayRange) -> CounterQuery {
    let mut q = CounterQuery::default();
    q.scopes
        .extend(range.days().map(|d| scope(Some(d), by.code(touch))));
    q
}

impl Breakdown {
    /// Builds the breakdown from counters read with [`breakdown_query`].
    pub fn from_counters(
        counters: &Counters,
        pipeline: &Pipeline,
        by: Dim,
        touch: Touch,
        range: DayRange,
        money: &MoneyData<'_>,
    ) -> Self {
        let mut per_value = sum_by_value(counters, by, touch, range);
        for row in money.spend.iter().filter(|r| range.contains(r.day)) {
            let value = match by {
                Dim::Source => Some(row.source.clone()),
                Dim::Campaign => Some(row.campaign.clone()),
                Dim::Domain => row.domain.clone(),
                Dim::DeviceType => None,
            };
            if let Some(v) = value {
                per_value.entry(v).or_default().add_spend(row);
            }
        }
        // Busiest first by leads, then by spend and revenue, so a campaign with spend and no leads still shows.
        let weight = |m: &MoneyInputs| {
            let spend: i128 = m.spend.as_ref().map_or(0, |s| s.total_abs());
            (
                tally(&m.leads, field::LEADS).n,
                spend.saturating_add(m.revenue.total_abs()),
            )
        };
        let mut ranked: Vec<(String, (i64, i128))> = per_value
            .iter()
            .map(|(v, m)| (v.clone(), weight(m)))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let order: Vec<String> = ranked
            .iter()
            .filter(|(v, _)| v != OTHER)
            .take(TOP_ROWS)
            .map(|(v, _)| v.clone())
            .collect();
        let mut other = MoneyInputs::default();
        for (value, m) in &per_value {
            if !order.contains(value) {
                other.merge(m);
            }
        }
        let stages = pipeline.stages();
        let row = |value: &str, m: &MoneyInputs| {
            let f = &m.leads;
            let leads = tally(f, field::LEADS).n;
            let reached = |s: &Stage| tally(f, &field::of(field::REACHED, s.as_str())).n;
            let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
            BreakdownRow {
                value: value.to_string(),
                leads,
                reached: stages.iter().map(|s| (s.to_string(), reached(s))).collect(),
                step_conversion: stages
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        (
                            s.to_string(),
                            stages
                                .get(i + 1)
                                .and_then(|n| ratio(reached(n), reached(s))),
                        )
                    })
                    .collect(),
                overall_conversion: stages
                    .iter()
                    .map(|s| (s.to_string(), ratio(reached(s), leads)))
                    .collect(),
                avg_seconds_to: stages
                    .iter()
                    .map(|s| {
                        (
                            s.to_string(),
                            average_seconds(tally(f, &field::of(field::TIME, s.as_str()))),
                        )
                    })
                    .collect(),
                money: MoneyFigures::compute(m, money.rates, stages),
            }
        };
        let mut rows: Vec<BreakdownRow> = order
            .iter()
            .filter_map(|value| per_value.get(value).map(|m| row(value, m)))
            .collect();
        if !other.is_empty() {
            rows.push(row(OTHER, &other));
        }
        Self {
            by,
            touch,
            from: range.from,
            to: range.to,
            stages: stages.to_vec(),
            rows,
        }
    }
}

fn sum_by_value(
    counters: &Counters,
    by: Dim,
    touch: Touch,
    range: DayRange,
) -> BTreeMap<String, MoneyInputs> {
    let mut per_value: BTreeMap<String, MoneyInputs> = BTreeMap::new();
    for day in range.days() {
        for (value, fields) in counters.values_in(&scope(Some(day), by.code(touch))) {
            let m = per_value.entry(value.to_string()).or_default();
            m.add_revenue_fields(day, fields);
            add_fields(&mut m.leads, fields);
        }
    }
    per_value.retain(|_, m| !m.is_empty());
    per_value
}

/// `GET /api/analytics/values`: every source (or campaign) the counters name, with its leads (latest touch, all
/// time): what the All Leads pickers list. Read from the all-time `*|srcL` / `*|cmpL` buckets: at most
/// [`super::counters::MAX_VALUES_ALL_TIME`] values, whatever the number of leads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueCounts {
    /// The dimension (source or campaign).
    pub by: Dim,
    /// Values with leads, busiest first (ties by value); leads without a value and `(other)` are left out.
    pub values: Vec<ValueCount>,
    /// Leads whose value is counted as `(other)` (past the value limit), so not listed by name.
    pub other: i64,
}

/// One value and its leads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueCount {
    /// The value as counted (lower-case, trimmed): what the `source` / `campaign` filters match.
    pub value: String,
    /// Leads whose latest value it is.
    pub leads: i64,
}

/// Whether `by` has all-time value counts (source and campaign do).
pub fn has_value_counts(by: Dim) -> bool {
    matches!(by, Dim::Source | Dim::Campaign)
}

/// The counter query of [`ValueCounts`]: the all-time latest-touch scope of `by`.
pub fn values_query(by: Dim) -> CounterQuery {
    let mut q = CounterQuery::default();
    q.scopes.insert(scope(None, by.code(Touch::Latest)));
    q
}

impl ValueCounts {
    /// Builds the value counts from counters read with [`values_query`].
    pub fn from_counters(counters: &Counters, by: Dim) -> Self {
        let sc = scope(None, by.code(Touch::Latest));
        let mut other = 0;
        let mut values = Vec::new();
        for (value, fields) in counters.values_in(&sc) {
            let leads = tally(fields, field::LEADS).n;
            if value == OTHER {
                other += leads;
            } else if value != NONE_VALUE && leads > 0 {
                values.push(ValueCount {
                    value: value.to_string(),
                    leads,
                });
            }
        }
        values.sort_by(|a, b| b.leads.cmp(&a.leads).then_with(|| a.value.cmp(&b.value)));
        Self { by, values, other }
    }
}

/// `GET /api/analytics/abandonment`: how far leads that stopped before the form's end got, per value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Abandonment {
    /// The dimension (campaign or device type, latest touch).
    pub by: Dim,
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// Busiest values first.
    pub rows: Vec<AbandonmentRow>,
}

/// One value of an abandonment breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbandonmentRow {
    /// The value.
    pub value: String,
    /// Leads created in the range with this value.
    pub leads: i64,
    /// Of them, leads whose form completion is below 100 %.
    pub stopped: i64,
    /// `stopped` by completion decile: `[0–9 %, 10–19 %, …, 90–99 %]`.
    pub deciles: [i64; 10],
    /// Of `deciles[0]` (and `stopped`), leads at 0 %: they never started the form, so they say nothing about
    /// where a form loses people (counted since this field exists; `leadpipe recount` counts older leads).
    pub never_started: i64,
}

impl Abandonment {
    /// Builds the abandonment breakdown from counters read with [`breakdown_query`] (latest touch).
    pub fn from_counters(counters: &Counters, by: Dim, range: DayRange) -> Self {
        let per_value = sum_by_value(counters, by, Touch::Latest, range);
        let mut rows: Vec<AbandonmentRow> = per_value
            .iter()
            .map(|(value, m)| (value, &m.leads))
            .filter(|(_, f)| tally(f, field::LEADS).n != 0)
            .map(|(value, f)| {
                let mut deciles = [0i64; 10];
                for (i, d) in deciles.iter_mut().enumerate() {
                    *d = tally(f, &field::of(field::ABANDON, &i.to_string())).n;
                }
                AbandonmentRow {
                    value: value.clone(),
                    leads: tally(f, field::LEADS).n,
                    stopped: deciles.iter().sum(),
                    deciles,
                    never_started: tally(f, &field::of(field::ABANDON, field::ABANDON_NEVER))
                        .n
                        .min(deciles[0]),
                }
            })
            .filter(|r| r.stopped > 0)
            .collect();
        rows.sort_by(|a, b| {
            b.stopped
                .cmp(&a.stopped)
                .then_with(|| a.value.cmp(&b.value))
        });
        rows.truncate(TOP_ROWS);
        Self {
            by,
            from: range.from,
            to: range.to,
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_money() -> MoneyData<'static> {
        static RATES: std::sync::OnceLock<Rates> = std::sync::OnceLock::new();
        MoneyData {
            spend: &[],
            rates: RATES.get_or_init(Rates::default),
        }
    }
    use crate::domain::counters::{value_bucket, CounterRules, Registry};
    use crate::domain::merge::{apply_postback, new_lead, Access};
    use crate::domain::Postback;
    use serde_json::json;
    use uuid::Uuid;

    fn pb(v: serde_json::Value) -> Postback {
        Postback::parse(v.to_string().as_bytes(), &Pipeline::default(), None)
            .unwrap()
            .postback
    }

    fn at(day: &str, secs: i64) -> DateTime<Utc> {
        format!("{day}T00:00:00Z").parse::<DateTime<Utc>>().unwrap()
            + chrono::Duration::seconds(secs)
    }

    fn counters_of(leads: &[crate::domain::Lead]) -> Counters {
        CounterRules::default().recount(leads, &mut Registry::default())
    }

    #[test]
    fn ranges_have_a_previous_period_of_equal_length() {
        let r =
            DayRange::new("2026-11-01".parse().unwrap(), "2026-11-30".parse().unwrap()).unwrap();
        assert_eq!(r.len(), 30);
        let p = r.previous();
        assert_eq!(
            (p.from.to_string(), p.to.to_string()),
            ("2026-10-02".into(), "2026-10-31".into())
        );
        assert!(
            DayRange::new("2026-11-02".parse().unwrap(), "2026-11-01".parse().unwrap()).is_err()
        );
        assert!(
            DayRange::new("2025-01-01".parse().unwrap(), "2026-11-01".parse().unwrap()).is_err()
        );
        let d = DayRange::last_days(
            "2026-11-27T12:00:00Z".parse().unwrap(),
            &ReportingZone::utc(),
            30,
        );
        assert_eq!(
            (d.from.to_string(), d.to.to_string()),
            ("2026-10-29".into(), "2026-11-27".into())
        );
    }

    #[test]
    fn funnel_sources_and_days_count_leads_created_in_the_range() {
        let p = Pipeline::default();
        let a = new_lead(
            &pb(json!({"source": "Google", "stage": "Form Started"})),
            &p,
            Uuid::new_v4(),
            at("2026-11-20", 0),
            &Access::Full,
        )
        .lead;
        let a = apply_postback(
            &a,
            &pb(json!({"stage": "Application Submitted"})),
            &p,
            at("2026-11-20", 60),
            &Access::Full,
        )
        .lead;
        let b = new_lead(
            &pb(json!({"source": "google"})),
            &p,
            Uuid::new_v4(),
            at("2026-11-21", 0),
            &Access::Full,
        )
        .lead;
        let old = new_lead(
            &pb(json!({"source": "fb"})),
            &p,
            Uuid::new_v4(),
            at("2026-10-25", 0),
            &Access::Full,
        )
        .lead;
        let c = counters_of(&[a, b, old]);
        let range =
            DayRange::new("2026-11-01".parse().unwrap(), "2026-11-27".parse().unwrap()).unwrap();
        let an = Analytics::from_counters(
            &c,
            &p,
            &ReportingZone::utc(),
            range,
            "2026-11-27T12:00:00Z".parse().unwrap(),
            &no_money(),
        );
        assert_eq!(an.total_leads, 3);
        assert_eq!(an.current.new_leads, 2);
        assert_eq!(
            an.previous.new_leads, 1,
            "2026-10-25 is in the 27 days before"
        );
        assert_eq!(an.current.new_leads_by_day.len(), 27);
        assert_eq!(
            an.current.top_sources,
            [SourceCount {
                source: "google".into(),
                count: 2
            }],
            "grouped case-insensitively"
        );
        let f = &an.current.funnel;
        assert_eq!((f[0].reached, f[1].reached, f[2].reached), (2, 1, 1));
        assert_eq!(f[0].conversion_to_next, Some(0.5));
        assert_eq!(f[1].avg_seconds_to_next, Some(60.0));
        assert_eq!(f[2].count, 1);
        assert_eq!(
            an.new_last_30_days, 2,
            "2026-10-25 is more than 30 days before"
        );
    }

    #[test]
    fn top_lists_end_with_other() {
        let rows: Vec<(String, i64)> = (0..15)
            .map(|i| (format!("s{i:02}"), 100 - i))
            .chain([(OTHER.to_string(), 7)])
            .collect();
        let top = top_with_other(rows, 10);
        assert_eq!(top.len(), 11);
        assert_eq!(top[0], ("s00".to_string(), 100));
        assert_eq!(top[10], (OTHER.to_string(), 7 + 90 + 89 + 88 + 87 + 86));
    }

    #[test]
    fn breakdown_gives_conversions_and_times_per_value() {
        let p = Pipeline::default();
        let mut leads = Vec::new();
        for (i, campaign) in ["spring", "spring", "fall"].iter().enumerate() {
            let l = new_lead(
                &pb(json!({"campaign": campaign, "stage": "Form Started"})),
                &p,
                Uuid::new_v4(),
                at("2026-11-20", i as i64),
                &Access::Full,
            )
            .lead;
            leads.push(if i == 0 {
                apply_postback(
                    &l,
                    &pb(json!({"stage": "Paid"})),
                    &p,
                    at("2026-11-20", 120),
                    &Access::Full,
                )
                .lead
            } else {
                l
            });
        }
        let c = counters_of(&leads);
        let range =
            DayRange::new("2026-11-20".parse().unwrap(), "2026-11-20".parse().unwrap()).unwrap();
        let b = Breakdown::from_counters(&c, &p, Dim::Campaign, Touch::First, range, &no_money());
        assert_eq!(b.rows.len(), 2);
        let spring = &b.rows[0];
        assert_eq!((spring.value.as_str(), spring.leads), ("spring", 2));
        assert_eq!(spring.reached["Paid"], 1);
        assert_eq!(spring.overall_conversion["Paid"], Some(0.5));
        assert_eq!(spring.step_conversion["Form Started"], Some(0.5));
        assert_eq!(spring.avg_seconds_to["Paid"], Some(120.0));
        assert_eq!(
            c.get(
                &value_bucket(&scope(Some("2026-11-20".parse().unwrap()), "cmp1"), "fall"),
                "leads"
            )
            .n,
            1
        );
    }

    #[test]
    fn abandonment_counts_forms_that_stopped_by_decile() {
        let p = Pipeline::default();
        let leads: Vec<_> = [35.0, 38.0, 90.0, 100.0]
            .iter()
            .map(|pct| {
                new_lead(
                    &pb(json!({"device_type": "Mobile", "form_completion_percent": pct})),
                    &p,
                    Uuid::new_v4(),
                    at("2026-11-20", 0),
                    &Access::Full,
                )
                .lead
            })
            .collect();
        let c = counters_of(&leads);
        let range =
            DayRange::new("2026-11-20".parse().unwrap(), "2026-11-20".parse().unwrap()).unwrap();
        let a = Abandonment::from_counters(&c, Dim::DeviceType, range);
        assert_eq!(a.rows.len(), 1);
        assert_eq!(
            (a.rows[0].value.as_str(), a.rows[0].leads, a.rows[0].stopped),
            ("mobile", 4, 3)
        );
        assert_eq!(a.rows[0].deciles[3], 2);
        assert_eq!(a.rows[0].deciles[9], 1);
        assert_eq!(a.rows[0].never_started, 0);
    }

    #[test]
    fn abandonment_counts_leads_that_never_started_the_form_apart() {
        // Issue 21 item 4: leads at 0 % filled decile 0 on every row ("Most stop at 0–9 %").
        let p = Pipeline::default();
        let leads: Vec<_> = [0.0, 0.0, 0.0, 5.0, 42.0, 100.0]
            .iter()
            .map(|pct| {
                new_lead(
                    &pb(json!({"device_type": "Mobile", "form_completion_percent": pct})),
                    &p,
                    Uuid::new_v4(),
                    at("2026-11-20", 0),
                    &Access::Full,
                )
                .lead
            })
            .collect();
        let c = counters_of(&leads);
        let range =
            DayRange::new("2026-11-20".parse().unwrap(), "2026-11-20".parse().unwrap()).unwrap();
        let row = &Abandonment::from_counters(&c, Dim::DeviceType, range).rows[0];
        assert_eq!(
            (row.leads, row.stopped, row.deciles[0], row.deciles[4]),
            (6, 5, 4, 1)
        );
        assert_eq!(
            row.never_started, 3,
            "the three leads at 0 %, apart from the one at 5 %"
        );
    }

    #[test]
    fn campaigns_show_money_and_spend_even_without_leads() {
        use crate::domain::money::{Currency, Money, Rate};
        use crate::domain::spend::RateRow;
        let p = Pipeline::default();
        let usd = Currency::usd();
        let eur = Currency::parse("EUR").unwrap();
        let paid = new_lead(
            &pb(json!({"campaign": "Spring", "stage": "Paid", "value": 100, "currency": "EUR", "order_id": "1"})),
            &p,
            Uuid::new_v4(),
            at("2026-11-20", 0),
            &Access::Full,
        )
        .lead;
        let free = new_lead(
            &pb(json!({"campaign": "spring"})),
            &p,
            Uuid::new_v4(),
            at("2026-11-21", 0),
            &Access::Full,
        )
        .lead;
        let c = counters_of(&[paid, free]);
        let spend = |campaign: &str, minor: i64| SpendRow {
            day: "2026-11-20".parse().unwrap(),
            source: "google".into(),
            campaign: campaign.into(),
            domain: None,
            amount: Money {
                minor,
                currency: usd,
            },
            clicks: Some(5),
            impressions: None,
        };
        let rows = [
            spend("spring", 4000),
            spend("autumn", 999),
            spend("spring", 1000),
        ];
        let rates = Rates::new(
            usd,
            [RateRow {
                day: "2026-11-01".parse().unwrap(),
                currency: eur,
                rate: Rate::parse("1.1").unwrap(),
            }],
        );
        let money = MoneyData {
            spend: &rows,
            rates: &rates,
        };
        let range =
            DayRange::new("2026-11-15".parse().unwrap(), "2026-11-25".parse().unwrap()).unwrap();
        let b = Breakdown::from_counters(&c, &p, Dim::Campaign, Touch::First, range, &money);
        let spring = b.rows.iter().find(|r| r.value == "spring").unwrap();
        assert_eq!(spring.leads, 2);
        assert_eq!(spring.money.revenue.minor, 11_000, "€100 at 1.1");
        assert_eq!(spring.money.spend.as_ref().unwrap().minor, 5000);
        assert_eq!(spring.money.cpl.as_ref().unwrap().minor, 2500);
        assert_eq!(
            spring.money.cost_per_stage["Paid"].as_ref().unwrap().minor,
            5000
        );
        assert_eq!(spring.money.roas, Some(2.2));
        assert_eq!(spring.money.paying_leads, 1);
        assert_eq!(spring.money.clicks, 10);
        let autumn = b
            .rows
            .iter()
            .find(|r| r.value == "autumn")
            .expect("spend without leads shows");
        assert_eq!(autumn.leads, 0);
        assert_eq!(autumn.money.cpl, None, "no leads: a dash, not infinity");
        assert_eq!(autumn.money.roas, Some(0.0));
        let overview = Analytics::from_counters(
            &c,
            &p,
            &ReportingZone::utc(),
            range,
            at("2026-11-25", 0),
            &money,
        );
        assert_eq!(overview.current.money.revenue.minor, 11_000);
        assert_eq!(overview.current.money.spend.as_ref().unwrap().minor, 5999);
        assert_eq!(overview.previous.money.spend, None);
    }
}
