//! Nonce gaps, promotion, candidates and re-validation after blocks.

use std::time::Duration;

use alloy_primitives::U256;
use ordo_pool::{PoolConfig, PoolStatus};

use crate::util::{GWEI, Harness, key, tx};

#[tokio::test]
async fn gap_is_queued_until_filled_then_promoted() {
    let h = Harness::default_config();
    let k = key(0);
    let a = k.address();
    h.pool.submit(tx(0).sign(&k)).await.unwrap();
    h.pool.submit(tx(2).sign(&k)).await.unwrap();
    h.pool.submit(tx(3).sign(&k)).await.unwrap();
    assert_eq!(h.pool.status().pending, 1);
    assert_eq!(h.pool.status().queued, 2);
    assert_eq!(h.pool.pending_nonce(&a), 1);
    assert_eq!(h.pool.candidates(0).len(), 1);

    h.pool.submit(tx(1).sign(&k)).await.unwrap();
    assert_eq!(h.pool.status().pending, 4);
    assert_eq!(h.pool.pending_nonce(&a), 4);
    let nonces: Vec<u64> = h.pool.candidates(0).iter().map(|t| t.nonce()).collect();
    assert_eq!(nonces, vec![0, 1, 2, 3]);
}

#[tokio::test]
async fn pending_nonce_of_unknown_sender_is_the_state_nonce() {
    let h = Harness::default_config();
    h.state.set_nonce(key(5).address(), 9);
    assert_eq!(h.pool.pending_nonce(&key(5).address()), 9);
}

#[tokio::test]
async fn candidates_keep_nonce_order_per_sender_and_arrival_across() {
    let h = Harness::default_config();
    let (a, b) = (key(0), key(1));
    let a1 = tx(1).sign(&a);
    let b0 = tx(0).sign(&b);
    let a0 = tx(0).sign(&a);
    let b1 = tx(1).sign(&b);
    for t in [&a1, &b0, &a0, &b1] {
        h.pool.submit(t.clone()).await.unwrap();
    }
    // a0 arrived after b0; a1 can only follow a0.
    let order: Vec<_> = h.pool.candidates(0).iter().map(|t| t.hash).collect();
    assert_eq!(order, vec![b0.hash, a0.hash, a1.hash, b1.hash]);
}

#[tokio::test]
async fn candidates_stop_at_the_first_fee_cap_below_base_fee() {
    let h = Harness::default_config();
    let k = key(0);
    h.pool
        .submit(tx(0).fees(20 * GWEI, GWEI).sign(&k))
        .await
        .unwrap();
    h.pool
        .submit(tx(1).fees(5 * GWEI, GWEI).sign(&k))
        .await
        .unwrap();
    h.pool
        .submit(tx(2).fees(20 * GWEI, GWEI).sign(&k))
        .await
        .unwrap();
    assert_eq!(h.pool.candidates((10 * GWEI) as u64).len(), 1);
    assert_eq!(h.pool.candidates((5 * GWEI) as u64).len(), 3);
}

#[tokio::test]
async fn on_block_drops_included_and_stale_and_promotes() {
    let h = Harness::default_config();
    let k = key(0);
    let txs: Vec<_> = (0..3).map(|n| tx(n).sign(&k)).collect();
    for t in &txs {
        h.pool.submit(t.clone()).await.unwrap();
    }
    let queued = tx(4).sign(&k);
    h.pool.submit(queued.clone()).await.unwrap();
    assert_eq!(
        h.pool.status(),
        PoolStatus {
            pending: 3,
            queued: 1,
            bytes: h.pool.status().bytes
        }
    );

    // Block includes nonces 0 and 1 but the builder only reports 0 (1 is stale by nonce).
    h.state.set_nonce(k.address(), 2);
    let dropped = h.pool.on_block(&[txs[0].hash], &[k.address()]);
    assert_eq!(dropped, vec![txs[1].hash]);
    assert_eq!(h.pool.status().pending, 1);

    // Nonce 3 arrives: 4 is promoted.
    h.pool.submit(tx(3).sign(&k)).await.unwrap();
    assert_eq!(h.pool.status().pending, 3);
    assert_eq!(h.pool.status().queued, 0);
    assert_eq!(h.pool.pending_nonce(&k.address()), 5);
}

#[tokio::test]
async fn on_block_drops_unfunded_and_the_rest_waits_as_queued() {
    let h = Harness::default_config();
    let k = key(0);
    let t0 = tx(0).sign(&k);
    let t1 = tx(1).value(U256::from(10u64.pow(18))).sign(&k);
    let t2 = tx(2).sign(&k);
    for t in [&t0, &t1, &t2] {
        h.pool.submit(t.clone()).await.unwrap();
    }
    h.state.set_balance(k.address(), U256::from(10u64.pow(17)));
    // An account the block did not change is not read again.
    assert!(h.pool.on_block(&[], &[key(1).address()]).is_empty());
    let dropped = h.pool.on_block(&[], &[k.address()]);
    assert_eq!(dropped, vec![t1.hash]);
    assert_eq!(h.pool.status().pending, 1);
    assert_eq!(h.pool.status().queued, 1);
    h.wait_removed(1);
    assert!(!h.wal_hashes().contains(&t1.hash));
}

#[tokio::test]
async fn queued_transactions_expire_after_the_ttl() {
    let h = Harness::new(PoolConfig {
        queued_ttl: Duration::from_millis(50),
        ..PoolConfig::default()
    });
    let k = key(0);
    let pending = tx(0).sign(&k);
    let queued = tx(5).sign(&k);
    h.pool.submit(pending.clone()).await.unwrap();
    h.pool.submit(queued.clone()).await.unwrap();
    assert!(h.pool.on_block(&[], &[]).is_empty());
    tokio::time::sleep(Duration::from_millis(80)).await;
    // Expiry needs no change to the sender: the periodic sweep finds it.
    assert_eq!(h.pool.on_block(&[], &[]), vec![queued.hash]);
    assert!(h.pool.get(&pending.hash).is_some());
}

#[tokio::test]
async fn accepted_transactions_are_announced() {
    let h = Harness::default_config();
    let mut rx = h.pool.subscribe();
    let t = tx(0).sign(&key(0));
    h.pool.submit(t.clone()).await.unwrap();
    assert_eq!(rx.recv().await.unwrap(), t.hash);
    let _ = h.pool.submit(t).await; // already known: no second announcement
    assert!(rx.try_recv().is_err());
}
