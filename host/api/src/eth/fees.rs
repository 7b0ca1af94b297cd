//! Gas price suggestions and `eth_feeHistory`.

use alloy_consensus::Transaction as _;
use alloy_rpc_types_eth::FeeHistory;
use ordo_primitives::alloy_eips::{BlockId, BlockNumberOrTag};
use ordo_rpc::{BackendError, BackendResult, EthFees};

use crate::{NodeApi, convert::decode_tx, errors::storage_err};

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
            let Some(block) = self.storage.block(n).map_err(storage_err)? else {
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
                let mut tips: Vec<(u128, u64)> = block
                    .transactions
                    .iter()
                    .zip(receipts.iter())
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
