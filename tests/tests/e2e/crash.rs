//! 6. Crash durability: `kill -9` the node while 500 transfers (each to a new account, so
//!    every block rewrites trie paths) are being submitted concurrently; restart on the same
//!    datadir; every acknowledged hash is known again (pool or chain) and eventually in a
//!    block; the chain continues; the stored trie agrees with the head (the node checks it at
//!    start, and proofs of the recipients verify against the head's state root); and
//!    `ordo verify` rebuilds the chain from its batches.
//! 7. A corrupt WAL record and a torn journal tail (half a write) after a crash: dropped at
//!    restart with a log line, never a panic; every good record before them comes back.
//! 8. Included transactions leave the WAL after their block is stored; one a crash left
//!    there is dropped at restart, neither pooled again nor included twice.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::{
    eips::BlockId,
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
};
use eyre::{Result, bail, ensure, eyre};
use ordo_tests::*;
use serde_json::{Value, json};

use crate::GUARD;

const ACCOUNTS: usize = 10;
const PER_ACCOUNT: u64 = 50; // 500 transfers in all
/// Kill once this many sends were acknowledged (or when all sends finished).
const KILL_AFTER_ACKS: usize = 250;
/// Pause between two sends of one account: spreads the 500 sends over a few 200 ms blocks,
/// so the kill usually lands while blocks with our txs are being sealed and sends are in
/// flight. (Correctness does not depend on where it lands.)
const PACE: Duration = Duration::from_millis(10);
/// Failure guard for "everything acknowledged ends up in a block".
const INCLUSION_GUARD: Duration = Duration::from_secs(180);

#[derive(Debug, Clone)]
struct Acked {
    account: usize,
    nonce: u64,
    hash: B256,
    to: Address,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_submission_loses_no_acknowledged_tx() -> Result<()> {
    // Batches close quickly, so `ordo verify` has the whole chain to rebuild at the end.
    let mut node = TestNode::start(NodeOpts {
        config_toml: Some("[batcher]\nmax_delay_ms = 600\n".into()),
        ..NodeOpts::default()
    })
    .await?;
    let logs = node.logs();
    logs.guard(GUARD + INCLUSION_GUARD, async {
        let rpc = node.rpc();

        // Pre-sign 50 transfers from each of 10 dev accounts (nonces from the node).
        let mut per_account: Vec<Vec<(u64, Bytes, B256, Address)>> = Vec::new();
        for a in 0..ACCOUNTS {
            let s = dev_signer(a);
            let n0 = parse_quantity(
                &rpc.ok("eth_getTransactionCount", json!([s.address(), "pending"]))
                    .await?,
            )?;
            let txs = (0..PER_ACCOUNT)
                .map(|i| {
                    let to = random_address();
                    let (raw, h) = sign_raw(
                        &s,
                        transfer_1559(DEV_CHAIN_ID, n0 + i, to, U256::from(1), 50 * GWEI, GWEI),
                    );
                    (n0 + i, raw, h, to)
                })
                .collect();
            per_account.push(txs);
        }

        // One sender task per account, each sending its nonces in order (so acknowledged
        // nonces form a gap-free prefix per account); the 10 run concurrently.
        let acks = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for (account, txs) in per_account.into_iter().enumerate() {
            let rpc = rpc.clone();
            let acks = acks.clone();
            tasks.push(tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut rpc_errors = Vec::new();
                for (nonce, raw, hash, to) in txs {
                    match rpc.send_raw(&raw).await {
                        Ok(Ok(h)) => {
                            if h != hash {
                                rpc_errors.push(format!("hash mismatch {h} != {hash}"));
                                break;
                            }
                            acked.push(Acked {
                                account,
                                nonce,
                                hash,
                                to,
                            });
                            acks.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(PACE).await;
                        }
                        // A JSON-RPC error before the kill is a bug; record it.
                        Ok(Err(e)) => {
                            rpc_errors.push(format!("account {account} nonce {nonce}: {e}"));
                            break;
                        }
                        // Transport error: the node is gone; stop this account here.
                        Err(_) => break,
                    }
                }
                (acked, rpc_errors)
            }));
        }

        // Kill -9 once enough were acknowledged (mid-stream), or when all sends are done.
        let mut head_before = 0;
        loop {
            if acks.load(Ordering::SeqCst) >= KILL_AFTER_ACKS
                || tasks.iter().all(|t| t.is_finished())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if let Ok(n) = rpc.block_number().await {
            head_before = n;
        }
        node.kill();

        let mut acked: Vec<Acked> = Vec::new();
        let mut errors = Vec::new();
        for t in tasks {
            let (a, e) = t.await?;
            acked.extend(a);
            errors.extend(e);
        }
        ensure!(
            errors.is_empty(),
            "JSON-RPC errors while submitting: {errors:#?}"
        );
        ensure!(
            !acked.is_empty(),
            "nothing was acknowledged before the kill"
        );
        eprintln!(
            "crash test: {} of {} transfers acknowledged before kill -9 (head {head_before})",
            acked.len(),
            ACCOUNTS as u64 * PER_ACCOUNT
        );

        // Restart on the same datadir (new port).
        node.start_again().await?;
        // Trie nodes are written behind the blocks: the kill usually lost a few blocks'
        // worth, which the start recomputes (checked against the head's state root).
        eprintln!(
            "crash test: trie nodes recomputed at restart: {}",
            node.logs()
                .text()
                .contains("recomputed the trie nodes a crash lost")
        );
        let rpc = node.rpc();
        let head_after = rpc.block_number().await?;
        ensure!(
            head_after >= head_before,
            "head went backwards over the crash: {head_before} -> {head_after}"
        );

        // Every acknowledged tx is known again (pending or mined). The node should have
        // rebuilt its pool before serving; allow a short grace anyway.
        let hashes: Vec<B256> = acked.iter().map(|a| a.hash).collect();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let missing = unknown_txs(&rpc, &hashes).await?;
            if missing.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "{} acknowledged txs are neither pending nor mined after restart: {:?}",
                    missing.len(),
                    &missing[..missing.len().min(10)]
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // ... and all of them end up in blocks, successfully.
        let deadline = Instant::now() + INCLUSION_GUARD;
        let mut outstanding = hashes.clone();
        while !outstanding.is_empty() {
            let mut still = Vec::new();
            for chunk in outstanding.chunks(100) {
                let calls: Vec<(&str, Value)> = chunk
                    .iter()
                    .map(|h| ("eth_getTransactionReceipt", json!([h])))
                    .collect();
                for (h, r) in chunk.iter().zip(rpc.batch(&calls).await?) {
                    let r = r.map_err(|e| eyre!("receipt {h}: {e}"))?;
                    if r.is_null() {
                        still.push(*h);
                    } else {
                        ensure!(r["status"] == "0x1", "acknowledged tx {h} failed: {r}");
                    }
                }
            }
            outstanding = still;
            if outstanding.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "{} acknowledged txs not mined within {INCLUSION_GUARD:?}: {:?}",
                    outstanding.len(),
                    &outstanding[..outstanding.len().min(10)]
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // State at older blocks through the crash: each recipient is absent before the block
        // that paid it and holds 1 wei from it on (the change sets of the blocks around the
        // kill are indexed again at the restart, from what each block's batch stored).
        for chunk in acked.chunks(100) {
            let calls: Vec<(&str, Value)> = chunk
                .iter()
                .map(|a| ("eth_getTransactionReceipt", json!([a.hash])))
                .collect();
            let mut reads: Vec<(&str, Value)> = Vec::new();
            let mut expected = Vec::new();
            for (a, r) in chunk.iter().zip(rpc.batch(&calls).await?) {
                let r = r.map_err(|e| eyre!("receipt {}: {e}", a.hash))?;
                let n = parse_quantity(&r["blockNumber"])?;
                for (at, wei) in [(n - 1, "0x0"), (n, "0x1")] {
                    reads.push(("eth_getBalance", json!([a.to, format!("{at:#x}")])));
                    expected.push((a.to, at, wei));
                }
            }
            for ((to, at, wei), got) in expected.into_iter().zip(rpc.batch(&reads).await?) {
                let got = got.map_err(|e| eyre!("balance of {to} at {at}: {e}"))?;
                ensure!(
                    got == wei,
                    "balance of {to} at block {at}: {got}, not {wei}"
                );
            }
        }

        // Nonces: each account's latest count covers its acknowledged prefix.
        let mut max_nonce: BTreeMap<usize, u64> = BTreeMap::new();
        for a in &acked {
            let e = max_nonce.entry(a.account).or_default();
            *e = (*e).max(a.nonce);
        }
        for (account, nonce) in max_nonce {
            let addr = dev_signer(account).address();
            let count = parse_quantity(
                &rpc.ok("eth_getTransactionCount", json!([addr, "latest"]))
                    .await?,
            )?;
            ensure!(
                count > nonce,
                "account {account}: nonce {count} but {nonce} was acknowledged"
            );
        }

        // The chain keeps going after the restart.
        let now = rpc.block_number().await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while rpc.block_number().await? < now + 2 {
            if Instant::now() > deadline {
                bail!("no new blocks after restart (head stuck at {now})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // The trie on disk agrees with the head: every recipient (1 wei) is proven against the
        // head's state root.
        let p = node.provider(&dev_signer(0));
        let head = p.get_block_number().await?;
        let block = p
            .get_block_by_number(head.into())
            .await?
            .ok_or_else(|| eyre!("no block {head}"))?;
        for a in &acked {
            let proof = p
                .get_proof(a.to, vec![])
                .block_id(BlockId::number(head))
                .await?;
            ensure!(
                proof.balance == U256::from(1),
                "{}: {}",
                a.to,
                proof.balance
            );
            check_account_proof(block.header.state_root, &proof)
                .map_err(|e| eyre!("at {head}: {e}"))?;
        }

        // And the chain rebuilt from its batches matches block by block, through the crash.
        let last = acked.iter().map(|a| a.hash).collect::<Vec<_>>();
        let deadline = Instant::now() + INCLUSION_GUARD;
        for h in &last {
            loop {
                let status = rpc.ok("ordo_txStatus", json!([h])).await?;
                if status["status"] == "batched" {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("{h} not batched: {status}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let url = node.http_url();
        ordo_verify_ok(&["--dev", "--batches-rpc", &url, "--compare-rpc", &url])?;
        Ok(())
    })
    .await
}

/// Hashes for which eth_getTransactionByHash returns null.
async fn unknown_txs(rpc: &Rpc, hashes: &[B256]) -> Result<Vec<B256>> {
    let mut missing = Vec::new();
    for chunk in hashes.chunks(100) {
        let calls: Vec<(&str, Value)> = chunk
            .iter()
            .map(|h| ("eth_getTransactionByHash", json!([h])))
            .collect();
        for (h, r) in chunk.iter().zip(rpc.batch(&calls).await?) {
            let r = r.map_err(|e| eyre!("eth_getTransactionByHash {h}: {e}"))?;
            if r.is_null() {
                missing.push(*h);
            } else if r["hash"] != json!(h) {
                bail!("eth_getTransactionByHash({h}) returned another tx: {r}");
            }
        }
    }
    Ok(missing)
}

/// A signed transfer of `me` at `nonce`.
fn gap_transfer(me: &alloy_signer_local::PrivateKeySigner, nonce: u64) -> (Bytes, B256) {
    let fee = 10_000_000_000u128;
    sign_raw(
        me,
        transfer_1559(
            DEV_CHAIN_ID,
            nonce,
            random_address(),
            U256::from(1),
            fee,
            fee,
        ),
    )
}

/// Two transfers of `me` acknowledged behind a nonce gap, so they wait in the pool (and the
/// WAL): the gap's nonce and their hashes.
async fn acked_behind_a_gap(
    node: &TestNode,
    me: &alloy_signer_local::PrivateKeySigner,
) -> Result<(u64, Vec<B256>)> {
    let nonce = node
        .provider(me)
        .get_transaction_count(me.address())
        .await?;
    let rpc = node.rpc();
    let mut waiting = Vec::new();
    for n in [nonce + 1, nonce + 2] {
        let (raw, hash) = gap_transfer(me, n);
        ensure!(rpc.send_raw(&raw).await? == Ok(hash), "not acknowledged");
        waiting.push(hash);
    }
    Ok((nonce, waiting))
}

/// After a restart: the transactions waiting behind the gap are known again, and once the
/// gap closes every one of them is included.
async fn waiting_ones_come_back_and_are_included(
    node: &TestNode,
    me: &alloy_signer_local::PrivateKeySigner,
    nonce: u64,
    waiting: Vec<B256>,
) -> Result<()> {
    let rpc = node.rpc();
    for hash in &waiting {
        let tx = rpc.ok("eth_getTransactionByHash", json!([hash])).await?;
        ensure!(!tx.is_null(), "{hash} lost at the restart");
    }
    let (raw, first) = gap_transfer(me, nonce);
    ensure!(rpc.send_raw(&raw).await? == Ok(first), "not acknowledged");
    let provider = node.provider(me);
    for hash in std::iter::once(first).chain(waiting) {
        wait_receipt(&provider, hash, GUARD).await?;
    }
    Ok(())
}

/// A WAL record damaged on disk (what a failing disk or a stray write leaves) is dropped at
/// restart with a log line, never a panic; every good record around it comes back into the
/// pool, and the acknowledged transactions it held are included once their nonce gap closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_wal_record_is_dropped_at_restart_and_the_good_ones_come_back() -> Result<()> {
    let mut node = TestNode::dev().await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let me = dev_signer(7);
        let (nonce, waiting) = acked_behind_a_gap(&node, &me).await?;
        node.stop().await?;
        {
            let storage = ordo_storage::Storage::open(node.datadir().join("db"))?;
            storage.wal_append(&[(
                B256::repeat_byte(0xab),
                u64::MAX,
                b"\x02 not a transaction at all".as_slice(),
            )])?;
        }
        node.start_again().await?;
        ensure!(
            node.logs()
                .text()
                .contains("undecodable WAL entries removed"),
            "no log of the dropped record"
        );
        waiting_ones_come_back_and_are_included(&node, &me, nonce, waiting).await
    })
    .await
}

/// The journal files of a stopped node's database with their sizes.
fn journals(db: &std::path::Path) -> Result<BTreeMap<std::path::PathBuf, u64>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(db)? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "jnl") {
            let len = std::fs::metadata(&path)?.len();
            out.insert(path, len);
        }
    }
    Ok(out)
}

/// A crash in the middle of a WAL write leaves half a record at the journal's tail: the
/// node starts (no panic), says in its log that it cut the torn tail, and keeps every
/// acknowledged transaction before it; the torn one, never acknowledged, is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_journal_tail_is_cut_at_restart_and_everything_before_it_kept() -> Result<()> {
    let mut node = TestNode::dev().await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let me = dev_signer(8);
        let (nonce, waiting) = acked_behind_a_gap(&node, &me).await?;
        node.kill();
        // The write the crash interrupts: one more WAL record, of which only the first half
        // reached the disk.
        let db = node.datadir().join("db");
        let (torn_raw, torn) = gap_transfer(&me, nonce + 3);
        // Opened and closed once first: fjall recovers the journal and cuts the space it
        // had preallocated, so what the next write adds is all that grows.
        drop(ordo_storage::Storage::open(&db)?);
        let before = journals(&db)?;
        {
            let storage = ordo_storage::Storage::open(&db)?;
            storage.wal_append(&[(torn, u64::MAX - 1, torn_raw.as_ref())])?;
        }
        let after = journals(&db)?;
        let (journal, len) = after
            .iter()
            .find(|(path, len)| before.get(*path).is_none_or(|b| *len > b))
            .ok_or_else(|| eyre!("no journal grew: {before:?} → {after:?}"))?;
        let grew = len - before.get(journal).copied().unwrap_or(0);
        std::fs::OpenOptions::new()
            .write(true)
            .open(journal)?
            .set_len(len - grew / 2)?;

        node.start_again().await?;
        ensure!(
            node.logs().text().contains("recovered a torn journal tail"),
            "no log of the torn tail"
        );
        let tx = node
            .rpc()
            .ok("eth_getTransactionByHash", json!([torn]))
            .await?;
        ensure!(tx.is_null(), "the torn record came back: {tx}");
        waiting_ones_come_back_and_are_included(&node, &me, nonce, waiting).await
    })
    .await
}

/// The transactions of `db`'s WAL among `hashes`.
fn in_wal(db: &std::path::Path, hashes: &[B256]) -> Result<Vec<B256>> {
    let storage = ordo_storage::Storage::open(db)?;
    Ok(storage
        .wal_records()?
        .into_iter()
        .map(|(key, _, _)| key)
        .filter(|key| hashes.contains(key))
        .collect())
}

/// A block's transactions leave the WAL once the block is stored, after its batch rather
/// than in it. A crash between the two leaves an included transaction in the WAL: at
/// restart it is below its sender's nonce, so it is dropped (and leaves the WAL), not
/// pooled again and not included a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_included_tx_leaves_the_wal_and_one_a_crash_left_there_is_dropped() -> Result<()> {
    let mut node = TestNode::dev().await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let me = dev_signer(9);
        let provider = node.provider(&me);
        let nonce = provider.get_transaction_count(me.address()).await?;
        let rpc = node.rpc();
        let mut sent = Vec::new();
        for n in nonce..nonce + 3 {
            let (raw, hash) = gap_transfer(&me, n);
            ensure!(rpc.send_raw(&raw).await? == Ok(hash), "not acknowledged");
            sent.push((raw, hash));
        }
        let hashes: Vec<B256> = sent.iter().map(|(_, h)| *h).collect();
        let mut blocks = Vec::new();
        for hash in &hashes {
            blocks.push(wait_receipt(&provider, *hash, GUARD).await?.block_number);
        }
        node.stop().await?;
        let db = node.datadir().join("db");
        let left = in_wal(&db, &hashes)?;
        ensure!(
            left.is_empty(),
            "included transactions still in the WAL: {left:?}"
        );
        // What a crash between the block's batch and the removal leaves behind.
        {
            let storage = ordo_storage::Storage::open(&db)?;
            let (raw, hash) = &sent[0];
            storage.wal_append(&[(*hash, u64::MAX - 1, raw.as_ref())])?;
        }
        ensure!(
            in_wal(&db, &hashes)? == vec![hashes[0]],
            "the entry was not put back"
        );

        node.start_again().await?;
        let provider = node.provider(&me);
        let rpc = node.rpc();
        let status = rpc.ok("txpool_status", json!([])).await?;
        ensure!(
            status["pending"] == json!("0x0") && status["queued"] == json!("0x0"),
            "an included transaction was pooled again: {status}"
        );
        let head = provider.get_block_number().await?;
        wait_block(&provider, head + 3, GUARD).await?;
        for (hash, block) in hashes.iter().zip(&blocks) {
            let receipt = wait_receipt(&provider, *hash, GUARD).await?;
            ensure!(
                receipt.block_number == *block,
                "{hash} moved from block {block:?} to {:?}",
                receipt.block_number
            );
        }
        ensure!(
            provider.get_transaction_count(me.address()).await? == nonce + 3,
            "the nonce moved past the three transfers"
        );
        node.stop().await?;
        let left = in_wal(&db, &hashes)?;
        ensure!(
            left.is_empty(),
            "the stale entry stayed in the WAL: {left:?}"
        );
        Ok(())
    })
    .await
}
