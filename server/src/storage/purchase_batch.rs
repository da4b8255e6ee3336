//! Deciding and recording a batch of purchases, of any tickets, keyed or
//! not, in as few statements and commits as possible.
//!
//! A batch of purchases without idempotency keys is first tried as one
//! statement: for every ticket of the batch whose purchases all fit, take
//! their total and insert their rows, under the ticket's row lock, taken in
//! ticket order (so concurrent batches, from any replica, cannot deadlock).
//! That is one round trip and one commit for the whole batch.
//!
//! Whatever is left (tickets where not everything fits, unknown tickets,
//! keyed purchases) is decided in one transaction: lock the tickets (in
//! ticket order) and the keys, read the keys' stored answers, decide each
//! purchase in arrival order in Rust, and write every change and every
//! stored answer in one statement. A key's answer is thus stored exactly
//! when its purchase commits.
//!
//! Each purchase takes its ticket's next number under the row lock, so
//! numbers follow commit order (see the migration `purchase_order`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::sql_types::{Array, Int2, Int4, Int8, Nullable, Text, Timestamptz, Uuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::future::BoxFuture;
use uuid::Uuid as PurchaseId;

use super::coalescer::BatchRunner;
use super::idempotency::StoredResponse;
use super::pool::is_lost_connection;
use super::purchases::PurchaseRecord;
use super::statement::statement;
use super::{Pool, PooledConnection, StorageError};
use crate::domain::{PurchaseRequest, TicketId};

/// One buyer's purchase of one ticket.
#[derive(Debug, Clone)]
pub struct Order {
    pub ticket: TicketId,
    pub request: PurchaseRequest,
    /// The idempotency key it was sent with, if any.
    pub key: Option<OrderKey>,
}

/// An idempotency key and what to store under it.
#[derive(Debug, Clone)]
pub struct OrderKey {
    pub key: String,
    /// Identifies the request: a retry must match it.
    pub fingerprint: String,
    /// The answer to store for the purchase's outcome (and replay later).
    pub answer: fn(TicketId, &PurchaseRequest, &PurchaseOutcome) -> StoredResponse,
}

/// What became of a purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurchaseOutcome {
    /// The tickets were bought; this is the purchase's record.
    Purchased(PurchaseRecord),
    /// Fewer tickets are left than were asked for; nothing was bought.
    NotEnoughLeft { remaining: i32 },
    /// No ticket has this id.
    UnknownTicket,
}

/// How an order was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// Decided now.
    Fresh(PurchaseOutcome),
    /// Decided before, for the same key and request: the answer then.
    Replayed(StoredResponse),
    /// A request with the same key is still running.
    InFlight,
    /// The key was used before for a different request.
    KeyReused,
}

/// Runs batches of orders; see the module's documentation.
#[derive(Debug)]
pub struct PurchaseBatches {
    /// How long a key's answer is kept.
    pub key_ttl: Duration,
}

impl BatchRunner for PurchaseBatches {
    type Job = Order;
    type Answer = Decided;
    type Lane = TicketId;

    fn lane(order: &Order) -> Option<TicketId> {
        Some(order.ticket)
    }

    fn run<'a>(
        &'a self,
        pool: &'a Pool,
        conn: PooledConnection,
        orders: &'a [Order],
    ) -> BoxFuture<'a, Vec<Result<Decided, StorageError>>> {
        Box::pin(self.run_batch(pool, conn, orders))
    }
}

impl PurchaseBatches {
    /// Runs a batch. A connection lost midway is replaced and the batch
    /// goes on: what the lost connection committed is found by the ids the
    /// batch made, and what it did not is decided again, so no purchase is
    /// made twice or answered wrongly. If the batch fails, the purchases it
    /// committed before the failure are answered as made, the others get the
    /// error.
    async fn run_batch(
        &self,
        pool: &Pool,
        conn: PooledConnection,
        orders: &[Order],
    ) -> Vec<Result<Decided, StorageError>> {
        let mut decided: Vec<Option<Decided>> = vec![None; orders.len()];
        let failure = self.decide(pool, conn, orders, &mut decided).await.err();
        let failure = failure.map(Arc::new);
        decided
            .into_iter()
            .map(|answer| match (answer, &failure) {
                (Some(answer), _) => Ok(answer),
                (None, Some(error)) => Err(StorageError::Batch(Arc::clone(error))),
                (None, None) => Err(StorageError::WorkerLost),
            })
            .collect()
    }

    /// Decides what it can of `orders` into `decided`.
    async fn decide(
        &self,
        pool: &Pool,
        mut conn: PooledConnection,
        orders: &[Order],
        decided: &mut [Option<Decided>],
    ) -> Result<(), StorageError> {
        // Time-ordered ids, made here so each buyer knows its row.
        let ids: Vec<PurchaseId> = orders.iter().map(|_| PurchaseId::now_v7()).collect();

        if orders.iter().all(|order| order.key.is_none()) {
            let made = match record_where_all_fit(&mut conn, orders, &ids).await {
                Err(error) if is_lost_connection(&error) => {
                    tracing::warn!(%error, "connection lost during a purchase batch; resuming on another");
                    conn = pool.get_owned().await?;
                    // The statement committed all its rows or none.
                    find_made(&mut conn, orders, &ids).await?
                }
                made => made?,
            };
            for (index, record) in made {
                decided[index] = Some(Decided::Fresh(PurchaseOutcome::Purchased(record)));
            }
        }

        let rest: Vec<usize> = (0..orders.len())
            .filter(|&index| decided[index].is_none())
            .collect();
        if rest.is_empty() {
            return Ok(());
        }
        let pending: Vec<(&Order, PurchaseId)> =
            rest.iter().map(|&i| (&orders[i], ids[i])).collect();
        let answers = match decide_under_locks(&mut conn, &pending, self.key_ttl).await {
            Err(failed) if failed.recoverable() => {
                tracing::warn!(error = %failed.error, "purchase batch failed midway; resuming on another connection");
                drop(conn);
                let mut conn = pool.get_owned().await?;
                match failed.committed(&mut conn).await? {
                    Some(decided) => decided,
                    None => decide_under_locks(&mut conn, &pending, self.key_ttl)
                        .await
                        .map_err(|failed| failed.error)?,
                }
            }
            answers => answers.map_err(|failed| failed.error)?,
        };
        for (index, answer) in rest.into_iter().zip(answers) {
            decided[index] = Some(answer);
        }
        Ok(())
    }
}

/// The fast path: one statement for every ticket whose orders all fit.
/// Returns each order of those tickets (by index) with its record.
async fn record_where_all_fit(
    conn: &mut AsyncPgConnection,
    orders: &[Order],
    ids: &[PurchaseId],
) -> QueryResult<Vec<(usize, PurchaseRecord)>> {
    let sold: Vec<(i64, i64, DateTime<Utc>)> = RecordWhereAllFit {
        tickets: orders.iter().map(|o| o.ticket.get()).collect(),
        purchase_ids: ids.to_vec(),
        user_ids: orders.iter().map(|o| o.request.user_id).collect(),
        quantities: orders.iter().map(|o| o.request.quantity.get()).collect(),
    }
    .load(conn)
    .await?;
    let sold: HashMap<i64, (i64, DateTime<Utc>)> = sold
        .into_iter()
        .map(|(ticket, last_seq, at)| (ticket, (last_seq, at)))
        .collect();
    // Each sold ticket's orders took its numbers up to `last_seq`, in order.
    let mut made: HashMap<i64, i64> = HashMap::new();
    for order in orders {
        if sold.contains_key(&order.ticket.get()) {
            *made.entry(order.ticket.get()).or_default() += 1;
        }
    }
    let mut next: HashMap<i64, i64> = sold
        .iter()
        .map(|(ticket, (last_seq, _))| (*ticket, last_seq - made[ticket] + 1))
        .collect();
    Ok(orders
        .iter()
        .zip(ids)
        .enumerate()
        .filter_map(|(index, (order, &id))| {
            let ticket = order.ticket.get();
            let (_, purchased_at) = sold.get(&ticket)?;
            let seq = next.get_mut(&ticket)?;
            let record = PurchaseRecord {
                id,
                ticket_id: ticket,
                user_id: order.request.user_id,
                quantity: order.request.quantity.get(),
                purchased_at: *purchased_at,
                seq: *seq,
            };
            *seq += 1;
            Some((index, record))
        })
        .collect())
}

/// The orders whose rows exist, with their records: after a connection
/// was lost, what its statement had committed.
async fn find_made(
    conn: &mut AsyncPgConnection,
    orders: &[Order],
    ids: &[PurchaseId],
) -> QueryResult<Vec<(usize, PurchaseRecord)>> {
    let found: HashMap<PurchaseId, (i64, DateTime<Utc>)> = FindPurchases { ids: ids.to_vec() }
        .load::<(PurchaseId, i64, DateTime<Utc>)>(conn)
        .await?
        .into_iter()
        .map(|(id, seq, at)| (id, (seq, at)))
        .collect();
    Ok(orders
        .iter()
        .zip(ids)
        .enumerate()
        .filter_map(|(index, (order, id))| {
            let &(seq, purchased_at) = found.get(id)?;
            Some((
                index,
                PurchaseRecord {
                    id: *id,
                    ticket_id: order.ticket.get(),
                    user_id: order.request.user_id,
                    quantity: order.request.quantity.get(),
                    purchased_at,
                    seq,
                },
            ))
        })
        .collect())
}

statement! {
    /// The purchases among `ids` that exist.
    FindPurchases -> (Uuid, Int8, Timestamptz) {
        "SELECT id, seq, purchased_at FROM purchases WHERE id = ANY("
        ids: Vec<PurchaseId> as Array<Uuid>,
        ")"
    }
}

statement! {
    /// [`record_where_all_fit`]'s statement. `locked` takes the row locks in
    /// ticket order before `sold` changes any row.
    RecordWhereAllFit -> (Int8, Int8, Timestamptz) {
        "WITH wanted AS (SELECT * FROM unnest("
        tickets: Vec<i64> as Array<Int8>, ", "
        purchase_ids: Vec<PurchaseId> as Array<Uuid>, ", "
        user_ids: Vec<PurchaseId> as Array<Uuid>, ", "
        quantities: Vec<i32> as Array<Int4>,
        ") WITH ORDINALITY AS w (ticket_id, id, user_id, quantity, ord)), \
         totals AS (SELECT ticket_id, sum(quantity) AS total, count(*) AS made \
                      FROM wanted GROUP BY ticket_id), \
         locked AS (SELECT t.id FROM tickets t JOIN totals ON totals.ticket_id = t.id \
                     ORDER BY t.id FOR UPDATE OF t), \
         sold AS (UPDATE tickets t \
                     SET remaining = t.remaining - totals.total, \
                         last_purchase_seq = t.last_purchase_seq + totals.made \
                    FROM totals, locked \
                   WHERE t.id = totals.ticket_id AND locked.id = t.id \
                     AND t.remaining >= totals.total \
               RETURNING t.id, t.last_purchase_seq, totals.made), \
         made AS (INSERT INTO purchases (id, ticket_id, user_id, quantity, seq) \
                  SELECT w.id, w.ticket_id, w.user_id, w.quantity, \
                         sold.last_purchase_seq - sold.made \
                           + row_number() OVER (PARTITION BY w.ticket_id ORDER BY w.ord) \
                    FROM wanted w JOIN sold ON sold.id = w.ticket_id) \
         SELECT id, last_purchase_seq, now() FROM sold"
    }
}

/// A failed attempt of the locked path.
struct LockedPathError {
    error: diesel::result::Error,
    /// What the attempt decided and the purchases it wrote, if it got as
    /// far as sending its commit.
    sent: Option<(Vec<Decided>, Vec<PurchaseId>)>,
}

impl LockedPathError {
    /// Whether the batch can go on, on a new connection: the connection was
    /// lost (a restart of the database) or PostgreSQL broke a deadlock.
    fn recoverable(&self) -> bool {
        let deadlock = matches!(
            &self.error,
            diesel::result::Error::DatabaseError(_, info) if info.message().starts_with("deadlock detected")
        );
        is_lost_connection(&self.error) || deadlock
    }

    /// The attempt's decisions if its transaction committed, found by one of
    /// its purchases (a transaction commits all its rows or none). An
    /// attempt that bought nothing wrote at most stored answers, which a
    /// second attempt replays: deciding again is then safe either way.
    async fn committed(
        self,
        conn: &mut AsyncPgConnection,
    ) -> Result<Option<Vec<Decided>>, StorageError> {
        let Some((decided, written)) = self.sent else {
            return Ok(None);
        };
        // On a slice: a Vec would find diesel's query DSL `first` first.
        let Some(&first) = written.as_slice().first() else {
            return Ok(None);
        };
        let found = FindPurchases { ids: vec![first] }
            .load::<(PurchaseId, i64, DateTime<Utc>)>(conn)
            .await?;
        Ok((!found.is_empty()).then_some(decided))
    }
}

/// A ticket as locked for a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LockedTicket {
    remaining: i32,
    last_seq: i64,
}

/// An answer stored under a key, as read for a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StoredKey {
    fingerprint: String,
    answer: StoredResponse,
}

/// The slow path: decides `orders` in one transaction.
async fn decide_under_locks(
    conn: &mut AsyncPgConnection,
    orders: &[(&Order, PurchaseId)],
    key_ttl: Duration,
) -> Result<Vec<Decided>, LockedPathError> {
    let sent: Mutex<Option<(Vec<Decided>, Vec<PurchaseId>)>> = Mutex::new(None);
    let result = conn
        .transaction(async |conn| {
            let mut tickets: Vec<i64> = orders.iter().map(|(o, _)| o.ticket.get()).collect();
            tickets.sort_unstable();
            tickets.dedup();
            let keys: Vec<String> = orders
                .iter()
                .filter_map(|(o, _)| o.key.as_ref().map(|k| k.key.clone()))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();

            // Neither waits for the other, so both go at once.
            let shared: &AsyncPgConnection = conn;
            let (mut first, mut second) = (shared, shared);
            let lock_keys = async {
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                TryLockKeys { keys: keys.clone() }
                    .load::<String>(&mut second)
                    .await
            };
            let (locked, busy_keys) = futures::try_join!(
                LockTickets { tickets }.load::<(i64, i32, i64, DateTime<Utc>)>(&mut first),
                lock_keys,
            )?;
            let now = locked
                .as_slice()
                .first()
                .map_or_else(Utc::now, |(_, _, _, now)| *now);
            let locked: HashMap<i64, LockedTicket> = locked
                .into_iter()
                .map(|(id, remaining, last_seq, _)| {
                    (
                        id,
                        LockedTicket {
                            remaining,
                            last_seq,
                        },
                    )
                })
                .collect();

            // Read only once the keys are ours: a request that held one
            // committed its answer before letting go.
            let busy_keys: HashSet<String> = busy_keys.into_iter().collect();
            let ours: Vec<String> = keys
                .into_iter()
                .filter(|k| !busy_keys.contains(k))
                .collect();
            let stored: HashMap<String, StoredKey> = if ours.is_empty() {
                HashMap::new()
            } else {
                FindKeys {
                    keys: ours,
                    cutoff: now - key_ttl,
                }
                .load::<(String, String, i16, Option<String>, Option<String>)>(conn)
                .await?
                .into_iter()
                .map(|(key, fingerprint, status, location, body)| {
                    let answer = StoredResponse {
                        status: status.unsigned_abs(),
                        location,
                        body,
                    };
                    (
                        key,
                        StoredKey {
                            fingerprint,
                            answer,
                        },
                    )
                })
                .collect()
            };

            let (decided, writes) = decide_in_order(orders, &locked, &busy_keys, &stored, now);
            if !writes.is_empty() {
                let written = writes.purchases.iter().map(|r| r.id).collect();
                writes.into_statement().execute(conn).await?;
                *sent.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((decided.clone(), written));
            }
            Ok::<_, diesel::result::Error>(decided)
        })
        .await;
    result.map_err(|error| LockedPathError {
        error,
        sent: sent.into_inner().unwrap_or_else(PoisonError::into_inner),
    })
}

/// The changes a batch makes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Writes {
    /// Per ticket: how many tickets were taken, and its last number now.
    tickets: HashMap<i64, (i32, i64)>,
    purchases: Vec<PurchaseRecord>,
    /// Per key: its fingerprint and the answer to store.
    answers: Vec<(String, String, StoredResponse)>,
}

impl Writes {
    fn is_empty(&self) -> bool {
        self.tickets.is_empty() && self.purchases.is_empty() && self.answers.is_empty()
    }

    fn into_statement(self) -> WriteBatch {
        let (ticket_ids, (taken, last_seqs)): (Vec<i64>, (Vec<i32>, Vec<i64>)) =
            self.tickets.into_iter().unzip();
        let p = &self.purchases;
        let a = &self.answers;
        WriteBatch {
            ticket_ids,
            taken,
            last_seqs,
            purchase_ids: p.iter().map(|r| r.id).collect(),
            purchase_tickets: p.iter().map(|r| r.ticket_id).collect(),
            user_ids: p.iter().map(|r| r.user_id).collect(),
            quantities: p.iter().map(|r| r.quantity).collect(),
            seqs: p.iter().map(|r| r.seq).collect(),
            keys: a.iter().map(|(key, _, _)| key.clone()).collect(),
            fingerprints: a.iter().map(|(_, f, _)| f.clone()).collect(),
            statuses: a
                .iter()
                .map(|(_, _, answer)| i16::try_from(answer.status).unwrap_or(i16::MAX))
                .collect(),
            locations: a
                .iter()
                .map(|(_, _, answer)| answer.location.clone())
                .collect(),
            bodies: a.iter().map(|(_, _, answer)| answer.body.clone()).collect(),
        }
    }
}

/// Decides each order in turn: a key in use elsewhere or earlier in the
/// batch is in flight; a key already answered replays (or is refused for a
/// different request); otherwise the buyer gets their tickets if that many
/// are still left.
fn decide_in_order(
    orders: &[(&Order, PurchaseId)],
    locked: &HashMap<i64, LockedTicket>,
    busy_keys: &HashSet<String>,
    stored: &HashMap<String, StoredKey>,
    now: DateTime<Utc>,
) -> (Vec<Decided>, Writes) {
    let mut left = locked.clone();
    let mut seen_keys: HashSet<&str> = HashSet::new();
    let mut writes = Writes::default();
    let decided = orders
        .iter()
        .map(|&(order, id)| {
            if let Some(key) = &order.key {
                if busy_keys.contains(&key.key) || !seen_keys.insert(&key.key) {
                    return Decided::InFlight;
                }
                if let Some(earlier) = stored.get(&key.key) {
                    return if earlier.fingerprint == key.fingerprint {
                        Decided::Replayed(earlier.answer.clone())
                    } else {
                        Decided::KeyReused
                    };
                }
            }
            let ticket = order.ticket.get();
            let quantity = order.request.quantity.get();
            let outcome = match left.get_mut(&ticket) {
                None => PurchaseOutcome::UnknownTicket,
                Some(state) if quantity > state.remaining => PurchaseOutcome::NotEnoughLeft {
                    remaining: state.remaining,
                },
                Some(state) => {
                    state.remaining -= quantity;
                    state.last_seq += 1;
                    let taken = writes.tickets.entry(ticket).or_insert((0, state.last_seq));
                    *taken = (taken.0 + quantity, state.last_seq);
                    let record = PurchaseRecord {
                        id,
                        ticket_id: ticket,
                        user_id: order.request.user_id,
                        quantity,
                        purchased_at: now,
                        seq: state.last_seq,
                    };
                    writes.purchases.push(record);
                    PurchaseOutcome::Purchased(record)
                }
            };
            if let Some(key) = &order.key {
                let answer = (key.answer)(order.ticket, &order.request, &outcome);
                writes
                    .answers
                    .push((key.key.clone(), key.fingerprint.clone(), answer));
            }
            Decided::Fresh(outcome)
        })
        .collect();
    (decided, writes)
}

statement! {
    /// Locks a batch's tickets, in id order, and reads what the batch needs.
    LockTickets -> (Int8, Int4, Int8, Timestamptz) {
        "SELECT id, remaining, last_purchase_seq, now() FROM tickets WHERE id = ANY("
        tickets: Vec<i64> as Array<Int8>,
        ") ORDER BY id FOR UPDATE"
    }
}

statement! {
    /// Takes each key's transaction-scoped advisory lock, without waiting;
    /// returns the keys another transaction holds (a request in flight, in
    /// this server or another).
    TryLockKeys -> Text {
        "SELECT key FROM unnest("
        keys: Vec<String> as Array<Text>,
        ") AS k (key) WHERE NOT pg_try_advisory_xact_lock(hashtextextended(key, 0))"
    }
}

statement! {
    /// The live answers stored under the keys.
    FindKeys -> (Text, Text, Int2, Nullable<Text>, Nullable<Text>) {
        "SELECT key, fingerprint, status, location, body FROM idempotency_keys \
         WHERE key = ANY("
        keys: Vec<String> as Array<Text>,
        ") AND created_at > "
        cutoff: DateTime<Utc> as Timestamptz,
        ""
    }
}

statement! {
    /// Writes what a batch decided under its locks: tickets taken, purchase
    /// rows, and the answers stored under keys (an expired key's row is
    /// replaced).
    WriteBatch {
        "WITH taken AS (UPDATE tickets t \
                           SET remaining = t.remaining - d.taken, last_purchase_seq = d.last_seq \
                          FROM unnest("
        ticket_ids: Vec<i64> as Array<Int8>, ", "
        taken: Vec<i32> as Array<Int4>, ", "
        last_seqs: Vec<i64> as Array<Int8>,
        ") AS d (id, taken, last_seq) WHERE t.id = d.id), \
         made AS (INSERT INTO purchases (id, ticket_id, user_id, quantity, seq) \
                  SELECT * FROM unnest("
        purchase_ids: Vec<PurchaseId> as Array<Uuid>, ", "
        purchase_tickets: Vec<i64> as Array<Int8>, ", "
        user_ids: Vec<PurchaseId> as Array<Uuid>, ", "
        quantities: Vec<i32> as Array<Int4>, ", "
        seqs: Vec<i64> as Array<Int8>,
        ")) \
         INSERT INTO idempotency_keys (key, fingerprint, status, location, body) \
         SELECT * FROM unnest("
        keys: Vec<String> as Array<Text>, ", "
        fingerprints: Vec<String> as Array<Text>, ", "
        statuses: Vec<i16> as Array<Int2>, ", "
        locations: Vec<Option<String>> as Array<Nullable<Text>>, ", "
        bodies: Vec<Option<String>> as Array<Nullable<Text>>,
        ") ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, \
             status = excluded.status, location = excluded.location, \
             body = excluded.body, created_at = now()"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Quantity;
    use rstest::rstest;

    fn order(ticket: i64, quantity: u32, key: Option<(&str, &str)>) -> Order {
        Order {
            ticket: TicketId::try_from(ticket).expect("an id"),
            request: PurchaseRequest {
                quantity: Quantity::try_from(quantity).expect("a quantity"),
                user_id: PurchaseId::nil(),
            },
            key: key.map(|(key, fingerprint)| OrderKey {
                key: key.to_owned(),
                fingerprint: fingerprint.to_owned(),
                answer: |_, _, outcome| StoredResponse {
                    status: if matches!(outcome, PurchaseOutcome::Purchased(_)) {
                        201
                    } else {
                        409
                    },
                    location: None,
                    body: None,
                },
            }),
        }
    }

    fn decide(
        orders: &[Order],
        locked: &[(i64, i32)],
        busy: &[&str],
        stored: &[(&str, &str)],
    ) -> (Vec<Decided>, Writes) {
        let with_ids: Vec<(&Order, PurchaseId)> =
            orders.iter().map(|o| (o, PurchaseId::now_v7())).collect();
        let locked = locked
            .iter()
            .map(|&(id, remaining)| {
                (
                    id,
                    LockedTicket {
                        remaining,
                        last_seq: 10,
                    },
                )
            })
            .collect();
        let busy = busy.iter().map(|k| (*k).to_owned()).collect();
        let stored = stored
            .iter()
            .map(|&(key, fingerprint)| {
                let answer = StoredResponse {
                    status: 201,
                    location: None,
                    body: None,
                };
                (
                    key.to_owned(),
                    StoredKey {
                        fingerprint: fingerprint.to_owned(),
                        answer,
                    },
                )
            })
            .collect();
        decide_in_order(&with_ids, &locked, &busy, &stored, Utc::now())
    }

    fn shape(decided: &[Decided]) -> Vec<String> {
        decided
            .iter()
            .map(|d| match d {
                Decided::Fresh(PurchaseOutcome::Purchased(r)) => format!("bought #{}", r.seq),
                Decided::Fresh(PurchaseOutcome::NotEnoughLeft { remaining }) => {
                    format!("{remaining} left")
                }
                Decided::Fresh(PurchaseOutcome::UnknownTicket) => "unknown".to_owned(),
                Decided::Replayed(_) => "replayed".to_owned(),
                Decided::InFlight => "in flight".to_owned(),
                Decided::KeyReused => "reused".to_owned(),
            })
            .collect()
    }

    #[rstest]
    #[case::all_fit(&[2, 1, 2], 5, &["bought #11", "bought #12", "bought #13"])]
    #[case::a_later_one_does_not_fit(&[2, 2, 1], 3, &["bought #11", "1 left", "bought #12"])]
    #[case::a_smaller_later_one_still_fits(&[3, 5, 1], 4, &["bought #11", "1 left", "bought #12"])]
    #[case::nothing_left(&[1, 1], 0, &["0 left", "0 left"])]
    fn buyers_of_a_ticket_are_decided_in_arrival_order(
        #[case] quantities: &[u32],
        #[case] remaining: i32,
        #[case] expected: &[&str],
    ) {
        let orders: Vec<Order> = quantities.iter().map(|&q| order(1, q, None)).collect();
        let (decided, writes) = decide(&orders, &[(1, remaining)], &[], &[]);
        assert_eq!(shape(&decided), expected);
        let bought: i32 = writes.purchases.iter().map(|r| r.quantity).sum();
        assert_eq!(writes.tickets.get(&1).map_or(0, |t| t.0), bought);
        assert!(bought <= remaining);
    }

    #[test]
    fn tickets_are_decided_apart_and_unknown_ones_buy_nothing() {
        let orders = [
            order(1, 2, None),
            order(2, 2, None),
            order(3, 1, None),
            order(1, 1, None),
        ];
        let (decided, writes) = decide(&orders, &[(1, 2), (2, 5)], &[], &[]);
        assert_eq!(
            shape(&decided),
            ["bought #11", "bought #11", "unknown", "0 left"]
        );
        assert_eq!(writes.tickets[&1], (2, 11));
        assert_eq!(writes.tickets[&2], (2, 11));
        assert!(!writes.tickets.contains_key(&3));
    }

    #[test]
    fn keys_replay_refuse_or_wait_and_new_ones_store_their_answer() {
        let orders = [
            order(1, 1, Some(("new", "f"))),
            order(1, 1, Some(("done", "f"))),
            order(1, 1, Some(("done-other", "f"))),
            order(1, 1, Some(("elsewhere", "f"))),
            order(1, 1, Some(("new", "f"))),
            order(1, 1, None),
        ];
        let (decided, writes) = decide(
            &orders,
            &[(1, 5)],
            &["elsewhere"],
            &[("done", "f"), ("done-other", "g")],
        );
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
        let stored: Vec<&str> = writes.answers.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(stored, ["new"], "only a fresh key's answer is stored");
        assert_eq!(writes.purchases.len(), 2);
    }
}
