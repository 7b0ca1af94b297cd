//! L1 reorgs before and after confirmation, and finality.

use std::time::Duration;

use ordo_l1::testing::{Anvil, AnvilOptions};

use crate::util::{
    MemQueue, assert_each_posted_once, config, inbox_txs, start, wait_first_included, wait_for,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_before_confirmation_reposts() {
    let anvil = Anvil::spawn().await;
    let snapshot = anvil.snapshot().await;
    let batches: [&[u8]; 1] = [b"reorged away once"];
    let queue = MemQueue::new(&batches);
    let run = start(config(&anvil, 3, Duration::from_secs(600)), queue.clone());
    wait_first_included(&anvil, &queue).await;
    let first_block = inbox_txs(&anvil).await[0].block;
    assert!(
        queue.confirmed().is_empty(),
        "1 block deep is not 3 confirmations"
    );

    // Reorg: back to before the inclusion, the tx and its block are gone.
    assert!(anvil.revert(snapshot).await);
    wait_for("re-post included", async || {
        inbox_txs(&anvil).await.len() == 1
    })
    .await;
    let block = inbox_txs(&anvil).await[0].block;
    assert_eq!(block, first_block);

    // Two blocks deep: the poster must see that head and still not confirm.
    anvil.mine(1).await;
    wait_for("poster saw head", async || {
        run.status.get().l1_head == Some(block + 1)
    })
    .await;
    let ticks = run.status.get().ticks;
    wait_for("two more ticks", async || {
        run.status.get().ticks >= ticks + 2
    })
    .await;
    assert!(
        queue.confirmed().is_empty(),
        "2 blocks deep is not 3 confirmations"
    );

    anvil.mine(1).await;
    wait_for("confirmation", async || queue.confirmed().len() == 1).await;
    let status = run.status.get();
    run.stop().await;

    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    let c = &queue.confirmed()[0].1;
    assert_eq!((c.tx_hash, c.l1_block), (txs[0].hash, block));
    assert!(status.reposted >= 1, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_deeper_than_the_confirmations_reposts_a_confirmed_batch() {
    // Finalized = head - 8: a batch 2 blocks deep is confirmed and not yet final.
    let anvil = Anvil::spawn_with(AnvilOptions {
        slots_in_an_epoch: Some(4),
        ..Default::default()
    })
    .await;
    let snapshot = anvil.snapshot().await;
    let batches: [&[u8]; 1] = [b"confirmed, then reorged away"];
    let queue = MemQueue::new(&batches);
    let run = start(config(&anvil, 2, Duration::from_secs(600)), queue.clone());
    wait_first_included(&anvil, &queue).await;
    anvil.mine(1).await;
    wait_for("confirmation", async || queue.confirmed().len() == 1).await;
    let first = queue.confirmed()[0].1.clone();
    assert!(!first.finalized);

    // A reorg as deep as the confirmations: the block holding the batch is gone.
    assert!(anvil.revert(snapshot).await);
    wait_for("the reorg noticed", async || queue.reorged().len() == 1).await;
    wait_for("the batch back on L1", async || {
        inbox_txs(&anvil).await.len() == 1
    })
    .await;
    anvil.mine(1).await;
    wait_for("confirmed again", async || queue.confirmed().len() == 1).await;
    let again = queue.confirmed()[0].1.clone();
    assert_eq!(queue.reorged(), vec![(0, first.clone())]);
    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    assert_eq!(
        txs[0].nonce, first.submission.nonce,
        "sent again under its nonce"
    );
    assert_eq!((again.tx_hash, again.l1_block), (txs[0].hash, txs[0].block));
    assert_ne!(again.l1_block_hash, first.l1_block_hash);

    // Confirmed is not final: nothing is finalized until L1's finalized block reaches it.
    let ticks = run.status.get().ticks;
    wait_for("two more ticks", async || {
        run.status.get().ticks >= ticks + 2
    })
    .await;
    assert!(queue.finalized().is_empty(), "2 blocks deep is not final");
    assert_eq!(run.status.get().unfinalized, 1);
    anvil.mine(8).await;
    wait_for("finality", async || queue.finalized() == vec![0]).await;
    let status = run.status.get();
    run.stop().await;
    assert_eq!(queue.confirmed()[0].1.l1_block_hash, again.l1_block_hash);
    assert_eq!(
        (status.finalized, status.reorged, status.unfinalized),
        (1, 1, 0),
        "{status:?}"
    );
    assert!(status.l1_finalized >= Some(again.l1_block));
    assert_each_posted_once(&inbox_txs(&anvil).await, &batches);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shallow_reorg_that_keeps_the_batch_block_changes_nothing() {
    let anvil = Anvil::spawn_with(AnvilOptions {
        slots_in_an_epoch: Some(4),
        ..Default::default()
    })
    .await;
    let batches: [&[u8]; 1] = [b"stays put"];
    let queue = MemQueue::new(&batches);
    let run = start(config(&anvil, 2, Duration::from_secs(600)), queue.clone());
    wait_first_included(&anvil, &queue).await;
    anvil.mine(1).await;
    wait_for("confirmation", async || queue.confirmed().len() == 1).await;
    // Blocks above the batch's are replaced; its own block stays canonical.
    let snapshot = anvil.snapshot().await;
    anvil.mine(3).await;
    assert!(anvil.revert(snapshot).await);
    anvil.mine(10).await;
    wait_for("finality", async || queue.finalized() == vec![0]).await;
    let status = run.status.get();
    run.stop().await;
    assert!(queue.reorged().is_empty(), "{status:?}");
    assert_eq!(status.reposted, 0);
    assert_each_posted_once(&inbox_txs(&anvil).await, &batches);
}
