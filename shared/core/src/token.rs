//! Continuation tokens for the browser key: an opaque, sealed lead id.
//!
//! The browser key never learns a lead's id. Instead, each postback it sends is answered with a token that
//! seals the lead's id (XChaCha20-Poly1305 with a random nonce, so two tokens for one lead differ); the page
//! sends it back as `token` on later postbacks of the same visit. A token cannot be forged or read without the
//! sealing key, which is derived from the server key (`API_KEY`): rotating that key invalidates old tokens, and
//! their postbacks fall back to email matching.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// Seals and opens continuation tokens.
pub struct TokenSealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for TokenSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSealer(..)")
    }
}

impl TokenSealer {
    /// A sealer whose key is derived from `secret` (the server key).
    pub fn from_secret(secret: &str) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(b"leadpipe/continuation-token/v1");
        let key = mac.finalize().into_bytes();
        Self {
            cipher: XChaCha20Poly1305::new(&key),
        }
    }

    /// A sealer with a random key (tokens last as long as the process: for local use without keys).
    pub fn ephemeral() -> Self {
        let secret: String = (0..64).map(|_| fastrand::alphanumeric()).collect();
        Self::from_secret(&secret)
    }

    /// A token for lead `id`.
    pub fn seal(&self, id: Uuid) -> String {
        let mut nonce = [0u8; 24];
        nonce.iter_mut().for_each(|b| *b = fastrand::u8(..));
        let Ok(sealed) = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), id.as_bytes().as_slice())
        else {
            return String::new();
        };
        let mut out = nonce.to_vec();
        out.extend(sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// The lead id a token seals, or `None` for anything this sealer did not issue.
    pub fn open(&self, token: &str) -> Option<Uuid> {
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
        if bytes.len() != 24 + 16 + 16 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), sealed)
            .ok()?;
        Uuid::from_slice(&plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reveal_nothing() {
        let s = TokenSealer::from_secret("server-key-123456");
        let id = Uuid::new_v4();
        let (a, b) = (s.seal(id), s.seal(id));
        assert_ne!(a, b, "random nonces: one lead, different tokens");
        assert_eq!((s.open(&a), s.open(&b)), (Some(id), Some(id)));
        assert!(!a.contains(&id.simple().to_string()) && !a.contains(&id.to_string()));
        assert_eq!(
            TokenSealer::from_secret("another-key").open(&a),
            None,
            "another key cannot open it"
        );
        let mut forged = a.clone();
        forged.replace_range(10..11, if &a[10..11] == "A" { "B" } else { "A" });
        assert_eq!(s.open(&forged), None, "tampering is detected");
        assert_eq!(s.open("not a token"), None);
    }
}
