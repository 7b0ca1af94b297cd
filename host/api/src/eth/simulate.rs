//! `eth_simulateV1` over [`ordo_exec::Executor::simulate`]: blocks of calls on top of a
//! block's state, answered in the spec's shape (each simulated block as
//! `eth_getBlockByNumber` shows one, with full transactions when asked, and per call its
//! status, return data, gas used, logs placed in the simulated block, and the spec's error for
//! a revert or a halt). Runs on the read pool, charged to the caller, stopped at the read
//! pool's deadline.

use std::sync::Arc;

use alloy_rpc_types_eth::simulate::{
    SimCallResult, SimulateError, SimulatePayload, SimulatedBlock,
};
use ordo_exec::{SimulateFailure, call_error};
use ordo_primitives::alloy_eips::BlockId;
use ordo_rpc::{BackendError, BackendResult, Caller, Cost, Namespace, Params, RpcBlock, json};
use serde_json::value::RawValue;

use crate::{NodeApi, chain::call_deadline, convert::rpc_log, errors::exec_err};

/// How long a simulation may run when the read pool sets no deadline.
const SIMULATE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `eth_simulateV1`.
pub struct SimulateNamespace(pub Arc<NodeApi>);

impl Namespace for SimulateNamespace {
    fn cost(&self, method: &str) -> Option<Cost> {
        (method == "eth_simulateV1").then_some(Cost::Heavy)
    }

    fn call(&self, method: &str, p: &Params<'_>, _caller: Caller) -> BackendResult<Box<RawValue>> {
        match method {
            "eth_simulateV1" => {
                p.at_most(2)?;
                let payload: SimulatePayload = p.required(0)?;
                let at = p.optional::<BlockId>(1)?.unwrap_or(BlockId::latest());
                json(&self.0.simulate(&payload, at)?)
            }
            other => Err(BackendError::method_not_found(other)),
        }
    }
}

impl NodeApi {
    fn simulate(
        &self,
        payload: &SimulatePayload,
        at: BlockId,
    ) -> BackendResult<Vec<SimulatedBlock<RpcBlock>>> {
        let base = self
            .block_record(at)?
            .ok_or_else(|| BackendError::tx("header not found"))?;
        // The block after `at`, on its state: the next block's parameters at the head, the
        // stored block's own (number and time moved on) below it.
        let mut params = self.call_params(at, None)?;
        params.number = base.number() + 1;
        params.timestamp = params.timestamp.max(base.header.timestamp);
        params.state_block = Some(base.number());
        // The simulated blocks' parent, which their defaults follow.
        params.ethereum = Some(std::sync::Arc::new(ordo_exec::EthereumParts {
            header: base.header.clone(),
            extras: Default::default(),
        }));
        let deadline =
            call_deadline().unwrap_or_else(|| std::time::Instant::now() + SIMULATE_TIMEOUT);
        let blocks = self
            .exec
            .simulate(&base.header, &params, payload, deadline)
            .map_err(|e| match e {
                SimulateFailure::Invalid { code, message } => BackendError::new(code, message),
                SimulateFailure::Exec(e) => exec_err(e),
            })?;
        let mut out = Vec::with_capacity(blocks.len());
        for sim in blocks {
            let block = &sim.block;
            let mut log_index = 0u64;
            let calls = sim
                .calls
                .iter()
                .enumerate()
                .map(|(i, call)| {
                    // A failed call leaves no logs (not even traced transfers) and, as
                    // geth answers, no return data: a revert's data is in its error.
                    let ok = call.result.is_success();
                    if !ok {
                        // geth's tracer numbers a failed call's traced transfers before it
                        // drops them: the next logs' indices skip theirs.
                        log_index += call.traced_transfers as u64;
                    }
                    let logs = call
                        .result
                        .logs()
                        .iter()
                        .filter(|_| ok)
                        .map(|log| {
                            log_index += 1;
                            rpc_log(block, i, log_index - 1, log)
                        })
                        .collect();
                    SimCallResult {
                        return_data: call
                            .result
                            .output()
                            .filter(|_| ok)
                            .cloned()
                            .unwrap_or_default(),
                        logs,
                        gas_used: call.result.tx_gas_used(),
                        // The most gas the call needed: what it spent before refunds, or
                        // EIP-7623's calldata floor if that is more.
                        max_used_gas: Some(
                            call.result
                                .gas()
                                .total_gas_spent()
                                .max(call.result.gas().floor_gas()),
                        ),
                        status: call.result.is_success(),
                        error: call_error(&call.result).map(|(code, message, data)| {
                            SimulateError {
                                code,
                                message,
                                data,
                            }
                        }),
                    }
                })
                .collect();
            out.push(SimulatedBlock {
                inner: self.full_block(block, payload.return_full_transactions)?,
                calls,
            });
        }
        Ok(out)
    }
}
