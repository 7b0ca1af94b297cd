//! Replaying a stored block under geth's tracers (`debug_traceTransaction`,
//! `debug_traceBlockBy*`): the block re-executes on its parent's state through the same
//! [`BlockAssembler`] that built it (deposits, the L1 data fee, the fee vaults), and each traced
//! transaction runs under revm-inspectors' `DebugInspector` (struct logger, `callTracer`,
//! `prestateTracer`, `4byteTracer`, `noopTracer`, `muxTracer`, `flatCallTracer`), the library
//! reth's debug API runs. Before a traced transaction everything executed so far is moved into
//! the cache under the EVM, so the cache is the state before it (what the prestate tracer
//! reads) and the journal then holds its own changes alone.
//!
//! A deadline bounds the whole replay: inside a traced transaction the EVM halts at it
//! ([`DeadlineInspector`]), and between transactions the replay stops.

use std::time::Instant;

use alloy_consensus::Header;
use alloy_primitives::B256;
pub use alloy_rpc_types_trace::geth::{GethDebugTracingOptions, GethTrace};
use ordo_primitives::BlockRecord;
use revm::{
    DatabaseCommit, ExecuteEvm, context::result::ResultAndState, context_interface::ContextTr,
};
use revm_inspectors::tracing::{DebugInspector, DebugInspectorError, TransactionContext};

use crate::{
    BlockAssembler, BlockItem, BlockParams, DeadlineInspector, ExecError, Executor, block::BlockCtx,
};

/// What a replay traces: one transaction (by hash) or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceTarget {
    /// The transaction with this hash; the replay stops after it.
    Tx(B256),
    /// Every transaction of the block, in order.
    Block,
}

/// One traced transaction.
#[derive(Debug, Clone)]
pub struct TxTrace {
    /// Its hash.
    pub hash: B256,
    /// The tracer's output.
    pub trace: GethTrace,
}

type TraceInspector = (DebugInspector, DeadlineInspector);

impl Executor {
    /// Replays `block` (whose parent is `parent`) on the state after its parent, tracing
    /// `target` with `options`; stops with [`ExecError::TimedOut`] at `deadline`.
    pub fn trace_block(
        &self,
        block: &BlockRecord,
        parent: &Header,
        options: &GethDebugTracingOptions,
        target: TraceTarget,
        deadline: Instant,
    ) -> Result<Vec<TxTrace>, ExecError> {
        let debug = DebugInspector::new(options.clone())
            .map_err(|e| ExecError::InvalidParams(e.to_string()))?;
        let h = &block.header;
        let params = BlockParams::of_block(h, Some(parent.number));
        let inspector = (debug, DeadlineInspector::new(deadline));
        let mut asm = self.assemble_inspected(
            parent,
            h.parent_hash,
            &params,
            Some(parent.number),
            inspector,
        )?;
        let mut traces = Vec::new();
        for (index, (raw, sender)) in block.transactions.iter().zip(&block.senders).enumerate() {
            if Instant::now() >= deadline {
                return Err(ExecError::TimedOut);
            }
            let item = BlockItem::from_body(raw, Some(*sender))
                .map_err(|e| ExecError::InvalidParams(format!("stored transaction: {e}")))?;
            let hash = block.tx_hashes[index];
            let traced = match target {
                TraceTarget::Block => true,
                TraceTarget::Tx(wanted) => wanted == hash,
            };
            if !traced {
                asm.push(&item)?;
                continue;
            }
            let context = TransactionContext {
                block_hash: Some(block.hash),
                tx_index: Some(index),
                tx_hash: Some(hash),
            };
            traces.push(TxTrace {
                hash,
                trace: asm.push_traced(&item, context)?,
            });
            if target == TraceTarget::Tx(hash) {
                break;
            }
        }
        Ok(traces)
    }
}

/// A tracer's failure: the state underneath, or its configuration.
pub(crate) fn trace_err(e: DebugInspectorError<crate::StateError>) -> ExecError {
    match e {
        DebugInspectorError::Database(e) => ExecError::State(e),
        other => ExecError::InvalidParams(other.to_string()),
    }
}

impl<'s> BlockAssembler<'s, TraceInspector> {
    /// Runs `item` (one transaction) under the tracer and returns its trace.
    fn push_traced(
        &mut self,
        item: &BlockItem,
        context: TransactionContext,
    ) -> Result<GethTrace, ExecError> {
        let before = self.evm.finalize();
        self.evm.ctx.journaled_state.database.commit(before);
        self.evm
            .inspector
            .0
            .fuse()
            .map_err(|e| ExecError::InvalidParams(e.to_string()))?;
        self.asm.inspect = true;
        let pushed = self.push(item);
        self.asm.inspect = false;
        pushed?;
        let (env, result) = (
            self.asm.inspected_env.take(),
            self.asm.inspected_result.take(),
        );
        let state = self.evm.finalize();
        if self.evm.inspector.1.fired() {
            return Err(ExecError::TimedOut);
        }
        let (Some(env), Some(result)) = (env, result) else {
            let why = self
                .skipped
                .last()
                .map(|(_, why)| format!("{why:?}"))
                .unwrap_or_else(|| "it could not execute".into());
            return Err(ExecError::Invalid(format!(
                "the transaction does not execute on its parent state: {why}"
            )));
        };
        let res = ResultAndState::new(result, state);
        let ctx: &mut BlockCtx<'s> = &mut self.evm.ctx;
        let block_env = ctx.block().clone();
        let trace = self
            .evm
            .inspector
            .0
            .get_result(
                Some(context),
                &env,
                &block_env,
                &res,
                &mut self.evm.ctx.journaled_state.database,
            )
            .map_err(trace_err)?;
        self.evm.ctx.journaled_state.database.commit(res.state);
        Ok(trace)
    }
}
