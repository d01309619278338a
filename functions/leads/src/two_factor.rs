//! Two-factor sign-in routes (see `leadpipe_core::two_factor_service`). The signed-in user's own:
//!
//! - `POST /api/auth/two-factor/setup` — a new secret and its `otpauth://` URI, shown once; two-factor stays off
//!   until confirmed (409 while it is on).
//! - `POST /api/auth/two-factor/confirm` `{code}` — turns it on; answers the recovery codes, shown once. A wrong
//!   code is a 400 naming `code`.
//! - `POST /api/auth/two-factor/disable` `{code | recovery_code | password}` — turns it off (204).
//!
//! Admin: `POST /api/users/{id}/two-factor/reset` — turns a user's two-factor off (the user answered).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use leadpipe_core::audit_service::ChangedBy;
use leadpipe_core::domain::account::User;
use leadpipe_core::domain::ActorKind;
use leadpipe_core::two_factor_service::DisableProof;
use leadpipe_core::{ErrorCode, Leadpipe, ValidationError};
use leadpipe_http::{AdminAccess, ApiError, ClientOrigin, JsonBody, ViewerAccess};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accounts::{body, UserView};

/// The two-factor routes.
pub fn router() -> Router<Leadpipe> {
    Router::new()
        .route("/api/auth/two-factor/setup", post(setup))
        .route("/api/auth/two-factor/confirm", post(confirm))
        .route("/api/auth/two-factor/disable", post(disable))
        .route("/api/users/{id}/two-factor/reset", post(reset))
}

/// The signed-in user behind `actor` (keys have no account: 403, before the body is read).
async fn signed_in(app: &Leadpipe, kind: &ActorKind) -> Result<User, ApiError> {
    let refused = || ApiError::Refused {
        code: ErrorCode::Forbidden,
        message: "only a signed-in user has two-factor sign-in".into(),
    };
    let ActorKind::User { id, .. } = kind else {
        return Err(refused());
    };
    app.store.user(*id).await?.ok_or_else(refused)
}

/// `POST /api/auth/two-factor/setup` answer.
#[derive(Serialize)]
pub struct SetupView {
    /// The secret, base32 without padding, to type into an authenticator.
    pub secret: String,
    /// The `otpauth://totp/…` URI, to paste into an authenticator.
    pub otpauth_uri: String,
}

async fn setup(
    State(app): State<Leadpipe>,
    ViewerAccess(actor): ViewerAccess,
    ClientOrigin(origin): ClientOrigin,
) -> Result<Json<SetupView>, ApiError> {
    let user = signed_in(&app, &actor.kind).await?;
    let by = ChangedBy::new(actor, origin.client_ip);
    let s = app.start_two_factor(&user, &by).await?;
    Ok(Json(SetupView {
        secret: s.secret,
        otpauth_uri: s.otpauth_uri,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Confirmation {
    code: String,
}

/// `POST /api/auth/two-factor/confirm` answer: shown once.
#[derive(Serialize)]
pub struct RecoveryCodes {
    /// One-time recovery codes, `xxxx-xxxx-xxxx-xxxx`.
    pub recovery_codes: Vec<String>,
}

async fn confirm(
    State(app): State<Leadpipe>,
    ViewerAccess(actor): ViewerAccess,
    ClientOrigin(origin): ClientOrigin,
    JsonBody(bytes): JsonBody,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let user = signed_in(&app, &actor.kind).await?;
    let c: Confirmation = body(&bytes)?;
    let by = ChangedBy::new(actor, origin.client_ip);
    let codes = app
        .confirm_two_factor(&user, &c.code, &by, chrono::Utc::now())
        .await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes.iter().map(|c| c.display()).collect(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Disabling {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

async fn disable(
    State(app): State<Leadpipe>,
    ViewerAccess(actor): ViewerAccess,
    ClientOrigin(origin): ClientOrigin,
    JsonBody(bytes): JsonBody,
) -> Result<StatusCode, ApiError> {
    let user = signed_in(&app, &actor.kind).await?;
    let d: Disabling = body(&bytes)?;
    let proof = match (
        d.code.as_deref(),
        d.recovery_code.as_deref(),
        d.password.as_deref(),
    ) {
        (Some(c), None, None) => DisableProof::Totp(c),
        (None, Some(r), None) => DisableProof::Recovery(r),
        (None, None, Some(p)) => DisableProof::Password(p),
        _ => {
            return Err(ApiError::Invalid(ValidationError::body(
                ErrorCode::InvalidBody,
                "send exactly one of code, recovery_code or password",
            )))
        }
    };
    let by = ChangedBy::new(actor, origin.client_ip);
    app.disable_two_factor(&user, proof, &by, chrono::Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reset(
    State(app): State<Leadpipe>,
    AdminAccess(actor): AdminAccess,
    ClientOrigin(origin): ClientOrigin,
    Path(raw): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let id = Uuid::parse_str(&raw)
        .map_err(|_| ApiError::Invalid(ValidationError::field("id", "user id must be a UUID")))?;
    let by = ChangedBy::new(actor, origin.client_ip);
    let user = app.reset_two_factor(id, &by).await?;
    Ok(Json(UserView::from(&user)))
}
