use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::purchases::PurchaseRecord;
use super::schema::tickets;
use super::{Pool, StorageError};
use crate::domain::{NewTicket, PurchaseRequest, TicketId};

/// A ticket as stored, with what is left to buy.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = tickets, check_for_backend(Pg))]
pub struct Ticket {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub remaining: i32,
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

/// Creates a ticket with all of its allocation left to buy.
pub async fn create_ticket(pool: &Pool, ticket: &NewTicket) -> Result<Ticket, StorageError> {
    let mut conn = pool.get().await?;
    Ok(create_ticket_on(&mut conn, ticket).await?)
}

/// [`create_ticket`] on a connection the caller holds.
pub async fn create_ticket_on(
    conn: &mut AsyncPgConnection,
    ticket: &NewTicket,
) -> QueryResult<Ticket> {
    diesel::insert_into(tickets::table)
        .values((
            tickets::name.eq(ticket.name.as_str()),
            tickets::description.eq(ticket.description.as_str()),
            tickets::allocation.eq(ticket.allocation.get()),
            tickets::remaining.eq(ticket.allocation.get()),
        ))
        .returning(Ticket::as_returning())
        .get_result(conn)
        .await
}

/// The ticket with this id, if there is one.
pub async fn find_ticket(pool: &Pool, id: TicketId) -> Result<Option<Ticket>, StorageError> {
    let mut conn = pool.get().await?;
    let ticket = tickets::table
        .find(id.get())
        .select(Ticket::as_select())
        .first(&mut conn)
        .await
        .optional()?;
    Ok(ticket)
}

/// Decides a batch of purchases of one ticket, in arrival order, each all
/// or nothing, and records the ones that fit: one outcome per request, in
/// the same order.
///
/// The common case is one statement: a conditional decrement of the whole
/// batch's quantity and the insert of its purchase rows, atomic together.
/// Concurrent batches, in this process or in other replicas, queue on the
/// ticket's row lock and each sees what the previous one left, so the
/// allocation can never be oversold. When the whole batch does not fit,
/// the ticket's row is locked and each buyer is decided in turn under that
/// lock; the same conditional statement then records those that fit.
pub async fn purchase_batch(
    pool: &Pool,
    id: TicketId,
    requests: &[PurchaseRequest],
) -> Result<Vec<PurchaseOutcome>, StorageError> {
    let mut conn = pool.get().await?;
    Ok(purchase_batch_on(&mut conn, id, requests).await?)
}

/// [`purchase_batch`] on a connection the caller holds, possibly inside the
/// caller's transaction.
pub async fn purchase_batch_on(
    conn: &mut AsyncPgConnection,
    id: TicketId,
    requests: &[PurchaseRequest],
) -> QueryResult<Vec<PurchaseOutcome>> {
    // Time-ordered ids, made here so each buyer knows its row's id.
    let purchase_ids: Vec<uuid::Uuid> = requests.iter().map(|_| uuid::Uuid::now_v7()).collect();
    if let Some(records) = record_if_all_fit(conn, id, requests, &purchase_ids).await? {
        return Ok(records
            .into_iter()
            .map(PurchaseOutcome::Purchased)
            .collect());
    }
    conn.transaction(async |conn| {
        let remaining = tickets::table
            .find(id.get())
            .select(tickets::remaining)
            .for_update()
            .first::<i32>(conn)
            .await
            .optional()?;
        let Some(remaining) = remaining else {
            return Ok(vec![PurchaseOutcome::UnknownTicket; requests.len()]);
        };
        let fits = decide_in_order(remaining, requests);
        let (fitting, fitting_ids): (Vec<PurchaseRequest>, Vec<uuid::Uuid>) = requests
            .iter()
            .zip(&purchase_ids)
            .zip(&fits)
            .filter(|(_, fit)| fit.is_ok())
            .map(|((request, id), _)| (*request, *id))
            .unzip();
        let mut records = if fitting.is_empty() {
            Vec::new()
        } else {
            // Impossible to fail while the row is locked; refuse rather than guess.
            record_if_all_fit(conn, id, &fitting, &fitting_ids)
                .await?
                .ok_or(diesel::result::Error::RollbackTransaction)?
        }
        .into_iter();
        Ok(fits
            .into_iter()
            .map(|fit| match fit {
                Ok(()) => records
                    .next()
                    .map_or(PurchaseOutcome::UnknownTicket, PurchaseOutcome::Purchased),
                Err(remaining) => PurchaseOutcome::NotEnoughLeft { remaining },
            })
            .collect())
    })
    .await
}

/// Takes the requests' total quantity from the ticket and inserts a purchase
/// row per request, in one statement, if the whole total is left; returns
/// the records, in the requests' order, if it was.
async fn record_if_all_fit(
    conn: &mut AsyncPgConnection,
    id: TicketId,
    requests: &[PurchaseRequest],
    purchase_ids: &[uuid::Uuid],
) -> QueryResult<Option<Vec<PurchaseRecord>>> {
    let total: i64 = requests.iter().map(|r| i64::from(r.quantity.get())).sum();
    let Ok(total) = i32::try_from(total) else {
        return Ok(None); // more than any allocation can hold
    };
    let count =
        i32::try_from(requests.len()).map_err(|_| diesel::result::Error::RollbackTransaction)?;
    let mut inserted: Vec<(uuid::Uuid, i64, DateTime<Utc>)> = RecordIfAllFit {
        ticket: id.get(),
        total,
        count,
        purchase_ids: purchase_ids.to_vec(),
        user_ids: requests.iter().map(|r| r.user_id).collect(),
        quantities: requests.iter().map(|r| r.quantity.get()).collect(),
    }
    .load(conn)
    .await?;
    if inserted.len() != requests.len() {
        return Ok(None);
    }
    // Numbers follow the requests' order.
    inserted.sort_unstable_by_key(|(_, seq, _)| *seq);
    Ok(Some(
        inserted
            .into_iter()
            .zip(requests)
            .map(
                |((purchase_id, seq, purchased_at), request)| PurchaseRecord {
                    id: purchase_id,
                    ticket_id: id.get(),
                    user_id: request.user_id,
                    quantity: request.quantity.get(),
                    purchased_at,
                    seq,
                },
            )
            .collect(),
    ))
}

/// The statement of [`record_if_all_fit`]. A query type of its own rather
/// than `sql_query`, so that it has a static query id and each connection
/// prepares it once: planning it anew for every batch cost the database
/// more than running it.
#[derive(Debug, QueryId)]
struct RecordIfAllFit {
    ticket: i64,
    total: i32,
    count: i32,
    purchase_ids: Vec<uuid::Uuid>,
    user_ids: Vec<uuid::Uuid>,
    quantities: Vec<i32>,
}

impl Query for RecordIfAllFit {
    type SqlType = (
        diesel::sql_types::Uuid,
        diesel::sql_types::Int8,
        diesel::sql_types::Timestamptz,
    );
}

impl QueryFragment<Pg> for RecordIfAllFit {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{Array, Int4, Int8, Uuid};
        // The purchases take the ticket's next numbers in the same UPDATE
        // that takes their tickets, under its row lock: see the migration
        // purchase_order.
        out.push_sql("WITH sold AS (UPDATE tickets SET remaining = remaining - ");
        out.push_bind_param::<Int4, _>(&self.total)?;
        out.push_sql(", last_purchase_seq = last_purchase_seq + ");
        out.push_bind_param::<Int4, _>(&self.count)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Int8, _>(&self.ticket)?;
        out.push_sql(" AND remaining >= ");
        out.push_bind_param::<Int4, _>(&self.total)?;
        out.push_sql(
            " RETURNING id, last_purchase_seq) \
             INSERT INTO purchases (id, ticket_id, user_id, quantity, seq) \
             SELECT bought.id, sold.id, bought.user_id, bought.quantity, \
                    sold.last_purchase_seq - ",
        );
        out.push_bind_param::<Int4, _>(&self.count)?;
        out.push_sql(
            " + bought.ord \
             FROM sold, unnest(",
        );
        out.push_bind_param::<Array<Uuid>, _>(&self.purchase_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Uuid>, _>(&self.user_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Int4>, _>(&self.quantities)?;
        out.push_sql(
            ") WITH ORDINALITY AS bought (id, user_id, quantity, ord) \
             RETURNING id, seq, purchased_at",
        );
        Ok(())
    }
}

/// Each buyer in turn gets their tickets if that many are still left:
/// `Ok(())` for those who do, `Err(remaining)` with what was left for those
/// who do not.
fn decide_in_order(mut remaining: i32, requests: &[PurchaseRequest]) -> Vec<Result<(), i32>> {
    requests
        .iter()
        .map(|request| {
            let quantity = request.quantity.get();
            if quantity <= remaining {
                remaining -= quantity;
                Ok(())
            } else {
                Err(remaining)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Quantity;
    use rstest::rstest;

    fn requests(quantities: &[u32]) -> Vec<PurchaseRequest> {
        quantities
            .iter()
            .map(|&q| PurchaseRequest {
                quantity: Quantity::try_from(q).expect("valid quantity"),
                user_id: uuid::Uuid::nil(),
            })
            .collect()
    }

    #[rstest]
    #[case::all_fit(5, &[1, 2, 2], &[None, None, None])]
    #[case::later_ones_do_not_fit(3, &[2, 2, 1], &[None, Some(1), None])]
    #[case::a_smaller_later_one_still_fits(4, &[3, 5, 1], &[None, Some(1), None])]
    #[case::nothing_left(0, &[1, 1], &[Some(0), Some(0)])]
    fn buyers_are_decided_in_arrival_order(
        #[case] remaining: i32,
        #[case] quantities: &[u32],
        #[case] refused_with: &[Option<i32>],
    ) {
        let expected: Vec<Result<(), i32>> =
            refused_with.iter().map(|r| r.map_or(Ok(()), Err)).collect();
        assert_eq!(decide_in_order(remaining, &requests(quantities)), expected);
    }
}
