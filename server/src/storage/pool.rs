//! The pool of database connections, and what keeps it healthy after the
//! database restarts or fails over to a standby.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::result::{DatabaseErrorKind, Error as QueryError};
use diesel::sql_types::{Integer, Text};
use diesel_async::pooled_connection::{PoolError, PoolableConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

use super::hosts;

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

/// The pool's connection manager: opens connections host by host, and
/// checks them at checkout without a round trip.
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
/// A statement unanswered for longer than the statement timeout shows more:
/// its server has stopped answering (one that answers cancels any statement
/// at the statement timeout). Every connection opened to that server before
/// then is as likely frozen, so none of them is handed out again either;
/// otherwise each would cost the next batch of its lane the answer timeout,
/// one after another, after a standby has taken over. Connections to other
/// servers, the new primary's among them, are kept.
///
/// A URL that names several hosts is walked host by host ([`hosts`]): an
/// attempt on one host that has not opened a connection (its TCP
/// connection, start-up, authentication and read-write check) within the
/// connect timeout is given up for the next host, and the host that last
/// gave a connection is tried first. With one host, the attempt is given up
/// after the answer timeout (a frozen server accepts it and never answers):
/// the pool would otherwise keep its place for it for good.
///
/// [`hosts`]: super::hosts
pub struct CheckedManager {
    /// The database URL once for each host it names.
    host_urls: Vec<String>,
    /// The host that last gave a connection: the walk starts there.
    serving_host: AtomicUsize,
    /// The bound on an attempt on one host of several.
    host_timeout: Duration,
    /// The bound on opening a connection, whatever the hosts.
    open_timeout: Duration,
    statement_timeout: Duration,
    /// How many times a server was found to have stopped answering.
    stalls: AtomicU64,
    /// Each server found to have stopped answering, and the count of
    /// [`Self::stalls`] it was found at: its connections opened before then
    /// are not used again. One entry for each server that ever stalled.
    stalled: std::sync::Mutex<HashMap<ServerIdentity, u64>>,
}

impl std::fmt::Debug for CheckedManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URLs carry the password.
        f.debug_struct("CheckedManager")
            .field("hosts", &self.host_urls.len())
            .field("stalls", &self.stalls)
            .finish_non_exhaustive()
    }
}

impl CheckedManager {
    /// Opens a connection on the first host that takes writes, starting
    /// with the one that last gave a connection.
    async fn open(&self) -> Result<(AsyncPgConnection, ServerIdentity), PoolError> {
        let hosts = self.host_urls.len();
        let per_host = if hosts > 1 {
            self.host_timeout
        } else {
            self.open_timeout
        };
        let mut failure = None;
        for host in hosts::walk(self.serving_host.load(Ordering::Relaxed), hosts) {
            match tokio::time::timeout(per_host, self.open_on(&self.host_urls[host])).await {
                Ok(Ok(opened)) => {
                    self.serving_host.store(host, Ordering::Relaxed);
                    return Ok(opened);
                }
                Ok(Err(error)) => failure = Some(PoolError::ConnectionError(error)),
                Err(_elapsed) => failure = Some(not_open_in_time()),
            }
        }
        Err(failure.expect("a database URL names at least one host"))
    }

    /// Opens a connection on the host `url` names, sets it up, and asks its
    /// server who it is (one round trip).
    async fn open_on(
        &self,
        url: &str,
    ) -> Result<(AsyncPgConnection, ServerIdentity), diesel::ConnectionError> {
        let mut conn = AsyncPgConnection::establish(url).await?;
        conn.batch_execute(&format!(
            "SET statement_timeout = {}; SET enable_seqscan = off",
            self.statement_timeout.as_millis()
        ))
        .await
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
        let server: ServerIdentity = diesel_async::RunQueryDsl::get_result(
            diesel::sql_query(
                "SELECT coalesce(host(inet_server_addr()), '') AS address, \
                 coalesce(inet_server_port(), 0) AS port, \
                 pg_postmaster_start_time()::text AS started",
            ),
            &mut conn,
        )
        .await
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
        Ok((conn, server))
    }

    /// Notes that `server` stopped answering: its connections opened before
    /// now are not used again.
    fn mark_stalled(&self, server: &ServerIdentity) {
        let mut stalled = self
            .stalled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = self.stalls.fetch_add(1, Ordering::Relaxed) + 1;
        stalled.insert(server.clone(), count);
    }

    /// Whether `conn` was opened to a server before it was found to have
    /// stopped answering. One atomic read while no server has stalled since
    /// the connection was last checked.
    fn is_stale(&self, conn: &mut ServerConnection) -> bool {
        let stalls = self.stalls.load(Ordering::Relaxed);
        if conn.stalls_checked == stalls {
            return false;
        }
        let stalled = self
            .stalled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let stale = stalled
            .get(&conn.server)
            .is_some_and(|&at| at > conn.stalls_checked);
        if !stale {
            conn.stalls_checked = stalls;
        }
        stale
    }
}

/// A connection attempt given up at its bound.
fn not_open_in_time() -> PoolError {
    PoolError::ConnectionError(diesel::ConnectionError::BadConnection(
        "the database did not finish opening the connection in time".to_owned(),
    ))
}

impl bb8::ManageConnection for CheckedManager {
    type Connection = ServerConnection;
    type Error = PoolError;

    async fn connect(&self) -> Result<Self::Connection, Self::Error> {
        let (mut conn, server) = tokio::time::timeout(self.open_timeout, self.open())
            .await
            .map_err(|_elapsed| not_open_in_time())??;
        POOL_EVENTS.connected_to(&server);
        let watch = ConnectionWatch::default();
        conn.set_instrumentation(watch.clone());
        Ok(ServerConnection {
            conn,
            watch,
            server,
            // Its server has just answered.
            stalls_checked: self.stalls.load(Ordering::Relaxed),
        })
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
        // Counted by `has_broken`, which the pool calls on every connection
        // it drops.
        if self.is_stale(conn) {
            return Err(PoolError::QueryError(QueryError::DatabaseError(
                DatabaseErrorKind::UnableToSendCommand,
                Box::new("the connection's server stopped answering".to_owned()),
            )));
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut Self::Connection) -> bool {
        if let Some(waited) = conn.watch.unanswered_for() {
            POOL_EVENTS
                .unanswered_discards
                .fetch_add(1, Ordering::Relaxed);
            if waited > self.statement_timeout {
                self.mark_stalled(&conn.server);
            }
            return true;
        }
        if conn.refused_write() || conn.conn.is_broken() {
            return true;
        }
        if self.is_stale(conn) {
            POOL_EVENTS.stale_discards.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        false
    }
}

/// A pooled connection: diesel-async's, what its instrumentation saw, the
/// server it reaches, and the count of stalls it was last checked against.
pub struct ServerConnection {
    conn: AsyncPgConnection,
    watch: ConnectionWatch,
    server: ServerIdentity,
    stalls_checked: u64,
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
/// sent and not yet answered, since when, and notes a write the server
/// refused as read-only.
#[derive(Clone, Default)]
struct ConnectionWatch {
    refused_write: Arc<AtomicBool>,
    unanswered: Arc<AtomicUsize>,
    /// When the oldest statement still unanswered was sent, in nanoseconds
    /// since [`WATCH_EPOCH`].
    unanswered_since: Arc<AtomicU64>,
}

/// What [`ConnectionWatch`] measures its times from.
static WATCH_EPOCH: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

/// The time since [`WATCH_EPOCH`], in nanoseconds (enough for 584 years).
fn watch_clock() -> u64 {
    u64::try_from(WATCH_EPOCH.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl ConnectionWatch {
    /// How long the oldest statement still unanswered has waited, if one
    /// has.
    fn unanswered_for(&self) -> Option<Duration> {
        (self.unanswered.load(Ordering::Relaxed) > 0).then(|| {
            let since = self.unanswered_since.load(Ordering::Relaxed);
            Duration::from_nanos(watch_clock().saturating_sub(since))
        })
    }
}

impl Instrumentation for ConnectionWatch {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                let waiting_before = self.unanswered.fetch_add(1, Ordering::Relaxed);
                if waiting_before == 0 {
                    self.unanswered_since
                        .store(watch_clock(), Ordering::Relaxed);
                }
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
    /// Connections dropped because, after they were opened, another to the
    /// same server was given back with a statement unanswered past the
    /// statement timeout: their server had stopped answering.
    pub stale_discards: AtomicU64,
    /// Times a new connection found a different writable server than the
    /// one before: a failover or switchover, or the primary restarted.
    pub primary_changes: AtomicU64,
    last_primary: std::sync::Mutex<Option<ServerIdentity>>,
}

impl PoolEvents {
    fn connected_to(&self, primary: &ServerIdentity) {
        self.connections_opened.fetch_add(1, Ordering::Relaxed);
        let mut last = self
            .last_primary
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.as_ref().is_some_and(|last| last != primary) {
            self.primary_changes.fetch_add(1, Ordering::Relaxed);
        }
        *last = Some(primary.clone());
    }
}

/// The pool events of this process.
pub static POOL_EVENTS: std::sync::LazyLock<PoolEvents> =
    std::sync::LazyLock::new(PoolEvents::default);

/// A server as it names itself: the address and port it answered on, and
/// when it started (after a restart it is another server).
#[derive(diesel::QueryableByName, Debug, Clone, PartialEq, Eq, Hash)]
struct ServerIdentity {
    #[diesel(sql_type = Text)]
    address: String,
    #[diesel(sql_type = Integer)]
    port: i32,
    #[diesel(sql_type = Text)]
    started: String,
}

/// Builds the pool. Connections are opened lazily, so this succeeds while
/// the database is down; requests then get 503 until it is back.
pub fn build_pool(database_url: &str, settings: PoolSettings) -> Pool {
    let manager = CheckedManager {
        host_urls: hosts::one_url_per_host(database_url),
        serving_host: AtomicUsize::new(0),
        host_timeout: settings.connect_timeout,
        open_timeout: settings.answer_timeout(),
        statement_timeout: settings.statement_timeout,
        stalls: AtomicU64::new(0),
        stalled: std::sync::Mutex::default(),
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
