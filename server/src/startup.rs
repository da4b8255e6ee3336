//! Builds the application from its configuration and serves it until told
//! to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::FutureExt;
use secrecy::ExposeSecret;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::task::TaskTracker;

use crate::api::{ApiSettings, TicketsApi};
use crate::auth::{Authenticator, OidcVerifier, TokenStore};
use crate::config::{AuthSettings, Config};
use crate::http::{AccessLog, ConnectionSettings, Edge, EdgeSettings, Keep, serve_connection};
use crate::metrics::Metrics;
use crate::storage::{self, Pool};

/// How often expired idempotency keys are deleted.
const KEY_CLEANUP_INTERVAL: Duration = Duration::from_secs(600);

/// The most tickets one sweep goes through; the next sweep takes the rest.
const HOLD_SWEEP_TICKETS: i32 = 500;

/// How long the server keeps trying to reach the database at start.
const STARTUP_DATABASE_WAIT: Duration = Duration::from_secs(30);

/// When the server drains, how long an idle keep-alive connection is kept
/// for its client's next request, which is answered `Connection: close`.
/// Busy clients send theirs within microseconds; an idle one is closed.
const DRAIN_IDLE_WINDOW: Duration = Duration::from_secs(1);

/// The server, bound and migrated, ready to serve.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    edge: Arc<Edge>,
    api: TicketsApi,
    pool: Pool,
    idempotency_key_ttl: Duration,
    hold_sweep_interval: Duration,
    shutdown_grace: Duration,
    connection: ConnectionSettings,
    /// Places for kept-alive connections (`MAX_CONNECTIONS`).
    kept: Arc<Semaphore>,
    /// Places for connections past the cap, served one request each, so that
    /// a health probe or a new client is answered while long-lived clients
    /// hold every kept place.
    one_request: Arc<Semaphore>,
}

impl Application {
    /// Connects to the database, applies pending migrations and binds the
    /// listening socket; requests are authenticated as `auth` says.
    pub async fn build(config: &Config, auth: &AuthSettings) -> anyhow::Result<Self> {
        let pool_settings = config.pool_settings();
        let pool = storage::build_pool(config.database_url.expose_secret(), pool_settings);
        migrate_when_reachable(&pool).await?;
        let listener = listen(config.listen_addr, config.max_connections)
            .with_context(|| format!("binding {}", config.listen_addr))?;
        let local_addr = listener.local_addr().context("reading the bound address")?;
        let authenticator = match auth {
            AuthSettings::Open => None,
            AuthSettings::Required(oidc) => Some(Arc::new(Authenticator::new(
                TokenStore::new(pool.clone(), TokenStore::MAX_CACHE_AGE),
                OidcVerifier::new(oidc.clone()).map_err(anyhow::Error::msg)?,
            ))),
        };
        let metrics = Arc::new(Metrics::new());
        let api = TicketsApi::new(
            pool.clone(),
            Arc::clone(&metrics),
            ApiSettings {
                idempotency_key_ttl: config.idempotency_key_ttl,
                connect_timeout: config.connect_timeout,
                answer_timeout: pool_settings.answer_timeout(),
                queue_depth: config.queue_depth,
                pool_size: config.pool_size,
                hold_lifetimes: config.hold_lifetimes,
            },
        );
        Ok(Self {
            listener,
            local_addr,
            edge: Arc::new(Edge::new(
                api.clone(),
                metrics,
                EdgeSettings {
                    body_read_timeout: config.body_read_timeout,
                    database_deadline: pool_settings.request_deadline(),
                    cors: config.cors_allowed_origins.clone(),
                    trusted_proxies: config.trusted_proxies.clone(),
                    rate_limits: config.rate_limits,
                    authenticator,
                },
                AccessLog::new(config.access_log),
            )),
            api,
            pool,
            idempotency_key_ttl: config.idempotency_key_ttl,
            hold_sweep_interval: config.hold_sweep_interval,
            shutdown_grace: config.shutdown_grace,
            connection: ConnectionSettings {
                header_read_timeout: config.header_read_timeout,
                drain_idle_window: DRAIN_IDLE_WINDOW.min(config.shutdown_grace),
            },
            kept: Arc::new(Semaphore::new(config.max_connections)),
            one_request: Arc::new(Semaphore::new(one_request_places(config.max_connections))),
        })
    }

    /// The address the server listens on (useful when it was given port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then drains: stops accepting
    /// connections, answers those already waiting to be accepted, tells
    /// keep-alive clients to go, and lets requests in flight finish, for at
    /// most the shutdown grace.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), "listening");
        let connections = TaskTracker::new();
        let (drain, draining) = watch::channel(false);
        let cleanup = tokio::spawn(forget_expired_keys(
            self.pool.clone(),
            self.idempotency_key_ttl,
        ));
        let sweep = tokio::spawn(give_back_expired_holds(
            self.api.clone(),
            self.hold_sweep_interval,
        ));
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            // A kept place if one is free, else one for a single request;
            // with none of either, new clients wait in the listen backlog.
            let (place, keep) = tokio::select! {
                biased;
                () = &mut shutdown => break,
                place = Arc::clone(&self.kept).acquire_owned() => (place, Keep::Alive),
                place = Arc::clone(&self.one_request).acquire_owned() => (place, Keep::OneRequest),
            };
            let Ok(place) = place else { break };
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _peer)) => self.spawn(&connections, stream, keep, Some(place), &draining),
                    Err(error) => {
                        // Out of file descriptors, say: wait rather than spin.
                        tracing::warn!(error = %error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                () = &mut shutdown => break,
            }
        }
        tracing::info!("shutting down: draining connections");
        // Connections the kernel accepted already would be reset when the
        // listener closes: each gets its one request answered instead.
        while let Some(Ok((stream, _peer))) = self.listener.accept().now_or_never() {
            self.spawn(&connections, stream, Keep::OneRequest, None, &draining);
        }
        drop(self.listener);
        let _ = drain.send(true);
        cleanup.abort();
        sweep.abort();
        connections.close();
        if tokio::time::timeout(self.shutdown_grace, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?self.shutdown_grace, "requests still in flight after the grace period were dropped");
        }
        tracing::info!("stopped");
        Ok(())
    }

    /// Serves a connection in a task of its own, holding its place.
    fn spawn(
        &self,
        connections: &TaskTracker,
        stream: tokio::net::TcpStream,
        keep: Keep,
        place: Option<OwnedSemaphorePermit>,
        draining: &watch::Receiver<bool>,
    ) {
        let serving = serve_connection(
            stream,
            Arc::clone(&self.edge),
            keep,
            self.connection,
            draining.clone(),
        );
        connections.spawn(async move {
            serving.await;
            drop(place);
        });
    }
}

/// Binds `addr` with a listen queue long enough for a rush: a thousand
/// connections opened at once must all wait there until they are accepted.
/// The usual 128 drops the rest, which their clients send again only after a
/// second. The kernel shortens the queue to its own limit (`somaxconn`).
fn listen(addr: SocketAddr, max_connections: usize) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std's listener does: a restarted server can bind again at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let backlog = u32::try_from(max_connections.max(4096)).unwrap_or(u32::MAX);
    socket.listen(backlog)
}

/// Places for connections past `MAX_CONNECTIONS`, each served one request:
/// a quarter as many, and at least 16.
fn one_request_places(max_connections: usize) -> usize {
    (max_connections / 4).max(16)
}

/// Gives back the tickets of expired holds every `interval`, for as long as
/// it runs: the stored counts catch up with what has expired.
async fn give_back_expired_holds(api: TicketsApi, interval: Duration) {
    let mut every = tokio::time::interval(interval);
    loop {
        every.tick().await;
        match api.give_back_expired_holds(HOLD_SWEEP_TICKETS).await {
            Ok(0) => {}
            Ok(tickets) => tracing::info!(tickets, "expired holds given back"),
            Err(error) => {
                tracing::warn!(error = %error, "giving back expired holds failed");
            }
        }
    }
}

/// Deletes expired idempotency keys now and then, for as long as it runs.
async fn forget_expired_keys(pool: Pool, ttl: Duration) {
    let mut every = tokio::time::interval(KEY_CLEANUP_INTERVAL);
    loop {
        every.tick().await;
        match storage::keys::forget_expired(&pool, ttl).await {
            Ok(0) => {}
            Ok(forgotten) => tracing::info!(forgotten, "expired idempotency keys deleted"),
            Err(error) => {
                tracing::warn!(error = %error, "deleting expired idempotency keys failed");
            }
        }
    }
}

/// Applies migrations, retrying while the database is not reachable yet (as
/// when it starts alongside the server).
async fn migrate_when_reachable(pool: &Pool) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + STARTUP_DATABASE_WAIT;
    loop {
        match storage::run_pending_migrations(pool).await {
            Ok(()) => return Ok(()),
            Err(error) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = format!("{error:#}"), "database not ready; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => return Err(error.context("applying database migrations")),
        }
    }
}
