//! Purchases as records: read one, or a ticket's a page at a time.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::query_builder::QueryFragment;
use diesel_async::methods::LoadQuery;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::{purchases, tickets};
use super::{Pool, StorageError, read};
use crate::domain::orders::PurchaseRecord;
use crate::domain::{PurchaseCursor, TicketId};

/// A purchase's row, as stored.
#[derive(Debug, Clone, Copy, Queryable, Selectable)]
#[diesel(table_name = purchases, check_for_backend(diesel::pg::Pg))]
pub(super) struct PurchaseRow {
    id: Uuid,
    ticket_id: i64,
    user_id: Uuid,
    quantity: i32,
    purchased_at: DateTime<Utc>,
    seq: i64,
    hold_id: Option<Uuid>,
    cancelled_at: Option<DateTime<Utc>>,
}

impl From<PurchaseRow> for PurchaseRecord {
    fn from(row: PurchaseRow) -> Self {
        Self {
            id: row.id,
            ticket_id: row.ticket_id,
            user_id: row.user_id,
            quantity: row.quantity,
            purchased_at: row.purchased_at,
            seq: row.seq,
            hold_id: row.hold_id,
            cancelled_at: row.cancelled_at,
        }
    }
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
    purchase_id: Uuid,
) -> Result<Option<PurchaseRecord>, StorageError> {
    read(pool, |conn| {
        Box::pin(async move {
            purchases::table
                .find(purchase_id)
                .filter(purchases::ticket_id.eq(ticket.get()))
                .select(PurchaseRow::as_select())
                .first(conn)
                .await
                .optional()
        })
    })
    .await
    .map(|row| row.map(PurchaseRecord::from))
}

/// Up to `limit` purchases of `ticket` in the order they committed, after
/// the one numbered `after` if given; `None` when no ticket has this id.
pub async fn list_purchases(
    pool: &Pool,
    ticket: TicketId,
    limit: u32,
    after: Option<PurchaseCursor>,
    buyer: Option<Uuid>,
) -> Result<Option<PurchasePage>, StorageError> {
    read(pool, |conn| {
        Box::pin(async move {
            // One more than the page holds, to know whether another page follows.
            let after = after.map_or(0, PurchaseCursor::seq);
            let mut purchases: Vec<PurchaseRow> =
                page_query(ticket.get(), after, i64::from(limit) + 1, buyer)
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
            Ok(Some(PurchasePage {
                purchases: purchases.into_iter().map(PurchaseRecord::from).collect(),
                more,
            }))
        })
    })
    .await
}

/// Up to `rows` purchases of `ticket` numbered after `after` (only
/// `buyer`'s, if given), in number order: a keyset page, read from the
/// `(ticket_id, seq)` index. A buyer's page filters the ticket's purchases
/// as it goes: buyers list rarely, and an index for it would cost every
/// purchase.
pub(super) fn page_query(
    ticket: i64,
    after: i64,
    rows: i64,
    buyer: Option<Uuid>,
) -> impl LoadQuery<'static, AsyncPgConnection, PurchaseRow> + QueryFragment<diesel::pg::Pg> + Send
{
    let mut query = purchases::table
        .filter(purchases::ticket_id.eq(ticket))
        .filter(purchases::seq.gt(after))
        .order(purchases::seq)
        .limit(rows)
        .select(PurchaseRow::as_select())
        .into_boxed();
    if let Some(buyer) = buyer {
        query = query.filter(purchases::user_id.eq(buyer));
    }
    query
}
