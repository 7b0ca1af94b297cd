//! The checks that need no pool state: the transaction against the chain's limits, and the
//! fee-bump rule for replacements. The nonce, balance and capacity checks need the sender's
//! queue and live in [`crate::txpool`].

use alloy_consensus::Transaction;
use alloy_primitives::U256;
use ordo_primitives::PooledTx;

use crate::{PoolError, PoolLimits};

/// Checks a decoded transaction against the chain's limits, in geth's order: chain id, gas
/// limit, tip vs fee cap, intrinsic gas, fee cap vs the minimum base fee.
///
/// Pre-EIP-155 legacy transactions (no chain id) are accepted, as geth does over RPC with
/// `--rpc.allow-unprotected-txs`: they are replayable by design and wallets still send them.
pub fn check_static(tx: &PooledTx, limits: &PoolLimits) -> Result<(), PoolError> {
    if let Some(got) = tx.tx.chain_id()
        && got != limits.chain_id
    {
        return Err(PoolError::InvalidChainId {
            expected: limits.chain_id,
            got,
        });
    }
    let gas = tx.gas_limit();
    if gas > limits.block_gas_limit {
        return Err(PoolError::ExceedsBlockGasLimit {
            gas,
            limit: limits.block_gas_limit,
        });
    }
    if tx.max_priority_fee_per_gas() > tx.max_fee_per_gas() {
        return Err(PoolError::TipAboveFeeCap);
    }
    let intrinsic = tx.intrinsic_gas();
    if gas < intrinsic {
        return Err(PoolError::IntrinsicGasTooLow { gas, intrinsic });
    }
    let fee_cap = tx.max_fee_per_gas();
    if fee_cap < u128::from(limits.min_base_fee) {
        return Err(PoolError::FeeCapBelowMinBaseFee {
            fee_cap,
            min_base_fee: limits.min_base_fee,
        });
    }
    Ok(())
}

/// Geth's replacement rule: the new transaction must raise both the fee cap and the tip by
/// at least `bump_percent` percent of the old one's (`new >= old * (100 + bump) / 100`).
pub fn check_replacement(
    old: &PooledTx,
    new: &PooledTx,
    bump_percent: u64,
) -> Result<(), PoolError> {
    let threshold = |old: u128| U256::from(old) * U256::from(100 + bump_percent) / U256::from(100);
    let fee_cap_ok = U256::from(new.max_fee_per_gas()) >= threshold(old.max_fee_per_gas());
    let tip_ok =
        U256::from(new.max_priority_fee_per_gas()) >= threshold(old.max_priority_fee_per_gas());
    if fee_cap_ok && tip_ok {
        Ok(())
    } else {
        Err(PoolError::ReplacementUnderpriced)
    }
}

/// The price the pool ranks a transaction by when it must evict: its tip at the minimum
/// base fee (what it pays the sequencer at the least).
pub(crate) fn eviction_price(tx: &PooledTx, min_base_fee: u64) -> u128 {
    tx.effective_tip(min_base_fee).unwrap_or(0)
}
