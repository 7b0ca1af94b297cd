//! [`BundlePool`]: searcher bundles (Flashbots `eth_sendBundle`) waiting for their target
//! block. Every accepted bundle is fsynced to the `bundles` keyspace before `insert`
//! returns, so an acknowledged bundle survives a crash; cancellation, replacement and
//! expiry remove it from storage again. `eth_sendBundle` inserts; the builder asks for
//! each block's eligible bundles and prunes after every block.
//!
//! Group commit: inserts queue up; whoever holds the write lock next takes the whole queue,
//! decides each bundle in arrival order (capacity, quota, replacement) and writes the group
//! in one fsynced batch, so concurrent senders share fsyncs as transactions do in the WAL.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, B256, Bytes};
use ordo_primitives::Bundle;
use ordo_storage::{Storage, StorageError};
use parking_lot::{Mutex, RwLock};
use tracing::{debug, warn};

use crate::{RPC_INTERNAL, RPC_INVALID_TX};

/// Most transactions one bundle may carry.
pub const MAX_BUNDLE_TXS: usize = 16;
/// Default [`BundleLimits::max_total`].
pub const DEFAULT_MAX_BUNDLES: usize = 1024;
/// Default [`BundleLimits::max_per_searcher`].
pub const DEFAULT_MAX_BUNDLES_PER_SEARCHER: usize = 64;

/// Capacity limits of the bundle pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleLimits {
    /// Most bundles held at once.
    pub max_total: usize,
    /// Most bundles one searcher may hold at once; all unsigned bundles together count as
    /// one searcher.
    pub max_per_searcher: usize,
}

impl Default for BundleLimits {
    fn default() -> Self {
        Self {
            max_total: DEFAULT_MAX_BUNDLES,
            max_per_searcher: DEFAULT_MAX_BUNDLES_PER_SEARCHER,
        }
    }
}

/// Why a bundle was refused, or a bundle pool failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BundleError {
    /// The target block is not after the current head.
    #[error("bundle target block is in the past")]
    PastBlock {
        /// The bundle's target block.
        target: u64,
        /// The current head.
        head: u64,
    },
    /// The bundle carries no transactions.
    #[error("bundle has no transactions")]
    Empty,
    /// More than [`MAX_BUNDLE_TXS`] transactions.
    #[error("bundle has too many transactions")]
    TooManyTxs {
        /// How many it carries.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// `max_timestamp` has already passed.
    #[error("bundle max timestamp is in the past")]
    Expired {
        /// The bundle's max timestamp.
        max_timestamp: u64,
        /// The current time.
        now: u64,
    },
    /// `min_timestamp > max_timestamp`: no block could ever satisfy it.
    #[error("bundle min timestamp is after its max timestamp")]
    InvalidTimestampRange,
    /// The pool holds `max_total` bundles.
    #[error("bundle pool is full")]
    PoolFull {
        /// The global limit.
        limit: usize,
    },
    /// The searcher holds `max_per_searcher` bundles.
    #[error("searcher bundle limit exceeded")]
    SearcherLimit {
        /// The per-searcher limit.
        limit: usize,
    },
    /// Writing to (or reading) the `bundles` keyspace failed; the bundle was not accepted.
    /// Answered -32000 "storage unavailable: …" (geth's code for a server-side refusal):
    /// the client may retry later, and nothing was acknowledged.
    #[error("storage unavailable: {0}")]
    Storage(Arc<StorageError>),
    /// The insert was never decided (a broken invariant in the group writer); not accepted.
    #[error("bundle pool unavailable")]
    Unavailable,
    /// A replica's group did not commit the bundle (leadership changed, or no quorum in
    /// time); not accepted here. Sending it again is safe.
    #[error("not replicated ({0}); retry")]
    NotReplicated(Arc<str>),
}

/// A replica group's log under the bundle pool: a group of accepted bundles (their stored
/// records) and of removed bundles (replaced, cancelled) is written to it, and answered
/// only once the group committed it. The other replicas apply it with
/// [`BundlePool::adopt`].
pub trait BundleReplicator: Send + Sync {
    /// Blocks until the group committed the change, or fails.
    fn replicate(&self, puts: Vec<Bytes>, removes: Vec<B256>) -> Result<(), String>;
}

impl From<StorageError> for BundleError {
    fn from(e: StorageError) -> Self {
        Self::Storage(Arc::new(e))
    }
}

impl BundleError {
    /// True when the failure is the node's (storage), not the bundle's.
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::Storage(_) | Self::Unavailable)
    }

    /// The JSON-RPC error code: -32000 for every refusal (as [`crate::PoolError`]), -32603
    /// for internal failures but storage (-32000 "storage unavailable").
    pub fn rpc_code(&self) -> i64 {
        if self.is_internal() && !matches!(self, Self::Storage(_)) {
            RPC_INTERNAL
        } else {
            RPC_INVALID_TX
        }
    }
}

/// A held bundle with its arrival number (eligible bundles come back in arrival order) and
/// the quota it counts against.
struct Entry {
    seq: u64,
    bundle: Arc<Bundle>,
    quota: Option<Address>,
}

#[derive(Default)]
struct Inner {
    by_hash: HashMap<B256, Entry>,
    /// `(searcher, replacement uuid) → bundle hash`.
    by_uuid: HashMap<(Option<Address>, String), B256>,
    /// Bundles held per quota key; unsigned (and unproven) bundles share the `None` quota.
    per_searcher: HashMap<Option<Address>, usize>,
    next_seq: u64,
}

impl Inner {
    fn add(&mut self, hash: B256, bundle: Arc<Bundle>, quota: Option<Address>) {
        if let Some(uuid) = &bundle.replacement_uuid {
            self.by_uuid.insert((bundle.searcher, uuid.clone()), hash);
        }
        *self.per_searcher.entry(quota).or_default() += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_hash.insert(hash, Entry { seq, bundle, quota });
    }

    fn remove(&mut self, hash: &B256) -> Option<Arc<Bundle>> {
        let Entry { bundle, quota, .. } = self.by_hash.remove(hash)?;
        if let Some(uuid) = &bundle.replacement_uuid {
            let key = (bundle.searcher, uuid.clone());
            if self.by_uuid.get(&key) == Some(hash) {
                self.by_uuid.remove(&key);
            }
        }
        if let Some(n) = self.per_searcher.get_mut(&quota) {
            *n -= 1;
            if *n == 0 {
                self.per_searcher.remove(&quota);
            }
        }
        Some(bundle)
    }

    /// Hashes of bundles that cannot land in a block after `head` or at/after `now`.
    fn expired(&self, head: u64, now: u64) -> Vec<B256> {
        self.by_hash
            .iter()
            .filter(|(_, e)| is_expired(&e.bundle, head, now))
            .map(|(h, _)| *h)
            .collect()
    }
}

fn is_expired(bundle: &Bundle, head: u64, now: u64) -> bool {
    bundle.block_number <= head || bundle.max_timestamp.is_some_and(|max| max < now)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The bundle pool. Shared behind `Arc`; every method takes `&self`.
///
/// Mutations (insert, cancel, prune, restore) are serialized by one mutex that is held
/// across their storage write, so memory and disk never disagree; readers
/// ([`BundlePool::eligible`], [`BundlePool::len`]) only take the short state lock and are
/// never blocked by an fsync.
pub struct BundlePool {
    storage: Storage,
    limits: BundleLimits,
    write: Mutex<()>,
    inner: RwLock<Inner>,
    /// Inserts waiting for the next group write.
    queue: Mutex<Vec<Queued>>,
    /// Group writes (fsyncs) and the bundles they carried.
    groups: std::sync::atomic::AtomicU64,
    written: std::sync::atomic::AtomicU64,
    /// A replica group's log, when this pool is a replica's: then the log's apply
    /// ([`BundlePool::adopt`]) is the only writer of accepted bundles, on every replica.
    replicator: RwLock<Option<Arc<dyn BundleReplicator>>>,
}

/// An insert waiting for its group.
struct Queued {
    bundle: Bundle,
    hash: B256,
    quota: Option<Address>,
    reply: std::sync::mpsc::Sender<Result<B256, BundleError>>,
}

/// How the group being formed changes the pool, on top of what `Inner` holds.
#[derive(Default)]
struct GroupState {
    /// Bundles held after the group's decisions so far.
    total: usize,
    /// Per quota key: held after the group's decisions so far.
    per_quota: HashMap<Option<Address>, usize>,
    /// Hashes and `(searcher, uuid)` keys the group adds or removes: a later bundle touching
    /// one of them starts the next group, so every decision sees a settled pool.
    touched: std::collections::HashSet<B256>,
    uuids: std::collections::HashSet<(Option<Address>, String)>,
}

/// What the group does with one queued insert.
enum Decision {
    /// Write it, removing `replaced` (which may include its own hash).
    Accept { replaced: Vec<B256> },
    /// Already held from another searcher: answer the hash, change nothing.
    Held,
    /// Refused.
    Refuse(BundleError),
    /// Conflicts with a bundle earlier in this group: decide it in the next group.
    NextGroup,
}

impl std::fmt::Debug for BundlePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundlePool")
            .field("len", &self.len())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl BundlePool {
    /// An empty pool over `storage`; call [`BundlePool::restore_from_storage`] to reload
    /// the bundles accepted before a restart.
    pub fn new(storage: Storage, limits: BundleLimits) -> Self {
        Self {
            storage,
            limits,
            write: Mutex::new(()),
            inner: RwLock::new(Inner::default()),
            queue: Mutex::new(Vec::new()),
            groups: std::sync::atomic::AtomicU64::new(0),
            written: std::sync::atomic::AtomicU64::new(0),
            replicator: RwLock::new(None),
        }
    }

    /// Replicates every change from now on through `replicator` before it is answered.
    pub fn set_replicator(&self, replicator: Arc<dyn BundleReplicator>) {
        *self.replicator.write() = Some(replicator);
    }

    /// Writes a change to the replica group's log, if this pool has one.
    /// Commits a change through the group's log, if there is a group. `Ok(true)`: the log
    /// carried it and [`BundlePool::adopt`] has applied it here already; `Ok(false)`: no
    /// group, the caller writes it.
    fn replicate(&self, puts: &[(B256, Vec<u8>)], removes: &[B256]) -> Result<bool, BundleError> {
        let Some(replicator) = self.replicator.read().clone() else {
            return Ok(false);
        };
        if puts.is_empty() && removes.is_empty() {
            return Ok(true);
        }
        let records = puts
            .iter()
            .map(|(_, record)| Bytes::copy_from_slice(record))
            .collect();
        replicator
            .replicate(records, removes.to_vec())
            .map_err(|why| BundleError::NotReplicated(why.into()))?;
        Ok(true)
    }

    /// Applies a change the group committed (the leader's pool decided it): the bundles it
    /// accepted are held, durably, and those it removed are removed, on every replica, the
    /// leader included (whose writer waits for this under `write`, so this does not take
    /// it; the log applies one change at a time). Skips the checks an insert makes (the
    /// leader made them).
    pub fn adopt(&self, puts: &[Bytes], removes: &[B256]) -> Result<usize, BundleError> {
        let mut accepted = Vec::new();
        for record in puts {
            match Bundle::decode_record(record) {
                Ok(bundle) => accepted.push((bundle.bundle_hash(), bundle)),
                Err(e) => {
                    warn!(target: "ordo::pool", error = %e, "a replicated bundle does not decode")
                }
            }
        }
        let mut inner = self.inner.write();
        // A bundle replaces the one its searcher sent with the same uuid, as on insert.
        let mut removed: Vec<B256> = removes.to_vec();
        for (hash, bundle) in &accepted {
            if let Some(uuid) = &bundle.replacement_uuid
                && let Some(old) = inner.by_uuid.get(&(bundle.searcher, uuid.clone()))
                && old != hash
            {
                removed.push(*old);
            }
        }
        let records: Vec<(B256, Vec<u8>)> = accepted
            .iter()
            .filter(|(hash, _)| !inner.by_hash.contains_key(hash))
            .map(|(hash, bundle)| (*hash, bundle.encode_record()))
            .collect();
        self.storage.put_bundles(&records, &removed)?;
        for hash in &removed {
            inner.remove(hash);
        }
        let mut adopted = 0;
        for (hash, bundle) in accepted {
            if inner.by_hash.contains_key(&hash) {
                continue;
            }
            let quota = bundle.searcher;
            inner.add(hash, Arc::new(bundle), quota);
            adopted += 1;
        }
        Ok(adopted)
    }

    /// Every held bundle's stored record, in arrival order (what a replica's snapshot
    /// hands a replica that catches up).
    pub fn records(&self) -> Vec<Bytes> {
        let inner = self.inner.read();
        let mut held: Vec<(&u64, &Arc<Bundle>)> = inner
            .by_hash
            .values()
            .map(|e| (&e.seq, &e.bundle))
            .collect();
        held.sort_by_key(|(seq, _)| **seq);
        held.into_iter()
            .map(|(_, bundle)| Bytes::from(bundle.encode_record()))
            .collect()
    }

    /// `(group writes, bundles written)` since start: how many fsyncs the inserts shared.
    pub fn write_stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.groups.load(Relaxed), self.written.load(Relaxed))
    }

    /// The configured limits.
    pub fn limits(&self) -> BundleLimits {
        self.limits
    }

    /// Validates `bundle`, makes it durable and holds it. Returns its
    /// [`Bundle::bundle_hash`] once fsynced. A bundle with the same `replacement_uuid` from
    /// the same searcher (and a bundle with the same hash) is replaced atomically. Counts
    /// against the quota of `bundle.searcher`.
    pub fn insert(
        &self,
        bundle: Bundle,
        current_head: u64,
        now_secs: u64,
    ) -> Result<B256, BundleError> {
        let quota = bundle.searcher;
        self.insert_with_quota(bundle, current_head, now_secs, quota)
    }

    /// [`BundlePool::insert`] counting the bundle against the quota of `quota` (`None`: the
    /// shared quota of unsigned bundles). The node puts signers that never landed a bundle
    /// there too: fresh keys cost nothing, so they must not each bring a quota of their own.
    pub fn insert_with_quota(
        &self,
        bundle: Bundle,
        current_head: u64,
        now_secs: u64,
        quota: Option<Address>,
    ) -> Result<B256, BundleError> {
        if bundle.txs.is_empty() {
            return Err(BundleError::Empty);
        }
        if bundle.txs.len() > MAX_BUNDLE_TXS {
            return Err(BundleError::TooManyTxs {
                count: bundle.txs.len(),
                max: MAX_BUNDLE_TXS,
            });
        }
        if bundle.block_number <= current_head {
            return Err(BundleError::PastBlock {
                target: bundle.block_number,
                head: current_head,
            });
        }
        if let Some(max) = bundle.max_timestamp {
            if max < now_secs {
                return Err(BundleError::Expired {
                    max_timestamp: max,
                    now: now_secs,
                });
            }
            if bundle.min_timestamp.is_some_and(|min| min > max) {
                return Err(BundleError::InvalidTimestampRange);
            }
        }
        let hash = bundle.bundle_hash();
        let (reply, answer) = std::sync::mpsc::channel();
        self.queue.lock().push(Queued {
            bundle,
            hash,
            quota,
            reply,
        });
        // Whoever holds the write lock writes everything queued so far; by the time we get
        // it our bundle may already be written by the holder before us.
        let _write = self.write.lock();
        if let Ok(result) = answer.try_recv() {
            return result;
        }
        self.write_queued();
        answer.recv().unwrap_or(Err(BundleError::Unavailable))
    }

    /// Writes every queued insert, in groups of one fsync each. Caller holds `write`.
    fn write_queued(&self) {
        let mut queued = std::mem::take(&mut *self.queue.lock());
        while !queued.is_empty() {
            queued = self.write_group(&mut queued);
        }
    }

    /// Decides a prefix of `queued` against the pool, writes it in one batch and answers it;
    /// returns the inserts left for the next group.
    fn write_group(&self, queued: &mut Vec<Queued>) -> Vec<Queued> {
        let mut group = GroupState::default();
        let mut decided: Vec<(Queued, Decision)> = Vec::new();
        {
            let inner = self.inner.read();
            group.total = inner.by_hash.len();
            let mut pending = std::mem::take(queued).into_iter();
            while let Some(q) = pending.next() {
                let decision = self.decide(&inner, &group, &q);
                if matches!(decision, Decision::NextGroup) {
                    // Only something decided in this group can conflict, so the group is
                    // not empty and the rest makes progress next time.
                    let rest = std::iter::once(q).chain(pending).collect();
                    drop(inner);
                    self.commit_group(decided);
                    return rest;
                }
                if let Decision::Accept { replaced } = &decision {
                    for old in replaced {
                        if let Some(e) = inner.by_hash.get(old) {
                            group.total -= 1;
                            *group.per_quota.entry(e.quota).or_insert_with(|| {
                                inner.per_searcher.get(&e.quota).copied().unwrap_or(0)
                            }) -= 1;
                        }
                        group.touched.insert(*old);
                    }
                    group.total += 1;
                    *group.per_quota.entry(q.quota).or_insert_with(|| {
                        inner.per_searcher.get(&q.quota).copied().unwrap_or(0)
                    }) += 1;
                    group.touched.insert(q.hash);
                    if let Some(uuid) = &q.bundle.replacement_uuid {
                        group.uuids.insert((q.bundle.searcher, uuid.clone()));
                    }
                }
                decided.push((q, decision));
            }
        }
        self.commit_group(decided);
        Vec::new()
    }

    /// The capacity, quota and replacement checks of one insert, against the pool and the
    /// group decided before it.
    fn decide(&self, inner: &Inner, group: &GroupState, q: &Queued) -> Decision {
        let uuid_key = q
            .bundle
            .replacement_uuid
            .as_ref()
            .map(|u| (q.bundle.searcher, u.clone()));
        if group.touched.contains(&q.hash)
            || uuid_key.as_ref().is_some_and(|k| group.uuids.contains(k))
        {
            return Decision::NextGroup;
        }
        let mut replaced = Vec::new();
        if let Some(old) = uuid_key.as_ref().and_then(|k| inner.by_uuid.get(k)) {
            if group.touched.contains(old) {
                return Decision::NextGroup;
            }
            replaced.push(*old);
        }
        if let Some(held) = inner.by_hash.get(&q.hash) {
            if held.bundle.searcher != q.bundle.searcher {
                // The same transactions from someone else: the first sender keeps the
                // bundle (its uuid, its statistics); resubmitting it changes nothing.
                return Decision::Held;
            }
            if !replaced.contains(&q.hash) {
                replaced.push(q.hash);
            }
        }
        let freed_total = replaced.len();
        if group.total - freed_total >= self.limits.max_total {
            return Decision::Refuse(BundleError::PoolFull {
                limit: self.limits.max_total,
            });
        }
        let held = group
            .per_quota
            .get(&q.quota)
            .copied()
            .unwrap_or_else(|| inner.per_searcher.get(&q.quota).copied().unwrap_or(0));
        let freed = replaced
            .iter()
            .filter(|h| inner.by_hash.get(*h).is_some_and(|e| e.quota == q.quota))
            .count();
        if held - freed >= self.limits.max_per_searcher {
            return Decision::Refuse(BundleError::SearcherLimit {
                limit: self.limits.max_per_searcher,
            });
        }
        Decision::Accept { replaced }
    }

    /// One fsynced batch for the group's accepted bundles and their replacements, then the
    /// in-memory pool, then the answers.
    fn commit_group(&self, decided: Vec<(Queued, Decision)>) {
        use std::sync::atomic::Ordering::Relaxed;
        let mut puts = Vec::new();
        let mut removes = Vec::new();
        for (q, d) in &decided {
            if let Decision::Accept { replaced } = d {
                removes.extend(replaced.iter().copied().filter(|h| *h != q.hash));
                puts.push((q.hash, q.bundle.encode_record()));
            }
        }
        // In a group, the change is committed and applied ([`BundlePool::adopt`] wrote
        // it) before anything is answered here.
        let mut replicated = false;
        let failure = match self.replicate(&puts, &removes) {
            Err(e) => Some(e),
            Ok(true) => {
                replicated = true;
                None
            }
            Ok(false) if puts.is_empty() => None,
            Ok(false) => {
                self.groups.fetch_add(1, Relaxed);
                self.written.fetch_add(puts.len() as u64, Relaxed);
                self.storage
                    .put_bundles(&puts, &removes)
                    .err()
                    .map(|e| BundleError::Storage(Arc::new(e)))
            }
        };
        let mut inner = self.inner.write();
        let mut answers = Vec::with_capacity(decided.len());
        for (q, d) in decided {
            let answer = match d {
                Decision::Accept { replaced } => match &failure {
                    Some(e) => Err(e.clone()),
                    None => {
                        if !replicated {
                            for old in &replaced {
                                inner.remove(old);
                            }
                            inner.add(q.hash, Arc::new(q.bundle), q.quota);
                        }
                        debug!(target: "ordo::pool", hash = %q.hash, replaced = replaced.len(), "bundle accepted");
                        Ok(q.hash)
                    }
                },
                Decision::Held => Ok(q.hash),
                Decision::Refuse(e) => Err(e),
                // `write_group` never commits a bundle it deferred.
                Decision::NextGroup => Err(BundleError::Unavailable),
            };
            answers.push((q.reply, answer));
        }
        drop(inner);
        for (reply, answer) in answers {
            let _ = reply.send(answer);
        }
    }

    /// Cancels the bundle `searcher` sent with `replacement_uuid` (removed from storage,
    /// fsynced). False when there is no such bundle or the storage write failed.
    pub fn cancel(&self, replacement_uuid: &str, searcher: Option<Address>) -> bool {
        let _write = self.write.lock();
        let key = (searcher, replacement_uuid.to_owned());
        let Some(hash) = self.inner.read().by_uuid.get(&key).copied() else {
            return false;
        };
        match self.replicate(&[], &[hash]) {
            Err(e) => {
                warn!(target: "ordo::pool", %hash, error = %e, "bundle cancellation not replicated");
                return false;
            }
            // Adopted: removed here too, durably.
            Ok(true) => {
                debug!(target: "ordo::pool", %hash, "bundle cancelled");
                return true;
            }
            Ok(false) => {}
        }
        if let Err(e) = self.storage.remove_bundles(&[hash]) {
            warn!(target: "ordo::pool", %hash, error = %e, "cannot remove cancelled bundle");
            return false;
        }
        self.inner.write().remove(&hash);
        debug!(target: "ordo::pool", %hash, "bundle cancelled");
        true
    }

    /// Bundles that may land in block `block_number` at `timestamp`, in arrival order.
    pub fn eligible(&self, block_number: u64, timestamp: u64) -> Vec<Arc<Bundle>> {
        let inner = self.inner.read();
        let mut out: Vec<(u64, Arc<Bundle>)> = inner
            .by_hash
            .values()
            .filter(|e| e.bundle.block_number == block_number && e.bundle.timestamp_ok(timestamp))
            .map(|e| (e.seq, e.bundle.clone()))
            .collect();
        out.sort_by_key(|(seq, _)| *seq);
        out.into_iter().map(|(_, b)| b).collect()
    }

    /// Drops every bundle that can no longer land: target block not after `head_number`, or
    /// `max_timestamp` before `now_secs`. Removes them from storage; returns their hashes.
    pub fn prune(&self, head_number: u64, now_secs: u64) -> Vec<B256> {
        let _write = self.write.lock();
        let expired = self.inner.read().expired(head_number, now_secs);
        if expired.is_empty() {
            return expired;
        }
        if let Err(e) = self.storage.remove_bundles(&expired) {
            // Harmless: a restart drops them again as expired.
            warn!(target: "ordo::pool", error = %e, "cannot remove expired bundles");
        }
        let mut inner = self.inner.write();
        for hash in &expired {
            inner.remove(hash);
        }
        debug!(target: "ordo::pool", dropped = expired.len(), "bundles pruned");
        expired
    }

    /// Reloads the bundles stored before a restart, dropping (and deleting) the expired and
    /// undecodable ones, using the system clock. Returns how many were restored. Restored
    /// bundles take arrival numbers in storage (hash) order, after any already held.
    pub fn restore_from_storage(&self, head: u64) -> Result<usize, BundleError> {
        self.restore_from_storage_at(head, now_secs())
    }

    /// [`BundlePool::restore_from_storage`] at an explicit time (tests).
    pub fn restore_from_storage_at(&self, head: u64, now_secs: u64) -> Result<usize, BundleError> {
        let _write = self.write.lock();
        let stored = self.storage.bundles()?;
        let mut dropped = Vec::new();
        let mut keep = Vec::new();
        for (hash, record) in stored {
            match Bundle::decode_record(&record) {
                Ok(bundle)
                    if bundle.bundle_hash() == hash && !is_expired(&bundle, head, now_secs) =>
                {
                    keep.push((hash, bundle))
                }
                Ok(_) => dropped.push(hash),
                Err(e) => {
                    warn!(target: "ordo::pool", %hash, error = %e, "dropping undecodable bundle");
                    dropped.push(hash);
                }
            }
        }
        let mut inner = self.inner.write();
        let mut restored = 0;
        for (hash, bundle) in keep {
            let dup_uuid = bundle
                .replacement_uuid
                .as_ref()
                .is_some_and(|u| inner.by_uuid.contains_key(&(bundle.searcher, u.clone())));
            if inner.by_hash.contains_key(&hash) {
                continue; // already held (restore called twice)
            }
            if dup_uuid {
                dropped.push(hash);
                continue;
            }
            let quota = bundle.searcher;
            inner.add(hash, Arc::new(bundle), quota);
            restored += 1;
        }
        drop(inner);
        if !dropped.is_empty()
            && let Err(e) = self.storage.remove_bundles(&dropped)
        {
            warn!(target: "ordo::pool", error = %e, "cannot remove stale bundles");
        }
        debug!(target: "ordo::pool", restored, dropped = dropped.len(), "bundles restored");
        Ok(restored)
    }

    /// Bundles held.
    pub fn len(&self) -> usize {
        self.inner.read().by_hash.len()
    }

    /// True when no bundle is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
