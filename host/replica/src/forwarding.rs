//! A follower's `eth_sendRawTransaction`s on their way to the leader.
//!
//! The follower has decoded each transaction and recovered its sender (the costly step of
//! accepting one) before it gets here. [`TxForwarder::forward`] queues it; one task takes
//! the queue in batches and posts each batch to the leader's replication listener
//! (`/forward/txs`), at most [`IN_FLIGHT`] at once. Under load a batch is whatever queued
//! while the previous ones were out, so the leader handles one request, and recovers no
//! signature, for many transactions; at rest a transaction goes alone, at once.
//!
//! The leader submits them to its pool as its own ingress would, and answers each with its
//! hash or its error. A transaction gets the leader's answer or a retryable error (no
//! leader, none answering), never a success the leader did not give.

use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::{
    HttpNetwork,
    types::{NodeId, Raft},
};

/// A forwarded transaction's answer: its hash, or a JSON-RPC error (code, message).
pub type TxAnswer = Result<B256, (i32, String)>;

/// Batches posted to the leader at once.
const IN_FLIGHT: usize = 4;
/// Most transactions in one batch.
const MAX_BATCH: usize = 1024;
/// Most raw bytes in one batch, far below the listener's request limit.
const MAX_BATCH_BYTES: usize = 4 << 20;
/// Transactions queued here at most; past it a sender is told to retry.
const QUEUE: usize = 16_384;

type Queued = (Bytes, Address, oneshot::Sender<TxAnswer>);

/// The queue of transactions this replica forwards to the leader.
#[derive(Debug, Clone)]
pub(crate) struct TxForwarder {
    queue: mpsc::Sender<Queued>,
}

impl TxForwarder {
    /// The queue, and the task that sends it (to be aborted when the replica stops).
    pub(crate) fn start(
        me: NodeId,
        raft: Raft,
        network: HttpNetwork,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(send_batches(me, raft, network, rx));
        (Self { queue }, task)
    }

    /// Hands `raw`, signed by `sender`, to the leader: the leader's answer.
    pub(crate) async fn forward(&self, raw: Bytes, sender: Address) -> TxAnswer {
        let (answer, answered) = oneshot::channel();
        if self.queue.try_send((raw, sender, answer)).is_err() {
            return Err((
                -32000,
                "too many transactions waiting for the leader; retry".into(),
            ));
        }
        answered.await.unwrap_or_else(|_| {
            Err((
                -32000,
                "the replica stopped before the leader answered; retry".into(),
            ))
        })
    }
}

async fn send_batches(me: NodeId, raft: Raft, network: HttpNetwork, mut rx: mpsc::Receiver<Queued>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // A slot first: while every slot is taken the queue grows into the next batch.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut bytes = first.0.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(next) => {
                    bytes += next.0.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let (raft, network) = (raft.clone(), network.clone());
        tokio::spawn(async move {
            send_batch(me, &raft, &network, batch).await;
            drop(slot);
        });
    }
}

/// Posts one batch to the leader and hands each transaction its answer.
async fn send_batch(me: NodeId, raft: &Raft, network: &HttpNetwork, batch: Vec<Queued>) {
    metrics::histogram!("ordo_forward_batch_size").record(batch.len() as f64);
    metrics::counter!("ordo_rpc_forwarded_total", "method" => "eth_sendRawTransaction")
        .increment(batch.len() as u64);
    let (txs, answers): (Vec<(Bytes, Address)>, Vec<oneshot::Sender<TxAnswer>>) = batch
        .into_iter()
        .map(|(raw, sender, answer)| ((raw, sender), answer))
        .unzip();
    let answered = match crate::replica::leader_of(raft, me) {
        None => Err((
            -32000,
            "no replica leads right now (an election is under way); retry".to_string(),
        )),
        Some((leader, node)) => match network.forward_txs(leader, &node.addr, &txs).await {
            Ok(each) if each.len() == txs.len() => Ok(each),
            Ok(each) => Err((
                -32603,
                format!(
                    "the leader (replica {leader}) answered {} of {} transactions",
                    each.len(),
                    txs.len()
                ),
            )),
            // It may or may not have taken them: the caller retries (a second send of the
            // same transaction is answered "already known", never included twice).
            Err(e) => Err((
                -32000,
                format!("the leader (replica {leader}) did not answer ({e}); retry"),
            )),
        },
    };
    match answered {
        Ok(each) => {
            for (answer, one) in answers.into_iter().zip(each) {
                let _ = answer.send(one);
            }
        }
        Err(e) => {
            for answer in answers {
                let _ = answer.send(Err(e.clone()));
            }
        }
    }
}
