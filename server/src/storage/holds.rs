//! Holds as stored: tickets kept for a buyer during checkout.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Int4, Int8, Timestamptz};
use diesel_async::RunQueryDsl;

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
/// database's time now (to tell whether it expired).
pub async fn find_hold(
    pool: &Pool,
    ticket: TicketId,
    hold_id: uuid::Uuid,
) -> Result<Option<(HoldRecord, DateTime<Utc>)>, StorageError> {
    read(pool, |conn| {
        Box::pin(async move {
            let hold = holds::table
                .find(hold_id)
                .filter(holds::ticket_id.eq(ticket.get()))
                .select((
                    HoldRow::as_select(),
                    diesel::dsl::sql::<Timestamptz>("now()"),
                ))
                .first::<(HoldRow, DateTime<Utc>)>(conn)
                .await
                .optional()?;
            Ok(hold.map(|(row, now)| (HoldRecord::from(row), now)))
        })
    })
    .await
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
