//! The server's configuration ([`RpcConfig`]) with geth-like defaults, and how a client is
//! keyed for its limits.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::http::HeaderMap;

use crate::{Quota, RateLimiter, TrustedProxies, clients::ClientLimits};

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
    pub(crate) fn client(
        &self,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
    ) -> Option<std::net::IpAddr> {
        peer.map(|peer| self.trusted_proxies.client(peer.ip(), headers))
    }
}
