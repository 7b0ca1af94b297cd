//! Ordo execution: revm over the state stored in fjall.
//!
//! Map:
//! - [`StateDb`] (state.rs): the head state. Accounts live in memory (index + trie order),
//!   slots and code are read through fjall. It is revm's `DatabaseRef`, answers the pool's
//!   nonce/balance questions, and computes storage and state roots for a block's changes.
//! - [`Executor::assemble`] → [`BlockAssembler`] (block.rs): runs plan items one by one
//!   (transactions skipped when invalid, classified as never-includable or deferred; bundles
//!   whole or not at all), builds receipts, reports the gas left, and seals the header
//!   (tx/receipt/state roots, bloom, base fee). [`Executor::build_block`] is the one-shot
//!   form. Nothing is written: the builder stores the returned
//!   [`ordo_storage::BlockCommit`] in one batch, then calls [`StateDb::apply`].
//! - [`Executor::call`] / `estimate_gas` / `create_access_list` (call.rs): read-only
//!   simulations on a throw-away cache over the head state, with optional state overrides,
//!   stopped at an optional wall-clock deadline by [`DeadlineInspector`] (deadline.rs).
//! - [`Executor::simulate_bundle`] (bundle.rs): `eth_callBundle`, signed transactions run in
//!   order with block validation on a throw-away cache, reporting coinbase payments.
//!
//! Seams: the builder decides *what* goes in a block ([`BlockParams`] and the order); this
//! crate only decides whether each transaction can execute.

mod block;
mod bundle;
mod call;
mod deadline;
mod state;

use std::sync::Arc;

pub use block::{
    BlockAssembler, BlockItem, BlockParams, BuiltBlock, BundleItem, BundleResult, DropReason, SPEC,
    Skipped, genesis_header, write_genesis,
};
pub use bundle::{BundleOutcome, BundleTxResult};
pub use call::{CALL_GAS_CAP, CallOutcome};
pub use deadline::DeadlineInspector;
pub use state::{StateAt, StateDb, StateError};

use alloy_primitives::Bytes;
use revm::context_interface::result::{EVMError, InvalidTransaction};

/// Execution failures, classified for the RPC layer.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// Storage failed underneath revm.
    #[error("state: {0}")]
    State(#[from] StateError),
    /// The call reverted.
    #[error("execution reverted{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted {
        /// Revert data.
        data: Bytes,
        /// Decoded reason, if any.
        reason: Option<String>,
    },
    /// The call halted (out of gas, invalid opcode, ...).
    #[error("{0}")]
    Halted(String),
    /// The transaction is invalid in this state (e.g. insufficient funds).
    #[error("{0}")]
    Invalid(String),
    /// The request itself is malformed.
    #[error("{0}")]
    InvalidParams(String),
    /// A read-only execution ran past its deadline and was stopped.
    #[error("execution aborted (timeout)")]
    TimedOut,
}

impl ExecError {
    pub(crate) fn from_evm(err: EVMError<StateError, InvalidTransaction>) -> Self {
        match err {
            EVMError::Database(e) => Self::State(e),
            EVMError::Transaction(InvalidTransaction::LackOfFundForMaxFee { .. }) => {
                Self::Invalid("insufficient funds for gas * price + value".into())
            }
            EVMError::Transaction(t) => Self::Invalid(t.to_string()),
            other => Self::Invalid(other.to_string()),
        }
    }

    /// Whether the node, not the caller, is at fault.
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::State(_))
    }
}

/// Executes blocks and calls on top of a [`StateDb`].
#[derive(Debug, Clone)]
pub struct Executor {
    state: Arc<StateDb>,
    chain_id: u64,
}

impl Executor {
    /// An executor for `chain_id` over `state`.
    pub fn new(state: Arc<StateDb>, chain_id: u64) -> Self {
        Self { state, chain_id }
    }

    /// The head state.
    pub fn state(&self) -> &Arc<StateDb> {
        &self.state
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }
}

#[cfg(test)]
mod tests;
