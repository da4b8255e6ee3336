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

/// The most of a ticket's purchases one buyer's page looks through.
///
/// A buyer's page filters the ticket's purchases by buyer as it reads them:
/// an index by buyer would cost every purchase (about 13% of a hot ticket's
/// rate when each purchase is a different buyer's, measured with wrk). So
/// that one request costs the database a bounded amount however many
/// purchases the ticket has (a scan of a million took 130 ms), a buyer's
/// page reads at most this many of them, and ends where it stopped.
pub const BUYER_PAGE_SCAN: i64 = 10_000;

/// A page of a ticket's purchases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchasePage {
    pub purchases: Vec<PurchaseRecord>,
    /// Where the next page starts, if any purchases may follow.
    pub next: Option<PurchaseCursor>,
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
/// the one numbered `after` if given (only `buyer`'s, if given: then from
/// at most [`BUYER_PAGE_SCAN`] of the ticket's purchases); `None` when no
/// ticket has this id.
pub async fn list_purchases(
    pool: &Pool,
    ticket: TicketId,
    limit: u32,
    after: Option<PurchaseCursor>,
    buyer: Option<Uuid>,
) -> Result<Option<PurchasePage>, StorageError> {
    read(pool, |conn| {
        Box::pin(async move {
            let after = after.map_or(0, PurchaseCursor::seq);
            // A buyer's page reads the purchases numbered up to `scanned`,
            // and may end there if the ticket had purchases past it before
            // the page was read: every purchase up to then had committed
            // (numbers follow commit order), so the page saw them all and
            // the next page can start past them.
            let window = match buyer {
                Some(_) => match last_purchase_number(conn, ticket).await? {
                    Some(last_made) => Some((after.saturating_add(BUYER_PAGE_SCAN), last_made)),
                    None => return Ok(None),
                },
                None => None,
            };
            let scanned = window.map(|(scanned, _)| scanned);
            // One more than the page holds, to know whether another page follows.
            let mut purchases: Vec<PurchaseRow> =
                page_query(ticket.get(), after, scanned, i64::from(limit) + 1, buyer)
                    .load(conn)
                    .await?;
            let full = purchases.len() > limit as usize;
            purchases.truncate(limit as usize);
            let last_on_page = purchases.last().map(|row| row.seq);
            let next = match window {
                _ if full => last_on_page,
                Some((scanned, last_made)) => (scanned < last_made).then_some(scanned),
                None => {
                    // An empty page of an unknown ticket is a 404, of a
                    // ticket with no more purchases an empty page.
                    if last_on_page.is_none() && last_purchase_number(conn, ticket).await?.is_none()
                    {
                        return Ok(None);
                    }
                    None
                }
            };
            Ok(Some(PurchasePage {
                purchases: purchases.into_iter().map(PurchaseRecord::from).collect(),
                next: next.map(PurchaseCursor::after),
            }))
        })
    })
    .await
}

/// The number of the ticket's last purchase (0 before its first), or
/// `None` when no ticket has this id.
async fn last_purchase_number(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
) -> QueryResult<Option<i64>> {
    tickets::table
        .find(ticket.get())
        .select(tickets::last_purchase_seq)
        .first(conn)
        .await
        .optional()
}

/// Up to `rows` purchases of `ticket` numbered after `after` (and no later
/// than `until`, if given; only `buyer`'s, if given), in number order: a
/// keyset page, read from the `(ticket_id, seq)` index. A buyer's page
/// filters the ticket's purchases as it goes, so it is given an `until`
/// (see [`BUYER_PAGE_SCAN`]).
pub(super) fn page_query(
    ticket: i64,
    after: i64,
    until: Option<i64>,
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
    if let Some(until) = until {
        query = query.filter(purchases::seq.le(until));
    }
    if let Some(buyer) = buyer {
        query = query.filter(purchases::user_id.eq(buyer));
    }
    query
}

#[cfg(test)]
mod tests {
    use super::BUYER_PAGE_SCAN;
    use crate::domain::spec_rules;

    #[test]
    fn the_spec_tells_clients_how_much_a_buyers_page_looks_through() {
        let description = spec_rules::at("/paths/~1tickets~1{id}~1purchases/get/description")
            .as_str()
            .expect("listPurchases has a description");
        let scan = BUYER_PAGE_SCAN.to_string();
        let (thousands, rest) = scan.split_at(scan.len() - 3);
        let written = format!("at most {thousands},{rest} of the ticket's purchases");
        assert!(
            description
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .contains(&written),
            "the spec should say {written:?}"
        );
    }
}
