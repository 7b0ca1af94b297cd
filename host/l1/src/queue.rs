//! The batcher's side of the poster: [`BatchQueue`], the durable batch records the poster
//! reads and updates, and the records it exchanges.

use alloy::primitives::{B256, Bytes};

/// The batcher's side: durable batch records, read and updated by the poster. Every method
/// may block on storage (reads, fsyncs): the poster calls them off the async runtime.
pub trait BatchQueue: Send + Sync + 'static {
    /// Up to `limit` of the oldest batches not yet confirmed on L1, in index order, each with
    /// its posted bytes and what the poster recorded about it last time (None: never
    /// submitted).
    fn unconfirmed(&self, limit: usize) -> Vec<QueuedBatch>;
    /// Every batch confirmed on L1 whose block L1 has not finalized yet, in index order: the
    /// poster watches them for reorgs deeper than the confirmations.
    fn unfinalized(&self) -> Vec<ConfirmedBatch>;
    /// The poster is about to broadcast `s` for batch `index` (or, after a reorg dropped a
    /// confirmed batch, to send it again): durable before returning `Ok`. On `Err` nothing
    /// is broadcast.
    fn submitted(&self, index: u64, s: Submission) -> Result<(), RecordError>;
    /// Batch `index` is on L1 with enough confirmations, or (`c.finalized`) in a block L1 has
    /// finalized; durable before returning `Ok`.
    fn confirmed(&self, index: u64, c: Confirmation) -> Result<(), RecordError>;
}

/// The batcher could not durably record the poster's progress (storage is failing). The
/// poster does not act on what it could not record; it retries on a later tick.
#[derive(Debug, thiserror::Error)]
#[error("recording L1 progress: {0}")]
pub struct RecordError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl RecordError {
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Box::new(e))
    }
}

/// A batch waiting for L1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedBatch {
    pub index: u64,
    /// The frame to post.
    pub bytes: Bytes,
    /// The last submission recorded for it (None: never submitted).
    pub submission: Option<Submission>,
}

/// A confirmed batch the poster still watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfirmedBatch {
    pub index: u64,
    pub confirmation: Confirmation,
}

/// One signed inbox transaction, recorded before it is broadcast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub tx_hash: B256,
    pub nonce: u64,
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
    /// Unix time in milliseconds; the resubmission clock starts here.
    pub submitted_at_ms: u64,
    /// Some: a blob transaction with this blob fee cap; None: calldata. A batch keeps its
    /// kind across replacements (one key never has both kinds pending).
    pub max_fee_per_blob_gas: Option<u128>,
    /// Earlier transactions for the same batch that were replaced (fee bumps, re-posts) but
    /// may still be the one that gets mined; kept durable so a restart still recognises them.
    pub replaced: Vec<B256>,
}

/// Where a batch landed on L1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmation {
    pub tx_hash: B256,
    pub l1_block: u64,
    pub l1_block_hash: B256,
    /// Carried in blobs (else calldata).
    pub blobs: bool,
    /// L1's `finalized` block has reached `l1_block`: no reorg can undo it.
    pub finalized: bool,
    /// The submission that was mined (`tx_hash` is its hash): sent again as it was if a reorg
    /// drops the block before it is final. Its `submitted_at_ms` need not be kept.
    pub submission: Submission,
}

/// A batch submitted and not yet confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingBatch {
    pub index: u64,
    pub tx_hash: B256,
    pub nonce: u64,
    /// Block of the receipt, once mined (waiting for confirmations).
    pub mined_in: Option<u64>,
    /// Posted as blobs (else calldata).
    pub blobs: bool,
}
