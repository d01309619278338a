//! Parsing a postback body into a [`Postback`] without ever losing a lead.
//!
//! Only a body that cannot be a lead at all is refused: not JSON, not a JSON object, or larger than
//! [`MAX_BODY_BYTES`] (a byte order mark, a number too large for a float or a lone surrogate escape is repaired
//! with a warning instead: see [`super::json_repair`]). Everything else becomes a postback, and what could not be taken as sent is reported as a
//! [`Warning`]: over-long strings are cut (at a character boundary, to the field's limit in bytes), invalid
//! optional values are left out, control characters are removed, and unknown top-level fields are kept inside
//! `custom_data`. `null` and blank strings count as absent.
//!
//! Limits, in bytes: each text field as in [`TextFields::LIMITS`] (200 for names, company, source, campaign and UTM
//! fields; 64 for phone and IP; 255 domain; 2,048 referrer; 512 user agent; 100 browser; 50 device type); email
//! 254; `custom_data` at most [`MAX_CUSTOM_DATA_KEYS`] keys of at most [`MAX_CUSTOM_KEY_BYTES`] bytes, nested at most
//! [`MAX_CUSTOM_DATA_DEPTH`] levels, [`MAX_CUSTOM_DATA_BYTES`] serialised in one postback (a lead keeps half as
//! much again, the browser key's own room: see `merge`). A stored lead therefore stays under about 16 KB of JSON
//! whatever is posted.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::email::Email;
use super::lead::TextFields;
use super::orders::{read_order, OrderInput, ORDER_FIELDS};
use super::stage::{Pipeline, Stage};
use super::warning::{Warning, WarningCode};
pub use crate::error::ValidationError;
use crate::idempotency::IdempotencyKey;

/// Largest accepted request body, in bytes (larger bodies get 413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest `custom_data`, serialised, in bytes (after merging, too).
pub const MAX_CUSTOM_DATA_BYTES: usize = 4 * 1024;
/// Most keys `custom_data` holds (after merging, too).
pub const MAX_CUSTOM_DATA_KEYS: usize = 50;
/// Deepest nesting inside `custom_data` (the object itself is depth 1).
pub const MAX_CUSTOM_DATA_DEPTH: usize = 4;
/// Longest `custom_data` key, in bytes.
pub const MAX_CUSTOM_KEY_BYTES: usize = 64;
/// Largest form field count.
pub const MAX_FIELD_COUNT: u64 = 10_000;

/// A parsed postback: every field optional, strings trimmed and within their limits, stage canonical.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Postback {
    /// An existing lead's id, matched first (server key only).
    pub lead_id: Option<Uuid>,
    /// A continuation token from an earlier answer to the browser key, matched first.
    pub token: Option<String>,
    /// Matched when `lead_id` is absent or unknown.
    pub email: Option<Email>,
    /// The stage to move to.
    pub stage: Option<Stage>,
    /// Free-text fields.
    pub text: TextFields,
    /// How much of the form is filled in, 0–100.
    pub form_completion_percent: Option<f64>,
    /// Form fields filled in.
    pub form_fields_completed: Option<u32>,
    /// Form fields in all.
    pub form_fields_total: Option<u32>,
    /// Keys to merge into the lead's custom data.
    pub custom_data: Option<Map<String, Value>>,
    /// Allows moving the lead backwards.
    pub force_stage: bool,
    /// True when the honeypot field (a form field real visitors never see) was filled in.
    pub honeypot: bool,
    /// The sender's id for this event: a repeat with the same id within a day is applied once (see
    /// [`crate::idempotency`]). Not stored on the lead.
    pub event_id: Option<IdempotencyKey>,
    /// The order it carries (`value`, `currency`, `order_id`; the server key only).
    pub order: Option<OrderInput>,
    /// The consent it carries (see [`super::consent`]).
    pub consent: Option<super::consent::ConsentInput>,
}

/// A postback and what was not taken as sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    /// The postback.
    pub postback: Postback,
    /// One warning per field not taken as sent.
    pub warnings: Vec<Warning>,
}

/// The fields other than the text fields.
pub const OTHER_FIELDS: &[&str] = &[
    "lead_id",
    "token",
    "email",
    "stage",
    "form_completion_percent",
    "form_fields_completed",
    "form_fields_total",
    "custom_data",
    "force_stage",
    "event_id",
];

/// Whether `name` is a postback field.
pub fn is_known_field(name: &str) -> bool {
    OTHER_FIELDS.contains(&name)
        || ORDER_FIELDS.contains(&name)
        || TextFields::LIMITS.iter().any(|(n, _)| *n == name)
}

impl Postback {
    /// Parses a raw JSON body. `honeypot_field` names the hidden form field that marks bots, if any.
    pub fn parse(
        body: &[u8],
        pipeline: &Pipeline,
        honeypot_field: Option<&str>,
    ) -> Result<Parsed, ValidationError> {
        let (obj, repairs) = match crate::error::json_object_body(body, MAX_BODY_BYTES) {
            Ok(obj) => (obj, Vec::new()),
            Err(refused) => match super::json_repair::repair(body) {
                Some((text, repairs)) => {
                    match crate::error::json_object_body(text.as_bytes(), MAX_BODY_BYTES) {
                        Ok(obj) => (obj, repairs),
                        Err(_) => return Err(refused),
                    }
                }
                None => return Err(refused),
            },
        };
        let mut parsed = Self::from_object(obj, pipeline, honeypot_field);
        for r in repairs {
            parsed
                .warnings
                .insert(0, Warning::new("body", WarningCode::Cleaned, r.message()));
        }
        Ok(parsed)
    }

    /// Reads the decoded query parameters of a GET postback (the key and `pixel` already taken out) as the JSON
    /// object a POST would carry, then as [`Postback::from_object`]: numbers and `force_stage` (`true`/`false`/
    /// `1`/`0`) are typed when they parse (else they are reported as a POST's wrong types are), `custom_data` may
    /// be a JSON object or `custom_data[<key>]=<value>` parameters, anything else is a string. A parameter sent
    /// more than once keeps its first value, with a warning. Returns the object too (for the postback log).
    pub fn from_query(
        pairs: Vec<(String, String)>,
        pipeline: &Pipeline,
        honeypot_field: Option<&str>,
    ) -> (Parsed, Map<String, Value>) {
        let mut obj = Map::new();
        let mut repeated: Vec<String> = Vec::new();
        for (name, raw) in pairs {
            if let Some(inner) = name
                .strip_prefix("custom_data[")
                .and_then(|n| n.strip_suffix(']'))
            {
                let custom = obj
                    .entry("custom_data")
                    .or_insert_with(|| Value::Object(Map::new()));
                match custom {
                    Value::Object(map) if !map.contains_key(inner) => {
                        map.insert(inner.to_string(), Value::String(raw));
                    }
                    _ => repeated.push(name),
                }
                continue;
            }
            if obj.contains_key(&name) {
                repeated.push(name);
                continue;
            }
            let value = match name.as_str() {
                "form_completion_percent" | "form_fields_completed" | "form_fields_total" => raw
                    .trim()
                    .parse::<serde_json::Number>()
                    .map(Value::Number)
                    .unwrap_or(Value::String(raw)),
                "force_stage" => match raw.trim() {
                    "true" | "1" => Value::Bool(true),
                    "false" | "0" | "" => Value::Bool(false),
                    _ => Value::String(raw),
                },
                "custom_data" => match serde_json::from_str::<Value>(&raw) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => Value::String(raw),
                },
                _ => Value::String(raw),
            };
            obj.insert(name, value);
        }
        let mut parsed = Self::from_object(obj.clone(), pipeline, honeypot_field);
        for name in repeated {
            let message = format!(
                "{} was sent more than once; the first value was used",
                clip(&name, 64)
            );
            parsed
                .warnings
                .push(Warning::new(&name, WarningCode::Dropped, message));
        }
        (parsed, obj)
    }

    /// Reads a decoded JSON object (query parameters of a GET postback become one too). Never fails.
    pub fn from_object(
        mut obj: Map<String, Value>,
        pipeline: &Pipeline,
        honeypot_field: Option<&str>,
    ) -> Parsed {
        let mut w = Vec::new();
        let honeypot = honeypot_field
            .and_then(|f| obj.remove(f))
            .is_some_and(|v| is_filled(&v));
        let lead_id =
            take_string(&mut obj, "lead_id", 64, &mut w).and_then(|s| match Uuid::parse_str(&s) {
                Ok(id) => Some(id),
                Err(_) => drop_field(
                    &mut w,
                    "lead_id",
                    "lead_id is not a UUID returned by an earlier postback; it was ignored",
                ),
            });
        let token = take_string(&mut obj, "token", 200, &mut w);
        let event_id = match obj.remove("event_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(raw)) => match IdempotencyKey::parse(&raw, "event_id") {
                Ok(key) => Some(key),
                Err(e) => drop_field(
                    &mut w,
                    "event_id",
                    format!("{}; the postback was not deduplicated", e.message),
                ),
            },
            Some(_) => drop_field(
                &mut w,
                "event_id",
                "event_id must be a string; the postback was not deduplicated",
            ),
        };
        let email =
            take_string(&mut obj, "email", 320, &mut w).and_then(|s| match Email::parse(&s) {
                Ok(e) => Some(e),
                Err(why) => drop_field(&mut w, "email", format!("{why}; the email was not stored")),
            });
        let stage =
            take_string(&mut obj, "stage", 200, &mut w).and_then(|s| match pipeline.stage(&s) {
                Ok(stage) => Some(stage),
                Err(e) => drop_field(
                    &mut w,
                    "stage",
                    format!("{e}; the stage was left as it was"),
                ),
            });
        let text = TextFields::read_each(|name, max| {
            Ok::<_, ()>(take_string(&mut obj, name, max, &mut w))
        })
        .unwrap_or_default();
        let form_completion_percent = match obj.remove("form_completion_percent") {
            None | Some(Value::Null) => None,
            Some(v) => match v
                .as_f64()
                .filter(|n| v.is_number() && (0.0..=100.0).contains(n))
            {
                Some(n) => Some(n),
                None => drop_field(
                    &mut w,
                    "form_completion_percent",
                    "form_completion_percent must be a number from 0 to 100; it was left out",
                ),
            },
        };
        let mut form_fields_completed = take_count(&mut obj, "form_fields_completed", &mut w);
        let form_fields_total = take_count(&mut obj, "form_fields_total", &mut w);
        if let (Some(c), Some(t)) = (form_fields_completed, form_fields_total) {
            if c > t {
                form_fields_completed = None;
                w.push(Warning::new(
                    "form_fields_completed",
                    WarningCode::Dropped,
                    format!("form_fields_completed ({c}) is larger than form_fields_total ({t}); it was left out"),
                ));
            }
        }
        let mut custom_data = match obj.remove("custom_data") {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(map),
            Some(_) => drop_field(
                &mut w,
                "custom_data",
                "custom_data must be a JSON object of key/value pairs; it was left out",
            ),
        };
        let order = read_order(&mut obj, &mut w);
        let consent = match obj.remove("consent") {
            None | Some(Value::Null) => None,
            Some(value) => match super::consent::parse(&value, chrono::Utc::now()) {
                Ok(input) => Some(input),
                Err(why) => {
                    w.push(Warning::new(
                        "consent",
                        WarningCode::MovedToCustomData,
                        format!("{why}; it is not recorded as consent (kept in custom_data)"),
                    ));
                    custom_data
                        .get_or_insert_with(Map::new)
                        .insert("consent".into(), value);
                    None
                }
            },
        };
        let force_stage = match obj.remove("force_stage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(_) => drop_field(
                &mut w,
                "force_stage",
                "force_stage must be true or false; it was ignored",
            )
            .unwrap_or(false),
        };
        // What is left is unknown: keep it inside custom_data rather than lose it.
        for (name, value) in obj {
            if value.is_null() {
                continue;
            }
            let extra = custom_data.get_or_insert_with(Map::new);
            if extra.contains_key(&name) {
                w.push(Warning::new(
                    &name,
                    WarningCode::Dropped,
                    format!(
                        "unknown field \"{}\" clashes with a custom_data key; it was left out",
                        clip(&name, 64)
                    ),
                ));
            } else {
                w.push(Warning::new(
                    &name,
                    WarningCode::MovedToCustomData,
                    format!(
                        "unknown field \"{}\" was kept inside custom_data",
                        clip(&name, 64)
                    ),
                ));
                extra.insert(name, value);
            }
        }
        if let Some(map) = &mut custom_data {
            bound_custom_data(map, &mut w);
        }
        Parsed {
            postback: Self {
                lead_id,
                token,
                email,
                stage,
                text,
                form_completion_percent,
                form_fields_completed,
                form_fields_total,
                custom_data: custom_data.filter(|m| !m.is_empty()),
                force_stage,
                honeypot,
                event_id,
                order,
                consent,
            },
            warnings: w,
        }
    }

    /// Whether the postback carries anything to store besides the keys that identify a lead.
    pub fn has_fields(&self) -> bool {
        self.stage.is_some()
            || self.text.values().iter().any(|(_, v)| v.is_some())
            || self.form_completion_percent.is_some()
            || self.form_fields_completed.is_some()
            || self.form_fields_total.is_some()
            || self.custom_data.is_some()
            || self.order.is_some()
            || self.consent.is_some()
    }
}

fn is_filled(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Bool(b) => *b,
        _ => true,
    }
}

fn drop_field<T>(w: &mut Vec<Warning>, field: &str, message: impl Into<String>) -> Option<T> {
    w.push(Warning::new(field, WarningCode::Dropped, message));
    None
}

/// A string field: trimmed, control characters removed, cut to `max` bytes; blank counts as absent; another type
/// is left out.
fn take_string(
    obj: &mut Map<String, Value>,
    name: &str,
    max: usize,
    w: &mut Vec<Warning>,
) -> Option<String> {
    match obj.remove(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => {
            let mut s = raw.trim().to_string();
            if s.chars().any(char::is_control) {
                s = s
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect::<String>()
                    .trim()
                    .to_string();
                w.push(Warning::new(
                    name,
                    WarningCode::Cleaned,
                    format!("control characters were removed from {name}"),
                ));
            }
            if s.len() > max {
                s = clip(&s, max).trim_end().to_string();
                w.push(Warning::new(
                    name,
                    WarningCode::Truncated,
                    format!("{name} was cut to {max} bytes"),
                ));
            }
            (!s.is_empty()).then_some(s)
        }
        Some(_) => drop_field(w, name, format!("{name} must be a string; it was left out")),
    }
}

/// A whole number from 0 to [`MAX_FIELD_COUNT`]; anything else is left out.
fn take_count(obj: &mut Map<String, Value>, name: &str, w: &mut Vec<Warning>) -> Option<u32> {
    match obj.remove(name) {
        None | Some(Value::Null) => None,
        Some(v) => {
            let n = v.as_u64().or_else(|| {
                v.as_f64()
                    .filter(|f| f.fract() == 0.0 && (0.0..=MAX_FIELD_COUNT as f64).contains(f))
                    .map(|f| f as u64)
            });
            match n.filter(|n| *n <= MAX_FIELD_COUNT).and_then(|n| u32::try_from(n).ok()) {
                Some(n) => Some(n),
                None => drop_field(w, name, format!("{name} must be a whole number from 0 to {MAX_FIELD_COUNT}; it was left out")),
            }
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Why a custom-data key cannot be kept, if it cannot.
fn custom_key_problem(key: &str, value: &Value) -> Option<&'static str> {
    if key.is_empty() || key.len() > MAX_CUSTOM_KEY_BYTES {
        Some("keys must be 1 to 64 bytes")
    } else if 1 + depth_of_value(value) > MAX_CUSTOM_DATA_DEPTH {
        Some("values may nest at most 4 levels")
    } else {
        None
    }
}

/// Brings custom data within its limits, key by key, in order; what cannot stay is reported.
fn bound_custom_data(map: &mut Map<String, Value>, w: &mut Vec<Warning>) {
    let before = map.len();
    let mut kept = Map::new();
    let mut size = 2usize;
    let mut reasons: Vec<&str> = Vec::new();
    for (k, v) in std::mem::take(map) {
        if let Some(why) = custom_key_problem(&k, &v) {
            reasons.push(why);
            continue;
        }
        let entry = serde_json::to_vec(&v)
            .map(|b| b.len())
            .unwrap_or(usize::MAX)
            .saturating_add(k.len() + 4);
        if kept.len() >= MAX_CUSTOM_DATA_KEYS || size.saturating_add(entry) > MAX_CUSTOM_DATA_BYTES
        {
            reasons.push("a lead keeps at most 50 keys and 4 KB of custom_data");
            continue;
        }
        size += entry;
        kept.insert(k, v);
    }
    if kept.len() < before {
        reasons.dedup();
        w.push(Warning::new(
            "custom_data",
            WarningCode::Dropped,
            format!(
                "{} custom_data key(s) left out: {}",
                before - kept.len(),
                reasons.join("; ")
            ),
        ));
    }
    *map = kept;
}

/// Checks that custom data is within `keys` keys and `bytes` bytes serialised, every key and value valid (what a
/// merge must keep true).
pub fn custom_data_fits(map: &Map<String, Value>, keys: usize, bytes: usize) -> bool {
    map.len() <= keys
        && map.iter().all(|(k, v)| custom_key_problem(k, v).is_none())
        && serde_json::to_vec(map)
            .map(|v| v.len())
            .unwrap_or(usize::MAX)
            <= bytes
}

fn depth_of_value(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth_of_value).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth_of_value).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use serde_json::json;

    fn parse(v: Value) -> Parsed {
        Postback::parse(
            v.to_string().as_bytes(),
            &Pipeline::default(),
            Some("hp_website"),
        )
        .unwrap()
    }

    fn warned(p: &Parsed) -> Vec<(&str, WarningCode)> {
        p.warnings
            .iter()
            .map(|w| (w.field.as_str(), w.code))
            .collect()
    }

    #[test]
    fn a_repairable_body_keeps_its_lead_with_warnings() {
        let p = Pipeline::default();
        let body = "\u{feff}{\"email\": \"bom@corp.com\", \"first_name\": \"a\\ud800\", \"form_completion_percent\": 1e400}";
        let parsed = Postback::parse(body.as_bytes(), &p, None).expect("repaired, not refused");
        assert_eq!(parsed.postback.email.unwrap().as_str(), "bom@corp.com");
        assert_eq!(
            parsed.postback.text.first_name.as_deref(),
            Some("a\u{fffd}")
        );
        assert_eq!(parsed.postback.form_completion_percent, None);
        let fields: Vec<&str> = parsed.warnings.iter().map(|w| w.field.as_str()).collect();
        assert_eq!(
            fields.iter().filter(|f| **f == "body").count(),
            3,
            "{fields:?}"
        );
        assert!(fields.contains(&"form_completion_percent"), "{fields:?}");
    }

    #[test]
    fn query_parameters_become_the_body_a_post_would_send() {
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let (p, obj) = Postback::from_query(
            pairs(&[
                ("email", "Q@Example.com"),
                ("stage", "paid"),
                ("form_completion_percent", "55.5"),
                ("form_fields_total", "9"),
                ("force_stage", "1"),
                ("custom_data[gclid]", "abc"),
                ("event_id", "conv-1"),
                ("stage", "New"),
                ("form_fields_completed", "lots"),
                ("hp_website", "http://spam"),
            ]),
            &Pipeline::default(),
            Some("hp_website"),
        );
        let pb = &p.postback;
        assert_eq!(pb.email.as_ref().map(|e| e.as_str()), Some("q@example.com"));
        assert_eq!(
            pb.stage.as_ref().map(|s| s.as_str()),
            Some("Paid"),
            "the first value wins"
        );
        assert_eq!(
            (
                pb.form_completion_percent,
                pb.form_fields_total,
                pb.form_fields_completed
            ),
            (Some(55.5), Some(9), None)
        );
        assert!(pb.force_stage && pb.honeypot);
        assert_eq!(
            pb.custom_data.as_ref().and_then(|c| c.get("gclid")),
            Some(&json!("abc"))
        );
        assert_eq!(pb.event_id.as_ref().map(|k| k.as_str()), Some("conv-1"));
        let w = warned(&p);
        assert!(
            w.contains(&("stage", WarningCode::Dropped))
                && w.contains(&("form_fields_completed", WarningCode::Dropped)),
            "{w:?}"
        );
        assert_eq!(obj.get("form_completion_percent"), Some(&json!(55.5)));
        assert!(obj.get("key").is_none());
    }

    #[test]
    fn parses_the_seed_example() {
        let p = parse(json!({
            "email": "John@Example.com", "first_name": " John ", "stage": "form started", "source": "google",
            "domain": "myeinregistry.com", "campaign": "llc-spring-2026", "utm_source": "google", "utm_medium": "cpc",
            "utm_campaign": "llc-spring-2026", "ip_address": "192.168.1.1", "browser": "Chrome 124",
            "device_type": "desktop", "form_completion_percent": 10, "form_fields_total": 12
        }));
        let pb = p.postback;
        assert!(p.warnings.is_empty());
        assert_eq!(pb.email.unwrap().as_str(), "john@example.com");
        assert_eq!(pb.text.first_name.as_deref(), Some("John"));
        assert_eq!(pb.stage.unwrap(), "Form Started");
        assert_eq!(pb.form_completion_percent, Some(10.0));
        assert_eq!(pb.form_fields_total, Some(12));
        assert!(!pb.force_stage && !pb.honeypot);
    }

    #[test]
    fn null_and_blank_count_as_absent() {
        let p = parse(
            json!({"phone": null, "company": "   ", "custom_data": null, "force_stage": null}),
        );
        assert_eq!(p.postback, Postback::default());
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn only_what_cannot_be_a_lead_is_refused() {
        let p = Pipeline::default();
        assert_eq!(
            Postback::parse(b"{\"email\":", &p, None).unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            Postback::parse(b"[1,2]", &p, None).unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            Postback::parse(b"", &p, None).unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            Postback::parse(&[0xff, 0xfe], &p, None).unwrap_err().code,
            ErrorCode::InvalidJson
        );
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            Postback::parse(&big, &p, None).unwrap_err().code,
            ErrorCode::PayloadTooLarge
        );
    }

    #[test]
    fn over_long_strings_are_cut_in_bytes_at_a_character_boundary() {
        let p = parse(json!({"email": "a@b.co", "campaign": "é".repeat(300)}));
        let c = p.postback.text.campaign.clone().unwrap();
        assert!(c.len() <= 200 && c.chars().all(|ch| ch == 'é'));
        assert_eq!(c.len(), 200, "100 two-byte characters");
        assert_eq!(warned(&p), [("campaign", WarningCode::Truncated)]);
        assert_eq!(
            p.postback.email.unwrap().as_str(),
            "a@b.co",
            "the lead is kept"
        );
    }

    #[test]
    fn invalid_optional_values_are_left_out_and_reported() {
        let p = parse(json!({
            "email": "not-an-email", "lead_id": "123", "stage": "Won", "first_name": ["a"],
            "form_completion_percent": 100.5, "form_fields_total": 1.5, "force_stage": "yes", "custom_data": "x",
            "phone": "+1 555 0100"
        }));
        let pb = &p.postback;
        assert_eq!(
            (pb.email.clone(), pb.lead_id, pb.stage.clone()),
            (None, None, None)
        );
        assert_eq!(pb.text.phone.as_deref(), Some("+1 555 0100"));
        let fields: Vec<&str> = p.warnings.iter().map(|w| w.field.as_str()).collect();
        for f in [
            "email",
            "lead_id",
            "stage",
            "first_name",
            "form_completion_percent",
            "form_fields_total",
            "force_stage",
            "custom_data",
        ] {
            assert!(fields.contains(&f), "{f} reported: {fields:?}");
        }
        assert!(p.warnings.iter().all(|w| w.code == WarningCode::Dropped));
    }

    #[test]
    fn unknown_fields_are_kept_in_custom_data() {
        let p = parse(json!({"favourite_colour": "blue", "custom_data": {"a": 1}}));
        assert_eq!(
            Value::Object(p.postback.custom_data.clone().unwrap()),
            json!({"a": 1, "favourite_colour": "blue"})
        );
        assert_eq!(
            warned(&p),
            [("favourite_colour", WarningCode::MovedToCustomData)]
        );
    }

    #[test]
    fn control_characters_are_removed() {
        let p = parse(json!({"company": "Ac\u{0}me\u{7}"}));
        assert_eq!(p.postback.text.company.as_deref(), Some("Acme"));
        assert_eq!(warned(&p), [("company", WarningCode::Cleaned)]);
    }

    #[test]
    fn completed_above_total_is_left_out() {
        let p = parse(json!({"form_fields_completed": 13, "form_fields_total": 12}));
        assert_eq!(
            (
                p.postback.form_fields_completed,
                p.postback.form_fields_total
            ),
            (None, Some(12))
        );
        assert_eq!(
            warned(&p),
            [("form_fields_completed", WarningCode::Dropped)]
        );
    }

    #[test]
    fn custom_data_is_bounded_key_by_key() {
        let deep = json!({"a": {"b": {"c": {"d": {"e": 1}}}}});
        let many: Map<String, Value> = (0..60).map(|i| (format!("k{i:02}"), json!(i))).collect();
        let p = parse(json!({"custom_data": {"deep": deep, "": 1, "ok": 1}}));
        assert_eq!(
            Value::Object(p.postback.custom_data.clone().unwrap()),
            json!({"ok": 1})
        );
        assert_eq!(warned(&p), [("custom_data", WarningCode::Dropped)]);
        let p = parse(json!({"custom_data": many}));
        assert_eq!(p.postback.custom_data.unwrap().len(), MAX_CUSTOM_DATA_KEYS);
        let big = parse(json!({"custom_data": {"a": "x".repeat(3000), "b": "y".repeat(3000)}}));
        assert_eq!(
            big.postback.custom_data.unwrap().len(),
            1,
            "the second key would pass 4 KB"
        );
    }

    #[test]
    fn the_honeypot_field_marks_the_postback_and_is_not_stored() {
        let p = parse(json!({"email": "a@b.co", "hp_website": "http://spam.example"}));
        assert!(p.postback.honeypot);
        assert!(p.postback.custom_data.is_none());
        assert!(!parse(json!({"hp_website": ""})).postback.honeypot);
    }
}
