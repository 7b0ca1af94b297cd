//! The tooling surface besides tracing (issue 18), on a real `ordo dev`:
//! - the txpool namespace in geth's shapes, with pending, queued and replaced transactions;
//! - `eth_sendRawTransactionSync` (EIP-7966): the receipt of a sealed block, the EIP's timeout
//!   error (code 4, the hash as data) with the transaction landing later, refusals as
//!   `eth_sendRawTransaction` gives them;
//! - the fee oracle: op-geth's floor on empty blocks, the tip recent blocks paid otherwise;
//! - `eth_config` (EIP-7910) and `eth_blobBaseFee`;
//! - `eth_simulateV1`: blocks of calls with state and block overrides, traced transfers, full
//!   transactions, a reverting call as a result, the spec's errors, the chain untouched.

use alloy::primitives::{Address, B256, U256};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::{Value, json};

use crate::{GUARD, RECEIPT};

/// Slows blocks to one in 10 s and waits out the slot already scheduled: what is sent next
/// stays in the pool for that long (ample for a few calls; the slot after it comes at most
/// that late once blocks are fast again).
async fn hold_blocks(node: &TestNode) -> Result<()> {
    node.admin()?
        .ok("admin_setBlockParams", json!([{"blockTimeMs": 10_000}]))
        .await?;
    let head = node.rpc().block_number().await?;
    wait_block(&node.provider(&dev_signer(0)), head + 1, RECEIPT).await?;
    Ok(())
}

/// A signed transfer of 1 wei to `to` from `signer` at `nonce`, paying `max_fee` (a tenth of
/// it as the tip, so a higher fee replaces).
async fn send(
    rpc: &Rpc,
    signer: &alloy::signers::local::PrivateKeySigner,
    nonce: u64,
    to: Address,
    max_fee: u128,
) -> Result<B256> {
    let (raw, hash) = sign_raw(
        signer,
        transfer_1559(
            DEV_CHAIN_ID,
            nonce,
            to,
            U256::from(1),
            max_fee,
            max_fee / 10,
        ),
    );
    rpc.send_raw(&raw)
        .await?
        .map_err(|e| eyre!("nonce {nonce}: {e:?}"))?;
    Ok(hash)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txpool_content_and_inspect_show_pending_queued_and_replaced_as_geth_does() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            hold_blocks(&node).await?;
            let me = dev_signer(4);
            let to = random_address();
            let first = send(&rpc, &me, 0, to, 10 * GWEI).await?;
            let replaced = send(&rpc, &me, 1, to, 10 * GWEI).await?;
            // The same nonce at a higher fee replaces it; a gap parks the last one.
            let second = send(&rpc, &me, 1, to, 20 * GWEI).await?;
            let gapped = send(&rpc, &me, 5, to, 10 * GWEI).await?;

            let status = rpc.ok("txpool_status", json!([])).await?;
            ensure!(
                status == json!({"pending": "0x2", "queued": "0x1"}),
                "{status}"
            );
            let content = rpc.ok("txpool_content", json!([])).await?;
            let key = |v: &Value| -> Option<Value> {
                v.as_object()?
                    .iter()
                    .find(|(k, _)| k.parse::<Address>().ok() == Some(me.address()))
                    .map(|(_, v)| v.clone())
            };
            let pending = key(&content["pending"]).ok_or_else(|| eyre!("{content}"))?;
            let queued = key(&content["queued"]).ok_or_else(|| eyre!("{content}"))?;
            ensure!(
                pending["0"]["hash"] == json!(first)
                    && pending["1"]["hash"] == json!(second)
                    && pending.as_object().map(|m| m.len()) == Some(2),
                "pending: {pending}"
            );
            ensure!(
                !content.to_string().contains(&format!("{replaced:#x}")),
                "the replaced transaction is still shown"
            );
            ensure!(
                queued["5"]["hash"] == json!(gapped)
                    && queued["5"]["blockHash"].is_null()
                    && queued["5"]["nonce"] == "0x5"
                    && queued["5"]["from"] == json!(me.address()),
                "queued: {queued}"
            );
            let from = rpc.ok("txpool_contentFrom", json!([me.address()])).await?;
            ensure!(
                from["pending"] == pending && from["queued"] == queued,
                "contentFrom: {from}"
            );
            let nobody = rpc
                .ok("txpool_contentFrom", json!([random_address()]))
                .await?;
            ensure!(nobody == json!({"pending": {}, "queued": {}}), "{nobody}");
            // geth's one-line summaries: "to: value wei + gas gas × price wei".
            let inspect = rpc.ok("txpool_inspect", json!([])).await?;
            let lines = key(&inspect["pending"]).ok_or_else(|| eyre!("{inspect}"))?;
            ensure!(
                lines["1"]
                    == json!(format!(
                        "{}: 1 wei + 21000 gas × {} wei",
                        to.to_checksum(None),
                        20 * GWEI
                    )),
                "inspect: {inspect}"
            );
            let bad = rpc.call("txpool_contentFrom", json!(["0x12"])).await?;
            ensure!(
                bad.as_ref().err().is_some_and(|e| e.code == -32602),
                "{bad:?}"
            );

            // Once blocks run again the pending ones are included; the gapped one waits.
            node.admin()?
                .ok("admin_setBlockParams", json!([{"blockTimeMs": 200}]))
                .await?;
            wait_receipt(&node.provider(&me), second, RECEIPT).await?;
            let status = rpc.ok("txpool_status", json!([])).await?;
            ensure!(
                status == json!({"pending": "0x0", "queued": "0x1"}),
                "{status}"
            );
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_raw_transaction_sync_answers_the_receipt_of_a_sealed_block_or_times_out() -> Result<()>
{
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let me = dev_signer(5);
            let to = random_address();
            let sync = |nonce: u64, timeout: Option<Value>| {
                let (raw, hash) = sign_raw(
                    &me,
                    transfer_1559(DEV_CHAIN_ID, nonce, to, U256::from(7), 10 * GWEI, GWEI),
                );
                let params = match timeout {
                    Some(t) => json!([raw, t]),
                    None => json!([raw]),
                };
                let rpc = rpc.clone();
                async move {
                    Ok::<_, eyre::Report>((
                        hash,
                        rpc.call("eth_sendRawTransactionSync", params).await?,
                    ))
                }
            };

            // The receipt comes back in the answer, of a block the node has sealed and serves.
            let (hash, answer) = sync(0, None).await?;
            let receipt = answer.map_err(|e| eyre!("{e:?}"))?;
            ensure!(
                receipt["transactionHash"] == json!(hash) && receipt["status"] == "0x1",
                "{receipt}"
            );
            let block = rpc
                .ok("eth_getBlockByHash", json!([receipt["blockHash"], false]))
                .await?;
            ensure!(
                block["transactions"]
                    .as_array()
                    .is_some_and(|t| t.contains(&json!(hash))),
                "the receipt's block does not hold it: {block}"
            );
            ensure!(
                rpc.ok("eth_getTransactionReceipt", json!([hash])).await? == receipt,
                "eth_getTransactionReceipt differs"
            );

            // Blocks slowed past the timeout (milliseconds, a number or a hex quantity): EIP-7966's
            // error, code 4 with the hash; the transaction stays acknowledged and lands later.
            hold_blocks(&node).await?;
            let (late, answer) = sync(1, Some(json!(300))).await?;
            let err = answer
                .err()
                .ok_or_else(|| eyre!("answered before any block"))?;
            ensure!(err.code == 4 && err.data == Some(json!(late)), "{err:?}");
            let (later, answer) = sync(2, Some(json!("0x12c"))).await?;
            ensure!(
                answer.as_ref().err().is_some_and(|e| e.code == 4),
                "{answer:?}"
            );
            node.admin()?
                .ok("admin_setBlockParams", json!([{"blockTimeMs": 200}]))
                .await?;
            for hash in [late, later] {
                let r = wait_receipt(&node.provider(&me), hash, RECEIPT).await?;
                ensure!(r.status(), "{hash} failed");
            }

            // Refused ones answer as eth_sendRawTransaction does: a replay, and a halted node.
            let (_, replay) = sync(0, None).await?;
            ensure!(
                replay
                    .as_ref()
                    .err()
                    .is_some_and(|e| e.message.contains("nonce too low")),
                "{replay:?}"
            );
            node.admin()?.ok("admin_halt", json!(["drill"])).await?;
            let (_, halted) = sync(3, Some(json!(500))).await?;
            ensure!(
                halted
                    .as_ref()
                    .err()
                    .is_some_and(|e| e.code == -32000 && e.message.contains("halted")),
                "{halted:?}"
            );
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fee_suggestions_follow_the_tips_recent_blocks_paid() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let tip = |v: Value| parse_quantity(&v).map(u128::from);
            // A chain of empty blocks suggests op-geth's floor.
            let floor = tip(rpc.ok("eth_maxPriorityFeePerGas", json!([])).await?)?;
            ensure!(floor == 1_000_000, "suggested {floor} on an empty chain");
            // Over more blocks than the oracle reads, every block holds a transaction paying a
            // 3 gwei tip: that is what it suggests, and the gas price is the next base fee on top.
            let me = dev_signer(6);
            let provider = node.provider(&me);
            let paid = 3 * GWEI;
            for nonce in 0..24 {
                let (raw, hash) = sign_raw(
                    &me,
                    transfer_1559(
                        DEV_CHAIN_ID,
                        nonce,
                        random_address(),
                        U256::from(1),
                        20 * GWEI,
                        paid,
                    ),
                );
                rpc.send_raw(&raw).await?.map_err(|e| eyre!("{e:?}"))?;
                wait_receipt(&provider, hash, RECEIPT).await?;
            }
            let suggested = tip(rpc.ok("eth_maxPriorityFeePerGas", json!([])).await?)?;
            ensure!(
                suggested == paid,
                "suggested {suggested}, every block paid {paid}"
            );
            let history = rpc.ok("eth_feeHistory", json!([1, "latest", []])).await?;
            let next_base = tip(history["baseFeePerGas"][1].clone())?;
            let price = tip(rpc.ok("eth_gasPrice", json!([])).await?)?;
            ensure!(
                price == next_base + paid,
                "gas price {price}, next base fee {next_base}"
            );
            Ok(())
        })
        .await
}

/// Ordo's blocks make Ethereum's system calls: EIP-2935's contract answers the hash of a
/// recent block (what BLOCKHASH-free contracts and provers read), EIP-4788's the beacon root
/// a block named (zero on a node without an L1: its blocks have no L1 origin; with one, the
/// origin's, in deposits.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_block_stores_its_parents_hash_and_beacon_root_in_the_system_contracts() -> Result<()>
{
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let provider = node.provider(&dev_signer(0));
            wait_block(&provider, 3, GUARD).await?;
            let head = rpc
                .ok("eth_getBlockByNumber", json!(["latest", false]))
                .await?;
            let number = parse_quantity(&head["number"])?;
            let at = format!("{number:#x}");
            let parent = rpc
                .ok(
                    "eth_getBlockByNumber",
                    json!([format!("{:#x}", number - 1), false]),
                )
                .await?;
            let word = |n: u64| format!("0x{n:064x}");
            let stored = rpc
                .ok(
                    "eth_call",
                    json!([{"to": "0x0000F90827F1C53a10cb7A02335B175320002935",
                            "data": word(number - 1)}, at]),
                )
                .await?;
            ensure!(
                stored == parent["hash"],
                "history {stored}, parent {parent}"
            );
            let time = parse_quantity(&head["timestamp"])?;
            let root = rpc
                .ok(
                    "eth_call",
                    json!([{"to": "0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02",
                            "data": word(time)}, at]),
                )
                .await?;
            ensure!(
                root == json!(format!("0x{}", "0".repeat(64)))
                    && head["parentBeaconBlockRoot"] == root,
                "beacon root {root}, head {head}"
            );
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eth_config_and_blob_base_fee_say_what_the_chain_does() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let config = rpc.ok("eth_config", json!([])).await?;
            let current = &config["current"];
            let genesis = rpc
                .ok("eth_getBlockByNumber", json!(["0x0", false]))
                .await?;
            let genesis_hash: B256 = serde_json::from_value(genesis["hash"].clone())?;
            let fork_id = alloy::eips::eip2124::ForkHash::from(genesis_hash);
            ensure!(
                current["chainId"] == json!(format!("{DEV_CHAIN_ID:#x}"))
                    && current["activationTime"] == 0
                    && current["forkId"] == json!(format!("0x{}", alloy::hex::encode(fork_id.0)))
                    && config["next"].is_null()
                    && config["last"].is_null(),
                "{config}"
            );
            // Blob transactions are refused here, and the schedule says so.
            ensure!(
                current["blobSchedule"]
                    == json!({"baseFeeUpdateFraction": 5_007_716, "max": 0, "target": 0}),
                "{config}"
            );
            // Every block calls the beacon-root and block-hash contracts; no requests.
            ensure!(
                current["systemContracts"]
                    == json!({
                        "BEACON_ROOTS_ADDRESS": "0x000f3df6d732807ef1319fb7b8bb8522d0beac02",
                        "HISTORY_STORAGE_ADDRESS": "0x0000f90827f1c53a10cb7a02335b175320002935",
                    }),
                "{config}"
            );
            let precompiles = current["precompiles"]
                .as_object()
                .ok_or_else(|| eyre!("{config}"))?;
            ensure!(
                precompiles.len() == 17,
                "Prague has 17 precompiles: {config}"
            );
            ensure!(
                precompiles["ECREC"] == json!(Address::with_last_byte(1))
                    && precompiles["KZG_POINT_EVALUATION"] == json!(Address::with_last_byte(0x0a))
                    && precompiles["BLS12_MAP_FP2_TO_G2"] == json!(Address::with_last_byte(0x11)),
                "{config}"
            );
            ensure!(
                rpc.ok("eth_blobBaseFee", json!([])).await? == "0x1",
                "blob base fee"
            );
            Ok(())
        })
        .await
}

alloy::sol! {
    contract Probe {
        function probe(uint256 x) external payable returns (uint256 doubled);
        function boom() external pure;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_v1_runs_blocks_of_calls_with_overrides_and_leaves_the_chain_alone() -> Result<()>
{
    use alloy::sol_types::SolCall;
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let head = rpc.block_number().await?;
            // An account that exists only in the simulation, funded by a state override.
            let ghost = random_address();
            let to = random_address();
            let probe = ghost.create(1);
            let creation = format!(
                "0x{}",
                include_str!("../../../contracts/out/TraceProbe.bin").trim()
            );
            let call = |data: Vec<u8>, value: u64| {
                json!({"from": ghost, "to": probe, "value": format!("{value:#x}"),
                       "data": alloy::primitives::Bytes::from(data)})
            };
            let payload = json!({
                "blockStateCalls": [
                    {
                        "stateOverrides": {format!("{ghost:#x}"): {"balance": format!("{:#x}", 10 * ETHER)}},
                        "calls": [
                            {"from": ghost, "to": to, "value": format!("{ETHER:#x}")},
                            {"from": ghost, "data": creation},
                        ]
                    },
                    {
                        "blockOverrides": {"feeRecipient": format!("{:#x}", Address::repeat_byte(0xfe))},
                        "calls": [
                            call(Probe::probeCall { x: U256::from(3) }.abi_encode(), 5),
                            call(Probe::boomCall {}.abi_encode(), 0),
                        ]
                    }
                ],
                "traceTransfers": true,
                "returnFullTransactions": true
            });
            let blocks = rpc
                .ok("eth_simulateV1", json!([payload, "latest"]))
                .await?;
            let blocks = blocks.as_array().cloned().ok_or_else(|| eyre!("{blocks}"))?;
            ensure!(blocks.len() == 2, "{blocks:?}");
            let (one, two) = (&blocks[0], &blocks[1]);
            ensure!(
                parse_quantity(&one["number"])? == head + 1
                    && parse_quantity(&two["number"])? == head + 2
                    && two["parentHash"] == one["hash"]
                    && parse_quantity(&two["timestamp"])? > parse_quantity(&one["timestamp"])?
                    && two["miner"] == json!(Address::repeat_byte(0xfe)),
                "block fields: {one} {two}"
            );
            // Full transactions, from the overridden account, hashes matching the calls' logs.
            let txs = one["transactions"].as_array().cloned().unwrap_or_default();
            ensure!(
                txs.len() == 2 && txs[0]["from"] == json!(ghost) && txs[0]["to"] == json!(to),
                "{one}"
            );
            // The transfer, traced as an ERC-20 style log from 0xEeee…EEeE.
            let transfer = &one["calls"][0];
            ensure!(transfer["status"] == "0x1", "{transfer}");
            let log = &transfer["logs"][0];
            ensure!(
                log["address"]
                    == json!(alloy::primitives::address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE"))
                    && log["transactionHash"] == txs[0]["hash"]
                    && log["blockHash"] == one["hash"],
                "{transfer}"
            );
            ensure!(one["calls"][1]["status"] == "0x1", "the creation: {}", one["calls"][1]);
            // The next block sees the contract the first created and calls it.
            let probed = &two["calls"][0];
            ensure!(
                probed["status"] == "0x1"
                    && probed["returnData"] == json!(format!("0x{:064x}", 6))
                    && probed["logs"].as_array().is_some_and(|l| l.len() >= 2),
                "{probed}"
            );
            // A revert is the call's result: code 3, the reason, the revert data.
            let boom = &two["calls"][1];
            ensure!(
                boom["status"] == "0x0"
                    && boom["error"]["code"] == 3
                    && boom["error"]["message"] == "execution reverted: boom"
                    && boom["error"]["data"].as_str().is_some_and(|d| d.starts_with("0x08c379a0")),
                "{boom}"
            );
            // Nothing reached the chain.
            ensure!(
                rpc.ok("eth_getBalance", json!([ghost, "latest"])).await? == "0x0"
                    && rpc.ok("eth_getCode", json!([probe, "latest"])).await? == "0x",
                "the simulation changed the chain"
            );

            // With validation, a sender that cannot pay fails the whole request with the spec's
            // code; numbers must go up; at most 256 blocks.
            let unfunded = json!({"blockStateCalls": [{"calls": [
                {"from": random_address(), "to": to, "value": "0x1", "maxFeePerGas": format!("{:#x}", 10 * GWEI)}
            ]}], "validation": true});
            let err = rpc.call("eth_simulateV1", json!([unfunded])).await?;
            ensure!(err.as_ref().err().is_some_and(|e| e.code == -38014), "{err:?}");
            let backwards = json!({"blockStateCalls": [
                {"blockOverrides": {"number": format!("{:#x}", head + 5)}, "calls": []},
                {"blockOverrides": {"number": format!("{:#x}", head + 4)}, "calls": []}
            ]});
            let err = rpc.call("eth_simulateV1", json!([backwards])).await?;
            ensure!(err.as_ref().err().is_some_and(|e| e.code == -38020), "{err:?}");
            let many: Vec<Value> = (0..257).map(|_| json!({"calls": []})).collect();
            let err = rpc
                .call("eth_simulateV1", json!([{"blockStateCalls": many}]))
                .await?;
            ensure!(err.as_ref().err().is_some_and(|e| e.code == -38026), "{err:?}");
            Ok(())
        })
        .await
}
