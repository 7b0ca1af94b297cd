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

const INBOX: Address = Address::repeat_byte(0xb1);

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
    ensure!(stderr.contains("deploying the portal"), "{stderr}");
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
