//! The batcher's view of the plugin host: the active compression and prover plugins as
//! [`ordo_batcher::BatchCodec`] / [`ordo_batcher::BatchProver`], asked once per batch.

use std::sync::Arc;

use alloy_primitives::B256;
use ordo_batcher::{BatchCodec, BatchHeader, BatchPlugins, BatchProver};
use ordo_plugins::{Compressor, PluginManager, Prover};

/// [`BatchPlugins`] over the plugin manager's compression and prover slots.
pub struct ManagerBatchPlugins(pub Arc<PluginManager>);

struct Codec(Compressor);

impl BatchCodec for Codec {
    fn codec_id(&self) -> u32 {
        self.0.codec_id()
    }
    fn code_hash(&self) -> B256 {
        self.0.code_hash()
    }
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        self.0.compress(data).map_err(|e| e.to_string())
    }
    fn decompress(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        self.0.decompress(data).map_err(|e| e.to_string())
    }
}

struct Hook(Prover);

impl BatchProver for Hook {
    fn code_hash(&self) -> B256 {
        self.0.code_hash()
    }
    fn on_batch(&self, h: &BatchHeader, payload: &[u8]) -> Result<Vec<u8>, String> {
        let header = ordo_plugins::BatchHeader {
            index: h.index,
            first_block: h.first_block,
            last_block: h.last_block,
            last_block_hash: h.last_block_hash,
            state_root: h.state_root,
            codec_id: h.codec_id,
            codec_hash: h.codec_hash,
        };
        self.0.on_batch(&header, payload).map_err(|e| e.to_string())
    }
}

impl BatchPlugins for ManagerBatchPlugins {
    fn codec(&self) -> Option<Arc<dyn BatchCodec>> {
        self.0
            .compressor()
            .map(|c| Arc::new(Codec(c)) as Arc<dyn BatchCodec>)
    }
    fn prover(&self) -> Option<Arc<dyn BatchProver>> {
        self.0
            .prover()
            .map(|p| Arc::new(Hook(p)) as Arc<dyn BatchProver>)
    }
}

/// The L1 poster's queue over the batcher's stored batches: the oldest unconfirmed batch
/// first, status changes written through (fsynced) before the poster goes on, and a failed
/// write returned to the poster, which then does not act on it.
pub struct BatcherQueue(pub Arc<ordo_batcher::Batcher>);

impl BatcherQueue {
    /// Writes a batch's new L1 status (fsynced before it returns `Ok`).
    fn record(
        &self,
        index: u64,
        status: ordo_batcher::BatchStatus,
    ) -> Result<(), ordo_l1::RecordError> {
        self.0
            .set_status(index, status)
            .map_err(ordo_l1::RecordError::new)
    }
}

impl ordo_l1::BatchQueue for BatcherQueue {
    fn unconfirmed(&self, limit: usize) -> Vec<ordo_l1::QueuedBatch> {
        let mut out = Vec::new();
        for summary in self.0.unconfirmed(limit) {
            let record = match self.0.batch(summary.index) {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(target: "ordo::l1", index = summary.index, %e, "cannot read batch");
                    break;
                }
            };
            let submission = match record.status {
                ordo_batcher::BatchStatus::Submitted {
                    tx_hash,
                    nonce,
                    max_fee_per_gas,
                    max_priority_fee_per_gas,
                    submitted_at_ms,
                    max_fee_per_blob_gas,
                    replaced,
                } => Some(ordo_l1::Submission {
                    tx_hash,
                    nonce,
                    max_fee_per_gas,
                    max_priority_fee_per_gas,
                    submitted_at_ms,
                    max_fee_per_blob_gas,
                    replaced,
                }),
                _ => None,
            };
            out.push(ordo_l1::QueuedBatch {
                index: summary.index,
                bytes: record.frame.encode().into(),
                submission,
            });
        }
        out
    }

    fn unfinalized(&self) -> Vec<ordo_l1::ConfirmedBatch> {
        self.0
            .unfinalized()
            .into_iter()
            .filter_map(|summary| match summary.status {
                ordo_batcher::BatchStatus::Confirmed {
                    tx_hash,
                    l1_block,
                    l1_block_hash,
                    blobs,
                    finalized,
                    nonce,
                    max_fee_per_gas,
                    max_priority_fee_per_gas,
                    max_fee_per_blob_gas,
                    replaced,
                } => Some(ordo_l1::ConfirmedBatch {
                    index: summary.index,
                    confirmation: ordo_l1::Confirmation {
                        tx_hash,
                        l1_block,
                        l1_block_hash,
                        blobs,
                        finalized,
                        submission: ordo_l1::Submission {
                            tx_hash,
                            nonce,
                            max_fee_per_gas,
                            max_priority_fee_per_gas,
                            // Not kept: the poster restarts the clock when it sends it again.
                            submitted_at_ms: 0,
                            max_fee_per_blob_gas,
                            replaced,
                        },
                    },
                }),
                _ => None,
            })
            .collect()
    }

    fn submitted(&self, index: u64, s: ordo_l1::Submission) -> Result<(), ordo_l1::RecordError> {
        let status = ordo_batcher::BatchStatus::Submitted {
            tx_hash: s.tx_hash,
            nonce: s.nonce,
            max_fee_per_gas: s.max_fee_per_gas,
            max_priority_fee_per_gas: s.max_priority_fee_per_gas,
            submitted_at_ms: s.submitted_at_ms,
            max_fee_per_blob_gas: s.max_fee_per_blob_gas,
            replaced: s.replaced,
        };
        self.record(index, status)
    }

    fn confirmed(&self, index: u64, c: ordo_l1::Confirmation) -> Result<(), ordo_l1::RecordError> {
        let s = c.submission;
        let status = ordo_batcher::BatchStatus::Confirmed {
            tx_hash: c.tx_hash,
            l1_block: c.l1_block,
            l1_block_hash: c.l1_block_hash,
            blobs: c.blobs,
            finalized: c.finalized,
            nonce: s.nonce,
            max_fee_per_gas: s.max_fee_per_gas,
            max_priority_fee_per_gas: s.max_priority_fee_per_gas,
            max_fee_per_blob_gas: s.max_fee_per_blob_gas,
            replaced: s.replaced,
        };
        self.record(index, status)
    }
}
