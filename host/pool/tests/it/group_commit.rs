//! Concurrent submissions share fsyncs: the number of `wal_append` calls (counted by the
//! writer) is far below the number of transactions. Counted, never timed.

use futures::future::join_all;

use crate::util::{Harness, key, tx};

const SENDERS: u64 = 50;
const PER_SENDER: u64 = 20;

fn signed() -> Vec<ordo_primitives::PooledTx> {
    (0..SENDERS)
        .flat_map(|s| {
            let k = key(s);
            (0..PER_SENDER).map(move |n| tx(n).sign(&k))
        })
        .collect()
}

#[tokio::test]
async fn many_concurrent_submits_share_few_fsyncs() {
    let h = Harness::default_config();
    let txs = signed();
    let total = txs.len() as u64;
    let results = join_all(txs.into_iter().map(|t| h.pool.submit(t))).await;
    assert!(
        results.iter().all(|r| r.is_ok()),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    let stats = h.pool.wal_stats();
    assert_eq!(stats.appended, total);
    assert!(
        stats.groups * 10 <= total,
        "{total} txs took {} fsyncs",
        stats.groups
    );
    assert_eq!(h.wal_hashes().len() as u64, total);
    assert_eq!(h.pool.status().pending as u64, total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spawned_submits_on_many_threads_share_fsyncs() {
    let h = Harness::default_config();
    let txs = signed();
    let total = txs.len() as u64;
    let handles: Vec<_> = txs
        .into_iter()
        .map(|t| {
            let pool = h.pool.clone();
            tokio::spawn(async move { pool.submit(t).await })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    let stats = h.pool.wal_stats();
    assert_eq!(stats.appended, total);
    assert!(
        stats.groups < total,
        "{total} txs took {} fsyncs",
        stats.groups
    );
    println!("{total} txs in {} groups", stats.groups);
}

#[tokio::test]
async fn a_dropped_submit_future_still_pools_what_reached_the_wal() {
    let h = Harness::default_config();
    let t = tx(0).sign(&key(0));
    {
        let fut = h.pool.submit(t.clone());
        let mut fut = std::pin::pin!(fut);
        // Poll once: checks pass and the append is queued; then drop the future.
        let _ = futures::poll!(fut.as_mut());
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !h.pool.contains(&t.hash) {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(h.wal_hashes(), vec![t.hash]);
}
