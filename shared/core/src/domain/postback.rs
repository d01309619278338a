//! Parsing and validating a postback body into a [`Postback`].

use serde_json::{Map, Value};
use uuid::Uuid;

use super::email::Email;
use super::lead::TextFields;
use super::stage::{Pipeline, Stage};
use crate::error::ErrorCode;
pub use crate::error::ValidationError;

/// Largest accepted request body, in bytes (larger bodies get 413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest accepted `custom_data`, serialised, in bytes.
pub const MAX_CUSTOM_DATA_BYTES: usize = 16 * 1024;
/// Most keys `custom_data` may hold after merging.
pub const MAX_CUSTOM_DATA_KEYS: usize = 100;
/// Deepest nesting accepted inside `custom_data` (the object itself is depth 1).
pub const MAX_CUSTOM_DATA_DEPTH: usize = 5;
/// Longest `custom_data` key, in characters.
pub const MAX_CUSTOM_KEY_LEN: usize = 100;
/// Largest accepted form field count.
pub const MAX_FIELD_COUNT: u64 = 10_000;

/// A validated postback: every field optional, strings trimmed (blank = absent), stage canonical.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Postback {
    /// An existing lead's id, matched first.
    pub lead_id: Option<Uuid>,
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
}

const OTHER_FIELDS: &[&str] =
    &["lead_id", "email", "stage", "form_completion_percent", "form_fields_completed", "form_fields_total", "custom_data", "force_stage"];

impl Postback {
    /// Parses a raw JSON body. `null` counts as absent; unknown fields are refused (extra data goes in `custom_data`).
    pub fn parse(body: &[u8], pipeline: &Pipeline) -> Result<Self, ValidationError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(ValidationError::body(ErrorCode::PayloadTooLarge, format!("body is larger than {MAX_BODY_BYTES} bytes")));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ValidationError::body(ErrorCode::InvalidJson, format!("body is not valid JSON: {e}")))?;
        let Value::Object(obj) = value else {
            return Err(ValidationError::body(ErrorCode::InvalidJson, "body must be a JSON object"));
        };
        Self::from_object(&obj, pipeline)
    }

    /// Validates an already-decoded JSON object.
    pub fn from_object(obj: &Map<String, Value>, pipeline: &Pipeline) -> Result<Self, ValidationError> {
        if let Some(unknown) = obj.keys().find(|k| !OTHER_FIELDS.contains(&k.as_str()) && !TextFields::LIMITS.iter().any(|(n, _)| n == k)) {
            return Err(ValidationError::new(
                ErrorCode::UnknownField,
                format!("unknown field \"{}\"; send extra values inside custom_data", truncate(unknown, 64)),
            )
            .at(unknown));
        }
        let lead_id = match optional_string(obj, "lead_id", 64)? {
            Some(s) => Some(
                Uuid::parse_str(&s)
                    .map_err(|_| ValidationError::field("lead_id", "lead_id must be a UUID returned by an earlier postback"))?,
            ),
            None => None,
        };
        let email = match optional_string(obj, "email", 320)? {
            Some(s) => Some(Email::parse(&s).map_err(|m| ValidationError::field("email", m))?),
            None => None,
        };
        let stage = match optional_string(obj, "stage", 200)? {
            Some(s) => Some(pipeline.stage(&s)?),
            None => None,
        };
        let text = TextFields::read_each(|name, max| optional_string(obj, name, max))?;
        let form_completion_percent = match present(obj, "form_completion_percent") {
            Some(v) => {
                let n = v
                    .as_f64()
                    .filter(|_| v.is_number())
                    .ok_or_else(|| ValidationError::field("form_completion_percent", "form_completion_percent must be a number"))?;
                if !(0.0..=100.0).contains(&n) {
                    return Err(ValidationError::field("form_completion_percent", "form_completion_percent must be between 0 and 100"));
                }
                Some(n)
            }
            None => None,
        };
        let form_fields_completed = optional_count(obj, "form_fields_completed")?;
        let form_fields_total = optional_count(obj, "form_fields_total")?;
        check_fields_completed(form_fields_completed, form_fields_total)?;
        let custom_data = match present(obj, "custom_data") {
            Some(Value::Object(map)) => {
                check_custom_data(map)?;
                Some(map.clone())
            }
            Some(_) => return Err(ValidationError::field("custom_data", "custom_data must be a JSON object of key/value pairs")),
            None => None,
        };
        let force_stage = match present(obj, "force_stage") {
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ValidationError::field("force_stage", "force_stage must be true or false")),
            None => false,
        };
        Ok(Self {
            lead_id,
            email,
            stage,
            text,
            form_completion_percent,
            form_fields_completed,
            form_fields_total,
            custom_data,
            force_stage,
        })
    }
}

/// Checks that completed fields do not exceed the total, when both are known.
pub fn check_fields_completed(completed: Option<u32>, total: Option<u32>) -> Result<(), ValidationError> {
    match (completed, total) {
        (Some(c), Some(t)) if c > t => Err(ValidationError::field(
            "form_fields_completed",
            format!("form_fields_completed ({c}) is larger than form_fields_total ({t})"),
        )),
        _ => Ok(()),
    }
}

/// Checks size, key count, key length and nesting depth of custom data (after a merge too).
pub fn check_custom_data(map: &Map<String, Value>) -> Result<(), ValidationError> {
    if map.len() > MAX_CUSTOM_DATA_KEYS {
        return Err(ValidationError::field("custom_data", format!("custom_data holds more than {MAX_CUSTOM_DATA_KEYS} keys")));
    }
    if let Some(k) = map.keys().find(|k| k.is_empty() || k.chars().count() > MAX_CUSTOM_KEY_LEN) {
        return Err(ValidationError::field(
            "custom_data",
            format!("custom_data key \"{}\" must be 1 to {MAX_CUSTOM_KEY_LEN} characters", truncate(k, 32)),
        ));
    }
    if depth_of_object(map) > MAX_CUSTOM_DATA_DEPTH {
        return Err(ValidationError::field("custom_data", format!("custom_data is nested deeper than {MAX_CUSTOM_DATA_DEPTH} levels")));
    }
    let size = serde_json::to_vec(map).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_CUSTOM_DATA_BYTES {
        return Err(ValidationError::field("custom_data", format!("custom_data is larger than {MAX_CUSTOM_DATA_BYTES} bytes")));
    }
    Ok(())
}

fn depth_of_object(map: &Map<String, Value>) -> usize {
    1 + map.values().map(depth_of_value).max().unwrap_or(0)
}

fn depth_of_value(v: &Value) -> usize {
    match v {
        Value::Object(m) => depth_of_object(m),
        Value::Array(a) => 1 + a.iter().map(depth_of_value).max().unwrap_or(0),
        _ => 0,
    }
}

/// The value of a field that is present and not `null`.
fn present<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

/// A trimmed string field of at most `max` characters; blank counts as absent.
fn optional_string(obj: &Map<String, Value>, name: &str, max: usize) -> Result<Option<String>, ValidationError> {
    match present(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.chars().count() > max {
                Err(ValidationError::field(name, format!("{name} is longer than {max} characters")))
            } else if s.contains('\0') {
                Err(ValidationError::field(name, format!("{name} must not contain NUL characters")))
            } else if s.is_empty() {
                Ok(None)
            } else {
                Ok(Some(s.to_string()))
            }
        }
        Some(_) => Err(ValidationError::field(name, format!("{name} must be a string"))),
    }
}

/// A non-negative whole number field.
fn optional_count(obj: &Map<String, Value>, name: &str) -> Result<Option<u32>, ValidationError> {
    match present(obj, name) {
        None => Ok(None),
        Some(v) => {
            let n = v
                .as_u64()
                .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= MAX_FIELD_COUNT as f64).map(|f| f as u64));
            match n {
                Some(n) if n <= MAX_FIELD_COUNT => Ok(Some(n as u32)),
                _ if v.is_number() => {
                    Err(ValidationError::field(name, format!("{name} must be a whole number from 0 to {MAX_FIELD_COUNT}")))
                }
                _ => Err(ValidationError::field(name, format!("{name} must be a number"))),
            }
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Postback, ValidationError> {
        Postback::parse(v.to_string().as_bytes(), &Pipeline::default())
    }

    fn field_of(v: Value) -> Option<String> {
        parse(v).unwrap_err().field
    }

    #[test]
    fn parses_the_seed_example() {
        let pb = parse(json!({
            "email": "John@Example.com", "first_name": " John ", "stage": "form started", "source": "google",
            "domain": "myeinregistry.com", "campaign": "llc-spring-2026", "utm_source": "google", "utm_medium": "cpc",
            "utm_campaign": "llc-spring-2026", "ip_address": "192.168.1.1", "browser": "Chrome 124",
            "device_type": "desktop", "form_completion_percent": 10, "form_fields_total": 12
        }))
        .unwrap();
        assert_eq!(pb.email.unwrap().as_str(), "john@example.com");
        assert_eq!(pb.text.first_name.as_deref(), Some("John"));
        assert_eq!(pb.stage.unwrap(), "Form Started");
        assert_eq!(pb.form_completion_percent, Some(10.0));
        assert_eq!(pb.form_fields_total, Some(12));
        assert!(!pb.force_stage);
    }

    #[test]
    fn null_and_blank_count_as_absent() {
        let pb = parse(json!({"phone": null, "company": "   ", "custom_data": null})).unwrap();
        assert_eq!(pb, Postback::default());
    }

    #[test]
    fn refuses_malformed_json_and_non_objects() {
        let p = Pipeline::default();
        assert_eq!(Postback::parse(b"{\"email\":", &p).unwrap_err().code, ErrorCode::InvalidJson);
        assert_eq!(Postback::parse(b"[1,2]", &p).unwrap_err().code, ErrorCode::InvalidJson);
        assert_eq!(Postback::parse(b"", &p).unwrap_err().code, ErrorCode::InvalidJson);
        assert_eq!(Postback::parse(&[0xff, 0xfe], &p).unwrap_err().code, ErrorCode::InvalidJson);
    }

    #[test]
    fn refuses_oversized_body() {
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(Postback::parse(&big, &Pipeline::default()).unwrap_err().code, ErrorCode::PayloadTooLarge);
    }

    #[test]
    fn refuses_wrong_types() {
        assert_eq!(field_of(json!({"email": 5})).as_deref(), Some("email"));
        assert_eq!(field_of(json!({"first_name": ["a"]})).as_deref(), Some("first_name"));
        assert_eq!(field_of(json!({"form_completion_percent": "10"})).as_deref(), Some("form_completion_percent"));
        assert_eq!(field_of(json!({"force_stage": "yes"})).as_deref(), Some("force_stage"));
        assert_eq!(field_of(json!({"custom_data": [1]})).as_deref(), Some("custom_data"));
        assert_eq!(field_of(json!({"custom_data": "x"})).as_deref(), Some("custom_data"));
    }

    #[test]
    fn refuses_bad_values() {
        assert_eq!(field_of(json!({"email": "not-an-email"})).as_deref(), Some("email"));
        assert_eq!(field_of(json!({"lead_id": "123"})).as_deref(), Some("lead_id"));
        assert_eq!(field_of(json!({"form_completion_percent": 100.5})).as_deref(), Some("form_completion_percent"));
        assert_eq!(field_of(json!({"form_completion_percent": -1})).as_deref(), Some("form_completion_percent"));
        assert_eq!(field_of(json!({"form_fields_completed": -1})).as_deref(), Some("form_fields_completed"));
        assert_eq!(field_of(json!({"form_fields_total": 1.5})).as_deref(), Some("form_fields_total"));
        assert_eq!(field_of(json!({"form_fields_total": 1e300})).as_deref(), Some("form_fields_total"));
        assert_eq!(field_of(json!({"form_fields_completed": 13, "form_fields_total": 12})).as_deref(), Some("form_fields_completed"));
        assert_eq!(field_of(json!({"phone": "1".repeat(51)})).as_deref(), Some("phone"));
        assert_eq!(field_of(json!({"company": "a\u{0}b"})).as_deref(), Some("company"));
    }

    #[test]
    fn accepts_boundaries() {
        let pb = parse(json!({"form_completion_percent": 100, "form_fields_completed": 12, "form_fields_total": 12, "phone": "1".repeat(50), "form_fields_total": 12.0})).unwrap();
        assert_eq!(pb.form_completion_percent, Some(100.0));
        assert_eq!(pb.form_fields_total, Some(12));
        assert!(parse(json!({"form_completion_percent": 0})).is_ok());
    }

    #[test]
    fn unknown_stage_lists_valid_ones() {
        let err = parse(json!({"stage": "Won"})).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownStage);
        assert!(err.message.contains("New, Form Started, Application Submitted, Paid, Completed"));
    }

    #[test]
    fn unknown_fields_are_refused_with_a_hint() {
        let err = parse(json!({"favourite_colour": "blue"})).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownField);
        assert!(err.message.contains("custom_data"));
    }

    #[test]
    fn custom_data_limits() {
        let deep = json!({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}});
        assert_eq!(field_of(json!({"custom_data": deep})).as_deref(), Some("custom_data"));
        let ok_depth = json!({"a": {"b": {"c": {"d": 1}}}});
        assert!(parse(json!({"custom_data": ok_depth})).is_ok());
        let many: Map<String, Value> = (0..=MAX_CUSTOM_DATA_KEYS).map(|i| (format!("k{i}"), json!(i))).collect();
        assert_eq!(field_of(json!({"custom_data": many})).as_deref(), Some("custom_data"));
        let big = json!({"k": "x".repeat(MAX_CUSTOM_DATA_BYTES)});
        assert_eq!(field_of(json!({"custom_data": big})).as_deref(), Some("custom_data"));
        assert_eq!(field_of(json!({"custom_data": {"": 1}})).as_deref(), Some("custom_data"));
    }
}
