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
