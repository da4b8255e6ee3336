//! Purchases as records: read one, or a ticket's a page at a time.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::query_builder::QueryFragment;
use diesel_async::methods::LoadQuery;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{purchases, tickets};
use super::{Pool, StorageError, read};
use crate::domain::{PurchaseCursor, TicketId};

/// A purchase as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = purchases, check_for_backend(diesel::pg::Pg))]
pub struct PurchaseRecord {
    pub id: uuid::Uuid,
    pub ticket_id: i64,
    pub user_id: uuid::Uuid,
    pub quantity: i32,
    pub purchased_at: DateTime<Utc>,
    /// Its place among the ticket's purchases, in commit order, from 1.
    pub seq: i64,
    /// The hold it was confirmed from, if any.
    pub hold_id: Option<uuid::Uuid>,
    /// When it was cancelled, if it was.
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// A page of a ticket's purchases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchasePage {
    pub purchases: Vec<PurchaseRecord>,
    /// Whether more purchases follow the page.
    pub more: bool,
}

/// The purchase `purchase_id` of ticket `ticket`, if there is one.
pub async fn find_purchase(
    pool: &Pool,
    ticket: TicketId,
    purchase_id: uuid::Uuid,
) -> Result<Option<PurchaseRecord>, StorageError> {
    read(pool, |conn| {
        Box::pin(async move {
            purchases::table
                .find(purchase_id)
                .filter(purchases::ticket_id.eq(ticket.get()))
                .select(PurchaseRecord::as_select())
                .first(conn)
                .await
                .optional()
        })
    })
    .await
}

/// Up to `limit` purchases of `ticket` in the order they committed, after
/// the one numbered `after` if given; `None` when no ticket has this id.
pub async fn list_purchases(
    pool: &Pool,
    ticket: TicketId,
    limit: u32,
    after: Option<PurchaseCursor>,
) -> Result<Option<PurchasePage>, StorageError> {
    read(pool, |conn| {
        Box::pin(async move {
            // One more than the page holds, to know whether another page follows.
            let after = after.map_or(0, PurchaseCursor::seq);
            let mut purchases = page_query(ticket.get(), after, i64::from(limit) + 1)
                .load(conn)
                .await?;
            if purchases.is_empty() {
                // An empty page: tell an unknown ticket from one with no more purchases.
                let exists: bool =
                    diesel::select(diesel::dsl::exists(tickets::table.find(ticket.get())))
                        .get_result(conn)
                        .await?;
                if !exists {
                    return Ok(None);
                }
            }
            let more = purchases.len() > limit as usize;
            purchases.truncate(limit as usize);
            Ok(Some(PurchasePage { purchases, more }))
        })
    })
    .await
}

/// Up to `rows` purchases of `ticket` numbered after `after`, in number
/// order: a keyset page, read from the `(ticket_id, seq)` index.
pub(super) fn page_query(
    ticket: i64,
    after: i64,
    rows: i64,
) -> impl LoadQuery<'static, AsyncPgConnection, PurchaseRecord> + QueryFragment<diesel::pg::Pg> + Send
{
    purchases::table
        .filter(purchases::ticket_id.eq(ticket))
        .filter(purchases::seq.gt(after))
        .order(purchases::seq)
        .limit(rows)
        .select(PurchaseRecord::as_select())
}
