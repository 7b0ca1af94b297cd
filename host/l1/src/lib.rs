//! ordo-l1: the L1 batch poster. Posts sealed batches in index order from the poster key to the
//! batch inbox, as calldata of EIP-1559 transactions or as blobs of EIP-4844 transactions
//! (with the network wrapper: blobs, KZG commitments and proofs), up to `max_in_flight`
//! batches at a time on consecutive nonces, and watches confirmed batches until L1 finalizes
//! them.
//!
//! ```text
//! BatchQueue::unfinalized() ──▶ confirmed batches whose L1 block is not final yet
//!   L1 `finalized` block F, then for each (F and older first, then the newest above F):
//!   canonical block at its height still the recorded one?
//!       yes, height <= F ──▶ BatchQueue::confirmed (finalized)
//!       no (a reorg deeper than the confirmations) ──▶ BatchQueue::submitted (the mined tx,
//!           clock restarted) ──▶ back among the unconfirmed below, in the same tick
//! BatchQueue::unconfirmed(max_in_flight) ──▶ [(index, bytes, last Submission?)], oldest first
//!   for each, in order:
//!   recorded ──▶ receipt of it (or of a tx it replaced) in a canonical block?
//!       yes ──▶ head - block + 1 >= confirmations ──▶ BatchQueue::confirmed
//!       no  ──▶ nonce taken by another tx (none of ours mined) ──▶ re-post, fresh nonce
//!           ──▶ node lost it (reorg, restart, eviction) ──▶ re-post, same nonce
//!           ──▶ pending past resubmit_after ──▶ replace, same nonce, fees bumped
//!                                               (≥10%; ≥100% on every fee of a blob tx)
//!   none recorded ──▶ calldata or blobs (DaMode; auto: the cheaper at current L1 fees), but
//!                     never a kind other than the unmined txs already out
//!                 ──▶ nonce (L1 pending nonce, cached until an error) ──▶ fees, capped
//!                 ──▶ sign ──▶ BatchQueue::submitted (write-ahead, durable; on an error
//!                              nothing is broadcast) ──▶ eth_sendRawTransaction
//! any RPC or record error ──▶ exponential backoff (capped), nonce cache dropped, retried next
//!                             tick
//! ```
//!
//! Every [`BatchQueue`] call (storage reads and fsyncs) and every KZG computation (blob
//! sidecars here, commitments in [`BeaconClient`]) runs on tokio's blocking pool, never on
//! the runtime's workers.
//!
//! Seams: [`BatchQueue`] is what the poster needs from the batcher (which owns the durable
//! batch records); [`L1Poster::status`] / [`StatusHandle`] is what it reports. The queue is the
//! only durable state: a restarted poster re-checks each recorded submission (and the ones it
//! replaced) by hash and nonce instead of posting the batch again. With more than one batch in
//! flight, a batch whose nonce another sender took is re-posted after the later ones, so L1
//! may carry batches out of index order; verifiers put them back in order.
//! Blob data is packed with alloy's `SimpleCoder` (31 bytes per field element behind a length
//! word); [`decode_blobs`] is its inverse, and [`BeaconClient`] fetches a block's blobs from a
//! beacon API for verifiers. Finality is what L1 answers for the `finalized` block tag (anvil:
//! the head minus two epochs of `--slots-in-an-epoch`); an L1 without it finalizes nothing
//! (warned once), and posting goes on. Tracing target: `ordo::l1`.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod beacon;
mod poster;
mod redact;
#[cfg(feature = "test-utils")]
#[doc(hidden)]
pub mod testing;

use std::{sync::Arc, time::Duration};

pub use alloy::primitives::{Address, B256, Bytes};
pub use alloy::signers::local::PrivateKeySigner;
pub use beacon::{BeaconClient, BlobBlock};
use parking_lot::Mutex;
pub use poster::{L1Poster, decode_blobs};
pub use redact::{redact_url, scrub_url};

/// Where batch data goes on L1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DaMode {
    /// Calldata of EIP-1559 transactions (works on every L1).
    #[default]
    Calldata,
    /// Blobs of EIP-4844 transactions (the L1 must serve them on its beacon API for verifiers).
    Blobs,
    /// Per batch, whichever of the two costs less at the current L1 fees.
    Auto,
}

impl std::str::FromStr for DaMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "calldata" => Ok(Self::Calldata),
            "blobs" | "blob" => Ok(Self::Blobs),
            "auto" => Ok(Self::Auto),
            other => Err(format!(
                "unknown data availability mode {other:?} (expected calldata, blobs or auto)"
            )),
        }
    }
}

impl std::fmt::Display for DaMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Calldata => "calldata",
            Self::Blobs => "blobs",
            Self::Auto => "auto",
        })
    }
}

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
    /// Never offer more than this per blob gas (wei), even when bumping.
    pub max_fee_per_blob_gas_cap: u128,
    /// How often the poster looks at L1 while all is well.
    pub poll_interval: Duration,
    /// Batches submitted and not yet confirmed at any time (1: each batch waits for the
    /// previous one's confirmations, like op-batcher's default).
    pub max_in_flight: usize,
    /// Calldata, blobs, or the cheaper of the two per batch.
    pub da: DaMode,
}

impl L1Config {
    /// Defaults for everything but where and who: 3 confirmations (a few L1 reorgs deep is
    /// the common case), replace after 3 minutes, 13% bumps (100% for blob txs, as the blob
    /// pools of geth and reth demand), 500 gwei caps, 2 s polling, calldata.
    pub fn new(rpc_url: impl Into<String>, signer: PrivateKeySigner, inbox: Address) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            signer,
            inbox,
            confirmations: 3,
            resubmit_after: Duration::from_secs(180),
            fee_bump_percent: 13,
            max_fee_per_gas_cap: 500_000_000_000,
            max_fee_per_blob_gas_cap: 500_000_000_000,
            poll_interval: Duration::from_secs(2),
            max_in_flight: 1,
            da: DaMode::Calldata,
        }
    }
}

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
    pub fn get(&self) -> PosterStatus {
        self.0.lock().clone()
    }

    fn update(&self, f: impl FnOnce(&mut PosterStatus)) {
        f(&mut self.0.lock());
    }
}
