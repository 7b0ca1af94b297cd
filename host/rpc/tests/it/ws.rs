//! WebSocket transport and subscriptions over a real socket.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use alloy_primitives::{Address, B256};
use futures::{SinkExt, StreamExt};
use ordo_rpc::{RpcConfig, router, serve};
use serde_json::{Value, json};
use tokio::{net::TcpStream, sync::oneshot};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async, tungstenite::Message};

use crate::mock::{MockBackend, block_hash};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Node {
    backend: Arc<MockBackend>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start() -> Node {
    let backend = Arc::new(MockBackend::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(backend.clone(), vec![backend.clone()], RpcConfig::default());
    let server = tokio::spawn(serve(listener, app, async {
        let _ = stopped.await;
    }));
    Node {
        backend,
        addr,
        stop: Some(stop),
        server,
    }
}

async fn connect(node: &Node) -> Client {
    connect_async(format!("ws://{}/", node.addr))
        .await
        .unwrap()
        .0
}

async fn send(client: &mut Client, body: Value) {
    client.send(Message::text(body.to_string())).await.unwrap();
}

async fn next_json(client: &mut Client) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), client.next())
            .await
            .expect("no message within 5s")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

async fn subscribe(client: &mut Client, params: Value) -> String {
    send(
        client,
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": params}),
    )
    .await;
    let response = next_json(client).await;
    response["result"]
        .as_str()
        .unwrap_or_else(|| panic!("{response}"))
        .to_owned()
}

/// Waits until the subscription task has subscribed to the backend's broadcast.
async fn wait_for_subscribers(backend: &MockBackend, count: usize) {
    for _ in 0..100 {
        if backend.subscribers() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("subscribers never reached {count}");
}

#[tokio::test]
async fn plain_calls_and_batches_work_over_websocket() {
    let node = start().await;
    let mut client = connect(&node).await;
    send(
        &mut client,
        json!({"jsonrpc": "2.0", "id": 9, "method": "eth_chainId"}),
    )
    .await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"jsonrpc": "2.0", "id": 9, "result": "0x7a69"})
    );
    send(&mut client, json!([{"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}, {"jsonrpc": "2.0", "id": 2, "method": "net_version"}])).await;
    let batch = next_json(&mut client).await;
    assert_eq!(
        batch,
        json!([{"jsonrpc": "2.0", "id": 1, "result": "0x0"}, {"jsonrpc": "2.0", "id": 2, "result": "31337"}])
    );
}

#[tokio::test]
async fn new_heads_subscription_sends_each_block() {
    let mut node = start().await;
    let mut client = connect(&node).await;
    let id = subscribe(&mut client, json!(["newHeads"])).await;
    assert!(id.starts_with("0x") && id.len() == 34, "{id}");
    wait_for_subscribers(&node.backend, 1).await;

    node.backend.mine(Vec::new());
    node.backend.mine(Vec::new());
    for number in 1..=2u64 {
        let note = next_json(&mut client).await;
        assert_eq!(note["jsonrpc"], "2.0");
        assert_eq!(note["method"], "eth_subscription");
        assert_eq!(note["params"]["subscription"], id.as_str());
        assert_eq!(note["params"]["result"]["number"], format!("0x{number:x}"));
        assert_eq!(note["params"]["result"]["hash"], json!(block_hash(number)));
        assert!(note["params"]["result"]["parentHash"].is_string());
    }

    send(
        &mut client,
        json!({"jsonrpc": "2.0", "id": 2, "method": "eth_unsubscribe", "params": [id]}),
    )
    .await;
    assert_eq!(next_json(&mut client).await["result"], true);
    wait_for_gone(&node.backend).await;
    node.backend.mine(Vec::new());
    send(
        &mut client,
        json!({"jsonrpc": "2.0", "id": 3, "method": "eth_blockNumber"}),
    )
    .await;
    // The next message is the answer, not a notification.
    assert_eq!(
        next_json(&mut client).await,
        json!({"jsonrpc": "2.0", "id": 3, "result": "0x3"})
    );

    if let Some(stop) = node.stop.take() {
        let _ = stop.send(());
    }
    drop(client);
    tokio::time::timeout(Duration::from_secs(5), &mut node.server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

async fn wait_for_gone(backend: &MockBackend) {
    for _ in 0..100 {
        if backend.subscribers() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("subscription task still running");
}

#[tokio::test]
async fn logs_subscription_applies_address_and_topics() {
    let node = start().await;
    let mut client = connect(&node).await;
    let token = Address::repeat_byte(0x11);
    let transfer = B256::repeat_byte(0xaa);
    let id = subscribe(
        &mut client,
        json!(["logs", {"address": token, "topics": [transfer]}]),
    )
    .await;
    wait_for_subscribers(&node.backend, 1).await;
    node.backend.mine(vec![
        (Address::repeat_byte(0x22), transfer),
        (token, B256::ZERO),
        (token, transfer),
    ]);
    let note = next_json(&mut client).await;
    assert_eq!(note["params"]["subscription"], id.as_str());
    let log = &note["params"]["result"];
    assert_eq!(log["address"], json!(token));
    assert_eq!(log["topics"], json!([transfer]));
    assert_eq!(log["logIndex"], "0x2");
    assert_eq!(log["blockHash"], json!(block_hash(1)));
    // Nothing else matched: the next message is a call's answer.
    send(
        &mut client,
        json!({"jsonrpc": "2.0", "id": 5, "method": "eth_chainId"}),
    )
    .await;
    assert_eq!(next_json(&mut client).await["id"], 5);
}

#[tokio::test]
async fn pending_transactions_subscription_sends_hashes() {
    let node = start().await;
    let mut client = connect(&node).await;
    let id = subscribe(&mut client, json!(["newPendingTransactions"])).await;
    wait_for_subscribers(&node.backend, 1).await;
    node.backend.announce_pending(B256::repeat_byte(7));
    let note = next_json(&mut client).await;
    assert_eq!(
        note["params"],
        json!({"subscription": id, "result": B256::repeat_byte(7)})
    );
}

#[tokio::test]
async fn unknown_subscription_kind_is_an_error() {
    let node = start().await;
    let mut client = connect(&node).await;
    send(
        &mut client,
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["bogus"]}),
    )
    .await;
    let response = next_json(&mut client).await;
    assert_eq!(response["error"]["code"], -32602);
}

#[tokio::test]
async fn closing_the_socket_ends_its_subscriptions() {
    let node = start().await;
    let mut client = connect(&node).await;
    subscribe(&mut client, json!(["newHeads"])).await;
    wait_for_subscribers(&node.backend, 1).await;
    client.close(None).await.unwrap();
    wait_for_gone(&node.backend).await;
}
