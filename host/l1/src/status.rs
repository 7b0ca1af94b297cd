//! What the poster reports: [`PosterStatus`] behind a cloneable [`StatusHandle`].

use std::sync::Arc;

use parking_lot::Mutex;

use crate::queue::PendingBatch;

/// What the poster has been doing, for health endpoints and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PosterStatus {
    /// The last error (cleared by the next tick that succeeds).
    pub last_error: Option<String>,
    /// Batches submitted and not yet confirmed, oldest first.
    pub in_flight: Vec<PendingBatch>,
    /// Latest L1 block number seen.
    pub l1_head: Option<u64>,
    /// Batches posted for the first time.
    pub posted: u64,
    /// Of those, posted as blobs.
    pub posted_blobs: u64,
    /// Replacements with bumped fees (same nonce).
    pub bumped: u64,
    /// Re-posts after the tx was lost (reorg, node restart) or its nonce taken by another tx.
    pub reposted: u64,
    pub confirmed: u64,
    /// Confirmed batches whose L1 block has since been finalized.
    pub finalized: u64,
    /// Confirmed batches whose L1 block a reorg removed (sent back to be mined again).
    pub reorged: u64,
    /// Confirmed batches watched until their L1 block is final.
    pub unfinalized: usize,
    /// Latest finalized L1 block seen (the `finalized` tag).
    pub l1_finalized: Option<u64>,
    /// Completed poll rounds (successful or not); lets observers wait for "one more look".
    pub ticks: u64,
}

/// A cloneable view of a running poster's [`PosterStatus`].
#[derive(Clone, Debug, Default)]
pub struct StatusHandle(Arc<Mutex<PosterStatus>>);

impl StatusHandle {
    /// A copy of the poster's status now.
    pub fn get(&self) -> PosterStatus {
        self.0.lock().clone()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut PosterStatus)) {
        f(&mut self.0.lock());
    }
}
