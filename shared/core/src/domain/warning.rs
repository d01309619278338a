//! Warnings: what a stored postback asked for and did not get, reported back in the 2xx answer's `warnings`.

use std::collections::BTreeMap;

use serde::Serialize;

/// Why part of a postback was not applied as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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
    /// A negative order value: recorded as a refund.
    Refund,
    /// An order value that cannot be taken exactly (not a number, too precise, too large, an unknown or missing
    /// currency): the order is kept on the lead with what was sent, and reported apart, never counted as 0.
    KeptApart,
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

/// Most warnings an answer lists one by one; the rest are collapsed into one warning per code.
pub const MAX_LISTED_WARNINGS: usize = 20;

/// Bounds an answer's warnings: the first [`MAX_LISTED_WARNINGS`] as they are, then one warning per code for the
/// rest (field `*`, the count and the first three fields), so a body with thousands of unknown keys cannot make
/// the answer larger than a few kilobytes.
pub fn bounded(mut warnings: Vec<Warning>) -> Vec<Warning> {
    if warnings.len() <= MAX_LISTED_WARNINGS {
        return warnings;
    }
    let rest = warnings.split_off(MAX_LISTED_WARNINGS);
    let mut by_code: BTreeMap<WarningCode, (usize, Vec<String>)> = BTreeMap::new();
    for w in rest {
        let (count, fields) = by_code.entry(w.code).or_default();
        *count += 1;
        if fields.len() < 3 {
            fields.push(w.field);
        }
    }
    for (code, (count, fields)) in by_code {
        warnings.push(Warning::new(
            "*",
            code,
            format!(
                "{count} more warning(s) like this, for fields such as {}",
                fields.join(", ")
            ),
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_of_warnings_collapse_by_code() {
        let many: Vec<Warning> = (0..7_690)
            .map(|i| Warning::new(&format!("k{i}"), WarningCode::MovedToCustomData, "kept"))
            .chain([Warning::new("phone", WarningCode::Truncated, "cut")])
            .collect();
        let out = bounded(many);
        assert_eq!(out.len(), MAX_LISTED_WARNINGS + 2);
        let tail: Vec<_> = out[MAX_LISTED_WARNINGS..]
            .iter()
            .map(|w| (w.code, w.message.clone()))
            .collect();
        assert_eq!(tail[0].0, WarningCode::Truncated);
        assert!(tail[1].1.starts_with("7670 more warning(s)"), "{tail:?}");
        assert!(serde_json::to_vec(&out).unwrap().len() < 4_096);
        let few = vec![Warning::new("a", WarningCode::Cleaned, "x"); 20];
        assert_eq!(bounded(few.clone()), few);
    }
}
