//! The application core: [`Leadpipe`] ties settings, domain rules and a store together, with bounded retries
//! (exponential backoff, full jitter) on optimistic-concurrency conflicts. Every HTTP handler calls into it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::analytics::{chart_window, Analytics};
use crate::domain::counters::{key, kind, Counters};
use crate::domain::merge::{apply_manual_move, apply_postback, new_lead, Applied};
use crate::domain::{Email, Lead, Postback, StageChange, ValidationError};
use crate::store::{LeadDelete, LeadPage, LeadStore, LeadWrite, ListQuery, StoreError};

/// Attempts per operation before giving up with [`ServiceError::Contended`] (about 5 s of backoff in all).
pub const MAX_ATTEMPTS: u32 = 50;
/// Longest single backoff sleep, in milliseconds.
const MAX_BACKOFF_MS: u64 = 200;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Bad client input.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No lead with that id.
    #[error("lead not found")]
    NotFound,
    /// The email belongs to another lead.
    #[error("email {0} already belongs to another lead")]
    EmailInUse(Email),
    /// Conflicts persisted through every retry.
    #[error("the lead is being changed by too many requests at once; retry shortly")]
    Contended,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::EmailTaken(email) => Self::EmailInUse(email),
            other => Self::Store(other),
        }
    }
}

/// What a postback did, as answered to the landing page (never the stored lead).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostbackOutcome {
    /// The lead's id; send it back as `lead_id` on later postbacks.
    pub lead_id: Uuid,
    /// True when this postback created the lead.
    pub created: bool,
    /// The lead's stage after the postback.
    pub stage: String,
    /// Whether the stage changed.
    pub stage_changed: bool,
}

/// The application: settings plus a store. Cheap to clone (shared state for every handler).
#[derive(Clone)]
pub struct Leadpipe {
    /// The lead store.
    pub store: Arc<dyn LeadStore>,
    /// Settings read at start-up.
    pub settings: Arc<Settings>,
}

impl Leadpipe {
    /// Wraps a store and settings.
    pub fn new(store: Arc<dyn LeadStore>, settings: Settings) -> Self {
        Self { store, settings: Arc::new(settings) }
    }

    /// Creates or updates the lead a postback refers to: by `lead_id`, else by email, else a new lead.
    pub async fn ingest_postback(&self, pb: &Postback) -> Result<PostbackOutcome, ServiceError> {
        let pipeline = &self.settings.pipeline;
        for attempt in 0..MAX_ATTEMPTS {
            backoff(attempt).await;
            let now = now();
            let existing = match pb.lead_id {
                Some(id) => self.store.get(id).await?,
                None => None,
            };
            let existing = match (existing, &pb.email) {
                (Some(lead), _) => Some(lead),
                (None, Some(email)) => self.store.find_by_email(email, attempt > 0).await?,
                (None, None) => None,
            };
            let (applied, before) = match &existing {
                None => (new_lead(pb, pipeline, Uuid::new_v4(), now)?, None),
                Some(lead) => (apply_postback(lead, pb, pipeline, now)?, Some(lead)),
            };
            let outcome = PostbackOutcome {
                lead_id: applied.lead.id,
                created: before.is_none(),
                stage: applied.lead.stage.clone(),
                stage_changed: applied.stage_changed(),
            };
            if !applied.modified {
                return Ok(outcome);
            }
            match self.save(before, &applied).await {
                Ok(()) => return Ok(outcome),
                Err(StoreError::Conflict) => continue,
                // A concurrent first postback claimed the email: the next attempt finds and updates that lead.
                Err(StoreError::EmailTaken(_)) if before.is_none() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Contended)
    }

    /// Moves a lead to `stage` (any direction), recording a manual history entry. Returns the lead and whether it moved.
    pub async fn move_stage(&self, id: Uuid, stage: &str) -> Result<(Lead, bool), ServiceError> {
        let pipeline = &self.settings.pipeline;
        let target = pipeline
            .canonical(stage)
            .map_err(|e| ValidationError { code: "unknown_stage", message: e.to_string(), field: Some("stage".into()) })?
            .to_string();
        for attempt in 0..MAX_ATTEMPTS {
            backoff(attempt).await;
            let lead = self.store.get(id).await?.ok_or(ServiceError::NotFound)?;
            let applied = apply_manual_move(&lead, &target, pipeline, now());
            if !applied.modified {
                return Ok((lead, false));
            }
            match self.save(Some(&lead), &applied).await {
                Ok(()) => return Ok((applied.lead, true)),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Contended)
    }

    /// Deletes a lead with its history and email claim, keeping the counters exact.
    pub async fn delete_lead(&self, id: Uuid) -> Result<(), ServiceError> {
        for attempt in 0..MAX_ATTEMPTS {
            backoff(attempt).await;
            let lead = self.store.get(id).await?.ok_or(ServiceError::NotFound)?;
            let counters = Counters::delta(Some(&lead), None, &self.settings.pipeline, self.settings.time_zone);
            match self.store.delete(LeadDelete { lead: &lead, counters: &counters }).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Contended)
    }

    /// A lead and its stage history.
    pub async fn lead_with_history(&self, id: Uuid) -> Result<(Lead, Vec<StageChange>), ServiceError> {
        self.store.get_with_history(id).await?.ok_or(ServiceError::NotFound)
    }

    /// A page of leads, with the total when counters know it cheaply.
    pub async fn list_leads(&self, q: &ListQuery) -> Result<(LeadPage, Option<i64>), ServiceError> {
        let page = self.store.list(q).await?;
        let total = if q.total_from_counters() {
            let stages = self.store.stage_counters().await?;
            Some(match &q.stage {
                Some(stage) => stages.get(&key(kind::STAGE, stage)).n,
                None => stages.of_kind(kind::STAGE).map(|(_, t)| t.n).sum(),
            })
        } else {
            None
        };
        Ok((page, total))
    }

    /// The dashboard's analytics at `now`.
    pub async fn analytics(&self, now: DateTime<Utc>) -> Result<Analytics, ServiceError> {
        let tz = self.settings.time_zone;
        let counters = self.store.counters(chart_window(now, tz)).await?;
        Ok(Analytics::from_counters(&counters, &self.settings.pipeline, tz, now))
    }

    async fn save(&self, before: Option<&Lead>, applied: &Applied) -> Result<(), StoreError> {
        let counters = Counters::delta(before, Some(&applied.lead), &self.settings.pipeline, self.settings.time_zone);
        self.store.write(LeadWrite { before, after: &applied.lead, history: applied.history.as_ref(), counters: &counters }).await
    }
}

/// The current time at the microsecond precision that stores and listing keys keep.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Sleeps before a retry: nothing before the first attempt, then exponential backoff with full jitter (capped).
async fn backoff(attempt: u32) {
    if attempt == 0 {
        return;
    }
    let cap_ms = (5u64 << attempt.min(6)).min(MAX_BACKOFF_MS);
    tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=cap_ms))).await;
}
