//! Gas price suggestions and `eth_feeHistory`.
//!
//! The tip is geth's gas price oracle over the chain itself: from each of the last
//! [`ORACLE_BLOCKS`] blocks the [`ORACLE_SAMPLES`] lowest tips its transactions paid (not
//! counting deposits or the block's own fee recipient's transactions; an empty block repeats
//! the last suggestion), the [`ORACLE_PERCENTILE`]th percentile of those, at least
//! [`MIN_SUGGESTED_TIP`] (op-geth's floor on OP chains) and at most [`MAX_SUGGESTED_TIP`].
//! Computed once per head. `eth_gasPrice` is the next base fee plus it.

use alloy_consensus::Transaction as _;
use alloy_rpc_types_eth::FeeHistory;
use ordo_primitives::alloy_eips::{BlockId, BlockNumberOrTag};
use ordo_rpc::{BackendError, BackendResult, EthFees};

use crate::{NodeApi, convert::decode_tx, errors::storage_err};

/// Blocks the oracle samples (geth's `GPO.Blocks`).
pub const ORACLE_BLOCKS: u64 = 20;
/// Lowest tips taken from each block (geth's `sampleNumber`).
pub const ORACLE_SAMPLES: usize = 3;
/// The percentile of the samples suggested (geth's `GPO.Percentile`).
pub const ORACLE_PERCENTILE: usize = 60;
/// The least tip suggested: op-geth's `MinSuggestedPriorityFee` (0.001 gwei).
pub const MIN_SUGGESTED_TIP: u128 = 1_000_000;
/// The most tip suggested (geth's `GPO.MaxPrice`, 500 gwei).
pub const MAX_SUGGESTED_TIP: u128 = 500_000_000_000;

impl NodeApi {
    /// The tip the fee oracle suggests now.
    pub(crate) fn suggested_tip(&self) -> u128 {
        let head = self.head();
        if let Some((at, tip)) = *self.tip_oracle.lock()
            && at == head.hash
        {
            return tip;
        }
        let tip = self.sample_tips(head.number());
        *self.tip_oracle.lock() = Some((head.hash, tip));
        tip
    }

    fn sample_tips(&self, head: u64) -> u128 {
        let mut samples = Vec::new();
        let mut last = MIN_SUGGESTED_TIP;
        let oldest = head.saturating_sub(ORACLE_BLOCKS - 1).max(1);
        for n in oldest..=head {
            let Ok(Some(block)) = self.storage.shared_block(n) else {
                continue;
            };
            let base_fee = block.header.base_fee_per_gas.unwrap_or_default();
            let mut tips: Vec<u128> = block
                .transactions
                .iter()
                .zip(&block.senders)
                .filter(|(raw, sender)| {
                    !ordo_primitives::is_deposit(raw) && **sender != block.header.beneficiary
                })
                .filter_map(|(raw, _)| decode_tx(raw).ok()?.effective_tip_per_gas(base_fee))
                .collect();
            if tips.is_empty() {
                samples.push(last);
                continue;
            }
            tips.sort_unstable();
            samples.extend(tips.into_iter().take(ORACLE_SAMPLES));
            samples.sort_unstable();
            last = samples[(samples.len() - 1) * ORACLE_PERCENTILE / 100];
        }
        samples.sort_unstable();
        let tip = samples
            .get(samples.len().saturating_sub(1) * ORACLE_PERCENTILE / 100)
            .copied()
            .unwrap_or(MIN_SUGGESTED_TIP);
        tip.clamp(MIN_SUGGESTED_TIP, MAX_SUGGESTED_TIP)
    }
}

impl EthFees for NodeApi {
    fn gas_price(&self) -> BackendResult<u128> {
        Ok(self.builder.next_params().base_fee as u128 + self.suggested_tip())
    }

    fn max_priority_fee_per_gas(&self) -> BackendResult<u128> {
        Ok(self.suggested_tip())
    }

    fn fee_history(
        &self,
        block_count: u64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> BackendResult<FeeHistory> {
        let newest = self
            .resolve_number(BlockId::Number(newest))?
            .ok_or_else(|| BackendError::tx("header not found"))?;
        let count = block_count.max(1).min(newest + 1);
        let oldest = newest + 1 - count;
        let mut base_fee_per_gas = Vec::with_capacity(count as usize + 1);
        let mut gas_used_ratio = Vec::with_capacity(count as usize);
        let mut rewards = Vec::new();
        for n in oldest..=newest {
            let Some(block) = self.storage.shared_block(n).map_err(storage_err)? else {
                break;
            };
            let base_fee = block.header.base_fee_per_gas.unwrap_or_default();
            base_fee_per_gas.push(base_fee as u128);
            gas_used_ratio
                .push(block.header.gas_used as f64 / block.header.gas_limit.max(1) as f64);
            if let Some(percentiles) = &reward_percentiles {
                let receipts = self
                    .storage
                    .receipts(n)
                    .map_err(storage_err)?
                    .unwrap_or_default();
                // The oracle's tips: deposits pay none and say nothing of the market.
                let mut tips: Vec<(u128, u64)> = block
                    .transactions
                    .iter()
                    .zip(receipts.iter())
                    .filter(|(raw, _)| !ordo_primitives::is_deposit(raw))
                    .filter_map(|(raw, r)| {
                        let tx = decode_tx(raw).ok()?;
                        Some((
                            tx.effective_tip_per_gas(base_fee).unwrap_or_default(),
                            r.gas_used,
                        ))
                    })
                    .collect();
                tips.sort_unstable();
                let total: u64 = tips.iter().map(|t| t.1).sum();
                let row = percentiles
                    .iter()
                    .map(|p| {
                        if tips.is_empty() {
                            return 0;
                        }
                        let threshold = (total as f64 * p / 100.0) as u64;
                        let mut acc = 0u64;
                        for (tip, gas) in &tips {
                            acc += gas;
                            if acc >= threshold {
                                return *tip;
                            }
                        }
                        tips.last().map(|t| t.0).unwrap_or_default()
                    })
                    .collect();
                rewards.push(row);
            }
        }
        // The base fee of the block after `newest`.
        let next = if newest == self.head().number() {
            self.builder.next_params().base_fee as u128
        } else {
            self.storage
                .block(newest + 1)
                .map_err(storage_err)?
                .and_then(|b| b.header.base_fee_per_gas)
                .unwrap_or_default() as u128
        };
        base_fee_per_gas.push(next);
        let n = gas_used_ratio.len();
        Ok(FeeHistory {
            base_fee_per_gas,
            gas_used_ratio,
            base_fee_per_blob_gas: vec![0; n + 1],
            blob_gas_used_ratio: vec![0.0; n],
            oldest_block: oldest,
            reward: reward_percentiles.map(|_| rewards),
        })
    }
}
