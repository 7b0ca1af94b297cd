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
//! leader, none answering within [`WITHIN`]), never a success the leader did not give. Two
//! cases go back to the caller instead: this replica leads by the time its batch leaves (it
//! admits the transaction itself), and a leader of an older build without `/forward/txs`
//! (the call goes to its public JSON-RPC as it came, as it did before).
//!
//! The leader takes the senders on the group's word (its shared secret), as followers take
//! a `Txs` entry's: every replica is the same sequencer, holding the same L1 key.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, Bytes};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::{
    HttpNetwork,
    network::{TxsNotTaken, leader_of, leads_now},
    types::{Forwarded, NodeId, Raft, TxAnswer},
};

/// Batches posted to the leader at once.
const IN_FLIGHT: usize = 4;
/// Most transactions in one batch.
const MAX_BATCH: usize = 1024;
/// Most raw bytes in one batch, far below the listener's request limit.
const MAX_BATCH_BYTES: usize = 4 << 20;
/// Transactions queued here at most; past it a sender is told to retry.
const QUEUE: usize = 8192;
/// Longest a transaction waits here and for the leader's answer: its sender is told to
/// retry rather than kept waiting on a leader that stalls.
const WITHIN: Duration = Duration::from_secs(10);

struct Queued {
    raw: Bytes,
    sender: Address,
    at: Instant,
    answer: oneshot::Sender<Forwarded>,
}

fn retry(why: String) -> Forwarded {
    Forwarded::Answer(Err((-32000, why)))
}

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

    /// Hands `raw`, signed by `sender`, to the leader.
    pub(crate) async fn forward(&self, raw: Bytes, sender: Address) -> Forwarded {
        let (answer, answered) = oneshot::channel();
        let queued = Queued {
            raw,
            sender,
            at: Instant::now(),
            answer,
        };
        match self.queue.try_send(queued) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                return retry("too many transactions waiting for the leader; retry".into());
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                return retry("the replica is stopping; retry".into());
            }
        }
        answered.await.unwrap_or_else(|_| {
            retry("the replica stopped before the leader answered; retry".into())
        })
    }
}

async fn send_batches(
    me: NodeId,
    raft: Raft,
    network: HttpNetwork,
    mut rx: mpsc::Receiver<Queued>,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // A slot first: while every slot is taken the queue grows into the next batch.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::new();
        let mut bytes = 0;
        while batch.is_empty() || (batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES) {
            let next = if batch.is_empty() {
                match rx.recv().await {
                    Some(next) => next,
                    None => return,
                }
            } else {
                match rx.try_recv() {
                    Ok(next) => next,
                    Err(_) => break,
                }
            };
            // Its sender has waited long enough behind a leader that does not answer.
            if next.at.elapsed() >= WITHIN {
                let _ = next.answer.send(retry(format!(
                    "the leader did not take it within {WITHIN:?}; retry"
                )));
                continue;
            }
            bytes += next.raw.len();
            batch.push(next);
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
    // The oldest sender's wait bounds the whole exchange, tries included.
    let deadline = batch
        .iter()
        .map(|q| q.at)
        .min()
        .unwrap_or_else(Instant::now)
        + WITHIN;
    let (txs, answers): (Vec<(Bytes, Address)>, Vec<oneshot::Sender<Forwarded>>) = batch
        .into_iter()
        .map(|q| ((q.raw, q.sender), q.answer))
        .unzip();
    let view = || {
        if leads_now(raft, me) {
            Leader::Me
        } else {
            leader_of(raft, me).map_or(Leader::Unknown, |(id, node)| Leader::Other(id, node.addr))
        }
    };
    let answered = post(&view, network, &txs, deadline).await;
    match answered {
        Ok(each) => {
            for (answer, one) in answers.into_iter().zip(each) {
                let _ = answer.send(Forwarded::Answer(one));
            }
        }
        Err(outcome) => {
            for answer in answers {
                let _ = answer.send(outcome.clone());
            }
        }
    }
}

/// Who leads, as this replica sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Leader {
    Me,
    /// Another replica, and its replication listener.
    Other(NodeId, String),
    Unknown,
}

/// The leader's answers to `txs`, one each, or what every one of them gets instead. `view`
/// says who leads, asked again before each try.
async fn post(
    view: &(dyn Fn() -> Leader + Sync),
    network: &HttpNetwork,
    txs: &[(Bytes, Address)],
    deadline: Instant,
) -> Result<Vec<TxAnswer>, Forwarded> {
    let mut tried = None;
    // A second try only when the first leader said it no longer leads (so took nothing)
    // and another is known by then.
    for _ in 0..2 {
        let (leader, addr) = match view() {
            Leader::Me => return Err(Forwarded::Leading),
            Leader::Other(leader, addr) if Some(leader) != tried => (leader, addr),
            Leader::Other(..) | Leader::Unknown => break,
        };
        let within = deadline.saturating_duration_since(Instant::now());
        if within.is_zero() {
            return Err(retry(format!(
                "the leader did not take it within {WITHIN:?}; retry"
            )));
        }
        if tried.is_none() {
            metrics::histogram!("ordo_forward_batch_size").record(txs.len() as f64);
            metrics::counter!("ordo_rpc_forwarded_total", "method" => "eth_sendRawTransaction")
                .increment(txs.len() as u64);
        }
        tried = Some(leader);
        let answered = match network.forward_txs(leader, &addr, txs, within).await {
            Err(TxsNotTaken::NotLeading) => continue,
            Ok(each) if each.len() == txs.len() => Ok(each),
            Ok(each) => Err(retry(format!(
                "the leader (replica {leader}) answered {} of {} transactions; retry",
                each.len(),
                txs.len()
            ))),
            Err(TxsNotTaken::Unsupported) => Err(Forwarded::Unsupported),
            // It may or may not have taken them: the caller retries (a second send of the
            // same transaction is answered "already known", never included twice).
            Err(TxsNotTaken::Failed(e)) => Err(retry(format!(
                "the leader (replica {leader}) did not answer ({e}); retry"
            ))),
        };
        return answered;
    }
    Err(retry(match tried {
        Some(leader) => format!("replica {leader} no longer leads; retry"),
        None => "no replica leads right now (an election is under way); retry".to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use axum::{Json, Router, http::StatusCode, response::IntoResponse, routing::post as route};

    use super::*;
    use crate::Faults;

    /// A listener answering `/forward/txs` with `status`, or (None) hashing each raw.
    async fn leader(status: Option<StatusCode>) -> String {
        let app = Router::new().route(
            "/forward/txs",
            route(move |Json(txs): Json<Vec<(Bytes, Address)>>| async move {
                match status {
                    Some(status) => status.into_response(),
                    None => Json(
                        txs.iter()
                            .map(|(raw, _)| Ok(alloy_primitives::keccak256(raw)))
                            .collect::<Vec<TxAnswer>>(),
                    )
                    .into_response(),
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    /// Answers `views` in turn (the last one from then on).
    fn views(views: Vec<Leader>) -> impl Fn() -> Leader + Sync {
        let next = std::sync::Mutex::new(0);
        move || {
            let mut i = next.lock().unwrap();
            let view = views[(*i).min(views.len() - 1)].clone();
            *i += 1;
            view
        }
    }

    fn batch() -> Vec<(Bytes, Address)> {
        vec![(Bytes::from_static(&[1]), Address::ZERO)]
    }

    #[tokio::test]
    async fn a_deposed_leader_is_followed_by_one_try_of_the_new_one_within_the_deadline() {
        let net = HttpNetwork::new(1, "s".into(), Faults::default());
        let deposed = leader(Some(StatusCode::SERVICE_UNAVAILABLE)).await;
        let answering = leader(None).await;
        let soon = Instant::now() + Duration::from_secs(5);
        let hashed = Ok(vec![Ok(alloy_primitives::keccak256([1]))]);

        // "Not leading" (nothing taken): the newly known leader answers.
        let moved = views(vec![
            Leader::Other(2, deposed.clone()),
            Leader::Other(3, answering.clone()),
        ]);
        assert_eq!(post(&moved, &net, &batch(), soon).await, hashed);

        // The same one still named: no second request to it, a retry for the sender.
        let stale = views(vec![Leader::Other(2, deposed.clone())]);
        let Err(Forwarded::Answer(Err((code, why)))) = post(&stale, &net, &batch(), soon).await
        else {
            panic!("a deposed leader's batch was answered")
        };
        assert!(code == -32000 && why.contains("no longer leads"), "{why}");

        // Leading by then: handed back, nothing sent; no leader at all: a retry.
        let mine = views(vec![Leader::Other(2, deposed), Leader::Me]);
        assert_eq!(
            post(&mine, &net, &batch(), soon).await,
            Err(Forwarded::Leading)
        );
        let none = views(vec![Leader::Unknown]);
        let Err(Forwarded::Answer(Err((-32000, why)))) = post(&none, &net, &batch(), soon).await
        else {
            panic!("answered with no leader")
        };
        assert!(why.contains("no replica leads"), "{why}");

        // Past the oldest sender's deadline nothing is sent, even to a leader that answers.
        let late = views(vec![Leader::Other(3, answering)]);
        let Err(Forwarded::Answer(Err((-32000, why)))) =
            post(&late, &net, &batch(), Instant::now()).await
        else {
            panic!("sent past the deadline")
        };
        assert!(why.contains("within"), "{why}");
    }
}
