//! Read-only execution for `eth_call`, `eth_estimateGas` and `eth_createAccessList`.
//!
//! Calls run on the head state through a throw-away `CacheDB`, so state overrides and the
//! call's own writes never reach storage. Every entry point takes an optional deadline:
//! past it the EVM stops ([`DeadlineInspector`]) and the call fails with
//! [`ExecError::TimedOut`].

use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_evm::{EvmEnv, overrides::apply_state_overrides, rpc::TryIntoTxEnv};
use alloy_primitives::{Address, B256, Bytes, TxKind};
use alloy_rpc_types_eth::{TransactionRequest, state::StateOverride};
use std::time::Instant;

use revm::{
    Context, ExecuteEvm, InspectEvm, MainBuilder, MainContext,
    context::{TxEnv, result::ExecutionResult},
    database::CacheDB,
};

use crate::{
    block::BlockParams, deadline::DeadlineInspector, error::ExecError, executor::Executor,
    state::StateAt,
};

/// The result of a successful call.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// Return data.
    pub output: Bytes,
    /// Gas used.
    pub gas_used: u64,
}

/// Largest gas any call may use (geth's default `RPCGasCap`).
pub const CALL_GAS_CAP: u64 = 50_000_000;

/// The most gas a call gets: [`CALL_GAS_CAP`], and from Osaka no more than a transaction
/// may have (EIP-7825), as geth caps it.
pub(crate) fn call_gas_cap(cfg: &revm::context::CfgEnv) -> u64 {
    use revm::context_interface::Cfg;
    CALL_GAS_CAP.min(cfg.tx_gas_limit_cap())
}

fn is_precompile(address: &Address) -> bool {
    address.0[..19].iter().all(|b| *b == 0) && (1..=0x11).contains(&address.0[19])
}

impl Executor {
    fn call_env(&self, params: &BlockParams, request: &TransactionRequest) -> EvmEnv {
        let mut cfg = self.cfg_env(params);
        // Calls are simulations: no nonce check, and a call without fees pays nothing.
        cfg.disable_nonce_check = true;
        let no_fees = request.gas_price.is_none()
            && request.max_fee_per_gas.is_none()
            && request.max_priority_fee_per_gas.is_none();
        cfg.disable_base_fee = no_fees;
        cfg.disable_block_gas_limit = true;
        cfg.disable_eip3607 = true;
        // A call in an Ethereum block's context sees that block's PREVRANDAO.
        let prevrandao = self.ethereum_mix_hash(params).unwrap_or_default();
        let mut block = self.block_env(params, prevrandao);
        if no_fees {
            // geth's rule: a call that names no price runs in a block whose base fee (what
            // BASEFEE answers) is zero.
            block.basefee = 0;
        }
        EvmEnv::new(cfg, block)
    }

    fn tx_env(
        &self,
        env: &EvmEnv,
        request: &TransactionRequest,
        db: &mut CacheDB<StateAt<'_>>,
    ) -> Result<TxEnv, ExecError> {
        let mut request = request.clone();
        let cap = call_gas_cap(&env.cfg_env);
        if request.gas.is_none() {
            request.gas = Some(env.block_env.gas_limit.min(cap));
        }
        request.gas = request.gas.map(|g| g.min(cap));
        let mut tx: TxEnv = request
            .try_into_tx_env(env)
            .map_err(|e| ExecError::InvalidParams(e.to_string()))?;
        if tx.nonce == 0 {
            use revm::DatabaseRef;
            tx.nonce = db
                .db
                .basic_ref(tx.caller)
                .map_err(ExecError::State)?
                .map(|a| a.nonce)
                .unwrap_or_default();
        }
        Ok(tx)
    }

    /// A call's environment, its state (with `overrides` applied) and its transaction.
    fn prepare(
        &self,
        params: &BlockParams,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
    ) -> Result<(EvmEnv, CacheDB<StateAt<'_>>, TxEnv), ExecError> {
        let env = self.call_env(params, request);
        let mut db = CacheDB::new(StateAt {
            state: &self.state,
            block: params.state_block,
        });
        if let Some(overrides) = overrides {
            apply_state_overrides(overrides.clone(), &mut db)
                .map_err(|e| ExecError::InvalidParams(e.to_string()))?;
        }
        let tx = self.tx_env(&env, request, &mut db)?;
        Ok((env, db, tx))
    }

    /// `debug_traceCall`: the call under geth's tracer `options`, stopped at `deadline`.
    pub fn trace_call(
        &self,
        params: &BlockParams,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        options: &crate::GethDebugTracingOptions,
        deadline: Instant,
    ) -> Result<crate::GethTrace, ExecError> {
        let debug = revm_inspectors::tracing::DebugInspector::new(options.clone())
            .map_err(|e| ExecError::InvalidParams(e.to_string()))?;
        let (env, db, tx) = self.prepare(params, request, overrides)?;
        let mut evm = Context::mainnet()
            .with_db(db)
            .with_cfg(env.cfg_env)
            .with_block(env.block_env)
            .build_mainnet_with_inspector((debug, DeadlineInspector::new(deadline)));
        let res = evm.inspect_tx(tx.clone()).map_err(ExecError::from_evm)?;
        if evm.inspector.1.fired() {
            return Err(ExecError::TimedOut);
        }
        let block = evm.ctx.block.clone();
        evm.inspector
            .0
            .get_result(
                None,
                &tx,
                &block,
                &res,
                &mut evm.ctx.journaled_state.database,
            )
            .map_err(crate::trace::trace_err)
    }

    fn run(
        &self,
        params: &BlockParams,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        gas: Option<u64>,
        deadline: Option<Instant>,
    ) -> Result<(ExecutionResult, revm::state::EvmState), ExecError> {
        if deadline.is_some_and(|at| Instant::now() >= at) {
            return Err(ExecError::TimedOut);
        }
        let (env, db, mut tx) = self.prepare(params, request, overrides)?;
        if let Some(gas) = gas {
            tx.gas_limit = gas;
        }
        let ctx = Context::mainnet()
            .with_db(db)
            .with_cfg(env.cfg_env)
            .with_block(env.block_env);
        let Some(at) = deadline else {
            let out = ctx
                .build_mainnet()
                .transact(tx)
                .map_err(ExecError::from_evm)?;
            return Ok((out.result, out.state));
        };
        let mut evm = ctx.build_mainnet_with_inspector(DeadlineInspector::new(at));
        let out = evm.inspect_tx(tx).map_err(ExecError::from_evm)?;
        if evm.inspector.fired() {
            return Err(ExecError::TimedOut);
        }
        Ok((out.result, out.state))
    }

    /// `eth_call` on the head state.
    pub fn call(
        &self,
        params: &BlockParams,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        deadline: Option<Instant>,
    ) -> Result<CallOutcome, ExecError> {
        let (result, _) = self.run(params, request, overrides, None, deadline)?;
        outcome(result)
    }

    /// A call whose revert or halt is a result, not an error: `(success, gas used, output)`
    /// (revert data when it reverted). What searcher plugins' pre-state calls use, since
    /// they are charged for the gas of failed calls too.
    pub fn call_raw(
        &self,
        params: &BlockParams,
        request: &TransactionRequest,
        deadline: Option<Instant>,
    ) -> Result<(bool, u64, Bytes), ExecError> {
        let (result, _) = self.run(params, request, None, None, deadline)?;
        let gas_used = result.tx_gas_used();
        Ok(match result {
            ExecutionResult::Success { output, .. } => (true, gas_used, output.into_data()),
            ExecutionResult::Revert { output, .. } => (false, gas_used, output),
            ExecutionResult::Halt { .. } => (false, gas_used, Bytes::new()),
        })
    }

    /// `eth_estimateGas`: the smallest gas limit with which the call succeeds (binary
    /// search, as geth does).
    pub fn estimate_gas(
        &self,
        params: &BlockParams,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        deadline: Option<Instant>,
    ) -> Result<u64, ExecError> {
        let cap = request
            .gas
            .unwrap_or(params.gas_limit)
            .min(call_gas_cap(&self.cfg_env(params)));
        let (result, _) = self.run(params, request, overrides, Some(cap), deadline)?;
        let used = match result {
            ExecutionResult::Success { .. } => result.tx_gas_used(),
            ExecutionResult::Halt {
                reason: revm::context::result::HaltReason::OutOfGas(_),
                ..
            } => {
                return Err(ExecError::Halted(format!(
                    "gas required exceeds allowance ({cap})"
                )));
            }
            other => {
                return Err(match outcome(other) {
                    Err(e) => e,
                    Ok(_) => ExecError::Halted("unexpected success".into()),
                });
            }
        };
        // Plain transfers and many simple calls need exactly what they used.
        // A timeout in any probe fails the whole estimate (a timed-out probe must not
        // read as "too little gas").
        let probe = |gas: u64| -> Result<bool, ExecError> {
            match self.run(params, request, overrides, Some(gas), deadline) {
                Ok((ExecutionResult::Success { .. }, _)) => Ok(true),
                Err(ExecError::TimedOut) => Err(ExecError::TimedOut),
                _ => Ok(false),
            }
        };
        if probe(used)? {
            return Ok(used);
        }
        let mut lo = used;
        let mut hi = cap;
        // Most calls succeed with used * 64/63 (the EIP-150 reserve); try it first.
        let optimistic = (used + 2_300).saturating_mul(64) / 63;
        if optimistic < hi {
            if probe(optimistic)? {
                hi = optimistic;
            } else {
                lo = optimistic;
            }
        }
        while lo + 1 < hi {
            // Stop once within 1.5% like geth, to bound the number of runs.
            if (hi - lo) * 1000 / hi < 15 {
                break;
            }
            let mid = lo + (hi - lo) / 2;
            if probe(mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }

    /// `eth_createAccessList`: the accounts and slots the call touches (without the sender,
    /// precompiles and the coinbase), and the gas used with that list.
    pub fn create_access_list(
        &self,
        params: &BlockParams,
        request: &TransactionRequest,
        deadline: Option<Instant>,
    ) -> Result<(AccessList, u64, Option<String>), ExecError> {
        let (result, state) = self.run(params, request, None, None, deadline)?;
        let from = request.from.unwrap_or_default();
        let to = match request.to {
            Some(TxKind::Call(to)) => Some(to),
            _ => None,
        };
        let mut items: Vec<AccessListItem> = state
            .iter()
            .filter(|(addr, _)| {
                **addr != from && **addr != params.beneficiary && !is_precompile(addr)
            })
            .filter_map(|(addr, account)| {
                let mut keys: Vec<B256> = account.storage.keys().map(|k| B256::from(*k)).collect();
                keys.sort();
                if Some(*addr) == to && keys.is_empty() {
                    return None;
                }
                Some(AccessListItem {
                    address: *addr,
                    storage_keys: keys,
                })
            })
            .collect();
        items.sort_by_key(|i| i.address);
        let list = AccessList(items);
        let error = match &result {
            ExecutionResult::Success { .. } => None,
            other => outcome(other.clone()).err().map(|e| e.to_string()),
        };
        let mut with_list = request.clone();
        with_list.access_list = Some(list.clone());
        let (result, _) = self.run(params, &with_list, None, None, deadline)?;
        Ok((list, result.tx_gas_used(), error))
    }
}

fn outcome(result: ExecutionResult) -> Result<CallOutcome, ExecError> {
    let gas_used = result.tx_gas_used();
    match result {
        ExecutionResult::Success { output, .. } => Ok(CallOutcome {
            output: output.into_data(),
            gas_used,
        }),
        ExecutionResult::Revert { output, .. } => {
            let reason = crate::error::revert_reason(&output);
            Err(ExecError::Reverted {
                data: output,
                reason,
            })
        }
        ExecutionResult::Halt { reason, .. } => {
            Err(ExecError::Halted(crate::error::halt_message(&reason)))
        }
    }
}
