//! Storage: one small trait, [`LeadStore`], with a DynamoDB and an SQLite implementation that pass one shared
//! conformance suite (`tests/src/conformance.rs`).
//!
//! Stores are deliberately dumb: they read leads and apply a prepared write atomically (the lead, its history
//! entry, its email claim and its counter deltas, all or nothing) under an optimistic version check. The rules that
//! decide what to write live in [`crate::domain`]; the retry loop lives in [`crate::service`].

pub mod dynamo;
pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::domain::counters::Counters;
use crate::domain::{Email, Lead, StageChange};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The lead changed since it was read, or the write collided with another (retryable).
    #[error("the lead was changed concurrently")]
    Conflict,
    /// Another lead already holds this email.
    #[error("email {0} belongs to another lead")]
    EmailTaken(Email),
    /// The lead does not exist.
    #[error("lead not found")]
    NotFound,
    /// The store cannot be reached or is throttling beyond retries.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else; logged, never shown to clients.
    #[error("store failure: {0}")]
    Internal(String),
}

/// A prepared write of one lead: insert when `before` is `None`, else update guarded by `before.version`.
#[derive(Debug, Clone, Copy)]
pub struct LeadWrite<'a> {
    /// The lead as read (its version guards the update), `None` to insert.
    pub before: Option<&'a Lead>,
    /// The lead to store.
    pub after: &'a Lead,
    /// The stage history entry to append, if the stage changed.
    pub history: Option<&'a StageChange>,
    /// Counter deltas to apply in the same atomic write.
    pub counters: &'a Counters,
}

/// A prepared delete: the lead as read (its version guards the delete) and the counter deltas that remove it.
#[derive(Debug, Clone, Copy)]
pub struct LeadDelete<'a> {
    /// The lead as read.
    pub lead: &'a Lead,
    /// Counter deltas to apply in the same atomic write.
    pub counters: &'a Counters,
}

/// Filters and position of a newest-first listing. Text filters are already lower-cased.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Canonical stage name.
    pub stage: Option<String>,
    /// Substring of name, email, phone or company (lower-case).
    pub search: Option<String>,
    /// Exact latest source (lower-case).
    pub source: Option<String>,
    /// Exact latest campaign (lower-case).
    pub campaign: Option<String>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created strictly before.
    pub created_before: Option<DateTime<Utc>>,
    /// Page size.
    pub limit: usize,
    /// Continue after this listing key (a [`Lead::created_key`]).
    pub after: Option<String>,
    /// Matching rows to skip first (page-number access).
    pub skip: usize,
}

impl ListQuery {
    /// Whether a row passes the text filters (the index handles stage and dates).
    pub fn matches_text_filters(&self, search_text: &str, source_lc: Option<&str>, campaign_lc: Option<&str>) -> bool {
        self.search.as_deref().is_none_or(|s| search_text.contains(s))
            && self.source.as_deref().is_none_or(|s| source_lc == Some(s))
            && self.campaign.as_deref().is_none_or(|c| campaign_lc == Some(c))
    }

    /// True when only the stage (or nothing) filters, so the total is known from counters.
    pub fn total_from_counters(&self) -> bool {
        self.search.is_none()
            && self.source.is_none()
            && self.campaign.is_none()
            && self.created_from.is_none()
            && self.created_before.is_none()
    }
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadPage {
    /// Newest first.
    pub leads: Vec<Lead>,
    /// Where the next page starts, if there may be more rows.
    pub next_after: Option<String>,
}

/// What every lead store provides. All methods are safe to call concurrently.
#[async_trait]
pub trait LeadStore: Send + Sync + 'static {
    /// A lead by id, strongly consistent.
    async fn get(&self, id: Uuid) -> Result<Option<Lead>, StoreError>;
    /// The lead holding `email`. With `consistent: false` the answer may be stale (DynamoDB reads the email GSI);
    /// writes are version-guarded, so a stale answer only costs a retry.
    async fn find_by_email(&self, email: &Email, consistent: bool) -> Result<Option<Lead>, StoreError>;
    /// Applies a prepared write atomically. Errors: `Conflict` (retry), `EmailTaken`.
    async fn write(&self, w: LeadWrite<'_>) -> Result<(), StoreError>;
    /// Deletes a lead, its history and its email claim, and applies the counter deltas. Errors: `Conflict`, `NotFound`.
    async fn delete(&self, d: LeadDelete<'_>) -> Result<(), StoreError>;
    /// A lead with its stage history, oldest first.
    async fn get_with_history(&self, id: Uuid) -> Result<Option<(Lead, Vec<StageChange>)>, StoreError>;
    /// A newest-first page of leads.
    async fn list(&self, q: &ListQuery) -> Result<LeadPage, StoreError>;
    /// All counters, with `day#` counters only from `days.0` to `days.1` inclusive.
    async fn counters(&self, days: (NaiveDate, NaiveDate)) -> Result<Counters, StoreError>;
    /// Only the `stage#` counters (what a listing's total needs).
    async fn stage_counters(&self) -> Result<Counters, StoreError> {
        let today = chrono::Utc::now().date_naive();
        let mut all = self.counters((today, today)).await?;
        let prefix = crate::domain::counters::key(crate::domain::counters::kind::STAGE, "");
        all.0.retain(|k, _| k.starts_with(&prefix));
        Ok(all)
    }
}

/// Lower-cased latest source, campaign and search text of a lead: what listings filter on.
pub(crate) fn filter_columns(lead: &Lead) -> (Option<String>, Option<String>, String) {
    (lead.text.source.as_deref().map(str::to_lowercase), lead.text.campaign.as_deref().map(str::to_lowercase), lead.search_text())
}
