//! What the host makes of a plugin's answer before the builder trusts it: an ordering
//! plugin's indices (the plugin host's re-check, with the gas limit and the length bound, and
//! the builder's `check_order`), a block plan of candidates and bundles (`check_plan`), and a
//! searcher plugin's bundles as lifted from WIT (`check_bundles`: shapes, hashes and bids from
//! big-endian words), against a small candidate set built from the input. Every check must
//! accept exactly the answers that keep its promises (indices in range and unique, each
//! sender's nonces ascending, gas within the limit, bundles used at most once, bundle and
//! transaction counts and sizes within the contract), never panic, and agree with the others;
//! the native policy's answer and its bundle placement must always pass.
//!
//! Input, little-endian, zeros once it runs out: `u8` candidates (mod 65), `u8` senders
//! (mod 4, plus 1), `u32` gas limit; per candidate `u8` sender, `u8` nonce step, `u16` gas,
//! `u8` tip; `u8` length and that many `u8` indices (the ordering answer); `u8` bundles
//! offered (mod 9), each `u8` transactions (mod 3, plus 1) of `u8` sender and `u8` nonce, `u8`
//! placement (0: top of block, else after candidate `p - 1`), `u16` gas used, `u32` bid;
//! `u8` length and that many `u8` kind (even: transaction, odd: bundle) and `u8` index (the
//! plan); `u8` searcher bundles (mod 20), each `u8` transactions (mod 20) of `u8` size code
//! (1: the largest allowed, 2: one byte more, else that many bytes), `u8` placement (0: top
//! of block, else after the hash of the next four `u64` words), four `u64` bid words.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use ordo_fuzz::seeds;
use ordo_hooks::{
    BundleOffer, OrderingContext, OrderingPolicy, Placement, PlanStep, PriorityFeeOrdering,
    check_order, check_plan, place_by_bid,
};
use ordo_plugin_host::{
    MAX_BUNDLE_TX_BYTES, MAX_BUNDLES_PER_CALL, MAX_TXS_PER_BUNDLE,
    answers::{check_answer, check_bundles},
    bindings::{
        searcher::exports::ordo::plugin::searcher::{Bundle as WireBundle, Placement as Wire},
        types::Bytes32,
    },
};
use ordo_primitives::{
    Candidate, PooledTx,
    alloy_consensus::{Signed, TxEip1559, TxEnvelope},
    alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256},
};

const BASE_FEE: u64 = 1_000_000_000;

/// Reads the input front to back; past its end every value is zero.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    fn u8(&mut self) -> u8 {
        self.bytes::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.bytes())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }
    fn words(&mut self) -> Bytes32 {
        Bytes32 {
            w0: self.u64(),
            w1: self.u64(),
            w2: self.u64(),
            w3: self.u64(),
        }
    }
}

fn sender(i: u8) -> Address {
    Address::with_last_byte(0x10 + i)
}

/// A candidate as the pool hands it out; the signature is a placeholder (nothing here
/// recovers senders) and the hash names the candidate.
fn candidate(hash: B256, sender: Address, nonce: u64, gas_limit: u64, tip: u128) -> Candidate {
    let tx = TxEip1559 {
        chain_id: 1,
        nonce,
        gas_limit,
        max_fee_per_gas: u128::from(BASE_FEE) + tip,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        ..Default::default()
    };
    let signature = Signature::new(U256::from(1), U256::from(1), false);
    Candidate {
        tx: Arc::new(PooledTx {
            tx: TxEnvelope::Eip1559(Signed::new_unchecked(tx, signature, hash)),
            sender,
            hash,
            encoded: Bytes::new(),
        }),
        arrival_seq: 0,
        arrival_ms: 0,
    }
}

/// The promise of an accepted order, stated pairwise: every index names a candidate, no
/// two are the same, and of two transactions of one sender the earlier has the lower nonce.
fn keeps_order_promises(candidates: &[Candidate], order: &[u32]) -> bool {
    let Some(txs) = order
        .iter()
        .map(|&i| candidates.get(i as usize))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    (0..order.len()).all(|a| {
        (a + 1..order.len()).all(|b| {
            order[a] != order[b]
                && (txs[a].sender != txs[b].sender || txs[a].nonce() < txs[b].nonce())
        })
    })
}

fn tx_steps(plan: &[PlanStep]) -> Vec<u32> {
    plan.iter()
        .filter_map(|s| match s {
            PlanStep::Tx(i) => Some(*i),
            PlanStep::Bundle(_) => None,
        })
        .collect()
}

fn b256(w: &Bytes32) -> B256 {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_mut(8).zip([w.w0, w.w1, w.w2, w.w3]) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    B256::from(out)
}

fn ordering(r: &mut Reader<'_>) -> (Vec<Candidate>, u8, u64) {
    let n = r.u8() % 65;
    let senders = r.u8() % 4 + 1;
    let gas_limit = u64::from(r.u32());
    // Per sender, nonces ascend in candidate order, as the pool hands them out.
    let mut next_nonce = [0u64; 4];
    let candidates = (0..n)
        .map(|i| {
            let s = r.u8() % senders;
            let nonce = next_nonce[s as usize] + u64::from(r.u8() % 4);
            next_nonce[s as usize] = nonce + 1;
            let gas = 21_000 + u64::from(r.u16()) * 10;
            let tip = u128::from(r.u8()) * 1_000_000_000;
            candidate(B256::with_last_byte(i), sender(s), nonce, gas, tip)
        })
        .collect();
    (candidates, senders, gas_limit)
}

fn offers(r: &mut Reader<'_>, candidates: &[Candidate], senders: u8) -> Vec<BundleOffer> {
    (0..r.u8() % 9)
        .map(|arrival| {
            let txs = (0..r.u8() % 3 + 1)
                .map(|j| {
                    let s = r.u8() % senders;
                    let nonce = u64::from(r.u8());
                    let hash = B256::from(U256::from(0x1000 + u64::from(arrival) * 8 + j as u64));
                    candidate(hash, sender(s), nonce, 50_000, 0).tx
                })
                .collect();
            let placement = match r.u8() {
                0 => Placement::TopOfBlock,
                p => Placement::After(
                    candidates
                        .get(usize::from(p - 1))
                        .map_or(B256::repeat_byte(0xee), |c| c.hash),
                ),
            };
            BundleOffer {
                hash: B256::from(U256::from(arrival)),
                searcher: format!("searcher-{arrival}"),
                txs,
                reverting_tx_hashes: Vec::new(),
                placement,
                gas_used: u64::from(r.u16()),
                coinbase_diff: U256::from(r.u32()),
                arrival: u64::from(arrival),
            }
        })
        .collect()
}

fn searcher_answer(r: &mut Reader<'_>) -> Vec<WireBundle> {
    // Large transactions cost memory, not coverage: a few per input.
    let mut budget = 4 * MAX_BUNDLE_TX_BYTES;
    (0..r.u8() % 20)
        .map(|_| {
            let txs = (0..r.u8() % 20)
                .map(|_| {
                    let len = match r.u8() {
                        1 => MAX_BUNDLE_TX_BYTES,
                        2 => MAX_BUNDLE_TX_BYTES + 1,
                        code => usize::from(code),
                    };
                    let len = if len <= budget { len } else { 1 };
                    budget = budget.saturating_sub(len);
                    vec![0x02; len]
                })
                .collect();
            let placement = match r.u8() {
                0 => Wire::TopOfBlock,
                _ => Wire::After(r.words()),
            };
            WireBundle {
                txs,
                placement,
                bid: r.words(),
            }
        })
        .collect()
}

fuzz_target!(init: seeds::write_if_asked("plugin_answers", seeds::plugin_answers), |data: &[u8]| {
    let mut r = Reader(data);
    let (candidates, senders, gas_limit) = ordering(&mut r);
    let n = candidates.len();
    let answer: Vec<u32> = (0..r.u8()).map(|_| u32::from(r.u8())).collect();

    // The builder's check and the plugin host's agree with the promises, and with each
    // other where the host's extra bounds (length, gas) do not apply.
    let promised = keeps_order_promises(&candidates, &answer);
    assert_eq!(check_order(&candidates, &answer).is_ok(), promised);
    let entry = |i: usize| {
        let tx = &candidates[i].tx;
        (tx.sender, tx.nonce(), tx.gas_limit())
    };
    let gas: u64 = answer
        .iter()
        .filter_map(|&i| candidates.get(i as usize))
        .map(|c| c.tx.gas_limit())
        .sum();
    let within = answer.len() <= n && promised && gas <= gas_limit;
    assert_eq!(check_answer(&answer, n, gas_limit, entry).is_ok(), within);
    assert_eq!(check_answer(&answer, n, u64::MAX, entry).is_ok(), promised);

    // A plan: bundles in range and used once, its public part an accepted order.
    let offers = offers(&mut r, &candidates, senders);
    let plan: Vec<PlanStep> = (0..r.u8())
        .map(|_| match (r.u8() % 2, u32::from(r.u8())) {
            (0, i) => PlanStep::Tx(i),
            (_, i) => PlanStep::Bundle(i),
        })
        .collect();
    let bundles: Vec<u32> = plan
        .iter()
        .filter_map(|s| match s {
            PlanStep::Bundle(i) => Some(*i),
            PlanStep::Tx(_) => None,
        })
        .collect();
    let bundles_ok = bundles.iter().all(|&i| (i as usize) < offers.len())
        && (0..bundles.len()).all(|a| !bundles[a + 1..].contains(&bundles[a]));
    assert_eq!(
        check_plan(&candidates, &offers, &plan).is_ok(),
        bundles_ok && keeps_order_promises(&candidates, &tx_steps(&plan))
    );

    // The native policy's answer is a full, accepted order, and its default bundle
    // placement keeps that order and passes the plan check.
    let ctx = OrderingContext {
        number: 1,
        timestamp: 1,
        base_fee: BASE_FEE,
        gas_limit,
        coinbase: Address::ZERO,
        parent_hash: B256::ZERO,
    };
    let native = PriorityFeeOrdering
        .order(&ctx, &candidates)
        .expect("the native policy answers");
    assert_eq!(native.len(), n);
    assert!(check_order(&candidates, &native).is_ok());
    assert!(check_answer(&native, n, u64::MAX, entry).is_ok());
    let placed = place_by_bid(&candidates, &native, &offers);
    assert_eq!(tx_steps(&placed), native);
    assert!(check_plan(&candidates, &offers, &placed).is_ok());

    // A searcher's answer: accepted exactly when its shape is within the contract, and then
    // lifted without loss.
    let wire = searcher_answer(&mut r);
    let shaped = wire.len() <= MAX_BUNDLES_PER_CALL
        && wire.iter().all(|b| {
            (1..=MAX_TXS_PER_BUNDLE).contains(&b.txs.len())
                && b.txs
                    .iter()
                    .all(|tx| (1..=MAX_BUNDLE_TX_BYTES).contains(&tx.len()))
        });
    let expected: Vec<(Vec<Vec<u8>>, Placement, U256)> = wire
        .iter()
        .map(|b| {
            let placement = match &b.placement {
                Wire::TopOfBlock => Placement::TopOfBlock,
                Wire::After(hash) => Placement::After(b256(hash)),
            };
            (
                b.txs.clone(),
                placement,
                U256::from_be_bytes(b256(&b.bid).0),
            )
        })
        .collect();
    match check_bundles(wire) {
        Ok(checked) => {
            assert!(shaped, "a searcher answer outside the contract was accepted");
            assert_eq!(checked.len(), expected.len());
            for (got, (txs, placement, bid)) in checked.iter().zip(&expected) {
                assert!(got.txs.iter().map(|t| &t[..]).eq(txs.iter().map(|t| &t[..])));
                assert_eq!(got.placement, *placement);
                assert_eq!(got.bid, *bid);
            }
        }
        Err(_) => assert!(!shaped, "a searcher answer within the contract was refused"),
    }
});
