//! Responses as stored under an idempotency key, and rebuilt from what was
//! stored: a replay gets the same status, body and `Location` as the first.

use tickets_api::{
    CancelPurchaseResponse, ConfirmHoldResponse, CreateHoldResponse, CreateTicketLegacyResponse,
    CreateTicketResponse, PurchaseTicketsResponse, ReleaseHoldResponse, models,
};

use super::error::ProblemResponse;
use super::{ApiError, problem};
use crate::domain::orders::StoredResponse;

/// A response that can be stored for an idempotency key and rebuilt.
pub trait Replayable: ProblemResponse + From<ApiError> {
    fn to_stored(&self) -> StoredResponse;
    fn from_stored(stored: StoredResponse) -> Self;
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
    #[case::over_a_limit(ApiError::LimitExceeded { limit: crate::domain::orders::Limit::PerUser, max: 4, remaining_for_buyer: 1 }.into())]
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
}
