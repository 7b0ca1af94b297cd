//! The attacks of the security review (issue 12) against a real node: each test sends the
//! attack traffic, bounded in count and time, and checks the node neither acknowledges what
//! it cannot include nor lets one client hold back everyone else.

use alloy::{
    consensus::TxEip1559,
    primitives::{TxKind, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::json;

use crate::{GUARD, RECEIPT};

const BLOCK_GAS: u64 = 30_000_000;

/// Item 1: `gas * fee cap + value` wrapping to 0 made a transaction from an empty account
/// look free; it was acknowledged, WALed, refused by revm and re-sent after every block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cost_that_overflows_256_bits_is_refused_not_acknowledged() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let fee = 100 * GWEI;
            let wrap = U256::ZERO.wrapping_sub(U256::from(BLOCK_GAS) * U256::from(fee));
            let poor = PrivateKeySigner::random();
            let rich = dev_signer(7);
            for (who, signer) in [("empty account", &poor), ("funded account", &rich)] {
                let nonce = node
                    .provider(signer)
                    .get_transaction_count(signer.address())
                    .pending()
                    .await?;
                let (raw, hash) = sign_raw(
                    signer,
                    TxEip1559 {
                        gas_limit: BLOCK_GAS,
                        ..transfer_1559(DEV_CHAIN_ID, nonce, random_address(), wrap, fee, fee)
                    },
                );
                match rpc.send_raw(&raw).await? {
                    Ok(hash) => return Err(eyre!("{who}: acknowledged as {hash}")),
                    Err(e) => ensure!(
                        e.code == -32000
                            && e.message == "insufficient funds for gas * price + value",
                        "{who}: got {e}"
                    ),
                }
                let status = rpc.ok("ordo_txStatus", json!([hash])).await?;
                ensure!(status.is_null(), "{who}: the node knows the tx: {status}");
            }
            Ok(())
        })
        .await
}

/// Item 2: a sender with a block-sized gas limit and a top tip used to reserve the whole
/// block for a 21k-gas transfer, one block after another. The builder now fills the gas such
/// a transaction leaves unused, so an honest low-tip transfer lands while the squatter still
/// has transactions waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_sized_gas_limit_does_not_reserve_the_block() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let squatter = dev_signer(5);
            let honest = dev_signer(6);
            let p = node.provider(&honest);
            let start = p
                .get_transaction_count(squatter.address())
                .pending()
                .await?;
            let mut squats = Vec::new();
            for nonce in start..start + 6 {
                let (raw, hash) = sign_raw(
                    &squatter,
                    TxEip1559 {
                        gas_limit: BLOCK_GAS,
                        to: TxKind::Call(random_address()),
                        ..transfer_1559(
                            DEV_CHAIN_ID,
                            nonce,
                            random_address(),
                            U256::from(1),
                            1_000 * GWEI,
                            500 * GWEI,
                        )
                    },
                );
                rpc.send_raw(&raw)
                    .await?
                    .map_err(|e| eyre!("squatter tx {nonce}: {e}"))?;
                squats.push(hash);
            }
            let nonce = p.get_transaction_count(honest.address()).pending().await?;
            let (raw, hash) = sign_raw(
                &honest,
                transfer_1559(
                    DEV_CHAIN_ID,
                    nonce,
                    random_address(),
                    U256::from(1),
                    10 * GWEI,
                    GWEI,
                ),
            );
            rpc.send_raw(&raw)
                .await?
                .map_err(|e| eyre!("honest tx: {e}"))?;
            let honest_block = wait_receipt(&p, hash, RECEIPT)
                .await?
                .block_number
                .ok_or_else(|| eyre!("receipt without block"))?;
            let mut squat_blocks = Vec::new();
            for h in &squats {
                let r = wait_receipt(&p, *h, RECEIPT).await?;
                ensure!(r.gas_used == 21_000, "squatter tx used {}", r.gas_used);
                squat_blocks.push(r.block_number.unwrap_or_default());
            }
            let last_squat = squat_blocks.iter().copied().max().unwrap_or_default();
            ensure!(
                honest_block < last_squat,
                "the honest transfer waited for every squatting tx: it landed in block \
                 {honest_block}, the squatter's txs in {squat_blocks:?}"
            );
            Ok(())
        })
        .await
}

/// Item 14: lowering the gas limit with `admin_setBlockParams` used to strand pooled
/// transactions above it forever; they are dropped, and `ordo_txStatus` says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowering_the_gas_limit_drops_what_no_longer_fits_with_a_reason() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let admin = node.admin()?;
            // Slow blocks, so the transactions wait in the pool; the change applies after
            // the slot already scheduled.
            admin
                .ok("admin_setBlockParams", json!([{"blockTimeMs": 60_000}]))
                .await?;
            let head = rpc.block_number().await?;
            wait_block(&node.provider(&dev_signer(0)), head + 1, RECEIPT).await?;

            let mut sent = Vec::new();
            for (signer, gas) in [(dev_signer(8), 20_000_000u64), (dev_signer(9), 100_000)] {
                let nonce = node
                    .provider(&signer)
                    .get_transaction_count(signer.address())
                    .pending()
                    .await?;
                let (raw, hash) = sign_raw(
                    &signer,
                    TxEip1559 {
                        gas_limit: gas,
                        ..transfer_1559(
                            DEV_CHAIN_ID,
                            nonce,
                            random_address(),
                            U256::from(1),
                            10 * GWEI,
                            GWEI,
                        )
                    },
                );
                rpc.send_raw(&raw)
                    .await?
                    .map_err(|e| eyre!("gas {gas}: {e}"))?;
                sent.push(hash);
            }
            admin
                .ok("admin_setBlockParams", json!([{"gasLimit": 10_000_000}]))
                .await?;
            let big = rpc.ok("ordo_txStatus", json!([sent[0]])).await?;
            ensure!(
                big["status"] == "dropped" && big["reason"] == "exceeds block gas limit",
                "the 20M-gas tx: {big}"
            );
            let gone = rpc.ok("eth_getTransactionByHash", json!([sent[0]])).await?;
            ensure!(gone.is_null(), "still served as pending: {gone}");
            let small = rpc.ok("ordo_txStatus", json!([sent[1]])).await?;
            ensure!(small["status"] == "pending", "the 100k-gas tx: {small}");
            Ok(())
        })
        .await
}

/// Initcode that hashes 1 KiB of memory in a loop until its gas runs out: about the most
/// wall time per unit of gas the EVM offers (50M gas is a few hundred milliseconds).
const SPIN: &str = "0x5b61040060002050600056";

fn spin_call() -> serde_json::Value {
    json!([{"data": SPIN, "gas": format!("{:#x}", 50_000_000u64)}, "latest"])
}

/// Item 4: four batches of 200 expensive `eth_call`s used to take every blocking thread the
/// builder and ingress needed, and the head stopped. Now reads run on threads of their own
/// with a per-client time budget: blocks keep coming and a transfer sent into the storm is
/// included while the storm is still being answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_expensive_calls_does_not_stall_blocks_or_ingress() -> Result<()> {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(200))
                .build()?;
            let body: Vec<serde_json::Value> = (0..200)
                .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_call", "params": spin_call()}))
                .collect();
            let body = serde_json::Value::Array(body).to_string();
            let done = Arc::new(AtomicUsize::new(0));
            let head_at_start = rpc.block_number().await?;
            let mut storm = Vec::new();
            for _ in 0..4 {
                let (client, url, body, done) =
                    (client.clone(), node.http_url(), body.clone(), done.clone());
                storm.push(tokio::spawn(async move {
                    let answer = client
                        .post(url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    let text = match answer {
                        Ok(resp) => resp.text().await.unwrap_or_default(),
                        Err(e) => e.to_string(),
                    };
                    done.fetch_add(1, Ordering::SeqCst);
                    text
                }));
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;

            let alice = dev_signer(3);
            let p = node.provider(&alice);
            let nonce = p.get_transaction_count(alice.address()).pending().await?;
            let (raw, hash) = sign_raw(
                &alice,
                transfer_1559(DEV_CHAIN_ID, nonce, random_address(), U256::from(1), 10 * GWEI, GWEI),
            );
            rpc.send_raw(&raw).await?.map_err(|e| eyre!("transfer: {e}"))?;
            wait_receipt(&p, hash, RECEIPT).await?;
            let head_at_receipt = rpc.block_number().await?;
            let outstanding = 4 - done.load(Ordering::SeqCst);

            let mut answers = String::new();
            for batch in storm {
                answers.push_str(&batch.await?);
            }
            let head_at_end = rpc.block_number().await?;
            let timeouts = answers.matches("execution aborted (timeout = 5s)").count();
            let refused = answers.matches("-32005").count();
            eprintln!(
                "storm: {timeouts} timed out, {refused} refused; the transfer landed by block \
                 {head_at_receipt}; blocks {head_at_start} -> {head_at_end} while it ran"
            );
            ensure!(
                outstanding > 0,
                "the transfer was only included after the storm had been answered"
            );
            // A storm this size keeps the read threads busy for seconds (every queued call
            // runs or times out): a slot every 200 ms means many blocks, not a handful.
            ensure!(
                head_at_end >= head_at_start + 5,
                "blocks stalled during the storm: {head_at_start} -> {head_at_end}"
            );
            Ok(())
        })
        .await
}

/// Item 4: a call that runs past `[rpc] call_timeout_ms` is stopped with geth's error, and a
/// client that spent its read-time budget is refused expensive reads (cheap ones still
/// answer) while another budget is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_calls_time_out_and_spend_the_callers_time_budget() -> Result<()> {
    let node = TestNode::start(NodeOpts {
        extra_args: [
            "--set",
            "rpc.call_timeout_ms=50",
            "--set",
            "rpc.read_ms_per_ip_per_sec=1",
            "--set",
            "rpc.read_ms_per_ip_burst=120",
        ]
        .map(String::from)
        .to_vec(),
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let first = rpc.call("eth_call", spin_call()).await?;
            match &first {
                Err(e) => ensure!(
                    e.code == -32000 && e.message == "execution aborted (timeout = 50ms)",
                    "first spin: {e}"
                ),
                Ok(v) => return Err(eyre!("a spin call returned {v}")),
            }
            let mut refused = false;
            for _ in 0..10 {
                match rpc.call("eth_estimateGas", spin_call()).await? {
                    Err(e) if e.code == -32005 => {
                        ensure!(e.message == "rate limit exceeded", "{e}");
                        refused = true;
                        break;
                    }
                    Err(e) => ensure!(
                        e.message == "execution aborted (timeout = 50ms)",
                        "spin estimate: {e}"
                    ),
                    Ok(v) => return Err(eyre!("a spin estimate returned {v}")),
                }
            }
            ensure!(refused, "ten 50 ms calls never spent a 120 ms budget");
            // Cheap reads do not come out of the read budget.
            rpc.ok("eth_blockNumber", json!([])).await?;
            rpc.ok("eth_getBalance", json!([DEV_ACCOUNT0, "latest"]))
                .await?;
            Ok(())
        })
        .await
}

/// Item 6: fresh keys are free, so they must not each bring a failure budget, a bundle quota
/// and metric series of their own. Forty keys that never landed a bundle send one failing
/// bundle each: together they spend the one budget unproven signers share (a forty-first
/// key is refused at once), and `/metrics` sums them as `other`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_searcher_keys_share_one_budget_and_one_metric_series() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            // A transfer from an empty account: decodes, and fails every simulation.
            let failing = |block: u64| {
                let broke = PrivateKeySigner::random();
                let (raw, _) = sign_raw(
                    &broke,
                    transfer_1559(
                        DEV_CHAIN_ID,
                        0,
                        random_address(),
                        U256::from(1),
                        10 * GWEI,
                        GWEI,
                    ),
                );
                json!([{"txs": [raw], "blockNumber": format!("{block:#x}")}])
            };
            let target = rpc.block_number().await? + 3;
            for i in 0..40 {
                let key = PrivateKeySigner::random();
                rpc.call_signed(&key, "eth_sendBundle", failing(target))
                    .await?
                    .map_err(|e| eyre!("bundle {i}: {e}"))?;
            }
            wait_block(&node.provider(&dev_signer(0)), target + 1, RECEIPT).await?;

            let newcomer = PrivateKeySigner::random();
            let refused = rpc
                .call_signed(&newcomer, "eth_sendBundle", failing(target + 5))
                .await?
                .err()
                .ok_or_else(|| eyre!("a fresh key got a fresh failure budget"))?;
            ensure!(
                refused.code == -32005 && refused.message.contains("rate limited"),
                "{refused}"
            );

            let metrics = node.metrics_text().await?;
            let series: Vec<&str> = metrics
                .lines()
                .filter(|l| l.starts_with("ordo_searcher_bundles_proposed_total{"))
                .collect();
            ensure!(
                series.iter().all(|l| !l.contains("searcher=\"0x")),
                "unproven keys got series of their own: {} of them",
                series.len()
            );
            let other = series
                .iter()
                .find(|l| l.contains("searcher=\"other\""))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| eyre!("no `other` series: {series:?}"))?;
            ensure!(other >= 40, "other proposed {other}");
            Ok(())
        })
        .await
}

/// Item 16: `admin_loadPlugin {path}` used to read any file the node could read and quote
/// its first bytes in the error. It reads only the plugin folder now (symlinks resolved
/// first), and no error quotes a file's content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_load_plugin_reads_only_the_plugin_folder_and_quotes_no_content() -> Result<()> {
    let folder = tempfile::tempdir()?;
    let secret = folder.path().join("notes.txt");
    std::fs::write(&secret, "SECRET-CONTENT of a file that is not a plugin")?;
    let outside = tempfile::tempdir()?;
    let elsewhere = outside.path().join("key.hex");
    std::fs::write(&elsewhere, "SECRET-KEY-MATERIAL")?;
    std::os::unix::fs::symlink(&elsewhere, folder.path().join("link.wasm"))?;
    let node = TestNode::start(NodeOpts {
        extra_args: vec![
            "--set".into(),
            format!("plugins.dir={}", folder.path().display()),
        ],
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let admin = node.admin()?;
            let load = |path: serde_json::Value| {
                let admin = admin.clone();
                async move {
                    admin
                        .call(
                            "admin_loadPlugin",
                            json!([{"kind": "ordering", "path": path}]),
                        )
                        .await?
                        .err()
                        .ok_or_else(|| eyre!("{path} was loaded"))
                }
            };
            for (what, path) in [
                ("a file outside", json!(elsewhere)),
                ("a relative escape", json!("../../../../../../etc/passwd")),
                ("a symlink to outside", json!("link.wasm")),
            ] {
                let err = load(path).await?;
                ensure!(
                    err.code == -32602 && err.message.contains("outside the plugin folder"),
                    "{what}: {err}"
                );
                ensure!(
                    !err.message.contains("SECRET") && !err.message.contains("root:"),
                    "{what}: {err}"
                );
            }
            let err = load(json!("notes.txt")).await?;
            ensure!(
                err.message.contains("not a WebAssembly component")
                    && !err.message.contains("SECRET"),
                "{err}"
            );
            Ok(())
        })
        .await
}

/// Item 17: keystore passwords and dev keys given in the environment are taken out of it at
/// start (not left in `/proc/<pid>/environ`), a password file others can read is refused like
/// a key file, and an L1 RPC URL carrying an API key never reaches the logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_leave_the_environment_and_the_l1_url_stays_out_of_the_logs() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    let password = "keystore password 4b1d";
    let out = std::process::Command::new(ordo_bin())
        .args(["keys", "new", "--keystore-dir"])
        .arg(dir.path().join("keys"))
        .env("ORDO_KEYSTORE_PASSWORD", password)
        .output()?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout)?;
    let keystore = stdout
        .trim()
        .split_once(' ')
        .map(|(_, file)| file.to_string())
        .ok_or_else(|| eyre!("keys new printed {stdout:?}"))?;
    let batcher_key = alloy::primitives::hex::encode(PrivateKeySigner::random().to_bytes());
    // Nothing listens on port 9: the poster fails, and its errors quote the URL they failed on.
    let api_key = "APIKEY7e57c0de";
    let toml = format!(
        "[sequencer]\nkeystore = \"{keystore}\"\n[l1]\nrpc_url = \"http://127.0.0.1:9/v3/{api_key}?token={api_key}\"\nbatch_inbox = \"0x00000000000000000000000000000000000b0b0b\"\npoll_ms = 100\n"
    );
    let node = TestNode::start(NodeOpts {
        config_toml: Some(toml.clone()),
        env: vec![
            ("ORDO_SEQUENCER_KEYSTORE_PASSWORD".into(), password.into()),
            ("ORDO_L1_KEY".into(), batcher_key.clone()),
        ],
        ..NodeOpts::default()
    })
    .await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let pid = node.pid().ok_or_else(|| eyre!("no pid"))?;
        let environ = std::fs::read(format!("/proc/{pid}/environ"))?;
        let environ = String::from_utf8_lossy(&environ);
        ensure!(
            !environ.contains(password),
            "the keystore password is still in the environment"
        );
        ensure!(
            !environ.contains(&batcher_key),
            "the L1 key is still in the environment"
        );
        // Let the poster fail a few times.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while !logs.text().contains("l1 poster tick failed") {
            ensure!(
                tokio::time::Instant::now() < deadline,
                "the poster never failed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let status = node.admin()?.ok("admin_status", json!([])).await?;
        ensure!(
            !status.to_string().contains(api_key),
            "admin_status shows the URL: {status}"
        );
        Ok(())
    })
    .await?;
    let text = logs.text();
    ensure!(text.contains("127.0.0.1:9"), "the logs name the L1 host");
    ensure!(!text.contains(api_key), "the L1 API key reached the logs");

    // A password file others can read is refused, naming the fix.
    let pw = dir.path().join("password");
    std::fs::write(&pw, password)?;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644))?;
    let config = dir.path().join("ordo.toml");
    std::fs::write(
        &config,
        format!(
            "[sequencer]\nkeystore = \"{keystore}\"\npassword_file = \"{}\"\n",
            pw.display()
        ),
    )?;
    let run = tokio::process::Command::new(ordo_bin())
        .args(["run", "--config"])
        .arg(&config)
        .arg("--datadir")
        .arg(dir.path().join("data"))
        .args(["--rpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"])
        .env_remove("ORDO_SEQUENCER_KEYSTORE_PASSWORD")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(RECEIPT, run).await??;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success()
            && stderr.contains("readable by others")
            && stderr.contains("chmod 600"),
        "a world-readable password file: {} {stderr}",
        out.status
    );
    Ok(())
}

/// Item 18: the per-block plugin deadlines follow the block time an operator sets live, not
/// only the one the node started with (an ordering plugin may spend at most half a slot, a
/// searcher an eighth).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_deadlines_follow_a_live_block_time_change() -> Result<()> {
    let node = TestNode::start(NodeOpts {
        block_time_ms: 2_000,
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let admin = node.admin()?;
            let before = admin.ok("admin_status", json!([])).await?["blockParams"].clone();
            admin
                .ok("admin_setBlockParams", json!([{"blockTimeMs": 100}]))
                .await?;
            let after = admin.ok("admin_status", json!([])).await?["blockParams"].clone();
            ensure!(
                after["pluginDeadlinesMs"]["ordering"] == 50
                    && after["pluginDeadlinesMs"]["searcher"] == 12,
                "before {before}, after {after}"
            );
            Ok(())
        })
        .await
}
