//! The audit log on SQLite: table `audit_log`, one row per entry keyed by its UUID v7 id (so `id` order is time
//! order), with the UTC day, the actor's label, the action and the target as columns to filter on and the entry
//! as JSON. Created by `CREATE TABLE IF NOT EXISTS` when a store opens (older databases need no migration).
//! Rows are only ever inserted; expired ones are removed a few at a time as new ones come.

use chrono::{DateTime, Utc};
use leadpipe_core::domain::audit::{AuditEntry, AuditPage, AuditQuery};
use leadpipe_core::domain::lead::key_time;
use leadpipe_core::store::StoreError;
use rusqlite::{params, Connection};

use crate::internal;

/// The table and its indexes.
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS audit_log (
    id      TEXT PRIMARY KEY,
    day     TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    expires TEXT NOT NULL,
    data    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_day ON audit_log (day, id);
CREATE INDEX IF NOT EXISTS audit_by_expiry ON audit_log (expires);
"#;

/// Inserts `entry` (an entry already stored is left as it is) and removes up to 100 expired rows.
pub(crate) fn append(
    c: &Connection,
    entry: &AuditEntry,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let data = serde_json::to_string(entry).map_err(internal)?;
    c.prepare_cached(
        "INSERT OR IGNORE INTO audit_log (id, day, actor, action, target, expires, data) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut st| {
        st.execute(params![
            entry.id.to_string(),
            entry.day().format("%Y-%m-%d").to_string(),
            entry.actor_label().to_lowercase(),
            entry.action.as_str(),
            entry.target,
            key_time(expires_at),
            data,
        ])
    })
    .map_err(internal)?;
    c.prepare_cached(
        "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE expires < ?1 LIMIT 100)",
    )
    .and_then(|mut st| st.execute([key_time(Utc::now())]))
    .map_err(internal)?;
    Ok(())
}

/// A page of `q`, newest first.
pub(crate) fn page(c: &Connection, q: &AuditQuery) -> Result<AuditPage, StoreError> {
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let below = q
        .cursor
        .map_or_else(|| "~".to_string(), |id| id.to_string());
    let fetch = i64::try_from(q.limit + 1).unwrap_or(i64::MAX);
    let mut st = c
        .prepare_cached(
            "SELECT data FROM audit_log WHERE day >= ?1 AND day <= ?2 AND id < ?3 AND expires > ?4 \
             AND (?5 IS NULL OR actor = ?5) AND (?6 IS NULL OR action = ?6) AND (?7 IS NULL OR target = ?7) \
             ORDER BY id DESC LIMIT ?8",
        )
        .map_err(internal)?;
    let rows = st
        .query_map(
            params![
                day(q.from),
                day(q.to),
                below,
                key_time(Utc::now()),
                q.actor,
                q.action.map(|a| a.as_str()),
                q.target,
                fetch
            ],
            |r| r.get::<_, String>(0),
        )
        .map_err(internal)?;
    let mut page = AuditPage::default();
    for row in rows {
        let entry: AuditEntry = serde_json::from_str(&row.map_err(internal)?).map_err(internal)?;
        if page.entries.len() == q.limit {
            page.next_cursor = page.entries.last().map(|e| e.id.to_string());
            break;
        }
        page.entries.push(entry);
    }
    Ok(page)
}
