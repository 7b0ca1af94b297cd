//! The batch seams: the compression codec and the prover hook the batcher calls once per
//! batch ([`BatchPlugins`] says which are active, so a swap applies from the next batch),
//! and the codecs a batch reader decodes posted batches with ([`BatchCodecs`], found by the
//! code hash the batch header records).

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

/// The codecs a batch reader (derivation) may decode with, active or not: whatever codec a
/// batch was compressed with, its header records that codec's code hash and codec id. And
/// the prover hooks it re-runs to check an attestation posted to L1, by the code hash posted
/// with it.
pub trait BatchCodecs: Send + Sync {
    /// The codec whose code hash is `code_hash`; `None` when none is loaded (the reader
    /// cannot decode that batch). The caller checks its [`BatchCodec::codec_id`] against
    /// the header's.
    fn by_code_hash(&self, code_hash: &B256) -> Option<Arc<dyn BatchCodec>>;

    /// The prover hook whose code hash is `code_hash`; `None` when none is loaded (the
    /// reader cannot check that attestation).
    fn prover(&self, code_hash: &B256) -> Option<Arc<dyn BatchProver>> {
        let _ = code_hash;
        None
    }
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
