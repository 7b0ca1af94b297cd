//! ordo-rpc: geth-compatible Ethereum JSON-RPC 2.0 over HTTP and WebSocket, on one port.
//!
//! ```text
//! accept ──▶ serve_with: connection caps (overall, per client IP; trusted proxies exempt),
//!              header deadline (slowloris), idle deadline (HTTP/2: GOAWAY), accept errors
//!              (EMFILE) backed off, peer IP per request
//! client   peer IP, or the X-Forwarded-For client when the peer is a trusted proxy
//!              (clients: TrustedProxies) ──▶ the key of every per-client limit below
//! POST /  body (size cap, body deadline) ──▶ JSON depth check
//!              ──▶ framing (single | batch | notification; parse/invalid-request errors;
//!                  a batch is counted while it is read and refused past max_batch_len)
//!              ──▶ dispatch (method name → Params → EthBackend call → RawValue result)
//!              ──▶ framing writes the response bytes (batch entries run concurrently, at
//!                  most max_batch_concurrency at once, answered in request order)
//!                  ──▶ HTTP 200 application/json
//! GET /   upgrade ──▶ ws: reader loop (idle deadline, pings), one task per message (same
//!              framing + dispatch, plus eth_subscribe/eth_unsubscribe) ──▶ bounded queue,
//!              bytes counted per connection and per client (a slow reader is disconnected)
//!              ──▶ writer task
//!              subscriptions: EthBackend::subscribe() broadcast ──▶ newHeads / logs /
//!              newPendingTransactions notifications
//! filters  eth_newFilter & co. ──▶ FilterManager (ids, polling cursors, 5-minute expiry sweep,
//!              pending-tx pump fed by the same broadcast into ring buffers)
//!              filters and subscriptions reserve their client's slots and criteria bytes
//!              (clients: Clients), geth's criteria bounds (1000 addresses / topics)
//! each call ──▶ per-IP token bucket (RateLimiter; -32005) ──▶ per-client call permit
//!              (max_client_concurrency) ──▶ latency/error metrics by method
//! expensive reads (eth_call, estimateGas, getLogs, feeHistory, block receipts, heavy
//!              extensions) ──▶ reads: a few threads of their own behind a bounded queue,
//!              a deadline per call (CallDeadline, handed to the EVM) and a per-IP budget of
//!              thread time; tokio's blocking pool keeps only quick backend calls
//! GET /health ──▶ 200 "ok"
//! X-Flashbots-Signature ──▶ flashbots: EIP-191 signer of keccak256(body) = searcher, handed to
//!              EthBackend::extension_as (bad header/signature: -32600, nothing dispatched)
//! ```
//!
//! Seams: [`EthBackend`] is everything the server needs from the chain (implemented in
//! `ordo-node`); [`ChainEvent`] is what the chain publishes; [`BackendError`] carries the
//! JSON-RPC code/message/data a backend wants the wallet to see. Tracing target: `ordo::rpc`.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod backend;
mod clients;
mod dispatch;
mod error;
mod filters;
mod flashbots;
mod framing;
mod params;
mod ratelimit;
mod reads;
mod serve;
mod ws;

use std::{future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Extension, Router,
    body::Bytes,
    extract::{
        ConnectInfo, DefaultBodyLimit, State,
        ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use tower_http::cors::CorsLayer;

pub use backend::{BackendResult, ChainEvent, EthBackend, SendTxFuture};
pub use clients::{InvalidIpNet, IpNet, TrustedProxies};
pub use dispatch::{MAX_FEE_HISTORY_BLOCKS, MAX_FEE_HISTORY_PERCENTILES};
pub use error::*;
pub use ratelimit::{Quota, RateLimiter};
pub use reads::{CallDeadline, timeout_error};
pub use serve::{ConnectionSlot, ServeLimits, serve_with};

use crate::{
    clients::{ClientLimits, Clients},
    dispatch::{RequestContext, Server},
    filters::FilterManager,
    ws::WsLimits,
};

/// Default maximum request body (and WebSocket message) size: 5 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// Default maximum number of requests in one batch (geth: 1000).
pub const DEFAULT_MAX_BATCH_LEN: usize = 1000;
/// Default time after which an unpolled filter is removed (geth: 5 minutes).
pub const DEFAULT_FILTER_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Default maximum number of installed filters.
pub const DEFAULT_MAX_FILTERS: usize = 1024;
/// Default number of pending transaction hashes one pending filter buffers between polls.
pub const DEFAULT_MAX_FILTER_PENDING_TXS: usize = 10_000;
/// Default number of requests one WebSocket connection may have in flight.
pub const DEFAULT_WS_MAX_IN_FLIGHT: usize = 256;
/// Default number of outgoing messages queued per WebSocket connection.
pub const DEFAULT_WS_SEND_QUEUE: usize = 1024;
/// Default maximum subscriptions per WebSocket connection.
pub const DEFAULT_WS_MAX_SUBSCRIPTIONS: usize = 256;
/// Default number of entries of one batch that run at once.
pub const DEFAULT_MAX_BATCH_CONCURRENCY: usize = 64;
/// Default number of calls one client runs at once, over all its batches and connections.
pub const DEFAULT_MAX_CLIENT_CONCURRENCY: usize = 256;
/// Default filters plus subscriptions one client may hold.
pub const DEFAULT_MAX_FILTERS_PER_CLIENT: usize = 256;
/// Default memory the criteria of one client's filters and subscriptions may take (bytes).
pub const DEFAULT_MAX_FILTER_BYTES_PER_CLIENT: usize = 4 * 1024 * 1024;
/// Default bytes queued for one WebSocket connection before its reader counts as too slow.
pub const DEFAULT_WS_MAX_QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// Default bytes queued for all of one client's WebSockets.
pub const DEFAULT_WS_MAX_CLIENT_QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// Default time a WebSocket may stay silent (not even answering a ping) before it is closed.
pub const DEFAULT_WS_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Configuration of the JSON-RPC server.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Largest accepted HTTP body / WebSocket message, in bytes (larger HTTP bodies get 413).
    pub max_body_bytes: usize,
    /// Most requests in one batch; larger batches get -32600 "batch too large".
    pub max_batch_len: usize,
    /// Filters not polled for this long are removed.
    pub filter_timeout: Duration,
    /// Most installed filters; more get -32005 "too many filters".
    pub max_filters: usize,
    /// Pending transaction hashes buffered per pending filter (oldest dropped first).
    pub max_filter_pending_txs: usize,
    /// Requests in flight per WebSocket connection (reading pauses at the limit).
    pub ws_max_in_flight: usize,
    /// Outgoing messages queued per WebSocket connection.
    pub ws_send_queue: usize,
    /// Subscriptions per WebSocket connection.
    pub ws_max_subscriptions: usize,
    /// Bytes queued for one WebSocket; a reader that lets more pile up is disconnected.
    pub ws_max_queue_bytes: usize,
    /// Bytes queued for all WebSockets of one client; over it the connection that queues more
    /// is disconnected.
    pub ws_max_client_queue_bytes: usize,
    /// A WebSocket silent this long (the server pings at half of it) is closed.
    pub ws_idle_timeout: Duration,
    /// Entries of one batch running at once (the rest wait their turn).
    pub max_batch_concurrency: usize,
    /// Calls of one client running at once, over all its batches and connections (0: no limit).
    pub max_client_concurrency: usize,
    /// Filters plus subscriptions one client may hold (0: no limit); more get -32005.
    pub max_filters_per_client: usize,
    /// Bytes the criteria of one client's filters and subscriptions may take (0: no limit).
    pub max_filter_bytes_per_client: usize,
    /// Peers whose `X-Forwarded-For` names the client (load balancers); from anyone else the
    /// header is ignored.
    pub trusted_proxies: TrustedProxies,
    /// Answer CORS preflights and allow any origin (browser dapps), as `--http.corsdomain '*'`.
    pub cors_any_origin: bool,
    /// A request body must arrive within this (slow uploads); over it: HTTP 408.
    pub body_timeout: Duration,
    /// Deepest JSON nesting accepted in a request; deeper gets -32600.
    pub max_json_depth: usize,
    /// JSON-RPC calls per client IP (each call of a batch counts); over it a call gets -32005
    /// "rate limit exceeded". Shared, so the node can change the quota live.
    pub per_ip: Arc<RateLimiter<std::net::IpAddr>>,
    /// Threads running expensive reads (`eth_call`, `eth_estimateGas`, `eth_getLogs`, ...);
    /// nothing else runs there, and they never run anything else.
    pub read_threads: usize,
    /// Expensive reads waiting for a thread; more get -32005 "server busy".
    pub read_queue: usize,
    /// How long an expensive read may take from the moment it is queued (geth's
    /// `--rpc.evmtimeout`, 5 s); over it: "execution aborted (timeout = 5s)".
    pub call_timeout: Duration,
    /// Milliseconds of read-thread time per client IP (`per_sec` ms each second, `burst`
    /// ms at once); a client over it gets -32005 "rate limit exceeded" on expensive reads.
    pub read_ms_per_ip: Arc<RateLimiter<std::net::IpAddr>>,
}

/// Default [`RpcConfig::call_timeout`] (geth's `--rpc.evmtimeout`).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`RpcConfig::read_queue`].
pub const DEFAULT_READ_QUEUE: usize = 256;
/// Default [`RpcConfig::read_ms_per_ip`]: half a read thread's time per client, ten
/// seconds of it at once (two full-length calls).
pub const DEFAULT_READ_MS_PER_IP: Quota = Quota {
    per_sec: 500,
    burst: 10_000,
};

/// Default [`RpcConfig::read_threads`]: one per core, at least one.
pub fn default_read_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch_len: DEFAULT_MAX_BATCH_LEN,
            filter_timeout: DEFAULT_FILTER_TIMEOUT,
            max_filters: DEFAULT_MAX_FILTERS,
            max_filter_pending_txs: DEFAULT_MAX_FILTER_PENDING_TXS,
            ws_max_in_flight: DEFAULT_WS_MAX_IN_FLIGHT,
            ws_send_queue: DEFAULT_WS_SEND_QUEUE,
            ws_max_subscriptions: DEFAULT_WS_MAX_SUBSCRIPTIONS,
            ws_max_queue_bytes: DEFAULT_WS_MAX_QUEUE_BYTES,
            ws_max_client_queue_bytes: DEFAULT_WS_MAX_CLIENT_QUEUE_BYTES,
            ws_idle_timeout: DEFAULT_WS_IDLE_TIMEOUT,
            max_batch_concurrency: DEFAULT_MAX_BATCH_CONCURRENCY,
            max_client_concurrency: DEFAULT_MAX_CLIENT_CONCURRENCY,
            max_filters_per_client: DEFAULT_MAX_FILTERS_PER_CLIENT,
            max_filter_bytes_per_client: DEFAULT_MAX_FILTER_BYTES_PER_CLIENT,
            trusted_proxies: TrustedProxies::default(),
            cors_any_origin: true,
            body_timeout: Duration::from_secs(30),
            max_json_depth: 64,
            per_ip: Arc::new(RateLimiter::new(Quota::UNLIMITED)),
            read_threads: default_read_threads(),
            read_queue: DEFAULT_READ_QUEUE,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            read_ms_per_ip: Arc::new(RateLimiter::new(DEFAULT_READ_MS_PER_IP)),
        }
    }
}

impl RpcConfig {
    pub(crate) fn client_limits(&self) -> ClientLimits {
        ClientLimits {
            max_calls: self.max_client_concurrency,
            max_filters: self.max_filters_per_client,
            max_filter_bytes: self.max_filter_bytes_per_client,
            max_queue_bytes: self.ws_max_client_queue_bytes,
        }
    }

    /// The client a request comes from: the peer, or the client a trusted proxy names.
    fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<std::net::IpAddr> {
        peer.map(|peer| self.trusted_proxies.client(peer.ip(), headers))
    }
}

/// The JSON-RPC service: `POST /` (JSON-RPC over HTTP), `GET /` (WebSocket upgrade, JSON-RPC
/// and subscriptions), `GET /health` ("ok").
///
/// Filter background tasks start with the first filter, inside the serving runtime, so this
/// function itself needs no runtime.
pub fn router(backend: Arc<dyn EthBackend>, config: RpcConfig) -> Router {
    let clients = Clients::new(config.client_limits());
    let server = Arc::new(Server {
        filters: Arc::new(FilterManager::new(&config, Arc::clone(&clients))),
        clients,
        reads: reads::ReadPool::new(
            config.read_threads,
            config.read_queue,
            config.call_timeout,
            config.read_ms_per_ip.clone(),
        ),
        backend,
        config: config.clone(),
    });
    let router = Router::new()
        .route("/", get(websocket).post(http))
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            config.body_timeout,
        ))
        .with_state(server);
    if config.cors_any_origin {
        router.layer(CorsLayer::permissive())
    } else {
        router
    }
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

/// The rate-limit key of a client address: the address for IPv4, its /64 for IPv6 (one
/// host usually holds a whole /64, so single IPv6 addresses would be free fresh buckets).
pub(crate) fn client_key(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => std::net::IpAddr::V4(v4),
            None => std::net::IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

/// `POST /`. With an `X-Flashbots-Signature: <address>:<signature>` header the body must be
/// signed by `<address>` (EIP-191 over the hex text of keccak256(body)); the verified address
/// reaches [`EthBackend::extension_as`] as the searcher. A malformed header or a wrong signature
/// is answered with a -32600 error (HTTP 200, the request's id when it has one) and nothing
/// runs. Without the header nothing changes.
async fn http(
    State(server): State<Arc<Server>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let searcher = match headers.get(flashbots::HEADER) {
        None => None,
        Some(value) => match flashbots::verify(value.as_bytes(), &body) {
            Ok(searcher) => Some(searcher),
            Err(err) => {
                tracing::debug!(target: "ordo::rpc", error = %err.message, "flashbots signature refused");
                return json_response(framing::reject(&body, &err));
            }
        },
    };
    let ctx = RequestContext {
        ws: None,
        searcher,
        client: server
            .config
            .client(peer.map(|Extension(ConnectInfo(addr))| addr), &headers),
    };
    match framing::handle(&server, &body, ctx).await {
        Some(response) => json_response(response),
        None => StatusCode::OK.into_response(),
    }
}

fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn websocket(
    State(server): State<Arc<Server>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    slot: Option<Extension<ConnectionSlot>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let client = server
        .config
        .client(peer.map(|Extension(ConnectInfo(addr))| addr), &headers);
    // Opening a connection counts against the caller's budget; there is no JSON-RPC body to
    // answer in yet, so the refusal is HTTP 429.
    if let Some(ip) = client
        && !server.config.per_ip.check(&client_key(ip))
    {
        metrics::counter!("ordo_rpc_rate_limited_total", "limit" => "ip").increment(1);
        return StatusCode::TOO_MANY_REQUESTS.into_response();
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let limits = WsLimits {
        max_in_flight: server.config.ws_max_in_flight,
        send_queue: server.config.ws_send_queue,
        max_subscriptions: server.config.ws_max_subscriptions,
        max_queue_bytes: server.config.ws_max_queue_bytes,
        idle_timeout: server.config.ws_idle_timeout,
    };
    upgrade
        .max_message_size(server.config.max_body_bytes)
        .on_upgrade(move |socket| async move {
            // The connection's slot under the cap lives as long as the WebSocket.
            let _slot = slot;
            ws::serve_connection(server, socket, limits, client).await
        })
}

async fn health() -> &'static str {
    "ok"
}

#[cfg(test)]
mod client_key_tests {
    use super::client_key;

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: std::net::IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let v4: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: std::net::IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(client_key(v4), v4);
        assert_eq!(client_key(mapped), v4);
    }
}
