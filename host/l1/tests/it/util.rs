//! Shared helpers: an in-memory [`BatchQueue`] that records every call, the poster's config
//! and task, polling, and reading the inbox txs back from anvil.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, B256, Bytes, address},
    providers::Provider,
};
use ordo_l1::{
    BatchQueue, Confirmation, ConfirmedBatch, DaMode, L1Config, L1Poster, QueuedBatch, RecordError,
    StatusHandle, Submission, testing::Anvil,
};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const INBOX: Address = address!("0x00000000000000000000000000000000000b0b0b");

/// An in-memory queue that records every call.
#[derive(Default)]
pub struct MemQueue {
    pub batches: Vec<Bytes>,
    /// How many of `batches` the batcher has "sealed" so far.
    pub available: AtomicUsize,
    pub state: Mutex<QState>,
    /// This many of the next `submitted` writes fail (a full or failing disk).
    pub fail_submits: AtomicUsize,
    /// `submitted` writes that failed.
    pub failed_submits: AtomicUsize,
    /// Makes the next `submitted` write hang until released (a slow fsync).
    pub hold_submit: Mutex<Option<Hold>>,
}

/// A hanging write: says it started, waits for `go` (or a failure guard), records which.
pub struct Hold {
    pub entered: oneshot::Sender<()>,
    pub go: std::sync::mpsc::Receiver<()>,
    pub released: Arc<AtomicBool>,
}

#[derive(Default)]
pub struct QState {
    pub last: BTreeMap<u64, Submission>,
    pub submissions: Vec<(u64, Submission)>,
    /// Confirmed batches (finalized or not), in the order they were confirmed.
    pub confirmed: Vec<(u64, Confirmation)>,
    /// Confirmations a reorg undid, in order.
    pub reorged: Vec<(u64, Confirmation)>,
}

impl MemQueue {
    pub fn new(batches: &[&[u8]]) -> Arc<Self> {
        Arc::new(Self {
            batches: batches.iter().map(|b| Bytes::copy_from_slice(b)).collect(),
            available: AtomicUsize::new(batches.len()),
            ..Default::default()
        })
    }
    pub fn confirmed(&self) -> Vec<(u64, Confirmation)> {
        self.state.lock().confirmed.clone()
    }
    pub fn submissions(&self) -> Vec<(u64, Submission)> {
        self.state.lock().submissions.clone()
    }
    pub fn finalized(&self) -> Vec<u64> {
        let s = self.state.lock();
        s.confirmed
            .iter()
            .filter(|(_, c)| c.finalized)
            .map(|(i, _)| *i)
            .collect()
    }
    pub fn reorged(&self) -> Vec<(u64, Confirmation)> {
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

pub fn config(anvil: &Anvil, confirmations: u64, resubmit_after: Duration) -> L1Config {
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

pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    pub status: StatusHandle,
}

impl Running {
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

pub fn start(config: L1Config, queue: Arc<MemQueue>) -> Running {
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
pub async fn wait_for(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the queue's first submission has a receipt on `anvil`.
pub async fn wait_first_included(anvil: &Anvil, queue: &MemQueue) {
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
pub struct InboxTx {
    pub block: u64,
    pub from: Address,
    pub nonce: u64,
    pub input: Bytes,
    pub max_fee: u128,
    pub tip: u128,
    pub hash: B256,
    /// EIP-2718 type (2: calldata, 3: blobs).
    pub kind: u64,
    pub blob_hashes: Vec<B256>,
    pub max_blob_fee: Option<u128>,
}

pub fn q(v: &Value) -> u128 {
    u128::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

pub async fn inbox_txs(anvil: &Anvil) -> Vec<InboxTx> {
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

pub fn assert_each_posted_once(txs: &[InboxTx], batches: &[&[u8]]) {
    let inputs: Vec<&[u8]> = txs.iter().map(|t| t.input.as_ref()).collect();
    assert_eq!(
        inputs, batches,
        "inbox txs must be exactly the batches, once each, in order"
    );
    let sender = Anvil::dev_key(0).address();
    assert!(txs.iter().all(|t| t.from == sender));
}
