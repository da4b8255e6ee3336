//! The pool of database connections, and what keeps it healthy after the
//! database restarts.

use std::time::Duration;

use diesel::result::{DatabaseErrorKind, Error as QueryError};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolError, PoolableConnection,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures::FutureExt;

/// The pool of database connections the service shares.
pub type Pool = bb8::Pool<CheckedManager>;

/// A connection checked out of the pool.
pub type PooledConnection = bb8::PooledConnection<'static, CheckedManager>;

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

/// diesel-async's connection manager, with a check at checkout that costs no
/// round trip.
///
/// When PostgreSQL restarts it tells every connection so and closes it; the
/// connection's background task sees that at once and marks the connection
/// closed. Without a check, such a connection waits in the pool until a
/// request takes it and fails on it. diesel-async's own check sends
/// `SELECT 1` at every checkout, a round trip per request; this one asks
/// the connection whether it is closed (or left in a broken transaction), so
/// the first request after a restart gets a live connection for free.
#[derive(Debug)]
pub struct CheckedManager(AsyncDieselConnectionManager<AsyncPgConnection>);

impl bb8::ManageConnection for CheckedManager {
    type Connection = AsyncPgConnection;
    type Error = PoolError;

    async fn connect(&self) -> Result<Self::Connection, Self::Error> {
        self.0.connect().await
    }

    async fn is_valid(&self, conn: &mut Self::Connection) -> Result<(), Self::Error> {
        if conn.is_broken() {
            return Err(PoolError::QueryError(QueryError::DatabaseError(
                DatabaseErrorKind::ClosedConnection,
                Box::new("the connection was closed while it sat in the pool".to_owned()),
            )));
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut Self::Connection) -> bool {
        self.0.has_broken(conn)
    }
}

/// Builds the pool. Connections are opened lazily, so this succeeds while
/// the database is down; requests then get 503 until it is back.
pub fn build_pool(database_url: &str, settings: PoolSettings) -> Pool {
    let statement_timeout_ms = settings.statement_timeout.as_millis();
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(move |url| {
        async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            conn.batch_execute(&format!(
                "SET statement_timeout = {statement_timeout_ms}; SET enable_seqscan = off"
            ))
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = CheckedManager(AsyncDieselConnectionManager::new_with_config(
        database_url,
        config,
    ));
    bb8::Pool::builder()
        .max_size(settings.max_size)
        .connection_timeout(settings.connect_timeout)
        // The check costs nothing (see CheckedManager).
        .test_on_check_out(true)
        .build_unchecked(manager)
}

/// Whether `error` says the connection itself is gone (closed, reset, never
/// reached): what a retry on a new connection can cure.
pub fn is_lost_connection(error: &QueryError) -> bool {
    match error {
        QueryError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        // The server tells a connection it is being closed (57P01 and the
        // like) with a message diesel-async reports without its code.
        QueryError::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            info.message().starts_with("terminating connection")
        }
        _ => false,
    }
}
