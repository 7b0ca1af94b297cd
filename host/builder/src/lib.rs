//! Ordo builder: the block production loop.
//!
//! Map (one tick of [`Builder::run`], every block time):
//! 1. base fee and timestamp from the head ([`Builder::next_params`]); with an L1, the
//!    block's L1 origin and, when it moves, the origin's deposits (origin.rs,
//!    [`OriginSource`]);
//! 2. `pool.candidates(base_fee)`: executable transactions, per sender in nonce order, and
//!    which of them waited the inclusion floor (floor.rs);
//! 3. the active [`OrderingPolicy`] orders them; [`check_order`] re-checks the answer and
//!    a failure falls back to the native [`PriorityFeeOrdering`] for this block, recorded in
//!    the block's provenance with the reason;
//! 4. bundles (mev.rs): the bundle pool's eligible ones and the searcher plugins'
//!    proposals ([`SearcherHost`], reading the pre-state through [`PreStateView`]), each
//!    simulated alone on the pre-state and accounted to its searcher; the policy places the
//!    survivors ([`OrderingPolicy::place_bundles`], default [`place_by_bid`]) and
//!    [`check_plan`] re-checks the plan;
//! 5. `exec.assemble`: revm runs the deposits, then the plan (leaving room for the overdue
//!    transactions the policy left out, which the host places right after it), skipping
//!    invalid transactions and dropping whole any bundle that fails (its state rolled
//!    back); then `Builder::refill` keeps filling
//!    the gas the transactions left unused (they pay for gas used, policies choose by gas
//!    limit): the policy is asked again on the rest against the real gas left, then a
//!    native pass;
//! 6. one atomic fjall batch stores the block, receipts, state and head (on a replica only
//!    once the group committed it: replicated.rs, [`Builder::apply_committed`], which also
//!    stores the leader's blocks on followers after executing them again); then the block's
//!    transactions leave the WAL;
//! 7. the in-memory state index, the pool and the bundle pool are updated, and
//!    [`SealedBlock`] is broadcast to subscribers (RPC `newHeads` / `logs`).
//!
//! A block is produced every tick, empty or not, so block numbers track time and no slot is
//! skipped. Blocks are built on a thread of their own (`ordo-builder`): no queue of other
//! work (reads, plugin loads) ever stands between a slot and its block. Live parameters (block time, gas limit, minimum base fee) sit in
//! [`BlockParamsConfig`] behind a lock and apply from the next tick.

mod floor;
mod mev;
mod origin;
mod replicated;

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

pub use floor::DEFAULT_INCLUSION_FLOOR;
pub use mev::{
    FAILURE_BURST, MAX_BUNDLES_PER_BLOCK, MAX_BUNDLES_PER_SEARCHER_PER_BLOCK,
    MAX_TRACKED_SEARCHERS, REFILL_BLOCKS, SearcherLedger, SearcherStats, UNPROVEN,
    plugin_searcher_key, rpc_searcher_key,
};
pub use origin::{NextOrigin, OriginSource};
// The seams live in ordo-hooks; they are re-exported so the builder reads as one API.
pub use ordo_hooks::{
    BundleOffer, CallView, FixedPolicy, NoSearchers, OrderingContext, OrderingError,
    OrderingPolicy, Placement, PlanStep, PolicySource, PreStateError, PreStateView,
    PriorityFeeOrdering, ProposedBundle, SearcherHost, check_order, check_plan, place_by_bid,
};

use alloy_primitives::{Address, B256, Bytes};
use ordo_exec::{BlockItem, BlockParams, BundleItem, BundleResult, Executor, Skipped};
use ordo_pool::{BundlePool, Pool};
use ordo_primitives::{
    BlockRecord, L1Origin, Provenance, ReceiptRecord, alloy_eips::eip1559::BaseFeeParams,
    next_base_fee,
};
use parking_lot::RwLock;
use tokio::sync::broadcast;
use tracing::{debug, info, warn};

/// The DA throttle's answer for the next block: the most bytes of signed transactions it
/// may carry, or `None` for no limit.
pub type DaLimit = Arc<dyn Fn() -> Option<u64> + Send + Sync>;

/// Builder failures. Any of them stops block production: they mean storage is broken.
#[derive(Debug, thiserror::Error)]
pub enum BuilderError {
    /// Execution failed underneath (storage).
    #[error(transparent)]
    Exec(#[from] ordo_exec::ExecError),
    /// Storing the block failed.
    #[error(transparent)]
    Storage(#[from] ordo_storage::StorageError),
    /// A block the replication log committed cannot be applied here.
    #[error("replicated block: {0}")]
    Replicated(String),
    /// An earlier block could not be stored; the node must restart from what is stored.
    #[error("{0}; restart the node")]
    CommitFailed(String),
    /// The L1 origins cannot be followed (a reorg below the confirmation depth).
    #[error("L1 origin: {0}")]
    Origin(String),
    /// No block this slot: the next L1 origin is needed and not read from L1 yet.
    #[error("waiting for L1: {0}")]
    WaitingForL1(String),
    /// No block this slot: the datadir's free space is under the reserve, and a block
    /// whose write ran out of space half way would stop the node until a restart.
    #[error("waiting for disk space: {0}")]
    WaitingForDisk(String),
}

/// The provenance policy of a deposit-only block (no policy ordered it).
pub const DEPOSIT_ONLY_POLICY: &str = "deposit-only";

/// How many times a block asks its ordering policy again to fill gas its transactions left
/// unused (each ask is a plugin call); a native pass fills whatever is left after that.
pub const MAX_POLICY_REFILLS: usize = 3;

/// The least gas any transaction uses: below this, nothing else fits in a block.
const MIN_TX_GAS: u64 = 21_000;

/// Block parameters an operator may change while the node runs.
#[derive(Debug, Clone)]
pub struct BlockParamsConfig {
    /// Time between blocks.
    pub block_time: Duration,
    /// Gas limit of each block.
    pub gas_limit: u64,
    /// Base fee floor (wei).
    pub min_base_fee: u64,
    /// EIP-1559 parameters.
    pub base_fee_params: BaseFeeParams,
    /// Fee recipient.
    pub coinbase: Address,
    /// Extra data in each header.
    pub extra_data: Bytes,
    /// The first block that names its L1 origin's beacon root: the chain's
    /// [`ordo_primitives::ChainSpec::beacon_roots_from`] (not a live parameter).
    pub beacon_roots_from: u64,
}

impl BlockParamsConfig {
    /// Default block time of `ordo dev`.
    pub const DEFAULT_BLOCK_TIME: Duration = Duration::from_millis(1000);
}

/// A block that has just been made durable, with its receipts.
#[derive(Debug, Clone)]
pub struct SealedBlock {
    /// The block.
    pub block: Arc<BlockRecord>,
    /// Its receipts.
    pub receipts: Arc<Vec<ReceiptRecord>>,
}

/// The head of the chain, shared with readers: the last block whose batch is stored.
pub type HeadCell = Arc<RwLock<Arc<BlockRecord>>>;

/// Replicates sealed blocks (`ordo-replica`): `replicate` returns once the group has
/// committed the block's entry and this replica has applied it, which stores the block
/// ([`Builder::apply_committed`]); an error means it never will be. Blocking.
pub trait Replicator: Send + Sync {
    fn replicate(&self, block: &BlockRecord) -> Result<(), String>;
}

/// What applying a committed block did ([`Builder::apply_committed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Stored now (and announced).
    Stored,
    /// Already stored (a log replayed after a restart).
    AlreadyStored,
}

/// A sealed block, staged over the state, whose batch is not stored yet.
pub(crate) struct Staging {
    pub(crate) commit: ordo_storage::BlockCommit,
    pub(crate) staged: Arc<ordo_storage::Staged>,
    pub(crate) block: Arc<BlockRecord>,
    pub(crate) included: usize,
    /// Pool transactions found invalid in the block: they leave the WAL with the included
    /// ones once the block is stored.
    pub(crate) invalid: Vec<B256>,
}

/// Armed from the moment a block is staged until it is handed on to be stored: a panic in
/// between would leave the block in flight for ever (and the builder thread waiting for it),
/// so unwinding past the guard stops block production instead.
pub(crate) struct StagedGuard<'a>(pub(crate) &'a Builder);

impl Drop for StagedGuard<'_> {
    fn drop(&mut self) {
        self.0
            .fail("a panic after a block was staged; restart the node".into());
    }
}

/// The commit in flight, if any.
#[derive(Default)]
struct Commits {
    in_flight: bool,
    /// Why a block's batch could not be stored: nothing is built after that.
    failed: Option<String>,
}

/// Produces blocks.
pub struct Builder {
    exec: Executor,
    pool: Arc<Pool>,
    head: HeadCell,
    params: RwLock<BlockParamsConfig>,
    policy: RwLock<Arc<dyn PolicySource>>,
    fallback: PriorityFeeOrdering,
    events: broadcast::Sender<SealedBlock>,
    bundles: RwLock<Option<Arc<BundlePool>>>,
    searchers: RwLock<Arc<dyn SearcherHost>>,
    ledger: SearcherLedger,
    /// Why block production is halted (None: running).
    halted: RwLock<Option<String>>,
    /// A replica that does not lead seals nothing (and is not halted: it applies the
    /// leader's blocks and serves reads).
    standby: std::sync::atomic::AtomicBool,
    /// Held while a block is built in `run`, so `halt` returns only after the block in
    /// progress (if any) is sealed: nothing is sealed after it.
    sealing: parking_lot::Mutex<()>,
    /// The last sealed block: the head, or one block ahead of it while that block's batch
    /// is written. Blocks are built on it.
    tip: parking_lot::Mutex<Arc<BlockRecord>>,
    /// Whether a staged block's batch is being written, and whether one failed.
    commits: parking_lot::Mutex<Commits>,
    /// Signalled when a block's batch is written (or fails).
    committed: parking_lot::Condvar,
    /// Replicates each sealed block before it is stored (replicas only).
    replicator: RwLock<Option<Arc<dyn Replicator>>>,
    /// The leader's own block while its log entry is being committed, and once stored.
    parked: parking_lot::Mutex<Option<Staging>>,
    stored_parked: parking_lot::Mutex<Option<Staging>>,
    /// When the previous block's build started (block interval metric).
    last_sealed: parking_lot::Mutex<Option<std::time::Instant>>,
    signer: RwLock<Option<Arc<dyn BlockSigner>>>,
    /// Blocks a transaction may wait while the policy leaves it out (0: no floor).
    inclusion_floor: std::sync::atomic::AtomicU64,
    /// Whether the last slot found the datadir short of space ([`Builder::check_space`]).
    disk_short: std::sync::atomic::AtomicBool,
    /// Asked every block: the most bytes of signed transactions it may carry while L1
    /// posting is behind (`None`: no limit).
    da_limit: RwLock<Option<DaLimit>>,
    floor_marks: parking_lot::Mutex<floor::FloorMarks>,
    /// Where L1 origins and deposits come from; None on a chain without an L1.
    origins: RwLock<Option<Arc<dyn OriginSource>>>,
    /// What the dashboard charts: the last block's stage times and waits, running totals.
    live: parking_lot::Mutex<LiveStats>,
}

/// The builder's recent figures, for a live view (`ordo_nodeStatus`): the last sealed block's
/// stage times and how long its pool transactions waited, and totals since the node started
/// (a reader turns them into rates).
#[derive(Debug, Clone, Default)]
pub struct LiveStats {
    /// The last block built here.
    pub number: u64,
    /// Its stages, in milliseconds (`ordo_builder_stage_seconds`'s stages).
    pub stages_ms: Vec<(&'static str, f64)>,
    /// The waits from acceptance to sealing of the pool transactions in the last block that
    /// had any, in milliseconds: median and 99th percentile (0 before the first).
    pub inclusion_p50_ms: u64,
    pub inclusion_p99_ms: u64,
    /// Transactions and gas in the blocks sealed since the node started.
    pub total_txs: u64,
    pub total_gas: u64,
}

/// Signs each sealed block's hash (the sequencer key); the signature is stored with the
/// block's provenance.
pub trait BlockSigner: Send + Sync {
    fn sign_block(&self, hash: B256) -> alloy_primitives::Bytes;
}

/// Times the builder's stages into `ordo_builder_stage_seconds{stage}`, keeping them for the
/// live view.
struct Stages(std::time::Instant, Vec<(&'static str, f64)>);

impl Stages {
    fn new(started: std::time::Instant) -> Self {
        Self(started, Vec::new())
    }

    fn done(&mut self, stage: &'static str) {
        self.done_with(stage, &[]);
    }

    /// Ends a stage that contains timed parts: each part is recorded as a stage of its own
    /// and the rest under `stage`.
    fn done_with(&mut self, stage: &'static str, parts: &[(&'static str, std::time::Duration)]) {
        let now = std::time::Instant::now();
        let mut rest = now.duration_since(self.0);
        for (part, took) in parts {
            metrics::histogram!("ordo_builder_stage_seconds", "stage" => *part)
                .record(took.as_secs_f64());
            self.1.push((part, took.as_secs_f64() * 1e3));
            rest = rest.saturating_sub(*took);
        }
        metrics::histogram!("ordo_builder_stage_seconds", "stage" => stage)
            .record(rest.as_secs_f64());
        self.1.push((stage, rest.as_secs_f64() * 1e3));
        self.0 = now;
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder").finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl Builder {
    /// A builder on top of `head`.
    pub fn new(
        exec: Executor,
        pool: Arc<Pool>,
        head: HeadCell,
        params: BlockParamsConfig,
    ) -> Arc<Self> {
        let (events, _) = broadcast::channel(1024);
        Arc::new(Self {
            exec,
            pool,
            head: head.clone(),
            params: RwLock::new(params),
            policy: RwLock::new(Arc::new(FixedPolicy(Arc::new(PriorityFeeOrdering)))),
            fallback: PriorityFeeOrdering,
            events,
            bundles: RwLock::new(None),
            searchers: RwLock::new(Arc::new(NoSearchers)),
            ledger: SearcherLedger::default(),
            halted: RwLock::new(None),
            standby: std::sync::atomic::AtomicBool::new(false),
            sealing: parking_lot::Mutex::new(()),
            tip: parking_lot::Mutex::new(head.read().clone()),
            commits: parking_lot::Mutex::new(Commits::default()),
            committed: parking_lot::Condvar::new(),
            replicator: RwLock::new(None),
            parked: parking_lot::Mutex::new(None),
            stored_parked: parking_lot::Mutex::new(None),
            last_sealed: parking_lot::Mutex::new(None),
            signer: RwLock::new(None),
            inclusion_floor: std::sync::atomic::AtomicU64::new(floor::DEFAULT_INCLUSION_FLOOR),
            disk_short: std::sync::atomic::AtomicBool::new(false),
            da_limit: RwLock::new(None),
            floor_marks: Default::default(),
            origins: RwLock::new(None),
            live: Default::default(),
        })
    }

    /// Sealed blocks, as they become durable.
    pub fn subscribe(&self) -> broadcast::Receiver<SealedBlock> {
        self.events.subscribe()
    }

    /// The last sealed block's stage times and waits, and totals since start.
    pub fn live_stats(&self) -> LiveStats {
        self.live.lock().clone()
    }

    /// The current head.
    pub fn head(&self) -> Arc<BlockRecord> {
        self.head.read().clone()
    }

    /// Sets the inclusion floor: a transaction the policy has left out for `blocks` blocks
    /// is placed by the host after the policy's order (0: never).
    pub fn set_inclusion_floor(&self, blocks: u64) {
        self.inclusion_floor
            .store(blocks, std::sync::atomic::Ordering::Relaxed);
    }

    /// Asks `limit` before every block how many bytes of signed transactions it may carry
    /// (op-batcher's DA throttling: while the unposted backlog is too large, blocks shrink
    /// instead of the backlog growing without bound; deposits are never held back).
    pub fn set_da_limit(&self, limit: DaLimit) {
        *self.da_limit.write() = Some(limit);
    }

    /// Replaces the ordering policy from the next block on.
    pub fn set_policy(&self, policy: Arc<dyn OrderingPolicy>) {
        *self.policy.write() = Arc::new(FixedPolicy(policy));
    }

    /// Takes each block's policy from `source` (the plugin host's ordering slot) from the
    /// next block on.
    pub fn set_policy_source(&self, source: Arc<dyn PolicySource>) {
        *self.policy.write() = source;
    }

    /// Takes `eth_sendBundle` bundles from `pool`; they are pruned after every block.
    pub fn set_bundle_pool(&self, pool: Arc<BundlePool>) {
        *self.bundles.write() = Some(pool);
    }

    /// The `eth_sendBundle` pool, when bundles are enabled.
    pub fn bundle_pool(&self) -> Option<Arc<BundlePool>> {
        self.bundles.read().clone()
    }

    /// Runs `host`'s searchers on every block from the next one on.
    pub fn set_searchers(&self, host: Arc<dyn SearcherHost>) {
        *self.searchers.write() = host;
    }

    /// Per-searcher statistics and rate limiting.
    pub fn searcher_ledger(&self) -> &SearcherLedger {
        &self.ledger
    }

    /// Signs every block sealed from now on with `signer`.
    pub fn set_signer(&self, signer: Arc<dyn BlockSigner>) {
        *self.signer.write() = Some(signer);
    }

    /// Stops `run` from sealing blocks. Returns once any block in progress is sealed, so no
    /// block is sealed after this returns. Blocking.
    pub fn halt(&self, reason: String) {
        let _sealing = self.sealing.lock();
        // The last sealed block is stored and announced before this returns.
        let _ = self.wait_for_commit();
        self.halt_in_order(reason);
    }

    /// Halts without waiting for the block in progress: a replica group's log orders the
    /// halt among the blocks already (a block sealed before it lands, none after), and a
    /// leader applying its own halt must not wait for a block whose entry comes after it.
    pub fn halt_in_order(&self, reason: String) {
        *self.halted.write() = Some(reason);
    }

    /// Stops `run` from sealing blocks because another replica leads. Returns once any
    /// block in progress is sealed and stored or given up, like [`Builder::halt`]. Blocking.
    pub fn stand_by(&self) {
        let _sealing = self.sealing.lock();
        let _ = self.wait_for_commit();
        self.standby
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Lets `run` seal blocks: this replica leads.
    pub fn lead(&self) {
        self.standby
            .store(false, std::sync::atomic::Ordering::Release);
    }

    /// Whether another replica leads (this one seals nothing).
    pub fn standing_by(&self) -> bool {
        self.standby.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The last sealed block: the head, or the block after it while its batch is written.
    pub fn tip(&self) -> Arc<BlockRecord> {
        self.tip.lock().clone()
    }

    /// Lets `run` seal blocks again, on the same head.
    pub fn resume(&self) {
        *self.halted.write() = None;
    }

    /// Why block production is halted, if it is.
    pub fn halted(&self) -> Option<String> {
        self.halted.read().clone()
    }

    /// Current live parameters.
    pub fn params(&self) -> BlockParamsConfig {
        self.params.read().clone()
    }

    /// Changes live parameters from the next block on.
    pub fn set_params(&self, params: BlockParamsConfig) {
        *self.params.write() = params;
    }

    /// The parameters of the block that would be built on the head now (also what
    /// `pending` state queries and `eth_call` execute against).
    pub fn next_params(&self) -> BlockParams {
        self.params_on(&self.head())
    }

    /// The parameters of the block after `head`.
    fn params_on(&self, head: &BlockRecord) -> BlockParams {
        let cfg = self.params.read();
        let parent = &head.header;
        let base_fee = next_base_fee(
            parent.gas_used,
            parent.gas_limit,
            parent.base_fee_per_gas.unwrap_or(cfg.min_base_fee),
            cfg.base_fee_params,
            cfg.min_base_fee,
        );
        BlockParams {
            number: parent.number + 1,
            // Sub-second blocks share a timestamp; it never goes backwards.
            timestamp: now_secs().max(parent.timestamp),
            beneficiary: cfg.coinbase,
            gas_limit: cfg.gas_limit,
            base_fee,
            extra_data: cfg.extra_data.clone(),
            // Set by `seal` only: a call's block is not throttled.
            max_tx_bytes: None,
            state_block: None,
            // The head's origin; `seal` names the next one's when the origin moves.
            beacon_root: head
                .l1_origin
                .map(|o| o.beacon_root_of_block(parent.number + 1, cfg.beacon_roots_from))
                .unwrap_or_default(),
            ethereum: None,
        }
    }

    /// Builds, stores and announces one block. Blocking (runs revm and fsyncs).
    pub fn build_one(&self) -> Result<SealedBlock, BuilderError> {
        let staging = self.seal()?;
        self.finish(staging)
    }

    /// Builds the next block on the tip and stages it: from here on the next block builds
    /// on it, the pool no longer offers its transactions, and [`Builder::finish`] stores it.
    /// Waits for the previous block's commit first: at most one block is in flight.
    fn seal(&self) -> Result<Staging, BuilderError> {
        let started = std::time::Instant::now();
        self.check_space()?;
        let head = self.tip();
        let mut params = self.params_on(&head);
        params.max_tx_bytes = self.da_limit.read().as_ref().and_then(|limit| limit());
        let _span = tracing::info_span!("block", number = params.number).entered();
        let (l1_origin, deposits) = match self.next_origin(&head, params.timestamp)? {
            origin::OriginStep::Ordered(origin, deposits) => (origin, deposits),
            origin::OriginStep::DepositOnly(origin, deposits) => {
                return self.seal_deposit_only(&head, origin, &deposits, started);
            }
            origin::OriginStep::Wait(why) => return Err(BuilderError::WaitingForL1(why)),
        };
        let l1_origin = l1_origin.map(|o| self.with_beacon_root(o));
        if let Some(origin) = &l1_origin {
            params.extra_data = alloy_primitives::Bytes::copy_from_slice(origin.hash.as_slice());
            params.beacon_root =
                origin.beacon_root_of_block(params.number, self.params.read().beacon_roots_from);
        }
        let deposit_gas = deposits
            .iter()
            .map(|d| d.tx.gas_limit)
            .fold(0u64, u64::saturating_add);
        let candidates = self.pool.candidates(params.base_fee);
        let overdue = self.floor_marks.lock().overdue(
            params.number,
            self.inclusion_floor
                .load(std::sync::atomic::Ordering::Relaxed),
            &candidates,
        );
        let mut stage = Stages::new(started);
        stage.done("candidates");
        let ctx = OrderingContext {
            number: params.number,
            timestamp: params.timestamp,
            base_fee: params.base_fee,
            // The deposits come first; the policy orders what is left of the block.
            gas_limit: params.gas_limit.saturating_sub(deposit_gas),
            coinbase: params.beneficiary,
            parent_hash: head.hash,
        };
        // One snapshot per block: a swap lands at the next boundary.
        let source = self.policy.read().clone();
        let policy = source.current();
        let (order, provenance) = match policy
            .order(&ctx, &candidates)
            .and_then(|order| check_order(&candidates, &order).map(|()| order))
        {
            Ok(order) => (
                order,
                Provenance {
                    policy: policy.name().to_string(),
                    version: policy.version().to_string(),
                    code_hash: policy.code_hash(),
                    fallback_reason: String::new(),
                    signature: None,
                    host_placed: None,
                },
            ),
            Err(err) => {
                warn!(target: "ordo::builder", policy = policy.name(), version = policy.version(), %err, "ordering policy failed; native fallback for this block");
                metrics::counter!("ordo_plugin_fallbacks_total", "kind" => "ordering").increment(1);
                let order = self.fallback.order(&ctx, &candidates).unwrap_or_default();
                (
                    order,
                    Provenance {
                        policy: self.fallback.name().to_string(),
                        version: self.fallback.version().to_string(),
                        code_hash: B256::ZERO,
                        fallback_reason: if policy.code_hash().is_zero() {
                            format!("{} {}: {err}", policy.name(), policy.version())
                        } else {
                            // Plugin errors already name the plugin, its version and hash.
                            err.to_string()
                        },
                        signature: None,
                        host_placed: None,
                    },
                )
            }
        };
        stage.done("ordering");
        let offers = self.collect_bundles(&ctx, &params, &candidates, head.hash);
        stage.done("bundles");
        let plan = if offers.is_empty() {
            order.iter().map(|&i| PlanStep::Tx(i)).collect()
        } else if !provenance.fallback_reason.is_empty() {
            // The policy already failed this block; don't ask it again.
            place_by_bid(&candidates, &order, &offers)
        } else {
            let plan = policy.place_bundles(&ctx, &candidates, &order, &offers);
            match check_plan(&candidates, &offers, &plan) {
                Ok(()) => plan,
                Err(err) => {
                    warn!(target: "ordo::builder", policy = policy.name(), %err, "bundle placement refused; bundles placed by bid");
                    place_by_bid(&candidates, &order, &offers)
                }
            }
        };
        let mut placed = vec![false; offers.len()];
        let items: Vec<BlockItem> = plan
            .iter()
            .map(|step| match *step {
                PlanStep::Tx(i) => BlockItem::Tx(candidates[i as usize].tx.clone()),
                PlanStep::Bundle(i) => {
                    placed[i as usize] = true;
                    let offer = &offers[i as usize];
                    BlockItem::Bundle(BundleItem {
                        id: offer.hash,
                        txs: offer.txs.clone(),
                        reverting_tx_hashes: offer.reverting_tx_hashes.clone(),
                        after: match offer.placement {
                            Placement::TopOfBlock => None,
                            Placement::After(target) => Some(target),
                        },
                    })
                }
            })
            .collect();
        let mut assembler = self.exec.assemble(&head.header, head.hash, &params)?;
        for deposit in &deposits {
            assembler.push(&BlockItem::Deposit(deposit.clone()))?;
        }
        // Room for the overdue transactions the policy left out: the policy's items that
        // would eat into it wait for a later block.
        let reserve = if overdue.contains(&true) {
            let due_gas = |i: usize| {
                if overdue[i] {
                    candidates[i].gas_limit()
                } else {
                    0
                }
            };
            let due: u64 = (0..candidates.len())
                .map(due_gas)
                .fold(0, u64::saturating_add);
            let ordered: u64 = order
                .iter()
                .map(|&i| due_gas(i as usize))
                .fold(0, u64::saturating_add);
            due.saturating_sub(ordered)
        } else {
            0
        };
        for item in &items {
            let gas = match item {
                BlockItem::Deposit(_) => 0,
                BlockItem::Tx(tx) => tx.gas_limit(),
                BlockItem::Bundle(b) => b
                    .txs
                    .iter()
                    .map(|t| t.gas_limit())
                    .fold(0, u64::saturating_add),
            };
            if reserve > 0 && gas > assembler.gas_left().saturating_sub(reserve) {
                continue;
            }
            assembler.push(item)?;
        }
        let mut provenance = provenance;
        let host_placed = self.place_overdue(&mut assembler, &candidates, &overdue)?;
        if !host_placed.is_empty() {
            metrics::counter!("ordo_floor_placed_total").increment(host_placed.len() as u64);
            info!(target: "ordo::builder", number = params.number, placed = host_placed.len(), policy = %provenance.policy, "the inclusion floor placed transactions the policy left out");
            provenance.host_placed = Some(host_placed);
        }
        let policy_failed = !provenance.fallback_reason.is_empty();
        self.refill(&mut assembler, &ctx, &candidates, &*policy, policy_failed)?;
        let built = assembler.seal(provenance)?;
        stage.done_with("execution", &[("root", built.root_time)]);
        if let Some((p50, p99)) = record_inclusion_latency(&candidates, &built.included) {
            let mut live = self.live.lock();
            live.inclusion_p50_ms = p50;
            live.inclusion_p99_ms = p99;
        }
        self.account_bundles(params.number, &offers, &placed, &built.bundles);
        self.stage_sealed(built, l1_origin, &params, started, stage)
    }

    /// Seals the deposit-only block for `origin` on `head`: its sequencing window passed, so
    /// the block holds the origin's deposits and nothing else, exactly as derivation makes
    /// it ([`BlockParams::deposit_only`]). No policy, bundle or pool transaction is asked.
    fn seal_deposit_only(
        &self,
        head: &BlockRecord,
        origin: L1Origin,
        deposits: &[Arc<ordo_primitives::DepositTx>],
        started: std::time::Instant,
    ) -> Result<Staging, BuilderError> {
        let from = self.params.read().beacon_roots_from;
        let params = BlockParams::deposit_only(&head.header, &origin, from);
        let mut stage = Stages::new(started);
        let mut assembler = self.exec.assemble(&head.header, head.hash, &params)?;
        for deposit in deposits {
            assembler.push(&BlockItem::Deposit(deposit.clone()))?;
        }
        let built = assembler.seal(Provenance {
            policy: DEPOSIT_ONLY_POLICY.into(),
            ..Default::default()
        })?;
        stage.done_with("execution", &[("root", built.root_time)]);
        metrics::counter!("ordo_deposit_only_blocks_total").increment(1);
        warn!(target: "ordo::builder", number = params.number, l1_origin = origin.number, deposits = deposits.len(), "L1 origin past its sequencing window: deposit-only block");
        self.stage_sealed(built, Some(origin), &params, started, stage)
    }

    /// Signs `built`, stages it over the state (the next block builds on it at once) and
    /// updates the pool: what every sealed block goes through before it is stored.
    fn stage_sealed(
        &self,
        built: ordo_exec::BuiltBlock,
        l1_origin: Option<L1Origin>,
        params: &BlockParams,
        started: std::time::Instant,
        mut stage: Stages,
    ) -> Result<Staging, BuilderError> {
        let mut leaving = built.included.clone();
        let mut invalid = Vec::new();
        for (hash, why) in &built.skipped {
            match why {
                Skipped::Invalid(reason) => {
                    debug!(target: "ordo::builder", tx = %hash, reason, "dropping invalid transaction");
                    leaving.push(*hash);
                    invalid.push((*hash, Arc::<str>::from(reason.as_str())));
                }
                Skipped::Deferred(_) => {}
            }
        }
        let mut commit = built.commit;
        let mut block = built.block;
        block.l1_origin = l1_origin;
        if let Some(stored) = commit.block.as_mut() {
            stored.l1_origin = l1_origin;
        }
        if let Some(origin) = l1_origin {
            self.origin_used(origin.number);
        }
        if let Some(signer) = self.signer.read().clone() {
            let signature = signer.sign_block(block.hash);
            block.provenance.signature = Some(signature.clone());
            if let Some(stored) = commit.block.as_mut() {
                stored.provenance.signature = Some(signature);
            }
        }
        // The block's transactions leave the WAL (on a replica, the pool's aside) once it is
        // stored (`store`), not in its batch.
        let invalid_hashes: Vec<B256> = invalid.iter().map(|(hash, _)| *hash).collect();
        let waited = std::time::Instant::now();
        self.wait_for_commit()?;
        let waited = waited.elapsed();
        // The tip moves first: a reader that sees the head behind the tip reads the head's
        // state from the change sets, whether or not the staged block is laid over it yet.
        let block = Arc::new(block);
        *self.tip.lock() = block.clone();
        let staged = self.exec.state().stage(&commit);
        self.commits.lock().in_flight = true;
        let staged_guard = StagedGuard(self);
        let changed: Vec<Address> = commit.accounts.iter().map(|(a, _)| *a).collect();
        self.pool.on_block(&leaving, &changed);
        self.pool.note_dropped(invalid);
        if let Some(bundles) = self.bundles.read().clone() {
            bundles.prune(params.number, params.timestamp.max(now_secs()));
        }
        stage.done_with("stage", &[("wait", waited)]);
        {
            let mut live = self.live.lock();
            live.number = params.number;
            live.stages_ms = std::mem::take(&mut stage.1);
            live.total_txs += built.included.len() as u64;
            live.total_gas += block.header.gas_used;
        }
        if let Some(last) = self.last_sealed.lock().replace(started) {
            metrics::histogram!("ordo_block_interval_seconds")
                .record(started.duration_since(last).as_secs_f64());
        }
        std::mem::forget(staged_guard);
        Ok(Staging {
            commit,
            staged,
            block,
            included: built.included.len(),
            invalid: invalid_hashes,
        })
    }

    /// Stores a staged block (one atomic batch, fsynced), makes it the head and announces
    /// it. A failure stops block production: the block's transactions are still in the WAL
    /// (on a replica, in the log), and a restart builds on the last stored block.
    ///
    /// On a replica the log decides: the block is parked, handed to the [`Replicator`], and
    /// stored when the group has committed its entry and this replica applies it
    /// ([`Builder::apply_committed`]), exactly as the other replicas store it.
    fn finish(&self, staging: Staging) -> Result<SealedBlock, BuilderError> {
        let number = staging.block.number();
        let _span = tracing::info_span!("block", number).entered();
        let Some(replicator) = self.replicator.read().clone() else {
            let staging = self.store(staging, None)?;
            return Ok(self.announce(staging));
        };
        let block = staging.block.clone();
        *self.parked.lock() = Some(staging);
        let replicated = replicator.replicate(&block);
        let stored = self.stored_parked.lock().take();
        if let Some(staging) = stored {
            // Committed and stored here, whatever the wait for it said.
            return Ok(self.announce(staging));
        }
        let own = self.parked.lock().take();
        match (replicated, own) {
            (Err(why), Some(staging)) => {
                // Not committed: this replica no longer leads. The block is taken back; if
                // the group commits it after all, it arrives as any leader's block does.
                warn!(target: "ordo::builder", number, %why, "block not replicated; taken back");
                self.take_back(staging);
                Err(BuilderError::Replicated(format!(
                    "block {number} was not replicated ({why})"
                )))
            }
            (result, None) if self.commits.lock().failed.is_none() => {
                // Taken back when another leader's block was committed at its height.
                let why = result
                    .err()
                    .unwrap_or_else(|| "another leader's block won".into());
                Err(BuilderError::Replicated(format!(
                    "block {number} was not replicated ({why})"
                )))
            }
            (result, _) => {
                // Neither stored nor taken back: this replica has stopped.
                let why = match result {
                    Err(why) => why,
                    Ok(()) => "its entry was applied without storing it".into(),
                };
                let reason = format!("block {number} was not replicated ({why}); restart the node");
                self.fail(reason.clone());
                Err(BuilderError::CommitFailed(reason))
            }
        }
    }

    /// Stops block production for good: a block is staged that will never be stored.
    pub(crate) fn fail(&self, reason: String) {
        tracing::error!(target: "ordo::builder", %reason, "block production stopped");
        let mut commits = self.commits.lock();
        commits.in_flight = false;
        commits.failed = Some(reason.clone());
        self.committed.notify_all();
        *self.halted.write() = Some(reason);
    }

    /// Writes a staged block's batch (`position`: its Raft log position, on a replica).
    pub(crate) fn store(
        &self,
        mut staging: Staging,
        position: Option<Vec<u8>>,
    ) -> Result<Staging, BuilderError> {
        let started = std::time::Instant::now();
        staging.commit.raft_applied = position;
        let stored = self
            .exec
            .state()
            .commit_staged(&staging.commit, &staging.staged);
        if let Err(err) = &stored {
            let mut commits = self.commits.lock();
            commits.in_flight = false;
            commits.failed = Some(format!(
                "block {} was not stored: {err}",
                staging.block.number()
            ));
            self.committed.notify_all();
        }
        if let Err(err) = stored {
            *self.halted.write() = Some(format!("storage failed: {err}"));
            return Err(err.into());
        }
        metrics::histogram!("ordo_builder_stage_seconds", "stage" => "commit")
            .record(started.elapsed().as_secs_f64());
        // A thousand WAL removals were an eighth of a large block's commit. Queued only now
        // that the block is durable, so a crash before it never loses a transaction; a
        // removal a crash loses leaves an included transaction in the WAL, which the restart
        // finds below its sender's nonce and removes.
        let mut leaving = staging.block.tx_hashes.clone();
        leaving.extend_from_slice(&staging.invalid);
        self.pool.forget_stored(leaving);
        Ok(staging)
    }

    /// Makes a stored block the head and tells subscribers.
    pub(crate) fn announce(&self, staging: Staging) -> SealedBlock {
        let Staging {
            mut commit,
            block,
            included,
            ..
        } = staging;
        *self.head.write() = block.clone();
        let sealed = SealedBlock {
            block,
            receipts: Arc::new(std::mem::take(&mut commit.receipts)),
        };
        let _ = self.events.send(sealed.clone());
        let header = &sealed.block.header;
        metrics::counter!("ordo_blocks_sealed_total").increment(1);
        metrics::counter!("ordo_block_txs_total").increment(included as u64);
        metrics::counter!("ordo_block_gas_used_total").increment(header.gas_used);
        metrics::histogram!("ordo_block_txs").record(included as f64);
        metrics::histogram!("ordo_block_gas_used").record(header.gas_used as f64);
        metrics::gauge!("ordo_head_block").set(header.number as f64);
        metrics::gauge!("ordo_base_fee_wei").set(header.base_fee_per_gas.unwrap_or(0) as f64);
        debug!(target: "ordo::builder", number = header.number, txs = included, "sealed block");
        // Only now may the next block be staged: the head never trails the tip by two.
        self.commits.lock().in_flight = false;
        self.committed.notify_all();
        sealed
    }

    /// Fails with [`BuilderError::WaitingForDisk`] while the datadir is short of space
    /// (logged once when that starts and once when it ends, not every slot).
    fn check_space(&self) -> Result<(), BuilderError> {
        // One statvfs a slot serves both the gauge and the check.
        let storage = self.exec.state().storage();
        let free = storage.free_bytes()?;
        metrics::gauge!("ordo_disk_free_bytes").set(free as f64);
        let reserve = storage.min_free_bytes();
        let short = (free < reserve).then_some((free, reserve));
        let was_short = self
            .disk_short
            .swap(short.is_some(), std::sync::atomic::Ordering::Relaxed);
        match short {
            Some((free, reserve)) => {
                if !was_short {
                    warn!(target: "ordo::builder", free, reserve, "datadir short of space: no blocks until space returns");
                }
                Err(BuilderError::WaitingForDisk(format!(
                    "{free} bytes free, {reserve} reserved"
                )))
            }
            None => {
                if was_short {
                    info!(target: "ordo::builder", "datadir has space again: blocks resume");
                }
                Ok(())
            }
        }
    }

    /// Waits until no block is in flight; fails if a block's commit failed.
    fn wait_for_commit(&self) -> Result<(), BuilderError> {
        let mut commits = self.commits.lock();
        while commits.in_flight {
            self.committed.wait(&mut commits);
        }
        match &commits.failed {
            Some(why) => Err(BuilderError::CommitFailed(why.clone())),
            None => Ok(()),
        }
    }

    /// Keeps filling the block once its plan ran. Policies choose by gas *limits*, while a
    /// transaction pays only for the gas it *uses*: a sender with a block-sized limit and a
    /// top tip would otherwise reserve the whole block for a 21k-gas transfer. So, while
    /// real gas is left, the policy is asked again to order the candidates not yet in the
    /// block against the gas actually left (up to [`MAX_POLICY_REFILLS`] times), and a
    /// last native pass takes whatever still fits, as geth's and reth's builders do.
    fn refill(
        &self,
        assembler: &mut ordo_exec::BlockAssembler<'_>,
        ctx: &OrderingContext,
        candidates: &[ordo_primitives::Candidate],
        policy: &dyn OrderingPolicy,
        policy_failed: bool,
    ) -> Result<(), BuilderError> {
        for round in 0..=MAX_POLICY_REFILLS {
            let gas_left = assembler.gas_left();
            if gas_left < MIN_TX_GAS {
                break;
            }
            let mut done: std::collections::HashSet<B256> =
                assembler.included().iter().copied().collect();
            done.extend(
                assembler
                    .skipped()
                    .iter()
                    .filter_map(|(hash, why)| matches!(why, Skipped::Invalid(_)).then_some(*hash)),
            );
            let rest: Vec<ordo_primitives::Candidate> = candidates
                .iter()
                .filter(|c| !done.contains(&c.hash) && c.gas_limit() <= gas_left)
                .cloned()
                .collect();
            if rest.is_empty() {
                break;
            }
            let ctx = OrderingContext {
                gas_limit: gas_left,
                ..*ctx
            };
            let native = policy_failed || round == MAX_POLICY_REFILLS;
            let order = if native {
                None
            } else {
                policy
                    .order(&ctx, &rest)
                    .and_then(|order| check_order(&rest, &order).map(|()| order))
                    .inspect_err(|err| {
                        debug!(target: "ordo::builder", policy = policy.name(), %err, "refill order refused; native order for the rest of the block");
                    })
                    .ok()
            };
            let Some(order) = order.or_else(|| self.fallback.order(&ctx, &rest).ok()) else {
                break;
            };
            let before = assembler.included().len();
            for i in order {
                assembler.push(&BlockItem::Tx(rest[i as usize].tx.clone()))?;
            }
            if assembler.included().len() == before || native {
                break;
            }
        }
        Ok(())
    }

    /// Appends the overdue candidates not in the block yet, in candidate order (each
    /// sender's nonces ascending): the ones that land are the host's placements.
    fn place_overdue(
        &self,
        assembler: &mut ordo_exec::BlockAssembler<'_>,
        candidates: &[ordo_primitives::Candidate],
        overdue: &[bool],
    ) -> Result<Vec<B256>, BuilderError> {
        if !overdue.contains(&true) {
            return Ok(Vec::new());
        }
        let mut placed = Vec::new();
        let mut done: std::collections::HashSet<B256> =
            assembler.included().iter().copied().collect();
        for (c, _) in candidates.iter().zip(overdue).filter(|(_, due)| **due) {
            if done.contains(&c.hash) {
                continue;
            }
            let before = assembler.included().len();
            assembler.push(&BlockItem::Tx(c.tx.clone()))?;
            if assembler.included().len() > before {
                placed.push(c.hash);
                done.insert(c.hash);
            }
        }
        Ok(placed)
    }

    /// This block's bundles: the pool's eligible ones, then the searcher plugins' proposals,
    /// each simulated alone on the pre-state. Failures are accounted to their searcher.
    fn collect_bundles(
        &self,
        ctx: &OrderingContext,
        params: &BlockParams,
        candidates: &[ordo_primitives::Candidate],
        parent_hash: B256,
    ) -> Vec<BundleOffer> {
        let number = params.number;
        let mut pending: Vec<mev::Pending> = Vec::new();
        if let Some(pool) = self.bundles.read().clone() {
            pending.extend(
                pool.eligible(number, params.timestamp)
                    .iter()
                    .map(|b| mev::Pending::from_rpc(b)),
            );
        }
        let host = self.searchers.read().clone();
        let state = Arc::new(mev::HeadState {
            exec: self.exec.clone(),
            params: params.clone(),
        });
        for proposal in host.search(ctx, candidates, state) {
            let key = plugin_searcher_key(&proposal.searcher);
            match mev::Pending::from_plugin(&proposal, self.exec.chain_id()) {
                Ok(p) => pending.push(p),
                Err(why) => {
                    debug!(target: "ordo::mev", searcher = %key, why, "searcher bundle does not decode");
                    self.ledger.proposed(&key, number);
                    self.ledger.failed_simulation(&key, number);
                }
            }
        }
        let prevrandao = alloy_primitives::keccak256(parent_hash);
        let mut seen = std::collections::HashSet::new();
        let mut offers = Vec::new();
        let mut simulated = 0usize;
        let ledger = &self.ledger;
        let ranked = mev::fair_order(pending, |key| {
            key.starts_with("plugin:") || (key.starts_with("0x") && ledger.credit_key(key) == key)
        });
        for (arrival, p) in ranked.into_iter().enumerate() {
            let (p, searcher_rank) = p;
            let key = p.searcher.clone();
            self.ledger.proposed(&key, number);
            if !seen.insert(p.hash()) {
                self.ledger.dropped(&key, number, "duplicate");
                continue;
            }
            if self.ledger.rate_limited(&key, number) {
                self.ledger.dropped(&key, number, "rate_limited");
                continue;
            }
            // Every simulation costs the block, passed or failed; one searcher gets a
            // bounded share, and the shares are taken in turns (`fair_order`).
            if searcher_rank >= MAX_BUNDLES_PER_SEARCHER_PER_BLOCK
                || simulated >= MAX_BUNDLES_PER_BLOCK
            {
                self.ledger.dropped(&key, number, "block_limit");
                continue;
            }
            simulated += 1;
            match mev::simulate(
                &self.exec,
                params,
                prevrandao,
                candidates,
                p,
                arrival as u64,
            ) {
                mev::Simulated::Offer(offer) => offers.push(offer),
                mev::Simulated::TargetMissing => {
                    self.ledger.dropped(&key, number, "target_missing")
                }
                mev::Simulated::Failed(why) => {
                    debug!(target: "ordo::mev", searcher = %key, why, "bundle failed simulation");
                    self.ledger.failed_simulation(&key, number);
                }
            }
        }
        offers
    }

    fn account_bundles(
        &self,
        number: u64,
        offers: &[BundleOffer],
        placed: &[bool],
        results: &[(B256, BundleResult)],
    ) {
        let results: std::collections::HashMap<B256, &BundleResult> =
            results.iter().map(|(h, r)| (*h, r)).collect();
        for (offer, placed) in offers.iter().zip(placed) {
            if !placed {
                self.ledger.dropped(&offer.searcher, number, "conflict");
                continue;
            }
            match results.get(&offer.hash).copied().cloned() {
                Some(BundleResult::Landed { coinbase_diff, .. }) => {
                    self.ledger.landed(&offer.searcher, number, coinbase_diff);
                    debug!(target: "ordo::mev", bundle = %offer.hash, searcher = %offer.searcher, %coinbase_diff, "bundle landed");
                }
                Some(BundleResult::Dropped(why)) => {
                    debug!(target: "ordo::mev", bundle = %offer.hash, searcher = %offer.searcher, %why, "bundle dropped in block");
                    self.ledger.dropped(&offer.searcher, number, why.label());
                }
                None => self.ledger.dropped(&offer.searcher, number, "conflict"),
            }
        }
    }

    /// Produces a block every block time until `shutdown` resolves.
    ///
    /// Blocks are built on a thread of their own ("ordo-builder"), not on tokio's blocking
    /// pool: whatever else the node is asked to do, no queue of other work stands between a
    /// slot and its block. Their batches are stored on another ("ordo-commit"), so block N
    /// is written while block N+1 executes on it; N+1 is staged only once N is stored, and
    /// nothing of a block is announced before it is.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let (ticks, builds) =
            std::sync::mpsc::channel::<tokio::sync::oneshot::Sender<Result<bool, BuilderError>>>();
        let (to_commit, commits) = std::sync::mpsc::channel::<Staging>();
        let this = self.clone();
        let committer = std::thread::Builder::new()
            .name("ordo-commit".into())
            .spawn(move || {
                ordo_exec::apply_block_thread_priority();
                for staging in commits {
                    let number = staging.block.number();
                    // A panic must not leave the block in flight forever: the builder thread
                    // would wait for it holding `sealing`, and `halt` with it.
                    let finished = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        this.finish(staging)
                    }));
                    match finished {
                        Ok(Ok(_)) => {}
                        Ok(Err(BuilderError::Replicated(why))) => {
                            // Taken back: this replica no longer leads; it goes on following.
                            warn!(target: "ordo::builder", number, %why, "block not stored here");
                        }
                        Ok(Err(err)) => {
                            tracing::error!(target: "ordo::builder", number, %err, "storing a block failed; block production halted");
                        }
                        Err(_) => this.fail(format!("storing block {number} panicked")),
                    }
                }
            });
        if let Err(err) = committer {
            tracing::error!(target: "ordo::builder", %err, "cannot start the commit thread; no blocks");
            return;
        }
        let this = self.clone();
        let thread = std::thread::Builder::new()
            .name("ordo-builder".into())
            .spawn(move || {
                ordo_exec::apply_block_thread_priority();
                for reply in builds {
                    // A panic fails this slot (the reply is dropped), not the next ones.
                    let sealed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let _sealing = this.sealing.lock();
                        if this.halted.read().is_some() || this.standing_by() {
                            return Ok(false);
                        }
                        let staging = this.seal()?;
                        to_commit.send(staging).map_err(|_| {
                            BuilderError::CommitFailed("the commit thread is gone".into())
                        })?;
                        Ok(true)
                    }));
                    if let Ok(sealed) = sealed {
                        let _ = reply.send(sealed);
                    }
                }
                // Dropping `to_commit` lets the commit thread store what is in flight and end.
            });
        if let Err(err) = thread {
            tracing::error!(target: "ordo::builder", %err, "cannot start the builder thread; no blocks");
            return;
        }
        let mut next = tokio::time::Instant::now() + self.params.read().block_time;
        info!(target: "ordo::builder", head = self.head().number(), "block production started");
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep_until(next) => {}
            }
            let (reply, sealed) = tokio::sync::oneshot::channel();
            if ticks.send(reply).is_err() {
                tracing::error!(target: "ordo::builder", "builder thread gone; block production stopped");
                break;
            }
            match sealed.await {
                Ok(Ok(_)) => {}
                Ok(Err(BuilderError::WaitingForL1(why) | BuilderError::WaitingForDisk(why))) => {
                    debug!(target: "ordo::builder", %why, "no block this slot");
                }
                Ok(Err(err)) => {
                    // Storage is failing; retrying in a tight loop would not help.
                    tracing::error!(target: "ordo::builder", %err, "block production failed");
                }
                Err(_) => tracing::error!(target: "ordo::builder", "builder thread panicked"),
            }
            // Fixed slots: the next block is due one block time after this one was due.
            // A block that overran its slot is followed at once by the next (which then
            // holds everything that arrived meanwhile), as op-node does when it falls
            // behind: waiting a whole block time more would only leave the core idle.
            let block_time = self.params.read().block_time;
            next += block_time;
            let now = tokio::time::Instant::now();
            if next < now {
                let missed = (now - next).as_micros() / block_time.as_micros().max(1) + 1;
                metrics::counter!("ordo_block_slots_overrun_total").increment(missed as u64);
                debug!(target: "ordo::builder", missed = missed as u64, head = self.head().number(), "block production overran its slot");
                next = now;
            }
        }
        // The block in flight, if any, is stored before this returns.
        drop(ticks);
        let this = self.clone();
        let _ = tokio::task::spawn_blocking(move || this.wait_for_commit()).await;
        info!(target: "ordo::builder", head = self.head().number(), "block production stopped");
    }
}

/// How long each included pool transaction waited, from the node's acceptance to its block
/// being sealed (`ordo_tx_inclusion_seconds`; after a restart, from when it was restored).
/// Returns the median and 99th percentile, in milliseconds (None without any).
fn record_inclusion_latency(
    candidates: &[ordo_primitives::Candidate],
    included: &[B256],
) -> Option<(u64, u64)> {
    if included.is_empty() {
        return None;
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let included: std::collections::HashSet<&B256> = included.iter().collect();
    let mut waits: Vec<u64> = candidates
        .iter()
        .filter(|c| included.contains(&c.tx.hash))
        .map(|c| now_ms.saturating_sub(c.arrival_ms))
        .collect();
    for ms in &waits {
        metrics::histogram!("ordo_tx_inclusion_seconds").record(*ms as f64 / 1000.0);
    }
    if waits.is_empty() {
        return None;
    }
    waits.sort_unstable();
    let at = |q: usize| waits[(waits.len() - 1) * q / 100];
    Some((at(50), at(99)))
}

/// L1 origins (origin.rs has the rules and the seam).
impl Builder {
    /// Takes L1 origins (and their deposits) from `source` from the next block on.
    pub fn set_origin_source(&self, source: Arc<dyn OriginSource>) {
        *self.origins.write() = Some(source);
    }

    /// What the block after `head` at `timestamp` is, as far as L1 origins decide: its
    /// origin and the deposits it starts with (empty unless the origin moves), or a
    /// deposit-only block, or none yet.
    pub(crate) fn next_origin(
        &self,
        head: &BlockRecord,
        timestamp: u64,
    ) -> Result<origin::OriginStep, BuilderError> {
        use origin::OriginStep;
        let Some(source) = self.origins.read().clone() else {
            return Ok(OriginStep::Ordered(head.l1_origin, Vec::new()));
        };
        if let Some(why) = source.broken() {
            return Err(self.stop_on_origin(why));
        }
        let (confirmed, window) = (source.confirmed(), source.window());
        // Half the window is left for the batch to reach L1: a block is not built on an
        // origin whose window would close before its batch can land.
        let margin = window / 2;
        let expired = |o: &L1Origin| {
            confirmed.is_some_and(|c| o.number.saturating_add(window) <= c.saturating_add(margin))
        };
        let must_move = head.l1_origin.is_some_and(|o| expired(&o));
        let offered = match head.l1_origin {
            Some(current) => source.origin(current.number + 1),
            None => source.first(),
        };
        let Some(next) = offered else {
            return Ok(match (must_move, head.l1_origin) {
                (true, Some(current)) => OriginStep::Wait(format!(
                    "origin {} is past its sequencing window and L1 block {} is not read yet",
                    current.number,
                    current.number + 1
                )),
                _ => OriginStep::Ordered(head.l1_origin, Vec::new()),
            });
        };
        if let Some(current) = head.l1_origin
            && next.parent_hash != current.hash
        {
            return Err(self.stop_on_origin(format!(
                "L1 block {} does not follow this chain's origin {} {}: L1 reorganised below \
                 the confirmation depth",
                next.origin.number, current.number, current.hash
            )));
        }
        if must_move && expired(&next.origin) {
            return Ok(OriginStep::DepositOnly(next.origin, next.deposits));
        }
        if must_move || next.origin.timestamp <= timestamp {
            return Ok(OriginStep::Ordered(Some(next.origin), next.deposits));
        }
        Ok(OriginStep::Ordered(head.l1_origin, Vec::new()))
    }

    /// `origin` with its beacon root. One stored before origins carried it (the head of a
    /// chain sealed by an older Ordo) is read again from the feed, which keeps the current
    /// origin, so the blocks after an upgrade name its root as derivation reads it from L1.
    fn with_beacon_root(&self, origin: L1Origin) -> L1Origin {
        if origin.beacon_root.is_some() {
            return origin;
        }
        let fetched = self
            .origins
            .read()
            .clone()
            .and_then(|source| source.origin(origin.number));
        match fetched {
            Some(next) if next.origin.hash == origin.hash => L1Origin {
                beacon_root: next.origin.beacon_root,
                ..origin
            },
            _ => origin,
        }
    }

    /// Lets `source` forget origins older than `number`.
    pub(crate) fn origin_used(&self, number: u64) {
        if let Some(source) = self.origins.read().clone() {
            source.done_below(number);
        }
    }

    fn stop_on_origin(&self, why: String) -> BuilderError {
        tracing::error!(target: "ordo::builder", %why, "block production stopped");
        *self.halted.write() = Some(why.clone());
        BuilderError::Origin(why)
    }
}
