//! Every ingress check refuses with geth's message; the boundaries are accepted.

use alloy_primitives::U256;
use ordo_pool::{PoolConfig, PoolError};

use crate::util::{CHAIN_ID, GWEI, Harness, eth, key, legacy, tx};

async fn refused(h: &Harness, t: ordo_primitives::PooledTx) -> PoolError {
    let err = h.pool.submit(t).await.expect_err("should be refused");
    assert_eq!(err.rpc_code(), -32000, "{err}");
    err
}

#[tokio::test]
async fn wrong_chain_id_on_typed_tx() {
    let h = Harness::default_config();
    let err = refused(&h, tx(0).chain(1).sign(&key(0))).await;
    assert_eq!(err.to_string(), "invalid chain id for signer");
    assert!(err.is_bad_transaction());
}

#[tokio::test]
async fn wrong_chain_id_on_eip155_legacy() {
    let h = Harness::default_config();
    let err = refused(&h, legacy(&key(0), 0, Some(1))).await;
    assert_eq!(err.to_string(), "invalid chain id for signer");
}

#[tokio::test]
async fn legacy_with_and_without_chain_id_accepted() {
    let h = Harness::default_config();
    h.pool
        .submit(legacy(&key(0), 0, Some(CHAIN_ID)))
        .await
        .unwrap();
    h.pool.submit(legacy(&key(1), 0, None)).await.unwrap();
    assert_eq!(h.pool.status().pending, 2);
}

#[tokio::test]
async fn gas_above_block_gas_limit() {
    let h = Harness::default_config();
    let err = refused(&h, tx(0).gas(30_000_001).sign(&key(0))).await;
    assert_eq!(err.to_string(), "exceeds block gas limit");
    h.pool
        .submit(tx(0).gas(30_000_000).sign(&key(0)))
        .await
        .unwrap();
}

#[tokio::test]
async fn intrinsic_gas_too_low() {
    let h = Harness::default_config();
    let err = refused(&h, tx(0).gas(20_999).sign(&key(0))).await;
    assert_eq!(err.to_string(), "intrinsic gas too low");
    // Calldata costs gas too: 21 000 is not enough with 10 non-zero bytes.
    let err = refused(&h, tx(0).input(vec![1; 10]).sign(&key(0))).await;
    assert_eq!(err.to_string(), "intrinsic gas too low");
}

#[tokio::test]
async fn tip_above_fee_cap() {
    let h = Harness::default_config();
    let err = refused(&h, tx(0).fees(10, 11).sign(&key(0))).await;
    assert_eq!(
        err.to_string(),
        "max priority fee per gas higher than max fee per gas"
    );
}

#[tokio::test]
async fn fee_cap_below_min_base_fee() {
    let h = Harness::default_config(); // min base fee 7 wei
    let err = refused(&h, tx(0).fees(6, 0).sign(&key(0))).await;
    assert_eq!(err.to_string(), "max fee per gas less than block base fee");
    assert!(!err.is_bad_transaction());
    h.pool.submit(tx(0).fees(7, 0).sign(&key(0))).await.unwrap();
}

#[tokio::test]
async fn limits_update_live() {
    let h = Harness::default_config();
    let mut limits = h.pool.limits();
    limits.block_gas_limit = 100_000;
    h.pool.set_limits(limits);
    let err = refused(&h, tx(0).gas(100_001).sign(&key(0))).await;
    assert_eq!(err.to_string(), "exceeds block gas limit");
}

#[tokio::test]
async fn nonce_too_low() {
    let h = Harness::default_config();
    h.state.set_nonce(key(0).address(), 5);
    let err = refused(&h, tx(4).sign(&key(0))).await;
    assert_eq!(err.to_string(), "nonce too low");
}

#[tokio::test]
async fn nonce_too_high_beyond_the_gap() {
    let h = Harness::default_config(); // gap 64
    let err = refused(&h, tx(65).sign(&key(0))).await;
    assert_eq!(err.to_string(), "nonce too high");
    h.pool.submit(tx(64).sign(&key(0))).await.unwrap();
    // The sender's pool transactions extend the window by one each.
    let err = refused(&h, tx(66).sign(&key(0))).await;
    assert_eq!(err.to_string(), "nonce too high");
    h.pool.submit(tx(65).sign(&key(0))).await.unwrap();
    h.pool.submit(tx(66).sign(&key(0))).await.unwrap();
    let err = refused(&h, tx(68).sign(&key(0))).await;
    assert_eq!(err.to_string(), "nonce too high");
}

#[tokio::test]
async fn insufficient_funds_for_the_tx_itself() {
    let h = Harness::default_config();
    let poor = key(100);
    // 21 000 gas * 10 gwei + 1 wei, minus one wei.
    h.state
        .set(poor.address(), 0, U256::from(21_000 * 10 * GWEI));
    let err = refused(&h, tx(0).sign(&poor)).await;
    assert_eq!(
        err.to_string(),
        "insufficient funds for gas * price + value"
    );
    h.state
        .set_balance(poor.address(), U256::from(21_000 * 10 * GWEI + 1));
    h.pool.submit(tx(0).sign(&poor)).await.unwrap();
}

#[tokio::test]
async fn insufficient_funds_counting_the_senders_other_pool_txs() {
    let h = Harness::default_config();
    let k = key(100);
    let one = 21_000 * 10 * GWEI + 1;
    h.state.set(k.address(), 0, U256::from(one * 2));
    h.pool.submit(tx(0).sign(&k)).await.unwrap();
    h.pool.submit(tx(1).sign(&k)).await.unwrap();
    let err = refused(&h, tx(2).sign(&k)).await;
    assert_eq!(
        err.to_string(),
        "insufficient funds for gas * price + value"
    );
}

/// `value = 2^256 - gas * fee cap` wraps `gas * fee cap + value` to 0: the cost must be
/// refused as unpayable, from an empty account and from a rich one alike, and never reach
/// the WAL.
#[tokio::test]
async fn cost_overflowing_256_bits_is_refused_not_free() {
    let h = Harness::default_config();
    let gas = 30_000_000u64;
    let fee = 10 * GWEI;
    let wrap = U256::ZERO.wrapping_sub(U256::from(gas) * U256::from(fee));
    for (who, balance) in [(key(200), U256::ZERO), (key(0), eth(1000))] {
        h.state.set(who.address(), 0, balance);
        let err = refused(&h, tx(0).gas(gas).fees(fee, fee).value(wrap).sign(&who)).await;
        assert_eq!(
            err.to_string(),
            "insufficient funds for gas * price + value"
        );
        // One wei less than the wrap point does not overflow, and is still unpayable.
        let err = refused(
            &h,
            tx(0)
                .gas(gas)
                .fees(fee, fee)
                .value(wrap - U256::from(1))
                .sign(&who),
        )
        .await;
        assert_eq!(
            err.to_string(),
            "insufficient funds for gas * price + value"
        );
    }
    assert!(h.wal_hashes().is_empty());
    assert_eq!(h.pool.status().pending, 0);
}

#[tokio::test]
async fn already_known() {
    let h = Harness::default_config();
    let t = tx(0).sign(&key(0));
    h.pool.submit(t.clone()).await.unwrap();
    let err = refused(&h, t).await;
    assert_eq!(err.to_string(), "already known");
    assert!(!err.is_bad_transaction());
}

#[tokio::test]
async fn concurrent_duplicates_one_wins_the_other_is_already_known() {
    let h = Harness::default_config();
    let t = tx(0).sign(&key(0));
    let (a, b) = tokio::join!(h.pool.submit(t.clone()), h.pool.submit(t.clone()));
    let errors: Vec<String> = [a, b]
        .into_iter()
        .filter_map(|r| r.err())
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors, vec!["already known".to_string()]);
    assert_eq!(h.wal_hashes(), vec![t.hash]);
}

#[tokio::test]
async fn account_limit() {
    let h = Harness::new(PoolConfig {
        max_per_sender: 3,
        ..PoolConfig::default()
    });
    for n in 0..3 {
        h.pool.submit(tx(n).sign(&key(0))).await.unwrap();
    }
    let err = refused(&h, tx(3).sign(&key(0))).await;
    assert_eq!(err.to_string(), "account limit exceeded");
    // Replacing one of the three is still allowed.
    h.pool
        .submit(tx(2).fees(20 * GWEI, 2 * GWEI).sign(&key(0)))
        .await
        .unwrap();
}

#[tokio::test]
async fn txpool_is_full() {
    let h = Harness::new(PoolConfig {
        max_txs: 2,
        ..PoolConfig::default()
    });
    h.pool.submit(tx(0).sign(&key(0))).await.unwrap();
    h.pool.submit(tx(0).sign(&key(1))).await.unwrap();
    let err = refused(&h, tx(0).sign(&key(2))).await; // same price: not better
    assert_eq!(err.to_string(), "txpool is full");
    assert!(!err.is_bad_transaction());
}

#[tokio::test]
async fn refused_transactions_never_reach_the_wal() {
    let h = Harness::default_config();
    let _ = h.pool.submit(tx(0).gas(1).sign(&key(0))).await;
    let _ = h.pool.submit(tx(99).sign(&key(0))).await;
    assert!(h.wal_hashes().is_empty());
    assert_eq!(h.pool.wal_stats().groups, 0);
}
