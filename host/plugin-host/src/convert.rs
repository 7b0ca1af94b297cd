//! Host values in their WIT form and back: 32- and 20-byte values as big-endian words, the
//! block context, and the candidate set (written into the pre-laid-out [`RawCandidateSet`]).
//! Shared by every kind that takes or returns them.

use alloy_consensus::{Transaction, Typed2718};
use alloy_primitives::{Address, B256, TxKind, U256};
use ordo_hooks::OrderingContext;
use ordo_primitives::Candidate;

use crate::{abi::RawCandidateSet, bindings::types};

pub(crate) fn bytes32(b: &[u8; 32]) -> types::Bytes32 {
    let w = |i: usize| u64::from_be_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    types::Bytes32 {
        w0: w(0),
        w1: w(1),
        w2: w(2),
        w3: w(3),
    }
}

pub(crate) fn bytes20(a: &Address) -> types::Bytes20 {
    let b = a.as_slice();
    types::Bytes20 {
        hi: u64::from_be_bytes(b[0..8].try_into().unwrap_or_default()),
        mid: u64::from_be_bytes(b[8..16].try_into().unwrap_or_default()),
        lo: u32::from_be_bytes(b[16..20].try_into().unwrap_or_default()),
    }
}

pub(crate) fn address(b: &types::Bytes20) -> Address {
    let mut out = [0u8; 20];
    out[0..8].copy_from_slice(&b.hi.to_be_bytes());
    out[8..16].copy_from_slice(&b.mid.to_be_bytes());
    out[16..20].copy_from_slice(&b.lo.to_be_bytes());
    Address::from(out)
}

pub(crate) fn b256(b: &types::Bytes32) -> B256 {
    let mut out = [0u8; 32];
    for (i, w) in [b.w0, b.w1, b.w2, b.w3].iter().enumerate() {
        out[i * 8..i * 8 + 8].copy_from_slice(&w.to_be_bytes());
    }
    B256::from(out)
}

pub(crate) fn u256(b: &types::Bytes32) -> U256 {
    U256::from_be_bytes(b256(b).0)
}

/// Fees per gas above 2^64-1 (18 ETH per gas) saturate, as the contract says.
fn saturate(fee: u128) -> u64 {
    u64::try_from(fee).unwrap_or(u64::MAX)
}

pub(crate) fn wit_context(ctx: &OrderingContext) -> types::BlockContext {
    types::BlockContext {
        number: ctx.number,
        timestamp: ctx.timestamp,
        base_fee: ctx.base_fee,
        gas_limit: ctx.gas_limit,
        coinbase: bytes20(&ctx.coinbase),
        parent_hash: bytes32(&ctx.parent_hash.0),
    }
}

/// Rewrites `set` (keeping its allocations) as the WIT form of `candidates`: flat records
/// plus one calldata side buffer.
pub(crate) fn fill_candidate_set(set: &mut RawCandidateSet, candidates: &[Candidate]) {
    set.clear();
    set.reserve(candidates.len());
    for c in candidates {
        let tx = &c.tx;
        let input = tx.tx.input();
        let input_offset = u32::try_from(set.calldata.0.len()).unwrap_or(u32::MAX);
        set.calldata.0.extend_from_slice(input);
        let (to, is_create) = match tx.tx.kind() {
            TxKind::Call(to) => (to, false),
            TxKind::Create => (Address::ZERO, true),
        };
        set.txs.push(&types::Candidate {
            hash: bytes32(&tx.hash.0),
            sender: bytes20(&tx.sender),
            nonce: tx.nonce(),
            to: bytes20(&to),
            is_create,
            tx_type: tx.tx.ty(),
            value: bytes32(&tx.tx.value().to_be_bytes::<32>()),
            gas_limit: tx.gas_limit(),
            max_fee_per_gas: saturate(tx.max_fee_per_gas()),
            max_priority_fee_per_gas: saturate(tx.max_priority_fee_per_gas()),
            arrival_seq: c.arrival_seq,
            arrival_ms: c.arrival_ms,
            encoded_len: u32::try_from(tx.encoded.len()).unwrap_or(u32::MAX),
            input_offset,
            input_len: u32::try_from(input.len()).unwrap_or(u32::MAX),
        });
    }
}

/// The WIT records in the form the call takes.
pub(crate) fn raw_set(set: &types::CandidateSet) -> RawCandidateSet {
    let mut raw = RawCandidateSet::default();
    for c in &set.txs {
        raw.txs.push(c);
    }
    raw.calldata.0.extend_from_slice(&set.calldata);
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_big_endian() {
        let mut a = [0u8; 20];
        a[0] = 1;
        a[19] = 2;
        let w = bytes20(&Address::from(a));
        assert_eq!(w.hi, 1 << 56);
        assert_eq!(w.mid, 0);
        assert_eq!(w.lo, 2);
        assert_eq!(address(&w), Address::from(a));
        let mut b = [0u8; 32];
        b[7] = 9;
        b[31] = 1;
        let w = bytes32(&b);
        assert_eq!((w.w0, w.w1, w.w2, w.w3), (9, 0, 0, 1));
    }
}
