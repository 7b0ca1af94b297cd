//! Batches to a real L1 (anvil) and back: the node posts its batches to the inbox, they
//! confirm, `ordo_txStatus` reports the L1 transaction and block; another sender using the
//! batcher's key and a codec swap mid-run change nothing; `ordo verify` rebuilds the whole
//! chain from the L1 inbox alone (batches of both codecs) and matches the node block for block;
//! a confirmed batch is reported final only once L1 finalizes its block, and one that a reorg
//! deeper than the confirmations removed is posted again; two minutes without L1 (hanging,
//! then refusing) leave the L2 running and every batch posted afterwards, once and in order.

use std::time::Duration;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use eyre::{Result, bail, ensure, eyre};
use ordo_l1::testing::Anvil;
use ordo_tests::*;
use serde_json::{Value, json};

use crate::GUARD;

pub(crate) const INBOX: Address = Address::repeat_byte(0xb0);

/// A dev node posting to `anvil`'s inbox with `batcher`'s key (written to a file in `dir`).
async fn posting_node(
    anvil: &Anvil,
    batcher: &ordo_l1::PrivateKeySigner,
    dir: &std::path::Path,
    max_delay_ms: u64,
    confirmations: u64,
) -> Result<TestNode> {
    posting_node_with(anvil, batcher, dir, max_delay_ms, confirmations, "").await
}

/// [`posting_node`] with more `[l1]` keys.
async fn posting_node_with(
    anvil: &Anvil,
    batcher: &ordo_l1::PrivateKeySigner,
    dir: &std::path::Path,
    max_delay_ms: u64,
    confirmations: u64,
    l1_extra: &str,
) -> Result<TestNode> {
    let key_file = dir.join("batcher.key");
    write_key_file(&key_file, batcher)?;
    let toml = format!(
        "[batcher]\nmax_delay_ms = {max_delay_ms}\n\n[l1]\nrpc_url = \"{}\"\nkey_file = \"{}\"\nbatch_inbox = \"{INBOX}\"\nconfirmations = {confirmations}\npoll_ms = 200\n{l1_extra}",
        anvil.url(),
        key_file.display()
    );
    TestNode::start(NodeOpts {
        config_toml: Some(toml),
        ..NodeOpts::default()
    })
    .await
}

/// `ordo verify --dev` reading `batcher`'s inbox txs on `anvil`, plus `extra` arguments.
fn verify_from_l1(anvil: &Anvil, batcher: Address, extra: &[&str]) -> Result<VerifyRun> {
    let (url, inbox, from) = (anvil.url(), INBOX.to_string(), batcher.to_string());
    let mut args = vec![
        "--dev",
        "--l1-rpc",
        &url,
        "--batch-inbox",
        &inbox,
        "--batcher",
        &from,
    ];
    args.extend_from_slice(extra);
    ordo_verify(&args)
}

/// [`verify_from_l1`] that must pass.
pub(crate) fn verify_from_l1_ok(
    anvil: &Anvil,
    batcher: Address,
    extra: &[&str],
) -> Result<VerifyRun> {
    let run = verify_from_l1(anvil, batcher, extra)?;
    ensure!(
        run.success && run.stdout.contains("verified"),
        "ordo verify failed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    Ok(run)
}

pub(crate) async fn wait_confirmed(rpc: &Rpc, hash: B256) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let status = rpc.ok("ordo_txStatus", json!([hash])).await?;
        if status["status"] == "confirmed" {
            return Ok(status);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{hash} not confirmed on L1: {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_posted_to_l1_confirm_and_verify_from_l1_alone_across_a_codec_swap() -> Result<()> {
    let anvil = Anvil::spawn_with(ordo_l1::testing::AnvilOptions {
        block_time: Some(1),
        ..Default::default()
    })
    .await;
    let batcher = Anvil::dev_key(1);
    let dir = tempfile::tempdir()?;
    let node = posting_node(&anvil, &batcher, dir.path(), 600, 2).await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let provider = node.provider(&dev_signer(0));
            let mut hashes = Vec::new();
            for i in 0..3u64 {
                let tx = TransactionRequest::default()
                    .with_to(random_address())
                    .with_value(U256::from(i + 1));
                hashes.push(*provider.send_transaction(tx).await?.tx_hash());
            }
            let deploy = TransactionRequest::default().with_deploy_code(store_initcode());
            hashes.push(*provider.send_transaction(deploy).await?.tx_hash());
            let mut last = Value::Null;
            for h in &hashes {
                last = wait_confirmed(&rpc, *h).await?;
            }
            let l1_tx: B256 = serde_json::from_value(last["l1TxHash"].clone())?;
            let l1 = anvil.provider();
            let posted = l1
                .get_transaction_by_hash(l1_tx)
                .await?
                .ok_or_else(|| eyre!("L1 has no tx {l1_tx}"))?;
            ensure!(posted.inner.signer() == batcher.address());
            let index = parse_quantity(&last["batchIndex"])?;
            let batch = rpc
                .ok("ordo_getBatch", json!([format!("{index:#x}")]))
                .await?;
            ensure!(batch["status"] == "confirmed", "{batch}");
            use alloy::consensus::Transaction as _;
            ensure!(
                format!("{}", posted.inner.input()) == batch["frame"].as_str().unwrap_or_default(),
                "the inbox tx carries the batch frame"
            );
            ensure!(parse_quantity(&last["l1Block"])? > 0);

            // Mid-run: another sender uses the batcher's key on L1 (its next nonce is gone)
            // and the operator swaps the codec to lz4. Later batches still post and confirm.
            let foreign = alloy::providers::ProviderBuilder::new()
                .wallet(alloy::network::EthereumWallet::from(batcher.clone()))
                .connect_http(anvil.url().parse()?);
            foreign
                .send_transaction(
                    TransactionRequest::default()
                        .with_to(random_address())
                        .with_value(U256::from(1)),
                )
                .await?
                .get_receipt()
                .await?;
            activate_named(&node.admin()?, "lz4").await?;
            let tx = TransactionRequest::default()
                .with_to(random_address())
                .with_value(U256::from(5));
            let late = *provider.send_transaction(tx).await?.tx_hash();
            let last = wait_confirmed(&rpc, late).await?;
            let index = parse_quantity(&last["batchIndex"])?;
            let batch = rpc
                .ok("ordo_getBatch", json!([format!("{index:#x}")]))
                .await?;
            ensure!(batch["codecId"] == 2, "after the swap: {batch}");

            let run = verify_from_l1_ok(
                &anvil,
                batcher.address(),
                &["--compare-rpc", &node.http_url()],
            )?;
            let stdout = run.stdout;
            // Everything up to the last confirmed batch was rebuilt.
            ensure!(
                stdout.contains(&format!("batch {index}: blocks")),
                "batch {index} not verified:\n{stdout}"
            );
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_batch_in_the_inbox_fails_verify_and_says_where() -> Result<()> {
    let anvil = Anvil::spawn().await;
    let node = TestNode::start(NodeOpts {
        config_toml: Some("[batcher]\nmax_delay_ms = 400\n".into()),
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let provider = node.provider(&dev_signer(0));
            for i in 0..3u64 {
                let tx = TransactionRequest::default()
                    .with_to(random_address())
                    .with_value(U256::from(i + 1));
                provider.send_transaction(tx).await?.get_receipt().await?;
            }
            // Three batches from the node (no L1 configured: they are built, not posted).
            let mut frames = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while frames.len() < 3 {
                let b = rpc
                    .ok("ordo_getBatch", json!([format!("{:#x}", frames.len())]))
                    .await?;
                if b.is_null() {
                    ensure!(tokio::time::Instant::now() < deadline, "batches not built");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                ensure!(b["status"] == "built", "{b}");
                frames.push(alloy::primitives::hex::decode(
                    b["frame"].as_str().unwrap_or_default(),
                )?);
            }
            // Post them by hand from the batcher key, the last one with a byte changed in
            // its compressed data, and the first two swapped (as when batch 0 is re-posted
            // under a fresh nonce after batch 1 went out): verify puts them back in order.
            let batcher = Anvil::dev_key(2);
            let l1 = alloy::providers::ProviderBuilder::new()
                .wallet(alloy::network::EthereumWallet::from(batcher.clone()))
                .connect_http(anvil.url().parse()?);
            let last = frames.len() - 1;
            for i in [1, 0, last] {
                let mut bytes = frames[i].clone();
                if i == last {
                    let n = bytes.len();
                    bytes[n - 3] ^= 0x5a;
                }
                l1.send_transaction(
                    TransactionRequest::default()
                        .with_to(INBOX)
                        .with_input(alloy::primitives::Bytes::from(bytes)),
                )
                .await?
                .get_receipt()
                .await?;
            }
            let run = verify_from_l1(&anvil, batcher.address(), &[])?;
            let (stdout, stderr) = (run.stdout, run.stderr);
            ensure!(!run.success, "verify passed a tampered batch:\n{stdout}");
            ensure!(
                stdout.contains("batch 0: blocks")
                    && stdout.contains("batch 1: blocks")
                    && stderr.contains(&format!("batch {last}")),
                "verify should pass the honest batches and name batch {last}:\n{stdout}\n{stderr}"
            );
            Ok(())
        })
        .await
}

/// Batch indexes of the frames in the L1 inbox, in L1 order.
pub(crate) async fn inbox_indexes(anvil: &Anvil) -> Result<Vec<u64>> {
    use alloy::consensus::Transaction as _;
    let l1 = anvil.provider();
    let head = l1.get_block_number().await?;
    let mut out = Vec::new();
    for n in 0..=head {
        let Some(block) = l1.get_block_by_number(n.into()).full().await? else {
            continue;
        };
        for tx in block.transactions.txns() {
            if tx.inner.to() != Some(INBOX) {
                continue;
            }
            let receipt = l1
                .get_transaction_receipt(*tx.inner.tx_hash())
                .await?
                .ok_or_else(|| eyre!("no receipt"))?;
            if receipt.status() {
                out.push(
                    ordo_primitives::BatchFrame::decode(tx.inner.input())?
                        .header
                        .index,
                );
            }
        }
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poster_survives_an_l1_restart_and_a_reorg_without_gaps_or_duplicates() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut anvil = Anvil::spawn_with(ordo_l1::testing::AnvilOptions::restartable(
        dir.path().join("anvil-state.json"),
    ))
    .await;
    let batcher = Anvil::dev_key(3);
    // The poster keeps one batch in flight until it confirms (~4 L1 blocks here), so
    // batches must not close faster than that or a backlog builds up.
    let node = posting_node(&anvil, &batcher, dir.path(), 4000, 3).await?;
    let rpc = node.rpc();
    let provider = node.provider(&dev_signer(0));
    let send = |value: u64| {
        let provider = provider.clone();
        async move {
            let tx = TransactionRequest::default()
                .with_to(random_address())
                .with_value(U256::from(value));
            Ok::<B256, eyre::Report>(*provider.send_transaction(tx).await?.tx_hash())
        }
    };
    let first = send(1).await?;
    wait_confirmed(&rpc, first).await?;

    // The L1 is killed (SIGKILL: its pool and its last second are lost) and comes back on
    // its saved state while batches keep coming.
    let during = send(2).await?;
    anvil.kill_and_restart().await;
    let after = send(3).await?;
    wait_confirmed(&rpc, during).await?;
    wait_confirmed(&rpc, after).await?;

    // A reorg drops a submitted, not yet confirmed batch: it is posted again.
    let snapshot = anvil.snapshot().await;
    let dropped = send(4).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = rpc.ok("ordo_txStatus", json!([dropped])).await?;
        if status["status"] == "submitted" {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "never submitted: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ensure!(anvil.revert(snapshot).await, "evm_revert failed");
    wait_confirmed(&rpc, dropped).await?;

    // Every batch index appears in the inbox once and in order: nothing skipped, nothing
    // posted twice.
    let indexes = inbox_indexes(&anvil).await?;
    let expected: Vec<u64> = (0..indexes.len() as u64).collect();
    ensure!(indexes == expected, "inbox batch indexes: {indexes:?}");
    verify_from_l1_ok(
        &anvil,
        batcher.address(),
        &["--compare-rpc", &node.http_url()],
    )?;
    Ok(())
}

/// How long L1 is away in [`two_minutes_without_l1_then_every_batch_is_posted_once_in_order`],
/// half of it hanging and half of it refusing connections.
const L1_OUTAGE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_minutes_without_l1_then_every_batch_is_posted_once_in_order() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut anvil = Anvil::spawn_with(ordo_l1::testing::AnvilOptions::restartable(
        dir.path().join("anvil-state.json"),
    ))
    .await;
    let batcher = Anvil::dev_key(3);
    // Batches close every 8 s: about 15 queue up during the outage.
    let node = posting_node(&anvil, &batcher, dir.path(), 8000, 3).await?;
    let logs = node.logs();
    logs.guard(GUARD + L1_OUTAGE * 2, async {
        let rpc = node.rpc();
        let provider = node.provider(&dev_signer(0));
        let send = |value: u64| {
            let provider = provider.clone();
            async move {
                let tx = TransactionRequest::default()
                    .with_to(random_address())
                    .with_value(U256::from(value));
                Ok::<B256, eyre::Report>(*provider.send_transaction(tx).await?.tx_hash())
            }
        };
        let first = send(1).await?;
        wait_confirmed(&rpc, first).await?;

        // First L1 hangs (stopped: connections open, nothing answers), then it is gone
        // (connections refused). The L2 goes on: transactions are taken and included, and
        // their batches close and wait.
        anvil.freeze();
        let mut during = Vec::new();
        let started = tokio::time::Instant::now();
        let (mut value, mut killed) = (2, false);
        while started.elapsed() < L1_OUTAGE {
            if !killed && started.elapsed() >= L1_OUTAGE / 2 {
                anvil.kill_now();
                killed = true;
            }
            let hash = send(value).await?;
            wait_receipt(&provider, hash, GUARD).await?;
            during.push(hash);
            value += 1;
            tokio::time::sleep(Duration::from_secs(4)).await;
        }
        let queued = rpc
            .ok("ordo_txStatus", json!([during[during.len() - 1]]))
            .await?;
        ensure!(
            queued["status"] != "confirmed",
            "confirmed on an L1 that is away: {queued}"
        );
        anvil.start_again().await;

        // Back: every batch is posted, in order and once, and the chain verifies from L1.
        for hash in &during {
            wait_confirmed(&rpc, *hash).await?;
        }
        let indexes = inbox_indexes(&anvil).await?;
        let expected: Vec<u64> = (0..indexes.len() as u64).collect();
        ensure!(indexes == expected, "inbox batch indexes: {indexes:?}");
        ensure!(indexes.len() >= 10, "only {} batches", indexes.len());
        verify_from_l1_ok(
            &anvil,
            batcher.address(),
            &["--compare-rpc", &node.http_url()],
        )?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_mode_end_to_end_verify_reads_the_blobs_back_from_the_beacon_api() -> Result<()> {
    let anvil = Anvil::spawn_with(ordo_l1::testing::AnvilOptions {
        block_time: Some(1),
        ..Default::default()
    })
    .await;
    let batcher = Anvil::dev_key(3);
    let dir = tempfile::tempdir()?;
    let node = posting_node_with(
        &anvil,
        &batcher,
        dir.path(),
        300,
        2,
        "da = \"blobs\"\nmax_in_flight = 3\n",
    )
    .await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let provider = node.provider(&dev_signer(0));
            let deploy = TransactionRequest::default().with_deploy_code(store_initcode());
            let mut hashes = vec![*provider.send_transaction(deploy).await?.tx_hash()];
            for i in 0..4u64 {
                let tx = TransactionRequest::default()
                    .with_to(random_address())
                    .with_value(U256::from(i + 1));
                hashes.push(*provider.send_transaction(tx).await?.tx_hash());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let mut last = Value::Null;
            for h in &hashes {
                last = wait_confirmed(&rpc, *h).await?;
            }
            let index = parse_quantity(&last["batchIndex"])?;
            let batch = rpc
                .ok("ordo_getBatch", json!([format!("{index:#x}")]))
                .await?;
            ensure!(
                batch["status"] == "confirmed" && batch["da"] == "blobs",
                "{batch}"
            );
            let l1_tx: B256 = serde_json::from_value(last["l1TxHash"].clone())?;
            let posted = anvil
                .provider()
                .get_transaction_by_hash(l1_tx)
                .await?
                .ok_or_else(|| eyre!("L1 has no tx {l1_tx}"))?;
            use alloy::consensus::Transaction as _;
            ensure!(posted.inner.signer() == batcher.address());
            ensure!(
                posted
                    .inner
                    .blob_versioned_hashes()
                    .is_some_and(|h| !h.is_empty())
                    && posted.inner.input().is_empty(),
                "a blob tx without calldata: {posted:?}"
            );

            let run = verify_from_l1_ok(
                &anvil,
                batcher.address(),
                &[
                    "--l1-beacon",
                    &anvil.url(),
                    "--compare-rpc",
                    &node.http_url(),
                ],
            )?;
            ensure!(
                run.stdout.contains(&format!("batch {index}: blocks")),
                "batch {index} not verified from blobs:\n{}",
                run.stdout
            );
            // The poster's series on /metrics.
            let metrics = node.metrics_text().await?;
            let sample = |name: &str| -> Option<f64> {
                metrics
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name} "))?.trim().parse().ok())
            };
            ensure!(
                sample("ordo_l1_confirmations_total").is_some_and(|v| v >= 1.0)
                    && sample("ordo_l1_blob_submissions_total").is_some_and(|v| v >= 1.0)
                    && sample("ordo_l1_fee_bumps_total").is_some(),
                "L1 series on /metrics:\n{metrics}"
            );
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_batch_a_deep_reorg_removes_is_posted_again_and_final_only_when_l1_says_so()
-> Result<()> {
    // L1's finalized block is the head minus 10: a batch 2 blocks deep is confirmed, not final.
    let anvil = Anvil::spawn_with(ordo_l1::testing::AnvilOptions {
        block_time: Some(1),
        slots_in_an_epoch: Some(5),
        ..Default::default()
    })
    .await;
    let batcher = Anvil::dev_key(4);
    let dir = tempfile::tempdir()?;
    let node = posting_node(&anvil, &batcher, dir.path(), 600, 2).await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let provider = node.provider(&dev_signer(0));
            let snapshot = anvil.snapshot().await;
            let tx = TransactionRequest::default()
                .with_to(random_address())
                .with_value(U256::from(7));
            let hash = *provider.send_transaction(tx).await?.tx_hash();
            let confirmed = wait_confirmed(&rpc, hash).await?;
            ensure!(
                confirmed["l1Finalized"] != true,
                "final at 2 deep: {confirmed}"
            );
            let first_l1_tx: B256 = serde_json::from_value(confirmed["l1TxHash"].clone())?;

            // A reorg deeper than the 2 confirmations: the block holding the batch is gone.
            ensure!(anvil.revert(snapshot).await, "evm_revert failed");
            // The node notices, sends the batch again, and reports where it is now.
            let l1 = anvil.provider();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
            let (back, l1_block) = loop {
                let status = rpc.ok("ordo_txStatus", json!([hash])).await?;
                if status["status"] == "confirmed" {
                    let l1_tx: B256 = serde_json::from_value(status["l1TxHash"].clone())?;
                    let l1_block = parse_quantity(&status["l1Block"])?;
                    let receipt = l1.get_transaction_receipt(l1_tx).await?;
                    if receipt.is_some_and(|r| r.block_number == Some(l1_block)) {
                        break (status, l1_block);
                    }
                }
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "the batch never came back on L1 (first sent as {first_l1_tx}): {status}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            // Final only once L1's finalized block reaches it.
            let last = loop {
                let status = rpc.ok("ordo_txStatus", json!([hash])).await?;
                if status["l1Finalized"] == true {
                    break status;
                }
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "never final after the reorg: {status}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            ensure!(
                last["l1TxHash"] == back["l1TxHash"] && last["l1Block"] == back["l1Block"],
                "{back} then {last}"
            );
            let finalized = l1
                .get_block_by_number(alloy::eips::BlockNumberOrTag::Finalized)
                .await?
                .ok_or_else(|| eyre!("no finalized block"))?;
            ensure!(finalized.header.number >= l1_block);
            let index = parse_quantity(&last["batchIndex"])?;
            let batch = rpc
                .ok("ordo_getBatch", json!([format!("{index:#x}")]))
                .await?;
            ensure!(
                batch["status"] == "confirmed" && batch["l1Finalized"] == true,
                "{batch}"
            );

            // Nothing skipped, nothing posted twice, and the chain still verifies from L1.
            let indexes = inbox_indexes(&anvil).await?;
            let expected: Vec<u64> = (0..indexes.len() as u64).collect();
            ensure!(indexes == expected, "inbox batch indexes: {indexes:?}");
            verify_from_l1_ok(
                &anvil,
                batcher.address(),
                &["--compare-rpc", &node.http_url()],
            )?;
            Ok(())
        })
        .await
}

/// The block number a tag names now.
async fn tagged(rpc: &Rpc, tag: &str) -> Result<u64> {
    let block = rpc.ok("eth_getBlockByNumber", json!([tag, false])).await?;
    parse_quantity(&block["number"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safe_and_finalized_follow_the_batches_on_l1() -> Result<()> {
    // anvil finalizes the head minus two blocks with one slot per epoch.
    let anvil = Anvil::spawn_with(ordo_l1::testing::AnvilOptions {
        slots_in_an_epoch: Some(1),
        ..Default::default()
    })
    .await;
    let batcher = Anvil::dev_key(5);
    let dir = tempfile::tempdir()?;
    let node = posting_node(&anvil, &batcher, dir.path(), 300, 1).await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let provider = node.provider(&dev_signer(0));
            // Nothing is on L1 yet: both tags name genesis while the chain grows.
            while tagged(&rpc, "latest").await? < 2 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            ensure!(tagged(&rpc, "safe").await? == 0);
            ensure!(tagged(&rpc, "finalized").await? == 0);

            let to = random_address();
            let tx = TransactionRequest::default()
                .with_to(to)
                .with_value(U256::from(77));
            let hash = *provider.send_transaction(tx).await?.tx_hash();
            let receipt = wait_receipt(&provider, hash, crate::RECEIPT).await?;
            let block = receipt.block_number.unwrap_or_default();
            let status = rpc.ok("ordo_txStatus", json!([hash])).await?;
            ensure!(
                status["safe"] == false && status["l1Finalized"] == false,
                "{status}"
            );

            // Safe once its batch (and every one before) is confirmed; the state there
            // has the transfer.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                let (latest, safe) = (tagged(&rpc, "latest").await?, tagged(&rpc, "safe").await?);
                let finalized = tagged(&rpc, "finalized").await?;
                ensure!(
                    finalized <= safe && safe <= latest,
                    "{finalized} {safe} {latest}"
                );
                if safe >= block {
                    break;
                }
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "never safe (safe {safe}, block {block})"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let balance = rpc.ok("eth_getBalance", json!([to, "safe"])).await?;
            ensure!(balance == json!("0x4d"), "balance at safe: {balance}");
            let status = rpc.ok("ordo_txStatus", json!([hash])).await?;
            ensure!(status["safe"] == true, "{status}");

            // Finalized once L1 finalizes the batch's block: two more L1 blocks.
            anvil.mine(3).await;
            loop {
                let finalized = tagged(&rpc, "finalized").await?;
                if finalized >= block {
                    ensure!(finalized <= tagged(&rpc, "safe").await?);
                    break;
                }
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "never finalized ({finalized} < {block})"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let status = rpc.ok("ordo_txStatus", json!([hash])).await?;
            ensure!(status["l1Finalized"] == true, "{status}");
            let logs = rpc
                .ok(
                    "eth_getLogs",
                    json!([{"fromBlock": "finalized", "toBlock": "finalized"}]),
                )
                .await?;
            ensure!(logs.is_array(), "{logs}");
            Ok(())
        })
        .await
}
