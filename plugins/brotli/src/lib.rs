//! `brotli`: the Brotli batch codec (codec id 1), RFC 7932 streams.
//!
//! Flow: compress = the `brotli` crate's encoder over the whole batch (quality from config,
//! 4 MiB window) into a `Vec`. Decompress = the strict (RFC 7932, no large-window) decoder
//! driven in 64 KiB output steps; it errors on a malformed or truncated stream, on trailing
//! bytes after the end of the stream, and as soon as the output would pass
//! [`MAX_DECOMPRESSED_LEN`], so a decompression bomb costs at most that much memory.
//!
//! The crate is built without `std` (whose `std::io` would drag in WASI imports), so it needs
//! an allocator for its own scratch memory: [`VecAlloc`] hands out boxed slices from the
//! global allocator.
//!
//! Config: `level = 5` (default; 0 fastest to 11 smallest).

#![no_std]

use brotli::{
    Allocator, BrotliDecompressStream, BrotliResult, BrotliState, CustomRead, CustomWrite,
    InputPair, SliceWrapper, SliceWrapperMut,
    enc::{BrotliAlloc, BrotliEncoderParams, StaticCommand, interface::PredictionModeContextMap},
    enc::{BrotliCompressCustomIo, BrotliEncoderInitParams, InputReferenceMut},
};
use ordo_sdk::{
    compression::{MAX_DECOMPRESSED_LEN, codec_id},
    prelude::*,
};

/// Default quality. Level 5 is Brotli's speed/size knee for batches: on 1,000 real signed
/// transactions level 9 saves under 1% more bytes on L1 (92.5 against 93.3 bytes a
/// transaction) but takes four times the CPU (32.6 against 8.1 ms a 164 KB batch in WASM),
/// which a sequencer on two cores cannot spare at 10,000 tx/s. Operators who would rather
/// pay CPU than L1 bytes set `level` up to 11.
pub const DEFAULT_LEVEL: u32 = 5;
/// log2 of the window: 4 MiB, past which batches rarely repeat themselves.
const LGWIN: i32 = 22;
/// Decoder output step.
const CHUNK: usize = 64 << 10;

/// Brotli at a configured quality.
#[derive(Debug, Clone, Copy)]
pub struct Brotli {
    level: u32,
}

impl Compressor for Brotli {
    const NAME: &'static str = "brotli";
    const CODEC_ID: u32 = codec_id::BROTLI;

    fn new(config: &str) -> Result<Self, Error> {
        let cfg = config::parse_kv(config)?;
        cfg.deny_unknown(&["level"])?;
        let level = cfg.get_or("level", DEFAULT_LEVEL)?;
        if level > 11 {
            return Err(Error::new("config: level must be 0..=11"));
        }
        Ok(Brotli { level })
    }

    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let mut params: BrotliEncoderParams = BrotliEncoderInitParams();
        params.quality = self.level as i32;
        params.lgwin = LGWIN;
        params.size_hint = data.len();
        let mut out = Vec::with_capacity(data.len() / 4 + 64);
        let (mut inbuf, mut outbuf) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
        let mut no_callback = |_: &mut PredictionModeContextMap<InputReferenceMut<'_>>,
                               _: &mut [StaticCommand],
                               _: InputPair<'_>,
                               _: &mut VecAlloc| ();
        BrotliCompressCustomIo(
            &mut SliceReader(data),
            &mut VecWriter(&mut out),
            &mut inbuf,
            &mut outbuf,
            &params,
            VecAlloc,
            &mut no_callback,
            Error::new("brotli: unexpected end of input"),
        )?;
        Ok(out)
    }

    fn decompress(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let mut state = BrotliState::new_strict(VecAlloc, VecAlloc, VecAlloc);
        let (mut available_in, mut in_offset) = (data.len(), 0usize);
        let mut chunk = vec![0u8; CHUNK];
        let mut out = Vec::new();
        loop {
            let (mut available_out, mut out_offset, mut total) = (CHUNK, 0usize, 0usize);
            let result = BrotliDecompressStream(
                &mut available_in,
                &mut in_offset,
                data,
                &mut available_out,
                &mut out_offset,
                &mut chunk,
                &mut total,
                &mut state,
            );
            if out.len() + out_offset > MAX_DECOMPRESSED_LEN {
                return Err(Error::new("brotli: output exceeds the 64 MiB cap"));
            }
            out.extend_from_slice(&chunk[..out_offset]);
            match result {
                BrotliResult::NeedsMoreOutput => continue,
                BrotliResult::ResultSuccess if available_in == 0 => return Ok(out),
                BrotliResult::ResultSuccess => {
                    return Err(Error::new("brotli: trailing bytes after the stream"));
                }
                BrotliResult::NeedsMoreInput => {
                    return Err(Error::new("brotli: truncated stream"));
                }
                BrotliResult::ResultFailure => {
                    return Err(Error::new("brotli: corrupt stream"));
                }
            }
        }
    }
}

ordo_sdk::export!(Brotli);

/// Brotli's scratch allocator over the global heap (dlmalloc on wasm).
#[derive(Debug, Default, Clone, Copy)]
pub struct VecAlloc;

/// A zero-initialised boxed slice, as Brotli expects fresh cells to be.
#[derive(Debug, Default)]
pub struct BoxedCells<T>(Box<[T]>);

impl<T> SliceWrapper<T> for BoxedCells<T> {
    fn slice(&self) -> &[T] {
        &self.0
    }
}

impl<T> SliceWrapperMut<T> for BoxedCells<T> {
    fn slice_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<T: Clone + Default> Allocator<T> for VecAlloc {
    type AllocatedMemory = BoxedCells<T>;

    fn alloc_cell(&mut self, len: usize) -> BoxedCells<T> {
        BoxedCells(vec![T::default(); len].into_boxed_slice())
    }

    fn free_cell(&mut self, _cells: BoxedCells<T>) {}
}

impl BrotliAlloc for VecAlloc {}

struct SliceReader<'a>(&'a [u8]);

impl CustomRead<Error> for SliceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

struct VecWriter<'a>(&'a mut Vec<u8>);

impl CustomWrite<Error> for VecWriter<'_> {
    fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        self.0.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_sdk::testing;

    #[test]
    fn round_trips_the_samples_and_refuses_garbage() {
        testing::check_codec::<Brotli>("");
        testing::check_codec::<Brotli>("level = 1");
    }

    #[test]
    fn compresses_batch_like_data() {
        let codec = Brotli::new("level = 5").unwrap();
        let (_, batch) = testing::codec_samples().swap_remove(5);
        let packed = testing::roundtrip(&codec, &batch).unwrap();
        assert!(
            packed.len() < batch.len() * 3 / 4,
            "{} of {}",
            packed.len(),
            batch.len()
        );
    }

    #[test]
    fn a_bomb_hits_the_cap() {
        let codec = Brotli::new("level = 1").unwrap();
        let bomb = codec
            .compress(&vec![0u8; MAX_DECOMPRESSED_LEN + 1])
            .unwrap();
        assert!(bomb.len() < 1 << 20);
        let err = codec.decompress(&bomb).unwrap_err();
        assert!(err.message().contains("cap"), "{err}");
        let fits = codec.compress(&vec![7u8; 1 << 20]).unwrap();
        assert_eq!(codec.decompress(&fits).unwrap().len(), 1 << 20);
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let codec = Brotli::new("").unwrap();
        let mut packed = codec.compress(b"hello").unwrap();
        packed.push(0);
        assert!(codec.decompress(&packed).is_err());
    }

    #[test]
    fn level_is_configurable_and_checked() {
        assert_eq!(Brotli::new("").unwrap().level, DEFAULT_LEVEL);
        assert_eq!(Brotli::new("level=0").unwrap().level, 0);
        assert!(Brotli::new("level = 12").is_err());
        assert!(Brotli::new("quality = 3").is_err());
        assert_eq!(Brotli::CODEC_ID, 1);
    }
}
