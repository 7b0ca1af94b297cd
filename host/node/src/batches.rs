//! The L1 poster's and the output proposer's view of the batcher: [`BatcherQueue`] hands the
//! poster the stored batches and writes their L1 status back, and hands the proposer the
//! confirmed batches' outputs.

use std::sync::Arc;

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
        // A replica that does not lead posts nothing (its leader does).
        if !self.0.is_active() {
            return out;
        }
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
        if !self.0.is_active() {
            return Vec::new();
        }
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

impl ordo_l1::OutputQueue for BatcherQueue {
    fn next_after(&self, after: u64) -> Option<ordo_l1::PendingOutput> {
        // A replica that does not lead proposes nothing (its leader does).
        if !self.0.is_active() {
            return None;
        }
        let summary = self.0.first_safe_after(after)?;
        let record = match self.0.batch(summary.index) {
            Ok(Some(record)) => record,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(target: "ordo::l1", index = summary.index, %e, "cannot read batch");
                return None;
            }
        };
        let ordo_batcher::BatchStatus::Confirmed {
            l1_block,
            l1_block_hash,
            ..
        } = record.status
        else {
            return None;
        };
        let header = record.frame.header;
        Some(ordo_l1::PendingOutput {
            batch: header.index,
            l2_block: header.last_block,
            output_root: header.output_root,
            prover_hash: record.prover_hash,
            attestation: record.attestation,
            l1_block: (l1_block, l1_block_hash),
        })
    }
}
