//! The box office's records: purchases, holds, and the answers kept for
//! idempotent retries, as plain values (storage maps its rows to these).

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A purchase as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseRecord {
    pub id: Uuid,
    pub ticket_id: i64,
    pub user_id: Uuid,
    pub quantity: i32,
    pub purchased_at: DateTime<Utc>,
    /// Its place among the ticket's purchases, in commit order, from 1.
    pub seq: i64,
    /// The hold it was confirmed from, if any.
    pub hold_id: Option<Uuid>,
    /// When it was cancelled, if it was.
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// Where a hold stands, as stored. A hold stored as `Held` whose
/// `expires_at` has passed is expired all the same: see [`HoldRecord::status_at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldStatus {
    Held,
    Confirmed,
    Released,
    Expired,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Confirmed => "confirmed",
            Self::Released => "released",
            Self::Expired => "expired",
        }
    }

    /// The status a stored name stands for; the schema's CHECK allows no
    /// other names than [`HoldStatus::as_str`]'s.
    pub fn parse(stored: &str) -> Self {
        match stored {
            "confirmed" => Self::Confirmed,
            "released" => Self::Released,
            "expired" => Self::Expired,
            _ => Self::Held,
        }
    }
}

/// A hold as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldRecord {
    pub id: Uuid,
    pub ticket_id: i64,
    pub user_id: Uuid,
    pub quantity: i32,
    pub status: HoldStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The purchase it became, once confirmed.
    pub purchase_id: Option<Uuid>,
}

impl HoldRecord {
    /// Where the hold stands at `now`: one held past its expiry is expired,
    /// whether or not its tickets were given back yet.
    pub fn status_at(&self, now: DateTime<Utc>) -> HoldStatus {
        match self.status {
            HoldStatus::Held if self.expires_at <= now => HoldStatus::Expired,
            status => status,
        }
    }
}

/// An answer, as kept under an idempotency key for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub location: Option<String>,
    /// The JSON body, if the answer had one.
    pub body: Option<String>,
}
