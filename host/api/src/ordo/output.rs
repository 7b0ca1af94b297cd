//! `ordo_outputAtBlock`: a block's output root with what it commits to, in the shape of
//! op-node's `optimism_outputAtBlock`, so a withdrawal prover (or a person checking the
//! proposer) needs nothing else from the node.

use alloy_primitives::B256;
use ordo_primitives::{BlockRecord, alloy_eips::BlockNumberOrTag};
use ordo_rpc::{BackendError, BackendResult, Params, json};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::{NodeApi, errors::storage_err};

/// Farthest a block's sequence number is counted back to its origin's first block (a call
/// stays cheap; 2,000 blocks is 100 s of 50 ms blocks on one L1 origin).
const MAX_SEQUENCE_WALK: u64 = 2_000;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutputView {
    version: B256,
    output_root: B256,
    block_ref: BlockRef,
    withdrawal_storage_root: B256,
    state_root: B256,
    sync_status: SyncStatus,
}

/// op-node's L2 block reference: its numbers are plain JSON numbers, as op-node (and the
/// `L2BlockRef` types of OP's tools) write them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BlockRef {
    hash: B256,
    number: u64,
    parent_hash: B256,
    timestamp: u64,
    /// The L1 origin (zero hash and number on a chain without L1, as op-node has no null).
    l1origin: Id,
    /// Blocks since the first block of this origin (0: the first).
    sequence_number: u64,
}

#[derive(Serialize)]
struct Id {
    hash: B256,
    number: u64,
}

/// The L2 side of op-node's sync status.
#[derive(Serialize)]
struct SyncStatus {
    unsafe_l2: BlockRef,
    safe_l2: BlockRef,
    finalized_l2: BlockRef,
}

impl NodeApi {
    /// `ordo_outputAtBlock(block)`: the output of a block (a number or a tag).
    pub(crate) fn output_at_block(&self, p: &Params<'_>) -> BackendResult<Box<RawValue>> {
        let tag: BlockNumberOrTag = p.only()?;
        let head = self.head().number();
        let number = self.resolve_tag(tag, head);
        if number > head {
            return Err(BackendError::new(
                -32000,
                format!("block {number} is not known yet (head is {head})"),
            ));
        }
        let output = self
            .storage
            .output(number)
            .map_err(storage_err)?
            .ok_or_else(|| BackendError::new(-32000, format!("block {number} is not stored")))?;
        let (safe, finalized) = self.settled_heads();
        let view = OutputView {
            version: ordo_primitives::OUTPUT_VERSION,
            output_root: output.root,
            block_ref: self.block_ref(&output.block)?,
            withdrawal_storage_root: output.message_passer_storage_root,
            state_root: output.block.header.state_root,
            sync_status: SyncStatus {
                unsafe_l2: self.block_ref(&self.head())?,
                safe_l2: self.block_ref_at(safe.min(head))?,
                finalized_l2: self.block_ref_at(finalized.min(head))?,
            },
        };
        json(&view)
    }

    fn block_ref_at(&self, number: u64) -> BackendResult<BlockRef> {
        let block = self
            .storage
            .block(number)
            .map_err(storage_err)?
            .ok_or_else(|| BackendError::internal(format!("block {number} missing")))?;
        self.block_ref(&block)
    }

    fn block_ref(&self, block: &BlockRecord) -> BackendResult<BlockRef> {
        // Without L1 every block is of one epoch, as on an OP chain before its first origin.
        let sequence = match block.l1_origin {
            None => block.number(),
            Some(origin) => {
                let mut first = block.number();
                while first > 0 && block.number() - first < MAX_SEQUENCE_WALK {
                    let parent = self.storage.block(first - 1).map_err(storage_err)?;
                    if parent.and_then(|p| p.l1_origin) != Some(origin) {
                        break;
                    }
                    first -= 1;
                }
                block.number() - first
            }
        };
        let origin = block
            .l1_origin
            .map_or((B256::ZERO, 0), |o| (o.hash, o.number));
        Ok(BlockRef {
            hash: block.hash,
            number: block.number(),
            parent_hash: block.header.parent_hash,
            timestamp: block.header.timestamp,
            l1origin: Id {
                hash: origin.0,
                number: origin.1,
            },
            sequence_number: sequence,
        })
    }
}
