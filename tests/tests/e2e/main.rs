//! End-to-end tests: each test starts the real `ordo` binary (`ordo dev`, port 0, a temp
//! datadir, 200 ms blocks) through `ordo_tests::TestNode` and drives it like a wallet would,
//! with alloy (HTTP and WebSocket) or raw JSON-RPC over reqwest.
//!
//! Run: `cargo build -p ordo-node --bin ordo && cargo test -p ordo-tests`
//! (or point `ORDO_BIN` at a binary). `ORDO_TEST_LOGS=1` prints node logs for passing tests.
//!
//! Timeouts are failure guards only; no test asserts a wall-clock timing.

use std::time::Duration;

mod abuse;
mod attacks;
mod batches;
mod bundle;
mod cluster;
mod config;
mod contract;
mod crash;
mod da_throttle;
mod dashboard;
mod deposits;
mod disk;
mod genesis;
mod jsonrpc;
mod l1;
mod l1_fee;
mod metrics;
mod operator;
mod pipeline;
mod plugins;
mod proof;
mod restart;
mod rpc_compat;
mod rpc_limits;
mod schema;
mod searcher;
mod send_bundle;
mod tooling;
mod trace;
mod transfer;
mod trie_proof;
mod tx_types;
mod validation;
mod verify;
mod withdrawals;

/// Failure guard for a whole test body.
pub const GUARD: Duration = Duration::from_secs(240);
/// Failure guard for one receipt.
pub const RECEIPT: Duration = Duration::from_secs(60);
