//! Bundles in block building: collect them (the RPC bundle pool and searcher plugins),
//! simulate each alone on the pre-state, and keep per-searcher statistics and the spam
//! brake.
//!
//! A bundle that fails its solo simulation never reaches the block: it costs its searcher
//! one credit of [`FAILURE_BURST`] (one credit comes back every [`REFILL_BLOCKS`] blocks),
//! and a searcher without credit has its bundles refused at ingress and skipped unsimulated
//! until it earns one back. The block pays at most [`MAX_BUNDLES_PER_BLOCK`] simulations.
//! Unsigned bundles share the one `anonymous` searcher, as they share its credit.
//!
//! Anyone can sign with a fresh key, so per-searcher limits only mean something for
//! identities that have earned them: a signer that never landed a bundle is *unproven*,
//! and all unproven signers share one credit bucket ([`UNPROVEN`]) and take their turns in
//! a block's simulations after the proven ones; its statistics stay its own. The ledger tracks at most
//! [`MAX_TRACKED_SEARCHERS`] identities, forgetting the longest idle first.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rpc_types_eth::TransactionRequest;
use ordo_exec::{BlockParams, Executor};
use ordo_primitives::{Bundle, Candidate, PooledTx};
use parking_lot::Mutex;

use ordo_hooks::{BundleOffer, CallView, Placement, PreStateError, PreStateView, ProposedBundle};

/// Most bundle simulations (passed or failed) one block pays for; the rest are dropped as
/// `block_limit` (they target this block only).
pub const MAX_BUNDLES_PER_BLOCK: usize = 64;
/// Most simulations one searcher gets per block: no one crowds out the others.
pub const MAX_BUNDLES_PER_SEARCHER_PER_BLOCK: usize = 8;
/// Failed simulations a searcher may accumulate before it is rate limited.
pub const FAILURE_BURST: u64 = 16;
/// Blocks per credit earned back.
pub const REFILL_BLOCKS: u64 = 32;

/// The credit and fair-share group of every signed searcher that has not landed a bundle.
pub const UNPROVEN: &str = "unproven";
/// Most searcher identities the ledger keeps statistics for.
pub const MAX_TRACKED_SEARCHERS: usize = 1024;

/// The statistics key of an RPC searcher (`None`: no signature header).
pub fn rpc_searcher_key(searcher: Option<Address>) -> String {
    searcher.map_or_else(|| "anonymous".to_string(), |a| a.to_string())
}

/// The statistics key of a searcher plugin.
pub fn plugin_searcher_key(name: &str) -> String {
    format!("plugin:{name}")
}

/// What one searcher did, since the node started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearcherStats {
    /// Bundles offered for a block (RPC bundles count once per block they were eligible for).
    pub proposed: u64,
    /// Bundles included whole.
    pub landed: u64,
    /// Bundles left out, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// What landed bundles paid the coinbase (priority fees plus direct payments), in wei.
    pub paid: U256,
    /// Remaining failure credit (0: rate limited).
    pub credit: u64,
}

#[derive(Debug)]
struct Entry {
    stats: SearcherStats,
    /// Block at which `credit` was last refilled.
    refilled_at: u64,
    /// Last block anything happened to this searcher (eviction picks the oldest).
    seen_at: u64,
}

/// Per-searcher statistics and the failure budget.
#[derive(Debug, Default)]
pub struct SearcherLedger {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<String, Entry>,
    /// What the searchers forgotten to stay within [`MAX_TRACKED_SEARCHERS`] had done, so
    /// totals (and metric counters) never go backwards.
    forgotten: SearcherStats,
}

impl Entries {
    /// Forgets the longest-idle searcher (never `keep`), adding its statistics to
    /// `forgotten`.
    fn evict_one(&mut self, keep: &str) {
        let Some(oldest) = self
            .map
            .iter()
            .filter(|(k, _)| k.as_str() != keep && k.as_str() != UNPROVEN)
            .min_by_key(|(_, e)| e.seen_at)
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        if let Some(e) = self.map.remove(&oldest) {
            let f = &mut self.forgotten;
            f.proposed += e.stats.proposed;
            f.landed += e.stats.landed;
            f.paid = f.paid.saturating_add(e.stats.paid);
            for (reason, n) in e.stats.dropped {
                *f.dropped.entry(reason).or_default() += n;
            }
        }
    }
}

impl SearcherLedger {
    /// The key whose credit and fair share `key` uses: its own once it landed a bundle
    /// (and for plugins, which the operator loaded, and `anonymous`, already shared),
    /// [`UNPROVEN`] before that.
    pub fn credit_key(&self, key: &str) -> String {
        if !key.starts_with("0x") {
            return key.to_string();
        }
        let landed = self
            .entries
            .lock()
            .map
            .get(key)
            .is_some_and(|e| e.stats.landed > 0);
        if landed {
            key.to_string()
        } else {
            UNPROVEN.to_string()
        }
    }

    fn with<R>(&self, key: &str, block: u64, f: impl FnOnce(&mut SearcherStats) -> R) -> R {
        let mut entries = self.entries.lock();
        if !entries.map.contains_key(key) && entries.map.len() >= MAX_TRACKED_SEARCHERS {
            entries.evict_one(key);
        }
        let entry = entries.map.entry(key.to_string()).or_insert_with(|| Entry {
            stats: SearcherStats {
                credit: FAILURE_BURST,
                ..Default::default()
            },
            refilled_at: block,
            seen_at: block,
        });
        entry.seen_at = entry.seen_at.max(block);
        let earned = block.saturating_sub(entry.refilled_at) / REFILL_BLOCKS;
        if earned > 0 {
            entry.stats.credit = entry.stats.credit.saturating_add(earned).min(FAILURE_BURST);
            entry.refilled_at += earned * REFILL_BLOCKS;
        }
        if entry.stats.credit == FAILURE_BURST {
            // A full bucket earns nothing; idle time must not bank credit.
            entry.refilled_at = entry.refilled_at.max(block);
        }
        f(&mut entry.stats)
    }

    /// True when `key` (through its credit key) has no failure credit left at `block`.
    pub fn rate_limited(&self, key: &str, block: u64) -> bool {
        let credit = self.credit_key(key);
        self.entries.lock().map.contains_key(&credit)
            && self.with(&credit, block, |s| s.credit == 0)
    }

    pub(crate) fn proposed(&self, key: &str, block: u64) {
        self.with(key, block, |s| s.proposed += 1);
    }

    pub(crate) fn dropped(&self, key: &str, block: u64, reason: &str) {
        self.with(key, block, |s| {
            *s.dropped.entry(reason.to_string()).or_default() += 1
        });
    }

    pub(crate) fn failed_simulation(&self, key: &str, block: u64) {
        let credit = self.credit_key(key);
        self.with(key, block, |s| {
            *s.dropped.entry("simulation".to_string()).or_default() += 1;
        });
        self.with(&credit, block, |s| s.credit = s.credit.saturating_sub(1));
    }

    pub(crate) fn landed(&self, key: &str, block: u64, paid: U256) {
        self.with(key, block, |s| {
            s.landed += 1;
            s.paid = s.paid.saturating_add(paid);
        });
    }

    /// Every tracked searcher's statistics, by key (credit as of the last event).
    pub fn snapshot(&self) -> BTreeMap<String, SearcherStats> {
        self.entries
            .lock()
            .map
            .iter()
            .map(|(k, e)| (k.clone(), e.stats.clone()))
            .collect()
    }

    /// The summed statistics of the searchers forgotten to keep the ledger bounded.
    pub fn forgotten(&self) -> SearcherStats {
        self.entries.lock().forgotten.clone()
    }
}

/// The pre-state of the block being built, for searcher plugins: the head state, and
/// calls executed as in the block being built.
pub(crate) struct HeadState {
    pub exec: Executor,
    pub params: BlockParams,
}

impl PreStateView for HeadState {
    fn balance(&self, address: Address) -> U256 {
        self.exec.state().balance(&address)
    }

    fn nonce(&self, address: Address) -> u64 {
        self.exec.state().nonce(&address)
    }

    fn storage(&self, address: Address, slot: B256) -> B256 {
        self.exec
            .state()
            .storage_at(&address, &slot)
            .map(B256::from)
            .unwrap_or_default()
    }

    fn code_hash(&self, address: Address) -> B256 {
        self.exec
            .state()
            .account(&address)
            .ok()
            .flatten()
            .map(|a| a.code_hash)
            .unwrap_or_default()
    }

    fn call(
        &self,
        from: Address,
        to: Address,
        value: U256,
        gas: u64,
        data: Bytes,
        deadline: std::time::Instant,
    ) -> Result<CallView, PreStateError> {
        let request = TransactionRequest::default()
            .from(from)
            .to(to)
            .value(value)
            .gas_limit(gas)
            .input(data.into());
        let (success, gas_used, output) = self
            .exec
            .call_raw(&self.params, &request, Some(deadline))
            .map_err(|e| match e {
                ordo_exec::ExecError::TimedOut => PreStateError::Deadline,
                ordo_exec::ExecError::State(e) => PreStateError::State(e.to_string()),
                e => PreStateError::Invalid(e.to_string()),
            })?;
        Ok(CallView {
            success,
            gas_used,
            output,
        })
    }
}

/// A bundle before simulation, from either source.
pub(crate) struct Pending {
    pub searcher: String,
    pub txs: Vec<Arc<PooledTx>>,
    pub reverting_tx_hashes: Vec<B256>,
    pub placement: Placement,
}

impl Pending {
    pub fn from_rpc(bundle: &Bundle) -> Self {
        Self {
            searcher: rpc_searcher_key(bundle.searcher),
            txs: bundle.txs.clone(),
            reverting_tx_hashes: bundle.reverting_tx_hashes.clone(),
            placement: Placement::TopOfBlock,
        }
    }

    /// Decodes a plugin's proposal; `Err` is why it cannot be used.
    pub fn from_plugin(proposal: &ProposedBundle, chain_id: u64) -> Result<Self, String> {
        if proposal.txs.is_empty() {
            return Err("no transactions".into());
        }
        let txs = proposal
            .txs
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                let tx = ordo_primitives::decode_raw_tx(raw).map_err(|e| format!("tx {i}: {e}"))?;
                match alloy_consensus::Transaction::chain_id(&tx.tx) {
                    Some(id) if id == chain_id => Ok(Arc::new(tx)),
                    other => Err(format!("tx {i}: chain id {other:?}, want {chain_id}")),
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            searcher: plugin_searcher_key(&proposal.searcher),
            txs,
            reverting_tx_hashes: Vec::new(),
            placement: proposal.placement,
        })
    }

    pub fn hash(&self) -> B256 {
        let mut buf = Vec::with_capacity(32 * self.txs.len());
        for tx in &self.txs {
            buf.extend_from_slice(tx.hash.as_slice());
        }
        keccak256(&buf)
    }
}

/// Takes bundles in turns across searchers (each searcher's in arrival order, searchers in
/// order of their first bundle), so arriving early with many bundles buys no more than one
/// turn at a time. Each bundle comes with its rank within its searcher's bundles.
///
/// Searchers for which `first(searcher)` holds (plugins, and signers that landed a bundle)
/// take their turns before the others, so however many fresh keys queue bundles ahead of
/// them, the per-block simulation cap never leaves them out.
pub(crate) fn fair_order(
    pending: Vec<Pending>,
    first: impl Fn(&str) -> bool,
) -> Vec<(Pending, usize)> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut queues: Vec<(bool, std::collections::VecDeque<Pending>)> = Vec::new();
    for p in pending {
        match index.get(&p.searcher) {
            Some(&i) => queues[i].1.push_back(p),
            None => {
                index.insert(p.searcher.clone(), queues.len());
                queues.push((first(&p.searcher), [p].into()));
            }
        }
    }
    // Stable: within a tier, searchers keep the order of their first bundle.
    queues.sort_by_key(|(first, _)| !*first);
    let mut queues: Vec<_> = queues.into_iter().map(|(_, q)| q).collect();
    let mut out = Vec::new();
    let mut rank = 0;
    loop {
        let mut any = false;
        for q in &mut queues {
            if let Some(p) = q.pop_front() {
                out.push((p, rank));
                any = true;
            }
        }
        if !any {
            return out;
        }
        rank += 1;
    }
}

/// Why a solo simulation refused a bundle, or what it paid.
pub(crate) enum Simulated {
    Offer(BundleOffer),
    /// The backrun's target is not among this block's candidates (not the searcher's fault).
    TargetMissing,
    /// Invalid, or a transaction outside `reverting_tx_hashes` reverted.
    Failed(String),
}

/// Runs `pending` alone on the pre-state (after its target, for a backrun).
pub(crate) fn simulate(
    exec: &Executor,
    params: &BlockParams,
    prevrandao: B256,
    candidates: &[Candidate],
    pending: Pending,
    arrival: u64,
) -> Simulated {
    let mut txs: Vec<PooledTx> = Vec::with_capacity(pending.txs.len() + 1);
    if let Placement::After(target) = pending.placement {
        match candidates.iter().find(|c| c.hash == target) {
            Some(c) => txs.push((*c.tx).clone()),
            None => return Simulated::TargetMissing,
        }
    }
    let skip = txs.len();
    txs.extend(pending.txs.iter().map(|t| (**t).clone()));
    let outcome = match exec.simulate_bundle(params, prevrandao, &txs) {
        Ok(outcome) => outcome,
        Err(e) => return Simulated::Failed(e.to_string()),
    };
    let own = &outcome.results[skip..];
    if let Some(bad) = own
        .iter()
        .find(|r| r.error.is_some() && !pending.reverting_tx_hashes.contains(&r.hash))
    {
        return Simulated::Failed(format!(
            "tx {} failed: {}",
            bad.hash,
            bad.error.as_deref().unwrap_or_default()
        ));
    }
    Simulated::Offer(BundleOffer {
        hash: pending.hash(),
        searcher: pending.searcher,
        txs: pending.txs,
        reverting_tx_hashes: pending.reverting_tx_hashes,
        placement: pending.placement,
        gas_used: own.iter().map(|r| r.gas_used).sum(),
        coinbase_diff: own.iter().map(|r| r.coinbase_diff).sum(),
        arrival,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_spend_credit_and_credit_comes_back_slowly() {
        let ledger = SearcherLedger::default();
        assert!(
            !ledger.rate_limited("s", 1),
            "unknown searchers are not limited"
        );
        for _ in 0..FAILURE_BURST {
            assert!(!ledger.rate_limited("s", 10));
            ledger.failed_simulation("s", 10);
        }
        assert!(ledger.rate_limited("s", 10));
        assert!(ledger.rate_limited("s", 10 + REFILL_BLOCKS - 1));
        assert!(!ledger.rate_limited("s", 10 + REFILL_BLOCKS));
        ledger.failed_simulation("s", 10 + REFILL_BLOCKS);
        assert!(ledger.rate_limited("s", 10 + REFILL_BLOCKS));
        // Others are unaffected; the failures are counted as drops.
        assert!(!ledger.rate_limited("t", 10));
        let stats = &ledger.snapshot()["s"];
        assert_eq!(stats.dropped["simulation"], FAILURE_BURST + 1);
        // Idle time refills up to the burst, never beyond.
        assert!(!ledger.rate_limited("s", 10_000));
        assert_eq!(ledger.snapshot()["s"].credit, FAILURE_BURST);
    }

    fn pending(searcher: &str) -> Pending {
        Pending {
            searcher: searcher.to_string(),
            txs: Vec::new(),
            reverting_tx_hashes: Vec::new(),
            placement: Placement::TopOfBlock,
        }
    }

    /// Fresh keys cost nothing to make: before a key landed a bundle, its failures come out
    /// of the one bucket every unproven key shares, and its turns come after proven ones.
    #[test]
    fn unproven_keys_share_one_credit_and_one_turn() {
        let ledger = SearcherLedger::default();
        let fresh = |i: u64| format!("{:#042x}", i);
        for i in 0..FAILURE_BURST {
            assert!(!ledger.rate_limited(&fresh(i), 10), "key {i}");
            ledger.failed_simulation(&fresh(i), 10);
        }
        // Another fresh key finds the shared bucket empty; a plugin and a proven key do not.
        assert!(ledger.rate_limited(&fresh(999), 10));
        let proven = fresh(1_000);
        ledger.landed(&proven, 10, U256::from(1));
        assert_eq!(ledger.credit_key(&proven), proven);
        assert!(!ledger.rate_limited(&proven, 10));
        assert!(!ledger.rate_limited("plugin:x", 10));
        // Each key keeps its own statistics.
        assert_eq!(ledger.snapshot()[&fresh(3)].dropped["simulation"], 1);

        let turns: Vec<(String, usize)> = fair_order(
            vec![
                pending(&fresh(1)),
                pending(&fresh(2)),
                pending(&fresh(1)),
                pending(&proven),
            ],
            |k| ledger.credit_key(k) == k,
        )
        .into_iter()
        .map(|(p, rank)| (p.searcher, rank))
        .collect();
        assert_eq!(
            turns,
            [(proven, 0), (fresh(1), 0), (fresh(2), 0), (fresh(1), 1)],
            "proven searchers go first, however many fresh keys came before"
        );
    }

    #[test]
    fn the_ledger_forgets_the_longest_idle_searchers_past_its_bound() {
        let ledger = SearcherLedger::default();
        ledger.landed("plugin:old", 1, U256::from(7));
        for i in 0..(MAX_TRACKED_SEARCHERS as u64 * 3) {
            ledger.proposed(&format!("{:#042x}", i), 2 + i);
        }
        let snapshot = ledger.snapshot();
        assert!(
            snapshot.len() <= MAX_TRACKED_SEARCHERS,
            "{}",
            snapshot.len()
        );
        assert!(
            !snapshot.contains_key("plugin:old"),
            "the idlest goes first"
        );
        let forgotten = ledger.forgotten();
        assert_eq!(forgotten.landed, 1);
        assert_eq!(forgotten.paid, U256::from(7));
        let proposed: u64 = snapshot.values().map(|s| s.proposed).sum();
        assert_eq!(
            proposed + forgotten.proposed,
            MAX_TRACKED_SEARCHERS as u64 * 3
        );
    }

    #[test]
    fn searchers_take_turns_whatever_their_arrival() {
        let order: Vec<(String, usize)> = fair_order(
            vec![
                pending("early"),
                pending("early"),
                pending("early"),
                pending("late"),
                pending("plugin:x"),
            ],
            |_| true,
        )
        .into_iter()
        .map(|(p, rank)| (p.searcher, rank))
        .collect();
        let expect = [
            ("early", 0),
            ("late", 0),
            ("plugin:x", 0),
            ("early", 1),
            ("early", 2),
        ];
        assert_eq!(order, expect.map(|(s, r)| (s.to_string(), r)).to_vec());
    }

    #[test]
    fn landed_bundles_add_up_what_they_paid() {
        let ledger = SearcherLedger::default();
        ledger.proposed("s", 1);
        ledger.landed("s", 1, U256::from(5));
        ledger.proposed("s", 2);
        ledger.landed("s", 2, U256::from(7));
        ledger.dropped("s", 3, "conflict");
        let s = &ledger.snapshot()["s"];
        assert_eq!((s.proposed, s.landed, s.paid), (2, 2, U256::from(12)));
        assert_eq!(s.dropped["conflict"], 1);
    }
}
