//! Normalising and hashing personal data the way each ad platform matches it.
//!
//! The platforms match on SHA-256 of a *normalised* value, so one stray capital or space means no match. Each
//! function here returns `None` when there is nothing usable to send, never a hash of garbage.
//!
//! Sources (each function cites its own):
//! - Meta: "Customer Information Parameters", developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters
//!   (and Meta's own normaliser, facebook-python-business-sdk `facebook_business/adobjects/serverside/normalize.py`).
//! - Google: "Send user-provided data with User-ID using the Measurement Protocol",
//!   developers.google.com/analytics/devguides/collection/ga4/uid-data (which defers to the Google Ads API
//!   enhanced-conversions normalisation).
//! - TikTok: see [`e164_phone`]; TikTok's own Events API 2.0 page could not be read from here.

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of the UTF-8 bytes of `value` (the encoding all three platforms expect).
pub fn sha256_hex(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest.iter() {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Meta and TikTok email normalisation: trim surrounding blanks, lower-case. Meta: "Trim any leading and trailing
/// spaces. Convert all characters to lowercase." (no Gmail-specific rule). `None` unless it looks like an
/// address (something on both sides of one `@`).
pub fn email_trim_lower(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.rsplit_once('@')?;
    (!local.is_empty() && !domain.is_empty() && !local.contains('@')).then_some(email)
}

/// Google's email normalisation (GA4 Measurement Protocol `sha256_email_address`): trim, lower-case, and for
/// `gmail.com` and `googlemail.com` addresses remove every `.` before the `@`. Google documents nothing about
/// `+tags`, so they are kept.
pub fn email_google(raw: &str) -> Option<String> {
    let email = email_trim_lower(raw)?;
    match email.rsplit_once('@') {
        Some((local, domain)) if domain == "gmail.com" || domain == "googlemail.com" => {
            Some(format!("{}@{domain}", local.replace('.', "")))
        }
        _ => Some(email),
    }
}

/// The digits of an international phone number, country code first (E.164 without the `+`), or `None`.
///
/// Leadpipe stores phone numbers as typed, without a country, so a number only counts as international when it
/// starts with `+` or the `00` international prefix; a national number (`(650) 555-1234`, `020 7946 0958`) is
/// dropped rather than guessed at, because a hash of the wrong country code never matches. A `(0)` trunk
/// prefix written after the country code (`+44 (0)20 …`) is removed. E.164 allows at most 15 digits; we also
/// require at least 8, and a country code cannot start with 0.
pub fn international_digits(raw: &str) -> Option<String> {
    let raw = raw.trim().replace("(0)", "");
    let (international, rest) = if let Some(rest) = raw.strip_prefix('+') {
        (true, rest)
    } else if let Some(rest) = raw.strip_prefix("00") {
        (true, rest)
    } else {
        (false, raw.as_str())
    };
    if !international || rest.chars().any(|c| c.is_alphabetic()) {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    let valid = (8..=15).contains(&digits.len()) && !digits.starts_with('0');
    valid.then_some(digits)
}

/// Meta's phone normalisation (`ph`): "Remove symbols, letters, and any leading zeros. Phone numbers must
/// include a country code": digits only, country code first, e.g. `+1 (650) 555-1212` → `16505551212`.
pub fn phone_meta(raw: &str) -> Option<String> {
    international_digits(raw)
}

/// E.164 with the `+` (GA4 `sha256_phone_number`: "remove all non-digit characters, add + prefix"; TikTok
/// `user.phone`: "E.164 format (for example, '+12133734253')", as quoted from TikTok's Events API docs by the
/// Cloudflare Zaraz TikTok component and implemented by Segment's TikTok Conversions destination).
pub fn e164_phone(raw: &str) -> Option<String> {
    international_digits(raw).map(|d| format!("+{d}"))
}

/// Meta's name normalisation (`fn`, `ln`): trimmed, lower-case, "no punctuation", other characters kept as UTF-8
/// (`Valéry` → `valéry`). Spaces inside a name are kept: Meta documents no rule for them.
pub fn name_meta(raw: &str) -> Option<String> {
    let name: String = raw
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !is_punctuation(*c))
        .collect();
    let name = name.trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// Google's name normalisation (GA4 `sha256_first_name` / `sha256_last_name`): "remove digits and symbol
/// characters, lowercase, remove leading and trailing spaces". Letters (any script) and inner spaces are kept.
pub fn name_google(raw: &str) -> Option<String> {
    let name: String = raw
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphabetic() || *c == ' ')
        .collect();
    let name = name.trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// ASCII punctuation plus the Unicode punctuation people type into name fields (curly quotes, dashes, dots).
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(c, '\u{2010}'..='\u{2027}' | '\u{2030}'..='\u{205E}' | '\u{00A1}' | '\u{00AB}' | '\u{00B7}' | '\u{00BB}' | '\u{00BF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_matches_known_digests() {
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    // Published examples from Meta's "Customer Information Parameters" page (input, normalised, SHA-256).
    #[test]
    fn meta_published_examples() {
        let em = email_trim_lower("John_Smith@gmail.com").unwrap();
        assert_eq!(em, "john_smith@gmail.com");
        assert_eq!(
            sha256_hex(&em),
            "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
        );
        // Meta's example is the US number (650)555-1212 with its country code 1; Leadpipe needs the code written.
        let ph = phone_meta("+1 (650)555-1212").unwrap();
        assert_eq!(ph, "16505551212");
        assert_eq!(
            sha256_hex(&ph),
            "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"
        );
        for (input, normal, hash) in [
            (
                "Mary",
                "mary",
                "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec",
            ),
            (
                "정",
                "정",
                "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14",
            ),
            (
                "Valéry",
                "valéry",
                "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c",
            ),
        ] {
            let n = name_meta(input).unwrap();
            assert_eq!(n, normal);
            assert_eq!(sha256_hex(&n), hash, "{input}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            email_trim_lower("  John.Doe@Gmail.com ").as_deref(),
            Some("john.doe@gmail.com")
        );
        assert_eq!(
            email_google("  John.Doe@Gmail.com ").as_deref(),
            Some("johndoe@gmail.com")
        );
        assert_eq!(
            email_google("j.o.h.n+ads@googlemail.com").as_deref(),
            Some("john+ads@googlemail.com")
        );
        assert_eq!(
            email_google("john.doe@example.com").as_deref(),
            Some("john.doe@example.com"),
            "dots only dropped for Gmail"
        );
        assert_eq!(
            email_google("john@gmail.com.evil.test").as_deref(),
            Some("john@gmail.com.evil.test")
        );
        for bad in ["", "  ", "john", "@x.com", "john@", "a@b@c.com"] {
            assert_eq!(email_trim_lower(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn phones_need_a_country_code() {
        assert_eq!(
            phone_meta("+1 (650) 555-1234").as_deref(),
            Some("16505551234")
        );
        assert_eq!(
            e164_phone("+1 (650) 555-1234").as_deref(),
            Some("+16505551234")
        );
        assert_eq!(
            e164_phone("0044 20 7946 0958").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(
            e164_phone("+44 (0)20 7946 0958").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(e164_phone("+49-30-901820").as_deref(), Some("+4930901820"));
        for national in ["(650) 555-1234", "020 7946 0958", "6505551234"] {
            assert_eq!(
                phone_meta(national),
                None,
                "{national}: no country code, not guessed"
            );
        }
        for bad in [
            "",
            "+",
            "+1 555",
            "+0 650 555 1234",
            "+1 650 555 1234 ext 5",
            "+1234567890123456",
        ] {
            assert_eq!(e164_phone(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(name_meta("  O'Neil ").as_deref(), Some("oneil"));
        assert_eq!(name_meta("Mary-Jane").as_deref(), Some("maryjane"));
        assert_eq!(name_meta("Jean Luc").as_deref(), Some("jean luc"));
        assert_eq!(
            name_meta("D\u{2019}Arcy").as_deref(),
            Some("darcy"),
            "curly apostrophe"
        );
        assert_eq!(name_meta("..."), None);
        assert_eq!(name_google(" O'Neil 3rd ").as_deref(), Some("oneil rd"));
        assert_eq!(name_google("Valéry").as_deref(), Some("valéry"));
        assert_eq!(name_google("123"), None);
    }
}
