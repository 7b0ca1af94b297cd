//! Per-client and per-connection bounds over real sockets: filter slots and criteria memory
//! per client IP, calls per client, slow WebSocket readers, idle WebSockets and idle HTTP/2
//! connections. Clients are told apart by their loopback source address (127.0.0.1, 127.0.0.2).

use std::{
    net::{IpAddr, SocketAddr},
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use futures::{SinkExt, StreamExt};
use ordo_rpc::{RpcConfig, ServeLimits, router, serve_with};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    sync::oneshot,
};
use tokio_tungstenite::{connect_async, tungstenite::Message};

use crate::mock::MockBackend;

/// Failure guard for one step; no test asserts a timing.
const GUARD: Duration = Duration::from_secs(30);

struct Server {
    backend: Arc<MockBackend>,
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn start(config: RpcConfig, limits: ServeLimits) -> Server {
    let backend = Arc::new(MockBackend::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(backend.clone(), vec![backend.clone()], config);
    tokio::spawn(serve_with(listener, app, limits, async {
        let _ = stopped.await;
    }));
    Server {
        backend,
        addr,
        _stop: stop,
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

async fn connect_from(addr: SocketAddr, local: IpAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(local, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// POSTs `body` from `local` over a fresh connection and returns the JSON answer.
async fn post_from(addr: SocketAddr, local: IpAddr, body: &Value) -> Value {
    let body = body.to_string();
    let mut stream = connect_from(addr, local).await;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut response))
        .await
        .expect("no answer")
        .unwrap();
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn batch(method: &str, params: &Value, n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": method, "params": params}))
            .collect(),
    )
}

/// How many entries of a batch answer succeeded, and the errors of the others.
fn tally(response: &Value) -> (usize, Vec<Value>) {
    let entries = response.as_array().unwrap();
    let ok = entries.iter().filter(|e| e.get("result").is_some()).count();
    let errors = entries
        .iter()
        .filter_map(|e| e.get("error").cloned())
        .collect();
    (ok, errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_slots_are_per_client() {
    let server = start(RpcConfig::default(), ServeLimits::default()).await;
    let a = ip("127.0.0.1");
    let b = ip("127.0.0.2");
    // One client asks for more than its share of the (global) 1024 slots.
    let response = post_from(
        server.addr,
        a,
        &batch("eth_newBlockFilter", &json!([]), 300),
    )
    .await;
    let (ok, errors) = tally(&response);
    assert_eq!(
        ok, 256,
        "one client holds at most max_filters_per_client (256)"
    );
    assert!(
        errors
            .iter()
            .all(|e| *e == json!({"code": -32005, "message": "too many filters"})),
        "{errors:?}"
    );
    // Another client still gets slots.
    let response = post_from(
        server.addr,
        b,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "eth_newPendingTransactionFilter", "params": []}),
    )
    .await;
    assert!(response["result"].is_string(), "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_criteria_memory_is_bounded_per_client() {
    let server = start(RpcConfig::default(), ServeLimits::default()).await;
    let a = ip("127.0.0.1");
    let addresses: Vec<String> = (0..1000u32).map(|i| format!("0x{:040x}", i + 1)).collect();
    let filter = json!([{"address": addresses}]);
    let mut installed = 0;
    let mut refused = None;
    // 250 of the largest filters geth allows: under the count limit, over the byte budget.
    for _ in 0..5 {
        let response = post_from(server.addr, a, &batch("eth_newFilter", &filter, 50)).await;
        let (ok, errors) = tally(&response);
        installed += ok;
        if let Some(error) = errors.first() {
            refused = Some(error.clone());
            break;
        }
    }
    assert!(
        installed < 250,
        "{installed} filters of 1000 addresses each"
    );
    assert_eq!(
        refused,
        Some(
            json!({"code": -32005, "message": "filter criteria exceed this client's memory budget"})
        )
    );
    // Small filters from another client are unaffected.
    let response = post_from(
        server.addr,
        ip("127.0.0.2"),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "eth_newFilter", "params": [{"address": addresses}]}),
    )
    .await;
    assert!(response["result"].is_string(), "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_reader_that_does_not_read_is_disconnected() {
    let server = start(RpcConfig::default(), ServeLimits::default()).await;
    // One block with 5000 logs: each eth_getLogs answer is a couple of MB.
    let address = alloy_primitives::Address::repeat_byte(0x11);
    server.backend.mine(
        (0..5000u32)
            .map(|i| {
                (
                    address,
                    alloy_primitives::B256::left_padding_from(&i.to_be_bytes()),
                )
            })
            .collect(),
    );
    let (mut ws, _) = connect_async(format!("ws://{}/", server.addr))
        .await
        .unwrap();
    const ASKED: usize = 20;
    for id in 0..ASKED {
        ws.send(Message::text(
            json!({"jsonrpc": "2.0", "id": id, "method": "eth_getLogs", "params": [{"fromBlock": "0x0"}]})
                .to_string(),
        ))
        .await
        .unwrap();
    }
    // Not reading while the answers (tens of MB) pile up on the server.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut answers = 0;
    loop {
        match tokio::time::timeout(GUARD, ws.next()).await {
            Err(_) => panic!("the connection stayed open after {answers} answers"),
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => break,
            Ok(Some(Ok(Message::Text(_)))) => answers += 1,
            Ok(Some(Ok(_))) => {}
        }
        if answers == ASKED {
            break;
        }
    }
    assert!(
        answers < ASKED,
        "every answer was queued for a reader that did not read"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_websocket_is_closed_and_a_live_one_is_kept() {
    let config = RpcConfig {
        ws_idle_timeout: Duration::from_millis(400),
        ..RpcConfig::default()
    };
    let server = start(config, ServeLimits::default()).await;
    let url = format!("ws://{}/", server.addr);
    let (mut silent, _) = connect_async(url.as_str()).await.unwrap();
    let (mut live, _) = connect_async(url.as_str()).await.unwrap();
    // The live client keeps reading (tungstenite answers the server's pings while it reads).
    let keep_reading = tokio::spawn(async move {
        let until = tokio::time::Instant::now() + Duration::from_secs(2);
        while tokio::time::Instant::now() < until {
            match tokio::time::timeout(Duration::from_millis(50), live.next()).await {
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => {
                    panic!("a client answering pings was closed")
                }
                _ => {}
            }
        }
        live
    });
    // The silent one reads nothing (so it answers no ping) for several idle deadlines.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let closed = tokio::time::timeout(GUARD, async {
        loop {
            match silent.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a silent WebSocket stayed open");
    let mut live = keep_reading.await.unwrap();
    live.send(Message::text(
        json!({"jsonrpc": "2.0", "id": 7, "method": "eth_chainId"}).to_string(),
    ))
    .await
    .unwrap();
    loop {
        match tokio::time::timeout(GUARD, live.next()).await.unwrap() {
            Some(Ok(Message::Text(text))) => {
                let v: Value = serde_json::from_str(text.as_str()).unwrap();
                assert_eq!(v["id"], 7);
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("live client lost: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_clients_calls_are_bounded_across_its_batches() {
    // The defaults: 64 entries of a batch at once, 256 calls of a client at once.
    let server = start(RpcConfig::default(), ServeLimits::default()).await;
    *server.backend.send_delay.lock() = Some(Duration::from_millis(50));
    let addr = server.addr;
    let send = batch("eth_sendRawTransaction", &json!(["0x01"]), 100);
    let runs: Vec<_> = (0..5)
        .map(|_| {
            let send = send.clone();
            tokio::spawn(async move { post_from(addr, ip("127.0.0.1"), &send).await })
        })
        .collect();
    for run in runs {
        let (ok, errors) = tally(&run.await.unwrap());
        assert_eq!((ok, errors.len()), (100, 0));
    }
    let most = server.backend.max_sending.load(Ordering::SeqCst);
    assert!(most <= 256, "{most} calls of one client ran at once");
}

/// Reads one HTTP/2 frame: (type, flags, payload); `None` at EOF.
async fn read_frame(stream: &mut TcpStream) -> Option<(u8, u8, Vec<u8>)> {
    let mut head = [0u8; 9];
    stream.read_exact(&mut head).await.ok()?;
    let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.ok()?;
    Some((head[3], head[4], payload))
}

fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut out = vec![
        (len >> 16) as u8,
        (len >> 8) as u8,
        len as u8,
        kind,
        flags,
        0,
        0,
        0,
        0,
    ];
    out.extend_from_slice(payload);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_is_closed_even_when_it_answers_pings() {
    let limits = ServeLimits {
        idle_timeout: Duration::from_millis(500),
        header_timeout: Duration::from_millis(300),
        ..ServeLimits::default()
    };
    let server = start(RpcConfig::default(), limits).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    stream.write_all(&frame(0x4, 0, &[])).await.unwrap();
    // A well-behaved but idle client: acknowledges settings and answers every ping.
    let mut goaway = false;
    let ended = tokio::time::timeout(GUARD, async {
        while let Some((kind, flags, payload)) = read_frame(&mut stream).await {
            match (kind, flags & 1) {
                (0x4, 0) => stream.write_all(&frame(0x4, 1, &[])).await.unwrap(),
                (0x6, 0) => stream.write_all(&frame(0x6, 1, &payload)).await.unwrap(),
                (0x7, _) => goaway = true,
                _ => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the idle HTTP/2 connection stayed open");
    assert!(goaway, "closed without GOAWAY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_subscriptions_share_the_clients_criteria_budget() {
    let server = start(RpcConfig::default(), ServeLimits::default()).await;
    let (mut ws, _) = connect_async(format!("ws://{}/", server.addr))
        .await
        .unwrap();
    let addresses: Vec<String> = (0..1001u32).map(|i| format!("0x{:040x}", i + 1)).collect();
    let mut subscribe = async |addresses: &[String]| -> Value {
        ws.send(Message::text(
            json!({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["logs", {"address": addresses}]})
                .to_string(),
        ))
        .await
        .unwrap();
        loop {
            match tokio::time::timeout(GUARD, ws.next()).await.unwrap() {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(text.as_str()).unwrap();
                }
                Some(Ok(_)) => {}
                other => panic!("connection lost: {other:?}"),
            }
        }
    };
    let response = subscribe(&addresses).await;
    assert_eq!(
        response["error"],
        json!({"code": -32602, "message": "invalid argument 0: exceed max addresses"})
    );
    // The largest allowed criteria, again and again on one connection: the client's memory
    // budget ends it well before the 256 subscriptions a connection may hold.
    let mut held = 0;
    let refused = loop {
        let response = subscribe(&addresses[..1000]).await;
        if response.get("error").is_some() {
            break response["error"].clone();
        }
        held += 1;
        assert!(held < 256, "256 subscriptions of 1000 addresses each");
    };
    assert!(held > 0);
    assert_eq!(
        refused,
        json!({"code": -32005, "message": "filter criteria exceed this client's memory budget"})
    );
}
