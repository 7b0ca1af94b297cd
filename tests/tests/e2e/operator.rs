//! Operator controls on the admin listener: halt refuses writes with a clear error while
//! reads, `/health` and the durable mempool carry on, and no block is sealed; the halt and
//! live block parameters survive a restart; resume includes what was pending, on the same
//! head. `admin_status` and `/ready` report it all.

use std::time::Duration;

use alloy::{
    network::TransactionBuilder,
    primitives::{B256, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::{Value, json};

use crate::{GUARD, RECEIPT};

/// `GET {url}{path}`: (status, JSON body).
async fn get_json(url: &str, path: &str) -> Result<(u16, Value)> {
    let resp = reqwest::get(format!("{}{path}", url.trim_end_matches('/'))).await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// A signed EIP-1559 transfer of `value` wei from `signer` at `nonce` (10 gwei cap, 1 gwei tip).
fn transfer(
    signer: &alloy::signers::local::PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    value: u64,
) -> (alloy::primitives::Bytes, B256) {
    sign_raw(
        signer,
        transfer_1559(
            chain_id,
            nonce,
            random_address(),
            U256::from(value),
            10_000_000_000,
            1_000_000_000,
        ),
    )
}

/// Waits until the node has sealed at least one block after now.
async fn next_block(rpc: &Rpc) -> Result<u64> {
    let start = rpc.block_number().await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let n = rpc.block_number().await?;
        if n > start {
            return Ok(n);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "no block after {start}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn halt_refuses_writes_keeps_reads_survives_restart_and_resume_includes_pending() -> Result<()>
{
    let mut node = TestNode::dev().await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let rpc = node.rpc();
        let admin = node.admin()?;
        let alice = dev_signer(5);
        let chain_id = rpc.ok("eth_chainId", json!([])).await?;
        let chain_id = parse_quantity(&chain_id)?;
        let (ready, body) = get_json(&node.http_url(), "/ready").await?;
        ensure!(
            ready == 200 && body["ready"] == true,
            "ready at start: {ready} {body}"
        );

        // Slow blocks, so a transaction can wait in the pool across the halt.
        admin
            .ok("admin_setBlockParams", json!([{"blockTimeMs": 60_000}]))
            .await?;
        next_block(&rpc).await?; // the long slot is in force from here
        let (raw, pending) = transfer(&alice, chain_id, 0, 7);
        ensure!(
            rpc.send_raw(&raw).await?.is_ok(),
            "accepted before the halt"
        );

        ensure!(
            admin
                .ok("admin_halt", json!([{"reason": "l1 outage drill"}]))
                .await?
                == json!(true)
        );
        let head = rpc.block_number().await?;
        let (raw2, _) = transfer(&alice, chain_id, 1, 8);
        let refused = rpc
            .send_raw(&raw2)
            .await?
            .err()
            .ok_or_else(|| eyre!("a send was accepted while halted"))?;
        ensure!(
            refused.code == -32000 && refused.message == "sequencer halted: l1 outage drill",
            "{refused:?}"
        );
        let bundle = rpc
            .call(
                "eth_sendBundle",
                json!([{"txs": [format!("{raw2}")], "blockNumber": format!("{:#x}", head + 2)}]),
            )
            .await?
            .err()
            .ok_or_else(|| eyre!("a bundle was accepted while halted"))?;
        ensure!(
            bundle.message == "sequencer halted: l1 outage drill",
            "{bundle:?}"
        );

        // Reads go on; the node is alive but not ready.
        let p = node.provider(&alice);
        ensure!(p.get_balance(alice.address()).await? > U256::ZERO);
        ensure!(p.get_block_by_number(head.into()).await?.is_some());
        ensure!(
            rpc.ok("eth_getTransactionByHash", json!([pending])).await?["hash"] == json!(pending),
            "the pending tx is still in the pool"
        );
        let (health, _) = get_json(&node.http_url(), "/health").await?;
        ensure!(health == 200);
        let (ready, body) = get_json(&node.http_url(), "/ready").await?;
        ensure!(
            ready == 503 && body["reasons"][0] == "sequencer halted: l1 outage drill",
            "{ready} {body}"
        );
        let status = admin.ok("admin_status", json!([])).await?;
        ensure!(
            status["halted"] == true
                && status["haltReason"] == "l1 outage drill"
                && status["head"]["number"] == head
                && status["mempool"]["pending"] == 1
                && status["blockParams"]["blockTimeMs"] == 60_000
                && status["configEpoch"] == 1,
            "{status}"
        );

        // Back to fast blocks (takes effect when blocks resume), then a restart: still
        // halted, the pending tx restored from the WAL, the parameters kept.
        admin
            .ok(
                "admin_setBlockParams",
                json!([{"blockTimeMs": TEST_BLOCK_TIME_MS}]),
            )
            .await?;
        node.restart().await?;
        let rpc = node.rpc();
        let admin = node.admin()?;
        let status = admin.ok("admin_status", json!([])).await?;
        ensure!(
            status["halted"] == true
                && status["configEpoch"] == 2
                && status["blockParams"]["blockTimeMs"] == TEST_BLOCK_TIME_MS
                && status["mempool"]["pending"] == 1,
            "after restart: {status}"
        );
        // Several fast slots pass, and no block is sealed.
        tokio::time::sleep(Duration::from_millis(TEST_BLOCK_TIME_MS * 5)).await;
        ensure!(
            rpc.block_number().await? == head,
            "a block was sealed while halted"
        );
        ensure!(
            rpc.send_raw(&raw2).await?.is_err(),
            "still refusing after restart"
        );

        ensure!(admin.ok("admin_resume", json!([])).await?["wasHalted"] == true);
        let p = node.provider(&alice);
        let receipt = wait_receipt(&p, pending, RECEIPT).await?;
        ensure!(receipt.status());
        let included = receipt
            .block_number
            .ok_or_else(|| eyre!("no block number"))?;
        ensure!(included > head, "included at {included}, head was {head}");
        let next = p
            .get_block_by_number((head + 1).into())
            .await?
            .ok_or_else(|| eyre!("no block {}", head + 1))?;
        let old: B256 = p
            .get_block_by_number(head.into())
            .await?
            .ok_or_else(|| eyre!("no block {head}"))?
            .header
            .hash;
        ensure!(
            next.header.parent_hash == old,
            "resume continues on the same head"
        );
        ensure!(rpc.send_raw(&raw2).await?.is_ok(), "sends accepted again");
        let (ready, body) = get_json(&node.http_url(), "/ready").await?;
        ensure!(ready == 200, "ready after resume: {body}");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_params_change_at_the_next_block_and_bad_values_are_refused() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let admin = node.admin()?;
            for (params, needle) in [
                (json!([{"blockTimeMs": 0}]), "blockTimeMs"),
                (json!([{"gasLimit": 1000}]), "gasLimit"),
                (json!([{"blockTime": 5}]), "unknown field"),
                (json!([{}]), "at least one"),
                (json!([{"minBaseFee": "ten"}]), "invalid"),
            ] {
                let err = admin
                    .call("admin_setBlockParams", params.clone())
                    .await?
                    .err()
                    .ok_or_else(|| eyre!("{params} accepted"))?;
                ensure!(
                    err.code == -32602 && err.message.contains(needle),
                    "{params}: {err:?}"
                );
            }
            let halt = admin.call("admin_halt", json!([{"reason": " "}])).await?;
            ensure!(
                halt.as_ref().is_err_and(|e| e.code == -32602),
                "an empty reason: {halt:?}"
            );

            let live = admin
                .ok(
                    "admin_setBlockParams",
                    json!([{"gasLimit": 20_000_000, "minBaseFee": 3_000_000_000u64}]),
                )
                .await?;
            ensure!(
                live["epoch"] == 1 && live["gasLimit"] == 20_000_000,
                "{live}"
            );
            let after = next_block(&rpc).await?;
            let n = next_block(&rpc).await?.max(after);
            let block = rpc
                .ok("eth_getBlockByNumber", json!([format!("{n:#x}"), false]))
                .await?;
            ensure!(parse_quantity(&block["gasLimit"])? == 20_000_000, "{block}");
            ensure!(
                parse_quantity(&block["baseFeePerGas"])? >= 3_000_000_000,
                "{block}"
            );
            // The pool follows the new floor: a fee cap under it is refused.
            let signer = dev_signer(6);
            let p = node.provider(&signer);
            let cheap = TransactionRequest::default()
                .with_to(random_address())
                .with_value(U256::from(1))
                .with_max_fee_per_gas(2_000_000_000)
                .with_max_priority_fee_per_gas(1);
            ensure!(
                p.send_transaction(cheap).await.is_err(),
                "a fee cap under the new floor was accepted"
            );
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_per_ip_and_per_sender_hit_and_recover_live() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let admin = node.admin()?;
            let chain_id = parse_quantity(&rpc.ok("eth_chainId", json!([])).await?)?;

            // Per IP: 20 calls at once, then 20 a second. A batch of 60 overdraws it; each
            // call of the batch counts.
            admin
                .ok("admin_setLimits", json!([{"perIp": {"perSec": 20, "burst": 20}}]))
                .await?;
            let calls: Vec<(&str, Value)> = (0..60).map(|_| ("eth_blockNumber", json!([]))).collect();
            let answers = rpc.batch(&calls).await?;
            let limited: Vec<_> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
            ensure!(
                !limited.is_empty() && limited.len() < 60,
                "{} of 60 limited",
                limited.len()
            );
            ensure!(
                limited
                    .iter()
                    .all(|e| e.code == -32005 && e.message == "rate limit exceeded"),
                "{limited:?}"
            );
            // The bucket refills: a moment later calls go through again.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            rpc.ok("eth_blockNumber", json!([])).await?;

            // Per sender, live: 3 at once, then 1 a second. Another sender is served while
            // the first is limited.
            admin
                .ok(
                    "admin_setLimits",
                    json!([{"perIp": {"perSec": 0, "burst": 0}, "perSender": {"perSec": 1, "burst": 3}}]),
                )
                .await?;
            let (alice, bob) = (dev_signer(7), dev_signer(9));
            let tx = |s, nonce| transfer(s, chain_id, nonce, 1).0;
            let mut outcomes = Vec::new();
            for nonce in 0..6 {
                outcomes.push(rpc.send_raw(&tx(&alice, nonce)).await?);
            }
            let accepted = outcomes.iter().filter(|o| o.is_ok()).count();
            ensure!((3..6).contains(&accepted), "alice: {outcomes:?}");
            let refused = outcomes
                .iter()
                .find_map(|o| o.as_ref().err())
                .ok_or_else(|| eyre!("alice never limited"))?;
            ensure!(refused.code == -32005 && refused.message == "rate limit exceeded");
            ensure!(rpc.send_raw(&tx(&bob, 0)).await?.is_ok(), "bob is served meanwhile");
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let next = accepted as u64;
            ensure!(
                rpc.send_raw(&tx(&alice, next)).await?.is_ok(),
                "alice recovers after a second"
            );
            let status = admin.ok("admin_status", json!([])).await?;
            ensure!(
                status["limits"]["perSender"]["perSec"] == 1 && status["configEpoch"] == 2,
                "{status}"
            );
            let bad = admin
                .call("admin_setLimits", json!([{"perIp": {"perSec": -1, "burst": 1}}]))
                .await?;
            ensure!(bad.as_ref().is_err_and(|e| e.code == -32602), "{bad:?}");
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_are_signed_by_the_keystore_key_and_no_secret_reaches_the_logs() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let anvil = ordo_l1::testing::Anvil::spawn().await;
    // The sequencer key: a known secret imported into an encrypted keystore with the CLI.
    let sequencer = alloy::signers::local::PrivateKeySigner::random();
    let raw = dir.path().join("sequencer.raw");
    write_key_file(&raw, &sequencer)?;
    let password = dir.path().join("password");
    std::fs::write(&password, "a long keystore password\n")?;
    // Password files, like key files, must be private to their owner.
    std::fs::set_permissions(
        &password,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
    )?;
    let out = std::process::Command::new(ordo_bin())
        .args(["keys", "import", "--key-file"])
        .arg(&raw)
        .arg("--keystore-dir")
        .arg(dir.path().join("keys"))
        .arg("--password-file")
        .arg(&password)
        .output()?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout)?;
    let (address, keystore) = stdout
        .trim()
        .split_once(' ')
        .ok_or_else(|| eyre!("keys import printed {stdout:?}"))?;
    ensure!(address.parse::<alloy::primitives::Address>()? == sequencer.address());
    std::fs::remove_file(&raw)?;
    let listed = std::process::Command::new(ordo_bin())
        .args(["keys", "list", "--keystore-dir"])
        .arg(dir.path().join("keys"))
        .output()?;
    ensure!(
        String::from_utf8(listed.stdout)?
            .to_lowercase()
            .contains(&address.to_lowercase()),
        "keys list shows the address"
    );
    // The batcher key: a raw key file (mode 0600; wider modes are refused, see keys.rs).
    let batcher = ordo_l1::testing::Anvil::dev_key(4);
    let batcher_file = dir.path().join("batcher.key");
    write_key_file(&batcher_file, &batcher)?;
    let toml = format!(
        "[batcher]\nmax_delay_ms = 300\n[sequencer]\nkeystore = \"{keystore}\"\npassword_file = \"{}\"\n[l1]\nrpc_url = \"{}\"\nkey_file = \"{}\"\nbatch_inbox = \"0x00000000000000000000000000000000000b0b0b\"\npoll_ms = 200\n",
        password.display(),
        anvil.url(),
        batcher_file.display()
    );
    let node = TestNode::start(NodeOpts {
        config_toml: Some(toml),
        ..NodeOpts::default()
    })
    .await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let rpc = node.rpc();
        let p = node.provider(&dev_signer(3));
        let tx = TransactionRequest::default()
            .with_to(random_address())
            .with_value(U256::from(5));
        let hash = *p.send_transaction(tx).await?.tx_hash();
        let receipt = wait_receipt(&p, hash, RECEIPT).await?;
        let number = receipt.block_number.ok_or_else(|| eyre!("no block"))?;
        let prov = rpc
            .ok("ordo_getBlockProvenance", json!([format!("{number:#x}")]))
            .await?;
        ensure!(
            prov["signer"].as_str().map(str::to_lowercase) == Some(address.to_lowercase())
                && prov["signature"]
                    .as_str()
                    .is_some_and(|s| s.len() == 2 + 130),
            "{prov}"
        );
        let status = node.admin()?.ok("admin_status", json!([])).await?;
        ensure!(
            status["sequencer"].as_str().map(str::to_lowercase) == Some(address.to_lowercase())
        );
        // Batches exist (300 ms delay); verify checks every block's signature.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let s = rpc.ok("ordo_txStatus", json!([hash])).await?;
            if s["status"] != "pending" && s["status"] != "sequenced" {
                break;
            }
            ensure!(tokio::time::Instant::now() < deadline, "never batched: {s}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let url = node.http_url();
        ordo_verify_ok(&[
            "--dev",
            "--batches-rpc",
            &url,
            "--compare-rpc",
            &url,
            "--sequencer",
            address,
        ])?;
        let wrong = random_address().to_string();
        let run = ordo_verify(&[
            "--dev",
            "--batches-rpc",
            &url,
            "--compare-rpc",
            &url,
            "--sequencer",
            &wrong,
        ])?;
        ensure!(
            !run.success && run.stderr.contains("not the sequencer"),
            "a wrong sequencer must fail: {}",
            run.stderr
        );
        Ok(())
    })
    .await?;
    // After a full run (start, blocks, batches, L1 posting), no secret was ever logged.
    let text = logs.text().to_lowercase();
    ensure!(
        text.contains("sequencer key loaded"),
        "the logs were captured"
    );
    for secret in [
        alloy::primitives::hex::encode(sequencer.to_bytes()),
        alloy::primitives::hex::encode(batcher.to_bytes()),
        "a long keystore password".to_string(),
        node.admin_token()?.to_lowercase(),
    ] {
        ensure!(!text.contains(&secret), "a secret reached the logs");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_parse_and_carry_block_and_batch_spans() -> Result<()> {
    let node = TestNode::start(NodeOpts {
        config_toml: Some("[batcher]\nmax_delay_ms = 300\n".into()),
        extra_args: vec!["--log-format".into(), "json".into()],
        env: vec![("ORDO_LOG".into(), "ordo=debug".into())],
        ..NodeOpts::default()
    })
    .await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let p = node.provider(&dev_signer(1));
        let tx = TransactionRequest::default()
            .with_to(random_address())
            .with_value(U256::from(1));
        let hash = *p.send_transaction(tx).await?.tx_hash();
        wait_receipt(&p, hash, RECEIPT).await?;
        let rpc = node.rpc();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while rpc.ok("ordo_getBatch", json!(["0x0"])).await?.is_null() {
            ensure!(tokio::time::Instant::now() < deadline, "no batch");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = logs.text();
        let lines: Vec<Value> = text
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .map_err(|e| eyre!("a JSON log line does not parse: {e}"))?;
        ensure!(lines.len() > 5, "json log lines: {}", lines.len());
        let in_span = |name: &str, field: &str| {
            lines.iter().any(|l| {
                l["spans"].as_array().is_some_and(|s| {
                    s.iter()
                        .any(|s| s["name"] == name && s.get(field).is_some())
                })
            })
        };
        ensure!(in_span("block", "number"), "no line inside a block span");
        ensure!(in_span("batch", "index"), "no line inside a batch span");
        ensure!(
            lines
                .iter()
                .all(|l| l["level"].is_string() && l["target"].is_string()),
            "every line has a level and a target"
        );
        Ok(())
    })
    .await
}
