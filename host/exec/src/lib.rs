//! Ordo execution: revm over the state stored in fjall.
//!
//! Map:
//! - [`StateDb`] (state.rs): the head state, read from fjall through bounded caches. It is
//!   revm's `DatabaseRef`, answers the pool's nonce/balance questions, and computes a
//!   block's storage and state roots from the stored trie nodes and the paths it touched
//!   ([`trie`]: the walk, its sources over storage, and proofs). Opening it first
//!   recomputes the trie nodes a crash lost ([`StateDb::repair_trie`]: storage writes
//!   them behind the blocks).
//! - [`Executor::assemble`] → [`BlockAssembler`] (block.rs): runs plan items one by one
//!   (deposits always included, OP's way: mint first, fee-free, a failure still bumps the
//!   nonce; transactions skipped when invalid, classified as never-includable or deferred; bundles
//!   whole or not at all), builds receipts, reports the gas left, and seals the header
//!   (tx/receipt/state roots, bloom, base fee). [`Executor::build_block`] is the one-shot
//!   form. Nothing is written: the builder stages the returned
//!   [`ordo_storage::BlockCommit`] ([`StateDb::stage`]: the next block executes on it at
//!   once) and stores it in one batch meanwhile ([`StateDb::commit_staged`]).
//! - [`Executor::call`] / `estimate_gas` / `create_access_list` (call.rs): read-only
//!   simulations on a throw-away cache over the head state, with optional state overrides,
//!   stopped at an optional wall-clock deadline by [`DeadlineInspector`] (deadline.rs).
//! - [`StateDb::proof`] (proof.rs): EIP-1186 proofs from the stored trie (trie/), at the
//!   head or an older block.
//! - [`Executor::trace_block`] (trace.rs): `debug_trace*`, a stored block replayed on its
//!   parent's state through the same assembler, geth's tracers (revm-inspectors) on the
//!   transactions asked for.
//! - [`Executor::simulate`] (simulate.rs): `eth_simulateV1`, blocks of calls with block and
//!   state overrides on a throw-away cache.
//! - [`Executor::simulate_bundle`] (bundle.rs): `eth_callBundle`, signed transactions run in
//!   order with block validation on a throw-away cache, reporting coinbase payments.
//! - [`apply_block_thread_priority`] (priority.rs): the threads a block waits for (builder,
//!   root walk, commit) run at a lower nice value than ingress (`[builder] thread_nice`),
//!   the prefetch thread at a higher one ([`apply_prefetch_priority`]).
//!
//! Seams: the builder decides *what* goes in a block ([`BlockParams`] and the order); this
//! crate only decides whether each transaction can execute.

mod block;
mod bundle;
mod call;
mod deadline;
mod error;
mod executor;
mod genesis;
mod import;
mod priority;
mod proof;
mod rules;
mod simulate;
mod state;
mod trace;
pub mod trie;

pub use block::{
    BlockAssembler, BlockItem, BlockParams, BuiltBlock, BundleItem, BundleResult, DropReason,
    EthereumParts, Skipped,
};
pub use bundle::{BundleOutcome, BundleTxResult};
pub use call::{CALL_GAS_CAP, CallOutcome};
pub use deadline::DeadlineInspector;
pub use error::{ExecError, StateError};
pub use executor::Executor;
pub use genesis::{
    BulkAccount, ethereum_genesis_header, genesis_header, write_bulk_genesis,
    write_ethereum_genesis, write_genesis,
};
pub use import::ImportError;
pub use priority::{
    BLOCK_NICE_RANGE, DEFAULT_BLOCK_NICE, apply_block_thread_priority, apply_prefetch_priority,
    set_block_thread_nice,
};
pub use proof::{AccountProof, SlotProof};
pub use rules::ChainRules;
pub use simulate::{
    MAX_SIMULATED_BLOCKS, SimulateFailure, SimulatedBlock, SimulatedCall, call_error,
};
pub use state::{DEFAULT_CACHE_MB, StateAt, StateDb};
pub use trace::{GethDebugTracingOptions, GethTrace, TraceTarget, TxTrace};

#[cfg(test)]
mod tests;
