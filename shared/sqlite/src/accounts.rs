//! Accounts on SQLite: tables `users` (unique email), `sessions` (by token hash, indexed by user), `invites` (by
//! token hash, `used_at` set once) and `login_failures` (per key and throttle window). Created by `CREATE TABLE IF
//! NOT EXISTS` when a store opens; times are milliseconds since the epoch. Writes run on the writing connection.
//! The two-factor columns of `users` are added by `two_factor::add_columns`.

use chrono::{DateTime, Utc};
use leadpipe_core::domain::account::{Invite, InviteTake, Session, TokenHash, User};
use leadpipe_core::domain::{Email, Role};
use leadpipe_core::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row};
use uuid::Uuid;

use crate::internal;
use crate::two_factor::{self, TwoFactorRow};

/// The tables.
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    disabled      INTEGER NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);
CREATE TABLE IF NOT EXISTS invites (
    token_hash TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    role       TEXT NOT NULL,
    invited_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE TABLE IF NOT EXISTS login_failures (
    key        TEXT NOT NULL,
    win        INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (key, win)
);
"#;

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(v: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(v).ok_or_else(|| internal("stored time out of range"))
}

fn role(raw: &str) -> Result<Role, StoreError> {
    Role::parse(raw).ok_or_else(|| internal(format!("stored role {raw:?} is unknown")))
}

fn hash(raw: &str) -> Result<TokenHash, StoreError> {
    TokenHash::parse(raw).ok_or_else(|| internal("stored token hash is malformed"))
}

/// The account columns, then the two-factor ones (read by [`two_factor::row`]).
const USER_COLUMNS: &str =
    "id, email, role, disabled, password_hash, created_at, totp_secret, totp_pending, totp_step, totp_recovery";

type UserRow = ((String, String, String, bool, String, i64), TwoFactorRow);

fn user_row(r: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok((
        (
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ),
        two_factor::row(r, 6)?,
    ))
}

fn user_of(
    ((id, email, r, disabled, password_hash, created_at), totp): UserRow,
) -> Result<User, StoreError> {
    Ok(User {
        id: Uuid::parse_str(&id).map_err(internal)?,
        email: Email::parse(&email).map_err(internal)?,
        role: role(&r)?,
        disabled,
        password_hash,
        created_at: time(created_at)?,
        two_factor: two_factor::state_of(totp)?,
    })
}

/// Inserts an account; its email must be free.
pub(crate) fn create_user(c: &mut Connection, u: &User) -> Result<(), StoreError> {
    let done = c.execute(
        "INSERT INTO users (id, email, role, disabled, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![u.id.to_string(), u.email.as_str(), u.role.as_str(), u.disabled, u.password_hash, ms(u.created_at)],
    );
    match done {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::EmailTaken(u.email.clone()))
        }
        Err(e) => Err(internal(e)),
    }
}

/// The account with `column = value`.
pub(crate) fn user_where(
    c: &Connection,
    column: &'static str,
    value: String,
) -> Result<Option<User>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE {column} = ?1"
    ))
    .map_err(internal)?
    .query_row([value], user_row)
    .optional()
    .map_err(internal)?
    .map(user_of)
    .transpose()
}

/// Every account by email.
pub(crate) fn users(c: &Connection) -> Result<Vec<User>, StoreError> {
    let mut st = c
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY email"))
        .map_err(internal)?;
    let rows = st.query_map([], user_row).map_err(internal)?;
    rows.map(|r| user_of(r.map_err(internal)?)).collect()
}

/// Replaces role, disabled and password hash.
pub(crate) fn update_user(
    c: &mut Connection,
    u: &User,
    keeper: Option<Uuid>,
) -> Result<bool, StoreError> {
    // One transaction: the keeper's check and the update see the same state (the store has one writer).
    let tx = c.transaction().map_err(internal)?;
    if let Some(keeper) = keeper {
        let still_admin: i64 = tx
            .query_row(
                "SELECT count(*) FROM users WHERE id = ?1 AND role = 'admin' AND disabled = 0",
                [keeper.to_string()],
                |r| r.get(0),
            )
            .map_err(internal)?;
        if still_admin == 0 {
            return Err(StoreError::Conflict);
        }
    }
    let n = tx
        .execute(
            "UPDATE users SET role = ?2, disabled = ?3, password_hash = ?4 WHERE id = ?1",
            params![
                u.id.to_string(),
                u.role.as_str(),
                u.disabled,
                u.password_hash
            ],
        )
        .map_err(internal)?;
    tx.commit().map_err(internal)?;
    Ok(n > 0)
}

/// Inserts a session, dropping expired ones.
pub(crate) fn create_session(c: &mut Connection, s: &Session) -> Result<(), StoreError> {
    let tx = c.transaction().map_err(internal)?;
    tx.execute(
        "DELETE FROM sessions WHERE expires_at <= ?1",
        [ms(s.created_at)],
    )
    .map_err(internal)?;
    tx.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![s.token_hash.as_str(), s.user_id.to_string(), ms(s.created_at), ms(s.expires_at), ms(s.last_seen)],
    )
    .map_err(internal)?;
    tx.commit().map_err(internal)
}

/// A session by token hash.
pub(crate) fn session(c: &Connection, h: &str) -> Result<Option<Session>, StoreError> {
    let row = c
        .prepare_cached("SELECT token_hash, user_id, created_at, expires_at, last_seen FROM sessions WHERE token_hash = ?1")
        .map_err(internal)?
        .query_row([h], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()
        .map_err(internal)?;
    row.map(|(h, user, created, expires, seen)| {
        Ok(Session {
            token_hash: hash(&h)?,
            user_id: Uuid::parse_str(&user).map_err(internal)?,
            created_at: time(created)?,
            expires_at: time(expires)?,
            last_seen: time(seen)?,
        })
    })
    .transpose()
}

/// Runs one statement with parameters.
pub(crate) fn exec(
    c: &mut Connection,
    sql: &'static str,
    p: impl rusqlite::Params,
) -> Result<(), StoreError> {
    c.prepare_cached(sql)
        .and_then(|mut st| st.execute(p))
        .map(|_| ())
        .map_err(internal)
}

/// Inserts an invite.
pub(crate) fn create_invite(c: &mut Connection, i: &Invite) -> Result<(), StoreError> {
    exec(
        c,
        "INSERT INTO invites (token_hash, email, role, invited_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![i.token_hash.as_str(), i.email.as_str(), i.role.as_str(), i.invited_by, ms(i.created_at), ms(i.expires_at)],
    )
}

/// Takes an invite once (the writer runs one call at a time, so read-then-mark is atomic).
pub(crate) fn take_invite(
    c: &mut Connection,
    h: &TokenHash,
    now: DateTime<Utc>,
) -> Result<InviteTake, StoreError> {
    let tx = c.transaction().map_err(internal)?;
    let row = tx
        .query_row(
            "SELECT email, role, invited_by, created_at, expires_at, used_at FROM invites WHERE token_hash = ?1",
            [h.as_str()],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            },
        )
        .optional()
        .map_err(internal)?;
    let Some((email, r, invited_by, created, expires, used)) = row else {
        return Ok(InviteTake::Unknown);
    };
    if used.is_some() {
        return Ok(InviteTake::Used);
    }
    let invite = Invite {
        token_hash: h.clone(),
        email: Email::parse(&email).map_err(internal)?,
        role: role(&r)?,
        invited_by,
        created_at: time(created)?,
        expires_at: time(expires)?,
    };
    if now >= invite.expires_at {
        return Ok(InviteTake::Expired);
    }
    tx.execute(
        "UPDATE invites SET used_at = ?2 WHERE token_hash = ?1",
        params![h.as_str(), ms(now)],
    )
    .map_err(internal)?;
    tx.commit().map_err(internal)?;
    Ok(InviteTake::Taken(invite))
}

/// Adds a failure to a throttle counter (dropping expired counters) and returns its count.
pub(crate) fn add_login_failure(
    c: &mut Connection,
    key: &str,
    window: i64,
    expires_at: DateTime<Utc>,
) -> Result<u32, StoreError> {
    let tx = c.transaction().map_err(internal)?;
    tx.execute(
        "DELETE FROM login_failures WHERE expires_at <= ?1",
        [Utc::now().timestamp_millis()],
    )
    .map_err(internal)?;
    let n: i64 = tx
        .query_row(
            "INSERT INTO login_failures (key, win, n, expires_at) VALUES (?1, ?2, 1, ?3) \
             ON CONFLICT (key, win) DO UPDATE SET n = n + 1 RETURNING n",
            params![key, window, ms(expires_at)],
            |r| r.get(0),
        )
        .map_err(internal)?;
    tx.commit().map_err(internal)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// A throttle counter's count.
pub(crate) fn login_failures(c: &Connection, key: &str, window: i64) -> Result<u32, StoreError> {
    let n: Option<i64> = c
        .prepare_cached("SELECT n FROM login_failures WHERE key = ?1 AND win = ?2")
        .map_err(internal)?
        .query_row(params![key, window], |r| r.get(0))
        .optional()
        .map_err(internal)?;
    Ok(n.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
}
