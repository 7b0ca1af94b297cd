//! Abusive input on the JSON-RPC port is refused with a clear answer while a well-behaved
//! client is served: an oversized body (413), JSON nested too deep (-32600), a huge batch
//! (-32600 "batch too large"), a slowloris connection trickling its headers (closed at the
//! header deadline), connections over the cap (closed at once), 10,000 subscriptions on
//! one WebSocket (its share granted, the rest -32005, blocks on time, memory small), and
//! clients that hang up in the middle of large answers, over HTTP and WebSocket, while others
//! send 10,000-call batches under the default limits (refused, -32600; the node serves on,
//! blocks go on, memory stays small).

use std::time::Duration;

use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::GUARD;

/// Reads until the server closes the connection (or the guard runs out); what it sent.
async fn read_until_closed(stream: &mut TcpStream, guard: Duration) -> Result<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + guard;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return Err(eyre!("the server kept the connection open")),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn request(body: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_deep_and_huge_requests_are_refused_while_others_are_served() -> Result<()> {
    let node = TestNode::start(NodeOpts {
        config_toml: Some(
            "[limits]\nmax_body_bytes = 100000\nmax_batch_len = 50\nmax_json_depth = 16\n".into(),
        ),
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let big = format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["{}"]}}"#,
                "a".repeat(200_000)
            );
            // Its own client: the server closes a connection after a 413 without reading the
            // body, and a pooled connection closed that way would fail the next call.
            let status = reqwest::Client::new()
                .post(node.http_url())
                .header("content-type", "application/json")
                .body(big)
                .send()
                .await?
                .status();
            ensure!(status.as_u16() == 413, "oversized body: HTTP {status}");
            rpc.ok("eth_chainId", json!([])).await?;

            let deep = format!(
                r#"{{"jsonrpc":"2.0","id":2,"method":"eth_call","params":{}{}}}"#,
                "[".repeat(10_000),
                "]".repeat(10_000)
            );
            let (status, text) = rpc.post_raw(deep).await?;
            let v: Value = serde_json::from_str(&text)?;
            ensure!(
                status.is_success()
                    && v["error"]["code"] == -32600
                    && v["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("nested deeper than 16")),
                "deep JSON: {status} {text}"
            );
            rpc.ok("eth_chainId", json!([])).await?;

            let calls: Vec<Value> = (0..51)
                .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId"}))
                .collect();
            let v = rpc.post_json(&Value::Array(calls)).await?;
            ensure!(
                v[0]["error"]["code"] == -32600 && v[0]["error"]["message"] == "batch too large",
                "huge batch: {v}"
            );
            let fine: Vec<(&str, Value)> = (0..50).map(|_| ("eth_chainId", json!([]))).collect();
            ensure!(rpc.batch(&fine).await?.iter().all(|r| r.is_ok()));
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_cut_off_and_connections_over_the_cap_are_closed() -> Result<()> {
    let node = TestNode::start(NodeOpts {
        config_toml: Some("[limits]\nmax_connections = 6\nheader_timeout_ms = 3000\n".into()),
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let addr = node.addr();
            // A slowloris client: headers one byte at a time, never finished.
            let mut slow = TcpStream::connect(addr).await?;
            let trickle = tokio::spawn(async move {
                for b in b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
                    .iter()
                    .cycle()
                {
                    if slow.write_all(&[*b]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                read_until_closed(&mut slow, Duration::from_secs(30)).await
            });
            // Meanwhile a well-behaved client is served.
            for _ in 0..5 {
                rpc.ok("eth_blockNumber", json!([])).await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // A client that connects and sends nothing at all is cut off as well.
            let mut silent = TcpStream::connect(addr).await?;
            ensure!(
                read_until_closed(&mut silent, Duration::from_secs(30))
                    .await?
                    .is_empty(),
                "a silent connection got an answer"
            );
            let answered = trickle.await??;
            ensure!(
                answered.is_empty() || !answered.starts_with(b"HTTP/1.1 "),
                "slowloris got an answer"
            );
            rpc.ok("eth_blockNumber", json!([])).await?;

            // Fill the connection cap with idle connections (the harness client may hold one
            // or two of its own); the next connection is closed without an answer.
            let mut idle = Vec::new();
            let mut refused = None;
            for _ in 0..8 {
                let mut s = TcpStream::connect(addr).await?;
                s.write_all(
                    request(r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#).as_bytes(),
                )
                .await?;
                let got = read_until_closed(&mut s, Duration::from_secs(30)).await?;
                if got.is_empty() {
                    refused = Some(idle.len());
                    break;
                }
                ensure!(
                    got.starts_with(b"HTTP/1.1 "),
                    "{}",
                    String::from_utf8_lossy(&got)
                );
                // Answered: keep another connection open without a request in its place.
                idle.push(TcpStream::connect(addr).await?);
            }
            let refused = refused.ok_or_else(|| eyre!("no connection was refused at the cap"))?;
            ensure!(
                refused <= 6,
                "refused only after {refused} idle connections"
            );
            // Closing the idle ones frees the slots again.
            drop(idle);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                let mut s = TcpStream::connect(addr).await?;
                s.write_all(
                    request(r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#).as_bytes(),
                )
                .await?;
                if read_until_closed(&mut s, Duration::from_secs(30))
                    .await?
                    .starts_with(b"HTTP/1.1 ")
                {
                    break;
                }
                ensure!(tokio::time::Instant::now() < deadline, "slots never freed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connections_count_against_the_connection_cap() -> Result<()> {
    let node = TestNode::start(NodeOpts {
        config_toml: Some("[limits]\nmax_connections = 3\nheader_timeout_ms = 30000\n".into()),
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let addr = node.addr();
            let ask = || async move {
                let mut s = TcpStream::connect(addr).await?;
                s.write_all(
                    request(r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#).as_bytes(),
                )
                .await?;
                Ok::<bool, eyre::Report>(
                    read_until_closed(&mut s, Duration::from_secs(30))
                        .await?
                        .starts_with(b"HTTP/1.1 "),
                )
            };
            // Wait out the harness's own connections, then hold every slot with WebSockets.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while !ask().await? {
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "the node never answered"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let mut sockets = Vec::new();
            for _ in 0..3 {
                match tokio_tungstenite::connect_async(node.ws_url()).await {
                    Ok((ws, _)) => sockets.push(ws),
                    Err(_) => break,
                }
            }
            ensure!(!sockets.is_empty(), "no WebSocket could open");
            // With the slots held by open WebSockets, a new connection is closed unanswered.
            let mut refused = false;
            for _ in 0..3 {
                if !ask().await? {
                    refused = true;
                    break;
                }
                // A slot was still free (the harness's keep-alive connection closing late):
                // take it with one more WebSocket.
                if let Ok((ws, _)) = tokio_tungstenite::connect_async(node.ws_url()).await {
                    sockets.push(ws);
                }
            }
            ensure!(
                refused,
                "open WebSockets did not hold their connection slots"
            );
            drop(sockets);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while !ask().await? {
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "slots never freed after the WebSockets closed"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(())
        })
        .await
}

/// One WebSocket asking for 10,000 subscriptions gets its per-connection share and a clear
/// refusal for the rest (-32005, as for any limit), while blocks go on being sealed and the
/// node's memory stays small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_subscriptions_on_one_socket_meet_the_limit_while_blocks_go_on() -> Result<()>
{
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let before = parse_quantity(&rpc.ok("eth_blockNumber", json!([])).await?)?;
            let (ws, _) = tokio_tungstenite::connect_async(node.ws_url()).await?;
            let (mut tx, mut rx) = ws.split();
            const ASKED: usize = 10_000;
            let sender = tokio::spawn(async move {
                for id in 0..ASKED {
                    let body = json!({"jsonrpc": "2.0", "id": id, "method": "eth_subscribe",
                                      "params": ["newHeads"]});
                    tx.send(Message::Text(body.to_string().into())).await?;
                }
                Ok::<_, eyre::Report>(tx)
            });
            let (mut granted, mut refused) = (0usize, 0usize);
            while granted + refused < ASKED {
                let Some(msg) = rx.next().await else {
                    eyre::bail!("the socket closed after {granted} + {refused} answers");
                };
                let Message::Text(text) = msg? else { continue };
                let v: Value = serde_json::from_str(&text)?;
                if v.get("id").is_none() {
                    continue; // a notification of a granted subscription
                }
                match (&v["result"], &v["error"]["code"]) {
                    (Value::String(_), _) => granted += 1,
                    (_, code) if *code == json!(-32005) => refused += 1,
                    _ => eyre::bail!("unexpected answer {v}"),
                }
            }
            let _tx = sender.await??;
            ensure!(
                (1..=256).contains(&granted) && refused == ASKED - granted,
                "granted {granted}, refused {refused}"
            );
            // Blocks went on meanwhile, and the node stayed small.
            let provider = node.provider(&dev_signer(0));
            wait_block(&provider, before + 3, GUARD).await?;
            let rss = rss_kb(&node)?;
            ensure!(rss < 1024 * 1024, "node RSS {rss} kB");
            Ok(())
        })
        .await
}

/// The node's resident memory, in kB.
fn rss_kb(node: &TestNode) -> Result<u64> {
    let pid = node.pid().ok_or_else(|| eyre!("no pid"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| eyre!("no VmRSS"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_hanging_up_mid_answer_and_ten_thousand_call_batches_leave_the_node_serving()
-> Result<()> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let provider = node.provider(&dev_signer(0));
            wait_block(&provider, 20, GUARD).await?;
            let before = parse_quantity(&rpc.ok("eth_blockNumber", json!([])).await?)?;
            // The largest batch the defaults allow, of full blocks: an answer of about a
            // megabyte, which the client stops reading after its first bytes.
            let big: Vec<Value> = (0..1000)
                .map(|i| {
                    json!({"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber",
                           "params": [format!("{:#x}", i % 20), true]})
                })
                .collect();
            let big = Value::Array(big).to_string();
            let huge: Vec<Value> = (0..10_000)
                .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []}))
                .collect();
            let huge = Value::Array(huge).to_string();

            // Alone, a 10,000-call batch is refused whole, unread past the cap of 1000.
            let (_, text) = rpc.post_raw(huge.clone()).await?;
            let v: Value = serde_json::from_str(&text)?;
            ensure!(
                v[0]["error"]["code"] == -32600 && v[0]["error"]["message"] == "batch too large",
                "a 10,000-call batch answered {v}"
            );
            for _round in 0..10 {
                let mut tasks = Vec::new();
                // HTTP clients that hang up after the first bytes of the answer.
                for _ in 0..8 {
                    let (addr, body) = (node.addr(), big.clone());
                    tasks.push(tokio::spawn(async move {
                        let mut stream = TcpStream::connect(addr).await?;
                        stream.write_all(request(&body).as_bytes()).await?;
                        let mut first = [0u8; 64];
                        let n = stream.read(&mut first).await?;
                        ensure!(
                            first[..n].starts_with(b"HTTP/1.1 "),
                            "answer: {:?}",
                            &first[..n]
                        );
                        drop(stream);
                        Ok::<_, eyre::Report>(())
                    }));
                }
                // WebSocket clients that send the same and close without reading.
                for _ in 0..4 {
                    let (url, body) = (node.ws_url(), big.clone());
                    tasks.push(tokio::spawn(async move {
                        use tokio_tungstenite::tungstenite::Error;
                        match tokio_tungstenite::connect_async(url).await {
                            Ok((mut ws, _)) => {
                                ws.send(Message::Text(body.into())).await?;
                                drop(ws);
                            }
                            // The abusers spent this address's call budget: refused openly.
                            Err(Error::Http(resp)) if resp.status() == 429 => {}
                            Err(e) => return Err(e.into()),
                        }
                        Ok(())
                    }));
                }
                // 10,000-call batches: refused whole under the default cap of 1000.
                for _ in 0..4 {
                    let (rpc, body) = (node.rpc(), huge.clone());
                    tasks.push(tokio::spawn(async move {
                        let (status, text) = rpc.post_raw(body).await?;
                        if status == 429 {
                            return Ok(()); // over this address's call budget: refused openly
                        }
                        let v: Value = serde_json::from_str(&text)?;
                        let v = if v.is_array() { v[0].clone() } else { v };
                        ensure!(
                            v["error"]["code"] == -32600
                                && v["error"]["message"] == "batch too large",
                            "a 10,000-call batch answered {v}"
                        );
                        Ok(())
                    }));
                }
                for t in tasks {
                    t.await??;
                }
            }
            // A well-behaved client is served in full, over both transports, once the
            // abusers' calls no longer count against this address's rate limit (they come
            // from the same 127.0.0.1; the bucket refills at 20,000 calls a second).
            tokio::time::sleep(Duration::from_secs(3)).await;
            let calls: Vec<(&str, Value)> = (0..1000)
                .map(|i| {
                    (
                        "eth_getBlockByNumber",
                        json!([format!("{:#x}", i % 20), true]),
                    )
                })
                .collect();
            let answers = rpc.batch(&calls).await?;
            ensure!(
                answers.len() == 1000 && answers.iter().all(|a| a.is_ok()),
                "batch of 1000"
            );
            let (ws, _) = tokio_tungstenite::connect_async(node.ws_url()).await?;
            let (mut tx, mut rx) = ws.split();
            tx.send(Message::Text(big.clone().into())).await?;
            let answer = loop {
                match rx.next().await {
                    Some(Ok(Message::Text(text))) => break text,
                    Some(Ok(_)) => continue,
                    other => eyre::bail!("WebSocket answer: {other:?}"),
                }
            };
            let answer: Value = serde_json::from_str(&answer)?;
            ensure!(
                answer.as_array().is_some_and(|a| a.len() == 1000),
                "WebSocket batch answer"
            );
            // Blocks went on meanwhile, and the node stayed small.
            wait_block(&provider, before + 3, GUARD).await?;
            let rss = rss_kb(&node)?;
            ensure!(rss < 1024 * 1024, "node RSS {rss} kB");
            Ok(())
        })
        .await
}
