//! What the service answers: each outcome of an order as its operation's
//! response, and every refusal and failure as RFC 9457 problem details.
//! One path from a refusal to its answer: [`ApiError`] names it,
//! [`problem`] gives each kind of problem its status, type and title, and
//! [`error::ProblemResponse`] places it in the operation's response.
//! The answers stored under idempotency keys are made here too
//! ([`replay`]), so a replay is the first answer byte for byte.

pub mod error;
mod orders;
pub mod problem;
pub mod replay;

pub use error::{ApiError, ProblemResponse};
pub use orders::{OrderResponse, hold_model, purchase_model, stored_answer};
pub use replay::Replayable;
