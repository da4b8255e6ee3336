//! The fast path: purchases and holds, one statement for every ticket of the
//! batch where all of them fit.
//!
//! A keyed order takes it when its key is free: no answer is stored under
//! it (live or expired) and no other transaction holds it. Its answer is
//! then stored by the same statement, so it commits exactly with its change.
//! The answer's body is rendered here, before the statement runs, with
//! marks where the number, times and expiry go that only the statement
//! knows; the statement writes them in as the server writes them in JSON.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, TimeZone, Utc};
use diesel::QueryResult;
use diesel::result::{DatabaseErrorKind, Error as QueryError};
use diesel::sql_types::{Array, Int2, Int4, Int8, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{Action, Order, Outcome};
use crate::storage::holds::{HoldRecord, HoldStatus};
use crate::storage::idempotency::StoredResponse;
use crate::storage::purchases::PurchaseRecord;
use crate::storage::statement::statement;

/// Whether every order of a batch may take the fast path: each a purchase
/// or a hold, and no key sent twice (the second waits for the first's
/// answer, which the locked path gives).
pub(super) fn takes_all(orders: &[Order]) -> bool {
    let mut keys = HashSet::new();
    orders.iter().all(|order| {
        matches!(order.action, Action::Purchase(_) | Action::Hold { .. })
            && order.key.as_ref().is_none_or(|key| keys.insert(&key.key))
    })
}

/// Whether the statement was refused by the schema, so that nothing of it
/// happened and the locked path must decide its orders: a buyer would pass
/// a per-buyer limit (the `ticket_buyers` row's CHECK), or an answer was
/// stored under one of its keys after the statement looked (the key's
/// primary key).
pub(super) fn refused(error: &QueryError) -> bool {
    let QueryError::DatabaseError(kind, info) = error else {
        return false;
    };
    match kind {
        DatabaseErrorKind::CheckViolation => {
            info.constraint_name() == Some("ticket_buyers_within_limit")
        }
        DatabaseErrorKind::UniqueViolation => {
            info.constraint_name() == Some("idempotency_keys_pkey")
        }
        _ => false,
    }
}

/// The lifetime of a hold, in whole seconds (`None` for a purchase).
fn lifetime_seconds(order: &Order) -> Option<i32> {
    match order.action {
        Action::Hold { lifetime, .. } => {
            Some(i32::try_from(lifetime.as_secs()).unwrap_or(i32::MAX))
        }
        _ => None,
    }
}

fn wanted(order: &Order) -> (Uuid, i32) {
    match order.action {
        Action::Purchase(wanted) | Action::Hold { wanted, .. } => {
            (wanted.user_id, wanted.quantity.get())
        }
        _ => (Uuid::nil(), 0),
    }
}

/// The outcome of `order` (a purchase or a hold) recorded as the row `id`:
/// a purchase numbered `seq` at `at`, or a hold made at `at`, expiring at
/// `expires_at`.
fn recorded(
    order: &Order,
    id: Uuid,
    seq: i64,
    at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Outcome {
    let (user_id, quantity) = wanted(order);
    let ticket_id = order.ticket.get();
    if matches!(order.action, Action::Hold { .. }) {
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

/// The marks in an answer rendered before the statement, for what only the
/// statement knows; none can occur in an answer otherwise: the server's
/// times have at most 6 fractional digits, no answer of a purchase or hold
/// has free text, and the number's mark (18 digits) could only be part of
/// a ticket id past 987,654,321,987,654,321, which an identity counting
/// from 1 does not reach.
struct Marks {
    seq: i64,
    at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    /// The marks as they read in the rendered JSON.
    seq_text: String,
    at_text: String,
    expires_at_text: String,
}

static MARKS: LazyLock<Marks> = LazyLock::new(|| {
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
fn answer_template(order: &Order, id: Uuid) -> Option<StoredResponse> {
    let key = order.key.as_ref()?;
    let marks = &*MARKS;
    let outcome = recorded(order, id, marks.seq, marks.at, marks.expires_at);
    Some((key.answer)(order.ticket, &order.action, &outcome))
}

/// Each order's place among the batch's purchases of its ticket, from 1
/// (0 for a hold): a purchase takes the ticket's next numbers in that order.
fn places(orders: &[Order]) -> Vec<i32> {
    let mut made: HashMap<i64, i32> = HashMap::new();
    orders
        .iter()
        .map(|order| match order.action {
            Action::Purchase(_) => {
                let place = made.entry(order.ticket.get()).or_default();
                *place += 1;
                *place
            }
            _ => 0,
        })
        .collect()
}

/// Records the orders of every ticket where they all fit, in one statement;
/// returns each of those orders (by index) with its outcome.
pub(super) async fn record_where_all_fit(
    conn: &mut AsyncPgConnection,
    orders: &[Order],
    ids: &[Uuid],
) -> QueryResult<Vec<(usize, Outcome)>> {
    // A batch without keys sends the key columns empty: `unnest` reads
    // them as NULLs, without a NULL sent for each order and column.
    let keyed = if orders.iter().any(|o| o.key.is_some()) {
        orders
    } else {
        &[]
    };
    let answers: Vec<Option<StoredResponse>> = keyed
        .iter()
        .zip(ids)
        .map(|(order, &id)| answer_template(order, id))
        .collect();
    let marks = &*MARKS;
    let places = places(orders);
    let sold: Vec<(i64, i64, i64, DateTime<Utc>)> = RecordWhereAllFit {
        tickets: orders.iter().map(|o| o.ticket.get()).collect(),
        ids: ids.to_vec(),
        user_ids: orders.iter().map(|o| wanted(o).0).collect(),
        quantities: orders.iter().map(|o| wanted(o).1).collect(),
        lifetimes: orders.iter().map(lifetime_seconds).collect(),
        places: places.clone(),
        keys: keyed
            .iter()
            .map(|o| o.key.as_ref().map(|k| k.key.clone()))
            .collect(),
        fingerprints: keyed
            .iter()
            .map(|o| o.key.as_ref().map(|k| k.fingerprint.clone()))
            .collect(),
        statuses: answers
            .iter()
            .map(|a| {
                a.as_ref()
                    .map(|a| i16::try_from(a.status).unwrap_or(i16::MAX))
            })
            .collect(),
        locations: answers
            .iter()
            .map(|a| a.as_ref().and_then(|a| a.location.clone()))
            .collect(),
        bodies: answers
            .into_iter()
            .map(|a| a.and_then(|a| a.body))
            .collect(),
        seq_mark: marks.seq_text.clone(),
        at_mark: marks.at_text.clone(),
        expires_at_mark: marks.expires_at_text.clone(),
    }
    .load(conn)
    .await?;
    // Each sold ticket's number before the batch (a purchase took that
    // plus its place, as the statement wrote it) and its time.
    let sold: HashMap<i64, (i64, DateTime<Utc>)> = sold
        .into_iter()
        .map(|(ticket, last_seq, made, at)| (ticket, (last_seq - made, at)))
        .collect();
    Ok(orders
        .iter()
        .zip(ids)
        .zip(places)
        .enumerate()
        .filter_map(|(index, ((order, &id), place))| {
            let &(seq_before, at) = sold.get(&order.ticket.get())?;
            let outcome = if let Action::Hold { lifetime, .. } = order.action {
                let expires_at =
                    at + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::MAX);
                recorded(order, id, 0, at, expires_at)
            } else {
                recorded(order, id, seq_before + i64::from(place), at, at)
            };
            Some((index, outcome))
        })
        .collect())
}

statement! {
    /// [`record_where_all_fit`]'s statement. `totals` takes each key's
    /// advisory lock, without waiting, if no answer is stored under it; a
    /// ticket with a key it could not take is left to the locked path. (It
    /// looks a key up with a scalar subquery: an `EXISTS` may be planned as
    /// a hash of the whole table.)
    /// `locked` takes the row locks in ticket order before `sold` changes
    /// any row. `buyers` adds to each buyer's count under a per-buyer limit;
    /// a buyer past it fails the whole statement (the row's CHECK), as does
    /// an answer stored under a key after `totals` looked (its primary key),
    /// and the batch goes the locked way.
    /// Each ticket's time (`sold.at`: its purchases' and holds' times, and
    /// its holds' expiry) is read as `sold` returns its row, so once its row
    /// lock is held; `now()`, the transaction's start, would date them
    /// before the wait for the lock.
    RecordWhereAllFit -> (Int8, Int8, Int8, Timestamptz) {
        "WITH wanted AS (SELECT * FROM unnest("
        tickets: Vec<i64> as Array<Int8>, ", "
        ids: Vec<Uuid> as Array<SqlUuid>, ", "
        user_ids: Vec<Uuid> as Array<SqlUuid>, ", "
        quantities: Vec<i32> as Array<Int4>, ", "
        lifetimes: Vec<Option<i32>> as Array<Nullable<Int4>>, ", "
        places: Vec<i32> as Array<Int4>, ", "
        keys: Vec<Option<String>> as Array<Nullable<Text>>, ", "
        fingerprints: Vec<Option<String>> as Array<Nullable<Text>>, ", "
        statuses: Vec<Option<i16>> as Array<Nullable<Int2>>, ", "
        locations: Vec<Option<String>> as Array<Nullable<Text>>, ", "
        bodies: Vec<Option<String>> as Array<Nullable<Text>>,
        ") AS w (ticket_id, id, user_id, quantity, lifetime, place, key, fingerprint, status, location, body)), \
         totals AS (SELECT ticket_id, sum(quantity) AS total, max(quantity) AS largest, \
                           COALESCE(sum(quantity) FILTER (WHERE lifetime IS NOT NULL), 0) AS held, \
                           count(*) FILTER (WHERE lifetime IS NULL) AS made, \
                           bool_and(key IS NULL \
                                    OR ((SELECT true FROM idempotency_keys k WHERE k.key = w.key) IS NULL \
                                        AND pg_try_advisory_xact_lock(hashtextextended(key, 0)))) AS keys_free \
                      FROM wanted w GROUP BY ticket_id), \
         locked AS (SELECT t.id FROM tickets t JOIN totals ON totals.ticket_id = t.id \
                     WHERE totals.keys_free ORDER BY t.id FOR UPDATE OF t), \
         sold AS (UPDATE tickets t \
                     SET remaining = t.remaining - totals.total, \
                         held = t.held + totals.held, \
                         last_purchase_seq = t.last_purchase_seq + totals.made \
                    FROM totals, locked \
                   WHERE t.id = totals.ticket_id AND locked.id = t.id \
                     AND t.remaining >= totals.total \
                     AND (t.max_per_purchase IS NULL OR totals.largest <= t.max_per_purchase) \
               RETURNING t.id, t.last_purchase_seq, totals.made, t.max_per_user, \
                         clock_timestamp() AS at), \
         buyers AS (INSERT INTO ticket_buyers (ticket_id, user_id, bought, held, max_per_user) \
                    SELECT w.ticket_id, w.user_id, \
                           COALESCE(sum(w.quantity) FILTER (WHERE w.lifetime IS NULL), 0), \
                           COALESCE(sum(w.quantity) FILTER (WHERE w.lifetime IS NOT NULL), 0), \
                           sold.max_per_user \
                      FROM wanted w JOIN sold ON sold.id = w.ticket_id \
                     WHERE sold.max_per_user IS NOT NULL \
                     GROUP BY w.ticket_id, w.user_id, sold.max_per_user \
                    ON CONFLICT (ticket_id, user_id) DO UPDATE \
                       SET bought = ticket_buyers.bought + excluded.bought, \
                           held = ticket_buyers.held + excluded.held), \
         made AS (INSERT INTO purchases (id, ticket_id, user_id, quantity, seq, purchased_at) \
                  SELECT w.id, w.ticket_id, w.user_id, w.quantity, \
                         sold.last_purchase_seq - sold.made + w.place, sold.at \
                    FROM wanted w JOIN sold ON sold.id = w.ticket_id \
                   WHERE w.lifetime IS NULL), \
         kept AS (INSERT INTO holds (id, ticket_id, user_id, quantity, created_at, expires_at) \
                  SELECT w.id, w.ticket_id, w.user_id, w.quantity, sold.at, \
                         sold.at + make_interval(secs => w.lifetime) \
                    FROM wanted w JOIN sold ON sold.id = w.ticket_id \
                   WHERE w.lifetime IS NOT NULL), \
         answered AS (INSERT INTO idempotency_keys (key, fingerprint, status, location, body) \
                      SELECT w.key, w.fingerprint, w.status, w.location, \
                             replace(replace(replace(w.body, "
        seq_mark: String as Text, ", (sold.last_purchase_seq - sold.made + w.place)::text), "
        at_mark: String as Text, ", rfc3339_utc(sold.at)), "
        expires_at_mark: String as Text, ", \
                                     COALESCE(rfc3339_utc(sold.at + make_interval(secs => w.lifetime)), '')) \
                        FROM wanted w JOIN sold ON sold.id = w.ticket_id \
                       WHERE w.key IS NOT NULL) \
         SELECT id, last_purchase_seq, made, at FROM sold"
    }
}

/// The orders whose rows exist, with their outcomes: after a connection
/// was lost, what its statement had committed.
pub(super) async fn find_made(
    conn: &mut AsyncPgConnection,
    orders: &[Order],
    ids: &[Uuid],
) -> QueryResult<Vec<(usize, Outcome)>> {
    let purchases: HashMap<Uuid, (i64, DateTime<Utc>)> = FindPurchases { ids: ids.to_vec() }
        .load::<(Uuid, i64, DateTime<Utc>)>(conn)
        .await?
        .into_iter()
        .map(|(id, seq, at)| (id, (seq, at)))
        .collect();
    let holds: HashMap<Uuid, (DateTime<Utc>, DateTime<Utc>)> = FindHolds { ids: ids.to_vec() }
        .load::<(Uuid, DateTime<Utc>, DateTime<Utc>)>(conn)
        .await?
        .into_iter()
        .map(|(id, created, expires)| (id, (created, expires)))
        .collect();
    Ok(orders
        .iter()
        .zip(ids)
        .enumerate()
        .filter_map(|(index, (order, &id))| {
            let outcome = if let Some(&(seq, purchased_at)) = purchases.get(&id) {
                recorded(order, id, seq, purchased_at, purchased_at)
            } else {
                let &(created_at, expires_at) = holds.get(&id)?;
                recorded(order, id, 0, created_at, expires_at)
            };
            Some((index, outcome))
        })
        .collect())
}

statement! {
    /// The purchases among `ids` that exist.
    FindPurchases -> (SqlUuid, Int8, Timestamptz) {
        "SELECT id, seq, purchased_at FROM purchases WHERE id = ANY("
        ids: Vec<Uuid> as Array<SqlUuid>,
        ")"
    }
}

statement! {
    /// The holds among `ids` that exist.
    FindHolds -> (SqlUuid, Timestamptz, Timestamptz) {
        "SELECT id, created_at, expires_at FROM holds WHERE id = ANY("
        ids: Vec<Uuid> as Array<SqlUuid>,
        ")"
    }
}
