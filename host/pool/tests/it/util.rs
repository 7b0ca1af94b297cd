//! Shared helpers: keys, signed transactions, a pool on a tempdir.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use ordo_pool::{MockState, Pool, PoolConfig, PoolLimits};
use ordo_primitives::PooledTx;
use ordo_storage::Storage;
use tempfile::TempDir;

pub const CHAIN_ID: u64 = 1337;
pub const GWEI: u128 = 1_000_000_000;

pub fn limits() -> PoolLimits {
    PoolLimits {
        chain_id: CHAIN_ID,
        block_gas_limit: 30_000_000,
        min_base_fee: 7,
    }
}

/// A deterministic key from a small index.
pub fn key(i: u64) -> PrivateKeySigner {
    let mut bytes = [0u8; 32];
    bytes[24..].copy_from_slice(&(i + 1).to_be_bytes());
    PrivateKeySigner::from_slice(&bytes).unwrap()
}

/// An EIP-1559 transaction under construction; sign it with [`Tx::sign`].
#[derive(Clone)]
pub struct Tx(pub TxEip1559);

/// A 1-wei transfer with 21 000 gas, fee cap 10 gwei, tip 1 gwei.
pub fn tx(nonce: u64) -> Tx {
    Tx(TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        ..Default::default()
    })
}

impl Tx {
    pub fn fees(mut self, max_fee: u128, tip: u128) -> Self {
        self.0.max_fee_per_gas = max_fee;
        self.0.max_priority_fee_per_gas = tip;
        self
    }
    pub fn gas(mut self, gas: u64) -> Self {
        self.0.gas_limit = gas;
        self
    }
    pub fn chain(mut self, chain_id: u64) -> Self {
        self.0.chain_id = chain_id;
        self
    }
    pub fn value(mut self, value: U256) -> Self {
        self.0.value = value;
        self
    }
    pub fn input(mut self, input: Vec<u8>) -> Self {
        self.0.input = Bytes::from(input);
        self
    }
    pub fn sign(self, key: &PrivateKeySigner) -> PooledTx {
        let sig = key.sign_hash_sync(&self.0.signature_hash()).unwrap();
        PooledTx::from_signed(TxEnvelope::from(self.0.into_signed(sig))).unwrap()
    }
}

/// A signed legacy transfer; `chain_id: None` is a pre-EIP-155 transaction.
pub fn legacy(key: &PrivateKeySigner, nonce: u64, chain_id: Option<u64>) -> PooledTx {
    let tx = TxLegacy {
        chain_id,
        nonce,
        gas_price: 10 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        input: Bytes::new(),
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    PooledTx::from_signed(TxEnvelope::from(tx.into_signed(sig))).unwrap()
}

/// A pool on a tempdir with an in-memory state where `funded` keys hold 1000 ETH.
pub struct Harness {
    pub pool: Arc<Pool>,
    pub state: Arc<MockState>,
    pub storage: Storage,
    pub dir: TempDir,
}

pub fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

impl Harness {
    pub fn new(config: PoolConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let state = Arc::new(MockState::new());
        for i in 0..64 {
            state.set(key(i).address(), 0, eth(1000));
        }
        let pool = Pool::new(config, limits(), state.clone(), storage.clone());
        Self {
            pool,
            state,
            storage,
            dir,
        }
    }

    pub fn default_config() -> Self {
        Self::new(PoolConfig::default())
    }

    /// Hashes currently in the WAL.
    pub fn wal_hashes(&self) -> Vec<B256> {
        let mut hashes: Vec<B256> = self
            .storage
            .wal_entries()
            .unwrap()
            .iter()
            .map(|(_, raw)| alloy_primitives::keccak256(raw))
            .collect();
        hashes.sort();
        hashes
    }

    /// Waits until the WAL writer has applied `n` removals in total (they are asynchronous).
    pub fn wait_removed(&self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.pool.wal_stats().removed < n {
            assert!(
                Instant::now() < deadline,
                "WAL removals not applied: {:?}",
                self.pool.wal_stats()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

pub fn sorted(mut hashes: Vec<B256>) -> Vec<B256> {
    hashes.sort();
    hashes
}
