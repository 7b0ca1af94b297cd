//! The codecs a batch reader decodes posted batches with ([`open_codecs`]): every shipped
//! compression plugin plus every codec in an optional plugin folder, loaded into a manager of
//! their own (no storage, nothing active), found by the code hash a batch header records;
//! and the prover hooks (shipped, and in the folder) whose attestations it re-derives, found
//! by the code hash posted with them. `ordo verify` hands them to derivation as an
//! [`ordo_hooks::BatchCodecs`].

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use ordo_hooks::BatchCodecs;

use crate::{error::PluginError, info::PluginKind, manager::PluginManager, shipped};

/// Why the codecs could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CodecsError {
    /// The plugin engine failed, or a shipped codec did not load.
    #[error("plugins: {0}")]
    Plugins(#[from] PluginError),
    /// The plugin folder or a plugin in it could not be read.
    #[error("{what} {}: {source}", .path.display())]
    Io {
        /// What was being done ("reading plugin folder", "reading plugin").
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// The shipped codecs and provers plus every `*.wasm` in `plugin_dir` that loads as a codec
/// or a prover (the other files are skipped). Slow (compiles and self-tests every codec): call it off the async
/// reactor.
pub fn open_codecs(plugin_dir: Option<&Path>) -> Result<Arc<dyn BatchCodecs>, CodecsError> {
    let codecs = PluginManager::open(Default::default(), None)?;
    for shipped in shipped::all() {
        if matches!(shipped.kind, PluginKind::Compression | PluginKind::Prover) {
            codecs.load(shipped.kind, shipped.bytes, "")?;
        }
    }
    let Some(dir) = plugin_dir else {
        return Ok(codecs.batch_codecs());
    };
    let io = |source| CodecsError::Io {
        what: "reading plugin folder",
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let bytes = std::fs::read(&path).map_err(|source| CodecsError::Io {
                what: "reading plugin",
                path: path.clone(),
                source,
            })?;
            // Not every file need be a codec or a prover; the others are skipped.
            if let Err(e) = codecs.load(PluginKind::Compression, &bytes, "")
                && let Err(e2) = codecs.load(PluginKind::Prover, &bytes, "")
            {
                tracing::debug!(target: "ordo::derive", path = %path.display(), %e, %e2, "neither a codec nor a prover");
            }
        }
    }
    Ok(codecs.batch_codecs())
}
