//! Tickets: creating them, and reading them, coalesced.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, Int4, Int8, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures::future::BoxFuture;

use std::collections::HashMap;

use super::coalescer::{BatchRunner, all_failed};
use super::pool::is_lost_connection;
use super::schema::tickets;
use super::statement::statement;
use super::{Pool, PooledConnection, StorageError};
use crate::domain::{NewTicket, TicketId};

/// A ticket as stored, with what is left to buy.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = tickets, check_for_backend(Pg))]
pub struct Ticket {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub remaining: i32,
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

/// Reads of tickets by id: all the reads waiting when a connection is free
/// go in one statement. A read joins only a batch that has not started, so
/// it sees every purchase answered before it began, in any replica.
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
            let found = match statement().load::<Ticket>(&mut conn).await {
                // A read changes nothing: run it again on a new connection.
                Err(error) if is_lost_connection(&error) => {
                    drop(conn);
                    match pool.get_owned().await {
                        Ok(mut conn) => statement().load::<Ticket>(&mut conn).await,
                        Err(error) => return all_failed(ids.len(), error.into()),
                    }
                }
                found => found,
            };
            match found {
                Ok(found) => {
                    let found: HashMap<i64, Ticket> =
                        found.into_iter().map(|t| (t.id, t)).collect();
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
    /// The tickets with these ids.
    FindTickets -> (Int8, Text, Text, Int4) {
        "SELECT id, name, description, remaining FROM tickets WHERE id = ANY("
        ids: Vec<i64> as Array<Int8>,
        ")"
    }
}
