//! Personal accounts through [`Leadpipe`]: sign-in (throttled, no user enumeration), sessions, invites and user
//! changes. The rules are in [`crate::domain::account`]; password hashing runs on the blocking pool. Signing in
//! is in [`crate::sign_in_service`].
//!
//! Sign-ins, failed sign-ins of an existing account, sign-outs, invites, new accounts and user changes are
//! written to the audit log ([`Leadpipe::audit`]). A failed sign-in for an address with no account writes no
//! entry (an attacker cannot fill the log with made-up addresses; the failure still counts in the throttle and is
//! logged without the address).

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::audit_service::ChangedBy;
use crate::domain::AuditAction;

use crate::domain::account::{
    hash_password, keeps_an_admin, AccountError, Invite, InviteTake, Password, SecretToken,
    Session, SessionCheck, User,
};
use crate::domain::{Actor, ActorKind, Email, Role};
use crate::store::StoreError;
use crate::{ErrorCode, Leadpipe, ValidationError};

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Bad input (400).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Wrong email or password, or a disabled account: one answer for all (401).
    #[error("the email or password is wrong")]
    InvalidCredentials,
    /// Too many failed sign-ins for this account or client (429).
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    Throttled {
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
    /// The invite link is not one this deployment issued (400).
    #[error("this invite link is not valid")]
    InviteUnknown,
    /// The invite link was used already (410).
    #[error("this invite link has been used already; ask an admin for a new one")]
    InviteUsed,
    /// The invite link expired (410).
    #[error("this invite link has expired; ask an admin for a new one")]
    InviteExpired,
    /// Another account has this email (409).
    #[error("an account with this email exists already")]
    EmailInUse,
    /// The change would leave no active admin (409).
    #[error("the last active admin cannot be demoted or disabled")]
    LastAdmin,
    /// No such account (404).
    #[error("no such user")]
    NoSuchUser,
    /// The password is right but the account has two-factor on and no code came (401).
    #[error("this account has two-factor sign-in on: send the authenticator's code as totp (or a recovery_code)")]
    TotpRequired,
    /// The two-factor code or recovery code is wrong (401; counts as a failed sign-in).
    #[error("the two-factor code is wrong")]
    TotpInvalid,
    /// The two-factor code was used already (401; counts as a failed sign-in).
    #[error("this two-factor code was used already; wait for the next one")]
    TotpReused,
    /// Two-factor is on already: turn it off before setting it up again (409).
    #[error("two-factor sign-in is on already; turn it off first to set it up again")]
    TwoFactorOn,
    /// Two-factor is off (409).
    #[error("two-factor sign-in is not on")]
    TwoFactorOff,
    /// No set-up was started, so there is nothing to confirm (409).
    #[error("no two-factor set-up was started; start one first")]
    NoTwoFactorSetup,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing or the random source failed (logged only).
    #[error("account crypto failed: {0}")]
    Crypto(String),
}

impl AuthError {
    /// The machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(v) => v.code,
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::Throttled { .. } => ErrorCode::TooManyAttempts,
            Self::InviteUnknown => ErrorCode::InvalidInvite,
            Self::InviteUsed => ErrorCode::InviteUsed,
            Self::InviteExpired => ErrorCode::InviteExpired,
            Self::EmailInUse => ErrorCode::Conflict,
            Self::LastAdmin => ErrorCode::LastAdmin,
            Self::NoSuchUser => ErrorCode::NotFound,
            Self::TotpRequired => ErrorCode::TotpRequired,
            Self::TotpInvalid => ErrorCode::TotpInvalid,
            Self::TotpReused => ErrorCode::TotpReused,
            Self::TwoFactorOn | Self::TwoFactorOff | Self::NoTwoFactorSetup => ErrorCode::Conflict,
            Self::Store(StoreError::Unavailable(_)) => ErrorCode::Unavailable,
            Self::Store(_) | Self::Crypto(_) => ErrorCode::Internal,
        }
    }
}

pub(crate) fn password_error(e: AccountError) -> AuthError {
    match e {
        AccountError::Crypto(c) => AuthError::Crypto(c),
        other => ValidationError::field("password", other.to_string()).into(),
    }
}

/// Reads an email field (400 naming `field` when it is not an address).
pub fn parse_email(raw: &str, field: &str) -> Result<Email, AuthError> {
    Email::parse(raw).map_err(|m| ValidationError::field(field, m).into())
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AuthError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AuthError::Crypto(e.to_string()))
}

async fn hash(password: Password) -> Result<String, AuthError> {
    blocking(move || hash_password(&password))
        .await?
        .map_err(password_error)
}

/// A new session's token and the stored session.
pub(crate) fn new_session(
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<(SecretToken, Session), AuthError> {
    let token = SecretToken::generate().map_err(password_error)?;
    let session = Session::start(token.hash(), user, now);
    Ok((token, session))
}

/// The actor of a signed-in user.
pub fn user_actor(user: &User) -> Actor {
    Actor {
        kind: ActorKind::User {
            id: user.id,
            email: user.email.to_string(),
        },
        role: user.role,
    }
}

impl Leadpipe {
    /// The account behind a session token, when the session is valid at `now` and the account is enabled
    /// (read on every request, so disabling takes effect at once); records the visit at most once a minute.
    pub async fn session_user(
        &self,
        token: &SecretToken,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        let hash = token.hash();
        let Some(session) = self.store.session(&hash).await? else {
            return Ok(None);
        };
        let touch = match session.check(now) {
            SessionCheck::Expired => return Ok(None),
            SessionCheck::Valid { touch } => touch,
        };
        let Some(user) = self.store.user(session.user_id).await? else {
            return Ok(None);
        };
        if user.disabled {
            return Ok(None);
        }
        if touch {
            self.store.touch_session(&hash, now).await?;
        }
        Ok(Some(user))
    }

    /// Ends one session (signing out); a session that exists is recorded as its user's sign-out.
    pub async fn sign_out(
        &self,
        token: &SecretToken,
        client_ip: Option<&str>,
    ) -> Result<(), StoreError> {
        let hash = token.hash();
        let Some(session) = self.store.session(&hash).await? else {
            return Ok(());
        };
        self.store.delete_session(&hash).await?;
        if let Some(user) = self.store.user(session.user_id).await? {
            let by = ChangedBy::new(user_actor(&user), client_ip.map(str::to_string));
            let summary = json!({ "everywhere": false });
            self.audit(&by, AuditAction::SignedOut, &user.id.to_string(), summary)
                .await;
        }
        Ok(())
    }

    /// Ends every session of an account (sign out everywhere).
    pub async fn sign_out_everywhere(
        &self,
        user: &User,
        client_ip: Option<&str>,
    ) -> Result<(), StoreError> {
        self.store.delete_user_sessions(user.id).await?;
        let by = ChangedBy::new(user_actor(user), client_ip.map(str::to_string));
        let summary = json!({ "everywhere": true });
        self.audit(&by, AuditAction::SignedOut, &user.id.to_string(), summary)
            .await;
        Ok(())
    }

    /// Creates an account directly (the first admin, from `leadpipe users create-admin`).
    pub async fn create_account(
        &self,
        email: &str,
        password: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<User, AuthError> {
        let email = parse_email(email, "email")?;
        let password = Password::parse(password).map_err(password_error)?;
        let user = User {
            id: Uuid::new_v4(),
            email,
            role,
            disabled: false,
            password_hash: hash(password).await?,
            created_at: now,
            two_factor: Default::default(),
        };
        match self.store.create_user(&user).await {
            Ok(()) => {}
            Err(StoreError::EmailTaken(_)) => return Err(AuthError::EmailInUse),
            Err(e) => return Err(e.into()),
        }
        let by = ChangedBy::new(Actor::cli("users create-admin"), None);
        let summary = json!({ "email": user.email.as_str(), "role": user.role.as_str() });
        self.audit(&by, AuditAction::UserCreated, &user.id.to_string(), summary)
            .await;
        Ok(user)
    }

    /// Invites `email` with `role`: the token (for the link, shown once) and the stored invite.
    pub async fn invite(
        &self,
        email: &str,
        role: Role,
        by: &ChangedBy,
        now: DateTime<Utc>,
    ) -> Result<(SecretToken, Invite), AuthError> {
        let email = parse_email(email, "email")?;
        if self.store.user_by_email(&email).await?.is_some() {
            return Err(AuthError::EmailInUse);
        }
        let token = SecretToken::generate().map_err(password_error)?;
        let invite = Invite::new(token.hash(), email, role, by.actor.label(), now);
        self.store.create_invite(&invite).await?;
        let summary = json!({ "role": role.as_str(), "expires_at": invite.expires_at });
        self.audit(by, AuditAction::UserInvited, invite.email.as_str(), summary)
            .await;
        Ok((token, invite))
    }

    /// Accepts an invite: takes it once and creates the account with `password`. The password is checked before
    /// the invite is taken, so a too-short password does not use the link up.
    pub async fn accept_invite(
        &self,
        token: &str,
        password: &str,
        client_ip: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<User, AuthError> {
        let token = SecretToken::parse(token).map_err(|_| AuthError::InviteUnknown)?;
        let password = Password::parse(password).map_err(password_error)?;
        let password_hash = hash(password).await?;
        let invite = match self.store.take_invite(&token.hash(), now).await? {
            InviteTake::Taken(i) => i,
            InviteTake::Used => return Err(AuthError::InviteUsed),
            InviteTake::Expired => return Err(AuthError::InviteExpired),
            InviteTake::Unknown => return Err(AuthError::InviteUnknown),
        };
        let user = User {
            id: Uuid::new_v4(),
            email: invite.email.clone(),
            role: invite.role,
            disabled: false,
            password_hash,
            created_at: now,
            two_factor: Default::default(),
        };
        match self.store.create_user(&user).await {
            Ok(()) => {}
            Err(StoreError::EmailTaken(_)) => return Err(AuthError::EmailInUse),
            Err(e) => return Err(e.into()),
        }
        let by = ChangedBy::new(user_actor(&user), client_ip.map(str::to_string));
        let summary = json!({
            "email": user.email.as_str(),
            "role": user.role.as_str(),
            "invited_by": invite.invited_by,
        });
        self.audit(&by, AuditAction::UserCreated, &user.id.to_string(), summary)
            .await;
        Ok(user)
    }

    /// Changes an account's role and/or disabled flag; disabling ends its sessions. Refuses to leave no active
    /// admin, atomically: when the change takes an admin away, the store writes it only while another admin is
    /// still active (so two admins demoting each other at the same instant cannot both succeed); a lost race
    /// reads the accounts again.
    pub async fn change_user(
        &self,
        id: Uuid,
        role: Option<Role>,
        disabled: Option<bool>,
        by: &ChangedBy,
    ) -> Result<User, AuthError> {
        let mut attempt = 0;
        let (user, before) = loop {
            attempt += 1;
            let users = self.store.users().await?;
            let Some(mut user) = users.iter().find(|u| u.id == id).cloned() else {
                return Err(AuthError::NoSuchUser);
            };
            let (new_role, new_disabled) =
                (role.unwrap_or(user.role), disabled.unwrap_or(user.disabled));
            let before = (user.role, user.disabled);
            let was_active_admin = user.role == Role::Admin && !user.disabled;
            let stays_active_admin = new_role == Role::Admin && !new_disabled;
            let keeper = if was_active_admin && !stays_active_admin {
                let other = users
                    .iter()
                    .find(|u| u.id != id && u.role == Role::Admin && !u.disabled);
                match other {
                    Some(o) if keeps_an_admin(&users, id, new_role, new_disabled) => Some(o.id),
                    _ => return Err(AuthError::LastAdmin),
                }
            } else {
                None
            };
            user.role = new_role;
            user.disabled = new_disabled;
            match self.store.update_user(&user, keeper).await {
                Ok(true) => break (user, before),
                Ok(false) => return Err(AuthError::NoSuchUser),
                // The keeper stopped being an admin meanwhile: decide again on fresh accounts.
                Err(StoreError::Conflict) if attempt < 5 => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if user.disabled {
            self.store.delete_user_sessions(user.id).await?;
        }
        let summary = json!({
            "email": user.email.as_str(),
            "role": { "from": before.0.as_str(), "to": user.role.as_str() },
            "disabled": { "from": before.1, "to": user.disabled },
        });
        self.audit(by, AuditAction::UserChanged, &user.id.to_string(), summary)
            .await;
        Ok(user)
    }
}
