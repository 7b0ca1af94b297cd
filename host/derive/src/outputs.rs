//! The outputs proposed on L1, checked against the derived chain: every output root the
//! oracle holds must be the derived chain's output of its block, and the attestation posted
//! beside it must be what the same prover plugin (found by the code hash posted with it)
//! gives for the batch that ends at that block.

use std::collections::HashMap;

use alloy_primitives::Address;
use ordo_primitives::BatchFrame;

use crate::{DeriveError, Deriver};

/// Where the outputs are.
#[derive(Debug, Clone)]
pub struct OutputCheck {
    /// L1 JSON-RPC URL.
    pub l1_rpc: String,
    /// The output oracle.
    pub oracle: Address,
    /// The first L1 block to read the oracle's logs from (its deployment, or earlier).
    pub from_block: u64,
}

/// Reads every output the oracle holds (before the batches are read: an output is proposed
/// only after its batch is confirmed, so the batches read afterwards cover it).
pub(crate) async fn read(check: &OutputCheck) -> Result<Vec<ordo_l1::PostedOutput>, DeriveError> {
    ordo_l1::posted_outputs(&check.l1_rpc, check.oracle, check.from_block)
        .await
        .map_err(|e| DeriveError::Malformed(format!("reading the output oracle on L1: {e}")))
}

/// Checks `outputs` against the derived chain; `frames` are the applied batches' frames.
pub(crate) fn check(
    deriver: &Deriver,
    outputs: &[ordo_l1::PostedOutput],
    frames: &[&[u8]],
) -> Result<(), DeriveError> {
    let mut by_last_block = HashMap::new();
    for bytes in frames {
        let frame = BatchFrame::decode(bytes).map_err(DeriveError::Frame)?;
        by_last_block.insert(frame.header.last_block, frame);
    }
    let head = deriver.head().number();
    for output in outputs {
        let (index, block) = (output.index, output.l2_block);
        let derived = deriver
            .output(block)?
            .ok_or(DeriveError::OutputBeyondChain { index, block, head })?;
        if derived.root != output.root {
            return Err(DeriveError::OutputMismatch {
                index,
                block,
                posted: output.root,
                derived: derived.root,
            });
        }
        let bad = |why: String| DeriveError::BadAttestation { index, block, why };
        let Some((prover_hash, attestation)) = &output.attestation else {
            continue;
        };
        if prover_hash.is_zero() {
            if !attestation.is_empty() {
                return Err(bad("an attestation with no prover named".into()));
            }
            continue;
        }
        let frame = by_last_block
            .get(&block)
            .ok_or_else(|| bad("no posted batch ends at this block".into()))?;
        let prover = deriver.codecs().prover(prover_hash).ok_or_else(|| {
            bad(format!(
                "the prover plugin with code hash {prover_hash} is not available (add it with \
                 --plugin-dir)"
            ))
        })?;
        let again = prover
            .on_batch(&frame.header, &frame.data)
            .map_err(|e| bad(format!("the prover plugin failed: {e}")))?;
        if again != attestation[..] {
            return Err(bad(format!(
                "the attestation on L1 is not what prover {prover_hash} gives for batch {}",
                frame.header.index
            )));
        }
    }
    Ok(())
}
