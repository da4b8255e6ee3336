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
    CancelPurchaseResponse, ConfirmHoldResponse, CreateHoldResponse, CreateTicketLegacyResponse,
    CreateTicketResponse, PurchaseTicketsResponse, ReleaseHoldResponse, models,
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

/// Implements [`Replayable`] for responses, by the shape of their success:
/// `created` (201, a JSON body and `Location`), `found` (200, a JSON body)
/// or `empty` (204).
macro_rules! replayable {
    ($($response:ident: $shape:ident $success:ident),+ $(,)?) => {$(
        impl Replayable for $response {
            fn to_stored(&self) -> StoredResponse {
                match self {
                    replayable!(@pattern $shape $success body location) => replayable!(@store $shape body location),
                    other => stored_problem(other.problem()),
                }
            }

            fn from_stored(stored: StoredResponse) -> Self {
                replayable!(@rebuild $shape $success stored)
            }
        }
    )+};
    (@pattern created $success:ident $body:ident $location:ident) => { Self::$success { body: $body, location: $location } };
    (@pattern found $success:ident $body:ident $location:ident) => { Self::$success($body) };
    (@pattern empty $success:ident $body:ident $location:ident) => { Self::$success };
    (@store created $body:ident $location:ident) => {
        StoredResponse { status: 201, location: Some($location.clone()), body: serde_json::to_string($body).ok() }
    };
    (@store found $body:ident $location:ident) => {
        StoredResponse { status: 200, location: None, body: serde_json::to_string($body).ok() }
    };
    (@store empty $body:ident $location:ident) => {
        StoredResponse { status: 204, location: None, body: None }
    };
    (@rebuild created $success:ident $stored:ident) => {{
        let body = $stored.body.as_deref().and_then(|body| serde_json::from_str(body).ok());
        match ($stored.status, &$stored.location, body) {
            (201, Some(location), Some(body)) => Self::$success { body, location: location.clone() },
            _ => replayed_problem(&$stored),
        }
    }};
    (@rebuild found $success:ident $stored:ident) => {{
        let body = $stored.body.as_deref().and_then(|body| serde_json::from_str(body).ok());
        match ($stored.status, body) {
            (200, Some(body)) => Self::$success(body),
            _ => replayed_problem(&$stored),
        }
    }};
    (@rebuild empty $success:ident $stored:ident) => {
        match $stored.status {
            204 => Self::$success,
            _ => replayed_problem(&$stored),
        }
    };
}

replayable! {
    CreateTicketResponse: created Created,
    CreateTicketLegacyResponse: created Created,
    PurchaseTicketsResponse: created Purchased,
    CreateHoldResponse: created Held,
    ConfirmHoldResponse: created Purchased,
    CancelPurchaseResponse: found Cancelled,
    ReleaseHoldResponse: empty Released,
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
    #[case::over_a_limit(ApiError::LimitExceeded { limit: crate::storage::Limit::PerUser, max: 4, remaining_for_buyer: 1 }.into())]
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
            body: models::Ticket::new(1, "n".to_owned(), "d".to_owned(), 5, 5, 0, 0),
            location: "/tickets/1".to_owned(),
        };
        assert_eq!(
            CreateTicketResponse::from_stored(created.to_stored()),
            created
        );
    }

    #[test]
    fn other_answers_replay_as_themselves() {
        let released = ReleaseHoldResponse::Released;
        assert_eq!(
            ReleaseHoldResponse::from_stored(released.to_stored()),
            released
        );
        let confirmed = ConfirmHoldResponse::from(ApiError::HoldConfirmed {
            purchase_id: uuid::Uuid::nil(),
        });
        assert_eq!(
            ConfirmHoldResponse::from_stored(confirmed.to_stored()),
            confirmed
        );
        let cancelled = CancelPurchaseResponse::Cancelled(models::Purchase::new(
            uuid::Uuid::nil(),
            1,
            3,
            uuid::Uuid::nil(),
            2,
            chrono::DateTime::UNIX_EPOCH,
        ));
        assert_eq!(
            CancelPurchaseResponse::from_stored(cancelled.to_stored()),
            cancelled
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
