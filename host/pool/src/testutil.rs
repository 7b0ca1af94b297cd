//! Test helpers: deterministic keys and really signed transactions.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use ordo_primitives::PooledTx;

/// Test chain id.
pub const CHAIN_ID: u64 = 1337;

/// A deterministic key from a small index.
pub fn key(i: u64) -> PrivateKeySigner {
    let mut bytes = [0u8; 32];
    bytes[24..].copy_from_slice(&(i + 1).to_be_bytes());
    PrivateKeySigner::from_slice(&bytes).unwrap()
}

/// The key's address.
pub fn sender_of(key: &PrivateKeySigner) -> Address {
    key.address()
}

/// A signed EIP-1559 transfer of 1 wei with 21 000 gas.
pub fn eip1559(key: &PrivateKeySigner, nonce: u64, max_fee: u128, tip: u128) -> PooledTx {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        ..Default::default()
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    PooledTx::from_signed(TxEnvelope::from(tx.into_signed(sig))).unwrap()
}
