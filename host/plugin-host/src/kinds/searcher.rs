//! Searcher plugins: the world's exports, the `search` call (with the builder's pre-state
//! behind the `pre-state` imports) and the shape checks of its bundles, the self-test, and
//! the [`SearcherHost`] the builder sees ([`ActiveSearchers`]).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes, U256};
use ordo_hooks::{
    CallView, OrderingContext, Placement, PreStateView, ProposedBundle, SearcherHost,
};
use ordo_primitives::Candidate;
use wasmtime::component::InstancePre;

use crate::{
    abi::RawCandidateSet,
    bindings::{
        self,
        searcher::exports::ordo::plugin::searcher::{Bundle, Placement as WirePlacement},
        types,
    },
    convert::{b256, bytes20, bytes32, fill_candidate_set, raw_set, u256, wit_context},
    engine::{PluginEngine, StoreData},
    error::{CallFailure, FailureReason},
    plugin::{Exports, KindContract, LoadedPlugin, export},
    pre_state::SearchState,
    samples::{SELF_TEST_BLOCK, self_test_set},
    supervisor::{Supervisor, account},
};

/// Bundles one searcher may propose per block.
pub const MAX_BUNDLES_PER_CALL: usize = 16;
/// Transactions per bundle.
pub const MAX_TXS_PER_BUNDLE: usize = 16;
/// Size of one signed transaction in a bundle.
pub const MAX_BUNDLE_TX_BYTES: usize = 128 << 10;

/// The world's exported interface, as named in components built against it.
const EXPORT: &str = "ordo:plugin/searcher@0.1.0";

/// What loading checks of a searcher plugin: it may also import `pre-state`.
pub(crate) static CONTRACT: KindContract = KindContract {
    may_import: &["host", "pre-state"],
    exports,
    self_test: |engine, plugin| self_test(engine, plugin),
};

fn exports(pre: &InstancePre<StoreData>) -> Result<Exports, String> {
    // The generated indices type-check every export of the world.
    bindings::searcher::SearcherPluginIndices::new(pre).map_err(|e| format!("{e:#}"))?;
    let iface = export(pre, None, EXPORT)?;
    Ok(Exports::Searcher {
        search: export(pre, Some(&iface), "search")?,
    })
}

/// A bundle that passed the checks, before it is tagged with the searcher's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedBundle {
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
pub fn check_bundles(bundles: Vec<Bundle>) -> Result<Vec<CheckedBundle>, String> {
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
fn self_test(engine: &PluginEngine, plugin: &LoadedPlugin) -> Result<(), String> {
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
pub(crate) struct ActiveSearchers(pub Arc<dyn Supervisor>);

/// The whole round of searchers gets this many single-searcher deadlines.
pub const SEARCHER_ROUND_DEADLINES: u32 = 2;

impl SearcherHost for ActiveSearchers {
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
            let result = call_search(self.0.engine(), plugin, wit_ctx, &set, state.clone());
            // A failure is counted and logged by `account`; the searcher is skipped.
            if let Ok(bundles) = account(&*self.0, plugin, result, start, true) {
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
