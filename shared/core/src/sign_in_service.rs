//! Signing in through [`Leadpipe`]: the throttle, the password (no user enumeration) and, for accounts with
//! two-factor on, the second factor ([`crate::two_factor_service`]).

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::account_service::{blocking, new_session, parse_email, user_actor, AuthError};
use crate::audit_service::ChangedBy;
use crate::domain::account::{
    account_throttle_key, client_throttle_key, dummy_hash, throttle_window, throttle_window_end,
    throttled, verify_password, SecretToken, User, MAX_PASSWORD_CHARS,
};
use crate::domain::{AuditAction, Email};
use crate::two_factor_service::{FactorCheck, SecondFactor};
use crate::Leadpipe;

impl Leadpipe {
    /// Refuses (429) when the account or the client has had too many failures in this throttle window.
    pub(crate) async fn check_throttle(
        &self,
        email: &Email,
        client_ip: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        let window = throttle_window(now);
        let account_key = account_throttle_key(email);
        let client_key = client_throttle_key(client_ip.unwrap_or("unknown"));
        let account_failures = self.store.login_failures(&account_key, window).await?;
        let client_failures = self.store.login_failures(&client_key, window).await?;
        if throttled(account_failures, client_failures) {
            let left = (throttle_window_end(window) - now).num_seconds().max(1);
            tracing::info!("sign-in refused: throttled");
            return Err(AuthError::Throttled {
                retry_after_secs: u64::try_from(left).unwrap_or(1),
            });
        }
        Ok(())
    }

    /// Counts one failure against the account and the client in this throttle window.
    pub(crate) async fn count_failure(
        &self,
        email: &Email,
        client_ip: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        let window = throttle_window(now);
        let until = throttle_window_end(window);
        let client_key = client_throttle_key(client_ip.unwrap_or("unknown"));
        self.store
            .add_login_failure(&account_throttle_key(email), window, until)
            .await?;
        self.store
            .add_login_failure(&client_key, window, until)
            .await?;
        Ok(())
    }

    /// Signs in: checks the throttle, the password (a dummy hash for unknown accounts, so both take as long), the
    /// account and, when it has two-factor on, the second factor; then starts a session. Every failure counts
    /// against the account and the client, except a right password without a code (`TotpRequired`), which is the
    /// first step of a two-factor sign-in. A second factor is only looked at once the password is right, so an
    /// unknown email with any code answers as a wrong password does.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        second: SecondFactor<'_>,
        client_ip: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(User, SecretToken), AuthError> {
        let email = parse_email(email, "email")?;
        self.check_throttle(&email, client_ip, now).await?;
        let user = self.store.user_by_email(&email).await?;
        let stored = user
            .as_ref()
            .map_or_else(|| dummy_hash().to_string(), |u| u.password_hash.clone());
        let candidate: String = password.chars().take(MAX_PASSWORD_CHARS + 1).collect();
        let matches = blocking(move || verify_password(&stored, &candidate)).await?;
        let count_failure = || self.count_failure(&email, client_ip, now);
        let user = match user {
            Some(u) if matches && !u.disabled => u,
            found => {
                count_failure().await?;
                match found {
                    Some(u) => {
                        let reason = if u.disabled {
                            "disabled"
                        } else {
                            "wrong_password"
                        };
                        let by = ChangedBy::new(user_actor(&u), client_ip.map(str::to_string));
                        let summary = json!({ "reason": reason });
                        self.audit(&by, AuditAction::SignInFailed, &u.id.to_string(), summary)
                            .await;
                    }
                    None => tracing::info!("sign-in refused: no such account"),
                }
                return Err(AuthError::InvalidCredentials);
            }
        };
        let by = ChangedBy::new(user_actor(&user), client_ip.map(str::to_string));
        let target = user.id.to_string();
        let summary = match self.check_second_factor(&user, second, now).await? {
            FactorCheck::Passed("none") => json!({}),
            FactorCheck::Passed(how) => json!({ "second_factor": how }),
            FactorCheck::Missing => return Err(AuthError::TotpRequired),
            FactorCheck::Failed(reason, e) => {
                count_failure().await?;
                let summary = json!({ "reason": reason });
                self.audit(&by, AuditAction::SignInFailed, &target, summary)
                    .await;
                return Err(e);
            }
        };
        let (token, session) = new_session(user.id, now)?;
        self.store.create_session(&session).await?;
        self.audit(&by, AuditAction::SignedIn, &target, summary)
            .await;
        Ok((user, token))
    }
}
