//! The node's Raft state machine: applying a committed entry changes the chain.
//!
//! A `Txs` entry (transactions a leader accepted) is pooled on every replica through
//! [`Pool::adopt`]. The log is a replica's WAL: a restart pools again the current
//! snapshot's transactions and those of every entry after it
//! ([`ChainMachine::restore_pool`]). A `Block` entry is stored through
//! [`Builder::apply_committed`], with its log position in the block's own batch; what has been applied is therefore read back from the chain
//! ([`RaftMeta::Applied`]), never ahead of it. Entries after that position are applied again
//! after a restart, so applying is idempotent (a stored block is recognised and skipped).
//! Membership is kept beside it ([`RaftMeta::Membership`]).
//!
//! A snapshot ([`ChainSnapshot`]) catches up a replica whose missing entries were purged
//! from the log. It does not carry the state: every replica starts from the same genesis,
//! and executing the chain's blocks rebuilds the state exactly (the block hashes prove
//! it). So a snapshot names the head it stands for and the transactions pooled there, and
//! the replica installing it fetches the blocks it lacks from the replica that took it (or
//! any other member) over the replication listener, and applies them as it applies
//! committed blocks. Installing is idempotent and makes progress if interrupted: blocks
//! stored stay stored, and the snapshot's log position is recorded only once all are.

use std::{collections::HashSet, io::Cursor, sync::Arc, time::Duration};

use alloy_primitives::{Address, B256, Bytes};
use alloy_rlp::Decodable;
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, SnapshotMeta, StorageError,
    StorageIOError, StoredMembership,
    storage::{RaftStateMachine, Snapshot},
};
use ordo_builder::Builder;
use ordo_pool::Pool;
use ordo_primitives::{BlockRecord, PooledTx, decode_committed};
use ordo_storage::{Storage, raft::RaftMeta};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::{
    HttpNetwork,
    network::BlocksRequest,
    provisional::Provisional,
    types::{Command, CommandResult, NodeId, Operations, ReplicaNode, TypeConfig, carried_txs},
};

type Membership = StoredMembership<NodeId, ReplicaNode>;
type Meta = SnapshotMeta<NodeId, ReplicaNode>;

/// What a snapshot's data holds: where the chain stood at the snapshot's log position.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChainSnapshot {
    /// The replica that took it, which serves the blocks.
    pub source: NodeId,
    /// The last block applied at that position.
    pub head: u64,
    /// Its hash.
    pub head_hash: B256,
    /// The transactions pooled there (committed, not yet included), raw, with their senders;
    /// from the replica that took it also those it was committing or had in a block not yet
    /// stored ([`Pool::snapshot_txs`]).
    pub pool: Vec<(Bytes, Address)>,
    /// Every operator command applied up to there, in log order.
    #[serde(default)]
    pub operations: Vec<Operation>,
    /// The bundles held there (their stored records), in arrival order.
    #[serde(default)]
    pub bundles: Vec<Bytes>,
    /// How many batches were stored there: the installing replica fetches the records it
    /// lacks (and those whose L1 progress may have moved) from the source.
    #[serde(default)]
    pub batches: u64,
}

/// An operator command as applied: its log index, method and parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Operation {
    pub index: u64,
    pub method: String,
    pub params: serde_json::Value,
}

/// A snapshot as stored: its description and its data.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: Meta,
    data: Vec<u8>,
}

/// Pools transactions as a `Txs` entry carries them (raw, with their senders). The leader
/// recovered the senders; recovering them again on every replica would double the ingress
/// CPU of the group. A blob transaction (an imported chain's) keeps its sidecar, as where it
/// was accepted: a replica that leads next must hold it as the old leader did. Blocking.
fn adopt_raw(
    pool: &Pool,
    provisional: &Provisional,
    txs: &[(Bytes, Address)],
    replaces: Option<u64>,
) -> Result<usize, ordo_pool::PoolError> {
    let txs: Vec<PooledTx> = txs
        .iter()
        .filter_map(|(raw, sender)| decode_committed(raw, *sender).ok())
        .collect();
    provisional.adopt(pool, txs, replaces)
}

/// How far this state machine has applied the log, kept in memory between entries (only a
/// block's position is on disk; see the module docs).
#[derive(Debug, Clone, Default)]
struct Progress {
    log_id: Option<LogId<NodeId>>,
    membership: Membership,
    /// The last block applied: number and hash.
    block: (u64, B256),
}

/// What of the node a replica's log drives.
#[derive(Clone)]
pub struct ReplicaParts {
    /// Seals blocks when the replica leads; stores committed blocks.
    pub builder: Arc<Builder>,
    /// The builder's mempool: takes committed transactions.
    pub pool: Arc<Pool>,
    /// The node's storage (the log lives there too).
    pub storage: Storage,
    /// Builds batches when the replica leads; stores committed batch records.
    pub batcher: Option<Arc<ordo_batcher::Batcher>>,
    /// Applies operator commands (none: they are refused).
    pub operations: Option<Arc<dyn Operations>>,
}

/// The chain as Raft's state machine.
#[derive(Clone)]
pub struct ChainMachine {
    id: NodeId,
    builder: Arc<Builder>,
    pool: Arc<Pool>,
    storage: Storage,
    batcher: Option<Arc<ordo_batcher::Batcher>>,
    network: HttpNetwork,
    progress: Arc<Mutex<Progress>>,
    operations: Option<Arc<dyn Operations>>,
    provisional: Provisional,
}

impl std::fmt::Debug for ChainMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainMachine").finish_non_exhaustive()
    }
}

impl ChainMachine {
    /// Replica `id`'s state machine over `parts`; `network` fetches the blocks of a
    /// snapshot being installed.
    pub fn new(id: NodeId, parts: ReplicaParts, network: HttpNetwork) -> Self {
        let ReplicaParts {
            builder,
            pool,
            storage,
            batcher,
            operations,
        } = parts;
        let head = builder.head();
        let progress = Progress {
            block: (head.number(), head.hash),
            ..Progress::default()
        };
        Self {
            id,
            builder,
            pool,
            storage,
            batcher,
            network,
            progress: Arc::new(Mutex::new(progress)),
            operations,
            provisional: Provisional::default(),
        }
    }

    /// The operator commands applied here so far.
    fn applied_operations(&self) -> Result<Vec<Operation>, std::io::Error> {
        Ok(self.read(RaftMeta::Operations)?.unwrap_or_default())
    }

    /// Applies operator commands in order, each at most once: one at or below the last
    /// index applied here (a replay after a restart, or a snapshot's older history) is
    /// skipped, so a command that is not idempotent (a rollback) runs once. The answer of
    /// the last one applied is returned.
    async fn apply_operations(&self, new: Vec<Operation>) -> CommandResult {
        let Some(operations) = self.operations.clone() else {
            return CommandResult::Failed {
                code: -32000,
                message: "this replica applies no operator commands".into(),
            };
        };
        let this = self.clone();
        let applied = tokio::task::spawn_blocking(move || -> Result<CommandResult, String> {
            let mut history = this.applied_operations().map_err(|e| e.to_string())?;
            let mut answer = CommandResult::Applied;
            for op in new {
                if history.last().is_some_and(|last| last.index >= op.index) {
                    continue;
                }
                answer = match operations.apply(&op.method, &op.params) {
                    Ok(value) => CommandResult::Answered(value),
                    Err((code, message)) => CommandResult::Failed { code, message },
                };
                history.push(op);
                // After the command: a crash between both applies it once more at restart,
                // which changes nothing (the node's commands are idempotent that way: a
                // rollback names the plugin it rolls back from).
                this.put(RaftMeta::Operations, &history)
                    .map_err(|e| e.to_string())?;
            }
            Ok(answer)
        })
        .await;
        match applied {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => CommandResult::Refused(format!("recording an operator command: {e}")),
            Err(e) => CommandResult::Refused(format!("an operator command panicked: {e}")),
        }
    }

    /// At startup, before the log is applied: pools again what this replica pooled from
    /// the log, as the group's log (not the WAL) keeps a replica's transactions. That is
    /// the current snapshot's pool and the transactions of every entry after it to the
    /// end of the log: applied ones, committed ones applied again later (this replica may
    /// lead before it has, and must know them, to refuse a conflicting nonce), and ones the
    /// group may yet drop (never acknowledged; pooling them is what a retry would do).
    /// Those of entries past what this replica knew committed are noted as
    /// [`Provisional`], so that they leave the pool if the log drops their entries. Those
    /// included or outbid since are refused as they would be on arrival. Blocking.
    /// Returns how many are pooled.
    pub(crate) fn restore_pool(&self) -> Result<usize, std::io::Error> {
        let snapshot: Option<StoredSnapshot> = self.read(RaftMeta::Snapshot)?;
        // Each with the index of the entry it came from when that entry may be uncommitted.
        let mut raw: Vec<(Option<u64>, Bytes, Address)> = Vec::new();
        let mut from = 0;
        if let Some(stored) = snapshot {
            let chain: ChainSnapshot =
                serde_json::from_slice(&stored.data).map_err(std::io::Error::other)?;
            raw.extend(
                chain
                    .pool
                    .into_iter()
                    .map(|(tx, sender)| (None, tx, sender)),
            );
            from = stored.meta.last_log_id.map_or(0, |l| l.index + 1);
        }
        let committed = self.known_committed()?;
        let end = match self
            .storage
            .raft_last_entry()
            .map_err(std::io::Error::other)?
        {
            Some((last, _)) => last + 1,
            None => from,
        };
        // A few entries at a time: block entries can be large, and only their kind is read.
        let mut next = from;
        while next < end {
            let to = end.min(next.saturating_add(256));
            let entries = self
                .storage
                .raft_entries(next, to)
                .map_err(std::io::Error::other)?;
            if let Some((first, _)) = entries.first()
                && *first != next
            {
                // Openraft purges the log as a snapshot arrives, before it is installed: a
                // stop in between leaves a gap. The entries' transactions are then not
                // pooled here again (the replicas that pooled them still hold them).
                tracing::warn!(target: "ordo::replica", expected = next, found = first, "the log starts past the stored snapshot (stopped while installing another): the transactions of the entries between are not pooled again here");
            }
            for (index, bytes) in entries {
                let txs = carried_txs(&bytes).map_err(|e| {
                    std::io::Error::other(format!("log entry {index} unreadable: {e}"))
                })?;
                let provisional = committed.is_none_or(|c| index > c).then_some(index);
                raw.extend(
                    txs.into_iter()
                        .map(|(tx, sender)| (provisional, tx, sender)),
                );
            }
            next = to;
        }
        let txs: Vec<(Option<u64>, PooledTx)> = raw
            .iter()
            .filter_map(|(at, raw, sender)| Some((*at, decode_committed(raw, *sender).ok()?)))
            .collect();
        // A transaction a known-committed entry (or the snapshot) carries too is no
        // provisional one.
        let certain: HashSet<B256> = txs
            .iter()
            .filter(|(at, _)| at.is_none())
            .map(|(_, tx)| tx.hash)
            .collect();
        for (at, tx) in &txs {
            if let Some(index) = at
                && !certain.contains(&tx.hash)
            {
                self.provisional.note(*index, [tx.hash]);
            }
        }
        if !self.provisional.is_empty() {
            tracing::info!(target: "ordo::replica", ?committed, provisional = self.provisional.len(), "transactions pooled from entries past the known commit: they leave the pool if the log drops those entries");
        }
        self.pool
            .adopt(txs.into_iter().map(|(_, tx)| tx).collect())
            .map_err(std::io::Error::other)
    }

    /// The highest log index this replica knows committed: the committed index it saved
    /// (a hint openraft may have saved behind), or the position of its last stored block.
    fn known_committed(&self) -> Result<Option<u64>, std::io::Error> {
        let saved: Option<Option<LogId<NodeId>>> = self.read(RaftMeta::Committed)?;
        let applied: Option<LogId<NodeId>> = self.read(RaftMeta::Applied)?;
        Ok(saved.flatten().max(applied).map(|l| l.index))
    }

    /// The transactions a restart pooled without knowing them committed
    /// ([`Self::restore_pool`]): the log store's truncations take them out of the pool.
    pub fn provisional(&self) -> Provisional {
        self.provisional.clone()
    }

    fn read<T: serde::de::DeserializeOwned>(
        &self,
        which: RaftMeta,
    ) -> Result<Option<T>, std::io::Error> {
        match self
            .storage
            .raft_meta(which)
            .map_err(std::io::Error::other)?
        {
            Some(bytes) => Ok(Some(
                serde_json::from_slice(&bytes).map_err(std::io::Error::other)?,
            )),
            None => Ok(None),
        }
    }

    /// Applies one committed group of accepted transactions: every replica pools them (the
    /// leader that accepted them already has them), so whichever leads next includes them.
    /// `replaces`: for an installed snapshot's pool, the snapshot's last index.
    async fn apply_txs(
        &self,
        txs: Vec<(alloy_primitives::Bytes, alloy_primitives::Address)>,
        replaces: Option<u64>,
    ) -> CommandResult {
        let (pool, provisional) = (self.pool.clone(), self.provisional.clone());
        let adopted =
            tokio::task::spawn_blocking(move || adopt_raw(&pool, &provisional, &txs, replaces))
                .await;
        match adopted {
            Ok(Ok(_)) => CommandResult::Applied,
            // Not pooling them here does not fork anything (blocks carry their own
            // transactions); it only means this replica could not include them as leader.
            Ok(Err(e)) => {
                tracing::warn!(target: "ordo::replica", error = %e, "committed transactions not pooled here");
                CommandResult::Applied
            }
            Err(e) => {
                CommandResult::Refused(format!("pooling committed transactions panicked: {e}"))
            }
        }
    }

    /// Applies one committed change of the leader's bundle pool: every replica holds the
    /// same bundles, so whichever leads next still has them.
    async fn apply_bundles(&self, puts: Vec<Bytes>, removes: Vec<B256>) -> CommandResult {
        let Some(bundles) = self.builder.bundle_pool() else {
            return CommandResult::Applied;
        };
        match tokio::task::spawn_blocking(move || bundles.adopt(&puts, &removes)).await {
            Ok(Ok(_)) => CommandResult::Applied,
            // As for transactions: this replica could not offer them as leader, nothing
            // more; the chain does not depend on it.
            Ok(Err(e)) => {
                tracing::warn!(target: "ordo::replica", error = %e, "committed bundles not held here");
                CommandResult::Applied
            }
            Err(e) => CommandResult::Refused(format!("holding committed bundles panicked: {e}")),
        }
    }

    /// Stores one committed batch record, as the leader's batcher wrote it.
    async fn apply_batch(&self, index: u64, record: Bytes) -> CommandResult {
        let Some(batcher) = self.batcher.clone() else {
            return CommandResult::Applied;
        };
        match tokio::task::spawn_blocking(move || batcher.adopt(index, &record)).await {
            Ok(Ok(())) => CommandResult::Applied,
            Ok(Err(e)) => {
                // Batches are rebuilt from blocks; a replica that leads without this record
                // would build the batch again, so say so loudly.
                tracing::error!(target: "ordo::replica", index, error = %e, "a committed batch record was not stored");
                CommandResult::Refused(e.to_string())
            }
            Err(e) => CommandResult::Refused(format!("storing batch {index} panicked: {e}")),
        }
    }

    /// Applies one committed block entry.
    async fn apply_block(&self, log_id: LogId<NodeId>, rlp: &[u8]) -> CommandResult {
        let block = match BlockRecord::decode(&mut &rlp[..]) {
            Ok(block) => block,
            Err(e) => return CommandResult::Refused(format!("block entry does not decode: {e}")),
        };
        match self.apply_one(block, Some(log_id)).await {
            Ok(()) => CommandResult::Applied,
            Err(e) => CommandResult::Refused(e),
        }
    }

    /// Stores one committed block (`position`: its log entry, `None` for a block a
    /// snapshot brings) and records it as the last applied.
    async fn apply_one(
        &self,
        block: BlockRecord,
        position: Option<LogId<NodeId>>,
    ) -> Result<(), String> {
        let position = match position.map(|p| serde_json::to_vec(&p)).transpose() {
            Ok(bytes) => bytes,
            Err(e) => return Err(e.to_string()),
        };
        let builder = self.builder.clone();
        let (number, hash) = (block.number(), block.hash);
        let applied =
            tokio::task::spawn_blocking(move || builder.apply_committed(&block, position)).await;
        match applied {
            Ok(Ok(_)) => {
                {
                    let mut progress = self.progress.lock();
                    if number > progress.block.0 {
                        progress.block = (number, hash);
                    }
                }
                Ok(())
            }
            Ok(Err(e)) => {
                // The group committed a block this replica cannot store: it no longer
                // follows the chain. Every later block will be refused as well.
                tracing::error!(target: "ordo::replica", number, error = %e, "a committed block was not applied");
                Err(e.to_string())
            }
            Err(e) => Err(format!("applying block {number} panicked: {e}")),
        }
    }

    /// Brings this replica to the snapshot's chain: the blocks it lacks, fetched from the
    /// snapshot's source (else any other member) and applied in order; then its pooled
    /// transactions.
    async fn catch_up(&self, meta: &Meta, snapshot: &ChainSnapshot) -> Result<(), String> {
        let mut sources: Vec<(NodeId, String)> = meta
            .last_membership
            .membership()
            .nodes()
            .filter(|(id, _)| **id != self.id)
            .map(|(id, node)| (*id, node.addr.clone()))
            .collect();
        sources.sort_by_key(|(id, _)| *id != snapshot.source);
        let mut fetcher = Fetcher {
            network: &self.network,
            sources,
            failures: 0,
        };
        loop {
            let next = self.progress.lock().block.0 + 1;
            if next > snapshot.head {
                break;
            }
            let req = BlocksRequest {
                from: next,
                to: snapshot.head.min(next + 255),
            };
            for rlp in fetcher.page(req, HttpNetwork::fetch_blocks).await {
                let block = BlockRecord::decode(&mut &rlp[..])
                    .map_err(|e| format!("a snapshot block does not decode: {e}"))?;
                self.apply_one(block, None).await?;
            }
        }
        if let Some(batcher) = self.batcher.clone() {
            let mut next = batcher.first_unsettled();
            while next < snapshot.batches {
                let req = BlocksRequest {
                    from: next,
                    to: snapshot.batches - 1,
                };
                for (index, record) in fetcher.page(req, HttpNetwork::fetch_batches).await {
                    if let CommandResult::Refused(why) = self.apply_batch(index, record).await {
                        return Err(why);
                    }
                    next = index + 1;
                }
            }
        }
        let (head, hash) = self.progress.lock().block;
        if head == snapshot.head && hash != snapshot.head_hash {
            return Err(format!(
                "block {head} here is {hash}, the snapshot's is {}",
                snapshot.head_hash
            ));
        }
        // What a restart pooled from entries the snapshot replaces, and its pool lacks,
        // leaves the pool first.
        let replaces = meta.last_log_id.map(|l| l.index);
        if let CommandResult::Refused(why) = self.apply_txs(snapshot.pool.clone(), replaces).await {
            return Err(why);
        }
        if let CommandResult::Refused(why) = self
            .apply_bundles(snapshot.bundles.clone(), Vec::new())
            .await
        {
            return Err(why);
        }
        if let CommandResult::Refused(why) =
            self.apply_operations(snapshot.operations.clone()).await
        {
            return Err(why);
        }
        // Every block stored before the snapshot's position is recorded, so a restart
        // never finds a position ahead of its chain.
        self.wait_stored().await
    }

    async fn wait_stored(&self) -> Result<(), String> {
        let builder = self.builder.clone();
        tokio::task::spawn_blocking(move || builder.wait_stored())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    fn put<T: Serialize>(&self, which: RaftMeta, value: &T) -> Result<(), std::io::Error> {
        let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        self.storage
            .put_raft_meta(which, &bytes)
            .map_err(std::io::Error::other)
    }
}

/// Fetches pages of a snapshot's blocks or batch records from the group's members: the
/// snapshot's source first, the next member after a failure, with a growing pause. It keeps
/// trying: giving up would stop this replica's Raft (openraft ends its state machine on a
/// failed install), while a member that comes back lets it finish.
struct Fetcher<'a> {
    network: &'a HttpNetwork,
    sources: Vec<(NodeId, String)>,
    failures: u32,
}

impl Fetcher<'_> {
    /// A non-empty page for `req`, from the first member that has one.
    async fn page<T, F>(&mut self, req: BlocksRequest, fetch: F) -> Vec<T>
    where
        F: AsyncFn(&HttpNetwork, NodeId, &str, BlocksRequest) -> Result<Vec<T>, String>,
    {
        loop {
            if self.sources.is_empty() {
                // A group of one has nobody to fetch from; wait for a member.
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            let (source, addr) = &self.sources[self.failures as usize % self.sources.len()];
            match fetch(self.network, *source, addr, req).await {
                Ok(page) if !page.is_empty() => {
                    self.failures = 0;
                    return page;
                }
                // Not stored there (yet), or not reachable: the next member, then again.
                other => {
                    self.failures += 1;
                    if self.failures.is_multiple_of(20) {
                        tracing::warn!(target: "ordo::replica", source = *source, from = req.from, to = req.to, error = ?other.err(), "a snapshot's data cannot be fetched yet; still trying");
                    }
                    let pause = 50u64 << self.failures.min(5);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            }
        }
    }
}

/// Takes a snapshot from what the state machine had applied when it was asked (openraft
/// builds it beside the applying, which goes on).
pub struct SnapshotTaker {
    builder: Arc<Builder>,
    storage: Storage,
    meta: Meta,
    snapshot: ChainSnapshot,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotTaker {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let data = serde_json::to_vec(&self.snapshot)
            .map_err(|e| StorageIOError::write_snapshot(Some(self.meta.signature()), &e))?;
        let stored = serde_json::to_vec(&StoredSnapshot {
            meta: self.meta.clone(),
            data: data.clone(),
        })
        .map_err(|e| StorageIOError::write_snapshot(Some(self.meta.signature()), &e))?;
        let (storage, builder) = (self.storage.clone(), self.builder.clone());
        // Stored only once every block up to its position is on disk: a restart starts
        // from the snapshot's position when it is past the last block's.
        tokio::task::spawn_blocking(move || -> Result<(), String> {
            builder.wait_stored().map_err(|e| e.to_string())?;
            storage
                .put_raft_meta(RaftMeta::Snapshot, &stored)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
        .map_err(|e| {
            StorageIOError::write_snapshot(Some(self.meta.signature()), &std::io::Error::other(e))
        })?;
        tracing::info!(target: "ordo::replica", index = ?self.meta.last_log_id.map(|l| l.index), head = self.snapshot.head, pooled = self.snapshot.pool.len(), "snapshot taken");
        Ok(Snapshot {
            meta: self.meta.clone(),
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for ChainMachine {
    type SnapshotBuilder = SnapshotTaker;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, Membership), StorageError<NodeId>> {
        let applied: Option<LogId<NodeId>> = self
            .read(RaftMeta::Applied)
            .map_err(|e| StorageIOError::read_state_machine(&e))?;
        let membership: Membership = self
            .read(RaftMeta::Membership)
            .map_err(|e| StorageIOError::read_state_machine(&e))?
            .unwrap_or_default();
        // Everything up to the current snapshot's position is on disk (the snapshot was
        // stored only then), and the log before it may be purged: never start below it.
        let snapshot: Option<StoredSnapshot> = self
            .read(RaftMeta::Snapshot)
            .map_err(|e| StorageIOError::read_state_machine(&e))?;
        let (applied, membership) = match snapshot {
            Some(s) if s.meta.last_log_id > applied => {
                let membership = if membership.log_id() > s.meta.last_membership.log_id() {
                    membership
                } else {
                    s.meta.last_membership
                };
                (s.meta.last_log_id, membership)
            }
            _ => (applied, membership),
        };
        // A membership applied after that position is found again in the log.
        let membership = if membership.log_id() <= &applied {
            membership
        } else {
            StoredMembership::default()
        };
        let head = self.builder.head();
        *self.progress.lock() = Progress {
            log_id: applied,
            membership: membership.clone(),
            block: (head.number(), head.hash),
        };
        Ok((applied, membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResult>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        for entry in entries {
            let log_id = entry.log_id;
            let result = match entry.payload {
                EntryPayload::Blank => CommandResult::Applied,
                EntryPayload::Membership(membership) => {
                    let stored = StoredMembership::new(Some(log_id), membership);
                    let bytes = serde_json::to_vec(&stored)
                        .map_err(|e| StorageIOError::write_state_machine(&e))?;
                    let storage = self.storage.clone();
                    tokio::task::spawn_blocking(move || {
                        storage.put_raft_meta(RaftMeta::Membership, &bytes)
                    })
                    .await
                    .map_err(|e| StorageIOError::write_state_machine(&e))?
                    .map_err(|e| StorageIOError::write_state_machine(&e))?;
                    self.progress.lock().membership = stored;
                    CommandResult::Applied
                }
                EntryPayload::Normal(Command::Block(rlp)) => self.apply_block(log_id, &rlp).await,
                EntryPayload::Normal(Command::Txs(txs)) => self.apply_txs(txs, None).await,
                EntryPayload::Normal(Command::Bundles { puts, removes }) => {
                    self.apply_bundles(puts, removes).await
                }
                EntryPayload::Normal(Command::Batch { index, record }) => {
                    self.apply_batch(index, record).await
                }
                EntryPayload::Normal(Command::Operation { method, params }) => {
                    let op = Operation {
                        index: log_id.index,
                        method,
                        params,
                    };
                    self.apply_operations(vec![op]).await
                }
            };
            self.progress.lock().log_id = Some(log_id);
            out.push(result);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // Called between two applies: what is applied now is what the snapshot stands for.
        let progress = self.progress.lock().clone();
        // Not what a restart pooled from entries not known committed: a replica installing
        // the snapshot would take them as committed.
        let pool = self
            .pool
            .snapshot_txs()
            .iter()
            .filter(|tx| !self.provisional.holds(&tx.hash))
            .map(|tx| (tx.encoded.clone(), tx.sender))
            .collect();
        let operations = match self.applied_operations() {
            Ok(operations) => operations,
            Err(e) => {
                tracing::error!(target: "ordo::replica", %e, "operator commands unreadable; the snapshot carries none");
                Vec::new()
            }
        };
        let bundles = self
            .builder
            .bundle_pool()
            .map(|b| b.records())
            .unwrap_or_default();
        let batches = self.batcher.as_ref().map_or(0, |b| b.len() as u64);
        let snapshot_id = format!(
            "{}-{}-{}",
            self.id,
            progress.log_id.map(|l| l.index).unwrap_or_default(),
            progress.block.0
        );
        SnapshotTaker {
            builder: self.builder.clone(),
            storage: self.storage.clone(),
            meta: SnapshotMeta {
                last_log_id: progress.log_id,
                last_membership: progress.membership,
                snapshot_id,
            },
            snapshot: ChainSnapshot {
                source: self.id,
                head: progress.block.0,
                head_hash: progress.block.1,
                pool,
                operations,
                bundles,
                batches,
            },
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let failed = |e: &dyn std::fmt::Display| {
            StorageError::from(StorageIOError::read_snapshot(
                Some(meta.signature()),
                &std::io::Error::other(e.to_string()),
            ))
        };
        let data = snapshot.into_inner();
        let chain: ChainSnapshot = serde_json::from_slice(&data).map_err(|e| failed(&e))?;
        tracing::info!(target: "ordo::replica", index = ?meta.last_log_id.map(|l| l.index), head = chain.head, from = chain.source, "installing a snapshot");
        self.catch_up(meta, &chain).await.map_err(|e| failed(&e))?;
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        let this = self.clone();
        let meta_owned = meta.clone();
        tokio::task::spawn_blocking(move || -> Result<(), std::io::Error> {
            this.put(RaftMeta::Membership, &meta_owned.last_membership)?;
            this.put(RaftMeta::Snapshot, &stored)?;
            if let Some(applied) = meta_owned.last_log_id {
                this.put(RaftMeta::Applied, &applied)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| failed(&e))?
        .map_err(|e| failed(&e))?;
        let mut progress = self.progress.lock();
        progress.log_id = meta.last_log_id;
        progress.membership = meta.last_membership.clone();
        tracing::info!(target: "ordo::replica", head = progress.block.0, "snapshot installed");
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let stored: Option<StoredSnapshot> = self
            .read(RaftMeta::Snapshot)
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(stored.map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use openraft::{CommittedLeaderId, Membership as Members};

    use super::*;

    fn entry(index: u64, payload: EntryPayload<TypeConfig>) -> Vec<u8> {
        let entry = Entry::<TypeConfig> {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload,
        };
        serde_json::to_vec(&entry).unwrap()
    }

    /// What a restart reads of each kind of entry: a `Txs` entry's transactions, nothing of
    /// any other. The match names every command, so a new one is added here too.
    #[test]
    fn a_restart_reads_the_transactions_of_txs_entries_and_skips_every_other_entry() {
        let txs = vec![
            (Bytes::from_static(b"\x02first"), Address::repeat_byte(1)),
            (Bytes::from_static(b"\x02second"), Address::repeat_byte(2)),
        ];
        let commands = [
            Command::Txs(txs.clone()),
            Command::Block(Bytes::from_static(b"a block")),
            Command::Bundles {
                puts: vec![Bytes::from_static(b"a bundle")],
                removes: vec![B256::repeat_byte(3)],
            },
            Command::Batch {
                index: 4,
                record: Bytes::from_static(b"a batch"),
            },
            Command::Operation {
                method: "admin_halt".into(),
                params: serde_json::json!(["drill", 1.5]),
            },
        ];
        for (i, command) in commands.into_iter().enumerate() {
            let expected = match &command {
                Command::Txs(txs) => txs.clone(),
                Command::Block(_)
                | Command::Bundles { .. }
                | Command::Batch { .. }
                | Command::Operation { .. } => Vec::new(),
            };
            let got = carried_txs(&entry(i as u64, EntryPayload::Normal(command))).unwrap();
            assert_eq!(got, expected);
        }
        let members = Members::new(vec![BTreeSet::from([1, 2, 3])], None);
        for payload in [EntryPayload::Blank, EntryPayload::Membership(members)] {
            assert!(carried_txs(&entry(9, payload)).unwrap().is_empty());
        }
    }
}
