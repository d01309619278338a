//! Consent a postback carries: which purposes the person granted or refused (`marketing`, `ad_user_data`, …),
//! with the wording's version or text and the time, stored per lead with its history.
//!
//! Shape (the `consent` field of a postback):
//! `{"purposes": {"marketing": true, "ad_user_data": false}, "version": "2026-11", "text": "…", "at": "…"}`.
//! `purposes` may also be a list of the granted purposes (`["marketing"]`). A `consent` in any other shape is not
//! consent: the postback is stored without it and says so (and it is kept in `custom_data`, as before consent was
//! read).
//!
//! Merging: the server key records what it sends (a purpose it names replaces the recorded answer); the browser
//! key (which anyone may hold) only records purposes the lead has no answer for yet, so a script cannot grant or
//! withdraw consent in someone else's name. Every change is appended to the lead's consent history.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most purposes one consent names.
pub const MAX_PURPOSES: usize = 20;
/// Longest consent text kept, in bytes.
pub const MAX_TEXT_BYTES: usize = 1000;
/// Consent changes kept in a lead's history (later ones still change the consent).
pub const MAX_CONSENT_HISTORY: usize = 50;
/// The purpose ad platforms need for a lead's data to be sent to them.
pub const AD_USER_DATA: &str = "ad_user_data";

/// What a postback said about consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentInput {
    /// Purpose → granted.
    pub purposes: BTreeMap<String, bool>,
    /// The version of the wording the person saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The wording itself (at most [`MAX_TEXT_BYTES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// When the person answered (the postback's time when not given).
    pub at: DateTime<Utc>,
}

/// A lead's consent now: each purpose's latest answer, with when and under which wording it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// Purpose → granted.
    pub purposes: BTreeMap<String, bool>,
    /// The wording's version of the latest change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The wording of the latest change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// When it last changed.
    pub at: Option<DateTime<Utc>>,
}

impl Consent {
    /// Whether `purpose` is granted (absent = not granted).
    pub fn grants(&self, purpose: &str) -> bool {
        self.purposes.get(purpose).copied().unwrap_or(false)
    }
}

/// Why a `consent` value is not consent.
fn shape_error(what: &str) -> String {
    format!("consent {what}; expected {{\"purposes\": {{\"<purpose>\": true|false}}, \"version\"?, \"text\"?, \"at\"?}}")
}

fn purpose_name(raw: &str) -> Result<String, String> {
    let name = raw.trim().to_ascii_lowercase();
    let valid = (1..=40).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(name)
    } else {
        Err(shape_error(&format!(
            "purpose {:?} is not a name of 1–40 letters, digits or _",
            raw.chars().take(40).collect::<String>()
        )))
    }
}

/// Reads a postback's `consent` value (`now` when it has no `at`).
pub fn parse(value: &Value, now: DateTime<Utc>) -> Result<ConsentInput, String> {
    let Some(object) = value.as_object() else {
        return Err(shape_error("is not an object"));
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "purposes" | "version" | "text" | "at"))
    {
        return Err(shape_error(&format!("has an unknown field {unknown:?}")));
    }
    let mut purposes = BTreeMap::new();
    match object.get("purposes") {
        Some(Value::Object(map)) => {
            for (name, granted) in map {
                let Some(granted) = granted.as_bool() else {
                    return Err(shape_error(&format!(
                        "purpose {name:?} is not true or false"
                    )));
                };
                purposes.insert(purpose_name(name)?, granted);
            }
        }
        Some(Value::Array(list)) => {
            for name in list {
                let Some(name) = name.as_str() else {
                    return Err(shape_error("purposes list holds a non-string"));
                };
                purposes.insert(purpose_name(name)?, true);
            }
        }
        _ => return Err(shape_error("has no purposes")),
    }
    if purposes.is_empty() || purposes.len() > MAX_PURPOSES {
        return Err(shape_error(&format!(
            "must name 1 to {MAX_PURPOSES} purposes"
        )));
    }
    let text_field = |field: &str, max: usize| match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= max => {
            Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty()))
        }
        Some(Value::String(_)) => Err(shape_error(&format!("{field} is longer than {max} bytes"))),
        Some(_) => Err(shape_error(&format!("{field} is not a string"))),
    };
    let version = text_field("version", 100)?;
    let text = text_field("text", MAX_TEXT_BYTES)?;
    let at = match object.get("at") {
        None | Some(Value::Null) => now,
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| shape_error("at is not an RFC 3339 time"))?,
        Some(_) => return Err(shape_error("at is not a string")),
    };
    if at > now + chrono::Duration::minutes(5) {
        return Err(shape_error("at is in the future"));
    }
    Ok(ConsentInput {
        purposes,
        version,
        text,
        at,
    })
}

/// One change of a lead's consent, as its history keeps it: the purposes it set and the wording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentChange {
    /// The purposes this change set (purpose → granted).
    pub purposes: BTreeMap<String, bool>,
    /// The wording's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When the person answered.
    pub at: DateTime<Utc>,
}

/// Applies `input` to a lead's consent and history with what the key may do (`full`: the server key); returns
/// whether anything changed.
pub fn merge(
    consent: &mut Option<Consent>,
    history: &mut Vec<ConsentChange>,
    input: &ConsentInput,
    full: bool,
) -> bool {
    let current = consent.get_or_insert_with(Consent::default);
    let changed: BTreeMap<String, bool> = input
        .purposes
        .iter()
        .filter(|(name, granted)| match current.purposes.get(*name) {
            None => true,
            Some(now) => full && now != *granted,
        })
        .map(|(n, g)| (n.clone(), *g))
        .collect();
    if changed.is_empty() {
        if current.purposes.is_empty() {
            *consent = None;
        }
        return false;
    }
    current.purposes.extend(changed.clone());
    current.version.clone_from(&input.version);
    current.text.clone_from(&input.text);
    current.at = Some(input.at);
    if history.len() < MAX_CONSENT_HISTORY {
        history.push(ConsentChange {
            purposes: changed,
            version: input.version.clone(),
            at: input.at,
        });
    }
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn both_shapes_read_and_bad_ones_say_why() {
        let c = parse(
            &json!({"purposes": {"Marketing": true, "ad_user_data": false}, "version": "v3"}),
            now(),
        )
        .unwrap();
        assert_eq!(
            c.purposes,
            BTreeMap::from([("ad_user_data".into(), false), ("marketing".into(), true)])
        );
        assert_eq!((c.version.as_deref(), c.at), (Some("v3"), now()));
        let c = parse(
            &json!({"purposes": ["marketing"], "at": "2026-11-30T09:00:00+01:00"}),
            now(),
        )
        .unwrap();
        assert_eq!(c.purposes, BTreeMap::from([("marketing".into(), true)]));
        assert_eq!(
            c.at,
            "2026-11-30T08:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        for (bad, why) in [
            (json!(true), "not an object"),
            (json!({"purposes": {}}), "1 to 20"),
            (json!({"purposes": {"marketing": "yes"}}), "true or false"),
            (json!({"purposes": {"no spaces": true}}), "letters, digits"),
            (json!({"purposes": ["a"], "color": 1}), "unknown field"),
            (json!({"purposes": ["a"], "at": "yesterday"}), "RFC 3339"),
            (
                json!({"purposes": ["a"], "at": "2027-01-01T00:00:00Z"}),
                "future",
            ),
            (
                json!({"purposes": ["a"], "text": "x".repeat(1001)}),
                "longer",
            ),
        ] {
            let e = parse(&bad, now()).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn a_postback_with_consent_in_another_shape_keeps_it_in_custom_data_and_says_so() {
        use crate::domain::{Pipeline, Postback};
        let body = json!({"email": "a@example.com", "consent": true}).to_string();
        let parsed = Postback::parse(body.as_bytes(), &Pipeline::default(), None).unwrap();
        assert!(parsed.postback.consent.is_none());
        assert_eq!(
            parsed.postback.custom_data.unwrap().get("consent"),
            Some(&json!(true))
        );
        assert_eq!(parsed.warnings.len(), 1);
        assert_eq!(parsed.warnings[0].field, "consent");
        let body = json!({"consent": {"purposes": ["marketing"]}}).to_string();
        let parsed = Postback::parse(body.as_bytes(), &Pipeline::default(), None).unwrap();
        assert!(parsed.postback.consent.unwrap().purposes["marketing"]);
        assert!(parsed.warnings.is_empty());
    }

    #[test]
    fn the_server_key_changes_answers_and_the_browser_key_only_fills_gaps() {
        let (mut consent, mut history) = (None, Vec::new());
        let grant = parse(
            &json!({"purposes": {"marketing": true, "ad_user_data": true}, "version": "v1"}),
            now(),
        )
        .unwrap();
        assert!(merge(&mut consent, &mut history, &grant, false));
        assert!(consent.as_ref().unwrap().grants(AD_USER_DATA));
        let withdraw = parse(
            &json!({"purposes": {"ad_user_data": false, "sms": true}}),
            now(),
        )
        .unwrap();
        assert!(
            merge(&mut consent, &mut history, &withdraw, false),
            "the browser key may add sms"
        );
        assert!(
            consent.as_ref().unwrap().grants(AD_USER_DATA),
            "but not withdraw a recorded answer"
        );
        assert!(merge(&mut consent, &mut history, &withdraw, true));
        assert!(!consent.as_ref().unwrap().grants(AD_USER_DATA));
        assert!(
            !merge(&mut consent, &mut history, &withdraw, true),
            "the same answer again changes nothing"
        );
        assert_eq!(history.len(), 3);
        assert_eq!(
            history[2].purposes,
            BTreeMap::from([("ad_user_data".into(), false)])
        );
        let (mut none, mut h) = (None, Vec::new());
        assert!(!merge(
            &mut none,
            &mut h,
            &ConsentInput {
                purposes: BTreeMap::new(),
                version: None,
                text: None,
                at: now()
            },
            true
        ));
        assert!(none.is_none());
    }
}
