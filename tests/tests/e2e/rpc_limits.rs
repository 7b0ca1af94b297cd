//! The JSON-RPC port's per-client bounds on the real node: connections per client IP, the
//! open-file limit raised at start with a reserve kept from connections, `X-Forwarded-For`
//! believed from trusted proxies only, `eth_getLogs` and `eth_callBundle` caps, and
//! `txpool_status`. Clients are told apart by their loopback source address (127.0.0.x).

use std::{net::SocketAddr, time::Duration};

use alloy::{
    network::TransactionBuilder, primitives::U256, providers::Provider,
    rpc::types::TransactionRequest,
};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use crate::{GUARD, RECEIPT};

async fn connect_from(addr: SocketAddr, local: [u8; 4]) -> Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((local, 0)))?;
    Ok(socket.connect(addr).await?)
}

/// Sends one `eth_chainId` on `stream` (keep-alive) and reads the answer's first bytes:
/// `true` if it is an HTTP 200, `false` if the server closed the connection unanswered.
async fn answered(stream: &mut TcpStream) -> Result<bool> {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return Ok(false);
    }
    let mut buf = [0u8; 12];
    match tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await {
        Err(_) => Err(eyre!("the server neither answered nor closed")),
        Ok(Ok(n)) => Ok(buf[..n].starts_with(b"HTTP/1.1 200")),
        Ok(Err(_)) => Ok(false),
    }
}

/// Opens connections from `local` (each answered once, then held open) until one is refused;
/// returns how many were held, or `None` if none was refused among `tries`.
async fn hold_until_refused(
    addr: SocketAddr,
    local: [u8; 4],
    tries: usize,
) -> Result<(Vec<TcpStream>, Option<usize>)> {
    let mut held = Vec::new();
    for _ in 0..tries {
        let mut s = connect_from(addr, local).await?;
        if !answered(&mut s).await? {
            let n = held.len();
            return Ok((held, Some(n)));
        }
        held.push(s);
    }
    Ok((held, None))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_ip_cannot_hold_every_connection() -> Result<()> {
    // The defaults: 4096 connections in all, 256 per client IP.
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let addr = node.addr();
            let (held, refused) = hold_until_refused(addr, [127, 0, 0, 3], 300).await?;
            let refused = refused.ok_or_else(|| eyre!("300 connections from one IP were held"))?;
            ensure!(refused == 256, "refused after {refused} connections");
            // Another client is served meanwhile.
            let mut other = connect_from(addr, [127, 0, 0, 4]).await?;
            ensure!(answered(&mut other).await?, "another IP was refused");
            // Closing them frees the client's slots again.
            drop(held);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                let mut s = connect_from(addr, [127, 0, 0, 3]).await?;
                if answered(&mut s).await? {
                    break;
                }
                ensure!(tokio::time::Instant::now() < deadline, "slots never freed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(())
        })
        .await
}

/// The soft and hard "Max open files" of a process.
fn open_files(pid: u32) -> Result<(String, String)> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits"))?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .ok_or_else(|| eyre!("no open-file limit in {limits}"))?;
    let mut fields = line["Max open files".len()..].split_whitespace();
    let soft = fields.next().unwrap_or_default().to_string();
    let hard = fields.next().unwrap_or_default().to_string();
    Ok((soft, hard))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_file_limit_is_raised_at_start() -> Result<()> {
    let node = TestNode::start(NodeOpts {
        open_files: Some((512, 4096)),
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let pid = node.pid().ok_or_else(|| eyre!("no pid"))?;
            let (soft, hard) = open_files(pid)?;
            ensure!(
                soft == "4096" && hard == "4096",
                "open files soft {soft}, hard {hard}"
            );
            node.rpc().ok("eth_chainId", json!([])).await?;
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_stop_short_of_the_open_file_limit() -> Result<()> {
    // 1100 descriptors and the default reserve of 1024 for storage: connections get what is
    // left (76), far below max_connections (4096) and the per-IP cap (256).
    let node = TestNode::start(NodeOpts {
        open_files: Some((1100, 1100)),
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let addr = node.addr();
            let mut held = Vec::new();
            let mut refused = None;
            // Spread over client IPs so only the descriptor-based cap can refuse.
            for i in 0..200u8 {
                let mut s = connect_from(addr, [127, 0, 1, 1 + i % 50]).await?;
                if !answered(&mut s).await? {
                    refused = Some(held.len());
                    break;
                }
                held.push(s);
            }
            let refused =
                refused.ok_or_else(|| eyre!("200 connections held on 1100 descriptors"))?;
            ensure!(refused <= 76, "refused only after {refused} connections");
            // With its connections at the cap, the node still writes: a transfer is mined.
            held.truncate(held.len().saturating_sub(8));
            tokio::time::sleep(Duration::from_millis(200)).await;
            let me = dev_signer(1);
            let p = node.provider(&me);
            let tx = TransactionRequest::default()
                .with_to(random_address())
                .with_value(U256::from(1));
            let hash = *p.send_transaction(tx).await?.tx_hash();
            wait_receipt(&p, hash, RECEIPT).await?;
            drop(held);
            Ok(())
        })
        .await
}

/// A client for the node that connects from `local`, with `X-Forwarded-For: xff` if given.
async fn chain_id_from(node: &TestNode, local: [u8; 4], xff: Option<&str>) -> Result<Value> {
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(local))
        .build()?;
    let mut request = client
        .post(node.http_url())
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#);
    if let Some(xff) = xff {
        request = request.header("x-forwarded-for", xff);
    }
    Ok(request.send().await?.json().await?)
}

fn limited(v: &Value) -> bool {
    v["error"]["code"] == -32005 && v["error"]["message"] == "rate limit exceeded"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() -> Result<()> {
    let node = TestNode::start(NodeOpts {
        config_toml: Some(
            "[limits]\nper_ip_per_sec = 1\nper_ip_burst = 3\n[rpc]\ntrusted_proxies = [\"127.0.0.5\", \"127.0.9.0/24\"]\n"
                .into(),
        ),
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let proxy = [127, 0, 0, 5];
            // Client A, behind the proxy, spends its bucket.
            let mut a_limited = false;
            for _ in 0..10 {
                if limited(&chain_id_from(&node, proxy, Some("198.51.100.1")).await?) {
                    a_limited = true;
                    break;
                }
            }
            ensure!(a_limited, "client A was never rate limited");
            // Client B, behind the same proxy, has its own bucket. The left hop is what B's
            // own software claims; the rightmost untrusted hop (B) counts, and a trusted
            // second proxy on the right is skipped.
            for _ in 0..2 {
                let v = chain_id_from(&node, proxy, Some("203.0.113.9, 198.51.100.2, 127.0.9.7"))
                    .await?;
                ensure!(v["result"].is_string(), "client B: {v}");
            }
            // A peer that is not a trusted proxy cannot pick a fresh bucket with the header.
            let spoofer = [127, 0, 0, 6];
            let mut spoofer_limited = false;
            for i in 0..10 {
                let xff = format!("192.0.2.{}", i + 1);
                if limited(&chain_id_from(&node, spoofer, Some(&xff)).await?) {
                    spoofer_limited = true;
                    break;
                }
            }
            ensure!(
                spoofer_limited,
                "X-Forwarded-For from an untrusted peer was believed"
            );
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txpool_status_answers_like_geth() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let me = dev_signer(2);
            // A nonce gap parks a transaction in the queued part of the pool.
            let (raw, _) = sign_raw(
                &me,
                transfer_1559(
                    DEV_CHAIN_ID,
                    5,
                    random_address(),
                    U256::from(1),
                    10 * GWEI,
                    GWEI,
                ),
            );
            rpc.send_raw(&raw)
                .await?
                .map_err(|e| eyre!("gapped tx refused: {e}"))?;
            let status = rpc.ok("txpool_status", json!([])).await?;
            let fields = status
                .as_object()
                .ok_or_else(|| eyre!("not an object: {status}"))?;
            ensure!(fields.len() == 2, "{status}");
            ensure!(status["queued"] == "0x1", "{status}");
            ensure!(parse_quantity(&status["pending"]).is_ok(), "{status}");
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_bundle_is_capped_before_any_signature_is_recovered() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let head = rpc.block_number().await?;
            // Undecodable bytes: if the node decoded (and recovered) before counting, the
            // answer would be a decode error.
            let junk = format!("0x02{}", "ff".repeat(100));
            let many: Vec<String> = (0..17).map(|_| junk.clone()).collect();
            let err = rpc
                .call(
                    "eth_callBundle",
                    json!([{"txs": many, "blockNumber": format!("{:#x}", head + 1)}]),
                )
                .await?
                .err()
                .ok_or_else(|| eyre!("17 transactions simulated"))?;
            ensure!(
                err.message == "bundle has 17 transactions, at most 16 allowed",
                "{err}"
            );
            let big = format!("0x02{}", "ff".repeat(200 * 1024));
            let err = rpc
                .call(
                    "eth_callBundle",
                    json!([{"txs": [big.clone(), big], "blockNumber": format!("{:#x}", head + 1)}]),
                )
                .await?
                .err()
                .ok_or_else(|| eyre!("400 KiB of transactions simulated"))?;
            ensure!(
                err.code == -32602 && err.message.starts_with("bundle transactions total"),
                "{err}"
            );
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_logs_refuses_answers_over_the_result_cap() -> Result<()> {
    let node = TestNode::start(NodeOpts {
        config_toml: Some("[limits]\nmax_log_results = 3\n".into()),
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let me = dev_signer(4);
            let p = node.provider(&me);
            let rpc = node.rpc();
            let deploy = TransactionRequest::default().with_deploy_code(store_initcode());
            let dh = *p.send_transaction(deploy).await?.tx_hash();
            let addr = wait_receipt(&p, dh, RECEIPT)
                .await?
                .contract_address
                .ok_or_else(|| eyre!("no contractAddress"))?;
            let store = Store::new(addr, p.clone());
            // One log a block: each set waits for its receipt.
            let mut block = 0;
            for v in 0..5u64 {
                let hash = *store.set(U256::from(v)).send().await?.tx_hash();
                let receipt = wait_receipt(&p, hash, RECEIPT).await?;
                block = receipt.block_number.ok_or_else(|| eyre!("no block"))?;
            }
            let err = rpc
                .call(
                    "eth_getLogs",
                    json!([{"fromBlock": "0x0", "toBlock": format!("{block:#x}"), "address": addr}]),
                )
                .await?
                .err()
                .ok_or_else(|| eyre!("5 logs returned over a cap of 3"))?;
            ensure!(
                err.code == -32005 && err.message == "query returned more than 3 results",
                "{err}"
            );
            // A narrower query is answered.
            let logs = rpc
                .ok(
                    "eth_getLogs",
                    json!([{"fromBlock": format!("{block:#x}"), "toBlock": format!("{block:#x}"), "address": addr}]),
                )
                .await?;
            ensure!(logs.as_array().is_some_and(|l| l.len() == 1), "{logs}");
            Ok(())
        })
        .await
}
