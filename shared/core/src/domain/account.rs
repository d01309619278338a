//! Personal accounts: users, passwords, sessions, invites and the sign-in throttle (pure rules).
//!
//! - Passwords are 12 to 256 characters and stored only as argon2id hashes at OWASP's parameters
//!   (m = 19,456 KiB, t = 2, p = 1), in PHC string form.
//! - Session and invite tokens are 32 random bytes, base64url without padding; the store keeps only the SHA-256
//!   of a token ([`TokenHash`]), so a leaked table grants no session.
//! - A session lasts at most [`SESSION_LIFETIME`] and ends after [`SESSION_IDLE`] without a request; its
//!   `last_seen` is written at most once per [`TOUCH_EVERY`].
//! - An invite is taken once and expires after [`INVITE_LIFETIME`].
//! - Sign-in failures are counted per account and per client in fixed windows of [`THROTTLE_WINDOW`].

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::two_factor::TwoFactor;
use super::{Email, Role};

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest accepted password, in characters.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// A session's absolute lifetime.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);
/// A session ends after this long without a request.
pub const SESSION_IDLE: Duration = Duration::hours(2);
/// `last_seen` is written at most this often.
pub const TOUCH_EVERY: Duration = Duration::minutes(1);
/// How long an invite link stays valid.
pub const INVITE_LIFETIME: Duration = Duration::hours(72);
/// The window sign-in failures are counted in.
pub const THROTTLE_WINDOW: Duration = Duration::minutes(15);
/// Failed sign-ins per account and window before sign-in is refused.
pub const MAX_FAILURES_PER_ACCOUNT: u32 = 10;
/// Failed sign-ins per client address and window before sign-in is refused.
pub const MAX_FAILURES_PER_CLIENT: u32 = 50;

/// Why an account operation's input was refused, or hashing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The password is shorter than [`MIN_PASSWORD_CHARS`].
    #[error("password must be at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    /// The password is longer than [`MAX_PASSWORD_CHARS`].
    #[error("password must be at most {MAX_PASSWORD_CHARS} characters")]
    PasswordTooLong,
    /// A token is not 43 base64url characters.
    #[error("the token is malformed")]
    MalformedToken,
    /// The random source or the hasher failed (logged, never shown).
    #[error("account crypto failed: {0}")]
    Crypto(String),
}

/// A password that meets the policy (never logged, never stored as is).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

impl Password {
    /// Checks the policy: 12 to 256 characters (any characters; spaces count).
    pub fn parse(raw: &str) -> Result<Self, AccountError> {
        let n = raw.chars().count();
        if n < MIN_PASSWORD_CHARS {
            return Err(AccountError::PasswordTooShort);
        }
        if n > MAX_PASSWORD_CHARS {
            return Err(AccountError::PasswordTooLong);
        }
        Ok(Self(raw.to_string()))
    }

    /// The password's text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn hasher() -> Result<Argon2<'static>, AccountError> {
    let params =
        Params::new(19_456, 2, 1, None).map_err(|e| AccountError::Crypto(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with argon2id at OWASP's parameters and a random salt (PHC string).
pub fn hash_password(password: &Password) -> Result<String, AccountError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AccountError::Crypto(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccountError::Crypto(e.to_string()))?;
    hasher()?
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Crypto(e.to_string()))
}

/// Whether `candidate` matches the stored `hash` (false for a hash that does not parse). Takes as long as
/// hashing: callers verify [`dummy_hash`] for unknown accounts so both answers take the same time.
pub fn verify_password(hash: &str, candidate: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let Ok(h) = hasher() else {
        return false;
    };
    h.verify_password(candidate.as_bytes(), &parsed).is_ok()
}

/// A hash of a random password, computed once: verified against when the email is unknown, so a sign-in for an
/// unknown account costs what a wrong password costs.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let token = SecretToken::generate()
            .map(|t| t.0)
            .unwrap_or_else(|_| "leadpipe-dummy-password".into());
        Password::parse(&token)
            .ok()
            .and_then(|p| hash_password(&p).ok())
            .unwrap_or_default()
    })
}

/// A secret token (session cookie or invite link): 32 random bytes, base64url without padding.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretToken(…)")
    }
}

impl SecretToken {
    /// A fresh token from the operating system's random source.
    pub fn generate() -> Result<Self, AccountError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| AccountError::Crypto(e.to_string()))?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Reads a token as sent by a client: exactly 43 base64url characters decoding to 32 bytes.
    pub fn parse(raw: &str) -> Result<Self, AccountError> {
        let raw = raw.trim();
        if raw.len() != 43 {
            return Err(AccountError::MalformedToken);
        }
        match URL_SAFE_NO_PAD.decode(raw) {
            Ok(bytes) if bytes.len() == 32 => Ok(Self(raw.to_string())),
            _ => Err(AccountError::MalformedToken),
        }
    }

    /// The token's text (for the cookie or the link; never stored).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps: the SHA-256 of the token.
    pub fn hash(&self) -> TokenHash {
        TokenHash(hex(&Sha256::digest(self.0.as_bytes())))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a [`SecretToken`], lower-case hex: the key sessions and invites are stored under.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    /// Reads a stored hash (64 lower-case hex digits).
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Self(raw.to_string()))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Account id.
    pub id: Uuid,
    /// Sign-in email, unique among accounts.
    pub email: Email,
    /// What the account may do.
    pub role: Role,
    /// A disabled account cannot sign in and its sessions end.
    pub disabled: bool,
    /// The argon2id PHC hash of the password.
    pub password_hash: String,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// Two-factor sign-in: off, being set up, or on (written only through the store's two-factor operations).
    pub two_factor: TwoFactor,
}

/// A signed-in browser: stored under the hash of its cookie's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The SHA-256 of the cookie's token.
    pub token_hash: TokenHash,
    /// Whose session it is.
    pub user_id: Uuid,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it ends at the latest (`created_at` + [`SESSION_LIFETIME`]).
    pub expires_at: DateTime<Utc>,
    /// The last request seen (written at most once per [`TOUCH_EVERY`]).
    pub last_seen: DateTime<Utc>,
}

/// What a session allows at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCheck {
    /// Valid; `touch` says `last_seen` is old enough to be written again.
    Valid {
        /// Whether to write `last_seen`.
        touch: bool,
    },
    /// Past its absolute expiry or idle too long.
    Expired,
}

impl Session {
    /// A new session for `user_id` starting at `now`.
    pub fn start(token_hash: TokenHash, user_id: Uuid, now: DateTime<Utc>) -> Self {
        Self {
            token_hash,
            user_id,
            created_at: now,
            expires_at: now + SESSION_LIFETIME,
            last_seen: now,
        }
    }

    /// Whether the session is still valid at `now`, and whether to record the visit.
    pub fn check(&self, now: DateTime<Utc>) -> SessionCheck {
        if now >= self.expires_at || now - self.last_seen >= SESSION_IDLE {
            return SessionCheck::Expired;
        }
        SessionCheck::Valid {
            touch: now - self.last_seen >= TOUCH_EVERY,
        }
    }
}

/// An invitation to create an account: stored under the hash of its link's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// The SHA-256 of the link's token.
    pub token_hash: TokenHash,
    /// Whom it invites.
    pub email: Email,
    /// The role the account gets.
    pub role: Role,
    /// Who invited (the actor's label).
    pub invited_by: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

impl Invite {
    /// A new invite created at `now`, valid for [`INVITE_LIFETIME`].
    pub fn new(
        token_hash: TokenHash,
        email: Email,
        role: Role,
        invited_by: String,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            token_hash,
            email,
            role,
            invited_by,
            created_at: now,
            expires_at: now + INVITE_LIFETIME,
        }
    }
}

/// What taking an invite found (one take of a link wins; later ones see `Used`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteTake {
    /// This call took the invite.
    Taken(Invite),
    /// The invite was taken before.
    Used,
    /// The invite's link has expired.
    Expired,
    /// No such invite.
    Unknown,
}

/// The throttle window `at` falls in (its number since the epoch).
pub fn throttle_window(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(THROTTLE_WINDOW.num_seconds())
}

/// When window `window` ends.
pub fn throttle_window_end(window: i64) -> DateTime<Utc> {
    DateTime::from_timestamp((window + 1) * THROTTLE_WINDOW.num_seconds(), 0).unwrap_or_default()
}

/// The throttle counter key of an account.
pub fn account_throttle_key(email: &Email) -> String {
    format!("a:{email}")
}

/// The throttle counter key of a client address.
pub fn client_throttle_key(client_ip: &str) -> String {
    format!("c:{client_ip}")
}

/// Whether sign-in is refused, given the window's failure counts of the account and the client.
pub fn throttled(account_failures: u32, client_failures: u32) -> bool {
    account_failures >= MAX_FAILURES_PER_ACCOUNT || client_failures >= MAX_FAILURES_PER_CLIENT
}

/// Whether changing `target` to `role`/`disabled` leaves at least one active admin among `users`.
pub fn keeps_an_admin(users: &[User], target: Uuid, role: Role, disabled: bool) -> bool {
    users.iter().any(|u| {
        let (r, d) = if u.id == target {
            (role, disabled)
        } else {
            (u.role, u.disabled)
        };
        r == Role::Admin && !d
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn passwords_follow_the_policy() {
        assert_eq!(
            Password::parse("short"),
            Err(AccountError::PasswordTooShort)
        );
        assert!(Password::parse("twelve chars").is_ok());
        assert!(Password::parse(&"é".repeat(256)).is_ok());
        assert_eq!(
            Password::parse(&"x".repeat(257)),
            Err(AccountError::PasswordTooLong)
        );
        assert_eq!(
            format!("{:?}", Password::parse("a secret password").unwrap()),
            "Password(…)"
        );
    }

    #[test]
    fn hashes_are_argon2id_at_owasp_parameters_and_verify() {
        let p = Password::parse("correct horse battery").unwrap();
        let h = hash_password(&p).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse battery!"));
        assert!(!verify_password("not a hash", "x"));
        assert_ne!(h, hash_password(&p).unwrap(), "salted");
        assert!(dummy_hash().starts_with("$argon2id$"));
    }

    #[test]
    fn tokens_are_32_random_bytes_and_only_their_hash_is_kept() {
        let t = SecretToken::generate().unwrap();
        assert_eq!(t.expose().len(), 43);
        assert_eq!(SecretToken::parse(t.expose()).unwrap(), t);
        assert_ne!(t, SecretToken::generate().unwrap());
        let h = t.hash();
        assert_eq!(h.as_str().len(), 64);
        assert_eq!(TokenHash::parse(h.as_str()), Some(h.clone()));
        assert_ne!(h.as_str(), t.expose());
        for bad in ["", "abc", &"*".repeat(43), &"A".repeat(44)] {
            assert_eq!(SecretToken::parse(bad), Err(AccountError::MalformedToken));
        }
        assert_eq!(TokenHash::parse("XYZ"), None);
    }

    #[test]
    fn sessions_expire_absolutely_and_when_idle_and_touch_once_a_minute() {
        let t = SecretToken::generate().unwrap().hash();
        let mut s = Session::start(t, Uuid::nil(), at("2026-01-01T00:00:00Z"));
        assert_eq!(s.expires_at, at("2026-01-01T12:00:00Z"));
        assert_eq!(
            s.check(at("2026-01-01T00:00:30Z")),
            SessionCheck::Valid { touch: false }
        );
        assert_eq!(
            s.check(at("2026-01-01T00:01:00Z")),
            SessionCheck::Valid { touch: true }
        );
        assert_eq!(s.check(at("2026-01-01T02:00:00Z")), SessionCheck::Expired);
        s.last_seen = at("2026-01-01T11:00:00Z");
        assert!(matches!(
            s.check(at("2026-01-01T11:59:59Z")),
            SessionCheck::Valid { .. }
        ));
        assert_eq!(s.check(at("2026-01-01T12:00:00Z")), SessionCheck::Expired);
    }

    #[test]
    fn invites_last_72_hours() {
        let i = Invite::new(
            SecretToken::generate().unwrap().hash(),
            Email::parse("a@example.com").unwrap(),
            Role::Viewer,
            "key:ADMIN_API_KEY".into(),
            at("2026-01-01T00:00:00Z"),
        );
        assert_eq!(i.expires_at, at("2026-01-04T00:00:00Z"));
    }

    #[test]
    fn throttle_windows_and_limits() {
        let w = throttle_window(at("2026-01-01T00:14:59Z"));
        assert_eq!(w, throttle_window(at("2026-01-01T00:00:00Z")));
        assert_eq!(w + 1, throttle_window(at("2026-01-01T00:15:00Z")));
        assert_eq!(throttle_window_end(w), at("2026-01-01T00:15:00Z"));
        assert!(!throttled(9, 49));
        assert!(throttled(10, 0));
        assert!(throttled(0, 50));
        let e = Email::parse("A@Example.com").unwrap();
        assert_eq!(account_throttle_key(&e), "a:a@example.com");
        assert_eq!(client_throttle_key("1.2.3.4"), "c:1.2.3.4");
    }

    #[test]
    fn the_last_active_admin_stays() {
        let user = |role, disabled| User {
            id: Uuid::new_v4(),
            email: Email::parse("x@example.com").unwrap(),
            role,
            disabled,
            password_hash: String::new(),
            created_at: at("2026-01-01T00:00:00Z"),
            two_factor: TwoFactor::default(),
        };
        let admin = user(Role::Admin, false);
        let other = user(Role::Admin, true);
        let users = vec![admin.clone(), other.clone(), user(Role::Member, false)];
        assert!(!keeps_an_admin(&users, admin.id, Role::Member, false));
        assert!(!keeps_an_admin(&users, admin.id, Role::Admin, true));
        assert!(keeps_an_admin(&users, admin.id, Role::Admin, false));
        assert!(keeps_an_admin(&users, other.id, Role::Admin, false));
        let users = vec![admin.clone(), user(Role::Admin, false)];
        assert!(keeps_an_admin(&users, admin.id, Role::Viewer, true));
    }
}
