//! L1 origins: which L1 block each L2 block derives its deposits from.
//!
//! The origin moves one L1 block at a time, and only to a block the source already fetched
//! (confirmed on L1) whose timestamp is not after the L2 block's; the first block with a new
//! origin starts with that origin's deposits, in log order, before anything the ordering
//! policy chooses. The origin's hash is the header's extra data, so the block hash commits
//! to it. A new origin must name the current one as its parent: otherwise L1 reorganised
//! below the confirmation depth and the builder stops rather than build on a dropped origin.
//!
//! The sequencing window: a block whose origin is more than half the window behind L1's
//! confirmed head might not reach L1 in time (the other half is left for its batch to land),
//! so the origin must move; and while the next origin is itself that far behind (after a
//! halt, say), the block is that origin's deposit-only block ([`ordo_exec::BlockParams::deposit_only`]), the one derivation makes for it. So a
//! halted or censoring sequencer cannot keep a deposit out, and a sequencer that resumes
//! builds the chain a verifier derives.

use std::sync::Arc;

use alloy_primitives::B256;
use ordo_primitives::{DepositTx, L1Origin};

/// An L1 block offered as an origin.
#[derive(Debug, Clone)]
pub struct NextOrigin {
    pub origin: L1Origin,
    pub parent_hash: B256,
    pub deposits: Vec<Arc<DepositTx>>,
}

/// Where the builder takes origins from (the node wires L1's feed in). Never blocks: it
/// answers from what it has fetched.
pub trait OriginSource: Send + Sync {
    /// The origin at L1 height `number`, if fetched.
    fn origin(&self, number: u64) -> Option<NextOrigin>;
    /// The lowest origin fetched: where a chain without origins starts.
    fn first(&self) -> Option<NextOrigin>;
    /// Why the origins can no longer be trusted, if so.
    fn broken(&self) -> Option<String>;
    /// The chain's newest origin is now `number`: older ones are not needed again.
    fn done_below(&self, number: u64);
    /// L1's newest block with the confirmations, as last seen.
    fn confirmed(&self) -> Option<u64>;
    /// The sequencing window in L1 blocks: a block whose origin is this far behind the
    /// confirmed head would reach L1 too late, so the chain moves on with deposit-only
    /// blocks, as derivation does.
    fn window(&self) -> u64;
}

/// What the next block is, as far as L1 origins decide.
#[derive(Debug)]
pub(crate) enum OriginStep {
    /// A block the policy fills, with this origin (and these deposits first, when it moved).
    Ordered(Option<L1Origin>, Vec<Arc<DepositTx>>),
    /// The deposit-only block for this origin: its window passed.
    DepositOnly(L1Origin, Vec<Arc<DepositTx>>),
    /// No block can be built now: the origin must move and the next one is not known yet.
    Wait(String),
}
