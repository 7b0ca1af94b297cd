//! Another holder of the poster key taking its nonce: re-post under a fresh nonce.

use std::{sync::atomic::Ordering, time::Duration};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    primitives::{Bytes, TxKind, U256, address},
    providers::Provider,
    signers::SignerSync,
};
use ordo_l1::testing::Anvil;

use crate::util::{MemQueue, assert_each_posted_once, config, inbox_txs, start, wait_for};

fn foreign_tx(chain_id: u64, nonce: u64, max_fee: u128) -> Bytes {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: max_fee,
        to: TxKind::Call(address!("0x000000000000000000000000000000000000dead")),
        value: U256::from(1),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = Anvil::dev_key(0)
        .sign_hash_sync(&tx.signature_hash())
        .unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_tx_taking_the_nonce_leads_to_a_repost() {
    let anvil = Anvil::spawn().await;
    anvil.set_automine(false).await;
    let batches: [&[u8]; 2] = [b"first, displaced", b"second"];
    let queue = MemQueue::new(&batches);
    let run = start(config(&anvil, 1, Duration::from_secs(600)), queue.clone());
    wait_for("first submission", async || !queue.submissions().is_empty()).await;
    let first = queue.submissions()[0].1.clone();

    // Another holder of the key replaces the poster's tx in the pool and gets it mined.
    let p = anvil.provider();
    let chain_id = p.get_chain_id().await.unwrap();
    let _pending = p
        .send_raw_transaction(&foreign_tx(
            chain_id,
            first.nonce,
            first.max_fee_per_gas * 3,
        ))
        .await
        .unwrap();
    anvil.mine(1).await;
    anvil.set_automine(true).await;

    wait_for("both batches confirmed", async || {
        queue.confirmed().len() == 2
    })
    .await;
    let status = run.status.get();
    run.stop().await;

    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    assert!(txs[0].nonce > first.nonce, "re-posted under a fresh nonce");
    assert!(status.reposted >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_tx_between_batches_moves_the_next_nonce() {
    let anvil = Anvil::spawn().await;
    let batches: [&[u8]; 2] = [b"one", b"two, after a foreign tx"];
    let queue = MemQueue::new(&batches);
    queue.available.store(1, Ordering::SeqCst);
    let run = start(config(&anvil, 1, Duration::from_secs(600)), queue.clone());
    wait_for("first confirmed", async || queue.confirmed().len() == 1).await;

    // Another sender of the key uses the nonce the poster would take next.
    let p = anvil.provider();
    let sender = Anvil::dev_key(0).address();
    let nonce = p.get_transaction_count(sender).await.unwrap();
    let chain_id = p.get_chain_id().await.unwrap();
    let _pending = p
        .send_raw_transaction(&foreign_tx(chain_id, nonce, 10_000_000_000))
        .await
        .unwrap();
    // Automine answers before the block is in; wait for the nonce to move.
    wait_for("foreign tx mined", async || {
        p.get_transaction_count(sender).await.unwrap() == nonce + 1
    })
    .await;

    queue.available.store(2, Ordering::SeqCst);
    wait_for("second confirmed", async || queue.confirmed().len() == 2).await;
    run.stop().await;

    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    assert_eq!(txs[1].nonce, nonce + 1);
}
