//! The group-commit WAL writer: one dedicated thread owns every write to the `wal` keyspace.
//!
//! Submitters send [`WalOp::Append`] (the transaction, its sequence number, the account it
//! was checked against and a oneshot ack) over an unbounded channel. The writer blocks for
//! the first operation, drains whatever else is queued (up to `max_group` appends), applies
//! queued removals, then calls [`Storage::wal_append`] **once** for the whole group — one
//! fsync, however many transactions. While it fsyncs, new submissions queue up and become
//! the next group, so the group size grows with load and the fsync rate stays bounded.
//!
//! On a replica the group must also be committed by the replica group's log. The writer
//! hands it to the log ([`GroupSink::replicate`]) just before its fsync, so the two overlap,
//! and does not wait: up to [`MAX_WAL_GROUPS_IN_FLIGHT`] groups wait for their commit at once while the
//! next ones are written. Outcomes come back on a channel of their own; groups are finished
//! strictly in the order they were written, whatever order their outcomes arrive in.
//!
//! A group is finished once it is durable here and committed (on a single node at once):
//! the writer hands it to a [`GroupSink`] (the pool), which inserts the transactions under
//! one lock acquisition and acks each submitter. Doing the insert here rather than in the
//! submitter makes it cancellation-safe: a client that disconnects after its transaction
//! reached the channel still gets it pooled, so the WAL and the pool never disagree. The sink
//! returns the hashes that must leave the WAL (losers of a race, replaced and evicted
//! transactions); the writer removes them before it writes another group.
//!
//! Ordering: removals queued by the pool are sent while it holds its lock, and removals are
//! applied before the next group is written, so a transaction evicted and then resubmitted
//! is never left out of the WAL. A hash cannot be in two groups in flight: the pool holds it
//! as in flight from its pre-check until its group is finished.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

use alloy_primitives::B256;
use ordo_primitives::PooledTx;
use ordo_storage::{Storage, StorageError};
use tokio::sync::oneshot;
use tracing::{debug, error, trace, warn};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::txpool::Account;
use crate::{PoolError, ReplicationDone};

/// WAL groups that may wait for the replica group's commit at once. One at a time made a
/// replica's throughput the clients in flight divided by a whole commit round; with several,
/// the submissions that arrive during one group's round are written and sent at once.
pub const MAX_WAL_GROUPS_IN_FLIGHT: usize = 4;

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
    /// Whether the replica group must commit it before it is pooled (a transaction this
    /// replica accepted; not one it adopts from the group's log).
    pub replicate: bool,
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
    /// Hands the group to the replica group's log, if any, without waiting; `done` gets the
    /// outcome (at once when there is nothing to replicate). On error nothing of the group
    /// is pooled.
    fn replicate(&self, group: &[PendingAppend], done: ReplicationDone);
    /// The group is fsynced: pool it, ack everyone, return hashes to remove from the WAL.
    fn durable(&self, group: Vec<PendingAppend>) -> Vec<B256>;
    /// The group could not be written: release it and ack everyone with the error.
    fn failed(&self, group: Vec<PendingAppend>, error: PoolError);
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
        self.tx = crossbeam_channel::unbounded().0;
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
        let (tx, rx) = crossbeam_channel::unbounded();
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

/// A written group waiting for its replication outcome.
struct InFlight {
    id: u64,
    batch: Vec<PendingAppend>,
    written: Result<(), StorageError>,
    replicated: Option<Result<(), String>>,
}

/// The writer loop: wait for submissions (and, with groups in flight, for their outcomes),
/// drain what is queued, remove, hand the group to the replica group, append it once, and
/// finish every group at the head whose outcome is known.
fn run<S: GroupSink>(
    storage: Storage,
    rx: Receiver<WalOp>,
    sink: Weak<S>,
    max_group: usize,
    counters: Arc<Counters>,
) {
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<(u64, Result<(), String>)>();
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut group: Vec<PendingAppend> = Vec::new();
    let mut removals: Vec<B256> = Vec::new();
    let mut next_id = 0u64;
    let mut open = true;
    let take = |op: WalOp, group: &mut Vec<PendingAppend>, removals: &mut Vec<B256>| match op {
        WalOp::Append(p) => group.push(p),
        WalOp::Remove(hashes) => removals.extend(hashes),
    };
    let note = |(id, outcome): (u64, Result<(), String>), in_flight: &mut VecDeque<InFlight>| {
        if let Some(f) = in_flight.iter_mut().find(|f| f.id == id) {
            f.replicated = Some(outcome);
        }
    };
    loop {
        let room = open && in_flight.len() < MAX_WAL_GROUPS_IN_FLIGHT;
        if in_flight.is_empty() {
            // (A group left over from a full window is written without waiting.)
            if group.is_empty() {
                if !open {
                    break;
                }
                match rx.recv() {
                    Ok(op) => take(op, &mut group, &mut removals),
                    Err(_) => open = false,
                }
            }
        } else if room {
            crossbeam_channel::select! {
                recv(rx) -> op => match op {
                    Ok(op) => take(op, &mut group, &mut removals),
                    Err(_) => open = false,
                },
                recv(done_rx) -> done => if let Ok(done) = done { note(done, &mut in_flight) },
            }
        } else if let Ok(done) = done_rx.recv() {
            note(done, &mut in_flight);
        }
        while let Ok(done) = done_rx.try_recv() {
            note(done, &mut in_flight);
        }
        while open && group.len() < max_group {
            match rx.try_recv() {
                Ok(op) => take(op, &mut group, &mut removals),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }
        remove(&storage, &removals, &counters);
        removals.clear();
        let Some(sink) = sink.upgrade() else {
            // The pool is gone; nobody can be answered meaningfully.
            let waiting = in_flight.drain(..).flat_map(|f| f.batch);
            for p in waiting.chain(group.drain(..)) {
                let _ = p.ack.send(Err(PoolError::Unavailable));
            }
            break;
        };
        finish_ready(&*sink, &storage, &mut in_flight, &counters);
        if group.is_empty() || in_flight.len() >= MAX_WAL_GROUPS_IN_FLIGHT {
            continue;
        }
        let batch = std::mem::take(&mut group);
        let id = next_id;
        next_id += 1;
        let done = done_tx.clone();
        sink.replicate(
            &batch,
            ReplicationDone::new(move |outcome| {
                let _ = done.send((id, outcome));
            }),
        );
        let written = {
            let entries: Vec<(B256, u64, &[u8])> = batch
                .iter()
                .map(|p| (p.tx.hash, p.seq, &p.tx.encoded[..]))
                .collect();
            let started = std::time::Instant::now();
            let r = storage.wal_append(&entries);
            metrics::histogram!("ordo_wal_fsync_seconds").record(started.elapsed().as_secs_f64());
            metrics::histogram!("ordo_wal_group_size").record(entries.len() as f64);
            r
        };
        counters.groups.fetch_add(1, Ordering::Relaxed);
        in_flight.push_back(InFlight {
            id,
            batch,
            written,
            replicated: None,
        });
        // On a single node the outcome is already there: finish the group now.
        while let Ok(done) = done_rx.try_recv() {
            note(done, &mut in_flight);
        }
        finish_ready(&*sink, &storage, &mut in_flight, &counters);
    }
    debug!(target: "ordo::pool", "WAL writer stopped");
}

/// Finishes the groups at the head of `in_flight` whose outcome is known, in order: pooled
/// and acknowledged when written and committed, else refused (and out of the WAL again).
fn finish_ready<S: GroupSink>(
    sink: &S,
    storage: &Storage,
    in_flight: &mut VecDeque<InFlight>,
    counters: &Counters,
) {
    while in_flight.front().is_some_and(|f| f.replicated.is_some()) {
        let Some(InFlight {
            batch,
            written,
            replicated,
            ..
        }) = in_flight.pop_front()
        else {
            break;
        };
        match (written, replicated) {
            (Err(e), _) => {
                // Committed by the group or not, it is not durable here: refused. Another
                // replica may still include it (as after a commit timeout): a retryable
                // error, never a false success.
                error!(target: "ordo::pool", error = %e, size = batch.len(), "WAL append failed");
                sink.failed(batch, storage_error(e));
            }
            (Ok(()), Some(Err(why))) => {
                warn!(target: "ordo::pool", error = %why, size = batch.len(), "WAL group not replicated");
                let hashes: Vec<B256> = batch.iter().map(|p| p.tx.hash).collect();
                sink.failed(batch, PoolError::NotReplicated(why.into()));
                remove(storage, &hashes, counters);
            }
            (Ok(()), _) => {
                counters
                    .appended
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                trace!(target: "ordo::pool", size = batch.len(), "WAL group durable");
                let losers = sink.durable(batch);
                remove(storage, &losers, counters);
            }
        }
    }
}

fn storage_error(e: StorageError) -> PoolError {
    PoolError::Storage(Arc::new(e))
}
