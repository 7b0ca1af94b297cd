//! Output roots: what the proposer posts to L1 for a block and what the portal proves
//! withdrawals against, read from the stored block and the state history, so every stored
//! block has one (the batcher's for a batch's last block, `ordo_outputAtBlock`'s for any).

use alloy_primitives::B256;
use alloy_trie::EMPTY_ROOT_HASH;
use ordo_primitives::{BlockRecord, MESSAGE_PASSER, output_root};

use crate::{Result, Storage};

/// A block's output root and what it commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The block.
    pub block: BlockRecord,
    /// The message passer's storage root after the block (the withdrawals sent so far).
    pub message_passer_storage_root: B256,
    /// `output_root(state root, message passer storage root, block hash)`.
    pub root: B256,
}

impl Storage {
    /// The output of stored block `number` (`None`: no such block here). A stored block and
    /// its state history do not change afterwards, so the two reads cannot disagree.
    pub fn output(&self, number: u64) -> Result<Option<Output>> {
        let Some(block) = self.block(number)? else {
            return Ok(None);
        };
        let storage_root = self
            .account_at(&MESSAGE_PASSER, number)?
            .map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
        Ok(Some(Output {
            root: output_root(block.header.state_root, storage_root, block.hash),
            message_passer_storage_root: storage_root,
            block,
        }))
    }
}
