//! The privacy side of [`Leadpipe`]: erasing a person (`POST /api/privacy/erasure`) and the suppression list that
//! keeps an erased email from coming back (see [`crate::domain::privacy`]).
//!
//! **Erasure, in order.** (1) With `suppress`, the email's keyed hash goes on the list first, so a postback
//! arriving from then on is refused. (2) The leads are found: by id, by email (the email index, strongly
//! consistent), by phone (search, then exact digits). (3) Each is first rewritten without its personal data, then
//! deleted: the deletion's change record (stream image, outbox row, `lead.deleted` webhook) holds no personal
//! data. (4) The store erases the copies ([`crate::store::LeadStore::erase_copies`]). (5) The email is looked up once more, so
//! a postback that was already past its suppression check when the erasure began is erased too. (6) The receipt
//! is the audit entry's summary: lead ids and counts, never the email.
//!
//! **Suppression check.** A postback with an email is checked only while the list has entries (known from
//! [`crate::store::LeadStore::privacy_state`], read at most once a minute per process, and at once by the process that
//! suppressed), with one read of the entry (on DynamoDB eventually consistent: 0.5 RRU). Step (5) waits
//! [`SUPPRESSION_SETTLE`] first, so a postback that passed its check just before the entry was written or
//! visible has landed, and is erased too. While the list is empty a process re-reads its size every
//! [`EMPTY_STATE_TTL`] (shorter than that wait), so even a deployment's first suppression is enforced by every
//! process before the last look.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::audit_service::{AuditEntryView, ChangedBy};
use crate::domain::audit::AuditAction;
use crate::domain::merge::Applied;
use crate::domain::privacy::{
    strip_personal, suppression_key, ErasedCopies, ErasureReceipt, ErasureRequest, ErasureScope,
    ANALYTICS_KEPT,
};
use crate::domain::{Email, Lead, StageChange};
use crate::service::{now, Leadpipe, ServiceError};
use crate::store::{
    Decision, LeadRef, ListQuery, PostbackLogEntry, PrivacyState, QuarantineFilter, StoreError,
};

/// How long a process trusts a non-empty suppression list's size before reading it again (only zero or not
/// matters: a non-empty list stays non-empty).
pub const PRIVACY_STATE_TTL: Duration = Duration::from_secs(60);

/// How long a process trusts an empty list (one eventually consistent read of a ~100-byte item a second per
/// process, 0.5 RRU, before any suppression exists).
pub const EMPTY_STATE_TTL: Duration = Duration::from_secs(1);

/// How long an erasure that suppresses waits before its last look for the person: longer than a postback takes
/// from its suppression check to its write, and than DynamoDB takes to make a write visible to eventually
/// consistent reads (usually well under a second).
pub const SUPPRESSION_SETTLE: Duration = Duration::from_secs(2);

/// Leads read per page while looking a phone number up.
const PHONE_PAGE: usize = 200;

/// A lead with its stage history, as an access export holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadRecord {
    /// The lead (its orders included).
    pub lead: Lead,
    /// Its stage history, oldest first.
    pub history: Vec<StageChange>,
}

/// The person's sign-in account, when their email also signs in to the dashboard (never the password hash).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountRecord {
    /// Account id.
    pub id: Uuid,
    /// Sign-in email.
    pub email: String,
    /// Role.
    pub role: String,
    /// Whether it is disabled.
    pub disabled: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// `GET /api/privacy/export`: everything held about a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonExport {
    /// When the export was made.
    pub generated_at: DateTime<Utc>,
    /// Their leads.
    pub leads: Vec<LeadRecord>,
    /// Postback-log entries about them.
    pub postback_log: Vec<PostbackLogEntry>,
    /// Webhook deliveries that carried them.
    pub webhook_deliveries: Vec<serde_json::Value>,
    /// Audit entries about them.
    pub audit: Vec<AuditEntryView>,
    /// Their dashboard account, if their email has one.
    pub account: Option<AccountRecord>,
    /// Whether their email is on the suppression list.
    pub suppressed: bool,
}

/// The privacy key and list size as last read by this process (kept [`state_ttl`]).
pub type PrivacyCache = crate::ttl_cache::TtlCache<PrivacyState>;

/// How long a process trusts the privacy state it read: short while the list is empty, longer after.
fn state_ttl(state: &PrivacyState) -> Duration {
    if state.suppressions == 0 {
        EMPTY_STATE_TTL
    } else {
        PRIVACY_STATE_TTL
    }
}

impl Leadpipe {
    async fn privacy(&self, refresh: bool) -> Result<Arc<PrivacyState>, StoreError> {
        if !refresh {
            if let Some(state) = self.privacy_cache.fresh(state_ttl) {
                return Ok(state);
            }
        }
        let state = Arc::new(self.store.privacy_state().await?);
        self.privacy_cache.keep(&state);
        Ok(state)
    }

    /// Whether `email` is on the suppression list (no read at all while the list is empty).
    pub async fn is_suppressed(&self, email: &Email) -> Result<bool, ServiceError> {
        let state = self.privacy(false).await?;
        if state.suppressions == 0 {
            return Ok(false);
        }
        Ok(self
            .store
            .is_suppressed(&suppression_key(&state.key, email))
            .await?)
    }

    /// Erases the person `request` names from every place Leadpipe keeps them, and records it in the audit log
    /// (see the module documentation). Nobody found is not an error: the receipt lists no leads.
    pub async fn erase_person(
        &self,
        request: &ErasureRequest,
        by: &ChangedBy,
    ) -> Result<ErasureReceipt, ServiceError> {
        let at = now();
        let state = self.privacy(true).await?;
        let mut suppressed = Vec::new();
        if request.suppress {
            if let Some(email) = &request.email {
                self.suppress(&state, email, &mut suppressed).await?;
            }
        }
        let found = self.find_person(request).await?;
        if request.suppress {
            for email in found.iter().filter_map(|l| l.email.as_ref()) {
                self.suppress(&state, email, &mut suppressed).await?;
            }
        }
        let mut erased: Vec<Uuid> = Vec::new();
        for lead in &found {
            if self.erase_lead(lead.id).await? {
                erased.push(lead.id);
            }
        }
        // A postback already past its suppression check when this began (or whose eventually consistent check
        // missed the new entry) may have created the person again: look once more, after that has settled.
        if !suppressed.is_empty() {
            tokio::time::sleep(SUPPRESSION_SETTLE).await;
        }
        let mut everyone = found.clone();
        for email in emails_of(request, &found) {
            let target = LeadRef {
                id: None,
                email: Some(email),
            };
            if let Some(lead) = self.store.find(&target).await? {
                if !erased.contains(&lead.id) && self.erase_lead(lead.id).await? {
                    erased.push(lead.id);
                    everyone.push(lead);
                }
            }
        }
        let scope = self.scope_of(request, &everyone);
        let copies = if scope.is_empty() {
            ErasedCopies::default()
        } else {
            self.store.erase_copies(&scope).await?
        };
        let receipt = ErasureReceipt {
            id: Uuid::now_v7(),
            at,
            leads: erased,
            copies,
            suppressed: !suppressed.is_empty(),
            analytics: ANALYTICS_KEPT,
        };
        let summary = serde_json::to_value(&receipt).unwrap_or_default();
        self.audit(
            by,
            AuditAction::PersonErased,
            &receipt.id.to_string(),
            summary,
        )
        .await;
        Ok(receipt)
    }

    /// Everything held about the person `request` names (GDPR art. 15/20): their leads with stage history and
    /// orders, and the postback-log entries, webhook deliveries and audit entries about them; their account when
    /// the email also signs in; whether the email is suppressed. Recorded in the audit log (counts only).
    pub async fn export_person(
        &self,
        request: &ErasureRequest,
        by: &ChangedBy,
    ) -> Result<PersonExport, ServiceError> {
        let found = self.find_person(request).await?;
        let mut leads = Vec::with_capacity(found.len());
        for lead in &found {
            if let Some((lead, history)) = self.store.get_with_history(lead.id).await? {
                leads.push(LeadRecord { lead, history });
            }
        }
        let scope = self.scope_of(request, &found);
        let copies = self.store.person_copies(&scope).await?;
        let emails = emails_of(request, &found);
        let mut account = None;
        let mut suppressed = false;
        for email in &emails {
            if account.is_none() {
                account = self
                    .store
                    .user_by_email(email)
                    .await?
                    .map(|u| AccountRecord {
                        id: u.id,
                        email: u.email.as_str().to_string(),
                        role: u.role.as_str().to_string(),
                        disabled: u.disabled,
                        created_at: u.created_at,
                    });
            }
            suppressed |= self.is_suppressed(email).await?;
        }
        let export = PersonExport {
            generated_at: now(),
            leads,
            postback_log: copies.postback_log,
            webhook_deliveries: copies.deliveries,
            audit: copies.audit.into_iter().map(AuditEntryView::from).collect(),
            account,
            suppressed,
        };
        let summary = serde_json::json!({
            "leads": export.leads.iter().map(|r| r.lead.id).collect::<Vec<_>>(),
            "postback_log": export.postback_log.len(),
            "webhook_deliveries": export.webhook_deliveries.len(),
            "audit": export.audit.len(),
        });
        self.audit(by, AuditAction::PersonExported, "-", summary)
            .await;
        Ok(export)
    }

    async fn suppress(
        &self,
        state: &PrivacyState,
        email: &Email,
        done: &mut Vec<String>,
    ) -> Result<(), ServiceError> {
        let key = suppression_key(&state.key, email);
        if !done.contains(&key) {
            self.store.suppress(&key, now()).await?;
            done.push(key);
            // This process checks postbacks against the list from now on (others within EMPTY_STATE_TTL).
            self.privacy_cache.keep(&Arc::new(PrivacyState {
                key: state.key.clone(),
                suppressions: state.suppressions + done.len() as u64,
            }));
        }
        Ok(())
    }

    /// The scope that recognises the copies of `request`'s person and `leads`, as far back as copies live.
    fn scope_of(&self, request: &ErasureRequest, leads: &[Lead]) -> ErasureScope {
        ErasureScope {
            postback_log_days: self.settings.postback_log_days,
            audit_days: self.settings.audit_retention_days,
            ..ErasureScope::of(request, leads)
        }
    }

    /// The leads `request` names, each once, as they are now (quarantined ones included).
    async fn find_person(&self, request: &ErasureRequest) -> Result<Vec<Lead>, ServiceError> {
        let mut found: Vec<Lead> = Vec::new();
        let mut keep = |lead: Lead| {
            if !found.iter().any(|l| l.id == lead.id) {
                found.push(lead);
            }
        };
        if let Some(id) = request.lead_id {
            if let Some(lead) = self.store.get(id).await? {
                keep(lead);
            }
        }
        if let Some(email) = &request.email {
            let target = LeadRef {
                id: None,
                email: Some(email.clone()),
            };
            if let Some(lead) = self.store.find(&target).await? {
                keep(lead);
            }
        }
        if let Some(phone) = &request.phone {
            let digits = phone.as_str();
            let tail = &digits[digits.len().saturating_sub(4)..];
            for quarantine in [QuarantineFilter::Exclude, QuarantineFilter::Only] {
                let mut q = ListQuery {
                    search: Some(tail.to_string()),
                    quarantine,
                    limit: PHONE_PAGE,
                    ..ListQuery::default()
                };
                loop {
                    let page = self.store.list(&q).await?;
                    for lead in page.leads {
                        if lead.text.phone.as_deref().is_some_and(|p| phone.matches(p)) {
                            keep(lead);
                        }
                    }
                    match page.next_after {
                        Some(after) => q.after = Some(after),
                        None => break,
                    }
                }
            }
        }
        Ok(found)
    }

    /// Rewrites the lead without its personal data, then deletes it; `false` when it was gone already.
    async fn erase_lead(&self, id: Uuid) -> Result<bool, ServiceError> {
        let strip = Arc::new(|existing: Option<&Lead>| match existing {
            Some(lead) if !crate::domain::privacy::is_stripped(lead) => {
                let mut stripped = strip_personal(lead);
                stripped.version += 1;
                Decision::Apply(Box::new(Applied {
                    lead: stripped,
                    history: None,
                    moved: false,
                    modified: true,
                    warnings: Vec::new(),
                }))
            }
            _ => Decision::Nothing,
        });
        self.change(&LeadRef::id(id), strip).await?;
        match self.delete_lead(id).await {
            Ok(_) => Ok(true),
            Err(ServiceError::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The emails a request and the leads it found name (the request's last).
fn emails_of(request: &ErasureRequest, leads: &[Lead]) -> Vec<Email> {
    leads
        .iter()
        .filter_map(|l| l.email.clone())
        .chain(request.email.clone())
        .collect()
}
