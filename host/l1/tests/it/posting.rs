//! Posting in order: confirmations, the in-flight window on consecutive nonces, fee bumps.

use std::time::Duration;

use alloy::{primitives::Address, providers::Provider};
use ordo_l1::testing::{Anvil, AnvilOptions};

use crate::util::{MemQueue, assert_each_posted_once, config, inbox_txs, start, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_keys_are_anvils_funded_accounts() {
    let anvil = Anvil::spawn().await;
    let p = anvil.provider();
    let accounts: Vec<Address> = p.get_accounts().await.unwrap();
    for (i, a) in accounts.iter().take(10).enumerate() {
        assert_eq!(Anvil::dev_key(i).address(), *a);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_three_batches_in_order_with_confirmations() {
    let anvil = Anvil::spawn_with(AnvilOptions {
        block_time: Some(1),
        ..Default::default()
    })
    .await;
    let batches: [&[u8]; 3] = [b"batch zero", &[1u8; 300], b"\x00\x02two"];
    let queue = MemQueue::new(&batches);
    let run = start(config(&anvil, 2, Duration::from_secs(60)), queue.clone());
    wait_for("3 confirmations", async || queue.confirmed().len() == 3).await;
    let status = run.status.get();
    run.stop().await;

    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    let head = anvil.block_number().await;
    for ((i, c), tx) in queue.confirmed().iter().zip(&txs) {
        assert_eq!(c.tx_hash, tx.hash, "batch {i}");
        assert_eq!(c.l1_block, tx.block);
        assert!(head + 1 >= c.l1_block + 2);
    }
    // Strict order: batch i+1 is only submitted after batch i is confirmed, so blocks grow.
    assert!(
        txs.windows(2)
            .all(|w| w[0].block < w[1].block && w[0].nonce + 1 == w[1].nonce)
    );
    assert_eq!(
        (
            status.posted,
            status.confirmed,
            status.bumped,
            status.reposted
        ),
        (3, 3, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_tx_is_replaced_with_bumped_fees() {
    let anvil = Anvil::spawn().await;
    anvil.set_automine(false).await;
    let batches: [&[u8]; 1] = [b"needs a bump"];
    let queue = MemQueue::new(&batches);
    let run = start(config(&anvil, 1, Duration::from_millis(500)), queue.clone());
    wait_for("a replacement", async || queue.submissions().len() >= 2).await;
    anvil.mine(1).await;
    wait_for("confirmation", async || queue.confirmed().len() == 1).await;
    let status = run.status.get();
    run.stop().await;

    let subs = queue.submissions();
    let first = &subs[0].1;
    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    let mined = &txs[0];
    assert_eq!(mined.nonce, first.nonce, "replacement keeps the nonce");
    assert_ne!(
        mined.hash, first.tx_hash,
        "the replacement was mined, not the original"
    );
    assert!(mined.max_fee * 100 >= first.max_fee_per_gas * 110);
    assert!(mined.tip * 100 >= first.max_priority_fee_per_gas * 110);
    let mined_sub = subs
        .iter()
        .find(|(_, s)| s.tx_hash == mined.hash)
        .expect("mined tx was recorded");
    assert_eq!(mined_sub.1.max_fee_per_gas, mined.max_fee);
    assert!(status.bumped >= 1);
    // Exactly one tx mined for the nonce (anvil: one per nonce anyway, but nothing else snuck in).
    let nonce_now = anvil
        .provider()
        .get_transaction_count(Anvil::dev_key(0).address())
        .await
        .unwrap();
    assert_eq!(nonce_now, first.nonce + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_batches_in_flight_on_consecutive_nonces() {
    let anvil = Anvil::spawn().await;
    anvil.set_automine(false).await;
    let batches: [&[u8]; 4] = [b"zero", b"one", b"two", b"three"];
    let queue = MemQueue::new(&batches);
    let mut c = config(&anvil, 2, Duration::from_secs(60));
    c.max_in_flight = 3;
    let run = start(c, queue.clone());
    wait_for("three batches out", async || queue.submissions().len() == 3).await;
    // The window is full until one confirms; give the poster a few more looks.
    let ticks = run.status.get().ticks;
    wait_for("more ticks", async || run.status.get().ticks >= ticks + 3).await;
    let subs = queue.submissions();
    assert_eq!(subs.len(), 3, "at most max_in_flight batches out: {subs:?}");
    let nonces: Vec<(u64, u64)> = subs.iter().map(|(i, s)| (*i, s.nonce)).collect();
    assert_eq!(nonces, vec![(0, 0), (1, 1), (2, 2)]);
    assert_eq!(run.status.get().in_flight.len(), 3);
    // One block mines all three; two confirm them; the fourth follows.
    anvil.set_automine(true).await;
    anvil.mine(2).await;
    wait_for("4 confirmations", async || {
        anvil.mine(1).await;
        queue.confirmed().len() == 4
    })
    .await;
    run.stop().await;
    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    assert_eq!(txs[0].block, txs[2].block, "the first three share a block");
}
