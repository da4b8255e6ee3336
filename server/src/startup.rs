//! Builds the application from its configuration and serves it until told
//! to stop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::api::TicketsApi;
use crate::config::Config;
use crate::http::{Edge, ProtocolErrorRewrite};
use crate::metrics::Metrics;
use crate::storage::{self, Pool};

/// How often expired idempotency keys are deleted.
const KEY_CLEANUP_INTERVAL: Duration = Duration::from_secs(600);

/// How long the server keeps trying to reach the database at start.
const STARTUP_DATABASE_WAIT: Duration = Duration::from_secs(30);

/// The server, bound and migrated, ready to serve.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    edge: Arc<Edge>,
    pool: Pool,
    idempotency_key_ttl: Duration,
    shutdown_grace: Duration,
    header_read_timeout: Duration,
    connection_slots: Arc<Semaphore>,
}

impl Application {
    /// Connects to the database, applies pending migrations and binds the
    /// listening socket.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let pool = storage::build_pool(
            &config.database_url,
            storage::PoolSettings {
                max_size: config.pool_size,
                connect_timeout: config.connect_timeout,
                statement_timeout: config.statement_timeout,
            },
        );
        migrate_when_reachable(&pool).await?;
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .with_context(|| format!("binding {}", config.listen_addr))?;
        let local_addr = listener.local_addr().context("reading the bound address")?;
        let metrics = Arc::new(Metrics::new());
        Ok(Self {
            listener,
            local_addr,
            edge: Arc::new(Edge::new(
                TicketsApi::new(
                    pool.clone(),
                    Arc::clone(&metrics),
                    config.idempotency_key_ttl,
                ),
                metrics,
                config.body_read_timeout,
            )),
            pool,
            idempotency_key_ttl: config.idempotency_key_ttl,
            shutdown_grace: config.shutdown_grace,
            header_read_timeout: config.header_read_timeout,
            connection_slots: Arc::new(Semaphore::new(config.max_connections)),
        })
    }

    /// The address the server listens on (useful when it was given port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then stops accepting connections
    /// and lets requests in flight finish, for at most the shutdown grace.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), "listening");
        let graceful = GracefulShutdown::new();
        let cleanup = tokio::spawn(forget_expired_keys(
            self.pool.clone(),
            self.idempotency_key_ttl,
        ));
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            // At the connection cap, stop accepting until one closes.
            let slot = tokio::select! {
                slot = Arc::clone(&self.connection_slots).acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_closed) => break,
                },
                () = &mut shutdown => break,
            };
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        // Small responses: send them without waiting for more.
                        let _ = stream.set_nodelay(true);
                        let edge = Arc::clone(&self.edge);
                        let service = service_fn(move |request| {
                            let edge = Arc::clone(&edge);
                            async move { Ok::<_, Infallible>(edge.handle(request).await) }
                        });
                        let connection = http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(self.header_read_timeout)
                            .serve_connection(TokioIo::new(ProtocolErrorRewrite::new(stream)), service);
                        let connection = graceful.watch(connection);
                        tokio::spawn(async move {
                            if let Err(error) = connection.await {
                                tracing::debug!(error = %error, "connection ended with an error");
                            }
                            drop(slot);
                        });
                    }
                    Err(error) => {
                        // Out of file descriptors, say: wait rather than spin.
                        tracing::warn!(error = %error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                () = &mut shutdown => break,
            }
        }
        drop(self.listener);
        cleanup.abort();
        tracing::info!("shutting down: finishing requests in flight");
        if tokio::time::timeout(self.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?self.shutdown_grace, "requests still in flight after the grace period were dropped");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Deletes expired idempotency keys now and then, for as long as it runs.
async fn forget_expired_keys(pool: Pool, ttl: Duration) {
    let mut every = tokio::time::interval(KEY_CLEANUP_INTERVAL);
    loop {
        every.tick().await;
        match storage::idempotency::forget_expired(&pool, ttl).await {
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
