//! The accept loop: hyper with a header-read deadline (slowloris), caps on open connections
//! (overall and per client IP), an idle deadline, the peer address handed to handlers, and a
//! graceful stop.
//!
//! ```text
//! accept ──▶ (error, e.g. EMFILE: back off, growing to 1 s, never spin)
//!        ──▶ permit (over max_connections: closed at once)
//!        ──▶ per-IP count (over max_connections_per_ip: closed at once; trusted proxies exempt)
//!        ──▶ TCP_NODELAY ──▶ first bytes within header_timeout or closed
//!        ──▶ hyper auto (HTTP/1 + upgrades, HTTP/2): headers within header_timeout or closed
//!        ──▶ router (ConnectInfo<SocketAddr> inserted per request)
//!        ──▶ no request running for idle_timeout: graceful close (HTTP/2 GOAWAY)
//!        ──▶ permit and per-IP count released (a WebSocket keeps them until it closes)
//! shutdown ──▶ stop accepting ──▶ open connections finish their requests (bounded wait)
//! ```

use std::{
    collections::HashMap,
    future::Future,
    io,
    net::{IpAddr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo, http::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use parking_lot::Mutex;
use tokio::sync::{Semaphore, mpsc, watch};
use tower::ServiceExt;

use crate::TrustedProxies;

/// Connection-level limits of a listener.
#[derive(Debug, Clone)]
pub struct ServeLimits {
    /// Open connections at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Open connections from one client IP (IPv6: one /64) at once; 0 means no limit.
    /// Trusted proxies are exempt (their clients are told apart per request).
    pub max_connections_per_ip: usize,
    /// A request's headers must arrive within this (slowloris).
    pub header_timeout: Duration,
    /// A connection with no request running for this long is closed (HTTP/2 with GOAWAY).
    pub idle_timeout: Duration,
    /// Peers exempt from the per-IP connection cap.
    pub trusted_proxies: TrustedProxies,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_connections_per_ip: 0,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// A connection's slot under the caps. Requests carry a clone, and the WebSocket handler
/// moves one into the upgraded socket, so a WebSocket holds its slot until it closes.
#[derive(Clone, Debug)]
pub struct ConnectionSlot(#[allow(dead_code)] Arc<Slot>);

#[derive(Debug)]
struct Slot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    _per_ip: Option<PerIpSlot>,
}

/// Open connections by client IP key.
type PerIp = Arc<Mutex<HashMap<IpAddr, usize>>>;

#[derive(Debug)]
struct PerIpSlot {
    table: PerIp,
    key: IpAddr,
}

impl Drop for PerIpSlot {
    fn drop(&mut self) {
        let mut table = self.table.lock();
        if let Some(n) = table.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                table.remove(&self.key);
            }
        }
    }
}

/// Takes one of `ip`'s connection slots, if it has one left.
fn per_ip_slot(table: &PerIp, ip: IpAddr, max: usize) -> Option<PerIpSlot> {
    let key = crate::clients::client_key(ip);
    let mut open = table.lock();
    let n = open.entry(key).or_insert(0);
    if *n >= max {
        return None;
    }
    *n += 1;
    Some(PerIpSlot {
        table: Arc::clone(table),
        key,
    })
}

/// Requests running on one connection and when the last one ended.
#[derive(Debug)]
struct Activity {
    running: AtomicUsize,
    changed: watch::Sender<()>,
}

struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.send_replace(());
    }
}

impl Activity {
    fn busy(self: &Arc<Self>) -> Busy {
        self.running.fetch_add(1, Ordering::AcqRel);
        self.changed.send_replace(());
        Busy(Arc::clone(self))
    }

    /// Resolves once no request has run for `idle`.
    async fn idle(&self, idle: Duration) {
        let mut changed = self.changed.subscribe();
        loop {
            if self.running.load(Ordering::Acquire) == 0 {
                tokio::select! {
                    () = tokio::time::sleep(idle) => return,
                    _ = changed.changed() => {}
                }
            } else if changed.changed().await.is_err() {
                return;
            }
        }
    }
}

/// How long a stopping server waits for open requests.
const DRAIN: Duration = Duration::from_secs(10);
/// The longest pause after failing accepts (out of file descriptors and the like).
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` under `limits` until `shutdown` resolves, then stops
/// accepting and waits (a bounded time) for open requests to finish.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(target: "ordo::rpc", ?addr, max_connections = limits.max_connections, max_connections_per_ip = limits.max_connections_per_ip, "JSON-RPC listening (HTTP and WebSocket)");
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_ip: PerIp = Arc::new(Mutex::new(HashMap::new()));
    // Connection tasks hold a sender; the drain waits until every one is gone.
    let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
    let (stop_tx, stop_rx) = watch::channel(false);
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
    let mut backoff = Duration::ZERO;
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => {
                    backoff = Duration::ZERO;
                    pair
                }
                Err(e) => {
                    // Out of file descriptors and the like: the pending connection stays
                    // queued and accept would fail again at once; pause, longer each time.
                    if backoff.is_zero() {
                        tracing::warn!(target: "ordo::rpc", error = %e, "accept failed, backing off");
                    }
                    metrics::counter!("ordo_rpc_accept_errors_total").increment(1);
                    backoff = (backoff * 2).clamp(Duration::from_millis(10), MAX_ACCEPT_BACKOFF);
                    tokio::select! {
                        _ = &mut shutdown => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(target: "ordo::rpc", %peer, "connection limit reached, closing");
            metrics::counter!("ordo_rpc_connections_refused_total", "limit" => "total")
                .increment(1);
            drop(stream);
            continue;
        };
        let ip_slot = if limits.max_connections_per_ip == 0
            || limits.trusted_proxies.contains(peer.ip())
        {
            None
        } else {
            match per_ip_slot(&per_ip, peer.ip(), limits.max_connections_per_ip) {
                Some(slot) => Some(slot),
                None => {
                    tracing::debug!(target: "ordo::rpc", %peer, "per-IP connection limit reached, closing");
                    metrics::counter!("ordo_rpc_connections_refused_total", "limit" => "ip")
                        .increment(1);
                    drop(stream);
                    continue;
                }
            }
        };
        let slot = ConnectionSlot(Arc::new(Slot {
            _permit: permit,
            _per_ip: ip_slot,
        }));
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(target: "ordo::rpc", error = %e, "TCP_NODELAY not set");
        }
        let activity = Arc::new(Activity {
            running: AtomicUsize::new(0),
            changed: watch::Sender::new(()),
        });
        let request_slot = slot.clone();
        let service = {
            let router = router.clone();
            let activity = Arc::clone(&activity);
            tower::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.extensions_mut().insert(request_slot.clone());
                let busy = activity.busy();
                let router = router.clone();
                async move {
                    let response = router.oneshot(request.map(Body::new)).await;
                    drop(busy);
                    response
                }
            })
        };
        let builder = builder.clone();
        let header_timeout = limits.header_timeout;
        let idle_timeout = limits.idle_timeout;
        let open = open_tx.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let stopping = async move {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            tokio::pin!(stopping);
            // hyper's header deadline starts once it knows the protocol, which takes the
            // first bytes: a client that sends nothing must not hold a slot either.
            let mut first = [0u8; 1];
            match tokio::time::timeout(header_timeout, stream.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(stream),
                TowerToHyperService::new(service),
            );
            tokio::pin!(connection);
            let mut closing = false;
            let result = loop {
                tokio::select! {
                    result = connection.as_mut() => break result,
                    () = activity.idle(idle_timeout), if !closing => {
                        tracing::trace!(target: "ordo::rpc", %peer, "idle connection, closing");
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    () = &mut stopping, if !closing => {
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            };
            if let Err(e) = result {
                tracing::trace!(target: "ordo::rpc", %peer, error = %e, "connection ended");
            }
            drop(slot);
            drop(open);
        });
    }
    stop_tx.send_replace(true);
    drop(open_tx);
    if tokio::time::timeout(DRAIN, open_rx.recv()).await.is_err() {
        tracing::warn!(target: "ordo::rpc", ?addr, "open connections did not finish in time");
    }
    Ok(())
}

/// Serves `router` on `listener` with the default [`ServeLimits`] until `shutdown` resolves,
/// then stops accepting and waits for open requests to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, router, ServeLimits::default(), shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_slots_are_counted_and_given_back() {
        let table: PerIp = Arc::new(Mutex::new(HashMap::new()));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let s1 = per_ip_slot(&table, a, 2).unwrap();
        let s2 = per_ip_slot(&table, a, 2).unwrap();
        assert!(per_ip_slot(&table, a, 2).is_none());
        let other = per_ip_slot(&table, b, 2).unwrap();
        drop(s1);
        let s3 = per_ip_slot(&table, a, 2).unwrap();
        drop((s2, s3, other));
        assert!(table.lock().is_empty());
    }
}
