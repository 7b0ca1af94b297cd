//! ordo-l1: the L1 batch poster. Posts sealed batches, strictly in index order and one at a
//! time, as calldata of EIP-1559 transactions from the poster key to the batch inbox.
//!
//! ```text
//! BatchQueue::next_unconfirmed ──▶ (index, bytes, last Submission?)
//!   none recorded ──▶ nonce (L1 pending nonce, cached until an error) ──▶ gas estimate, fees
//!                     ──▶ sign ──▶ BatchQueue::submitted (write-ahead) ──▶ eth_sendRawTransaction
//!   recorded ──▶ receipt in a canonical block?
//!       yes ──▶ head - block + 1 >= confirmations ──▶ BatchQueue::confirmed ──▶ next batch
//!       no  ──▶ nonce taken by another tx (and none of ours mined) ──▶ re-post, fresh nonce
//!           ──▶ node lost it (reorg, restart, eviction) ──▶ re-post, same nonce
//!           ──▶ pending past resubmit_after ──▶ replace, same nonce, fees bumped
//! any RPC error ──▶ exponential backoff (capped), nonce cache dropped, retried next tick
//! ```
//!
//! Seams: [`BatchQueue`] is what the poster needs from the batcher (which owns the durable
//! batch records); [`L1Poster::status`] / [`StatusHandle`] is what it reports. The queue is the
//! only durable state: a restarted poster re-checks the recorded submission by hash and nonce
//! instead of posting the batch again. Tracing target: `ordo::l1`.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod poster;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing;

use std::{sync::Arc, time::Duration};

pub use alloy::primitives::{Address, B256, Bytes};
pub use alloy::signers::local::PrivateKeySigner;
use parking_lot::Mutex;
pub use poster::L1Poster;

/// How the poster reaches L1 and how patient it is.
#[derive(Clone, Debug)]
pub struct L1Config {
    /// HTTP JSON-RPC endpoint of an L1 node.
    pub rpc_url: String,
    /// The batch poster key; pays for the inbox transactions.
    pub signer: PrivateKeySigner,
    /// Where batches go (the verifier reads this address's transactions).
    pub inbox: Address,
    /// Blocks (including the inclusion block) before a batch counts as confirmed; 0 acts as 1.
    pub confirmations: u64,
    /// A submission not mined after this long is replaced with bumped fees.
    pub resubmit_after: Duration,
    /// Fee increase per replacement, in percent; raised to 10 (the geth/anvil replacement rule).
    pub fee_bump_percent: u64,
    /// Never offer more than this per gas (wei), even when bumping.
    pub max_fee_per_gas_cap: u128,
    /// How often the poster looks at L1 while all is well.
    pub poll_interval: Duration,
}

impl L1Config {
    /// Defaults for everything but where and who: 3 confirmations (a few L1 reorgs deep is
    /// the common case), replace after 3 minutes, 12.5% bumps, 500 gwei cap, 2 s polling.
    pub fn new(rpc_url: impl Into<String>, signer: PrivateKeySigner, inbox: Address) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            signer,
            inbox,
            confirmations: 3,
            resubmit_after: Duration::from_secs(180),
            fee_bump_percent: 13,
            max_fee_per_gas_cap: 500_000_000_000,
            poll_interval: Duration::from_secs(2),
        }
    }
}

/// The batcher's side: durable batch records, read and updated by the poster.
pub trait BatchQueue: Send + Sync + 'static {
    /// The oldest batch not yet confirmed on L1, in index order, with its posted bytes and what
    /// the poster recorded about it last time (None: never submitted).
    fn next_unconfirmed(&self) -> Option<(u64, Bytes, Option<Submission>)>;
    /// The poster is about to broadcast `s` for batch `index`; durable before returning.
    fn submitted(&self, index: u64, s: Submission);
    /// Batch `index` is on L1 with enough confirmations; durable before returning.
    fn confirmed(&self, index: u64, c: Confirmation);
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
}

/// Where a batch landed on L1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmation {
    pub tx_hash: B256,
    pub l1_block: u64,
    pub l1_block_hash: B256,
}

/// The batch currently being posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingBatch {
    pub index: u64,
    pub tx_hash: B256,
    pub nonce: u64,
    /// Block of the receipt, once mined (waiting for confirmations).
    pub mined_in: Option<u64>,
}

/// What the poster has been doing, for health endpoints and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PosterStatus {
    /// The last error (cleared by the next tick that succeeds).
    pub last_error: Option<String>,
    pub pending: Option<PendingBatch>,
    /// Latest L1 block number seen.
    pub l1_head: Option<u64>,
    /// Batches posted for the first time.
    pub posted: u64,
    /// Replacements with bumped fees (same nonce).
    pub bumped: u64,
    /// Re-posts after the tx was lost (reorg, node restart) or its nonce taken by another tx.
    pub reposted: u64,
    pub confirmed: u64,
    /// Completed poll rounds (successful or not); lets observers wait for "one more look".
    pub ticks: u64,
}

/// A cloneable view of a running poster's [`PosterStatus`].
#[derive(Clone, Debug, Default)]
pub struct StatusHandle(Arc<Mutex<PosterStatus>>);

impl StatusHandle {
    pub fn get(&self) -> PosterStatus {
        self.0.lock().clone()
    }

    fn update(&self, f: impl FnOnce(&mut PosterStatus)) {
        f(&mut self.0.lock());
    }
}
