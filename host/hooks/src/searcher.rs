//! The searcher seam: in-sequencer MEV searchers (WASM `searcher` plugins) propose bundles
//! for the block being built, reading the block's pre-state through [`PreStateView`].
//!
//! The builder owns the pre-state view (the head state, read-only, with a gas-metered
//! `eth_call`); the plugin host implements [`SearcherHost`] and runs every active searcher
//! under its sandbox limits. Whatever a searcher answers is untrusted: the builder decodes
//! and validates the transactions, simulates the bundle and keeps it only if it lands whole.

use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, U256};
use ordo_primitives::Candidate;

use crate::ordering::{OrderingContext, Placement};

/// A bundle a searcher plugin proposed for the block being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedBundle {
    /// The searcher's name (the plugin's metadata name), the key of its statistics.
    pub searcher: String,
    /// Signed EIP-2718 transactions, executed consecutively and atomically.
    pub txs: Vec<Bytes>,
    /// Where the bundle goes.
    pub placement: Placement,
    /// The bid the searcher declared (wei); what it actually pays the coinbase is measured.
    pub bid: U256,
}

/// What a read-only call against the pre-state returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallView {
    /// False when the call reverted or halted.
    pub success: bool,
    /// Gas used.
    pub gas_used: u64,
    /// Return data (revert data on revert).
    pub output: Bytes,
}

/// Why a pre-state call could not run (a revert is a [`CallView`] with `success: false`,
/// not an error). The plugin sees the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreStateError {
    /// The searcher call's deadline passed (before or during the EVM run).
    #[error("deadline exceeded")]
    Deadline,
    /// The request cannot run as given (invalid fields, a gas cap, ...).
    #[error("{0}")]
    Invalid(String),
    /// The node's state could not be read.
    #[error("state unavailable: {0}")]
    State(String),
}

/// Read-only access to the state the block is built on.
pub trait PreStateView: Send + Sync + 'static {
    /// Balance in wei.
    fn balance(&self, address: Address) -> U256;
    /// Account nonce.
    fn nonce(&self, address: Address) -> u64;
    /// A storage slot's value.
    fn storage(&self, address: Address, slot: B256) -> B256;
    /// Code hash (`KECCAK_EMPTY` for accounts without code, zero for absent accounts).
    fn code_hash(&self, address: Address) -> B256;
    /// An `eth_call` with at most `gas` gas, stopped at `deadline` (the searcher call's own:
    /// the plugin's epoch deadline cannot interrupt the host while it runs the EVM). `Err`
    /// when the call could not run at all; reverts are `Ok` with `success: false`.
    fn call(
        &self,
        from: Address,
        to: Address,
        value: U256,
        gas: u64,
        data: Bytes,
        deadline: std::time::Instant,
    ) -> Result<CallView, PreStateError>;
}

/// Runs the active searchers for one block.
pub trait SearcherHost: Send + Sync + 'static {
    /// Every active searcher's bundles for the block in `ctx`. A searcher that fails (trap,
    /// timeout, garbage) is skipped for this block and the failure counted by the host;
    /// this never fails the block.
    fn search(
        &self,
        ctx: &OrderingContext,
        candidates: &[Candidate],
        state: Arc<dyn PreStateView>,
    ) -> Vec<ProposedBundle>;
}

/// No searchers.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSearchers;

impl SearcherHost for NoSearchers {
    fn search(
        &self,
        _ctx: &OrderingContext,
        _candidates: &[Candidate],
        _state: Arc<dyn PreStateView>,
    ) -> Vec<ProposedBundle> {
        Vec::new()
    }
}
