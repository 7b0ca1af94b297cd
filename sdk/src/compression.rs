//! Batch codecs.

use alloc::vec::Vec;

use crate::Error;

/// The most a codec should ever produce when decompressing. Far above any real batch; a
/// "decompression bomb" must hit it and error rather than exhaust the host's memory cap.
pub const MAX_DECOMPRESSED_LEN: usize = 64 << 20;

/// Codec ids recorded in every batch header.
pub mod codec_id {
    /// Brotli.
    pub const BROTLI: u32 = 1;
    /// LZ4 block format with a little-endian `u32` size prefix.
    pub const LZ4: u32 = 2;
    /// Raw deflate.
    pub const DEFLATE: u32 = 3;
    /// Ids from here up are free for third-party codecs.
    pub const THIRD_PARTY_MIN: u32 = 0x8000_0000;
}

/// A batch codec. Export it with [`export!`](crate::export) and
/// ordo-sdk's `compression` feature; the version it reports is its crate's `version`.
///
/// `decompress(compress(x))` must equal `x`: the host checks it on every batch before posting,
/// and the verifier decompresses what was posted.
pub trait Compressor: Sized + 'static {
    /// Short name, `[a-z0-9-]`, shown in batch provenance, logs and metrics.
    const NAME: &'static str;
    /// The stable number naming the format (see [`codec_id`]). Two versions of a codec that
    /// can read each other's output share it.
    const CODEC_ID: u32;

    /// Builds the codec from the operator's config string (empty when none was given).
    fn new(config: &str) -> Result<Self, Error>;

    /// Compresses one batch.
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, Error>;

    /// Decompresses one batch. Must return an error, never trap, on malformed input, and must
    /// refuse to produce more than [`MAX_DECOMPRESSED_LEN`] bytes.
    fn decompress(&self, data: &[u8]) -> Result<Vec<u8>, Error>;
}

#[cfg(feature = "compression")]
#[doc(hidden)]
pub mod __export {
    use alloc::vec::Vec;

    use super::Compressor;
    use crate::{
        __private::{Export, metadata},
        bindings::compression::{
            Guest, exports::ordo::plugin::compression::Guest as CompressionGuest,
        },
        wire::{PluginError, WireMetadata, WirePluginKind},
    };

    impl<E> Guest for E
    where
        E: Export,
        E::Plugin: Compressor,
    {
        fn metadata() -> WireMetadata {
            metadata(
                <E::Plugin as Compressor>::NAME,
                E::VERSION,
                WirePluginKind::Compression,
            )
        }
    }

    impl<E> CompressionGuest for E
    where
        E: Export,
        E::Plugin: Compressor,
    {
        fn codec_id() -> u32 {
            <E::Plugin as Compressor>::CODEC_ID
        }

        fn compress(data: Vec<u8>) -> Result<Vec<u8>, PluginError> {
            Ok(E::instance()?.compress(&data)?)
        }

        fn decompress(data: Vec<u8>) -> Result<Vec<u8>, PluginError> {
            Ok(E::instance()?.decompress(&data)?)
        }
    }
}
