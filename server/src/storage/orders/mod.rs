//! Orders: everything that changes a ticket's books (purchases, holds,
//! their confirmation and release, cancellations, and giving back the
//! tickets of expired holds), decided in batches of any tickets, keyed or
//! not, in as few statements and commits as possible.
//!
//! A batch of purchases and holds is first tried as one statement
//! ([`fast`]): for every ticket of the batch whose orders all fit (and keep
//! its limits, and whose keys are free), take their total and insert their
//! rows and the answers stored under their keys, under the ticket's row
//! lock, taken in ticket order so that concurrent batches, from any
//! replica, cannot deadlock. One round trip and one commit for the whole
//! batch.
//!
//! Whatever is left (tickets where not everything fits, unknown tickets,
//! keys used before or in flight, confirmations, releases, cancellations)
//! is decided in one
//! transaction ([`locked`]): lock the tickets (in ticket order) and the
//! keys, read what the orders name, decide each in arrival order
//! (`domain::orders::decide`), and write every change and every stored answer in one
//! statement. A key's answer is thus stored exactly when its change
//! commits.
//!
//! Every change to a ticket's books is made under its row lock, so the
//! numbers of its purchases follow commit order, and what one batch reads
//! of a ticket no other batch changes until it commits.

mod fast;
#[cfg(test)]
mod golden_sql;
mod locked;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use uuid::Uuid;

use super::coalescer::BatchRunner;
use super::pool::is_resumable_elsewhere;
use super::{Pool, PooledConnection, StorageError};
use crate::domain::TicketId;
use crate::domain::orders::{Decided, Order};

/// Runs batches of orders; see the module's documentation.
#[derive(Debug)]
pub struct OrderBatches {
    /// How long a key's answer is kept.
    pub key_ttl: Duration,
}

impl BatchRunner for OrderBatches {
    type Job = Order;
    type Answer = Decided;
    type Lane = TicketId;

    fn lane(order: &Order) -> Option<TicketId> {
        Some(order.ticket)
    }

    fn run<'a>(
        &'a self,
        pool: &'a Pool,
        conn: PooledConnection,
        orders: &'a [Order],
    ) -> BoxFuture<'a, Vec<Result<Decided, StorageError>>> {
        Box::pin(self.run_batch(pool, conn, orders))
    }
}

impl OrderBatches {
    /// Runs a batch. A connection lost midway is replaced and the batch
    /// goes on: what the lost connection committed is found by the ids the
    /// batch made, and what it did not is decided again, so nothing is made
    /// twice or answered wrongly. If the batch fails, the orders it
    /// committed before the failure are answered as made, the others get
    /// the error.
    async fn run_batch(
        &self,
        pool: &Pool,
        conn: PooledConnection,
        orders: &[Order],
    ) -> Vec<Result<Decided, StorageError>> {
        let mut decided: Vec<Option<Decided>> = vec![None; orders.len()];
        let failure = self.decide(pool, conn, orders, &mut decided).await.err();
        let failure = failure.map(Arc::new);
        decided
            .into_iter()
            .map(|answer| match (answer, &failure) {
                (Some(answer), _) => Ok(answer),
                (None, Some(error)) => Err(StorageError::Batch(Arc::clone(error))),
                (None, None) => Err(StorageError::WorkerLost),
            })
            .collect()
    }

    /// Decides what it can of `orders` into `decided`.
    async fn decide(
        &self,
        pool: &Pool,
        mut conn: PooledConnection,
        orders: &[Order],
        decided: &mut [Option<Decided>],
    ) -> Result<(), StorageError> {
        // Time-ordered ids for the rows orders may insert, made here so each
        // request knows its row.
        let ids: Vec<Uuid> = orders.iter().map(|_| Uuid::now_v7()).collect();

        if fast::takes_all(orders) {
            let made = match fast::record_where_all_fit(&mut conn, orders, &ids).await {
                // A standby's refusal committed nothing; a lost connection
                // may have: either way the new connection finds out.
                Err(error) if is_resumable_elsewhere(&error) => {
                    tracing::warn!(%error, "connection lost or read-only during a batch; resuming on another");
                    conn.note_failure(&error);
                    conn = pool.get_owned().await?;
                    // The statement committed all its rows or none.
                    fast::find_made(&mut conn, orders, &ids).await?
                }
                // The schema refused the statement, so nothing of it
                // happened. The locked path decides each order.
                Err(error) if fast::refused(&error) => Vec::new(),
                made => made?,
            };
            for (index, outcome) in made {
                decided[index] = Some(Decided::Fresh(outcome));
            }
        }

        let rest: Vec<usize> = (0..orders.len())
            .filter(|&index| decided[index].is_none())
            .collect();
        if rest.is_empty() {
            return Ok(());
        }
        let pending: Vec<(&Order, Uuid)> = rest.iter().map(|&i| (&orders[i], ids[i])).collect();
        let answers = match locked::decide_under_locks(&mut conn, &pending, self.key_ttl).await {
            Err(failed) if failed.recoverable() => {
                tracing::warn!(error = %failed.error, "batch failed midway; resuming on another connection");
                conn.note_failure(&failed.error);
                drop(conn);
                let mut conn = pool.get_owned().await?;
                match failed.committed(&mut conn).await? {
                    Some(decided) => decided,
                    None => locked::decide_under_locks(&mut conn, &pending, self.key_ttl)
                        .await
                        .map_err(|failed| failed.error)?,
                }
            }
            answers => answers.map_err(|failed| failed.error)?,
        };
        for (index, answer) in rest.into_iter().zip(answers) {
            decided[index] = Some(answer);
        }
        Ok(())
    }
}
