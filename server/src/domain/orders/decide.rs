//! Deciding a batch's orders under their tickets' locks: pure, given what
//! was read, so every rule is tested here without a database.
//!
//! First the tickets' expired holds are given back (so no order is refused
//! for tickets an expired hold still counts), then each order in turn: its
//! key (in flight, replayed, reused), then the ticket's limits, then what is
//! left.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::rules::Rule;
use super::{
    Action, Actor, Decided, HoldRecord, HoldStatus, Limit, Order, OrderKey, Outcome,
    PurchaseRecord, StoredResponse,
};

/// An answer stored under a key, as read for a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub fingerprint: String,
    pub answer: StoredResponse,
}

/// A ticket as locked for a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketState {
    pub remaining: i32,
    pub held: i32,
    pub last_seq: i64,
    pub max_per_purchase: Option<i32>,
    pub max_per_user: Option<i32>,
}

/// What a buyer has of a ticket with a per-buyer limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuyerState {
    pub bought: i32,
    pub held: i32,
    /// Whether the buyer's row exists (else it is inserted).
    pub stored: bool,
}

impl BuyerState {
    /// A buyer's counts as stored.
    pub fn stored(bought: i32, held: i32) -> Self {
        Self {
            bought,
            held,
            stored: true,
        }
    }
}

/// Everything a batch read under its locks.
#[derive(Debug, Default)]
pub struct Read {
    pub tickets: HashMap<i64, TicketState>,
    /// Per (ticket, buyer), for tickets with a per-buyer limit.
    pub buyers: HashMap<(i64, Uuid), BuyerState>,
    /// The holds the orders name, and the tickets' expired holds.
    pub holds: HashMap<Uuid, HoldRecord>,
    /// The purchases the orders name.
    pub purchases: HashMap<Uuid, PurchaseRecord>,
    /// The keys held by requests in flight elsewhere.
    pub busy_keys: HashSet<String>,
    /// The live answers stored under the orders' keys.
    pub stored: HashMap<String, StoredKey>,
    /// The time the batch decides at, read once its tickets' row locks
    /// were held: expiry is judged, and new rows are dated, by it.
    pub now: DateTime<Utc>,
}

/// What a batch changes, each row in its final state.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Writes {
    pub tickets: HashMap<i64, TicketState>,
    pub buyers: HashMap<(i64, Uuid), BuyerState>,
    pub new_purchases: Vec<PurchaseRecord>,
    pub cancelled: Vec<Uuid>,
    pub new_holds: Vec<HoldRecord>,
    /// Holds that ended now: their new status, and the purchase a confirmed
    /// one became.
    pub ended_holds: Vec<(Uuid, HoldStatus, Option<Uuid>)>,
    /// The fresh outcomes of keyed orders, whose answers are stored under
    /// their keys.
    pub answers: Vec<(OrderKey, Order, Outcome)>,
}

impl Writes {
    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
            && self.new_purchases.is_empty()
            && self.cancelled.is_empty()
            && self.new_holds.is_empty()
            && self.ended_holds.is_empty()
            && self.answers.is_empty()
    }

    /// The ids of the rows the batch inserts, by which a commit that may
    /// or may not have happened is found.
    pub fn inserted(&self) -> Vec<Uuid> {
        self.new_purchases
            .iter()
            .map(|p| p.id)
            .chain(self.new_holds.iter().map(|h| h.id))
            .collect()
    }
}

/// Decides `orders` (each with the id its new row would get) against what
/// was read; returns each order's answer and the changes to write.
pub fn decide(orders: &[(&Order, Uuid)], read: &Read) -> (Vec<Decided>, Writes) {
    let mut books = Books {
        tickets: read.tickets.clone(),
        buyers: read.buyers.clone(),
        holds: read.holds.clone(),
        purchases: read.purchases.clone(),
        now: read.now,
        writes: Writes::default(),
    };
    books.give_back_expired_holds();
    let mut seen_keys: HashSet<&str> = HashSet::new();
    let decided = orders
        .iter()
        .map(|&(order, id)| {
            if let Some(key) = &order.key {
                if read.busy_keys.contains(&key.key) || !seen_keys.insert(&key.key) {
                    return Decided::InFlight;
                }
                if let Some(earlier) = read.stored.get(&key.key) {
                    return if earlier.fingerprint == key.fingerprint {
                        Decided::Replayed(earlier.answer.clone())
                    } else {
                        Decided::KeyReused
                    };
                }
            }
            let outcome = books.apply(order, id);
            if let Some(key) = &order.key {
                books
                    .writes
                    .answers
                    .push((key.clone(), order.clone(), outcome));
            }
            Decided::Fresh(outcome)
        })
        .collect();
    (decided, books.writes)
}

/// The batch's tickets as orders change them.
struct Books {
    tickets: HashMap<i64, TicketState>,
    buyers: HashMap<(i64, Uuid), BuyerState>,
    holds: HashMap<Uuid, HoldRecord>,
    purchases: HashMap<Uuid, PurchaseRecord>,
    now: DateTime<Utc>,
    writes: Writes,
}

impl Books {
    /// Gives back the tickets of every hold past its expiry.
    fn give_back_expired_holds(&mut self) {
        let expired: Vec<HoldRecord> = self
            .holds
            .values()
            .filter(|hold| {
                hold.status == HoldStatus::Held
                    && hold.expires_at <= self.now
                    && self.tickets.contains_key(&hold.ticket_id)
            })
            .copied()
            .collect();
        for hold in expired {
            self.end_hold(hold, HoldStatus::Expired, None);
            self.change(
                hold.ticket_id,
                hold.user_id,
                hold.quantity,
                -hold.quantity,
                0,
            );
        }
    }

    fn apply(&mut self, order: &Order, id: Uuid) -> Outcome {
        let ticket = order.ticket.get();
        match order.action {
            Action::Purchase(wanted) => {
                let quantity = wanted.quantity.get();
                if let Some(refused) = self.refusal(ticket, wanted.user_id, quantity) {
                    return refused;
                }
                self.change(ticket, wanted.user_id, -quantity, 0, quantity);
                Outcome::Purchased(self.record_purchase(id, ticket, wanted.user_id, quantity, None))
            }
            Action::Hold { wanted, lifetime } => {
                let quantity = wanted.quantity.get();
                if let Some(refused) = self.refusal(ticket, wanted.user_id, quantity) {
                    return refused;
                }
                self.change(ticket, wanted.user_id, -quantity, quantity, 0);
                let hold = HoldRecord {
                    id,
                    ticket_id: ticket,
                    user_id: wanted.user_id,
                    quantity,
                    status: HoldStatus::Held,
                    created_at: self.now,
                    expires_at: self.now
                        + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::MAX),
                    purchase_id: None,
                };
                self.holds.insert(id, hold);
                self.writes.new_holds.push(hold);
                Outcome::Held(hold)
            }
            Action::Confirm { hold } => match self.hold_of(ticket, hold, order.by) {
                None => Outcome::UnknownHold,
                Some(hold) => match hold.status {
                    HoldStatus::Held => {
                        self.change(ticket, hold.user_id, 0, -hold.quantity, hold.quantity);
                        let purchase = self.record_purchase(
                            id,
                            ticket,
                            hold.user_id,
                            hold.quantity,
                            Some(hold.id),
                        );
                        self.end_hold(hold, HoldStatus::Confirmed, Some(purchase.id));
                        Outcome::Purchased(purchase)
                    }
                    status => hold_unavailable(status, &hold),
                },
            },
            Action::Release { hold } => match self.hold_of(ticket, hold, order.by) {
                None => Outcome::UnknownHold,
                Some(hold) => match hold.status {
                    HoldStatus::Held => {
                        self.change(ticket, hold.user_id, hold.quantity, -hold.quantity, 0);
                        self.end_hold(hold, HoldStatus::Released, None);
                        Outcome::Released
                    }
                    // Its tickets are free already: releasing it again is no error.
                    HoldStatus::Released | HoldStatus::Expired => Outcome::Released,
                    HoldStatus::Confirmed => hold_unavailable(hold.status, &hold),
                },
            },
            Action::Cancel { purchase } => {
                let Some(record) = self.purchases.get(&purchase).copied() else {
                    return Outcome::UnknownPurchase;
                };
                if record.ticket_id != ticket || !order.by.acts_for(record.user_id) {
                    return Outcome::UnknownPurchase;
                }
                if record.cancelled_at.is_some() {
                    return Outcome::Cancelled(record);
                }
                let cancelled = PurchaseRecord {
                    cancelled_at: Some(self.now),
                    ..record
                };
                self.change(ticket, record.user_id, record.quantity, 0, -record.quantity);
                self.purchases.insert(purchase, cancelled);
                self.writes.cancelled.push(purchase);
                Outcome::Cancelled(cancelled)
            }
            Action::Reclaim => Outcome::Reclaimed,
        }
    }

    /// Why `quantity` for `buyer` cannot be taken from `ticket` now, if it
    /// cannot: no such ticket, a limit, or too few left.
    fn refusal(&self, ticket: i64, buyer: Uuid, quantity: i32) -> Option<Outcome> {
        let Some(state) = self.tickets.get(&ticket) else {
            return Some(Outcome::UnknownTicket);
        };
        let per_user = state.max_per_user.map(|max| {
            let has = self
                .buyers
                .get(&(ticket, buyer))
                .copied()
                .unwrap_or_default();
            (max - has.bought - has.held).max(0)
        });
        // What the buyer may still get, under every limit at once.
        let for_buyer = [state.max_per_purchase, per_user]
            .into_iter()
            .flatten()
            .min();
        let has = self
            .buyers
            .get(&(ticket, buyer))
            .map_or(0, |has| has.bought + has.held);
        Rule::ALL
            .into_iter()
            .find(|rule| {
                let max = match rule {
                    Rule::PerPurchase => state.max_per_purchase,
                    Rule::PerBuyer => state.max_per_user,
                    Rule::EnoughLeft => None,
                };
                !rule.allows(quantity, state.remaining, max, has)
            })
            .map(|rule| match rule {
                Rule::PerPurchase => Outcome::LimitExceeded {
                    limit: Limit::PerPurchase,
                    max: state.max_per_purchase.unwrap_or_default(),
                    remaining_for_buyer: for_buyer.unwrap_or_default(),
                },
                Rule::PerBuyer => Outcome::LimitExceeded {
                    limit: Limit::PerUser,
                    max: state.max_per_user.unwrap_or_default(),
                    remaining_for_buyer: for_buyer.unwrap_or_default(),
                },
                Rule::EnoughLeft => Outcome::NotEnoughLeft {
                    remaining: state.remaining,
                },
            })
    }

    /// The hold `id` of `ticket`, as it stands now, if `by` may act on it.
    fn hold_of(&self, ticket: i64, id: Uuid, by: Actor) -> Option<HoldRecord> {
        self.holds
            .get(&id)
            .filter(|hold| hold.ticket_id == ticket && by.acts_for(hold.user_id))
            .copied()
    }

    /// Moves tickets between what is left, held and bought, for the ticket
    /// and (under a per-buyer limit) the buyer.
    fn change(&mut self, ticket: i64, buyer: Uuid, remaining: i32, held: i32, bought: i32) {
        let Some(state) = self.tickets.get_mut(&ticket) else {
            return;
        };
        state.remaining += remaining;
        state.held += held;
        let limited = state.max_per_user.is_some();
        self.writes.tickets.insert(ticket, *state);
        if limited {
            let has = self.buyers.entry((ticket, buyer)).or_default();
            has.held += held;
            has.bought += bought;
            self.writes.buyers.insert((ticket, buyer), *has);
        }
    }

    /// Records a purchase, with the ticket's next number.
    fn record_purchase(
        &mut self,
        id: Uuid,
        ticket: i64,
        buyer: Uuid,
        quantity: i32,
        hold_id: Option<Uuid>,
    ) -> PurchaseRecord {
        let seq = self.tickets.get_mut(&ticket).map_or(0, |state| {
            state.last_seq += 1;
            state.last_seq
        });
        if let Some(state) = self.tickets.get(&ticket) {
            self.writes.tickets.insert(ticket, *state);
        }
        let record = PurchaseRecord {
            id,
            ticket_id: ticket,
            user_id: buyer,
            quantity,
            purchased_at: self.now,
            seq,
            hold_id,
            cancelled_at: None,
        };
        self.purchases.insert(id, record);
        self.writes.new_purchases.push(record);
        record
    }

    fn end_hold(&mut self, hold: HoldRecord, status: HoldStatus, purchase_id: Option<Uuid>) {
        let ended = HoldRecord {
            status,
            purchase_id,
            ..hold
        };
        self.holds.insert(hold.id, ended);
        // A hold made in this batch is inserted as it ends.
        if let Some(new) = self.writes.new_holds.iter_mut().find(|h| h.id == hold.id) {
            *new = ended;
        } else {
            self.writes.ended_holds.push((hold.id, status, purchase_id));
        }
    }
}

/// Why a hold that is no longer held cannot be confirmed (or released).
fn hold_unavailable(status: HoldStatus, hold: &HoldRecord) -> Outcome {
    match status {
        HoldStatus::Confirmed => Outcome::HoldConfirmed {
            purchase_id: hold.purchase_id.unwrap_or_default(),
        },
        HoldStatus::Released => Outcome::HoldReleased,
        HoldStatus::Held | HoldStatus::Expired => Outcome::HoldExpired {
            expires_at: hold.expires_at,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::{PurchaseRequest, Quantity, TicketId};
    use rstest::rstest;

    const T: i64 = 1;

    fn buyer(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    fn wanted(quantity: u32, user: u8) -> PurchaseRequest {
        PurchaseRequest {
            quantity: Quantity::try_from(quantity).expect("a quantity"),
            user_id: buyer(user),
        }
    }

    fn order(action: Action) -> Order {
        Order {
            ticket: TicketId::try_from(T).expect("an id"),
            action,
            key: None,
            by: Actor::AnyBuyer,
        }
    }

    fn buy(quantity: u32, user: u8) -> Order {
        order(Action::Purchase(wanted(quantity, user)))
    }

    fn hold(quantity: u32, user: u8) -> Order {
        order(Action::Hold {
            wanted: wanted(quantity, user),
            lifetime: Duration::from_secs(600),
        })
    }

    fn keyed(mut order: Order, key: &str, fingerprint: &str) -> Order {
        order.key = Some(OrderKey {
            key: key.to_owned(),
            fingerprint: fingerprint.to_owned(),
        });
        order
    }

    fn ticket(remaining: i32, held: i32) -> TicketState {
        TicketState {
            remaining,
            held,
            last_seq: 10,
            max_per_purchase: None,
            max_per_user: None,
        }
    }

    fn read(ticket_state: TicketState) -> Read {
        Read {
            tickets: HashMap::from([(T, ticket_state)]),
            now: DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
            ..Read::default()
        }
    }

    fn a_hold(
        read: &Read,
        id: u8,
        quantity: i32,
        user: u8,
        status: HoldStatus,
        minutes_left: i64,
    ) -> HoldRecord {
        HoldRecord {
            id: Uuid::from_bytes([id; 16]),
            ticket_id: T,
            user_id: buyer(user),
            quantity,
            status,
            created_at: read.now - chrono::Duration::minutes(1),
            expires_at: read.now + chrono::Duration::minutes(minutes_left),
            purchase_id: (status == HoldStatus::Confirmed).then(|| Uuid::from_bytes([99; 16])),
        }
    }

    /// A purchase of `quantity` by buyer `user`, stored: as read for a batch.
    fn a_purchase(read: &mut Read, quantity: i32, user: u8) -> PurchaseRecord {
        let bought = PurchaseRecord {
            id: Uuid::from_bytes([5; 16]),
            ticket_id: T,
            user_id: buyer(user),
            quantity,
            purchased_at: read.now,
            seq: 4,
            hold_id: None,
            cancelled_at: None,
        };
        read.purchases.insert(bought.id, bought);
        bought
    }

    fn run(orders: &[Order], read: &Read) -> (Vec<Decided>, Writes) {
        let with_ids: Vec<(&Order, Uuid)> = orders.iter().map(|o| (o, Uuid::now_v7())).collect();
        decide(&with_ids, read)
    }

    fn shape(decided: &[Decided]) -> Vec<String> {
        decided
            .iter()
            .map(|d| match d {
                Decided::Fresh(Outcome::Purchased(r)) => format!("bought #{}", r.seq),
                Decided::Fresh(Outcome::Held(h)) => format!("held {}", h.quantity),
                Decided::Fresh(Outcome::Released) => "released".to_owned(),
                Decided::Fresh(Outcome::Cancelled(r)) => format!("cancelled {}", r.quantity),
                Decided::Fresh(Outcome::NotEnoughLeft { remaining }) => format!("{remaining} left"),
                Decided::Fresh(Outcome::LimitExceeded {
                    limit,
                    remaining_for_buyer,
                    ..
                }) => {
                    format!("{limit:?}: {remaining_for_buyer} more")
                }
                Decided::Fresh(Outcome::UnknownTicket) => "no ticket".to_owned(),
                Decided::Fresh(Outcome::UnknownHold) => "no hold".to_owned(),
                Decided::Fresh(Outcome::UnknownPurchase) => "no purchase".to_owned(),
                Decided::Fresh(Outcome::HoldExpired { .. }) => "hold expired".to_owned(),
                Decided::Fresh(Outcome::HoldReleased) => "hold released".to_owned(),
                Decided::Fresh(Outcome::HoldConfirmed { .. }) => "hold confirmed".to_owned(),
                Decided::Fresh(Outcome::Reclaimed) => "reclaimed".to_owned(),
                Decided::Replayed(_) => "replayed".to_owned(),
                Decided::InFlight => "in flight".to_owned(),
                Decided::KeyReused => "reused".to_owned(),
            })
            .collect()
    }

    /// left + held + bought, for the ticket as written.
    fn books(read: &Read, writes: &Writes) -> (i32, i32) {
        let state = writes
            .tickets
            .get(&T)
            .or(read.tickets.get(&T))
            .expect("the ticket");
        (state.remaining, state.held)
    }

    #[rstest]
    #[case::all_fit(&[2, 1, 2], 5, &["bought #11", "bought #12", "bought #13"])]
    #[case::a_later_one_does_not_fit(&[2, 2, 1], 3, &["bought #11", "1 left", "bought #12"])]
    #[case::nothing_left(&[1, 1], 0, &["0 left", "0 left"])]
    fn buyers_are_decided_in_arrival_order(
        #[case] quantities: &[u32],
        #[case] remaining: i32,
        #[case] expected: &[&str],
    ) {
        let orders: Vec<Order> = quantities.iter().map(|&q| buy(q, 1)).collect();
        let read = read(ticket(remaining, 0));
        let (decided, writes) = run(&orders, &read);
        assert_eq!(shape(&decided), expected);
        let bought: i32 = writes.new_purchases.iter().map(|p| p.quantity).sum();
        assert_eq!(books(&read, &writes), (remaining - bought, 0));
    }

    #[test]
    fn a_hold_takes_from_what_is_left_and_its_confirmation_becomes_a_purchase() {
        let mut read = read(ticket(5, 0));
        let live = a_hold(&read, 1, 2, 7, HoldStatus::Held, 10);
        read.holds.insert(live.id, live);
        read.tickets.get_mut(&T).expect("ticket").held = 2;
        let (decided, writes) = run(
            &[
                hold(2, 8),
                order(Action::Confirm { hold: live.id }),
                buy(2, 9),
            ],
            &read,
        );
        assert_eq!(shape(&decided), ["held 2", "bought #11", "bought #12"]);
        // 5 left and 2 held before: the new hold takes 2 of what is left and
        // the purchase 2 more; the confirmed hold's 2 move to bought.
        assert_eq!(books(&read, &writes), (1, 2));
        assert_eq!(
            writes.ended_holds,
            [(
                live.id,
                HoldStatus::Confirmed,
                Some(writes.new_purchases[0].id)
            )]
        );
        assert_eq!(writes.new_purchases[0].hold_id, Some(live.id));
    }

    #[test]
    fn an_expired_hold_frees_its_tickets_before_any_order_is_decided() {
        let mut read = read(ticket(0, 3));
        let expired = a_hold(&read, 1, 3, 7, HoldStatus::Held, -1);
        read.holds.insert(expired.id, expired);
        let (decided, writes) = run(
            &[buy(3, 8), order(Action::Confirm { hold: expired.id })],
            &read,
        );
        assert_eq!(shape(&decided), ["bought #11", "hold expired"]);
        assert_eq!(books(&read, &writes), (0, 0));
        assert_eq!(
            writes.ended_holds,
            [(expired.id, HoldStatus::Expired, None)]
        );
    }

    #[rstest]
    #[case::released(HoldStatus::Released, 10, "hold released", "released")]
    #[case::expired(HoldStatus::Expired, -5, "hold expired", "released")]
    #[case::confirmed(HoldStatus::Confirmed, 10, "hold confirmed", "hold confirmed")]
    fn a_hold_no_longer_held_is_not_confirmed_and_releasing_it_changes_nothing(
        #[case] status: HoldStatus,
        #[case] minutes_left: i64,
        #[case] confirming: &str,
        #[case] releasing: &str,
    ) {
        let mut read = read(ticket(5, 0));
        let ended = a_hold(&read, 1, 2, 7, status, minutes_left);
        read.holds.insert(ended.id, ended);
        let (decided, writes) = run(
            &[
                order(Action::Confirm { hold: ended.id }),
                order(Action::Release { hold: ended.id }),
            ],
            &read,
        );
        assert_eq!(shape(&decided), [confirming, releasing]);
        assert!(writes.is_empty(), "{writes:?}");
    }

    #[test]
    fn a_hold_confirms_once_even_twice_in_one_batch() {
        let mut read = read(ticket(0, 2));
        let live = a_hold(&read, 1, 2, 7, HoldStatus::Held, 10);
        read.holds.insert(live.id, live);
        let confirm = || order(Action::Confirm { hold: live.id });
        let (decided, writes) = run(
            &[
                confirm(),
                confirm(),
                order(Action::Release { hold: live.id }),
            ],
            &read,
        );
        assert_eq!(
            shape(&decided),
            ["bought #11", "hold confirmed", "hold confirmed"]
        );
        assert_eq!(writes.new_purchases.len(), 1);
        assert_eq!(books(&read, &writes), (0, 0));
    }

    #[test]
    fn a_hold_of_another_ticket_is_unknown() {
        let mut read = read(ticket(5, 0));
        let mut elsewhere = a_hold(&read, 1, 2, 7, HoldStatus::Held, 10);
        elsewhere.ticket_id = 2;
        read.holds.insert(elsewhere.id, elsewhere);
        let (decided, _) = run(&[order(Action::Confirm { hold: elsewhere.id })], &read);
        assert_eq!(shape(&decided), ["no hold"]);
    }

    #[test]
    fn a_cancellation_gives_the_tickets_back_once() {
        let mut read = read(ticket(3, 0));
        let bought = a_purchase(&mut read, 2, 7);
        let cancel = || {
            order(Action::Cancel {
                purchase: bought.id,
            })
        };
        let (decided, writes) = run(&[cancel(), cancel(), buy(5, 8)], &read);
        assert_eq!(
            shape(&decided),
            ["cancelled 2", "cancelled 2", "bought #11"]
        );
        assert_eq!(writes.cancelled, [bought.id]);
        assert_eq!(books(&read, &writes), (0, 0));
    }

    #[test]
    fn a_buyer_changes_only_their_own_purchases_and_holds() {
        let mut read = read(ticket(3, 2));
        let bought = a_purchase(&mut read, 2, 7);
        let held = a_hold(&read, 6, 2, 7, HoldStatus::Held, 5);
        read.holds.insert(held.id, held);
        let by = |user, action| Order {
            by: Actor::Buyer(buyer(user)),
            ..order(action)
        };
        let cancel = Action::Cancel {
            purchase: bought.id,
        };
        let confirm = Action::Confirm { hold: held.id };
        let release = Action::Release { hold: held.id };
        let (decided, writes) = run(&[by(8, cancel), by(8, confirm), by(8, release)], &read);
        assert_eq!(shape(&decided), ["no purchase", "no hold", "no hold"]);
        assert!(writes.is_empty(), "{writes:?}");
        let (decided, _) = run(&[by(7, cancel), by(7, release)], &read);
        assert_eq!(shape(&decided), ["cancelled 2", "released"]);
    }

    #[rstest]
    // max_per_purchase 3: 4 at once is refused, 3 is fine.
    #[case::per_purchase(Some(3), None, &[], &[4, 3], &["PerPurchase: 3 more", "bought #11"])]
    // max_per_user 4, with 1 bought and 1 held: 2 more, then none.
    #[case::per_user(None, Some(4), &[(1, 1)], &[3, 2, 1], &["PerUser: 2 more", "bought #11", "PerUser: 0 more"])]
    // Both: what the buyer may still get is the smaller of the two.
    #[case::both(Some(3), Some(4), &[(2, 0)], &[3, 2], &["PerUser: 2 more", "bought #11"])]
    fn limits_are_kept_per_purchase_and_per_buyer(
        #[case] per_purchase: Option<i32>,
        #[case] per_user: Option<i32>,
        #[case] has: &[(i32, i32)],
        #[case] quantities: &[u32],
        #[case] expected: &[&str],
    ) {
        let mut read = read(TicketState {
            max_per_purchase: per_purchase,
            max_per_user: per_user,
            ..ticket(100, 0)
        });
        for &(bought, held) in has {
            read.buyers.insert(
                (T, buyer(7)),
                BuyerState {
                    bought,
                    held,
                    stored: true,
                },
            );
        }
        let orders: Vec<Order> = quantities.iter().map(|&q| buy(q, 7)).collect();
        let (decided, writes) = run(&orders, &read);
        assert_eq!(shape(&decided), expected);
        if let Some(max) = per_user {
            let has = writes
                .buyers
                .get(&(T, buyer(7)))
                .or(read.buyers.get(&(T, buyer(7))));
            assert!(has.is_none_or(|h| h.bought + h.held <= max));
        }
    }

    #[test]
    fn the_per_buyer_limit_counts_live_holds_not_expired_ones() {
        let mut read = read(TicketState {
            max_per_user: Some(4),
            ..ticket(10, 4)
        });
        let live = a_hold(&read, 1, 2, 7, HoldStatus::Held, 10);
        let expired = a_hold(&read, 2, 2, 7, HoldStatus::Held, -1);
        read.holds.insert(live.id, live);
        read.holds.insert(expired.id, expired);
        read.buyers.insert(
            (T, buyer(7)),
            BuyerState {
                bought: 0,
                held: 4,
                stored: true,
            },
        );
        let (decided, writes) = run(&[hold(3, 7), hold(2, 7)], &read);
        assert_eq!(shape(&decided), ["PerUser: 2 more", "held 2"]);
        let has = writes.buyers[&(T, buyer(7))];
        assert_eq!((has.bought, has.held), (0, 4));
    }

    #[test]
    fn keys_replay_refuse_or_wait_and_new_ones_store_their_answer() {
        let mut read = read(ticket(5, 0));
        read.busy_keys.insert("elsewhere".to_owned());
        for (key, fingerprint) in [("done", "f"), ("done-other", "g")] {
            read.stored.insert(
                key.to_owned(),
                StoredKey {
                    fingerprint: fingerprint.to_owned(),
                    answer: StoredResponse {
                        status: 201,
                        location: None,
                        body: None,
                    },
                },
            );
        }
        let orders = [
            keyed(buy(1, 1), "new", "f"),
            keyed(buy(1, 1), "done", "f"),
            keyed(buy(1, 1), "done-other", "f"),
            keyed(buy(1, 1), "elsewhere", "f"),
            keyed(buy(1, 1), "new", "f"),
            buy(1, 1),
        ];
        let (decided, writes) = run(&orders, &read);
        assert_eq!(
            shape(&decided),
            [
                "bought #11",
                "replayed",
                "reused",
                "in flight",
                "in flight",
                "bought #12"
            ]
        );
        let stored: Vec<&str> = writes
            .answers
            .iter()
            .map(|(k, _, _)| k.key.as_str())
            .collect();
        assert_eq!(stored, ["new"], "only a fresh key's answer is stored");
    }

    #[test]
    fn orders_for_an_unknown_ticket_change_nothing() {
        let read = Read::default();
        let (decided, writes) = run(
            &[
                buy(1, 1),
                hold(1, 1),
                order(Action::Cancel {
                    purchase: Uuid::nil(),
                }),
            ],
            &read,
        );
        assert_eq!(shape(&decided), ["no ticket", "no ticket", "no purchase"]);
        assert!(writes.is_empty());
    }
}
