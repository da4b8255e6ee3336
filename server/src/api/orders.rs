//! Running an order (a purchase, a hold, its confirmation or release, a
//! cancellation) through the batches, and turning its outcome into the
//! operation's answer. Keyed or not, every order goes the same way: a key
//! is checked, and its answer stored, in the order's own transaction.

use serde::Serialize;
use tickets_api::{
    CancelPurchaseResponse, ConfirmHoldResponse, CreateHoldResponse, PurchaseTicketsResponse,
    ReleaseHoldResponse, models,
};

use super::purchases::purchase_model;
use super::replay::{self, Replayable};
use super::{ApiError, TicketsApi, holds::hold_model};
use crate::domain::{IdempotencyKey, TicketId};
use crate::storage::idempotency::StoredResponse;
use crate::storage::{Action, Decided, Order, OrderKey, Outcome};

/// An operation's answer, made from its order's outcome.
pub trait OrderResponse: Replayable + Send + 'static {
    fn of(ticket: TicketId, action: &Action, outcome: Outcome) -> Self;
}

/// The answer stored under an order's key: the operation's answer to its
/// outcome, as it is replayed.
fn stored_answer<R: OrderResponse>(
    ticket: TicketId,
    action: &Action,
    outcome: &Outcome,
) -> StoredResponse {
    R::of(ticket, action, *outcome).to_stored()
}

impl TicketsApi {
    /// Runs `action` on `ticket` once per idempotency key (if any): `method`,
    /// `path` and `body` identify the request the key was sent with.
    pub(super) async fn run_order<R: OrderResponse>(
        &self,
        ticket: TicketId,
        action: Action,
        key: Option<IdempotencyKey>,
        (method, path, body): (&str, &str, &impl Serialize),
    ) -> R {
        let order = Order {
            ticket,
            action,
            key: key.map(|key| OrderKey {
                key: key.as_str().to_owned(),
                fingerprint: replay::fingerprint(method, path, body),
                answer: stored_answer::<R>,
            }),
        };
        match self.orders.submit(order).await {
            Ok(Decided::Fresh(outcome)) => {
                self.count(&action, &outcome);
                R::of(ticket, &action, outcome)
            }
            Ok(Decided::Replayed(stored)) => {
                tracing::info!(
                    status = stored.status,
                    "replayed the answer to an idempotency key"
                );
                R::from_stored(stored)
            }
            Ok(Decided::InFlight) => ApiError::InFlight.into(),
            Ok(Decided::KeyReused) => ApiError::KeyReused.into(),
            Err(error) => ApiError::from(error).into(),
        }
    }

    fn count(&self, action: &Action, outcome: &Outcome) {
        let metrics = &self.metrics;
        match (action, outcome) {
            (Action::Purchase(_) | Action::Confirm { .. }, Outcome::Purchased(purchase)) => {
                metrics.purchases.inc();
                metrics
                    .tickets_sold
                    .inc_by(purchase.quantity.unsigned_abs().into());
                tracing::debug!(purchase = %purchase.id, quantity = purchase.quantity, "tickets purchased");
            }
            (_, Outcome::Held(hold)) => {
                metrics.holds.with_label_values(&["held"]).inc();
                tracing::debug!(hold = %hold.id, quantity = hold.quantity, "tickets held");
            }
            (Action::Release { .. }, Outcome::Released) => {
                metrics.holds.with_label_values(&["released"]).inc();
            }
            (Action::Cancel { .. }, Outcome::Cancelled(purchase)) => {
                metrics.cancellations.inc();
                tracing::info!(purchase = %purchase.id, "purchase cancelled");
            }
            (_, Outcome::NotEnoughLeft { .. }) => metrics.sold_out_rejections.inc(),
            (_, Outcome::LimitExceeded { .. }) => metrics.limit_rejections.inc(),
            _ => {}
        }
    }
}

/// The error an outcome other than the operation's success is answered with.
fn refusal(ticket: TicketId, action: &Action, outcome: Outcome) -> ApiError {
    match outcome {
        Outcome::NotEnoughLeft { remaining } => ApiError::NotEnoughTickets {
            requested: match action {
                Action::Purchase(wanted) | Action::Hold { wanted, .. } => wanted.quantity.get(),
                _ => 0,
            },
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
