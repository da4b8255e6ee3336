//! Coalesces concurrent purchases of one ticket into batches.
//!
//! In an on-sale, thousands of buyers want the same ticket row; one
//! transaction each would queue them all on its row lock and on a commit
//! apiece. Here each ticket with purchases waiting has one worker task per
//! server process: while its batch is being written, new purchases queue,
//! and the next batch takes all of them at once, in arrival order
//! ([`tickets::purchase_batch`]). Under no load a batch is one purchase and
//! costs one statement. Correctness does not depend on the queue: every
//! batch is a conditional decrement under the row lock, so several replicas,
//! each with its own queues, still never oversell.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus::Histogram;
use tokio::sync::{mpsc, oneshot};

use super::tickets::{self, PurchaseOutcome};
use super::{Pool, StorageError};
use crate::domain::{PurchaseRequest, TicketId};

/// The most purchases one batch writes.
const MAX_BATCH: usize = 256;

/// How long a ticket's worker waits for purchases before it retires.
const IDLE_RETIREMENT: Duration = Duration::from_secs(5);

type Reply = oneshot::Sender<Result<PurchaseOutcome, StorageError>>;

struct Pending {
    request: PurchaseRequest,
    reply: Reply,
}

/// The purchase queues of this process, one per ticket being bought.
#[derive(Debug)]
pub struct PurchaseQueue {
    pool: Pool,
    batch_size: Histogram,
    queues: Mutex<HashMap<TicketId, mpsc::UnboundedSender<Pending>>>,
}

impl PurchaseQueue {
    /// Queues writing to `pool`, observing each batch's size in `batch_size`.
    pub fn new(pool: Pool, batch_size: Histogram) -> Arc<Self> {
        Arc::new(Self {
            pool,
            batch_size,
            queues: Mutex::new(HashMap::new()),
        })
    }

    /// Buys `request.quantity` tickets of ticket `id`, all or nothing, once
    /// its batch is committed.
    pub async fn purchase(
        self: &Arc<Self>,
        id: TicketId,
        request: PurchaseRequest,
    ) -> Result<PurchaseOutcome, StorageError> {
        let (reply, answer) = oneshot::channel();
        let mut pending = Pending { request, reply };
        // A worker that has just retired refuses the send: start another.
        while let Err(mpsc::error::SendError(refused)) = self.queue_for(id).send(pending) {
            pending = refused;
        }
        answer.await.map_err(|_| StorageError::WorkerLost)?
    }

    fn queue_for(self: &Arc<Self>, id: TicketId) -> mpsc::UnboundedSender<Pending> {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(queue) = queues.get(&id).filter(|queue| !queue.is_closed()) {
            return queue.clone();
        }
        let (queue, pending) = mpsc::unbounded_channel();
        queues.insert(id, queue.clone());
        tokio::spawn(Arc::clone(self).work(id, pending));
        queue
    }

    /// Writes the ticket's purchases, batch after batch, until idle.
    async fn work(self: Arc<Self>, id: TicketId, mut pending: mpsc::UnboundedReceiver<Pending>) {
        loop {
            let first = match tokio::time::timeout(IDLE_RETIREMENT, pending.recv()).await {
                Ok(Some(first)) => first,
                Ok(None) => return,
                Err(_idle) => {
                    let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
                    if pending.is_empty() {
                        queues.remove(&id);
                        return;
                    }
                    continue;
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match pending.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            self.write(id, batch).await;
        }
    }

    async fn write(&self, id: TicketId, batch: Vec<Pending>) {
        let requests: Vec<PurchaseRequest> = batch.iter().map(|p| p.request).collect();
        #[allow(clippy::cast_precision_loss)] // at most MAX_BATCH
        self.batch_size.observe(requests.len() as f64);
        match tickets::purchase_batch(&self.pool, id, &requests).await {
            Ok(outcomes) => {
                for (pending, outcome) in batch.into_iter().zip(outcomes) {
                    // A buyer who hung up still bought: nothing to undo.
                    let _ = pending.reply.send(Ok(outcome));
                }
            }
            Err(error) => {
                // Nothing of the batch was written: each buyer gets the error.
                let error = Arc::new(error);
                for pending in batch {
                    let _ = pending
                        .reply
                        .send(Err(StorageError::Batch(Arc::clone(&error))));
                }
            }
        }
    }
}
