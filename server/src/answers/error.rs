use chrono::{DateTime, SecondsFormat, Utc};
use tickets_api::{
    CancelPurchaseResponse, ConfirmHoldResponse, CreateHoldResponse, CreateTicketLegacyResponse,
    CreateTicketResponse, GetHoldResponse, GetPurchaseResponse, GetTicketResponse,
    ListPurchasesResponse, PurchaseTicketsResponse, ReleaseHoldResponse, models,
};

use super::problem::{self, ProblemKind};
use crate::domain::TicketId;
use crate::domain::orders::Limit;

/// Why an operation failed, whatever the operation: each refusal and
/// failure, and the one place that turns each into its problem.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid request")]
    InvalidRequest(Vec<models::FieldError>),
    /// The caller's credentials do not allow this: why, for the client.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("no ticket has id {0}")]
    TicketNotFound(TicketId),
    #[error("ticket {ticket} has no purchase {purchase_id}")]
    PurchaseNotFound {
        ticket: TicketId,
        purchase_id: uuid::Uuid,
    },
    #[error("ticket {ticket} has no hold {hold_id}")]
    HoldNotFound {
        ticket: TicketId,
        hold_id: uuid::Uuid,
    },
    #[error("{requested} tickets requested, {remaining} left")]
    NotEnoughTickets { requested: i32, remaining: i32 },
    #[error("{limit:?} {max} would be passed")]
    LimitExceeded {
        limit: Limit,
        max: i32,
        remaining_for_buyer: i32,
    },
    #[error("the hold expired at {expires_at}")]
    HoldExpired { expires_at: DateTime<Utc> },
    #[error("the hold was released")]
    HoldReleased,
    #[error("the hold was confirmed as purchase {purchase_id}")]
    HoldConfirmed { purchase_id: uuid::Uuid },
    /// A hold read after it ended without a purchase: expired at
    /// `expired_at`, or released (`None`).
    #[error("the hold ended without a purchase")]
    HoldGone { expired_at: Option<DateTime<Utc>> },
    #[error("a request with this idempotency key is in flight")]
    InFlight,
    #[error("the idempotency key was used for another request")]
    KeyReused,
    /// The database cannot be reached, or refused to go on (a restart, a
    /// timeout): the cause was logged where it was found.
    #[error("the database is unavailable")]
    Unavailable,
    /// More requests wait for the database than the server lets wait.
    #[error("too many requests are waiting for the database")]
    Overloaded,
    /// A bug: the cause was logged where it was found.
    #[error("an unexpected failure")]
    Unexpected,
}

impl ApiError {
    /// The problem sent to the client. Failures of the service itself are
    /// logged here with their cause; the client gets no internal text.
    pub fn into_problem(self) -> models::Problem {
        match self {
            Self::InvalidRequest(errors) => problem::invalid_request(errors),
            Self::Forbidden(why) => ProblemKind::Forbidden.with_detail(why),
            Self::TicketNotFound(id) => {
                ProblemKind::NotFound.with_detail(format!("No ticket has id {id}"))
            }
            Self::PurchaseNotFound {
                ticket,
                purchase_id,
            } => ProblemKind::NotFound
                .with_detail(format!("Ticket {ticket} has no purchase {purchase_id}")),
            Self::HoldNotFound { ticket, hold_id } => {
                ProblemKind::NotFound.with_detail(format!("Ticket {ticket} has no hold {hold_id}"))
            }
            Self::LimitExceeded {
                limit,
                max,
                remaining_for_buyer,
            } => {
                let (name, rule) = match limit {
                    Limit::PerPurchase => {
                        (models::ProblemLimit::MaxPerPurchase, "per purchase or hold")
                    }
                    Limit::PerUser => (models::ProblemLimit::MaxPerUser, "per buyer"),
                };
                models::Problem {
                    limit: Some(name),
                    remaining_for_buyer: Some(remaining_for_buyer.unsigned_abs()),
                    ..ProblemKind::LimitExceeded.with_detail(format!(
                        "This ticket allows {max} {rule}: this buyer may get {remaining_for_buyer} more"
                    ))
                }
            }
            Self::HoldExpired { expires_at } => ProblemKind::HoldExpired.with_detail(format!(
                "The hold expired at {}; its tickets are on sale again",
                expires_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            )),
            Self::HoldReleased => ProblemKind::HoldReleased
                .with_detail("The hold was released; its tickets are on sale again"),
            Self::HoldGone {
                expired_at: Some(expires_at),
            } => ProblemKind::HoldGone.with_detail(format!(
                "The hold expired at {}; its tickets are on sale again",
                expires_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            )),
            Self::HoldGone { expired_at: None } => ProblemKind::HoldGone
                .with_detail("The hold was released; its tickets are on sale again"),
            Self::HoldConfirmed { purchase_id } => models::Problem {
                purchase_id: Some(purchase_id),
                ..ProblemKind::HoldConfirmed.with_detail(format!(
                    "The hold was confirmed already, as purchase {purchase_id}"
                ))
            },
            Self::NotEnoughTickets {
                requested,
                remaining,
            } => models::Problem {
                remaining: Some(remaining.unsigned_abs()),
                ..ProblemKind::NotEnoughTickets.with_detail(format!(
                    "{requested} {} requested but only {remaining} {} left",
                    plural(requested, "ticket was", "tickets were"),
                    plural(remaining, "is", "are"),
                ))
            },
            Self::InFlight => ProblemKind::RequestInFlight.with_detail(
                "A request with this Idempotency-Key is still being processed; retry later",
            ),
            Self::KeyReused => ProblemKind::IdempotencyKeyReused
                .with_detail("This Idempotency-Key was used for a different request"),
            Self::Overloaded => problem::overloaded(),
            Self::Unavailable => problem::unavailable(),
            Self::Unexpected => problem::internal(),
        }
    }
}

fn plural(n: i32, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// An operation's response enum seen through its problem variants.
pub trait ProblemResponse: Sized {
    /// The variant for `problem`'s status; a status the operation does not
    /// declare is a bug, answered 500.
    fn from_problem(problem: models::Problem) -> Self;
    /// The problem this response carries, if it is an error.
    fn problem(&self) -> Option<&models::Problem>;
}

/// Implements [`ProblemResponse`] and `From<ApiError>` for response enums,
/// given the problem variant of each status they declare.
macro_rules! problem_responses {
    ($($response:ident { $($status:literal => $variant:ident),+ $(,)? })+) => {$(
        impl ProblemResponse for $response {
            fn from_problem(problem: models::Problem) -> Self {
                match problem.status {
                    $($status => Self::$variant(problem),)+
                    status => {
                        tracing::error!(status, "{} declares no such status", stringify!($response));
                        Self::InternalError(problem::internal())
                    }
                }
            }

            fn problem(&self) -> Option<&models::Problem> {
                match self {
                    $(Self::$variant(problem))|+ => Some(problem),
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        }

        impl From<ApiError> for $response {
            fn from(error: ApiError) -> Self {
                Self::from_problem(error.into_problem())
            }
        }
    )+};
}

problem_responses! {
    CreateTicketResponse {
        400 => BadRequest, 403 => Forbidden, 409 => InFlight, 422 => KeyReused, 500 => InternalError, 503 => Unavailable,
    }
    CreateTicketLegacyResponse {
        400 => BadRequest, 403 => Forbidden, 409 => InFlight, 422 => KeyReused, 500 => InternalError, 503 => Unavailable,
    }
    GetTicketResponse { 400 => BadRequest, 404 => NotFound, 500 => InternalError, 503 => Unavailable }
    PurchaseTicketsResponse {
        400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Refused, 422 => KeyReused, 500 => InternalError,
        503 => Unavailable,
    }
    CreateHoldResponse {
        400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Refused, 422 => KeyReused, 500 => InternalError,
        503 => Unavailable,
    }
    ConfirmHoldResponse {
        400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => NotHeld, 422 => KeyReused, 500 => InternalError,
        503 => Unavailable,
    }
    ReleaseHoldResponse {
        400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => NotHeld, 422 => KeyReused, 500 => InternalError,
        503 => Unavailable,
    }
    GetHoldResponse {
        400 => BadRequest, 403 => Forbidden, 404 => NotFound, 410 => Gone, 500 => InternalError, 503 => Unavailable,
    }
    CancelPurchaseResponse {
        400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => InFlight, 422 => KeyReused, 500 => InternalError,
        503 => Unavailable,
    }
    ListPurchasesResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 500 => InternalError, 503 => Unavailable }
    GetPurchaseResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 500 => InternalError, 503 => Unavailable }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(2, 1, "2 tickets were requested but only 1 is left")]
    #[case(1, 0, "1 ticket was requested but only 0 are left")]
    fn not_enough_tickets_says_how_many_are_left(
        #[case] requested: i32,
        #[case] remaining: i32,
        #[case] detail: &str,
    ) {
        let problem = ApiError::NotEnoughTickets {
            requested,
            remaining,
        }
        .into_problem();
        assert_eq!(problem.status, 409);
        assert_eq!(problem.remaining, Some(remaining.unsigned_abs()));
        assert_eq!(problem.detail, detail);
    }

    #[rstest]
    #[case::per_purchase(
        Limit::PerPurchase,
        "max_per_purchase",
        "This ticket allows 4 per purchase or hold: this buyer may get 4 more"
    )]
    #[case::per_user(
        Limit::PerUser,
        "max_per_user",
        "This ticket allows 4 per buyer: this buyer may get 4 more"
    )]
    fn a_limit_problem_names_the_limit_and_what_the_buyer_may_still_get(
        #[case] limit: Limit,
        #[case] name: &str,
        #[case] detail: &str,
    ) {
        let problem = ApiError::LimitExceeded {
            limit,
            max: 4,
            remaining_for_buyer: 4,
        }
        .into_problem();
        assert_eq!(problem.status, 409);
        assert_eq!(problem.r#type, "/problems/limit-exceeded");
        assert_eq!(problem.limit.map(|l| l.to_string()).as_deref(), Some(name));
        assert_eq!(problem.remaining_for_buyer, Some(4));
        assert_eq!(problem.detail, detail);
    }

    #[test]
    fn a_status_the_operation_does_not_declare_becomes_a_500() {
        let response = GetTicketResponse::from(ApiError::NotEnoughTickets {
            requested: 1,
            remaining: 0,
        });
        assert!(matches!(response, GetTicketResponse::InternalError(_)));
    }
}
