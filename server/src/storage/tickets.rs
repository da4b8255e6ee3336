//! Tickets: creating them, and reading them (coalesced) with their
//! availability.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, Int4, Int8, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures::future::BoxFuture;

use super::coalescer::{BatchRunner, all_failed};
use super::pool::is_lost_connection;
use super::schema::tickets;
use super::statement::statement;
use super::{Pool, PooledConnection, StorageError};
use crate::domain::{NewTicket, Quantity, TicketId};

/// A ticket as stored, with its availability at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// How many were put on sale.
    pub allocation: i32,
    /// How many are left to buy or hold.
    pub remaining: i32,
    /// How many live holds hold.
    pub held: i32,
    pub max_per_purchase: Option<i32>,
    pub max_per_user: Option<i32>,
}

impl Ticket {
    /// How many are bought (purchases not cancelled).
    pub fn sold(&self) -> i32 {
        self.allocation - self.remaining - self.held
    }
}

/// A ticket's row, as read, with what its expired holds still hold (they
/// count as free from the moment they expire).
type TicketRow = (
    i64,
    String,
    String,
    i32,
    i32,
    i32,
    Option<i32>,
    Option<i32>,
    i32,
);

fn ticket_from_row(row: TicketRow) -> Ticket {
    let (
        id,
        name,
        description,
        allocation,
        remaining,
        held,
        max_per_purchase,
        max_per_user,
        expired,
    ) = row;
    Ticket {
        id,
        name,
        description,
        allocation,
        remaining: remaining + expired,
        held: held - expired,
        max_per_purchase,
        max_per_user,
    }
}

/// Creates a ticket with all of its allocation left to buy.
pub async fn create_ticket(
    pool: &Pool,
    ticket: &NewTicket,
    creator: &Creator,
) -> Result<Ticket, StorageError> {
    let mut conn = pool.get().await?;
    Ok(create_ticket_on(&mut conn, ticket, creator).await?)
}

/// Who creates a ticket: the organiser it belongs to (`None` with
/// `AUTH_MODE=open`), and the caller as the audit column names it.
#[derive(Debug, Clone)]
pub struct Creator {
    pub organiser: Option<i64>,
    pub audit_name: String,
}

/// [`create_ticket`] on a connection the caller holds.
pub async fn create_ticket_on(
    conn: &mut AsyncPgConnection,
    ticket: &NewTicket,
    creator: &Creator,
) -> QueryResult<Ticket> {
    diesel::insert_into(tickets::table)
        .values((
            tickets::organiser_id.eq(creator.organiser),
            tickets::created_by.eq(creator.audit_name.as_str()),
            tickets::name.eq(ticket.name.as_str()),
            tickets::description.eq(ticket.description.as_str()),
            tickets::allocation.eq(ticket.allocation.get()),
            tickets::remaining.eq(ticket.allocation.get()),
            tickets::max_per_purchase.eq(ticket.max_per_purchase.map(Quantity::get)),
            tickets::max_per_user.eq(ticket.max_per_user.map(Quantity::get)),
        ))
        .returning((
            tickets::id,
            tickets::name,
            tickets::description,
            tickets::allocation,
            tickets::remaining,
            tickets::held,
            tickets::max_per_purchase,
            tickets::max_per_user,
            0.into_sql::<Int4>(),
        ))
        .load::<TicketRow>(conn)
        .await?
        // Read to its end, not taken at its first row: see `storage`.
        .pop()
        .map(ticket_from_row)
        .ok_or(diesel::result::Error::NotFound)
}

/// Whose ticket `ticket` is: `None` if there is no such ticket, else its
/// organiser (`None` for a ticket made with `AUTH_MODE=open`). A ticket's
/// organiser never changes, so an answer stays true.
pub async fn organiser_of(
    pool: &Pool,
    ticket: TicketId,
) -> Result<Option<Option<i64>>, StorageError> {
    let mut conn = pool.get().await?;
    Ok(tickets::table
        .find(ticket.get())
        .select(tickets::organiser_id)
        .first(&mut conn)
        .await
        .optional()?)
}

/// Reads of tickets by id: all the reads waiting when a connection is free
/// go in one statement. A read joins only a batch that has not started, so
/// it sees every change answered before it began, in any replica.
#[derive(Debug)]
pub struct TicketReads;

impl BatchRunner for TicketReads {
    type Job = TicketId;
    type Answer = Option<Ticket>;
    type Lane = TicketId;

    fn lane(_: &TicketId) -> Option<TicketId> {
        None
    }

    fn run<'a>(
        &'a self,
        pool: &'a Pool,
        mut conn: PooledConnection,
        ids: &'a [TicketId],
    ) -> BoxFuture<'a, Vec<Result<Option<Ticket>, StorageError>>> {
        Box::pin(async move {
            let statement = || FindTickets {
                ids: ids.iter().map(|id| id.get()).collect(),
            };
            let found = match statement().load::<TicketRow>(&mut conn).await {
                // A read changes nothing: run it again on a new connection.
                Err(error) if is_lost_connection(&error) => {
                    drop(conn);
                    match pool.get_owned().await {
                        Ok(mut conn) => statement().load::<TicketRow>(&mut conn).await,
                        Err(error) => return all_failed(ids.len(), error.into()),
                    }
                }
                found => found,
            };
            match found {
                Ok(found) => {
                    let found: HashMap<i64, Ticket> = found
                        .into_iter()
                        .map(|row| (row.0, ticket_from_row(row)))
                        .collect();
                    ids.iter()
                        .map(|id| Ok(found.get(&id.get()).cloned()))
                        .collect()
                }
                Err(error) => all_failed(ids.len(), error.into()),
            }
        })
    }
}

statement! {
    /// The tickets with these ids, each with what its expired holds still
    /// hold: one statement, so each answer is the books at one moment.
    /// Expiry is judged by `clock_timestamp()`, the clock decisions are
    /// taken by, which cannot run behind one already committed. The
    /// partial index on held holds answers the sum; a ticket holding none
    /// does not ask.
    FindTickets -> (Int8, Text, Text, Int4, Int4, Int4, Nullable<Int4>, Nullable<Int4>, Int4) {
        "SELECT t.id, t.name, t.description, t.allocation, t.remaining, t.held, \
                t.max_per_purchase, t.max_per_user, \
                CASE WHEN t.held = 0 THEN 0 ELSE \
                  (SELECT COALESCE(sum(h.quantity), 0)::integer FROM holds h \
                    WHERE h.ticket_id = t.id AND h.status = 'held' AND h.expires_at <= clock_timestamp()) \
                END \
           FROM tickets t WHERE t.id = ANY("
        ids: Vec<i64> as Array<Int8>,
        ")"
    }
}
