//! `eth_simulateV1` (execution-apis): blocks of calls on top of a block's state, each block
//! with its own block and state overrides, every call seeing the ones before it. Nothing is
//! written: the state lives in one throw-away cache over the starting block's.
//!
//! As the spec and reth define it: a block's number and time default to the previous one's
//! plus 1 and plus 12 s and must increase; a call's sender defaults to the zero address, its
//! nonce to the sender's current one, its gas to what the block has left; with `validation`
//! the rules of a real block hold (nonces, fees, balances, the base fee) and a transaction that
//! breaks one fails the whole request with the spec's code, without it calls are priced at
//! zero like `eth_call`; `traceTransfers` adds an ERC-20 style `Transfer` log from
//! `0xEeee…EEeE` for every ether transfer (revm-inspectors' `TransferInspector`). A revert or
//! halt is the call's result, not an error. The simulated blocks' headers carry real
//! transaction and receipt roots, bloom and gas used; their state root is not computed (zero).

use std::time::Instant;

use alloy_consensus::{EthereumTxEnvelope, Header, TxEip4844, proofs::calculate_receipt_root};
use alloy_eips::eip2718::Encodable2718;
use alloy_evm::{EvmEnv, overrides::apply_state_overrides, rpc::TryIntoTxEnv};
use alloy_primitives::{Address, B256, Bloom, Bytes, keccak256};
use alloy_rpc_types_eth::simulate::SimulatePayload;
use ordo_primitives::{BlockRecord, OrdoReceiptEnvelope};
use revm::{
    Context, DatabaseCommit, DatabaseRef, InspectEvm, MainBuilder, MainContext,
    context::result::{EVMError, ExecutionResult, InvalidTransaction},
    database::CacheDB,
};
use revm_inspectors::transfer::TransferInspector;

use crate::{BlockParams, DeadlineInspector, ExecError, Executor, state::StateAt};

/// The most blocks one request may simulate (the spec's limit).
pub const MAX_SIMULATED_BLOCKS: usize = 256;

/// How one call ended.
#[derive(Debug, Clone)]
pub struct SimulatedCall {
    /// The EVM's result (success, revert or halt, with logs and gas).
    pub result: ExecutionResult,
}

/// One simulated block: the block as a stored one would read (header, its transactions with
/// a dummy signature, their senders and hashes) and each call's result.
#[derive(Debug, Clone)]
pub struct SimulatedBlock {
    /// The block.
    pub block: BlockRecord,
    /// One per call, in order.
    pub calls: Vec<SimulatedCall>,
}

/// Why a simulation failed as a whole: the spec's error code and message.
#[derive(Debug, thiserror::Error)]
pub enum SimulateFailure {
    /// A rule of the request or of a block broken (the spec's `-380xx` codes, or `-32602`).
    #[error("{message}")]
    Invalid {
        /// The spec's code.
        code: i32,
        /// What broke.
        message: String,
    },
    /// The execution itself failed (storage, the deadline).
    #[error(transparent)]
    Exec(#[from] ExecError),
}

fn invalid(code: i32, message: impl Into<String>) -> SimulateFailure {
    SimulateFailure::Invalid {
        code,
        message: message.into(),
    }
}

/// A transaction `validation` refuses, as the spec numbers it.
fn refused(err: EVMError<crate::StateError, InvalidTransaction>) -> SimulateFailure {
    let message = err.to_string();
    let code = match &err {
        EVMError::Database(_) => return SimulateFailure::Exec(ExecError::from_evm(err)),
        EVMError::Transaction(t) => match t {
            InvalidTransaction::NonceTooLow { .. } => -38010,
            InvalidTransaction::NonceTooHigh { .. } => -38011,
            InvalidTransaction::GasPriceLessThanBasefee => -38012,
            InvalidTransaction::CallGasCostMoreThanGasLimit { .. } => -38013,
            InvalidTransaction::LackOfFundForMaxFee { .. } => -38014,
            InvalidTransaction::CallerGasLimitMoreThanBlock => -38015,
            _ => -32000,
        },
        _ => -32000,
    };
    invalid(code, message)
}

impl Executor {
    /// Simulates `payload` on the state after `params.state_block` (None: the head), the first
    /// block following `parent` with `params` (its number, time, base fee, limit, coinbase).
    pub fn simulate(
        &self,
        parent: &Header,
        params: &BlockParams,
        payload: &SimulatePayload,
        deadline: Instant,
    ) -> Result<Vec<SimulatedBlock>, SimulateFailure> {
        if payload.block_state_calls.len() > MAX_SIMULATED_BLOCKS {
            return Err(invalid(
                -38026,
                format!("too many blocks: at most {MAX_SIMULATED_BLOCKS}"),
            ));
        }
        let validation = payload.validation;
        let mut db = CacheDB::new(StateAt {
            state: &self.state,
            block: params.state_block,
        });
        let mut out = Vec::with_capacity(payload.block_state_calls.len());
        let (mut prev_number, mut prev_time, mut prev_hash) =
            (parent.number, parent.timestamp, parent.hash_slow());
        for sim in &payload.block_state_calls {
            let o = sim.block_overrides.clone().unwrap_or_default();
            let number = o.number.map_or(prev_number + 1, |n| n.saturating_to());
            if number <= prev_number {
                return Err(invalid(
                    -38020,
                    format!("block number {number} does not follow {prev_number}"),
                ));
            }
            let timestamp = o.time.unwrap_or(prev_time + 12);
            if timestamp <= prev_time {
                return Err(invalid(
                    -38021,
                    format!("block timestamp {timestamp} does not follow {prev_time}"),
                ));
            }
            let base_fee = match o.base_fee {
                Some(fee) => fee.saturating_to(),
                // Without validation calls are free, so the base fee is too.
                None if validation => params.base_fee,
                None => 0,
            };
            let block_params = BlockParams {
                number,
                timestamp,
                beneficiary: o.coinbase.unwrap_or(params.beneficiary),
                gas_limit: o.gas_limit.unwrap_or(params.gas_limit),
                base_fee,
                extra_data: Bytes::new(),
                state_block: params.state_block,
                max_tx_bytes: None,
                ethereum: None,
            };
            if let Some(overrides) = &sim.state_overrides {
                apply_state_overrides(overrides.clone(), &mut db)
                    .map_err(|e| invalid(-32602, e.to_string()))?;
            }
            let prevrandao = o.random.unwrap_or_else(|| keccak256(prev_hash));
            let mut cfg = self.cfg_env(&block_params);
            cfg.disable_eip3607 = true;
            if !validation {
                cfg.disable_nonce_check = true;
                cfg.disable_base_fee = true;
            }
            let env = EvmEnv::new(cfg, self.block_env(&block_params, prevrandao));
            let mut gas_used = 0u64;
            let mut calls = Vec::with_capacity(sim.calls.len());
            let mut envelopes = Vec::with_capacity(sim.calls.len());
            let mut receipts = Vec::with_capacity(sim.calls.len());
            for request in &sim.calls {
                if Instant::now() >= deadline {
                    return Err(ExecError::TimedOut.into());
                }
                let mut request = request.clone();
                let from = request.from.unwrap_or(Address::ZERO);
                request.from = Some(from);
                if request.nonce.is_none() {
                    let nonce = db
                        .basic_ref(from)
                        .map_err(ExecError::State)?
                        .map(|a| a.nonce)
                        .unwrap_or_default();
                    request.nonce = Some(nonce);
                }
                let left = block_params.gas_limit.saturating_sub(gas_used);
                request.gas = Some(
                    request
                        .gas
                        .unwrap_or(left)
                        .min(crate::call::call_gas_cap(&env.cfg_env)),
                );
                request.chain_id.get_or_insert(self.chain_id);
                // No recipient: a creation.
                request.to.get_or_insert(alloy_primitives::TxKind::Create);
                if request.gas_price.is_none() && request.max_fee_per_gas.is_none() {
                    // No price given: free without validation, the base fee with it.
                    request.max_fee_per_gas = Some(u128::from(base_fee));
                    request.max_priority_fee_per_gas.get_or_insert(0);
                }
                let tx_env = request
                    .clone()
                    .try_into_tx_env(&env)
                    .map_err(|e| invalid(-32602, e.to_string()))?;
                let transfers = TransferInspector::new(false).with_logs(payload.trace_transfers);
                let mut evm = Context::mainnet()
                    .with_db(&mut db)
                    .with_cfg(env.cfg_env.clone())
                    .with_block(env.block_env.clone())
                    .build_mainnet_with_inspector((transfers, DeadlineInspector::new(deadline)));
                let outcome = evm.inspect_tx(tx_env);
                let fired = evm.inspector.1.fired();
                drop(evm);
                let res = match outcome {
                    Ok(res) => res,
                    Err(e) if validation => return Err(refused(e)),
                    Err(e) => return Err(ExecError::from_evm(e).into()),
                };
                if fired {
                    return Err(ExecError::TimedOut.into());
                }
                db.commit(res.state);
                gas_used += res.result.tx_gas_used();
                let tx = request
                    .build_typed_simulate_transaction()
                    .map_err(|e| invalid(-32602, e.to_string()))?;
                let logs = res.result.logs().to_vec();
                receipts.push(OrdoReceiptEnvelope::from_parts(
                    alloy_consensus::Eip658Value::Eip658(res.result.is_success()),
                    gas_used,
                    &logs,
                    alloy_consensus::Typed2718::ty(&tx),
                    None,
                    None,
                ));
                envelopes.push((tx, from));
                calls.push(SimulatedCall { result: res.result });
            }
            let block = seal(
                prev_hash,
                &block_params,
                prevrandao,
                gas_used,
                &envelopes,
                &receipts,
            );
            prev_number = number;
            prev_time = timestamp;
            prev_hash = block.hash;
            out.push(SimulatedBlock { block, calls });
        }
        Ok(out)
    }
}

/// The simulated block: a header over its transactions and receipts (no state root).
fn seal(
    parent_hash: B256,
    params: &BlockParams,
    prevrandao: B256,
    gas_used: u64,
    txs: &[(EthereumTxEnvelope<TxEip4844>, Address)],
    receipts: &[OrdoReceiptEnvelope],
) -> BlockRecord {
    let mut logs_bloom = Bloom::default();
    for r in receipts {
        logs_bloom.accrue_bloom(r.logs_bloom());
    }
    let transactions: Vec<Bytes> = txs.iter().map(|(t, _)| t.encoded_2718().into()).collect();
    let header = Header {
        parent_hash,
        beneficiary: params.beneficiary,
        transactions_root: alloy_trie::root::ordered_trie_root_with_encoder(
            &transactions,
            |t, out| out.extend_from_slice(t),
        ),
        receipts_root: calculate_receipt_root(receipts),
        logs_bloom,
        gas_used,
        mix_hash: prevrandao,
        state_root: B256::ZERO,
        ..crate::block::empty_header(
            params.number,
            params.gas_limit,
            params.timestamp,
            params.base_fee,
            Bytes::new(),
        )
    };
    BlockRecord {
        hash: header.hash_slow(),
        header,
        tx_hashes: txs.iter().map(|(t, _)| *t.tx_hash()).collect(),
        senders: txs.iter().map(|(_, from)| *from).collect(),
        transactions,
        provenance: Default::default(),
        l1_origin: None,
        extras: None,
    }
}

/// The spec's error of a call that reverted or halted, or None for a success.
pub fn call_error(result: &ExecutionResult) -> Option<(i32, String, Option<Bytes>)> {
    match result {
        ExecutionResult::Success { .. } => None,
        ExecutionResult::Revert { output, .. } => {
            let reason = crate::error::revert_reason(output);
            Some((
                3,
                reason.map_or_else(
                    || "execution reverted".to_string(),
                    |r| format!("execution reverted: {r}"),
                ),
                Some(output.clone()),
            ))
        }
        ExecutionResult::Halt { reason, .. } => Some((-32015, format!("{reason:?}"), None)),
    }
}
