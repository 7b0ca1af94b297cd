//! `lz4`: the LZ4 batch codec (codec id 2): LZ4 block format behind a little-endian `u32`
//! size prefix (lz4_flex's `compress_prepend_size` layout).
//!
//! Flow: compress = prefix + block. Decompress = read the prefix, refuse a size above
//! [`MAX_DECOMPRESSED_LEN`] before allocating anything (a bomb costs nothing), decode with the
//! bounds-checked decoder, and refuse a block that decodes to any other length than the
//! prefix claims (truncated or forged input). Fast and cheap; brotli compresses better.
//!
//! Config: none (any key is an error).

#![no_std]

use lz4_flex::block;
use ordo_sdk::{
    compression::{MAX_DECOMPRESSED_LEN, codec_id},
    prelude::*,
};

/// LZ4 block with a size prefix.
#[derive(Debug, Clone, Copy)]
pub struct Lz4;

impl Compressor for Lz4 {
    const NAME: &'static str = "lz4";
    const CODEC_ID: u32 = codec_id::LZ4;

    fn new(config: &str) -> Result<Self, Error> {
        config::none(config)?;
        Ok(Lz4)
    }

    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        if data.len() > MAX_DECOMPRESSED_LEN {
            return Err(Error::new("lz4: input exceeds the 64 MiB cap"));
        }
        Ok(block::compress_prepend_size(data))
    }

    fn decompress(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let (size, body) =
            block::uncompressed_size(data).map_err(|e| Error::new(format!("lz4: {e}")))?;
        if size > MAX_DECOMPRESSED_LEN {
            return Err(Error::new(format!(
                "lz4: claimed size {size} exceeds the 64 MiB cap"
            )));
        }
        let out = block::decompress(body, size).map_err(|e| Error::new(format!("lz4: {e}")))?;
        if out.len() != size {
            return Err(Error::new(format!(
                "lz4: decoded {} bytes, the prefix says {size}",
                out.len()
            )));
        }
        Ok(out)
    }
}

ordo_sdk::export!(Lz4);

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_sdk::testing;

    #[test]
    fn round_trips_the_samples_and_refuses_garbage() {
        testing::check_codec::<Lz4>("");
    }

    #[test]
    fn a_bomb_hits_the_cap_before_allocating() {
        let codec = Lz4::new("").unwrap();
        let mut forged = block::compress_prepend_size(&[0u8; 1024]);
        forged[..4].copy_from_slice(&(MAX_DECOMPRESSED_LEN as u32 + 1).to_le_bytes());
        assert!(
            codec
                .decompress(&forged)
                .unwrap_err()
                .message()
                .contains("cap")
        );
        assert!(
            codec
                .compress(&vec![0u8; MAX_DECOMPRESSED_LEN + 1])
                .is_err()
        );
    }

    #[test]
    fn a_lying_prefix_is_refused() {
        let codec = Lz4::new("").unwrap();
        let mut packed = codec.compress(&[5u8; 4096]).unwrap();
        packed[..4].copy_from_slice(&5000u32.to_le_bytes());
        assert!(codec.decompress(&packed).is_err());
        packed[..4].copy_from_slice(&100u32.to_le_bytes());
        assert!(codec.decompress(&packed).is_err());
        assert!(codec.decompress(&[1, 2]).is_err());
        assert_eq!(
            codec.decompress(&codec.compress(&[]).unwrap()).unwrap(),
            [0u8; 0]
        );
    }

    #[test]
    fn has_no_config() {
        assert!(Lz4::new("level = 3").is_err());
        assert_eq!(Lz4::CODEC_ID, 2);
    }
}
