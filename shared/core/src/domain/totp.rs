//! Time-based one-time passwords (RFC 6238) for optional two-factor sign-in (pure rules).
//!
//! - HMAC-SHA-1, [`DIGITS`] digits, a [`STEP_SECS`]-second time step from the Unix epoch; a code is accepted for
//!   the current step and one step either side ([`SKEW_STEPS`]), so a clock a little off still works.
//! - Secrets are [`SECRET_BYTES`] random bytes, shown as RFC 4648 base32 without padding (what authenticator
//!   apps take), in an `otpauth://totp/` URI.
//! - A code is used once: the account keeps the last step a code was accepted for and refuses that step and
//!   every earlier one ([`TotpCheck::Reused`]).

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Seconds per time step.
pub const STEP_SECS: i64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW_STEPS: i64 = 1;
/// Bytes of a new secret (160 bits, the HMAC-SHA-1 block size RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;
/// The issuer shown by authenticator apps.
pub const ISSUER: &str = "Leadpipe";

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 of `bytes`, upper case, without padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes RFC 4648 base32 (either case; spaces and trailing `=` ignored); `None` for any other character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes().filter(|b| *b != b' ') {
        let upper = c.to_ascii_uppercase();
        let value = BASE32.iter().position(|&a| a == upper)?;
        buffer = ((buffer << 5) | value as u32) & 0xFFFF;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xFF) as u8);
        }
    }
    Some(out)
}

/// The HOTP value (RFC 4226) of `key` at `counter`, as `digits` digits.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    let Ok(mut mac) = <Hmac<Sha1> as Mac>::new_from_slice(key) else {
        return 0; // HMAC takes keys of any length: not reached.
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// The time step of Unix time `unix_secs`.
pub fn time_step(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// Why a secret or code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// Not [`DIGITS`] digits.
    #[error("the code must be {DIGITS} digits")]
    MalformedCode,
    /// A stored secret that is not base32 of [`SECRET_BYTES`] bytes.
    #[error("the two-factor secret is malformed")]
    MalformedSecret,
    /// The random source failed.
    #[error("random source failed: {0}")]
    Random(String),
}

/// A TOTP secret (never logged; stored and shown as base32).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

impl TotpSecret {
    /// A fresh secret from the operating system's random source.
    pub fn generate() -> Result<Self, TotpError> {
        let mut bytes = vec![0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| TotpError::Random(e.to_string()))?;
        Ok(Self(bytes))
    }

    /// Reads a stored secret (base32 of exactly [`SECRET_BYTES`] bytes).
    pub fn parse(base32: &str) -> Result<Self, TotpError> {
        match base32_decode(base32) {
            Some(bytes) if bytes.len() == SECRET_BYTES => Ok(Self(bytes)),
            _ => Err(TotpError::MalformedSecret),
        }
    }

    /// The secret as base32 without padding (to store, and to show once while enrolling).
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// The code of time step `step`.
    pub fn code_at(&self, step: i64) -> TotpCode {
        TotpCode(hotp(&self.0, u64::try_from(step).unwrap_or(0), DIGITS))
    }

    /// Checks `code` at Unix time `unix_secs` (± [`SKEW_STEPS`]) against the last accepted step.
    pub fn check(&self, code: &TotpCode, unix_secs: i64, last_step: Option<i64>) -> TotpCheck {
        let now = time_step(unix_secs);
        let mut reused = false;
        for step in now - SKEW_STEPS..=now + SKEW_STEPS {
            if self.code_at(step) != *code {
                continue;
            }
            if last_step.is_some_and(|last| step <= last) {
                reused = true;
                continue;
            }
            return TotpCheck::Accepted { step };
        }
        if reused {
            TotpCheck::Reused
        } else {
            TotpCheck::Wrong
        }
    }

    /// The `otpauth://totp/Leadpipe:<email>?secret=…&issuer=Leadpipe` URI authenticator apps read.
    pub fn otpauth_uri(&self, account: &str) -> String {
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}",
            issuer = ISSUER,
            account = percent_encode(account),
            secret = self.to_base32(),
        )
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A code as a person typed it: [`DIGITS`] digits (spaces between them are ignored).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TotpCode(u32);

impl std::fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpCode(…)")
    }
}

impl TotpCode {
    /// Reads a code: exactly [`DIGITS`] ASCII digits once spaces are removed.
    pub fn parse(raw: &str) -> Result<Self, TotpError> {
        let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != DIGITS as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TotpError::MalformedCode);
        }
        digits
            .parse()
            .map(Self)
            .map_err(|_| TotpError::MalformedCode)
    }

    /// The code as [`DIGITS`] digits, zero-padded.
    pub fn expose(&self) -> String {
        format!("{:0width$}", self.0, width = DIGITS as usize)
    }
}

/// What checking a code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpCheck {
    /// The code is right for `step`, later than the last accepted step: record `step` before acting on it.
    Accepted {
        /// The step the code belongs to.
        step: i64,
    },
    /// The code is right but its step was used already (a replay).
    Reused,
    /// The code is wrong (or too far from now).
    Wrong,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 seed is the ASCII of "12345678901234567890".
    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_appendix_b_sha1_vectors() {
        for (time, expected) in [
            (59_i64, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            let counter = u64::try_from(time_step(time)).unwrap();
            assert_eq!(hotp(RFC_SEED, counter, 8), expected, "T = {time}");
            assert_eq!(
                hotp(RFC_SEED, counter, 6),
                expected % 1_000_000,
                "T = {time}"
            );
        }
    }

    #[test]
    fn rfc_4226_appendix_d_hotp_vectors() {
        let expected = [755_224, 287_082, 359_152, 969_429, 338_314];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(hotp(RFC_SEED, counter as u64, 6), *want);
        }
    }

    #[test]
    fn base32_follows_rfc_4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZXW1"), None, "1 is not base32");
        assert_eq!(base32_encode(RFC_SEED), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn secrets_are_random_20_bytes_and_round_trip() {
        let s = TotpSecret::generate().unwrap();
        assert_eq!(s.to_base32().len(), 32);
        assert_eq!(TotpSecret::parse(&s.to_base32()).unwrap(), s);
        assert_ne!(s, TotpSecret::generate().unwrap());
        assert_eq!(format!("{s:?}"), "TotpSecret(…)");
        assert_eq!(TotpSecret::parse("MZXW6"), Err(TotpError::MalformedSecret));
        assert_eq!(TotpSecret::parse("!!"), Err(TotpError::MalformedSecret));
    }

    #[test]
    fn codes_are_six_digits() {
        assert_eq!(TotpCode::parse("012345").unwrap().expose(), "012345");
        assert_eq!(TotpCode::parse(" 123 456 ").unwrap().expose(), "123456");
        for bad in ["", "12345", "1234567", "12345a", "١٢٣٤٥٦"] {
            assert_eq!(TotpCode::parse(bad), Err(TotpError::MalformedCode), "{bad}");
        }
    }

    #[test]
    fn checks_accept_one_step_either_side_once() {
        let s = TotpSecret::parse(&base32_encode(RFC_SEED)).unwrap();
        let t = 1_111_111_111;
        let now = time_step(t);
        let code = |step| s.code_at(step);
        assert_eq!(code(now).expose(), "050471");
        assert_eq!(
            s.check(&code(now), t, None),
            TotpCheck::Accepted { step: now }
        );
        assert_eq!(
            s.check(&code(now - 1), t, None),
            TotpCheck::Accepted { step: now - 1 }
        );
        assert_eq!(
            s.check(&code(now + 1), t, None),
            TotpCheck::Accepted { step: now + 1 }
        );
        assert_eq!(s.check(&code(now - 2), t, None), TotpCheck::Wrong);
        assert_eq!(s.check(&code(now + 2), t, None), TotpCheck::Wrong);
        assert_eq!(s.check(&code(now), t, Some(now)), TotpCheck::Reused);
        assert_eq!(s.check(&code(now - 1), t, Some(now)), TotpCheck::Reused);
        assert_eq!(
            s.check(&code(now + 1), t, Some(now)),
            TotpCheck::Accepted { step: now + 1 }
        );
    }

    #[test]
    fn the_uri_names_issuer_account_and_secret() {
        let s = TotpSecret::parse(&base32_encode(RFC_SEED)).unwrap();
        assert_eq!(
            s.otpauth_uri("ana+x@example.com"),
            "otpauth://totp/Leadpipe:ana%2Bx%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Leadpipe"
        );
    }
}
