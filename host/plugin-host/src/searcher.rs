//! Searcher plugins: the `pre-state` imports backed by the builder's [`PreStateView`] with
//! a per-block gas budget, the call with its answer checks, the self-test, and the
//! [`SearcherHost`] the builder sees.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes, U256};
use ordo_hooks::{
    CallView, OrderingContext, Placement, PreStateView, ProposedBundle, SearcherHost,
};
use ordo_primitives::Candidate;

use crate::{
    PluginManager,
    abi::RawCandidateSet,
    bindings::{
        pre_state,
        searcher::exports::ordo::plugin::searcher::{Bundle, Placement as WirePlacement},
        types,
    },
    engine::{CallFailure, FailureReason, PluginEngine, StoreData},
    ordering::{
        SELF_TEST_BLOCK, bytes20, bytes32, fill_candidate_set, raw_set, self_test_set, wit_context,
    },
    plugin::{Exports, LoadedPlugin},
};

/// Bundles one searcher may propose per block.
pub const MAX_BUNDLES_PER_CALL: usize = 16;
/// Transactions per bundle.
pub const MAX_TXS_PER_BUNDLE: usize = 16;
/// Size of one signed transaction in a bundle.
pub const MAX_BUNDLE_TX_BYTES: usize = 128 << 10;
/// Gas a searcher may spend in `pre-state.call`s per block (summed over its calls).
pub const SEARCHER_CALL_GAS_PER_BLOCK: u64 = 10_000_000;
/// Budget every `pre-state.call` costs at least (a transaction's intrinsic gas), whatever
/// gas it asked for or used: free calls would let a searcher call without end.
pub const MIN_CALL_GAS_CHARGE: u64 = 21_000;
/// Calldata a searcher may pass to one `pre-state.call`.
pub const MAX_CALL_DATA_BYTES: usize = 128 << 10;
/// Return data one `pre-state.call` may hand back to a searcher.
pub const MAX_CALL_OUTPUT_BYTES: usize = 128 << 10;

/// The pre-state of one searcher call and what is left of its gas budget.
pub(crate) struct SearchState {
    view: Arc<dyn PreStateView>,
    gas_left: u64,
    /// The search call's wall-clock deadline. Epoch interruption cannot stop the guest while
    /// the host runs a pre-state call for it, so the EVM stops there on its own.
    deadline: Instant,
}

impl SearchState {
    pub(crate) fn new(view: Arc<dyn PreStateView>, deadline: Instant) -> Self {
        Self {
            view,
            gas_left: SEARCHER_CALL_GAS_PER_BLOCK,
            deadline,
        }
    }
}

fn address(b: &types::Bytes20) -> Address {
    let mut out = [0u8; 20];
    out[0..8].copy_from_slice(&b.hi.to_be_bytes());
    out[8..16].copy_from_slice(&b.mid.to_be_bytes());
    out[16..20].copy_from_slice(&b.lo.to_be_bytes());
    Address::from(out)
}

fn b256(b: &types::Bytes32) -> B256 {
    let mut out = [0u8; 32];
    for (i, w) in [b.w0, b.w1, b.w2, b.w3].iter().enumerate() {
        out[i * 8..i * 8 + 8].copy_from_slice(&w.to_be_bytes());
    }
    B256::from(out)
}

fn u256(b: &types::Bytes32) -> U256 {
    U256::from_be_bytes(b256(b).0)
}

impl StoreData {
    fn view(&self) -> Option<&Arc<dyn PreStateView>> {
        self.search.as_ref().map(|s| &s.view)
    }
}

// Only searchers can import `pre-state` (load refuses it for other kinds), and every
// searcher store carries a `SearchState`; without one the reads answer zero.
impl pre_state::Host for StoreData {
    fn balance(&mut self, address_: types::Bytes20) -> types::Bytes32 {
        let value = self
            .view()
            .map(|v| v.balance(address(&address_)))
            .unwrap_or_default();
        bytes32(&value.to_be_bytes::<32>())
    }

    fn nonce(&mut self, address_: types::Bytes20) -> u64 {
        self.view()
            .map(|v| v.nonce(address(&address_)))
            .unwrap_or_default()
    }

    fn storage(&mut self, address_: types::Bytes20, slot: types::Bytes32) -> types::Bytes32 {
        let value = self
            .view()
            .map(|v| v.storage(address(&address_), b256(&slot)))
            .unwrap_or_default();
        bytes32(&value.0)
    }

    fn code_hash(&mut self, address_: types::Bytes20) -> types::Bytes32 {
        let value = self
            .view()
            .map(|v| v.code_hash(address(&address_)))
            .unwrap_or_default();
        bytes32(&value.0)
    }

    fn call(&mut self, request: pre_state::CallRequest) -> Result<pre_state::CallResult, String> {
        let Some(search) = self.search.as_mut() else {
            return Err("pre-state is not available".into());
        };
        if search.gas_left == 0 {
            return Err("gas budget exhausted".into());
        }
        // Every call costs at least the minimum, refused or not: nothing is free.
        if request.data.len() > MAX_CALL_DATA_BYTES {
            search.gas_left = search.gas_left.saturating_sub(MIN_CALL_GAS_CHARGE);
            return Err(format!(
                "calldata of {} bytes (at most {MAX_CALL_DATA_BYTES})",
                request.data.len()
            ));
        }
        if Instant::now() >= search.deadline {
            search.gas_left = search.gas_left.saturating_sub(MIN_CALL_GAS_CHARGE);
            return Err("deadline exceeded".into());
        }
        let gas = request.gas.min(search.gas_left);
        let answer = search.view.call(
            address(&request.from),
            address(&request.to),
            u256(&request.value),
            gas,
            Bytes::from(request.data),
            search.deadline,
        );
        // Never trust the view to stay within what it was given.
        let used = answer.as_ref().map_or(0, |a| a.gas_used.min(gas));
        search.gas_left = search
            .gas_left
            .saturating_sub(used.max(MIN_CALL_GAS_CHARGE));
        let answer = answer.map_err(|e| e.to_string())?;
        if answer.output.len() > MAX_CALL_OUTPUT_BYTES {
            return Err(format!(
                "call output of {} bytes (at most {MAX_CALL_OUTPUT_BYTES})",
                answer.output.len()
            ));
        }
        Ok(pre_state::CallResult {
            success: answer.success,
            gas_used: used,
            output: answer.output.to_vec(),
        })
    }
}

/// A bundle that passed the checks, before it is tagged with the searcher's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckedBundle {
    pub txs: Vec<Bytes>,
    pub placement: Placement,
    pub bid: U256,
}

/// One `search` call in a fresh store with `state` behind the `pre-state` imports.
///
/// The answer is lifted whole (bounded by the store's host-transfer cap, the memory cap),
/// then checked: wasmtime runs the guest's post-return (which frees the answer) inside
/// `call`, so a [`WasmList`](wasmtime::component::WasmList) read afterwards could see
/// memory the guest's allocator has already reused.
pub(crate) fn call_search(
    engine: &PluginEngine,
    plugin: &LoadedPlugin,
    ctx: types::BlockContext,
    set: &RawCandidateSet,
    state: Arc<dyn PreStateView>,
) -> Result<Vec<CheckedBundle>, CallFailure> {
    let Exports::Searcher { search } = &plugin.exports else {
        return Err(CallFailure::new(
            FailureReason::Instantiate,
            "not a searcher plugin",
        ));
    };
    let deadline = Instant::now() + Duration::from_millis(plugin.call_limits(engine).deadline_ms);
    let (mut cs, instance) = plugin.instantiate(engine)?;
    cs.store.data_mut().search = Some(SearchState::new(state, deadline));
    let func = cs.typed::<(types::BlockContext, &RawCandidateSet), _>(&instance, search)?;
    let bundles: Vec<Bundle> = cs.call(&func, (ctx, set))?;
    check_bundles(bundles).map_err(CallFailure::invalid)
}

/// The contract's shape checks: at most [`MAX_BUNDLES_PER_CALL`] bundles of 1 to
/// [`MAX_TXS_PER_BUNDLE`] transactions of 1 to [`MAX_BUNDLE_TX_BYTES`] bytes each.
pub(crate) fn check_bundles(bundles: Vec<Bundle>) -> Result<Vec<CheckedBundle>, String> {
    if bundles.len() > MAX_BUNDLES_PER_CALL {
        return Err(format!(
            "{} bundles (at most {MAX_BUNDLES_PER_CALL})",
            bundles.len()
        ));
    }
    bundles
        .into_iter()
        .enumerate()
        .map(|(i, bundle)| {
            if !(1..=MAX_TXS_PER_BUNDLE).contains(&bundle.txs.len()) {
                return Err(format!(
                    "bundle {i}: {} txs (1 to {MAX_TXS_PER_BUNDLE})",
                    bundle.txs.len()
                ));
            }
            if let Some((j, tx)) = bundle
                .txs
                .iter()
                .enumerate()
                .find(|(_, tx)| !(1..=MAX_BUNDLE_TX_BYTES).contains(&tx.len()))
            {
                return Err(format!(
                    "bundle {i} tx {j}: {} bytes (1 to {MAX_BUNDLE_TX_BYTES})",
                    tx.len()
                ));
            }
            Ok(CheckedBundle {
                txs: bundle.txs.into_iter().map(Bytes::from).collect(),
                placement: match bundle.placement {
                    WirePlacement::TopOfBlock => Placement::TopOfBlock,
                    WirePlacement::After(hash) => Placement::After(b256(&hash)),
                },
                bid: u256(&bundle.bid),
            })
        })
        .collect()
}

/// The self-test's pre-state: every account empty, every call succeeds with no output.
struct ZeroState;

impl PreStateView for ZeroState {
    fn balance(&self, _: Address) -> U256 {
        U256::ZERO
    }

    fn nonce(&self, _: Address) -> u64 {
        0
    }

    fn storage(&self, _: Address, _: B256) -> B256 {
        B256::ZERO
    }

    fn code_hash(&self, _: Address) -> B256 {
        B256::ZERO
    }

    fn call(
        &self,
        _: Address,
        _: Address,
        _: U256,
        _: u64,
        _: Bytes,
        _: Instant,
    ) -> Result<CallView, ordo_hooks::PreStateError> {
        Ok(CallView {
            success: true,
            gas_used: 0,
            output: Bytes::new(),
        })
    }
}

/// Runs `search` on an empty and on a small candidate set over an all-zero pre-state; both
/// answers must be well-formed bundle lists (their contents are only checked for shape).
pub(crate) fn self_test(engine: &PluginEngine, plugin: &LoadedPlugin) -> Result<(), String> {
    let small = self_test_set(3, 2);
    let empty = types::CandidateSet {
        txs: Vec::new(),
        calldata: Vec::new(),
    };
    let ctx = types::BlockContext {
        number: SELF_TEST_BLOCK,
        timestamp: 1_700_000_000,
        base_fee: 10_000_000_000,
        gas_limit: 30_000_000,
        coinbase: bytes20(&Address::repeat_byte(0xc0)),
        parent_hash: bytes32(&[0x22; 32]),
    };
    for (what, set) in [("empty candidate set", &empty), ("6 candidates", &small)] {
        call_search(engine, plugin, ctx, &raw_set(set), Arc::new(ZeroState))
            .map_err(|f| format!("{what}: {f}"))?;
    }
    Ok(())
}

/// Runs every active searcher for one block, within a round budget of
/// [`SEARCHER_ROUND_DEADLINES`] searcher deadlines: once it is spent the rest sit this block
/// out (not a failure). The starting searcher rotates with the block number, so a slow one
/// cannot always push the same others out.
pub(crate) struct ManagerSearchers(pub Arc<PluginManager>);

/// The whole round of searchers gets this many single-searcher deadlines.
pub const SEARCHER_ROUND_DEADLINES: u32 = 2;

impl SearcherHost for ManagerSearchers {
    fn search(
        &self,
        ctx: &OrderingContext,
        candidates: &[Candidate],
        state: Arc<dyn PreStateView>,
    ) -> Vec<ProposedBundle> {
        let searchers = self.0.active_searchers();
        if searchers.is_empty() {
            return Vec::new();
        }
        let mut set = RawCandidateSet::default();
        fill_candidate_set(&mut set, candidates);
        let wit_ctx = wit_context(ctx);
        let round = std::time::Duration::from_millis(self.0.config().searcher.deadline_ms)
            * SEARCHER_ROUND_DEADLINES;
        let began = Instant::now();
        let first = (ctx.number % searchers.len() as u64) as usize;
        // Answers are kept per searcher and returned in activation order whoever ran first.
        let mut answers: Vec<Vec<ProposedBundle>> = vec![Vec::new(); searchers.len()];
        for i in 0..searchers.len() {
            let slot = (first + i) % searchers.len();
            let plugin = &searchers[slot];
            if began.elapsed() >= round {
                tracing::warn!(target: "ordo::plugins", searcher = %plugin.info.name, block = ctx.number, "searcher round budget spent; skipped this block");
                continue;
            }
            let _span = plugin.span("search").entered();
            let start = Instant::now();
            let result = call_search(&self.0.engine, plugin, wit_ctx, &set, state.clone());
            // A failure is counted and logged by `account`; the searcher is skipped.
            if let Ok(bundles) = self.0.account(plugin, result, start, true) {
                answers[slot].extend(bundles.into_iter().map(|b| ProposedBundle {
                    searcher: plugin.info.name.clone(),
                    txs: b.txs,
                    placement: b.placement,
                    bid: b.bid,
                }));
            }
        }
        answers.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(txs: Vec<Vec<u8>>) -> Bundle {
        Bundle {
            txs,
            placement: WirePlacement::After(bytes32(&[7; 32])),
            bid: bytes32(&U256::from(5).to_be_bytes::<32>()),
        }
    }

    #[test]
    fn bundles_are_checked_like_the_contract_says() {
        let ok = check_bundles(vec![bundle(vec![vec![1, 2]])]).unwrap();
        assert_eq!(
            ok,
            vec![CheckedBundle {
                txs: vec![Bytes::from_static(&[1, 2])],
                placement: Placement::After(B256::repeat_byte(7)),
                bid: U256::from(5),
            }]
        );
        assert!(check_bundles(Vec::new()).unwrap().is_empty());
        let many = (0..17).map(|_| bundle(vec![vec![1]])).collect();
        assert!(check_bundles(many).unwrap_err().contains("17 bundles"));
        let sixteen = (0..16).map(|_| bundle(vec![vec![1]; 16])).collect();
        assert_eq!(check_bundles(sixteen).unwrap().len(), 16);
        let err = check_bundles(vec![bundle(vec![vec![1]; 17])]).unwrap_err();
        assert!(err.contains("17 txs"), "{err}");
        let err = check_bundles(vec![bundle(Vec::new())]).unwrap_err();
        assert!(err.contains("0 txs"), "{err}");
        let err = check_bundles(vec![bundle(vec![vec![1], Vec::new()])]).unwrap_err();
        assert!(err.contains("bundle 0 tx 1: 0 bytes"), "{err}");
        let err = check_bundles(vec![bundle(vec![vec![0; MAX_BUNDLE_TX_BYTES + 1]])]).unwrap_err();
        assert!(err.contains("131073 bytes"), "{err}");
        assert!(check_bundles(vec![bundle(vec![vec![0; MAX_BUNDLE_TX_BYTES]])]).is_ok());
    }
}
