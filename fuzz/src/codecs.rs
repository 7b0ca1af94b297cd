//! The compression plugins Ordo ships, each loaded and self-tested by a plugin manager as
//! the node loads its own, and held as the [`Compressor`] handle the batcher compresses with
//! and derivation decompresses with.

use std::sync::OnceLock;

use ordo_plugin_host::{Compressor, PluginKind, PluginManager, shipped};

static CODECS: OnceLock<Vec<Compressor>> = OnceLock::new();

/// Every shipped codec, loaded on first use. Panics when the build embedded none (the
/// plugin host's build script found no `plugins/` workspace).
pub fn shipped() -> &'static [Compressor] {
    CODECS.get_or_init(|| {
        let manager =
            PluginManager::open(Default::default(), None).expect("the plugin engine starts");
        let codecs: Vec<Compressor> = shipped::all()
            .into_iter()
            .filter(|p| p.kind == PluginKind::Compression)
            .map(|p| {
                let info = manager
                    .load(p.kind, p.bytes, "")
                    .unwrap_or_else(|e| panic!("shipped codec {} loads: {e}", p.package));
                // Activating hands out the handle; the next activation does not change it.
                manager
                    .activate(&info.id)
                    .expect("a loaded codec activates");
                manager.compressor().expect("the codec just activated")
            })
            .collect();
        assert!(!codecs.is_empty(), "this build embeds no shipped codec");
        codecs
    })
}
