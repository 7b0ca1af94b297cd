//! Deterministic generated inputs: the self-tests' candidate set and the generator behind
//! it (also behind `testing`'s candidates).

use alloy_primitives::{Address, B256};

use crate::{
    bindings::types,
    convert::{bytes20, bytes32},
};

/// Block number the self-test runs at: before any real block (block 0 is genesis).
pub const SELF_TEST_BLOCK: u64 = 0;

/// Tiny deterministic generator for self-test inputs (no randomness in the host either:
/// the same plugin sees the same self-test on every node).
pub(crate) struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A candidate set in WIT form: `senders` senders with `per_sender` consecutive nonces each,
/// interleaved across senders, varied fees, gas and calldata.
pub(crate) fn self_test_set(senders: usize, per_sender: usize) -> types::CandidateSet {
    let mut rng = XorShift(0x0bad_5eed_0bad_5eed);
    let mut set = types::CandidateSet {
        txs: Vec::with_capacity(senders * per_sender),
        calldata: Vec::new(),
    };
    for nonce in 0..per_sender as u64 {
        for s in 0..senders {
            let mut sender = [0u8; 20];
            sender[0] = 0xa0;
            sender[12..20].copy_from_slice(&(s as u64 + 1).to_be_bytes());
            let input_len = (rng.next() % 64) as usize;
            let input_offset = set.calldata.len() as u32;
            set.calldata
                .extend((0..input_len).map(|_| (rng.next() & 0xff) as u8));
            let tip = 1 + rng.next() % 5_000_000_000;
            let seq = set.txs.len() as u64;
            set.txs.push(types::Candidate {
                hash: bytes32(&B256::from(alloy_primitives::U256::from(seq + 1)).0),
                sender: bytes20(&Address::from(sender)),
                nonce: 7 + nonce,
                to: bytes20(&Address::repeat_byte(0x11)),
                is_create: false,
                tx_type: 2,
                value: bytes32(&[0u8; 32]),
                gas_limit: 21_000 + rng.next() % 200_000,
                max_fee_per_gas: 10_000_000_000 + tip,
                max_priority_fee_per_gas: tip,
                arrival_seq: seq,
                arrival_ms: 1_700_000_000_000 + seq,
                encoded_len: 110 + input_len as u32,
                input_offset,
                input_len: input_len as u32,
            });
        }
    }
    set
}
