//! # leadpipe-sqlite
//!
//! The embedded store: [`SqliteStore`] implements [`leadpipe_core::store::LeadStore`] on SQLite (bundled) in WAL
//! mode, blocking work off the runtime.
//!
//! Writes go through one writing connection with group commit: a change queued while a transaction commits joins
//! the next one, where each change runs in its own savepoint (it succeeds or fails alone, as if alone) and every
//! caller is answered after that transaction committed. A change reads the lead, runs its decision and writes the
//! result all on the writer, so writes to one lead are applied in turn: there are no version conflicts to retry. One commit then serves many concurrent postbacks.
//! Reads of a file database use their own connections (WAL readers do not wait for the writer); an in-memory
//! database has only the one connection. Statements are prepared once per connection (cached). WAL checkpoints
//! run on a background thread instead of inside a commit (see [`Checkpointer`]).
//!
//! Tables: `leads` (the lead as JSON plus the columns listings filter on), `history` (cascade-deleted with its
//! lead) and `counters` (updated in the same transaction as the lead). The unique index on `leads.email` is the
//! email claim.
//!
//! Ad spend and exchange rates: `spend` and `rates` (see `spend.rs`). Accounts: `users`, `sessions`, `invites`
//! and `login_failures` (see `accounts.rs`).
//!
//! Webhooks ([`leadpipe_webhooks::WebhookStore`], in [`webhooks`]): `webhooks` and `deliveries`, and the lead-change
//! outbox `lead_changes`: while at least one enabled webhook exists, every lead write also records the lead's
//! before and after images there, in the write's own transaction, for the local webhook worker to drain
//! ([`SqliteStore::lead_changes`], [`SqliteStore::ack_lead_changes`]). With no enabled webhook nothing is recorded.
#![warn(missing_docs)]

mod accounts;
mod audit;
mod privacy;
mod spend;
mod two_factor;
pub mod webhooks;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension};
use uuid::Uuid;

use leadpipe_core::domain::account::{Invite, InviteTake, Session, TokenHash, User};
use leadpipe_core::domain::counters::{
    all_bucket, field, split_bucket, value_limit, CounterQuery, CounterRules, Counters,
    ValueAdmission,
};
use leadpipe_core::domain::lead::key_time;
use leadpipe_core::domain::two_factor::TwoFactor;
use leadpipe_core::domain::{Email, Lead, StageChange};
use leadpipe_core::store::{
    Changed, Decide, Decision, FilterColumns, IdempotencyClaim, LeadChange, LeadPage, LeadRef,
    LeadStore, ListQuery, MinuteCounts, PostbackLogEntry, PostbackLogPage, PostbackLogQuery,
    QuarantineFilter, StoreError, StoredResponse,
};
use leadpipe_core::totals::{Total, COUNT_BUDGET};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS leads (
    id          TEXT PRIMARY KEY,
    email       TEXT UNIQUE,
    stage       TEXT NOT NULL,
    created_key TEXT NOT NULL,
    source_lc   TEXT,
    campaign_lc TEXT,
    search_text TEXT NOT NULL,
    version     INTEGER NOT NULL,
    data        TEXT NOT NULL,
    stage_entered TEXT NOT NULL DEFAULT '',
    quarantined INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS leads_by_created ON leads (created_key);
CREATE INDEX IF NOT EXISTS leads_by_stage ON leads (stage, created_key);
CREATE TABLE IF NOT EXISTS history (
    lead_id TEXT NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    data    TEXT NOT NULL,
    PRIMARY KEY (lead_id, seq)
);
CREATE TABLE IF NOT EXISTS counter_fields (
    bucket TEXT NOT NULL,
    field  TEXT NOT NULL,
    n      INTEGER NOT NULL,
    ms     INTEGER NOT NULL,
    PRIMARY KEY (bucket, field)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS postback_log (
    key     TEXT PRIMARY KEY,
    status  TEXT NOT NULL,
    expires TEXT NOT NULL,
    data    TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS postback_log_by_status ON postback_log (status, key);
CREATE TABLE IF NOT EXISTS idempotency (
    key         TEXT PRIMARY KEY,
    lease_until TEXT NOT NULL,
    expires     TEXT NOT NULL,
    response    TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_by_expiry ON idempotency (expires);
CREATE TABLE IF NOT EXISTS counter_values (
    scope TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, value)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS webhooks (
    id          TEXT PRIMARY KEY,
    created_key TEXT NOT NULL,
    enabled     INTEGER NOT NULL,
    data        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id          TEXT PRIMARY KEY,
    webhook_id  TEXT NOT NULL,
    list_key    TEXT NOT NULL,
    due         TEXT,
    data        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_by_webhook ON deliveries (webhook_id, list_key);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (due, id) WHERE due IS NOT NULL;
-- Substring search (`search`): a trigram index over leads.search_text, kept in step by triggers. It only narrows
-- the candidates; `instr` on search_text still decides, so matching is exactly the in-memory rule.
-- (The index is keyed by the leads' implicit rowid, which only VACUUM renumbers; after a VACUUM, run
-- INSERT INTO leads_search(leads_search) VALUES ('rebuild').)
CREATE VIRTUAL TABLE IF NOT EXISTS leads_search USING fts5(search_text, content = 'leads', tokenize = 'trigram');
CREATE TRIGGER IF NOT EXISTS leads_search_insert AFTER INSERT ON leads BEGIN
    INSERT INTO leads_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER IF NOT EXISTS leads_search_delete AFTER DELETE ON leads BEGIN
    INSERT INTO leads_search (leads_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER IF NOT EXISTS leads_search_update AFTER UPDATE OF search_text ON leads
WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT INTO leads_search (leads_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO leads_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TABLE IF NOT EXISTS lead_changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT
);
"#;

/// The SQLite lead store.
#[derive(Clone)]
pub struct SqliteStore {
    /// The writing connection (also the only connection of an in-memory database).
    conn: Arc<Mutex<Connection>>,
    /// Read connections of a file database (WAL lets them read while the writer writes); `None` in memory.
    readers: Option<Arc<Readers>>,
    /// Writes waiting for the next group commit.
    queue: Arc<Mutex<WriteQueue>>,
    /// Background WAL checkpoints of a file database; `None` in memory.
    checkpoints: Option<Arc<Checkpointer>>,
    /// Stage order and time zone that counters follow.
    rules: Arc<CounterRules>,
    /// New leads per client and minute (this process is the only writer).
    new_leads: Arc<MinuteCounts>,
    /// Whether an enabled webhook exists: lead writes record their change in `lead_changes` only then. Read and
    /// set only while holding the writing connection, so a write sees the webhooks committed before it.
    webhooks_on: Arc<AtomicBool>,
}

/// Least time between two background checkpoints.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(20);
/// WAL size (pages) at which the writer checkpoints by itself, should background checkpoints fall behind.
const WRITER_AUTOCHECKPOINT_PAGES: u32 = 10_000;

/// Runs `PRAGMA wal_checkpoint(PASSIVE)` on its own connection and thread, at most every [`CHECKPOINT_EVERY`],
/// after commits: the copy into the database file and its fsync then no longer stall the writer (SQLite's
/// automatic checkpoint runs inside the commit that crosses the threshold). Durability is unchanged: with
/// `synchronous=NORMAL` in WAL mode, commits never waited for an fsync; checkpoints still fsync the database.
struct Checkpointer {
    path: std::path::PathBuf,
    running: std::sync::atomic::AtomicBool,
    last: Mutex<std::time::Instant>,
    conn: Mutex<Option<Connection>>,
}

impl Checkpointer {
    fn after_commit(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.running.load(Ordering::Acquire)
            || self
                .last
                .lock()
                .map_or(true, |l| l.elapsed() < CHECKPOINT_EVERY)
        {
            return;
        }
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                if let Ok(mut slot) = me.conn.lock() {
                    if slot.is_none() {
                        *slot = Connection::open(&me.path).ok();
                    }
                    if let Some(c) = slot.as_ref() {
                        let _ = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    }
                }
                if let Ok(mut l) = me.last.lock() {
                    *l = std::time::Instant::now();
                }
                me.running.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.running.store(false, Ordering::Release);
        }
    }
}

/// Most writes committed together in one transaction.
const MAX_GROUP: usize = 256;
/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 4;

/// A change, run on the writer inside the group transaction (in its own savepoint).
type WriteJob = Box<dyn FnOnce(&Connection) -> Result<Changed, StoreError> + Send>;

struct Pending {
    job: WriteJob,
    done: tokio::sync::oneshot::Sender<Result<Changed, StoreError>>,
}

#[derive(Default)]
struct WriteQueue {
    jobs: Vec<Pending>,
    /// Whether a committer task is draining the queue.
    active: bool,
}

struct Readers {
    path: std::path::PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(c) = self.idle.lock().map_err(|_| poisoned())?.pop() {
            return Ok(c);
        }
        let c = Connection::open(&self.path).map_err(internal)?;
        c.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(internal)?;
        Ok(c)
    }

    fn give_back(&self, c: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE_READERS {
                idle.push(c);
            }
        }
    }
}

fn poisoned() -> StoreError {
    StoreError::Internal("sqlite connection mutex poisoned".into())
}

impl SqliteStore {
    /// Counts what `q` lists in SQL, stopping past `budget` (then a lower bound).
    async fn count_up_to(&self, q: &ListQuery, budget: usize) -> Result<Total, StoreError> {
        let q = ListQuery {
            after: None,
            skip: 0,
            ..q.clone()
        };
        self.read(move |c| {
            let (filter, args) = list_filter(&q, search_plan(c, &q)?);
            let sql = format!(
                "SELECT count(*) FROM (SELECT 1 FROM leads WHERE {filter} LIMIT ?{})",
                args.len() + 1
            );
            let budget = i64::try_from(budget).unwrap_or(i64::MAX);
            let limit = budget.saturating_add(1);
            let params = args
                .iter()
                .map(|a| a.as_ref())
                .chain([&limit as &dyn rusqlite::ToSql]);
            let found: i64 = c
                .prepare_cached(&sql)
                .and_then(|mut st| st.query_row(rusqlite::params_from_iter(params), |r| r.get(0)))
                .map_err(internal)?;
            Ok(Total {
                count: found.min(budget),
                exact: found <= budget,
            })
        })
        .await
    }

    /// Opens (creating when missing) the database at `path`; counters follow `rules`.
    pub fn open(path: &Path, rules: CounterRules) -> Result<Self, StoreError> {
        let mut store = Self::init(Connection::open(path).map_err(internal)?, rules)?;
        store.readers = Some(Arc::new(Readers {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        }));
        store
            .conn
            .lock()
            .map_err(|_| poisoned())?
            .pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)
            .map_err(internal)?;
        store.checkpoints = Some(Arc::new(Checkpointer {
            path: path.to_path_buf(),
            running: Default::default(),
            last: Mutex::new(std::time::Instant::now()),
            conn: Mutex::new(None),
        }));
        Ok(store)
    }

    /// A private in-memory database (for tests and throwaway runs).
    pub fn in_memory(rules: CounterRules) -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(internal)?, rules)
    }

    fn init(conn: Connection, rules: CounterRules) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(internal)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(internal)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(internal)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(internal)?;
        // New tables (webhooks, deliveries, lead_changes) are created by `CREATE TABLE IF NOT EXISTS` on older
        // databases too: they need no migration of existing rows.
        let search_indexed = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'leads_search'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(internal)?
            > 0;
        conn.execute_batch(SCHEMA).map_err(internal)?;
        conn.execute_batch(spend::SCHEMA).map_err(internal)?;
        conn.execute_batch(accounts::SCHEMA).map_err(internal)?;
        two_factor::add_columns(&conn)?;
        conn.execute_batch(audit::SCHEMA).map_err(internal)?;
        conn.execute_batch(privacy::SCHEMA).map_err(internal)?;
        add_revenue_key(&conn)?;
        privacy::secure_deletes(&conn)?;
        if !search_indexed {
            // A database from before the search index: index the leads it already holds.
            conn.execute_batch("INSERT INTO leads_search (leads_search) VALUES ('rebuild')")
                .map_err(internal)?;
        }
        let webhooks_on = webhooks::any_enabled(&conn)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(internal)?;
        if version < SCHEMA_VERSION {
            // Version 1 kept flat `<kind>#<name>` counters and fewer listing columns: add the columns, fill
            // them in, and rebuild the counters from the leads themselves.
            conn.execute_batch("DROP TABLE IF EXISTS counters")
                .map_err(internal)?;
            add_missing_columns(&conn)?;
            recount_in(&conn, &rules)?;
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(internal)?;
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            readers: None,
            queue: Arc::default(),
            checkpoints: None,
            rules: Arc::new(rules),
            new_leads: Arc::default(),
            webhooks_on: Arc::new(AtomicBool::new(webhooks_on)),
        })
    }

    /// Up to `limit` recorded lead changes, oldest first (they stay until [`Self::ack_lead_changes`]).
    pub async fn lead_changes(&self, limit: usize) -> Result<Vec<LeadChange>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            let mut st =
                c.prepare_cached("SELECT seq, at, before_json, after_json FROM lead_changes ORDER BY seq LIMIT ?1").map_err(internal)?;
            let rows = st
                .query_map([limit], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, Option<String>>(3)?))
                })
                .map_err(internal)?;
            rows.map(|row| {
                let (seq, at, before, after) = row.map_err(internal)?;
                let at = chrono::DateTime::parse_from_rfc3339(&at)
                    .map_err(|e| StoreError::Internal(format!("stored change time does not parse: {e}")))?
                    .with_timezone(&chrono::Utc);
                Ok(LeadChange {
                    seq,
                    at,
                    before: before.as_deref().map(decode).transpose()?,
                    after: after.as_deref().map(decode).transpose()?,
                })
            })
            .collect()
        })
        .await
    }

    /// Forgets every recorded lead change up to and including `up_to_seq` (once they are handled).
    pub async fn ack_lead_changes(&self, up_to_seq: i64) -> Result<(), StoreError> {
        self.with_conn(move |c| {
            c.prepare_cached("DELETE FROM lead_changes WHERE seq <= ?1")
                .and_then(|mut st| st.execute([up_to_seq]))
                .map_err(internal)?;
            Ok(())
        })
        .await
    }

    /// Rebuilds every counter from the stored leads (for repair, and after changing `PIPELINE_STAGES` or
    /// `REPORTING_TIMEZONE`), in one transaction; returns how many leads were counted.
    pub async fn recount(&self) -> Result<usize, StoreError> {
        let rules = Arc::clone(&self.rules);
        self.with_conn(move |c| {
            c.execute_batch("BEGIN IMMEDIATE").map_err(internal)?;
            match recount_in(c, &rules) {
                Ok(n) => c.execute_batch("COMMIT").map(|_| n).map_err(internal),
                Err(e) => {
                    let _ = c.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        })
        .await
    }

    /// Runs `f` with the writing connection on the blocking pool.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| poisoned())?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("sqlite task failed: {e}")))?
    }

    /// Runs a read on the blocking pool: on a read connection of a file database, else on the only connection.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let Some(readers) = self.readers.clone() else {
            return self.with_conn(move |c| f(c)).await;
        };
        tokio::task::spawn_blocking(move || {
            let conn = readers.take()?;
            let result = f(&conn);
            readers.give_back(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Internal(format!("sqlite task failed: {e}")))?
    }

    /// Runs a change with group commit: changes arriving while a transaction commits are queued and then run
    /// together in the next transaction, each in its own savepoint (so each fails or succeeds on its own,
    /// exactly as alone), and every caller is answered only after that transaction committed.
    async fn write_job(&self, job: WriteJob) -> Result<Changed, StoreError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let start = {
            let mut q = self.queue.lock().map_err(|_| poisoned())?;
            q.jobs.push(Pending { job, done });
            !std::mem::replace(&mut q.active, true)
        };
        if start {
            let (conn, queue, checkpoints) = (
                Arc::clone(&self.conn),
                Arc::clone(&self.queue),
                self.checkpoints.clone(),
            );
            tokio::task::spawn_blocking(move || commit_groups(&conn, &queue, checkpoints.as_ref()));
        }
        answer
            .await
            .map_err(|_| StoreError::Internal("sqlite write task failed".into()))?
    }

    /// Runs SQLite's integrity and foreign-key checks (no history row without its lead); `Ok(())` when both pass.
    pub async fn integrity_check(&self) -> Result<(), StoreError> {
        self.with_conn(|c| {
            let answer: String = c
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .map_err(internal)?;
            if answer != "ok" {
                return Err(StoreError::Internal(format!("integrity check: {answer}")));
            }
            let violations: i64 = c
                .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })
                .map_err(internal)?;
            if violations > 0 {
                return Err(StoreError::Internal(format!(
                    "{violations} foreign key violations"
                )));
            }
            Ok(())
        })
        .await
    }
}

/// Clears the queue's `active` flag if the committer unwinds, so later writes start a new one.
struct ActiveGuard<'a>(&'a Mutex<WriteQueue>);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(mut q) = self.0.lock() {
                q.active = false;
            }
        }
    }
}

/// The committer: drains the queue group by group until it is empty.
fn commit_groups(
    conn: &Mutex<Connection>,
    queue: &Mutex<WriteQueue>,
    checkpoints: Option<&Arc<Checkpointer>>,
) {
    let _guard = ActiveGuard(queue);
    loop {
        let group: Vec<Pending> = {
            let Ok(mut q) = queue.lock() else { return };
            if q.jobs.is_empty() {
                q.active = false;
                return;
            }
            let n = q.jobs.len().min(MAX_GROUP);
            q.jobs.drain(..n).collect()
        };
        let answers = match conn.lock() {
            Ok(c) => run_group(&c, group),
            Err(_) => group
                .into_iter()
                .map(|p| (p.done, Err(poisoned())))
                .collect(),
        };
        for (done, result) in answers {
            let _ = done.send(result);
        }
        if let Some(cp) = checkpoints {
            cp.after_commit();
        }
    }
}

type Answer = (
    tokio::sync::oneshot::Sender<Result<Changed, StoreError>>,
    Result<Changed, StoreError>,
);

/// Runs a group of writes in one transaction, each in a savepoint; returns each caller's answer.
fn run_group(c: &Connection, group: Vec<Pending>) -> Vec<Answer> {
    if !c.is_autocommit() {
        // Left open by a write that panicked: undo it.
        let _ = c.execute_batch("ROLLBACK");
    }
    if let Err(e) = c.execute_batch("BEGIN IMMEDIATE") {
        let msg = e.to_string();
        return group
            .into_iter()
            .map(|p| (p.done, Err(StoreError::Internal(msg.clone()))))
            .collect();
    }
    let mut answers: Vec<Answer> = group
        .into_iter()
        .map(|p| (p.done, run_in_savepoint(c, p.job)))
        .collect();
    if let Err(e) = c.execute_batch("COMMIT") {
        let _ = c.execute_batch("ROLLBACK");
        for (_, result) in &mut answers {
            if result.is_ok() {
                *result = Err(StoreError::Internal(format!("commit failed: {e}")));
            }
        }
    }
    answers
}

fn run_in_savepoint(c: &Connection, job: WriteJob) -> Result<Changed, StoreError> {
    c.execute_batch("SAVEPOINT write").map_err(internal)?;
    let result = job(c);
    let end = if result.is_ok() {
        c.execute_batch("RELEASE write")
    } else {
        c.execute_batch("ROLLBACK TO write; RELEASE write")
    };
    match (result, end) {
        (Ok(_), Err(e)) => Err(internal(e)),
        (result, _) => result,
    }
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

fn decode<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::Internal(format!("stored row does not decode: {e}")))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(internal)
}

fn is_unique_violation(e: &rusqlite::Error, column: &str) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, Some(msg)) if f.code == ErrorCode::ConstraintViolation && msg.contains(column))
}

/// A search term matching fewer leads than this is looked up in the trigram index; a more common one is found
/// faster by reading leads in the listing's order until the page is full.
const SEARCH_INDEX_MAX_MATCHES: i64 = 5_000;

/// How `search` is answered: through the trigram index (rare terms), or by checking leads in the listing's order.
#[derive(Clone, Copy, PartialEq)]
enum SearchPlan {
    Index,
    Scan,
}

/// The plan for `q`'s search term: the index when it has at most [`SEARCH_INDEX_MAX_MATCHES`] candidates (counting
/// them stops there, so the probe stays cheap for common terms).
fn search_plan(c: &Connection, q: &ListQuery) -> Result<SearchPlan, StoreError> {
    let Some(term) = q.search.as_deref().filter(|s| indexable(s)) else {
        return Ok(SearchPlan::Scan);
    };
    let candidates: i64 = c
        .prepare_cached("SELECT count(*) FROM (SELECT 1 FROM leads_search WHERE leads_search MATCH ?1 LIMIT ?2)")
        .and_then(|mut st| st.query_row(params![fts_phrase(term), SEARCH_INDEX_MAX_MATCHES], |r| r.get(0)))
        .map_err(internal)?;
    Ok(if candidates < SEARCH_INDEX_MAX_MATCHES {
        SearchPlan::Index
    } else {
        SearchPlan::Scan
    })
}

/// Whether the trigram index can find `term`: three characters or more, and no NUL (which would end the FTS5
/// query string early).
fn indexable(term: &str) -> bool {
    term.chars().nth(2).is_some() && !term.contains('\0')
}

/// `term` as one FTS5 phrase, which the trigram tokenizer matches as a substring.
fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// The column a listing is ordered by (and its cursor compares with).
fn key_column(q: &ListQuery) -> &'static str {
    if q.order.by_revenue() {
        "revenue_key"
    } else {
        "created_key"
    }
}

/// The WHERE clause of a listing (its cursor included) and its parameters, numbered from `?1`.
fn list_filter(q: &ListQuery, plan: SearchPlan) -> (String, Vec<Box<dyn rusqlite::ToSql>>) {
    let mut sql = String::new();
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    // `clause` holds one `?`, which becomes the parameter's number.
    let mut push = |clause: &str, arg: Box<dyn rusqlite::ToSql>| {
        args.push(arg);
        if !sql.is_empty() {
            sql.push_str(" AND ");
        }
        sql.push_str(&clause.replacen('?', &format!("?{}", args.len()), 1));
    };
    push(
        "quarantined = ?",
        Box::new(q.quarantine == QuarantineFilter::Only),
    );
    if let Some(s) = &q.stage {
        push("stage = ?", Box::new(s.as_str().to_string()));
    }
    if let Some(from) = q.created_from {
        push("created_key >= ?", Box::new(key_time(from)));
    }
    if let Some(before) = q.created_before {
        push("created_key < ?", Box::new(key_time(before)));
    }
    let column = key_column(q);
    match &q.after {
        Some(after) => push(
            &format!("{column} {} ?", if q.order.ascending() { ">" } else { "<" }),
            Box::new(after.clone()),
        ),
        // A revenue listing holds only the leads with a rank; `>= ''` is every non-null key.
        None if q.order.by_revenue() => push("revenue_key >= ?", Box::<String>::default()),
        None => {}
    }
    if let Some(t) = q.entered_before {
        push("stage_entered < ?", Box::new(key_time(t)));
    }
    if let Some(s) = &q.source {
        push("source_lc = ?", Box::new(s.clone()));
    }
    if let Some(s) = &q.campaign {
        push("campaign_lc = ?", Box::new(s.clone()));
    }
    if let Some(s) = &q.search {
        // The trigram index narrows a rare term to its candidates; instr decides either way.
        if plan == SearchPlan::Index && indexable(s) {
            push(
                "rowid IN (SELECT rowid FROM leads_search WHERE leads_search MATCH ?)",
                Box::new(fts_phrase(s)),
            );
        }
        push("instr(search_text, ?) > 0", Box::new(s.clone()));
    }
    (sql, args)
}

/// The counters' schema version (`PRAGMA user_version`): 2 = bucketed counters with a value registry.
const SCHEMA_VERSION: i64 = 2;

fn apply_counters(tx: &Connection, counters: &Counters) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO counter_fields (bucket, field, n, ms) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (bucket, field) DO UPDATE SET n = n + excluded.n, ms = ms + excluded.ms",
        )
        .map_err(internal)?;
    for (bucket, fields) in &counters.0 {
        for (field, t) in fields {
            stmt.execute(params![bucket, field, t.n, t.ms])
                .map_err(internal)?;
        }
    }
    Ok(())
}

/// The counter change of one write, with new values admitted into the registry table, plus one `changes`.
fn counter_delta(
    tx: &Connection,
    rules: &CounterRules,
    before: Option<&Lead>,
    after: Option<&Lead>,
) -> Result<Counters, StoreError> {
    let mut values = SqlValues { tx, failed: None };
    let mut delta = rules.delta(before, after, &mut values);
    if let Some(e) = values.failed {
        return Err(e);
    }
    delta.add(&all_bucket(None), field::CHANGES, 1, 0);
    Ok(delta)
}

/// Adds the revenue listing's column and index to a database from before them. Its leads keep no rank until
/// `leadpipe recount` re-ranks them (or their next write does).
fn add_revenue_key(c: &Connection) -> Result<(), StoreError> {
    let present: i64 = c
        .query_row(
            "SELECT count(*) FROM pragma_table_info('leads') WHERE name = 'revenue_key'",
            [],
            |r| r.get(0),
        )
        .map_err(internal)?;
    if present == 0 {
        c.execute_batch("ALTER TABLE leads ADD COLUMN revenue_key TEXT")
            .map_err(internal)?;
    }
    c.execute_batch(
        "CREATE INDEX IF NOT EXISTS leads_by_revenue ON leads (revenue_key) WHERE revenue_key IS NOT NULL",
    )
    .map_err(internal)
}

/// Adds the listing columns that version 1 lacked and fills them from each lead.
fn add_missing_columns(c: &Connection) -> Result<(), StoreError> {
    let mut st = c
        .prepare("SELECT name FROM pragma_table_info('leads')")
        .map_err(internal)?;
    let columns: Vec<String> = st
        .query_map([], |r| r.get(0))
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    for (name, ddl) in [
        (
            "stage_entered",
            "ALTER TABLE leads ADD COLUMN stage_entered TEXT NOT NULL DEFAULT ''",
        ),
        (
            "quarantined",
            "ALTER TABLE leads ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0",
        ),
    ] {
        if !columns.iter().any(|c| c == name) {
            c.execute_batch(ddl).map_err(internal)?;
        }
    }
    let mut read = c.prepare("SELECT data FROM leads").map_err(internal)?;
    let leads: Vec<String> = read
        .query_map([], |r| r.get(0))
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    for data in leads {
        let lead: Lead = decode(&data)?;
        c.execute(
            "UPDATE leads SET stage_entered = ?2, quarantined = ?3 WHERE id = ?1",
            params![
                lead.id.to_string(),
                key_time(lead.stage_entered_at),
                lead.quarantine.is_some()
            ],
        )
        .map_err(internal)?;
    }
    Ok(())
}

/// Clears every counter and value and counts all leads again, oldest first.
fn recount_in(c: &Connection, rules: &CounterRules) -> Result<usize, StoreError> {
    c.execute_batch("DELETE FROM counter_fields; DELETE FROM counter_values;")
        .map_err(internal)?;
    let mut stmt = c
        .prepare("SELECT data FROM leads ORDER BY created_key")
        .map_err(internal)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(internal)?;
    let mut values = SqlValues {
        tx: c,
        failed: None,
    };
    let mut total = Counters::default();
    let mut n = 0;
    for row in rows {
        let lead: Lead = decode(&row.map_err(internal)?)?;
        total.merge(&rules.of_lead(&lead, &mut values));
        n += 1;
    }
    if let Some(e) = values.failed {
        return Err(e);
    }
    apply_counters(c, &total)?;
    Ok(n)
}

/// The value registry in the `counter_values` table, read and written inside the write transaction.
struct SqlValues<'a> {
    tx: &'a Connection,
    failed: Option<StoreError>,
}

impl SqlValues<'_> {
    fn try_admitted(&self, scope: &str, value: &str) -> Result<bool, StoreError> {
        let mut st = self
            .tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM counter_values WHERE scope = ?1 AND value = ?2)",
            )
            .map_err(internal)?;
        st.query_row(params![scope, value], |r| r.get(0))
            .map_err(internal)
    }

    fn try_admit(&self, scope: &str, value: &str) -> Result<bool, StoreError> {
        if self.try_admitted(scope, value)? {
            return Ok(true);
        }
        let mut count = self
            .tx
            .prepare_cached("SELECT count(*) FROM counter_values WHERE scope = ?1")
            .map_err(internal)?;
        let n: i64 = count.query_row([scope], |r| r.get(0)).map_err(internal)?;
        if usize::try_from(n).unwrap_or(usize::MAX) >= value_limit(scope) {
            return Ok(false);
        }
        self.tx
            .prepare_cached("INSERT INTO counter_values (scope, value) VALUES (?1, ?2)")
            .and_then(|mut st| st.execute(params![scope, value]))
            .map_err(internal)?;
        Ok(true)
    }

    fn record<T: Default>(&mut self, r: Result<T, StoreError>) -> T {
        r.unwrap_or_else(|e| {
            self.failed.get_or_insert(e);
            T::default()
        })
    }
}

impl ValueAdmission for SqlValues<'_> {
    fn is_admitted(&self, scope: &str, value: &str) -> bool {
        self.try_admitted(scope, value).unwrap_or(false)
    }

    fn admit(&mut self, scope: &str, value: &str) -> bool {
        let r = self.try_admit(scope, value);
        self.record(r)
    }
}

/// The lead `target` refers to: by id, else by email.
fn resolve(c: &Connection, target: &LeadRef) -> Result<Option<Lead>, StoreError> {
    if let Some(id) = target.id {
        if let Some(lead) = read_lead(c, "SELECT data FROM leads WHERE id = ?1", &id.to_string())? {
            return Ok(Some(lead));
        }
    }
    match &target.email {
        Some(email) => read_lead(c, "SELECT data FROM leads WHERE email = ?1", email.as_str()),
        None => Ok(None),
    }
}

/// Inserts (`before` = `None`) or updates a lead, with its history entry. The writer applies changes in turn, so
/// the version check cannot fail unless the database was changed behind the store's back.
fn save(
    tx: &Connection,
    before: Option<&Lead>,
    after: &Lead,
    history: Option<&StageChange>,
) -> Result<(), StoreError> {
    let FilterColumns {
        source_lc,
        campaign_lc,
        search_text,
    } = FilterColumns::of(after);
    let email = after.email.as_ref().map(Email::as_str);
    let data = encode(after)?;
    let id = after.id.to_string();
    let (stage_entered, quarantined) =
        (key_time(after.stage_entered_at), after.quarantine.is_some());
    let revenue_key = after.revenue_key();
    let result = match before {
        None => tx
            .prepare_cached(
                "INSERT INTO leads (id, email, stage, created_key, source_lc, campaign_lc, search_text, version, data, stage_entered, quarantined, revenue_key) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    id,
                    email,
                    after.stage.as_str(),
                    after.created_key(),
                    source_lc,
                    campaign_lc,
                    search_text,
                    after.version,
                    data,
                    stage_entered,
                    quarantined,
                    revenue_key
                ])
            }),
        Some(b) => tx
            .prepare_cached(
                "UPDATE leads SET email = ?2, stage = ?3, source_lc = ?4, campaign_lc = ?5, search_text = ?6, version = ?7, data = ?8, \
                 stage_entered = ?10, quarantined = ?11, created_key = ?12, revenue_key = ?13 WHERE id = ?1 AND version = ?9",
            )
            .and_then(|mut st| {
                st.execute(params![
                    id,
                    email,
                    after.stage.as_str(),
                    source_lc,
                    campaign_lc,
                    search_text,
                    after.version,
                    data,
                    b.version,
                    stage_entered,
                    quarantined,
                    after.created_key(),
                    revenue_key
                ])
            }),
    };
    match result {
        Ok(1) => {}
        Ok(_) => {
            return Err(StoreError::Internal(format!(
                "lead {id} changed outside the store's writer"
            )))
        }
        Err(e) if is_unique_violation(&e, "leads.email") => {
            return Err(after
                .email
                .clone()
                .map_or_else(|| internal(e), StoreError::EmailTaken))
        }
        Err(e) => return Err(internal(e)),
    }
    if let Some(h) = history {
        let entry = encode(h)?;
        tx.prepare_cached("INSERT INTO history (lead_id, seq, data) VALUES (?1, ?2, ?3)")
            .and_then(|mut st| st.execute(params![id, after.version, entry]))
            .map_err(internal)?;
    }
    Ok(())
}

/// Records a lead change in the outbox (`lead_changes`), inside the write's transaction.
fn record_change(
    tx: &Connection,
    before: Option<&Lead>,
    after: Option<&Lead>,
) -> Result<(), StoreError> {
    let (before, after) = (
        before.map(encode).transpose()?,
        after.map(encode).transpose()?,
    );
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    tx.prepare_cached("INSERT INTO lead_changes (at, before_json, after_json) VALUES (?1, ?2, ?3)")
        .and_then(|mut st| st.execute(params![at, before, after]))
        .map_err(internal)?;
    Ok(())
}

fn read_lead(conn: &Connection, sql: &str, arg: &str) -> Result<Option<Lead>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(internal)?;
    let json: Option<String> = stmt
        .query_row([arg], |r| r.get(0))
        .optional()
        .map_err(internal)?;
    json.map(|j| decode(&j)).transpose()
}

#[async_trait]
impl LeadStore for SqliteStore {
    async fn get(&self, id: Uuid) -> Result<Option<Lead>, StoreError> {
        self.read(move |c| read_lead(c, "SELECT data FROM leads WHERE id = ?1", &id.to_string()))
            .await
    }

    async fn find(&self, target: &LeadRef) -> Result<Option<Lead>, StoreError> {
        let target = target.clone();
        self.read(move |c| resolve(c, &target)).await
    }

    async fn change(&self, target: &LeadRef, decide: Arc<Decide>) -> Result<Changed, StoreError> {
        let target = target.clone();
        let rules = Arc::clone(&self.rules);
        let webhooks_on = Arc::clone(&self.webhooks_on);
        self.write_job(Box::new(move |tx| {
            let before = resolve(tx, &target)?;
            let decision = decide(before.as_ref());
            let record = webhooks_on.load(Ordering::Acquire);
            match (&decision, &before) {
                (Decision::Apply(applied), _) if applied.modified => {
                    save(tx, before.as_ref(), &applied.lead, applied.history.as_ref())?;
                    apply_counters(
                        tx,
                        &counter_delta(tx, &rules, before.as_ref(), Some(&applied.lead))?,
                    )?;
                    if record {
                        record_change(tx, before.as_ref(), Some(&applied.lead))?;
                    }
                }
                (Decision::Delete, Some(lead)) => {
                    tx.prepare_cached("DELETE FROM leads WHERE id = ?1")
                        .and_then(|mut st| st.execute([lead.id.to_string()]))
                        .map_err(internal)?;
                    apply_counters(tx, &counter_delta(tx, &rules, Some(lead), None)?)?;
                    if record {
                        record_change(tx, Some(lead), None)?;
                    }
                }
                _ => {}
            }
            Ok(Changed { before, decision })
        }))
        .await
    }

    async fn get_with_history(
        &self,
        id: Uuid,
    ) -> Result<Option<(Lead, Vec<StageChange>)>, StoreError> {
        self.read(move |c| {
            let id = id.to_string();
            // One read transaction, so the lead and its history come from the same snapshot.
            let begin = c.is_autocommit();
            if begin {
                c.execute_batch("BEGIN").map_err(internal)?;
            }
            let result = (|| {
                let Some(lead) = read_lead(c, "SELECT data FROM leads WHERE id = ?1", &id)? else {
                    return Ok(None);
                };
                let mut stmt = c
                    .prepare_cached("SELECT data FROM history WHERE lead_id = ?1 ORDER BY seq")
                    .map_err(internal)?;
                let rows = stmt
                    .query_map([&id], |r| r.get::<_, String>(0))
                    .map_err(internal)?;
                let history = rows
                    .map(|r| r.map_err(internal).and_then(|j| decode(&j)))
                    .collect::<Result<Vec<StageChange>, _>>()?;
                Ok(Some((lead, history)))
            })();
            if begin {
                let _ = c.execute_batch("COMMIT");
            }
            result
        })
        .await
    }

    async fn list(&self, q: &ListQuery) -> Result<LeadPage, StoreError> {
        let q = q.clone();
        self.read(move |c| {
            let (filter, args) = list_filter(&q, search_plan(c, &q)?);
            let order = if q.order.ascending() { "ASC" } else { "DESC" };
            let column = key_column(&q);
            let sql = format!(
                "SELECT data, {column} FROM leads WHERE {filter} ORDER BY {column} {order} LIMIT ?{} OFFSET ?{}",
                args.len() + 1,
                args.len() + 2
            );
            let fetch = i64::try_from(q.limit + 1).unwrap_or(i64::MAX);
            let skip = i64::try_from(q.skip).unwrap_or(i64::MAX);
            let mut stmt = c.prepare_cached(&sql).map_err(internal)?;
            let params = args.iter().map(|a| a.as_ref()).chain([&fetch as &dyn rusqlite::ToSql, &skip]);
            let rows = stmt
                .query_map(rusqlite::params_from_iter(params), |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(internal)?;
            let mut page = LeadPage::default();
            let mut last_key = None;
            for row in rows {
                let (data, key) = row.map_err(internal)?;
                if page.leads.len() == q.limit {
                    page.next_after = last_key.take();
                    break;
                }
                page.leads.push(decode(&data)?);
                last_key = Some(key);
            }
            Ok(page)
        })
        .await
    }

    /// Counts in SQL, without reading the leads, within the same budget as the listing count.
    async fn count(&self, q: &ListQuery) -> Result<Total, StoreError> {
        self.count_up_to(q, COUNT_BUDGET).await
    }

    async fn count_all(&self, q: &ListQuery) -> Result<Total, StoreError> {
        self.count_up_to(q, leadpipe_core::totals::FULL_COUNT_READS)
            .await
    }

    async fn counters(&self, query: &CounterQuery) -> Result<Counters, StoreError> {
        let query = query.clone();
        self.read(move |c| {
            let mut counters = Counters::default();
            let mut add_rows = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<(), StoreError> {
                let mut stmt = c.prepare_cached(sql).map_err(internal)?;
                let rows = stmt
                    .query_map(args, |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?)))
                    .map_err(internal)?;
                for row in rows {
                    let (bucket, field, n, ms) = row.map_err(internal)?;
                    counters.add(&bucket, &field, n, ms);
                }
                Ok(())
            };
            for scope in &query.scopes {
                // Every bucket `<scope>|<value>`: '}' sorts right after '|'.
                let (lo, hi) = (format!("{scope}|"), format!("{scope}}}"));
                add_rows("SELECT bucket, field, n, ms FROM counter_fields WHERE bucket >= ?1 AND bucket < ?2", &[&lo, &hi])?;
            }
            // Buckets of a scope read above are already in.
            for bucket in query.buckets.iter().filter(|b| !split_bucket(b).is_some_and(|(s, _)| query.scopes.contains(s))) {
                add_rows("SELECT bucket, field, n, ms FROM counter_fields WHERE bucket = ?1", &[bucket])?;
            }
            Ok(counters)
        })
        .await
    }

    async fn log_postback(&self, entry: &PostbackLogEntry) -> Result<(), StoreError> {
        let key = format!("{}#{}", key_time(entry.at), entry.id);
        let (status, expires, data, now) = (
            entry.status.as_str(),
            key_time(entry.expires_at),
            encode(entry)?,
            key_time(entry.at),
        );
        self.with_conn(move |c| {
            c.prepare_cached("INSERT OR REPLACE INTO postback_log (key, status, expires, data) VALUES (?1, ?2, ?3, ?4)")
                .and_then(|mut st| st.execute(params![key, status, expires, data]))
                .map_err(internal)?;
            // Expired entries go as new ones come, a few at a time.
            c.prepare_cached("DELETE FROM postback_log WHERE key IN (SELECT key FROM postback_log WHERE expires < ?1 LIMIT 100)")
                .and_then(|mut st| st.execute([now]))
                .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn postback_log(&self, q: &PostbackLogQuery) -> Result<PostbackLogPage, StoreError> {
        let (status, limit, after) = (
            q.status.as_str(),
            q.limit,
            q.after.clone().unwrap_or_else(|| "~".into()),
        );
        let now = key_time(chrono::Utc::now());
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT key, data FROM postback_log WHERE status = ?1 AND key < ?2 AND expires > ?3 ORDER BY key DESC LIMIT ?4",
                )
                .map_err(internal)?;
            let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
            let rows = st
                .query_map(params![status, after, now, fetch], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(internal)?;
            let mut page = PostbackLogPage::default();
            let mut last = None;
            for row in rows {
                let (key, data) = row.map_err(internal)?;
                if page.entries.len() == limit {
                    page.next_after = last.take();
                    break;
                }
                page.entries.push(decode(&data)?);
                last = Some(key);
            }
            Ok(page)
        })
        .await
    }

    async fn put_spend(
        &self,
        rows: &[leadpipe_core::domain::spend::SpendRow],
    ) -> Result<(), StoreError> {
        let rows = rows.to_vec();
        self.with_conn(move |c| spend::put_spend(c, &rows)).await
    }

    async fn spend(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<leadpipe_core::domain::spend::SpendRow>, StoreError> {
        self.read(move |c| spend::spend(c, from, to)).await
    }

    async fn spend_sums(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        grouping: leadpipe_core::domain::spend::SpendGrouping,
    ) -> Result<Vec<leadpipe_core::domain::spend::SpendRow>, StoreError> {
        self.read(move |c| spend::spend_sums(c, from, to, grouping))
            .await
    }

    async fn delete_spend(&self, keys: &[String]) -> Result<(), StoreError> {
        let keys = keys.to_vec();
        self.with_conn(move |c| spend::delete_spend(c, &keys)).await
    }

    async fn put_rates(
        &self,
        rows: &[leadpipe_core::domain::spend::RateRow],
    ) -> Result<(), StoreError> {
        let rows = rows.to_vec();
        self.with_conn(move |c| spend::put_rates(c, &rows)).await
    }

    async fn rates(&self) -> Result<Vec<leadpipe_core::domain::spend::RateRow>, StoreError> {
        self.read(spend::rates).await
    }

    async fn delete_rate(
        &self,
        day: chrono::NaiveDate,
        currency: leadpipe_core::domain::money::Currency,
    ) -> Result<(), StoreError> {
        self.with_conn(move |c| spend::delete_rate(c, day, currency))
            .await
    }

    async fn count_new_lead(
        &self,
        client: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<u32, StoreError> {
        Ok(self.new_leads.add(client, at))
    }

    /// One statement on the single writer: insert the claim, or take over an expired key or a claim whose lease
    /// ran out; otherwise report what holds the key.
    // Accounts (see `accounts.rs`).
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let user = user.clone();
        self.with_conn(move |c| accounts::create_user(c, &user))
            .await
    }

    async fn user(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        self.read(move |c| accounts::user_where(c, "id", id.to_string()))
            .await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let email = email.as_str().to_string();
        self.read(move |c| accounts::user_where(c, "email", email))
            .await
    }

    async fn users(&self) -> Result<Vec<User>, StoreError> {
        self.read(accounts::users).await
    }

    async fn update_user(&self, user: &User, keeper: Option<Uuid>) -> Result<bool, StoreError> {
        let user = user.clone();
        self.with_conn(move |c| accounts::update_user(c, &user, keeper))
            .await
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let session = session.clone();
        self.with_conn(move |c| accounts::create_session(c, &session))
            .await
    }

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<Session>, StoreError> {
        let h = token_hash.as_str().to_string();
        self.read(move |c| accounts::session(c, &h)).await
    }

    async fn touch_session(
        &self,
        token_hash: &TokenHash,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let h = token_hash.as_str().to_string();
        self.with_conn(move |c| {
            accounts::exec(
                c,
                "UPDATE sessions SET last_seen = max(last_seen, ?2) WHERE token_hash = ?1",
                params![h, at.timestamp_millis()],
            )
        })
        .await
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> Result<(), StoreError> {
        let h = token_hash.as_str().to_string();
        self.with_conn(move |c| {
            accounts::exec(c, "DELETE FROM sessions WHERE token_hash = ?1", [h])
        })
        .await
    }

    async fn delete_user_sessions(&self, user_id: Uuid) -> Result<(), StoreError> {
        self.with_conn(move |c| {
            accounts::exec(
                c,
                "DELETE FROM sessions WHERE user_id = ?1",
                [user_id.to_string()],
            )
        })
        .await
    }

    async fn create_invite(&self, invite: &Invite) -> Result<(), StoreError> {
        let invite = invite.clone();
        self.with_conn(move |c| accounts::create_invite(c, &invite))
            .await
    }

    async fn take_invite(
        &self,
        token_hash: &TokenHash,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<InviteTake, StoreError> {
        let h = token_hash.clone();
        self.with_conn(move |c| accounts::take_invite(c, &h, now))
            .await
    }

    async fn add_login_failure(
        &self,
        key: &str,
        window: i64,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<u32, StoreError> {
        let key = key.to_string();
        self.with_conn(move |c| accounts::add_login_failure(c, &key, window, expires_at))
            .await
    }

    async fn login_failures(&self, key: &str, window: i64) -> Result<u32, StoreError> {
        let key = key.to_string();
        self.read(move |c| accounts::login_failures(c, &key, window))
            .await
    }

    async fn set_two_factor(&self, user_id: Uuid, state: &TwoFactor) -> Result<bool, StoreError> {
        let state = state.clone();
        self.with_conn(move |c| two_factor::set(c, user_id, &state))
            .await
    }

    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool, StoreError> {
        self.with_conn(move |c| two_factor::use_step(c, user_id, step))
            .await
    }

    async fn use_recovery_code(&self, user_id: Uuid, hash: &str) -> Result<bool, StoreError> {
        let hash = hash.to_string();
        self.with_conn(move |c| two_factor::use_recovery(c, user_id, &hash))
            .await
    }
    // End of accounts.

    async fn claim_idempotency(
        &self,
        key: &str,
        now: chrono::DateTime<chrono::Utc>,
        lease_until: chrono::DateTime<chrono::Utc>,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<IdempotencyClaim, StoreError> {
        let (key, now, lease, expires) = (
            key.to_string(),
            key_time(now),
            key_time(lease_until),
            key_time(expires_at),
        );
        self.with_conn(move |c| {
            let claimed = c
                .prepare_cached(
                    "INSERT INTO idempotency (key, lease_until, expires, response) VALUES (?1, ?2, ?3, NULL) \
                     ON CONFLICT (key) DO UPDATE SET lease_until = excluded.lease_until, expires = excluded.expires, response = NULL \
                     WHERE idempotency.expires <= ?4 OR (idempotency.response IS NULL AND idempotency.lease_until <= ?4)",
                )
                .and_then(|mut st| st.execute(params![key, lease, expires, now]))
                .map_err(internal)?;
            if claimed == 1 {
                // Expired keys go as new ones come, a few at a time.
                c.prepare_cached("DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE expires < ?1 LIMIT 100)")
                    .and_then(|mut st| st.execute([&now]))
                    .map_err(internal)?;
                return Ok(IdempotencyClaim::Claimed);
            }
            let response: Option<String> = c
                .prepare_cached("SELECT response FROM idempotency WHERE key = ?1")
                .and_then(|mut st| st.query_row([&key], |r| r.get(0)))
                .map_err(internal)?;
            match response {
                Some(json) => Ok(IdempotencyClaim::Done(decode::<StoredResponse>(&json)?)),
                None => Ok(IdempotencyClaim::InProgress),
            }
        })
        .await
    }

    async fn complete_idempotency(
        &self,
        key: &str,
        response: &StoredResponse,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let (key, json, expires) = (key.to_string(), encode(response)?, key_time(expires_at));
        self.with_conn(move |c| {
            c.prepare_cached(
                "INSERT INTO idempotency (key, lease_until, expires, response) VALUES (?1, ?3, ?3, ?2) \
                 ON CONFLICT (key) DO UPDATE SET response = excluded.response, expires = excluded.expires",
            )
            .and_then(|mut st| st.execute(params![key, json, expires]))
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn release_idempotency(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_string();
        self.with_conn(move |c| {
            c.prepare_cached("DELETE FROM idempotency WHERE key = ?1 AND response IS NULL")
                .and_then(|mut st| st.execute([key]))
                .map_err(internal)?;
            Ok(())
        })
        .await
    }

    // Audit log
    async fn append_audit(
        &self,
        entry: &leadpipe_core::domain::AuditEntry,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let entry = entry.clone();
        self.with_conn(move |c| audit::append(c, &entry, expires_at))
            .await
    }

    async fn audit(
        &self,
        q: &leadpipe_core::domain::AuditQuery,
    ) -> Result<leadpipe_core::domain::AuditPage, StoreError> {
        let q = q.clone();
        self.read(move |c| audit::page(c, &q)).await
    }

    async fn privacy_state(&self) -> Result<leadpipe_core::store::PrivacyState, StoreError> {
        self.with_conn(|c| privacy::state(c)).await
    }

    async fn suppress(
        &self,
        key: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let key = key.to_string();
        self.with_conn(move |c| privacy::suppress(c, &key, at))
            .await
    }

    async fn is_suppressed(&self, key: &str) -> Result<bool, StoreError> {
        let key = key.to_string();
        self.read(move |c| privacy::is_suppressed(c, &key)).await
    }

    async fn erase_copies(
        &self,
        scope: &leadpipe_core::domain::privacy::ErasureScope,
    ) -> Result<leadpipe_core::domain::privacy::ErasedCopies, StoreError> {
        let scope = scope.clone();
        self.with_conn(move |c| privacy::erase_copies(c, &scope))
            .await
    }

    async fn person_copies(
        &self,
        scope: &leadpipe_core::domain::privacy::ErasureScope,
    ) -> Result<leadpipe_core::store::PersonCopies, StoreError> {
        let scope = scope.clone();
        self.read(move |c| privacy::person_copies(c, &scope)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids of the leads `q` lists under `plan`, newest first, straight from SQL (the rows here are not real leads).
    fn ids(c: &Connection, q: &ListQuery, plan: SearchPlan) -> Vec<String> {
        let (filter, args) = list_filter(q, plan);
        let sql = format!("SELECT id FROM leads WHERE {filter} ORDER BY created_key DESC");
        let mut st = c.prepare(&sql).expect("prepare");
        let rows = st
            .query_map(
                rusqlite::params_from_iter(args.iter().map(|a| a.as_ref())),
                |r| r.get(0),
            )
            .expect("query");
        rows.collect::<Result<_, _>>().expect("rows")
    }

    /// `n` bare rows: every one says "common"; every 1,000th also "rare needle"; every 7th has stage Paid.
    fn insert_rows(c: &Connection, n: i64) {
        c.execute(
            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
             INSERT INTO leads (id, stage, created_key, search_text, version, data)
             SELECT printf('lead%05d', i), CASE WHEN i % 7 = 0 THEN 'Paid' ELSE 'New' END, printf('%08d', i),
                    CASE WHEN i % 1000 = 0 THEN 'a rare needle, common' ELSE 'common' END, 1, '{}' FROM seq",
            [n],
        )
        .expect("insert");
    }

    fn search(term: &str) -> ListQuery {
        ListQuery {
            search: Some(term.into()),
            ..Default::default()
        }
    }

    #[test]
    fn rare_terms_use_the_index_common_ones_the_scan_and_both_plans_agree() {
        let store = SqliteStore::in_memory(CounterRules::default()).expect("store");
        let c = store.conn.lock().expect("conn");
        insert_rows(&c, SEARCH_INDEX_MAX_MATCHES + 1_000);
        assert!(search_plan(&c, &search("needle")).expect("plan") == SearchPlan::Index);
        assert!(
            search_plan(&c, &search("common")).expect("plan") == SearchPlan::Scan,
            "more candidates than the index is used for"
        );
        assert!(
            search_plan(&c, &search("ne")).expect("plan") == SearchPlan::Scan,
            "too short for trigrams"
        );
        assert!(
            search_plan(&c, &search("nee\0dle")).expect("a NUL is no query error")
                == SearchPlan::Scan
        );
        for term in [
            "needle",
            "common",
            "rare needle",
            "le, c",
            "ne",
            "nope",
            "nee\0dle",
            "\"needle",
            "ne\u{1b}[0m",
        ] {
            for stage in [
                None,
                Some(
                    leadpipe_core::domain::Pipeline::default()
                        .stage("Paid")
                        .expect("a default stage"),
                ),
            ] {
                let q = ListQuery {
                    stage,
                    ..search(term)
                };
                assert_eq!(
                    ids(&c, &q, SearchPlan::Index),
                    ids(&c, &q, SearchPlan::Scan),
                    "{term} {:?}",
                    q.stage
                );
            }
        }
        assert_eq!(ids(&c, &search("needle"), SearchPlan::Index).len(), 6);
        assert_eq!(ids(&c, &search("common"), SearchPlan::Scan).len(), 6_000);
    }

    #[test]
    fn the_index_follows_updates_and_a_database_without_it_is_indexed_on_open() {
        let path = std::env::temp_dir().join(format!("leadpipe-search-{}.db", Uuid::new_v4()));
        {
            let store = SqliteStore::open(&path, CounterRules::default()).expect("open");
            let c = store.conn.lock().expect("conn");
            insert_rows(&c, 2_000);
            c.execute(
                "UPDATE leads SET search_text = 'moved haystack' WHERE id = 'lead01000'",
                [],
            )
            .expect("update");
            assert_eq!(ids(&c, &search("needle"), SearchPlan::Index), ["lead02000"]);
            assert_eq!(
                ids(&c, &search("haystack"), SearchPlan::Index),
                ["lead01000"]
            );
            // As a database from before the index.
            c.execute_batch(
                "DROP TRIGGER leads_search_insert; DROP TRIGGER leads_search_delete; DROP TRIGGER leads_search_update;
                 DROP TABLE leads_search;",
            )
            .expect("drop the index");
            c.execute(
                "UPDATE leads SET search_text = 'a later needle' WHERE id = 'lead00001'",
                [],
            )
            .expect("update");
        }
        let store = SqliteStore::open(&path, CounterRules::default()).expect("reopen");
        {
            let c = store.conn.lock().expect("conn");
            assert_eq!(
                ids(&c, &search("needle"), SearchPlan::Index),
                ["lead02000", "lead00001"]
            );
            assert!(search_plan(&c, &search("needle")).expect("plan") == SearchPlan::Index);
        }
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
