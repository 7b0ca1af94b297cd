//! Prover hooks: an attestation for every batch.

use alloc::vec::Vec;

use alloy_primitives::B256;

use crate::Error;

/// What the host tells a prover hook about a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Batch number.
    pub index: u64,
    /// First block in the batch.
    pub first_block: u64,
    /// Last block in the batch.
    pub last_block: u64,
    /// Hash of the last block in the batch.
    pub last_block_hash: B256,
    /// State root after the last block.
    pub state_root: B256,
    /// The last block's output root (OP's version 0), what L1 proves withdrawals against.
    pub output_root: B256,
    /// Codec that produced the payload.
    pub codec_id: u32,
    /// Code hash of the compression plugin that produced the payload.
    pub codec_hash: B256,
}

/// A prover hook. Export it with [`export!`](crate::export) and
/// ordo-sdk's `prover` feature; the version it reports is its crate's `version`.
pub trait ProverHook: Sized + 'static {
    /// Short name, `[a-z0-9-]`, shown in batch provenance, logs and metrics.
    const NAME: &'static str;

    /// Builds the hook from the operator's config string (empty when none was given).
    fn new(config: &str) -> Result<Self, Error>;

    /// Returns the attestation stored with the batch. `payload` is the compressed batch as it
    /// will be posted.
    fn on_batch(&self, header: &BatchHeader, payload: &[u8]) -> Result<Vec<u8>, Error>;
}

#[cfg(feature = "prover")]
#[doc(hidden)]
pub mod __export {
    use alloc::vec::Vec;

    use super::{BatchHeader, ProverHook};
    use crate::{
        __private::{Export, metadata},
        bindings::prover::{
            Guest,
            exports::ordo::plugin::prover::{BatchHeader as WireBatchHeader, Guest as ProverGuest},
        },
        wire::{PluginError, WireMetadata, WirePluginKind, b256_from_wire},
    };

    impl From<WireBatchHeader> for BatchHeader {
        fn from(h: WireBatchHeader) -> Self {
            Self {
                index: h.index,
                first_block: h.first_block,
                last_block: h.last_block,
                last_block_hash: b256_from_wire(h.last_block_hash),
                state_root: b256_from_wire(h.state_root),
                output_root: b256_from_wire(h.output_root),
                codec_id: h.codec_id,
                codec_hash: b256_from_wire(h.codec_hash),
            }
        }
    }

    impl<E> Guest for E
    where
        E: Export,
        E::Plugin: ProverHook,
    {
        fn metadata() -> WireMetadata {
            metadata(
                <E::Plugin as ProverHook>::NAME,
                E::VERSION,
                WirePluginKind::Prover,
            )
        }
    }

    impl<E> ProverGuest for E
    where
        E: Export,
        E::Plugin: ProverHook,
    {
        fn on_batch(header: WireBatchHeader, payload: Vec<u8>) -> Result<Vec<u8>, PluginError> {
            Ok(E::instance()?.on_batch(&header.into(), &payload)?)
        }
    }
}
