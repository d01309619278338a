//! The dashboard's analytics, computed from counters alone (cost independent of the number of leads).

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::counters::{day_key, key, kind, Counters};
use super::stage::{Pipeline, Stage};

/// Days in the new-leads chart.
pub const CHART_DAYS: u64 = 30;
/// Sources listed in `top_sources`.
pub const TOP_SOURCES: usize = 10;

/// `GET /api/analytics`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analytics {
    /// All leads.
    pub total_leads: i64,
    /// Leads created today (reporting time zone).
    pub new_today: i64,
    /// Leads created in the last 30 days, today included.
    pub new_last_30_days: i64,
    /// The reporting time zone (IANA name).
    pub time_zone: String,
    /// When this was computed.
    pub generated_at: DateTime<Utc>,
    /// One entry per stage, pipeline order.
    pub funnel: Vec<FunnelStage>,
    /// Busiest first-touch sources.
    pub top_sources: Vec<SourceCount>,
    /// Exactly 30 days, oldest first, today last, zeros included.
    pub new_leads_by_day: Vec<DayCount>,
}

/// One stage of the funnel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelStage {
    /// The stage.
    pub stage: Stage,
    /// Leads currently in the stage.
    pub count: i64,
    /// Leads that ever reached this stage or a later one.
    pub reached: i64,
    /// `reached(next) / reached(this)`; `None` for the last stage or when nobody reached this one.
    pub conversion_to_next: Option<f64>,
    /// Average time leads took to move on to the next stage; `None` when none did.
    pub avg_seconds_to_next: Option<f64>,
}

/// Leads from one source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceCount {
    /// The first-touch source, as first written.
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

/// The first and last day (inclusive) of the chart that ends today in `tz`.
pub fn chart_window(now: DateTime<Utc>, tz: Tz) -> (NaiveDate, NaiveDate) {
    let today = now.with_timezone(&tz).date_naive();
    let first = today.checked_sub_days(Days::new(CHART_DAYS - 1)).unwrap_or(today);
    (first, today)
}

impl Analytics {
    /// Builds the analytics from stored counters.
    pub fn from_counters(counters: &Counters, pipeline: &Pipeline, tz: Tz, now: DateTime<Utc>) -> Self {
        let total_leads: i64 = counters.of_kind(kind::STAGE).map(|(_, t)| t.n).sum();
        let stages = pipeline.stages();
        let funnel = stages
            .iter()
            .enumerate()
            .map(|(i, stage)| {
                let reached = counters.get(&key(kind::REACHED, stage.as_str())).n;
                let next_reached = stages.get(i + 1).map(|n| counters.get(&key(kind::REACHED, n.as_str())).n);
                let step = counters.get(&key(kind::STEP, stage.as_str()));
                FunnelStage {
                    stage: stage.clone(),
                    count: counters.get(&key(kind::STAGE, stage.as_str())).n,
                    reached,
                    conversion_to_next: next_reached.filter(|_| reached > 0).map(|n| n as f64 / reached as f64),
                    avg_seconds_to_next: (step.n > 0).then(|| step.ms as f64 / step.n as f64 / 1000.0),
                }
            })
            .collect();
        let mut top_sources: Vec<SourceCount> = counters
            .of_kind(kind::SOURCE)
            .filter(|(_, t)| t.n > 0)
            .map(|(s, t)| SourceCount { source: s.to_string(), count: t.n })
            .collect();
        top_sources.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.source.cmp(&b.source)));
        top_sources.truncate(TOP_SOURCES);
        let (first, today) = chart_window(now, tz);
        let new_leads_by_day: Vec<DayCount> =
            first.iter_days().take_while(|d| *d <= today).map(|date| DayCount { date, count: counters.get(&day_key(date)).n }).collect();
        Self {
            total_leads,
            new_today: counters.get(&day_key(today)).n,
            new_last_30_days: new_leads_by_day.iter().map(|d| d.count).sum(),
            time_zone: tz.name().to_string(),
            generated_at: now,
            funnel,
            top_sources,
            new_leads_by_day,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_funnel_sources_and_thirty_days() {
        let mut c = Counters::default();
        for (k, n, ms) in [
            ("stage#New", 2, 0),
            ("stage#Paid", 1, 0),
            ("stage#Dropped", 1, 0),
            ("reached#New", 4, 0),
            ("reached#Form Started", 2, 0),
            ("reached#Application Submitted", 1, 0),
            ("reached#Paid", 1, 0),
            ("step#New", 2, 7_000),
            ("source#google", 3, 0),
            ("source#fb", 3, 0),
            ("source#x", 0, 0),
            ("day#2026-11-27", 2, 0),
            ("day#2026-10-29", 1, 0),
            ("day#2026-10-28", 5, 0),
        ] {
            c.add(k, n, ms);
        }
        let now = "2026-11-27T12:00:00Z".parse().unwrap();
        let a = Analytics::from_counters(&c, &Pipeline::default(), Tz::UTC, now);
        assert_eq!(a.total_leads, 4, "leads in stages no longer in the pipeline still count");
        assert_eq!(a.funnel.len(), 5);
        assert_eq!(a.funnel[0].conversion_to_next, Some(0.5));
        assert_eq!(a.funnel[0].avg_seconds_to_next, Some(3.5));
        assert_eq!(a.funnel[1].avg_seconds_to_next, None);
        assert_eq!(a.funnel[4].conversion_to_next, None, "last stage");
        assert_eq!(a.funnel[4].reached, 0);
        assert_eq!(a.top_sources.iter().map(|s| s.source.as_str()).collect::<Vec<_>>(), ["fb", "google"]);
        assert_eq!(a.new_leads_by_day.len(), 30);
        assert_eq!(a.new_leads_by_day[0].date.to_string(), "2026-10-29");
        assert_eq!(a.new_leads_by_day[29].count, 2);
        assert_eq!(a.new_today, 2);
        assert_eq!(a.new_last_30_days, 3, "2026-10-28 is outside the window");
    }
}
