//! The locked path: one transaction that locks the batch's tickets and
//! keys, reads what its orders name, decides them (`domain::orders::decide`)
//! and writes every change in one statement.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, Int2, Int4, Int8, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::answers::stored_answer;
use crate::domain::orders::{
    Action, BuyerState, Decided, HoldRecord, Order, PurchaseRecord, Read, StoredKey,
    StoredResponse, TicketState, Writes, decide,
};
use crate::storage::StorageError;
use crate::storage::holds::HoldRow;
use crate::storage::pool::is_resumable_elsewhere;
use crate::storage::purchases::PurchaseRow;
use crate::storage::statement::statement;

/// A failed attempt of the locked path.
pub(super) struct LockedPathError {
    pub error: diesel::result::Error,
    /// What the attempt decided and the ids of the rows it inserted, if it
    /// got as far as sending its commit.
    sent: Option<(Vec<Decided>, Vec<Uuid>)>,
}

impl LockedPathError {
    /// Whether the batch can go on, on a new connection: the connection was
    /// lost (a restart of the database), its server turned out to be a
    /// standby (the write was refused, nothing committed), or PostgreSQL
    /// broke a deadlock.
    pub fn recoverable(&self) -> bool {
        let deadlock = matches!(
            &self.error,
            diesel::result::Error::DatabaseError(_, info) if info.message().starts_with("deadlock detected")
        );
        is_resumable_elsewhere(&self.error) || deadlock
    }

    /// The attempt's decisions if its transaction committed, found by one
    /// of the rows it inserted (a transaction commits all its rows or none).
    /// An attempt that inserted nothing changed at most statuses and stored
    /// answers, which a second attempt finds as they are: deciding again is
    /// then safe either way.
    pub async fn committed(
        self,
        conn: &mut AsyncPgConnection,
    ) -> Result<Option<Vec<Decided>>, StorageError> {
        let Some((decided, inserted)) = self.sent else {
            return Ok(None);
        };
        // On a slice: a Vec would find diesel's query DSL `first` first.
        let Some(&first) = inserted.as_slice().first() else {
            return Ok(None);
        };
        let found: i64 = RowsWithId { id: first }.get_result(conn).await?;
        Ok((found > 0).then_some(decided))
    }
}

/// Decides `orders` in one transaction.
pub(super) async fn decide_under_locks(
    conn: &mut AsyncPgConnection,
    orders: &[(&Order, Uuid)],
    key_ttl: Duration,
) -> Result<Vec<Decided>, LockedPathError> {
    let sent: Mutex<Option<(Vec<Decided>, Vec<Uuid>)>> = Mutex::new(None);
    let result = conn
        .transaction(async |conn| {
            let read = read_under_locks(conn, orders, key_ttl).await?;
            let (decided, writes) = decide(orders, &read);
            if !writes.is_empty() {
                let inserted = writes.inserted();
                write(writes, read.now).execute(conn).await?;
                *sent.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((decided.clone(), inserted));
            }
            Ok::<_, diesel::result::Error>(decided)
        })
        .await;
    result.map_err(|error| LockedPathError {
        error,
        sent: sent.into_inner().unwrap_or_else(PoisonError::into_inner),
    })
}

/// Locks the orders' tickets and keys, then reads what they need.
async fn read_under_locks(
    conn: &mut AsyncPgConnection,
    orders: &[(&Order, Uuid)],
    key_ttl: Duration,
) -> diesel::QueryResult<Read> {
    let mut tickets: Vec<i64> = orders.iter().map(|(o, _)| o.ticket.get()).collect();
    tickets.sort_unstable();
    tickets.dedup();
    let keys: Vec<String> = orders
        .iter()
        .filter_map(|(o, _)| o.key.as_ref().map(|k| k.key.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let (tickets, busy_keys, now) = lock(conn, tickets, keys.clone()).await?;

    // Read only once everything is locked: what these tickets hold can then
    // change no more until this transaction ends, and a request that held
    // one of these keys committed its answer before letting go.
    let named = Named {
        keys: keys
            .into_iter()
            .filter(|k| !busy_keys.contains(k))
            .collect(),
        ..Named::of(orders, &tickets)
    };
    let (stored, holds, purchases, buyers) = read_named(conn, named, now, key_ttl).await?;

    // What each buyer has: of those buying or holding now, and of those
    // whose holds and purchases the batch reads (their buyer's row came with
    // them, if the ticket has a per-buyer limit).
    let mut has: HashMap<(i64, Uuid), BuyerState> = buyers
        .into_iter()
        .map(|(ticket, user, bought, held)| ((ticket, user), BuyerState::stored(bought, held)))
        .collect();
    let mut note = |ticket: i64, user: Uuid, bought: Option<i32>, held: Option<i32>| {
        if let (Some(bought), Some(held)) = (bought, held) {
            has.insert((ticket, user), BuyerState::stored(bought, held));
        }
    };
    let holds: HashMap<Uuid, HoldRecord> = holds
        .into_iter()
        .map(|(row, bought, held)| {
            let hold = HoldRecord::from(row);
            note(hold.ticket_id, hold.user_id, bought, held);
            (hold.id, hold)
        })
        .collect();
    let purchases: HashMap<Uuid, PurchaseRecord> = purchases
        .into_iter()
        .map(|(row, bought, held)| {
            let purchase = PurchaseRecord::from(row);
            note(purchase.ticket_id, purchase.user_id, bought, held);
            (purchase.id, purchase)
        })
        .collect();
    let stored = stored
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
        .collect();

    Ok(Read {
        tickets,
        buyers: has,
        holds,
        purchases,
        busy_keys,
        stored,
        now,
    })
}

/// Locks `tickets` (in id order) and tries `keys`; returns the tickets'
/// books, the keys another transaction holds, and the time the batch
/// decides at: read after every lock is held, so no decision is dated
/// before a wait for a lock it made.
async fn lock(
    conn: &mut AsyncPgConnection,
    tickets: Vec<i64>,
    keys: Vec<String>,
) -> diesel::QueryResult<(HashMap<i64, TicketState>, HashSet<String>, DateTime<Utc>)> {
    // Neither waits for the other, so both go at once.
    let shared: &AsyncPgConnection = conn;
    let (mut first, mut second) = (shared, shared);
    let lock_keys = async {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        TryLockKeys { keys }.load::<String>(&mut second).await
    };
    let (locked, busy_keys) = futures::try_join!(
        LockTickets { tickets }
            .load::<(i64, i32, i32, i64, Option<i32>, Option<i32>, DateTime<Utc>)>(&mut first),
        lock_keys,
    )?;
    // Each row's time was read once its lock was held, and the locks are
    // taken one after another: the last is after all of them.
    let now = locked
        .iter()
        .map(|row| row.6)
        .max()
        .unwrap_or_else(Utc::now);
    let tickets = locked
        .into_iter()
        .map(
            |(id, remaining, held, last_seq, max_per_purchase, max_per_user, _)| {
                let state = TicketState {
                    remaining,
                    held,
                    last_seq,
                    max_per_purchase,
                    max_per_user,
                };
                (id, state)
            },
        )
        .collect();
    Ok((tickets, busy_keys.into_iter().collect(), now))
}

/// What a batch's orders name, to read under the locks.
#[derive(Debug, Default)]
struct Named {
    /// The keys this batch holds.
    keys: Vec<String>,
    /// The tickets with holds, whose expired holds are given back.
    with_holds: Vec<i64>,
    /// The holds confirmed or released.
    holds: Vec<Uuid>,
    /// The purchases cancelled.
    purchases: Vec<Uuid>,
    /// The buyers buying or holding tickets with a per-buyer limit.
    buyers: (Vec<i64>, Vec<Uuid>),
}

impl Named {
    fn of(orders: &[(&Order, Uuid)], tickets: &HashMap<i64, TicketState>) -> Self {
        let limited = |ticket: i64| {
            tickets
                .get(&ticket)
                .is_some_and(|t| t.max_per_user.is_some())
        };
        Self {
            keys: Vec::new(),
            with_holds: tickets
                .iter()
                .filter(|(_, t)| t.held > 0)
                .map(|(id, _)| *id)
                .collect(),
            holds: orders
                .iter()
                .filter_map(|(o, _)| match o.action {
                    Action::Confirm { hold } | Action::Release { hold } => Some(hold),
                    _ => None,
                })
                .collect(),
            purchases: orders
                .iter()
                .filter_map(|(o, _)| match o.action {
                    Action::Cancel { purchase } => Some(purchase),
                    _ => None,
                })
                .collect(),
            buyers: orders
                .iter()
                .filter(|(o, _)| limited(o.ticket.get()))
                .filter_map(|(o, _)| match o.action {
                    Action::Purchase(wanted) | Action::Hold { wanted, .. } => {
                        Some((o.ticket.get(), wanted.user_id))
                    }
                    _ => None,
                })
                .collect::<HashSet<_>>()
                .into_iter()
                .unzip(),
        }
    }
}

type KeyRow = (String, String, i16, Option<String>, Option<String>);

/// Reads what `named` names; the reads depend on none of each other, so
/// all go at once.
async fn read_named(
    conn: &AsyncPgConnection,
    named: Named,
    now: DateTime<Utc>,
    key_ttl: Duration,
) -> diesel::QueryResult<(
    Vec<KeyRow>,
    Vec<(HoldRow, Option<i32>, Option<i32>)>,
    Vec<(PurchaseRow, Option<i32>, Option<i32>)>,
    Vec<(i64, Uuid, i32, i32)>,
)> {
    let (mut c1, mut c2, mut c3, mut c4) = (conn, conn, conn, conn);
    let stored = async {
        if named.keys.is_empty() {
            return Ok(Vec::new());
        }
        FindKeys {
            keys: named.keys,
            cutoff: now - key_ttl,
        }
        .load::<KeyRow>(&mut c1)
        .await
    };
    let holds = async {
        if named.with_holds.is_empty() && named.holds.is_empty() {
            return Ok(Vec::new());
        }
        FindHolds {
            expired_of: named.with_holds,
            now,
            named: named.holds,
        }
        .load(&mut c2)
        .await
    };
    let purchases = async {
        if named.purchases.is_empty() {
            return Ok(Vec::new());
        }
        FindPurchases {
            ids: named.purchases,
        }
        .load(&mut c3)
        .await
    };
    let buyers = async {
        if named.buyers.0.is_empty() {
            return Ok(Vec::new());
        }
        FindBuyers {
            tickets: named.buyers.0,
            users: named.buyers.1,
        }
        .load(&mut c4)
        .await
    };
    futures::try_join!(stored, holds, purchases, buyers)
}

/// The statement that writes `writes`, decided at `at`: the rows' times
/// (bought, held, cancelled, ended) are `at`, as the answers say.
fn write(writes: Writes, at: DateTime<Utc>) -> WriteBatch {
    let Writes {
        tickets,
        buyers,
        new_purchases,
        cancelled,
        new_holds,
        ended_holds,
        answers,
        made_by,
        ended_by,
    } = writes;
    let who = |by: &HashMap<Uuid, Arc<str>>, id: &Uuid| by.get(id).map(ToString::to_string);
    let answers: Vec<(String, String, StoredResponse)> = answers
        .into_iter()
        .map(|(key, order, outcome)| {
            let answer = stored_answer(order.ticket, &order.action, &outcome);
            (key.key, key.fingerprint, answer)
        })
        .collect();
    let (stored_buyers, new_buyers): (Vec<_>, Vec<_>) =
        buyers.into_iter().partition(|(_, state)| state.stored);
    let ticket_limits: HashMap<i64, i32> = tickets
        .iter()
        .filter_map(|(id, t)| t.max_per_user.map(|max| (*id, max)))
        .collect();
    let tickets: Vec<(i64, TicketState)> = tickets.into_iter().collect();
    WriteBatch {
        at,
        ticket_ids: tickets.iter().map(|(id, _)| *id).collect(),
        remaining: tickets.iter().map(|(_, t)| t.remaining).collect(),
        held: tickets.iter().map(|(_, t)| t.held).collect(),
        last_seqs: tickets.iter().map(|(_, t)| t.last_seq).collect(),
        buyer_tickets: stored_buyers.iter().map(|((t, _), _)| *t).collect(),
        buyer_users: stored_buyers.iter().map(|((_, u), _)| *u).collect(),
        buyer_bought: stored_buyers.iter().map(|(_, b)| b.bought).collect(),
        buyer_held: stored_buyers.iter().map(|(_, b)| b.held).collect(),
        new_buyer_tickets: new_buyers.iter().map(|((t, _), _)| *t).collect(),
        new_buyer_users: new_buyers.iter().map(|((_, u), _)| *u).collect(),
        new_buyer_bought: new_buyers.iter().map(|(_, b)| b.bought).collect(),
        new_buyer_held: new_buyers.iter().map(|(_, b)| b.held).collect(),
        new_buyer_limits: new_buyers
            .iter()
            .map(|((t, _), _)| ticket_limits.get(t).copied().unwrap_or(i32::MAX))
            .collect(),
        purchase_ids: new_purchases.iter().map(|p| p.id).collect(),
        purchase_tickets: new_purchases.iter().map(|p| p.ticket_id).collect(),
        purchase_users: new_purchases.iter().map(|p| p.user_id).collect(),
        purchase_quantities: new_purchases.iter().map(|p| p.quantity).collect(),
        purchase_seqs: new_purchases.iter().map(|p| p.seq).collect(),
        purchase_holds: new_purchases.iter().map(|p| p.hold_id).collect(),
        purchase_makers: new_purchases.iter().map(|p| who(&made_by, &p.id)).collect(),
        cancelled_by: cancelled.iter().map(|id| who(&ended_by, id)).collect(),
        cancelled,
        hold_ids: new_holds.iter().map(|h| h.id).collect(),
        hold_tickets: new_holds.iter().map(|h| h.ticket_id).collect(),
        hold_users: new_holds.iter().map(|h| h.user_id).collect(),
        hold_quantities: new_holds.iter().map(|h| h.quantity).collect(),
        hold_expiries: new_holds.iter().map(|h| h.expires_at).collect(),
        hold_statuses: new_holds
            .iter()
            .map(|h| h.status.as_str().to_owned())
            .collect(),
        hold_purchases: new_holds.iter().map(|h| h.purchase_id).collect(),
        hold_makers: new_holds.iter().map(|h| who(&made_by, &h.id)).collect(),
        hold_enders: new_holds.iter().map(|h| who(&ended_by, &h.id)).collect(),
        ended_ids: ended_holds.iter().map(|(id, _, _)| *id).collect(),
        ended_statuses: ended_holds
            .iter()
            .map(|(_, status, _)| status.as_str().to_owned())
            .collect(),
        ended_purchases: ended_holds
            .iter()
            .map(|(_, _, purchase)| *purchase)
            .collect(),
        ended_by: ended_holds
            .iter()
            .map(|(id, _, _)| who(&ended_by, id))
            .collect(),
        keys: answers.iter().map(|(key, _, _)| key.clone()).collect(),
        fingerprints: answers.iter().map(|(_, f, _)| f.clone()).collect(),
        statuses: answers
            .iter()
            .map(|(_, _, answer)| i16::try_from(answer.status).unwrap_or(i16::MAX))
            .collect(),
        locations: answers
            .iter()
            .map(|(_, _, answer)| answer.location.clone())
            .collect(),
        bodies: answers
            .iter()
            .map(|(_, _, answer)| answer.body.clone())
            .collect(),
    }
}

statement! {
    /// Locks a batch's tickets, in id order, and reads their books, each
    /// row with the time once its lock is held. (The time is read outside
    /// the locking subquery: in its select list it would be read before the
    /// lock was waited for, as `now()` is read when the transaction begins.)
    LockTickets -> (Int8, Int4, Int4, Int8, Nullable<Int4>, Nullable<Int4>, Timestamptz) {
        "SELECT id, remaining, held, last_purchase_seq, max_per_purchase, max_per_user, \
                clock_timestamp() \
           FROM (SELECT id, remaining, held, last_purchase_seq, max_per_purchase, max_per_user \
                   FROM tickets WHERE id = ANY("
        tickets: Vec<i64> as Array<Int8>,
        ") ORDER BY id FOR UPDATE) AS locked"
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
    #[planned_each_time]
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
    /// The holds the orders name, and every expired hold still counted as
    /// held of the tickets that hold any; each with its buyer's counts under
    /// a per-buyer limit.
    FindHolds -> (
        (SqlUuid, Int8, SqlUuid, Int4, Text, Timestamptz, Timestamptz, Nullable<SqlUuid>),
        Nullable<Int4>,
        Nullable<Int4>,
    ) {
        "SELECT h.id, h.ticket_id, h.user_id, h.quantity, h.status, h.created_at, h.expires_at, \
                h.purchase_id, b.bought, b.held \
           FROM holds h LEFT JOIN ticket_buyers b \
             ON (b.ticket_id, b.user_id) = (h.ticket_id, h.user_id) \
          WHERE (h.status = 'held' AND h.ticket_id = ANY("
        expired_of: Vec<i64> as Array<Int8>,
        ") AND h.expires_at <= "
        now: DateTime<Utc> as Timestamptz,
        ") OR h.id = ANY("
        named: Vec<Uuid> as Array<SqlUuid>,
        ")"
    }
}

statement! {
    /// The purchases the orders name, each with its buyer's counts under a
    /// per-buyer limit.
    FindPurchases -> (
        (SqlUuid, Int8, SqlUuid, Int4, Timestamptz, Int8, Nullable<SqlUuid>, Nullable<Timestamptz>),
        Nullable<Int4>,
        Nullable<Int4>,
    ) {
        "SELECT p.id, p.ticket_id, p.user_id, p.quantity, p.purchased_at, p.seq, p.hold_id, \
                p.cancelled_at, b.bought, b.held \
           FROM purchases p LEFT JOIN ticket_buyers b \
             ON (b.ticket_id, b.user_id) = (p.ticket_id, p.user_id) \
          WHERE p.id = ANY("
        ids: Vec<Uuid> as Array<SqlUuid>,
        ")"
    }
}

statement! {
    /// What the buyers have of tickets with a per-buyer limit.
    FindBuyers -> (Int8, SqlUuid, Int4, Int4) {
        "SELECT b.ticket_id, b.user_id, b.bought, b.held FROM ticket_buyers b \
           JOIN unnest("
        tickets: Vec<i64> as Array<Int8>, ", "
        users: Vec<Uuid> as Array<SqlUuid>,
        ") AS w (ticket_id, user_id) ON (b.ticket_id, b.user_id) = (w.ticket_id, w.user_id)"
    }
}

statement! {
    /// How many purchases or holds have this id (0 or 1).
    RowsWithId -> Int8 {
        "SELECT count(*) FROM (SELECT id FROM purchases UNION ALL SELECT id FROM holds) AS made \
          WHERE id = "
        id: Uuid as SqlUuid,
        ""
    }
}

statement! {
    /// Writes what a batch decided under its locks, each row in its final
    /// state: tickets, buyers, new and cancelled purchases, new and ended
    /// holds, and the answers stored under keys (an expired key's row is
    /// replaced).
    WriteBatch {
        "WITH clock AS (SELECT "
        at: DateTime<Utc> as Timestamptz,
        "::timestamptz AS at), \
         tickets_now AS (UPDATE tickets t \
                                 SET remaining = d.remaining, held = d.held, last_purchase_seq = d.last_seq \
                                FROM unnest("
        ticket_ids: Vec<i64> as Array<Int8>, ", "
        remaining: Vec<i32> as Array<Int4>, ", "
        held: Vec<i32> as Array<Int4>, ", "
        last_seqs: Vec<i64> as Array<Int8>,
        ") AS d (id, remaining, held, last_seq) WHERE t.id = d.id), \
         buyers_now AS (UPDATE ticket_buyers b SET bought = d.bought, held = d.held \
                          FROM unnest("
        buyer_tickets: Vec<i64> as Array<Int8>, ", "
        buyer_users: Vec<Uuid> as Array<SqlUuid>, ", "
        buyer_bought: Vec<i32> as Array<Int4>, ", "
        buyer_held: Vec<i32> as Array<Int4>,
        ") AS d (ticket_id, user_id, bought, held) \
                         WHERE (b.ticket_id, b.user_id) = (d.ticket_id, d.user_id)), \
         new_buyers AS (INSERT INTO ticket_buyers (ticket_id, user_id, bought, held, max_per_user) \
                        SELECT * FROM unnest("
        new_buyer_tickets: Vec<i64> as Array<Int8>, ", "
        new_buyer_users: Vec<Uuid> as Array<SqlUuid>, ", "
        new_buyer_bought: Vec<i32> as Array<Int4>, ", "
        new_buyer_held: Vec<i32> as Array<Int4>, ", "
        new_buyer_limits: Vec<i32> as Array<Int4>,
        ")), \
         made AS (INSERT INTO purchases (id, ticket_id, user_id, quantity, seq, hold_id, made_by, \
                                         purchased_at) \
                  SELECT p.*, clock.at FROM clock, unnest("
        purchase_ids: Vec<Uuid> as Array<SqlUuid>, ", "
        purchase_tickets: Vec<i64> as Array<Int8>, ", "
        purchase_users: Vec<Uuid> as Array<SqlUuid>, ", "
        purchase_quantities: Vec<i32> as Array<Int4>, ", "
        purchase_seqs: Vec<i64> as Array<Int8>, ", "
        purchase_holds: Vec<Option<Uuid>> as Array<Nullable<SqlUuid>>, ", "
        purchase_makers: Vec<Option<String>> as Array<Nullable<Text>>,
        ") AS p), \
         cancelled AS (UPDATE purchases p SET cancelled_at = clock.at, cancelled_by = d.who \
                         FROM clock, unnest("
        cancelled: Vec<Uuid> as Array<SqlUuid>, ", "
        cancelled_by: Vec<Option<String>> as Array<Nullable<Text>>,
        ") AS d (id, who) WHERE p.id = d.id), \
         kept AS (INSERT INTO holds (id, ticket_id, user_id, quantity, created_at, expires_at, status, \
                                     ended_at, purchase_id, made_by, ended_by) \
                  SELECT id, ticket_id, user_id, quantity, clock.at, expires_at, status, \
                         CASE WHEN status = 'held' THEN NULL ELSE clock.at END, purchase, \
                         made_by, ended_by \
                    FROM clock, unnest("
        hold_ids: Vec<Uuid> as Array<SqlUuid>, ", "
        hold_tickets: Vec<i64> as Array<Int8>, ", "
        hold_users: Vec<Uuid> as Array<SqlUuid>, ", "
        hold_quantities: Vec<i32> as Array<Int4>, ", "
        hold_expiries: Vec<DateTime<Utc>> as Array<Timestamptz>, ", "
        hold_statuses: Vec<String> as Array<Text>, ", "
        hold_purchases: Vec<Option<Uuid>> as Array<Nullable<SqlUuid>>, ", "
        hold_makers: Vec<Option<String>> as Array<Nullable<Text>>, ", "
        hold_enders: Vec<Option<String>> as Array<Nullable<Text>>,
        ") AS h (id, ticket_id, user_id, quantity, expires_at, status, purchase, made_by, ended_by)), \
         ended AS (UPDATE holds h SET status = d.status, ended_at = clock.at, purchase_id = d.purchase, \
                                      ended_by = d.who \
                     FROM clock, unnest("
        ended_ids: Vec<Uuid> as Array<SqlUuid>, ", "
        ended_statuses: Vec<String> as Array<Text>, ", "
        ended_purchases: Vec<Option<Uuid>> as Array<Nullable<SqlUuid>>, ", "
        ended_by: Vec<Option<String>> as Array<Nullable<Text>>,
        ") AS d (id, status, purchase, who) WHERE h.id = d.id) \
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
