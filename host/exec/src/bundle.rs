//! Bundle simulation for `eth_callBundle` (Flashbots): run signed transactions in order on
//! a throw-away cache over a (possibly historical) state, with full block validation (nonce,
//! balance, fees), and report what each one paid the coinbase.

use alloy_consensus::Transaction;
use alloy_evm::FromRecoveredTx;
use alloy_primitives::{Address, B256, Bytes, U256};
use ordo_primitives::PooledTx;
use revm::{
    Context, DatabaseCommit, DatabaseRef, ExecuteEvm, MainBuilder, MainContext,
    context::{TxEnv, result::ExecutionResult},
    database::CacheDB,
};

use crate::{block::BlockParams, error::ExecError, executor::Executor, state::StateAt};

/// How one transaction of a bundle went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleTxResult {
    /// Transaction hash.
    pub hash: B256,
    /// Recovered sender.
    pub from: Address,
    /// Recipient; `None` for a contract creation.
    pub to: Option<Address>,
    /// Gas used.
    pub gas_used: u64,
    /// `gas_used` × the effective priority fee.
    pub gas_fees: U256,
    /// Coinbase balance after the transaction minus before it.
    pub coinbase_diff: U256,
    /// Return data (revert data when reverted; the runtime code for a successful create).
    pub output: Bytes,
    /// Why it failed (`"execution reverted"` or the halt reason); `None` on success.
    pub error: Option<String>,
    /// Whether it reverted (as opposed to halting or succeeding).
    pub reverted: bool,
}

impl BundleTxResult {
    /// What was sent to the coinbase beyond the priority fees.
    pub fn eth_sent_to_coinbase(&self) -> U256 {
        self.coinbase_diff.saturating_sub(self.gas_fees)
    }
}

/// The result of simulating a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleOutcome {
    /// Per-transaction results, in order.
    pub results: Vec<BundleTxResult>,
    /// Total gas used.
    pub total_gas_used: u64,
    /// Sum of the coinbase differences.
    pub coinbase_diff: U256,
    /// Sum of the priority fees.
    pub gas_fees: U256,
}

impl BundleOutcome {
    /// Total sent to the coinbase beyond the priority fees.
    pub fn eth_sent_to_coinbase(&self) -> U256 {
        self.coinbase_diff.saturating_sub(self.gas_fees)
    }

    /// Total coinbase difference per gas (Flashbots' `bundleGasPrice`).
    pub fn bundle_gas_price(&self) -> U256 {
        if self.total_gas_used == 0 {
            return U256::ZERO;
        }
        self.coinbase_diff / U256::from(self.total_gas_used)
    }
}

impl Executor {
    /// Simulates `txs` in order as the start of a block with `params`, on the state after
    /// `params.state_block` (`None`: the head). Each transaction sees the previous ones'
    /// writes; nothing reaches storage. An invalid transaction (nonce, funds, fee below the
    /// base fee, ...) fails the whole simulation with `tx N: <reason>`; reverts are results.
    pub fn simulate_bundle(
        &self,
        params: &BlockParams,
        prevrandao: B256,
        txs: &[PooledTx],
    ) -> Result<BundleOutcome, ExecError> {
        if txs.is_empty() {
            return Err(ExecError::InvalidParams("bundle missing txs".into()));
        }
        let db = CacheDB::new(StateAt {
            state: &self.state,
            block: params.state_block,
        });
        let mut evm = Context::mainnet()
            .with_db(db)
            .with_cfg(self.cfg_env(params))
            .with_block(self.block_env(params, prevrandao))
            .build_mainnet();
        let coinbase = params.beneficiary;
        let mut out = BundleOutcome {
            results: Vec::with_capacity(txs.len()),
            total_gas_used: 0,
            coinbase_diff: U256::ZERO,
            gas_fees: U256::ZERO,
        };
        for (i, tx) in txs.iter().enumerate() {
            if let Some(id) = tx.tx.chain_id()
                && id != self.chain_id
            {
                return Err(ExecError::Invalid(format!(
                    "tx {i}: invalid chain id: have {id}, want {}",
                    self.chain_id
                )));
            }
            if out.total_gas_used.saturating_add(tx.tx.gas_limit()) > params.gas_limit {
                return Err(ExecError::Invalid(format!(
                    "tx {i}: exceeds the block gas limit"
                )));
            }
            let before = coinbase_balance(&evm.ctx.journaled_state.database, coinbase)?;
            let tx_env = TxEnv::from_recovered_tx(&tx.tx, tx.sender);
            let executed = evm
                .transact(tx_env)
                .map_err(|e| match ExecError::from_evm(e) {
                    ExecError::Invalid(reason) => ExecError::Invalid(format!("tx {i}: {reason}")),
                    other => other,
                })?;
            evm.ctx.journaled_state.database.commit(executed.state);
            let after = coinbase_balance(&evm.ctx.journaled_state.database, coinbase)?;
            let result = executed.result;
            let gas_used = result.tx_gas_used();
            let tip = tx
                .tx
                .effective_tip_per_gas(params.base_fee)
                .unwrap_or_default();
            let gas_fees = U256::from(gas_used) * U256::from(tip);
            let coinbase_diff = after.saturating_sub(before);
            let (output, error, reverted) = match result {
                ExecutionResult::Success { output, .. } => (output.into_data(), None, false),
                ExecutionResult::Revert { output, .. } => {
                    (output, Some("execution reverted".to_string()), true)
                }
                ExecutionResult::Halt { reason, .. } => {
                    (Bytes::new(), Some(format!("{reason:?}")), false)
                }
            };
            out.total_gas_used += gas_used;
            out.coinbase_diff = out.coinbase_diff.saturating_add(coinbase_diff);
            out.gas_fees = out.gas_fees.saturating_add(gas_fees);
            out.results.push(BundleTxResult {
                hash: tx.hash,
                from: tx.sender,
                to: tx.tx.to(),
                gas_used,
                gas_fees,
                coinbase_diff,
                output,
                error,
                reverted,
            });
        }
        Ok(out)
    }
}

fn coinbase_balance(db: &CacheDB<StateAt<'_>>, coinbase: Address) -> Result<U256, ExecError> {
    Ok(db
        .basic_ref(coinbase)
        .map_err(ExecError::State)?
        .map(|a| a.balance)
        .unwrap_or_default())
}
