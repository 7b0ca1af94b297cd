//! Helpers for tests and benchmarks (this crate's and downstream ones): where the built
//! test components are, and generated candidate sets.

use std::{path::PathBuf, sync::Arc};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256};
use ordo_hooks::OrderingContext;
use ordo_primitives::{Candidate, PooledTx};

use crate::samples::XorShift;

/// Where `build.rs` put the wasm32-wasip2 release artifacts: the fixtures
/// (`ordo_fixture_*.wasm`), the shipped plugins and the examples.
pub const FIXTURES_DIR: &str = env!("ORDO_PLUGIN_HOST_WASM_DIR");

/// Path of the `examples/ordering-round-robin` component, when it was built.
pub const ROUND_ROBIN_EXAMPLE: Option<&str> = option_env!("ORDO_PLUGIN_HOST_ROUND_ROBIN_WASM");

/// Path of the `examples/searcher-backrun` component, when it was built.
pub const SEARCHER_BACKRUN_EXAMPLE: Option<&str> =
    option_env!("ORDO_PLUGIN_HOST_SEARCHER_BACKRUN_WASM");

/// Path of a fixture component: `fixture_path("ordering")` is `ordo_fixture_ordering.wasm`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(FIXTURES_DIR).join(format!("ordo_fixture_{}.wasm", name.replace('-', "_")))
}

/// A fixture's bytes. Panics when missing: `build.rs` builds every fixture.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A block context with a 30M gas limit and a 1 gwei base fee.
pub fn context(number: u64) -> OrderingContext {
    OrderingContext {
        number,
        timestamp: 1_700_000_000 + number,
        base_fee: 1_000_000_000,
        gas_limit: 30_000_000,
        coinbase: Address::repeat_byte(0xc0),
        parent_hash: B256::repeat_byte(0x99),
    }
}

/// `n` candidates from `senders` senders (consecutive nonces per sender, interleaved
/// across senders, as the pool hands them out), with varied tips, gas and calldata.
/// Deterministic in `seed`. Signatures are placeholders: nothing here recovers senders.
pub fn candidates(n: usize, senders: usize, seed: u64) -> Vec<Candidate> {
    let senders = senders.max(1);
    let mut rng = XorShift(seed | 1);
    let mut nonces = vec![0u64; senders];
    let signature = Signature::new(U256::from(1), U256::from(1), false);
    (0..n)
        .map(|i| {
            let s = i % senders;
            let mut sender = [0u8; 20];
            sender[0] = 0x5e;
            sender[12..20].copy_from_slice(&(s as u64 + 1).to_be_bytes());
            let nonce = nonces[s];
            nonces[s] += 1;
            let tip = u128::from(rng.next() % 3_000_000_000);
            let input_len = (rng.next() % 96) as usize;
            let input: Vec<u8> = (0..input_len).map(|_| rng.next() as u8).collect();
            let tx = TxEip1559 {
                chain_id: 1,
                nonce,
                gas_limit: 21_000 + rng.next() % 100_000,
                max_fee_per_gas: 2_000_000_000 + tip,
                max_priority_fee_per_gas: tip,
                to: TxKind::Call(Address::repeat_byte(0x42)),
                value: U256::from(i),
                access_list: Default::default(),
                input: Bytes::from(input),
            };
            let envelope = TxEnvelope::Eip1559(tx.into_signed(signature));
            let encoded = Bytes::from(envelope.encoded_2718());
            let hash = *envelope.tx_hash();
            Candidate {
                tx: Arc::new(PooledTx {
                    tx: envelope,
                    sender: Address::from(sender),
                    hash,
                    encoded,
                }),
                arrival_seq: i as u64,
                arrival_ms: 1_700_000_000_000 + i as u64,
            }
        })
        .collect()
}
