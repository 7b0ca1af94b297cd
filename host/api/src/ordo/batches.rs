//! `ordo_getBatch` and `ordo_txStatus`: where blocks and transactions are on their way to L1.

use alloy_primitives::{B256, Bytes, U64};
use ordo_batcher::{BatchRecord, BatchStatus};
use ordo_rpc::{BackendError, BackendResult, Params, json};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::{NodeApi, errors::storage_err};

/// A batch as `ordo_getBatch` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchView {
    index: U64,
    first_block: U64,
    last_block: U64,
    last_block_hash: B256,
    state_root: B256,
    /// The last block's output root (what the proposer posts to L1).
    output_root: B256,
    codec_id: u32,
    /// Code hash of the compression plugin; null when stored uncompressed.
    codec_hash: Option<B256>,
    /// Uncompressed payload size.
    raw_size: u64,
    /// Size of the frame posted to L1.
    posted_size: u64,
    tx_count: u64,
    attestation: Bytes,
    prover_hash: Option<B256>,
    /// Milliseconds since the epoch.
    built_at: u64,
    /// `built` (not sent: no L1 configured, or waiting), `submitted` or `confirmed`.
    status: &'static str,
    l1_tx_hash: Option<B256>,
    l1_nonce: Option<U64>,
    l1_block: Option<U64>,
    l1_block_hash: Option<B256>,
    /// Confirmed and L1 has finalized its block (until then a deep L1 reorg can send a
    /// confirmed batch back to `submitted`).
    l1_finalized: bool,
    /// How the batch went to L1: `calldata` or `blobs` (absent while only built).
    da: Option<&'static str>,
    /// The exact bytes posted (or to be posted) to the batch inbox.
    frame: Bytes,
}

/// `ordo_txStatus`'s answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TxStatusView {
    /// `pending`, `dropped`, `sequenced`, `batched`, `submitted` or `confirmed`.
    status: &'static str,
    /// Why a `dropped` transaction left the pool (geth's wording where geth has one).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    l2_block: Option<U64>,
    batch_index: Option<U64>,
    l1_tx_hash: Option<B256>,
    l1_block: Option<U64>,
    /// Its block is at or below the `safe` head: its batch and every one before it are
    /// confirmed on L1.
    safe: bool,
    /// Its block is at or below the `finalized` head: those batches are in L1 blocks that
    /// L1 has finalized.
    l1_finalized: bool,
}

/// Whether the batch is in an L1 block that L1 has finalized.
fn finalized(status: &BatchStatus) -> bool {
    matches!(
        status,
        BatchStatus::Confirmed {
            finalized: true,
            ..
        }
    )
}

fn status_name(status: &BatchStatus) -> &'static str {
    match status {
        BatchStatus::Built => "batched",
        BatchStatus::Submitted { .. } => "submitted",
        BatchStatus::Confirmed { .. } => "confirmed",
    }
}

fn l1_fields(status: &BatchStatus) -> (Option<B256>, Option<u64>, Option<u64>, Option<B256>) {
    match status {
        BatchStatus::Built => (None, None, None, None),
        BatchStatus::Submitted { tx_hash, nonce, .. } => (Some(*tx_hash), Some(*nonce), None, None),
        BatchStatus::Confirmed {
            tx_hash,
            l1_block,
            l1_block_hash,
            ..
        } => (Some(*tx_hash), None, Some(*l1_block), Some(*l1_block_hash)),
    }
}

impl BatchView {
    fn from_record(r: &BatchRecord) -> Self {
        let h = r.frame.header;
        let (l1_tx_hash, l1_nonce, l1_block, l1_block_hash) = l1_fields(&r.status);
        let frame = r.frame.encode();
        Self {
            index: U64::from(h.index),
            first_block: U64::from(h.first_block),
            last_block: U64::from(h.last_block),
            last_block_hash: h.last_block_hash,
            state_root: h.state_root,
            output_root: h.output_root,
            codec_id: h.codec_id,
            codec_hash: (!h.codec_hash.is_zero()).then_some(h.codec_hash),
            raw_size: r.raw_size,
            posted_size: frame.len() as u64,
            tx_count: r.tx_count,
            attestation: r.attestation.clone(),
            prover_hash: (!r.prover_hash.is_zero()).then_some(r.prover_hash),
            built_at: r.built_at_ms,
            status: match r.status {
                BatchStatus::Built => "built",
                BatchStatus::Submitted { .. } => "submitted",
                BatchStatus::Confirmed { .. } => "confirmed",
            },
            l1_tx_hash,
            l1_nonce: l1_nonce.map(U64::from),
            l1_block: l1_block.map(U64::from),
            l1_block_hash,
            l1_finalized: finalized(&r.status),
            da: match r.status {
                BatchStatus::Built => None,
                BatchStatus::Submitted {
                    max_fee_per_blob_gas,
                    ..
                } => Some(if max_fee_per_blob_gas.is_some() {
                    "blobs"
                } else {
                    "calldata"
                }),
                BatchStatus::Confirmed { blobs, .. } => {
                    Some(if blobs { "blobs" } else { "calldata" })
                }
            },
            frame: frame.into(),
        }
    }
}

impl NodeApi {
    pub(crate) fn get_batch(&self, p: &Params<'_>) -> BackendResult<Box<RawValue>> {
        let index: U64 = p.only()?;
        let Some(batcher) = self.batcher.get() else {
            return json(&());
        };
        let record = batcher.batch(index.to()).map_err(|e| {
            tracing::error!(target: "ordo::rpc", %e, "batch read failed");
            BackendError::internal("internal storage error")
        })?;
        json(&record.as_ref().map(BatchView::from_record))
    }

    pub(crate) fn tx_status(&self, p: &Params<'_>) -> BackendResult<Box<RawValue>> {
        let hash: B256 = p.only()?;
        let view = match self.storage.tx_location(&hash).map_err(storage_err)? {
            Some(loc) => {
                let batch = self.batcher.get().and_then(|b| b.batch_of_block(loc.block));
                let (safe, finalized) = self.settled_heads();
                // Genesis holds no transaction: a settled head of 0 vouches for none.
                let settled = |head: u64| head > 0 && loc.block <= head;
                let (l1_tx_hash, _, l1_block, _) = batch
                    .as_ref()
                    .map_or((None, None, None, None), |b| l1_fields(&b.status));
                Some(TxStatusView {
                    status: batch
                        .as_ref()
                        .map_or("sequenced", |b| status_name(&b.status)),
                    reason: None,
                    l2_block: Some(U64::from(loc.block)),
                    batch_index: batch.as_ref().map(|b| U64::from(b.index)),
                    l1_tx_hash,
                    l1_block: l1_block.map(U64::from),
                    safe: settled(safe),
                    l1_finalized: settled(finalized),
                })
            }
            // In the pool, or in the sealed block being stored (it left the pool then).
            None if self.pool.contains(&hash) || self.in_flight(&hash).is_some() => {
                Some(TxStatusView {
                    status: "pending",
                    reason: None,
                    l2_block: None,
                    batch_index: None,
                    l1_tx_hash: None,
                    l1_block: None,
                    safe: false,
                    l1_finalized: false,
                })
            }
            None => self.pool.dropped_reason(&hash).map(|why| TxStatusView {
                status: "dropped",
                reason: Some(why.to_string()),
                l2_block: None,
                batch_index: None,
                l1_tx_hash: None,
                l1_block: None,
                safe: false,
                l1_finalized: false,
            }),
        };
        json(&view)
    }
}
