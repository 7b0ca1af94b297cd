//! `ordo run --config FILE`: the node reads the TOML file (pool limits, fee floor, coinbase)
//! and the flags still override it. Also the one validation error the dev defaults cannot
//! reach: "txpool is full". And `[builder] thread_nice`: the block threads' priority.

use alloy::primitives::{Address, U256};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::json;

use crate::GUARD;

const COINBASE: &str = "0x00000000000000000000000000000000000c0b15";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_from_config_file_applies_pool_limits_fee_floor_and_coinbase() -> Result<()> {
    // block_time_ms here is overridden by the harness's --block-time flag (flag > file).
    let node = TestNode::start(NodeOpts {
        config_toml: Some(format!(
            "block_time_ms = 600000\nmin_base_fee = 2000000000\ncoinbase = \"{COINBASE}\"\n\n[pool]\nmax_txs = 2\n"
        )),
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            // The flag's 200 ms block time won over the file's 10 minutes: blocks advance.
            let start = rpc.block_number().await?;
            let mut head = start;
            for _ in 0..100 {
                head = rpc.block_number().await?;
                if head > start {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            ensure!(
                head > start,
                "no block sealed: --block-time did not override the file"
            );

            // The file's coinbase receives the blocks.
            let block = rpc
                .ok("eth_getBlockByNumber", json!(["latest", false]))
                .await?;
            let miner: Address = serde_json::from_value(block["miner"].clone())?;
            ensure!(miner == COINBASE.parse::<Address>()?, "miner {miner}");

            // The file's 2 gwei floor: a 1.5 gwei fee cap is refused.
            let to = random_address();
            let low = transfer_1559(DEV_CHAIN_ID, 0, to, U256::from(1), 1_500_000_000, 1);
            let (raw, _) = sign_raw(&dev_signer(1), low);
            let err = rpc
                .send_raw(&raw)
                .await?
                .err()
                .ok_or_else(|| eyre!("low fee accepted"))?;
            ensure!(
                err.message
                    .contains("max fee per gas less than block base fee"),
                "{err}"
            );

            // The file's pool size: two queued transactions (nonce gap, so never mined) fill
            // it; a third that pays no more than them is refused.
            for i in 1..=2 {
                let tx = transfer_1559(DEV_CHAIN_ID, 5, to, U256::from(1), 3 * GWEI, GWEI);
                let (raw, _) = sign_raw(&dev_signer(i), tx);
                rpc.send_raw(&raw)
                    .await?
                    .map_err(|e| eyre!("queued tx {i}: {e}"))?;
            }
            let tx = transfer_1559(DEV_CHAIN_ID, 5, to, U256::from(1), 3 * GWEI, GWEI);
            let (raw, _) = sign_raw(&dev_signer(3), tx);
            let err = rpc
                .send_raw(&raw)
                .await?
                .err()
                .ok_or_else(|| eyre!("third tx accepted"))?;
            ensure!(err.message.contains("txpool is full"), "{err}");
            Ok(())
        })
        .await
}

#[test]
fn config_print_shows_flag_over_env_over_file_and_bad_keys_stop_startup() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("ordo.toml");
    std::fs::write(
        &file,
        "block_time_ms = 700\nchain_id = 11\n[l1]\nconfirmations = 4\n[limits]\nper_ip_per_sec = 3\n",
    )?;
    let out = std::process::Command::new(ordo_bin())
        .args(["config", "print", "--config"])
        .arg(&file)
        .args(["--block-time", "900", "--set", "limits.per_ip_per_sec=8"])
        .env("ORDO_BLOCK_TIME_MS", "800")
        .env("ORDO_L1_CONFIRMATIONS", "5")
        .env("ORDO_LIMITS_PER_IP_PER_SEC", "6")
        .output()?;
    let text = String::from_utf8(out.stdout)?;
    ensure!(out.status.success(), "{text}");
    let printed: toml::Table = toml::from_str(&text)?;
    ensure!(
        printed["block_time_ms"].as_integer() == Some(900),
        "flag wins: {text}"
    );
    ensure!(
        printed["chain_id"].as_integer() == Some(11),
        "file over default"
    );
    ensure!(
        printed["l1"]["confirmations"].as_integer() == Some(5),
        "env over file"
    );
    ensure!(
        printed["limits"]["per_ip_per_sec"].as_integer() == Some(8),
        "--set over env"
    );

    std::fs::write(&file, "[l1]\nconfirmatons = 3\n")?;
    let out = std::process::Command::new(ordo_bin())
        .args(["run", "--config"])
        .arg(&file)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "a bad key must stop startup");
    ensure!(err.contains("l1.confirmatons"), "names the key: {err}");
    Ok(())
}

/// Nice values of the node's threads with this name (Linux: `/proc/PID/task/*/stat`). A
/// thread that exits while it is read is left out.
fn thread_nices(pid: u32, name: &str) -> Result<Vec<i64>> {
    let mut nices = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let dir = task?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        nices.push(nice_in_stat(&stat)?);
    }
    Ok(nices)
}

/// The nice value in a `stat` line: the 19th field, the 17th after the command's closing
/// parenthesis (the command itself may hold spaces and parentheses).
fn nice_in_stat(stat: &str) -> Result<i64> {
    let rest = stat
        .rsplit_once(')')
        .ok_or_else(|| eyre!("odd stat: {stat}"))?
        .1;
    let nice = rest
        .split_whitespace()
        .nth(16)
        .ok_or_else(|| eyre!("short stat: {stat}"))?;
    Ok(nice.parse()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_threads_run_above_ingress_and_the_threads_they_start_do_not() -> Result<()> {
    let node = TestNode::dev().await?;
    let pid = node.pid().ok_or_else(|| eyre!("no pid"))?;
    node.logs()
        .guard(GUARD, async {
            // The index writer starts on the commit thread once blocks are stored.
            let provider = node.provider(&dev_signer(0));
            let start = node.rpc().block_number().await?;
            wait_block(&provider, start + 8, crate::RECEIPT).await?;
            let base = nice_in_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat"))?)?;
            let builder = thread_nices(pid, "ordo-builder")?;
            let commit = thread_nices(pid, "ordo-commit")?;
            let warned = node
                .logs()
                .text()
                .contains("cannot raise the block threads' priority");
            // The default, -5, where the node may raise a priority; elsewhere it says why not.
            let raised = builder == vec![-5];
            if raised {
                ensure!(commit == vec![-5], "ordo-commit: nice {commit:?}, want [-5]");
                ensure!(!warned, "raised, yet warned");
            } else {
                ensure!(
                    builder == vec![base] && commit == vec![base],
                    "not raised, so at the process's nice {base}: builder {builder:?}, commit {commit:?}"
                );
                ensure!(warned, "no warning of the refused raise");
            }
            // Ingress and the WAL keep the process's priority; the threads a raised block
            // thread starts (the index writer) begin at 0.
            let ingress = thread_nices(pid, "tokio-rt-worker")?;
            ensure!(
                !ingress.is_empty() && ingress.iter().all(|n| *n == base),
                "JSON-RPC workers: {ingress:?}, want {base}"
            );
            let wal = thread_nices(pid, "ordo-pool-wal")?;
            ensure!(wal == vec![base], "ordo-pool-wal: {wal:?}, want [{base}]");
            // The prefetch thread reads ahead below them all.
            let prefetch = thread_nices(pid, "ordo-prefetch")?;
            let below = (base + 10).min(19);
            ensure!(
                prefetch == vec![below],
                "ordo-prefetch: {prefetch:?}, want [{below}]"
            );
            let index = thread_nices(pid, "ordo-index")?;
            let want = if raised { 0 } else { base };
            ensure!(index == vec![want], "ordo-index: {index:?}, want [{want}]");
            Ok(())
        })
        .await?;
    drop(node);

    // The state root's threads start with the first block that changes 1,024 accounts or
    // more: 1,100 transfers to fresh addresses, in slots long enough to hold them (a round
    // that a slot boundary splits is sent again).
    let node = TestNode::start(NodeOpts {
        block_time_ms: 4_000,
        ..NodeOpts::default()
    })
    .await?;
    let pid = node.pid().ok_or_else(|| eyre!("no pid"))?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let provider = node.provider(&dev_signer(0));
            for _round in 0..5 {
                if !thread_nices(pid, "ordo-root-0")?.is_empty() {
                    break;
                }
                let sends = dev_signers().iter().map(|signer| {
                    let rpc = rpc.clone();
                    async move {
                        let nonce = rpc
                            .ok(
                                "eth_getTransactionCount",
                                json!([signer.address(), "pending"]),
                            )
                            .await?;
                        let nonce = parse_quantity(&nonce)?;
                        let raws: Vec<_> =
                            transfers_to_fresh_addresses(signer, nonce, 110, 100 * GWEI)
                                .into_iter()
                                .map(|(raw, _)| raw)
                                .collect();
                        // In pieces under the pool's nonce gap (64), each after the last.
                        for piece in raws.chunks(55) {
                            let calls: Vec<_> = piece
                                .iter()
                                .map(|raw| ("eth_sendRawTransaction", json!([raw])))
                                .collect();
                            for answer in rpc.batch(&calls).await? {
                                answer.map_err(|e| eyre!("send: {e}"))?;
                            }
                        }
                        eyre::Ok(())
                    }
                });
                for sent in futures::future::join_all(sends).await {
                    sent?;
                }
                let start = rpc.block_number().await?;
                wait_block(&provider, start + 2, crate::RECEIPT).await?;
            }
            // Read once blocks were sealed: the builder's thread starts after the node answers.
            let want = thread_nices(pid, "ordo-builder")?;
            let roots = [
                thread_nices(pid, "ordo-root-0")?,
                thread_nices(pid, "ordo-root-1")?,
            ]
            .concat();
            ensure!(!roots.is_empty(), "no root thread started");
            ensure!(
                roots.iter().all(|n| want == vec![*n]),
                "root threads: {roots:?}, want the builder's {want:?}"
            );
            Ok(())
        })
        .await
}
