//! The money side of [`Leadpipe`]: admins' order edits, the board's pipeline value, and the spend rows and
//! rates that money figures are computed with.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::domain::counters::{all_bucket, CounterQuery};
use crate::domain::merge::Applied;
use crate::domain::money_report::PipelineValue;
use crate::domain::orders::{apply_order_edit, OrderEdit};
use crate::domain::spend::{Rates, SpendGrouping, SpendRow};
use crate::domain::Lead;
use crate::service::{now, Leadpipe, ServiceError};
use crate::store::{Decision, LeadRef};

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
        let changed = self.store.change(&LeadRef::id(id), decide).await?;
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
