//! Recording and reading the audit log (see [`crate::domain::audit`]).
//!
//! Every change route outside the postback stream calls [`Leadpipe::audit`] after its change succeeded. The entry
//! is written after the change, never instead of it: when the audit write fails, the change stands, the failure
//! is logged at error level (action and target, never the summary), and the client still gets its answer. A
//! refused change writes no entry. Postbacks (`functions/postback`) never write entries.

use serde_json::Value;

use crate::domain::audit::{AuditAction, AuditEntry, AuditPage, AuditQuery};
use crate::domain::Actor;
use crate::service::{now, Leadpipe, ServiceError};

/// Who made a change and from where: what a change route hands the service for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedBy {
    /// The resolved caller.
    pub actor: Actor,
    /// The client's address, when known.
    pub client_ip: Option<String>,
}

impl ChangedBy {
    /// A caller from an address.
    pub fn new(actor: Actor, client_ip: Option<String>) -> Self {
        Self { actor, client_ip }
    }
}

/// One entry as the API shows it (the audit log, a person's export): the entry and its actor's label.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntryView {
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The actor's label: an email, `key:<name>` or `open` (what the `actor` filter matches).
    pub actor_label: String,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(entry: AuditEntry) -> Self {
        Self {
            actor_label: entry.actor_label(),
            entry,
        }
    }
}

impl Leadpipe {
    /// Appends an audit entry for a change `by` made, now, kept `AUDIT_RETENTION_DAYS`. Never fails: a store
    /// failure is logged (the change it records has been made already). Returns whether the entry was written.
    pub async fn audit(
        &self,
        by: &ChangedBy,
        action: AuditAction,
        target: &str,
        summary: Value,
    ) -> bool {
        // The client's address is kept as IP_ADDRESSES says (kept, truncated or dropped), as on leads.
        let client_ip = self.settings.ip_addresses.stored(by.client_ip.as_deref());
        let entry = AuditEntry::new(now(), by.actor.clone(), client_ip, action, target, summary);
        let expires = entry.expires_at(self.settings.audit_retention_days);
        match self.store.append_audit(&entry, expires).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(
                    action = entry.action.as_str(),
                    target = %entry.target,
                    error = %e,
                    "audit entry not written; the change itself was made"
                );
                false
            }
        }
    }

    /// A page of the audit log, newest first.
    pub async fn audit_log(&self, q: &AuditQuery) -> Result<AuditPage, ServiceError> {
        Ok(self.store.audit(q).await?)
    }
}
