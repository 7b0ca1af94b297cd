//! Blob (EIP-4844) posting: read back through the beacon API, fee bumps, auto mode.

use std::time::Duration;

use ordo_l1::{BeaconClient, BlobBlock, DaMode, L1Config, decode_blobs, testing::Anvil};
use serde_json::json;

use crate::util::{InboxTx, MemQueue, config, inbox_txs, q, start, wait_for};

/// What the beacon API serves for a blob inbox tx, decoded back into the posted bytes.
async fn bytes_from_beacon(anvil: &Anvil, tx: &InboxTx) -> Vec<u8> {
    let block = anvil
        .rpc(
            "eth_getBlockByNumber",
            json!([format!("0x{:x}", tx.block), false]),
        )
        .await
        .unwrap();
    let mut beacon = BeaconClient::new(anvil.url());
    let blobs = beacon
        .blobs(
            BlobBlock {
                number: tx.block,
                hash: block["hash"].as_str().unwrap().parse().unwrap(),
                timestamp: q(&block["timestamp"]) as u64,
            },
            &tx.blob_hashes,
        )
        .await
        .unwrap();
    decode_blobs(&blobs).unwrap()
}

fn blob_config(anvil: &Anvil, resubmit_after: Duration) -> L1Config {
    let mut c = config(anvil, 1, resubmit_after);
    c.da = DaMode::Blobs;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_batches_as_blobs_that_the_beacon_api_serves_back() {
    let anvil = Anvil::spawn().await;
    // The second batch needs two blobs (one holds 126,945 bytes).
    let big: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
    let batches: [&[u8]; 2] = [b"blob batch zero", &big];
    let queue = MemQueue::new(&batches);
    let run = start(blob_config(&anvil, Duration::from_secs(60)), queue.clone());
    wait_for("2 confirmations", async || queue.confirmed().len() == 2).await;
    let status = run.status.get();
    run.stop().await;
    assert_eq!((status.posted, status.posted_blobs), (2, 2));

    let txs = inbox_txs(&anvil).await;
    assert_eq!(txs.len(), 2, "each batch posted once: {txs:?}");
    for ((tx, batch), (i, c)) in txs.iter().zip(batches).zip(queue.confirmed()) {
        assert_eq!(tx.kind, 3, "batch {i} is a blob tx");
        assert!(tx.input.is_empty(), "blob txs carry no calldata");
        assert_eq!(c.tx_hash, tx.hash);
        assert!(c.blobs);
        assert_eq!(bytes_from_beacon(&anvil, tx).await, batch, "batch {i}");
    }
    assert_eq!(txs[0].blob_hashes.len(), 1);
    assert_eq!(txs[1].blob_hashes.len(), 2);
    let subs = queue.submissions();
    assert!(subs.iter().all(|(_, s)| s.max_fee_per_blob_gas.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_tx_replacement_doubles_every_fee() {
    let anvil = Anvil::spawn().await;
    anvil.set_automine(false).await;
    let batches: [&[u8]; 1] = [b"a blob batch that needs a bump"];
    let queue = MemQueue::new(&batches);
    let run = start(
        blob_config(&anvil, Duration::from_millis(500)),
        queue.clone(),
    );
    // Broadcast, not only recorded (the record is written ahead of the broadcast).
    wait_for("a replacement", async || run.status.get().bumped >= 1).await;
    anvil.mine(1).await;
    wait_for("confirmation", async || queue.confirmed().len() == 1).await;
    let status = run.status.get();
    run.stop().await;

    let subs = queue.submissions();
    let (a, b) = (&subs[0].1, &subs[1].1);
    assert_eq!(a.nonce, b.nonce, "a replacement keeps the nonce");
    assert!(b.max_fee_per_gas >= 2 * a.max_fee_per_gas, "{a:?} -> {b:?}");
    assert!(b.max_priority_fee_per_gas >= 2 * a.max_priority_fee_per_gas);
    assert!(b.max_fee_per_blob_gas.unwrap() >= 2 * a.max_fee_per_blob_gas.unwrap());
    assert_eq!(b.replaced, vec![a.tx_hash], "the replaced tx is remembered");
    assert!(status.bumped >= 1);

    let txs = inbox_txs(&anvil).await;
    assert_eq!(txs.len(), 1, "one tx per batch on L1: {txs:?}");
    let mined = &txs[0];
    assert_eq!(mined.kind, 3);
    let last = &subs.last().unwrap().1;
    assert_eq!(mined.hash, last.tx_hash, "the latest replacement is mined");
    assert_eq!(mined.max_blob_fee, last.max_fee_per_blob_gas);
    assert_eq!(bytes_from_beacon(&anvil, mined).await, batches[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_mode_posts_blobs_while_blob_gas_is_cheap() {
    let anvil = Anvil::spawn().await;
    let batch = vec![9u8; 20_000];
    let batches: [&[u8]; 1] = [&batch];
    let queue = MemQueue::new(&batches);
    let mut c = config(&anvil, 1, Duration::from_secs(60));
    c.da = DaMode::Auto;
    let run = start(c, queue.clone());
    wait_for("confirmation", async || queue.confirmed().len() == 1).await;
    run.stop().await;
    // A fresh anvil's blob base fee is 1 wei: 20 KB of calldata (~800k gas) costs far more.
    let txs = inbox_txs(&anvil).await;
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].kind, 3);
    assert_eq!(bytes_from_beacon(&anvil, &txs[0]).await, batch);
}
