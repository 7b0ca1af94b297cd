//! The pool's view of account state: a narrow reader the node implements over its state.

use alloy_primitives::{Address, U256};

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
}
