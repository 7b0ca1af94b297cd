//! The L1 node restarting (gracefully or killed) with batches in flight.

use std::time::Duration;

use ordo_l1::testing::{Anvil, AnvilOptions};

use crate::util::{
    MemQueue, assert_each_posted_once, config, inbox_txs, start, wait_first_included, wait_for,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l1_restart_while_in_flight_posts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut anvil = Anvil::spawn_with(AnvilOptions {
        state: Some(dir.path().join("state.json")),
        ..Default::default()
    })
    .await;
    let batches: [&[u8]; 3] = [b"in flight across a restart", b"after", b"and after"];
    let queue = MemQueue::new(&batches);
    let run = start(config(&anvil, 2, Duration::from_secs(600)), queue.clone());
    wait_first_included(&anvil, &queue).await;
    assert!(queue.confirmed().is_empty());
    anvil.restart().await;

    // Automine only mines on transactions; the test provides the confirmation blocks.
    let mut mined = 0;
    while queue.confirmed().len() < 3 {
        assert!(mined < 400, "batches not confirmed: {:?}", run.status.get());
        anvil.mine(1).await;
        mined += 1;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    run.stop().await;

    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l1_restart_losing_the_pending_tx_reposts_same_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let mut anvil = Anvil::spawn_with(AnvilOptions {
        state: Some(dir.path().join("state.json")),
        ..Default::default()
    })
    .await;
    anvil.set_automine(false).await;
    let batches: [&[u8]; 2] = [b"pending across a restart", b"next"];
    let queue = MemQueue::new(&batches);
    let run = start(config(&anvil, 1, Duration::from_secs(600)), queue.clone());
    wait_for("first submission", async || !queue.submissions().is_empty()).await;
    let first = queue.submissions()[0].1.clone();

    // The restarted node has no mempool (and automines again): the poster must notice its tx
    // is gone and send it again under the same nonce.
    anvil.restart().await;
    wait_for("both batches confirmed", async || {
        queue.confirmed().len() == 2
    })
    .await;
    let status = run.status.get();
    run.stop().await;

    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    assert_eq!(txs[0].nonce, first.nonce, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l1_killed_with_a_batch_in_flight_and_restarted_on_its_saved_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut anvil = Anvil::spawn_with(AnvilOptions {
        state: Some(dir.path().join("state.json")),
        state_interval: Some(1),
        ..Default::default()
    })
    .await;
    let batches: [&[u8]; 2] = [b"mined and saved", b"in flight at the kill"];
    let queue = MemQueue::new(&batches[..1]);
    let run = start(config(&anvil, 1, Duration::from_secs(600)), queue.clone());
    wait_for("batch 0 confirmed", async || queue.confirmed().len() == 1).await;
    run.stop().await;
    // Long enough for a periodic dump to hold batch 0's block.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    anvil.set_automine(false).await;
    let queue = {
        let q = MemQueue::new(&batches);
        let mut s = q.state.lock();
        s.confirmed = queue.confirmed();
        s.last = queue.state.lock().last.clone();
        drop(s);
        q
    };
    let run = start(config(&anvil, 1, Duration::from_secs(600)), queue.clone());
    wait_for("batch 1 broadcast", async || run.status.get().posted == 1).await;
    let in_flight = queue.submissions().last().unwrap().1.clone();
    // SIGKILL: no final dump and no pool; the restarted anvil automines again.
    anvil.kill_and_restart().await;
    wait_for("batch 1 confirmed", async || queue.confirmed().len() == 2).await;
    let status = run.status.get();
    run.stop().await;

    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    assert_eq!(
        txs[1].nonce, in_flight.nonce,
        "re-sent under its nonce: {status:?}"
    );
    assert_eq!(txs[1].hash, in_flight.tx_hash, "the very same transaction");
    assert!(status.reposted >= 1, "{status:?}");
}
