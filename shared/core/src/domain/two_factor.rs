//! An account's two-factor state and its one-time recovery codes (pure rules; codes in [`super::totp`]).
//!
//! - Enrolling stores a *pending* secret; confirming it with a right code makes it the account's secret, records
//!   the code's step (so that code cannot sign in) and issues [`RECOVERY_CODES`] recovery codes.
//! - Recovery codes are 16 base32 characters (80 random bits), shown once as `xxxx-xxxx-xxxx-xxxx`; the store
//!   keeps only their SHA-256. Each signs in once in place of a code.

use sha2::{Digest, Sha256};

use super::totp::{base32_encode, TotpError, TotpSecret};

/// Recovery codes issued when two-factor is turned on.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code, without its dashes.
pub const RECOVERY_CODE_CHARS: usize = 16;

/// An account's two-factor state (empty when two-factor is off and no enrolment is under way).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TwoFactor {
    /// The confirmed secret: two-factor is on when it is set.
    pub secret: Option<TotpSecret>,
    /// A secret handed out by an enrolment that is not confirmed yet.
    pub pending: Option<TotpSecret>,
    /// The last time step a code was accepted for (codes of it and earlier steps are refused).
    pub last_step: Option<i64>,
    /// SHA-256 hashes (lower-case hex) of the recovery codes not used yet.
    pub recovery: Vec<String>,
}

impl TwoFactor {
    /// Whether sign-in asks for a second factor.
    pub fn enabled(&self) -> bool {
        self.secret.is_some()
    }
}

/// A recovery code as issued or typed (never logged, never stored as is).
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(…)")
    }
}

impl RecoveryCode {
    /// A fresh code from the operating system's random source.
    pub fn generate() -> Result<Self, TotpError> {
        let mut bytes = [0u8; 10];
        getrandom::fill(&mut bytes).map_err(|e| TotpError::Random(e.to_string()))?;
        Ok(Self(base32_encode(&bytes).to_ascii_lowercase()))
    }

    /// Reads a typed code: 16 base32 characters in either case; dashes and spaces are ignored.
    pub fn parse(raw: &str) -> Option<Self> {
        let text: String = raw
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        let valid = text.len() == RECOVERY_CODE_CHARS
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
        valid.then_some(Self(text))
    }

    /// The code as shown once: four groups of four, `xxxx-xxxx-xxxx-xxxx`.
    pub fn display(&self) -> String {
        let groups: Vec<&str> = (0..RECOVERY_CODE_CHARS)
            .step_by(4)
            .filter_map(|i| self.0.get(i..i + 4))
            .collect();
        groups.join("-")
    }

    /// What the store keeps: the SHA-256 of the code, lower-case hex.
    pub fn hash(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A fresh set of [`RECOVERY_CODES`] codes.
pub fn recovery_codes() -> Result<Vec<RecoveryCode>, TotpError> {
    (0..RECOVERY_CODES)
        .map(|_| RecoveryCode::generate())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_random_shown_grouped_and_read_back() {
        let codes = recovery_codes().unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let shown = codes[0].display();
        assert_eq!(shown.len(), 19);
        assert_eq!(shown.matches('-').count(), 3);
        assert_eq!(RecoveryCode::parse(&shown), Some(codes[0].clone()));
        assert_eq!(
            RecoveryCode::parse(&shown.to_uppercase().replace('-', " ")),
            Some(codes[0].clone())
        );
        assert_ne!(codes[0], codes[1]);
        assert_eq!(codes[0].hash().len(), 64);
        assert_ne!(codes[0].hash(), codes[1].hash());
        assert!(!codes[0].hash().contains(&shown.replace('-', "")));
        for bad in [
            "",
            "abcd-efgh",
            "abcd-efgh-ijkl-mno1",
            "abcd-efgh-ijkl-mnopq",
        ] {
            assert_eq!(RecoveryCode::parse(bad), None, "{bad}");
        }
        assert_eq!(format!("{:?}", codes[0]), "RecoveryCode(…)");
    }

    #[test]
    fn two_factor_is_on_only_with_a_confirmed_secret() {
        let mut t = TwoFactor::default();
        assert!(!t.enabled());
        t.pending = Some(TotpSecret::generate().unwrap());
        assert!(!t.enabled());
        t.secret = t.pending.take();
        assert!(t.enabled());
    }
}
