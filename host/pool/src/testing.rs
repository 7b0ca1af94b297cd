//! Test doubles (feature `test-utils`): [`MockState`], an in-memory [`StateReader`].

use std::collections::HashMap;

use alloy_primitives::{Address, U256};
use parking_lot::RwLock;

use crate::state::StateReader;

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
