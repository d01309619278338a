//! Warnings: what a stored postback asked for and did not get, reported back in the 2xx answer's `warnings`.

use serde::Serialize;

/// Why part of a postback was not applied as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// The value was longer than the field's limit and was cut.
    Truncated,
    /// Control characters were removed from the value.
    Cleaned,
    /// The value was invalid and was left out; the rest of the postback was stored.
    Dropped,
    /// An unknown top-level field was kept inside `custom_data`.
    MovedToCustomData,
    /// The key used may not do this (e.g. the public key overwriting a field); nothing was changed there.
    NotAllowed,
    /// The value conflicts with the stored lead (e.g. an email held by another lead) and was left out.
    Conflict,
}

/// One warning: the field, a code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// The body field concerned.
    pub field: String,
    /// What happened to it.
    pub code: WarningCode,
    /// What happened, for people.
    pub message: String,
}

impl Warning {
    /// A warning about `field`.
    pub fn new(field: &str, code: WarningCode, message: impl Into<String>) -> Self {
        Self {
            field: field.chars().take(64).collect(),
            code,
            message: message.into(),
        }
    }
}
