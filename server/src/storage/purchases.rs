//! Reading purchases back as records.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{purchases, tickets};
use super::{Pool, StorageError};
use crate::domain::TicketId;

/// A purchase as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = purchases, check_for_backend(diesel::pg::Pg))]
pub struct PurchaseRecord {
    pub id: uuid::Uuid,
    pub ticket_id: i64,
    pub user_id: uuid::Uuid,
    pub quantity: i32,
    pub purchased_at: DateTime<Utc>,
}

/// The purchase `purchase_id` of ticket `ticket`, if there is one.
pub async fn find_purchase(
    pool: &Pool,
    ticket: TicketId,
    purchase_id: uuid::Uuid,
) -> Result<Option<PurchaseRecord>, StorageError> {
    let mut conn = pool.get().await?;
    Ok(purchases::table
        .find(purchase_id)
        .filter(purchases::ticket_id.eq(ticket.get()))
        .select(PurchaseRecord::as_select())
        .first(&mut conn)
        .await
        .optional()?)
}

/// Up to `limit` purchases of `ticket` in id order (time order: ids are
/// UUIDv7), after the purchase `after` if given; `None` when no ticket has
/// this id.
pub async fn list_purchases(
    pool: &Pool,
    ticket: TicketId,
    limit: u32,
    after: Option<uuid::Uuid>,
) -> Result<Option<Vec<PurchaseRecord>>, StorageError> {
    let mut conn = pool.get().await?;
    let mut query = purchases::table
        .filter(purchases::ticket_id.eq(ticket.get()))
        .order(purchases::id)
        .limit(i64::from(limit))
        .select(PurchaseRecord::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(purchases::id.gt(after));
    }
    let page = query.load(&mut conn).await?;
    if page.is_empty() {
        // An empty page: tell an unknown ticket from one with no more purchases.
        let exists: bool = diesel::select(diesel::dsl::exists(tickets::table.find(ticket.get())))
            .get_result(&mut conn)
            .await?;
        if !exists {
            return Ok(None);
        }
    }
    Ok(Some(page))
}
