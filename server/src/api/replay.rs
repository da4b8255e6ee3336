//! Idempotent requests: the answer to a request sent with an
//! `Idempotency-Key` is stored with the change it answers, and every answer
//! to that key, the first and any replay, is rebuilt from what was stored,
//! so retries get the same status, body and `Location`.

use std::time::Duration;

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tickets_api::{
    CreateTicketLegacyResponse, CreateTicketResponse, PurchaseTicketsResponse, models,
};

use super::ApiError;
use super::error::ProblemResponse;
use crate::domain::IdempotencyKey;
use crate::problem;
use crate::storage::Pool;
use crate::storage::idempotency::{self, Idempotent, StoredResponse};

/// A response that can be stored for an idempotency key and rebuilt.
pub trait Replayable: ProblemResponse + From<ApiError> {
    fn to_stored(&self) -> StoredResponse;
    fn from_stored(stored: StoredResponse) -> Self;
}

/// What identifies a request for its idempotency key: the method, the path
/// and the parsed body, so that formatting does not matter but any field does.
pub fn fingerprint(method: &str, path: &str, body: &impl Serialize) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_vec(body).unwrap_or_default());
    hex::encode(hasher.finalize())
}

/// Runs `operation` at most once for `key`, in one transaction with the
/// stored answer. Returns the answer and whether it was made just now (not
/// replayed, refused or failed).
pub async fn run_once<R: Replayable + Send + 'static>(
    pool: &Pool,
    key: &IdempotencyKey,
    fingerprint: &str,
    ttl: Duration,
    operation: impl for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, QueryResult<R>>
    + Send
    + 'static,
) -> (R, bool) {
    let outcome = idempotency::run_once(pool, key.as_str(), fingerprint, ttl, |conn| {
        Box::pin(async move { operation(conn).await.map(|response| response.to_stored()) })
    })
    .await;
    match outcome {
        Ok(Idempotent::Done(stored)) => (R::from_stored(stored), true),
        Ok(Idempotent::Replayed(stored)) => {
            tracing::info!(
                status = stored.status,
                "replayed the answer to an idempotency key"
            );
            (R::from_stored(stored), false)
        }
        Ok(Idempotent::InFlight) => (ApiError::InFlight.into(), false),
        Ok(Idempotent::KeyReused) => (ApiError::KeyReused.into(), false),
        Err(error) => (ApiError::from(error).into(), false),
    }
}

fn stored_problem(problem: Option<&models::Problem>) -> StoredResponse {
    let fallback = problem::internal();
    let problem = problem.unwrap_or(&fallback);
    StoredResponse {
        status: u16::try_from(problem.status).unwrap_or(500),
        location: None,
        body: serde_json::to_string(problem).ok(),
    }
}

fn replayed_problem<R: ProblemResponse>(stored: &StoredResponse) -> R {
    let problem = stored
        .body
        .as_deref()
        .map(serde_json::from_str::<models::Problem>);
    if let Some(Ok(problem)) = problem {
        R::from_problem(problem)
    } else {
        tracing::error!(
            status = stored.status,
            "a stored answer has no readable problem"
        );
        R::from_problem(problem::internal())
    }
}

/// Implements [`Replayable`] for responses whose success is a 201 with a
/// JSON body and a `Location`: `$created` is that variant.
macro_rules! replayable_creation {
    ($($response:ident => $created:ident),+ $(,)?) => {$(
        impl Replayable for $response {
            fn to_stored(&self) -> StoredResponse {
                match self {
                    Self::$created { body, location } => StoredResponse {
                        status: 201,
                        location: Some(location.clone()),
                        body: serde_json::to_string(body).ok(),
                    },
                    other => stored_problem(other.problem()),
                }
            }

            fn from_stored(stored: StoredResponse) -> Self {
                let created = stored.body.as_deref().and_then(|body| serde_json::from_str(body).ok());
                match (stored.status, &stored.location, created) {
                    (201, Some(location), Some(body)) => Self::$created { body, location: location.clone() },
                    _ => replayed_problem(&stored),
                }
            }
        }
    )+};
}

replayable_creation! {
    CreateTicketResponse => Created,
    CreateTicketLegacyResponse => Created,
    PurchaseTicketsResponse => Purchased,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::purchased(PurchaseTicketsResponse::Purchased {
        location: "/tickets/1/purchases/0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b".to_owned(),
        body: models::Purchase::new(
            uuid::Uuid::parse_str("0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b").expect("uuid"),
            1,
            1,
            uuid::Uuid::nil(),
            2,
            chrono::DateTime::UNIX_EPOCH,
        ),
    })]
    #[case::sold_out(ApiError::NotEnoughTickets { requested: 2, remaining: 1 }.into())]
    #[case::unknown(ApiError::TicketNotFound(crate::domain::TicketId::try_from(9_u64).expect("id")).into())]
    fn a_stored_purchase_answer_replays_as_itself(#[case] response: PurchaseTicketsResponse) {
        assert_eq!(
            PurchaseTicketsResponse::from_stored(response.to_stored()),
            response
        );
    }

    #[test]
    fn a_stored_creation_replays_as_itself() {
        let created = CreateTicketResponse::Created {
            body: models::Ticket::new(1, "n".to_owned(), "d".to_owned(), 5),
            location: "/tickets/1".to_owned(),
        };
        assert_eq!(
            CreateTicketResponse::from_stored(created.to_stored()),
            created
        );
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        let body = models::PurchaseCreate::new(1, uuid::Uuid::nil());
        let other = models::PurchaseCreate::new(2, uuid::Uuid::nil());
        let a = fingerprint("POST", "/tickets/1/purchases", &body);
        assert_eq!(
            a,
            fingerprint("POST", "/tickets/1/purchases", &body.clone())
        );
        assert_ne!(a, fingerprint("POST", "/tickets/1/purchases", &other));
        assert_ne!(a, fingerprint("POST", "/tickets/2/purchases", &body));
    }
}
