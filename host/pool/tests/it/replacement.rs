//! Same sender and nonce: a ≥ 10 % bump of both fee cap and tip replaces, in the pool and
//! in the WAL.

use crate::util::{GWEI, Harness, key, sorted, tx};

#[tokio::test]
async fn bump_of_ten_percent_on_both_fees_replaces() {
    let h = Harness::default_config();
    let k = key(0);
    let old = tx(0).fees(10 * GWEI, GWEI).sign(&k);
    h.pool.submit(old.clone()).await.unwrap();
    let new = tx(0).fees(11 * GWEI, GWEI * 11 / 10).sign(&k);
    h.pool.submit(new.clone()).await.unwrap();
    assert!(h.pool.get(&old.hash).is_none());
    assert_eq!(h.pool.get(&new.hash).unwrap().hash, new.hash);
    assert_eq!(h.pool.len(), 1);
    h.wait_removed(1);
    assert_eq!(h.wal_hashes(), vec![new.hash]);
}

#[tokio::test]
async fn underpriced_replacements_are_refused() {
    let h = Harness::default_config();
    let k = key(0);
    h.pool
        .submit(tx(0).fees(10 * GWEI, GWEI).sign(&k))
        .await
        .unwrap();
    for (fee, tip) in [
        (11 * GWEI - 1, 2 * GWEI),       // fee cap short by one wei
        (20 * GWEI, GWEI * 11 / 10 - 1), // tip short by one wei
        (10 * GWEI, GWEI),               // same fees, different tx (value differs below)
    ] {
        let t = tx(0)
            .fees(fee, tip)
            .value(alloy_primitives::U256::from(2))
            .sign(&k);
        let err = h.pool.submit(t).await.unwrap_err();
        assert_eq!(err.to_string(), "replacement transaction underpriced");
    }
    assert_eq!(h.pool.len(), 1);
}

#[tokio::test]
async fn concurrent_same_nonce_race_has_one_winner_and_a_clean_rollback() {
    let h = Harness::default_config();
    let k = key(0);
    h.pool
        .submit(tx(0).fees(10 * GWEI, GWEI).sign(&k))
        .await
        .unwrap();
    // Both pass the pre-check against the pooled tx; neither beats the other by 10 %.
    let a = tx(0).fees(12 * GWEI, 2 * GWEI).sign(&k);
    let b = tx(0)
        .fees(12 * GWEI, 2 * GWEI)
        .value(alloy_primitives::U256::from(2))
        .sign(&k);
    let (ra, rb) = tokio::join!(h.pool.submit(a.clone()), h.pool.submit(b.clone()));
    let winner = match (ra, rb) {
        (Ok(_), Err(e)) => {
            assert_eq!(e.to_string(), "replacement transaction underpriced");
            a.hash
        }
        (Err(e), Ok(_)) => {
            assert_eq!(e.to_string(), "replacement transaction underpriced");
            b.hash
        }
        other => panic!("expected one winner, got {other:?}"),
    };
    assert_eq!(h.pool.len(), 1);
    assert!(h.pool.get(&winner).is_some());
    // Removed from the WAL: the original (replaced) and the loser (rolled back).
    h.wait_removed(2);
    assert_eq!(h.wal_hashes(), sorted(vec![winner]));
}
