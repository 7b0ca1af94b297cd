use std::sync::Arc;

use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use ordo_primitives::{
    Candidate, PooledTx,
    alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope},
};

use super::*;

fn tx(key: &PrivateKeySigner, nonce: u64, tip_gwei: u128) -> Candidate {
    let tx = TxEip1559 {
        chain_id: 1,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: tip_gwei * 1_000_000_000,
        to: TxKind::Call(Address::ZERO),
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    Candidate {
        tx: Arc::new(PooledTx::from_signed(TxEnvelope::from(tx.into_signed(sig))).unwrap()),
        arrival_seq: nonce,
        arrival_ms: 0,
    }
}

fn ctx() -> OrderingContext {
    OrderingContext {
        number: 1,
        timestamp: 1,
        base_fee: 1_000_000_000,
        gas_limit: 30_000_000,
        coinbase: Address::ZERO,
        parent_hash: Default::default(),
    }
}

#[test]
fn priority_fee_orders_by_tip_but_keeps_each_senders_nonces_in_order() {
    let (a, b) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    // a: nonce 0 tips 1, nonce 1 tips 50; b: nonce 0 tips 10.
    let candidates = vec![tx(&a, 0, 1), tx(&a, 1, 50), tx(&b, 0, 10)];
    let order = PriorityFeeOrdering.order(&ctx(), &candidates).unwrap();
    assert_eq!(order, vec![2, 0, 1]);
    check_order(&candidates, &order).unwrap();
}

#[test]
fn equal_tips_keep_arrival_order() {
    let keys: Vec<_> = (0..4).map(|_| PrivateKeySigner::random()).collect();
    let candidates: Vec<_> = keys.iter().map(|k| tx(k, 0, 2)).collect();
    let order = PriorityFeeOrdering.order(&ctx(), &candidates).unwrap();
    assert_eq!(order, vec![0, 1, 2, 3]);
}

#[test]
fn check_order_refuses_bad_answers() {
    let a = PrivateKeySigner::random();
    let candidates = vec![tx(&a, 0, 1), tx(&a, 1, 1)];
    assert_eq!(
        check_order(&candidates, &[0, 5]),
        Err(OrderingError::OutOfRange(5))
    );
    assert_eq!(
        check_order(&candidates, &[0, 0]),
        Err(OrderingError::Duplicate(0))
    );
    assert_eq!(
        check_order(&candidates, &[1, 0]),
        Err(OrderingError::NonceOrder(a.address()))
    );
    assert_eq!(check_order(&candidates, &[0]), Ok(()));
}
