//! The session cookie: `leadpipe_session`, HttpOnly, Secure, SameSite=Strict, `Path=/`, 12 hours. It holds a
//! random token whose SHA-256 names the stored session (see `leadpipe_core::domain::account`).
//!
//! A request authenticated by the cookie may only write (any method but GET, HEAD and OPTIONS) when the browser
//! says it comes from the dashboard's own origin (`Origin`, or `Sec-Fetch-Site: same-origin`); anything else is
//! a 403, whatever `SameSite` already prevented.

use axum::http::header::{COOKIE, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use leadpipe_core::account_service::user_actor;
use leadpipe_core::domain::account::{SecretToken, SESSION_LIFETIME};
use leadpipe_core::domain::Actor;
use leadpipe_core::{ErrorCode, Leadpipe, Settings};

use crate::error::ApiError;

/// The cookie's name.
pub const SESSION_COOKIE: &str = "leadpipe_session";

/// The session cookie's value, if the request has one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
}

/// The `Set-Cookie` value that starts a session.
pub fn set_session_cookie(token: &SecretToken) -> HeaderValue {
    let value = format!(
        "{SESSION_COOKIE}={}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={}",
        token.expose(),
        SESSION_LIFETIME.num_seconds()
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| clear_session_cookie())
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "leadpipe_session=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0",
    )
}

/// Whether a cookie-authenticated request may run: reads always; writes only when the browser vouches that the
/// dashboard's own origin (or an allowed one) sent them.
pub fn cookie_request_allowed(method: &Method, headers: &HeaderMap, settings: &Settings) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let vouched = headers.contains_key(ORIGIN)
        || fetch_site.is_some_and(|s| s.eq_ignore_ascii_case("same-origin"));
    vouched && !crate::cross_site::is_cross_site(headers, settings)
}

/// The error of a cookie that names no valid session (tampered, expired, signed out, or its user disabled).
pub fn session_ended() -> ApiError {
    ApiError::Refused {
        code: ErrorCode::Unauthorized,
        message: "the session has ended or is not valid; sign in again".into(),
    }
}

/// The actor of a request's session cookie `raw`.
pub async fn cookie_actor(parts: &Parts, app: &Leadpipe, raw: &str) -> Result<Actor, ApiError> {
    let token = SecretToken::parse(raw).map_err(|_| session_ended())?;
    let user = app
        .session_user(&token, chrono::Utc::now())
        .await?
        .ok_or_else(session_ended)?;
    if !cookie_request_allowed(&parts.method, &parts.headers, &app.settings) {
        return Err(ApiError::CrossSite);
    }
    Ok(user_actor(&user))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; leadpipe_session=abc ; b=2")]);
        assert_eq!(session_cookie(&h), Some("abc"));
        assert_eq!(session_cookie(&headers(&[("cookie", "x=1")])), None);
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn the_cookie_is_http_only_secure_strict() {
        let t = SecretToken::generate().unwrap();
        let v = set_session_cookie(&t);
        let v = v.to_str().unwrap();
        assert!(v.contains("HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=43200"));
        assert!(v.starts_with("leadpipe_session="));
    }

    #[test]
    fn cookie_writes_need_the_browser_to_vouch_for_the_origin() {
        let s = Settings::default();
        let same = headers(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000"),
        ]);
        assert!(cookie_request_allowed(&Method::POST, &same, &s));
        let evil = headers(&[("origin", "https://evil.test"), ("host", "127.0.0.1:3000")]);
        assert!(!cookie_request_allowed(&Method::POST, &evil, &s));
        assert!(
            !cookie_request_allowed(&Method::DELETE, &HeaderMap::new(), &s),
            "no Origin, no Sec-Fetch-Site"
        );
        let fetch = headers(&[("sec-fetch-site", "same-origin")]);
        assert!(cookie_request_allowed(&Method::PATCH, &fetch, &s));
        assert!(cookie_request_allowed(&Method::GET, &evil, &s));
    }
}
