//! WebSocket connections and `eth_subscribe` subscriptions.
//!
//! One connection = a reader loop, a writer task draining a bounded queue, and one task per
//! subscription. Every incoming message is handled in its own task (bounded per connection), so
//! a slow `eth_call` does not hold up `eth_sendRawTransaction`s behind it. Subscription tasks
//! read the backend's [`ChainEvent`] broadcast, filter, and queue `eth_subscription`
//! notifications; a subscription's first notification is held back until the `eth_subscribe`
//! response has been queued (its start signal is dropped with the request's [`WsContext`]).
//! A subscription whose client is too slow skips the events it lagged behind (logged).

use std::sync::Arc;

use alloy_primitives::B256;
use alloy_rpc_types_eth::Filter;
use axum::extract::ws::{Message, WebSocket};
use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use std::collections::HashMap;
use tokio::{
    sync::{Semaphore, broadcast::error::RecvError, mpsc, oneshot},
    task::AbortHandle,
};

use crate::{
    BackendError, ChainEvent, EthBackend,
    dispatch::{MethodResult, RequestContext, Server, to_raw},
    filters::{format_id, parse_id, random_id},
    framing,
    params::Params,
};

/// What a subscription sends.
#[derive(Debug)]
enum Kind {
    NewHeads,
    Logs(Box<Filter>),
    PendingTxHashes,
    PendingTxs,
}

/// One open WebSocket connection: its outgoing queue and its subscriptions.
#[derive(Debug)]
pub(crate) struct WsConnection {
    out: mpsc::Sender<Message>,
    subscriptions: Mutex<HashMap<u128, AbortHandle>>,
    max_subscriptions: usize,
}

impl WsConnection {
    fn close(&self) {
        for (_, task) in self.subscriptions.lock().drain() {
            task.abort();
        }
    }
}

impl Drop for WsConnection {
    fn drop(&mut self) {
        self.close();
    }
}

/// The per-message context handed to dispatch for WebSocket requests.
///
/// Holds the start signals of subscriptions created by this message; dropping the context
/// (after the response is queued) starts them.
pub(crate) struct WsContext {
    conn: Arc<WsConnection>,
    starts: Mutex<Vec<oneshot::Sender<()>>>,
}

impl WsContext {
    /// `eth_subscribe`: `["newHeads"]`, `["logs", {address, topics}]`,
    /// `["newPendingTransactions", fullTx?]`.
    pub(crate) fn subscribe(&self, server: &Server, params: &Params<'_>) -> MethodResult {
        params.at_most(2)?;
        let name: String = params.required(0)?;
        let kind = match name.as_str() {
            "newHeads" => Kind::NewHeads,
            "logs" => Kind::Logs(Box::new(params.optional::<Filter>(1)?.unwrap_or_default())),
            "newPendingTransactions" => {
                if params.optional::<bool>(1)?.unwrap_or(false) {
                    Kind::PendingTxs
                } else {
                    Kind::PendingTxHashes
                }
            }
            other => {
                return Err(BackendError::invalid_params(format!(
                    "no \"{other}\" subscription in eth namespace"
                )));
            }
        };
        let mut subscriptions = self.conn.subscriptions.lock();
        if subscriptions.len() >= self.conn.max_subscriptions {
            return Err(BackendError::limit_exceeded("too many subscriptions"));
        }
        let mut id = random_id();
        while subscriptions.contains_key(&id) {
            id = random_id();
        }
        let id_text = format_id(id);
        let (start_tx, start_rx) = oneshot::channel();
        let subscription = Subscription {
            prefix: format!(
                r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"{id_text}","result":"#
            ),
            kind,
            out: self.conn.out.clone(),
            backend: Arc::clone(&server.backend),
        };
        let events = server.backend.subscribe();
        let task = tokio::spawn(subscription.run(events, start_rx));
        subscriptions.insert(id, task.abort_handle());
        drop(subscriptions);
        self.starts.lock().push(start_tx);
        tracing::debug!(target: "ordo::rpc", id = %id_text, kind = %name, "subscribed");
        to_raw(&id_text)
    }

    /// `eth_unsubscribe`: `true` if the subscription existed on this connection.
    pub(crate) fn unsubscribe(&self, id: &str) -> bool {
        let Some(id) = parse_id(id) else { return false };
        match self.conn.subscriptions.lock().remove(&id) {
            Some(task) => {
                task.abort();
                true
            }
            None => false,
        }
    }
}

struct Subscription {
    /// `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x..","result":`
    prefix: String,
    kind: Kind,
    out: mpsc::Sender<Message>,
    backend: Arc<dyn EthBackend>,
}

impl Subscription {
    async fn run(
        self,
        mut events: tokio::sync::broadcast::Receiver<ChainEvent>,
        start: oneshot::Receiver<()>,
    ) {
        // Sent or dropped once the eth_subscribe response is queued; either way, go.
        let _ = start.await;
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(target: "ordo::rpc", missed, "subscriber too slow, events skipped");
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            let sent = match (&self.kind, event) {
                (Kind::NewHeads, ChainEvent::NewBlock { header, .. }) => {
                    self.notify(&*header).await
                }
                (Kind::Logs(filter), ChainEvent::NewBlock { logs, .. }) => {
                    let mut sent = true;
                    for log in logs.iter().filter(|log| filter.matches(&log.inner)) {
                        sent = self.notify(log).await;
                        if !sent {
                            break;
                        }
                    }
                    sent
                }
                (Kind::PendingTxHashes, ChainEvent::PendingTx(hash)) => self.notify(&hash).await,
                (Kind::PendingTxs, ChainEvent::PendingTx(hash)) => self.notify_full_tx(hash).await,
                _ => true,
            };
            if !sent {
                break;
            }
        }
    }

    async fn notify_full_tx(&self, hash: B256) -> bool {
        match self.backend.transaction_by_hash(hash) {
            Ok(Some(tx)) => self.notify(&tx).await,
            Ok(None) => true,
            Err(err) => {
                tracing::debug!(target: "ordo::rpc", %hash, error = %err, "pending tx lookup failed");
                true
            }
        }
    }

    /// Queues one notification; `false` once the connection is gone.
    async fn notify<T: serde::Serialize + ?Sized>(&self, result: &T) -> bool {
        let mut text = String::with_capacity(self.prefix.len() + 256);
        text.push_str(&self.prefix);
        // Writing into a String through serde_json keeps it valid UTF-8.
        match serde_json::to_string(result) {
            Ok(json) => text.push_str(&json),
            Err(err) => {
                tracing::warn!(target: "ordo::rpc", error = %err, "notification not serializable");
                return true;
            }
        }
        text.push_str("}}");
        self.out.send(Message::Text(text.into())).await.is_ok()
    }
}

/// Limits of one WebSocket connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WsLimits {
    pub(crate) max_in_flight: usize,
    pub(crate) send_queue: usize,
    pub(crate) max_subscriptions: usize,
}

/// Serves one upgraded connection until the client leaves.
pub(crate) async fn serve_connection(
    server: Arc<Server>,
    socket: WebSocket,
    limits: WsLimits,
    client: Option<std::net::IpAddr>,
) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut queue) = mpsc::channel::<Message>(limits.send_queue.max(1));
    let writer = tokio::spawn(async move {
        while let Some(message) = queue.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let conn = Arc::new(WsConnection {
        out,
        subscriptions: Mutex::new(HashMap::new()),
        max_subscriptions: limits.max_subscriptions,
    });
    let in_flight = Arc::new(Semaphore::new(limits.max_in_flight.max(1)));
    while let Some(message) = stream.next().await {
        let message = match message {
            Ok(Message::Close(_)) => break,
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => message,
            Ok(_) => continue, // ping/pong are answered by the protocol layer
            Err(err) => {
                tracing::debug!(target: "ordo::rpc", error = %err, "websocket read failed");
                break;
            }
        };
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            break;
        };
        let server = Arc::clone(&server);
        let ctx = WsContext {
            conn: Arc::clone(&conn),
            starts: Mutex::new(Vec::new()),
        };
        tokio::spawn(async move {
            let body: &[u8] = match &message {
                Message::Text(text) => text.as_str().as_bytes(),
                Message::Binary(bytes) => bytes,
                _ => &[],
            };
            if let Some(response) = framing::handle(
                &server,
                body,
                RequestContext {
                    ws: Some(&ctx),
                    searcher: None,
                    client,
                },
            )
            .await
            {
                match String::from_utf8(response) {
                    Ok(text) => {
                        let _ = ctx.conn.out.send(Message::Text(text.into())).await;
                    }
                    Err(err) => {
                        tracing::warn!(target: "ordo::rpc", error = %err, "response not UTF-8");
                    }
                }
            }
            drop(ctx); // starts this message's subscriptions, after their response
            drop(permit);
        });
    }
    conn.close();
    drop(conn);
    // The writer ends once in-flight requests finish and every queue sender is gone.
    let _ = writer.await;
    tracing::debug!(target: "ordo::rpc", "websocket closed");
}
