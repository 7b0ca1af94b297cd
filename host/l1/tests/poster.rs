//! The poster against a real anvil: ordering, confirmations, fee bumps, a foreign tx taking the
//! nonce, reorgs and an L1 restart. Timeouts here are failure guards, never assertions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    primitives::{Address, B256, Bytes, TxKind, U256, address},
    providers::Provider,
    signers::SignerSync,
};
use ordo_l1::{
    BatchQueue, BeaconClient, BlobBlock, Confirmation, ConfirmedBatch, DaMode, L1Config, L1Poster,
    QueuedBatch, RecordError, StatusHandle, Submission, decode_blobs,
    testing::{Anvil, AnvilOptions},
};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::oneshot;

const INBOX: Address = address!("0x00000000000000000000000000000000000b0b0b");

/// An in-memory queue that records every call.
#[derive(Default)]
struct MemQueue {
    batches: Vec<Bytes>,
    /// How many of `batches` the batcher has "sealed" so far.
    available: AtomicUsize,
    state: Mutex<QState>,
    /// This many of the next `submitted` writes fail (a full or failing disk).
    fail_submits: AtomicUsize,
    /// `submitted` writes that failed.
    failed_submits: AtomicUsize,
    /// Makes the next `submitted` write hang until released (a slow fsync).
    hold_submit: Mutex<Option<Hold>>,
}

/// A hanging write: says it started, waits for `go` (or a failure guard), records which.
struct Hold {
    entered: oneshot::Sender<()>,
    go: std::sync::mpsc::Receiver<()>,
    released: Arc<AtomicBool>,
}

#[derive(Default)]
struct QState {
    last: BTreeMap<u64, Submission>,
    submissions: Vec<(u64, Submission)>,
    /// Confirmed batches (finalized or not), in the order they were confirmed.
    confirmed: Vec<(u64, Confirmation)>,
    /// Confirmations a reorg undid, in order.
    reorged: Vec<(u64, Confirmation)>,
}

impl MemQueue {
    fn new(batches: &[&[u8]]) -> Arc<Self> {
        Arc::new(Self {
            batches: batches.iter().map(|b| Bytes::copy_from_slice(b)).collect(),
            available: AtomicUsize::new(batches.len()),
            ..Default::default()
        })
    }
    fn confirmed(&self) -> Vec<(u64, Confirmation)> {
        self.state.lock().confirmed.clone()
    }
    fn submissions(&self) -> Vec<(u64, Submission)> {
        self.state.lock().submissions.clone()
    }
    fn finalized(&self) -> Vec<u64> {
        let s = self.state.lock();
        s.confirmed
            .iter()
            .filter(|(_, c)| c.finalized)
            .map(|(i, _)| *i)
            .collect()
    }
    fn reorged(&self) -> Vec<(u64, Confirmation)> {
        self.state.lock().reorged.clone()
    }
}

impl BatchQueue for MemQueue {
    fn unconfirmed(&self, limit: usize) -> Vec<QueuedBatch> {
        let s = self.state.lock();
        let available = self.available.load(Ordering::SeqCst);
        (0..available as u64)
            .filter(|i| !s.confirmed.iter().any(|(c, _)| c == i))
            .take(limit)
            .map(|i| QueuedBatch {
                index: i,
                bytes: self.batches[i as usize].clone(),
                submission: s.last.get(&i).cloned(),
            })
            .collect()
    }
    fn unfinalized(&self) -> Vec<ConfirmedBatch> {
        let s = self.state.lock();
        let mut out: Vec<ConfirmedBatch> = s
            .confirmed
            .iter()
            .filter(|(_, c)| !c.finalized)
            .map(|(index, c)| ConfirmedBatch {
                index: *index,
                confirmation: c.clone(),
            })
            .collect();
        out.sort_by_key(|b| b.index);
        out
    }
    fn submitted(&self, index: u64, sub: Submission) -> Result<(), RecordError> {
        let hold = self.hold_submit.lock().take();
        if let Some(hold) = hold {
            let _ = hold.entered.send(());
            // A failure guard, not a timing: it only ends the wait when nothing releases it.
            let told = hold.go.recv_timeout(Duration::from_secs(10)).is_ok();
            hold.released.store(told, Ordering::SeqCst);
        }
        if self
            .fail_submits
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            self.failed_submits.fetch_add(1, Ordering::SeqCst);
            return Err(RecordError::new(std::io::Error::other("disk full")));
        }
        let mut s = self.state.lock();
        if let Some(at) = s.confirmed.iter().position(|(i, _)| *i == index) {
            let (_, c) = s.confirmed.remove(at);
            assert!(!c.finalized, "batch {index} reorged after it was final");
            s.reorged.push((index, c));
        }
        s.last.insert(index, sub.clone());
        s.submissions.push((index, sub));
        Ok(())
    }
    fn confirmed(&self, index: u64, c: Confirmation) -> Result<(), RecordError> {
        let mut s = self.state.lock();
        let at = s.confirmed.iter().position(|(i, _)| *i == index);
        if c.finalized {
            let at = at.expect("only a confirmed batch is finalized");
            assert!(
                !s.confirmed[at].1.finalized,
                "batch {index} finalized twice"
            );
            assert_eq!(s.confirmed[at].1.l1_block_hash, c.l1_block_hash);
            s.confirmed[at].1 = c;
        } else {
            assert!(at.is_none(), "batch {index} confirmed twice");
            s.confirmed.push((index, c));
        }
        Ok(())
    }
}

fn config(anvil: &Anvil, confirmations: u64, resubmit_after: Duration) -> L1Config {
    L1Config {
        rpc_url: anvil.url(),
        signer: Anvil::dev_key(0),
        inbox: INBOX,
        confirmations,
        resubmit_after,
        fee_bump_percent: 10,
        max_fee_per_gas_cap: 1_000_000_000_000,
        max_fee_per_blob_gas_cap: 1_000_000_000_000,
        poll_interval: Duration::from_millis(100),
        max_in_flight: 1,
        da: DaMode::Calldata,
    }
}

struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    status: StatusHandle,
}

impl Running {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

fn start(config: L1Config, queue: Arc<MemQueue>) -> Running {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("ordo=debug")
        .with_test_writer()
        .try_init();
    let poster = L1Poster::new(config, queue);
    let status = poster.status_handle();
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(poster.run(async move {
        let _ = rx.await;
    }));
    Running {
        stop: Some(tx),
        task,
        status,
    }
}

/// Polls `cond` until true; panics (with `what`) after a generous guard timeout.
async fn wait_for(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the queue's first submission has a receipt on `anvil`.
async fn wait_first_included(anvil: &Anvil, queue: &MemQueue) {
    let p = anvil.provider();
    wait_for("first inclusion", async || {
        match queue.submissions().first() {
            Some((_, s)) => p
                .get_transaction_receipt(s.tx_hash)
                .await
                .unwrap()
                .is_some(),
            None => false,
        }
    })
    .await;
}

/// Every canonical tx to the inbox: (block, from, nonce, input, max fee, tip).
#[derive(Debug, Clone)]
struct InboxTx {
    block: u64,
    from: Address,
    nonce: u64,
    input: Bytes,
    max_fee: u128,
    tip: u128,
    hash: B256,
    /// EIP-2718 type (2: calldata, 3: blobs).
    kind: u64,
    blob_hashes: Vec<B256>,
    max_blob_fee: Option<u128>,
}

fn q(v: &Value) -> u128 {
    u128::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

async fn inbox_txs(anvil: &Anvil) -> Vec<InboxTx> {
    let head = anvil.block_number().await;
    let mut out = Vec::new();
    for n in 0..=head {
        let b = anvil
            .rpc("eth_getBlockByNumber", json!([format!("0x{n:x}"), true]))
            .await
            .unwrap();
        for tx in b["transactions"].as_array().unwrap() {
            if tx["to"].as_str().map(|s| s.parse::<Address>().unwrap()) == Some(INBOX) {
                out.push(InboxTx {
                    block: n,
                    from: tx["from"].as_str().unwrap().parse().unwrap(),
                    nonce: q(&tx["nonce"]) as u64,
                    input: tx["input"].as_str().unwrap().parse().unwrap(),
                    max_fee: q(&tx["maxFeePerGas"]),
                    tip: q(&tx["maxPriorityFeePerGas"]),
                    hash: tx["hash"].as_str().unwrap().parse().unwrap(),
                    kind: q(&tx["type"]) as u64,
                    blob_hashes: tx["blobVersionedHashes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|h| h.as_str().unwrap().parse().unwrap())
                        .collect(),
                    max_blob_fee: tx.get("maxFeePerBlobGas").map(q),
                });
            }
        }
    }
    out
}

fn assert_each_posted_once(txs: &[InboxTx], batches: &[&[u8]]) {
    let inputs: Vec<&[u8]> = txs.iter().map(|t| t.input.as_ref()).collect();
    assert_eq!(
        inputs, batches,
        "inbox txs must be exactly the batches, once each, in order"
    );
    let sender = Anvil::dev_key(0).address();
    assert!(txs.iter().all(|t| t.from == sender));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_keys_are_anvils_funded_accounts() {
    let anvil = Anvil::spawn().await;
    let p = anvil.provider();
    let accounts: Vec<Address> = p.get_accounts().await.unwrap();
    for (i, a) in accounts.iter().take(10).enumerate() {
        assert_eq!(Anvil::dev_key(i).address(), *a);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_three_batches_in_order_with_confirmations() {
    let anvil = Anvil::spawn_with(AnvilOptions {
        block_time: Some(1),
        ..Default::default()
    })
    .await;
    let batches: [&[u8]; 3] = [b"batch zero", &[1u8; 300], b"\x00\x02two"];
    let queue = MemQueue::new(&batches);
    let run = start(config(&anvil, 2, Duration::from_secs(60)), queue.clone());
    wait_for("3 confirmations", async || queue.confirmed().len() == 3).await;
    let status = run.status.get();
    run.stop().await;

    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    let head = anvil.block_number().await;
    for ((i, c), tx) in queue.confirmed().iter().zip(&txs) {
        assert_eq!(c.tx_hash, tx.hash, "batch {i}");
        assert_eq!(c.l1_block, tx.block);
        assert!(head + 1 >= c.l1_block + 2);
    }
    // Strict order: batch i+1 is only submitted after batch i is confirmed, so blocks grow.
    assert!(
        txs.windows(2)
            .all(|w| w[0].block < w[1].block && w[0].nonce + 1 == w[1].nonce)
    );
    assert_eq!(
        (
            status.posted,
            status.confirmed,
            status.bumped,
            status.reposted
        ),
        (3, 3, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_tx_is_replaced_with_bumped_fees() {
    let anvil = Anvil::spawn().await;
    anvil.set_automine(false).await;
    let batches: [&[u8]; 1] = [b"needs a bump"];
    let queue = MemQueue::new(&batches);
    let run = start(config(&anvil, 1, Duration::from_millis(500)), queue.clone());
    wait_for("a replacement", async || queue.submissions().len() >= 2).await;
    anvil.mine(1).await;
    wait_for("confirmation", async || queue.confirmed().len() == 1).await;
    let status = run.status.get();
    run.stop().await;

    let subs = queue.submissions();
    let first = &subs[0].1;
    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    let mined = &txs[0];
    assert_eq!(mined.nonce, first.nonce, "replacement keeps the nonce");
    assert_ne!(
        mined.hash, first.tx_hash,
        "the replacement was mined, not the original"
    );
    assert!(mined.max_fee * 100 >= first.max_fee_per_gas * 110);
    assert!(mined.tip * 100 >= first.max_priority_fee_per_gas * 110);
    let mined_sub = subs
        .iter()
        .find(|(_, s)| s.tx_hash == mined.hash)
        .expect("mined tx was recorded");
    assert_eq!(mined_sub.1.max_fee_per_gas, mined.max_fee);
    assert!(status.bumped >= 1);
    // Exactly one tx mined for the nonce (anvil: one per nonce anyway, but nothing else snuck in).
    let nonce_now = anvil
        .provider()
        .get_transaction_count(Anvil::dev_key(0).address())
        .await
        .unwrap();
    assert_eq!(nonce_now, first.nonce + 1);
}

fn foreign_tx(chain_id: u64, nonce: u64, max_fee: u128) -> Bytes {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: max_fee,
        to: TxKind::Call(address!("0x000000000000000000000000000000000000dead")),
        value: U256::from(1),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = Anvil::dev_key(0)
        .sign_hash_sync(&tx.signature_hash())
        .unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_tx_taking_the_nonce_leads_to_a_repost() {
    let anvil = Anvil::spawn().await;
    anvil.set_automine(false).await;
    let batches: [&[u8]; 2] = [b"first, displaced", b"second"];
    let queue = MemQueue::new(&batches);
    let run = start(config(&anvil, 1, Duration::from_secs(600)), queue.clone());
    wait_for("first submission", async || !queue.submissions().is_empty()).await;
    let first = queue.submissions()[0].1.clone();

    // Another holder of the key replaces the poster's tx in the pool and gets it mined.
    let p = anvil.provider();
    let chain_id = p.get_chain_id().await.unwrap();
    let _pending = p
        .send_raw_transaction(&foreign_tx(
            chain_id,
            first.nonce,
            first.max_fee_per_gas * 3,
        ))
        .await
        .unwrap();
    anvil.mine(1).await;
    anvil.set_automine(true).await;

    wait_for("both batches confirmed", async || {
        queue.confirmed().len() == 2
    })
    .await;
    let status = run.status.get();
    run.stop().await;

    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    assert!(txs[0].nonce > first.nonce, "re-posted under a fresh nonce");
    assert!(status.reposted >= 1);
}

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
async fn foreign_tx_between_batches_moves_the_next_nonce() {
    let anvil = Anvil::spawn().await;
    let batches: [&[u8]; 2] = [b"one", b"two, after a foreign tx"];
    let queue = MemQueue::new(&batches);
    queue.available.store(1, Ordering::SeqCst);
    let run = start(config(&anvil, 1, Duration::from_secs(600)), queue.clone());
    wait_for("first confirmed", async || queue.confirmed().len() == 1).await;

    // Another sender of the key uses the nonce the poster would take next.
    let p = anvil.provider();
    let sender = Anvil::dev_key(0).address();
    let nonce = p.get_transaction_count(sender).await.unwrap();
    let chain_id = p.get_chain_id().await.unwrap();
    let _pending = p
        .send_raw_transaction(&foreign_tx(chain_id, nonce, 10_000_000_000))
        .await
        .unwrap();
    // Automine answers before the block is in; wait for the nonce to move.
    wait_for("foreign tx mined", async || {
        p.get_transaction_count(sender).await.unwrap() == nonce + 1
    })
    .await;

    queue.available.store(2, Ordering::SeqCst);
    wait_for("second confirmed", async || queue.confirmed().len() == 2).await;
    run.stop().await;

    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    assert_eq!(txs[1].nonce, nonce + 1);
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_batches_in_flight_on_consecutive_nonces() {
    let anvil = Anvil::spawn().await;
    anvil.set_automine(false).await;
    let batches: [&[u8]; 4] = [b"zero", b"one", b"two", b"three"];
    let queue = MemQueue::new(&batches);
    let mut c = config(&anvil, 2, Duration::from_secs(60));
    c.max_in_flight = 3;
    let run = start(c, queue.clone());
    wait_for("three batches out", async || queue.submissions().len() == 3).await;
    // The window is full until one confirms; give the poster a few more looks.
    let ticks = run.status.get().ticks;
    wait_for("more ticks", async || run.status.get().ticks >= ticks + 3).await;
    let subs = queue.submissions();
    assert_eq!(subs.len(), 3, "at most max_in_flight batches out: {subs:?}");
    let nonces: Vec<(u64, u64)> = subs.iter().map(|(i, s)| (*i, s.nonce)).collect();
    assert_eq!(nonces, vec![(0, 0), (1, 1), (2, 2)]);
    assert_eq!(run.status.get().in_flight.len(), 3);
    // One block mines all three; two confirm them; the fourth follows.
    anvil.set_automine(true).await;
    anvil.mine(2).await;
    wait_for("4 confirmations", async || {
        anvil.mine(1).await;
        queue.confirmed().len() == 4
    })
    .await;
    run.stop().await;
    let txs = inbox_txs(&anvil).await;
    assert_each_posted_once(&txs, &batches);
    assert_eq!(txs[0].block, txs[2].block, "the first three share a block");
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
