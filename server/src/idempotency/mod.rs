//! Idempotent requests, in one place.
//!
//! A request sent with an `Idempotency-Key` ([`IdempotencyKey`], parsed at
//! the edge) is identified by its [`fingerprint`]: the method, the path and
//! the parsed body. Its answer is stored in the same transaction as the
//! change it answers, and every answer to that key, the first and any
//! replay, is the stored one, so retries get the same status, body and
//! `Location`; a retry while the first is in flight is told so, and a key
//! used for a different request is refused.
//!
//! [`keyed`] is the one entry point: it makes the key an order or a ticket
//! creation carries. What an answer is comes from `answers`; where it is
//! kept, `storage` says: orders store theirs in their batch's statement
//! (`storage::orders`), ticket creation in its own transaction
//! (`storage::keys`). The one-statement order path stores an answer that
//! only the statement can finish: [`template`] renders it with marks the
//! statement replaces.

mod key;
pub mod template;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use key::IdempotencyKey;

use crate::domain::orders::OrderKey;

/// The key `key` of the request `method path` with `body`, sent by
/// `caller` (its audit name), as an order or a ticket creation carries it.
pub fn keyed(
    key: &IdempotencyKey,
    caller: &str,
    method: &str,
    path: &str,
    body: &impl Serialize,
) -> OrderKey {
    OrderKey {
        key: key.as_str().to_owned(),
        fingerprint: fingerprint(caller, method, path, body),
    }
}

/// What identifies a request for its idempotency key: who sent it, the
/// method, the path and the parsed body, so that formatting does not matter
/// but any field does. A key another caller used answers 422 and never
/// replays that caller's answer.
pub fn fingerprint(caller: &str, method: &str, path: &str, body: &impl Serialize) -> String {
    let mut hasher = Sha256::new();
    hasher.update(caller.as_bytes());
    hasher.update(b"\n");
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_vec(body).unwrap_or_default());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickets_api::models;

    #[test]
    fn fingerprints_tell_requests_apart() {
        let body = models::PurchaseCreate::new(1);
        let other = models::PurchaseCreate::new(2);
        let buyer = "buyer:alice";
        let a = fingerprint(buyer, "POST", "/tickets/1/purchases", &body);
        assert_eq!(
            a,
            fingerprint(buyer, "POST", "/tickets/1/purchases", &body.clone())
        );
        assert_ne!(
            a,
            fingerprint(buyer, "POST", "/tickets/1/purchases", &other)
        );
        assert_ne!(a, fingerprint(buyer, "POST", "/tickets/2/purchases", &body));
        assert_ne!(
            a,
            fingerprint("buyer:bob", "POST", "/tickets/1/purchases", &body)
        );
    }
}
