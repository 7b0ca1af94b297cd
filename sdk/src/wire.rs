//! The WIT records as they cross the component boundary, and their conversions to alloy types.
//!
//! Fixed-width values travel as big-endian `u64` words (see the comments in
//! `wit/ordo-plugin.wit`) so that hot-path records stay flat and copy as plain memory. Plugin
//! authors rarely need this module: the SDK types convert on access. It is public for tests
//! and for hosts that want to build the same records.

use alloy_primitives::{Address, B256, U256};

pub use crate::bindings::base::ordo::plugin::types::{
    BlockContext as WireBlockContext, Bytes20, Bytes32, Candidate as WireCandidate,
    CandidateSet as WireCandidateSet, Metadata as WireMetadata, PluginError,
    PluginKind as WirePluginKind,
};

/// Bytes 0..8 of a fixed-width value as a big-endian word.
fn word(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(w)
}

/// `bytes20` → [`Address`].
pub fn address_from_wire(b: Bytes20) -> Address {
    let mut out = [0u8; 20];
    out[0..8].copy_from_slice(&b.hi.to_be_bytes());
    out[8..16].copy_from_slice(&b.mid.to_be_bytes());
    out[16..20].copy_from_slice(&b.lo.to_be_bytes());
    Address::new(out)
}

/// [`Address`] → `bytes20`.
pub fn address_to_wire(a: Address) -> Bytes20 {
    let b = a.as_slice();
    let mut lo = [0u8; 4];
    lo.copy_from_slice(&b[16..20]);
    Bytes20 {
        hi: word(b, 0),
        mid: word(b, 8),
        lo: u32::from_be_bytes(lo),
    }
}

/// `bytes32` → [`B256`].
pub fn b256_from_wire(b: Bytes32) -> B256 {
    let mut out = [0u8; 32];
    for (chunk, w) in out.chunks_exact_mut(8).zip([b.w0, b.w1, b.w2, b.w3]) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
    B256::new(out)
}

/// [`B256`] → `bytes32`.
pub fn b256_to_wire(h: B256) -> Bytes32 {
    let b = h.as_slice();
    Bytes32 {
        w0: word(b, 0),
        w1: word(b, 8),
        w2: word(b, 16),
        w3: word(b, 24),
    }
}

/// `u256` (a big-endian `bytes32`) → [`U256`].
pub fn u256_from_wire(b: Bytes32) -> U256 {
    U256::from_be_bytes(b256_from_wire(b).0)
}

/// [`U256`] → `u256` (a big-endian `bytes32`).
pub fn u256_to_wire(v: U256) -> Bytes32 {
    b256_to_wire(B256::new(v.to_be_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_width_values_round_trip_big_endian() {
        let a = Address::from_slice(&(1u8..=20).collect::<alloc::vec::Vec<_>>());
        let w = address_to_wire(a);
        assert_eq!(w.hi, 0x0102_0304_0506_0708);
        assert_eq!(w.lo, 0x1112_1314);
        assert_eq!(address_from_wire(w), a);

        let h = B256::from_slice(&(1u8..=32).collect::<alloc::vec::Vec<_>>());
        let w = b256_to_wire(h);
        assert_eq!(w.w0, 0x0102_0304_0506_0708);
        assert_eq!(w.w3, 0x191a_1b1c_1d1e_1f20);
        assert_eq!(b256_from_wire(w), h);

        let v = U256::from(0x1234_5678u64);
        let w = u256_to_wire(v);
        assert_eq!((w.w0, w.w1, w.w2, w.w3), (0, 0, 0, 0x1234_5678));
        assert_eq!(u256_from_wire(w), v);
    }
}
