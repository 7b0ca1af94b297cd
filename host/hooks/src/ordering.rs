//! The ordering seam: who decides the order of a block's transactions.
//!
//! [`OrderingPolicy`] is what WASM ordering plugins implement through the plugin host; the
//! native [`PriorityFeeOrdering`] is the default and the fallback. Whatever a policy
//! answers, [`check_order`] re-checks it before the builder trusts it.

use std::{
    cmp::Ordering,
    collections::{BinaryHeap, HashMap},
    sync::Arc,
};

use alloy_primitives::{Address, B256, U256};
use ordo_primitives::{Candidate, PooledTx};

/// Where a bundle goes in the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placement {
    /// Ahead of the public flow.
    TopOfBlock,
    /// Right after the transaction with this hash (a backrun).
    After(B256),
}

/// What a policy knows about the block being built.
#[derive(Debug, Clone, Copy)]
pub struct OrderingContext {
    /// Block number.
    pub number: u64,
    /// Block timestamp (seconds).
    pub timestamp: u64,
    /// Block base fee.
    pub base_fee: u64,
    /// Block gas limit.
    pub gas_limit: u64,
    /// Who receives the block's tips.
    pub coinbase: Address,
    /// Hash of the parent block.
    pub parent_hash: B256,
}

/// Why a policy's answer was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderingError {
    /// The policy failed (trap, timeout, its own error).
    #[error("policy failed: {0}")]
    Failed(String),
    /// An index is out of range.
    #[error("index {0} out of range")]
    OutOfRange(u32),
    /// An index appears twice.
    #[error("index {0} repeated")]
    Duplicate(u32),
    /// A sender's transactions are not in ascending nonce order.
    #[error("sender {0} nonces out of order")]
    NonceOrder(Address),
    /// The chosen transactions' gas limits exceed the block gas limit.
    #[error("total gas {0} above the block gas limit")]
    GasLimit(u64),
}

/// Decides which candidates go into a block and in which order.
pub trait OrderingPolicy: Send + Sync + 'static {
    /// Name reported in block provenance.
    fn name(&self) -> &str;
    /// Version reported in block provenance.
    fn version(&self) -> &str;
    /// Content hash of the policy's code (zero for native policies).
    fn code_hash(&self) -> B256 {
        B256::ZERO
    }
    /// Returns indices into `candidates`, in block order. Candidates come per sender in
    /// ascending nonce order.
    fn order(
        &self,
        ctx: &OrderingContext,
        candidates: &[Candidate],
    ) -> Result<Vec<u32>, OrderingError>;

    /// Places the block's bundles into the public `order` (this policy's own answer, already
    /// checked). Every bundle was simulated alone on the pre-state and carries what it paid.
    /// The default is [`place_by_bid`]; the builder re-checks whatever comes back.
    fn place_bundles(
        &self,
        _ctx: &OrderingContext,
        candidates: &[Candidate],
        order: &[u32],
        bundles: &[BundleOffer],
    ) -> Vec<PlanStep> {
        place_by_bid(candidates, order, bundles)
    }
}

/// A bundle offered for this block, after a solo simulation on the pre-state.
#[derive(Debug, Clone)]
pub struct BundleOffer {
    /// Bundle hash (keccak of the concatenated transaction hashes).
    pub hash: B256,
    /// Who sent it: a searcher address, `anonymous`, or `plugin:<name>`.
    pub searcher: String,
    /// Its transactions, in order.
    pub txs: Vec<Arc<PooledTx>>,
    /// Transactions allowed to revert.
    pub reverting_tx_hashes: Vec<B256>,
    /// Top of block, or right after a transaction.
    pub placement: Placement,
    /// Gas the bundle used in simulation.
    pub gas_used: u64,
    /// What it paid the coinbase in simulation: priority fees plus direct payments.
    pub coinbase_diff: U256,
    /// Arrival order among this block's bundles (ties go to the earlier one).
    pub arrival: u64,
}

impl BundleOffer {
    /// Coinbase payment per gas: what bundles compete on.
    pub fn effective_bid(&self) -> U256 {
        self.coinbase_diff / U256::from(self.gas_used.max(1))
    }
}

/// One step of a block plan: a public candidate or a whole bundle (indices into the
/// candidates and the offered bundles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanStep {
    /// `candidates[i]`.
    Tx(u32),
    /// `bundles[i]`.
    Bundle(u32),
}

/// The default bundle placement: bundles by effective bid (ties by arrival); top-of-block
/// bundles ahead of the public order, backruns right after their target. A bundle that
/// shares a transaction or a sender's nonce with a higher bid is left out; conflicts on
/// state (two backruns of one swap) are settled by execution, where the lower bid fails or
/// finds its target taken, and is dropped whole.
pub fn place_by_bid(
    candidates: &[Candidate],
    order: &[u32],
    bundles: &[BundleOffer],
) -> Vec<PlanStep> {
    let mut ranked: Vec<u32> = (0..bundles.len() as u32).collect();
    ranked.sort_by(|&a, &b| {
        let (a, b) = (&bundles[a as usize], &bundles[b as usize]);
        b.effective_bid()
            .cmp(&a.effective_bid())
            .then(a.arrival.cmp(&b.arrival))
    });
    let mut claimed: std::collections::HashSet<(Address, u64)> = std::collections::HashSet::new();
    let mut top = Vec::new();
    let mut after: HashMap<B256, Vec<u32>> = HashMap::new();
    for i in ranked {
        let bundle = &bundles[i as usize];
        let keys: Vec<(Address, u64)> = bundle.txs.iter().map(|t| (t.sender, t.nonce())).collect();
        if keys.iter().any(|k| claimed.contains(k)) {
            continue;
        }
        claimed.extend(keys);
        match bundle.placement {
            Placement::TopOfBlock => top.push(PlanStep::Bundle(i)),
            Placement::After(target) => after.entry(target).or_default().push(i),
        }
    }
    let mut plan = top;
    plan.reserve(order.len());
    for &i in order {
        plan.push(PlanStep::Tx(i));
        if let Some(backruns) = after.remove(&candidates[i as usize].hash) {
            plan.extend(backruns.into_iter().map(PlanStep::Bundle));
        }
    }
    plan
}

/// Checks a plan: the public part as [`check_order`], every bundle at most once.
pub fn check_plan(
    candidates: &[Candidate],
    bundles: &[BundleOffer],
    plan: &[PlanStep],
) -> Result<(), OrderingError> {
    let mut seen = vec![false; bundles.len()];
    let mut order = Vec::with_capacity(plan.len());
    for step in plan {
        match *step {
            PlanStep::Tx(i) => order.push(i),
            PlanStep::Bundle(i) => {
                let slot = seen
                    .get_mut(i as usize)
                    .ok_or(OrderingError::OutOfRange(i))?;
                if std::mem::replace(slot, true) {
                    return Err(OrderingError::Duplicate(i));
                }
            }
        }
    }
    check_order(candidates, &order)
}

/// Where the builder gets its policy. Asked once at the start of every block, so whatever
/// it returns orders that whole block: a swap takes effect at the next block boundary and
/// never in the middle of one.
pub trait PolicySource: Send + Sync + 'static {
    /// The policy for the block about to be built.
    fn current(&self) -> Arc<dyn OrderingPolicy>;
}

/// A source that always answers the same policy.
#[derive(Clone)]
pub struct FixedPolicy(pub Arc<dyn OrderingPolicy>);

impl PolicySource for FixedPolicy {
    fn current(&self) -> Arc<dyn OrderingPolicy> {
        self.0.clone()
    }
}

/// Checks a policy's answer: indices in range and unique, each sender's nonces ascending.
/// Gas is not checked here: the builder simply stops adding transactions at the limit, and
/// a policy that asks for more than fits is not wrong, only optimistic.
pub fn check_order(candidates: &[Candidate], order: &[u32]) -> Result<(), OrderingError> {
    let mut seen = vec![false; candidates.len()];
    let mut last_nonce: HashMap<Address, u64> = HashMap::new();
    for &i in order {
        let tx = candidates
            .get(i as usize)
            .ok_or(OrderingError::OutOfRange(i))?;
        if std::mem::replace(&mut seen[i as usize], true) {
            return Err(OrderingError::Duplicate(i));
        }
        if let Some(prev) = last_nonce.insert(tx.sender, tx.nonce())
            && prev >= tx.nonce()
        {
            return Err(OrderingError::NonceOrder(tx.sender));
        }
    }
    Ok(())
}

/// The default policy: highest effective tip first, each sender's nonces in order, ties
/// broken by arrival (candidate position).
#[derive(Debug, Default, Clone, Copy)]
pub struct PriorityFeeOrdering;

#[derive(PartialEq, Eq)]
struct Head {
    tip: u128,
    index: u32,
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        self.tip
            .cmp(&other.tip)
            .then_with(|| other.index.cmp(&self.index))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl OrderingPolicy for PriorityFeeOrdering {
    fn name(&self) -> &str {
        "native-priority-fee"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn order(
        &self,
        ctx: &OrderingContext,
        candidates: &[Candidate],
    ) -> Result<Vec<u32>, OrderingError> {
        // Each sender's queue, in the order given (ascending nonce).
        let mut queues: HashMap<Address, std::collections::VecDeque<u32>> = HashMap::new();
        for (i, tx) in candidates.iter().enumerate() {
            queues.entry(tx.sender).or_default().push_back(i as u32);
        }
        let tip = |i: u32| {
            candidates[i as usize]
                .effective_tip(ctx.base_fee)
                .unwrap_or(0)
        };
        let mut heap = BinaryHeap::with_capacity(queues.len());
        for queue in queues.values_mut() {
            if let Some(i) = queue.pop_front() {
                heap.push(Head {
                    tip: tip(i),
                    index: i,
                });
            }
        }
        let mut out = Vec::with_capacity(candidates.len());
        while let Some(Head { index, .. }) = heap.pop() {
            out.push(index);
            let sender = candidates[index as usize].sender;
            if let Some(next) = queues.get_mut(&sender).and_then(|q| q.pop_front()) {
                heap.push(Head {
                    tip: tip(next),
                    index: next,
                });
            }
        }
        Ok(out)
    }
}
