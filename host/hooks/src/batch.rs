//! The batch seams: the compression codec and the prover hook the batcher calls once per
//! batch ([`BatchPlugins`] says which are active, so a swap applies from the next batch).

use std::sync::Arc;

use alloy_primitives::B256;
use ordo_primitives::BatchHeader;

/// Why a codec or prover call gave no usable answer (the plugin trapped, ran out of time
/// or fuel, or answered garbage); the batcher then stores the batch uncompressed or
/// unattested. The message names the plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HookError(pub String);

/// A compression codec (the active compression plugin).
pub trait BatchCodec: Send + Sync {
    /// The codec id recorded in the header.
    fn codec_id(&self) -> u32;
    /// The plugin's code hash recorded in the header.
    fn code_hash(&self) -> B256;
    /// Compresses.
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, HookError>;
    /// Decompresses.
    fn decompress(&self, data: &[u8]) -> Result<Vec<u8>, HookError>;
}

/// A prover hook (the active prover plugin).
pub trait BatchProver: Send + Sync {
    /// The plugin's code hash, stored with the attestation.
    fn code_hash(&self) -> B256;
    /// The attestation for a batch.
    fn on_batch(&self, header: &BatchHeader, payload: &[u8]) -> Result<Vec<u8>, HookError>;
}

/// Where the batcher finds the active codec and prover, asked once per batch so a swap
/// applies from the next batch on.
pub trait BatchPlugins: Send + Sync + 'static {
    /// The active compression codec, if any.
    fn codec(&self) -> Option<Arc<dyn BatchCodec>>;
    /// The active prover hook, if any.
    fn prover(&self) -> Option<Arc<dyn BatchProver>>;
}

/// No plugins: batches are stored uncompressed and unattested.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPlugins;

impl BatchPlugins for NoPlugins {
    fn codec(&self) -> Option<Arc<dyn BatchCodec>> {
        None
    }
    fn prover(&self) -> Option<Arc<dyn BatchProver>> {
        None
    }
}
