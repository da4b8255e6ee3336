//! The box office: every rule of what an order may do to a ticket's books.
//!
//! An [`Order`] is one change a request asks for ([`Action`]); [`decide`]
//! decides a batch of them, in arrival order, against the books read under
//! the tickets' locks, and says what became of each ([`Outcome`]) and what
//! to write. Nothing here knows SQL or HTTP: `storage` keeps the books and
//! runs the batches, `answers` turns outcomes into responses.
//!
//! The refusal rules are stated once, in [`rules`], and the one-statement
//! path's SQL follows the same statement of each rule.

mod decide;
mod records;
pub mod rules;

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use decide::{BuyerState, Read, StoredKey, TicketState, Writes, decide};
pub use records::{HoldRecord, HoldStatus, PurchaseRecord, StoredResponse};

use super::{PurchaseRequest, TicketId};

/// One change to a ticket's books, asked for by one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub ticket: TicketId,
    pub action: Action,
    /// The idempotency key it was sent with, if any.
    pub key: Option<OrderKey>,
    /// Whose purchases and holds it may confirm, release or cancel.
    pub by: Actor,
}

/// Who an order acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// Any buyer: an organiser on its own tickets, the server giving back
    /// expired holds, or anyone with `AUTH_MODE=open`.
    AnyBuyer,
    /// This buyer only: another buyer's purchase or hold is as unknown to
    /// the order as one that does not exist.
    Buyer(Uuid),
}

impl Actor {
    /// Whether the order may change `buyer`'s purchases and holds.
    pub fn acts_for(self, buyer: Uuid) -> bool {
        match self {
            Self::AnyBuyer => true,
            Self::Buyer(own) => own == buyer,
        }
    }
}

impl Order {
    /// The outcome of this order (a purchase or a hold) recorded as the row
    /// `id`: a purchase numbered `seq` at `at`, or a hold made at `at`,
    /// expiring at `expires_at`.
    pub fn recorded(
        &self,
        id: Uuid,
        seq: i64,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Outcome {
        let wanted = self.action.wanted();
        let user_id = wanted.map_or(Uuid::nil(), |w| w.user_id);
        let quantity = wanted.map_or(0, |w| w.quantity.get());
        let ticket_id = self.ticket.get();
        if matches!(self.action, Action::Hold { .. }) {
            Outcome::Held(HoldRecord {
                id,
                ticket_id,
                user_id,
                quantity,
                status: HoldStatus::Held,
                created_at: at,
                expires_at,
                purchase_id: None,
            })
        } else {
            Outcome::Purchased(PurchaseRecord {
                id,
                ticket_id,
                user_id,
                quantity,
                purchased_at: at,
                seq,
                hold_id: None,
                cancelled_at: None,
            })
        }
    }
}

/// What an order does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Buy tickets.
    Purchase(PurchaseRequest),
    /// Hold tickets for a buyer, for `lifetime`.
    Hold {
        wanted: PurchaseRequest,
        lifetime: Duration,
    },
    /// Turn a live hold into a purchase.
    Confirm { hold: Uuid },
    /// Give a hold's tickets back.
    Release { hold: Uuid },
    /// Cancel a purchase, giving its tickets back.
    Cancel { purchase: Uuid },
    /// Give back the tickets of the ticket's expired holds.
    Reclaim,
}

impl Action {
    /// What a purchase or a hold asks for; `None` for the other actions.
    pub fn wanted(&self) -> Option<PurchaseRequest> {
        match *self {
            Self::Purchase(wanted) | Self::Hold { wanted, .. } => Some(wanted),
            _ => None,
        }
    }
}

/// A ticket's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `max_per_purchase`: the most one purchase or hold may take.
    PerPurchase,
    /// `max_per_user`: the most one buyer may have, bought and held.
    PerUser,
}

/// What became of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Bought (by a purchase or a confirmed hold): the purchase's record.
    Purchased(PurchaseRecord),
    /// Held: the hold's record.
    Held(HoldRecord),
    /// The hold's tickets are free (now, or before).
    Released,
    /// The purchase is cancelled (now, or before): its record.
    Cancelled(PurchaseRecord),
    /// Fewer tickets are left than were asked for; nothing changed.
    NotEnoughLeft { remaining: i32 },
    /// A limit would be passed; nothing changed. `remaining_for_buyer` is
    /// what the buyer may still get under every limit of the ticket.
    LimitExceeded {
        limit: Limit,
        max: i32,
        remaining_for_buyer: i32,
    },
    /// No ticket has this id.
    UnknownTicket,
    /// The ticket has no hold with this id.
    UnknownHold,
    /// The ticket has no purchase with this id.
    UnknownPurchase,
    /// The hold expired at `expires_at`; its tickets are free.
    HoldExpired { expires_at: DateTime<Utc> },
    /// The hold was released.
    HoldReleased,
    /// The hold was confirmed, as this purchase.
    HoldConfirmed { purchase_id: Uuid },
    /// The ticket's expired holds were given back.
    Reclaimed,
}

/// An idempotency key, and what identifies the request sent with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    pub key: String,
    /// Identifies the request: a retry must match it.
    pub fingerprint: String,
}

/// How an order was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// Decided now.
    Fresh(Outcome),
    /// Decided before, for the same key and request: the answer then.
    Replayed(StoredResponse),
    /// A request with the same key is still running.
    InFlight,
    /// The key was used before for a different request.
    KeyReused,
}
