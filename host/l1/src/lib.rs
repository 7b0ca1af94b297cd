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
//!
//! The deposit portal (portal.rs): [`deploy_portal`] puts `contracts/OrdoPortal.sol` on L1;
//! [`DepositReader`] reads the deposits it logged in one L1 block, by the block's hash.
//!
//! Withdrawals: [`deploy_oracle`] puts the output oracle (`contracts/L2OutputOracle.sol`,
//! OP's `L2OutputOracle` ABI) on L1, and the portal reads it; the [`Proposer`]
//! (proposer.rs) posts each confirmed batch's output root to it with the prover's
//! attestation, resuming after whatever the oracle already holds; [`WithdrawalReader`]
//! (withdrawals.rs) finds a transaction's withdrawals, builds their proofs from the L2 node
//! and reads where they stand on L1 (`ordo withdraw`).
//!
//! [`OriginFeed`] (origins.rs) follows L1 up to its confirmed head ahead of the builder:
//! each block's header and deposits, in order, stopping on a reorg below the confirmations.
//!
//! Files: poster.rs (the loop above), portal.rs, oracle.rs, proposer.rs, origins.rs, queue.rs ([`BatchQueue`] and the records it trades),
//! config.rs ([`L1Config`], [`DaMode`]), status.rs, beacon.rs (the blob reader), redact.rs
//! (secrets out of URLs in logs and errors), testing.rs (anvil, behind `test-utils`).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod beacon;
mod config;
mod oracle;
mod origins;
mod portal;
mod poster;
mod proposer;
mod queue;
mod redact;
mod status;
#[cfg(feature = "test-utils")]
#[doc(hidden)]
pub mod testing;
mod withdrawals;

pub use alloy::primitives::{Address, B256, Bytes};
pub use alloy::signers::local::PrivateKeySigner;
pub use beacon::{BeaconClient, BlobBlock};
pub use config::{DaMode, L1Config};
pub use oracle::{
    L2OutputOracle, OracleParams, PostedOutput, deploy_oracle, ensure_funded, posted_outputs,
};
pub use origins::{FedOrigin, OriginFeed, OriginFeedConfig};
pub use portal::{
    DepositReader, L1BlockRef, OrdoPortal, PortalError, deploy_portal, has_code, l1_chain_id,
    portal_creation_code,
};
pub use poster::{L1Poster, decode_blobs};
pub use proposer::{OutputQueue, PendingOutput, Proposer, ProposerConfig};
pub use queue::{
    BatchQueue, Confirmation, ConfirmedBatch, PendingBatch, QueuedBatch, RecordError, Submission,
};
pub use redact::{redact_url, scrub_url};
pub use status::{PosterStatus, StatusHandle};
pub use withdrawals::{
    L2ToL1MessagePasser, WithdrawalProof, WithdrawalReader, WithdrawalStatus, withdrawal_hash,
    withdrawal_slot, withdrawals_in,
};
