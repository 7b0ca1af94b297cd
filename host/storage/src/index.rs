//! The indexes a block adds behind its batch: transaction locations (`txs`) and the values
//! its changes replaced (`account_history`, `storage_history`).
//!
//! Why: a block of a thousand transfers adds some 2,100 such keys, and inserting keys into
//! fjall's memtables (a skiplist search each) was the larger part of the block's commit,
//! which is on the path of every block. The block's batch now carries one `index_log`
//! record instead (its replaced values; its transaction hashes are in the block itself).
//! Its entries wait in memory ([`PendingIndex`]), readable, until a thread of their own
//! (`ordo-index`) writes them in small batches and drops the log ([`Indexer::flush`]); the
//! next block's commit syncs them. fjall's bulk ingestion, which skips the memtables, was
//! tried: it holds the journal lock (every write's) while it syncs its tables, and under
//! load a block's commit waited up to 145 ms behind it.
//!
//! A block's state trie and storage trie nodes take the same road ([`BlockIndex::trie`]):
//! at ten million accounts a block of a thousand transfers rewrites some 4,000 nodes (1.5
//! MB), most of its batch, and consecutive blocks rewrite the same upper nodes. The writer
//! merges a few blocks' nodes into atomic batches of whole blocks ([`TRIE_KEY`]), in the
//! tries' own database (so no block's commit waits for them on a journal lock), and syncs
//! that database's journal once. Unlike the index entries, what a crash loses is
//! recomputed by the state (`ordo_exec`), not rewritten from a log: the blocks' change
//! sets name every key that changed.
//!
//! Readers see the pending entries as well as the keyspaces (views capture them with their
//! snapshot, so entries written meanwhile are neither hidden nor doubled). After a crash,
//! the blocks after `meta`'s `indexed` mark are indexed again from their records and logs:
//! the same keys with the same values, so writing one twice is harmless.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use alloy_primitives::{Address, B256, U256};
use alloy_rlp::{RlpDecodable, RlpEncodable};
use fjall::{Database, Keyspace};
use ordo_primitives::TxLocation;
use parking_lot::{Condvar, Mutex, RwLock};

use crate::{
    records::{AccountRecord, encode, history_slot_key},
    staged::{Staged, Writes, put_writes, remove_stored_under},
};

type Result<T> = fjall::Result<T>;

/// Blocks whose entries wait before the writer thread is woken to write them.
pub const INDEX_BATCH_BLOCKS: usize = 4;
/// Or transactions, whichever comes first.
const INDEX_BATCH_TXS: usize = 4_000;
/// A backlog this deep is written by the committing thread itself: the writer thread has
/// fallen behind (or cannot run), and memory must stay bounded.
const INDEX_BACKLOG_BLOCKS: usize = 1_024;
/// Entries per write batch of the writer thread.
const WRITE_CHUNK: usize = 1_024;
/// Or trie node writes, whichever comes first: a block of a thousand transfers at ten
/// million accounts writes some 4,000.
const INDEX_BATCH_TRIE_NODES: usize = 12_000;
/// A trie backlog this large is written by the committing thread itself (about 100 MB).
const TRIE_BACKLOG_NODES: usize = 256 * 1_024;
/// Trie node writes per atomic batch of the writer thread, at least one block's: each
/// batch holds fjall's journal lock while it fills the memtables.
const TRIE_CHUNK: usize = 6_000;

/// One stored block's index entries, not yet in their keyspaces.
#[derive(Debug, Default)]
pub(crate) struct BlockIndex {
    pub number: u64,
    /// The block's state trie and storage trie writes (its [`Staged`]), not yet in their
    /// keyspaces (`None`: already there, or a block recovered after a crash, whose nodes
    /// the state recomputes: `Storage::repair_trie`).
    pub trie: Option<Arc<Staged>>,
    /// Transaction hash → its index in the block.
    pub txs: HashMap<B256, u64>,
    /// Each changed account's record before the block (`None`: it did not exist).
    pub accounts: HashMap<Address, Option<AccountRecord>>,
    /// Each changed slot's value before the block.
    pub slots: HashMap<(Address, B256), U256>,
}

/// The blocks whose entries wait, oldest first. Replaced whole on every change, so a reader
/// holds a consistent list for as long as it needs.
pub(crate) type PendingIndex = Arc<Vec<Arc<BlockIndex>>>;

/// `index_log`'s record (by block number): what the block's history entries hold, kept
/// durable in the block's batch until they are written.
#[derive(Debug, Clone, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub(crate) struct IndexLog {
    pub accounts: Vec<PriorAccount>,
    pub slots: Vec<PriorSlot>,
}

/// An account's record before a block.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub(crate) struct PriorAccount {
    pub address: Address,
    /// Whether it existed (when not, `record` is all zeros and means nothing).
    pub existed: bool,
    pub record: AccountRecord,
}

/// A slot's value before a block.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub(crate) struct PriorSlot {
    pub address: Address,
    pub slot: B256,
    pub value: U256,
}

impl IndexLog {
    pub fn of(
        accounts: &[(Address, Option<AccountRecord>)],
        slots: &[(Address, B256, U256)],
    ) -> Self {
        Self {
            accounts: accounts
                .iter()
                .map(|(address, record)| PriorAccount {
                    address: *address,
                    existed: record.is_some(),
                    record: record.unwrap_or(AccountRecord {
                        nonce: 0,
                        balance: U256::ZERO,
                        storage_root: B256::ZERO,
                        code_hash: B256::ZERO,
                    }),
                })
                .collect(),
            slots: slots
                .iter()
                .map(|(address, slot, value)| PriorSlot {
                    address: *address,
                    slot: *slot,
                    value: *value,
                })
                .collect(),
        }
    }
}

impl BlockIndex {
    pub fn new(number: u64, tx_hashes: &[B256], log: &IndexLog) -> Self {
        Self {
            number,
            trie: None,
            txs: tx_hashes
                .iter()
                .enumerate()
                .map(|(i, hash)| (*hash, i as u64))
                .collect(),
            accounts: log
                .accounts
                .iter()
                .map(|a| (a.address, a.existed.then_some(a.record)))
                .collect(),
            slots: log
                .slots
                .iter()
                .map(|s| ((s.address, s.slot), s.value))
                .collect(),
        }
    }
}

/// The pending entries and what writes them, shared by every clone of a `Storage`.
pub(crate) struct Indexer {
    /// Whether the datadir has its reserve of free space: the entries wait while it does
    /// not, as a write that runs out of space half way can leave fjall refusing writes.
    has_space: Box<dyn Fn() -> bool + Send + Sync>,
    pending: RwLock<PendingIndex>,
    /// The highest block whose batch is stored: entries of a later one are not written
    /// (its batch may yet fail) and its transactions are not found.
    stored: AtomicU64,
    /// Held while entries are written, so two writers never overlap.
    writing: Mutex<()>,
    /// Set when the last `Storage` goes: nothing is written after.
    closed: AtomicBool,
    /// Wakes the writer thread.
    wake: Arc<(Mutex<WriterState>, Condvar)>,
    /// Set while the stored tries are behind a stored block whose nodes are not pending
    /// (after a crash), until the state recomputes them: until then nothing advances the
    /// marks and no view reads a trie node.
    trie_behind: AtomicBool,
    db: Database,
    /// The tries' own database (lib.rs `open_with_cache`).
    tries: Database,
    ks: IndexKeyspaces,
}

/// The keyspaces the writer thread writes.
pub(crate) struct IndexKeyspaces {
    pub txs: Keyspace,
    pub account_trie: Keyspace,
    pub storage_trie: Keyspace,
    pub account_history: Keyspace,
    pub storage_history: Keyspace,
    pub index_log: Keyspace,
    pub meta: Keyspace,
    /// The tries' database's own `meta`: [`TRIE_KEY`].
    pub trie_meta: Keyspace,
}

struct WriterState {
    spawned: bool,
    due: bool,
    /// Whether blocks wake the writer thread (tests turn it off to see entries pending).
    enabled: bool,
}

/// `meta`'s key of the first block whose entries are not all written. Absent in a datadir
/// written before the indexes were deferred: everything there is indexed.
pub(crate) const INDEXED_KEY: &[u8] = b"indexed";
/// `meta`'s key of the last block whose trie nodes are all in the trie keyspaces (the
/// nodes of every later one wait in memory, or were lost with it in a crash). Written in
/// the batch that stores them: each such batch takes the stored tries from one block's
/// to a later block's whole. Absent in a datadir written before the tries were deferred:
/// every node there is stored.
pub(crate) const TRIE_KEY: &[u8] = b"trie_at";

impl Indexer {
    pub fn new(
        has_space: Box<dyn Fn() -> bool + Send + Sync>,
        db: Database,
        tries: Database,
        ks: IndexKeyspaces,
    ) -> Self {
        Self {
            has_space,
            pending: RwLock::new(Arc::new(Vec::new())),
            stored: AtomicU64::new(0),
            writing: Mutex::new(()),
            closed: AtomicBool::new(false),
            wake: Arc::new((
                Mutex::new(WriterState {
                    spawned: false,
                    due: false,
                    enabled: true,
                }),
                Condvar::new(),
            )),
            db,
            tries,
            ks,
            trie_behind: AtomicBool::new(false),
        }
    }

    /// Whether the stored tries lack some stored block's nodes (see `trie_behind`).
    pub fn trie_behind(&self) -> bool {
        self.trie_behind.load(Ordering::Acquire)
    }

    pub fn set_trie_behind(&self, behind: bool) {
        self.trie_behind.store(behind, Ordering::Release);
    }

    /// The pending entries as of now, with `then` run while no entry comes or goes (so a
    /// snapshot taken there agrees with them).
    pub fn capture<T>(&self, then: impl FnOnce() -> T) -> (PendingIndex, T) {
        let pending = self.pending.read();
        let value = then();
        (pending.clone(), value)
    }

    pub fn pending(&self) -> PendingIndex {
        self.pending.read().clone()
    }

    /// Adds a block's entries, before its batch is written.
    pub fn push(&self, block: BlockIndex) {
        let mut pending = self.pending.write();
        let mut next = Vec::with_capacity(pending.len() + 1);
        next.extend(pending.iter().filter(|b| b.number < block.number).cloned());
        next.push(Arc::new(block));
        *pending = Arc::new(next);
    }

    /// Takes back a block's entries: its batch failed.
    pub fn withdraw(&self, number: u64) {
        let mut pending = self.pending.write();
        let next: Vec<_> = pending
            .iter()
            .filter(|b| b.number != number)
            .cloned()
            .collect();
        *pending = Arc::new(next);
    }

    /// Notes that `number`'s batch is stored.
    pub fn stored(&self, number: u64) {
        self.stored.store(number, Ordering::Release);
    }

    /// The highest block whose batch is stored.
    pub fn stored_head(&self) -> u64 {
        self.stored.load(Ordering::Acquire)
    }

    /// Where a transaction is, if a pending, stored block holds it.
    pub fn tx_location(&self, hash: &B256) -> Option<TxLocation> {
        let stored = self.stored.load(Ordering::Acquire);
        let pending = self.pending();
        // Newest first: a client asks mostly about what was just included.
        pending
            .iter()
            .rev()
            .filter(|b| b.number <= stored)
            .find_map(|b| {
                b.txs.get(hash).map(|index| TxLocation {
                    block: b.number,
                    index: *index,
                })
            })
    }

    /// How many blocks wait, how many transactions they hold, and how many trie node
    /// writes.
    fn backlog(pending: &PendingIndex) -> (usize, usize, usize) {
        let nodes = pending
            .iter()
            .filter_map(|b| b.trie.as_ref())
            .map(|t| t.account_trie.len() + t.storage_trie.len())
            .sum();
        (
            pending.len(),
            pending.iter().map(|b| b.txs.len()).sum(),
            nodes,
        )
    }

    /// Called after each stored block: wakes the writer thread (spawning it the first
    /// time) once a batch is due, or writes here if the backlog is too deep. The block is
    /// stored whatever happens here: a failed write leaves its entries pending.
    pub fn after_store(self: &Arc<Self>) {
        let (blocks, txs, nodes) = Self::backlog(&self.pending());
        if blocks >= INDEX_BACKLOG_BLOCKS || nodes >= TRIE_BACKLOG_NODES {
            self.flush_or_log(false);
            return;
        }
        if blocks < INDEX_BATCH_BLOCKS && txs < INDEX_BATCH_TXS && nodes < INDEX_BATCH_TRIE_NODES {
            return;
        }
        let (lock, wake) = &*self.wake;
        let mut state = lock.lock();
        if !state.enabled {
            return;
        }
        state.due = true;
        if !state.spawned {
            state.spawned = true;
            let weak = Arc::downgrade(self);
            let signal = self.wake.clone();
            let spawned = std::thread::Builder::new()
                .name("ordo-index".into())
                .spawn(move || writer(weak, signal));
            if let Err(err) = spawned {
                state.spawned = false;
                tracing::warn!(target: "ordo::storage", %err, "no index writer thread; indexing inline");
                drop(state);
                self.flush_or_log(false);
                return;
            }
        }
        wake.notify_one();
    }

    /// Turns the writer thread on or off (tests: entries then stay pending until
    /// [`Indexer::flush`]). Under the write lock: a write under way ends first, and one
    /// woken before but not yet begun writes nothing.
    pub fn set_writer(&self, enabled: bool) {
        let _one = self.writing.lock();
        self.wake.0.lock().enabled = enabled;
    }

    /// `woken`: the writer thread's flush ([`Indexer::write_pending`]).
    fn flush_or_log(&self, woken: bool) {
        if let Err(err) = self.write_pending(woken) {
            // The entries stay pending (and in the logs): the next attempt retries them. A
            // failed sync is the exception: fjall then refuses every later write (the
            // database is poisoned), and the next block's commit halts the node with it.
            tracing::error!(target: "ordo::storage", %err, "writing the block indexes failed");
        }
    }

    /// Writes every pending entry of a stored block, then drops them from memory.
    pub fn flush(&self) -> Result<()> {
        self.write_pending(false)
    }

    /// [`Indexer::flush`]; `woken`: the writer thread's, which writes nothing if the writer
    /// was turned off since it was woken. That is checked under the write lock, so blocks
    /// stored after a flush that turned it off stay pending: a wake-up already under way
    /// used to write them when it got the lock (tests stage crashes that lose them).
    fn write_pending(&self, woken: bool) -> Result<()> {
        let _one = self.writing.lock();
        if woken && !self.wake.0.lock().enabled {
            return Ok(());
        }
        if self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        if !(self.has_space)() {
            tracing::debug!(target: "ordo::storage", "datadir short of space: block indexes wait");
            return Ok(());
        }
        if self.trie_behind() {
            // The marks must not pass blocks whose nodes are neither stored nor pending.
            return Ok(());
        }
        let stored = self.stored.load(Ordering::Acquire);
        let pending = self.pending();
        let blocks: Vec<&Arc<BlockIndex>> = pending.iter().filter(|b| b.number <= stored).collect();
        let Some(last) = blocks.last().map(|b| b.number) else {
            return Ok(());
        };

        // Small batches, synced once at the end: every write holds fjall's journal lock,
        // and a block's commit or a WAL group waits for it, so none holds it long.
        let mut batch = self.db.batch();
        let mut queued = 0;
        let mut put =
            |batch: &mut fjall::OwnedWriteBatch, keyspace: &Keyspace, key: &[u8], value: &[u8]| {
                batch.insert(keyspace, key, value);
                queued += 1;
                if queued == WRITE_CHUNK {
                    queued = 0;
                    std::mem::replace(batch, self.db.batch()).commit()
                } else {
                    Ok(())
                }
            };
        for b in &blocks {
            for (hash, index) in &b.txs {
                let location = TxLocation {
                    block: b.number,
                    index: *index,
                };
                put(
                    &mut batch,
                    &self.ks.txs,
                    hash.as_slice(),
                    &encode(&location),
                )?;
            }
            for (address, previous) in &b.accounts {
                let mut key = Vec::with_capacity(28);
                key.extend_from_slice(address.as_slice());
                key.extend_from_slice(&b.number.to_be_bytes());
                let value = previous.as_ref().map(encode).unwrap_or_default();
                put(&mut batch, &self.ks.account_history, &key, &value)?;
            }
            for ((address, slot), previous) in &b.slots {
                let mut key = Vec::with_capacity(60);
                key.extend_from_slice(&history_slot_key(address, slot));
                key.extend_from_slice(&b.number.to_be_bytes());
                put(
                    &mut batch,
                    &self.ks.storage_history,
                    &key,
                    &previous.to_be_bytes::<32>(),
                )?;
            }
        }
        batch.commit()?;
        self.write_tries(&blocks)?;
        // The mark and the log removals come last, in the journal's order: a crash that
        // keeps them kept every entry before them; one that loses them has the blocks
        // indexed again, the same keys with the same values.
        let mut batch = self.db.batch();
        batch.insert(&self.ks.meta, INDEXED_KEY, (last + 1).to_be_bytes());
        for b in &blocks {
            batch.remove(&self.ks.index_log, b.number.to_be_bytes());
        }
        batch.commit()?;
        if woken {
            // The tries' journal is theirs alone: syncing it here delays no block's commit,
            // and bounds what the state recomputes after a power loss. The entries written
            // to the blocks' database above (some 500 KB every few blocks) are synced by
            // the next block's commit: a sync here would hold that database's journal lock,
            // which a commit arriving meanwhile would wait out.
            self.tries.persist(fjall::PersistMode::SyncData)?;
        }

        let mut pending = self.pending.write();
        let next: Vec<_> = pending
            .iter()
            .filter(|b| b.number > last)
            .cloned()
            .collect();
        *pending = Arc::new(next);
        Ok(())
    }
}

impl Indexer {
    /// Writes the blocks' trie nodes, oldest first, in atomic batches of whole blocks that
    /// each move [`TRIE_KEY`] to their last block: after a crash, the stored tries are
    /// exactly some block's, which the state recomputes the later ones from. Within a
    /// batch, a node several blocks rewrote is written once (the last block's).
    fn write_tries(&self, blocks: &[&Arc<BlockIndex>]) -> Result<()> {
        let mut group = TrieGroup::default();
        for b in blocks {
            // A block recovered after a crash has its nodes stored by the repair already.
            let Some(trie) = &b.trie else { continue };
            group.add(trie);
            group.last = Some(b.number);
            if group.len() >= TRIE_CHUNK {
                std::mem::take(&mut group).write(self)?;
            }
        }
        if group.last.is_some() {
            group.write(self)?;
        }
        Ok(())
    }
}

/// One keyspace's writes of several blocks, merged by reference to the blocks' own.
type MergedWrites<'a> = BTreeMap<&'a [u8], Option<&'a [u8]>>;

/// Consecutive blocks' trie writes merged: each key's last value, and the storage tries
/// wiped on the way (their stored nodes go, but for what a later block writes again). It
/// borrows the pending blocks' writes: the batch copies each key and value once.
#[derive(Default)]
struct TrieGroup<'a> {
    account_trie: MergedWrites<'a>,
    storage_trie: MergedWrites<'a>,
    wiped: std::collections::BTreeSet<B256>,
    last: Option<u64>,
}

impl<'a> TrieGroup<'a> {
    fn len(&self) -> usize {
        self.account_trie.len() + self.storage_trie.len()
    }

    fn add(&mut self, trie: &'a Staged) {
        for owner in &trie.wiped {
            // What earlier blocks of the group wrote under the owner goes with the wipe.
            let under: Vec<&[u8]> = self
                .storage_trie
                .range(owner.as_slice()..)
                .take_while(|(key, _)| key.starts_with(owner.as_slice()))
                .map(|(key, _)| *key)
                .collect();
            for key in under {
                self.storage_trie.remove(key);
            }
            self.wiped.insert(*owner);
        }
        let merge = |into: &mut MergedWrites<'a>, writes: &'a Writes| {
            into.extend(writes.iter().map(|(k, v)| (k.as_slice(), v.as_deref())));
        };
        merge(&mut self.account_trie, &trie.account_trie);
        merge(&mut self.storage_trie, &trie.storage_trie);
    }

    fn write(self, indexer: &Indexer) -> Result<()> {
        let Some(last) = self.last else {
            return Ok(());
        };
        let ks = &indexer.ks;
        let mut batch = indexer.tries.batch();
        for owner in &self.wiped {
            remove_stored_under(
                &mut batch,
                &ks.storage_trie,
                owner.as_slice(),
                &self.storage_trie,
            )?;
        }
        put_writes(&mut batch, &ks.account_trie, &self.account_trie);
        put_writes(&mut batch, &ks.storage_trie, &self.storage_trie);
        batch.insert(&ks.trie_meta, TRIE_KEY, last.to_be_bytes());
        batch.commit()
    }
}

/// Closes the [`Indexer`] when dropped: held once by every clone of a `Storage`, so the
/// last one's drop waits for a write in progress and keeps the writer thread from starting
/// another. The writer thread holds the database only while it writes, and a datadir is
/// reopened (restarts, tests) only once nothing holds it.
pub(crate) struct IndexCloser(pub Arc<Indexer>);

impl Drop for IndexCloser {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        let _wait = self.0.writing.lock();
    }
}

/// The writer thread: writes when woken, until the storage is gone.
fn writer(indexer: Weak<Indexer>, signal: Arc<(Mutex<WriterState>, Condvar)>) {
    // Not at a lower priority: every write holds fjall's journal lock, and a thread the
    // scheduler starves while holding it would stall every commit and acknowledgement.
    let (lock, wake) = &*signal;
    loop {
        {
            let mut state = lock.lock();
            while !state.due {
                // A timeout, so the thread notices when the last `Storage` is dropped.
                if wake
                    .wait_for(&mut state, Duration::from_millis(200))
                    .timed_out()
                    && indexer.strong_count() == 0
                {
                    return;
                }
            }
            state.due = false;
        }
        let Some(indexer) = indexer.upgrade() else {
            return;
        };
        indexer.flush_or_log(true);
    }
}
