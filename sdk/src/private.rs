//! Support for the export macros' expansions. Not part of the public API.

use alloc::string::ToString;
use core::cell::OnceCell;

pub use crate::bindings;
pub use alloc::format;
pub use wit_bindgen;

use crate::{
    Error,
    wire::{WireMetadata, WirePluginKind},
};

/// The type of [`PLUGIN_API`].
pub type PluginApi = [u8; crate::PLUGIN_API_VERSION.len()];

/// The `ordo:plugin-api` custom section's content (see [`crate::PLUGIN_API_VERSION`]).
pub const PLUGIN_API: PluginApi = {
    let src = crate::PLUGIN_API_VERSION.as_bytes();
    let mut out = [0u8; crate::PLUGIN_API_VERSION.len()];
    let mut i = 0;
    while i < src.len() {
        out[i] = src[i];
        i += 1;
    }
    out
};

/// Whether `name` is a valid plugin name (`[a-z0-9-]`, non-empty); checked at compile time by
/// the export macros.
pub const fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    // The host's rule: 1 to 64 characters of [a-z0-9-].
    if bytes.is_empty() || bytes.len() > 64 {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// The type an export macro defines in the plugin crate: it names the plugin type and owns its
/// instance. The bindings' `Guest` traits are implemented for every `Export` whose plugin
/// implements the matching kind trait.
pub trait Export: 'static {
    /// The plugin's type.
    type Plugin: 'static;
    /// The plugin's version: its crate's `CARGO_PKG_VERSION`, filled in by the export macro.
    const VERSION: &'static str;
    /// The plugin instance, built on first use from the host's config string.
    fn instance() -> Result<&'static Self::Plugin, Error>;
}

/// The plugin instance of one component instance, built once.
///
/// `OnceCell` rather than a lock: a component instance runs on one thread, and the host never
/// re-enters it.
pub struct Instance<T>(OnceCell<Result<T, Error>>);

// SAFETY: only on wasm32 without the threads proposal, where there is exactly one thread; the
// export macros only declare `Instance` statics there.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[allow(unsafe_code)]
unsafe impl<T> Sync for Instance<T> {}

impl<T> Instance<T> {
    /// An empty cell.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(OnceCell::new())
    }

    /// The instance, built by `init` on first use. A failed build is remembered: the config
    /// does not change during an instance's life, so every call reports the same error.
    pub fn get_or_init(&self, init: impl FnOnce() -> Result<T, Error>) -> Result<&T, Error> {
        self.0.get_or_init(init).as_ref().map_err(Clone::clone)
    }
}

/// Names the kind trait a plugin type implements, for [`name_of`]: implemented once per kind
/// trait, with a different marker each, so the impls never overlap and the compiler infers
/// the marker from the one kind trait the type implements.
pub trait Kind<Marker> {
    /// The plugin's `NAME`.
    const NAME: &'static str;
}

/// Markers of [`Kind`].
pub mod marker {
    /// [`OrderingPolicy`](crate::OrderingPolicy).
    pub struct Ordering;
    /// [`Searcher`](crate::Searcher).
    pub struct Searcher;
    /// [`Compressor`](crate::Compressor).
    pub struct Compression;
    /// [`ProverHook`](crate::ProverHook).
    pub struct Prover;
}

impl<T: crate::OrderingPolicy> Kind<marker::Ordering> for T {
    const NAME: &'static str = T::NAME;
}

impl<T: crate::Searcher> Kind<marker::Searcher> for T {
    const NAME: &'static str = T::NAME;
}

impl<T: crate::Compressor> Kind<marker::Compression> for T {
    const NAME: &'static str = T::NAME;
}

impl<T: crate::ProverHook> Kind<marker::Prover> for T {
    const NAME: &'static str = T::NAME;
}

/// The `NAME` of a plugin type, whatever its kind (`name_of::<T, _>()`): the export macro's
/// name check when the SDK is built natively with several kind features.
pub const fn name_of<T: Kind<M>, M>() -> &'static str {
    T::NAME
}

/// The `metadata()` record.
pub fn metadata(name: &str, version: &str, kind: WirePluginKind) -> WireMetadata {
    WireMetadata {
        name: name.to_string(),
        version: version.to_string(),
        kind,
    }
}
