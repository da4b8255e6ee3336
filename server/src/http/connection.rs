//! Serving one client connection: kept alive or for one request, and, when
//! the server drains, telling a keep-alive client to go (`Connection:
//! close` on its next answer) rather than cutting it off.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::header::{CONNECTION, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{Edge, ProtocolErrorRewrite};

/// How a connection is kept.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSettings {
    /// How long a client gets to send a request's headers, and how long a
    /// keep-alive connection may sit idle between requests.
    pub header_read_timeout: Duration,
    /// Once the server drains, how long an idle keep-alive connection is
    /// kept for the client's next request (answered with `Connection:
    /// close`) before it is closed.
    pub drain_idle_window: Duration,
}

/// Whether a connection is kept alive between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Any number of requests.
    Alive,
    /// One request, answered with `Connection: close`: a connection past
    /// the server's cap, served without holding a place.
    OneRequest,
}

/// Serves `stream` until the client or the server closes it. `drain` turns
/// true when the server starts to stop.
pub async fn serve(
    stream: TcpStream,
    edge: Arc<Edge>,
    keep: Keep,
    settings: ConnectionSettings,
    mut drain: watch::Receiver<bool>,
) {
    // Small responses: send them without waiting for more.
    let _ = stream.set_nodelay(true);
    let peer = stream
        .peer_addr()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |addr| addr.ip());
    let draining = drain.clone();
    let service = service_fn(move |request| {
        let edge = Arc::clone(&edge);
        let draining = draining.clone();
        async move {
            let mut response = edge.handle(request, peer).await;
            // Once the server drains, every answer tells its client to go;
            // hyper then closes the connection after writing it.
            if *draining.borrow() {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, Infallible>(response)
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .keep_alive(keep == Keep::Alive)
        .serve_connection(TokioIo::new(ProtocolErrorRewrite::new(stream)), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = drain_starts(&mut drain) => {
            // A client between requests gets a moment to send its next
            // one, which is answered with Connection: close; a request in
            // flight is finished. Then the connection ends.
            tokio::select! {
                result = connection.as_mut() => result,
                () = tokio::time::sleep(settings.drain_idle_window) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            }
        }
    };
    if let Err(error) = result {
        tracing::debug!(error = %error, "connection ended with an error");
    }
}

/// Completes when the drain starts (never, if the server is gone first).
async fn drain_starts(drain: &mut watch::Receiver<bool>) {
    if drain.wait_for(|draining| *draining).await.is_err() {
        std::future::pending::<()>().await;
    }
}
