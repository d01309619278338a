//! Personal sign-in, sessions and users (see `leadpipe_core::account_service`).
//!
//! - `POST /api/auth/login` `{email, password, totp?, recovery_code?}` — 200 with the user and the session
//!   cookie; a wrong email or password is one 401 `invalid_credentials`; too many failures a 429 with
//!   `Retry-After`. An account with two-factor on answers a right password without a code with 401
//!   `totp_required`, a wrong code with 401 `totp_invalid` and a used one with 401 `totp_reused` (routes in
//!   `two_factor.rs`).
//! - `POST /api/auth/logout` — ends this browser's session (204, also without one); `POST /api/auth/logout-all`
//!   — ends every session of the signed-in user.
//! - `GET /api/auth/me` — who the request acts as (a user, a key, or `open`) and its role.
//! - `POST /api/auth/accept-invite` `{token, password}` — creates the invited account (201).
//! - Admin: `GET /api/users`, `POST /api/users/invites` `{email, role}` (201, the link shown once),
//!   `PATCH /api/users/{id}` `{role?, disabled?}`.

use axum::extract::{Path, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use leadpipe_core::audit_service::ChangedBy;
use leadpipe_core::domain::account::{SecretToken, User};
use leadpipe_core::domain::{Actor, ActorKind, Role};
use leadpipe_core::two_factor_service::SecondFactor;
use leadpipe_core::{ErrorCode, Leadpipe, ValidationError};
use leadpipe_http::session::{clear_session_cookie, session_cookie, set_session_cookie};
use leadpipe_http::{authenticate, AdminAccess, ApiError, ClientOrigin, JsonBody, ViewerAccess};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The account routes.
pub fn router() -> Router<Leadpipe> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/logout-all", post(logout_all))
        .route("/api/auth/me", get(me))
        .route("/api/auth/accept-invite", post(accept_invite))
        .route("/api/users", get(list_users))
        .route("/api/users/invites", post(invite))
        .route("/api/users/{id}", patch(change_user))
}

/// A user as the API shows it (never the password hash).
#[derive(Serialize)]
pub struct UserView {
    /// Account id.
    pub id: Uuid,
    /// Sign-in email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// When it was created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Whether two-factor sign-in is on.
    pub two_factor: bool,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            email: u.email.to_string(),
            role: u.role,
            disabled: u.disabled,
            created_at: u.created_at,
            two_factor: u.two_factor.enabled(),
        }
    }
}

/// Reads a JSON body into `T` (unknown fields refused): a clear 400 otherwise.
pub(crate) fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    leadpipe_core::error::json_object_body(bytes, 16 * 1024)?;
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::Invalid(ValidationError::body(
            ErrorCode::InvalidBody,
            format!("body does not match the schema: {e}"),
        ))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
    #[serde(default)]
    totp: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
}

/// The second factor of a sign-in (blank fields count as absent).
fn second_factor(c: &Credentials) -> Result<SecondFactor<'_>, ApiError> {
    fn present(f: &Option<String>) -> Option<&str> {
        f.as_deref().filter(|v| !v.trim().is_empty())
    }
    match (present(&c.totp), present(&c.recovery_code)) {
        (None, None) => Ok(SecondFactor::None),
        (Some(t), None) => Ok(SecondFactor::Totp(t)),
        (None, Some(r)) => Ok(SecondFactor::Recovery(r)),
        (Some(_), Some(_)) => Err(ApiError::Invalid(ValidationError::body(
            ErrorCode::InvalidBody,
            "send totp or recovery_code, not both",
        ))),
    }
}

async fn login(
    State(app): State<Leadpipe>,
    ClientOrigin(origin): ClientOrigin,
    JsonBody(bytes): JsonBody,
) -> Result<Response, ApiError> {
    let c: Credentials = body(&bytes)?;
    let second = second_factor(&c)?;
    let (user, token) = app
        .sign_in(
            &c.email,
            &c.password,
            second,
            origin.client_ip.as_deref(),
            chrono::Utc::now(),
        )
        .await?;
    let mut response = Json(UserView::from(&user)).into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, set_session_cookie(&token));
    Ok(response)
}

fn cleared() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, clear_session_cookie());
    response
}

async fn logout(
    State(app): State<Leadpipe>,
    ClientOrigin(origin): ClientOrigin,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = session_cookie(&headers).and_then(|raw| SecretToken::parse(raw).ok()) {
        app.sign_out(&token, origin.client_ip.as_deref()).await?;
    }
    Ok(cleared())
}

fn no_user() -> ApiError {
    ApiError::Refused {
        code: ErrorCode::Forbidden,
        message: "only a signed-in user has sessions to end".into(),
    }
}

async fn logout_all(
    State(app): State<Leadpipe>,
    ViewerAccess(actor): ViewerAccess,
    ClientOrigin(origin): ClientOrigin,
) -> Result<Response, ApiError> {
    let ActorKind::User { id, .. } = actor.kind else {
        return Err(no_user());
    };
    let user = app.store.user(id).await?.ok_or_else(no_user)?;
    app.sign_out_everywhere(&user, origin.client_ip.as_deref())
        .await?;
    Ok(cleared())
}

/// `GET /api/auth/me` answer.
#[derive(Serialize)]
pub struct Me {
    /// `user`, `key` or `open`.
    pub kind: &'static str,
    /// The user's email (users only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The user's id (users only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// The key's name (keys only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The role.
    pub role: Role,
    /// Whether the user has two-factor sign-in on (users only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub two_factor: Option<bool>,
}

async fn me(
    State(app): State<Leadpipe>,
    request: axum::extract::Request,
) -> Result<Json<Me>, ApiError> {
    let (parts, _) = request.into_parts();
    let actor: Actor = authenticate(&parts, &app).await?;
    let role = actor.role;
    Ok(Json(match actor.kind {
        ActorKind::User { id, email } => Me {
            kind: "user",
            email: Some(email),
            id: Some(id),
            name: None,
            role,
            two_factor: Some(
                app.store
                    .user(id)
                    .await?
                    .is_some_and(|u| u.two_factor.enabled()),
            ),
        },
        ActorKind::Key { name } => Me {
            kind: "key",
            email: None,
            id: None,
            name: Some(name),
            role,
            two_factor: None,
        },
        ActorKind::Open | ActorKind::Cli { .. } => Me {
            kind: "open",
            email: None,
            id: None,
            name: None,
            role,
            two_factor: None,
        },
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Acceptance {
    token: String,
    password: String,
}

async fn accept_invite(
    State(app): State<Leadpipe>,
    ClientOrigin(origin): ClientOrigin,
    JsonBody(bytes): JsonBody,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let a: Acceptance = body(&bytes)?;
    let user = app
        .accept_invite(
            &a.token,
            &a.password,
            origin.client_ip.as_deref(),
            chrono::Utc::now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

/// `GET /api/users` answer.
#[derive(Serialize)]
pub struct UserList {
    /// By email.
    pub users: Vec<UserView>,
}

async fn list_users(
    State(app): State<Leadpipe>,
    _: AdminAccess,
) -> Result<Json<UserList>, ApiError> {
    let users = app.store.users().await?;
    Ok(Json(UserList {
        users: users.iter().map(UserView::from).collect(),
    }))
}

fn role_of(raw: &str) -> Result<Role, ApiError> {
    Role::parse(raw).ok_or_else(|| {
        ApiError::Invalid(ValidationError::field(
            "role",
            "role must be viewer, member or admin",
        ))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteRequest {
    email: String,
    role: String,
}

/// `POST /api/users/invites` answer: the link is shown once.
#[derive(Serialize)]
pub struct InviteCreated {
    /// The invited email.
    pub email: String,
    /// The role the account will get.
    pub role: Role,
    /// The one-time link's path and fragment (`/#/accept-invite?token=…`), to send to the person.
    pub invite_url: String,
    /// When the link stops working.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

async fn invite(
    State(app): State<Leadpipe>,
    AdminAccess(actor): AdminAccess,
    ClientOrigin(origin): ClientOrigin,
    JsonBody(bytes): JsonBody,
) -> Result<(StatusCode, Json<InviteCreated>), ApiError> {
    let r: InviteRequest = body(&bytes)?;
    let role = role_of(&r.role)?;
    let by = ChangedBy::new(actor, origin.client_ip);
    let (token, invite) = app.invite(&r.email, role, &by, chrono::Utc::now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(InviteCreated {
            email: invite.email.to_string(),
            role,
            invite_url: format!("/#/accept-invite?token={}", token.expose()),
            expires_at: invite.expires_at,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserChange {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
}

async fn change_user(
    State(app): State<Leadpipe>,
    AdminAccess(actor): AdminAccess,
    ClientOrigin(origin): ClientOrigin,
    Path(raw): Path<String>,
    JsonBody(bytes): JsonBody,
) -> Result<Json<UserView>, ApiError> {
    let id = Uuid::parse_str(&raw)
        .map_err(|_| ApiError::Invalid(ValidationError::field("id", "user id must be a UUID")))?;
    let c: UserChange = body(&bytes)?;
    let role = c.role.as_deref().map(role_of).transpose()?;
    let by = ChangedBy::new(actor, origin.client_ip);
    let user = app.change_user(id, role, c.disabled, &by).await?;
    Ok(Json(UserView::from(&user)))
}
