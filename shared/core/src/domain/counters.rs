//! Analytics counters: every lead contributes a fixed set of tallies, and every write stores the difference.
//!
//! Because a lead's contribution is a pure function of its state ([`Counters::of_lead`]), the delta of any
//! write is `of_lead(after) - of_lead(before)`, and the stored counters always equal a full recount.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::lead::Lead;
use super::stage::Pipeline;

/// Source name used for leads without a first-touch source.
pub const NO_SOURCE: &str = "(none)";

/// One counter: a count and, for stage steps, the summed milliseconds the step took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// How many.
    pub n: i64,
    /// Summed duration in milliseconds (only `step#` counters use it).
    pub ms: i64,
}

/// Counter kinds, the prefix of every counter key.
pub mod kind {
    /// `stage#<stage>`: leads currently in the stage.
    pub const STAGE: &str = "stage";
    /// `reached#<stage>`: leads that reached the stage or a later one.
    pub const REACHED: &str = "reached";
    /// `step#<stage>`: leads that moved on from the stage to the next one in a later event, with the time it took.
    pub const STEP: &str = "step";
    /// `source#<source>`: leads by first-touch source.
    pub const SOURCE: &str = "source";
    /// `day#<YYYY-MM-DD>`: leads created that day, in the reporting time zone.
    pub const DAY: &str = "day";
}

/// What counters depend on besides the leads themselves: the stage order and the reporting time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterRules {
    /// Stage order (`reached#` and `step#` follow it).
    pub pipeline: Pipeline,
    /// Time zone of `day#` counters.
    pub time_zone: Tz,
}

impl Default for CounterRules {
    fn default() -> Self {
        Self { pipeline: Pipeline::default(), time_zone: Tz::UTC }
    }
}

impl CounterRules {
    /// What one lead contributes (see [`Counters::of_lead`]).
    pub fn of_lead(&self, lead: &Lead) -> Counters {
        Counters::of_lead(lead, &self.pipeline, self.time_zone)
    }

    /// The counter change of one write (see [`Counters::delta`]).
    pub fn delta(&self, before: Option<&Lead>, after: Option<&Lead>) -> Counters {
        Counters::delta(before, after, &self.pipeline, self.time_zone)
    }

    /// The counters a full recount of `leads` gives.
    pub fn recount<'a>(&self, leads: impl IntoIterator<Item = &'a Lead>) -> Counters {
        Counters::recount(leads, &self.pipeline, self.time_zone)
    }
}

/// A set of counters keyed `<kind>#<name>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters(pub BTreeMap<String, Tally>);

impl Counters {
    /// What one lead contributes to the counters.
    pub fn of_lead(lead: &Lead, pipeline: &Pipeline, tz: Tz) -> Self {
        let mut c = Self::default();
        c.add(&key(kind::STAGE, lead.stage.as_str()), 1, 0);
        let stages = pipeline.stages();
        for (i, stage) in stages.iter().enumerate() {
            let Some(reached) = lead.stage_reached_at.get(stage) else { continue };
            c.add(&key(kind::REACHED, stage.as_str()), 1, 0);
            if let Some(next) = stages.get(i + 1).and_then(|n| lead.stage_reached_at.get(n)) {
                let ms = (*next - *reached).num_milliseconds();
                if ms > 0 {
                    c.add(&key(kind::STEP, stage.as_str()), 1, ms);
                }
            }
        }
        c.add(&key(kind::SOURCE, lead.first_touch.source.as_deref().unwrap_or(NO_SOURCE)), 1, 0);
        c.add(&day_key(lead.created_at.with_timezone(&tz).date_naive()), 1, 0);
        c
    }

    /// `after - before` for one lead's write (`None` = the lead does not exist on that side); zero tallies are dropped.
    pub fn delta(before: Option<&Lead>, after: Option<&Lead>, pipeline: &Pipeline, tz: Tz) -> Self {
        let mut d = after.map(|l| Self::of_lead(l, pipeline, tz)).unwrap_or_default();
        if let Some(b) = before {
            for (k, t) in Self::of_lead(b, pipeline, tz).0 {
                d.add(&k, -t.n, -t.ms);
            }
        }
        d.0.retain(|_, t| *t != Tally::default());
        d
    }

    /// The counters a full recount of `leads` gives.
    pub fn recount<'a>(leads: impl IntoIterator<Item = &'a Lead>, pipeline: &Pipeline, tz: Tz) -> Self {
        let mut total = Self::default();
        for lead in leads {
            total.merge(&Self::of_lead(lead, pipeline, tz));
        }
        total
    }

    /// Adds `n` and `ms` to the counter `key`.
    pub fn add(&mut self, key: &str, n: i64, ms: i64) {
        let t = self.0.entry(key.to_string()).or_default();
        t.n += n;
        t.ms += ms;
    }

    /// Adds every counter of `other`.
    pub fn merge(&mut self, other: &Self) {
        for (k, t) in &other.0 {
            self.add(k, t.n, t.ms);
        }
    }

    /// Drops zero tallies (a store may keep zero rows; a recount has none).
    pub fn without_zeros(mut self) -> Self {
        self.0.retain(|_, t| *t != Tally::default());
        self
    }

    /// The tally of `key`, zero when absent.
    pub fn get(&self, key: &str) -> Tally {
        self.0.get(key).copied().unwrap_or_default()
    }

    /// `(name, tally)` of every counter of one kind.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, Tally)> + 'a {
        self.0.iter().filter_map(move |(k, t)| k.strip_prefix(kind).and_then(|r| r.strip_prefix('#')).map(|name| (name, *t)))
    }

    /// Only the `day#` counters between `from` and `to` inclusive, plus every other kind: what analytics reads.
    pub fn restricted_to_days(mut self, from: NaiveDate, to: NaiveDate) -> Self {
        let (lo, hi) = (day_key(from), day_key(to));
        self.0.retain(|k, _| !k.starts_with("day#") || (k.as_str() >= lo.as_str() && k.as_str() <= hi.as_str()));
        self
    }
}

/// The key of a counter of `kind` for `name`.
pub fn key(kind: &str, name: &str) -> String {
    format!("{kind}#{name}")
}

/// The key of the new-leads counter for a day.
pub fn day_key(day: NaiveDate) -> String {
    key(kind::DAY, &day.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::merge::{apply_manual_move, apply_postback, new_lead};
    use crate::domain::postback::Postback;
    use chrono::{DateTime, Utc};
    use serde_json::json;
    use uuid::Uuid;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    fn pb(v: serde_json::Value) -> Postback {
        Postback::parse(v.to_string().as_bytes(), &Pipeline::default()).unwrap()
    }

    #[test]
    fn a_new_lead_counts_its_stage_reach_source_and_day() {
        let p = Pipeline::default();
        let lead = new_lead(&pb(json!({"stage": "Form Started", "source": "google"})), &p, Uuid::nil(), t(0)).lead;
        let c = Counters::of_lead(&lead, &p, Tz::UTC);
        assert_eq!(c.get("stage#Form Started").n, 1);
        assert_eq!(c.get("reached#New").n, 1);
        assert_eq!(c.get("reached#Form Started").n, 1);
        assert_eq!(c.get("reached#Paid").n, 0);
        assert_eq!(c.get("step#New").n, 0, "skipped in one event: no step timing");
        assert_eq!(c.get("source#google").n, 1);
        assert_eq!(c.of_kind(kind::DAY).count(), 1);
    }

    #[test]
    fn steps_time_moves_made_in_later_events() {
        let p = Pipeline::default();
        let lead = new_lead(&pb(json!({"stage": "Form Started"})), &p, Uuid::nil(), t(0)).lead;
        let moved = apply_postback(&lead, &pb(json!({"stage": "Paid"})), &p, t(90)).lead;
        let d = Counters::delta(Some(&lead), Some(&moved), &p, Tz::UTC);
        assert_eq!(d.get("stage#Form Started").n, -1);
        assert_eq!(d.get("stage#Paid").n, 1);
        assert_eq!(d.get("reached#Application Submitted").n, 1);
        assert_eq!(d.get("step#Form Started"), Tally { n: 1, ms: 90_000 });
        assert_eq!(d.get("step#Application Submitted").n, 0);
        assert!(d.get("source#(none)").n == 0 && d.of_kind(kind::DAY).count() == 0, "unchanged counters are not in the delta");
    }

    #[test]
    fn day_follows_the_reporting_time_zone() {
        let p = Pipeline::default();
        let at = "2026-11-27T02:00:00Z".parse().unwrap();
        let lead = new_lead(&pb(json!({})), &p, Uuid::nil(), at).lead;
        assert_eq!(Counters::of_lead(&lead, &p, Tz::UTC).get("day#2026-11-27").n, 1);
        assert_eq!(Counters::of_lead(&lead, &p, chrono_tz::America::New_York).get("day#2026-11-26").n, 1);
    }

    #[test]
    fn deltas_add_up_to_a_recount() {
        let p = Pipeline::default();
        let tz = Tz::UTC;
        let mut stored = Counters::default();
        let a0 = new_lead(&pb(json!({"source": "google"})), &p, Uuid::new_v4(), t(0)).lead;
        stored.merge(&Counters::delta(None, Some(&a0), &p, tz));
        let b0 = new_lead(&pb(json!({"stage": "Paid"})), &p, Uuid::new_v4(), t(1)).lead;
        stored.merge(&Counters::delta(None, Some(&b0), &p, tz));
        let a1 = apply_postback(&a0, &pb(json!({"stage": "Application Submitted", "source": "fb"})), &p, t(50)).lead;
        stored.merge(&Counters::delta(Some(&a0), Some(&a1), &p, tz));
        let a2 = apply_manual_move(&a1, &p.stage("New").unwrap(), &p, t(60)).lead;
        stored.merge(&Counters::delta(Some(&a1), Some(&a2), &p, tz));
        let a3 = apply_postback(&a2, &pb(json!({"stage": "Completed"})), &p, t(70)).lead;
        stored.merge(&Counters::delta(Some(&a2), Some(&a3), &p, tz));
        assert_eq!(stored.clone().without_zeros(), Counters::recount([&a3, &b0], &p, tz));
        stored.merge(&Counters::delta(Some(&b0), None, &p, tz));
        assert_eq!(stored.without_zeros(), Counters::recount([&a3], &p, tz));
    }

    #[test]
    fn restricted_to_days_keeps_other_kinds() {
        let mut c = Counters::default();
        c.add("day#2026-01-01", 1, 0);
        c.add("day#2026-02-01", 1, 0);
        c.add("stage#New", 2, 0);
        let d = c.restricted_to_days("2026-01-15".parse().unwrap(), "2026-02-01".parse().unwrap());
        assert_eq!(d.0.len(), 2);
        assert_eq!(d.get("day#2026-02-01").n, 1);
    }
}
