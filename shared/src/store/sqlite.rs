//! The embedded store: SQLite (bundled) in WAL mode, one connection behind a mutex, blocking work off the runtime.
//!
//! Tables: `leads` (the lead as JSON plus the columns listings filter on), `history` (cascade-deleted with its
//! lead) and `counters`. The unique index on `leads.email` is the email claim.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Transaction};
use uuid::Uuid;

use super::{filter_columns, time_bound, LeadDelete, LeadPage, LeadStore, LeadWrite, ListQuery, StoreError};
use crate::domain::counters::{day_key, Counters};
use crate::domain::{Email, Lead, StageChange};

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
    data        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS leads_by_created ON leads (created_key);
CREATE INDEX IF NOT EXISTS leads_by_stage ON leads (stage, created_key);
CREATE TABLE IF NOT EXISTS history (
    lead_id TEXT NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    data    TEXT NOT NULL,
    PRIMARY KEY (lead_id, seq)
);
CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY,
    n   INTEGER NOT NULL,
    ms  INTEGER NOT NULL
);
"#;

/// The SQLite lead store.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::init(Connection::open(path).map_err(internal)?)
    }

    /// A private in-memory database (for tests and throwaway runs).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(internal)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(internal)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(internal)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(internal)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(internal)?;
        conn.execute_batch(SCHEMA).map_err(internal)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| StoreError::Internal("sqlite connection mutex poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("sqlite task failed: {e}")))?
    }

    /// Runs SQLite's own integrity check; `Ok(())` when it answers "ok".
    pub async fn integrity_check(&self) -> Result<(), StoreError> {
        self.with_conn(|c| {
            let answer: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(internal)?;
            if answer == "ok" {
                Ok(())
            } else {
                Err(StoreError::Internal(format!("integrity check: {answer}")))
            }
        })
        .await
    }
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

fn decode<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Internal(format!("stored row does not decode: {e}")))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(internal)
}

fn is_unique_violation(e: &rusqlite::Error, column: &str) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, Some(msg)) if f.code == ErrorCode::ConstraintViolation && msg.contains(column))
}

fn apply_counters(tx: &Transaction<'_>, counters: &Counters) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached("INSERT INTO counters (key, n, ms) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET n = n + excluded.n, ms = ms + excluded.ms")
        .map_err(internal)?;
    for (key, t) in &counters.0 {
        stmt.execute(params![key, t.n, t.ms]).map_err(internal)?;
    }
    Ok(())
}

fn read_lead(conn: &Connection, sql: &str, arg: &str) -> Result<Option<Lead>, StoreError> {
    let json: Option<String> = conn.query_row(sql, [arg], |r| r.get(0)).optional().map_err(internal)?;
    json.map(|j| decode(&j)).transpose()
}

#[async_trait]
impl LeadStore for SqliteStore {
    async fn get(&self, id: Uuid) -> Result<Option<Lead>, StoreError> {
        self.with_conn(move |c| read_lead(c, "SELECT data FROM leads WHERE id = ?1", &id.to_string())).await
    }

    async fn find_by_email(&self, email: &Email, _consistent: bool) -> Result<Option<Lead>, StoreError> {
        let email = email.as_str().to_string();
        self.with_conn(move |c| read_lead(c, "SELECT data FROM leads WHERE email = ?1", &email)).await
    }

    async fn write(&self, w: LeadWrite<'_>) -> Result<(), StoreError> {
        let after = w.after.clone();
        let expected = w.before.map(|b| b.version);
        let history = w.history.cloned();
        let counters = w.counters.clone();
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(internal)?;
            let (source_lc, campaign_lc, search_text) = filter_columns(&after);
            let email = after.email.as_ref().map(Email::as_str);
            let data = encode(&after)?;
            let id = after.id.to_string();
            let result = match expected {
                None => tx.execute(
                    "INSERT INTO leads (id, email, stage, created_key, source_lc, campaign_lc, search_text, version, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![id, email, after.stage, after.created_key(), source_lc, campaign_lc, search_text, after.version, data],
                ),
                Some(v) => tx.execute(
                    "UPDATE leads SET email = ?2, stage = ?3, source_lc = ?4, campaign_lc = ?5, search_text = ?6, version = ?7, data = ?8 WHERE id = ?1 AND version = ?9",
                    params![id, email, after.stage, source_lc, campaign_lc, search_text, after.version, data, v],
                ),
            };
            match result {
                Ok(1) => {}
                Ok(_) => return Err(StoreError::Conflict),
                Err(e) if is_unique_violation(&e, "leads.email") => {
                    return Err(after.email.clone().map_or_else(|| internal(e), StoreError::EmailTaken))
                }
                Err(e) if is_unique_violation(&e, "leads.id") => return Err(StoreError::Conflict),
                Err(e) => return Err(internal(e)),
            }
            if let Some(h) = &history {
                tx.execute("INSERT INTO history (lead_id, seq, data) VALUES (?1, ?2, ?3)", params![id, after.version, encode(h)?])
                    .map_err(internal)?;
            }
            apply_counters(&tx, &counters)?;
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn delete(&self, d: LeadDelete<'_>) -> Result<(), StoreError> {
        let id = d.lead.id.to_string();
        let version = d.lead.version;
        let counters = d.counters.clone();
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(internal)?;
            let deleted = tx.execute("DELETE FROM leads WHERE id = ?1 AND version = ?2", params![id, version]).map_err(internal)?;
            if deleted == 0 {
                let exists: bool =
                    tx.query_row("SELECT EXISTS (SELECT 1 FROM leads WHERE id = ?1)", [&id], |r| r.get(0)).map_err(internal)?;
                return Err(if exists { StoreError::Conflict } else { StoreError::NotFound });
            }
            apply_counters(&tx, &counters)?;
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn get_with_history(&self, id: Uuid) -> Result<Option<(Lead, Vec<StageChange>)>, StoreError> {
        self.with_conn(move |c| {
            let id = id.to_string();
            let Some(lead) = read_lead(c, "SELECT data FROM leads WHERE id = ?1", &id)? else { return Ok(None) };
            let mut stmt = c.prepare_cached("SELECT data FROM history WHERE lead_id = ?1 ORDER BY seq").map_err(internal)?;
            let rows = stmt.query_map([&id], |r| r.get::<_, String>(0)).map_err(internal)?;
            let history = rows.map(|r| r.map_err(internal).and_then(|j| decode(&j))).collect::<Result<Vec<StageChange>, _>>()?;
            Ok(Some((lead, history)))
        })
        .await
    }

    async fn list(&self, q: &ListQuery) -> Result<LeadPage, StoreError> {
        let q = q.clone();
        self.with_conn(move |c| {
            let mut sql = String::from("SELECT data, created_key FROM leads WHERE 1 = 1");
            let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
            let mut push = |clause: &str, arg: Box<dyn rusqlite::ToSql>, sql: &mut String| {
                args.push(arg);
                sql.push_str(&format!(" AND {clause} ?{}", args.len()));
            };
            if let Some(s) = &q.stage {
                push("stage =", Box::new(s.clone()), &mut sql);
            }
            if let Some(from) = q.created_from {
                push("created_key >=", Box::new(time_bound(from)), &mut sql);
            }
            if let Some(before) = q.created_before {
                push("created_key <", Box::new(time_bound(before)), &mut sql);
            }
            if let Some(after) = &q.after {
                push("created_key <", Box::new(after.clone()), &mut sql);
            }
            if let Some(s) = &q.source {
                push("source_lc =", Box::new(s.clone()), &mut sql);
            }
            if let Some(s) = &q.campaign {
                push("campaign_lc =", Box::new(s.clone()), &mut sql);
            }
            if let Some(s) = &q.search {
                push("0 < instr(search_text,", Box::new(s.clone()), &mut sql);
                sql.push(')');
            }
            let fetch = q.limit + 1;
            sql.push_str(&format!(" ORDER BY created_key DESC LIMIT {fetch} OFFSET {}", q.skip));
            let mut stmt = c.prepare(&sql).map_err(internal)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
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

    async fn counters(&self, days: (NaiveDate, NaiveDate)) -> Result<Counters, StoreError> {
        self.with_conn(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT key, n, ms FROM counters WHERE key NOT LIKE 'day#%' OR key BETWEEN ?1 AND ?2")
                .map_err(internal)?;
            let rows = stmt
                .query_map(params![day_key(days.0), day_key(days.1)], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                })
                .map_err(internal)?;
            let mut counters = Counters::default();
            for row in rows {
                let (k, n, ms) = row.map_err(internal)?;
                counters.add(&k, n, ms);
            }
            Ok(counters)
        })
        .await
    }
}
