//! PostgreSQL access: the pool, the schema, the migrations and the queries.
//! Nothing above this module sees diesel or SQL.

pub mod idempotency;
mod migrations;
mod purchase_queue;
pub mod purchases;
mod schema;
pub mod tickets;

use std::sync::Arc;
use std::time::Duration;

use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, PoolError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::FutureExt;

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
    /// with the query: a lost connection, a database starting or stopping, a
    /// statement cancelled by `statement_timeout`.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::DatabaseErrorKind;
        match self {
            Self::Unavailable(_)
            | Self::Query(diesel::result::Error::DatabaseError(
                DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection,
                _,
            )) => true,
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

/// How the service uses its database.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// The most connections open at once.
    pub max_size: u32,
    /// How long a caller waits for a connection before it gives up (503).
    pub connect_timeout: Duration,
    /// The longest any statement may run, lock waits included; longer ones
    /// are cancelled by PostgreSQL and rolled back (503).
    pub statement_timeout: Duration,
}

/// Builds the pool. Connections are opened lazily, so this succeeds while
/// the database is down; requests then get 503 until it is back, and
/// connections the database closed are dropped when next returned.
pub fn build_pool(database_url: &str, settings: PoolSettings) -> Pool {
    let statement_timeout_ms = settings.statement_timeout.as_millis();
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(move |url| {
        async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            diesel::sql_query(format!("SET statement_timeout = {statement_timeout_ms}"))
                .execute(&mut conn)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    bb8::Pool::builder()
        .max_size(settings.max_size)
        .connection_timeout(settings.connect_timeout)
        // Broken connections are dropped on return (their socket is
        // closed); testing each checkout would cost a round trip a request.
        .test_on_check_out(false)
        .build_unchecked(manager)
}

/// Whether the database answers a trivial query.
pub async fn ping(pool: &Pool) -> Result<(), StorageError> {
    let mut conn = pool.get().await?;
    diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    Ok(())
}
