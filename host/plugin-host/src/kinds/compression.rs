//! Compression plugins: the world's exports, the calls, the round-trip check on every
//! compress, the self-test (which reads the codec id), and the handle the batcher uses
//! ([`Compressor`], also an [`ordo_hooks::BatchCodec`]).

use std::{sync::Arc, time::Instant};

use alloy_primitives::B256;
use wasmtime::component::InstancePre;

use crate::{
    bindings,
    engine::{PluginEngine, StoreData},
    error::{CallFailure, FailureReason, PluginCallError},
    plugin::{Exports, KindContract, LoadedPlugin, export},
    samples::XorShift,
    supervisor::{Supervisor, account},
};

/// The world's exported interface, as named in components built against it.
const EXPORT: &str = "ordo:plugin/compression@0.1.0";

/// What loading checks of a compression plugin.
pub(crate) static CONTRACT: KindContract = KindContract {
    may_import: &["host"],
    exports,
    self_test,
};

fn exports(pre: &InstancePre<StoreData>) -> Result<Exports, String> {
    // The generated indices type-check every export of the world.
    bindings::compression::CompressionPluginIndices::new(pre).map_err(|e| format!("{e:#}"))?;
    let iface = export(pre, None, EXPORT)?;
    Ok(Exports::Compression {
        codec_id: export(pre, Some(&iface), "codec-id")?,
        compress: export(pre, Some(&iface), "compress")?,
        decompress: export(pre, Some(&iface), "decompress")?,
    })
}

fn call_exports(
    plugin: &LoadedPlugin,
) -> Result<
    (
        &wasmtime::component::ComponentExportIndex,
        &wasmtime::component::ComponentExportIndex,
        &wasmtime::component::ComponentExportIndex,
    ),
    CallFailure,
> {
    match &plugin.exports {
        Exports::Compression {
            codec_id,
            compress,
            decompress,
        } => Ok((codec_id, compress, decompress)),
        _ => Err(CallFailure::new(
            FailureReason::Instantiate,
            "not a compression plugin",
        )),
    }
}

fn call_codec_id(engine: &PluginEngine, plugin: &LoadedPlugin) -> Result<u32, CallFailure> {
    let (codec_id, _, _) = call_exports(plugin)?;
    let (mut cs, instance) = plugin.instantiate(engine)?;
    let func = cs.typed::<(), (u32,)>(&instance, codec_id)?;
    let (id,) = func
        .call(&mut cs.store, ())
        .map_err(|e| cs.classify(&e, FailureReason::InvalidAnswer))?;
    Ok(id)
}

/// One `compress` or `decompress` call in a fresh store.
fn call_bytes(
    engine: &PluginEngine,
    plugin: &LoadedPlugin,
    decompress: bool,
    data: &[u8],
) -> Result<Vec<u8>, CallFailure> {
    let (_, c, d) = call_exports(plugin)?;
    let index = if decompress { d } else { c };
    let (mut cs, instance) = plugin.instantiate(engine)?;
    let func = cs.typed::<(&[u8],), _>(&instance, index)?;
    cs.call(&func, (data,))
}

/// Compresses, then decompresses in a separate fresh instance and compares: what gets
/// posted must decode to exactly the batch, whoever decodes it later.
pub(crate) fn compress_checked(
    engine: &PluginEngine,
    plugin: &LoadedPlugin,
    data: &[u8],
) -> Result<Vec<u8>, CallFailure> {
    let compressed = call_bytes(engine, plugin, false, data)?;
    let round = call_bytes(engine, plugin, true, &compressed)
        .map_err(|f| CallFailure::invalid(format!("round trip: decompress failed: {f}")))?;
    if round != data {
        return Err(CallFailure::invalid(format!(
            "round trip: {} bytes in, {} bytes back{}",
            data.len(),
            round.len(),
            if round.len() == data.len() {
                " (different content)"
            } else {
                ""
            }
        )));
    }
    Ok(compressed)
}

pub(crate) fn decompress(
    engine: &PluginEngine,
    plugin: &LoadedPlugin,
    data: &[u8],
) -> Result<Vec<u8>, CallFailure> {
    call_bytes(engine, plugin, true, data)
}

/// Round-trips a few samples (empty, one byte, text-like, random) and reads the codec id.
fn self_test(engine: &PluginEngine, plugin: &mut LoadedPlugin) -> Result<(), String> {
    plugin.codec_id = Some(call_codec_id(engine, plugin).map_err(|f| format!("codec-id: {f}"))?);
    let mut rng = XorShift(0x5eed_c0de_5eed_c0de);
    let text: Vec<u8> = b"ordo batch sample "
        .iter()
        .cycle()
        .take(4096)
        .copied()
        .collect();
    let random: Vec<u8> = (0..16 << 10).map(|_| (rng.next() & 0xff) as u8).collect();
    let samples: [(&str, &[u8]); 4] = [
        ("empty input", &[]),
        ("1 byte", &[0x42]),
        ("4 KiB text", &text),
        ("16 KiB random", &random),
    ];
    for (what, sample) in samples {
        compress_checked(engine, plugin, sample).map_err(|f| format!("{what}: {f}"))?;
    }
    Ok(())
}

/// The active compression plugin, fixed at the time it was taken: a batch compressed with
/// it records its codec id and code hash.
pub struct Compressor {
    pub(crate) supervisor: Arc<dyn Supervisor>,
    pub(crate) plugin: Arc<LoadedPlugin>,
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("plugin", &self.plugin.info)
            .finish()
    }
}

impl Compressor {
    /// The codec id the plugin reported at load (recorded in every batch header).
    pub fn codec_id(&self) -> u32 {
        // Set by the self-test of every compression plugin before it is loaded.
        self.plugin.codec_id.unwrap_or_default()
    }

    /// The plugin's code hash (recorded in every batch header).
    pub fn code_hash(&self) -> B256 {
        self.plugin.info.code_hash
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.plugin.info.name
    }

    /// The plugin's version.
    pub fn version(&self) -> &str {
        &self.plugin.info.version
    }

    /// Compresses `data` and checks that it decompresses back. A failure is counted (and
    /// may roll the kind back); the batcher then uses its native codec for this batch.
    pub fn compress(&self, data: &[u8]) -> Result<Vec<u8>, PluginCallError> {
        let _span = self.plugin.span("compress").entered();
        let start = Instant::now();
        let result = compress_checked(self.supervisor.engine(), &self.plugin, data);
        account(&*self.supervisor, &self.plugin, result, start, true)
    }

    /// Decompresses `data` (derivation, verification). Counted like `compress`, except
    /// that the plugin refusing malformed input with its own error is correct behaviour,
    /// not a failure.
    pub fn decompress(&self, data: &[u8]) -> Result<Vec<u8>, PluginCallError> {
        let _span = self.plugin.span("decompress").entered();
        let start = Instant::now();
        let result = decompress(self.supervisor.engine(), &self.plugin, data);
        account(&*self.supervisor, &self.plugin, result, start, false)
    }
}

/// The batcher calls the compression plugin through the hooks seam directly.
impl ordo_hooks::BatchCodec for Compressor {
    fn codec_id(&self) -> u32 {
        Compressor::codec_id(self)
    }

    fn code_hash(&self) -> alloy_primitives::B256 {
        Compressor::code_hash(self)
    }

    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, ordo_hooks::HookError> {
        Compressor::compress(self, data).map_err(|e| ordo_hooks::HookError(e.to_string()))
    }

    fn decompress(&self, data: &[u8]) -> Result<Vec<u8>, ordo_hooks::HookError> {
        Compressor::decompress(self, data).map_err(|e| ordo_hooks::HookError(e.to_string()))
    }
}
