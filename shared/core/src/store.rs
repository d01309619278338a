//! Storage: one small trait, [`LeadStore`], implemented by the DynamoDB and SQLite adapter crates, which pass one
//! shared conformance suite (`tests/src/conformance.rs`).
//!
//! Stores are deliberately dumb. A write is a [`LeadStore::change`]: the store resolves which lead a request is
//! about ([`LeadRef`]), shows it to a pure decision function ([`Decide`], built by the service from the domain
//! rules) and applies the [`Decision`] so that no other write to that lead comes in between — SQLite by running
//! the whole step on its single writer, DynamoDB optimistically (version-guarded writes, retried on conflict).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::domain::account::{Invite, InviteTake, Session, TokenHash, User};
use crate::domain::audit::{AuditEntry, AuditPage, AuditQuery};
use crate::domain::counters::{CounterQuery, Counters};
use crate::domain::merge::Applied;
use crate::domain::money::Currency;
use crate::domain::privacy::{ErasedCopies, ErasureScope};
use crate::domain::spend::{group_spend, RateRow, SpendGrouping, SpendRow};
use crate::domain::two_factor::TwoFactor;
use crate::domain::{Email, Lead, Stage, StageChange};
pub use crate::idempotency::StoredResponse;
use crate::totals::{Total, COUNT_PAGES, COUNT_PAGE_SIZE, FULL_COUNT_READS};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Concurrent writes kept winning the race for this lead through every retry.
    #[error("the lead was changed concurrently")]
    Conflict,
    /// Another lead already holds this email.
    #[error("email {0} belongs to another lead")]
    EmailTaken(Email),
    /// The store cannot be reached or is throttling beyond retries.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else; logged, never shown to clients.
    #[error("store failure: {0}")]
    Internal(String),
}

/// Which lead a write is about: the lead with `id` if it exists, else the lead holding `email`, else none (a
/// decision may then create one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadRef {
    /// Matched first.
    pub id: Option<Uuid>,
    /// Matched when there is no `id` or no lead with it.
    pub email: Option<Email>,
}

impl LeadRef {
    /// The lead with exactly this id.
    pub fn id(id: Uuid) -> Self {
        Self {
            id: Some(id),
            email: None,
        }
    }
}

/// What a decision function decided for the lead it was shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Write nothing (e.g. the lead to move does not exist).
    Nothing,
    /// Store `applied.lead` — an insert when there was no lead, else an update — with its history entry. An
    /// `applied` that is not `modified` writes nothing.
    Apply(Box<Applied>),
    /// Delete the lead with its history and email claim.
    Delete,
}

/// A pure decision: given the current lead (or `None`), what to do. Stores may call it more than once (optimistic
/// stores call it again after losing a race), so it must not have side effects.
pub type Decide = dyn Fn(Option<&Lead>) -> Decision + Send + Sync;

/// What a [`LeadStore::change`] did: the lead as it was, and the decision that was applied to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    /// The lead the decision was made on (`None`: there was none).
    pub before: Option<Lead>,
    /// The applied decision.
    pub decision: Decision,
}

/// Which leads a listing shows with respect to quarantine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QuarantineFilter {
    /// Leave quarantined leads out (what every screen but Quarantine shows).
    #[default]
    Exclude,
    /// Only quarantined leads.
    Only,
}

/// The order of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// Newest first, by creation key.
    #[default]
    Newest,
    /// Oldest first, by creation key.
    Oldest,
    /// Leads with counted orders only, highest reporting-currency revenue first ([`Lead::revenue_key`]).
    RevenueHighest,
    /// Leads with counted orders only, lowest revenue (refunds) first.
    RevenueLowest,
}

impl ListOrder {
    /// Every order, with its API name (`sort`).
    pub const ALL: [(Self, &'static str); 4] = [
        (Self::Newest, "newest"),
        (Self::Oldest, "oldest"),
        (Self::RevenueHighest, "revenue"),
        (Self::RevenueLowest, "revenue_asc"),
    ];

    /// Whether keys ascend (oldest first, lowest revenue first).
    pub fn ascending(self) -> bool {
        matches!(self, Self::Oldest | Self::RevenueLowest)
    }

    /// Whether the listing is by revenue (keys are [`Lead::revenue_key`]s, leads without orders left out).
    pub fn by_revenue(self) -> bool {
        matches!(self, Self::RevenueHighest | Self::RevenueLowest)
    }

    /// The API name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(o, _)| *o == self)
            .map_or("newest", |(_, n)| n)
    }

    /// The order with API name `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(o, _)| *o)
    }

    /// The key a lead has in a listing of this order (`None`: a revenue listing does not hold it).
    pub fn key_of(self, lead: &Lead) -> Option<String> {
        if self.by_revenue() {
            lead.revenue_key()
        } else {
            Some(lead.created_key())
        }
    }
}

/// Filters and position of a listing (newest first unless `order` says otherwise). Text filters are already
/// lower-cased.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Only leads in this stage.
    pub stage: Option<Stage>,
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
    /// Only leads that entered their current stage before this time (idle in their stage since).
    pub entered_before: Option<DateTime<Utc>>,
    /// Quarantined leads: left out (the default), or only them.
    pub quarantine: QuarantineFilter,
    /// The order.
    pub order: ListOrder,
    /// Page size.
    pub limit: usize,
    /// Continue after this listing key (a [`ListOrder::key_of`]), in the listing's order.
    pub after: Option<String>,
    /// Matching rows to skip first (page-number access).
    pub skip: usize,
}

impl ListQuery {
    /// Whether a lead passes the text filters (stores filter stage and dates through their indexes).
    pub fn matches_text_filters(
        &self,
        search_text: &str,
        source_lc: Option<&str>,
        campaign_lc: Option<&str>,
    ) -> bool {
        self.search
            .as_deref()
            .is_none_or(|s| search_text.contains(s))
            && self.source.as_deref().is_none_or(|s| source_lc == Some(s))
            && self
                .campaign
                .as_deref()
                .is_none_or(|c| campaign_lc == Some(c))
    }

    /// Whether a lead is past `after` in this listing's order (`key` is its listing key).
    pub fn is_past_cursor(&self, key: &str) -> bool {
        match &self.after {
            None => true,
            Some(after) if self.order.ascending() => key > after.as_str(),
            Some(after) => key < after.as_str(),
        }
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

/// Why a postback went to the postback log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogStatus {
    /// Refused: not JSON, not an object, too large, an unsupported content type or a bad key. Nothing was stored.
    Rejected,
    /// Looked like a bot or spam: its lead (if it made one) is quarantined, or it was not applied to a lead.
    Quarantined,
}

impl LogStatus {
    /// The status as in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Quarantined => "quarantined",
        }
    }
}

/// One postback in the postback log: what came, why it was refused or quarantined, and when.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PostbackLogEntry {
    /// Entry id.
    pub id: Uuid,
    /// When it came.
    pub at: DateTime<Utc>,
    /// Rejected or quarantined.
    pub status: LogStatus,
    /// Machine-readable reason (an error code, or a quarantine reason such as `honeypot`).
    pub reason: String,
    /// What was wrong, for people.
    pub message: String,
    /// The key tier it came with: `server`, `public`, `admin`, `none` or `invalid` (never the key itself).
    pub key: String,
    /// The client address, when known.
    pub client_ip: Option<String>,
    /// The lead it created or concerned, if any (absent from the JSON when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<Uuid>,
    /// The body as received, cut to [`POSTBACK_LOG_BODY_BYTES`] (invalid UTF-8 replaced).
    pub body: String,
    /// When the entry is deleted.
    pub expires_at: DateTime<Utc>,
}

/// Most bytes of a logged postback's body kept.
pub const POSTBACK_LOG_BODY_BYTES: usize = 2048;

/// A page of the postback log, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostbackLogPage {
    /// Entries, newest first.
    pub entries: Vec<PostbackLogEntry>,
    /// Where the next page starts, if there may be more.
    pub next_after: Option<String>,
}

/// Which part of the postback log to read.
#[derive(Debug, Clone, PartialEq)]
pub struct PostbackLogQuery {
    /// Rejected or quarantined.
    pub status: LogStatus,
    /// Page size.
    pub limit: usize,
    /// Continue after this entry key (from `next_after`).
    pub after: Option<String>,
    /// The oldest day that can hold unexpired entries (today minus `POSTBACK_LOG_DAYS`).
    pub since: chrono::NaiveDate,
}

/// One lead change as an outbox records it (the SQLite store's `lead_changes`, drained by the local webhook
/// worker): the lead before and after the write, like a DynamoDB stream record's old and new images.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadChange {
    /// Position in the outbox: increasing in commit order, never reused.
    pub seq: i64,
    /// When the change was written.
    pub at: DateTime<Utc>,
    /// The lead before the write (`None`: it was created).
    pub before: Option<Lead>,
    /// The lead after the write (`None`: it was deleted).
    pub after: Option<Lead>,
}

/// What claiming an idempotency key found (see [`crate::idempotency`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key was free (never seen, expired, or a claim whose lease ran out): this request now holds it.
    Claimed,
    /// Another request holds the key and has not stored its response yet.
    InProgress,
    /// The key's first request answered this.
    Done(StoredResponse),
}

/// What every lead store provides. All methods are safe to call concurrently.
#[async_trait]
pub trait LeadStore: Send + Sync + 'static {
    /// A lead by id, strongly consistent.
    async fn get(&self, id: Uuid) -> Result<Option<Lead>, StoreError>;
    /// The lead `target` refers to (by id, else by email), strongly consistent.
    async fn find(&self, target: &LeadRef) -> Result<Option<Lead>, StoreError>;
    /// Resolves `target`, asks `decide` and applies its decision so that no other write to that lead comes in
    /// between (see the module documentation). Errors: `EmailTaken` when the decision gives an existing lead an
    /// email another lead holds; `Conflict` when an optimistic store lost every retry.
    async fn change(&self, target: &LeadRef, decide: Arc<Decide>) -> Result<Changed, StoreError>;
    /// A lead with its stage history, oldest first.
    async fn get_with_history(
        &self,
        id: Uuid,
    ) -> Result<Option<(Lead, Vec<StageChange>)>, StoreError>;
    /// A page of leads in the listing's order.
    async fn list(&self, q: &ListQuery) -> Result<LeadPage, StoreError>;
    /// Counts the leads `q` lists (its cursor, skip and limit ignored) by paging through [`Self::list`]: at most
    /// [`COUNT_PAGES`] pages of [`COUNT_PAGE_SIZE`]. The count is exact when the listing ends within them, else a
    /// lower bound.
    async fn count(&self, q: &ListQuery) -> Result<Total, StoreError> {
        count_by_listing(self, q, COUNT_PAGES).await
    }
    /// Counts every lead `q` lists, on demand ("count all"), reading at most [`FULL_COUNT_READS`] entries: exact
    /// unless that ceiling is reached (then a lower bound). The default pages through [`Self::list`]; stores
    /// override it with a cheaper count (SQLite `count(*)`, DynamoDB `Select: COUNT` on the listing index).
    async fn count_all(&self, q: &ListQuery) -> Result<Total, StoreError> {
        count_by_listing(self, q, FULL_COUNT_READS.div_ceil(COUNT_PAGE_SIZE)).await
    }
    /// The counter buckets `query` asks for (absent buckets are simply missing: zero).
    async fn counters(&self, query: &CounterQuery) -> Result<Counters, StoreError>;
    /// Adds an entry to the postback log (kept until `expires_at`).
    async fn log_postback(&self, entry: &PostbackLogEntry) -> Result<(), StoreError>;
    /// A page of the postback log, newest first (expired entries left out).
    async fn postback_log(&self, q: &PostbackLogQuery) -> Result<PostbackLogPage, StoreError>;
    /// Stores ad spend rows, each replacing the stored row with its [`SpendRow::key`] (so storing the same rows
    /// again changes nothing). Rows are stored as given: the service normalises them first.
    async fn put_spend(&self, rows: &[SpendRow]) -> Result<(), StoreError>;
    /// Every spend row with `from` ≤ day ≤ `to`, ordered by key (day first).
    async fn spend(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<SpendRow>, StoreError>;
    /// The spend of `from..=to` summed per day, currency and `grouping`'s value, as [`group_spend`] sums
    /// [`Self::spend`] (what money views read: far fewer rows than the spend itself). Stores that can sum where
    /// the rows are (SQLite) override it.
    async fn spend_sums(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        grouping: SpendGrouping,
    ) -> Result<Vec<SpendRow>, StoreError> {
        Ok(group_spend(&self.spend(from, to).await?, grouping))
    }
    /// Removes the spend rows with these [`SpendRow::key`]s (keys that match no row are ignored).
    async fn delete_spend(&self, keys: &[String]) -> Result<(), StoreError>;
    /// Stores exchange rates, each replacing the stored rate of its day and currency.
    async fn put_rates(&self, rows: &[RateRow]) -> Result<(), StoreError>;
    /// Every stored exchange rate, ordered by currency then day.
    async fn rates(&self) -> Result<Vec<RateRow>, StoreError>;
    /// Removes the rate of `currency` from `day` (nothing when there is none).
    async fn delete_rate(&self, day: NaiveDate, currency: Currency) -> Result<(), StoreError>;
    /// Counts one new lead from `client` in the minute of `at` and returns how many this minute has now. Exact on
    /// one machine; on DynamoDB it is shared between Lambda instances once a client repeats on one of them.
    async fn count_new_lead(&self, client: &str, at: DateTime<Utc>) -> Result<u32, StoreError>;
    /// Claims an idempotency key (already scoped to its caller) with one conditional write, so that of many
    /// concurrent claims exactly one gets [`IdempotencyClaim::Claimed`]. A key is free when absent, when its
    /// `expires_at` has passed, or when it has no response and its `lease_until` has passed. The claim holds the
    /// key until `lease_until` and is kept until `expires_at`.
    async fn claim_idempotency(
        &self,
        key: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, StoreError>;
    /// Stores the response of a claimed key, kept until `expires_at`.
    async fn complete_idempotency(
        &self,
        key: &str,
        response: &StoredResponse,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Frees a claimed key that has no response (its request failed); a key with a response stays.
    async fn release_idempotency(&self, key: &str) -> Result<(), StoreError>;
    // Accounts (users, sessions, invites and the sign-in throttle; see `domain::account`).
    /// Creates an account; `EmailTaken` when another account has its email.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;
    /// An account by id.
    async fn user(&self, id: Uuid) -> Result<Option<User>, StoreError>;
    /// An account by email.
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
    /// Every account, ordered by email.
    async fn users(&self) -> Result<Vec<User>, StoreError>;
    /// Replaces an existing account's role, disabled flag and password hash (its id and email stay); `false`
    /// when there is no such account. With `keeper`, atomically only while that other account is still an
    /// active admin, else [`StoreError::Conflict`] (so two admins demoting each other cannot both succeed).
    async fn update_user(&self, user: &User, keeper: Option<Uuid>) -> Result<bool, StoreError>;
    /// Stores a new session.
    async fn create_session(&self, session: &Session) -> Result<(), StoreError>;
    /// A session by its token's hash (expired ones may still be returned: the caller checks).
    async fn session(&self, token_hash: &TokenHash) -> Result<Option<Session>, StoreError>;
    /// Records a request of a session at `at` (nothing when the session is gone).
    async fn touch_session(
        &self,
        token_hash: &TokenHash,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Ends one session (nothing when it is gone).
    async fn delete_session(&self, token_hash: &TokenHash) -> Result<(), StoreError>;
    /// Ends every session of an account.
    async fn delete_user_sessions(&self, user_id: Uuid) -> Result<(), StoreError>;
    /// Stores a new invite.
    async fn create_invite(&self, invite: &Invite) -> Result<(), StoreError>;
    /// Takes an invite once, atomically: of concurrent takes exactly one gets [`InviteTake::Taken`].
    async fn take_invite(
        &self,
        token_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<InviteTake, StoreError>;
    /// Adds one sign-in failure to `key`'s counter of throttle window `window` (kept until `expires_at`) and
    /// returns the window's count.
    async fn add_login_failure(
        &self,
        key: &str,
        window: i64,
        expires_at: DateTime<Utc>,
    ) -> Result<u32, StoreError>;
    /// The sign-in failures of `key` in throttle window `window`.
    async fn login_failures(&self, key: &str, window: i64) -> Result<u32, StoreError>;
    /// Replaces an account's two-factor state (secret, pending secret, last step, recovery code hashes);
    /// `false` when there is no such account.
    async fn set_two_factor(&self, user_id: Uuid, state: &TwoFactor) -> Result<bool, StoreError>;
    /// Records that a code of time step `step` was accepted, atomically and only when two-factor is on and
    /// `step` is later than the stored last step: of concurrent uses of one code exactly one gets `true`.
    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool, StoreError>;
    /// Removes one unused recovery code by its hash, atomically and only when two-factor is on: of concurrent
    /// uses of one code exactly one gets `true`.
    async fn use_recovery_code(&self, user_id: Uuid, hash: &str) -> Result<bool, StoreError>;
    // End of accounts.
    /// Returns once data derived from earlier writes (stage-change items, counters) reflects them. Stores that
    /// derive it in the write's own transaction return at once; DynamoDB waits for its local stream consumer
    /// when one runs in this process (in AWS the consumer is a separate Lambda: analytics lag by its batching
    /// window).
    async fn settle(&self) -> Result<(), StoreError> {
        Ok(())
    }

    // Audit log
    /// Appends an audit entry, kept until `expires_at` (never updated: the log is append-only). Writing the same
    /// entry (same id) again stores it once.
    async fn append_audit(
        &self,
        entry: &AuditEntry,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// A page of the audit log: the entries of `q`'s days that pass its filters and cursor, newest first (id
    /// descending), expired entries left out; `next_cursor` is set when there may be more.
    async fn audit(&self, q: &AuditQuery) -> Result<AuditPage, StoreError>;

    // Privacy (see `domain::privacy`).
    /// The store's privacy key (32 random bytes, created by the first caller and the same for every later one)
    /// and how many entries the suppression list has.
    async fn privacy_state(&self) -> Result<PrivacyState, StoreError>;
    /// Puts a keyed email hash ([`crate::domain::privacy::suppression_key`]) on the suppression list (again: no
    /// change).
    async fn suppress(&self, key: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Whether a keyed email hash is on the suppression list. May be eventually consistent (DynamoDB: an entry
    /// written less than about a second ago can be missed; see [`crate::privacy_service`]).
    async fn is_suppressed(&self, key: &str) -> Result<bool, StoreError>;
    /// Removes what `scope` recognises from every place beside the leads themselves: left-over stage-history
    /// entries, postback-log entries, idempotency replays, webhook deliveries (pending ones are never sent),
    /// unprocessed change records; and replaces the summary of audit entries that hold the person (see
    /// [`crate::domain::privacy::redacted_summary`]). Stores that keep freed bytes on disk overwrite them. The
    /// leads must already be deleted.
    async fn erase_copies(&self, scope: &ErasureScope) -> Result<ErasedCopies, StoreError>;
    /// What [`Self::erase_copies`] would reach that holds the person, for an access request: postback-log
    /// entries, webhook deliveries and audit entries (idempotency replays and outbox rows hold nothing a lead
    /// does not).
    async fn person_copies(&self, scope: &ErasureScope) -> Result<PersonCopies, StoreError>;
}

/// What is kept about a person beside their leads (see [`LeadStore::person_copies`]).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PersonCopies {
    /// Postback-log entries about their leads, or whose body holds them.
    pub postback_log: Vec<PostbackLogEntry>,
    /// Webhook deliveries that carried them (each a delivery as stored, with its payload).
    pub deliveries: Vec<serde_json::Value>,
    /// Audit entries about their leads or whose summary holds them.
    pub audit: Vec<AuditEntry>,
}

/// The privacy key and the size of the suppression list (see [`LeadStore::privacy_state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacyState {
    /// Key of the suppression list's HMAC.
    pub key: Vec<u8>,
    /// Entries on the suppression list.
    pub suppressions: u64,
}

/// The columns listings filter on, derived from a lead: lower-cased latest source and campaign, and search text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterColumns {
    /// Latest source, lower-cased.
    pub source_lc: Option<String>,
    /// Latest campaign, lower-cased.
    pub campaign_lc: Option<String>,
    /// What `search` matches (see [`Lead::search_text`]).
    pub search_text: String,
}

impl FilterColumns {
    /// The filter columns of `lead`.
    pub fn of(lead: &Lead) -> Self {
        Self {
            source_lc: lead.text.source.as_deref().map(str::to_lowercase),
            campaign_lc: lead.text.campaign.as_deref().map(str::to_lowercase),
            search_text: lead.search_text(),
        }
    }
}

/// Counts per client and minute, in memory (what [`LeadStore::count_new_lead`] keeps on one machine). Old minutes
/// are dropped as new ones come, so it stays small.
#[derive(Debug, Default)]
pub struct MinuteCounts(std::sync::Mutex<std::collections::HashMap<(String, i64), u32>>);

impl MinuteCounts {
    /// Adds one for `client` in the minute of `at`; returns the minute's count.
    pub fn add(&self, client: &str, at: DateTime<Utc>) -> u32 {
        let minute = at.timestamp().div_euclid(60);
        let Ok(mut counts) = self.0.lock() else {
            return 1;
        };
        if counts.len() > 10_000 {
            counts.retain(|(_, m), _| *m >= minute - 1);
        }
        let n = counts.entry((client.to_string(), minute)).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }
}

/// Counts the leads `q` lists by paging through [`LeadStore::list`], at most `pages` pages of [`COUNT_PAGE_SIZE`]:
/// exact when the listing ends within them, else a lower bound (the default of `count` and `count_all`).
async fn count_by_listing<S: LeadStore + ?Sized>(
    store: &S,
    q: &ListQuery,
    pages: usize,
) -> Result<Total, StoreError> {
    let mut q = ListQuery {
        after: None,
        skip: 0,
        limit: COUNT_PAGE_SIZE,
        ..q.clone()
    };
    let mut count = 0i64;
    for _ in 0..pages {
        let page = store.list(&q).await?;
        count += i64::try_from(page.leads.len()).unwrap_or(i64::MAX);
        match page.next_after {
            None => return Ok(Total { count, exact: true }),
            after => q.after = after,
        }
    }
    Ok(Total {
        count,
        exact: false,
    })
}
