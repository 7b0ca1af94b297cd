//! Pipelined block production as readers see it: block N is stored while block N+1 already
//! executes on it. Under load with 20 ms blocks, a reader must never see an acknowledged
//! transaction vanish (it is in the pool, in the block being stored, or in a stored block),
//! a receipt or block above `eth_blockNumber`, or `latest` state ahead of the head.

use std::sync::Arc;

use alloy::primitives::B256;
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::{Value, json};

use crate::GUARD;

const SENDERS: usize = 4;
const PER_SENDER: u64 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_a_block_before_it_is_stored_nor_lose_a_transaction() -> Result<()> {
    let node = TestNode::start(NodeOpts {
        block_time_ms: 20,
        ..NodeOpts::default()
    })
    .await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let rpc = node.rpc();
        let mut batches = Vec::new();
        for a in 0..SENDERS {
            let s = dev_signer(a);
            let n0 = parse_quantity(
                &rpc.ok("eth_getTransactionCount", json!([s.address(), "pending"]))
                    .await?,
            )?;
            let txs = transfers_to_fresh_addresses(&s, n0, PER_SENDER, 50 * GWEI);
            batches.push((s.address(), txs));
        }
        let senders: Arc<Vec<_>> = Arc::new(batches.iter().map(|(a, _)| *a).collect());

        // Each sender sends its nonces in order; a watcher per sender follows each hash it
        // acknowledged until its receipt, while the chain moves on.
        let mut watchers = Vec::new();
        for (_, txs) in batches {
            let (acked, mut to_watch) = tokio::sync::mpsc::unbounded_channel();
            let send_rpc = rpc.clone();
            watchers.push(tokio::spawn(async move {
                for (raw, hash) in txs {
                    let got = send_rpc
                        .send_raw(&raw)
                        .await?
                        .map_err(|e| eyre!("send: {e}"))?;
                    ensure!(got == hash, "hash {got} != {hash}");
                    let _ = acked.send(hash);
                }
                Ok::<_, eyre::Report>(())
            }));
            let rpc = rpc.clone();
            watchers.push(tokio::spawn(async move {
                while let Some(hash) = to_watch.recv().await {
                    watch(&rpc, hash).await?;
                }
                Ok(())
            }));
        }
        // Meanwhile: `latest` state is the state of `eth_blockNumber`'s block.
        let mut compared = 0;
        while !watchers.iter().all(|w| w.is_finished()) {
            let before = parse_quantity(&rpc.ok("eth_blockNumber", json!([])).await?)?;
            let mut latest = Vec::new();
            for a in senders.iter() {
                latest.push(
                    rpc.ok("eth_getTransactionCount", json!([a, "latest"]))
                        .await?,
                );
            }
            let after = parse_quantity(&rpc.ok("eth_blockNumber", json!([])).await?)?;
            if before == after {
                for (a, latest) in senders.iter().zip(&latest) {
                    let at = rpc
                        .ok(
                            "eth_getTransactionCount",
                            json!([a, format!("0x{before:x}")]),
                        )
                        .await?;
                    ensure!(
                        *latest == at,
                        "nonce of {a} at latest {latest} but {at} at the head {before}"
                    );
                }
                compared += 1;
            }
        }
        for w in watchers {
            w.await??;
        }
        ensure!(compared > 0, "latest state never compared with the head's");
        Ok(())
    })
    .await
}

/// Polls one acknowledged transaction until its receipt: it is always found, and its
/// receipt's block is never above the head.
async fn watch(rpc: &Rpc, hash: B256) -> Result<()> {
    loop {
        let tx = rpc.ok("eth_getTransactionByHash", json!([hash])).await?;
        ensure!(!tx.is_null(), "acknowledged {hash} not found");
        let receipt = rpc.ok("eth_getTransactionReceipt", json!([hash])).await?;
        if receipt.is_null() {
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            continue;
        }
        let head = parse_quantity(&rpc.ok("eth_blockNumber", json!([])).await?)?;
        let number = parse_quantity(&receipt["blockNumber"])?;
        ensure!(
            number <= head,
            "receipt of {hash} in block {number} above the head {head}"
        );
        let block = rpc
            .ok(
                "eth_getBlockByNumber",
                json!([receipt["blockNumber"], false]),
            )
            .await?;
        let listed = block["transactions"]
            .as_array()
            .is_some_and(|txs| txs.iter().any(|t| t == &Value::String(hash.to_string())));
        ensure!(listed, "block {number} does not list {hash}");
        let by_hash = rpc
            .ok("eth_getBlockByHash", json!([receipt["blockHash"], false]))
            .await?;
        ensure!(!by_hash.is_null(), "block {number} not found by its hash");
        return Ok(());
    }
}
