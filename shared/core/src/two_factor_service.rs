//! Optional two-factor sign-in (TOTP, RFC 6238) through [`Leadpipe`]: set-up, confirmation, turning it off, an
//! admin's reset, and the second step of [`Leadpipe::sign_in`]. The rules are in [`crate::domain::totp`] and
//! [`crate::domain::two_factor`].
//!
//! Set-up, confirmation, turning off, an admin's reset and wrong codes while confirming or turning off are written
//! to the audit log; a wrong code at sign-in is a failed sign-in (`auth.sign_in_failed` with its reason). No
//! entry ever holds a secret or a code.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::account_service::AuthError;
use crate::audit_service::ChangedBy;
use crate::domain::account::{verify_password, User, MAX_PASSWORD_CHARS};
use crate::domain::totp::{TotpCheck, TotpCode, TotpError, TotpSecret};
use crate::domain::two_factor::{recovery_codes, RecoveryCode, TwoFactor};
use crate::domain::AuditAction;
use crate::{Leadpipe, ValidationError};

/// What starting a set-up hands the user once: the secret to type or the URI to paste into an authenticator.
#[derive(Debug, Clone)]
pub struct TwoFactorSetup {
    /// The secret, base32 without padding.
    pub secret: String,
    /// `otpauth://totp/Leadpipe:<email>?secret=…&issuer=Leadpipe`.
    pub otpauth_uri: String,
}

/// The second factor a sign-in carries (ignored for accounts without two-factor).
#[derive(Debug, Clone, Copy, Default)]
pub enum SecondFactor<'a> {
    /// None sent.
    #[default]
    None,
    /// A code from the authenticator.
    Totp(&'a str),
    /// A one-time recovery code.
    Recovery(&'a str),
}

/// What proves the user's consent to turning two-factor off.
#[derive(Debug, Clone, Copy)]
pub enum DisableProof<'a> {
    /// A current code.
    Totp(&'a str),
    /// An unused recovery code.
    Recovery(&'a str),
    /// The account's password.
    Password(&'a str),
}

/// What checking a sign-in's second factor found.
pub(crate) enum FactorCheck {
    /// Passed, by `totp` or `recovery_code`.
    Passed(&'static str),
    /// No second factor was sent.
    Missing,
    /// Refused: the audit reason and the error to answer with.
    Failed(&'static str, AuthError),
}

fn crypto(e: TotpError) -> AuthError {
    AuthError::Crypto(e.to_string())
}

fn code_field(message: &str) -> AuthError {
    ValidationError::field("code", message).into()
}

impl Leadpipe {
    /// Starts a set-up for `user`: a new pending secret (replacing any earlier pending one). Two-factor stays off
    /// until [`Leadpipe::confirm_two_factor`]. Refused while two-factor is on.
    pub async fn start_two_factor(
        &self,
        user: &User,
        by: &ChangedBy,
    ) -> Result<TwoFactorSetup, AuthError> {
        if user.two_factor.enabled() {
            return Err(AuthError::TwoFactorOn);
        }
        let secret = TotpSecret::generate().map_err(crypto)?;
        let state = TwoFactor {
            pending: Some(secret.clone()),
            ..TwoFactor::default()
        };
        if !self.store.set_two_factor(user.id, &state).await? {
            return Err(AuthError::NoSuchUser);
        }
        let target = user.id.to_string();
        self.audit(by, AuditAction::TwoFactorSetupStarted, &target, json!({}))
            .await;
        Ok(TwoFactorSetup {
            secret: secret.to_base32(),
            otpauth_uri: secret.otpauth_uri(user.email.as_str()),
        })
    }

    /// Confirms the pending set-up with a code of its secret: two-factor is on (the code's step is recorded, so
    /// it cannot sign in) and the recovery codes are returned, to show once (only their hashes are kept).
    pub async fn confirm_two_factor(
        &self,
        user: &User,
        code: &str,
        by: &ChangedBy,
        now: DateTime<Utc>,
    ) -> Result<Vec<RecoveryCode>, AuthError> {
        if user.two_factor.enabled() {
            return Err(AuthError::TwoFactorOn);
        }
        let Some(pending) = user.two_factor.pending.clone() else {
            return Err(AuthError::NoTwoFactorSetup);
        };
        let target = user.id.to_string();
        let code = TotpCode::parse(code).map_err(|e| code_field(&e.to_string()))?;
        let TotpCheck::Accepted { step } = pending.check(&code, now.timestamp(), None) else {
            let summary = json!({ "during": "confirm", "reason": "wrong_code" });
            self.audit(by, AuditAction::TwoFactorFailed, &target, summary)
                .await;
            return Err(code_field(
                "the code is wrong: check the authenticator's clock and enter its current code",
            ));
        };
        let codes = recovery_codes().map_err(crypto)?;
        let state = TwoFactor {
            secret: Some(pending),
            pending: None,
            last_step: Some(step),
            recovery: codes.iter().map(RecoveryCode::hash).collect(),
        };
        if !self.store.set_two_factor(user.id, &state).await? {
            return Err(AuthError::NoSuchUser);
        }
        let summary = json!({ "recovery_codes": codes.len() });
        self.audit(by, AuditAction::TwoFactorEnabled, &target, summary)
            .await;
        Ok(codes)
    }

    /// Turns two-factor off for `user`, given a current code, an unused recovery code or the password. Wrong
    /// proofs count toward the sign-in throttle, and a throttled account or client is refused (429).
    pub async fn disable_two_factor(
        &self,
        user: &User,
        proof: DisableProof<'_>,
        by: &ChangedBy,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        if !user.two_factor.enabled() {
            return Err(AuthError::TwoFactorOff);
        }
        let target = user.id.to_string();
        // A stolen session must not make this a password or code oracle: the sign-in throttle applies.
        let client_ip = by.client_ip.as_deref();
        self.check_throttle(&user.email, client_ip, now).await?;
        let (with, refusal) = match proof {
            DisableProof::Totp(raw) => {
                let second = SecondFactor::Totp(raw);
                ("totp", self.check_second_factor(user, second, now).await?)
            }
            DisableProof::Recovery(raw) => {
                let second = SecondFactor::Recovery(raw);
                let check = self.check_second_factor(user, second, now).await?;
                ("recovery_code", check)
            }
            DisableProof::Password(raw) => {
                let stored = user.password_hash.clone();
                let candidate: String = raw.chars().take(MAX_PASSWORD_CHARS + 1).collect();
                let ok = tokio::task::spawn_blocking(move || verify_password(&stored, &candidate))
                    .await
                    .map_err(|e| AuthError::Crypto(e.to_string()))?;
                let check = if ok {
                    FactorCheck::Passed("password")
                } else {
                    let e = ValidationError::field("password", "the password is wrong");
                    FactorCheck::Failed("wrong_password", e.into())
                };
                ("password", check)
            }
        };
        match refusal {
            FactorCheck::Passed(_) => {}
            FactorCheck::Missing => return Err(code_field("send a code to turn two-factor off")),
            FactorCheck::Failed(reason, e) => {
                self.count_failure(&user.email, client_ip, now).await?;
                let summary = json!({ "during": "disable", "reason": reason });
                self.audit(by, AuditAction::TwoFactorFailed, &target, summary)
                    .await;
                return Err(match e {
                    AuthError::TotpReused => {
                        code_field("this code was used already; wait for the next one")
                    }
                    AuthError::TotpInvalid if with == "recovery_code" => ValidationError::field(
                        "recovery_code",
                        "the recovery code is wrong or was used already",
                    )
                    .into(),
                    AuthError::TotpInvalid => code_field("the code is wrong"),
                    other => other,
                });
            }
        }
        if !self
            .store
            .set_two_factor(user.id, &TwoFactor::default())
            .await?
        {
            return Err(AuthError::NoSuchUser);
        }
        let summary = json!({ "with": with });
        self.audit(by, AuditAction::TwoFactorDisabled, &target, summary)
            .await;
        Ok(())
    }

    /// An admin turns a user's two-factor off (a lost authenticator): the user signs in with the password alone
    /// and may set two-factor up again.
    pub async fn reset_two_factor(&self, id: Uuid, by: &ChangedBy) -> Result<User, AuthError> {
        let Some(mut user) = self.store.user(id).await? else {
            return Err(AuthError::NoSuchUser);
        };
        if !self.store.set_two_factor(id, &TwoFactor::default()).await? {
            return Err(AuthError::NoSuchUser);
        }
        let summary = json!({
            "email": user.email.as_str(),
            "two_factor": { "from": user.two_factor.enabled(), "to": false },
        });
        user.two_factor = TwoFactor::default();
        self.audit(by, AuditAction::TwoFactorReset, &id.to_string(), summary)
            .await;
        Ok(user)
    }

    /// Checks a second factor of an account with two-factor on. A right code is accepted once: its step is
    /// recorded atomically before it counts, so of two sign-ins with one code only one passes.
    pub(crate) async fn check_second_factor(
        &self,
        user: &User,
        second: SecondFactor<'_>,
        now: DateTime<Utc>,
    ) -> Result<FactorCheck, AuthError> {
        let Some(secret) = user.two_factor.secret.as_ref() else {
            return Ok(FactorCheck::Passed("none"));
        };
        match second {
            SecondFactor::None => Ok(FactorCheck::Missing),
            SecondFactor::Totp(raw) => {
                let Ok(code) = TotpCode::parse(raw) else {
                    return Ok(FactorCheck::Failed("totp_invalid", AuthError::TotpInvalid));
                };
                match secret.check(&code, now.timestamp(), user.two_factor.last_step) {
                    TotpCheck::Accepted { step } => {
                        if self.store.use_totp_step(user.id, step).await? {
                            Ok(FactorCheck::Passed("totp"))
                        } else {
                            Ok(FactorCheck::Failed("totp_reused", AuthError::TotpReused))
                        }
                    }
                    TotpCheck::Reused => {
                        Ok(FactorCheck::Failed("totp_reused", AuthError::TotpReused))
                    }
                    TotpCheck::Wrong => {
                        Ok(FactorCheck::Failed("totp_invalid", AuthError::TotpInvalid))
                    }
                }
            }
            SecondFactor::Recovery(raw) => {
                let used = match RecoveryCode::parse(raw) {
                    Some(code) => self.store.use_recovery_code(user.id, &code.hash()).await?,
                    None => false,
                };
                Ok(if used {
                    FactorCheck::Passed("recovery_code")
                } else {
                    FactorCheck::Failed("recovery_code_invalid", AuthError::TotpInvalid)
                })
            }
        }
    }
}
