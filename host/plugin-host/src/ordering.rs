//! Ordering plugins: the host's candidates in WIT form, the call, the re-checks, the
//! self-test, and the per-block policy the builder sees.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{
    PluginManager,
    abi::RawCandidateSet,
    bindings::types,
    engine::{CallFailure, FailureReason, PluginEngine},
    health::{AnswerScore, ShadowStats},
    plugin::{Exports, LoadedPlugin},
};
use alloy_consensus::{Transaction, Typed2718};
use alloy_primitives::{Address, B256, TxKind};
use ordo_hooks::{OrderingContext, OrderingError, OrderingPolicy, PriorityFeeOrdering};
use ordo_primitives::Candidate;
use parking_lot::Mutex;

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

fn address(b: &types::Bytes20) -> Address {
    let mut out = [0u8; 20];
    out[0..8].copy_from_slice(&b.hi.to_be_bytes());
    out[8..16].copy_from_slice(&b.mid.to_be_bytes());
    out[16..20].copy_from_slice(&b.lo.to_be_bytes());
    Address::from(out)
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

/// The contract's checks on an answer: indices in range and unique, each sender's nonces
/// ascending, total gas within the block gas limit, no longer than the candidate list.
/// `entry(i)` gives candidate `i`'s sender, nonce and gas limit.
pub(crate) fn check_answer(
    order: &[u32],
    n: usize,
    gas_limit: u64,
    entry: impl Fn(usize) -> (Address, u64, u64),
) -> Result<(), String> {
    if order.len() > n {
        return Err(format!("{} indices for {n} candidates", order.len()));
    }
    let mut seen = vec![false; n];
    // foldhash, randomly seeded: several times faster than SipHash on 20-byte keys (this
    // check runs on every block) and still not steerable by senders grinding addresses.
    let mut last_nonce: alloy_primitives::map::HashMap<Address, u64> =
        alloy_primitives::map::HashMap::with_capacity_and_hasher(order.len(), Default::default());
    let mut gas = 0u64;
    for &i in order {
        let idx = i as usize;
        let Some(slot) = seen.get_mut(idx) else {
            return Err(format!("index {i} out of range ({n} candidates)"));
        };
        if std::mem::replace(slot, true) {
            return Err(format!("index {i} repeated"));
        }
        let (sender, nonce, tx_gas) = entry(idx);
        if let Some(prev) = last_nonce.insert(sender, nonce)
            && prev >= nonce
        {
            return Err(format!(
                "sender {sender} nonces out of order ({prev} before {nonce})"
            ));
        }
        gas = gas.saturating_add(tx_gas);
        if gas > gas_limit {
            return Err(format!("total gas above the block gas limit {gas_limit}"));
        }
    }
    Ok(())
}

/// One call of `order` in a fresh store. The answer is lifted into a host `Vec` inside the
/// call: wasmtime runs the guest's post-return (which frees the list) before `call` returns,
/// so a `WasmList` read afterwards would see freed guest memory. The copy is bounded by the
/// guest's memory cap, and an answer longer than the candidate list is still refused.
pub(crate) fn call_order(
    engine: &PluginEngine,
    plugin: &LoadedPlugin,
    ctx: types::BlockContext,
    set: &RawCandidateSet,
) -> Result<Vec<u32>, CallFailure> {
    let Exports::Ordering { order } = &plugin.exports else {
        return Err(CallFailure::new(
            FailureReason::Instantiate,
            "not an ordering plugin",
        ));
    };
    let (mut cs, instance) = plugin.instantiate(engine)?;
    let func = cs.typed::<(types::BlockContext, &RawCandidateSet), _>(&instance, order)?;
    let list: Vec<u32> = cs.call(&func, (ctx, set))?;
    if list.len() > set.len() {
        return Err(CallFailure::invalid(format!(
            "{} indices for {} candidates",
            list.len(),
            set.len()
        )));
    }
    Ok(list)
}

/// Runs `plugin` on the host's candidates and re-checks the answer.
pub(crate) fn order_checked(
    engine: &PluginEngine,
    plugin: &LoadedPlugin,
    ctx: &OrderingContext,
    candidates: &[Candidate],
) -> Result<Vec<u32>, CallFailure> {
    // The buffers are reused across blocks; a concurrent call (rare: the same plugin as
    // active and shadow) just builds its own.
    let mut fresh;
    let mut guard = plugin.scratch.try_lock();
    let set = match guard.as_deref_mut() {
        Some(set) => set,
        None => {
            fresh = RawCandidateSet::default();
            &mut fresh
        }
    };
    fill_candidate_set(set, candidates);
    let order = call_order(engine, plugin, wit_context(ctx), set)?;
    check_answer(&order, candidates.len(), ctx.gas_limit, |i| {
        let tx = &candidates[i].tx;
        (tx.sender, tx.nonce(), tx.gas_limit())
    })
    .map_err(CallFailure::invalid)?;
    Ok(order)
}

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

/// Block number the self-test runs at: before any real block (block 0 is genesis).
pub const SELF_TEST_BLOCK: u64 = 0;

/// The WIT records in the form the call takes.
pub(crate) fn raw_set(set: &types::CandidateSet) -> RawCandidateSet {
    let mut raw = RawCandidateSet::default();
    for c in &set.txs {
        raw.txs.push(c);
    }
    raw.calldata.0.extend_from_slice(&set.calldata);
    raw
}

pub(crate) fn self_test(engine: &PluginEngine, plugin: &LoadedPlugin) -> Result<(), String> {
    let full = self_test_set(12, 4);
    let empty = types::CandidateSet {
        txs: Vec::new(),
        calldata: Vec::new(),
    };
    let ctx = |gas_limit| types::BlockContext {
        number: SELF_TEST_BLOCK,
        timestamp: 1_700_000_000,
        base_fee: 10_000_000_000,
        gas_limit,
        coinbase: bytes20(&Address::repeat_byte(0xc0)),
        parent_hash: bytes32(&[0x22; 32]),
    };
    let cases = [
        ("empty candidate set", ctx(30_000_000), &empty),
        ("48 candidates", ctx(30_000_000), &full),
        ("48 candidates, gas limit 250000", ctx(250_000), &full),
    ];
    for (what, ctx, set) in cases {
        let order =
            call_order(engine, plugin, ctx, &raw_set(set)).map_err(|f| format!("{what}: {f}"))?;
        check_answer(&order, set.txs.len(), ctx.gas_limit, |i| {
            let c = &set.txs[i];
            (address(&c.sender), c.nonce, c.gas_limit)
        })
        .map_err(|e| format!("{what}: {}: {e}", FailureReason::InvalidAnswer))?;
    }
    Ok(())
}

/// `Σ effective tip × gas limit` and the count of the answer's transactions that fit the
/// gas limit, in answer order (the builder stops at the first that does not fit).
pub(crate) fn score(
    ctx: &OrderingContext,
    candidates: &[Candidate],
    answer: &[u32],
    elapsed: Duration,
) -> AnswerScore {
    let mut gas = 0u64;
    let mut score = AnswerScore {
        call_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        ..Default::default()
    };
    for &i in answer {
        let Some(c) = candidates.get(i as usize) else {
            break;
        };
        gas = gas.saturating_add(c.tx.gas_limit());
        if gas > ctx.gas_limit {
            break;
        }
        score.txs += 1;
        let tip = c.tx.effective_tip(ctx.base_fee).unwrap_or(0);
        score.fees = score
            .fees
            .saturating_add(tip.saturating_mul(u128::from(c.tx.gas_limit())));
    }
    score
}

/// The shadow plugin of a block and where its comparison goes.
#[derive(Clone)]
pub(crate) struct ShadowSlot {
    pub plugin: Arc<LoadedPlugin>,
    pub stats: Arc<Mutex<ShadowStats>>,
}

/// The ordering policy of one block, fixed when the builder asked for it: later
/// activations do not change it.
pub(crate) struct BlockPolicy {
    pub manager: Arc<PluginManager>,
    pub active: Option<Arc<LoadedPlugin>>,
    pub shadow: Option<ShadowSlot>,
}

impl OrderingPolicy for BlockPolicy {
    fn name(&self) -> &str {
        match &self.active {
            Some(p) => &p.info.name,
            None => PriorityFeeOrdering.name(),
        }
    }

    fn version(&self) -> &str {
        match &self.active {
            Some(p) => &p.info.version,
            None => PriorityFeeOrdering.version(),
        }
    }

    fn code_hash(&self) -> B256 {
        match &self.active {
            Some(p) => p.info.code_hash,
            None => PriorityFeeOrdering.code_hash(),
        }
    }

    fn order(
        &self,
        ctx: &OrderingContext,
        candidates: &[Candidate],
    ) -> Result<Vec<u32>, OrderingError> {
        let start = Instant::now();
        let answer = match &self.active {
            Some(plugin) => self.manager.run_ordering(plugin, ctx, candidates),
            None => PriorityFeeOrdering.order(ctx, candidates),
        };
        if let (Some(shadow), Ok(answer)) = (&self.shadow, &answer) {
            self.manager
                .spawn_shadow(shadow, ctx, candidates, answer, start.elapsed());
        }
        answer
    }
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

    #[test]
    fn answers_are_checked_like_the_contract_says() {
        let a = Address::repeat_byte(1);
        let b = Address::repeat_byte(2);
        // (sender, nonce, gas)
        let set = [(a, 0, 10), (a, 1, 10), (b, 5, 10)];
        let check = |order: &[u32], gas| check_answer(order, set.len(), gas, |i| set[i]);
        assert!(check(&[2, 0, 1], 30).is_ok());
        assert!(check(&[], 0).is_ok());
        assert!(check(&[3], 30).unwrap_err().contains("out of range"));
        assert!(check(&[0, 0], 30).unwrap_err().contains("repeated"));
        assert!(
            check(&[1, 0], 30)
                .unwrap_err()
                .contains("nonces out of order")
        );
        assert!(check(&[0, 1, 2], 29).unwrap_err().contains("gas limit"));
        assert!(check(&[0, 1, 2, 0], 30).unwrap_err().contains("4 indices"));
    }

    #[test]
    fn the_self_test_set_respects_the_contract_ordering_promise() {
        let set = self_test_set(12, 4);
        assert_eq!(set.txs.len(), 48);
        // Identity order is valid: each sender's nonces come ascending.
        let identity: Vec<u32> = (0..48).collect();
        check_answer(&identity, 48, u64::MAX, |i| {
            let c = &set.txs[i];
            (address(&c.sender), c.nonce, c.gas_limit)
        })
        .unwrap();
        for c in &set.txs {
            let end = (c.input_offset + c.input_len) as usize;
            assert!(end <= set.calldata.len());
        }
    }
}
