//! `commitment`: a keccak commitment to each batch (a prover hook that proves nothing, but
//! binds the posted payload to the chain it claims to carry).
//!
//! Flow: header fields + keccak256(payload) → one fixed 188-byte encoding → keccak256 → the
//! 32-byte attestation stored with the batch and posted to L1 with the batch's output root.
//!
//! The encoding, all integers big-endian, no padding, no length prefixes:
//!
//! | bytes    | field                                |
//! |----------|--------------------------------------|
//! | 0..8     | `index` (u64)                        |
//! | 8..16    | `first_block` (u64)                  |
//! | 16..24   | `last_block` (u64)                   |
//! | 24..56   | `last_block_hash` (32 bytes)         |
//! | 56..88   | `state_root` (32 bytes)              |
//! | 88..120  | `output_root` (32 bytes)             |
//! | 120..124 | `codec_id` (u32)                     |
//! | 124..156 | `codec_hash` (32 bytes)              |
//! | 156..188 | `keccak256(payload)` (32 bytes)      |
//!
//! `attestation = keccak256(encoding)`. Anyone holding the header and the posted payload can
//! recompute it. Config: none (any key is an error).

#![no_std]

use ordo_sdk::prelude::*;

/// Length of the encoding hashed into the attestation.
pub const ENCODING_LEN: usize = 188;

/// Keccak commitment to header and payload.
#[derive(Debug, Clone, Copy)]
pub struct Commitment;

/// The canonical encoding (see the crate docs).
pub fn encode(header: &BatchHeader, payload: &[u8]) -> [u8; ENCODING_LEN] {
    let mut out = [0u8; ENCODING_LEN];
    let payload_hash = keccak256(payload);
    let fields: [&[u8]; 9] = [
        &header.index.to_be_bytes(),
        &header.first_block.to_be_bytes(),
        &header.last_block.to_be_bytes(),
        header.last_block_hash.as_slice(),
        header.state_root.as_slice(),
        header.output_root.as_slice(),
        &header.codec_id.to_be_bytes(),
        header.codec_hash.as_slice(),
        payload_hash.as_slice(),
    ];
    let mut at = 0;
    for field in fields {
        out[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    out
}

impl ProverHook for Commitment {
    const NAME: &'static str = "commitment";

    fn new(config: &str) -> Result<Self, Error> {
        config::none(config)?;
        Ok(Commitment)
    }

    fn on_batch(&self, header: &BatchHeader, payload: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(keccak256(encode(header, payload)).to_vec())
    }
}

ordo_sdk::export!(Commitment);

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_sdk::B256;

    fn header() -> BatchHeader {
        BatchHeader {
            index: 7,
            first_block: 100,
            last_block: 163,
            last_block_hash: B256::repeat_byte(0x11),
            state_root: B256::repeat_byte(0x22),
            output_root: B256::repeat_byte(0x44),
            codec_id: 1,
            codec_hash: B256::repeat_byte(0x33),
        }
    }

    fn attest(header: &BatchHeader, payload: &[u8]) -> Vec<u8> {
        Commitment::new("")
            .unwrap()
            .on_batch(header, payload)
            .unwrap()
    }

    #[test]
    fn deterministic_and_bound_to_the_payload() {
        let a = attest(&header(), b"batch");
        assert_eq!(a.len(), 32);
        assert_eq!(a, attest(&header(), b"batch"));
        assert_ne!(a, attest(&header(), b"batcH"));
        assert_ne!(a, attest(&header(), b""));
    }

    #[test]
    fn bound_to_every_header_field() {
        let base = attest(&header(), b"p");
        let changes: [fn(&mut BatchHeader); 8] = [
            |h| h.index += 1,
            |h| h.first_block += 1,
            |h| h.last_block += 1,
            |h| h.last_block_hash.0[31] ^= 1,
            |h| h.state_root.0[0] ^= 1,
            |h| h.output_root.0[9] ^= 1,
            |h| h.codec_id = 2,
            |h| h.codec_hash.0[5] ^= 1,
        ];
        for change in changes {
            let mut h = header();
            change(&mut h);
            assert_ne!(attest(&h, b"p"), base);
        }
    }

    #[test]
    fn encoding_matches_the_documented_layout() {
        let mut expected = Vec::new();
        expected.extend_from_slice(&7u64.to_be_bytes());
        expected.extend_from_slice(&100u64.to_be_bytes());
        expected.extend_from_slice(&163u64.to_be_bytes());
        expected.extend_from_slice(&[0x11; 32]);
        expected.extend_from_slice(&[0x22; 32]);
        expected.extend_from_slice(&[0x44; 32]);
        expected.extend_from_slice(&1u32.to_be_bytes());
        expected.extend_from_slice(&[0x33; 32]);
        expected.extend_from_slice(keccak256(b"payload").as_slice());
        assert_eq!(encode(&header(), b"payload").as_slice(), expected);
        assert_eq!(attest(&header(), b"payload"), keccak256(&expected).to_vec());
    }
}
