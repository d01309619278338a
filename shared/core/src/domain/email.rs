//! The `Email` newtype: the identity leads are deduplicated on.
//!
//! An address is normalised so that look-alike spellings of one address meet in one lead: Unicode NFKC (fullwidth
//! and compatibility forms fold to their plain letters), lower-cased, and the domain converted to its IDNA ASCII
//! form (`exämple.de` and `xn--exmple-cua.de` are one domain). Invisible and bidirectional control characters
//! (zero-width spaces, U+FEFF, the soft hyphen, RLO/LRO and friends) are refused rather than stripped, since they
//! are the tool of impersonation. Genuinely different characters — a Cyrillic `о` for a Latin `o` — stay
//! different: they are different addresses.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Longest accepted address in bytes, normalised (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// A normalised email address, the key leads are deduplicated on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

/// Whether `c` is invisible or controls text direction: never part of a real address.
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E0FFF}')
}

impl Email {
    /// Normalises and checks an address; the error says what is wrong.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("email is empty".into());
        }
        if trimmed.chars().any(is_invisible_or_bidi) {
            return Err("email contains invisible or text-direction characters".into());
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("email must not contain spaces or control characters".into());
        }
        let folded: String = trimmed.nfkc().collect::<String>().to_lowercase();
        let Some((local, domain)) = folded.rsplit_once('@') else {
            return Err("email must contain an '@'".into());
        };
        if local.is_empty()
            || local.len() > 64
            || local.contains('@')
            || local.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err("email has an invalid part before the '@'".into());
        }
        let ascii =
            idna::domain_to_ascii(domain).map_err(|_| "email has an invalid domain".to_string())?;
        let labels_ok = ascii.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        if !ascii.contains('.') || !labels_ok {
            return Err("email has an invalid domain".into());
        }
        let email = format!("{local}@{ascii}");
        if email.len() > MAX_EMAIL_LEN {
            return Err(format!("email is longer than {MAX_EMAIL_LEN} bytes"));
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

    fn norm(s: &str) -> String {
        Email::parse(s).unwrap().as_str().to_string()
    }

    #[test]
    fn normalises_case_and_blanks() {
        assert_eq!(norm("  John@Example.COM "), "john@example.com");
    }

    #[test]
    fn look_alikes_meet_in_one_address() {
        assert_eq!(
            norm("ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
            "john@example.com",
            "fullwidth forms fold (NFKC)"
        );
        assert_eq!(
            norm("ünï@exämple.de"),
            "ünï@xn--exmple-cua.de",
            "IDN domains in their ASCII form"
        );
        assert_eq!(norm("ünï@xn--exmple-cua.de"), norm("ünï@exämple.de"));
        assert_eq!(norm("JOHN@EXAMPLE.com"), norm("john@example.com"));
    }

    #[test]
    fn invisible_and_bidi_characters_are_refused() {
        for bad in [
            "jo\u{FEFF}hn@example.com",
            "jo\u{00AD}hn@example.com",
            "jo\u{200B}hn@example.com",
            "\u{202E}nhoj@example.com",
            "john@exa\u{200D}mple.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn different_letters_stay_different() {
        // Cyrillic "о" (U+043E) is not a Latin "o".
        assert_ne!(norm("j\u{043E}hn@example.com"), norm("john@example.com"));
    }

    #[test]
    fn accepts_plus_and_subdomains() {
        assert!(Email::parse("a.b+tag@mail.example.co.uk").is_ok());
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
        let long = format!("{}@example.com", "a".repeat(60)) + &".example".repeat(30);
        assert!(Email::parse(&long).is_err());
    }
}
