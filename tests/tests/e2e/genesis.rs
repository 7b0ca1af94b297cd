//! 7. `--genesis FILE` (geth-style genesis.json) replaces the dev accounts: balance, nonce,
//!    code, storage, chain id, gas limit, base fee and timestamp come from the file; OP's
//!    predeploys join it.
//!    Also: `--chain-id` on the dev chain, and the large-state tools (`ordo bench state`,
//!    `ordo bench blocks`) whose datadirs a node then runs.

use alloy::{
    eips::BlockNumberOrTag, primitives::U256, providers::Provider, signers::local::PrivateKeySigner,
};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::json;

use crate::{GUARD, RECEIPT};

alloy::sol! {
    #[sol(rpc)]
    contract GasPriceOracle {
        function isFjord() returns (bool);
        function decimals() returns (uint256);
        function getL1Fee(bytes memory _data) returns (uint256);
    }
}

const CHAIN_ID: u64 = 4242;
const GAS_LIMIT: u64 = 25_000_000;
const BASE_FEE: u128 = 2 * GWEI;
const TIMESTAMP: u64 = 1_700_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_from_genesis_file() -> Result<()> {
    // The temp dir belongs to the node, so write the genesis next to it first.
    let dir = tempfile::tempdir()?;
    let key = PrivateKeySigner::random();
    let eoa = key.address();
    let contract = random_address();
    let eoa_balance = U256::from(100u64) * U256::from(ETHER);
    let genesis = json!({
        "config": {
            "chainId": CHAIN_ID,
            "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0, "eip158Block": 0,
            "byzantiumBlock": 0, "constantinopleBlock": 0, "petersburgBlock": 0,
            "istanbulBlock": 0, "berlinBlock": 0, "londonBlock": 0,
            "shanghaiTime": 0, "cancunTime": 0, "pragueTime": 0
        },
        "nonce": "0x0",
        "timestamp": format!("{TIMESTAMP:#x}"),
        "extraData": "0x",
        "gasLimit": format!("{GAS_LIMIT:#x}"),
        "difficulty": "0x0",
        "mixHash": format!("{:#x}", alloy::primitives::B256::ZERO),
        "coinbase": format!("{:#x}", alloy::primitives::Address::ZERO),
        "baseFeePerGas": format!("{BASE_FEE:#x}"),
        "number": "0x0",
        "gasUsed": "0x0",
        "parentHash": format!("{:#x}", alloy::primitives::B256::ZERO),
        "alloc": {
            format!("{eoa:#x}"): {
                "balance": format!("{eoa_balance:#x}"),
                "nonce": "0x5"
            },
            format!("{contract:#x}"): {
                "balance": "0x1",
                "nonce": "0x1",
                "code": store_runtime(),
                "storage": { format!("{:#x}", word(0)): format!("{:#x}", word(42)) }
            }
        }
    });
    let path = dir.path().join("genesis.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&genesis)?)?;

    let node = TestNode::start(NodeOpts {
        genesis: Some(path),
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let p = node.provider(&key);
            let rpc = node.rpc();
            assert_eq!(p.get_chain_id().await?, CHAIN_ID);
            assert_eq!(
                rpc.ok("net_version", json!([])).await?,
                CHAIN_ID.to_string()
            );

            assert_eq!(p.get_balance(eoa).await?, eoa_balance);
            assert_eq!(p.get_transaction_count(eoa).await?, 5);
            assert_eq!(p.get_code_at(eoa).await?.len(), 0);
            assert_eq!(p.get_balance(contract).await?, U256::from(1));
            assert_eq!(p.get_transaction_count(contract).await?, 1);
            assert_eq!(p.get_code_at(contract).await?, store_runtime());
            assert_eq!(
                p.get_storage_at(contract, U256::ZERO).await?,
                U256::from(42)
            );
            assert_eq!(p.get_storage_at(contract, U256::from(1)).await?, U256::ZERO);
            // The dev accounts are not funded on this chain.
            assert_eq!(p.get_balance(DEV_ACCOUNT0).await?, U256::ZERO);

            // OP's predeploys join any genesis: the message passer, L1Block, and the
            // GasPriceOracle, which prices over L1Block's values (none set yet: no L1).
            for at in [
                ordo_primitives::MESSAGE_PASSER,
                ordo_primitives::L1_BLOCK,
                ordo_primitives::GAS_PRICE_ORACLE,
            ] {
                ensure!(
                    p.get_code_at(at).await? == ordo_primitives::predeploy_code(at),
                    "no predeploy at {at}"
                );
            }
            let oracle = GasPriceOracle::new(ordo_primitives::GAS_PRICE_ORACLE, p.clone());
            ensure!(oracle.isFjord().call().await?);
            ensure!(oracle.decimals().call().await? == U256::from(6));
            ensure!(
                oracle
                    .getL1Fee(alloy::primitives::Bytes::from_static(&[1, 2, 3]))
                    .call()
                    .await?
                    == U256::ZERO
            );

            // Genesis header fields.
            let g = p
                .get_block_by_number(BlockNumberOrTag::Number(0))
                .await?
                .ok_or_else(|| eyre!("no genesis block"))?;
            assert_eq!(g.header.gas_limit, GAS_LIMIT);
            assert_eq!(g.header.timestamp, TIMESTAMP);
            assert_eq!(g.header.base_fee_per_gas.map(u128::from), Some(BASE_FEE));
            assert_eq!(g.header.inner.hash_slow(), g.header.hash);

            // The code runs against the genesis storage, and the genesis nonce is honoured:
            // the key's first tx has nonce 5 (alloy's fillers fetch it).
            let store = Store::new(contract, p.clone());
            assert_eq!(store.get().call().await?, U256::from(42));
            let h = *store.set(U256::from(43)).send().await?.tx_hash();
            let r = wait_receipt(&p, h, RECEIPT).await?;
            assert!(r.status());
            let tx = p
                .get_transaction_by_hash(h)
                .await?
                .ok_or_else(|| eyre!("tx not found"))?;
            use alloy::consensus::Transaction as _;
            assert_eq!(tx.inner.nonce(), 5);
            assert_eq!(p.get_transaction_count(eoa).await?, 6);
            assert_eq!(
                p.get_storage_at(contract, U256::ZERO).await?,
                U256::from(43)
            );
            ensure!(r.block_number.is_some_and(|n| n >= 1));
            // Later blocks inherit the genesis gas limit.
            let b = p
                .get_block_by_number(BlockNumberOrTag::Latest)
                .await?
                .ok_or_else(|| eyre!("no latest"))?;
            assert_eq!(b.header.gas_limit, GAS_LIMIT);
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_id_flag() -> Result<()> {
    let node = TestNode::start(NodeOpts {
        chain_id: Some(1234),
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let s = dev_signer(7);
            let p = node.provider(&s);
            assert_eq!(p.get_chain_id().await?, 1234);
            let rpc = node.rpc();
            // Signed for the default dev chain id: refused.
            let (raw, _) = sign_raw(
                &s,
                transfer_1559(
                    DEV_CHAIN_ID,
                    0,
                    random_address(),
                    U256::from(1),
                    10 * GWEI,
                    GWEI,
                ),
            );
            let e = rpc
                .send_raw(&raw)
                .await?
                .err()
                .ok_or_else(|| eyre!("wrong chain accepted"))?;
            ensure!(e.message.contains("invalid chain id for signer"), "{e}");
            // Signed for 1234: mined.
            let (raw, h) = sign_raw(
                &s,
                transfer_1559(1234, 0, random_address(), U256::from(1), 10 * GWEI, GWEI),
            );
            rpc.send_raw(&raw).await?.map_err(|e| eyre!("{e}"))?;
            assert!(wait_receipt(&p, h, RECEIPT).await?.status());
            Ok(())
        })
        .await
}

/// Runs `ordo bench ARGS` (the `ordo-bench` executable beside `ordo`) to completion.
fn ordo_bench(args: &[&str]) -> Result<std::process::Output> {
    Ok(std::process::Command::new(ordo_bin())
        .arg("bench")
        .args(args)
        .output()?)
}

/// `ordo bench ARGS`, which must succeed: its standard output.
fn ordo_bench_ok(args: &[&str]) -> Result<String> {
    let out = ordo_bench(args)?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "ordo bench {args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(stdout)
}

/// `ordo bench state ARGS`, which must succeed.
fn bench_state(args: &[&str]) -> Result<()> {
    ordo_bench_ok(&[&["state"], args].concat()).map(drop)
}

/// Runs `ordo bench ARGS` against `rpc` to completion and returns its `--json` report.
async fn bench_load(rpc: String, args: &[&str]) -> Result<serde_json::Value> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(ordo_bin())
            .args(["bench", "--rpc", &rpc, "--json", "--timeout-secs", "60"])
            .args(&args)
            .output()
    })
    .await??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "ordo bench: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    Ok(serde_json::from_str(last)?)
}

/// The load generator sends transfers as JSON-RPC batches: every transfer is answered on its
/// own, included, and found by the tracker; the chain holds them. A batch over the node's
/// limit is refused whole, and the report says so for each of its transfers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordo_bench_sends_batches_and_sees_every_transfer_included() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let start = rpc.block_number().await?;
            let report = bench_load(
                node.http_url(),
                &[
                    "--txs",
                    "240",
                    "--accounts",
                    "4",
                    "--concurrency",
                    "3",
                    "--send-batch",
                    "20",
                ],
            )
            .await?;
            for (field, want) in [
                ("sent", 240),
                ("accepted", 240),
                ("included", 240),
                ("reverted", 0),
                ("not_included", 0),
                ("send_batch", 20),
            ] {
                ensure!(report[field] == json!(want), "{field}: {report}");
            }
            ensure!(report["timed_out"] == json!(false), "{report}");
            ensure!(report["errors"] == json!({}), "{report}");
            ensure!(report["tracker_errors"] == json!({}), "{report}");
            // The chain holds them: the four dev senders' nonces moved by 240 in all.
            let mut sent = 0;
            for i in 0..4 {
                let n = rpc
                    .ok(
                        "eth_getTransactionCount",
                        json!([dev_signer(i).address(), "latest"]),
                    )
                    .await?;
                sent += parse_quantity(&n)?;
            }
            ensure!(sent == 240, "the dev senders sent {sent}");
            ensure!(rpc.block_number().await? > start);

            // 1,001 calls in one batch: over the default limit of 1,000.
            let refused = bench_load(
                node.http_url(),
                &[
                    "--txs",
                    "1001",
                    "--accounts",
                    "2",
                    "--concurrency",
                    "1",
                    "--send-batch",
                    "1001",
                ],
            )
            .await?;
            ensure!(refused["accepted"] == json!(0), "{refused}");
            ensure!(refused["rejected"] == json!(1001), "{refused}");
            let errors = refused["errors"]
                .as_object()
                .ok_or_else(|| eyre!("no errors in {refused}"))?;
            ensure!(
                errors.len() == 1 && errors.keys().all(|e| e.contains("batch too large")),
                "{refused}"
            );
            Ok(())
        })
        .await
}

/// `ordo bench state` writes a large genesis through the storage layer (ingestion); the same
/// allocation as a geth genesis.json gives the same genesis block through the node's own
/// writer, and the bulk-written chain then runs like any other: transfers to its accounts,
/// balances, and proofs of its accounts and contract slots against the state root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bench_state_datadir_runs_and_matches_its_genesis_json() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let datadir = dir.path().join("state");
    let json = dir.path().join("genesis.json");
    let size = ["--accounts", "5000", "--contracts", "4", "--slots", "300"];
    let datadir_arg = datadir.display().to_string();
    let json_arg = json.display().to_string();
    bench_state(&[&size[..], &["--datadir", &datadir_arg]].concat())?;
    bench_state(&[&size[..], &["--genesis-json", &json_arg]].concat())?;
    // A second bulk write into the same datadir is refused.
    ensure!(bench_state(&[&size[..], &["--datadir", &datadir_arg]].concat()).is_err());

    let bulk = TestNode::start(NodeOpts {
        seed_datadir: Some(datadir.clone()),
        ..Default::default()
    })
    .await?;
    let from_json = TestNode::start(NodeOpts {
        genesis: Some(json.clone()),
        ..Default::default()
    })
    .await?;
    let genesis_of = |node: &TestNode| {
        let rpc = node.rpc();
        async move {
            let b = rpc
                .ok("eth_getBlockByNumber", json!(["0x0", false]))
                .await?;
            Ok::<_, eyre::Report>((b["hash"].clone(), b["stateRoot"].clone()))
        }
    };
    assert_eq!(genesis_of(&bulk).await?, genesis_of(&from_json).await?);

    bulk.logs()
        .guard(GUARD, async {
            let me = dev_signer(1);
            let p = bulk.provider(&me);
            // Account 4321 of the state: 1 ether, then one more wei.
            let to = ordo_bench_state_address(4321);
            assert_eq!(p.get_balance(to).await?, U256::from(ETHER));
            let tx = alloy::rpc::types::TransactionRequest::default()
                .to(to)
                .value(U256::from(1));
            let r = wait_receipt(&p, *p.send_transaction(tx).await?.tx_hash(), RECEIPT).await?;
            ensure!(r.status());
            assert_eq!(p.get_balance(to).await?, U256::from(ETHER + 1));
            let n = r.block_number.ok_or_else(|| eyre!("no block"))?;
            let block = p
                .get_block_by_number(n.into())
                .await?
                .ok_or_else(|| eyre!("no block {n}"))?;
            let proof = p
                .get_proof(to, vec![])
                .block_id(alloy::eips::BlockId::number(n))
                .await?;
            check_account_proof(block.header.state_root, &proof)?;
            Ok(())
        })
        .await
}

/// `ordo bench blocks` appends blocks of transfers to a datadir with no node running; a node
/// started on it afterwards serves them as its own chain: the head, every transfer with its
/// receipt, the senders' nonces, and proofs of the accounts the blocks paid against their
/// state roots (so the trie nodes the tool stored agree with the headers). The chain then
/// goes on. A datadir a node holds open is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_blocks_appends_a_chain_the_node_then_serves() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let datadir = dir.path().join("state");
    let datadir_arg = datadir.display().to_string();
    bench_state(&[
        "--accounts",
        "3000",
        "--contracts",
        "2",
        "--slots",
        "50",
        "--datadir",
        &datadir_arg,
    ])?;
    let blocks = [
        "blocks",
        "--datadir",
        &datadir_arg,
        "--json",
        "--blocks",
        "3",
        "--transfers",
        "120",
        "--senders",
        "12",
        "--to-state",
        "3000",
    ];
    let stdout = ordo_bench_ok(&blocks)?;
    let report: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default())?;
    // The funding block, then the three timed ones.
    assert_eq!(report["head"], 4, "{report}");
    assert_eq!(report["blocks"], 3, "{report}");
    ensure!(
        report["root+commit"]["p99_ms"].as_f64().is_some()
            && report["state_nodes_per_block"]
                .as_u64()
                .is_some_and(|n| n > 0),
        "{report}"
    );

    let node = TestNode::start(NodeOpts {
        datadir: Some(datadir.clone()),
        ..Default::default()
    })
    .await?;
    // The node holds the datadir now: the tool is refused, and says why.
    let refused = ordo_bench(&blocks)?;
    ensure!(!refused.status.success());
    ensure!(
        String::from_utf8_lossy(&refused.stderr).contains("is a node running on it?"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    node.logs()
        .guard(GUARD, async {
            let me = dev_signer(1);
            let p = node.provider(&me);
            ensure!(p.get_block_number().await? >= 4);
            let mut paid = Vec::new();
            for n in 2..=4u64 {
                let block = p
                    .get_block_by_number(n.into())
                    .full()
                    .await?
                    .ok_or_else(|| eyre!("no block {n}"))?;
                let txs = block.transactions.as_transactions().unwrap_or_default();
                assert_eq!(txs.len(), 120, "block {n}");
                for tx in txs.iter().step_by(37) {
                    let hash = *tx.inner.tx_hash();
                    let receipt = p
                        .get_transaction_receipt(hash)
                        .await?
                        .ok_or_else(|| eyre!("no receipt for {hash}"))?;
                    ensure!(receipt.status() && receipt.block_number == Some(n));
                    paid.push((n, alloy::consensus::Transaction::to(tx)));
                }
                // Twelve senders, ten transfers each a block.
                if n == 4 {
                    let sender = txs[0].inner.signer();
                    assert_eq!(
                        p.get_transaction_count(sender).block_id(4.into()).await?,
                        30
                    );
                }
                for (at, to) in paid.iter().filter(|(at, _)| *at == n) {
                    let to = to.ok_or_else(|| eyre!("a transfer with no recipient"))?;
                    let proof = p
                        .get_proof(to, vec![])
                        .block_id(alloy::eips::BlockId::number(*at))
                        .await?;
                    ensure!(
                        proof.balance > U256::from(ETHER),
                        "{to} was paid in block {at}"
                    );
                    check_account_proof(block.header.state_root, &proof)?;
                }
            }
            // The chain goes on from the tool's head.
            let tx = alloy::rpc::types::TransactionRequest::default()
                .to(ordo_bench_state_address(7))
                .value(U256::from(1));
            let r = wait_receipt(&p, *p.send_transaction(tx).await?.tx_hash(), RECEIPT).await?;
            ensure!(r.status() && r.block_number.is_some_and(|n| n > 4));
            Ok(())
        })
        .await
}

/// `ordo bench state`'s account `i` (the low 20 bytes of keccak256(i)).
fn ordo_bench_state_address(i: u64) -> alloy::primitives::Address {
    alloy::primitives::Address::from_word(alloy::primitives::keccak256(i.to_be_bytes()))
}
