//! Analytics counters: every lead contributes a fixed set of tallies, and every write stores the difference.
//!
//! Because a lead's contribution is a pure function of its state ([`CounterRules::of_lead`]), the delta of any
//! write is `of_lead(after) − of_lead(before)`, and the stored counters always equal a full recount.
//!
//! Counters live in **buckets**; a bucket is identified by a [`BucketKey`] `<day>|<dim>|<value>`:
//!
//! | bucket | fields | read by |
//! |---|---|---|
//! | `*|all|` (all time) | `leads`, `in:<stage>`, `quarantined`, `value:<stage>:<currency>` | list totals, board counts and money, total leads |
//! | `*|srcL|<source>`, `*|cmpL|<campaign>` | `leads` | source and campaign pickers (latest touch) |
//! | `<day>|all|` | the [day fields](field), `rev:<currency>` | funnel, new leads per day, revenue |
//! | `<day>|<dim><touch>|<value>` | the day fields, `rev:<currency>` | breakdowns by source, campaign, domain, device |
//!
//! Revenue (`rev:`) is counted on the day of each **order**, in the buckets of the lead's dimension values, so a
//! range's revenue is what its days brought in, and each day's sum is converted with that day's rate.
//!
//! `<day>` is the lead's **creation** day in the reporting time zone, so every per-day figure is "of the leads
//! created that day" and any date range is a sum over days. Values are grouped case-insensitively (trimmed,
//! lower-cased, at most [`MAX_VALUE_CHARS`] characters). The number of named values per scope (`<day>|<dim>`) is
//! bounded by [`ValueAdmission`]: past [`MAX_VALUES_PER_DAY`] (or [`MAX_VALUES_ALL_TIME`]) distinct values a scope
//! counts newcomers as [`OTHER`], so no input can make the counters grow without bound.

use crate::domain::ReportingZone;
use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::lead::Lead;
use super::orders::revenue_by_currency;
use super::stage::Pipeline;

/// The value counted for a lead without one.
pub const NONE_VALUE: &str = "(none)";
/// The value counted for values past a scope's limit.
pub const OTHER: &str = "(other)";
/// Longest value kept in a bucket key, in characters.
pub const MAX_VALUE_CHARS: usize = 64;
/// Named values per day and dimension; later distinct values count as [`OTHER`].
pub const MAX_VALUES_PER_DAY: usize = 100;
/// Named values of an all-time picker dimension.
pub const MAX_VALUES_ALL_TIME: usize = 1000;
/// The `day` part of all-time buckets.
pub const ALL_TIME: &str = "*";

/// Field names inside a bucket.
pub mod field {
    /// Leads in the bucket.
    pub const LEADS: &str = "leads";
    /// `in:<stage>`: leads currently in the stage.
    pub const IN: &str = "in";
    /// `reached:<stage>`: leads that reached the stage (or skipped past it).
    pub const REACHED: &str = "reached";
    /// `step:<stage>`: leads that moved on from the stage to the next one in a later event, with the time it took.
    pub const STEP: &str = "step";
    /// `time:<stage>`: leads that reached the stage after their creation, with the time from creation.
    pub const TIME: &str = "time";
    /// `abandon:<decile>`: leads whose form stopped before its end (completion < 100 %), by completion decile 0–9.
    pub const ABANDON: &str = "abandon";
    /// `abandon:never`: of `abandon:0`, leads at 0 %: they never started the form.
    pub const ABANDON_NEVER: &str = "never";
    /// Quarantined leads (all-time bucket only; they count nowhere else).
    pub const QUARANTINED: &str = "quarantined";
    /// Writes applied so far (all-time bucket only): a watermark for live dashboards, not a function of leads.
    pub const CHANGES: &str = "changes";
    /// `rev:<currency>`: orders placed on the bucket's day (in the order's day, not the lead's creation day):
    /// `n` orders, their amount in minor units in the sum slot (`ms`). `rev:?`: orders kept apart (no amount).
    pub const REVENUE: &str = "rev";
    /// The currency part of `rev:?`.
    pub const KEPT_APART: &str = "?";
    /// Of the leads created on the day: those with a positive revenue (in any currency).
    pub const PAYING: &str = "paying";
    /// `value:<stage>:<currency>` (all-time bucket): leads in the stage with money in the currency (`n`) and
    /// their revenue in minor units (sum slot).
    pub const VALUE: &str = "value";
    /// `valued:<stage>` (all-time bucket): leads in the stage with counted orders (in any currency).
    pub const VALUED: &str = "valued";

    /// `<kind>:<name>`.
    pub fn of(kind: &str, name: &str) -> String {
        format!("{kind}:{name}")
    }
}

/// A dimension leads are broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dim {
    /// `source`.
    Source,
    /// `campaign`.
    Campaign,
    /// `domain`.
    Domain,
    /// `device_type`.
    DeviceType,
}

/// Which value of a dimension: as first seen, or the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Touch {
    /// The value the lead first arrived with.
    First,
    /// The lead's current value.
    Latest,
}

impl Dim {
    /// Every dimension.
    pub const ALL: [Dim; 4] = [Dim::Source, Dim::Campaign, Dim::Domain, Dim::DeviceType];

    /// The short code used in bucket keys.
    pub fn code(self, touch: Touch) -> &'static str {
        match (self, touch) {
            (Dim::Source, Touch::First) => "src1",
            (Dim::Source, Touch::Latest) => "srcL",
            (Dim::Campaign, Touch::First) => "cmp1",
            (Dim::Campaign, Touch::Latest) => "cmpL",
            (Dim::Domain, Touch::First) => "dom1",
            (Dim::Domain, Touch::Latest) => "domL",
            (Dim::DeviceType, Touch::First) => "dev1",
            (Dim::DeviceType, Touch::Latest) => "devL",
        }
    }

    /// The lead's value of this dimension at `touch`, normalised, or `None` when it has none.
    pub fn value_of(self, lead: &Lead, touch: Touch) -> Option<String> {
        let (t, f) = (&lead.text, &lead.first_touch);
        let raw = match (self, touch) {
            (Dim::Source, Touch::First) => f.source.as_deref(),
            (Dim::Source, Touch::Latest) => t.source.as_deref(),
            (Dim::Campaign, Touch::First) => f.campaign.as_deref(),
            (Dim::Campaign, Touch::Latest) => t.campaign.as_deref(),
            (Dim::Domain, Touch::First) => f.domain.as_deref(),
            (Dim::Domain, Touch::Latest) => t.domain.as_deref(),
            (Dim::DeviceType, Touch::First) => f.device_type.as_deref(),
            (Dim::DeviceType, Touch::Latest) => t.device_type.as_deref(),
        };
        raw.map(normalise_value).filter(|v| !v.is_empty())
    }
}

/// A dimension value as counted: trimmed, lower-cased, at most [`MAX_VALUE_CHARS`] characters, `|` replaced.
pub fn normalise_value(raw: &str) -> String {
    raw.trim()
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '|' { '/' } else { c })
        .take(MAX_VALUE_CHARS)
        .collect()
}

/// The scope of a set of values: `<day>|<code>` (e.g. `2026-11-28|src1`, `*|cmpL`).
pub fn scope(day: Option<NaiveDate>, code: &str) -> String {
    format!("{}|{code}", day_text(day))
}

/// The key of a bucket: `<scope>|<value>` (the `all` buckets have an empty value).
pub type BucketKey = String;

/// The bucket of all leads created on `day` (or of all leads, for `None`).
pub fn all_bucket(day: Option<NaiveDate>) -> BucketKey {
    format!("{}|all|", day_text(day))
}

/// The bucket of one value in a scope.
pub fn value_bucket(scope: &str, value: &str) -> BucketKey {
    format!("{scope}|{value}")
}

/// Splits a bucket key into its scope and value.
pub fn split_bucket(key: &str) -> Option<(&str, &str)> {
    key.rsplit_once('|')
}

fn day_text(day: Option<NaiveDate>) -> String {
    day.map_or_else(
        || ALL_TIME.to_string(),
        |d| d.format("%Y-%m-%d").to_string(),
    )
}

/// One counter: a count and, for `step:` and `time:` fields, summed milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// How many.
    pub n: i64,
    /// Summed duration in milliseconds.
    pub ms: i64,
}

/// The fields of one bucket.
pub type Fields = BTreeMap<String, Tally>;

/// A set of counters: bucket → field → tally.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters(pub BTreeMap<BucketKey, Fields>);

impl Counters {
    /// Adds `n` and `ms` to `field` of `bucket`.
    pub fn add(&mut self, bucket: &str, field: &str, n: i64, ms: i64) {
        let t = self
            .0
            .entry(bucket.to_string())
            .or_default()
            .entry(field.to_string())
            .or_default();
        t.n += n;
        t.ms += ms;
    }

    /// Adds every counter of `other`.
    pub fn merge(&mut self, other: &Self) {
        for (bucket, fields) in &other.0 {
            for (f, t) in fields {
                self.add(bucket, f, t.n, t.ms);
            }
        }
    }

    /// Subtracts every counter of `other`.
    pub fn subtract(&mut self, other: &Self) {
        for (bucket, fields) in &other.0 {
            for (f, t) in fields {
                self.add(bucket, f, -t.n, -t.ms);
            }
        }
    }

    /// Drops zero tallies and empty buckets (a store may keep zeros; a recount has none).
    pub fn without_zeros(mut self) -> Self {
        for fields in self.0.values_mut() {
            fields.retain(|_, t| *t != Tally::default());
        }
        self.0.retain(|_, f| !f.is_empty());
        self
    }

    /// The counters without the [`field::CHANGES`] watermark (which no recount reproduces).
    pub fn without_watermark(mut self) -> Self {
        if let Some(all) = self.0.get_mut(&all_bucket(None)) {
            all.remove(field::CHANGES);
        }
        self.without_zeros()
    }

    /// The tally of `field` in `bucket`, zero when absent.
    pub fn get(&self, bucket: &str, field: &str) -> Tally {
        self.0
            .get(bucket)
            .and_then(|f| f.get(field))
            .copied()
            .unwrap_or_default()
    }

    /// The fields of `bucket` (empty when absent).
    pub fn bucket(&self, bucket: &str) -> Fields {
        self.0.get(bucket).cloned().unwrap_or_default()
    }

    /// `(value, fields)` of every bucket in `scope`.
    pub fn values_in<'a>(
        &'a self,
        scope: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Fields)> + 'a {
        self.0.iter().filter_map(move |(k, f)| {
            split_bucket(k)
                .filter(|(s, _)| *s == scope)
                .map(|(_, v)| (v, f))
        })
    }

    /// Only the buckets `query` asks for.
    pub fn restricted_to(mut self, query: &CounterQuery) -> Self {
        self.0.retain(|k, _| query.wants(k));
        self
    }
}

/// Which buckets a reader wants: exact buckets, and every bucket of some scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterQuery {
    /// Exact bucket keys.
    pub buckets: BTreeSet<BucketKey>,
    /// Scopes whose every value is wanted.
    pub scopes: BTreeSet<String>,
}

impl CounterQuery {
    /// Whether `bucket` is wanted.
    pub fn wants(&self, bucket: &str) -> bool {
        self.buckets.contains(bucket)
            || split_bucket(bucket).is_some_and(|(s, _)| self.scopes.contains(s))
    }
}

/// Which values are counted by name in each scope: the first distinct values up to a limit, then [`OTHER`].
///
/// A store keeps the admitted values of every scope (a registry). Admission is append-only, so a value counted by
/// name stays counted by name, and a lead's old state always maps to the buckets it was counted in.
pub trait ValueAdmission {
    /// Whether `value` is already admitted in `scope` (no side effect).
    fn is_admitted(&self, scope: &str, value: &str) -> bool;
    /// Admits `value` in `scope` if the scope has room (or it is already admitted); returns whether it is.
    fn admit(&mut self, scope: &str, value: &str) -> bool;
}

/// The limit of named values in `scope`.
pub fn value_limit(scope: &str) -> usize {
    if scope.starts_with(ALL_TIME) {
        MAX_VALUES_ALL_TIME
    } else {
        MAX_VALUES_PER_DAY
    }
}

/// An in-memory [`ValueAdmission`] (recounts, tests, and the stores' caches).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry(pub BTreeMap<String, BTreeSet<String>>);

impl ValueAdmission for Registry {
    fn is_admitted(&self, scope: &str, value: &str) -> bool {
        self.0.get(scope).is_some_and(|v| v.contains(value))
    }

    fn admit(&mut self, scope: &str, value: &str) -> bool {
        let values = self.0.entry(scope.to_string()).or_default();
        if values.contains(value) {
            return true;
        }
        if values.len() >= value_limit(scope) {
            return false;
        }
        values.insert(value.to_string());
        true
    }
}

/// What counters depend on besides the leads themselves: the stage order and the reporting time zone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CounterRules {
    /// Stage order (`reached:` and `step:` follow it).
    pub pipeline: Pipeline,
    /// Time zone of creation days.
    pub time_zone: ReportingZone,
}

/// How a lead's values are looked up: admitting new ones (the lead as written) or not (the lead as it was).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lookup {
    Admit,
    Existing,
}

impl CounterRules {
    /// The creation day of a lead in the reporting time zone.
    pub fn day_of(&self, lead: &Lead) -> NaiveDate {
        self.time_zone.local_date(lead.created_at)
    }

    /// What one lead contributes, admitting its values into `values` where there is room.
    pub fn of_lead(&self, lead: &Lead, values: &mut dyn ValueAdmission) -> Counters {
        self.contribution(lead, values, Lookup::Admit)
    }

    /// The counter change of one write: what `after` contributes (admitting new values) minus what `before`
    /// contributed (looking its values up without admitting). Zero tallies are dropped.
    pub fn delta(
        &self,
        before: Option<&Lead>,
        after: Option<&Lead>,
        values: &mut dyn ValueAdmission,
    ) -> Counters {
        let mut d = after
            .map(|l| self.contribution(l, values, Lookup::Admit))
            .unwrap_or_default();
        if let Some(b) = before {
            d.subtract(&self.contribution(b, values, Lookup::Existing));
        }
        d.without_zeros()
    }

    /// The counters a full recount of `leads` gives (values admitted in the order given: pass them oldest first).
    pub fn recount<'a>(
        &self,
        leads: impl IntoIterator<Item = &'a Lead>,
        values: &mut dyn ValueAdmission,
    ) -> Counters {
        let mut total = Counters::default();
        for lead in leads {
            total.merge(&self.of_lead(lead, values));
        }
        total
    }

    fn contribution(
        &self,
        lead: &Lead,
        values: &mut dyn ValueAdmission,
        lookup: Lookup,
    ) -> Counters {
        let mut c = Counters::default();
        let everyone = all_bucket(None);
        if lead.quarantine.is_some() {
            c.add(&everyone, field::QUARANTINED, 1, 0);
            return c;
        }
        c.add(&everyone, field::LEADS, 1, 0);
        c.add(&everyone, &field::of(field::IN, lead.stage.as_str()), 1, 0);
        for dim in [Dim::Source, Dim::Campaign] {
            let scope = scope(None, dim.code(Touch::Latest));
            let value =
                self.counted_value(&scope, dim.value_of(lead, Touch::Latest), values, lookup);
            c.add(&value_bucket(&scope, &value), field::LEADS, 1, 0);
        }
        let day = Some(self.day_of(lead));
        let fields = self.day_fields(lead);
        let mut buckets = vec![all_bucket(day)];
        for dim in Dim::ALL {
            for touch in [Touch::First, Touch::Latest] {
                let scope = scope(day, dim.code(touch));
                let value = self.counted_value(&scope, dim.value_of(lead, touch), values, lookup);
                buckets.push(value_bucket(&scope, &value));
            }
        }
        for bucket in buckets {
            for (f, t) in &fields {
                c.add(&bucket, f, t.n, t.ms);
            }
        }
        self.add_money(lead, &mut c, values, lookup);
        c
    }

    /// A lead's money: each order in the buckets of **its own day** (`rev:<currency>`, kept-apart orders as
    /// `rev:?`), and its counted revenue per currency in the all-time bucket under its current stage
    /// (`value:<stage>:<currency>`, the board's money per column).
    fn add_money(
        &self,
        lead: &Lead,
        c: &mut Counters,
        values: &mut dyn ValueAdmission,
        lookup: Lookup,
    ) {
        for order in lead.orders.iter().filter(|o| o.removed_at.is_none()) {
            let (name, n, sum) = match order.value {
                Some(m) => (field::of(field::REVENUE, m.currency.as_str()), 1, m.minor),
                None => (field::of(field::REVENUE, field::KEPT_APART), 1, 0),
            };
            let day = Some(self.time_zone.local_date(order.at));
            c.add(&all_bucket(day), &name, n, sum);
            for dim in Dim::ALL {
                for touch in [Touch::First, Touch::Latest] {
                    let scope = scope(day, dim.code(touch));
                    let value =
                        self.counted_value(&scope, dim.value_of(lead, touch), values, lookup);
                    c.add(&value_bucket(&scope, &value), &name, n, sum);
                }
            }
        }
        let revenue = revenue_by_currency(lead);
        if !revenue.is_empty() {
            c.add(
                &all_bucket(None),
                &field::of(field::VALUED, lead.stage.as_str()),
                1,
                0,
            );
        }
        for m in revenue {
            let name = format!("{}:{}:{}", field::VALUE, lead.stage.as_str(), m.currency);
            c.add(&all_bucket(None), &name, 1, m.minor);
        }
    }

    fn counted_value(
        &self,
        scope: &str,
        value: Option<String>,
        values: &mut dyn ValueAdmission,
        lookup: Lookup,
    ) -> String {
        let value = value.unwrap_or_else(|| NONE_VALUE.to_string());
        let named = match lookup {
            Lookup::Admit => values.admit(scope, &value),
            Lookup::Existing => values.is_admitted(scope, &value),
        };
        if named {
            value
        } else {
            OTHER.to_string()
        }
    }

    /// The per-day fields of a lead: leads, current stage, stages reached, step and creation-to-stage times, and
    /// its form's completion decile when it stopped before the end.
    fn day_fields(&self, lead: &Lead) -> Fields {
        let mut f = Fields::new();
        let mut add = |name: String, n: i64, ms: i64| {
            let t = f.entry(name).or_default();
            t.n += n;
            t.ms += ms;
        };
        add(field::LEADS.into(), 1, 0);
        add(field::of(field::IN, lead.stage.as_str()), 1, 0);
        let stages = self.pipeline.stages();
        for (i, stage) in stages.iter().enumerate() {
            let Some(reached) = lead.stage_reached_at.get(stage) else {
                continue;
            };
            add(field::of(field::REACHED, stage.as_str()), 1, 0);
            let since_creation = (*reached - lead.created_at).num_milliseconds();
            if since_creation > 0 {
                add(field::of(field::TIME, stage.as_str()), 1, since_creation);
            }
            if let Some(next) = stages.get(i + 1).and_then(|n| lead.stage_reached_at.get(n)) {
                let ms = (*next - *reached).num_milliseconds();
                if ms > 0 {
                    add(field::of(field::STEP, stage.as_str()), 1, ms);
                }
            }
        }
        if revenue_by_currency(lead).iter().any(|m| m.minor > 0) {
            add(field::PAYING.into(), 1, 0);
        }
        if let Some(pct) = lead.form_completion_percent.filter(|p| *p < 100.0) {
            let decile = (pct / 10.0).floor().clamp(0.0, 9.0) as u8;
            add(field::of(field::ABANDON, &decile.to_string()), 1, 0);
            if pct <= 0.0 {
                add(field::of(field::ABANDON, field::ABANDON_NEVER), 1, 0);
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::merge::{apply_manual_move, apply_postback, new_lead, Access};
    use crate::domain::postback::Postback;
    use chrono::{DateTime, Utc};
    use serde_json::json;
    use uuid::Uuid;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    fn pb(v: serde_json::Value) -> Postback {
        Postback::parse(v.to_string().as_bytes(), &Pipeline::default(), None)
            .unwrap()
            .postback
    }

    fn day(lead: &Lead) -> Option<NaiveDate> {
        Some(CounterRules::default().day_of(lead))
    }

    #[test]
    fn a_new_lead_counts_in_its_day_its_dimensions_and_all_time() {
        let r = CounterRules::default();
        let lead = new_lead(
            &pb(json!({"stage": "Form Started", "source": "Google ", "form_completion_percent": 35})),
            &r.pipeline,
            Uuid::nil(),
            t(0),
            &Access::Full,
        )
        .lead;
        let c = r.of_lead(&lead, &mut Registry::default());
        let d = all_bucket(day(&lead));
        assert_eq!(c.get(&all_bucket(None), "leads").n, 1);
        assert_eq!(c.get(&all_bucket(None), "in:Form Started").n, 1);
        assert_eq!(c.get(&d, "reached:New").n, 1);
        assert_eq!(c.get(&d, "reached:Form Started").n, 1);
        assert_eq!(c.get(&d, "reached:Paid").n, 0);
        assert_eq!(
            c.get(&d, "step:New").n,
            0,
            "skipped in one event: no step timing"
        );
        assert_eq!(c.get(&d, "abandon:3").n, 1);
        let src = value_bucket(&scope(day(&lead), "src1"), "google");
        assert_eq!(
            c.get(&src, "leads").n,
            1,
            "values are trimmed and lower-cased"
        );
        assert_eq!(
            c.get(
                &value_bucket(&scope(day(&lead), "cmp1"), NONE_VALUE),
                "leads"
            )
            .n,
            1
        );
        assert_eq!(c.get(&value_bucket("*|srcL", "google"), "leads").n, 1);
    }

    #[test]
    fn steps_and_times_follow_later_events() {
        let r = CounterRules::default();
        let mut reg = Registry::default();
        let lead = new_lead(
            &pb(json!({"stage": "Form Started"})),
            &r.pipeline,
            Uuid::nil(),
            t(0),
            &Access::Full,
        )
        .lead;
        let moved = apply_postback(
            &lead,
            &pb(json!({"stage": "Paid"})),
            &r.pipeline,
            t(90),
            &Access::Full,
        )
        .lead;
        let d = r.delta(Some(&lead), Some(&moved), &mut reg);
        let b = all_bucket(day(&lead));
        assert_eq!(d.get(&b, "in:Form Started").n, -1);
        assert_eq!(d.get(&b, "in:Paid").n, 1);
        assert_eq!(d.get(&b, "reached:Application Submitted").n, 1);
        assert_eq!(d.get(&b, "step:Form Started"), Tally { n: 1, ms: 90_000 });
        assert_eq!(d.get(&b, "time:Paid"), Tally { n: 1, ms: 90_000 });
        assert_eq!(
            d.get(&b, "leads").n,
            0,
            "unchanged counters are not in the delta"
        );
        assert_eq!(d.get(&all_bucket(None), "in:Paid").n, 1);
    }

    #[test]
    fn day_follows_the_reporting_time_zone() {
        let at = "2026-11-27T02:00:00Z".parse().unwrap();
        let lead = new_lead(
            &pb(json!({})),
            &Pipeline::default(),
            Uuid::nil(),
            at,
            &Access::Full,
        )
        .lead;
        let ny = CounterRules {
            time_zone: ReportingZone::parse("America/New_York").unwrap(),
            ..Default::default()
        };
        assert_eq!(
            CounterRules::default().day_of(&lead).to_string(),
            "2026-11-27"
        );
        assert_eq!(ny.day_of(&lead).to_string(), "2026-11-26");
    }

    #[test]
    fn deltas_add_up_to_a_recount() {
        let r = CounterRules::default();
        let p = &r.pipeline;
        let mut reg = Registry::default();
        let mut stored = Counters::default();
        let a0 = new_lead(
            &pb(json!({"source": "google", "campaign": "x"})),
            p,
            Uuid::new_v4(),
            t(0),
            &Access::Full,
        )
        .lead;
        stored.merge(&r.delta(None, Some(&a0), &mut reg));
        let b0 = new_lead(
            &pb(json!({"stage": "Paid", "form_completion_percent": 50})),
            p,
            Uuid::new_v4(),
            t(1),
            &Access::Full,
        )
        .lead;
        stored.merge(&r.delta(None, Some(&b0), &mut reg));
        let a1 = apply_postback(
            &a0,
            &pb(json!({"stage": "Application Submitted", "source": "fb"})),
            p,
            t(50),
            &Access::Full,
        )
        .lead;
        stored.merge(&r.delta(Some(&a0), Some(&a1), &mut reg));
        let a2 = apply_manual_move(&a1, &p.stage("New").unwrap(), p, t(60)).lead;
        stored.merge(&r.delta(Some(&a1), Some(&a2), &mut reg));
        let a3 = apply_postback(
            &a2,
            &pb(json!({"stage": "Completed", "form_completion_percent": 100})),
            p,
            t(70),
            &Access::Full,
        )
        .lead;
        stored.merge(&r.delta(Some(&a2), Some(&a3), &mut reg));
        assert_eq!(
            stored.clone().without_zeros(),
            r.recount([&a3, &b0], &mut Registry::default())
        );
        stored.merge(&r.delta(Some(&b0), None, &mut reg));
        assert_eq!(
            stored.without_zeros(),
            r.recount([&a3], &mut Registry::default())
        );
    }

    #[test]
    fn values_past_the_limit_count_as_other_and_stay_consistent() {
        let r = CounterRules::default();
        let mut reg = Registry::default();
        let mut stored = Counters::default();
        let mut leads = Vec::new();
        for i in 0..(MAX_VALUES_PER_DAY + 5) {
            let lead = new_lead(
                &pb(json!({"campaign": format!("c{i}")})),
                &r.pipeline,
                Uuid::new_v4(),
                t(0),
                &Access::Full,
            )
            .lead;
            stored.merge(&r.delta(None, Some(&lead), &mut reg));
            leads.push(lead);
        }
        let scope = scope(day(&leads[0]), "cmp1");
        assert_eq!(
            stored.values_in(&scope).count(),
            MAX_VALUES_PER_DAY + 1,
            "100 named values and (other)"
        );
        assert_eq!(stored.get(&value_bucket(&scope, OTHER), "leads").n, 5);
        // A lead counted under (other) leaves (other) when it changes.
        let last = leads.pop().unwrap();
        let moved = apply_postback(
            &last,
            &pb(json!({"stage": "Paid"})),
            &r.pipeline,
            t(9),
            &Access::Full,
        )
        .lead;
        stored.merge(&r.delta(Some(&last), Some(&moved), &mut reg));
        assert_eq!(stored.get(&value_bucket(&scope, OTHER), "in:New").n, 4);
        assert_eq!(stored.get(&value_bucket(&scope, OTHER), "in:Paid").n, 1);
    }

    #[test]
    fn values_are_bounded_and_safe_in_keys() {
        assert_eq!(normalise_value("  A|B\u{7}c "), "a/bc");
        assert_eq!(
            normalise_value(&"x".repeat(500)).chars().count(),
            MAX_VALUE_CHARS
        );
    }

    #[test]
    fn orders_count_on_their_own_day_and_under_the_leads_stage() {
        let r = CounterRules::default();
        let mut reg = Registry::default();
        let lead = new_lead(
            &pb(json!({"email": "m@corp.com", "source": "Google", "value": 10, "currency": "USD", "order_id": "A"})),
            &r.pipeline,
            Uuid::nil(),
            t(0),
            &Access::Full,
        )
        .lead;
        let two_days = 2 * 86_400;
        let later = apply_postback(
            &lead,
            &pb(json!({"stage": "Paid", "value": "1500", "currency": "JPY", "order_id": "B"})),
            &r.pipeline,
            t(two_days),
            &Access::Full,
        )
        .lead;
        let c = r.of_lead(&later, &mut reg);
        let d0 = r.time_zone.local_date(t(0));
        let d2 = r.time_zone.local_date(t(two_days));
        assert_eq!(
            c.get(&all_bucket(Some(d0)), "rev:USD"),
            Tally { n: 1, ms: 1000 }
        );
        assert_eq!(
            c.get(&all_bucket(Some(d2)), "rev:JPY"),
            Tally { n: 1, ms: 1500 }
        );
        assert_eq!(c.get(&all_bucket(Some(d0)), "rev:JPY"), Tally::default());
        let src = value_bucket(&scope(Some(d2), "src1"), "google");
        assert_eq!(c.get(&src, "rev:JPY").ms, 1500);
        assert_eq!(c.get(&all_bucket(Some(d0)), "paying").n, 1);
        assert_eq!(
            c.get(&all_bucket(None), "value:Paid:USD"),
            Tally { n: 1, ms: 1000 }
        );
        assert_eq!(
            c.get(&all_bucket(None), "value:Paid:JPY"),
            Tally { n: 1, ms: 1500 }
        );
        // The write's delta moves the money from the old column to the new one and adds the new order.
        let delta = r.delta(Some(&lead), Some(&later), &mut reg);
        assert_eq!(
            delta.get(&all_bucket(None), "value:New:USD"),
            Tally { n: -1, ms: -1000 }
        );
        assert_eq!(
            delta.get(&all_bucket(None), "value:Paid:USD"),
            Tally { n: 1, ms: 1000 }
        );
        assert_eq!(delta.get(&all_bucket(Some(d2)), "rev:JPY").ms, 1500);
        assert_eq!(
            delta.get(&all_bucket(Some(d0)), "rev:USD"),
            Tally::default()
        );
    }

    #[test]
    fn a_removed_order_counts_nowhere_and_a_bad_one_is_kept_apart() {
        let r = CounterRules::default();
        let mut lead = new_lead(
            &pb(json!({"email": "m@corp.com", "value": "abc", "currency": "USD"})),
            &r.pipeline,
            Uuid::nil(),
            t(0),
            &Access::Full,
        )
        .lead;
        let d0 = all_bucket(Some(r.time_zone.local_date(t(0))));
        let c = r.of_lead(&lead, &mut Registry::default());
        assert_eq!(c.get(&d0, "rev:?").n, 1);
        assert_eq!(c.get(&d0, "paying").n, 0);
        lead.orders[0].removed_at = Some(t(5));
        let c = r.of_lead(&lead, &mut Registry::default());
        assert_eq!(c.get(&d0, "rev:?").n, 0);
    }
}
