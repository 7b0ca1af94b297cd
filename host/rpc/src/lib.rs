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
//!              ──▶ dispatch (method name → Params → EthBackend call, or the Namespace that
//!                  serves the method → RawValue result)
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
//! Seams: [`EthBackend`] is everything the eth namespace needs from the chain, by concern
//! ([`EthBlocks`], [`EthState`], [`EthLogs`], [`EthFees`]; implemented in `ordo-api`);
//! [`Namespace`] is any other set of methods (`ordo_*`, bundles, `admin_*`), parsing with the
//! same [`Params`]; [`namespace_router`] serves namespaces alone (the admin listener);
//! [`ChainEvent`] is what the chain publishes; [`BackendError`] carries the JSON-RPC
//! code/message/data a backend wants the wallet to see; [`Workers`] are named threads behind
//! one queue (the reads run on them, and `ordo-api` recovers submitted transactions' senders
//! on its own). Tracing target: `ordo::rpc`.
//!
//! Files: `router` (HTTP/WS entry points) → `framing` (one body) → `dispatch` (one method)
//! → backend or namespace; `ws` (connections, subscriptions); `server` (what handlers
//! share); `config`, `clients`, `ratelimit`, `reads` (on `workers`), `filters`, `serve`, `params`,
//! `error`.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod backend;
mod clients;
mod config;
mod dispatch;
mod error;
mod filters;
mod flashbots;
mod framing;
mod namespace;
mod params;
mod ratelimit;
mod reads;
mod router;
mod serve;
mod server;
mod workers;
mod ws;

pub use backend::{
    BackendResult, ChainEvent, EthBackend, EthBlocks, EthFees, EthLogs, EthState, RpcBlock,
    RpcReceipt, RpcTransaction, SendTxFuture,
};
pub use clients::{InvalidIpNet, IpNet, TrustedProxies};
pub use config::*;
pub use dispatch::{MAX_FEE_HISTORY_BLOCKS, MAX_FEE_HISTORY_PERCENTILES};
pub use error::*;
pub use namespace::{Caller, Cost, Namespace, json};
pub use params::{OwnedParams, Params};
pub use ratelimit::{Quota, RateLimiter};
pub use reads::{CallDeadline, timeout_error};
pub use router::{namespace_router, router};
pub use serve::{ConnectionSlot, ServeLimits, serve, serve_with};
pub use workers::{Job, Refused, Workers};
