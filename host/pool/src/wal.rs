//! The group-commit WAL writer: one dedicated thread owns every write to the `wal` keyspace.
//!
//! Submitters send [`WalOp::Append`] (the transaction, its sequence number, the account it
//! was checked against and a oneshot ack) over an unbounded channel. The writer blocks for
//! the first operation, drains whatever else is queued (up to `max_group` appends), applies
//! queued removals, then calls [`Storage::wal_append`] **once** for the whole group — one
//! fsync, however many transactions. While it fsyncs, new submissions queue up and become
//! the next group, so the group size grows with load and the fsync rate stays bounded.
//!
//! Once a group is durable the writer hands it to a [`GroupSink`] (the pool), which inserts
//! the transactions under one lock acquisition and acks each submitter. Doing the insert
//! here rather than in the submitter makes it cancellation-safe: a client that disconnects
//! after its transaction reached the channel still gets it pooled, so the WAL (on a
//! replica: the group's log) and the pool never disagree. The sink returns the hashes that
//! must leave the WAL (losers of a race, replaced and evicted transactions); the writer
//! removes them before the next group.
//!
//! Ordering: removals queued by the pool are sent while it holds its lock, and within a
//! drained batch removals are applied before appends, so a transaction evicted and then
//! resubmitted is never left out of the WAL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

use alloy_primitives::B256;
use ordo_primitives::PooledTx;
use ordo_storage::{Storage, StorageError};
use tokio::sync::oneshot;
use tracing::{debug, error, trace, warn};

use crate::PoolError;
use crate::txpool::Account;

/// The answer a submitter waits for: the hash once durable and pooled, or why not.
pub(crate) type Ack = oneshot::Sender<Result<B256, PoolError>>;

/// A checked transaction on its way to the WAL.
#[derive(Debug)]
pub(crate) struct PendingAppend {
    /// The transaction.
    pub tx: Arc<PooledTx>,
    /// Its global arrival number.
    pub seq: u64,
    /// The block epoch in which `account` was read.
    pub epoch: u64,
    /// The sender's account as read for the pre-check.
    pub account: Account,
    /// Where the outcome goes.
    pub ack: Ack,
}

/// An operation for the writer thread.
#[derive(Debug)]
pub(crate) enum WalOp {
    /// Append (durably) and then pool a transaction.
    Append(PendingAppend),
    /// Remove entries (evicted, dropped); not fsynced, see [`Storage::wal_remove`].
    Remove(Vec<B256>),
}

/// Receives durable groups from the writer. Implemented by the pool.
pub(crate) trait GroupSink: Send + Sync + 'static {
    /// The group is fsynced here (unless the group's log keeps it): have the replica group
    /// commit what it must (blocking). On error nothing of the group is pooled.
    fn replicate(&self, group: &[PendingAppend]) -> Result<(), PoolError>;
    /// The group is durable: pool it, ack everyone, return hashes to remove from the WAL.
    fn durable(&self, group: Vec<PendingAppend>) -> Vec<B256>;
    /// The group could not be written: release it and ack everyone with the error.
    fn failed(&self, group: Vec<PendingAppend>, error: PoolError);
    /// Whether the group's log keeps the transactions (then nothing is written here).
    fn log_keeps(&self) -> bool;
}

/// Counters of the writer's work, for metrics and for tests that check grouping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Calls to [`Storage::wal_append`] (= fsyncs) so far.
    pub groups: u64,
    /// Transactions appended so far.
    pub appended: u64,
    /// Entries removed so far.
    pub removed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    groups: AtomicU64,
    appended: AtomicU64,
    removed: AtomicU64,
}

/// Handle to the writer thread. Dropping it (with the pool) closes the channel and waits
/// for the thread to finish its current group, so the storage handle is released.
#[derive(Debug)]
pub(crate) struct WalWriter {
    tx: Sender<WalOp>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for WalWriter {
    fn drop(&mut self) {
        // Swap in a dead sender so the real one is dropped now and the thread's `recv`
        // returns; then join, unless the pool is being dropped on the writer thread itself.
        self.tx = mpsc::channel().0;
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
            && thread.join().is_err()
        {
            error!(target: "ordo::pool", "WAL writer thread panicked");
        }
    }
}

impl WalWriter {
    /// Spawns the writer thread. If the OS refuses a thread, the error is logged and every
    /// submission fails with [`PoolError::Unavailable`] rather than panicking.
    pub fn spawn<S: GroupSink>(storage: Storage, sink: Weak<S>, max_group: usize) -> Self {
        let (tx, rx) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let thread_counters = counters.clone();
        let spawned = std::thread::Builder::new()
            .name("ordo-pool-wal".into())
            .spawn(move || run(storage, rx, sink, max_group.max(1), thread_counters));
        let thread = match spawned {
            Ok(thread) => Some(thread),
            Err(e) => {
                error!(target: "ordo::pool", error = %e, "cannot spawn the WAL writer thread");
                None
            }
        };
        Self {
            tx,
            counters,
            thread,
        }
    }

    /// Queues an operation; fails only when the writer thread is gone.
    pub fn send(&self, op: WalOp) -> Result<(), PoolError> {
        self.tx.send(op).map_err(|_| PoolError::Unavailable)
    }

    /// Queues removals; a lost removal only means a stale entry is re-validated at restart.
    pub fn remove(&self, hashes: Vec<B256>) {
        if !hashes.is_empty() && self.tx.send(WalOp::Remove(hashes)).is_err() {
            warn!(target: "ordo::pool", "WAL writer gone; removal skipped");
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> WalStats {
        WalStats {
            groups: self.counters.groups.load(Ordering::Relaxed),
            appended: self.counters.appended.load(Ordering::Relaxed),
            removed: self.counters.removed.load(Ordering::Relaxed),
        }
    }
}

fn remove(storage: &Storage, hashes: &[B256], counters: &Counters) {
    if hashes.is_empty() {
        return;
    }
    match storage.wal_remove(hashes) {
        Ok(()) => {
            counters
                .removed
                .fetch_add(hashes.len() as u64, Ordering::Relaxed);
        }
        Err(e) => {
            warn!(target: "ordo::pool", error = %e, count = hashes.len(), "WAL removal failed")
        }
    }
}

/// The writer loop: block for one op, drain the rest, remove, append once, hand over.
fn run<S: GroupSink>(
    storage: Storage,
    rx: Receiver<WalOp>,
    sink: Weak<S>,
    max_group: usize,
    counters: Arc<Counters>,
) {
    let mut group: Vec<PendingAppend> = Vec::new();
    let mut removals: Vec<B256> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(op) = next.take() {
            match op {
                WalOp::Append(p) => group.push(p),
                WalOp::Remove(hashes) => removals.extend(hashes),
            }
            if group.len() < max_group {
                next = rx.try_recv().ok();
            }
        }
        remove(&storage, &removals, &counters);
        removals.clear();
        if group.is_empty() {
            continue;
        }
        let batch = std::mem::take(&mut group);
        // Once the group's log keeps the transactions, it is what makes them durable.
        let walled = !sink.upgrade().is_some_and(|s| s.log_keeps());
        metrics::histogram!("ordo_wal_group_size").record(batch.len() as f64);
        let result = if walled {
            let entries: Vec<(B256, u64, &[u8])> = batch
                .iter()
                .map(|p| (p.tx.hash, p.seq, &p.tx.encoded[..]))
                .collect();
            let started = std::time::Instant::now();
            let r = storage.wal_append(&entries);
            metrics::histogram!("ordo_wal_fsync_seconds").record(started.elapsed().as_secs_f64());
            counters.groups.fetch_add(1, Ordering::Relaxed);
            r
        } else {
            Ok(())
        };
        let Some(sink) = sink.upgrade() else {
            // The pool is gone; nobody can be answered meaningfully.
            for p in batch {
                let _ = p.ack.send(Err(PoolError::Unavailable));
            }
            break;
        };
        match result {
            Ok(()) => {
                if walled {
                    counters
                        .appended
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
                trace!(target: "ordo::pool", size = batch.len(), "WAL group durable");
                // While the group waits for the quorum, new submissions queue up and form
                // the next group, as during the fsync.
                if let Err(e) = sink.replicate(&batch) {
                    warn!(target: "ordo::pool", error = %e, size = batch.len(), "WAL group not replicated");
                    let hashes: Vec<B256> = batch.iter().map(|p| p.tx.hash).collect();
                    sink.failed(batch, e);
                    if walled {
                        remove(&storage, &hashes, &counters);
                    }
                    continue;
                }
                let losers = sink.durable(batch);
                remove(&storage, &losers, &counters);
            }
            Err(e) => {
                error!(target: "ordo::pool", error = %e, size = batch.len(), "WAL append failed");
                sink.failed(batch, storage_error(e));
            }
        }
    }
    debug!(target: "ordo::pool", "WAL writer stopped");
}

fn storage_error(e: StorageError) -> PoolError {
    PoolError::Storage(Arc::new(e))
}
