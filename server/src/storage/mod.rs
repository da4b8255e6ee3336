//! PostgreSQL access: the pool, the schema, the migrations and the queries.
//! Nothing above this module sees diesel or SQL.

mod migrations;
mod purchase_queue;
mod schema;
pub mod tickets;

use std::sync::Arc;
use std::time::Duration;

use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};

pub use migrations::run_pending_migrations;
pub use purchase_queue::PurchaseQueue;
pub use tickets::{PurchaseOutcome, Ticket};

/// The pool of database connections the service shares.
pub type Pool = bb8::Pool<AsyncDieselConnectionManager<AsyncPgConnection>>;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No connection could be had in time: the database is down, unreachable
    /// or saturated. Callers answer 503.
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A query failed for another reason: a bug or a broken invariant.
    #[error("a database query failed")]
    Query(#[from] diesel::result::Error),
    /// The batch this request was part of failed; each of its requests
    /// shares the cause.
    #[error("the purchase batch failed")]
    Batch(#[source] Arc<StorageError>),
    /// The task writing the request's batch ended without an answer.
    #[error("the purchase worker ended without answering")]
    WorkerLost,
}

impl From<bb8::RunError<PoolError>> for StorageError {
    fn from(error: bb8::RunError<PoolError>) -> Self {
        Self::Unavailable(Box::new(error))
    }
}

impl StorageError {
    /// Whether the failure lies with the database's availability rather than
    /// with the query: a lost connection counts as unavailable.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Query(diesel::result::Error::DatabaseError(kind, _)) => {
                matches!(kind, diesel::result::DatabaseErrorKind::ClosedConnection)
            }
            Self::Batch(error) => error.is_unavailable(),
            Self::Query(_) | Self::WorkerLost => false,
        }
    }
}

/// Builds the pool. Connections are opened lazily, so this succeeds while
/// the database is down; requests then get 503 until it is back.
pub fn build_pool(database_url: &str, max_size: u32, connect_timeout: Duration) -> Pool {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(database_url);
    bb8::Pool::builder()
        .max_size(max_size)
        .connection_timeout(connect_timeout)
        .test_on_check_out(false)
        .build_unchecked(manager)
}

/// Whether the database answers a trivial query.
pub async fn ping(pool: &Pool) -> Result<(), StorageError> {
    use diesel_async::RunQueryDsl;
    let mut conn = pool.get().await?;
    diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    Ok(())
}
