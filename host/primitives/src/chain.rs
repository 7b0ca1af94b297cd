//! Chain parameters and the genesis allocation.

use std::collections::BTreeMap;

use alloy_eips::eip1559::BaseFeeParams;
use alloy_primitives::{Address, B256, Bytes, U256};

/// Chain id of `ordo dev` (distinct from anvil's 31337 so an L1 dev node and an Ordo dev
/// chain can run side by side without replayable signatures).
pub const DEV_CHAIN_ID: u64 = 7331;

/// The mnemonic anvil and hardhat use; `ordo dev` prefunds its first 10 accounts.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// One account in the genesis allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenesisAccount {
    /// Initial balance in wei.
    pub balance: U256,
    /// Initial nonce.
    pub nonce: u64,
    /// Runtime bytecode, empty for an EOA.
    pub code: Bytes,
    /// Initial storage.
    pub storage: BTreeMap<B256, U256>,
}

/// Everything that fixes the chain's rules and its first block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpec {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Gas limit of every block.
    pub gas_limit: u64,
    /// Base fee of the genesis block.
    pub genesis_base_fee: u64,
    /// Base fee never drops below this (wei).
    pub min_base_fee: u64,
    /// EIP-1559 elasticity and denominator.
    pub base_fee_params: BaseFeeParams,
    /// Genesis timestamp (seconds).
    pub genesis_timestamp: u64,
    /// Genesis extra data.
    pub extra_data: Bytes,
    /// Initial state.
    pub alloc: BTreeMap<Address, GenesisAccount>,
}

impl ChainSpec {
    /// Default block gas limit (30M, as on OP Stack chains at launch).
    pub const DEFAULT_GAS_LIMIT: u64 = 30_000_000;
    /// Default minimum base fee: 1 gwei keeps spam costly while being trivial for dev use.
    pub const DEFAULT_MIN_BASE_FEE: u64 = 1_000_000_000;
    /// Default genesis base fee (EIP-1559 initial base fee).
    pub const DEFAULT_GENESIS_BASE_FEE: u64 = 1_000_000_000;

    /// A chain with no accounts and default parameters.
    pub fn empty(chain_id: u64) -> Self {
        Self {
            chain_id,
            gas_limit: Self::DEFAULT_GAS_LIMIT,
            genesis_base_fee: Self::DEFAULT_GENESIS_BASE_FEE,
            min_base_fee: Self::DEFAULT_MIN_BASE_FEE,
            base_fee_params: BaseFeeParams::ethereum(),
            genesis_timestamp: 0,
            extra_data: Bytes::from_static(b"ordo"),
            alloc: BTreeMap::new(),
        }
    }
}
