//! The durable submission record: a restarted poster re-checks it; a failed or slow write.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use alloy::{primitives::B256, providers::Provider};
use ordo_l1::testing::Anvil;
use tokio::sync::oneshot;

use crate::util::{Hold, MemQueue, assert_each_posted_once, config, inbox_txs, start, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_poster_rechecks_the_recorded_submission() {
    let anvil = Anvil::spawn().await;
    anvil.set_automine(false).await;
    let batches: [&[u8]; 1] = [b"recorded before the crash"];
    let queue = MemQueue::new(&batches);
    let first = start(config(&anvil, 1, Duration::from_secs(600)), queue.clone());
    wait_for("submission", async || !queue.submissions().is_empty()).await;
    first.stop().await;

    let second = start(config(&anvil, 1, Duration::from_secs(600)), queue.clone());
    anvil.mine(1).await;
    wait_for("confirmation", async || queue.confirmed().len() == 1).await;
    let status = second.status.get();
    second.stop().await;

    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    assert_eq!(txs[0].hash, queue.submissions()[0].1.tx_hash);
    assert_eq!((status.posted, status.reposted, status.bumped), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_poster_recognises_a_mined_tx_it_had_replaced() {
    let anvil = Anvil::spawn().await;
    let batches: [&[u8]; 1] = [b"mined before the replacement"];
    let queue = MemQueue::new(&batches);
    let run = start(config(&anvil, 3, Duration::from_secs(60)), queue.clone());
    wait_for("submission", async || run.status.get().posted == 1).await;
    run.stop().await;
    let mined = inbox_txs(&anvil).await[0].clone();
    // As if the poster had replaced the tx just before a crash, and the original won: the
    // record names a replacement L1 never saw, and the original only in `replaced`.
    {
        let mut s = queue.state.lock();
        let rec = s.last.get_mut(&0).unwrap();
        rec.tx_hash = B256::repeat_byte(0xee);
        rec.replaced = vec![mined.hash];
    }
    let run = start(config(&anvil, 3, Duration::from_secs(60)), queue.clone());
    anvil.mine(3).await;
    wait_for("confirmation", async || queue.confirmed().len() == 1).await;
    let status = run.status.get();
    run.stop().await;
    assert_eq!(queue.confirmed()[0].1.tx_hash, mined.hash);
    assert_eq!((status.posted, status.reposted), (0, 0), "{status:?}");
    assert_eq!(inbox_txs(&anvil).await.len(), 1, "nothing posted twice");
    let last = queue.submissions().last().unwrap().1.clone();
    assert_eq!(last.tx_hash, mined.hash, "the record follows the mined tx");
    assert_eq!(last.max_fee_per_gas, mined.max_fee);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_that_cannot_be_recorded_is_never_broadcast() {
    let anvil = Anvil::spawn().await;
    let batches: [&[u8]; 1] = [b"recorded before it is broadcast"];
    let queue = MemQueue::new(&batches);
    queue.fail_submits.store(2, Ordering::SeqCst);
    let run = start(config(&anvil, 1, Duration::from_secs(600)), queue.clone());
    wait_for("two failed writes", async || {
        queue.failed_submits.load(Ordering::SeqCst) == 2
    })
    .await;
    // A crash right after: the restarted poster knows only what was recorded.
    run.stop().await;
    let run = start(config(&anvil, 1, Duration::from_secs(600)), queue.clone());
    wait_for("confirmation", async || queue.confirmed().len() == 1).await;
    run.stop().await;

    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    assert_eq!(txs[0].hash, queue.submissions()[0].1.tx_hash);
    let sent = anvil
        .provider()
        .get_transaction_count(Anvil::dev_key(0).address())
        .await
        .unwrap();
    assert_eq!(sent, 1, "nothing but the recorded tx left the poster");
}

#[tokio::test(flavor = "current_thread")]
async fn a_slow_record_write_does_not_block_the_async_runtime() {
    let anvil = Anvil::spawn().await;
    let batches: [&[u8]; 1] = [b"written off the runtime"];
    let queue = MemQueue::new(&batches);
    let (entered_tx, entered) = oneshot::channel();
    let (go, go_rx) = std::sync::mpsc::channel();
    let released = Arc::new(AtomicBool::new(false));
    *queue.hold_submit.lock() = Some(Hold {
        entered: entered_tx,
        go: go_rx,
        released: released.clone(),
    });
    // This test's one thread is the poster's runtime: the write can only be released by a
    // task on it, which runs only if the write does not hold the thread.
    let releaser = tokio::spawn(async move {
        if entered.await.is_ok() {
            let _ = go.send(());
        }
    });
    let run = start(config(&anvil, 1, Duration::from_secs(600)), queue.clone());
    wait_for("confirmation", async || queue.confirmed().len() == 1).await;
    run.stop().await;
    releaser.await.unwrap();
    assert!(
        released.load(Ordering::SeqCst),
        "the record write held the async runtime's thread"
    );
    assert_each_posted_once(&inbox_txs(&anvil).await, &batches);
}
