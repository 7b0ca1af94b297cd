//! The `debug` namespace, as geth serves it to explorers and debuggers:
//! - `debug_traceTransaction`, `debug_traceBlockByNumber`, `debug_traceBlockByHash`: the
//!   stored block replayed on its parent's state ([`ordo_exec::Executor::trace_block`]),
//!   geth's tracers on the transactions asked for; `debug_traceCall`: a call traced on any
//!   block's state with state and block overrides. They run on the read pool, charged to the
//!   caller's time budget; each stops at geth's `timeout` option (5 s by default) or the read
//!   pool's deadline, whichever comes first.
//! - `debug_getRawHeader`, `debug_getRawBlock`, `debug_getRawTransaction`,
//!   `debug_getRawReceipts`: the consensus encodings.

use std::{sync::Arc, time::Duration};

use alloy_primitives::{B256, Bytes};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_trace::geth::{
    GethDebugTracingCallOptions, GethDebugTracingOptions, TraceResult,
};
use ordo_exec::{ExecError, TraceTarget};
use ordo_primitives::BlockRecord;
use ordo_primitives::alloy_eips::{BlockId, eip2718::Encodable2718};
use ordo_rpc::{BackendError, BackendResult, Caller, Cost, Namespace, Params, json};
use serde_json::value::RawValue;

use crate::{
    NodeApi,
    chain::call_deadline,
    errors::{exec_err, storage_err},
};

/// geth's tracer timeout when the options name none.
const DEFAULT_TRACE_TIMEOUT: Duration = Duration::from_secs(5);

/// `debug_*` over the chain.
pub struct DebugNamespace(pub Arc<NodeApi>);

impl Namespace for DebugNamespace {
    fn cost(&self, method: &str) -> Option<Cost> {
        match method {
            "debug_traceTransaction"
            | "debug_traceBlockByNumber"
            | "debug_traceBlockByHash"
            | "debug_traceCall" => Some(Cost::Heavy),
            "debug_getRawHeader"
            | "debug_getRawBlock"
            | "debug_getRawTransaction"
            | "debug_getRawReceipts" => Some(Cost::Quick),
            _ => None,
        }
    }

    fn call(&self, method: &str, p: &Params<'_>, _caller: Caller) -> BackendResult<Box<RawValue>> {
        let api = &self.0;
        match method {
            "debug_traceTransaction" => {
                p.at_most(2)?;
                let hash: B256 = p.required(0)?;
                let options: GethDebugTracingOptions = p.optional(1)?.unwrap_or_default();
                json(&api.trace_transaction(hash, &options)?)
            }
            "debug_traceBlockByNumber" | "debug_traceBlockByHash" => {
                p.at_most(2)?;
                let id = match method {
                    "debug_traceBlockByHash" => BlockId::hash(p.required::<B256>(0)?),
                    _ => BlockId::Number(p.required(0)?),
                };
                let options: GethDebugTracingOptions = p.optional(1)?.unwrap_or_default();
                json(&api.trace_block(id, &options)?)
            }
            "debug_traceCall" => {
                p.at_most(3)?;
                let request: TransactionRequest = p.required(0)?;
                let at = p.optional::<BlockId>(1)?.unwrap_or(BlockId::latest());
                let options: GethDebugTracingCallOptions = p.optional(2)?.unwrap_or_default();
                json(&api.trace_call(request, at, options)?)
            }
            "debug_getRawHeader" => {
                p.at_most(1)?;
                let block = api.raw_block_record(p.required(0)?)?;
                json(&Bytes::from(alloy_rlp::encode(&block.header)))
            }
            "debug_getRawBlock" => {
                p.at_most(1)?;
                let block = api.raw_block_record(p.required(0)?)?;
                json(&raw_block(&block)?)
            }
            "debug_getRawTransaction" => {
                p.at_most(1)?;
                let hash: B256 = p.required(0)?;
                json(&api.raw_transaction(hash)?)
            }
            "debug_getRawReceipts" => {
                p.at_most(1)?;
                let block = api.raw_block_record(p.required(0)?)?;
                let receipts = api
                    .storage
                    .receipts(block.number())
                    .map_err(storage_err)?
                    .unwrap_or_default();
                let raw: Vec<Bytes> = receipts
                    .iter()
                    .map(|r| Bytes::from(r.receipt.encoded_2718()))
                    .collect();
                json(&raw)
            }
            other => Err(BackendError::method_not_found(other)),
        }
    }
}

/// The block as the consensus encodes it: header, transactions, ommers, withdrawals.
fn raw_block(block: &BlockRecord) -> BackendResult<Bytes> {
    use ordo_primitives::alloy_eips::eip2718::Decodable2718;
    let transactions = block
        .transactions
        .iter()
        .map(|raw| ordo_primitives::OrdoTxEnvelope::decode_2718_exact(raw))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BackendError::internal(format!("a stored transaction: {e}")))?;
    let full = alloy_consensus::Block {
        header: block.header.clone(),
        body: alloy_consensus::BlockBody {
            transactions,
            ommers: block.ommers().to_vec(),
            withdrawals: block.withdrawals(),
        },
    };
    Ok(Bytes::from(alloy_rlp::encode(&full)))
}

/// Go's `time.ParseDuration` for what tracer timeouts use: a sequence of decimal numbers
/// with units `ns`, `us` (`µs`), `ms`, `s`, `m`, `h`, as in `"5s"`, `"300ms"`, `"1m30s"`.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit..];
        total += value * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

impl NodeApi {
    /// When a trace with `options` must stop, and whether that is its own timeout (rather
    /// than the read pool's deadline, which names its own error).
    fn trace_deadline(
        options: &GethDebugTracingOptions,
    ) -> BackendResult<(std::time::Instant, bool)> {
        let timeout = match &options.timeout {
            Some(text) => parse_go_duration(text).ok_or_else(|| {
                BackendError::invalid_params(format!("time: invalid duration {text:?}"))
            })?,
            None => DEFAULT_TRACE_TIMEOUT,
        };
        let own = std::time::Instant::now() + timeout;
        Ok(match call_deadline() {
            Some(pool) if pool < own => (pool, false),
            _ => (own, true),
        })
    }

    fn trace_err(e: ExecError, own_timeout: bool) -> BackendError {
        match e {
            // geth's words when a tracer's own timeout stops it.
            ExecError::TimedOut if own_timeout => BackendError::tx("execution timeout"),
            e => exec_err(e),
        }
    }

    /// A stored block and its parent's header, for a replay.
    fn with_parent(&self, block: &BlockRecord) -> BackendResult<alloy_consensus::Header> {
        if block.number() == 0 {
            return Err(BackendError::tx("genesis is not traceable"));
        }
        let parent = self
            .storage
            .block(block.number() - 1)
            .map_err(storage_err)?
            .ok_or_else(|| BackendError::tx("parent block not found"))?;
        Ok(parent.header)
    }

    fn trace_transaction(
        &self,
        hash: B256,
        options: &GethDebugTracingOptions,
    ) -> BackendResult<ordo_exec::GethTrace> {
        let (deadline, own) = Self::trace_deadline(options)?;
        let Some(loc) = self.storage.tx_location(&hash).map_err(storage_err)? else {
            return Err(BackendError::tx("transaction not found"));
        };
        let block = self
            .block_record(BlockId::number(loc.block))?
            .ok_or_else(|| BackendError::tx("transaction not found"))?;
        let parent = self.with_parent(&block)?;
        let mut traces = self
            .exec
            .trace_block(&block, &parent, options, TraceTarget::Tx(hash), deadline)
            .map_err(|e| Self::trace_err(e, own))?;
        traces
            .pop()
            .map(|t| t.trace)
            .ok_or_else(|| BackendError::tx("transaction not found"))
    }

    fn trace_block(
        &self,
        id: BlockId,
        options: &GethDebugTracingOptions,
    ) -> BackendResult<Vec<TraceResult>> {
        let (deadline, own) = Self::trace_deadline(options)?;
        let block = self.raw_block_record(id)?;
        let parent = self.with_parent(&block)?;
        let traces = self
            .exec
            .trace_block(&block, &parent, options, TraceTarget::Block, deadline)
            .map_err(|e| Self::trace_err(e, own))?;
        Ok(traces
            .into_iter()
            .map(|t| TraceResult::Success {
                result: t.trace,
                tx_hash: Some(t.hash),
            })
            .collect())
    }

    fn trace_call(
        &self,
        request: TransactionRequest,
        at: BlockId,
        options: GethDebugTracingCallOptions,
    ) -> BackendResult<ordo_exec::GethTrace> {
        let (deadline, own) = Self::trace_deadline(&options.tracing_options)?;
        let params = self.call_params(at, options.block_overrides.as_ref())?;
        self.exec
            .trace_call(
                &params,
                &request,
                options.state_overrides.as_ref(),
                &options.tracing_options,
                deadline,
            )
            .map_err(|e| Self::trace_err(e, own))
    }

    /// A stored block by id, or geth's error for one that is not there.
    fn raw_block_record(&self, id: BlockId) -> BackendResult<Arc<BlockRecord>> {
        self.block_record(id)?
            .ok_or_else(|| BackendError::tx(format!("block {id} not found")))
    }

    fn raw_transaction(&self, hash: B256) -> BackendResult<Option<Bytes>> {
        if let Some(loc) = self.storage.tx_location(&hash).map_err(storage_err)?
            && let Some(block) = self.block_record(BlockId::number(loc.block))?
        {
            return Ok(block.transactions.get(loc.index as usize).cloned());
        }
        Ok(self.pool.get(&hash).map(|p| p.encoded.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_go_parses_them() {
        let ms = Duration::from_millis;
        assert_eq!(parse_go_duration("5s"), Some(ms(5_000)));
        assert_eq!(parse_go_duration("300ms"), Some(ms(300)));
        assert_eq!(parse_go_duration("1m30s"), Some(ms(90_000)));
        assert_eq!(parse_go_duration("1.5h"), Some(ms(5_400_000)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        for bad in ["", "5", "s", "5 s", "5x", "-1s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
    }
}
