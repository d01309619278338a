//! Two-factor state on SQLite: four columns of `users` (`totp_secret` and `totp_pending` as base32,
//! `totp_step` the last accepted time step, `totp_recovery` the unused recovery code hashes separated by spaces).
//! A database from before two-factor gets the columns when it opens ([`add_columns`]): its accounts have
//! two-factor off.

use leadpipe_core::domain::totp::TotpSecret;
use leadpipe_core::domain::two_factor::TwoFactor;
use leadpipe_core::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row};
use uuid::Uuid;

use crate::internal;

/// The columns as read.
pub(crate) type TwoFactorRow = (Option<String>, Option<String>, Option<i64>, String);

/// Reads `totp_secret, totp_pending, totp_step, totp_recovery` starting at column `first`.
pub(crate) fn row(r: &Row<'_>, first: usize) -> rusqlite::Result<TwoFactorRow> {
    Ok((
        r.get(first)?,
        r.get(first + 1)?,
        r.get(first + 2)?,
        r.get(first + 3)?,
    ))
}

fn secret(raw: Option<String>) -> Result<Option<TotpSecret>, StoreError> {
    raw.map(|s| TotpSecret::parse(&s).map_err(internal))
        .transpose()
}

/// The state a row holds.
pub(crate) fn state_of(
    (s, pending, step, recovery): TwoFactorRow,
) -> Result<TwoFactor, StoreError> {
    Ok(TwoFactor {
        secret: secret(s)?,
        pending: secret(pending)?,
        last_step: step,
        recovery: recovery.split_whitespace().map(str::to_string).collect(),
    })
}

/// Adds the columns to a `users` table from before two-factor.
pub(crate) fn add_columns(c: &Connection) -> Result<(), StoreError> {
    let mut st = c
        .prepare("SELECT name FROM pragma_table_info('users')")
        .map_err(internal)?;
    let present: Vec<String> = st
        .query_map([], |r| r.get(0))
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    for (name, ddl) in [
        (
            "totp_secret",
            "ALTER TABLE users ADD COLUMN totp_secret TEXT",
        ),
        (
            "totp_pending",
            "ALTER TABLE users ADD COLUMN totp_pending TEXT",
        ),
        (
            "totp_step",
            "ALTER TABLE users ADD COLUMN totp_step INTEGER",
        ),
        (
            "totp_recovery",
            "ALTER TABLE users ADD COLUMN totp_recovery TEXT NOT NULL DEFAULT ''",
        ),
    ] {
        if !present.iter().any(|p| p == name) {
            c.execute_batch(ddl).map_err(internal)?;
        }
    }
    Ok(())
}

/// Replaces the state; `false` when there is no such account.
pub(crate) fn set(c: &mut Connection, id: Uuid, t: &TwoFactor) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE users SET totp_secret = ?2, totp_pending = ?3, totp_step = ?4, totp_recovery = ?5 WHERE id = ?1",
            params![
                id.to_string(),
                t.secret.as_ref().map(TotpSecret::to_base32),
                t.pending.as_ref().map(TotpSecret::to_base32),
                t.last_step,
                t.recovery.join(" "),
            ],
        )
        .map_err(internal)?;
    Ok(n > 0)
}

/// Records an accepted step when it is later than the last one and two-factor is on.
pub(crate) fn use_step(c: &mut Connection, id: Uuid, step: i64) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE users SET totp_step = ?2 WHERE id = ?1 AND totp_secret IS NOT NULL \
             AND (totp_step IS NULL OR totp_step < ?2)",
            params![id.to_string(), step],
        )
        .map_err(internal)?;
    Ok(n > 0)
}

/// Removes one unused recovery code (the writer runs one call at a time, so read-then-write is atomic).
pub(crate) fn use_recovery(c: &mut Connection, id: Uuid, hash: &str) -> Result<bool, StoreError> {
    let tx = c.transaction().map_err(internal)?;
    let stored: Option<String> = tx
        .query_row(
            "SELECT totp_recovery FROM users WHERE id = ?1 AND totp_secret IS NOT NULL",
            [id.to_string()],
            |r| r.get(0),
        )
        .optional()
        .map_err(internal)?;
    let Some(stored) = stored else {
        return Ok(false);
    };
    let mut left: Vec<&str> = stored.split_whitespace().collect();
    let Some(at) = left.iter().position(|h| *h == hash) else {
        return Ok(false);
    };
    left.remove(at);
    tx.execute(
        "UPDATE users SET totp_recovery = ?2 WHERE id = ?1",
        params![id.to_string(), left.join(" ")],
    )
    .map_err(internal)?;
    tx.commit().map_err(internal)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use leadpipe_core::domain::counters::CounterRules;

    use crate::{accounts, SqliteStore};

    #[test]
    fn a_users_table_from_before_two_factor_gets_the_columns_with_two_factor_off() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
                 disabled INTEGER NOT NULL, password_hash TEXT NOT NULL, created_at INTEGER NOT NULL);
             INSERT INTO users VALUES ('0190c1a4-0000-7000-8000-000000000001', 'old@example.com', 'admin', 0,
                 'h', 0);",
        )
        .expect("old shape");
        let store = SqliteStore::init(conn, CounterRules::default()).expect("migrates");
        let c = store.conn.lock().expect("conn");
        let user = accounts::user_where(&c, "email", "old@example.com".into())
            .expect("reads")
            .expect("kept");
        assert_eq!(user.password_hash, "h");
        assert!(!user.two_factor.enabled());
        assert_eq!(user.two_factor, Default::default());
    }
}
