//! Ordering plugins: the world's exports, the call and the re-checks of its answer, the
//! self-test, and the per-block [`OrderingPolicy`] the builder sees ([`BlockPolicy`]: the
//! active plugin or the native policy, plus the shadow run after it on its own thread).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256};
use ordo_hooks::{OrderingContext, OrderingError, OrderingPolicy, PriorityFeeOrdering};
use ordo_primitives::Candidate;
use parking_lot::Mutex;
use wasmtime::component::InstancePre;

use crate::{
    abi::RawCandidateSet,
    bindings::{self, types},
    convert::{address, bytes20, bytes32, fill_candidate_set, raw_set, wit_context},
    engine::{PluginEngine, StoreData},
    error::{CallFailure, FailureReason},
    health::{AnswerScore, ShadowStats},
    plugin::{Exports, KindContract, LoadedPlugin, export},
    samples::{SELF_TEST_BLOCK, self_test_set},
    supervisor::{Supervisor, account},
};

/// The world's exported interface, as named in components built against it.
const EXPORT: &str = "ordo:plugin/ordering@0.1.0";

/// What loading checks of an ordering plugin.
pub(crate) static CONTRACT: KindContract = KindContract {
    may_import: &["host"],
    exports,
    self_test: |engine, plugin| self_test(engine, plugin),
};

fn exports(pre: &InstancePre<StoreData>) -> Result<Exports, String> {
    // The generated indices type-check every export of the world.
    bindings::ordering::OrderingPluginIndices::new(pre).map_err(|e| format!("{e:#}"))?;
    let iface = export(pre, None, EXPORT)?;
    Ok(Exports::Ordering {
        order: export(pre, Some(&iface), "order")?,
    })
}

/// The contract's checks on an answer: indices in range and unique, each sender's nonces
/// ascending, total gas within the block gas limit, no longer than the candidate list.
/// `entry(i)` gives candidate `i`'s sender, nonce and gas limit.
pub fn check_answer(
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

fn self_test(engine: &PluginEngine, plugin: &LoadedPlugin) -> Result<(), String> {
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
    /// Set while a shadow run is in flight: the manager's one flag, shared by every slot.
    pub busy: Arc<AtomicBool>,
}

/// The ordering policy of one block, fixed when the builder asked for it: later
/// activations do not change it.
pub(crate) struct BlockPolicy {
    pub supervisor: Arc<dyn Supervisor>,
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
            Some(plugin) => run(&*self.supervisor, plugin, ctx, candidates),
            None => PriorityFeeOrdering.order(ctx, candidates),
        };
        if let (Some(shadow), Ok(answer)) = (&self.shadow, &answer) {
            spawn_shadow(
                &self.supervisor,
                shadow,
                ctx,
                candidates,
                answer,
                start.elapsed(),
            );
        }
        answer
    }
}

/// The active plugin's answer for one block, counted.
fn run(
    supervisor: &dyn Supervisor,
    plugin: &Arc<LoadedPlugin>,
    ctx: &OrderingContext,
    candidates: &[Candidate],
) -> Result<Vec<u32>, OrderingError> {
    let _span = plugin.span("order").entered();
    let start = Instant::now();
    let result = order_checked(supervisor.engine(), plugin, ctx, candidates);
    account(supervisor, plugin, result, start, true)
        .map_err(|e| OrderingError::Failed(e.to_string()))
}

/// Clears the shadow-busy flag however the shadow thread ends.
struct BusyGuard(Arc<AtomicBool>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Runs the shadow on its own thread against the active answer. At most one shadow
/// run is in flight; a block arriving meanwhile is skipped (and counted), so a slow
/// shadow can never pile up threads or delay blocks.
fn spawn_shadow(
    supervisor: &Arc<dyn Supervisor>,
    shadow: &ShadowSlot,
    ctx: &OrderingContext,
    candidates: &[Candidate],
    active_answer: &[u32],
    active_elapsed: Duration,
) {
    if shadow.busy.swap(true, Ordering::AcqRel) {
        shadow.stats.lock().blocks_skipped += 1;
        return;
    }
    let guard = BusyGuard(shadow.busy.clone());
    let supervisor = supervisor.clone();
    let shadow = shadow.clone();
    let ctx = *ctx;
    // Cheap: candidates are `Arc`s; the active answer is a list of indices.
    let candidates = candidates.to_vec();
    let active = score(&ctx, &candidates, active_answer, active_elapsed);
    let spawned = std::thread::Builder::new()
        .name("ordo-plugin-shadow".into())
        .spawn(move || {
            let _span = shadow.plugin.span("shadow-order").entered();
            let start = Instant::now();
            let result = order_checked(supervisor.engine(), &shadow.plugin, &ctx, &candidates);
            let elapsed = start.elapsed();
            let mut stats = shadow.stats.lock();
            match result {
                Ok(answer) => stats.compared(active, score(&ctx, &candidates, &answer, elapsed)),
                Err(failure) => stats.failed(&failure),
            }
            drop(stats);
            drop(guard);
        });
    if let Err(e) = spawned {
        tracing::warn!(target: "ordo::plugins", "shadow thread not started: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::PluginsConfig, info::PluginKind, testing};

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

    /// What the `dump` fixture mode answers for candidate `i`, computed from the records
    /// wasmtime's derived lowering would have sent.
    fn expected(ctx: &types::BlockContext, set: &types::CandidateSet, i: usize) -> Vec<u32> {
        let mut w = vec![set.txs.len() as u32, set.calldata.len() as u32];
        let u64 = |w: &mut Vec<u32>, v: u64| w.extend([(v >> 32) as u32, v as u32]);
        let c = &set.txs[i];
        for v in [
            c.hash.w0,
            c.hash.w1,
            c.hash.w2,
            c.hash.w3,
            c.sender.hi,
            c.sender.mid,
        ] {
            u64(&mut w, v);
        }
        w.push(c.sender.lo);
        u64(&mut w, c.nonce);
        u64(&mut w, c.to.hi);
        u64(&mut w, c.to.mid);
        w.push(c.to.lo);
        w.push(u32::from(c.is_create));
        w.push(u32::from(c.tx_type));
        for v in [
            c.value.w0,
            c.value.w1,
            c.value.w2,
            c.value.w3,
            c.gas_limit,
            c.max_fee_per_gas,
            c.max_priority_fee_per_gas,
            c.arrival_seq,
            c.arrival_ms,
        ] {
            u64(&mut w, v);
        }
        w.extend([c.encoded_len, c.input_offset, c.input_len]);
        let input = &set.calldata[c.input_offset as usize..][..c.input_len as usize];
        w.extend(input.iter().map(|b| u32::from(*b)));
        for v in [
            ctx.number,
            ctx.timestamp,
            ctx.base_fee,
            ctx.gas_limit,
            ctx.coinbase.hi,
        ] {
            u64(&mut w, v);
        }
        u64(&mut w, ctx.coinbase.mid);
        w.push(ctx.coinbase.lo);
        for v in [
            ctx.parent_hash.w0,
            ctx.parent_hash.w1,
            ctx.parent_hash.w2,
            ctx.parent_hash.w3,
        ] {
            u64(&mut w, v);
        }
        w
    }

    #[test]
    fn the_guest_reads_the_image_as_records() {
        let config = PluginsConfig::default();
        let engine = PluginEngine::new(&config).unwrap();
        let plugin = LoadedPlugin::load(
            &engine,
            config.ordering,
            PluginKind::Ordering,
            &testing::fixture("ordering"),
            "mode=dump arm=1",
            &CONTRACT,
        )
        .unwrap();
        let mut set = self_test_set(20, 8);
        // Distinct values in every field, including the ones the generator leaves fixed.
        for (i, c) in set.txs.iter_mut().enumerate() {
            let i = i as u64;
            c.to = types::Bytes20 {
                hi: 0x0101 + i,
                mid: u64::MAX - i,
                lo: 0xdead_0000 + i as u32,
            };
            c.value = types::Bytes32 {
                w0: i,
                w1: i << 8,
                w2: i << 16,
                w3: u64::MAX - i,
            };
            c.is_create = i.is_multiple_of(3);
            c.tx_type = (i % 5) as u8;
        }
        let raw = raw_set(&set);
        for i in [0, 1, 77, set.txs.len() - 1] {
            let ctx = types::BlockContext {
                number: 9,
                timestamp: i as u64,
                base_fee: 0x1234_5678_9abc,
                gas_limit: u64::MAX - 1,
                coinbase: types::Bytes20 {
                    hi: 1,
                    mid: 2,
                    lo: 3,
                },
                parent_hash: types::Bytes32 {
                    w0: 4,
                    w1: 5,
                    w2: 6,
                    w3: 7,
                },
            };
            let got = call_order(&engine, &plugin, ctx, &raw).unwrap();
            assert_eq!(got, expected(&ctx, &set, i), "candidate {i}");
        }
    }
}
