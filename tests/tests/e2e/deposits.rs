//! The deposit side of L1, as users meet it: `ordo l1 deploy` puts the portal on a real L1
//! (anvil); `ordo dev` given an L1 deploys one on its first start and finds it again after a
//! restart; `ordo_rollupConfig` names what a bridging client needs.

use std::process::Command;

use alloy::{
    primitives::{Address, U64},
    providers::Provider,
};
use eyre::{Result, ensure, eyre};
use ordo_l1::testing::Anvil;
use ordo_tests::*;
use serde_json::{Value, json};

use crate::GUARD;

pub(crate) const INBOX: Address = Address::repeat_byte(0xb1);
const PROPOSER: Address = Address::repeat_byte(0x9e);

/// The portal address in `ordo l1 deploy`'s output (`portal = "0x…"`).
fn printed_portal(stdout: &str) -> Result<Address> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("portal = "))
        .ok_or_else(|| eyre!("no portal line in {stdout:?}"))?;
    Ok(line.trim_matches('"').parse()?)
}

async fn has_code(anvil: &Anvil, at: Address) -> Result<bool> {
    Ok(!anvil.provider().get_code_at(at).await?.is_empty())
}

/// `ordo_rollupConfig`, once the node has learned the L1's chain id.
async fn rollup_config(node: &TestNode) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let config = node.rpc().ok("ordo_rollupConfig", json!([])).await?;
        if !config["l1ChainId"].is_null() || tokio::time::Instant::now() > deadline {
            return Ok(config);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The portal the node names in its rollup config, and a reader of its deposits on `anvil`.
async fn portal_of(node: &TestNode, anvil: &Anvil) -> Result<(Address, ordo_l1::DepositReader)> {
    let config = rollup_config(node).await?;
    let portal: Address = serde_json::from_value(config["addresses"]["portal"].clone())?;
    Ok((portal, ordo_l1::DepositReader::new(&anvil.url(), portal)?))
}

/// A fresh account holding `wei` on `anvil` and nothing on L2, with an L1 provider for it.
async fn fresh_l1_account(
    anvil: &Anvil,
    wei: u128,
) -> Result<(
    alloy::signers::local::PrivateKeySigner,
    impl Provider + Clone,
)> {
    let user = alloy::signers::local::PrivateKeySigner::random();
    anvil
        .rpc(
            "anvil_setBalance",
            json!([user.address(), format!("{wei:#x}")]),
        )
        .await
        .map_err(|e| eyre!(e))?;
    let l1 = alloy::providers::ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(user.clone()))
        .connect_http(anvil.url().parse()?);
    Ok((user, l1))
}

/// A fresh L1 account deposits `mint` wei to its own L2 address (50,000 gas): the account
/// and the L1 receipt.
async fn deposit_to_self(
    anvil: &Anvil,
    portal: Address,
    mint: u64,
) -> Result<(
    alloy::signers::local::PrivateKeySigner,
    alloy::rpc::types::TransactionReceipt,
)> {
    use alloy::primitives::U256;
    let (user, l1) = fresh_l1_account(anvil, 100_000_000_000_000_000_000).await?;
    let receipt = ordo_l1::OrdoPortal::new(portal, &l1)
        .depositTransaction(
            user.address(),
            U256::ZERO,
            50_000,
            false,
            Default::default(),
        )
        .value(U256::from(mint))
        .send()
        .await?
        .get_receipt()
        .await?;
    Ok((user, receipt))
}

#[tokio::test]
async fn ordo_l1_deploy_puts_the_portal_on_l1_and_prints_its_config_lines() -> Result<()> {
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir()?;
    let key_file = dir.path().join("deployer.key");
    write_key_file(&key_file, &Anvil::dev_key(3))?;
    let out = Command::new(ordo_bin())
        .args(["l1", "deploy", "--l1-rpc", &anvil.url(), "--key-file"])
        .arg(&key_file)
        .args(["--batch-inbox", &INBOX.to_string()])
        .args(["--proposer", &PROPOSER.to_string()])
        .env_remove("ORDO_L1_RPC")
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "ordo l1 deploy failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let portal = printed_portal(&stdout)?;
    ensure!(has_code(&anvil, portal).await?, "no code at {portal}");
    // The output oracle beside it, which the portal reads and whose proposer was named.
    let oracle: Address = stdout
        .lines()
        .find_map(|l| l.strip_prefix("output_oracle = "))
        .ok_or_else(|| eyre!("no output_oracle line in {stdout:?}"))?
        .trim_matches('"')
        .parse()?;
    let l1 = anvil.provider();
    ensure!(
        ordo_l1::OrdoPortal::new(portal, &l1)
            .l2Oracle()
            .call()
            .await?
            == oracle
    );
    ensure!(
        ordo_l1::L2OutputOracle::new(oracle, &l1)
            .PROPOSER()
            .call()
            .await?
            == PROPOSER
    );
    ensure!(
        stdout.contains(&format!("batch_inbox = \"{INBOX}\"")),
        "{stdout}"
    );

    // An L1 that is not there: a clear error, nothing printed as if deployed.
    let out = Command::new(ordo_bin())
        .args([
            "l1",
            "deploy",
            "--l1-rpc",
            "http://127.0.0.1:9",
            "--key-file",
        ])
        .arg(&key_file)
        .env_remove("ORDO_L1_RPC")
        .output()?;
    ensure!(!out.status.success());
    ensure!(!String::from_utf8_lossy(&out.stdout).contains("portal ="));
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(stderr.contains("deploying the output oracle"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn ordo_dev_given_an_l1_deploys_its_portal_once_and_names_it_in_the_rollup_config()
-> Result<()> {
    let anvil = Anvil::spawn().await;
    let batcher = Anvil::dev_key(4);
    let dir = tempfile::tempdir()?;
    let key_file = dir.path().join("batcher.key");
    write_key_file(&key_file, &batcher)?;
    let mut node = TestNode::start(NodeOpts {
        extra_args: vec![
            "--l1-rpc".into(),
            anvil.url(),
            "--l1-key-file".into(),
            key_file.display().to_string(),
            "--batch-inbox".into(),
            INBOX.to_string(),
            // No batch goes to L1 during the test: the batcher's nonce counts deployments.
            "--set".into(),
            "batcher.max_delay_ms=600000".into(),
        ],
        ..NodeOpts::default()
    })
    .await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let config = rollup_config(&node).await?;
        let portal: Address = serde_json::from_value(config["addresses"]["portal"].clone())?;
        ensure!(
            has_code(&anvil, portal).await?,
            "no portal code at {portal}"
        );
        let l1_chain: U64 = serde_json::from_value(config["l1ChainId"].clone())?;
        ensure!(
            l1_chain == U64::from(anvil.provider().get_chain_id().await?),
            "{config}"
        );
        ensure!(config["l2ChainId"] == json!("0x1ca3"), "{config}");
        ensure!(
            config["addresses"]["batchInbox"] == json!(INBOX),
            "{config}"
        );
        ensure!(config["confirmations"] == json!(3), "{config}");
        ensure!(config["sequencingWindow"] == json!(3600), "{config}");
        let genesis = node
            .rpc()
            .ok("eth_getBlockByNumber", json!(["0x0", false]))
            .await?;
        ensure!(config["genesisHash"] == genesis["hash"], "{config}");

        // Restarted, it finds the portal it deployed instead of deploying another.
        let nonce = anvil
            .provider()
            .get_transaction_count(batcher.address())
            .await?;
        node.restart().await?;
        let again = rollup_config(&node).await?;
        ensure!(again["addresses"]["portal"] == json!(portal), "{again}");
        let after = anvil
            .provider()
            .get_transaction_count(batcher.address())
            .await?;
        ensure!(
            after == nonce,
            "a second deployment (nonce {nonce} -> {after})"
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn without_an_l1_the_rollup_config_says_so() -> Result<()> {
    let node = TestNode::dev().await?;
    let config = node.rpc().ok("ordo_rollupConfig", json!([])).await?;
    ensure!(config["l1ChainId"].is_null(), "{config}");
    ensure!(config["addresses"]["portal"].is_null(), "{config}");
    ensure!(config["l2ChainId"] == json!("0x1ca3"), "{config}");
    Ok(())
}

/// A dev node on `anvil` that deploys its portal, takes an L1 block as an origin once it has
/// one confirmation, and posts no batch during the test.
async fn depositing_node(anvil: &Anvil, dir: &std::path::Path) -> Result<TestNode> {
    depositing_node_batching(anvil, dir, 600_000).await
}

/// [`depositing_node`] that closes a batch once its oldest block waited `delay_ms`.
async fn depositing_node_batching(
    anvil: &Anvil,
    dir: &std::path::Path,
    delay_ms: u64,
) -> Result<TestNode> {
    depositing_node_with(anvil, dir, delay_ms, &[]).await
}

/// A dev node on `anvil` (batcher: anvil's dev key 4, inbox [`INBOX`]) that deploys the
/// rollup's contracts, counts an L1 block confirmed once mined, looks at L1 every 100 ms and
/// closes a batch once its oldest block waited `delay_ms`, with more `--set` keys (the
/// L1 tests of other files start theirs here too).
pub(crate) async fn depositing_node_with(
    anvil: &Anvil,
    dir: &std::path::Path,
    delay_ms: u64,
    sets: &[&str],
) -> Result<TestNode> {
    let key_file = dir.join("batcher.key");
    write_key_file(&key_file, &Anvil::dev_key(4))?;
    TestNode::start(NodeOpts {
        extra_args: vec![
            "--l1-rpc".into(),
            anvil.url(),
            "--l1-key-file".into(),
            key_file.display().to_string(),
            "--batch-inbox".into(),
            INBOX.to_string(),
            "--set".into(),
            "l1.confirmations=1".into(),
            "--set".into(),
            "l1.poll_ms=100".into(),
            "--set".into(),
            format!("batcher.max_delay_ms={delay_ms}"),
        ]
        .into_iter()
        .chain(
            sets.iter()
                .flat_map(|s| ["--set".to_string(), s.to_string()]),
        )
        .collect(),
        ..NodeOpts::default()
    })
    .await
}

/// The L2 hash of the one deposit `receipt` (an L1 receipt) logged: what a bridge client
/// computes from the L1 receipt alone.
async fn l2_hash_of(
    reader: &ordo_l1::DepositReader,
    receipt: &alloy::rpc::types::TransactionReceipt,
) -> Result<alloy::primitives::B256> {
    let logged = reader
        .deposits_in(receipt.block_hash.ok_or_else(|| eyre!("no block hash"))?)
        .await?;
    ensure!(logged.len() == 1, "{logged:?}");
    Ok(ordo_primitives::DepositTx::new(logged[0].to_tx()?).hash)
}

async fn l2_receipt(node: &TestNode, hash: alloy::primitives::B256) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + crate::RECEIPT;
    loop {
        let receipt = node
            .rpc()
            .ok("eth_getTransactionReceipt", json!([hash]))
            .await?;
        if !receipt.is_null() {
            return Ok(receipt);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "deposit {hash} never reached L2"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_on_l1_land_first_in_their_origins_l2_block_and_a_failing_one_keeps_its_mint()
-> Result<()> {
    use alloy::primitives::U256;
    const ETHER: u128 = 1_000_000_000_000_000_000;
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir()?;
    let mut node = depositing_node(&anvil, dir.path()).await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let (portal, reader) = portal_of(&node, &anvil).await?;
        // A fresh L1 account: it has nothing on L2 but what it deposits.
        let (user, l1) = fresh_l1_account(&anvil, 10 * ETHER).await?;
        let contract = ordo_l1::OrdoPortal::new(portal, &l1);

        // One ether to itself on L2.
        let first = contract
            .depositTransaction(
                user.address(),
                U256::ZERO,
                100_000,
                false,
                Default::default(),
            )
            .value(U256::from(ETHER))
            .send()
            .await?
            .get_receipt()
            .await?;
        // Half an ether minted, then a call sending 2 ether it does not have: it fails on
        // L2, and the half ether stays.
        let to = random_address();
        let second = contract
            .depositTransaction(
                to,
                U256::from(2 * ETHER),
                100_000,
                false,
                Default::default(),
            )
            .value(U256::from(ETHER / 2))
            .send()
            .await?
            .get_receipt()
            .await?;
        let (h1, h2) = (
            l2_hash_of(&reader, &first).await?,
            l2_hash_of(&reader, &second).await?,
        );
        let (r1, r2) = (l2_receipt(&node, h1).await?, l2_receipt(&node, h2).await?);
        ensure!(r1["status"] == "0x1" && r1["type"] == "0x7e", "{r1}");
        ensure!(
            r1["depositNonce"] == "0x0" && r1["depositReceiptVersion"] == "0x1",
            "{r1}"
        );
        ensure!(r1["from"] == json!(user.address()), "{r1}");
        ensure!(r2["status"] == "0x0" && r2["depositNonce"] == "0x1", "{r2}");
        let rpc = node.rpc();
        let balance = rpc
            .ok("eth_getBalance", json!([user.address(), "latest"]))
            .await?;
        ensure!(
            balance == json!(format!("{:#x}", ETHER + ETHER / 2)),
            "{balance}"
        );
        let nonce = rpc
            .ok("eth_getTransactionCount", json!([user.address(), "latest"]))
            .await?;
        ensure!(nonce == "0x2", "{nonce}");
        let to_balance = rpc.ok("eth_getBalance", json!([to, "latest"])).await?;
        ensure!(to_balance == "0x0", "{to_balance}");

        // The deposit as OP nodes show it, in the first block of its origin (whose header
        // names that origin) right after the origin's L1-attributes deposit.
        let tx = rpc.ok("eth_getTransactionByHash", json!([h1])).await?;
        ensure!(
            tx["type"] == "0x7e" && tx["mint"] == json!(format!("{ETHER:#x}")),
            "{tx}"
        );
        ensure!(
            tx["sourceHash"].is_string() && tx["transactionIndex"] == "0x1",
            "{tx}"
        );
        // As op-geth answers: the deposit nonce, the receipt version, no gas price.
        ensure!(
            tx["nonce"] == "0x0" && tx["depositReceiptVersion"] == "0x1" && tx["gasPrice"] == "0x0",
            "{tx}"
        );
        let second_tx = rpc.ok("eth_getTransactionByHash", json!([h2])).await?;
        ensure!(second_tx["nonce"] == "0x1", "{second_tx}");
        let block = rpc
            .ok("eth_getBlockByHash", json!([r1["blockHash"], false]))
            .await?;
        ensure!(block["transactions"][1] == json!(h1), "{block}");
        // OP's L1-attributes deposit: from the depositor to L1Block, calling
        // setL1BlockValuesEcotone with 164 bytes that name the origin.
        let info = rpc
            .ok(
                "eth_getTransactionByHash",
                json!([block["transactions"][0]]),
            )
            .await?;
        let input = info["input"].as_str().unwrap_or_default();
        ensure!(
            info["type"] == "0x7e"
                && info["from"] == json!(ordo_primitives::DEPOSITOR)
                && info["to"] == json!(ordo_primitives::L1_BLOCK)
                && input.len() == 2 + 2 * 164
                && input.starts_with("0x440a5e20")
                && input[2 + 2 * 100..2 + 2 * 132]
                    == alloy::hex::encode(first.block_hash.unwrap_or_default()),
            "{info}"
        );
        ensure!(
            block["extraData"] == json!(first.block_hash),
            "the origin: {block}"
        );
        // It names its origin's parent beacon block root, as OP's blocks do, and stores it
        // in EIP-4788's contract under its own time.
        let l1_block = anvil
            .rpc("eth_getBlockByHash", json!([first.block_hash, false]))
            .await
            .map_err(|e| eyre!("L1: {e}"))?;
        let beacon_root = &l1_block["parentBeaconBlockRoot"];
        ensure!(
            beacon_root.is_string() && block["parentBeaconBlockRoot"] == *beacon_root,
            "L2 {block}, L1 {l1_block}"
        );
        let stored = rpc
            .ok(
                "eth_call",
                json!([{"to": alloy::eips::eip4788::BEACON_ROOTS_ADDRESS,
                        "data": format!("0x{:064x}", parse_quantity(&block["timestamp"])?)},
                       block["number"]]),
            )
            .await?;
        ensure!(stored == *beacon_root, "EIP-4788 holds {stored}");
        let provenance = rpc
            .ok("ordo_getBlockProvenance", json!([block["number"]]))
            .await?;
        ensure!(
            provenance["l1Origin"]["hash"] == json!(first.block_hash)
                && provenance["l1Origin"]["number"]
                    == json!(format!("{:#x}", first.block_number.unwrap_or_default()))
                && provenance["l1Origin"]["beaconRoot"] == *beacon_root,
            "{provenance}"
        );
        let status = rpc.ok("ordo_nodeStatus", json!([])).await?;
        ensure!(status["l1Origin"]["hash"].is_string(), "{status}");

        // Restarted, the chain goes on without taking the deposits again.
        node.restart().await?;
        let head = parse_quantity(&node.rpc().ok("eth_blockNumber", json!([])).await?)?;
        while parse_quantity(&node.rpc().ok("eth_blockNumber", json!([])).await?)? < head + 5 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let nonce = node
            .rpc()
            .ok("eth_getTransactionCount", json!([user.address(), "latest"]))
            .await?;
        ensure!(nonce == "0x2", "after a restart: {nonce}");
        Ok(())
    })
    .await
}

alloy::sol! {
    #[sol(rpc)]
    contract DepositCaller {
        function deposit(address _portal, address _to, uint64 _gasLimit, bytes calldata _data) payable;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_from_an_l1_contract_calls_an_l2_contract_as_the_contracts_alias() -> Result<()> {
    use alloy::{
        network::{EthereumWallet, TransactionBuilder},
        primitives::U256,
        providers::ProviderBuilder,
        rpc::types::TransactionRequest,
        sol_types::SolCall,
    };
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir()?;
    let node = depositing_node(&anvil, dir.path()).await?;
    node.logs()
        .guard(GUARD, async {
            let (portal, reader) = portal_of(&node, &anvil).await?;
            // The L2 contract the deposit calls.
            let l2 = node.provider(&dev_signer(0));
            let deploy = TransactionRequest::default().with_deploy_code(store_initcode());
            let store = wait_receipt(
                &l2,
                *l2.send_transaction(deploy).await?.tx_hash(),
                crate::RECEIPT,
            )
            .await?
            .contract_address
            .ok_or_else(|| eyre!("no contract"))?;
            // The L1 contract that deposits.
            let l1 = ProviderBuilder::new()
                .wallet(EthereumWallet::from(Anvil::dev_key(6)))
                .connect_http(anvil.url().parse()?);
            let code = alloy::hex::decode(
                include_str!("../../../contracts/out/DepositCaller.bin").trim(),
            )?;
            let caller = l1
                .send_transaction(TransactionRequest::default().with_deploy_code(code))
                .await?
                .get_receipt()
                .await?
                .contract_address
                .ok_or_else(|| eyre!("no caller"))?;
            let call = Store::setCall {
                value: U256::from(4242),
            }
            .abi_encode();
            let receipt = DepositCaller::new(caller, &l1)
                .deposit(portal, store, 200_000, call.into())
                .value(U256::from(7))
                .send()
                .await?
                .get_receipt()
                .await?;
            let hash = l2_hash_of(&reader, &receipt).await?;
            let r = l2_receipt(&node, hash).await?;
            let alias = ordo_primitives::l1_to_l2_alias(caller);
            ensure!(r["status"] == "0x1" && r["from"] == json!(alias), "{r}");
            ensure!(r["to"] == json!(store), "{r}");
            ensure!(r["logs"][0]["topics"][0] == json!(set_topic()), "{r}");
            let stored = node
                .rpc()
                .ok("eth_getStorageAt", json!([store, "0x0", "latest"]))
                .await?;
            ensure!(
                stored == json!(format!("0x{:064x}", 4242)),
                "the deposit's call ran: {stored}"
            );
            let held = node
                .rpc()
                .ok("eth_getBalance", json!([store, "latest"]))
                .await?;
            ensure!(held == "0x7", "{held}");

            // A deposit whose call reverts: included with status 0, its mint kept, the
            // sender's nonce bumped. The L2 contract: REVERT(0, 0).
            let reverter_init = alloy::hex::decode("6005600c60003960056000f360006000fd")?;
            let reverter = wait_receipt(
                &l2,
                *l2.send_transaction(TransactionRequest::default().with_deploy_code(reverter_init))
                    .await?
                    .tx_hash(),
                crate::RECEIPT,
            )
            .await?
            .contract_address
            .ok_or_else(|| eyre!("no reverter"))?;
            let sender = Anvil::dev_key(6).address();
            let balance_before = node
                .rpc()
                .ok("eth_getBalance", json!([sender, "latest"]))
                .await?;
            let nonce_before = node
                .rpc()
                .ok("eth_getTransactionCount", json!([sender, "latest"]))
                .await?;
            let receipt = ordo_l1::OrdoPortal::new(portal, &l1)
                .depositTransaction(reverter, U256::ZERO, 100_000, false, Default::default())
                .value(U256::from(3))
                .send()
                .await?
                .get_receipt()
                .await?;
            let r = l2_receipt(&node, l2_hash_of(&reader, &receipt).await?).await?;
            ensure!(r["status"] == "0x0" && r["from"] == json!(sender), "{r}");
            let balance_after = node
                .rpc()
                .ok("eth_getBalance", json!([sender, "latest"]))
                .await?;
            let nonce_after = node
                .rpc()
                .ok("eth_getTransactionCount", json!([sender, "latest"]))
                .await?;
            let wei = |v: &Value| serde_json::from_value::<U256>(v.clone());
            ensure!(
                wei(&balance_after)? - wei(&balance_before)? == U256::from(3),
                "the mint stays: {balance_before} -> {balance_after}"
            );
            ensure!(
                parse_quantity(&nonce_after)? == parse_quantity(&nonce_before)? + 1,
                "{nonce_before} -> {nonce_after}"
            );
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l1_reorg_below_the_confirmations_stops_the_sequencer_with_the_reason() -> Result<()> {
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir()?;
    let node = depositing_node(&anvil, dir.path()).await?;
    node.logs()
        .guard(GUARD, async {
            rollup_config(&node).await?;
            let rpc = node.rpc();
            // The chain takes L1's blocks as origins up to the newest.
            let snapshot = anvil.snapshot().await;
            anvil.mine(2).await;
            let top = anvil.block_number().await;
            let origin_of_head = || async {
                let block = rpc
                    .ok("eth_getBlockByNumber", json!(["latest", false]))
                    .await?;
                // Blocks sealed before the first origin carry "ordo" there.
                let origin: Option<alloy::primitives::B256> =
                    serde_json::from_value(block["extraData"].clone()).ok();
                Ok::<_, eyre::Report>(origin)
            };
            let top_hash = anvil
                .provider()
                .get_block_by_number(top.into())
                .await?
                .ok_or_else(|| eyre!("no L1 block {top}"))?
                .header
                .hash;
            let deadline = tokio::time::Instant::now() + crate::RECEIPT;
            while origin_of_head().await? != Some(top_hash) {
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "origin never reached {top}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            // L1 drops those blocks and grows another branch, past the confirmation depth.
            ensure!(anvil.revert(snapshot).await, "anvil could not revert");
            // A transaction makes the new branch differ from the old one whatever the clock.
            use alloy::{network::TransactionBuilder, providers::ProviderBuilder};
            let l1 = ProviderBuilder::new()
                .wallet(alloy::network::EthereumWallet::from(Anvil::dev_key(7)))
                .connect_http(anvil.url().parse()?);
            l1.send_transaction(
                alloy::rpc::types::TransactionRequest::default()
                    .with_to(random_address())
                    .with_value(alloy::primitives::U256::from(1)),
            )
            .await?
            .get_receipt()
            .await?;
            anvil.mine(4).await;
            let deadline = tokio::time::Instant::now() + crate::RECEIPT;
            let status = loop {
                let status = rpc.ok("ordo_nodeStatus", json!([])).await?;
                if status["halted"] == true {
                    break status;
                }
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "never stopped: {status}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            };
            let head = parse_quantity(&rpc.ok("eth_blockNumber", json!([])).await?)?;
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let later = parse_quantity(&rpc.ok("eth_blockNumber", json!([])).await?)?;
            ensure!(
                later == head,
                "sealed on after the reorg: {head} -> {later} ({status})"
            );
            ensure!(
                node.logs()
                    .text()
                    .contains("reorganised below the confirmation depth"),
                "the reason is logged"
            );
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordo_verify_checks_every_deposit_against_the_portals_logs_on_l1() -> Result<()> {
    use alloy::{network::EthereumWallet, primitives::U256, providers::ProviderBuilder};
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir()?;
    let node = depositing_node_batching(&anvil, dir.path(), 300).await?;
    node.logs()
        .guard(GUARD, async {
            let (portal, reader) = portal_of(&node, &anvil).await?;
            let l1 = ProviderBuilder::new()
                .wallet(EthereumWallet::from(Anvil::dev_key(8)))
                .connect_http(anvil.url().parse()?);
            let receipt = ordo_l1::OrdoPortal::new(portal, &l1)
                .depositTransaction(
                    random_address(),
                    U256::from(5),
                    50_000,
                    false,
                    Default::default(),
                )
                .value(U256::from(5))
                .send()
                .await?
                .get_receipt()
                .await?;
            let hash = l2_hash_of(&reader, &receipt).await?;
            l2_receipt(&node, hash).await?;
            // A signed transaction after it, so the batch holding the deposit is not the last.
            let l2 = node.provider(&dev_signer(0));
            let tx = alloy::rpc::types::TransactionRequest::default()
                .to(random_address())
                .value(U256::from(1));
            let after = *l2.send_transaction(tx).await?.tx_hash();
            crate::l1::wait_confirmed(&node.rpc(), after).await?;
            let (url, inbox, batcher, portal) = (
                anvil.url(),
                INBOX.to_string(),
                Anvil::dev_key(4).address().to_string(),
                portal.to_string(),
            );
            let run = ordo_verify_ok(&[
                "--dev",
                "--l1-rpc",
                &url,
                "--batch-inbox",
                &inbox,
                "--batcher",
                &batcher,
                "--portal",
                &portal,
                "--compare-rpc",
                &node.http_url(),
            ])?;
            ensure!(
                run.stdout.contains("every deposit as L1 logged it"),
                "{}",
                run.stdout
            );
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viems_op_stack_deposit_finds_its_l2_transaction_on_ordo() -> Result<()> {
    // Installed before anything starts: a first install takes a while.
    viem_modules()?;
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir()?;
    let node = depositing_node(&anvil, dir.path()).await?;
    node.logs()
        .guard(GUARD, async {
            let config = rollup_config(&node).await?;
            let portal = config["addresses"]["portal"]
                .as_str()
                .ok_or_else(|| eyre!("no portal: {config}"))?
                .to_string();
            let key = Anvil::dev_key(9);
            let result = run_viem(
                "deposit.cjs",
                &[
                    ("L1_RPC", anvil.url()),
                    ("L2_RPC", node.http_url()),
                    ("PORTAL", portal.clone()),
                    ("KEY", format!("0x{}", alloy::hex::encode(key.to_bytes()))),
                ],
                crate::RECEIPT,
            )
            .await?;
            ensure!(result["status"] == "success", "{result}");
            ensure!(result["mint"] == "1000000000000000000", "{result}");
            let from: Address = serde_json::from_value(result["from"].clone())?;
            ensure!(from == key.address(), "{result}");
            // The hash viem computed from the L1 receipt is the one Ordo included.
            let l2_hash: alloy::primitives::B256 =
                serde_json::from_value(result["l2Hash"].clone())?;
            let receipt = l2_receipt(&node, l2_hash).await?;
            ensure!(
                receipt["type"] == "0x7e" && receipt["status"] == "0x1",
                "{receipt}"
            );
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_seen_before_a_kill_is_included_once_after_the_restart() -> Result<()> {
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir()?;
    let mut node = depositing_node(&anvil, dir.path()).await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let (portal, reader) = portal_of(&node, &anvil).await?;
        let (user, receipt) = deposit_to_self(&anvil, portal, 1234).await?;
        // Killed as soon as L1 has the deposit: whether or not the block with it was sealed.
        node.kill();
        node.start_again().await?;
        let hash = l2_hash_of(&reader, &receipt).await?;
        let r = l2_receipt(&node, hash).await?;
        ensure!(r["status"] == "0x1", "{r}");
        let included = parse_quantity(&r["blockNumber"])?;
        while parse_quantity(&node.rpc().ok("eth_blockNumber", json!([])).await?)? < included + 5 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let rpc = node.rpc();
        let nonce = rpc
            .ok("eth_getTransactionCount", json!([user.address(), "latest"]))
            .await?;
        let balance = rpc
            .ok("eth_getBalance", json!([user.address(), "latest"]))
            .await?;
        ensure!(
            nonce == "0x1" && balance == "0x4d2",
            "once: nonce {nonce}, balance {balance}"
        );
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_halt_past_the_window_derivation_and_the_sequencer_make_the_same_deposit_block()
-> Result<()> {
    use alloy::primitives::U256;
    // L1 blocks every second, on the clock: with one per posted batch, anvil's timestamps
    // would run ahead of the L2's, and an origin may not be newer than its L2 block.
    let anvil = Anvil::spawn_with(ordo_l1::testing::AnvilOptions {
        block_time: Some(1),
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir()?;
    // Many batches in flight: one batch per L1 block would fall behind the L2's blocks
    // (deposit-only blocks are old at once, so each closes a batch), and their origins'
    // windows with them.
    let node = depositing_node_with(
        &anvil,
        dir.path(),
        300,
        &["l1.sequencing_window=20", "l1.max_in_flight=16"],
    )
    .await?;
    node.logs()
        .guard(GUARD, async {
            let (portal, reader) = portal_of(&node, &anvil).await?;
            let rpc = node.rpc();
            let deadline = tokio::time::Instant::now() + crate::RECEIPT;
            while rpc.ok("ordo_nodeStatus", json!([])).await?["l1Origin"].is_null() {
                ensure!(tokio::time::Instant::now() < deadline, "no origin yet");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let admin = node.admin()?;
            admin.ok("admin_halt", json!(["window drill"])).await?;
            // Everything sealed before the halt reaches L1.
            let head = parse_quantity(&rpc.ok("eth_blockNumber", json!([])).await?)?;
            loop {
                let status = rpc.ok("ordo_nodeStatus", json!([])).await?;
                let last = &status["batches"][0];
                if last["lastBlock"] == json!(head) && last["status"] == "confirmed" {
                    break;
                }
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "never posted: {status}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let (_, receipt) = deposit_to_self(&anvil, portal, 99).await?;
            // The window (20 L1 blocks) passes while the sequencer is halted.
            anvil.mine(25).await;
            let hash = l2_hash_of(&reader, &receipt).await?;
            let absent = rpc.ok("eth_getTransactionReceipt", json!([hash])).await?;
            ensure!(absent.is_null(), "included while halted");

            // Derivation from L1 alone puts the deposit in a deposit-only block.
            let args: Vec<String> = [
                "--dev",
                "--l1-rpc",
                &anvil.url(),
                "--batch-inbox",
                &INBOX.to_string(),
                "--batcher",
                &Anvil::dev_key(4).address().to_string(),
                "--portal",
                &portal.to_string(),
                "--sequencing-window",
                "20",
                "--compare-rpc",
                &node.http_url(),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = ordo_verify_ok(&args)?;
            let forced = format!(
                "deposit-only for L1 block {} (1 deposits",
                receipt.block_number.unwrap_or_default()
            );
            let line = run
                .stdout
                .lines()
                .find(|l| l.contains(&forced))
                .ok_or_else(|| eyre!("no deposit-only block for the deposit:\n{}", run.stdout))?;
            let derived = line
                .rsplit('(')
                .next()
                .unwrap_or_default()
                .trim_end_matches(')')
                .to_string();

            // Resumed, the sequencer builds that very block.
            admin.ok("admin_resume", json!([])).await?;
            let r = l2_receipt(&node, hash).await?;
            ensure!(r["status"] == "0x1", "{r}");
            ensure!(
                r["blockHash"] == json!(derived),
                "derived {derived}, sequenced {r}"
            );
            let block = rpc
                .ok("eth_getBlockByHash", json!([r["blockHash"], false]))
                .await?;
            // The origin's L1-attributes deposit, then the user's: nothing else.
            let txs = block["transactions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            ensure!(
                txs.len() == 2 && txs[1] == json!(hash),
                "deposits only: {block}"
            );
            let info = rpc.ok("eth_getTransactionByHash", json!([txs[0]])).await?;
            ensure!(
                info["from"] == json!(ordo_primitives::DEPOSITOR),
                "deposits only: {info}"
            );
            ensure!(block["miner"] == json!(Address::ZERO), "{block}");
            let p = rpc
                .ok("ordo_getBlockProvenance", json!([block["number"]]))
                .await?;
            ensure!(p["policy"] == "deposit-only", "{p}");

            // Then the chain goes on with ordered blocks, and it verifies end to end.
            let l2 = node.provider(&dev_signer(0));
            let tx = alloy::rpc::types::TransactionRequest::default()
                .to(random_address())
                .value(U256::from(1));
            let after = *l2.send_transaction(tx).await?.tx_hash();
            let status = crate::l1::wait_confirmed(&rpc, after).await?;
            let later = parse_quantity(&status["l2Block"])?;
            let p = rpc
                .ok("ordo_getBlockProvenance", json!([format!("{later:#x}")]))
                .await?;
            ensure!(p["policy"] != "deposit-only", "{p}");
            ordo_verify_ok(&args)?;
            Ok(())
        })
        .await
}
