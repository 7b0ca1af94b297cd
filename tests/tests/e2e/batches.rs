//! Batches without an L1: every sealed block lands in exactly one batch, compressed by the
//! active compression plugin (recorded by code hash), attested by the prover hook, and
//! decodable back into the blocks' raw transactions; `ordo_txStatus` follows a transaction
//! from the pool into its batch; a restart continues the sequence without gaps.

use std::time::Duration;

use alloy::primitives::{B256, U256};
use eyre::{Result, bail, ensure, eyre};
use ordo_primitives::{BatchFrame, BatchPayload};
use ordo_tests::*;
use serde_json::{Value, json};

use crate::{GUARD, RECEIPT};

fn opts() -> NodeOpts {
    NodeOpts {
        config_toml: Some("[batcher]\nmax_delay_ms = 600\n".into()),
        ..NodeOpts::default()
    }
}

async fn tx_status(rpc: &Rpc, hash: B256) -> Result<Value> {
    rpc.ok("ordo_txStatus", json!([hash])).await
}

/// Polls `ordo_txStatus` until it says `want`.
async fn wait_status(rpc: &Rpc, hash: B256, want: &str) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + RECEIPT;
    loop {
        let status = tx_status(rpc, hash).await?;
        if status["status"] == want {
            return Ok(status);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{hash} stuck at {status}, wanted {want}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn batch(rpc: &Rpc, index: u64) -> Result<Value> {
    rpc.ok("ordo_getBatch", json!([format!("{index:#x}")]))
        .await
}

fn quantity(v: &Value, field: &str) -> Result<u64> {
    parse_quantity(&v[field]).map_err(|e| eyre!("{field}: {e} in {v}"))
}

/// Every stored batch from 0 on, checking they tile the chain from block 1 without gaps.
async fn all_batches(rpc: &Rpc) -> Result<Vec<Value>> {
    let mut out: Vec<Value> = Vec::new();
    loop {
        let b = batch(rpc, out.len() as u64).await?;
        if b.is_null() {
            return Ok(out);
        }
        let want_first = match out.last() {
            Some(prev) => quantity(prev, "lastBlock")? + 1,
            None => 1,
        };
        ensure!(
            quantity(&b, "firstBlock")? == want_first,
            "gap or overlap at {b}"
        );
        out.push(b);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_become_compressed_attested_batches_and_tx_status_follows() -> Result<()> {
    let mut node = TestNode::start(opts()).await?;
    let guard = node.logs();
    guard
        .guard(GUARD, async {
            let rpc = node.rpc();
            let alice = dev_signer(0);
            let (raw, hash) = sign_raw(
                &alice,
                transfer_1559(
                    DEV_CHAIN_ID,
                    0,
                    random_address(),
                    U256::from(1),
                    100 * GWEI,
                    GWEI,
                ),
            );
            ensure!(
                tx_status(&rpc, hash).await?.is_null(),
                "unknown tx has a status"
            );
            rpc.send_raw(&raw).await?.map_err(|e| eyre!("{e}"))?;
            let status = wait_status(&rpc, hash, "batched").await?;
            let block = quantity(&status, "l2Block")?;
            let index = quantity(&status, "batchIndex")?;
            ensure!(status["l1TxHash"].is_null(), "{status}");

            let b = batch(&rpc, index).await?;
            ensure!(b["status"] == "built", "no L1 configured: {b}");
            ensure!(quantity(&b, "firstBlock")? <= block && block <= quantity(&b, "lastBlock")?);
            // The active compression plugin compressed it, and says so by code hash.
            let plugins = node.admin()?.ok("admin_listPlugins", json!([])).await?;
            let codec = &plugins["active"]["compression"];
            ensure!(b["codecHash"] == codec["codeHash"], "{b} vs {codec}");
            ensure!(b["codecId"] == 1, "brotli is codec 1: {b}");
            ensure!(
                b["proverHash"] == plugins["active"]["prover"]["codeHash"],
                "{b}"
            );
            ensure!(
                b["attestation"].as_str().is_some_and(|a| a.len() > 2),
                "{b}"
            );

            // The posted frame decompresses (with the same shipped codec) into the blocks,
            // raw transactions included.
            let frame_hex = b["frame"].as_str().ok_or_else(|| eyre!("no frame"))?;
            let frame = BatchFrame::decode(&alloy::primitives::hex::decode(frame_hex)?)?;
            let brotli = ordo_plugin_host::shipped::find("ordo-plugin-brotli")
                .ok_or_else(|| eyre!("brotli not shipped"))?;
            let manager = ordo_plugin_host::PluginManager::open(Default::default(), None)?;
            let info = manager.load(brotli.kind, brotli.bytes, "")?;
            manager.activate(&info.id)?;
            let codec = manager.compressor().ok_or_else(|| eyre!("no codec"))?;
            let payload = BatchPayload::decode(&codec.decompress(&frame.data)?)?;
            let ours = payload
                .blocks
                .iter()
                .find(|blk| blk.number == block)
                .ok_or_else(|| eyre!("block {block} not in its batch"))?;
            ensure!(ours.txs.contains(&raw), "raw tx missing from block {block}");
            let raw_size = b["rawSize"].as_u64().ok_or_else(|| eyre!("rawSize: {b}"))?;
            ensure!(raw_size == payload.encode().len() as u64, "{b}");

            let before = all_batches(&rpc).await?;
            ensure!(!before.is_empty());
            Ok(())
        })
        .await?;

    // A restart resumes after the last stored batch: no gap, no block batched twice.
    let last_before = {
        let rpc = node.rpc();
        all_batches(&rpc).await?.len()
    };
    node.restart().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let deadline = tokio::time::Instant::now() + RECEIPT;
            loop {
                let batches = all_batches(&rpc).await?;
                if batches.len() > last_before + 1 {
                    return Ok(());
                }
                if tokio::time::Instant::now() > deadline {
                    bail!("no new batches after the restart");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await
}
