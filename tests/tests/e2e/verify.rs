//! `ordo verify` rebuilds the chain from batches alone: transfers and contract calls across
//! a compression plugin swap (batches of two codecs) verify block by block against the
//! node; a tampered batch is refused with the batch and the block it breaks at.

use std::time::Duration;

use alloy::{
    network::TransactionBuilder,
    primitives::{B256, Bytes, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use eyre::{Result, bail, ensure, eyre};
use ordo_derive::{DeriveConfig, Deriver, FrameSource};
use ordo_primitives::{BatchFrame, ChainSpec, DEV_CHAIN_ID};
use ordo_tests::*;
use serde_json::{Value, json};

use crate::{GUARD, RECEIPT};

fn opts() -> NodeOpts {
    NodeOpts {
        config_toml: Some("[batcher]\nmax_delay_ms = 600\n".into()),
        ..NodeOpts::default()
    }
}

async fn wait_batched(rpc: &Rpc, hash: B256) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + RECEIPT;
    loop {
        let status = rpc.ok("ordo_txStatus", json!([hash])).await?;
        if status["status"] == "batched" {
            return Ok(status);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{hash} not batched: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_rebuilt_from_its_batches_matches_across_a_codec_swap() -> Result<()> {
    let node = TestNode::start(opts()).await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let alice = dev_signer(0);
            let provider = node.provider(&alice);
            let mut hashes = Vec::new();
            for _ in 0..3 {
                let tx = TransactionRequest::default()
                    .with_to(random_address())
                    .with_value(U256::from(7));
                hashes.push(*provider.send_transaction(tx).await?.tx_hash());
            }
            let deploy = TransactionRequest::default().with_deploy_code(store_initcode());
            let receipt = provider
                .send_transaction(deploy)
                .await?
                .get_receipt()
                .await?;
            let contract = receipt
                .contract_address
                .ok_or_else(|| eyre!("no contract"))?;
            let mut call = vec![0u8; 32];
            call[31] = 99;
            let set = TransactionRequest::default()
                .with_to(contract)
                .with_input(Bytes::from(call));
            hashes.push(*provider.send_transaction(set).await?.tx_hash());
            for h in &hashes {
                wait_batched(&rpc, *h).await?;
            }

            // Swap the codec: later batches use lz4.
            activate_named(&node.admin()?, "lz4").await?;
            let tx = TransactionRequest::default()
                .with_to(random_address())
                .with_value(U256::from(9));
            let late = *provider.send_transaction(tx).await?.tx_hash();
            let status = wait_batched(&rpc, late).await?;
            let last = parse_quantity(&status["batchIndex"])?;
            let mut codecs = std::collections::BTreeSet::new();
            for i in 0..=last {
                let b = rpc.ok("ordo_getBatch", json!([format!("{i:#x}")])).await?;
                codecs.insert(b["codecId"].as_u64().unwrap_or(0));
            }
            ensure!(
                codecs.contains(&1) && codecs.contains(&2),
                "codecs used: {codecs:?}"
            );

            // The real command, as an operator runs it.
            let url = node.http_url();
            ordo_verify_ok(&["--dev", "--batches-rpc", &url, "--compare-rpc", &url])?;

            // Tampering: the same frames with one changed are refused, naming the batch.
            let frames = FrameSource::Node {
                rpc: node.http_url(),
            }
            .frames()
            .await?;
            let k = frames.len() - 1;
            let dir = tempfile::tempdir()?;
            let codecs = ordo_plugin_host::open_codecs(None)?;
            let config = DeriveConfig::new(dir.path().join("a"), ChainSpec::dev(DEV_CHAIN_ID));
            let mut deriver = Deriver::open(&config, codecs.clone())?;
            for f in &frames[..k] {
                deriver.apply_frame(f)?;
            }
            let mut frame = BatchFrame::decode(&frames[k])?;
            frame.header.state_root = B256::repeat_byte(0xbb);
            let err = deriver
                .apply_frame(&frame.encode())
                .unwrap_err()
                .to_string();
            ensure!(
                err.contains(&format!("batch {k}")) && err.contains("state root"),
                "{err}"
            );

            let config = DeriveConfig::new(dir.path().join("b"), ChainSpec::dev(DEV_CHAIN_ID));
            let mut deriver = Deriver::open(&config, codecs)?;
            let mut flipped = BatchFrame::decode(&frames[0])?;
            let mut data = flipped.data.to_vec();
            let mid = data.len() / 2;
            data[mid] ^= 0x55;
            flipped.data = data.into();
            let err = deriver
                .apply_frame(&flipped.encode())
                .unwrap_err()
                .to_string();
            ensure!(err.contains("batch 0"), "{err}");
            Ok(())
        })
        .await
}
