//! Refusing cross-site browser requests: any web page a user visits can make their browser send a request to
//! Leadpipe (a `fetch` with `Content-Type: text/plain`, a form, an image), and in keys-off mode that request needs
//! no key at all. So every write that is not a postback must come from the dashboard's own origin (or one listed
//! in `ALLOWED_ORIGINS`), and never in a content type a page can send without a CORS preflight.
//!
//! A request is *cross-site* when its `Origin` is neither the request's own (scheme-less comparison with `Host`)
//! nor an allowed origin, or, without `Origin`, when `Sec-Fetch-Site` says `cross-site`. Requests from scripts and
//! servers (curl, a CRM) send neither header and are judged by their key alone.

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leadpipe_core::Settings;

use crate::error::ApiError;

/// The one route cross-site pages may write to: landing pages post leads from their own origins.
pub const POSTBACK_PATH: &str = "/api/postback";

/// Whether the browser sent this request on behalf of another site's page.
pub fn is_cross_site(headers: &HeaderMap, settings: &Settings) -> bool {
    if let Some(origin) = headers.get(ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return true;
        };
        return !(same_origin(origin, headers) || allowed(origin, settings));
    }
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site.eq_ignore_ascii_case("cross-site"))
}

fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

fn allowed(origin: &str, settings: &Settings) -> bool {
    settings
        .allowed_origins
        .iter()
        .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
}

/// A content type a page may send cross-site without a preflight (the CORS "simple" ones).
fn simple_content_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim();
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ]
    .iter()
    .any(|s| essence.eq_ignore_ascii_case(s))
}

/// Why a request must be refused before it reaches a handler, if it must: a write to an `/api` route other than
/// the postback that is cross-site (403) or sent in a preflight-free content type (415).
pub fn refusal(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    settings: &Settings,
) -> Option<ApiError> {
    let write = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !write || !path.starts_with("/api/") || path == POSTBACK_PATH {
        return None;
    }
    if is_cross_site(headers, settings) {
        return Some(ApiError::CrossSite);
    }
    simple_content_type(headers).then_some(ApiError::UnsupportedMediaType)
}

/// Middleware: answers [`refusal`]'s error instead of running the handler.
pub async fn refuse_cross_site(
    State(settings): State<std::sync::Arc<Settings>>,
    request: Request,
    next: Next,
) -> Response {
    match refusal(
        request.method(),
        request.uri().path(),
        request.headers(),
        &settings,
    ) {
        Some(e) => e.into_response(),
        None => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn refused(method: Method, path: &str, pairs: &[(&'static str, &str)]) -> Option<&'static str> {
        let settings = Settings {
            allowed_origins: vec!["https://dash.example.com".into()],
            ..Settings::default()
        };
        refusal(&method, path, &headers(pairs), &settings).map(|e| match e {
            ApiError::CrossSite => "cross_site",
            ApiError::UnsupportedMediaType => "media_type",
            _ => "other",
        })
    }

    #[test]
    fn cross_site_writes_to_admin_routes_are_refused() {
        let evil = [
            ("origin", "https://evil.test"),
            ("host", "127.0.0.1:3000"),
            ("content-type", "application/json"),
        ];
        assert_eq!(
            refused(Method::POST, "/api/webhooks", &evil),
            Some("cross_site")
        );
        assert_eq!(
            refused(Method::DELETE, "/api/leads/x", &evil),
            Some("cross_site")
        );
        assert_eq!(
            refused(
                Method::POST,
                "/api/import",
                &[("sec-fetch-site", "cross-site")]
            ),
            Some("cross_site")
        );
        assert_eq!(
            refused(
                Method::POST,
                "/api/import",
                &[("origin", "null"), ("host", "h")]
            ),
            Some("cross_site")
        );
        assert_eq!(
            refused(Method::POST, "/api/postback", &evil),
            None,
            "landing pages post from anywhere"
        );
        assert_eq!(
            refused(Method::GET, "/api/leads", &evil),
            None,
            "reads are protected by CORS and keys"
        );
    }

    #[test]
    fn the_dashboards_own_origin_and_scripts_pass() {
        let same = [
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000"),
            ("content-type", "application/json"),
        ];
        assert_eq!(refused(Method::POST, "/api/webhooks", &same), None);
        let listed = [
            ("origin", "https://dash.example.com"),
            ("host", "api.example.com"),
        ];
        assert_eq!(refused(Method::PUT, "/api/settings", &listed), None);
        assert_eq!(
            refused(
                Method::POST,
                "/api/webhooks",
                &[("content-type", "application/json")]
            ),
            None,
            "curl"
        );
        assert_eq!(
            refused(
                Method::POST,
                "/api/import",
                &[("sec-fetch-site", "same-origin")]
            ),
            None
        );
    }

    #[test]
    fn preflight_free_content_types_are_refused_on_admin_writes() {
        for ct in [
            "text/plain",
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            assert_eq!(
                refused(Method::POST, "/api/webhooks", &[("content-type", ct)]),
                Some("media_type"),
                "{ct}"
            );
        }
        assert_eq!(
            refused(Method::POST, "/api/import", &[("content-type", "text/csv")]),
            None
        );
        assert_eq!(
            refused(
                Method::POST,
                "/api/postback",
                &[("content-type", "text/plain")]
            ),
            None,
            "sendBeacon"
        );
    }
}
