//! [`Pool`]: the shared handle. It glues the stateless checks ([`crate::validate`]), the
//! account reads ([`StateReader`]), the queues ([`TxPool`] behind one lock) and the WAL
//! writer ([`crate::wal`]) together, and announces accepted transactions.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, B256};
use ordo_primitives::{Candidate, PooledTx, decode_raw_tx_with_blobs};
use ordo_storage::Storage;
use parking_lot::RwLock;
use rayon::prelude::*;
use tokio::sync::{broadcast, oneshot};
use tracing::{debug, info, warn};

use crate::txpool::{Account, TxPool};
use crate::validate::check_static;
use crate::wal::{GroupSink, PendingAppend, WalOp, WalStats, WalWriter};
use crate::{PoolConfig, PoolError, PoolLimits, StateReader};

/// Above this many senders, `on_block` reads their accounts in parallel.
const PARALLEL_READS: usize = 512;
/// How often, at most, a block sweeps the whole pool for queued transactions past their TTL.
pub const TTL_SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Transaction counts and footprint, as `txpool_status` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Executable transactions (consecutive nonces from the account nonce).
    pub pending: usize,
    /// Transactions waiting behind a nonce gap (or not yet re-validated).
    pub queued: usize,
    /// Encoded bytes held.
    pub bytes: usize,
}

/// The durable mempool. Shared behind `Arc`; every method takes `&self`.
///
/// See the crate docs for the flow of a transaction through it.
pub struct Pool {
    config: PoolConfig,
    limits: RwLock<PoolLimits>,
    state: Arc<dyn StateReader>,
    storage: Storage,
    inner: RwLock<TxPool>,
    /// Bumped (under the `inner` write lock) by every `on_block`: account reads from an
    /// older epoch may predate the block and are re-read before inserting.
    epoch: AtomicU64,
    /// The next arrival number; starts above every `seq` already in the WAL.
    next_seq: AtomicU64,
    /// When `on_block` last swept the whole pool for expired queued transactions.
    last_sweep: parking_lot::Mutex<Instant>,
    wal: WalWriter,
    announce: broadcast::Sender<B256>,
    dropped: parking_lot::Mutex<DropLog>,
    /// On a replica: the group's log, which commits what this pool accepts before it is
    /// acknowledged.
    replicator: RwLock<Option<Arc<dyn TxReplicator>>>,
    /// On a replica: the group's log keeps what this pool acknowledges or adopts, so the
    /// WAL is not written ([`Pool::keep_in_group_log`]).
    log_keeps: AtomicBool,
    /// The transactions re-pooled from the WAL at startup that are still there: the only
    /// WAL entries left to remove once the group's log keeps the rest.
    in_wal: parking_lot::Mutex<HashSet<B256>>,
    /// The group being committed by the replicator (accepted, not yet pooled): a replica's
    /// snapshot must hold it, as its log position may already be past the group's entry.
    committing: parking_lot::Mutex<Vec<Arc<PooledTx>>>,
    /// Once the group's log keeps the transactions: those a block took out of the pool
    /// until the block is stored (or taken back). A leader's snapshot must hold them, as
    /// its block may yet not be committed.
    staged: parking_lot::Mutex<HashMap<B256, Arc<PooledTx>>>,
    /// Transactions a committed entry carried ([`Pool::adopt`]) while this pool was
    /// committing them again itself (a sender's retry, its first try's entry committed
    /// late). If that second try fails they are pooled all the same: the group has them.
    adopted_in_flight: parking_lot::Mutex<HashMap<B256, PooledTx>>,
}

/// Commits accepted transactions to a replica group's log (blocking; called on the WAL
/// writer's thread with each group).
pub trait TxReplicator: Send + Sync {
    /// The raw transactions with their senders, in arrival order. `Ok` once the group
    /// committed them.
    fn replicate(&self, txs: Vec<(alloy_primitives::Bytes, Address)>) -> Result<(), String>;
}

/// Why recently dropped transactions left the pool, so a wallet asking `ordo_txStatus`
/// learns what happened to an acknowledged transaction. Bounded: the oldest reasons go.
#[derive(Debug, Default)]
struct DropLog {
    reasons: HashMap<B256, Arc<str>>,
    order: std::collections::VecDeque<B256>,
}

impl DropLog {
    fn note(&mut self, hash: B256, reason: Arc<str>) {
        if self.reasons.insert(hash, reason).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > DROP_LOG_CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.reasons.remove(&old);
            }
        }
    }
}

/// How many dropped transactions' reasons the pool remembers.
pub const DROP_LOG_CAPACITY: usize = 16_384;

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// Creates the pool and spawns its WAL writer thread. Dropping the last `Arc` closes
    /// the writer's channel and joins the thread (at most one group's fsync), which releases
    /// its storage handle. Sequence numbers continue above the highest one already in the WAL; call
    /// [`Pool::restore`] or [`Pool::restore_from_storage`] to re-pool the WAL's entries.
    pub fn new(
        config: PoolConfig,
        limits: PoolLimits,
        state: Arc<dyn StateReader>,
        storage: Storage,
    ) -> Arc<Self> {
        let first_seq = match storage.wal_entries() {
            Ok(entries) => entries.last().map_or(0, |(seq, _)| seq.saturating_add(1)),
            Err(e) => {
                // Fall back to the clock (microseconds), which outruns any earlier counter.
                warn!(target: "ordo::pool", error = %e, "cannot read WAL sequence numbers");
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros() as u64)
            }
        };
        let (announce, _) = broadcast::channel(config.announce_capacity.max(1));
        Arc::new_cyclic(|weak: &Weak<Self>| Self {
            wal: WalWriter::spawn(storage.clone(), weak.clone(), config.wal_max_group),
            inner: RwLock::new(TxPool::new(config.clone())),
            config,
            limits: RwLock::new(limits),
            state,
            storage,
            epoch: AtomicU64::new(0),
            next_seq: AtomicU64::new(first_seq),
            last_sweep: parking_lot::Mutex::new(Instant::now()),
            announce,
            dropped: parking_lot::Mutex::new(DropLog::default()),
            replicator: RwLock::new(None),
            log_keeps: AtomicBool::new(false),
            in_wal: parking_lot::Mutex::new(HashSet::new()),
            committing: parking_lot::Mutex::new(Vec::new()),
            staged: parking_lot::Mutex::new(HashMap::new()),
            adopted_in_flight: parking_lot::Mutex::new(HashMap::new()),
        })
    }

    /// From now on, a transaction is acknowledged only once `replicator` committed it.
    pub fn set_replicator(&self, replicator: Arc<dyn TxReplicator>) {
        *self.replicator.write() = Some(replicator);
    }

    /// From now on the replica group's log is this pool's WAL: what the pool acknowledges
    /// the group committed (a quorum's logs fsynced it), and what it adopts came from
    /// that log, so neither is written to the WAL, nor removed from it later. A restarted
    /// replica re-pools them from its snapshot and its log instead. The WAL's own entries
    /// from before (re-pooled at startup) still leave it as they leave the pool. Call it
    /// before the group's entries are applied (a replica's start), and for good.
    pub fn keep_in_group_log(&self) {
        self.log_keeps.store(true, Ordering::Release);
    }

    /// Whether the group's log keeps this pool's transactions: from
    /// [`keep_in_group_log`](Self::keep_in_group_log) on, once there is a replicator to
    /// commit them (never acknowledged on the strength of nothing).
    fn logged(&self) -> bool {
        self.log_keeps.load(Ordering::Acquire) && self.replicator.read().is_some()
    }

    /// Of `hashes`, the ones to remove from the WAL: all of them, or once the group's log
    /// keeps the transactions, those still there from before (forgotten here as they go).
    fn wal_removals(&self, mut hashes: Vec<B256>) -> Vec<B256> {
        let mut held = self.in_wal.lock();
        if self.log_keeps.load(Ordering::Acquire) {
            hashes.retain(|h| held.remove(h));
        } else if !held.is_empty() {
            for h in &hashes {
                held.remove(h);
            }
        }
        hashes
    }

    /// Queues the removal of `hashes` from the WAL (those it holds).
    fn unwal(&self, hashes: Vec<B256>) {
        let hashes = self.wal_removals(hashes);
        self.wal.remove(hashes);
    }

    /// The configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// The chain limits currently enforced.
    pub fn limits(&self) -> PoolLimits {
        *self.limits.read()
    }

    /// Replaces the chain limits; applies to submissions from now on. A lower block gas
    /// limit also drops the pooled transactions above it (they could never be included),
    /// with the reason `ordo_txStatus` reports; returns their hashes.
    pub fn set_limits(&self, limits: PoolLimits) -> Vec<B256> {
        let mut inner = self.inner.write();
        let lowered = limits.block_gas_limit < self.limits.read().block_gas_limit;
        *self.limits.write() = limits;
        if !lowered {
            return Vec::new();
        }
        let dropped = inner.drop_above_gas(limits.block_gas_limit);
        self.unwal(dropped.clone());
        drop(inner);
        if !dropped.is_empty() {
            info!(target: "ordo::pool", dropped = dropped.len(), gas_limit = limits.block_gas_limit, "dropped pooled transactions above the lowered block gas limit");
        }
        let reason: Arc<str> = Arc::from("exceeds block gas limit");
        self.note_dropped(dropped.iter().map(|h| (*h, reason.clone())));
        dropped
    }

    /// Records why transactions left the pool without being included (the builder reports
    /// the ones execution found invalid).
    pub fn note_dropped(&self, dropped: impl IntoIterator<Item = (B256, Arc<str>)>) {
        let mut log = self.dropped.lock();
        for (hash, reason) in dropped {
            log.note(hash, reason);
        }
    }

    /// Why `hash` was dropped from the pool, if it was, recently.
    pub fn dropped_reason(&self, hash: &B256) -> Option<Arc<str>> {
        self.dropped.lock().reasons.get(hash).cloned()
    }

    fn account(&self, address: &Address) -> Account {
        Account {
            nonce: self.state.nonce(address),
            balance: self.state.balance(address),
        }
    }

    /// Validates `tx` against the chain limits, the sender's account and the pool, appends
    /// it to the WAL (sharing one fsync with concurrent submissions; on a replica, has the
    /// group's log commit it instead) and pools it. Returns
    /// the hash only once the transaction is durable and pooled; every error carries geth's
    /// message. The pool lock is never held across the wait for the fsync.
    ///
    /// Cancellation-safe: once the transaction reached the WAL writer it is pooled even if
    /// this future is dropped.
    #[tracing::instrument(target = "ordo::pool", name = "submit", level = "debug", skip_all, fields(hash = %tx.hash))]
    pub async fn submit(&self, tx: PooledTx) -> Result<B256, PoolError> {
        let hash = tx.hash;
        let limits = self.limits();
        check_static(&tx, &limits)?;
        let epoch = self.epoch.load(Ordering::Acquire);
        let account = self.account(&tx.sender);
        // The L1 data fee comes off the balance first when the transaction runs (op-reth's
        // pool checks it the same way, for this transaction alone).
        let l1_fee = self.state.l1_fee(&tx);
        if !l1_fee.is_zero()
            && let Some(cost) = tx.max_cost()
            && cost.saturating_add(l1_fee) > account.balance
        {
            return Err(PoolError::InsufficientFunds {
                cost: cost.saturating_add(l1_fee),
                balance: account.balance,
            });
        }
        {
            let mut inner = self.inner.write();
            if inner.is_known(&hash) {
                return Err(PoolError::AlreadyKnown);
            }
            inner.check(&tx, account, limits.min_base_fee)?;
            inner.reserve(hash);
        }
        // Asked for before the fsync wait: the queued reads run while it lasts.
        self.state.prefetch(&tx);
        let (ack, done) = oneshot::channel();
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let op = WalOp::Append(PendingAppend {
            tx: Arc::new(tx),
            seq,
            epoch,
            account,
            ack,
        });
        if let Err(e) = self.wal.send(op) {
            self.inner.write().unreserve(&hash);
            return Err(e);
        }
        match done.await {
            Ok(result) => result,
            Err(_) => Err(PoolError::Unavailable),
        }
    }

    /// Pools transactions a replica group committed (another replica accepted them),
    /// without replicating them again. Their log keeps them once
    /// [`keep_in_group_log`](Self::keep_in_group_log) was called; until then they are
    /// written to the WAL in a write of their own (not through the writer thread, which
    /// may be waiting for the group itself). Those this pool already knows (among them the
    /// ones it is committing itself) are skipped, but one it is committing itself is pooled
    /// even if its own commit then fails; those it refuses now (included since, outbid, a
    /// full pool) are not pooled. Blocking. Returns how many were pooled now.
    pub fn adopt(&self, txs: Vec<PooledTx>) -> Result<usize, PoolError> {
        let fresh: Vec<PooledTx> = {
            let inner = self.inner.read();
            let mut in_flight = Vec::new();
            let fresh = txs
                .into_iter()
                .filter_map(|tx| {
                    if inner.contains(&tx.hash) {
                        None
                    } else if inner.is_in_flight(&tx.hash) {
                        in_flight.push(tx);
                        None
                    } else {
                        Some(tx)
                    }
                })
                .collect();
            // Under the read lock: the group's outcome (`durable`, `failed`) unreserves
            // them under the write lock, so it finds them here.
            if !in_flight.is_empty() {
                let mut held = self.adopted_in_flight.lock();
                held.extend(in_flight.into_iter().map(|tx| (tx.hash, tx)));
            }
            fresh
        };
        if fresh.is_empty() {
            return Ok(0);
        }
        // Adopted transactions came from the log: once it keeps them (even before the
        // replicator is set, as a restart re-pools them), they are not written again.
        if !self.log_keeps.load(Ordering::Acquire) {
            let first = self
                .next_seq
                .fetch_add(fresh.len() as u64, Ordering::Relaxed);
            let entries: Vec<(B256, u64, &[u8])> = fresh
                .iter()
                .zip(first..)
                .map(|(tx, seq)| (tx.hash, seq, &tx.encoded[..]))
                .collect();
            self.storage
                .wal_append(&entries)
                .map_err(|e| PoolError::Storage(Arc::new(e)))?;
        }
        Ok(self.insert_durable(fresh))
    }

    /// Takes back out of the pool transactions a replica's restart pooled from entries of
    /// its log not known committed, once the log dropped those entries (truncated when
    /// another leader's log took their place, or replaced by a snapshot). Left here, one
    /// could keep out a transaction the group did commit with the same nonce, which pays
    /// no replacement bump over it. Returns the hashes that were pooled.
    pub fn withdraw(&self, hashes: &[B256]) -> Vec<B256> {
        let mut inner = self.inner.write();
        let removed = inner.remove(hashes);
        // Sent under the lock: see the ordering note in `wal`.
        self.unwal(removed.clone());
        drop(inner);
        let reason: Arc<str> = Arc::from("not committed by the replica group");
        self.note_dropped(removed.iter().map(|h| (*h, reason.clone())));
        removed
    }

    /// Every pooled transaction, each sender's in nonce order (what a replica's snapshot
    /// hands a replica that catches up).
    pub fn all_txs(&self) -> Vec<Arc<PooledTx>> {
        self.inner.read().all()
    }

    /// What a replica's snapshot holds: every pooled transaction, the group its replicator
    /// is committing (whose entry may be applied already, ahead of its pooling), and those
    /// a block not yet stored took out of the pool (a leader's block may yet be taken
    /// back). Some may never be committed or be included already: a restart pools them
    /// again only as far as they are still valid.
    pub fn snapshot_txs(&self) -> Vec<Arc<PooledTx>> {
        // The group first: it is cleared only once pooled, so nothing falls between; and a
        // block's are kept aside before they leave the pool, and dropped only once stored.
        let committing = self.committing.lock().clone();
        // The pool and the block's aside together: a block moves them under the pool lock.
        let (mut txs, staged) = {
            let inner = self.inner.read();
            let staged: Vec<Arc<PooledTx>> = self.staged.lock().values().cloned().collect();
            (inner.all(), staged)
        };
        let mut known: HashSet<B256> = txs.iter().map(|tx| tx.hash).collect();
        for tx in committing.into_iter().chain(staged) {
            if known.insert(tx.hash) {
                txs.push(tx);
            }
        }
        txs
    }

    /// Pools again the transactions of a block this replica staged and the group did not
    /// commit (taken back), in their block order, and keeps nothing of `staged` (the
    /// block's hashes, those it found invalid among them, which stay out of the pool as
    /// they left it) aside any longer. Those refused now leave the WAL, when they are in it.
    /// Returns how many are pooled afterwards.
    pub fn put_back(&self, txs: Vec<PooledTx>, staged: &[B256]) -> usize {
        let kept = self.insert_durable(txs);
        // Only now: until pooled, a snapshot finds them aside.
        let mut aside = self.staged.lock();
        for hash in staged {
            aside.remove(hash);
        }
        kept
    }

    /// Startup: re-pools transactions read back from the WAL (already durable), in arrival
    /// order, validating each against the current limits and state. Entries no longer valid
    /// (included meanwhile, underpriced duplicates, over capacity) are removed from the WAL.
    /// Returns how many of `txs` are pooled afterwards. Restored transactions get fresh
    /// in-memory arrival numbers in the given order.
    pub fn restore(&self, txs: Vec<PooledTx>) -> usize {
        self.in_wal.lock().extend(txs.iter().map(|tx| tx.hash));
        let kept = self.insert_durable(txs);
        info!(target: "ordo::pool", kept, "mempool restored from the WAL");
        kept
    }

    /// Pools transactions already in the WAL, in the given order; those refused leave it.
    fn insert_durable(&self, txs: Vec<PooledTx>) -> usize {
        let limits = self.limits();
        let mut accounts: HashMap<Address, Account> = HashMap::new();
        for tx in &txs {
            accounts
                .entry(tx.sender)
                .or_insert_with(|| self.account(&tx.sender));
        }
        let now = Instant::now();
        let mut inner = self.inner.write();
        let mut removals = Vec::new();
        let mut restored = Vec::with_capacity(txs.len());
        for tx in txs {
            let hash = tx.hash;
            if inner.contains(&hash) {
                continue;
            }
            let account = accounts.get(&tx.sender).copied().unwrap_or_default();
            let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            let result = check_static(&tx, &limits)
                .and_then(|()| inner.insert(Arc::new(tx), seq, account, limits.min_base_fee, now));
            match result {
                Ok(out) => {
                    restored.push(hash);
                    removals.extend(out.removed());
                }
                Err(e) => {
                    debug!(target: "ordo::pool", %hash, error = %e, "WAL entry no longer valid");
                    removals.push(hash);
                }
            }
        }
        let kept = restored.iter().filter(|h| inner.contains(h)).count();
        // Sent under the lock: see the ordering note in `wal`.
        self.unwal(removals);
        drop(inner);
        kept
    }

    /// Startup convenience: reads the WAL from storage, decodes its entries in parallel and
    /// [`restore`](Self::restore)s them. Undecodable entries are removed from the WAL.
    pub fn restore_from_storage(&self) -> Result<usize, PoolError> {
        let entries = self
            .storage
            .wal_records()
            .map_err(|e| PoolError::Storage(Arc::new(e)))?;
        let decoded: Vec<Result<(u64, PooledTx), B256>> = entries
            .par_iter()
            // A blob transaction in the WAL was accepted on a chain that has them.
            .map(|(key, seq, raw)| {
                decode_raw_tx_with_blobs(raw, None)
                    .map(|tx| (*seq, tx))
                    .map_err(|_| *key)
            })
            .collect();
        let mut txs = Vec::with_capacity(decoded.len());
        let mut bad = Vec::new();
        let mut last_seq = None;
        for item in decoded {
            match item {
                Ok((seq, tx)) => {
                    last_seq = Some(seq);
                    txs.push(tx);
                }
                Err(key) => bad.push(key),
            }
        }
        // Sequence numbers go on after the last good entry: a damaged record's number says
        // nothing (restore runs at start, before anything is appended).
        self.next_seq.store(
            last_seq.map_or(0, |s| s.saturating_add(1)),
            Ordering::Relaxed,
        );
        if !bad.is_empty() {
            warn!(target: "ordo::pool", count = bad.len(), keys = ?bad, "undecodable WAL entries removed");
            self.wal.remove(bad);
        }
        Ok(self.restore(txs))
    }

    /// Executable transactions at `base_fee`: per sender, the consecutive nonces from the
    /// account nonce whose fee cap covers `base_fee`, in nonce order; across senders in
    /// arrival order (the ordering policy decides the block order).
    pub fn candidates(&self, base_fee: u64) -> Vec<Candidate> {
        self.inner.read().candidates(base_fee)
    }

    /// After a block is staged: forgets the `included` transactions (their WAL entries leave
    /// once the block is stored, [`Pool::forget_stored`]), re-validates the pooled senders among `changed` (the
    /// accounts the block changed: no other account's nonce or balance moved) against the new
    /// state (nonce too low or insufficient funds → dropped; queued → pending once the gap
    /// closes), removes the dropped ones from the WAL and returns their hashes (not the
    /// included ones). The work is proportional to the block, not to the pool; the sweep of
    /// queued transactions past their TTL runs over the whole pool, but at most every
    /// [`TTL_SWEEP_EVERY`] (or half the TTL, if shorter).
    #[tracing::instrument(target = "ordo::pool", name = "on_block", level = "debug", skip_all, fields(included = included.len(), changed = changed.len()))]
    pub fn on_block(&self, included: &[B256], changed: &[Address]) -> Vec<B256> {
        let senders: Vec<Address> = {
            let mut inner = self.inner.write();
            let taken = inner.remove_included(included);
            if self.log_keeps.load(Ordering::Acquire) {
                let mut staged = self.staged.lock();
                staged.extend(taken.into_iter().map(|tx| (tx.hash, tx)));
            }
            self.epoch.fetch_add(1, Ordering::AcqRel);
            changed
                .iter()
                .filter(|a| inner.has_sender(a))
                .copied()
                .collect()
        };
        let read = |a: &Address| (*a, self.account(a));
        let accounts: Vec<(Address, Account)> = if senders.len() > PARALLEL_READS {
            senders.par_iter().map(read).collect()
        } else {
            senders.iter().map(read).collect()
        };
        let now = Instant::now();
        let ttl = self.config.queued_ttl;
        let mut inner = self.inner.write();
        let mut dropped = Vec::new();
        let mut reasons = Vec::new();
        for (sender, account) in accounts {
            for (hash, why) in inner.revalidate(&sender, account, now, ttl) {
                dropped.push(hash);
                reasons.push((hash, Arc::<str>::from(why)));
            }
        }
        let sweep_every = TTL_SWEEP_EVERY.min(ttl / 2);
        let mut last_sweep = self.last_sweep.lock();
        if now.saturating_duration_since(*last_sweep) >= sweep_every {
            *last_sweep = now;
            let reason: Arc<str> = Arc::from(crate::txpool::DROP_EXPIRED);
            for hash in inner.expire(now, ttl) {
                dropped.push(hash);
                reasons.push((hash, reason.clone()));
            }
        }
        drop(last_sweep);
        self.unwal(dropped.clone());
        drop(inner);
        self.note_dropped(reasons);
        if !dropped.is_empty() {
            debug!(target: "ordo::pool", dropped = dropped.len(), "dropped after block");
        }
        dropped
    }

    /// Removes a stored block's transactions (included, or found invalid) from the WAL:
    /// queued to the writer, not fsynced. Only for a block already durable: until then the
    /// WAL is what keeps them. A hash names one signed transaction, so removing an included
    /// one loses nothing even if it was written again meanwhile (a stale entry at worst).
    /// An invalid one a client sent again and this pool took back must stay: the pooled or
    /// in-flight ones are skipped, checked under the lock the submission reserves under,
    /// so a later submission's append always follows this removal.
    pub fn forget_stored(&self, hashes: Vec<B256>) {
        {
            let mut staged = self.staged.lock();
            for hash in &hashes {
                staged.remove(hash);
            }
        }
        let inner = self.inner.read();
        let gone: Vec<B256> = hashes
            .into_iter()
            .filter(|hash| !inner.is_known(hash))
            .collect();
        // Sent under the lock: see the ordering note in `wal`.
        self.unwal(gone);
        drop(inner);
    }

    /// Drops queued transactions older than the TTL now (also done by every `on_block`);
    /// removes them from the WAL and returns their hashes.
    pub fn expire_queued(&self) -> Vec<B256> {
        let mut inner = self.inner.write();
        let dropped = inner.expire(Instant::now(), self.config.queued_ttl);
        self.unwal(dropped.clone());
        drop(inner);
        let reason: Arc<str> = Arc::from(crate::txpool::DROP_EXPIRED);
        self.note_dropped(dropped.iter().map(|h| (*h, reason.clone())));
        dropped
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<Arc<PooledTx>> {
        self.inner.read().get(hash).cloned()
    }

    /// Whether `hash` is pooled.
    pub fn contains(&self, hash: &B256) -> bool {
        self.inner.read().contains(hash)
    }

    /// A sender's pooled transactions in nonce order (pending and queued).
    pub fn sender_transactions(&self, sender: &Address) -> Vec<Arc<PooledTx>> {
        self.inner.read().sender_txs(sender)
    }

    /// Every sender's pooled transactions, pending and queued (`txpool_content`).
    pub fn content(&self) -> Vec<(Address, crate::SenderContent)> {
        let inner = self.inner.read();
        inner
            .senders()
            .into_iter()
            .map(|sender| (sender, inner.sender_content(&sender)))
            .collect()
    }

    /// One sender's pooled transactions, pending and queued (`txpool_contentFrom`).
    pub fn content_from(&self, sender: &Address) -> crate::SenderContent {
        self.inner.read().sender_content(sender)
    }

    /// The account nonce advanced past the sender's consecutive pooled transactions: what
    /// `eth_getTransactionCount(addr, "pending")` returns.
    pub fn pending_nonce(&self, address: &Address) -> u64 {
        let state_nonce = self.state.nonce(address);
        self.inner.read().pending_nonce(address, state_nonce)
    }

    /// Pending and queued counts and bytes held.
    pub fn status(&self) -> PoolStatus {
        let inner = self.inner.read();
        PoolStatus {
            pending: inner.pending(),
            queued: inner.len() - inner.pending(),
            bytes: inner.bytes(),
        }
    }

    /// Number of pooled transactions.
    pub fn len(&self) -> usize {
        self.inner.read().len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The hash of every newly accepted transaction, in acceptance order.
    pub fn subscribe(&self) -> broadcast::Receiver<B256> {
        self.announce.subscribe()
    }

    /// The WAL writer's counters (groups = fsyncs, appended, removed).
    pub fn wal_stats(&self) -> WalStats {
        self.wal.stats()
    }
}

impl GroupSink for Pool {
    fn replicate(&self, group: &[PendingAppend]) -> Result<(), PoolError> {
        let Some(replicator) = self.replicator.read().clone() else {
            if self.log_keeps.load(Ordering::Acquire) {
                // Written to the WAL (nothing commits them yet): they leave it as they
                // leave the pool, as the entries restored from it do.
                self.in_wal.lock().extend(group.iter().map(|p| p.tx.hash));
            }
            return Ok(());
        };
        let raws: Vec<_> = group
            .iter()
            .map(|p| (p.tx.encoded.clone(), p.tx.sender))
            .collect();
        *self.committing.lock() = group.iter().map(|p| p.tx.clone()).collect();
        let replicated = replicator
            .replicate(raws)
            .map_err(|why| PoolError::NotReplicated(why.into()));
        if replicated.is_err() {
            self.committing.lock().clear();
        }
        replicated
    }

    fn log_keeps(&self) -> bool {
        self.logged()
    }

    fn durable(&self, mut group: Vec<PendingAppend>) -> Vec<B256> {
        let limits = self.limits();
        let now = Instant::now();
        let mut removals = Vec::new();
        let mut accepted = Vec::with_capacity(group.len());
        let mut refused = Vec::new();
        loop {
            // Reads from before the latest block are refreshed outside the lock.
            let epoch = self.epoch.load(Ordering::Acquire);
            let mut fresh: HashMap<Address, Account> = HashMap::new();
            for p in group.iter_mut().filter(|p| p.epoch != epoch) {
                p.account = *fresh
                    .entry(p.tx.sender)
                    .or_insert_with(|| self.account(&p.tx.sender));
                p.epoch = epoch;
            }
            let mut inner = self.inner.write();
            if self.epoch.load(Ordering::Acquire) != epoch {
                continue; // a block landed meanwhile: read again
            }
            for p in group {
                let hash = p.tx.hash;
                inner.unreserve(&hash);
                // The limits may have changed while the group was written (a lowered gas
                // limit drops what no longer fits; this one must not slip in behind it).
                let result = check_static(&p.tx, &limits)
                    .and_then(|()| inner.insert(p.tx, p.seq, p.account, limits.min_base_fee, now));
                match result {
                    Ok(out) => {
                        removals.extend(out.removed());
                        accepted.push((hash, p.ack));
                    }
                    Err(e) => {
                        // Lost a race (same sender and nonce, capacity, new block): roll back.
                        if !inner.contains(&hash) {
                            removals.push(hash);
                        }
                        refused.push((hash, p.ack, e));
                    }
                }
            }
            break;
        }
        // Pooled now (or refused): the snapshot finds them in the pool.
        self.committing.lock().clear();
        {
            let mut held = self.adopted_in_flight.lock();
            if !held.is_empty() {
                for hash in accepted
                    .iter()
                    .map(|a| &a.0)
                    .chain(refused.iter().map(|r| &r.0))
                {
                    held.remove(hash);
                }
            }
        }
        for (hash, ack, e) in refused {
            debug!(target: "ordo::pool", %hash, error = %e, "refused at insert, rolled back");
            let _ = ack.send(Err(e));
        }
        for (hash, ack) in accepted {
            debug!(target: "ordo::pool", %hash, "accepted");
            let _ = self.announce.send(hash);
            let _ = ack.send(Ok(hash));
        }
        self.wal_removals(removals)
    }

    fn failed(&self, group: Vec<PendingAppend>, error: PoolError) {
        let mut inner = self.inner.write();
        for p in &group {
            inner.unreserve(&p.tx.hash);
        }
        drop(inner);
        let committed: Vec<PooledTx> = {
            let mut held = self.adopted_in_flight.lock();
            group
                .iter()
                .filter_map(|p| held.remove(&p.tx.hash))
                .collect()
        };
        if !committed.is_empty() {
            // A committed entry carried them: pooled as adopted, whatever this try gave.
            self.insert_durable(committed);
        }
        for p in group {
            let _ = p.ack.send(Err(error.clone()));
        }
    }
}
