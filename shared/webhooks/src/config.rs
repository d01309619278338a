//! Parsing and validating a `POST /api/webhooks` body into a [`WebhookSpec`].
//!
//! ```json
//! {
//!   "url": "https://hooks.example.com/leadpipe",
//!   "events": ["lead.created", "lead.stage_changed"],
//!   "stages": ["Paid"],
//!   "format": "meta_capi",
//!   "event_names": {"Completed": "Subscribe", "New": null},
//!   "event_source_id": "C4ABCDEF"
//! }
//! ```
//!
//! - `url` (required): `https`, or `http` only for `localhost` / `127.0.0.1` (tests and local development); no
//!   user name or password, no `#fragment`, at most 2048 characters. IP-literal hosts in private, loopback,
//!   link-local (cloud metadata), shared or multicast ranges are refused; names that *resolve* to such addresses
//!   can only be caught by the delivery layer when it connects, which it must do (SSRF).
//! - `events` (required): a non-empty list of `lead.created`, `lead.stage_changed`, `lead.deleted`.
//! - `stages` (optional): only events that put a lead into one of these stages (names as in the pipeline, any
//!   case); requires `lead.created` or `lead.stage_changed` among the events.
//! - `format` (optional, default `standard`): `standard`, `meta_capi`, `ga4`, `tiktok`. Conversion formats
//!   need `lead.created` or `lead.stage_changed` (they never send deletions).
//! - `event_names` (optional, conversion formats only): stage → platform event name, `null` to send nothing
//!   for that stage. GA4 names: a letter then letters, digits or `_`, at most 40 characters, not starting with
//!   `ga_`, `google_` or `firebase_` (GA4's documented rules); Meta and TikTok names: the same characters, at most
//!   50 (Meta's custom-event limit; TikTok documents none we could read, so the same is applied).
//! - `event_source_id` (required for `tiktok`, refused otherwise): the TikTok pixel code.
//! - `consent` (optional, conversion formats only): `required` (the default) sends a lead's data only with its
//!   `ad_user_data` consent, `not_required` as if every lead had it (see [`crate::formats::consent`]).

use std::collections::BTreeMap;
use std::net::IpAddr;

use leadpipe_core::domain::{Pipeline, Stage};
use leadpipe_core::{ErrorCode, ValidationError};
use serde_json::{Map, Value};
use url::{Host, Url};

use crate::event::EventType;
use crate::formats::{EventNames, Format};

/// Largest accepted body, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest accepted URL, in characters.
pub const MAX_URL_LEN: usize = 2048;

const FIELDS: &[&str] = &[
    "url",
    "events",
    "stages",
    "format",
    "event_names",
    "event_source_id",
    "consent",
];

/// A validated `POST /api/webhooks` body; [`crate::Webhook::new`] turns it into a webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSpec {
    /// The endpoint, normalised by the URL parser.
    pub url: String,
    /// The subscribed event types, sorted, without duplicates.
    pub events: Vec<EventType>,
    /// The stage filter in pipeline order, canonical names; `None` = all stages.
    pub stages: Option<Vec<Stage>>,
    /// The body format.
    pub format: Format,
    /// Stage → event name overrides, keyed by canonical stage name.
    pub event_names: EventNames,
    /// The TikTok pixel code (`tiktok` only).
    pub event_source_id: Option<String>,
    /// Whether a lead's data needs its consent (conversion formats).
    pub consent: crate::formats::consent::ConsentRule,
}

impl WebhookSpec {
    /// Parses a raw JSON body. `null` counts as absent; unknown fields are refused.
    pub fn parse(body: &[u8], pipeline: &Pipeline) -> Result<Self, ValidationError> {
        Self::from_object(
            &leadpipe_core::error::json_object_body(body, MAX_BODY_BYTES)?,
            pipeline,
        )
    }

    /// Validates an already-decoded JSON object.
    pub fn from_object(
        obj: &Map<String, Value>,
        pipeline: &Pipeline,
    ) -> Result<Self, ValidationError> {
        if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            let shown: String = unknown.chars().take(64).collect();
            return Err(ValidationError::new(
                ErrorCode::UnknownField,
                format!(
                    "unknown field \"{shown}\"; valid fields: {}",
                    FIELDS.join(", ")
                ),
            )
            .at(unknown));
        }
        let url = match present(obj, "url") {
            Some(Value::String(s)) => check_url(s)?.to_string(),
            Some(_) => return Err(ValidationError::field("url", "url must be a string")),
            None => return Err(ValidationError::field("url", "url is required")),
        };
        let events = parse_events(present(obj, "events"))?;
        let format = match present(obj, "format") {
            None => Format::default(),
            Some(Value::String(s)) => Format::parse(s.trim()).ok_or_else(|| {
                let valid: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
                ValidationError::field(
                    "format",
                    format!("unknown format; valid formats: {}", valid.join(", ")),
                )
            })?,
            Some(_) => return Err(ValidationError::field("format", "format must be a string")),
        };
        let enters_stage = events.iter().any(|e| e.enters_stage());
        if format.is_conversion() && !enters_stage {
            return Err(ValidationError::field(
                "events",
                format!("the {format} format sends conversions: subscribe to lead.created or lead.stage_changed"),
            ));
        }
        let stages = match present(obj, "stages") {
            None => None,
            Some(v) => {
                if !enters_stage {
                    return Err(ValidationError::field(
                        "stages",
                        "stages filters lead.created and lead.stage_changed; subscribe to one of them",
                    ));
                }
                Some(parse_stages(v, pipeline)?)
            }
        };
        let event_names = match present(obj, "event_names") {
            None => EventNames::default(),
            Some(_) if !format.is_conversion() => {
                return Err(ValidationError::field(
                    "event_names",
                    "event_names only applies to the meta_capi, ga4 and tiktok formats",
                ));
            }
            Some(v) => parse_event_names(v, format, pipeline)?,
        };
        let event_source_id = match (present(obj, "event_source_id"), format) {
            (Some(Value::String(s)), Format::TikTok) => Some(check_event_source_id(s)?),
            (Some(_), Format::TikTok) => {
                return Err(ValidationError::field(
                    "event_source_id",
                    "event_source_id must be a string",
                ))
            }
            (None, Format::TikTok) => {
                return Err(ValidationError::field(
                    "event_source_id",
                    "event_source_id (the TikTok pixel code) is required for the tiktok format",
                ));
            }
            (Some(_), _) => {
                return Err(ValidationError::field(
                    "event_source_id",
                    "event_source_id only applies to the tiktok format",
                ))
            }
            (None, _) => None,
        };
        let consent = match present(obj, "consent") {
            None => crate::formats::consent::ConsentRule::default(),
            Some(_) if !format.is_conversion() => {
                return Err(ValidationError::field(
                    "consent",
                    "consent only applies to the meta_capi, ga4 and tiktok formats",
                ));
            }
            Some(v) => v
                .as_str()
                .and_then(crate::formats::consent::ConsentRule::parse)
                .ok_or_else(|| {
                    ValidationError::field(
                        "consent",
                        "consent must be \"required\" or \"not_required\"",
                    )
                })?,
        };
        Ok(Self {
            url,
            events,
            stages,
            format,
            event_names,
            event_source_id,
            consent,
        })
    }
}

/// The value of a field that is present and not `null`.
fn present<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

/// Checks a webhook URL (see the module documentation for the rules) and returns it parsed.
pub fn check_url(raw: &str) -> Result<Url, ValidationError> {
    let err = |m: &str| ValidationError::field("url", m);
    let raw = raw.trim();
    if raw.chars().count() > MAX_URL_LEN {
        return Err(err(&format!("url is longer than {MAX_URL_LEN} characters")));
    }
    let url =
        Url::parse(raw).map_err(|e| err(&format!("url is not a valid absolute URL ({e})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err("url must not contain a user name or password; put credentials in the query string or path"));
    }
    if url.fragment().is_some() {
        return Err(err("url must not contain a #fragment"));
    }
    let host = url.host().ok_or_else(|| err("url must have a host"))?;
    let local = match &host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.octets() == [127, 0, 0, 1],
        Host::Ipv6(_) => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        "http" => {
            return Err(err(
                "url must use https (http is only accepted for localhost and 127.0.0.1)",
            ))
        }
        _ => return Err(err("url must use https")),
    }
    let ip = match host {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) => None,
    };
    if let Some(ip) = ip.filter(|ip| !local && !is_public(*ip)) {
        return Err(err(&format!(
            "url points at {ip}, a private, loopback, link-local or reserved address"
        )));
    }
    Ok(url)
}

/// Whether an address is publicly routable (conservatively: anything special-purpose is not). The delivery layer
/// applies it to the addresses a webhook's host name resolves to, at connection time.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

fn parse_events(value: Option<&Value>) -> Result<Vec<EventType>, ValidationError> {
    let valid = || {
        EventType::ALL
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(value) = value else {
        return Err(ValidationError::field(
            "events",
            format!("events is required: a list of {}", valid()),
        ));
    };
    let Value::Array(items) = value else {
        return Err(ValidationError::field(
            "events",
            "events must be a list of event names",
        ));
    };
    if items.is_empty() {
        return Err(ValidationError::field(
            "events",
            format!("events must name at least one of {}", valid()),
        ));
    }
    let mut events = Vec::new();
    for item in items {
        let name = item.as_str().ok_or_else(|| {
            ValidationError::field("events", "events must be a list of event names")
        })?;
        let event = EventType::parse(name.trim()).ok_or_else(|| {
            let shown: String = name.chars().take(64).collect();
            ValidationError::field(
                "events",
                format!("unknown event \"{shown}\"; valid events: {}", valid()),
            )
        })?;
        events.push(event);
    }
    events.sort();
    events.dedup();
    Ok(events)
}

fn parse_stages(value: &Value, pipeline: &Pipeline) -> Result<Vec<Stage>, ValidationError> {
    let Value::Array(items) = value else {
        return Err(ValidationError::field(
            "stages",
            "stages must be a list of stage names",
        ));
    };
    if items.is_empty() {
        return Err(ValidationError::field(
            "stages",
            "stages must name at least one stage; leave it out to receive every stage",
        ));
    }
    let mut stages = Vec::new();
    for item in items {
        let name = item.as_str().ok_or_else(|| {
            ValidationError::field("stages", "stages must be a list of stage names")
        })?;
        stages.push(resolve_stage(pipeline, name, "stages")?);
    }
    stages.sort_by_key(|s| pipeline.index_of(s));
    stages.dedup();
    Ok(stages)
}

fn resolve_stage(pipeline: &Pipeline, name: &str, field: &str) -> Result<Stage, ValidationError> {
    pipeline
        .stage(name)
        .map_err(|e| ValidationError::new(ErrorCode::UnknownStage, e.to_string()).at(field))
}

fn parse_event_names(
    value: &Value,
    format: Format,
    pipeline: &Pipeline,
) -> Result<EventNames, ValidationError> {
    let Value::Object(map) = value else {
        return Err(ValidationError::field(
            "event_names",
            "event_names must be an object of stage name → event name",
        ));
    };
    let mut names = BTreeMap::new();
    for (stage_name, event_name) in map {
        let stage = resolve_stage(pipeline, stage_name, "event_names")?;
        let event_name = match event_name {
            Value::Null => None,
            Value::String(s) => Some(check_event_name(s.trim(), format, stage.as_str())?),
            _ => {
                return Err(ValidationError::field(
                    "event_names",
                    format!("the event name for \"{stage}\" must be a string or null"),
                ))
            }
        };
        if names
            .insert(stage.as_str().to_string(), event_name)
            .is_some()
        {
            return Err(ValidationError::field(
                "event_names",
                format!("event_names names the stage \"{stage}\" twice"),
            ));
        }
    }
    Ok(EventNames(names))
}

fn check_event_name(name: &str, format: Format, stage: &str) -> Result<String, ValidationError> {
    let max = if format == Format::Ga4 { 40 } else { 50 };
    let shape_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= max;
    if !shape_ok {
        return Err(ValidationError::field(
            "event_names",
            format!("the event name for \"{stage}\" must be 1 to {max} letters, digits or underscores, starting with a letter"),
        ));
    }
    let lower = name.to_ascii_lowercase();
    if format == Format::Ga4
        && ["ga_", "google_", "firebase_"]
            .iter()
            .any(|p| lower.starts_with(p))
    {
        return Err(ValidationError::field(
            "event_names",
            format!("the event name for \"{stage}\" uses a prefix GA4 reserves (ga_, google_, firebase_)"),
        ));
    }
    Ok(name.to_string())
}

fn check_event_source_id(raw: &str) -> Result<String, ValidationError> {
    let id = raw.trim();
    let ok = (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(ValidationError::field(
            "event_source_id",
            "event_source_id must be 1 to 64 letters, digits, '-' or '_'",
        ));
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::tests::stage;

    fn parse(v: Value) -> Result<WebhookSpec, ValidationError> {
        WebhookSpec::parse(v.to_string().as_bytes(), &Pipeline::default())
    }

    fn err(v: Value) -> ValidationError {
        parse(v).expect_err("should be refused")
    }

    #[test]
    fn minimal_body_gets_defaults() {
        let spec =
            parse(json!({"url": "https://hooks.example.com/x", "events": ["lead.deleted", "lead.created", "lead.created"]})).unwrap();
        assert_eq!(spec.url, "https://hooks.example.com/x");
        assert_eq!(
            spec.events,
            [EventType::LeadCreated, EventType::LeadDeleted]
        );
        assert_eq!(
            (
                spec.stages,
                spec.format,
                spec.event_names,
                spec.event_source_id
            ),
            (None, Format::Standard, EventNames::default(), None)
        );
    }

    #[test]
    fn full_body() {
        let spec = parse(json!({
            "url": "https://graph.example.com/v21.0/123/events?access_token=abc",
            "events": ["lead.stage_changed"],
            "stages": ["paid", "NEW", "Paid"],
            "format": "meta_capi",
            "event_names": {"completed": "Subscribe", "New": null},
        }))
        .unwrap();
        assert_eq!(
            spec.stages,
            Some(vec![stage("New"), stage("Paid")]),
            "canonical, pipeline order, no duplicates"
        );
        assert_eq!(spec.format, Format::MetaCapi);
        assert_eq!(
            spec.event_names.0,
            BTreeMap::from([
                ("Completed".to_string(), Some("Subscribe".to_string())),
                ("New".to_string(), None)
            ])
        );
    }

    #[test]
    fn tiktok_needs_its_pixel_code() {
        let body = json!({"url": "https://business-api.tiktok.com/open_api/v1.3/event/track/", "events": ["lead.created"], "format": "tiktok"});
        assert_eq!(err(body.clone()).field.as_deref(), Some("event_source_id"));
        let mut with = body.clone();
        with["event_source_id"] = json!(" C4ABCDEF ");
        assert_eq!(
            parse(with).unwrap().event_source_id.as_deref(),
            Some("C4ABCDEF")
        );
        let mut bad = body;
        bad["event_source_id"] = json!("a b");
        assert_eq!(err(bad).field.as_deref(), Some("event_source_id"));
        let standard = json!({"url": "https://x.example.com", "events": ["lead.created"], "event_source_id": "C4"});
        assert_eq!(err(standard).field.as_deref(), Some("event_source_id"));
    }

    #[test]
    fn url_rules() {
        for ok in [
            "https://hooks.example.com/a?b=c",
            "http://localhost:8080/hook",
            "http://127.0.0.1:9/x",
            "https://localhost/x",
            "https://8.8.8.8/x",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("http://hooks.example.com/x", "https"),
            ("ftp://hooks.example.com/x", "https"),
            ("https://user:pass@hooks.example.com/x", "password"),
            ("https://user@hooks.example.com/x", "password"),
            ("https://hooks.example.com/x#frag", "fragment"),
            ("hooks.example.com/x", "valid absolute URL"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://10.0.0.8/x", "private"),
            ("https://192.168.1.1/x", "private"),
            ("https://127.0.0.2/x", "loopback"),
            ("https://[::1]/x", "loopback"),
            ("https://[fd00::1]/x", "private"),
            ("https://[::ffff:10.0.0.1]/x", "private"),
            ("https://100.64.0.1/x", "reserved"),
            ("https://0.0.0.0/x", "reserved"),
            ("http://[::1]:8080/x", "https"),
        ] {
            let e = check_url(bad).expect_err(bad);
            assert_eq!(
                (e.code, e.field.as_deref()),
                (ErrorCode::InvalidField, Some("url")),
                "{bad}"
            );
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(check_url(&long).unwrap_err().message.contains("longer"));
    }

    #[test]
    fn events_must_be_known_and_present() {
        assert_eq!(
            err(json!({"url": "https://x.example.com"}))
                .field
                .as_deref(),
            Some("events")
        );
        assert!(err(json!({"url": "https://x.example.com", "events": []}))
            .message
            .contains("at least one"));
        let e = err(json!({"url": "https://x.example.com", "events": ["lead.updated"]}));
        assert!(
            e.message.contains("unknown event \"lead.updated\"")
                && e.message.contains("lead.stage_changed")
        );
        assert_eq!(
            err(json!({"url": "https://x.example.com", "events": "lead.created"}))
                .field
                .as_deref(),
            Some("events")
        );
        assert_eq!(
            err(json!({"url": "https://x.example.com", "events": [1]}))
                .field
                .as_deref(),
            Some("events")
        );
    }

    #[test]
    fn stages_are_checked_against_the_pipeline() {
        let e = err(
            json!({"url": "https://x.example.com", "events": ["lead.stage_changed"], "stages": ["Won"]}),
        );
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::UnknownStage, Some("stages"))
        );
        assert!(e
            .message
            .contains("New, Form Started, Application Submitted, Paid, Completed"));
        let custom = Pipeline::parse("Lead, Won").unwrap();
        let body = json!({"url": "https://x.example.com", "events": ["lead.stage_changed"], "stages": ["won"]}).to_string();
        assert_eq!(
            WebhookSpec::parse(body.as_bytes(), &custom)
                .unwrap()
                .stages
                .unwrap()[0],
            "Won"
        );
        assert!(err(
            json!({"url": "https://x.example.com", "events": ["lead.created"], "stages": []})
        )
        .message
        .contains("at least one"));
        assert!(err(
            json!({"url": "https://x.example.com", "events": ["lead.deleted"], "stages": ["Paid"]})
        )
        .message
        .contains("subscribe"));
        assert_eq!(
            parse(
                json!({"url": "https://x.example.com", "events": ["lead.created"], "stages": null})
            )
            .unwrap()
            .stages,
            None
        );
    }

    #[test]
    fn format_and_event_names_rules() {
        let base = |extra: Value| {
            let mut b = json!({"url": "https://x.example.com", "events": ["lead.stage_changed"]});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        assert!(err(base(json!({"format": "facebook"})))
            .message
            .contains("meta_capi, ga4, tiktok"));
        assert_eq!(
            err(base(json!({"format": 3}))).field.as_deref(),
            Some("format")
        );
        assert!(err(base(json!({"event_names": {"Paid": "Purchase"}})))
            .message
            .contains("only applies"));
        let e = err(base(json!({"format": "ga4", "event_names": {"Won": "x"}})));
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::UnknownStage, Some("event_names"))
        );
        assert!(err(base(
            json!({"format": "ga4", "event_names": {"Paid": "has space"}})
        ))
        .message
        .contains("letters, digits"));
        assert!(err(base(
            json!({"format": "ga4", "event_names": {"Paid": "1st"}})
        ))
        .message
        .contains("starting with a letter"));
        assert!(err(base(
            json!({"format": "ga4", "event_names": {"Paid": "google_paid"}})
        ))
        .message
        .contains("reserves"));
        assert!(err(base(
            json!({"format": "ga4", "event_names": {"Paid": "a".repeat(41)}})
        ))
        .message
        .contains("40"));
        assert!(
            parse(base(
                json!({"format": "meta_capi", "event_names": {"Paid": "a".repeat(41)}})
            ))
            .is_ok(),
            "Meta allows 50"
        );
        assert!(err(base(
            json!({"format": "ga4", "event_names": {"Paid": "x", "paid": "y"}})
        ))
        .message
        .contains("twice"));
        assert!(
            err(base(json!({"format": "ga4", "event_names": {"Paid": 1}})))
                .message
                .contains("string or null")
        );
        assert!(err(base(json!({"format": "ga4", "event_names": ["Paid"]})))
            .message
            .contains("object"));
        let only_deleted =
            json!({"url": "https://x.example.com", "events": ["lead.deleted"], "format": "ga4"});
        assert!(err(only_deleted).message.contains("sends conversions"));
    }

    #[test]
    fn body_level_errors() {
        let e = WebhookSpec::parse(b"not json", &Pipeline::default()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidJson);
        let e = WebhookSpec::parse(b"[1]", &Pipeline::default()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidJson);
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            WebhookSpec::parse(&big, &Pipeline::default())
                .unwrap_err()
                .code,
            ErrorCode::PayloadTooLarge
        );
        let e = err(
            json!({"url": "https://x.example.com", "events": ["lead.created"], "secret": "mine"}),
        );
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::UnknownField, Some("secret"))
        );
        assert_eq!(
            err(json!({"url": 5, "events": ["lead.created"]})).message,
            "url must be a string"
        );
        assert_eq!(
            err(json!({"events": ["lead.created"]})).message,
            "url is required"
        );
    }
}
