//! Tracing (issue 18): `debug_trace*` on a real node, against anvil tracing the very same
//! transaction. A fresh key deploys `contracts/test/TraceProbe.sol` at nonce 0 on both chains
//! (so at the same address) and calls `probe` at nonce 1 with the same gas and value: one
//! transaction that creates a contract with value, calls it, has a call of it revert and
//! catches that, destroys it, writes storage and logs.
//! - `callTracer` (with `withLog`, and `onlyTopCall`), `4byteTracer` and the default struct
//!   logger give anvil's output exactly; `prestateTracer` (plain and `diffMode`) gives anvil's
//!   for every account but the ones the chains pay fees to (Ordo's base fee vault and fee
//!   recipient, anvil's coinbase) and the sender's balance (each chain charged its own gas
//!   price), which differ by design;
//! - `noopTracer` is `{}`; `debug_traceBlockByNumber`/`ByHash` give each transaction's trace
//!   under its hash; `debug_traceCall` traces a revert and a state override;
//! - a trace past its `timeout` stops with geth's "execution timeout" while blocks go on;
//! - `debug_getRaw*` give the consensus encodings;
//! - Foundry's `cast run` and `cast call --trace` work against the node.

use alloy::{
    consensus::{Block, ReceiptEnvelope, TxEip1559, TxEnvelope},
    eips::eip2718::Decodable2718,
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, TxKind, U256, keccak256},
    providers::Provider,
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use eyre::{Result, ensure, eyre};
use ordo_l1::testing::Anvil;
use ordo_tests::*;
use serde_json::{Value, json};

use crate::GUARD;

alloy::sol! {
    contract TraceProbe {
        function probe(uint256 x) external payable returns (uint256 doubled);
        function burn(uint256 rounds) external returns (uint256 acc);
        function boom() external pure;
        function total() external view returns (uint256);
    }
}

/// One chain the probe runs on: its JSON-RPC and a provider paying from the dev account.
struct Chain {
    name: &'static str,
    rpc: Rpc,
    chain_id: u64,
}

impl Chain {
    async fn send(&self, key: &PrivateKeySigner, tx: TxEip1559) -> Result<B256> {
        let (raw, hash) = sign_raw(key, tx);
        self.rpc
            .send_raw(&raw)
            .await?
            .map_err(|e| eyre!("{}: {e:?}", self.name))?;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let r = self
                .rpc
                .ok("eth_getTransactionReceipt", json!([hash]))
                .await?;
            if !r.is_null() {
                return Ok(hash);
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "{}: no receipt for {hash}",
                self.name
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    fn tx(&self, nonce: u64, to: TxKind, value: u64, input: Vec<u8>) -> TxEip1559 {
        TxEip1559 {
            chain_id: self.chain_id,
            nonce,
            gas_limit: 1_000_000,
            max_fee_per_gas: 50 * GWEI,
            max_priority_fee_per_gas: GWEI,
            to,
            value: U256::from(value),
            access_list: Default::default(),
            input: input.into(),
        }
    }

    async fn trace(&self, hash: B256, options: Value) -> Result<Value> {
        self.rpc
            .ok("debug_traceTransaction", json!([hash, options]))
            .await
            .map_err(|e| eyre!("{} traceTransaction {options}: {e}", self.name))
    }
}

/// Sends `to` an ether from `funder` on `chain`.
async fn fund(chain: &Chain, funder: &PrivateKeySigner, to: Address) -> Result<()> {
    let nonce = chain
        .rpc
        .ok(
            "eth_getTransactionCount",
            json!([funder.address(), "latest"]),
        )
        .await?;
    let mut tx = chain.tx(parse_quantity(&nonce)?, TxKind::Call(to), 0, Vec::new());
    tx.value = U256::from(ETHER);
    tx.gas_limit = 21_000;
    chain.send(funder, tx).await?;
    Ok(())
}

/// The probe deployed and called from `key` on `chain`: (probe address, probe tx hash).
async fn run_probe(chain: &Chain, key: &PrivateKeySigner) -> Result<(Address, B256)> {
    let code = alloy::hex::decode(include_str!("../../../contracts/out/TraceProbe.bin").trim())?;
    chain
        .send(key, chain.tx(0, TxKind::Create, 0, code))
        .await?;
    let probe = key.address().create(0);
    let call = TraceProbe::probeCall { x: U256::from(7) }.abi_encode();
    let hash = chain
        .send(key, chain.tx(1, TxKind::Call(probe), 1000, call))
        .await?;
    Ok((probe, hash))
}

/// The prestate tracer's entries for the accounts both chains treat alike: all but the
/// ones each chain pays its fees to, and the sender without its balance. An account that was
/// empty before the transaction (the child it creates) is left out of the pre-state, as geth
/// leaves it out (and Ordo, through revm-inspectors); anvil 1.7.1 lists it as
/// `{"balance": "0x0"}`.
fn comparable_prestate(
    trace: &Value,
    sender: Address,
    fee_accounts: &[Address],
) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    let mut take = |part: &str, map: &Value| {
        for (account, state) in map.as_object().into_iter().flatten() {
            let address: Address = account.parse().unwrap_or_default();
            if fee_accounts.contains(&address)
                || (part != "post:" && *state == json!({"balance": "0x0"}))
            {
                continue;
            }
            let mut state = state.clone();
            if address == sender
                && let Some(s) = state.as_object_mut()
            {
                s.remove("balance");
            }
            out.insert(format!("{part}{account}"), state);
        }
    };
    if trace.get("pre").is_some() {
        take("pre:", &trace["pre"]);
        take("post:", &trace["post"]);
    } else {
        take("", trace);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geths_tracers_on_ordo_answer_as_on_anvil_for_the_same_transaction() -> Result<()> {
    let anvil = Anvil::spawn_with(ordo_l1::testing::AnvilOptions {
        steps_tracing: true,
        ..Default::default()
    })
    .await;
    let node = TestNode::dev().await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let key = PrivateKeySigner::random();
        let ordo = Chain {
            name: "ordo",
            rpc: node.rpc(),
            chain_id: DEV_CHAIN_ID,
        };
        let l1 = Chain {
            name: "anvil",
            rpc: Rpc::new(&anvil.url()),
            chain_id: anvil.provider().get_chain_id().await?,
        };
        // The same key, funded on both, deploys and probes at the same nonces.
        fund(&ordo, &dev_signer(1), key.address()).await?;
        fund(&l1, &Anvil::dev_key(1), key.address()).await?;

        let (probe, ours) = run_probe(&ordo, &key).await?;
        let (anvil_probe, theirs) = run_probe(&l1, &key).await?;
        ensure!(probe == anvil_probe);
        let child = probe.create(1);

        // The call tracer, with logs: anvil's output, field for field, but the top call's
        // gas: Ordo reports the transaction's gas limit there, as geth does (its callTracer
        // puts `tx.Gas()` back after the intrinsic gas is taken); anvil reports what was
        // left after the intrinsic gas.
        let with_log = json!({"tracer": "callTracer", "tracerConfig": {"withLog": true}});
        let calls = ordo.trace(ours, with_log.clone()).await?;
        let mut anvils = l1.trace(theirs, with_log).await?;
        ensure!(calls["gas"] == json!(format!("{:#x}", 1_000_000)), "{calls}");
        anvils["gas"] = calls["gas"].clone();
        ensure!(
            calls == anvils,
            "callTracer differs:\nordo {calls}\nanvil {anvils}"
        );
        // What it says: the probe called with the value, creating the child with it, a static
        // call, the reverted call with its reason, the self-destruct, and the logs.
        ensure!(
            calls["type"] == "CALL"
                && calls["to"] == json!(probe)
                && calls["value"] == "0x3e8"
                && calls["output"]
                    == json!(format!("0x{:064x}", 14)),
            "{calls}"
        );
        let inner = calls["calls"].as_array().cloned().unwrap_or_default();
        let kinds: Vec<&str> = inner.iter().filter_map(|c| c["type"].as_str()).collect();
        ensure!(
            kinds == ["CREATE", "STATICCALL", "STATICCALL", "CALL"],
            "inner calls {kinds:?}: {calls}"
        );
        ensure!(
            inner[0]["to"] == json!(child)
                && inner[0]["value"] == "0x3e8"
                && inner[0]["logs"].as_array().is_some_and(|l| l.len() == 1),
            "the creation: {}",
            inner[0]
        );
        ensure!(
            inner[2]["error"] == "execution reverted"
                && inner[2]["revertReason"] == "child says no",
            "the reverted call: {}",
            inner[2]
        );
        let destroyed = &inner[3]["calls"][0];
        ensure!(
            destroyed["type"] == "SELFDESTRUCT" && destroyed["to"] == json!(key.address()),
            "the self-destruct: {}",
            inner[3]
        );
        ensure!(
            calls["logs"].as_array().is_some_and(|l| l.len() == 1),
            "the probe's own log: {calls}"
        );
        let top = json!({"tracer": "callTracer", "tracerConfig": {"onlyTopCall": true}});
        let only_top = ordo.trace(ours, top.clone()).await?;
        ensure!(only_top.get("calls").is_none(), "{only_top}");
        let mut anvils = l1.trace(theirs, top).await?;
        anvils["gas"] = only_top["gas"].clone();
        ensure!(only_top == anvils, "onlyTopCall:\nordo {only_top}\nanvil {anvils}");

        // 4byte and the struct logger: anvil's, exactly.
        for options in [json!({"tracer": "4byteTracer"}), json!({})] {
            let a = ordo.trace(ours, options.clone()).await?;
            let b = l1.trace(theirs, options.clone()).await?;
            ensure!(a == b, "{options} differs:\nordo {a}\nanvil {b}");
        }
        let steps = ordo.trace(ours, json!({})).await?;
        let ops: Vec<&str> = steps["structLogs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["op"].as_str())
            .collect();
        for op in ["CREATE", "STATICCALL", "CALL", "REVERT", "SELFDESTRUCT", "SSTORE", "LOG2"] {
            ensure!(ops.contains(&op), "no {op} in the struct log");
        }
        let receipt = ordo
            .rpc
            .ok("eth_getTransactionReceipt", json!([ours]))
            .await?;
        ensure!(
            steps["failed"] == false && steps["gas"] == json!(parse_quantity(&receipt["gasUsed"])?),
            "{}",
            steps["gas"]
        );

        // Prestate, plain and as a diff: anvil's for every account both chains treat alike.
        let block = ordo
            .rpc
            .ok("eth_getBlockByHash", json!([receipt["blockHash"], false]))
            .await?;
        let beneficiary: Address = serde_json::from_value(block["miner"].clone())?;
        let anvil_receipt = l1.rpc.ok("eth_getTransactionReceipt", json!([theirs])).await?;
        let anvil_block = l1
            .rpc
            .ok("eth_getBlockByHash", json!([anvil_receipt["blockHash"], false]))
            .await?;
        let coinbase: Address = serde_json::from_value(anvil_block["miner"].clone())?;
        let fee_accounts = [beneficiary, ordo_primitives::BASE_FEE_VAULT, coinbase];
        for config in [json!({}), json!({"diffMode": true})] {
            let options = json!({"tracer": "prestateTracer", "tracerConfig": config});
            let a = ordo.trace(ours, options.clone()).await?;
            let b = l1.trace(theirs, options.clone()).await?;
            let (a, b) = (
                comparable_prestate(&a, key.address(), &fee_accounts),
                comparable_prestate(&b, key.address(), &fee_accounts),
            );
            let differing: Vec<String> = a
                .keys()
                .chain(b.keys())
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| format!("{k}: ordo {:?}, anvil {:?}", a.get(k), b.get(k)))
                .collect();
            ensure!(
                differing.is_empty(),
                "{options} differs (probe {probe}, child {child}, sender {}):\n{}",
                key.address(),
                differing.join("\n")
            );
            ensure!(
                a.keys().any(|k| k.ends_with(&format!("{probe:#x}"))),
                "the probe is not in {a:?}"
            );
        }
        let diff = ordo
            .trace(
                ours,
                json!({"tracer": "prestateTracer", "tracerConfig": {"diffMode": true}}),
            )
            .await?;
        // The base fee vault received the base fee, as the diff shows.
        let vault = format!("{:#x}", ordo_primitives::BASE_FEE_VAULT);
        ensure!(diff["post"][&vault]["balance"].is_string(), "{diff}");

        ensure!(
            ordo.trace(ours, json!({"tracer": "noopTracer"})).await? == json!({}),
            "noop"
        );

        // A block's traces, by number and by hash, one per transaction under its hash.
        let number = receipt["blockNumber"].clone();
        for (method, id) in [
            ("debug_traceBlockByNumber", number.clone()),
            ("debug_traceBlockByHash", receipt["blockHash"].clone()),
        ] {
            let traces = ordo
                .rpc
                .ok(method, json!([id, {"tracer": "callTracer"}]))
                .await?;
            let list = traces.as_array().cloned().unwrap_or_default();
            ensure!(
                list.len() == block["transactions"].as_array().map_or(0, Vec::len),
                "{method}: {traces}"
            );
            let mine = list
                .iter()
                .find(|t| t["txHash"] == json!(ours))
                .ok_or_else(|| eyre!("{method}: no trace for {ours}"))?;
            let alone = ordo.trace(ours, json!({"tracer": "callTracer"})).await?;
            ensure!(mine["result"] == alone, "{method}: {mine}");
        }

        // A call traced: a revert with its reason, and a state override read back.
        let boom = ordo
            .rpc
            .ok(
                "debug_traceCall",
                json!([
                    {"from": key.address(), "to": probe, "data": Bytes::from(TraceProbe::boomCall {}.abi_encode())},
                    "latest",
                    {"tracer": "callTracer"}
                ]),
            )
            .await?;
        ensure!(
            boom["error"] == "execution reverted" && boom["revertReason"] == "boom",
            "{boom}"
        );
        // eth_call says it as geth does: the reason as the contract gave it.
        let called = ordo
            .rpc
            .call(
                "eth_call",
                json!([{"to": probe, "data": Bytes::from(TraceProbe::boomCall {}.abi_encode())}, "latest"]),
            )
            .await?;
        ensure!(
            called
                .as_ref()
                .err()
                .is_some_and(|e| e.code == 3 && e.message == "execution reverted: boom"),
            "{called:?}"
        );
        // A halt, in geth's words too: code that is the INVALID opcode, and too little gas.
        let halt = |code: &str, gas: u64| {
            json!([
                {"to": probe, "gas": format!("{gas:#x}")},
                "latest",
                {format!("{probe:#x}"): {"code": code}}
            ])
        };
        for (params, want) in [
            (halt("0xfe", 100_000), "invalid opcode"),
            (halt("0x5b600056", 30_000), "out of gas"),
        ] {
            let halted = ordo.rpc.call("eth_call", params).await?;
            ensure!(
                halted
                    .as_ref()
                    .err()
                    .is_some_and(|e| e.code == -32000 && e.message == want),
                "{want}: {halted:?}"
            );
        }
        let total = ordo
            .rpc
            .ok(
                "debug_traceCall",
                json!([
                    {"to": probe, "data": Bytes::from(TraceProbe::totalCall {}.abi_encode())},
                    "latest",
                    {"tracer": "callTracer", "stateOverrides": {
                        format!("{probe:#x}"): {"stateDiff": {format!("{:#066x}", 0): format!("{:#066x}", 99)}}
                    }}
                ]),
            )
            .await?;
        ensure!(
            total["output"] == json!(format!("0x{:064x}", 99)),
            "{total}"
        );

        // Raw encodings: the header hashes to the block, the block and receipts decode.
        let raw_header: Bytes = serde_json::from_value(
            ordo.rpc
                .ok("debug_getRawHeader", json!([number.clone()]))
                .await?,
        )?;
        ensure!(keccak256(&raw_header) == serde_json::from_value::<B256>(block["hash"].clone())?);
        let raw_block: Bytes =
            serde_json::from_value(ordo.rpc.ok("debug_getRawBlock", json!([number.clone()])).await?)?;
        let decoded: Block<TxEnvelope> = alloy::rlp::Decodable::decode(&mut raw_block.as_ref())?;
        ensure!(decoded.header.hash_slow() == keccak256(&raw_header));
        ensure!(decoded.body.transactions.iter().any(|t| *t.tx_hash() == ours));
        let raw_tx: Bytes = serde_json::from_value(
            ordo.rpc.ok("debug_getRawTransaction", json!([ours])).await?,
        )?;
        ensure!(keccak256(&raw_tx) == ours);
        let raw_receipts: Vec<Bytes> = serde_json::from_value(
            ordo.rpc.ok("debug_getRawReceipts", json!([number])).await?,
        )?;
        let index = parse_quantity(&receipt["transactionIndex"])? as usize;
        let r = ReceiptEnvelope::decode_2718_exact(raw_receipts[index].as_ref())
            .map_err(|e| eyre!("raw receipt: {e}"))?;
        ensure!(
            r.cumulative_gas_used() == parse_quantity(&receipt["cumulativeGasUsed"])?,
            "raw receipt"
        );
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_past_its_timeout_stops_with_geths_error_while_blocks_go_on() -> Result<()> {
    let node = TestNode::dev().await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let rpc = node.rpc();
        let l2 = node.provider(&dev_signer(2));
        let code = alloy::hex::decode(include_str!("../../../contracts/out/TraceProbe.bin").trim())?;
        let receipt = l2
            .send_transaction(TransactionRequest::default().with_deploy_code(code))
            .await?
            .get_receipt()
            .await?;
        let probe = receipt
            .contract_address
            .ok_or_else(|| eyre!("no probe"))?;
        // A transaction that loops: every opcode in the struct log is slow to trace.
        let burn = l2
            .send_transaction(
                TransactionRequest::default()
                    .to(probe)
                    .input(TraceProbe::burnCall { rounds: U256::from(50_000) }.abi_encode().into())
                    .gas_limit(10_000_000),
            )
            .await?
            .get_receipt()
            .await?;
        ensure!(burn.status());
        let before = rpc.block_number().await?;
        let timed_out = rpc
            .call(
                "debug_traceTransaction",
                json!([burn.transaction_hash, {"timeout": "1ms"}]),
            )
            .await?;
        ensure!(
            timed_out
                .as_ref()
                .err()
                .is_some_and(|e| e.message == "execution timeout"),
            "{timed_out:?}"
        );
        // The same over a call that would loop far longer than any block.
        let call = rpc
            .call(
                "debug_traceCall",
                json!([
                    {"to": probe, "gas": "0x2faf080", "data": Bytes::from(TraceProbe::burnCall { rounds: U256::from(10_000_000) }.abi_encode())},
                    "latest",
                    {"timeout": "300ms"}
                ]),
            )
            .await?;
        ensure!(
            call.as_ref()
                .err()
                .is_some_and(|e| e.message == "execution timeout"),
            "{call:?}"
        );
        let bad = rpc
            .call(
                "debug_traceTransaction",
                json!([burn.transaction_hash, {"timeout": "soon"}]),
            )
            .await?;
        ensure!(
            bad.as_ref().err().is_some_and(|e| e.code == -32602),
            "{bad:?}"
        );
        let unknown = rpc
            .call("debug_traceTransaction", json!([B256::repeat_byte(7)]))
            .await?;
        ensure!(
            unknown
                .as_ref()
                .err()
                .is_some_and(|e| e.message == "transaction not found"),
            "{unknown:?}"
        );
        // Blocks went on meanwhile.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while rpc.block_number().await? < before + 3 {
            ensure!(tokio::time::Instant::now() < deadline, "blocks stopped");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn casts_run_and_call_trace_work_against_ordo() -> Result<()> {
    let cast = cast_bin();
    let node = TestNode::dev().await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let key = dev_signer(3);
        let l2 = node.provider(&key);
        let code =
            alloy::hex::decode(include_str!("../../../contracts/out/TraceProbe.bin").trim())?;
        let probe = l2
            .send_transaction(TransactionRequest::default().with_deploy_code(code))
            .await?
            .get_receipt()
            .await?
            .contract_address
            .ok_or_else(|| eyre!("no probe"))?;
        let call = TraceProbe::probeCall { x: U256::from(5) }.abi_encode();
        let receipt = l2
            .send_transaction(
                TransactionRequest::default()
                    .to(probe)
                    .value(U256::from(10))
                    .input(call.into()),
            )
            .await?
            .get_receipt()
            .await?;
        ensure!(receipt.status());
        let url = node.http_url();
        let run = |args: &[&str]| -> Result<String> {
            let out = std::process::Command::new(&cast)
                .args(args)
                .env("FOUNDRY_DISABLE_NIGHTLY_WARNING", "1")
                .output()?;
            ensure!(
                out.status.success(),
                "cast {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let hash = receipt.transaction_hash.to_string();
        let replayed = run(&["run", &hash, "--rpc-url", &url])?;
        ensure!(
            replayed.contains("Transaction successfully executed") && replayed.contains("[Return]"),
            "cast run: {replayed}"
        );
        ensure!(
            replayed.contains("[SelfDestruct]") && replayed.contains("[Revert] child says no"),
            "cast run shows no self-destruct or revert: {replayed}"
        );
        let traced = run(&[
            "call",
            "--trace",
            &probe.to_string(),
            "probe(uint256)",
            "3",
            "--value",
            "5",
            "--from",
            &key.address().to_string(),
            "--rpc-url",
            &url,
        ])?;
        ensure!(
            traced.contains("[Return]") && traced.contains(&format!("{:#x}", 6u64)[2..]),
            "cast call --trace: {traced}"
        );
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_of_the_head_block_and_one_of_an_old_block_both_trace() -> Result<()> {
    let node = TestNode::dev().await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let rpc = node.rpc();
        let me = dev_signer(4);
        let p = node.provider(&me);
        let send = |nonce: u64, to: Address| {
            let (raw, hash) = sign_raw(
                &me,
                transfer_1559(DEV_CHAIN_ID, nonce, to, U256::from(9), 10 * GWEI, GWEI),
            );
            let rpc = rpc.clone();
            async move {
                rpc.send_raw(&raw).await?.map_err(|e| eyre!("{e:?}"))?;
                Ok::<_, eyre::Report>(hash)
            }
        };
        let (old_to, head_to) = (random_address(), random_address());
        let old = send(0, old_to).await?;
        let old_block = wait_receipt(&p, old, crate::RECEIPT)
            .await?
            .block_number
            .unwrap_or_default();
        // Blocks slowed to one in 10 s: the next transaction's block stays the head a while.
        node.admin()?
            .ok("admin_setBlockParams", json!([{"blockTimeMs": 10_000}]))
            .await?;
        let head = rpc.block_number().await?;
        wait_block(&p, head + 1, crate::RECEIPT).await?;
        let recent = send(1, head_to).await?;
        let head_block = wait_receipt(&p, recent, crate::RECEIPT)
            .await?
            .block_number
            .unwrap_or_default();
        ensure!(
            head_block > old_block + 1,
            "{old_block} is not an old block"
        );
        for (hash, to) in [(recent, head_to), (old, old_to)] {
            let trace = rpc
                .ok(
                    "debug_traceTransaction",
                    json!([hash, {"tracer": "callTracer"}]),
                )
                .await?;
            ensure!(
                trace["type"] == "CALL" && trace["to"] == json!(to) && trace["value"] == "0x9",
                "{trace}"
            );
        }
        ensure!(
            rpc.block_number().await? == head_block,
            "the head moved on before the head block was traced"
        );
        Ok(())
    })
    .await
}
