//! Organisers' API tokens as text: made, recognised and hashed.
//!
//! A token is `tks_` and 43 characters of base62 drawn uniformly from the
//! operating system's generator: 43 × log2(62) ≈ 256 bits. Only its SHA-256
//! is stored. A slow hash (bcrypt, Argon2) protects low-entropy passwords
//! from guessing; against 2^256 possibilities guessing is hopeless at any
//! speed, so a fast hash protects as well and keeps a check at microseconds
//! instead of the tens of milliseconds per request that would make a slow
//! hash an easy way to load the server.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What every organiser token starts with, so that it is recognised in a
/// header, a log or a secret scanner.
pub const TOKEN_PREFIX: &str = "tks_";

/// Characters after the prefix.
const SECRET_LEN: usize = 43;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A token's full text, as shown once to whoever created it.
pub struct OrganiserToken(String);

impl OrganiserToken {
    /// A new token from the operating system's random generator.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut text = String::with_capacity(TOKEN_PREFIX.len() + SECRET_LEN);
        text.push_str(TOKEN_PREFIX);
        let mut pool = [0u8; 64];
        while text.len() < TOKEN_PREFIX.len() + SECRET_LEN {
            getrandom::fill(&mut pool)?;
            // 248 = 4 × 62: bytes from 248 up would favour the first
            // characters, so they are dropped.
            for byte in pool.iter().filter(|b| **b < 248) {
                if text.len() == TOKEN_PREFIX.len() + SECRET_LEN {
                    break;
                }
                text.push(char::from(BASE62[usize::from(*byte % 62)]));
            }
        }
        Ok(Self(text))
    }

    /// Recognises a token presented by a client; `None` for anything that
    /// cannot be one (so it costs no database lookup).
    pub fn parse(text: &str) -> Option<Self> {
        let secret = text.strip_prefix(TOKEN_PREFIX)?;
        (secret.len() == SECRET_LEN && secret.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| Self(text.to_owned()))
    }

    /// The token's text: to show once, never to log or store.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored and looked up.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for OrganiserToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OrganiserToken(<redacted>)")
    }
}

/// The SHA-256 of a token's text.
#[derive(Clone, Copy, Hash, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Compares in constant time. A lookup by hash reveals at most how much
    /// of a hash matched, which says nothing about any token's text; the
    /// final comparison is constant-time all the same.
    pub fn matches(&self, stored: &[u8]) -> bool {
        self.0.as_slice().ct_eq(stored).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_has_the_prefix_and_43_base62_characters() {
        let token = OrganiserToken::generate().expect("random");
        let text = token.expose();
        assert!(text.starts_with("tks_"), "{text}");
        assert_eq!(text.len(), 4 + 43);
        assert!(text[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(OrganiserToken::parse(text).is_some());
    }

    #[test]
    fn generated_tokens_differ_and_use_every_character() {
        let tokens: Vec<String> = (0..200)
            .map(|_| {
                OrganiserToken::generate()
                    .expect("random")
                    .expose()
                    .to_owned()
            })
            .collect();
        let distinct: std::collections::HashSet<&String> = tokens.iter().collect();
        assert_eq!(distinct.len(), tokens.len());
        let seen: std::collections::HashSet<u8> =
            tokens.iter().flat_map(|t| t.bytes().skip(4)).collect();
        // 8,600 characters drawn from 62: missing one would be a bias.
        assert_eq!(seen.len(), 62);
    }

    #[test]
    fn text_that_cannot_be_a_token_is_not_recognised() {
        let good = OrganiserToken::generate().expect("random");
        let secret = &good.expose()[4..];
        for bad in [
            String::new(),
            "tks_".to_owned(),
            secret.to_owned(),
            format!("tkx_{secret}"),
            format!("tks_{}", &secret[1..]),
            format!("tks_{secret}A"),
            format!("tks_{}-", &secret[1..]),
            format!("TKS_{secret}"),
        ] {
            assert!(OrganiserToken::parse(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_hash_is_the_sha256_of_the_whole_text_and_compares_exactly() {
        let token = OrganiserToken::parse(&format!("tks_{}", "a".repeat(43))).expect("valid");
        let hash = token.hash();
        assert_eq!(
            hex::encode(hash.as_bytes()),
            hex::encode(Sha256::digest(token.expose().as_bytes()))
        );
        assert!(hash.matches(hash.as_bytes()));
        let mut other = *hash.as_bytes();
        other[31] ^= 1;
        assert!(!hash.matches(&other));
        assert!(!hash.matches(&hash.as_bytes()[..31]));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let token = OrganiserToken::generate().expect("random");
        assert!(!format!("{token:?}").contains(&token.expose()[4..]));
        assert!(!format!("{:?}", token.hash()).contains(&hex::encode(token.hash().as_bytes())));
    }
}
