//! The pool's view of account state: a narrow reader the node implements over its state.

use alloy_primitives::{Address, U256};
use ordo_primitives::PooledTx;

/// Reads the latest committed account state. Implemented by the node over storage (behind
/// its cache); `MockState` (feature `test-utils`) is the in-memory one for tests and benches.
///
/// Called outside the pool's lock, once per submission and once per pooled sender per block,
/// so implementations should be cheap (cached).
pub trait StateReader: Send + Sync + 'static {
    /// The account's nonce (0 for unknown accounts).
    fn nonce(&self, address: &Address) -> u64;
    /// The account's balance (0 for unknown accounts).
    fn balance(&self, address: &Address) -> U256;

    /// The L1 data fee `tx` would pay at the head: the sender's balance must cover it besides
    /// gas and value. Default: none (a chain without L1 pricing).
    fn l1_fee(&self, _tx: &PooledTx) -> U256 {
        U256::ZERO
    }

    /// Asks for what including `tx` will read (the accounts it names and their state trie
    /// paths) to be read ahead, so the block that includes it finds them cached. Called on
    /// the submission's path for every accepted transaction: it must not block (the node
    /// hands the addresses to a thread of its own). Default: nothing.
    fn prefetch(&self, _tx: &PooledTx) {}
}
