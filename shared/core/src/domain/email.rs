//! The `Email` newtype: trimmed, lower-cased and syntax-checked.

use serde::{Deserialize, Serialize};

/// Longest accepted address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// A normalised email address, the key leads are deduplicated on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Trims, lower-cases and checks the address; the error says what is wrong.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("email is empty".into());
        }
        if email.len() > MAX_EMAIL_LEN {
            return Err(format!("email is longer than {MAX_EMAIL_LEN} characters"));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("email must not contain spaces or control characters".into());
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err("email must contain an '@'".into());
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err("email has an invalid part before the '@'".into());
        }
        let labels_ok = domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-') && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
        if !domain.contains('.') || !labels_ok {
            return Err("email has an invalid domain".into());
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_blanks() {
        assert_eq!(Email::parse("  John@Example.COM ").unwrap().as_str(), "john@example.com");
    }

    #[test]
    fn accepts_plus_and_subdomains() {
        assert!(Email::parse("a.b+tag@mail.example.co.uk").is_ok());
        assert!(Email::parse("ünï@exämple.de").is_ok());
    }

    #[test]
    fn refuses_bad_syntax() {
        for bad in [
            "",
            "   ",
            "john",
            "john@",
            "@example.com",
            "john@example",
            "jo hn@example.com",
            "john@ex..com",
            "john@-ex.com",
            "a@b@c.com",
            "john@exa_mple.com",
            "john\u{0}@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn refuses_over_long() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }
}
