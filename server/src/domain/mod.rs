//! The domain: the values a request is parsed into, each built only through
//! a parse that enforces its rules (so a value that exists is valid), and
//! the box office's rules for orders ([`orders`]). Raw request models become
//! domain values at the edge through `TryFrom`.

mod allocation;
mod hold_request;
mod new_ticket;
pub mod orders;
mod purchase_cursor;
mod purchase_request;
mod quantity;
#[cfg(test)]
pub(crate) mod spec_rules;
mod ticket_id;
mod ticket_text;

pub use allocation::Allocation;
pub use hold_request::{HoldLifetimes, HoldRequest, HoldTtl};
pub use new_ticket::NewTicket;
pub use purchase_cursor::PurchaseCursor;
pub use purchase_request::{PurchaseBody, PurchaseRequest};
pub use quantity::Quantity;
pub use ticket_id::TicketId;
pub use ticket_text::{TicketDescription, TicketName};

/// Why a value in a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidField {
    /// The field as the request names it (`quantity`, `desc`, `id`).
    pub field: &'static str,
    /// What the value must be, for the client to read.
    pub reason: String,
}

/// Parses `value` as a `T`, naming `field` in the error.
pub fn field<T, V>(field: &'static str, value: V) -> Result<T, InvalidField>
where
    T: TryFrom<V, Error = String>,
{
    T::try_from(value).map_err(|reason| InvalidField { field, reason })
}
