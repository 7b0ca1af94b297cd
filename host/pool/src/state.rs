//! The pool's view of account state: a narrow reader the node implements over its state.

use std::collections::HashMap;

use alloy_primitives::{Address, U256};
use parking_lot::RwLock;

/// Reads the latest committed account state. Implemented by the node over storage (behind
/// its cache); [`MockState`] is the in-memory one for tests and benches.
///
/// Called outside the pool's lock, once per submission and once per pooled sender per block,
/// so implementations should be cheap (cached).
pub trait StateReader: Send + Sync + 'static {
    /// The account's nonce (0 for unknown accounts).
    fn nonce(&self, address: &Address) -> u64;
    /// The account's balance (0 for unknown accounts).
    fn balance(&self, address: &Address) -> U256;
}

/// An in-memory [`StateReader`] for tests and benches.
#[derive(Debug, Default)]
pub struct MockState {
    accounts: RwLock<HashMap<Address, (u64, U256)>>,
}

impl MockState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets an account's nonce and balance.
    pub fn set(&self, address: Address, nonce: u64, balance: U256) {
        self.accounts.write().insert(address, (nonce, balance));
    }

    /// Sets an account's nonce, keeping its balance.
    pub fn set_nonce(&self, address: Address, nonce: u64) {
        self.accounts.write().entry(address).or_default().0 = nonce;
    }

    /// Sets an account's balance, keeping its nonce.
    pub fn set_balance(&self, address: Address, balance: U256) {
        self.accounts.write().entry(address).or_default().1 = balance;
    }
}

impl StateReader for MockState {
    fn nonce(&self, address: &Address) -> u64 {
        self.accounts.read().get(address).map_or(0, |a| a.0)
    }

    fn balance(&self, address: &Address) -> U256 {
        self.accounts
            .read()
            .get(address)
            .map_or(U256::ZERO, |a| a.1)
    }
}
