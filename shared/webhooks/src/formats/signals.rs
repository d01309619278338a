//! What the conversion formats read from a lead, in one place.
//!
//! Lead columns: `email`, `first_name`, `last_name`, `phone`, `ip_address`, `user_agent`, `referrer`, `domain`.
//! `custom_data` keys (string values; the first present key wins):
//!
//! | signal | keys |
//! | --- | --- |
//! | Meta click id | `fbc`, `_fbc` |
//! | Meta browser id | `fbp`, `_fbp` |
//! | TikTok click id | `ttclid` |
//! | TikTok cookie id | `ttp`, `_ttp` |
//! | GA client id | `ga_client_id`, `client_id`, `_ga` (the cookie `GA1.1.<a>.<b>` becomes `<a>.<b>`) |
//! | GA session id | `ga_session_id`, `session_id` |
//! | page URL | `page_url`, `event_source_url` (else `https://<domain>/`) |
//!
//! Money is not a signal: custom data is never read as a value or currency (the browser key can add custom-data
//! keys, and it must never set money). The value comes from the lead's orders, see [`crate::money`].

use serde_json::{Map, Value};

use leadpipe_core::domain::Lead;

/// The lead's signals, raw (not yet normalised).
pub(crate) struct Signals<'a> {
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub referrer: Option<&'a str>,
    pub page_url: Option<String>,
    pub fbc: Option<&'a str>,
    pub fbp: Option<&'a str>,
    pub ttclid: Option<&'a str>,
    pub ttp: Option<&'a str>,
    pub ga_client_id: Option<String>,
    pub ga_session_id: Option<&'a str>,
}

impl<'a> Signals<'a> {
    pub(crate) fn of(lead: &'a Lead) -> Self {
        let t = &lead.text;
        let cd = &lead.custom_data;
        let page_url = text(cd, &["page_url", "event_source_url"])
            .map(str::to_string)
            .or_else(|| {
                t.domain
                    .as_deref()
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(|d| {
                        if d.starts_with("https://") || d.starts_with("http://") {
                            d.to_string()
                        } else {
                            format!("https://{d}/")
                        }
                    })
            });
        Self {
            email: lead.email.as_ref().map(|e| e.as_str()),
            phone: t.phone.as_deref(),
            first_name: t.first_name.as_deref(),
            last_name: t.last_name.as_deref(),
            ip: t.ip_address.as_deref(),
            user_agent: t.user_agent.as_deref(),
            referrer: t.referrer.as_deref(),
            page_url,
            fbc: text(cd, &["fbc", "_fbc"]),
            fbp: text(cd, &["fbp", "_fbp"]),
            ttclid: text(cd, &["ttclid"]),
            ttp: text(cd, &["ttp", "_ttp"]),
            ga_client_id: text(cd, &["ga_client_id", "client_id", "_ga"]).map(ga_client_id),
            ga_session_id: text(cd, &["ga_session_id", "session_id"]),
        }
    }
}

/// The first of `keys` holding a non-blank string, trimmed.
fn text<'a>(map: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| {
        map.get(*k)?
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    })
}

/// The GA client id from an `_ga` cookie value (`GA1.1.1234567890.1700000000` → `1234567890.1700000000`);
/// anything else is taken as a client id already.
fn ga_client_id(raw: &str) -> String {
    let parts: Vec<&str> = raw.split('.').collect();
    if parts.len() == 4 && parts[0].starts_with("GA") {
        format!("{}.{}", parts[2], parts[3])
    } else {
        raw.to_string()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::tests::lead;

    fn with(cd: Value) -> Lead {
        let mut l = lead("New", 1);
        l.custom_data = cd.as_object().cloned().unwrap_or_default();
        l
    }

    #[test]
    fn ga_cookie_becomes_a_client_id() {
        assert_eq!(
            Signals::of(&with(json!({"_ga": "GA1.1.1234567890.1700000000"})))
                .ga_client_id
                .as_deref(),
            Some("1234567890.1700000000")
        );
        assert_eq!(
            Signals::of(&with(json!({"ga_client_id": "555.666"})))
                .ga_client_id
                .as_deref(),
            Some("555.666")
        );
        assert_eq!(
            Signals::of(&with(json!({"_ga": 12}))).ga_client_id,
            None,
            "non-strings are ignored"
        );
    }

    #[test]
    fn page_url_prefers_custom_data_then_domain() {
        let mut l = with(json!({}));
        l.text.domain = Some("example.com".into());
        assert_eq!(
            Signals::of(&l).page_url.as_deref(),
            Some("https://example.com/")
        );
        l.custom_data
            .insert("page_url".into(), json!("https://example.com/apply?x=1"));
        assert_eq!(
            Signals::of(&l).page_url.as_deref(),
            Some("https://example.com/apply?x=1")
        );
        assert_eq!(Signals::of(&with(json!({}))).page_url, None);
    }

    #[test]
    fn blank_identifiers_are_absent() {
        let l = with(json!({"fbc": "  ", "_fbc": "fb.1.1.abc", "fbp": ""}));
        let s = Signals::of(&l);
        assert_eq!(s.fbc, Some("fb.1.1.abc"));
        assert_eq!(s.fbp, None);
    }
}
