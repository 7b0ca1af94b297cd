//! The soak: an hour of mixed load on a node posting to a real L1, with plugin swaps,
//! `kill -9`s of the node and restarts of the L1 along the way. At the end every
//! acknowledged transaction is in the chain exactly once and `ordo verify` rebuilds the
//! whole chain from L1. Not part of the test command: `scripts/soak [MINUTES]` runs it
//! (`ORDO_SOAK_MINUTES`, default 60; `ORDO_SOAK_CHAOS_SECS`, default 60, between two
//! disruptions) and it prints its numbers.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::{
    consensus::TxLegacy,
    primitives::{Address, B256, Bytes, TxKind, U256},
    sol_types::SolCall,
};
use eyre::{Result, bail, ensure, eyre};
use ordo_l1::testing::{Anvil, AnvilOptions};
use ordo_tests::*;
use serde_json::{Value, json};

const SENDERS: usize = 6;
const INBOX: Address = Address::repeat_byte(0xb0);
const FEE: u128 = 100 * GWEI;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Where the node answers now (its ports change at each restart).
#[derive(Clone)]
struct Endpoint(Arc<RwLock<String>>);

impl Endpoint {
    fn rpc(&self) -> Rpc {
        Rpc::new(&self.0.read().unwrap_or_else(|e| e.into_inner()))
    }
    fn set(&self, url: String) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = url;
    }
}

#[derive(Default)]
struct Counters {
    resent: AtomicU64,
    reads_ok: AtomicU64,
    reads_failed: AtomicU64,
}

/// The `n`-th transaction of a sender: transfers of both fee kinds, a contract now and then,
/// and calls that write the sender's first contract (and log).
fn nth_tx(signer: &alloy_signer_local::PrivateKeySigner, nonce: u64, first: u64) -> (Bytes, B256) {
    let me = signer.address();
    let k = nonce - first;
    match k % 10 {
        0 if k.is_multiple_of(50) => sign_raw(
            signer,
            TxLegacy {
                chain_id: Some(DEV_CHAIN_ID),
                nonce,
                gas_price: FEE,
                gas_limit: 200_000,
                to: TxKind::Create,
                value: U256::ZERO,
                input: store_initcode(),
            },
        ),
        1 | 4 | 7 => {
            let input = Store::setCall {
                value: U256::from(nonce),
            }
            .abi_encode();
            sign_raw(
                signer,
                TxLegacy {
                    chain_id: Some(DEV_CHAIN_ID),
                    nonce,
                    gas_price: FEE,
                    gas_limit: 60_000,
                    to: TxKind::Call(me.create(first)),
                    value: U256::ZERO,
                    input: input.into(),
                },
            )
        }
        3 | 8 => sign_raw(
            signer,
            TxLegacy {
                chain_id: Some(DEV_CHAIN_ID),
                nonce,
                gas_price: FEE,
                gas_limit: 21_000,
                to: TxKind::Call(random_address()),
                value: U256::from(1),
                input: Bytes::new(),
            },
        ),
        _ => sign_raw(
            signer,
            transfer_1559(
                DEV_CHAIN_ID,
                nonce,
                random_address(),
                U256::from(1),
                FEE,
                GWEI,
            ),
        ),
    }
}

/// One sender: each transaction is sent until the node acknowledges it (or its nonce is
/// already in a block: sent before a kill, acknowledged by nobody, yet stored). Returns the
/// acknowledged hashes.
async fn sender(
    index: usize,
    endpoint: Endpoint,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
) -> Result<Vec<B256>> {
    let signer = dev_signer(index);
    let first = loop {
        match endpoint
            .rpc()
            .call(
                "eth_getTransactionCount",
                json!([signer.address(), "pending"]),
            )
            .await
        {
            Ok(Ok(v)) => break parse_quantity(&v)?,
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let mut acked = Vec::new();
    let mut nonce = first;
    while !stop.load(Ordering::Relaxed) {
        let (raw, hash) = nth_tx(&signer, nonce, first);
        let mut tries = 0u64;
        loop {
            tries += 1;
            match endpoint.rpc().send_raw(&raw).await {
                Ok(Ok(h)) if h == hash => break,
                Ok(Ok(h)) => bail!("sent {hash}, acknowledged {h}"),
                Ok(Err(e)) if e.message == "already known" => break,
                Ok(Err(e)) if e.message == "nonce too low" => {
                    // Stored before a kill without an answer: it must be ours.
                    let r = endpoint
                        .rpc()
                        .ok("eth_getTransactionByHash", json!([hash]))
                        .await?;
                    ensure!(
                        !r.is_null(),
                        "nonce {nonce} of sender {index} taken by another transaction"
                    );
                    break;
                }
                // Down, restarting, out of its rate budget: try again.
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
            if tries > 3000 {
                bail!("sender {index} could not send nonce {nonce} in 5 minutes");
            }
        }
        if tries > 1 {
            counters.resent.fetch_add(1, Ordering::Relaxed);
        }
        acked.push(hash);
        nonce += 1;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    Ok(acked)
}

/// Reads of every kind, failures counted (the node is down now and then).
async fn reader(endpoint: Endpoint, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    let contract = dev_signer(0).address().create(0);
    let get = Bytes::from(Store::getCall {}.abi_encode());
    while !stop.load(Ordering::Relaxed) {
        let rpc = endpoint.rpc();
        let calls: [(&str, Value); 5] = [
            ("eth_getBalance", json!([DEV_ACCOUNT0, "latest"])),
            ("eth_call", json!([{"to": contract, "data": get}, "latest"])),
            ("eth_getBlockByNumber", json!(["latest", true])),
            (
                "eth_getLogs",
                json!([{"fromBlock": "earliest", "toBlock": "latest", "topics": [set_topic()]}]),
            ),
            ("eth_feeHistory", json!(["0x10", "latest", [25, 75]])),
        ];
        for (method, params) in calls {
            match rpc.call(method, params).await {
                Ok(Ok(_)) => counters.reads_ok.fetch_add(1, Ordering::Relaxed),
                _ => counters.reads_failed.fetch_add(1, Ordering::Relaxed),
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Activates the next loaded plugin of `kind` after the active one (round robin).
async fn swap_plugin(node: &TestNode, kind: &str) -> Result<String> {
    let admin = node.admin()?;
    let list = admin.ok("admin_listPlugins", json!([])).await?;
    let loaded: Vec<&Value> = list["loaded"]
        .as_array()
        .ok_or_else(|| eyre!("admin_listPlugins: {list}"))?
        .iter()
        .filter(|p| p["kind"] == kind)
        .collect();
    ensure!(loaded.len() >= 2, "fewer than two {kind} plugins: {list}");
    let active = loaded
        .iter()
        .position(|p| p["id"] == list["active"][kind]["id"])
        .unwrap_or(0);
    let next = loaded[(active + 1) % loaded.len()];
    admin
        .ok("admin_activatePlugin", json!([{"id": next["id"]}]))
        .await?;
    Ok(next["name"].as_str().unwrap_or("?").to_string())
}

fn rss_mib(node: &TestNode) -> u64 {
    node.pid()
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "an hour long: run it with scripts/soak"]
async fn soak() -> Result<()> {
    let minutes = env_u64("ORDO_SOAK_MINUTES", 60);
    let chaos_every = Duration::from_secs(env_u64("ORDO_SOAK_CHAOS_SECS", 60));
    let dir = tempfile::tempdir()?;
    let mut anvil = Anvil::spawn_with(AnvilOptions::restartable(
        dir.path().join("anvil-state.json"),
    ))
    .await;
    let batcher = Anvil::dev_key(3);
    let key_file = dir.path().join("batcher.key");
    write_key_file(&key_file, &batcher)?;
    let mut node = TestNode::start(NodeOpts {
        config_toml: Some(format!(
            "[batcher]\nmax_delay_ms = 6000\n\n[l1]\nrpc_url = \"{}\"\nkey_file = \"{}\"\nbatch_inbox = \"{INBOX}\"\nconfirmations = 3\npoll_ms = 200\n",
            anvil.url(),
            key_file.display()
        )),
        ..NodeOpts::default()
    })
    .await?;
    let endpoint = Endpoint(Arc::new(RwLock::new(node.http_url())));
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let senders: Vec<_> = (0..SENDERS)
        .map(|i| tokio::spawn(sender(i, endpoint.clone(), stop.clone(), counters.clone())))
        .collect();
    let reads = tokio::spawn(reader(endpoint.clone(), stop.clone(), counters.clone()));

    let started = Instant::now();
    let until = started + Duration::from_secs(minutes * 60);
    let (mut kills, mut l1_restarts, mut swaps, mut max_rss) = (0u64, 0u64, 0u64, 0u64);
    let mut step = 0usize;
    while Instant::now() < until {
        tokio::time::sleep(chaos_every.min(until.saturating_duration_since(Instant::now()))).await;
        max_rss = max_rss.max(rss_mib(&node));
        if Instant::now() >= until {
            break;
        }
        match step % 5 {
            0 => {
                let name = swap_plugin(&node, "ordering").await?;
                println!(
                    "[{:>5} s] ordering policy: {name}",
                    started.elapsed().as_secs()
                );
                swaps += 1;
            }
            1 => {
                node.kill();
                node.start_again().await?;
                endpoint.set(node.http_url());
                println!(
                    "[{:>5} s] node killed (-9) and restarted",
                    started.elapsed().as_secs()
                );
                kills += 1;
            }
            2 => {
                let name = swap_plugin(&node, "compression").await?;
                println!("[{:>5} s] batch codec: {name}", started.elapsed().as_secs());
                swaps += 1;
            }
            3 => {
                anvil.kill_and_restart().await;
                println!(
                    "[{:>5} s] L1 killed and restarted",
                    started.elapsed().as_secs()
                );
                l1_restarts += 1;
            }
            _ => {
                node.kill();
                anvil.kill_and_restart().await;
                node.start_again().await?;
                endpoint.set(node.http_url());
                println!(
                    "[{:>5} s] node and L1 killed together",
                    started.elapsed().as_secs()
                );
                kills += 1;
                l1_restarts += 1;
            }
        }
        step += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for s in senders {
        acked.extend(s.await??);
    }
    reads.await?;

    // Every acknowledged transaction is included, exactly once.
    let rpc = node.rpc();
    let provider = node.provider(&dev_signer(0));
    for hash in &acked {
        wait_receipt(&provider, *hash, Duration::from_secs(300)).await?;
    }
    let head = parse_quantity(&rpc.ok("eth_blockNumber", json!([])).await?)?;
    let mut seen: HashMap<B256, u64> = HashMap::new();
    for n in 1..=head {
        let block = rpc
            .ok("eth_getBlockByNumber", json!([format!("{n:#x}"), false]))
            .await?;
        for tx in block["transactions"].as_array().into_iter().flatten() {
            let hash: B256 = serde_json::from_value(tx.clone())?;
            *seen.entry(hash).or_default() += 1;
        }
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    ensure!(twice.is_empty(), "included more than once: {twice:?}");
    let missing: Vec<_> = acked.iter().filter(|h| !seen.contains_key(*h)).collect();
    ensure!(
        missing.is_empty(),
        "acknowledged, never included: {missing:?}"
    );

    // And L1 holds the whole chain: `ordo verify` rebuilds it and matches the node.
    let last = *acked.last().ok_or_else(|| eyre!("nothing was sent"))?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let status = rpc.ok("ordo_txStatus", json!([last])).await?;
        if status["status"] == "confirmed" || status["status"] == "finalized" {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the last batch never confirmed: {status}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (url, inbox, from) = (
        anvil.url(),
        INBOX.to_string(),
        batcher.address().to_string(),
    );
    let http = node.http_url();
    let run = ordo_verify(&[
        "--dev",
        "--l1-rpc",
        &url,
        "--batch-inbox",
        &inbox,
        "--batcher",
        &from,
        "--compare-rpc",
        &http,
    ])?;
    ensure!(
        run.success && run.stdout.contains("verified"),
        "ordo verify failed:\n{}\n{}",
        run.stdout,
        run.stderr
    );

    println!(
        "soak: {} min, {} transactions acknowledged ({} after a retry) and included exactly once \
         in {head} blocks; {kills} kill -9s, {l1_restarts} L1 restarts, {swaps} plugin swaps; \
         {} reads ({} failed while the node was down); node RSS at most {max_rss} MiB; \
         ordo verify rebuilt the chain from L1",
        started.elapsed().as_secs() / 60,
        acked.len(),
        counters.resent.load(Ordering::Relaxed),
        counters.reads_ok.load(Ordering::Relaxed) + counters.reads_failed.load(Ordering::Relaxed),
        counters.reads_failed.load(Ordering::Relaxed),
    );
    Ok(())
}
