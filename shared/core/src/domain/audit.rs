//! The audit log: who changed what, when, from where, with a small before/after summary.
//!
//! Entries are written for every change a person or a key makes outside the postback stream (postbacks never
//! write one). They are append-only through the API, kept at least [`MIN_RETENTION_DAYS`] days, and read newest
//! first, one UTC day range at a time. Ids are UUID v7, so ordering ids orders entries by time; a page's cursor is
//! the id of its last entry.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::actor::Actor;

/// The shortest retention the audit log accepts (`AUDIT_RETENTION_DAYS`), and its default.
pub const MIN_RETENTION_DAYS: u32 = 400;
/// Most bytes of an entry's summary (as JSON); a larger summary is replaced by a note saying so.
pub const MAX_SUMMARY_BYTES: usize = 1024;
/// Most bytes of any one text value inside a summary (longer values are cut, marked with `…`).
pub const MAX_SUMMARY_TEXT_BYTES: usize = 200;
/// Most bytes of a target.
pub const MAX_TARGET_BYTES: usize = 200;
/// Page size when none is asked for.
pub const DEFAULT_PAGE: usize = 50;
/// Largest page.
pub const MAX_PAGE: usize = 500;
/// Most days one query may span (each day is read shard by shard; a month keeps a page's reads bounded).
pub const MAX_QUERY_DAYS: i64 = 31;
/// Shards of each day's entries on stores that spread them (a flood of failed sign-ins makes no hot key).
pub const SHARDS: u8 = 8;

macro_rules! audit_actions {
    ($($variant:ident => $name:literal: $doc:literal),* $(,)?) => {
        /// What an audit entry records, by its stable dotted name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum AuditAction {
            $(
                #[doc = $doc]
                #[serde(rename = $name)]
                $variant,
            )*
        }

        impl AuditAction {
            /// Every action, in declaration order.
            pub const ALL: &'static [AuditAction] = &[$(Self::$variant),*];

            /// The stable dotted name (`lead.stage_moved`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// Reads a dotted name (exact, trimmed).
            pub fn parse(raw: &str) -> Option<Self> {
                match raw.trim() {
                    $($name => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

audit_actions! {
    LeadStageMoved => "lead.stage_moved": "A lead moved to another stage by hand.",
    LeadReleased => "lead.released": "A quarantined lead released.",
    LeadDeleted => "lead.deleted": "A lead deleted.",
    LeadEdited => "lead.edited": "A lead's fields edited.",
    OrderAdded => "order.added": "An order added to a lead.",
    OrderChanged => "order.changed": "An order's amount changed.",
    OrderRemoved => "order.removed": "An order removed.",
    LeadsImported => "leads.imported": "Leads imported from a file.",
    LeadsExported => "leads.exported": "Leads exported (the summary holds the filter).",
    SpendSaved => "spend.saved": "Spend rows saved.",
    SpendImported => "spend.imported": "Spend imported from a file.",
    SpendDeleted => "spend.deleted": "Spend rows deleted.",
    RatesSaved => "rates.saved": "Exchange rates saved.",
    RatesImported => "rates.imported": "Exchange rates imported from a file.",
    RateDeleted => "rate.deleted": "An exchange rate deleted.",
    WebhookCreated => "webhook.created": "A webhook created.",
    WebhookDeleted => "webhook.deleted": "A webhook deleted.",
    WebhookEnabled => "webhook.enabled": "A webhook enabled or disabled.",
    WebhookRetried => "webhook.retried": "A webhook's failed deliveries retried.",
    UserInvited => "user.invited": "A user invited.",
    UserCreated => "user.created": "An account created (an invite accepted, or the first admin).",
    UserChanged => "user.changed": "A user's role or status changed.",
    SignedIn => "auth.signed_in": "A sign-in.",
    SignInFailed => "auth.sign_in_failed": "A failed sign-in.",
    SignedOut => "auth.signed_out": "A sign-out.",
    TwoFactorSetupStarted => "auth.two_factor_setup": "Two-factor set-up started (a new secret handed out).",
    TwoFactorEnabled => "auth.two_factor_enabled": "Two-factor turned on (set-up confirmed with a code).",
    TwoFactorDisabled => "auth.two_factor_disabled": "Two-factor turned off by the account's user.",
    TwoFactorFailed => "auth.two_factor_failed": "A wrong or reused code while confirming or turning off two-factor.",
    TwoFactorReset => "user.two_factor_reset": "An admin turned a user's two-factor off.",
    KeyCreated => "key.created": "An API key created.",
    KeyRevoked => "key.revoked": "An API key revoked.",
    SettingsChanged => "settings.changed": "Settings changed.",
    PersonErased => "privacy.erased": "A person erased (the summary is the receipt: lead ids and counts, no personal data).",
    PersonExported => "privacy.exported": "Everything held about a person exported (the summary: lead ids and counts).",
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// UUID v7 from `at`: ids sort by time.
    pub id: Uuid,
    /// When the change was made.
    pub at: DateTime<Utc>,
    /// Who made it.
    pub actor: Actor,
    /// The client's address, when known.
    pub client_ip: Option<String>,
    /// What was done.
    pub action: AuditAction,
    /// What it was done to: a lead id, a webhook id, a day and currency, or `-`.
    pub target: String,
    /// A small before/after summary (at most [`MAX_SUMMARY_BYTES`]; never a raw postback body).
    pub summary: Value,
}

impl AuditEntry {
    /// A new entry at `at`, its id a UUID v7 of that time, its target and summary capped.
    pub fn new(
        at: DateTime<Utc>,
        actor: Actor,
        client_ip: Option<String>,
        action: AuditAction,
        target: &str,
        summary: Value,
    ) -> Self {
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            millis / 1000,
            u32::try_from((millis % 1000) * 1_000_000).unwrap_or(0),
        );
        Self {
            id: Uuid::new_v7(ts),
            at,
            actor,
            client_ip: client_ip.map(|ip| cut(&ip, 64)),
            action,
            target: clean_target(target),
            summary: cap_summary(summary),
        }
    }

    /// The entry's UTC day (its partition on stores that split by day).
    pub fn day(&self) -> NaiveDate {
        self.at.date_naive()
    }

    /// Which of the day's [`SHARDS`] holds the entry: from the id's random bits, so entries of one second spread.
    pub fn shard(&self) -> u8 {
        self.id.as_bytes()[15] % SHARDS
    }

    /// When the entry may be deleted: `retention_days` after it was written.
    pub fn expires_at(&self, retention_days: u32) -> DateTime<Utc> {
        self.at + Duration::days(i64::from(retention_days))
    }

    /// The actor's label (email, `key:<name>` or `open`), what the `actor` filter matches.
    pub fn actor_label(&self) -> String {
        self.actor.label()
    }
}

/// The UTC day of a UUID v7 id (its timestamp), for cursors.
pub fn day_of_id(id: Uuid) -> Option<NaiveDate> {
    if id.get_version_num() != 7 {
        return None;
    }
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos).map(|t| t.date_naive())
}

fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn clean_target(raw: &str) -> String {
    let cleaned: String = raw.trim().chars().filter(|c| !c.is_control()).collect();
    if cleaned.is_empty() {
        "-".into()
    } else {
        cut(&cleaned, MAX_TARGET_BYTES)
    }
}

fn cap_texts(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(cut(&s, MAX_SUMMARY_TEXT_BYTES)),
        Value::Array(items) => Value::Array(items.into_iter().take(20).map(cap_texts).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .take(20)
                .map(|(k, v)| (cut(&k, 64), cap_texts(v)))
                .collect(),
        ),
        other => other,
    }
}

/// A summary fit to store: long texts cut, at most 20 items per list or object, and when still larger than
/// [`MAX_SUMMARY_BYTES`] replaced by `{"truncated": true, "bytes": <its size>}`.
pub fn cap_summary(summary: Value) -> Value {
    let capped = cap_texts(summary);
    let bytes = serde_json::to_string(&capped).map_or(usize::MAX, |s| s.len());
    if bytes <= MAX_SUMMARY_BYTES {
        return capped;
    }
    let mut note = Map::new();
    note.insert("truncated".into(), Value::Bool(true));
    note.insert("bytes".into(), Value::from(bytes));
    Value::Object(note)
}

/// A bad audit query parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditQueryError {
    /// A parameter the audit log does not know.
    #[error("unknown parameter {0}; use from, to, actor, action, target, cursor and limit")]
    UnknownParameter(String),
    /// A parameter with a value that cannot be used.
    #[error("{field}: {problem}")]
    Invalid {
        /// The parameter.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

impl AuditQueryError {
    fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            problem: problem.into(),
        }
    }
}

/// Which entries to read: UTC days `from..=to`, optional exact filters, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// First UTC day.
    pub from: NaiveDate,
    /// Last UTC day (inclusive).
    pub to: NaiveDate,
    /// Only this actor's label (email lower-cased, `key:<name>`, `open`).
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only this target.
    pub target: Option<String>,
    /// Continue below this id (the last id of the previous page).
    pub cursor: Option<Uuid>,
    /// Page size.
    pub limit: usize,
}

impl AuditQuery {
    /// The last `days` days up to `today`, first page, default size.
    pub fn recent(today: NaiveDate, days: i64) -> Self {
        Self {
            from: today - Duration::days(days.saturating_sub(1)),
            to: today,
            actor: None,
            action: None,
            target: None,
            cursor: None,
            limit: DEFAULT_PAGE,
        }
    }

    /// Reads query parameters (`from`, `to` as `YYYY-MM-DD`, default the last 7 days up to `today`; `actor`,
    /// `action`, `target`, `cursor`, `limit`). Refuses unknown parameters, ranges past [`MAX_QUERY_DAYS`], a
    /// `to` before `from`, and cursors that are not an audit id.
    pub fn parse(params: &[(String, String)], today: NaiveDate) -> Result<Self, AuditQueryError> {
        let mut q = Self::recent(today, 7);
        let (mut from, mut to) = (None, None);
        for (name, value) in params {
            let value = value.trim();
            match name.as_str() {
                "from" => from = Some(day(value, "from")?),
                "to" => to = Some(day(value, "to")?),
                "actor" => q.actor = text(value, "actor")?.map(|a| a.to_lowercase()),
                "target" => q.target = text(value, "target")?,
                "action" if value.is_empty() => q.action = None,
                "action" => {
                    q.action = Some(AuditAction::parse(value).ok_or_else(|| {
                        AuditQueryError::invalid(
                            "action",
                            "not an audit action (e.g. lead.deleted)",
                        )
                    })?)
                }
                "cursor" if value.is_empty() => q.cursor = None,
                "cursor" => q.cursor = Some(cursor(value)?),
                "limit" => {
                    q.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE).contains(n))
                        .ok_or_else(|| {
                            AuditQueryError::invalid(
                                "limit",
                                format!("must be a whole number from 1 to {MAX_PAGE}"),
                            )
                        })?
                }
                other => return Err(AuditQueryError::UnknownParameter(other.into())),
            }
        }
        q.to = to.unwrap_or(today);
        q.from = from.unwrap_or(q.to - Duration::days(6));
        q.check()?;
        Ok(q)
    }

    /// Checks the day range: `from` ≤ `to`, at most [`MAX_QUERY_DAYS`] days.
    pub fn check(&self) -> Result<(), AuditQueryError> {
        if self.to < self.from {
            return Err(AuditQueryError::invalid("to", "must not be before from"));
        }
        if (self.to - self.from).num_days() >= MAX_QUERY_DAYS {
            return Err(AuditQueryError::invalid(
                "from",
                format!("a query spans at most {MAX_QUERY_DAYS} days"),
            ));
        }
        Ok(())
    }

    /// Whether an entry passes the exact filters and the cursor (stores select the days themselves).
    pub fn matches(&self, e: &AuditEntry) -> bool {
        self.action.is_none_or(|a| a == e.action)
            && self.target.as_deref().is_none_or(|t| t == e.target)
            && self
                .actor
                .as_deref()
                .is_none_or(|a| a == e.actor_label().to_lowercase())
            && self.cursor.is_none_or(|c| e.id < c)
    }

    /// The newest day to read: `to`, or the cursor's day when that is earlier.
    pub fn first_day(&self) -> NaiveDate {
        self.cursor
            .and_then(day_of_id)
            .map_or(self.to, |d| d.min(self.to))
    }
}

fn day(value: &str, field: &'static str) -> Result<NaiveDate, AuditQueryError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| AuditQueryError::invalid(field, "must be a day like 2026-12-07"))
}

fn text(value: &str, field: &'static str) -> Result<Option<String>, AuditQueryError> {
    if value.is_empty() {
        return Ok(None);
    }
    if value.len() > MAX_TARGET_BYTES || value.chars().any(char::is_control) {
        return Err(AuditQueryError::invalid(
            field,
            format!("at most {MAX_TARGET_BYTES} bytes without control characters"),
        ));
    }
    Ok(Some(value.to_string()))
}

fn cursor(value: &str) -> Result<Uuid, AuditQueryError> {
    Uuid::parse_str(value)
        .ok()
        .filter(|id| day_of_id(*id).is_some())
        .ok_or_else(|| AuditQueryError::invalid("cursor", "not a cursor from this audit log"))
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AuditPage {
    /// Entries, newest first.
    pub entries: Vec<AuditEntry>,
    /// The cursor of the next page, when there may be more.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
