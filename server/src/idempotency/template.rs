//! The answer a keyed purchase or hold stores when the one-statement path
//! records it: rendered here, before the statement runs, with marks where
//! the number, the times and the expiry go that only the statement knows;
//! the statement writes them in as the server writes them in JSON (its
//! `rfc3339_utc` function; a test holds the two to the same text).

use std::sync::LazyLock;

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use crate::answers::stored_answer;
use crate::domain::orders::{Order, StoredResponse};

/// The marks in a rendered answer, for what only the statement knows.
///
/// None can occur in an answer otherwise: the server's times have at most
/// 6 fractional digits (these have 9), no answer of a purchase or hold has
/// free text, and the number's mark (18 digits) could only be part of a
/// ticket id past 987,654,321,987,654,321, which an identity counting from
/// 1 does not reach.
#[derive(Debug)]
pub struct Marks {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The marks as they read in the rendered JSON.
    pub seq_text: String,
    pub at_text: String,
    pub expires_at_text: String,
}

/// The one set of marks.
pub static MARKS: LazyLock<Marks> = LazyLock::new(|| {
    let seq = 987_654_321_987_654_321;
    let at = Utc
        .timestamp_opt(0, 123_456_789)
        .single()
        .unwrap_or_default();
    let expires_at = Utc
        .timestamp_opt(86_400, 123_456_789)
        .single()
        .unwrap_or_default();
    let json = |time: DateTime<Utc>| {
        serde_json::to_value(time)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    Marks {
        seq,
        at,
        expires_at,
        seq_text: seq.to_string(),
        at_text: json(at),
        expires_at_text: json(expires_at),
    }
});

/// The answer to store under `order`'s key (if it has one) when it is
/// recorded as the row `id`, with [`MARKS`] where the statement fills in.
pub fn answer_template(order: &Order, id: Uuid) -> Option<StoredResponse> {
    order.key.as_ref()?;
    let marks = &*MARKS;
    let outcome = order.recorded(id, marks.seq, marks.at, marks.expires_at);
    Some(stored_answer(order.ticket, &order.action, &outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::orders::{Action, Actor, OrderKey};
    use crate::domain::{PurchaseRequest, Quantity, TicketId};

    fn keyed(action: Action) -> Order {
        Order {
            ticket: TicketId::try_from(7_i64).expect("an id"),
            action,
            key: Some(OrderKey {
                key: "k".to_owned(),
                fingerprint: "f".to_owned(),
            }),
            by: Actor::AnyBuyer,
        }
    }

    #[test]
    fn each_mark_occurs_once_where_the_statement_fills_in() {
        let wanted = PurchaseRequest {
            quantity: Quantity::try_from(2).expect("a quantity"),
            user_id: Uuid::nil(),
        };
        let marks = &*MARKS;
        let purchase = answer_template(&keyed(Action::Purchase(wanted)), Uuid::nil())
            .and_then(|answer| answer.body)
            .expect("a body");
        assert_eq!(purchase.matches(&marks.seq_text).count(), 1);
        assert_eq!(purchase.matches(&marks.at_text).count(), 1);
        let hold = keyed(Action::Hold {
            wanted,
            lifetime: std::time::Duration::from_secs(60),
        });
        let hold = answer_template(&hold, Uuid::nil())
            .and_then(|answer| answer.body)
            .expect("a body");
        assert_eq!(hold.matches(&marks.at_text).count(), 1);
        assert_eq!(hold.matches(&marks.expires_at_text).count(), 1);
    }

    #[test]
    fn an_order_without_a_key_stores_nothing() {
        let mut order = keyed(Action::Reclaim);
        order.key = None;
        assert_eq!(answer_template(&order, Uuid::nil()), None);
    }
}
