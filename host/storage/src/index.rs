//! The indexes a block adds behind its batch: transaction locations (`txs`) and the values
//! its changes replaced (`account_history`, `storage_history`).
//!
//! Why: a block of a thousand transfers adds some 2,100 such keys, and inserting keys into
//! fjall's memtables (a skiplist search each) was most of the commit's time. The block's
//! batch now carries one `index_log` record instead (its replaced values; its transaction
//! hashes are in the block itself), and the block's entries wait in memory
//! ([`PendingIndex`]) until a batch of blocks is written at once by fjall's ingestion,
//! which builds sorted tables without a memtable ([`Storage::flush_indexes`], on a thread
//! of its own once enough blocks wait).
//!
//! Readers see the pending entries first (views capture them with their snapshot, so an
//! ingestion that lands meanwhile neither hides nor doubles an entry), then the keyspaces.
//! After a crash, the blocks after `meta`'s `indexed` mark are indexed again from their
//! records and logs: ingestion writes the same keys with the same values, so doing it twice
//! is harmless.

use std::{
    collections::HashMap,
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use alloy_primitives::{Address, B256, U256};
use alloy_rlp::{RlpDecodable, RlpEncodable};
use fjall::{Database, Keyspace};
use ordo_primitives::TxLocation;
use parking_lot::{Condvar, Mutex, RwLock};

use crate::records::{AccountRecord, encode, history_slot_key};

type Result<T> = fjall::Result<T>;

/// Blocks whose entries wait before the writer thread ingests them.
pub const INDEX_BATCH_BLOCKS: usize = 64;
/// Or transactions, whichever comes first.
const INDEX_BATCH_TXS: usize = 64_000;
/// A backlog this deep is ingested by the committing thread itself: the writer thread has
/// fallen behind (or cannot run), and memory must stay bounded.
const INDEX_BACKLOG_BLOCKS: usize = 1_024;

/// One stored block's index entries, not yet in their keyspaces.
#[derive(Debug, Default)]
pub(crate) struct BlockIndex {
    pub number: u64,
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
/// durable in the block's batch until they are ingested.
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

/// The pending entries and what ingests them, shared by every clone of a `Storage`.
pub(crate) struct Indexer {
    /// Whether the datadir has its reserve of free space: ingestion waits while it does not
    /// (its entries stay pending), as a write that runs out of space half way can leave
    /// fjall refusing writes.
    has_space: Box<dyn Fn() -> bool + Send + Sync>,
    pending: RwLock<PendingIndex>,
    /// The highest block whose batch is stored: entries of a later one are not ingested
    /// (its batch may yet fail) and its transactions are not found.
    stored: AtomicU64,
    /// Held by an ingestion, so two never overlap.
    ingesting: Mutex<()>,
    /// Wakes the writer thread.
    wake: Arc<(Mutex<WriterState>, Condvar)>,
    db: Database,
    txs: Keyspace,
    account_history: Keyspace,
    storage_history: Keyspace,
    index_log: Keyspace,
    meta: Keyspace,
}

#[derive(Default)]
struct WriterState {
    spawned: bool,
    due: bool,
}

/// `meta`'s key of the first block whose entries are not all ingested. Absent in a datadir
/// written before the indexes were deferred: everything there is indexed.
pub(crate) const INDEXED_KEY: &[u8] = b"indexed";

impl Indexer {
    pub fn new(
        has_space: Box<dyn Fn() -> bool + Send + Sync>,
        db: Database,
        txs: Keyspace,
        account_history: Keyspace,
        storage_history: Keyspace,
        index_log: Keyspace,
        meta: Keyspace,
    ) -> Self {
        Self {
            has_space,
            pending: RwLock::new(Arc::new(Vec::new())),
            stored: AtomicU64::new(0),
            ingesting: Mutex::new(()),
            wake: Arc::new((Mutex::new(WriterState::default()), Condvar::new())),
            db,
            txs,
            account_history,
            storage_history,
            index_log,
            meta,
        }
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

    /// How many blocks wait, and how many transactions they hold.
    fn backlog(pending: &PendingIndex) -> (usize, usize) {
        (pending.len(), pending.iter().map(|b| b.txs.len()).sum())
    }

    /// Called after each stored block: wakes the writer thread (spawning it the first
    /// time) once a batch is due, or ingests here if the backlog is too deep. The block is
    /// stored whatever happens here: a failed ingestion leaves its entries pending.
    pub fn after_store(self: &Arc<Self>) {
        let (blocks, txs) = Self::backlog(&self.pending());
        if blocks >= INDEX_BACKLOG_BLOCKS {
            self.flush_or_log();
            return;
        }
        if blocks < INDEX_BATCH_BLOCKS && txs < INDEX_BATCH_TXS {
            return;
        }
        let (lock, wake) = &*self.wake;
        let mut state = lock.lock();
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
                self.flush_or_log();
                return;
            }
        }
        wake.notify_one();
    }

    fn flush_or_log(&self) {
        if let Err(err) = self.flush() {
            // The entries stay pending (and in the logs): the next attempt retries them.
            tracing::error!(target: "ordo::storage", %err, "ingesting the block indexes failed");
        }
    }

    /// Ingests every pending entry of a stored block, then drops them from memory.
    pub fn flush(&self) -> Result<()> {
        let _one = self.ingesting.lock();
        if !(self.has_space)() {
            tracing::debug!(target: "ordo::storage", "datadir short of space: block indexes wait");
            return Ok(());
        }
        let stored = self.stored.load(Ordering::Acquire);
        let pending = self.pending();
        let blocks: Vec<&Arc<BlockIndex>> = pending.iter().filter(|b| b.number <= stored).collect();
        let Some(last) = blocks.last().map(|b| b.number) else {
            return Ok(());
        };

        let mut txs: Vec<(B256, TxLocation)> = blocks
            .iter()
            .flat_map(|b| {
                b.txs.iter().map(|(hash, index)| {
                    (
                        *hash,
                        TxLocation {
                            block: b.number,
                            index: *index,
                        },
                    )
                })
            })
            .collect();
        txs.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.block.cmp(&b.1.block)));
        // A hash twice (never in a chain, but cheap to rule out): the later block wins.
        txs.dedup_by(|next, kept| {
            let same = next.0 == kept.0;
            if same {
                *kept = *next;
            }
            same
        });
        let mut ingest = self.txs.start_ingestion()?;
        for (hash, location) in &txs {
            ingest.write(hash.as_slice(), encode(location))?;
        }
        ingest.finish()?;

        let mut accounts: Vec<(Vec<u8>, Vec<u8>)> = blocks
            .iter()
            .flat_map(|b| {
                b.accounts.iter().map(|(address, previous)| {
                    let mut key = Vec::with_capacity(28);
                    key.extend_from_slice(address.as_slice());
                    key.extend_from_slice(&b.number.to_be_bytes());
                    (key, previous.as_ref().map(encode).unwrap_or_default())
                })
            })
            .collect();
        accounts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut ingest = self.account_history.start_ingestion()?;
        for (key, value) in accounts {
            ingest.write(key, value)?;
        }
        ingest.finish()?;

        let mut slots: Vec<(Vec<u8>, [u8; 32])> = blocks
            .iter()
            .flat_map(|b| {
                b.slots.iter().map(|((address, slot), previous)| {
                    let mut key = Vec::with_capacity(60);
                    key.extend_from_slice(&history_slot_key(address, slot));
                    key.extend_from_slice(&b.number.to_be_bytes());
                    (key, previous.to_be_bytes::<32>())
                })
            })
            .collect();
        slots.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut ingest = self.storage_history.start_ingestion()?;
        for (key, value) in slots {
            ingest.write(key, value)?;
        }
        ingest.finish()?;

        // The mark and the logs go together: lose both to a crash and the blocks are
        // ingested again, the same keys with the same values.
        let mut batch = self.db.batch();
        batch.insert(&self.meta, INDEXED_KEY, (last + 1).to_be_bytes());
        for b in &blocks {
            batch.remove(&self.index_log, b.number.to_be_bytes());
        }
        batch.commit()?;

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

/// The writer thread: ingests when woken, until the storage is gone.
fn writer(indexer: Weak<Indexer>, signal: Arc<(Mutex<WriterState>, Condvar)>) {
    // Nothing waits for the ingestion, so on busy cores the blocks' own threads go first.
    // On Linux the nice value is the calling thread's own.
    let _ = rustix::process::nice(10);
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
        indexer.flush_or_log();
    }
}
