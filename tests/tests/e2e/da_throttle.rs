//! DA throttling against a real L1 (anvil): while the bytes sealed and not yet on L1 pass
//! `[batcher] max_backlog_bytes`, blocks carry at most `throttle_block_bytes` of signed
//! transactions (less the further past); once posting catches up they grow back, and
//! nothing is lost.

use std::{collections::BTreeMap, time::Duration};

use alloy::primitives::{Address, B256, U256};
use eyre::{Result, ensure, eyre};
use ordo_l1::testing::Anvil;
use ordo_tests::*;
use serde_json::json;

use crate::GUARD;

/// Blocks hold at most this many bytes of transactions while throttled: three transfers.
const THROTTLED_BYTES: u64 = 400;

async fn throttled_node(anvil: &Anvil, dir: &std::path::Path) -> Result<TestNode> {
    let room = format!("batcher.throttle_block_bytes={THROTTLED_BYTES}");
    crate::deposits::depositing_node_with(
        anvil,
        dir,
        300,
        &["batcher.max_backlog_bytes=1000", &room],
    )
    .await
}

/// Waits until the node's `ordo_da_throttled` gauge reads `on`.
async fn wait_throttled(node: &TestNode, on: bool) -> Result<()> {
    let want = format!("ordo_da_throttled {}", u8::from(on));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if node.metrics_text().await?.lines().any(|l| l.trim() == want) {
            return Ok(());
        }
        ensure!(tokio::time::Instant::now() < deadline, "never {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Signs `n` transfers from dev account `from` starting at `nonce`, sends them in one
/// JSON-RPC batch (they reach the pool together), and returns their hashes.
async fn wave(node: &TestNode, from: usize, nonce: u64, n: u64) -> Result<Vec<B256>> {
    let signer = dev_signer(from);
    let mut calls = Vec::new();
    let mut hashes = Vec::new();
    for i in 0..n {
        let tx = transfer_1559(
            ordo_primitives::DEV_CHAIN_ID,
            nonce + i,
            Address::repeat_byte(0x5a),
            U256::from(1),
            100 * GWEI,
            GWEI,
        );
        let (raw, hash) = sign_raw(&signer, tx);
        calls.push(("eth_sendRawTransaction", json!([raw])));
        hashes.push(hash);
    }
    let calls: Vec<(&str, serde_json::Value)> = calls;
    for answer in node.rpc().batch(&calls).await? {
        answer.map_err(|e| eyre!("a transfer was refused: {e}"))?;
    }
    Ok(hashes)
}

/// The block of each of `hashes` (waiting for every receipt); each must have succeeded.
async fn blocks_of(node: &TestNode, hashes: &[B256]) -> Result<Vec<u64>> {
    let provider = node.provider(&dev_signer(0));
    let mut blocks = Vec::new();
    for hash in hashes {
        let receipt = wait_receipt(&provider, *hash, crate::RECEIPT).await?;
        ensure!(receipt.status(), "{hash} failed");
        blocks.push(receipt.block_number.unwrap_or_default());
    }
    Ok(blocks)
}

/// How many transactions each block holds.
async fn tx_counts(node: &TestNode, blocks: &[u64]) -> Result<BTreeMap<u64, usize>> {
    let mut counts = BTreeMap::new();
    for &n in blocks {
        if counts.contains_key(&n) {
            continue;
        }
        let block = node
            .rpc()
            .ok("eth_getBlockByNumber", json!([format!("{n:#x}"), false]))
            .await?;
        let txs = block["transactions"].as_array().map_or(0, Vec::len);
        counts.insert(n, txs);
    }
    Ok(counts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_shrink_while_l1_posting_is_behind_and_grow_back_after() -> Result<()> {
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir()?;
    let node = throttled_node(&anvil, dir.path()).await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        // Posting works: the first batch is confirmed and nothing is throttled.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while node.rpc().ok("ordo_getBatch", json!(["0x0"])).await?["status"] != "confirmed" {
            ensure!(tokio::time::Instant::now() < deadline, "no batch confirmed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        wait_throttled(&node, false).await?;

        // L1 stops mining: batches are posted and stay unconfirmed, so the backlog grows.
        anvil.set_automine(false).await;
        let first = wave(&node, 3, 0, 20).await?;
        blocks_of(&node, &first).await?;
        wait_throttled(&node, true).await?;

        // While throttled, no block carries more than the throttled room (three transfers),
        // and less the further the backlog is past the limit (none at twice it).
        let before = node.rpc().block_number().await?;
        let held = wave(&node, 3, 20, 15).await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let during = node.rpc().block_number().await?;
        let counts = tx_counts(&node, &(before + 1..=during).collect::<Vec<_>>()).await?;
        ensure!(
            counts.values().all(|&n| n <= 3),
            "throttled blocks: {counts:?}"
        );

        // L1 mines again: posting catches up, the throttle lifts, the held transactions land
        // and a burst fills a block.
        anvil.set_automine(true).await;
        anvil.mine(1).await;
        wait_throttled(&node, false).await?;
        blocks_of(&node, &held).await?;
        // Their batch may pass the limit again for a moment, until L1 takes it.
        wait_throttled(&node, false).await?;
        let burst = wave(&node, 3, 35, 15).await?;
        let burst_blocks = blocks_of(&node, &burst).await?;
        let counts = tx_counts(&node, &burst_blocks).await?;
        ensure!(
            counts.values().any(|&n| n > 3),
            "blocks after the throttle lifted: {counts:?}"
        );

        // Nothing was lost: all 50 landed, in nonce order.
        let nonce = node
            .rpc()
            .ok(
                "eth_getTransactionCount",
                json!([dev_signer(3).address(), "latest"]),
            )
            .await?;
        ensure!(nonce == json!("0x32"), "nonce {nonce}");
        Ok(())
    })
    .await
}
