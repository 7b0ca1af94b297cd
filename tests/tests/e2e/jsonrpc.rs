//! 4. JSON-RPC 2.0 as a protocol, over raw HTTP (reqwest) and raw WebSocket
//!    (tokio-tungstenite): batches, missing params, notifications, the standard error codes,
//!    block tags, the misc methods, and filters.

use std::time::Duration;

use alloy::primitives::U256;
use eyre::{Result, ensure, eyre};
use futures::{SinkExt, StreamExt};
use ordo_tests::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::{GUARD, RECEIPT};

fn err_code(v: &Value) -> Option<i64> {
    v.get("error")
        .and_then(|e| e.get("code"))
        .and_then(Value::as_i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protocol() -> Result<()> {
    // Long block time: the head stays put, so state queries by number/hash below all target
    // the head and need no historical state.
    let node = TestNode::start(NodeOpts {
        block_time_ms: 600_000,
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let chain_hex = format!("{DEV_CHAIN_ID:#x}");

            // A missing `params` member is fine.
            let r = rpc.post_json(&json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})).await?;
            assert_eq!(r["jsonrpc"], "2.0");
            assert_eq!(r["id"], 1);
            assert_eq!(r["result"], chain_hex);
            let r = rpc
                .post_json(&json!({"jsonrpc": "2.0", "id": "abc", "method": "eth_blockNumber"}))
                .await?;
            assert_eq!(r["id"], "abc", "string ids are echoed");
            parse_quantity(&r["result"])?;

            // Unknown method: -32601.
            let r = rpc
                .post_json(&json!({"jsonrpc": "2.0", "id": 7, "method": "eth_noSuchMethod", "params": []}))
                .await?;
            assert_eq!(err_code(&r), Some(-32601), "{r}");
            assert_eq!(r["id"], 7);

            // Parse error: -32700, id null.
            let (_, text) = rpc.post_raw(r#"{"jsonrpc":"2.0","id":1,"method":"#).await?;
            let r: Value = serde_json::from_str(&text).map_err(|e| eyre!("{e}: {text:?}"))?;
            assert_eq!(err_code(&r), Some(-32700), "{r}");
            assert_eq!(r["id"], Value::Null);

            // Invalid request (no method): -32600.
            let r = rpc.post_json(&json!({"jsonrpc": "2.0", "id": 3})).await?;
            assert_eq!(err_code(&r), Some(-32600), "{r}");

            // Invalid params: -32602.
            let r = rpc
                .post_json(&json!({"jsonrpc": "2.0", "id": 4, "method": "eth_getBalance",
                                   "params": ["0xnot-an-address", "latest"]}))
                .await?;
            assert_eq!(err_code(&r), Some(-32602), "{r}");

            // A notification (no id) gets no response body.
            let (status, text) = rpc
                .post_raw(r#"{"jsonrpc":"2.0","method":"eth_chainId","params":[]}"#)
                .await?;
            ensure!(status.is_success(), "notification: HTTP {status}");
            ensure!(text.trim().is_empty(), "notification answered: {text:?}");

            // A mixed batch: responses in request order, the notification skipped.
            let batch = json!([
                {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
                {"jsonrpc": "2.0", "id": 2, "method": "eth_noSuchMethod", "params": []},
                {"jsonrpc": "2.0", "method": "eth_blockNumber", "params": []},
                {"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance",
                 "params": [DEV_ACCOUNT0, "latest"]},
                {"jsonrpc": "2.0", "id": 4, "method": "eth_getBalance", "params": ["0xzz"]},
                {"jsonrpc": "2.0", "id": 5, "method": "net_version"},
                {"jsonrpc": "2.0", "id": 6}
            ]);
            let r = rpc.post_json(&batch).await?;
            let arr = r.as_array().ok_or_else(|| eyre!("batch answer not an array: {r}"))?;
            assert_eq!(arr.len(), 6, "one response per non-notification: {r}");
            for (i, item) in arr.iter().take(5).enumerate() {
                assert_eq!(item["id"], json!(i + 1), "batch responses out of order: {r}");
                assert_eq!(item["jsonrpc"], "2.0");
            }
            assert_eq!(arr[0]["result"], chain_hex);
            assert_eq!(err_code(&arr[1]), Some(-32601));
            assert_eq!(arr[2]["result"], json!(DEV_BALANCE));
            assert_eq!(err_code(&arr[3]), Some(-32602));
            assert_eq!(arr[4]["result"], DEV_CHAIN_ID.to_string());
            assert_eq!(err_code(&arr[5]), Some(-32600));

            // Empty batch: a single -32600 error object.
            let r = rpc.post_json(&json!([])).await?;
            assert_eq!(err_code(&r), Some(-32600), "empty batch: {r}");
            // A batch of a non-object: one -32600 per element.
            let r = rpc.post_json(&json!([1])).await?;
            let arr = r.as_array().ok_or_else(|| eyre!("[1] answer not an array: {r}"))?;
            assert_eq!(arr.len(), 1);
            assert_eq!(err_code(&arr[0]), Some(-32600));
            // A batch of only notifications: nothing back.
            let (status, text) = rpc
                .post_raw(r#"[{"jsonrpc":"2.0","method":"eth_chainId"},{"jsonrpc":"2.0","method":"net_version"}]"#)
                .await?;
            ensure!(status.is_success(), "notification batch: HTTP {status}");
            ensure!(text.trim().is_empty(), "notification batch answered: {text:?}");

            // Misc methods.
            let v = rpc.ok("web3_clientVersion", json!([])).await?;
            ensure!(v.as_str().is_some_and(|s| !s.is_empty()), "web3_clientVersion: {v}");
            assert_eq!(rpc.ok("net_version", json!([])).await?, DEV_CHAIN_ID.to_string());
            assert_eq!(rpc.ok("net_listening", json!([])).await?, json!(true));
            assert_eq!(rpc.ok("eth_syncing", json!([])).await?, json!(false));
            let gp = rpc.ok("eth_gasPrice", json!([])).await?;
            ensure!(parse_quantity(&gp)? as u128 >= GWEI, "gas price {gp}");
            parse_quantity(&rpc.ok("eth_maxPriorityFeePerGas", json!([])).await?)?;

            // Block tags and EIP-1898 block objects.
            for tag in ["latest", "pending", "safe", "finalized", "earliest", "0x0"] {
                let b = rpc.ok("eth_getBlockByNumber", json!([tag, false])).await?;
                ensure!(b.is_object(), "eth_getBlockByNumber({tag}) = {b}");
            }
            let genesis = rpc.ok("eth_getBlockByNumber", json!(["0x0", false])).await?;
            assert_eq!(genesis["number"], "0x0");
            let earliest = rpc.ok("eth_getBlockByNumber", json!(["earliest", false])).await?;
            assert_eq!(earliest["hash"], genesis["hash"]);
            let head = rpc.ok("eth_getBlockByNumber", json!(["latest", false])).await?;
            let head_hash = head["hash"].clone();
            let head_number = head["number"].clone();
            let by_hash = rpc.ok("eth_getBlockByHash", json!([head_hash, false])).await?;
            assert_eq!(by_hash["number"], head_number);
            let bal = json!(DEV_BALANCE);
            for block in [
                json!("latest"),
                json!("pending"),
                head_number.clone(),
                json!({"blockNumber": head_number}),
                json!({"blockHash": head_hash}),
                json!({"blockHash": head_hash, "requireCanonical": true}),
            ] {
                let v = rpc.ok("eth_getBalance", json!([DEV_ACCOUNT0, block])).await?;
                assert_eq!(v, bal, "eth_getBalance at {block}");
            }
            ensure!(
                rpc.block_number().await? == parse_quantity(&head_number)?,
                "the head moved during the test; the block time is meant to prevent that"
            );
            // No block tag at all defaults to latest.
            assert_eq!(rpc.ok("eth_getBalance", json!([DEV_ACCOUNT0])).await?, bal);
            // A block that does not exist yet: null.
            let b = rpc.ok("eth_getBlockByNumber", json!(["0xffffffff", false])).await?;
            assert_eq!(b, Value::Null);
            let t = rpc.ok("eth_getTransactionByHash", json!([word(12345)])).await?;
            assert_eq!(t, Value::Null, "unknown tx hash -> null");
            let t = rpc.ok("eth_getTransactionReceipt", json!([word(12345)])).await?;
            assert_eq!(t, Value::Null, "unknown receipt -> null");
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_filters() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let s = dev_signer(5);
            let p = node.provider(&s);

            let block_filter = rpc.ok("eth_newBlockFilter", json!([])).await?;
            let pending_filter = rpc.ok("eth_newPendingTransactionFilter", json!([])).await?;
            let log_filter = rpc
                .ok(
                    "eth_newFilter",
                    json!([{"fromBlock": "latest", "topics": [set_topic()]}]),
                )
                .await?;

            // A tx that emits Set: deploy, then set(5).
            let chain = DEV_CHAIN_ID;
            let n = rpc
                .ok("eth_getTransactionCount", json!([s.address(), "pending"]))
                .await
                .and_then(|v| parse_quantity(&v))?;
            let deploy = alloy::consensus::TxEip1559 {
                chain_id: chain,
                nonce: n,
                gas_limit: 300_000,
                max_fee_per_gas: 10 * GWEI,
                max_priority_fee_per_gas: GWEI,
                to: alloy::primitives::TxKind::Create,
                value: U256::ZERO,
                access_list: Default::default(),
                input: store_initcode(),
            };
            let (raw, dh) = sign_raw(&s, deploy);
            rpc.send_raw(&raw)
                .await?
                .map_err(|e| eyre!("deploy: {e}"))?;
            let addr = s.address().create(n);
            let call = alloy::consensus::TxEip1559 {
                chain_id: chain,
                nonce: n + 1,
                gas_limit: 100_000,
                max_fee_per_gas: 10 * GWEI,
                max_priority_fee_per_gas: GWEI,
                to: alloy::primitives::TxKind::Call(addr),
                value: U256::ZERO,
                access_list: Default::default(),
                input: {
                    use alloy::sol_types::SolCall;
                    Store::setCall {
                        value: U256::from(5),
                    }
                    .abi_encode()
                    .into()
                },
            };
            let (raw, sh) = sign_raw(&s, call);
            rpc.send_raw(&raw).await?.map_err(|e| eyre!("set: {e}"))?;
            let r = wait_receipt(&p, sh, RECEIPT).await?;
            assert!(r.status());
            let bn = r.block_number.ok_or_else(|| eyre!("no block"))?;

            let pending = rpc
                .ok("eth_getFilterChanges", json!([pending_filter]))
                .await?;
            let pending = pending.as_array().cloned().unwrap_or_default();
            ensure!(
                pending.contains(&json!(dh)) && pending.contains(&json!(sh)),
                "pending tx filter missed our txs: {pending:?}"
            );

            let blocks = rpc
                .ok("eth_getFilterChanges", json!([block_filter]))
                .await?;
            let block_hash = json!(r.block_hash.ok_or_else(|| eyre!("no block hash"))?);
            ensure!(
                blocks.as_array().is_some_and(|a| a.contains(&block_hash)),
                "block filter missed block {bn}: {blocks}"
            );
            // Changes are consumed: polling again does not repeat the same hashes.
            let again = rpc
                .ok("eth_getFilterChanges", json!([block_filter]))
                .await?;
            ensure!(
                !again.as_array().is_some_and(|a| a.contains(&block_hash)),
                "block filter repeated a block: {again}"
            );

            let logs = rpc
                .ok("eth_getFilterChanges", json!([log_filter.clone()]))
                .await?;
            let logs = logs.as_array().cloned().unwrap_or_default();
            ensure!(
                logs.iter().any(|l| l["transactionHash"] == json!(sh)),
                "log filter missed the event: {logs:?}"
            );
            let all = rpc
                .ok("eth_getFilterLogs", json!([log_filter.clone()]))
                .await?;
            ensure!(
                all.as_array()
                    .is_some_and(|a| a.iter().any(|l| l["transactionHash"] == json!(sh))),
                "eth_getFilterLogs: {all}"
            );

            for f in [&block_filter, &pending_filter, &log_filter] {
                assert_eq!(
                    rpc.ok("eth_uninstallFilter", json!([f])).await?,
                    json!(true)
                );
            }
            assert_eq!(
                rpc.ok("eth_uninstallFilter", json!([block_filter])).await?,
                json!(false)
            );
            let gone = rpc
                .call("eth_getFilterChanges", json!([block_filter]))
                .await?;
            ensure!(
                gone.is_err(),
                "polling an uninstalled filter must fail: {gone:?}"
            );
            Ok(())
        })
        .await
}

/// Raw WebSocket: a call, a batch, and eth_subscribe / eth_unsubscribe of
/// `newPendingTransactions` (alloy's subscriptions are tested in `contract`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_protocol() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let (mut ws, _) = tokio_tungstenite::connect_async(node.ws_url()).await?;

            async fn next_json(
                ws: &mut (impl StreamExt<
                    Item = Result<Message, tokio_tungstenite::tungstenite::Error>,
                > + Unpin),
            ) -> Result<Value> {
                loop {
                    let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
                        .await
                        .map_err(|_| eyre!("websocket: nothing received"))?
                        .ok_or_else(|| eyre!("websocket closed"))??;
                    match msg {
                        Message::Text(t) => return Ok(serde_json::from_str(t.as_str())?),
                        Message::Binary(b) => return Ok(serde_json::from_slice(&b)?),
                        _ => continue,
                    }
                }
            }

            ws.send(Message::text(r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#)).await?;
            let r = next_json(&mut ws).await?;
            assert_eq!(r["id"], 1);
            assert_eq!(r["result"], format!("{DEV_CHAIN_ID:#x}"));

            ws.send(Message::text(
                r#"[{"jsonrpc":"2.0","id":1,"method":"net_version"},{"jsonrpc":"2.0","id":2,"method":"eth_nope"}]"#,
            ))
            .await?;
            let r = next_json(&mut ws).await?;
            let arr = r.as_array().ok_or_else(|| eyre!("ws batch: {r}"))?;
            assert_eq!(arr.len(), 2);
            assert_eq!(arr[0]["id"], 1);
            assert_eq!(err_code(&arr[1]), Some(-32601));

            ws.send(Message::text(
                r#"{"jsonrpc":"2.0","id":3,"method":"eth_subscribe","params":["newPendingTransactions"]}"#,
            ))
            .await?;
            let r = next_json(&mut ws).await?;
            assert_eq!(r["id"], 3);
            let sub = r["result"].clone();
            ensure!(sub.is_string(), "subscription id: {r}");

            let s = dev_signer(6);
            let (raw, hash) = sign_raw(
                &s,
                transfer_1559(DEV_CHAIN_ID, 0, random_address(), U256::from(1), 10 * GWEI, GWEI),
            );
            node.rpc().send_raw(&raw).await?.map_err(|e| eyre!("send: {e}"))?;
            loop {
                let n = next_json(&mut ws).await?;
                if n["method"] != "eth_subscription" {
                    continue;
                }
                assert_eq!(n["params"]["subscription"], sub);
                if n["params"]["result"] == json!(hash) {
                    break;
                }
            }

            let unsub = json!({"jsonrpc": "2.0", "id": 4, "method": "eth_unsubscribe", "params": [sub]});
            ws.send(Message::text(unsub.to_string())).await?;
            loop {
                let r = next_json(&mut ws).await?;
                if r["id"] == 4 {
                    assert_eq!(r["result"], json!(true));
                    break;
                }
            }
            Ok(())
        })
        .await
}

/// State at a recent, non-head block (what a wallet does when it reads "block N" and the head
/// moves on before its next call). Ordo answers from its per-block change sets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_at_recent_blocks() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let n0 = rpc.block_number().await?;
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while rpc.block_number().await? < n0 + 3 {
                ensure!(std::time::Instant::now() < deadline, "no blocks");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let bal = json!(DEV_BALANCE);
            for block in [
                json!(format!("{n0:#x}")),
                json!("earliest"),
                json!({"blockNumber": "0x0"}),
            ] {
                let v = rpc
                    .ok("eth_getBalance", json!([DEV_ACCOUNT0, block]))
                    .await?;
                assert_eq!(v, bal, "eth_getBalance at {block}");
            }
            Ok(())
        })
        .await
}
