//! PostgreSQL access: how the box office's books are kept. The pool, the
//! schema, the migrations, the rows and their conversions to the domain's
//! records, the statements, the order batches and the coalescer. What the
//! rules are is `domain`'s; nothing above this module sees diesel or SQL.
//!
//! **A write outside a transaction is read to its end** (`load`, `execute`),
//! never taken at its first row (`get_result`, `first`). PostgreSQL sends a
//! statement's rows before it commits the statement's own transaction (at
//! the protocol's Sync, after the rows), and that commit can still fail, or
//! never come: a primary lost while it waits for its synchronous standby.
//! The stream ends only once the commit is done, so a write is answered as
//! made only once it is. Inside a transaction, its `COMMIT` is that point.

pub mod audit;
mod coalescer;
pub mod holds;
mod hosts;
pub mod keys;
mod migrations;
pub mod orders;
mod pool;
pub mod purchases;
pub(crate) mod schema;
mod statement;
pub mod tickets;

use std::sync::Arc;

use diesel_async::pooled_connection::PoolError;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures::future::BoxFuture;

pub use coalescer::{BatchRunner, Coalescer, CoalescerMetrics, CoalescerSettings};
pub use migrations::run_pending_migrations;
pub use orders::OrderBatches;
pub use pool::{POOL_EVENTS, Pool, PoolEvents, PoolSettings, PooledConnection, build_pool};
pub use tickets::{Ticket, TicketReads};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No connection could be had in time: the database is down, unreachable
    /// or saturated. Callers answer 503.
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// More requests wait for the database than the server lets wait.
    /// Callers answer 503 at once.
    #[error("too many requests are waiting for the database")]
    Overloaded,
    /// A query failed for another reason: a bug or a broken invariant.
    #[error("a database query failed")]
    Query(#[from] diesel::result::Error),
    /// The batch this request was part of failed; each of its requests
    /// shares the cause.
    #[error("the batch failed")]
    Batch(#[source] Arc<StorageError>),
    /// The batch running the request ended without an answer for it.
    #[error("the batch ended without answering")]
    WorkerLost,
}

impl From<bb8::RunError<PoolError>> for StorageError {
    fn from(error: bb8::RunError<PoolError>) -> Self {
        Self::Unavailable(Box::new(error))
    }
}

impl StorageError {
    /// The database did not answer in time: it is frozen, or unreachable
    /// behind a network that drops packets. Whatever was sent may still
    /// happen, as after a lost connection.
    pub fn unanswered() -> Self {
        Self::Unavailable("the database did not answer in time".into())
    }

    /// Whether the failure lies with the database's availability rather than
    /// with the query: a lost connection, a database starting or stopping, a
    /// statement cancelled by `statement_timeout`, too many waiting.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::DatabaseErrorKind;
        match self {
            Self::Unavailable(_) | Self::Overloaded => true,
            Self::Query(error) if pool::is_resumable_elsewhere(error) => true,
            Self::Batch(error) => error.is_unavailable(),
            // diesel-async reports other SQLSTATEs as `Unknown` and keeps no
            // code, so the operational ones are told by PostgreSQL's message.
            Self::Query(diesel::result::Error::DatabaseError(DatabaseErrorKind::Unknown, info)) => {
                OPERATIONAL_ERRORS
                    .iter()
                    .any(|prefix| info.message().starts_with(prefix))
            }
            Self::Query(_) | Self::WorkerLost => false,
        }
    }

    /// Whether the failure is [`StorageError::Overloaded`], here or in the
    /// batch it came from.
    pub fn is_overloaded(&self) -> bool {
        match self {
            Self::Overloaded => true,
            Self::Batch(error) => error.is_overloaded(),
            _ => false,
        }
    }
}

/// How PostgreSQL's messages begin for failures of the database's
/// availability rather than of the query (SQLSTATE classes 08, 53 and 57).
const OPERATIONAL_ERRORS: &[&str] = &[
    "canceling statement due to statement timeout",
    "canceling statement due to lock timeout",
    "canceling statement due to conflict with recovery",
    "terminating connection",
    "the database system is",
    "sorry, too many clients",
    "too many connections",
    "could not connect",
    "connection to server",
];

/// Runs a read-only `query`, once more on a new connection if the first
/// turned out dead: a read changes nothing, so running it again is safe.
pub async fn read<T>(
    pool: &Pool,
    query: impl for<'c> Fn(&'c mut AsyncPgConnection) -> BoxFuture<'c, diesel::QueryResult<T>>,
) -> Result<T, StorageError> {
    let mut conn = pool.get().await?;
    match query(&mut conn).await {
        Err(error) if pool::is_resumable_elsewhere(&error) => {
            conn.note_failure(&error);
            drop(conn);
            let mut conn = pool.get().await?;
            Ok(query(&mut conn).await?)
        }
        result => Ok(result?),
    }
}

/// When the database last answered a query, so that a health check during
/// a rush need not queue behind it to ask again.
#[derive(Debug, Default)]
pub struct Liveness {
    last_answer: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Liveness {
    /// Notes that the database just answered.
    pub fn answered(&self) {
        *self.lock() = Some(std::time::Instant::now());
    }

    /// Whether the database answered within `window`.
    pub fn answered_within(&self, window: std::time::Duration) -> bool {
        self.lock().is_some_and(|at| at.elapsed() <= window)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<std::time::Instant>> {
        self.last_answer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a health check found of the database.
#[derive(Debug)]
pub enum DatabaseState {
    /// A primary answered: purchases can be made.
    Writable,
    /// Only a read-only server answered (a standby, or a primary being
    /// demoted): purchases cannot be made until a standby is promoted.
    Standby,
    /// No server answered in time.
    Down(StorageError),
}

/// Asks the database whether it takes writes. A connection that finds a
/// standby is dropped from the pool.
pub async fn database_state(pool: &Pool) -> DatabaseState {
    let mut conn = match pool.get().await {
        Ok(conn) => conn,
        // tokio-postgres tried every host; a standby among them answers
        // this way when no host took writes.
        Err(error) if error_chain_mentions(&error, "does not allow writes") => {
            return DatabaseState::Standby;
        }
        Err(error) => return DatabaseState::Down(error.into()),
    };
    let in_recovery = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
        "pg_is_in_recovery()",
    ))
    .get_result::<bool>(&mut conn)
    .await;
    match in_recovery {
        Ok(false) => DatabaseState::Writable,
        Ok(true) => {
            conn.discard();
            DatabaseState::Standby
        }
        Err(error) => DatabaseState::Down(error.into()),
    }
}

fn error_chain_mentions(error: &(dyn std::error::Error + 'static), text: &str) -> bool {
    let mut cause = Some(error);
    // Bounded: error chains are short, but a cycle must not hang a probe.
    for _ in 0..16 {
        let Some(current) = cause else { return false };
        if current.to_string().contains(text) {
            return true;
        }
        cause = current.source();
    }
    false
}
