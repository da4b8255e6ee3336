//! The fast path: purchases and holds, one statement for every ticket of the
//! batch where all of them fit.
//!
//! A keyed order takes it when its key is free: no answer is stored under
//! it (live or expired) and no other transaction holds it. Its answer is
//! then stored by the same statement, so it commits exactly with its change
//! (rendered beforehand by `idempotency::template`, finished by the
//! statement).
//!
//! The statement keeps the box office's refusal rules as
//! `domain::orders::rules` states them in SQL (see the rule tests below).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::result::{DatabaseErrorKind, Error as QueryError};
use diesel::sql_types::{Array, Int2, Int4, Int8, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::domain::orders::{Action, Order, Outcome, StoredResponse};
use crate::idempotency::template::{MARKS, answer_template};
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
        user_ids: orders
            .iter()
            .map(|o| o.action.wanted().map_or(Uuid::nil(), |w| w.user_id))
            .collect(),
        quantities: orders
            .iter()
            .map(|o| o.action.wanted().map_or(0, |w| w.quantity.get()))
            .collect(),
        lifetimes: orders.iter().map(lifetime_seconds).collect(),
        places: places.clone(),
        makers: orders.iter().map(|o| o.made_by.to_string()).collect(),
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
                order.recorded(id, 0, at, expires_at)
            } else {
                order.recorded(id, seq_before + i64::from(place), at, at)
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
        makers: Vec<String> as Array<Text>, ", "
        keys: Vec<Option<String>> as Array<Nullable<Text>>, ", "
        fingerprints: Vec<Option<String>> as Array<Nullable<Text>>, ", "
        statuses: Vec<Option<i16>> as Array<Nullable<Int2>>, ", "
        locations: Vec<Option<String>> as Array<Nullable<Text>>, ", "
        bodies: Vec<Option<String>> as Array<Nullable<Text>>,
        ") AS w (ticket_id, id, user_id, quantity, lifetime, place, made_by, key, fingerprint, status, \
                 location, body)), \
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
         made AS (INSERT INTO purchases (id, ticket_id, user_id, quantity, seq, purchased_at, made_by) \
                  SELECT w.id, w.ticket_id, w.user_id, w.quantity, \
                         sold.last_purchase_seq - sold.made + w.place, sold.at, w.made_by \
                    FROM wanted w JOIN sold ON sold.id = w.ticket_id \
                   WHERE w.lifetime IS NULL), \
         kept AS (INSERT INTO holds (id, ticket_id, user_id, quantity, created_at, expires_at, made_by) \
                  SELECT w.id, w.ticket_id, w.user_id, w.quantity, sold.at, \
                         sold.at + make_interval(secs => w.lifetime), w.made_by \
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
                order.recorded(id, seq, purchased_at, purchased_at)
            } else {
                let &(created_at, expires_at) = holds.get(&id)?;
                order.recorded(id, 0, created_at, expires_at)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::orders::rules::Rule;

    /// The statement keeps each rule a batch can break as the domain states
    /// it; the per-buyer limit is the schema's (`ticket_buyers_within_limit`,
    /// held to the same text by the rule tests against PostgreSQL).
    #[test]
    fn the_statement_states_the_rules_as_the_domain_does() {
        let statement = RecordWhereAllFit {
            tickets: Vec::new(),
            ids: Vec::new(),
            user_ids: Vec::new(),
            quantities: Vec::new(),
            lifetimes: Vec::new(),
            places: Vec::new(),
            makers: Vec::new(),
            keys: Vec::new(),
            fingerprints: Vec::new(),
            statuses: Vec::new(),
            locations: Vec::new(),
            bodies: Vec::new(),
            seq_mark: String::new(),
            at_mark: String::new(),
            expires_at_mark: String::new(),
        };
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(&statement).to_string();
        for rule in [Rule::EnoughLeft, Rule::PerPurchase] {
            assert!(sql.contains(rule.sql()), "{rule:?} is not in the statement");
        }
    }
}
