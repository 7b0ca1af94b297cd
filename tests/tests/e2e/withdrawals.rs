//! Withdrawals to L1 as users meet them, against a real L1 (anvil) and the real binary: a
//! dev node deploys the output oracle beside the portal and proposes the output of every
//! confirmed batch; `ordo withdraw` initiates on L2, proves on L1 against a proposed output
//! and finalizes once the period is over. The portal refuses what it must (a second
//! finalization, a proof against the wrong output, a proof of a withdrawal never sent).

use std::{collections::HashMap, process::Command, time::Duration};

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::Provider,
    signers::local::PrivateKeySigner,
    sol,
    sol_types::SolCall,
};
use eyre::{Result, ensure, eyre};
use ordo_l1::{L2OutputOracle, OrdoPortal, testing::Anvil};
use ordo_tests::*;
use serde_json::json;

use crate::GUARD;

use crate::deposits::INBOX;

sol! {
    #[sol(rpc)]
    contract WithdrawalTarget {
        function record(bytes calldata _note) external payable;
        function lastL2Sender() returns (address);
        function lastValue() returns (uint256);
        function lastNote() returns (bytes);
    }
}

/// A dev node on `anvil` that deploys its portal and oracle, batches every half second, counts
/// a batch confirmed once mined and finalizes withdrawals after `period` seconds.
async fn withdrawing_node(anvil: &Anvil, dir: &std::path::Path, period: u64) -> Result<TestNode> {
    let period = format!("l1.finalization_period_secs={period}");
    crate::deposits::depositing_node_with(anvil, dir, 500, &[&period]).await
}

/// The portal and the output oracle the node names in its rollup config.
pub(crate) async fn contracts_of(node: &TestNode) -> Result<(Address, Address)> {
    let config = node.rpc().ok("ordo_rollupConfig", json!([])).await?;
    let portal = serde_json::from_value(config["addresses"]["portal"].clone())?;
    let oracle = serde_json::from_value(config["addresses"]["l2OutputOracle"].clone())
        .map_err(|e| eyre!("no l2OutputOracle in {config}: {e}"))?;
    Ok((portal, oracle))
}

/// An L1 provider paying from `key`.
pub(crate) fn l1_wallet(
    anvil: &Anvil,
    key: &PrivateKeySigner,
) -> Result<impl Provider + Clone + use<>> {
    Ok(alloy::providers::ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(key.clone()))
        .connect_http(anvil.url().parse()?))
}

/// Deposits `wei` in the portal (a plain transfer: a deposit to the sender's own L2
/// address), so it holds ether to pay withdrawals out of.
pub(crate) async fn fund_portal(anvil: &Anvil, portal: Address, wei: u128) -> Result<()> {
    let receipt = l1_wallet(anvil, &Anvil::dev_key(6))?
        .send_transaction(
            alloy::rpc::types::TransactionRequest::default()
                .to(portal)
                .value(U256::from(wei)),
        )
        .await?
        .get_receipt()
        .await?;
    ensure!(receipt.status(), "the deposit to the portal failed");
    Ok(())
}

/// Runs `ordo withdraw ARGS…`: its `key = value` stdout lines, or its stderr as the error.
pub(crate) fn ordo_withdraw(args: &[&str]) -> Result<HashMap<String, String>> {
    let out = Command::new(ordo_bin())
        .arg("withdraw")
        .args(args)
        .env_remove("ORDO_L1_RPC")
        .env_remove("ORDO_L2_RPC")
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "ordo withdraw {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(stdout
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// Mines an anvil block every 300 ms while alive, so L1's clock moves while nothing is sent.
pub(crate) struct Miner(tokio::task::JoinHandle<()>);

impl Miner {
    pub(crate) fn start(anvil: &Anvil) -> Self {
        let url = anvil.url();
        Self(tokio::spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let _ = client
                    .post(&url)
                    .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []}))
                    .send()
                    .await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }))
    }
}

impl Drop for Miner {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A call L1 must refuse, with OP's revert message `message`.
fn refused_with(outcome: Result<(), alloy::contract::Error>, message: &str) -> Result<()> {
    ensure!(
        outcome
            .as_ref()
            .is_err_and(|e| e.to_string().contains(message)),
        "expected a revert with {message:?}: {outcome:?}"
    );
    Ok(())
}

/// Waits until the oracle holds an output at or after L2 block `block`.
pub(crate) async fn wait_for_output(anvil: &Anvil, oracle: Address, block: u64) -> Result<()> {
    let provider = anvil.provider();
    let oracle = L2OutputOracle::new(oracle, &provider);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let latest: U256 = oracle.latestBlockNumber().call().await?;
        if latest >= U256::from(block) {
            return Ok(());
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "no output reached L2 block {block} (latest {latest})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawals_reach_l1_once_proven_against_an_output_and_final() -> Result<()> {
    const PERIOD: u64 = 3;
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir()?;
    let node = withdrawing_node(&anvil, dir.path(), PERIOD).await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let (portal, oracle) = contracts_of(&node).await?;
        let (l1_url, l2_url) = (anvil.url(), node.http_url());

        // The portal pays withdrawals out of what deposits left in it.
        fund_portal(&anvil, portal, 5 * ETHER).await?;

        // An L1 contract a withdrawal calls with data.
        let target = deploy_checked_in(
            &l1_wallet(&anvil, &Anvil::dev_key(7))?,
            include_str!("../../../contracts/out/WithdrawalTarget.bin"),
        )
        .await?;

        // Two withdrawals from a dev account on L2: ether to a fresh L1 address, and a call
        // of the target with a note and some value.
        let sender = dev_signer(2);
        let key_file = dir.path().join("l2.key");
        write_key_file(&key_file, &sender)?;
        let recipient = PrivateKeySigner::random().address();
        let to_recipient = ordo_withdraw(&[
            "initiate",
            "--l2-rpc",
            &l2_url,
            "--key-file",
            key_file.to_str().unwrap_or_default(),
            "--value",
            &ETHER.to_string(),
            "--to",
            &recipient.to_string(),
        ])?;
        let note = Bytes::from_static(b"from L2 with love");
        let call = WithdrawalTarget::recordCall {
            _note: note.clone(),
        }
        .abi_encode();
        let to_target = ordo_withdraw(&[
            "initiate",
            "--l2-rpc",
            &l2_url,
            "--key-file",
            key_file.to_str().unwrap_or_default(),
            "--value",
            "12345",
            "--to",
            &target.to_string(),
            "--gas-limit",
            "200000",
            "--data",
            &alloy::hex::encode_prefixed(&call),
        ])?;

        // The node's output of that block opens to the block and the message passer's
        // storage root, as the portal will check it.
        let block: u64 = to_target["l2_block"].parse()?;
        let output = node
            .rpc()
            .ok("ordo_outputAtBlock", json!([format!("{block:#x}")]))
            .await?;
        let header = node
            .rpc()
            .ok(
                "eth_getBlockByNumber",
                json!([format!("{block:#x}"), false]),
            )
            .await?;
        let proof = node
            .rpc()
            .ok(
                "eth_getProof",
                json!([ordo_primitives::MESSAGE_PASSER, [], format!("{block:#x}")]),
            )
            .await?;
        let words: Vec<B256> = [
            B256::ZERO,
            serde_json::from_value(header["stateRoot"].clone())?,
            serde_json::from_value(proof["storageHash"].clone())?,
            serde_json::from_value(header["hash"].clone())?,
        ]
        .to_vec();
        let expected = keccak256(words.concat());
        ensure!(output["outputRoot"] == json!(expected), "{output}");
        ensure!(
            output["withdrawalStorageRoot"] == proof["storageHash"],
            "{output}"
        );
        ensure!(output["blockRef"]["hash"] == header["hash"], "{output}");
        ensure!(output["blockRef"]["number"] == json!(block), "{output}");
        // Under op-node's name as well, for OP's proposer and challenger tools.
        let op = node
            .rpc()
            .ok("optimism_outputAtBlock", json!([format!("{block:#x}")]))
            .await?;
        ensure!(op["outputRoot"] == output["outputRoot"], "{op}");

        let l1_key = dir.path().join("l1.key");
        write_key_file(&l1_key, &Anvil::dev_key(5))?;
        let endpoints = ["--l1-rpc", &l1_url, "--l2-rpc", &l2_url];
        let step = |what: &str, tx: &str, wait: bool| -> Result<HashMap<String, String>> {
            let mut args = vec![what];
            args.extend(endpoints);
            args.extend(["--tx", tx]);
            if what != "status" {
                args.extend(["--key-file", l1_key.to_str().unwrap_or_default()]);
            }
            if wait {
                args.push("--wait");
            }
            ordo_withdraw(&args)
        };
        for w in [&to_recipient, &to_target] {
            let status = step("status", &w["l2_tx"], false)?;
            ensure!(
                ["waiting-to-prove", "ready-to-prove"].contains(&status["status"].as_str()),
                "{status:?}"
            );
        }
        wait_for_output(&anvil, oracle, block).await?;
        // The output the proposer posted is the node's.
        let l1 = anvil.provider();
        let oracle_contract = L2OutputOracle::new(oracle, &l1);
        let index = oracle_contract
            .getL2OutputIndexAfter(U256::from(block))
            .call()
            .await?;
        let posted = oracle_contract.getL2Output(index).call().await?;
        let at = node
            .rpc()
            .ok(
                "ordo_outputAtBlock",
                json!([format!("{:#x}", posted.l2BlockNumber)]),
            )
            .await?;
        ensure!(at["outputRoot"] == json!(posted.outputRoot), "{at}");

        for w in [&to_recipient, &to_target] {
            step("prove", &w["l2_tx"], true)?;
            let status = step("status", &w["l2_tx"], false)?;
            ensure!(
                status["status"].starts_with("waiting-to-finalize"),
                "{status:?}"
            );
        }
        // Before the period is over, finalizing is refused.
        let early = step("finalize", &to_recipient["l2_tx"], false);
        ensure!(
            early
                .as_ref()
                .is_err_and(|e| e.to_string().contains("not ready to finalize")),
            "{early:?}"
        );

        let _miner = Miner::start(&anvil);
        let done = step("finalize", &to_recipient["l2_tx"], true)?;
        ensure!(done["call_succeeded"] == "true", "{done:?}");
        ensure!(
            l1.get_balance(recipient).await? == U256::from(ETHER),
            "the recipient's L1 balance"
        );
        let done = step("finalize", &to_target["l2_tx"], true)?;
        ensure!(done["call_succeeded"] == "true", "{done:?}");
        let target_contract = WithdrawalTarget::new(target, &l1);
        ensure!(target_contract.lastL2Sender().call().await? == sender.address());
        ensure!(target_contract.lastValue().call().await? == U256::from(12345));
        ensure!(target_contract.lastNote().call().await? == note);
        let status = step("status", &to_target["l2_tx"], false)?;
        ensure!(status["status"] == "finalized", "{status:?}");

        // What the portal refuses, asked directly.
        let reader = ordo_l1::WithdrawalReader::new(&l1_url, &l2_url, portal, oracle)?;
        let (sent_in, sent) = reader
            .withdrawals_of(to_recipient["l2_tx"].parse()?)
            .await?;
        let withdrawal = sent
            .first()
            .cloned()
            .ok_or_else(|| eyre!("no withdrawal"))?;
        let prover = l1_wallet(&anvil, &Anvil::dev_key(5))?;
        let portal_contract = OrdoPortal::new(portal, &prover);
        refused_with(
            portal_contract
                .finalizeWithdrawalTransaction(withdrawal.clone())
                .call()
                .await
                .map(|_| ()),
            "withdrawal has already been finalized",
        )?;
        let proof = reader
            .proof(&withdrawal, sent_in)
            .await?
            .ok_or_else(|| eyre!("no proof"))?;
        // An output root proof that does not open the output (another state root).
        let mut wrong = proof.output_root_proof.clone();
        wrong.stateRoot = B256::repeat_byte(0x66);
        refused_with(
            portal_contract
                .proveWithdrawalTransaction(
                    withdrawal.clone(),
                    proof.output_index,
                    wrong,
                    proof.storage_proof.clone(),
                )
                .call()
                .await
                .map(|_| ()),
            "invalid output root proof",
        )?;
        // A withdrawal the L2 never sent (more value), with the real proofs.
        let mut forged = withdrawal.clone();
        forged.value += U256::from(1);
        refused_with(
            portal_contract
                .proveWithdrawalTransaction(
                    forged,
                    proof.output_index,
                    proof.output_root_proof.clone(),
                    proof.storage_proof.clone(),
                )
                .call()
                .await
                .map(|_| ()),
            "invalid withdrawal inclusion proof",
        )?;
        // The right proof against another output (the one before) does not open it either.
        if proof.output_index > U256::ZERO {
            refused_with(
                portal_contract
                    .proveWithdrawalTransaction(
                        withdrawal,
                        proof.output_index - U256::from(1),
                        proof.output_root_proof,
                        proof.storage_proof,
                    )
                    .call()
                    .await
                    .map(|_| ()),
                "invalid output root proof",
            )?;
        }
        Ok(())
    })
    .await
}

/// The proposer's mined and pending L1 nonces.
async fn nonces(anvil: &Anvil, proposer: Address) -> Result<(u64, u64)> {
    let l1 = anvil.provider();
    Ok((
        l1.get_transaction_count(proposer).await?,
        l1.get_transaction_count(proposer).pending().await?,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposer_killed_with_a_proposal_in_flight_posts_it_once_and_leaves_no_gap() -> Result<()>
{
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir()?;
    let mut node = withdrawing_node(&anvil, dir.path(), 3_600).await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let (_, oracle) = contracts_of(&node).await?;
        let l1 = anvil.provider();
        let oracle_contract = L2OutputOracle::new(oracle, &l1);
        let proposer = oracle_contract.PROPOSER().call().await?;
        wait_for_output(&anvil, oracle, 1).await?;

        // L1 stops mining on its own: a block is mined by hand, then the proposal that
        // follows the batch it confirmed waits in L1's pool.
        anvil.set_automine(false).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (mined, pending) = nonces(&anvil, proposer).await?;
            if pending > mined {
                break;
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "no proposal went out"
            );
            anvil.mine(1).await;
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        node.kill();
        node.start_again().await?;
        // The restarted proposer waits for the one in flight instead of sending another.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (mined, pending) = nonces(&anvil, proposer).await?;
        ensure!(
            pending == mined + 1,
            "in flight after the restart: {mined} mined, {pending} pending"
        );
        anvil.set_automine(true).await;
        anvil.mine(1).await;

        // Two more outputs after the restart.
        let first: U256 = oracle_contract.nextOutputIndex().call().await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        while oracle_contract.nextOutputIndex().call().await? < first + U256::from(2) {
            ensure!(
                tokio::time::Instant::now() < deadline,
                "the proposer did not go on"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Every proposer transaction was a proposal that landed: none twice, none reverted.
        let outputs: U256 = oracle_contract.nextOutputIndex().call().await?;
        let (mined, _) = nonces(&anvil, proposer).await?;
        ensure!(
            U256::from(mined) == outputs,
            "{mined} proposer transactions for {outputs} outputs"
        );
        // Consecutive indices over increasing blocks, each the node's output of its block.
        let mut last = 0u128;
        for i in 0..outputs.to::<u64>() {
            let output = oracle_contract.getL2Output(U256::from(i)).call().await?;
            ensure!(output.l2BlockNumber > last, "output {i} does not advance");
            last = output.l2BlockNumber;
            let at = node
                .rpc()
                .ok(
                    "ordo_outputAtBlock",
                    json!([format!("{:#x}", output.l2BlockNumber)]),
                )
                .await?;
            ensure!(
                at["outputRoot"] == json!(output.outputRoot),
                "output {i}: {at}"
            );
        }
        Ok(())
    })
    .await
}

/// An oracle of the test's own (the test's key proposes), to post outputs `ordo verify` must
/// reject.
async fn own_oracle(anvil: &Anvil, proposer: &PrivateKeySigner) -> Result<Address> {
    Ok(ordo_l1::deploy_oracle(
        &anvil.url(),
        proposer.clone(),
        ordo_l1::OracleParams {
            submission_interval: 1,
            l2_block_time: 1,
            starting_block_number: 0,
            starting_timestamp: 0,
            proposer: proposer.address(),
            challenger: proposer.address(),
            finalization_period_secs: 1,
        },
    )
    .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordo_verify_checks_every_output_on_l1_and_its_attestation() -> Result<()> {
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir()?;
    let node = withdrawing_node(&anvil, dir.path(), 3_600).await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let (portal, oracle) = contracts_of(&node).await?;
        // Some traffic, then two outputs on L1.
        let provider = node.provider(&dev_signer(1));
        for _ in 0..3 {
            provider
                .send_transaction(
                    alloy::rpc::types::TransactionRequest::default()
                        .to(Address::repeat_byte(0x77))
                        .value(U256::from(1)),
                )
                .await?
                .get_receipt()
                .await?;
        }
        let head = node.rpc().block_number().await?;
        wait_for_output(&anvil, oracle, head).await?;

        let (url, inbox, batcher) = (
            anvil.url(),
            INBOX.to_string(),
            Anvil::dev_key(4).address().to_string(),
        );
        let verify = |oracle: Address| {
            let oracle = oracle.to_string();
            let portal = portal.to_string();
            ordo_verify(&[
                "--dev",
                "--l1-rpc",
                &url,
                "--batch-inbox",
                &inbox,
                "--batcher",
                &batcher,
                "--portal",
                &portal,
                "--oracle",
                &oracle,
            ])
        };
        let run = verify(oracle)?;
        ensure!(
            run.success && run.stdout.contains("outputs on L1"),
            "{}\n{}",
            run.stdout,
            run.stderr
        );

        // The first batch as the node stored it: its last block, output root, attestation.
        let batch = node.rpc().ok("ordo_getBatch", json!(["0x0"])).await?;
        let last: u64 = parse_quantity(&batch["lastBlock"])?;
        let root: B256 = serde_json::from_value(batch["outputRoot"].clone())?;
        let prover: B256 = serde_json::from_value(batch["proverHash"].clone())
            .map_err(|e| eyre!("no prover hash in {batch}: {e}"))?;
        let attestation: Bytes = serde_json::from_value(batch["attestation"].clone())?;
        ensure!(!attestation.is_empty(), "{batch}");

        let me = Anvil::dev_key(8);
        let propose = |oracle: Address, root: B256, attestation: Bytes| {
            let me = me.clone();
            let anvil_url = anvil.url();
            async move {
                let l1 = alloy::providers::ProviderBuilder::new()
                    .wallet(alloy::network::EthereumWallet::from(me))
                    .connect_http(anvil_url.parse()?);
                let receipt = L2OutputOracle::new(oracle, &l1)
                    .proposeL2OutputAttested(
                        root,
                        U256::from(last),
                        B256::ZERO,
                        U256::ZERO,
                        prover,
                        attestation,
                    )
                    .send()
                    .await?
                    .get_receipt()
                    .await?;
                ensure!(receipt.status(), "the test's proposal failed");
                eyre::Ok(())
            }
        };
        // A tampered output root: verify names the output.
        let tampered = own_oracle(&anvil, &me).await?;
        propose(tampered, B256::repeat_byte(0xee), attestation.clone()).await?;
        let run = verify(tampered)?;
        ensure!(
            !run.success && run.stderr.contains(&format!("output 0 (L2 block {last})")),
            "{}\n{}",
            run.stdout,
            run.stderr
        );
        // The right root with a tampered attestation.
        let mut forged = attestation.to_vec();
        forged[0] ^= 1;
        let tampered = own_oracle(&anvil, &me).await?;
        propose(tampered, root, forged.into()).await?;
        let run = verify(tampered)?;
        ensure!(
            !run.success && run.stderr.contains("attestation"),
            "{}\n{}",
            run.stdout,
            run.stderr
        );
        // And both right: it passes.
        let honest = own_oracle(&anvil, &me).await?;
        propose(honest, root, attestation).await?;
        let run = verify(honest)?;
        ensure!(run.success, "{}\n{}", run.stdout, run.stderr);
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viems_op_stack_withdrawal_is_proven_and_finalized_against_ordos_contracts() -> Result<()> {
    // Installed before anything starts: a first install takes a while.
    viem_modules()?;
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir()?;
    let node = withdrawing_node(&anvil, dir.path(), 3).await?;
    node.logs()
        .guard(GUARD, async {
            let (portal, oracle) = contracts_of(&node).await?;
            let multicall = deploy_checked_in(
                &l1_wallet(&anvil, &Anvil::dev_key(7))?,
                include_str!("../../../contracts/out/Multicall3.bin"),
            )
            .await?;
            // Ether in the portal to pay the withdrawal out of.
            fund_portal(&anvil, portal, 2 * ETHER).await?;
            // A chain that has run a while: the oracle holds an output (viem, like OP's
            // oracle, takes the latest output's index, which does not exist before the first).
            wait_for_output(&anvil, oracle, 1).await?;
            // Funded on both chains (anvil's and Ordo's dev accounts are the same).
            let key = Anvil::dev_key(9);
            let before = anvil.provider().get_balance(key.address()).await?;
            let result = run_viem(
                "withdraw.cjs",
                &[
                    ("L1_RPC", anvil.url()),
                    ("L2_RPC", node.http_url()),
                    ("PORTAL", portal.to_string()),
                    ("ORACLE", oracle.to_string()),
                    ("MULTICALL3", multicall.to_string()),
                    ("KEY", format!("0x{}", alloy::hex::encode(key.to_bytes()))),
                ],
                Duration::from_secs(180),
            )
            .await?;
            ensure!(
                result["statuses"]
                    == json!([
                        result["statuses"][0].clone(),
                        "ready-to-prove",
                        "waiting-to-finalize",
                        "finalized"
                    ]),
                "{result}"
            );
            ensure!(
                ["waiting-to-prove", "ready-to-prove"]
                    .contains(&result["statuses"][0].as_str().unwrap_or_default()),
                "{result}"
            );
            ensure!(result["value"] == "500000000000000000", "{result}");
            // viem's OP receipt formatter reads the node's L1 fee fields as the node wrote them.
            let l2_hash: B256 = serde_json::from_value(result["l2Hash"].clone())?;
            let receipt = node
                .rpc()
                .ok("eth_getTransactionReceipt", json!([l2_hash]))
                .await?;
            for (viem, ours) in [
                ("l1Fee", "l1Fee"),
                ("l1GasUsed", "l1GasUsed"),
                ("l1GasPrice", "l1GasPrice"),
            ] {
                let ours = parse_quantity(&receipt[ours])?;
                ensure!(
                    result[viem] == json!(ours.to_string()),
                    "{viem}: viem read {}, the node says {ours}",
                    result[viem]
                );
            }
            ensure!(parse_quantity(&receipt["l1Fee"])? > 0, "{receipt}");
            // Its estimates: an L1 fee above zero, within the total with gas.
            let estimated: u128 = result["estimatedL1Fee"]
                .as_str()
                .unwrap_or_default()
                .parse()?;
            let total: u128 = result["estimatedTotalFee"]
                .as_str()
                .unwrap_or_default()
                .parse()?;
            ensure!(
                estimated > 0 && total > estimated + 21_000,
                "estimates {estimated} and {total}"
            );
            // The portal paid the half ether out on L1 (less what proving and finalizing cost).
            let after = anvil.provider().get_balance(key.address()).await?;
            ensure!(
                after > before && after - before < U256::from(ETHER / 2),
                "L1 balance {before} -> {after}"
            );
            let hash: B256 = serde_json::from_value(result["withdrawalHash"].clone())?;
            let l1 = anvil.provider();
            ensure!(
                OrdoPortal::new(portal, &l1)
                    .finalizedWithdrawals(hash)
                    .call()
                    .await?,
                "not finalized on L1"
            );
            Ok(())
        })
        .await
}
