//! Erasure of a person (GDPR art. 17), pure parts: who an erasure request names, what of a lead is personal,
//! how copies of a person are recognised, the suppression list's keyed hash, and the receipt.
//!
//! A person is erased from the lead (and its history and indexes) and from every copy kept beside it: postback-log
//! entries, idempotency replays, webhook deliveries, the outbox and audit summaries. Copies are recognised by an
//! [`ErasureScope`]: the erased leads' ids plus *needles* (the email, the phone in the forms it was stored in, the
//! full name), matched case-insensitively. Counters keep their counts: they are anonymous totals.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use uuid::Uuid;

use super::email::Email;
use super::lead::Lead;

/// Shortest needle used to recognise copies: shorter strings would match unrelated text.
const MIN_NEEDLE: usize = 6;

/// Why an erasure request is refused (each a 400 naming the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ErasureRequestError {
    /// The field at fault (`email`, `phone`, `lead_id`, `suppress`, `body`, or `query` for the export's
    /// parameters as a whole).
    pub field: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> ErasureRequestError {
    ErasureRequestError {
        field,
        message: message.into(),
    }
}

/// A phone number as given in an erasure request: its digits (6 to 20), compared with each lead's phone digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneDigits(String);

impl PhoneDigits {
    /// The digits of `raw` when it looks like a phone number (only digits, spaces, `+-().` and 6–20 digits).
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > 40 {
            return Err("must be at most 40 characters".into());
        }
        if raw
            .chars()
            .any(|c| !(c.is_ascii_digit() || " +-().".contains(c)))
        {
            return Err("must be a phone number: digits, spaces and + - ( ) . only".into());
        }
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        if !(6..=20).contains(&digits.len()) {
            return Err("must have 6 to 20 digits".into());
        }
        Ok(Self(digits))
    }

    /// Whether a stored phone (any formatting) has these digits.
    pub fn matches(&self, stored: &str) -> bool {
        let digits: String = stored.chars().filter(char::is_ascii_digit).collect();
        digits == self.0
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `POST /api/privacy/erasure`: the person to erase, by any of email, phone and lead id (at least one), and
/// whether to put the email on the suppression list.
#[derive(Debug, Clone, PartialEq)]
pub struct ErasureRequest {
    /// Every lead with this email.
    pub email: Option<Email>,
    /// Every lead whose phone has these digits.
    pub phone: Option<PhoneDigits>,
    /// This lead.
    pub lead_id: Option<Uuid>,
    /// Refuse later postbacks for the email (and for the erased leads' emails).
    pub suppress: bool,
}

impl ErasureRequest {
    /// Reads a request body: `{"email"?, "phone"?, "lead_id"?, "suppress"?: bool}`, unknown fields refused.
    pub fn parse(body: &Value) -> Result<Self, ErasureRequestError> {
        let Some(object) = body.as_object() else {
            return Err(refuse("body", "must be a JSON object"));
        };
        if let Some(unknown) = object
            .keys()
            .find(|k| !matches!(k.as_str(), "email" | "phone" | "lead_id" | "suppress"))
        {
            return Err(refuse("body", format!("unknown field {unknown:?}")));
        }
        // `null` is refused like any other non-string: the documented types have no null.
        let text = |field: &'static str| match object.get(field) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(_) => Err(refuse(field, "must be a non-empty string")),
        };
        let email = text("email")?
            .map(|s| Email::parse(&s).map_err(|e| refuse("email", e)))
            .transpose()?;
        let phone = text("phone")?
            .map(|s| PhoneDigits::parse(&s).map_err(|e| refuse("phone", e)))
            .transpose()?;
        let lead_id = text("lead_id")?
            .map(|s| Uuid::parse_str(&s).map_err(|_| refuse("lead_id", "must be a UUID")))
            .transpose()?;
        let suppress = match object.get("suppress") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(refuse("suppress", "must be true or false")),
        };
        if email.is_none() && phone.is_none() && lead_id.is_none() {
            return Err(refuse(
                "body",
                "name the person: give at least one of email, phone and lead_id",
            ));
        }
        Ok(Self {
            email,
            phone,
            lead_id,
            suppress,
        })
    }
}

impl ErasureRequest {
    /// Reads the person of `GET /api/privacy/export?email=|phone=|lead_id=` (each at most once, at least one; no
    /// `suppress`).
    pub fn from_query(params: &[(String, String)]) -> Result<Self, ErasureRequestError> {
        let mut object = serde_json::Map::new();
        for (name, value) in params {
            if !matches!(name.as_str(), "email" | "phone" | "lead_id") {
                return Err(refuse(
                    "query",
                    format!("unknown parameter {name:?}: use email, phone or lead_id"),
                ));
            }
            if object
                .insert(name.clone(), Value::String(value.clone()))
                .is_some()
            {
                return Err(refuse("query", format!("{name} is given more than once")));
            }
        }
        Self::parse(&Value::Object(object)).map_err(|e| match e.field {
            "body" => refuse(
                "query",
                "name the person: give at least one of email, phone and lead_id",
            ),
            _ => e,
        })
    }
}

/// The lead with everything that identifies the person removed (email, names, phone, company, IP address, user
/// agent, custom data), and everything counters and money read kept (stage, dates, attribution, orders). An
/// erasure writes this before deleting, so the deletion's change record (stream image, outbox row, the
/// `lead.deleted` webhook) carries no personal data.
pub fn strip_personal(lead: &Lead) -> Lead {
    let mut stripped = lead.clone();
    stripped.email = None;
    let t = &mut stripped.text;
    for field in [
        &mut t.first_name,
        &mut t.last_name,
        &mut t.phone,
        &mut t.company,
        &mut t.ip_address,
        &mut t.user_agent,
        &mut t.referrer,
    ] {
        *field = None;
    }
    stripped.first_touch.referrer = None;
    stripped.custom_data.clear();
    stripped
}

/// Whether [`strip_personal`] would change nothing.
pub fn is_stripped(lead: &Lead) -> bool {
    strip_personal(lead) == *lead
}

/// Whether `text` (JSON, or JSON values separated by `\u{1}`; JSON inside strings is looked into) holds a lead
/// that is not stripped: how stores tell a pending change or delivery that carries the person from the ones an
/// erasure itself wrote.
pub fn holds_personal_lead(text: &str) -> bool {
    fn any_unstripped(v: &serde_json::Value) -> bool {
        if let Ok(lead) = serde_json::from_value::<Lead>(v.clone()) {
            if !is_stripped(&lead) {
                return true;
            }
        }
        match v {
            serde_json::Value::Object(m) => m.values().any(any_unstripped),
            serde_json::Value::Array(a) => a.iter().any(any_unstripped),
            serde_json::Value::String(s) if s.starts_with('{') => serde_json::from_str(s)
                .map(|inner: serde_json::Value| any_unstripped(&inner))
                .unwrap_or(false),
            _ => false,
        }
    }
    text.split('\u{1}')
        .filter_map(|part| serde_json::from_str::<serde_json::Value>(part).ok())
        .any(|v| any_unstripped(&v))
}

/// What recognises copies of the erased people: their lead ids and needles, matched case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErasureScope {
    /// The erased leads.
    pub lead_ids: Vec<Uuid>,
    /// Lower-case strings whose presence marks a copy (emails, phones as stored and as digits, full names).
    pub needles: Vec<String>,
    /// How many days back the postback log can hold entries (stores that keep it by day look this far).
    pub postback_log_days: u32,
    /// How many days back the audit log can hold entries.
    pub audit_days: u32,
}

impl ErasureScope {
    /// The scope of `request` and the leads it found (taken before they were stripped).
    pub fn of(request: &ErasureRequest, leads: &[Lead]) -> Self {
        let mut scope = Self::default();
        let mut add = |s: &str| {
            let s = s.trim().to_lowercase();
            if s.len() >= MIN_NEEDLE && !scope.needles.contains(&s) {
                scope.needles.push(s);
            }
        };
        if let Some(email) = &request.email {
            add(email.as_str());
        }
        if let Some(phone) = &request.phone {
            add(phone.as_str());
        }
        for lead in leads {
            if let Some(email) = &lead.email {
                add(email.as_str());
            }
            if let Some(phone) = &lead.text.phone {
                add(phone);
                add(&phone
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>());
            }
            if let (Some(first), Some(last)) = (&lead.text.first_name, &lead.text.last_name) {
                add(&format!("{first} {last}"));
            }
        }
        scope.lead_ids = leads.iter().map(|l| l.id).collect();
        if let Some(id) = request.lead_id {
            if !scope.lead_ids.contains(&id) {
                scope.lead_ids.push(id);
            }
        }
        scope
    }

    /// Every string that marks a copy: the needles and each lead id in its hyphenated form.
    pub fn markers(&self) -> Vec<String> {
        let mut markers = self.needles.clone();
        markers.extend(self.lead_ids.iter().map(Uuid::to_string));
        markers
    }

    /// Whether `text` is a copy: it holds a needle or a lead id (case-insensitively).
    pub fn matches(&self, text: &str) -> bool {
        let text = text.to_lowercase();
        self.markers().iter().any(|m| text.contains(m.as_str()))
    }

    /// Whether the scope names nobody (then nothing is looked for).
    pub fn is_empty(&self) -> bool {
        self.lead_ids.is_empty() && self.needles.is_empty()
    }
}

/// What an erasure removed beside the leads, by place (counts of items or rows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ErasedCopies {
    /// Stage-history entries.
    pub history: u64,
    /// Postback-log entries (about the lead, or whose body held a needle).
    pub postback_log: u64,
    /// Stored idempotency replays that named the lead.
    pub idempotency: u64,
    /// Webhook deliveries (payloads), pending ones included: they are never sent.
    pub deliveries: u64,
    /// Unprocessed change records (SQLite's outbox).
    pub outbox: u64,
    /// Audit entries whose summary held the person: the summary is replaced, the entry (who, what, when) kept.
    pub audit_redacted: u64,
}

impl ErasedCopies {
    /// Adds `other`'s counts.
    pub fn add(&mut self, other: Self) {
        self.history += other.history;
        self.postback_log += other.postback_log;
        self.idempotency += other.idempotency;
        self.deliveries += other.deliveries;
        self.outbox += other.outbox;
        self.audit_redacted += other.audit_redacted;
    }
}

/// The receipt of an erasure: what was erased, without the personal data itself (it is also the audit entry's
/// summary).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErasureReceipt {
    /// The erasure's id (the audit entry's target).
    pub id: Uuid,
    /// When it ran.
    pub at: DateTime<Utc>,
    /// The leads erased.
    pub leads: Vec<Uuid>,
    /// What was erased beside them.
    pub copies: ErasedCopies,
    /// Whether the email is now on the suppression list.
    pub suppressed: bool,
    /// What happened to analytics.
    pub analytics: &'static str,
}

/// What the receipt says of analytics.
pub const ANALYTICS_KEPT: &str =
    "counts, funnels and money totals keep the erased leads as anonymous totals; nothing in them identifies a person";

/// Audit summaries that held the person are replaced by this.
pub fn redacted_summary() -> Value {
    serde_json::json!({ "redacted": "personal data erased" })
}

/// The suppression list's entry for `email`: HMAC-SHA256 of the normalised address under the store's privacy key,
/// as 64 hex digits. The list never holds the address; someone who holds the key can only test a guess.
pub fn suppression_key(privacy_key: &[u8], email: &Email) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(privacy_key).expect("HMAC takes keys of any length");
    mac.update(b"leadpipe.suppression.v1\0");
    mac.update(email.as_str().as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests;
