//! Holds as stored: tickets kept for a buyer during checkout.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::query_builder::QueryFragment;
use diesel::sql_types::{Int4, Int8, Timestamptz};
use diesel_async::methods::LoadQuery;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::schema::holds;
use super::statement::statement;
use super::{Pool, StorageError, read};
use crate::domain::TicketId;
use crate::domain::orders::{HoldRecord, HoldStatus};

/// A hold's row, as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = holds, check_for_backend(diesel::pg::Pg))]
pub(super) struct HoldRow {
    id: uuid::Uuid,
    ticket_id: i64,
    user_id: uuid::Uuid,
    quantity: i32,
    status: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    purchase_id: Option<uuid::Uuid>,
}

impl From<HoldRow> for HoldRecord {
    fn from(row: HoldRow) -> Self {
        Self {
            id: row.id,
            ticket_id: row.ticket_id,
            user_id: row.user_id,
            quantity: row.quantity,
            status: HoldStatus::parse(&row.status),
            created_at: row.created_at,
            expires_at: row.expires_at,
            purchase_id: row.purchase_id,
        }
    }
}

/// The hold `hold_id` of ticket `ticket`, if there is one, and the
/// database's time when it was read (to tell whether it expired).
///
/// A hold that looks expired is read again once the ticket's row lock is
/// free: a confirmation decided under that lock before the hold expired may
/// not have committed yet, and a hold once answered expired must stay so.
/// Every decision taken under the lock is then either seen or taken after
/// this read, at a later time.
pub async fn find_hold(
    pool: &Pool,
    ticket: TicketId,
    hold_id: uuid::Uuid,
) -> Result<Option<(HoldRecord, DateTime<Utc>)>, StorageError> {
    let found = read(pool, |conn| Box::pin(hold_now(conn, ticket, hold_id))).await?;
    match found {
        Some((hold, now)) if hold.status == HoldStatus::Held && hold.expires_at <= now => {
            read(pool, |conn| {
                Box::pin(conn.transaction(async move |conn| {
                    WaitForTicketLock {
                        ticket: ticket.get(),
                    }
                    .execute(conn)
                    .await?;
                    hold_now(conn, ticket, hold_id).await
                }))
            })
            .await
        }
        found => Ok(found),
    }
}

/// The hold, with the time it was read at.
async fn hold_now(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    hold_id: uuid::Uuid,
) -> QueryResult<Option<(HoldRecord, DateTime<Utc>)>> {
    let hold = find_hold_query(hold_id, ticket.get())
        .get_result::<(HoldRow, DateTime<Utc>)>(conn)
        .await
        .optional()?;
    Ok(hold.map(|(row, now)| (HoldRecord::from(row), now)))
}

/// The hold `hold_id` of ticket `ticket` with the time it is read at:
/// `clock_timestamp()`, the clock decisions are taken by, not the (earlier)
/// start of the transaction.
pub(super) fn find_hold_query(
    hold_id: uuid::Uuid,
    ticket: i64,
) -> impl LoadQuery<'static, AsyncPgConnection, (HoldRow, DateTime<Utc>)>
+ QueryFragment<diesel::pg::Pg>
+ Send {
    holds::table
        .find(hold_id)
        .filter(holds::ticket_id.eq(ticket))
        .select((
            HoldRow::as_select(),
            diesel::dsl::sql::<Timestamptz>("clock_timestamp()"),
        ))
        .limit(1)
}

statement! {
    /// Waits until no other transaction holds the ticket's row lock, and
    /// keeps it from being taken until this transaction ends.
    WaitForTicketLock {
        "SELECT 1 FROM tickets WHERE id = "
        ticket: i64 as Int8,
        " FOR SHARE"
    }
}

/// Up to `limit` tickets with holds past their expiry that still count as
/// held: the sweeper gives their tickets back.
pub async fn tickets_with_expired_holds(
    pool: &Pool,
    limit: i32,
) -> Result<Vec<TicketId>, StorageError> {
    let ids: Vec<i64> = read(pool, |conn| {
        Box::pin(async move { TicketsWithExpiredHolds { limit }.load::<i64>(conn).await })
    })
    .await?;
    Ok(ids
        .into_iter()
        .filter_map(|id| TicketId::try_from(id).ok())
        .collect())
}

statement! {
    /// See [`tickets_with_expired_holds`]; the partial index on held holds
    /// answers it.
    TicketsWithExpiredHolds -> Int8 {
        "SELECT DISTINCT ticket_id FROM holds WHERE status = 'held' AND expires_at <= now() LIMIT "
        limit: i32 as Int4,
        ""
    }
}
