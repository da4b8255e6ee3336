//! The pool of database connections, and what keeps it healthy after the
//! database restarts or fails over to a standby.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::result::{DatabaseErrorKind, Error as QueryError};
use diesel::sql_types::{Integer, Text};
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

impl PoolSettings {
    /// How long the service waits for a database that may have stopped
    /// answering: for a batch of orders or reads to be answered, and for a
    /// new connection to open (12 s at the defaults). A batch runs at most
    /// one statement that may wait (for a lock, bounded by the statement
    /// timeout) and a few quick ones, and may reconnect once; a connection
    /// may try each host of the URL in turn. Twice the statement timeout
    /// plus the connect timeout is more than either takes on a database
    /// that answers; only one that stopped (frozen, or behind a network
    /// that drops packets) reaches it.
    pub fn answer_timeout(&self) -> Duration {
        self.statement_timeout * 2 + self.connect_timeout
    }

    /// The longest a request waits on the database, whatever it asks: a
    /// wait for a connection, then [`Self::answer_timeout`] (14 s at the
    /// defaults). A batch's own bounds end sooner; this one also bounds what
    /// runs outside the batches (creating a ticket, a listing, a credential
    /// look-up, a health check), which the HTTP edge gives up past it.
    pub fn request_deadline(&self) -> Duration {
        self.connect_timeout + self.answer_timeout()
    }
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
///
/// Two kinds of connection are never handed out again, each flagged by the
/// connection's own instrumentation, so no call site has to remember:
/// - one the server refused a write on (it is a standby, or a primary since
///   demoted);
/// - one given back with a statement still unanswered: its caller stopped
///   waiting (a batch past its deadline, a request dropped). Its
///   server may be frozen, and a statement sent on it next would wait
///   behind the unanswered one.
///
/// A new connection that is not open within the answer timeout (a frozen
/// server accepts it and never answers) is given up: the pool would
/// otherwise keep its place for it for good.
#[derive(Debug)]
pub struct CheckedManager {
    manager: AsyncDieselConnectionManager<AsyncPgConnection>,
    open_timeout: Duration,
}

impl bb8::ManageConnection for CheckedManager {
    type Connection = ServerConnection;
    type Error = PoolError;

    async fn connect(&self) -> Result<Self::Connection, Self::Error> {
        let mut conn = tokio::time::timeout(self.open_timeout, self.manager.connect())
            .await
            .map_err(|_elapsed| {
                PoolError::ConnectionError(diesel::ConnectionError::BadConnection(
                    "the database did not finish opening the connection in time".to_owned(),
                ))
            })??;
        let watch = ConnectionWatch::default();
        conn.set_instrumentation(watch.clone());
        Ok(ServerConnection { conn, watch })
    }

    async fn is_valid(&self, conn: &mut Self::Connection) -> Result<(), Self::Error> {
        if conn.refused_write() {
            return Err(PoolError::QueryError(QueryError::DatabaseError(
                DatabaseErrorKind::ReadOnlyTransaction,
                Box::new("the connection's server refused a write: it is a standby".to_owned()),
            )));
        }
        if conn.conn.is_broken() {
            return Err(PoolError::QueryError(QueryError::DatabaseError(
                DatabaseErrorKind::ClosedConnection,
                Box::new("the connection was closed while it sat in the pool".to_owned()),
            )));
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut Self::Connection) -> bool {
        if conn.watch.unanswered.load(Ordering::Relaxed) > 0 {
            POOL_EVENTS
                .unanswered_discards
                .fetch_add(1, Ordering::Relaxed);
            return true;
        }
        conn.refused_write() || self.manager.has_broken(&mut conn.conn)
    }
}

/// A pooled connection: diesel-async's, and what its instrumentation saw.
pub struct ServerConnection {
    conn: AsyncPgConnection,
    watch: ConnectionWatch,
}

impl ServerConnection {
    /// Whether the server refused a write on this connection: it is, or has
    /// become, a standby. Such a connection is dropped, never reused.
    pub fn refused_write(&self) -> bool {
        self.watch.refused_write.load(Ordering::Relaxed)
    }

    /// Marks the connection as one to drop, after the caller found its
    /// server in recovery (a standby).
    pub fn discard(&self) {
        mark_refused(&self.watch.refused_write);
    }

    /// Marks the connection as one to drop if `error` is its server
    /// refusing a write as read-only. Callers that see a statement's error
    /// call this: an error read from a statement's rows does not pass the
    /// instrumentation.
    pub fn note_failure(&self, error: &QueryError) {
        if is_refused_by_standby(error) {
            self.discard();
        }
    }
}

impl std::fmt::Debug for ServerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConnection")
            .field("refused_write", &self.refused_write())
            .finish_non_exhaustive()
    }
}

impl Deref for ServerConnection {
    type Target = AsyncPgConnection;

    fn deref(&self) -> &AsyncPgConnection {
        &self.conn
    }
}

impl DerefMut for ServerConnection {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        &mut self.conn
    }
}

/// Sees every statement start and finish on one connection: counts those
/// sent and not yet answered, and notes a write the server refused as
/// read-only.
#[derive(Clone, Default)]
struct ConnectionWatch {
    refused_write: Arc<AtomicBool>,
    unanswered: Arc<AtomicUsize>,
}

impl Instrumentation for ConnectionWatch {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.unanswered.fetch_add(1, Ordering::Relaxed);
            }
            InstrumentationEvent::FinishQuery { error, .. } => {
                // Saturating: a finish without its start must not make
                // every statement after it look unanswered.
                let _ = self
                    .unanswered
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                        Some(n.saturating_sub(1))
                    });
                if error.is_some_and(is_refused_by_standby) {
                    mark_refused(&self.refused_write);
                }
            }
            _ => {}
        }
    }
}

/// Sets a connection's refused-write flag, counting it once.
fn mark_refused(flag: &AtomicBool) {
    if !flag.swap(true, Ordering::Relaxed) {
        POOL_EVENTS.refused_writes.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the pools of this process went through, for the metrics: counted
/// per process, as every server in it reaches the same database.
#[derive(Debug, Default)]
pub struct PoolEvents {
    /// Connections opened (the first ones and every reconnection).
    pub connections_opened: AtomicU64,
    /// Connections dropped because their server refused a write as
    /// read-only (a standby or a demoted primary).
    pub refused_writes: AtomicU64,
    /// Connections dropped because they came back to the pool with a
    /// statement unanswered (its caller gave up waiting).
    pub unanswered_discards: AtomicU64,
    /// Times a new connection found a different writable server than the
    /// one before: a failover or switchover, or the primary restarted.
    pub primary_changes: AtomicU64,
    last_primary: std::sync::Mutex<Option<(i32, String)>>,
}

impl PoolEvents {
    fn connected_to(&self, primary: (i32, String)) {
        self.connections_opened.fetch_add(1, Ordering::Relaxed);
        let mut last = self
            .last_primary
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.as_ref().is_some_and(|last| *last != primary) {
            self.primary_changes.fetch_add(1, Ordering::Relaxed);
        }
        *last = Some(primary);
    }
}

/// The pool events of this process.
pub static POOL_EVENTS: std::sync::LazyLock<PoolEvents> =
    std::sync::LazyLock::new(PoolEvents::default);

#[derive(diesel::QueryableByName)]
struct ServerIdentity {
    #[diesel(sql_type = Integer)]
    port: i32,
    #[diesel(sql_type = Text)]
    started: String,
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
            // Which server this is (its port and start time), to count the
            // times the primary changed. One round trip per new connection.
            let identity: ServerIdentity = diesel_async::RunQueryDsl::get_result(
                diesel::sql_query(
                    "SELECT coalesce(inet_server_port(), 0) AS port, \
                 pg_postmaster_start_time()::text AS started",
                ),
                &mut conn,
            )
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            POOL_EVENTS.connected_to((identity.port, identity.started));
            Ok(conn)
        }
        .boxed()
    });
    let manager = CheckedManager {
        manager: AsyncDieselConnectionManager::new_with_config(database_url, config),
        open_timeout: settings.answer_timeout(),
    };
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

/// Whether `error` is the server refusing a write because it is read-only
/// (SQLSTATE 25006): a standby, or a primary demoted since the connection
/// was made. The statement did not commit, so it may run again on a
/// connection to the new primary.
pub fn is_refused_by_standby(error: &QueryError) -> bool {
    match error {
        QueryError::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _) => true,
        // diesel-async maps 25006 to `ReadOnlyTransaction`; the messages
        // also cover a server that refuses the write in recovery without
        // that code.
        QueryError::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let message = info.message();
            message.ends_with("in a read-only transaction")
                || message.starts_with("cannot assign TransactionIds during recovery")
        }
        _ => false,
    }
}

/// Whether a batch that failed with `error` may go on on another
/// connection, finding there what committed and deciding the rest again:
/// the connection was lost, or its server turned out to be a standby
/// (nothing committed).
pub fn is_resumable_elsewhere(error: &QueryError) -> bool {
    is_lost_connection(error) || is_refused_by_standby(error)
}
