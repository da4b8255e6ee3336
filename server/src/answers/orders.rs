//! An order's outcome as its operation's answer: the purchase or hold made,
//! or the refusal's problem. The answer sent and the answer stored under an
//! idempotency key are both made here, so they cannot differ.

use tickets_api::{
    CancelPurchaseResponse, ConfirmHoldResponse, CreateHoldResponse, PurchaseTicketsResponse,
    ReleaseHoldResponse, models,
};

use super::ApiError;
use super::replay::Replayable;
use crate::domain::TicketId;
use crate::domain::orders::{Action, HoldRecord, Outcome, PurchaseRecord, StoredResponse};

/// An operation's answer, made from its order's outcome.
pub trait OrderResponse: Replayable + Send + 'static {
    fn of(ticket: TicketId, action: &Action, outcome: Outcome) -> Self;
}

/// The answer to store under an order's key: its operation's answer to
/// `outcome`, as it is replayed. The action names the operation.
pub fn stored_answer(ticket: TicketId, action: &Action, outcome: &Outcome) -> StoredResponse {
    let outcome = *outcome;
    match action {
        Action::Purchase(_) => PurchaseTicketsResponse::of(ticket, action, outcome).to_stored(),
        Action::Hold { .. } => CreateHoldResponse::of(ticket, action, outcome).to_stored(),
        Action::Confirm { .. } => ConfirmHoldResponse::of(ticket, action, outcome).to_stored(),
        Action::Release { .. } => ReleaseHoldResponse::of(ticket, action, outcome).to_stored(),
        // Reclaiming is the sweeper's, never keyed: it has no answer of its own.
        Action::Cancel { .. } | Action::Reclaim => {
            CancelPurchaseResponse::of(ticket, action, outcome).to_stored()
        }
    }
}

/// A purchase as the API shows it.
pub fn purchase_model(purchase: PurchaseRecord) -> models::Purchase {
    models::Purchase {
        id: purchase.id,
        ticket_id: purchase.ticket_id,
        number: purchase.seq,
        user_id: purchase.user_id,
        // The database's CHECK keeps quantities positive.
        quantity: purchase.quantity.unsigned_abs(),
        purchased_at: purchase.purchased_at,
        hold_id: purchase.hold_id,
        cancelled_at: purchase.cancelled_at,
        made_by: None,
        cancelled_by: None,
    }
}

/// A hold as the API shows it, with `status`.
pub fn hold_model(hold: HoldRecord, status: models::HoldStatus) -> models::Hold {
    models::Hold {
        id: hold.id,
        ticket_id: hold.ticket_id,
        user_id: hold.user_id,
        // The database's CHECK keeps quantities positive.
        quantity: hold.quantity.unsigned_abs(),
        status,
        created_at: hold.created_at,
        expires_at: hold.expires_at,
        purchase_id: hold.purchase_id,
        made_by: None,
        ended_by: None,
    }
}

/// The error an outcome other than the operation's success is answered with.
fn refusal(ticket: TicketId, action: &Action, outcome: Outcome) -> ApiError {
    match outcome {
        Outcome::NotEnoughLeft { remaining } => ApiError::NotEnoughTickets {
            requested: action.wanted().map_or(0, |wanted| wanted.quantity.get()),
            remaining,
        },
        Outcome::LimitExceeded {
            limit,
            max,
            remaining_for_buyer,
        } => ApiError::LimitExceeded {
            limit,
            max,
            remaining_for_buyer,
        },
        Outcome::UnknownTicket => ApiError::TicketNotFound(ticket),
        Outcome::UnknownHold => ApiError::HoldNotFound {
            ticket,
            hold_id: match action {
                Action::Confirm { hold } | Action::Release { hold } => *hold,
                _ => uuid::Uuid::nil(),
            },
        },
        Outcome::UnknownPurchase => ApiError::PurchaseNotFound {
            ticket,
            purchase_id: match action {
                Action::Cancel { purchase } => *purchase,
                _ => uuid::Uuid::nil(),
            },
        },
        Outcome::HoldExpired { expires_at } => ApiError::HoldExpired { expires_at },
        Outcome::HoldReleased => ApiError::HoldReleased,
        Outcome::HoldConfirmed { purchase_id } => ApiError::HoldConfirmed { purchase_id },
        other => {
            tracing::error!(?action, outcome = ?other, "an order's outcome does not fit its operation");
            ApiError::Unexpected
        }
    }
}

/// Implements [`OrderResponse`] for operations whose success is a purchase
/// made (a 201 with the purchase and its `Location`).
macro_rules! purchase_made {
    ($($response:ident),+) => {$(
        impl OrderResponse for $response {
            fn of(ticket: TicketId, action: &Action, outcome: Outcome) -> Self {
                match outcome {
                    Outcome::Purchased(purchase) => Self::Purchased {
                        location: format!("/tickets/{ticket}/purchases/{}", purchase.id),
                        body: purchase_model(purchase),
                    },
                    other => refusal(ticket, action, other).into(),
                }
            }
        }
    )+};
}

purchase_made!(PurchaseTicketsResponse, ConfirmHoldResponse);

impl OrderResponse for CreateHoldResponse {
    fn of(ticket: TicketId, action: &Action, outcome: Outcome) -> Self {
        match outcome {
            Outcome::Held(hold) => Self::Held {
                location: format!("/tickets/{ticket}/holds/{}", hold.id),
                body: hold_model(hold, models::HoldStatus::Held),
            },
            other => refusal(ticket, action, other).into(),
        }
    }
}

impl OrderResponse for ReleaseHoldResponse {
    fn of(ticket: TicketId, action: &Action, outcome: Outcome) -> Self {
        match outcome {
            Outcome::Released => Self::Released,
            other => refusal(ticket, action, other).into(),
        }
    }
}

impl OrderResponse for CancelPurchaseResponse {
    fn of(ticket: TicketId, action: &Action, outcome: Outcome) -> Self {
        match outcome {
            Outcome::Cancelled(purchase) => Self::Cancelled(purchase_model(purchase)),
            other => refusal(ticket, action, other).into(),
        }
    }
}
