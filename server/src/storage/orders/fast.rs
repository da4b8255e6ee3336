//! The fast path: purchases and holds without keys, one statement for every
//! ticket of the batch where all of them fit.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::result::{DatabaseErrorKind, Error as QueryError};
use diesel::sql_types::{Array, Int4, Int8, Nullable, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{Action, Order, Outcome};
use crate::storage::holds::{HoldRecord, HoldStatus};
use crate::storage::purchases::PurchaseRecord;
use crate::storage::statement::statement;

/// Whether `order` may take the fast path: a purchase or a hold, no key.
pub(super) fn takes(order: &Order) -> bool {
    order.key.is_none() && matches!(order.action, Action::Purchase(_) | Action::Hold { .. })
}

/// Whether the statement failed because a buyer would pass a per-buyer
/// limit: the `ticket_buyers` row refused it, so nothing of it happened.
pub(super) fn refused_by_a_limit(error: &QueryError) -> bool {
    matches!(
        error,
        QueryError::DatabaseError(DatabaseErrorKind::CheckViolation, info)
            if info.constraint_name() == Some("ticket_buyers_within_limit")
    )
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

/// Records the orders of every ticket where they all fit, in one statement;
/// returns each of those orders (by index) with its outcome.
pub(super) async fn record_where_all_fit(
    conn: &mut AsyncPgConnection,
    orders: &[Order],
    ids: &[Uuid],
) -> QueryResult<Vec<(usize, Outcome)>> {
    let sold: Vec<(i64, i64, DateTime<Utc>)> = RecordWhereAllFit {
        tickets: orders.iter().map(|o| o.ticket.get()).collect(),
        ids: ids.to_vec(),
        user_ids: orders.iter().map(|o| wanted(o).0).collect(),
        quantities: orders.iter().map(|o| wanted(o).1).collect(),
        lifetimes: orders.iter().map(lifetime_seconds).collect(),
    }
    .load(conn)
    .await?;
    let sold: HashMap<i64, (i64, DateTime<Utc>)> = sold
        .into_iter()
        .map(|(ticket, last_seq, now)| (ticket, (last_seq, now)))
        .collect();
    // Each sold ticket's purchases took its numbers up to `last_seq`, in order.
    let mut next_seq: HashMap<i64, i64> = HashMap::new();
    for (ticket, (last_seq, _)) in &sold {
        let made = orders
            .iter()
            .filter(|o| o.ticket.get() == *ticket && matches!(o.action, Action::Purchase(_)))
            .count();
        next_seq.insert(*ticket, last_seq - i64::try_from(made).unwrap_or(0) + 1);
    }
    Ok(orders
        .iter()
        .zip(ids)
        .enumerate()
        .filter_map(|(index, (order, &id))| {
            let ticket = order.ticket.get();
            let &(_, now) = sold.get(&ticket)?;
            let (user_id, quantity) = wanted(order);
            let outcome = if let Action::Hold { lifetime, .. } = order.action {
                Outcome::Held(HoldRecord {
                    id,
                    ticket_id: ticket,
                    user_id,
                    quantity,
                    status: HoldStatus::Held,
                    created_at: now,
                    expires_at: now
                        + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::MAX),
                    purchase_id: None,
                })
            } else {
                let seq = next_seq.get_mut(&ticket)?;
                let record = PurchaseRecord {
                    id,
                    ticket_id: ticket,
                    user_id,
                    quantity,
                    purchased_at: now,
                    seq: *seq,
                    hold_id: None,
                    cancelled_at: None,
                };
                *seq += 1;
                Outcome::Purchased(record)
            };
            Some((index, outcome))
        })
        .collect())
}

statement! {
    /// [`record_where_all_fit`]'s statement. `locked` takes the row locks in
    /// ticket order before `sold` changes any row. `buyers` adds to each
    /// buyer's count under a per-buyer limit; a buyer past it fails the
    /// whole statement (the row's CHECK), and the batch goes the locked way.
    RecordWhereAllFit -> (Int8, Int8, Timestamptz) {
        "WITH wanted AS (SELECT * FROM unnest("
        tickets: Vec<i64> as Array<Int8>, ", "
        ids: Vec<Uuid> as Array<SqlUuid>, ", "
        user_ids: Vec<Uuid> as Array<SqlUuid>, ", "
        quantities: Vec<i32> as Array<Int4>, ", "
        lifetimes: Vec<Option<i32>> as Array<Nullable<Int4>>,
        ") WITH ORDINALITY AS w (ticket_id, id, user_id, quantity, lifetime, ord)), \
         totals AS (SELECT ticket_id, sum(quantity) AS total, max(quantity) AS largest, \
                           COALESCE(sum(quantity) FILTER (WHERE lifetime IS NOT NULL), 0) AS held, \
                           count(*) FILTER (WHERE lifetime IS NULL) AS made \
                      FROM wanted GROUP BY ticket_id), \
         locked AS (SELECT t.id FROM tickets t JOIN totals ON totals.ticket_id = t.id \
                     ORDER BY t.id FOR UPDATE OF t), \
         sold AS (UPDATE tickets t \
                     SET remaining = t.remaining - totals.total, \
                         held = t.held + totals.held, \
                         last_purchase_seq = t.last_purchase_seq + totals.made \
                    FROM totals, locked \
                   WHERE t.id = totals.ticket_id AND locked.id = t.id \
                     AND t.remaining >= totals.total \
                     AND (t.max_per_purchase IS NULL OR totals.largest <= t.max_per_purchase) \
               RETURNING t.id, t.last_purchase_seq, totals.made, t.max_per_user), \
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
         made AS (INSERT INTO purchases (id, ticket_id, user_id, quantity, seq) \
                  SELECT w.id, w.ticket_id, w.user_id, w.quantity, \
                         sold.last_purchase_seq - sold.made \
                           + row_number() OVER (PARTITION BY w.ticket_id ORDER BY w.ord) \
                    FROM wanted w JOIN sold ON sold.id = w.ticket_id \
                   WHERE w.lifetime IS NULL), \
         kept AS (INSERT INTO holds (id, ticket_id, user_id, quantity, expires_at) \
                  SELECT w.id, w.ticket_id, w.user_id, w.quantity, \
                         now() + make_interval(secs => w.lifetime) \
                    FROM wanted w JOIN sold ON sold.id = w.ticket_id \
                   WHERE w.lifetime IS NOT NULL) \
         SELECT id, last_purchase_seq, now() FROM sold"
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
            let (user_id, quantity) = wanted(order);
            let ticket_id = order.ticket.get();
            let outcome = if let Some(&(seq, purchased_at)) = purchases.get(&id) {
                Outcome::Purchased(PurchaseRecord {
                    id,
                    ticket_id,
                    user_id,
                    quantity,
                    purchased_at,
                    seq,
                    hold_id: None,
                    cancelled_at: None,
                })
            } else {
                let &(created_at, expires_at) = holds.get(&id)?;
                Outcome::Held(HoldRecord {
                    id,
                    ticket_id,
                    user_id,
                    quantity,
                    status: HoldStatus::Held,
                    created_at,
                    expires_at,
                    purchase_id: None,
                })
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
