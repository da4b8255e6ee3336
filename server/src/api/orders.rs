//! Running an order (a purchase, a hold, its confirmation or release, a
//! cancellation) through the batches, and answering with its outcome.
//! Keyed or not, every order goes the same way: a key is checked, and its
//! answer stored, in the order's own transaction.

use serde::Serialize;

use super::TicketsApi;
use crate::answers::{ApiError, OrderResponse};
use crate::auth::Caller;
use crate::domain::TicketId;
use crate::domain::orders::{Action, Actor, Decided, Order, Outcome};
use crate::idempotency::{self, IdempotencyKey};

impl TicketsApi {
    /// Runs `action` on `ticket`, for the buyers `by` acts for, once per
    /// idempotency key (if any): `caller`, `method`, `path` and `body`
    /// identify the request the key was sent with.
    pub(super) async fn run_order<R: OrderResponse>(
        &self,
        caller: &Caller,
        ticket: TicketId,
        (action, by): (Action, Actor),
        key: Option<IdempotencyKey>,
        (method, path, body): (&str, &str, &impl Serialize),
    ) -> R {
        let order = Order {
            ticket,
            action,
            key: key.map(|key| idempotency::keyed(&key, &caller.audit_name(), method, path, body)),
            by,
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
