//! A replica's pool: the group's log keeps what it acknowledges and adopts, so the WAL holds
//! only what was restored from it before (or what is acknowledged before a replicator is
//! set), and a snapshot holds the group being committed and a block's transactions until
//! the block is stored.

use std::sync::{Arc, Mutex, mpsc};

use alloy_primitives::{Address, B256, Bytes};
use ordo_pool::TxReplicator;

use crate::util::{GWEI, Harness, key, sorted, tx};

/// Commits every group at once, recording what it was given.
#[derive(Default)]
struct Recording(Mutex<Vec<B256>>);

impl TxReplicator for Recording {
    fn replicate(&self, txs: Vec<(Bytes, Address)>) -> Result<(), String> {
        let mut seen = self.0.lock().unwrap();
        seen.extend(txs.iter().map(|(raw, _)| alloy_primitives::keccak256(raw)));
        Ok(())
    }
}

#[tokio::test]
async fn a_replica_pool_writes_no_wal_and_still_removes_what_it_restored_from_it() {
    let h = Harness::default_config();
    let (a, b, c) = (key(0), key(1), key(2));
    let a0 = tx(0).sign(&a);
    // From before the replica kept its transactions in the group's log.
    h.storage
        .wal_append(&[(a0.hash, 1, &a0.encoded[..])])
        .unwrap();
    assert_eq!(h.pool.restore_from_storage().unwrap(), 1);

    h.pool.keep_in_group_log();
    let replicator = Arc::new(Recording::default());
    h.pool.set_replicator(replicator.clone());
    let a1 = tx(1).sign(&a);
    let b0 = tx(0).sign(&b);
    h.pool.submit(a1.clone()).await.unwrap();
    h.pool.submit(b0.clone()).await.unwrap();
    // Committed by the group, acknowledged, pooled; not written to the WAL.
    assert_eq!(
        sorted(replicator.0.lock().unwrap().clone()),
        sorted(vec![a1.hash, b0.hash])
    );
    assert!(h.pool.get(&a1.hash).is_some() && h.pool.get(&b0.hash).is_some());
    let c0 = tx(0).sign(&c);
    assert_eq!(h.pool.adopt(vec![c0.clone()]).unwrap(), 1);
    assert_eq!(h.wal_hashes(), vec![a0.hash]);
    let stats = h.pool.wal_stats();
    assert_eq!((stats.groups, stats.appended), (0, 0), "{stats:?}");

    // A block includes a0 and a1: the restored entry leaves the WAL; a1 was never in it.
    h.state.set_nonce(a.address(), 2);
    h.pool.on_block(&[a0.hash, a1.hash], &[a.address()]);
    h.pool.forget_stored(vec![a0.hash, a1.hash]);
    h.wait_removed(1);
    assert!(h.wal_hashes().is_empty());
    assert_eq!(h.pool.wal_stats().removed, 1);
    assert_eq!(h.pool.status().pending, 2);
}

/// Holds each group until told to go (or to fail it), saying when one arrived.
struct Gate {
    arrived: Mutex<mpsc::Sender<()>>,
    go: Mutex<mpsc::Receiver<bool>>,
}

impl TxReplicator for Gate {
    fn replicate(&self, _txs: Vec<(Bytes, Address)>) -> Result<(), String> {
        self.arrived.lock().unwrap().send(()).unwrap();
        match self.go.lock().unwrap().recv() {
            Ok(true) => Ok(()),
            _ => Err("not committed".into()),
        }
    }
}

/// `h`'s pool in a replica group behind a [`Gate`]: each `true` sent lets a held group
/// commit, each `false` fails it; [`arrival`] waits for the next group to reach the gate.
fn gated(h: &Harness) -> (mpsc::Sender<bool>, Arc<Mutex<mpsc::Receiver<()>>>) {
    h.pool.keep_in_group_log();
    let (arrived_tx, arrived) = mpsc::channel();
    let (go, go_rx) = mpsc::channel();
    h.pool.set_replicator(Arc::new(Gate {
        arrived: Mutex::new(arrived_tx),
        go: Mutex::new(go_rx),
    }));
    (go, Arc::new(Mutex::new(arrived)))
}

fn arrival(
    arrived: &Arc<Mutex<mpsc::Receiver<()>>>,
) -> tokio::task::JoinHandle<Result<(), mpsc::RecvError>> {
    let arrived = arrived.clone();
    tokio::task::spawn_blocking(move || arrived.lock().unwrap().recv())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_being_committed_is_in_the_snapshot_until_it_is_pooled() {
    let h = Harness::default_config();
    let (go, arrived) = gated(&h);
    let wait_arrival = || arrival(&arrived);
    let snapshot = |pool: &ordo_pool::Pool| -> Vec<B256> {
        sorted(pool.snapshot_txs().iter().map(|t| t.hash).collect())
    };

    let t0 = tx(0).sign(&key(0));
    let sent = tokio::spawn({
        let (pool, t0) = (h.pool.clone(), t0.clone());
        async move { pool.submit(t0).await }
    });
    wait_arrival().await.unwrap().unwrap();
    // Its entry may be applied already, ahead of its pooling: the snapshot has it.
    assert!(h.pool.get(&t0.hash).is_none());
    assert_eq!(snapshot(&h.pool), vec![t0.hash]);
    go.send(true).unwrap();
    assert_eq!(sent.await.unwrap().unwrap(), t0.hash);
    assert!(h.pool.get(&t0.hash).is_some());
    assert_eq!(snapshot(&h.pool), vec![t0.hash]);

    // A group the replicator does not commit leaves the snapshot with its refusal.
    let t1 = tx(0).sign(&key(1));
    let refused = tokio::spawn({
        let (pool, t1) = (h.pool.clone(), t1.clone());
        async move { pool.submit(t1).await }
    });
    wait_arrival().await.unwrap().unwrap();
    assert_eq!(snapshot(&h.pool), sorted(vec![t0.hash, t1.hash]));
    go.send(false).unwrap();
    assert!(refused.await.unwrap().is_err());
    assert_eq!(snapshot(&h.pool), vec![t0.hash]);
}

/// A block takes its transactions out of the pool before it is stored (a leader's before the
/// group commits it): until then a snapshot holds them, and a block taken back returns them
/// to the pool and keeps none aside (not those it found invalid either).
#[tokio::test]
async fn a_blocks_transactions_stay_in_the_snapshot_until_it_is_stored_or_taken_back() {
    let h = Harness::default_config();
    h.pool.keep_in_group_log();
    h.pool.set_replicator(Arc::new(Recording::default()));
    let (a, b, c) = (key(0), key(1), key(2));
    let (a0, b0, c0) = (tx(0).sign(&a), tx(0).sign(&b), tx(0).sign(&c));
    for t in [&a0, &b0, &c0] {
        h.pool.submit(t.clone()).await.unwrap();
    }
    let snapshot =
        || -> Vec<B256> { sorted(h.pool.snapshot_txs().iter().map(|t| t.hash).collect()) };

    // Staged: a0 and b0 included, c0 found invalid; out of the pool, still in the snapshot.
    h.state.set_nonce(a.address(), 1);
    h.state.set_nonce(b.address(), 1);
    h.pool
        .on_block(&[a0.hash, b0.hash, c0.hash], &[a.address(), b.address()]);
    assert!(h.pool.get(&a0.hash).is_none() && h.pool.get(&c0.hash).is_none());
    assert_eq!(snapshot(), sorted(vec![a0.hash, b0.hash, c0.hash]));

    // Taken back: the included ones are pooled again (the state as it was), the invalid one
    // stays out, and none is kept aside: once a0 is replaced, the snapshot has its
    // replacement alone.
    h.state.set_nonce(a.address(), 0);
    h.state.set_nonce(b.address(), 0);
    let put = vec![a0.clone(), b0.clone()];
    assert_eq!(h.pool.put_back(put, &[a0.hash, b0.hash, c0.hash]), 2);
    assert!(h.pool.get(&a0.hash).is_some() && h.pool.get(&c0.hash).is_none());
    let a0_again = tx(0).fees(40 * GWEI, 4 * GWEI).sign(&a);
    h.pool.submit(a0_again.clone()).await.unwrap();
    assert_eq!(snapshot(), sorted(vec![a0_again.hash, b0.hash]));

    // Staged again and stored: gone from both.
    h.state.set_nonce(a.address(), 1);
    h.state.set_nonce(b.address(), 1);
    h.pool
        .on_block(&[a0_again.hash, b0.hash], &[a.address(), b.address()]);
    h.pool.forget_stored(vec![a0_again.hash, b0.hash]);
    assert!(snapshot().is_empty());
    assert!(h.wal_hashes().is_empty());
}

/// Until a replicator is set, nothing is acknowledged on the strength of the group's log:
/// a submission is written to the WAL as on a single node.
#[tokio::test]
async fn without_a_replicator_the_wal_keeps_what_is_acknowledged() {
    let h = Harness::default_config();
    h.pool.keep_in_group_log();
    let a0 = tx(0).sign(&key(0));
    h.pool.submit(a0.clone()).await.unwrap();
    assert_eq!(h.wal_hashes(), vec![a0.hash]);
}

/// A sender's retry is being committed when the entry of its first try, committed late,
/// is applied: adopting it finds it in flight. If the retry then fails, the transaction is
/// pooled all the same, as the group has it; if it succeeds, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_committed_while_its_retry_is_in_flight_stays_pooled_if_the_retry_fails() {
    let h = Harness::default_config();
    let (go, arrived) = gated(&h);
    let wait_arrival = || arrival(&arrived);
    for (i, commits) in [false, true].into_iter().enumerate() {
        let t = tx(0).sign(&key(i as u64));
        let retry = tokio::spawn({
            let (pool, t) = (h.pool.clone(), t.clone());
            async move { pool.submit(t).await }
        });
        wait_arrival().await.unwrap().unwrap();
        // The first try's entry is applied: it is in flight here, so not pooled twice.
        assert_eq!(h.pool.adopt(vec![t.clone()]).unwrap(), 0);
        go.send(commits).unwrap();
        assert_eq!(retry.await.unwrap().is_ok(), commits);
        assert!(
            h.pool.get(&t.hash).is_some(),
            "a committed transaction is not pooled (its retry committed: {commits})"
        );
    }
    assert_eq!(h.pool.status().pending, 2);
}
