//! Pool configuration: capacity limits (fixed at startup) and chain limits (live-updatable).

use std::time::Duration;

/// Default cap on the number of transactions in the pool (pending + queued).
pub const DEFAULT_MAX_TXS: usize = 50_000;
/// Default cap on the encoded bytes held by the pool: 256 MiB.
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024 * 1024;
/// Default cap on transactions per sender (geth's `AccountSlots + AccountQueue` order of size).
pub const DEFAULT_MAX_PER_SENDER: usize = 256;
/// Default distance a nonce may run ahead of `state nonce + the sender's pool transactions`.
pub const DEFAULT_MAX_NONCE_GAP: u64 = 64;
/// Default lifetime of a queued (not yet executable) transaction: 3 hours, geth's `Lifetime`.
pub const DEFAULT_QUEUED_TTL: Duration = Duration::from_secs(3 * 60 * 60);
/// Default fee bump (percent, on both fee cap and tip) a replacement must offer: geth's 10 %.
pub const DEFAULT_PRICE_BUMP_PERCENT: u64 = 10;
/// Default capacity of the new-transaction broadcast channel; slower subscribers lag.
pub const DEFAULT_ANNOUNCE_CAPACITY: usize = 16_384;
/// Default cap on the number of transactions written (and fsynced) as one WAL group.
pub const DEFAULT_WAL_MAX_GROUP: usize = 8_192;

/// Capacity and policy knobs of the pool. Fixed for the pool's lifetime.
///
/// Every field defaults to the matching `DEFAULT_*` constant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most transactions held (pending + queued). Beyond it the cheapest are evicted.
    pub max_txs: usize,
    /// Most encoded bytes held. Beyond it the cheapest are evicted.
    pub max_bytes: usize,
    /// Most transactions one sender may hold ("account limit exceeded" beyond it).
    pub max_per_sender: usize,
    /// How far a nonce may run ahead of `state nonce + sender's pool txs` ("nonce too high").
    pub max_nonce_gap: u64,
    /// Queued transactions older than this are dropped at the next block.
    pub queued_ttl: Duration,
    /// Minimum bump, in percent, of both fee cap and tip for a same-nonce replacement.
    pub price_bump_percent: u64,
    /// Capacity of the broadcast channel behind [`crate::Pool::subscribe`].
    pub announce_capacity: usize,
    /// Most transactions appended to the WAL under one fsync.
    pub wal_max_group: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_txs: DEFAULT_MAX_TXS,
            max_bytes: DEFAULT_MAX_BYTES,
            max_per_sender: DEFAULT_MAX_PER_SENDER,
            max_nonce_gap: DEFAULT_MAX_NONCE_GAP,
            queued_ttl: DEFAULT_QUEUED_TTL,
            price_bump_percent: DEFAULT_PRICE_BUMP_PERCENT,
            announce_capacity: DEFAULT_ANNOUNCE_CAPACITY,
            wal_max_group: DEFAULT_WAL_MAX_GROUP,
        }
    }
}

/// The chain's limits as the pool validates against them. The node updates them live with
/// [`crate::Pool::set_limits`] (for example when the operator changes the gas limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// Chain id typed and EIP-155 transactions must carry.
    pub chain_id: u64,
    /// A transaction's gas limit may not exceed the block gas limit.
    pub block_gas_limit: u64,
    /// The lowest base fee the chain ever charges; fee caps below it can never execute.
    pub min_base_fee: u64,
}
