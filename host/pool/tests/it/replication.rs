//! A replica's pool: a transaction is acknowledged only once the replica group committed its
//! WAL group, and the writer keeps several groups waiting for their commit at once. The
//! group's log is a fake here that holds each group's outcome until the test gives it, so
//! every step is observed, never timed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, Bytes};
use futures::FutureExt;
use ordo_pool::{MAX_WAL_GROUPS_IN_FLIGHT, PoolError, ReplicationDone, TxReplicator};
use ordo_primitives::PooledTx;
use parking_lot::Mutex;

use crate::util::{Harness, key, tx};

/// The groups handed to the log, each with the hashes of its transactions, waiting for the
/// test to report their outcome.
#[derive(Default)]
struct HeldLog {
    groups: Mutex<Vec<(Vec<B256>, Option<ReplicationDone>)>>,
}

impl TxReplicator for HeldLog {
    fn replicate(&self, txs: Vec<(Bytes, Address)>, done: ReplicationDone) {
        let hashes = txs
            .iter()
            .map(|(raw, _)| alloy_primitives::keccak256(raw))
            .collect();
        self.groups.lock().push((hashes, Some(done)));
    }
}

impl HeldLog {
    fn handed(&self) -> usize {
        self.groups.lock().len()
    }

    /// Waits until `n` groups were handed over.
    fn wait_handed(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.handed() < n {
            assert!(
                Instant::now() < deadline,
                "only {} groups handed over",
                self.handed()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn hashes(&self, group: usize) -> Vec<B256> {
        self.groups.lock()[group].0.clone()
    }

    fn report(&self, group: usize, outcome: Result<(), String>) {
        let done = self.groups.lock()[group].1.take().expect("reported once");
        done.report(outcome);
    }

    fn drop_handle(&self, group: usize) {
        drop(self.groups.lock()[group].1.take());
    }
}

fn replica() -> (Harness, Arc<HeldLog>) {
    let h = Harness::default_config();
    let log = Arc::new(HeldLog::default());
    h.pool.set_replicator(log.clone());
    (h, log)
}

type Answer = tokio::task::JoinHandle<Result<B256, PoolError>>;

fn submit(h: &Harness, t: PooledTx) -> Answer {
    let pool = h.pool.clone();
    tokio::spawn(async move { pool.submit(t).await })
}

/// Whether `answer` has come, after giving the writer a moment to act wrongly.
async fn answered(answer: &mut Answer) -> bool {
    tokio::time::sleep(Duration::from_millis(50)).await;
    (&mut *answer).now_or_never().is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_wait_for_their_commit_side_by_side_and_are_answered_in_order() {
    let (h, log) = replica();
    let first = tx(0).sign(&key(0));
    let second = tx(0).sign(&key(1));
    let mut a = submit(&h, first.clone());
    log.wait_handed(1);
    // The second group is written and handed over while the first still waits.
    let mut b = submit(&h, second.clone());
    log.wait_handed(2);
    assert_eq!(log.hashes(0), vec![first.hash]);
    assert_eq!(log.hashes(1), vec![second.hash]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.wal_hashes().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the second group was not written"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(!answered(&mut a).await, "answered before the commit");
    assert!(!h.pool.contains(&first.hash));

    // The later group commits first: it still waits for the earlier one.
    log.report(1, Ok(()));
    assert!(
        !answered(&mut b).await,
        "answered ahead of an earlier group"
    );
    assert!(!h.pool.contains(&second.hash));

    log.report(0, Ok(()));
    assert_eq!(a.await.unwrap().unwrap(), first.hash);
    assert_eq!(b.await.unwrap().unwrap(), second.hash);
    assert!(h.pool.contains(&first.hash) && h.pool.contains(&second.hash));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_the_log_refuses_or_abandons_is_refused_and_leaves_the_wal() {
    let (h, log) = replica();
    let refused = tx(0).sign(&key(0));
    let abandoned = tx(0).sign(&key(1));
    let kept = tx(0).sign(&key(2));
    let a = submit(&h, refused.clone());
    log.wait_handed(1);
    let b = submit(&h, abandoned.clone());
    log.wait_handed(2);
    let c = submit(&h, kept.clone());
    log.wait_handed(3);

    log.report(0, Err("this replica no longer leads".into()));
    log.drop_handle(1);
    log.report(2, Ok(()));
    match a.await.unwrap() {
        Err(PoolError::NotReplicated(why)) => assert!(why.contains("no longer leads"), "{why}"),
        other => panic!("refused group answered {other:?}"),
    }
    match b.await.unwrap() {
        Err(PoolError::NotReplicated(why)) => assert!(why.contains("abandoned"), "{why}"),
        other => panic!("abandoned group answered {other:?}"),
    }
    assert_eq!(c.await.unwrap().unwrap(), kept.hash);
    h.wait_removed(2);
    assert_eq!(h.wal_hashes(), vec![kept.hash]);
    assert!(!h.pool.contains(&refused.hash) && !h.pool.contains(&abandoned.hash));
    assert!(h.pool.contains(&kept.hash));
    // Refused means not known: the same transaction may be sent again.
    let again = submit(&h, refused.clone());
    log.wait_handed(4);
    log.report(3, Ok(()));
    assert_eq!(again.await.unwrap().unwrap(), refused.hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_groups_than_the_window_wait_at_once() {
    let (h, log) = replica();
    let window = MAX_WAL_GROUPS_IN_FLIGHT;
    let mut answers = Vec::new();
    for i in 0..window {
        answers.push(submit(&h, tx(0).sign(&key(i as u64))));
        log.wait_handed(i + 1);
    }
    // The window is full: the next transaction waits to be written and handed over.
    let late = tx(0).sign(&key(window as u64));
    answers.push(submit(&h, late.clone()));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(log.handed(), window);
    assert!(!h.wal_hashes().contains(&late.hash));

    log.report(0, Ok(()));
    log.wait_handed(window + 1);
    assert_eq!(log.hashes(window), vec![late.hash]);
    for group in 1..=window {
        log.report(group, Ok(()));
    }
    for answer in answers {
        answer.await.unwrap().unwrap();
    }
    assert_eq!(h.pool.status().pending, window + 1);
}
