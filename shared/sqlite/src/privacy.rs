//! Privacy on SQLite: the privacy key and the suppression list (`privacy_keys`, `suppressions`: keyed email
//! hashes only), and erasing a person's copies from every table beside `leads` (see
//! [`leadpipe_core::store::LeadStore::erase_copies`]).
//!
//! Freed bytes do not stay on disk: the writer runs with `secure_delete` (deleted content is overwritten), the
//! search index with FTS5's `secure-delete` (a deleted lead's terms leave the index at once), and an erasure ends
//! with a truncating WAL checkpoint, so neither the database file nor its WAL holds the person afterwards.

use chrono::{DateTime, Utc};
use leadpipe_core::domain::lead::key_time;
use leadpipe_core::domain::privacy::{
    holds_personal_lead, redacted_summary, ErasedCopies, ErasureScope,
};
use leadpipe_core::domain::AuditEntry;
use leadpipe_core::store::{PersonCopies, PostbackLogEntry, PrivacyState, StoreError};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::internal;

/// The tables (created when a store opens; older databases need no migration).
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS privacy_keys (
    name TEXT PRIMARY KEY,
    key  BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS suppressions (
    key TEXT PRIMARY KEY,
    at  TEXT NOT NULL
) WITHOUT ROWID;
"#;

/// Turns on overwriting of freed content for the writer and the search index (run when a store opens).
pub(crate) fn secure_deletes(c: &Connection) -> Result<(), StoreError> {
    c.pragma_update(None, "secure_delete", "ON")
        .map_err(internal)?;
    c.execute_batch("INSERT INTO leads_search (leads_search, rank) VALUES ('secure-delete', 1)")
        .map_err(internal)
}

/// The privacy key (created on first use) and the suppression list's size.
pub(crate) fn state(c: &Connection) -> Result<PrivacyState, StoreError> {
    // 244 random bits from two v4 UUIDs (the OS generator).
    let fresh: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
        .iter()
        .flat_map(|u| *u.as_bytes())
        .collect();
    c.execute(
        "INSERT OR IGNORE INTO privacy_keys (name, key) VALUES ('suppression', ?1)",
        [fresh],
    )
    .map_err(internal)?;
    let key: Vec<u8> = c
        .query_row(
            "SELECT key FROM privacy_keys WHERE name = 'suppression'",
            [],
            |r| r.get(0),
        )
        .map_err(internal)?;
    let count: i64 = c
        .query_row("SELECT count(*) FROM suppressions", [], |r| r.get(0))
        .map_err(internal)?;
    Ok(PrivacyState {
        key,
        suppressions: u64::try_from(count).unwrap_or(0),
    })
}

/// Adds a keyed hash to the list (again: no change).
pub(crate) fn suppress(c: &Connection, key: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    c.execute(
        "INSERT OR IGNORE INTO suppressions (key, at) VALUES (?1, ?2)",
        params![key, key_time(at)],
    )
    .map_err(internal)?;
    Ok(())
}

/// Whether a keyed hash is on the list.
pub(crate) fn is_suppressed(c: &Connection, key: &str) -> Result<bool, StoreError> {
    c.query_row("SELECT 1 FROM suppressions WHERE key = ?1", [key], |_| {
        Ok(())
    })
    .optional()
    .map(|found| found.is_some())
    .map_err(internal)
}

/// `(lower(column) LIKE ?1 OR ...)` for every marker, with the markers as parameters (`%` and `_` escaped).
fn any_marker(column: &str, markers: &[String]) -> (String, Vec<String>) {
    let clause = (1..=markers.len())
        .map(|i| format!("instr(lower({column}), ?{i}) > 0"))
        .collect::<Vec<_>>()
        .join(" OR ");
    (format!("({clause})"), markers.to_vec())
}

/// Deletes the rows of `table` whose `column` holds a marker; returns how many.
fn delete_matching(
    c: &Connection,
    table: &str,
    column: &str,
    markers: &[String],
) -> Result<u64, StoreError> {
    let (clause, values) = any_marker(column, markers);
    let n = c
        .execute(
            &format!("DELETE FROM {table} WHERE {clause}"),
            params_from_iter(values),
        )
        .map_err(internal)?;
    Ok(n as u64)
}

/// The `(key, text)` of every row of `table` whose `text` expression holds a marker.
fn matching_rows(
    c: &Connection,
    table: &str,
    key: &str,
    text: &str,
    markers: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    let (clause, values) = any_marker(text, markers);
    let mut st = c
        .prepare(&format!(
            "SELECT CAST({key} AS TEXT), {text} FROM {table} WHERE {clause}"
        ))
        .map_err(internal)?;
    let rows = st
        .query_map(params_from_iter(values), |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(internal)?;
    rows.collect::<Result<_, _>>().map_err(internal)
}

/// The audit entries whose summary or target holds the person, with their ids (an entry that matched only by
/// its actor or address is about a staff member and is left out).
fn matching_audit(
    c: &Connection,
    scope: &ErasureScope,
    markers: &[String],
) -> Result<Vec<(String, AuditEntry)>, StoreError> {
    let mut found = Vec::new();
    for (id, data) in matching_rows(c, "audit_log", "id", "data", markers)? {
        let Ok(entry) = serde_json::from_str::<AuditEntry>(&data) else {
            continue;
        };
        let summary = serde_json::to_string(&entry.summary).unwrap_or_default();
        if scope.matches(&summary) || scope.matches(&entry.target) {
            found.push((id, entry));
        }
    }
    Ok(found)
}

/// Replaces the summary of every audit entry that holds the person (the entry itself stays).
fn redact_audit(
    c: &Connection,
    scope: &ErasureScope,
    markers: &[String],
) -> Result<u64, StoreError> {
    let mut redacted = 0;
    for (id, mut entry) in matching_audit(c, scope, markers)? {
        entry.summary = redacted_summary();
        let data = serde_json::to_string(&entry).map_err(internal)?;
        c.execute(
            "UPDATE audit_log SET data = ?2 WHERE id = ?1",
            params![id, data],
        )
        .map_err(internal)?;
        redacted += 1;
    }
    Ok(redacted)
}

/// What is kept about the person beside their leads (an access request).
pub(crate) fn person_copies(
    c: &Connection,
    scope: &ErasureScope,
) -> Result<PersonCopies, StoreError> {
    let markers = scope.markers();
    if markers.is_empty() {
        return Ok(PersonCopies::default());
    }
    let mut copies = PersonCopies::default();
    for (_, data) in matching_rows(c, "postback_log", "key", "data", &markers)? {
        if let Ok(entry) = serde_json::from_str::<PostbackLogEntry>(&data) {
            copies.postback_log.push(entry);
        }
    }
    for (_, data) in matching_rows(c, "deliveries", "id", "data", &markers)? {
        if let Ok(delivery) = serde_json::from_str::<serde_json::Value>(&data) {
            copies.deliveries.push(delivery);
        }
    }
    copies.audit = matching_audit(c, scope, &markers)?
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    Ok(copies)
}

/// Deletes the outbox rows and deliveries that hold the person. What an erasure itself wrote (the stripped lead
/// and its deletion: the lead id without any needle) stays, so webhooks still hear of the deletion.
fn delete_copies_in(
    c: &Connection,
    table: &str,
    key: &str,
    text: &str,
    scope: &ErasureScope,
    markers: &[String],
) -> Result<u64, StoreError> {
    let needles = ErasureScope {
        lead_ids: Vec::new(),
        ..scope.clone()
    };
    let mut deleted = 0;
    for (row, content) in matching_rows(c, table, key, text, markers)? {
        if !needles.matches(&content) && !holds_personal_lead(&content) {
            continue;
        }
        deleted += c
            .execute(&format!("DELETE FROM {table} WHERE {key} = ?1"), [row])
            .map_err(internal)? as u64;
    }
    Ok(deleted)
}

/// Most attempts at the truncating checkpoint (another connection's checkpoint makes one return busy at once).
const CHECKPOINT_ATTEMPTS: u32 = 200;

/// Copies every WAL frame into the database and truncates the WAL to nothing: old page versions (which may still
/// hold erased rows) survive in neither file. Retries while the background checkpointer holds the lock.
fn truncate_wal(c: &Connection) -> Result<(), StoreError> {
    for _ in 0..CHECKPOINT_ATTEMPTS {
        let busy: i64 = c
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(internal)?;
        if busy == 0 {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Err(StoreError::Unavailable(
        "the WAL could not be checkpointed; retry the erasure".into(),
    ))
}

/// Erases `scope`'s copies in one transaction, then truncates the WAL so no old page survives in it.
pub(crate) fn erase_copies(
    c: &mut Connection,
    scope: &ErasureScope,
) -> Result<ErasedCopies, StoreError> {
    let markers = scope.markers();
    if markers.is_empty() {
        return Ok(ErasedCopies::default());
    }
    let ids: Vec<String> = scope.lead_ids.iter().map(ToString::to_string).collect();
    let tx = c.transaction().map_err(internal)?;
    let mut copies = ErasedCopies::default();
    for id in &ids {
        copies.history += tx
            .execute("DELETE FROM history WHERE lead_id = ?1", [id])
            .map_err(internal)? as u64;
    }
    copies.postback_log = delete_matching(&tx, "postback_log", "data", &markers)?;
    copies.idempotency = delete_matching(&tx, "idempotency", "response", &markers)?;
    copies.deliveries = delete_copies_in(&tx, "deliveries", "id", "data", scope, &markers)?;
    let images = "coalesce(before_json, '') || char(1) || coalesce(after_json, '')";
    copies.outbox = delete_copies_in(&tx, "lead_changes", "seq", images, scope, &markers)?;
    copies.audit_redacted = redact_audit(&tx, scope, &markers)?;
    tx.commit().map_err(internal)?;
    // Merge the search index's segments (its deleted terms go with them), then empty the WAL.
    c.execute_batch("INSERT INTO leads_search (leads_search) VALUES ('optimize')")
        .map_err(internal)?;
    truncate_wal(c)?;
    Ok(copies)
}
