//! Buyers' tokens that verified, so that a buyer's next request with the
//! same token skips the signature check (docs/AUTH.md, "Cost of one check").
//!
//! One cache belongs to one set of keys and goes with it: when a fetch
//! brings different keys, the tokens of a removed key are no longer
//! accepted from here. Only tokens that verified are kept, each until its
//! `exp`, so a guessed or broken token never takes a place; the number of
//! entries is bounded all the same.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::auth::Buyer;

/// The most tokens kept: 100,000 entries of about 150 bytes.
pub const MAX_ENTRIES: usize = 100_000;

/// The SHA-256 of a token's text: the token itself is not kept.
pub type TokenDigest = [u8; 32];

pub fn digest_of(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

#[derive(Debug)]
struct Verified {
    buyer: Buyer,
    /// The token's `exp`, in seconds since the epoch.
    expires_at: u64,
}

#[derive(Debug)]
pub struct VerifiedTokens {
    capacity: usize,
    /// Seconds a token is still accepted after its `exp`, as the
    /// verifier allows.
    leeway: u64,
    entries: Mutex<HashMap<TokenDigest, Verified>>,
}

impl VerifiedTokens {
    pub fn new(capacity: usize, leeway: u64) -> Self {
        Self {
            capacity,
            leeway,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The buyer of a token that verified and has not expired at `now`
    /// (seconds since the epoch); an expired entry is dropped.
    pub fn get(&self, token: &TokenDigest, now: u64) -> Option<Buyer> {
        let mut entries = self.lock();
        let entry = entries.get(token)?;
        if self.is_live(entry.expires_at, now) {
            return Some(entry.buyer.clone());
        }
        entries.remove(token);
        None
    }

    /// Keeps a token that verified. Past the capacity the expired entries
    /// go, and if that frees nothing, all of them: a full cache costs one
    /// signature check per buyer, never more memory.
    pub fn insert(&self, token: TokenDigest, buyer: Buyer, expires_at: u64, now: u64) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&token) {
            entries.retain(|_, entry| self.is_live(entry.expires_at, now));
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(token, Verified { buyer, expires_at });
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// As `jsonwebtoken` decides expiry: expired once `exp` is more than
    /// the leeway in the past.
    fn is_live(&self, expires_at: u64, now: u64) -> bool {
        expires_at >= now.saturating_sub(self.leeway)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TokenDigest, Verified>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buyer(n: u64) -> Buyer {
        Buyer::from_subject("https://id.example.com", &format!("buyer-{n}"))
    }

    #[test]
    fn a_token_is_served_until_its_expiry_plus_the_leeway() {
        let cache = VerifiedTokens::new(10, 30);
        let token = digest_of("a.b.c");
        cache.insert(token, buyer(1), 1_000, 900);
        assert_eq!(cache.get(&token, 900), Some(buyer(1)));
        assert_eq!(
            cache.get(&token, 1_030),
            Some(buyer(1)),
            "within the leeway"
        );
        assert_eq!(cache.get(&token, 1_031), None, "expired past the leeway");
        assert_eq!(cache.len(), 0, "the expired entry is dropped");
        assert_eq!(cache.get(&digest_of("a.b.d"), 900), None, "another token");
    }

    #[test]
    fn past_the_capacity_expired_entries_go_first_then_all() {
        let cache = VerifiedTokens::new(4, 0);
        for n in 0..4 {
            // Two expire at 100, two live until 1,000.
            let expires_at = if n % 2 == 0 { 100 } else { 1_000 };
            cache.insert(digest_of(&n.to_string()), buyer(n), expires_at, 50);
        }
        assert_eq!(cache.len(), 4);
        cache.insert(digest_of("4"), buyer(4), 1_000, 200);
        assert_eq!(cache.len(), 3, "the two expired ones went");
        assert_eq!(cache.get(&digest_of("1"), 200), Some(buyer(1)));

        cache.insert(digest_of("5"), buyer(5), 1_000, 200);
        assert_eq!(cache.len(), 4);
        cache.insert(digest_of("6"), buyer(6), 1_000, 200);
        assert_eq!(cache.len(), 1, "none had expired: all went");
        assert_eq!(cache.get(&digest_of("6"), 200), Some(buyer(6)));

        for n in 0..100 {
            cache.insert(digest_of(&format!("more-{n}")), buyer(n), 1_000, 200);
            assert!(cache.len() <= 4, "the bound holds");
        }
    }

    #[test]
    fn a_token_already_kept_is_renewed_without_eviction() {
        let cache = VerifiedTokens::new(2, 0);
        cache.insert(digest_of("a"), buyer(1), 1_000, 0);
        cache.insert(digest_of("b"), buyer(2), 1_000, 0);
        cache.insert(digest_of("b"), buyer(2), 1_000, 0);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&digest_of("a"), 0), Some(buyer(1)));
    }
}
