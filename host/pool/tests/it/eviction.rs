//! A full pool evicts the cheapest queued transactions first, then the lowest-tip pending
//! tails, and the evicted leave the WAL.

use ordo_pool::PoolConfig;

use crate::util::{GWEI, Harness, key, sorted, tx};

fn small(max_txs: usize) -> Harness {
    Harness::new(PoolConfig {
        max_txs,
        ..PoolConfig::default()
    })
}

#[tokio::test]
async fn queued_are_evicted_before_pending_even_if_pricier() {
    let h = small(3);
    let p0 = tx(0).fees(10 * GWEI, GWEI).sign(&key(0));
    let q_cheap = tx(3).fees(10 * GWEI, 2 * GWEI).sign(&key(1));
    let q_rich = tx(3).fees(50 * GWEI, 40 * GWEI).sign(&key(2));
    for t in [&p0, &q_cheap, &q_rich] {
        h.pool.submit(t.clone()).await.unwrap();
    }
    // A pending newcomer with the smallest tip still beats queued ones; cheapest goes first.
    let newcomer = tx(0).fees(10 * GWEI, GWEI).sign(&key(3));
    h.pool.submit(newcomer.clone()).await.unwrap();
    assert!(h.pool.get(&q_cheap.hash).is_none());
    let newcomer2 = tx(0).fees(10 * GWEI, GWEI).sign(&key(4));
    h.pool.submit(newcomer2.clone()).await.unwrap();
    assert!(h.pool.get(&q_rich.hash).is_none());
    assert_eq!(h.pool.status().queued, 0);

    h.wait_removed(2);
    assert_eq!(
        h.wal_hashes(),
        sorted(vec![p0.hash, newcomer.hash, newcomer2.hash])
    );
}

#[tokio::test]
async fn pending_tails_evicted_by_lowest_tip_and_gaps_never_open() {
    let h = small(3);
    let (a, b) = (key(0), key(1));
    let a0 = tx(0).fees(100 * GWEI, 5 * GWEI).sign(&a);
    let a1 = tx(1).fees(100 * GWEI, 3 * GWEI).sign(&a);
    let b0 = tx(0).fees(100 * GWEI, 4 * GWEI).sign(&b);
    for t in [&a0, &a1, &b0] {
        h.pool.submit(t.clone()).await.unwrap();
    }
    // a1 (tip 3) is the cheapest tail; a0 is never a victim while a1 sits behind it.
    let c0 = tx(0).fees(100 * GWEI, 6 * GWEI).sign(&key(2));
    h.pool.submit(c0.clone()).await.unwrap();
    assert!(h.pool.get(&a1.hash).is_none());
    assert!(h.pool.get(&a0.hash).is_some());
    assert_eq!(h.pool.status().pending, 3);
}

#[tokio::test]
async fn a_newcomer_no_better_than_the_cheapest_is_refused_and_nothing_is_evicted() {
    let h = small(2);
    let a0 = tx(0).fees(100 * GWEI, 5 * GWEI).sign(&key(0));
    let b0 = tx(0).fees(100 * GWEI, 5 * GWEI).sign(&key(1));
    h.pool.submit(a0.clone()).await.unwrap();
    h.pool.submit(b0.clone()).await.unwrap();
    let c0 = tx(0).fees(100 * GWEI, 5 * GWEI).sign(&key(2));
    assert_eq!(
        h.pool.submit(c0).await.unwrap_err().to_string(),
        "txpool is full"
    );
    let c5 = tx(5).fees(1000 * GWEI, 500 * GWEI).sign(&key(2)); // queued never beats pending
    assert_eq!(
        h.pool.submit(c5).await.unwrap_err().to_string(),
        "txpool is full"
    );
    assert_eq!(h.pool.len(), 2);
}

#[tokio::test]
async fn byte_limit_evicts_too() {
    let size = tx(0).sign(&key(0)).size();
    let h = Harness::new(PoolConfig {
        max_bytes: size * 2 + size / 2,
        ..PoolConfig::default()
    });
    h.pool
        .submit(tx(0).fees(10 * GWEI, GWEI).sign(&key(0)))
        .await
        .unwrap();
    h.pool
        .submit(tx(0).fees(10 * GWEI, GWEI).sign(&key(1)))
        .await
        .unwrap();
    h.pool
        .submit(tx(0).fees(10 * GWEI, 2 * GWEI).sign(&key(2)))
        .await
        .unwrap();
    assert_eq!(h.pool.len(), 2);
    assert!(h.pool.status().bytes <= size * 2 + size / 2);
}
