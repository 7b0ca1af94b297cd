//! WebSocket connections and `eth_subscribe` subscriptions.
//!
//! One connection = a reader loop, a writer task draining a bounded queue, and one task per
//! subscription. Every incoming message is handled in its own task (bounded per connection), so
//! a slow `eth_call` does not hold up `eth_sendRawTransaction`s behind it. Subscription tasks
//! read the backend's [`ChainEvent`] broadcast, filter, and queue `eth_subscription`
//! notifications; a subscription's first notification is held back until the `eth_subscribe`
//! response has been queued (its start signal is dropped with the request's [`WsContext`]).
//! A subscription whose client is too slow skips the events it lagged behind (logged).
//!
//! Bounds: each subscription holds a [`Reservation`] of its client's filter slots and criteria
//! bytes; outgoing messages count their bytes per connection and per client, and a reader that
//! lets either budget fill up is disconnected (its queue is dropped, not grown). A connection
//! that sends nothing, not even the pong to the server's ping, for `idle_timeout` is closed.

use std::{
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use alloy_primitives::B256;
use alloy_rpc_types_eth::Filter;
use axum::extract::ws::{Message, WebSocket};
use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use std::collections::HashMap;
use tokio::{
    sync::{Semaphore, broadcast::error::RecvError, mpsc, oneshot, watch},
    task::AbortHandle,
};

use crate::{
    BackendError, ChainEvent, EthBackend, Params,
    clients::{Clients, Reservation, check_filter, filter_bytes},
    filters::{format_id, parse_id, random_id},
    framing,
    namespace::json as to_raw,
    server::{MethodResult, RequestContext, Server, Subscriptions},
};

/// What a subscription sends.
#[derive(Debug)]
enum Kind {
    NewHeads,
    Logs(Box<Filter>),
    PendingTxHashes,
    PendingTxs,
}

/// The outgoing side of one connection: a bounded queue whose bytes are counted against the
/// connection's and the client's budgets.
#[derive(Debug)]
struct Outbox {
    queue: mpsc::Sender<(Message, usize)>,
    queued: AtomicUsize,
    max_bytes: usize,
    client: Option<IpAddr>,
    clients: Arc<Clients>,
    /// Set once the connection is being torn down; the reader and the writer both watch it.
    killed: watch::Sender<bool>,
}

impl Outbox {
    /// Queues a message; `false` once the connection is gone or was cut off for reading too
    /// slowly.
    async fn send(&self, message: Message) -> bool {
        if *self.killed.borrow() {
            return false;
        }
        let bytes = match &message {
            Message::Text(text) => text.as_str().len(),
            Message::Binary(bytes) => bytes.len(),
            _ => 16,
        };
        let queued = self.queued.load(Ordering::Acquire);
        // An empty queue takes one message of any size: a large answer is not a slow reader.
        let over = queued > 0 && queued.saturating_add(bytes) > self.max_bytes;
        if over || !self.clients.queue(self.client, bytes) {
            tracing::debug!(target: "ordo::rpc", queued, bytes, "websocket reader too slow, disconnecting");
            metrics::counter!("ordo_rpc_ws_slow_disconnects_total").increment(1);
            self.kill();
            return false;
        }
        self.queued.fetch_add(bytes, Ordering::AcqRel);
        if self.queue.send((message, bytes)).await.is_err() {
            self.sent(bytes);
            return false;
        }
        true
    }

    /// Bytes that left the queue.
    fn sent(&self, bytes: usize) {
        self.queued.fetch_sub(bytes, Ordering::AcqRel);
        self.clients.dequeue(self.client, bytes);
    }

    fn kill(&self) {
        self.killed.send_replace(true);
    }

    /// Resolves once the connection is being torn down.
    async fn killed(&self) {
        let mut killed = self.killed.subscribe();
        // The sender lives as long as `self`, so waiting only ends with `true`.
        let _ = killed.wait_for(|killed| *killed).await;
    }
}

/// One open WebSocket connection: its outgoing queue and its subscriptions.
#[derive(Debug)]
pub(crate) struct WsConnection {
    out: Arc<Outbox>,
    subscriptions: Mutex<HashMap<u128, (AbortHandle, Reservation)>>,
    max_subscriptions: usize,
}

impl WsConnection {
    fn close(&self) {
        for (_, (task, _slot)) in self.subscriptions.lock().drain() {
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

impl Subscriptions for WsContext {
    /// `eth_subscribe`: `["newHeads"]`, `["logs", {address, topics}]`,
    /// `["newPendingTransactions", fullTx?]`.
    fn subscribe(
        &self,
        server: &Server,
        params: &Params<'_>,
        client: Option<IpAddr>,
    ) -> MethodResult {
        let Some(backend) = &server.backend else {
            return Err(BackendError::method_not_found("eth_subscribe"));
        };
        params.at_most(2)?;
        let name: String = params.required(0)?;
        let mut bytes = 256;
        let kind = match name.as_str() {
            "newHeads" => Kind::NewHeads,
            "logs" => {
                let filter = params.optional::<Filter>(1)?.unwrap_or_default();
                check_filter(&filter)?;
                bytes = filter_bytes(&filter);
                Kind::Logs(Box::new(filter))
            }
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
        let slot = server.clients.reserve_filter(client, bytes)?;
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
            out: Arc::clone(&self.conn.out),
            backend: Arc::clone(backend),
        };
        let events = backend.subscribe();
        let task = tokio::spawn(subscription.run(events, start_rx));
        subscriptions.insert(id, (task.abort_handle(), slot));
        drop(subscriptions);
        self.starts.lock().push(start_tx);
        tracing::debug!(target: "ordo::rpc", id = %id_text, kind = %name, "subscribed");
        to_raw(&id_text)
    }

    /// `eth_unsubscribe`: `true` if the subscription existed on this connection.
    fn unsubscribe(&self, id: &str) -> bool {
        let Some(id) = parse_id(id) else { return false };
        match self.conn.subscriptions.lock().remove(&id) {
            Some((task, _slot)) => {
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
    out: Arc<Outbox>,
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
        self.out.send(Message::Text(text.into())).await
    }
}

/// Limits of one WebSocket connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WsLimits {
    pub(crate) max_in_flight: usize,
    pub(crate) send_queue: usize,
    pub(crate) max_subscriptions: usize,
    pub(crate) max_queue_bytes: usize,
    pub(crate) idle_timeout: Duration,
}

/// Serves one upgraded connection until the client leaves, goes idle or reads too slowly.
pub(crate) async fn serve_connection(
    server: Arc<Server>,
    socket: WebSocket,
    limits: WsLimits,
    client: Option<IpAddr>,
) {
    let (mut sink, mut stream) = socket.split();
    let (queue, mut outgoing) = mpsc::channel::<(Message, usize)>(limits.send_queue.max(1));
    let out = Arc::new(Outbox {
        queue,
        queued: AtomicUsize::new(0),
        max_bytes: limits.max_queue_bytes.max(1),
        client,
        clients: Arc::clone(&server.clients),
        killed: watch::Sender::new(false),
    });
    let writer = tokio::spawn({
        let out = Arc::clone(&out);
        async move {
            loop {
                let next = tokio::select! {
                    next = outgoing.recv() => next,
                    () = out.killed() => None,
                };
                let Some((message, bytes)) = next else { break };
                // A killed connection stops writing at once, even mid-way through a
                // message the client is not reading.
                let written = tokio::select! {
                    sent = sink.send(message) => sent.is_ok(),
                    () = out.killed() => false,
                };
                out.sent(bytes);
                if !written {
                    break;
                }
            }
            // What is still queued is dropped with the connection: give its bytes back.
            outgoing.close();
            while let Ok((_, bytes)) = outgoing.try_recv() {
                out.sent(bytes);
            }
            let _ = sink.close().await;
        }
    });
    let conn = Arc::new(WsConnection {
        out: Arc::clone(&out),
        subscriptions: Mutex::new(HashMap::new()),
        max_subscriptions: limits.max_subscriptions,
    });
    let in_flight = Arc::new(Semaphore::new(limits.max_in_flight.max(1)));
    // Half the idle deadline without a message: ping; the other half without one (a pong
    // counts): close.
    let half_idle = (limits.idle_timeout / 2).max(Duration::from_millis(1));
    let mut pinged = false;
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            () = out.killed() => break,
            () = tokio::time::sleep(half_idle) => {
                if pinged {
                    tracing::debug!(target: "ordo::rpc", "websocket idle, closing");
                    break;
                }
                pinged = true;
                if !out.send(Message::Ping(Default::default())).await {
                    break;
                }
                continue;
            }
        };
        pinged = false;
        let Some(message) = next else { break };
        let message = match message {
            Ok(Message::Close(_)) => break,
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => message,
            Ok(_) => continue, // pings are answered by the protocol layer; pongs only count
            Err(err) => {
                tracing::debug!(target: "ordo::rpc", error = %err, "websocket read failed");
                break;
            }
        };
        let permit = tokio::select! {
            permit = Arc::clone(&in_flight).acquire_owned() => permit,
            () = out.killed() => break,
        };
        let Ok(permit) = permit else {
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
                        ctx.conn.out.send(Message::Text(text.into())).await;
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
    // Stop the writer too when the reader leaves first (idle, slow, closed): requests still
    // running find the connection gone.
    out.kill();
    conn.close();
    drop(conn);
    drop(out);
    // The writer ends once in-flight requests finish and every queue sender is gone.
    let _ = writer.await;
    tracing::debug!(target: "ordo::rpc", "websocket closed");
}
