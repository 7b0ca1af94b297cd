//! Ordo's durable mempool: stateful ingress validation, the group-committed WAL append, and
//! the per-sender nonce queues the builder takes candidates from.
//!
//! ## A transaction's way through the pool
//!
//! ```text
//! rpc: decode_raw_tx (ordo-primitives: RLP, type, size, signature → PooledTx)
//!   │
//!   ▼
//! Pool::submit ─────────────────────────────────────────────── (caller's task, no lock)
//!   ├─ validate::check_static   chain id, gas ≤ block gas limit, tip ≤ fee cap,
//!   │                           intrinsic gas, fee cap ≥ min base fee
//!   ├─ StateReader              account nonce + balance (outside any lock)
//!   ├─ TxPool::check            ─── pool write lock, microseconds ───
//!   │                           already known (pooled or in flight), nonce too low,
//!   │                           nonce too high (gap), replacement bump, balance
//!   │                           (this tx + the sender's other pool txs), account limit,
//!   │                           capacity (can eviction make room?); reserve the hash
//!   ▼
//! WAL writer thread (wal.rs) ─────────────────────────────────── (one dedicated thread)
//!   ├─ drain every queued append (≤ wal_max_group) and removal
//!   ├─ Storage::wal_append(group)   ONE fsync for the whole group (not on a replica:
//!   │                               there the group's log is the WAL)
//!   ├─ on a replica: TxReplicator    the group's log commits it (else: refused)
//!   └─ Pool::durable(group)         ─── pool write lock, once per group ───
//!        ├─ re-read accounts if a block landed since the pre-check (epoch)
//!        ├─ TxPool::insert          every check again: a concurrent same-nonce
//!        │                          submission may have won → refuse, roll back the WAL
//!        ├─ replace / evict         losers leave the WAL
//!        └─ announce (broadcast) + ack → submit returns the hash
//! ```
//!
//! ## Queues
//!
//! Per sender, a nonce-ordered map. **Pending** transactions are the consecutive run from
//! the account nonce (executable now); **queued** ones wait behind a nonce gap. Inserting
//! the missing nonce promotes the run behind it; nothing moves physically, the split is
//! recomputed for that sender. [`Pool::candidates`] returns the pending runs whose fee cap
//! covers the block's base fee, each sender's in nonce order, merged by arrival.
//!
//! ## Replacement and eviction
//!
//! - Same sender and nonce: the newcomer must raise both fee cap and tip by
//!   [`PoolConfig::price_bump_percent`] ("replacement transaction underpriced").
//! - Full pool (count or bytes): evict other senders' *last* transactions (never opening a
//!   nonce gap), queued ones first, then the lowest tip; if the cheapest candidate is not
//!   strictly cheaper than the newcomer, refuse it ("txpool is full"). Evicted transactions
//!   leave the WAL.
//!
//! ## Blocks and restarts
//!
//! - [`Pool::on_block`]: forget the included transactions, re-validate every sender against
//!   the new state (nonce too low or unfunded → dropped), drop queued transactions past
//!   [`PoolConfig::queued_ttl`], remove the dropped ones from the WAL.
//! - [`Pool::forget_stored`]: once the block is durable, its transactions (included or found
//!   invalid, unless pooled again) leave the WAL (a removal a crash loses is a stale entry
//!   the restart drops).
//! - [`Pool::restore`] / [`Pool::restore_from_storage`]: at startup, re-pool the WAL in
//!   arrival order, dropping (and un-WALing) what is no longer valid. Arrival numbers
//!   (`seq`) continue above the highest one on disk.
//! - On a replica ([`Pool::keep_in_group_log`]) the group's log is the WAL: nothing is
//!   written to the WAL, and only what was restored from it is removed. A block's
//!   transactions are kept aside until it is stored and the group being committed is
//!   known, both for the replica's snapshot ([`Pool::snapshot_txs`]), from which and the
//!   log after it a restart re-pools.
//!
//! ## Seams
//!
//! [`StateReader`] (the node's state), `ordo_storage::Storage` (the `wal` keyspace),
//! [`Pool::subscribe`] (new-transaction announcements for `newPendingTransactions`),
//! [`TxReplicator`] (a replica group's log, which then keeps the pool's transactions in
//! place of the WAL, [`Pool::keep_in_group_log`]; [`Pool::adopt`] pools what other replicas
//! accepted without replicating it again), and for bundles
//! [`BundleReplicator`] (each group of accepted or removed bundles is committed by the
//! group first; [`BundlePool::adopt`], the log's apply, is then the only writer, on every
//! replica).
//! Errors are [`PoolError`], whose `Display` is geth's message. Tracing target `ordo::pool`.
//! Tests and benches read state from `MockState` (feature `test-utils`), as below.
//!
//! ```no_run
//! # async fn demo(storage: ordo_storage::Storage, tx: ordo_primitives::PooledTx) {
//! use std::sync::Arc;
//! use ordo_pool::{MockState, Pool, PoolConfig, PoolLimits};
//!
//! let limits = PoolLimits { chain_id: 1337, block_gas_limit: 30_000_000, min_base_fee: 1 };
//! let pool = Pool::new(PoolConfig::default(), limits, Arc::new(MockState::new()), storage);
//! pool.restore_from_storage().ok();
//! let hash = pool.submit(tx).await; // returns after the fsync
//! let txs = pool.candidates(7); // what the builder orders
//! let dropped = pool.on_block(&[], &[]); // after each block commit: included, changed accounts
//! # let _ = (hash, txs, dropped);
//! # }
//! ```

// Tests may unwrap; library code may not (workspace lints).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod bundles;
mod config;
mod error;
mod pool;
mod state;
#[cfg(feature = "test-utils")]
mod testing;
mod txpool;
pub mod validate;
mod wal;

#[cfg(test)]
pub(crate) mod testutil;

pub use bundles::{
    BundleError, BundleLimits, BundlePool, BundleReplicator, DEFAULT_MAX_BUNDLES,
    DEFAULT_MAX_BUNDLES_PER_SEARCHER, MAX_BUNDLE_TXS,
};
pub use config::{
    DEFAULT_ANNOUNCE_CAPACITY, DEFAULT_MAX_BYTES, DEFAULT_MAX_NONCE_GAP, DEFAULT_MAX_PER_SENDER,
    DEFAULT_MAX_TXS, DEFAULT_PRICE_BUMP_PERCENT, DEFAULT_QUEUED_TTL, DEFAULT_WAL_MAX_GROUP,
    PoolConfig, PoolLimits,
};
pub use error::{PoolError, RPC_INTERNAL, RPC_INVALID_TX};
pub use pool::{Pool, PoolStatus, TTL_SWEEP_EVERY, TxReplicator};
pub use state::StateReader;
#[cfg(feature = "test-utils")]
pub use testing::MockState;
pub use txpool::SenderContent;
pub use wal::WalStats;
