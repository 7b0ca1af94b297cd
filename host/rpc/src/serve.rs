//! The accept loop: hyper with a header-read deadline (slowloris), a cap on open connections,
//! the peer address handed to handlers, and a graceful stop.
//!
//! ```text
//! accept ──▶ permit (over max_connections: closed at once) ──▶ TCP_NODELAY
//!        ──▶ hyper auto (HTTP/1 + upgrades, HTTP/2): headers within header_timeout or closed
//!        ──▶ router (ConnectInfo<SocketAddr> inserted per request) ──▶ permit released
//! shutdown ──▶ stop accepting ──▶ open connections finish their requests (bounded wait)
//! ```

use std::{future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, body::Body, extract::ConnectInfo, http::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Connection-level limits of a listener.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Open connections at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// A request's headers must arrive within this (slowloris).
    pub header_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// A connection's slot under the cap. Requests carry a clone, and the WebSocket handler
/// moves one into the upgraded socket, so a WebSocket holds its slot until it closes.
#[derive(Clone, Debug)]
pub struct ConnectionSlot(#[allow(dead_code)] Arc<tokio::sync::OwnedSemaphorePermit>);

/// How long a stopping server waits for open requests.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` under `limits` until `shutdown` resolves, then stops
/// accepting and waits (a bounded time) for open requests to finish.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(target: "ordo::rpc", ?addr, max_connections = limits.max_connections, "JSON-RPC listening (HTTP and WebSocket)");
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // HTTP/2 has no header deadline; pings find dead peers and drop them.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_timeout))
        .keep_alive_timeout(limits.header_timeout)
        .enable_connect_protocol();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(target: "ordo::rpc", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(target: "ordo::rpc", %peer, "connection limit reached, closing");
            drop(stream);
            continue;
        };
        let slot = ConnectionSlot(Arc::new(permit));
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(target: "ordo::rpc", error = %e, "TCP_NODELAY not set");
        }
        let request_slot = slot.clone();
        let service = router
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.extensions_mut().insert(request_slot.clone());
                request.map(Body::new)
            });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            // hyper's header deadline starts once it knows the protocol, which takes the
            // first bytes: a client that sends nothing must not hold a slot either.
            let mut first = [0u8; 1];
            match tokio::time::timeout(header_timeout, stream.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            let connection = builder
                .serve_connection_with_upgrades(
                    TokioIo::new(stream),
                    TowerToHyperService::new(service),
                )
                .into_owned();
            if let Err(e) = watcher.watch(connection).await {
                tracing::trace!(target: "ordo::rpc", %peer, error = %e, "connection ended");
            }
            drop(slot);
        });
    }
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(target: "ordo::rpc", ?addr, "open connections did not finish in time");
    }
    Ok(())
}
