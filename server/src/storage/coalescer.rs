//! Coalesces concurrent requests into batches, one statement or transaction
//! (and one commit) for many requests.
//!
//! Requests wait in memory until a connection is free; then one batch takes
//! all that wait, up to a size, and runs on that connection while new
//! requests wait for the next. So an idle server runs each request alone,
//! and a busy one runs them a batch at a time: the busier, the larger.
//!
//! - **Bounded.** At most `max_waiting` requests wait; past that a request
//!   is refused at once (503 with `Retry-After`) rather than queued.
//! - **A deadline.** A request waits for a connection at most
//!   `connect_timeout`, then gives up (503). A batch takes its requests only
//!   once it holds a connection, so no request waits behind a batch that is
//!   itself still waiting for one. A request whose client hung up before
//!   its batch formed is dropped unrun. A batch the database has not
//!   answered within `answer_timeout` (a frozen server, a network that
//!   drops packets) is given up: its requests get 503, in doubt as after a
//!   lost connection, and its connection is dropped, not reused.
//! - **Lanes.** Requests may name a lane (a ticket): a lane's requests run
//!   in the order they came, and never in two batches at once, so a batch
//!   never waits on a row lock held by another batch of this process
//!   (save one given up past `answer_timeout`, whose statement a database
//!   that is slow rather than frozen may still be running).
//! - **Nothing kept.** A lane is forgotten as soon as nothing waits in it:
//!   a rush over many tickets, or over tickets that do not exist, leaves no
//!   state behind.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use prometheus::{Histogram, IntCounter, IntGauge};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use super::{Liveness, Pool, PooledConnection, StorageError};

/// What a batch of requests does, on one connection.
pub trait BatchRunner: Send + Sync + 'static {
    /// A request.
    type Job: Send + 'static;
    /// Its answer.
    type Answer: Send + 'static;
    /// Requests of a lane run in order and never in two batches at once.
    type Lane: Copy + Eq + Hash + Send + 'static;

    /// The request's lane, if it has one.
    fn lane(job: &Self::Job) -> Option<Self::Lane>;

    /// Runs `jobs` on `conn` (which it may replace from `pool` if the
    /// connection turns out dead), answering each, in order.
    fn run<'a>(
        &'a self,
        pool: &'a Pool,
        conn: PooledConnection,
        jobs: &'a [Self::Job],
    ) -> BoxFuture<'a, Vec<Result<Self::Answer, StorageError>>>;
}

/// How a coalescer batches.
#[derive(Debug, Clone, Copy)]
pub struct CoalescerSettings {
    /// The most requests one batch takes.
    pub max_batch: usize,
    /// The most batches running at once.
    pub max_in_flight: usize,
    /// The fewest requests waiting for which a batch starts while another
    /// runs.
    pub min_parallel_batch: usize,
    /// The most requests waiting for a batch; more are refused at once.
    pub max_waiting: usize,
    /// How long a request waits for its batch to start.
    pub connect_timeout: Duration,
    /// How long a batch waits for the database's answer before giving up.
    pub answer_timeout: Duration,
}

/// What a coalescer reports: its metrics, and to `liveness` each batch the
/// database answered.
#[derive(Debug, Clone)]
pub struct CoalescerMetrics {
    pub batch_size: Histogram,
    pub waiting: IntGauge,
    pub refused: IntCounter,
    pub liveness: Arc<Liveness>,
}

/// Batches requests for `R` on connections from a pool.
pub struct Coalescer<R: BatchRunner> {
    shared: Arc<Shared<R>>,
}

impl<R: BatchRunner> std::fmt::Debug for Coalescer<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer").finish_non_exhaustive()
    }
}

type Reply<A> = oneshot::Sender<Result<A, StorageError>>;

struct Waiting<R: BatchRunner> {
    id: u64,
    job: R::Job,
    reply: Reply<R::Answer>,
}

/// The requests waiting, by lane, and which lanes are in a batch.
struct Queue<R: BatchRunner> {
    /// Requests of each lane (or of none), in arrival order.
    lanes: HashMap<Option<R::Lane>, VecDeque<Waiting<R>>>,
    /// The lanes with requests waiting and no batch running, oldest first.
    ready: VecDeque<Option<R::Lane>>,
    /// The lanes in a running batch.
    busy: HashSet<R::Lane>,
    waiting: usize,
    in_flight: usize,
    next_id: u64,
    closed: bool,
}

struct Shared<R: BatchRunner> {
    runner: R,
    pool: Pool,
    settings: CoalescerSettings,
    metrics: CoalescerMetrics,
    queue: Mutex<Queue<R>>,
    wake: Notify,
}

impl<R: BatchRunner> Coalescer<R> {
    /// Starts the coalescer's dispatcher, which runs until it is dropped.
    pub fn start(
        runner: R,
        pool: Pool,
        settings: CoalescerSettings,
        metrics: CoalescerMetrics,
    ) -> Self {
        let shared = Arc::new(Shared {
            runner,
            pool,
            settings,
            metrics,
            queue: Mutex::new(Queue::new()),
            wake: Notify::new(),
        });
        tokio::spawn(dispatch(Arc::clone(&shared)));
        Self { shared }
    }

    /// Runs `job` in the next batch it fits and returns its answer.
    pub async fn submit(&self, job: R::Job) -> Result<R::Answer, StorageError> {
        let lane = R::lane(&job);
        let (reply, answer) = oneshot::channel();
        let id = {
            let mut queue = self.shared.lock();
            if queue.waiting >= self.shared.settings.max_waiting {
                drop(queue);
                self.shared.metrics.refused.inc();
                return Err(StorageError::Overloaded);
            }
            let id = queue.next_id;
            queue.next_id += 1;
            queue.push(lane, Waiting { id, job, reply });
            self.shared.metrics.waiting.inc();
            id
        };
        self.shared.wake.notify_one();
        // Taken back if the caller stops waiting (its client hung up, or the
        // deadline below passes) before a batch took it.
        let guard = Withdraw {
            shared: &self.shared,
            lane,
            id,
        };
        let deadline = Instant::now() + self.shared.settings.connect_timeout;
        let mut answer = std::pin::pin!(answer);
        let answered = tokio::time::timeout_at(deadline, answer.as_mut()).await;
        let answered = match answered {
            Ok(answered) => answered,
            Err(_elapsed) if guard.withdraw() => {
                return Err(StorageError::Unavailable(
                    "no database connection within the connect timeout".into(),
                ));
            }
            // A batch took it just now: its answer is on the way.
            Err(_elapsed) => answer.await,
        };
        std::mem::forget(guard);
        answered.map_err(|_| StorageError::WorkerLost)?
    }
}

impl<R: BatchRunner> Drop for Coalescer<R> {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// Takes a waiting request back out of its lane, if no batch took it yet.
struct Withdraw<'a, R: BatchRunner> {
    shared: &'a Shared<R>,
    lane: Option<R::Lane>,
    id: u64,
}

impl<R: BatchRunner> Withdraw<'_, R> {
    /// Whether the request was still waiting (and is now withdrawn).
    fn withdraw(&self) -> bool {
        let withdrawn = self.shared.lock().remove(self.lane, self.id);
        if withdrawn {
            self.shared.metrics.waiting.dec();
        }
        withdrawn
    }
}

impl<R: BatchRunner> Drop for Withdraw<'_, R> {
    fn drop(&mut self) {
        self.withdraw();
    }
}

impl<R: BatchRunner> Shared<R> {
    fn lock(&self) -> MutexGuard<'_, Queue<R>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the next batch (see [`Queue::claim`]).
    fn claim(&self) -> Vec<Waiting<R>> {
        let batch = self.lock().claim(self.settings.max_batch);
        #[allow(clippy::cast_possible_wrap)] // at most max_batch
        self.metrics.waiting.sub(batch.len() as i64);
        batch
    }

    /// Ends a batch (see [`Queue::release`]).
    fn release(&self, lanes: impl IntoIterator<Item = R::Lane>) {
        self.lock().release(lanes);
        self.wake.notify_one();
    }

    /// Whether a batch could start now.
    fn can_start(&self) -> Option<bool> {
        let queue = self.lock();
        if queue.closed {
            return None;
        }
        // A second batch alongside a running one only pays when enough
        // requests wait for it: a few can wait for the next, in a larger
        // batch, which costs the database less per request.
        let enough = queue.in_flight == 0 || queue.waiting >= self.settings.min_parallel_batch;
        Some(!queue.ready.is_empty() && queue.in_flight < self.settings.max_in_flight && enough)
    }
}

impl<R: BatchRunner> Queue<R> {
    fn new() -> Self {
        Self {
            lanes: HashMap::new(),
            ready: VecDeque::new(),
            busy: HashSet::new(),
            waiting: 0,
            in_flight: 0,
            next_id: 0,
            closed: false,
        }
    }

    /// Takes the next batch: the requests of the ready lanes, oldest lane
    /// first, up to `max_batch`; marks their lanes busy.
    fn claim(&mut self, max_batch: usize) -> Vec<Waiting<R>> {
        let mut batch = Vec::new();
        while batch.len() < max_batch {
            let Some(lane) = self.ready.pop_front() else {
                break;
            };
            let Some(waiting) = self.lanes.get_mut(&lane) else {
                continue;
            };
            let take = waiting.len().min(max_batch - batch.len());
            batch.extend(waiting.drain(..take));
            let left = !waiting.is_empty();
            match lane {
                // The rest of a busy lane waits for this batch to end.
                Some(lane) => {
                    self.busy.insert(lane);
                }
                None if left => self.ready.push_front(None),
                None => {}
            }
            if !left {
                self.lanes.remove(&lane);
            }
        }
        self.waiting -= batch.len();
        if !batch.is_empty() {
            self.in_flight += 1;
        }
        self.shrink();
        batch
    }

    /// Ends a batch: its lanes may run again, after the lanes already
    /// waiting.
    fn release(&mut self, lanes: impl IntoIterator<Item = R::Lane>) {
        for lane in lanes {
            self.busy.remove(&lane);
            if self.lanes.contains_key(&Some(lane)) {
                self.ready.push_back(Some(lane));
            }
        }
        self.in_flight -= 1;
    }

    fn push(&mut self, lane: Option<R::Lane>, waiting: Waiting<R>) {
        let requests = self.lanes.entry(lane).or_default();
        requests.push_back(waiting);
        let first = requests.len() == 1;
        let busy = lane.is_some_and(|lane| self.busy.contains(&lane));
        if first && !busy {
            self.ready.push_back(lane);
        }
        self.waiting += 1;
    }

    fn remove(&mut self, lane: Option<R::Lane>, id: u64) -> bool {
        let Some(requests) = self.lanes.get_mut(&lane) else {
            return false;
        };
        let Some(position) = requests.iter().position(|w| w.id == id) else {
            return false;
        };
        requests.remove(position);
        if requests.is_empty() {
            self.lanes.remove(&lane);
            self.ready.retain(|ready| *ready != lane);
        }
        self.waiting -= 1;
        self.shrink();
        true
    }

    /// Gives memory back after a rush over many lanes.
    fn shrink(&mut self) {
        const KEEP: usize = 1024;
        if self.lanes.is_empty() && self.lanes.capacity() > KEEP {
            self.lanes.shrink_to(KEEP);
            self.ready.shrink_to(KEEP);
        }
        if self.busy.is_empty() && self.busy.capacity() > KEEP {
            self.busy.shrink_to(KEEP);
        }
    }
}

/// Starts a batch whenever requests wait, a batch may start and a
/// connection is free; ends when the coalescer is dropped.
async fn dispatch<R: BatchRunner>(shared: Arc<Shared<R>>) {
    loop {
        loop {
            let woken = shared.wake.notified();
            match shared.can_start() {
                None => return,
                Some(true) => break,
                Some(false) => woken.await,
            }
        }
        let conn = match shared.pool.get_owned().await {
            Ok(conn) => conn,
            Err(error) => {
                // The requests give up at their own deadlines; try again for
                // those that come next.
                tracing::warn!(error = %error, "no database connection for a batch");
                continue;
            }
        };
        let batch = shared.claim();
        if batch.is_empty() {
            continue;
        }
        #[allow(clippy::cast_precision_loss)] // at most max_batch
        shared.metrics.batch_size.observe(batch.len() as f64);
        tokio::spawn(run_batch(Arc::clone(&shared), conn, batch));
        // Another batch may start at once, for other lanes.
        shared.wake.notify_one();
    }
}

async fn run_batch<R: BatchRunner>(
    shared: Arc<Shared<R>>,
    conn: PooledConnection,
    batch: Vec<Waiting<R>>,
) {
    let (jobs, replies): (Vec<R::Job>, Vec<Reply<R::Answer>>) =
        batch.into_iter().map(|w| (w.job, w.reply)).unzip();
    let lanes: HashSet<R::Lane> = jobs.iter().filter_map(R::lane).collect();
    let run = run_to_end(shared.runner.run(&shared.pool, conn, &jobs));
    let answers = match tokio::time::timeout(shared.settings.answer_timeout, run).await {
        Ok(answers) => answers,
        // Dropping the batch drops its connection, which the pool discards
        // (a statement on it is unanswered): see `CheckedManager`.
        Err(_elapsed) => {
            tracing::warn!(
                requests = jobs.len(),
                answer_timeout_ms = shared.settings.answer_timeout.as_millis(),
                "the database did not answer a batch in time; its requests get 503"
            );
            all_failed(jobs.len(), StorageError::unanswered())
        }
    };
    // The batch has ended in the database: its lanes' next batch may start
    // while this one's answers go out.
    shared.release(lanes);
    if answers.iter().any(Result::is_ok) {
        shared.metrics.liveness.answered();
    }
    if answers.len() == replies.len() {
        for (reply, answer) in replies.into_iter().zip(answers) {
            // A caller that went away still had its request run.
            let _ = reply.send(answer);
        }
    } else {
        tracing::error!(
            jobs = replies.len(),
            answers = answers.len(),
            "a batch answered a different number of requests than it ran"
        );
        for reply in replies {
            let _ = reply.send(Err(StorageError::WorkerLost));
        }
    }
}

/// Runs a batch to its end even if it panics, so its lanes are released
/// (a panic leaves its requests unanswered: they get `WorkerLost`).
async fn run_to_end<T>(batch: impl Future<Output = Vec<T>>) -> Vec<T> {
    use futures::FutureExt as _;
    match std::panic::AssertUnwindSafe(batch).catch_unwind().await {
        Ok(answers) => answers,
        Err(_panic) => {
            tracing::error!("a batch panicked");
            Vec::new()
        }
    }
}

/// Every request of a batch that failed as a whole gets its error.
pub fn all_failed<T>(count: usize, error: StorageError) -> Vec<Result<T, StorageError>> {
    let error = Arc::new(error);
    (0..count)
        .map(|_| Err(StorageError::Batch(Arc::clone(&error))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runner that is never run: the queue's rules are tested alone.
    struct Lanes;

    impl BatchRunner for Lanes {
        /// (lane, request number)
        type Job = (Option<u32>, u32);
        type Answer = ();
        type Lane = u32;

        fn lane(job: &Self::Job) -> Option<u32> {
            job.0
        }

        fn run<'a>(
            &'a self,
            _: &'a Pool,
            _: PooledConnection,
            _: &'a [Self::Job],
        ) -> BoxFuture<'a, Vec<Result<(), StorageError>>> {
            unreachable!("the queue is tested without running batches")
        }
    }

    fn queue(jobs: &[(Option<u32>, u32)]) -> Queue<Lanes> {
        let mut queue = Queue::new();
        for &job in jobs {
            let (reply, _) = oneshot::channel();
            let id = queue.next_id;
            queue.next_id += 1;
            queue.push(job.0, Waiting { id, job, reply });
        }
        queue
    }

    fn numbers(batch: &[Waiting<Lanes>]) -> Vec<u32> {
        batch.iter().map(|w| w.job.1).collect()
    }

    #[test]
    fn a_batch_takes_lanes_oldest_first_each_in_arrival_order() {
        let mut queue = queue(&[
            (Some(1), 1),
            (Some(2), 2),
            (Some(1), 3),
            (None, 4),
            (Some(2), 5),
        ]);
        assert_eq!(numbers(&queue.claim(10)), [1, 3, 2, 5, 4]);
        assert_eq!(queue.waiting, 0);
        assert_eq!(queue.in_flight, 1);
    }

    #[test]
    fn a_busy_lane_waits_for_its_batch_to_end() {
        let mut queue = queue(&[(Some(1), 1), (Some(2), 2)]);
        assert_eq!(numbers(&queue.claim(10)), [1, 2]);
        let (reply, _) = oneshot::channel();
        queue.push(
            Some(1),
            Waiting {
                id: 9,
                job: (Some(1), 3),
                reply,
            },
        );
        assert!(queue.claim(10).is_empty(), "lane 1 is in a running batch");
        queue.release([1, 2]);
        assert_eq!(numbers(&queue.claim(10)), [3]);
    }

    #[test]
    fn a_full_batch_leaves_the_rest_of_a_lane_for_the_next() {
        let mut queue = queue(&[(None, 1), (None, 2), (None, 3), (Some(7), 4), (Some(7), 5)]);
        assert_eq!(numbers(&queue.claim(2)), [1, 2]);
        assert_eq!(numbers(&queue.claim(2)), [3, 4]);
        queue.release([7]);
        assert_eq!(numbers(&queue.claim(2)), [5]);
    }

    #[test]
    fn a_withdrawn_request_is_not_run_and_its_empty_lane_is_forgotten() {
        let mut queue = queue(&[(Some(1), 1), (Some(2), 2)]);
        assert!(queue.remove(Some(1), 0));
        assert!(!queue.remove(Some(1), 0), "already withdrawn");
        assert!(!queue.lanes.contains_key(&Some(1)));
        assert_eq!(numbers(&queue.claim(10)), [2]);
    }

    #[test]
    fn nothing_is_kept_once_a_rush_over_many_lanes_is_over() {
        let jobs: Vec<(Option<u32>, u32)> = (0..50_000).map(|n| (Some(n), n)).collect();
        let mut queue = queue(&jobs);
        while !queue.claim(512).is_empty() {
            let lanes: Vec<u32> = queue.busy.iter().copied().collect();
            queue.release(lanes);
        }
        assert!(queue.lanes.is_empty() && queue.ready.is_empty() && queue.busy.is_empty());
        assert!(queue.lanes.capacity() <= 2048, "{}", queue.lanes.capacity());
        assert!(queue.busy.capacity() <= 2048, "{}", queue.busy.capacity());
    }
}
