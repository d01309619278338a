//! The money side of [`Leadpipe`]: admins' order edits, the board's pipeline value, the spend rows and rates that
//! money figures are computed with, and the revenue rank every lead write carries.
//!
//! **Revenue rank.** Every write goes through [`Leadpipe::change`], which sets the lead's
//! [`Lead::revenue_reporting_minor`] from its orders and the rates (read at most once a minute per process), so
//! revenue listings sort across pages from an index. When rates change, [`Leadpipe::rerank_revenue`] walks the
//! ranked leads and rewrites the ones whose rank moved; `leadpipe recount` re-ranks every lead.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::domain::counters::{all_bucket, CounterQuery};
use crate::domain::merge::Applied;
use crate::domain::money_report::PipelineValue;
use crate::domain::orders::{apply_order_edit, revenue_in_reporting, OrderEdit};
use crate::domain::spend::{Rates, SpendGrouping, SpendRow};
use crate::domain::Lead;
use crate::domain::ReportingZone;
use crate::service::{now, Leadpipe, ServiceError};
use crate::store::{
    Changed, Decide, Decision, LeadRef, ListOrder, ListQuery, QuarantineFilter, StoreError,
};

/// How long a process uses the rates it read before reading them again (a change made through this process is
/// seen at once; one made through another process, e.g. another Lambda, within this time).
pub const RATE_CACHE_TTL: Duration = Duration::from_secs(60);

/// Leads read per page while re-ranking.
const RERANK_PAGE: usize = 200;

/// Exchange rates as last read by this process (kept [`RATE_CACHE_TTL`]).
pub type RateCache = crate::ttl_cache::TtlCache<Rates>;

/// Which leads [`Leadpipe::rerank_revenue`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rerank {
    /// The leads that have a rank (after a rate change): read through the revenue index.
    Ranked,
    /// Every lead (`leadpipe recount`: leads stored before ranks existed have orders but no rank).
    All,
}

/// `decision` with the revenue rank of the lead it stores set from its orders.
fn ranked(decision: Decision, rates: &Rates, zone: &ReportingZone) -> Decision {
    match decision {
        Decision::Apply(mut applied) => {
            applied.lead.revenue_reporting_minor =
                revenue_in_reporting(&applied.lead.orders, rates, zone);
            Decision::Apply(applied)
        }
        other => other,
    }
}

impl Leadpipe {
    /// Applies an admin's order edit to lead `id`; returns the lead as stored. The lead's version moves, so the
    /// change reaches counters (and the stream consumer) like any other write.
    pub async fn edit_order(&self, id: Uuid, edit: OrderEdit) -> Result<Lead, ServiceError> {
        let edit = Arc::new(edit);
        let e = Arc::clone(&edit);
        let decide = Arc::new(move |existing: Option<&Lead>| {
            let Some(lead) = existing else {
                return Decision::Nothing;
            };
            let mut next = lead.clone();
            let at = now();
            match apply_order_edit(&mut next, &e, at) {
                Ok(true) => {
                    next.version = lead.version + 1;
                    next.updated_at = at;
                    Decision::Apply(Box::new(Applied::rewritten(next)))
                }
                Ok(false) => Decision::Apply(Box::new(Applied::unchanged(next))),
                Err(_) => Decision::Nothing,
            }
        });
        let changed = self.change(&LeadRef::id(id), decide).await?;
        match (changed.decision, changed.before) {
            (Decision::Apply(applied), _) => Ok(applied.lead),
            (_, None) => Err(ServiceError::NotFound),
            (_, Some(mut lead)) => match apply_order_edit(&mut lead, &edit, now()) {
                Err(refused) => Err(ServiceError::OrderRefused(refused)),
                Ok(_) => Err(ServiceError::Internal(
                    "an order edit decided nothing".into(),
                )),
            },
        }
    }

    /// The money in each board column (leads in the stage, all time) at today's rates, and the weighted pipeline
    /// value from the configured stage probabilities.
    pub async fn pipeline_value(&self, at: DateTime<Utc>) -> Result<PipelineValue, ServiceError> {
        let mut q = CounterQuery::default();
        q.buckets.insert(all_bucket(None));
        let counters = self.store.counters(&q).await?;
        let rates = self.rates().await?;
        Ok(PipelineValue::from_fields(
            &counters.bucket(&all_bucket(None)),
            self.settings.pipeline.stages(),
            &self.settings.stage_probabilities,
            &rates,
            self.settings.time_zone.local_date(at),
        ))
    }

    /// Every exchange rate into the reporting currency.
    pub async fn rates(&self) -> Result<Rates, ServiceError> {
        Ok(Rates::new(
            self.settings.reporting_currency,
            self.store.rates().await?,
        ))
    }

    /// The rates this process last read, read again when older than [`RATE_CACHE_TTL`].
    async fn cached_rates(&self) -> Result<Arc<Rates>, StoreError> {
        if let Some(rates) = self.rate_cache.fresh(|_| RATE_CACHE_TTL) {
            return Ok(rates);
        }
        let rates = Arc::new(Rates::new(
            self.settings.reporting_currency,
            self.store.rates().await?,
        ));
        self.rate_cache.keep(&rates);
        Ok(rates)
    }

    /// [`crate::store::LeadStore::change`], with the revenue rank of the stored lead set from its orders: every
    /// write of a lead goes through here.
    pub(crate) async fn change(
        &self,
        target: &LeadRef,
        decide: Arc<Decide>,
    ) -> Result<Changed, StoreError> {
        let rates = self.cached_rates().await?;
        let zone = self.settings.time_zone.clone();
        let decide: Arc<Decide> = Arc::new(move |lead| ranked(decide(lead), &rates, &zone));
        self.store.change(target, decide).await
    }

    /// After the rates changed: reads them again and rewrites every lead (of `scope`) whose revenue rank moved.
    /// Returns how many leads it rewrote. Costs one listing read per lead of `scope` and one write per rewrite.
    pub async fn rerank_revenue(&self, scope: Rerank) -> Result<usize, StoreError> {
        self.rate_cache.forget();
        let rates = self.cached_rates().await?;
        let zone = &self.settings.time_zone;
        let mut rewritten = 0;
        for quarantine in [QuarantineFilter::Exclude, QuarantineFilter::Only] {
            let mut q = ListQuery {
                order: match scope {
                    Rerank::Ranked => ListOrder::RevenueHighest,
                    Rerank::All => ListOrder::Newest,
                },
                quarantine,
                limit: RERANK_PAGE,
                ..Default::default()
            };
            loop {
                let page = self.store.list(&q).await?;
                for lead in &page.leads {
                    let rank = revenue_in_reporting(&lead.orders, &rates, zone);
                    if rank != lead.revenue_reporting_minor && self.rewrite_rank(lead.id).await? {
                        rewritten += 1;
                    }
                }
                match page.next_after {
                    Some(after) => q.after = Some(after),
                    None => break,
                }
            }
        }
        Ok(rewritten)
    }

    /// Rewrites lead `id` so that [`Self::change`] sets its rank (nothing else changes but the version); `false`
    /// when its rank was already right or the lead is gone.
    async fn rewrite_rank(&self, id: Uuid) -> Result<bool, StoreError> {
        let rates = self.cached_rates().await?;
        let zone = self.settings.time_zone.clone();
        let decide = Arc::new(move |existing: Option<&Lead>| {
            let Some(lead) = existing else {
                return Decision::Nothing;
            };
            let mut next = lead.clone();
            next.revenue_reporting_minor = revenue_in_reporting(&next.orders, &rates, &zone);
            if next.revenue_reporting_minor == lead.revenue_reporting_minor {
                return Decision::Nothing;
            }
            next.version = lead.version + 1;
            Decision::Apply(Box::new(Applied::rewritten(next)))
        });
        let changed = self.change(&LeadRef::id(id), decide).await?;
        Ok(matches!(changed.decision, Decision::Apply(_)))
    }

    /// The spend of `from..=to` summed per day, currency and `grouping`'s value (what money figures need).
    pub async fn spend_sums(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        grouping: SpendGrouping,
    ) -> Result<Vec<SpendRow>, ServiceError> {
        Ok(self.store.spend_sums(from, to, grouping).await?)
    }
}
