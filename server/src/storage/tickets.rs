use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::schema::{purchases, tickets};
use super::{Pool, StorageError};
use crate::domain::{NewTicket, PurchaseRequest, TicketId};

/// A ticket as stored, with what is left to buy.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = tickets, check_for_backend(diesel::pg::Pg))]
pub struct Ticket {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub remaining: i32,
}

/// What became of a purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurchaseOutcome {
    /// The tickets were bought and the purchase recorded.
    Purchased,
    /// Fewer tickets are left than were asked for; nothing was bought.
    NotEnoughLeft { remaining: i32 },
    /// No ticket has this id.
    UnknownTicket,
}

/// Creates a ticket with all of its allocation left to buy.
pub async fn create_ticket(pool: &Pool, ticket: &NewTicket) -> Result<Ticket, StorageError> {
    let mut conn = pool.get().await?;
    let created = diesel::insert_into(tickets::table)
        .values((
            tickets::name.eq(ticket.name.as_str()),
            tickets::description.eq(ticket.description.as_str()),
            tickets::allocation.eq(ticket.allocation.get()),
            tickets::remaining.eq(ticket.allocation.get()),
        ))
        .returning(Ticket::as_returning())
        .get_result(&mut conn)
        .await?;
    Ok(created)
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

/// Buys `request.quantity` tickets, all or nothing.
///
/// The decision is one conditional decrement in SQL, so concurrent buyers,
/// in this process or in other replicas, queue on the ticket's row lock and
/// each sees the count the previous one left: the allocation can never be
/// oversold. The purchase row is written in the same transaction.
pub async fn purchase(
    pool: &Pool,
    id: TicketId,
    request: PurchaseRequest,
) -> Result<PurchaseOutcome, StorageError> {
    let mut conn = pool.get().await?;
    let quantity = request.quantity.get();
    let outcome = conn
        .transaction(async |conn| {
            let decremented = diesel::update(
                tickets::table
                    .find(id.get())
                    .filter(tickets::remaining.ge(quantity)),
            )
            .set(tickets::remaining.eq(tickets::remaining - quantity))
            .returning(tickets::id)
            .get_result::<i64>(conn)
            .await
            .optional()?;

            if decremented.is_none() {
                // Nothing was bought; read why, only to tell the buyer.
                let remaining = tickets::table
                    .find(id.get())
                    .select(tickets::remaining)
                    .first::<i32>(conn)
                    .await
                    .optional()?;
                return Ok::<_, diesel::result::Error>(match remaining {
                    Some(remaining) => PurchaseOutcome::NotEnoughLeft { remaining },
                    None => PurchaseOutcome::UnknownTicket,
                });
            }

            diesel::insert_into(purchases::table)
                .values((
                    purchases::ticket_id.eq(id.get()),
                    purchases::user_id.eq(request.user_id),
                    purchases::quantity.eq(quantity),
                ))
                .execute(conn)
                .await?;
            Ok(PurchaseOutcome::Purchased)
        })
        .await?;
    Ok(outcome)
}
