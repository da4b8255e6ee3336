//! A TCP proxy between the server and PostgreSQL that a test can cut, as a
//! database that stops or a network that fails would, or freeze, as a
//! database that hangs would; and restore.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

pub struct ChaosProxy {
    pub address: SocketAddr,
    cut: Arc<AtomicBool>,
    frozen: watch::Sender<bool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accepting: AbortHandle,
}

impl ChaosProxy {
    /// Forwards 127.0.0.1:<some port> to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the proxy");
        let address = listener.local_addr().expect("an address");
        let cut = Arc::new(AtomicBool::new(false));
        let (frozen, _) = watch::channel(false);
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let accepting = tokio::spawn({
            let (cut, connections) = (Arc::clone(&cut), Arc::clone(&connections));
            let frozen = frozen.subscribe();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is refused at once
                    }
                    let forwarding = tokio::spawn(forward(client, upstream, frozen.clone()));
                    connections
                        .lock()
                        .expect("not poisoned")
                        .push(forwarding.abort_handle());
                }
            }
        })
        .abort_handle();
        Self {
            address,
            cut,
            frozen,
            connections,
            accepting,
        }
    }

    /// Closes every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for connection in self.connections.lock().expect("not poisoned").drain(..) {
            connection.abort();
        }
    }

    /// Stops answering, as a frozen server does, with every connection kept
    /// open: nothing more passes on the connections forwarded so far, and
    /// new ones are accepted but never answered.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Forwards new connections again. Connections frozen before stay
    /// frozen, as those to a frozen server do when a standby takes over.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
        self.frozen.send_replace(false);
    }
}

/// Forwards `client` to `upstream` until either closes, or until the proxy
/// freezes; then holds both open, passing nothing, until aborted.
async fn forward(mut client: TcpStream, upstream: SocketAddr, mut frozen: watch::Receiver<bool>) {
    let frozen_now = *frozen.borrow_and_update();
    if frozen_now {
        std::future::pending::<()>().await;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let froze = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
        changed = frozen.wait_for(|frozen| *frozen) => changed.is_ok(),
    };
    if froze {
        std::future::pending::<()>().await;
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.cut();
        self.accepting.abort();
    }
}
