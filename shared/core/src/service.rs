//! The application core: [`Leadpipe`] ties settings, domain rules and a store together. Every HTTP handler calls
//! into it; it builds each write's pure decision from the domain rules and hands it to the store. Postbacks are
//! in [`crate::ingest`].

use crate::log_budget::{LogBudget, DEFAULT_UNAUTHENTICATED_LOGS_PER_SECOND};
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::analytics::MoneyData;
use crate::domain::analytics::{
    analytics_query, breakdown_query, values_query, Abandonment, Analytics, Breakdown, DayRange,
    ValueCounts,
};
use crate::domain::counters::{Dim, Touch};
use crate::domain::merge::{apply_manual_move, Applied};
use crate::domain::spend::{Rates, SpendGrouping, SpendRow};

use crate::domain::{Email, Lead, Stage, StageChange};
use crate::store::{Changed, Decision, LeadPage, LeadRef, LeadStore, ListQuery, StoreError};
use crate::token::TokenSealer;
use crate::totals::{CounterTotal, Total};

/// How many more store pages [`Leadpipe::list_leads`] reads when the store ended a page early, short of its limit.
pub const LIST_CONTINUATIONS: usize = 4;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No lead with that id.
    #[error("lead not found")]
    NotFound,
    /// The email belongs to another lead.
    #[error("email {0} already belongs to another lead")]
    EmailInUse(Email),
    /// Conflicts persisted through every retry.
    #[error("the lead is being changed by too many requests at once; retry shortly")]
    Contended,
    /// A postback with the same idempotency key is still being applied by another request.
    #[error("a postback with this idempotency key is still being processed; retry shortly")]
    InProgress,
    /// The store cannot be reached (or throttles beyond its retries); the detail is logged, never shown.
    #[error("the lead store is unavailable; retry shortly")]
    Unavailable(String),
    /// The store failed unexpectedly; the detail is logged, never shown.
    #[error("internal error")]
    Internal(String),
    /// An admin's order edit the lead's orders refuse (no such order; the lead holds the most orders).
    #[error(transparent)]
    OrderRefused(#[from] crate::domain::orders::OrderEditError),
    /// The postback names only a person who asked to be erased and whose email is on the suppression list.
    #[error("this person asked to be erased and their email is on the suppression list; nothing was stored")]
    Suppressed,
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::Contended,
            StoreError::EmailTaken(email) => Self::EmailInUse(email),
            StoreError::Unavailable(detail) => Self::Unavailable(detail),
            StoreError::Internal(detail) => Self::Internal(detail),
        }
    }
}

/// The application: settings plus a store. Cheap to clone (shared state for every handler).
#[derive(Clone)]
pub struct Leadpipe {
    /// The lead store.
    pub store: Arc<dyn LeadStore>,
    /// Settings read at start-up.
    pub settings: Arc<Settings>,
    /// Seals and opens the browser key's continuation tokens.
    pub tokens: Arc<TokenSealer>,
    /// How many postback-log entries nobody vouches for (no key or a wrong one with keys on, the browser key) this
    /// process writes a second.
    pub unauthenticated_logs: Arc<LogBudget>,
    /// Exchange rates as last read, for ranking leads by revenue on every write.
    pub(crate) rate_cache: Arc<crate::money_service::RateCache>,
    /// The privacy key and suppression-list size as last read.
    pub(crate) privacy_cache: Arc<crate::privacy_service::PrivacyCache>,
}

impl Leadpipe {
    /// Wraps a store and settings.
    pub fn new(store: Arc<dyn LeadStore>, settings: Settings) -> Self {
        let tokens = settings
            .api_key
            .as_deref()
            .map_or_else(TokenSealer::ephemeral, TokenSealer::from_secret);
        Self {
            store,
            settings: Arc::new(settings),
            tokens: Arc::new(tokens),
            unauthenticated_logs: Arc::new(LogBudget::new(DEFAULT_UNAUTHENTICATED_LOGS_PER_SECOND)),
            rate_cache: Arc::default(),
            privacy_cache: Arc::default(),
        }
    }

    /// Moves a lead to `stage` (any direction), recording a manual history entry. Returns the lead and whether it moved.
    pub async fn move_stage(&self, id: Uuid, stage: &Stage) -> Result<(Lead, bool), ServiceError> {
        self.move_stage_by(id, stage, None)
            .await
            .map(|(lead, moved, _)| (lead, moved))
    }

    /// [`Self::move_stage`], recording `by` (the actor's label) in the history entry. Also returns the stage the
    /// lead was in before.
    pub async fn move_stage_by(
        &self,
        id: Uuid,
        stage: &Stage,
        by: Option<String>,
    ) -> Result<(Lead, bool, Stage), ServiceError> {
        let settings = Arc::clone(&self.settings);
        let target = stage.clone();
        let decide = Arc::new(move |existing: Option<&Lead>| match existing {
            None => Decision::Nothing,
            Some(lead) => {
                let mut applied = apply_manual_move(lead, &target, &settings.pipeline, now());
                if let Some(change) = applied.history.as_mut() {
                    change.by.clone_from(&by);
                }
                Decision::Apply(Box::new(applied))
            }
        });
        let changed = self.change(&LeadRef::id(id), decide).await?;
        match (changed.decision, changed.before) {
            (Decision::Apply(applied), Some(before)) => {
                let Applied { lead, history, .. } = *applied;
                Ok((lead, history.is_some(), before.stage))
            }
            _ => Err(ServiceError::NotFound),
        }
    }

    /// Deletes a lead with its history and email claim; returns the lead as it was.
    pub async fn delete_lead(&self, id: Uuid) -> Result<Lead, ServiceError> {
        let decide = Arc::new(|existing: Option<&Lead>| {
            if existing.is_some() {
                Decision::Delete
            } else {
                Decision::Nothing
            }
        });
        match self.change(&LeadRef::id(id), decide).await? {
            Changed {
                decision: Decision::Delete,
                before: Some(before),
            } => Ok(before),
            _ => Err(ServiceError::NotFound),
        }
    }

    /// A lead and its stage history.
    pub async fn lead_with_history(
        &self,
        id: Uuid,
    ) -> Result<(Lead, Vec<StageChange>), ServiceError> {
        self.store
            .get_with_history(id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// A page of leads with the listing's total (see [`crate::totals`]): exact from counters where they allow,
    /// else the page itself when it is the whole listing, else counted within a read budget.
    pub async fn list_leads(&self, q: &ListQuery) -> Result<(LeadPage, Total), ServiceError> {
        let mut page = self.store.list(q).await?;
        // A store may end a filtered page early at its read budget (DynamoDB, past 2,000 index entries): continue
        // it a few times, so that a rare match still fills the page instead of answering an empty one.
        for _ in 0..LIST_CONTINUATIONS {
            let Some(after) = page
                .next_after
                .clone()
                .filter(|_| page.leads.len() < q.limit && q.skip == 0)
            else {
                break;
            };
            let more = self
                .store
                .list(&ListQuery {
                    after: Some(after),
                    limit: q.limit - page.leads.len(),
                    ..q.clone()
                })
                .await?;
            page.leads.extend(more.leads);
            page.next_after = more.next_after;
        }
        let tz = &self.settings.time_zone;
        if let Some(plan) = CounterTotal::plan(q, tz, tz.local_date(Utc::now())) {
            if let Some(count) = plan.total(&self.store.counters(&plan.query()).await?) {
                return Ok((page, Total { count, exact: true }));
            }
        }
        if q.after.is_none() && page.next_after.is_none() && (q.skip == 0 || !page.leads.is_empty())
        {
            let count = i64::try_from(q.skip + page.leads.len()).unwrap_or(i64::MAX);
            return Ok((page, Total { count, exact: true }));
        }
        let total = self.store.count(q).await?;
        Ok((page, total))
    }

    /// Every lead `q` lists, counted on demand ("count all"): from counters when they hold the answer, else by
    /// [`LeadStore::count_all`] (exact unless past [`crate::totals::FULL_COUNT_READS`] entries).
    pub async fn count_all_leads(&self, q: &ListQuery) -> Result<Total, ServiceError> {
        let tz = &self.settings.time_zone;
        if let Some(plan) = CounterTotal::plan(q, tz, tz.local_date(Utc::now())) {
            if let Some(count) = plan.total(&self.store.counters(&plan.query()).await?) {
                return Ok(Total { count, exact: true });
            }
        }
        Ok(self.store.count_all(q).await?)
    }

    /// The dashboard's analytics for leads created in `range` (default: the last 30 days), at `now`.
    pub async fn analytics(
        &self,
        range: Option<DayRange>,
        now: DateTime<Utc>,
    ) -> Result<Analytics, ServiceError> {
        let tz = &self.settings.time_zone;
        let range = range.unwrap_or_else(|| {
            DayRange::last_days(now, tz, crate::domain::analytics::DEFAULT_DAYS)
        });
        let counters = self
            .store
            .counters(&analytics_query(range, tz.local_date(now)))
            .await?;
        let (spend, rates) = self
            .money_data(range.previous().from, range.to, Some(SpendGrouping::Total))
            .await?;
        Ok(Analytics::from_counters(
            &counters,
            &self.settings.pipeline,
            tz,
            range,
            now,
            &MoneyData {
                spend: &spend,
                rates: &rates,
            },
        ))
    }

    /// Leads and conversions per value of `by` for leads created in `range`.
    pub async fn breakdown(
        &self,
        by: Dim,
        touch: Touch,
        range: DayRange,
    ) -> Result<Breakdown, ServiceError> {
        let counters = self
            .store
            .counters(&breakdown_query(by, touch, range))
            .await?;
        let grouping = match by {
            Dim::Source => Some(SpendGrouping::Source),
            Dim::Campaign => Some(SpendGrouping::Campaign),
            Dim::Domain => Some(SpendGrouping::Domain),
            Dim::DeviceType => None,
        };
        let (spend, rates) = self.money_data(range.from, range.to, grouping).await?;
        Ok(Breakdown::from_counters(
            &counters,
            &self.settings.pipeline,
            by,
            touch,
            range,
            &MoneyData {
                spend: &spend,
                rates: &rates,
            },
        ))
    }

    /// The spend of `from..=to` summed by `grouping` (none: no spend is read, e.g. for device types, which have
    /// none) and every exchange rate.
    async fn money_data(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        grouping: Option<SpendGrouping>,
    ) -> Result<(Vec<SpendRow>, Rates), ServiceError> {
        let spend = match grouping {
            Some(g) => self.spend_sums(from, to, g).await?,
            None => Vec::new(),
        };
        Ok((spend, self.rates().await?))
    }

    /// Form abandonment per value of `by` (latest touch) for leads created in `range`.
    pub async fn abandonment(&self, by: Dim, range: DayRange) -> Result<Abandonment, ServiceError> {
        let counters = self
            .store
            .counters(&breakdown_query(by, Touch::Latest, range))
            .await?;
        Ok(Abandonment::from_counters(&counters, by, range))
    }

    /// Every source (or campaign) the counters name, with its leads, all time (see [`ValueCounts`]).
    pub async fn value_counts(&self, by: Dim) -> Result<ValueCounts, ServiceError> {
        let counters = self.store.counters(&values_query(by)).await?;
        Ok(ValueCounts::from_counters(&counters, by))
    }

    /// The default analytics range at `now`: the last 30 days in the reporting time zone.
    pub fn default_range(&self, now: DateTime<Utc>) -> DayRange {
        DayRange::last_days(
            now,
            &self.settings.time_zone,
            crate::domain::analytics::DEFAULT_DAYS,
        )
    }
}

/// The current time at the microsecond precision that stores and listing keys keep.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
