//! 12. Plugins on the real node: the shipped defaults are active on a fresh `ordo dev`, every
//!     block names its ordering plugin (`ordo_getBlockProvenance`), the admin API needs its
//!     bearer token, ordering plugins swap under load at block boundaries without losing a
//!     transaction, a hostile plugin costs nothing but a counted fallback and is rolled back
//!     after three failures, the active set survives a restart, and `ordo plugin new` /
//!     `ordo plugin load` work as the README says.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use alloy::{
    primitives::{B256, U256},
    providers::Provider,
};
use eyre::{Result, bail, ensure, eyre};
use ordo_tests::*;
use serde_json::{Value, json};

use crate::{GUARD, RECEIPT};

/// The `examples/ordering-round-robin` component (built by the plugin host's build script).
fn round_robin() -> Result<PathBuf> {
    ordo_plugin_host::testing::ROUND_ROBIN_EXAMPLE
        .map(PathBuf::from)
        .ok_or_else(|| eyre!("examples/ordering-round-robin was not built"))
}

async fn provenance(rpc: &Rpc, block: u64) -> Result<Value> {
    rpc.ok("ordo_getBlockProvenance", json!([format!("{block:#x}")]))
        .await
}

async fn head(rpc: &Rpc) -> Result<u64> {
    parse_quantity(&rpc.ok("eth_blockNumber", json!([])).await?)
}

/// Waits until the head is at least `n`.
async fn wait_head(rpc: &Rpc, n: u64) -> Result<u64> {
    let deadline = tokio::time::Instant::now() + RECEIPT;
    loop {
        let h = head(rpc).await?;
        if h >= n {
            return Ok(h);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("head stuck at {h}, wanted {n}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The entry of `admin_listPlugins` whose `field` equals `value` (e.g. name, id).
fn loaded<'a>(list: &'a Value, field: &str, value: &str) -> Result<&'a Value> {
    list["loaded"]
        .as_array()
        .and_then(|l| l.iter().find(|p| p[field] == value))
        .ok_or_else(|| eyre!("no loaded plugin with {field} {value}: {list}"))
}

/// A string field of a loaded plugin's entry.
fn loaded_str(list: &Value, name: &str, field: &str) -> Result<String> {
    loaded(list, "name", name)?[field]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| eyre!("{name} has no {field}"))
}

fn active_ordering(list: &Value) -> Option<String> {
    list["active"]["ordering"]["name"]
        .as_str()
        .map(str::to_string)
}

async fn load(admin: &Rpc, kind: &str, path: &Path, config: &str) -> Result<Value> {
    admin
        .ok(
            "admin_loadPlugin",
            json!([{"kind": kind, "path": path, "config": config}]),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_provenance_and_admin_auth() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let admin = node.admin()?;
            let list = admin.ok("admin_listPlugins", json!([])).await?;
            assert_eq!(active_ordering(&list).as_deref(), Some("priority-fee"), "{list}");
            assert_eq!(list["active"]["compression"]["name"], "brotli", "{list}");
            assert_eq!(list["active"]["prover"]["name"], "commitment", "{list}");
            let names: HashSet<_> = list["loaded"]
                .as_array()
                .ok_or_else(|| eyre!("no loaded list: {list}"))?
                .iter()
                .filter_map(|p| p["name"].as_str())
                .collect();
            for n in ["priority-fee", "fcfs", "fair", "brotli", "lz4", "commitment"] {
                assert!(names.contains(n), "{n} not loaded: {names:?}");
            }
            let code_hash = list["active"]["ordering"]["codeHash"].clone();

            // A real transaction, and the provenance of the block that holds it.
            let s = dev_signer(1);
            let (raw, hash) = sign_raw(
                &s,
                transfer_1559(DEV_CHAIN_ID, 0, random_address(), U256::from(1), 100 * GWEI, GWEI),
            );
            rpc.send_raw(&raw).await?.map_err(|e| eyre!("{e}"))?;
            let receipt = node.provider(&s);
            let r = wait_receipt(&receipt, hash, RECEIPT).await?;
            let block = r.block_number.ok_or_else(|| eyre!("no block number"))?;
            let p = provenance(&rpc, block).await?;
            assert_eq!(p["policy"], "priority-fee", "{p}");
            assert_eq!(p["codeHash"], code_hash, "{p}");
            assert_eq!(p["fallback"], false, "{p}");
            assert_eq!(p["blockNumber"], format!("{block:#x}"));
            // Tags work, unknown blocks are null, bad params are -32602.
            assert_eq!(rpc.ok("ordo_getBlockProvenance", json!(["latest"])).await?["policy"], "priority-fee");
            assert_eq!(rpc.ok("ordo_getBlockProvenance", json!(["0xffffff"])).await?, Value::Null);
            let err = rpc
                .call("ordo_getBlockProvenance", json!([{"nope": 1}]))
                .await?
                .err()
                .ok_or_else(|| eyre!("bad params accepted"))?;
            assert_eq!(err.code, -32602);
            assert_eq!(
                rpc.ok("ordo_getBlockProvenance", json!(["0x0"])).await?["policy"],
                "genesis"
            );

            // The admin API is not on the public port, and wants its token.
            let err = rpc.call("admin_listPlugins", json!([])).await?.err();
            assert_eq!(err.map(|e| e.code), Some(-32601));
            let (status, body) = Rpc::new(&node.admin_url())
                .post_raw(json!({"jsonrpc":"2.0","id":1,"method":"admin_listPlugins"}).to_string())
                .await?;
            assert_eq!(status.as_u16(), 401);
            assert!(body.is_empty(), "401 carries nothing: {body:?}");
            let (status, body) = Rpc::new(&node.admin_url())
                .with_bearer("not-the-token")
                .post_raw(json!({"jsonrpc":"2.0","id":1,"method":"admin_listPlugins"}).to_string())
                .await?;
            assert_eq!(status.as_u16(), 401);
            assert!(body.is_empty(), "401 carries nothing: {body:?}");
            // Whatever the method or path, and before any body is read.
            let client = reqwest::Client::new();
            for (method, path) in [("GET", "/"), ("GET", "/metrics"), ("POST", "/nope")] {
                let r = client
                    .request(method.parse()?, format!("{}{path}", node.admin_url()))
                    .send()
                    .await?;
                assert_eq!(r.status().as_u16(), 401, "{method} {path}");
            }
            // An oversized unauthenticated body: a 401, or the server closing the connection
            // without reading it; either way the node is unharmed.
            match client
                .post(node.admin_url())
                .body(vec![b' '; 70 * 1024 * 1024])
                .send()
                .await
            {
                Ok(r) => assert_eq!(r.status().as_u16(), 401, "an oversized unauthenticated body"),
                Err(e) => ensure!(e.is_request() || e.is_body(), "unexpected error: {e}"),
            }
            admin.ok("admin_listPlugins", json!([])).await?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(node.datadir().join("admin.token"))?
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "admin.token mode {mode:o}");
            }

            // Bad admin input: clear errors.
            let err = admin
                .call("admin_loadPlugin", json!([{"kind": "ordering", "wasm": "bm90IHdhc20="}]))
                .await?
                .err()
                .ok_or_else(|| eyre!("garbage wasm accepted"))?;
            assert_eq!(err.code, -32000, "{err}");
            let err = admin
                .call("admin_loadPlugin", json!([{"kind": "sorting", "path": "/x"}]))
                .await?
                .err()
                .ok_or_else(|| eyre!("bad kind accepted"))?;
            assert_eq!(err.code, -32602, "{err}");
            let err = admin
                .call("admin_loadPlugin", json!([{"kind": "ordering", "path": "/x", "wasm": "AA=="}]))
                .await?
                .err()
                .ok_or_else(|| eyre!("path and wasm together accepted"))?;
            assert_eq!(err.code, -32602, "{err}");
            let err = admin
                .call("admin_loadPlugin", json!([{"kind": "ordering", "path": "/dev/zero"}]))
                .await?
                .err()
                .ok_or_else(|| eyre!("a device accepted as a plugin file"))?;
            assert_eq!(err.code, -32602, "{err}");
            let err = admin
                .call("admin_shadowPlugin", json!([{}]))
                .await?
                .err()
                .ok_or_else(|| eyre!("shadow without id accepted"))?;
            assert_eq!(err.code, -32602, "{err}");
            let err = admin
                .call("admin_activatePlugin", json!([{"id": 1}]))
                .await?
                .err()
                .ok_or_else(|| eyre!("numeric id accepted"))?;
            assert_eq!(err.code, -32602, "{err}");
            let err = admin
                .call("admin_activatePlugin", json!([{"id": "nope"}]))
                .await?
                .err()
                .ok_or_else(|| eyre!("unknown id accepted"))?;
            assert_eq!(err.code, -32000, "{err}");
            // A WASI-importing component is refused at load, naming the import.
            let err = admin
                .call(
                    "admin_loadPlugin",
                    json!([{"kind": "ordering", "path": ordo_plugin_host::testing::fixture_path("wasi")}]),
                )
                .await?
                .err()
                .ok_or_else(|| eyre!("WASI plugin accepted"))?;
            assert!(err.message.contains("wasi:"), "{err}");
            Ok(())
        })
        .await
}

/// 2,000 transactions while the ordering plugin is swapped 5 times: every transaction is
/// included, blocks are contiguous, no block fell back, and provenance follows the
/// activations in order, changing only between blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_swap_under_load() -> Result<()> {
    const ACCOUNTS: usize = 10;
    const PER_ACCOUNT: u64 = 200;
    let node = TestNode::dev().await?;
    node.logs()
        .guard(Duration::from_secs(400), async {
            let rpc = node.rpc();
            let admin = node.admin()?;
            let start = head(&rpc).await?;
            let list = admin.ok("admin_listPlugins", json!([])).await?;
            let id_of = |name: &str| loaded_str(&list, name, "id");
            let hash_of = |name: &str| loaded_str(&list, name, "codeHash");
            let rr = load(&admin, "ordering", &round_robin()?, "").await?;
            let rr_id = rr["id"].as_str().ok_or_else(|| eyre!("no id"))?.to_string();
            let rr_hash = rr["codeHash"]
                .as_str()
                .ok_or_else(|| eyre!("no hash"))?
                .to_string();
            let swaps = [
                (id_of("fcfs")?, hash_of("fcfs")?),
                (id_of("fair")?, hash_of("fair")?),
                (rr_id, rr_hash),
                (id_of("priority-fee")?, hash_of("priority-fee")?),
                (id_of("fcfs")?, hash_of("fcfs")?),
            ];
            let mut expected_runs = vec![hash_of("priority-fee")?];
            expected_runs.extend(swaps.iter().map(|(_, h)| h.clone()));

            // Pre-sign everything: 10 senders, 200 consecutive nonces each.
            let mut hashes = Vec::new();
            let mut per_account = Vec::new();
            for a in 0..ACCOUNTS {
                let s = dev_signer(a);
                let to = random_address();
                let txs: Vec<_> = (0..PER_ACCOUNT)
                    .map(|n| {
                        let tip = GWEI * (1 + (n as u128 * 7 + a as u128 * 3) % 5);
                        let (raw, h) = sign_raw(
                            &s,
                            transfer_1559(DEV_CHAIN_ID, n, to, U256::from(1), 100 * GWEI, tip),
                        );
                        hashes.push(h);
                        raw
                    })
                    .collect();
                per_account.push(txs);
            }
            // Six phases of sends with a swap between each two, so every swap happens with
            // transactions arriving; each swap waits for two more blocks first.
            let phases = swaps.len() + 1;
            let chunk = (PER_ACCOUNT as usize).div_ceil(phases);
            let mut activated_at = Vec::new();
            for phase in 0..phases {
                let senders: Vec<_> = per_account
                    .iter()
                    .map(|txs| {
                        let rpc = rpc.clone();
                        let part: Vec<_> = txs
                            .iter()
                            .skip(phase * chunk)
                            .take(chunk)
                            .cloned()
                            .collect();
                        tokio::spawn(async move {
                            for raw in part {
                                rpc.send_raw(&raw).await?.map_err(|e| eyre!("{e}"))?;
                            }
                            Ok::<_, eyre::Report>(())
                        })
                    })
                    .collect();
                for s in senders {
                    s.await??;
                }
                if let Some((id, hash)) = swaps.get(phase) {
                    let h = head(&rpc).await?;
                    wait_head(&rpc, h + 2).await?;
                    admin
                        .ok("admin_activatePlugin", json!([{ "id": id }]))
                        .await?;
                    // The block in progress may finish with the old plugin; the one after
                    // it must use the new one.
                    activated_at.push((head(&rpc).await? + 2, hash.clone()));
                }
            }
            // Every transaction lands.
            let p = node.provider(&dev_signer(0));
            let mut last_block = 0;
            for h in &hashes {
                let r = wait_receipt(&p, *h, RECEIPT).await?;
                ensure!(r.status(), "{h} failed");
                last_block = last_block.max(r.block_number.unwrap_or_default());
            }
            let end = wait_head(&rpc, last_block + 2).await?;

            // Blocks contiguous, each linked to its parent, none ordered by a fallback; the
            // ordering plugin changes only between blocks and in activation order.
            let mut runs: Vec<String> = Vec::new();
            let mut parent: Option<B256> = None;
            let mut included = 0usize;
            for n in start + 1..=end {
                let b = rpc
                    .ok("eth_getBlockByNumber", json!([format!("{n:#x}"), false]))
                    .await?;
                ensure!(!b.is_null(), "block {n} missing");
                assert_eq!(parse_quantity(&b["number"])?, n);
                let hash: B256 = serde_json::from_value(b["hash"].clone())?;
                let parent_hash: B256 = serde_json::from_value(b["parentHash"].clone())?;
                if let Some(p) = parent {
                    assert_eq!(parent_hash, p, "block {n} does not link to {}", n - 1);
                }
                parent = Some(hash);
                included += b["transactions"].as_array().map_or(0, Vec::len);
                let prov = provenance(&rpc, n).await?;
                assert_eq!(prov["fallback"], false, "block {n} fell back: {prov}");
                let code = prov["codeHash"]
                    .as_str()
                    .ok_or_else(|| eyre!("block {n} not ordered by a plugin: {prov}"))?
                    .to_string();
                if runs.last() != Some(&code) {
                    runs.push(code);
                }
            }
            assert_eq!(
                included,
                hashes.len(),
                "blocks hold exactly the sent transactions"
            );
            for (n, hash) in &activated_at {
                let p = provenance(&rpc, *n).await?;
                assert_eq!(
                    p["codeHash"].as_str(),
                    Some(hash.as_str()),
                    "block {n} after an activation: {p}"
                );
            }
            assert_eq!(
                runs, expected_runs,
                "provenance runs follow the activations"
            );
            Ok(())
        })
        .await
}

/// A plugin that spins forever: each block still comes, ordered by the native fallback with
/// the reason recorded; after three failures the slot rolls back to the previous plugin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugin_falls_back_then_rolls_back() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let admin = node.admin()?;
            let info = load(
                &admin,
                "ordering",
                &ordo_plugin_host::testing::fixture_path("ordering"),
                "mode=loop arm=1",
            )
            .await?;
            let id = info["id"].as_str().ok_or_else(|| eyre!("no id"))?;
            let hostile_name = info["name"].as_str().unwrap_or("?").to_string();
            let before = head(&rpc).await?;
            admin
                .ok("admin_activatePlugin", json!([{ "id": id }]))
                .await?;
            // Wait until the slot rolled back to priority-fee.
            let deadline = tokio::time::Instant::now() + RECEIPT;
            loop {
                let list = admin.ok("admin_listPlugins", json!([])).await?;
                if active_ordering(&list).as_deref() == Some("priority-fee") {
                    let hostile = loaded(&list, "id", id)?;
                    let failures: u64 = hostile["health"]["failures"]
                        .as_object()
                        .map(|m| m.values().filter_map(Value::as_u64).sum())
                        .unwrap_or_default();
                    assert_eq!(failures, 3, "{hostile}");
                    assert_eq!(hostile["health"]["rollbacks"], 1, "{hostile}");
                    break;
                }
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "no rollback: {list}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let end = wait_head(&rpc, head(&rpc).await? + 2).await?;
            let mut fallbacks = 0;
            for n in before + 1..=end {
                let p = provenance(&rpc, n).await?;
                if p["fallback"] == true {
                    fallbacks += 1;
                    assert_eq!(p["policy"], "native-priority-fee", "{p}");
                    let why = p["fallbackReason"].as_str().unwrap_or_default();
                    assert!(
                        why.contains(&hostile_name),
                        "the reason names the plugin: {why}"
                    );
                }
            }
            assert_eq!(fallbacks, 3, "exactly three blocks fell back");
            assert_eq!(provenance(&rpc, end).await?["policy"], "priority-fee");
            Ok(())
        })
        .await
}

/// The active set and the plugin bytes are persisted: a restart comes back with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_active_plugins() -> Result<()> {
    let mut node = TestNode::dev().await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let admin = node.admin()?;
        let info = load(&admin, "ordering", &round_robin()?, "").await?;
        let id = info["id"]
            .as_str()
            .ok_or_else(|| eyre!("no id"))?
            .to_string();
        admin
            .ok("admin_activatePlugin", json!([{ "id": id }]))
            .await?;
        let list = admin.ok("admin_listPlugins", json!([])).await?;
        assert_eq!(active_ordering(&list).as_deref(), Some("round-robin"));
        node.restart().await?;
        let admin = node.admin()?;
        let again = admin.ok("admin_listPlugins", json!([])).await?;
        assert_eq!(
            again["active"], list["active"],
            "active set changed over restart"
        );
        let rpc = node.rpc();
        let n = wait_head(&rpc, head(&rpc).await? + 1).await?;
        assert_eq!(provenance(&rpc, n).await?["policy"], "round-robin");
        // The previous version is still the rollback target.
        admin
            .ok("admin_rollbackPlugin", json!([{"kind": "ordering"}]))
            .await?;
        let list = admin.ok("admin_listPlugins", json!([])).await?;
        assert_eq!(active_ordering(&list).as_deref(), Some("priority-fee"));
        Ok(())
    })
    .await
}

/// A stored plugin whose bytes were damaged on disk is refused when the node starts, with a
/// log line naming it; its slot falls back (here to the native policy, as every ordering
/// plugin stored is damaged) and the node seals blocks as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_whose_stored_bytes_are_corrupt_is_refused_at_start_and_the_node_runs()
-> Result<()> {
    let mut node = TestNode::dev().await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let admin = node.admin()?;
        let info = load(&admin, "ordering", &round_robin()?, "").await?;
        admin
            .ok("admin_activatePlugin", json!([{ "id": info["id"] }]))
            .await?;
        let list = admin.ok("admin_listPlugins", json!([])).await?;
        let hashes: Vec<alloy::primitives::B256> = list["loaded"]
            .as_array()
            .ok_or_else(|| eyre!("{list}"))?
            .iter()
            .filter(|p| p["kind"] == "ordering")
            .map(|p| serde_json::from_value(p["codeHash"].clone()))
            .collect::<Result<_, _>>()?;
        ensure!(hashes.len() >= 2, "{list}");
        node.stop().await?;
        {
            let storage = ordo_storage::Storage::open(node.datadir().join("db"))?;
            for hash in &hashes {
                storage.put_plugin_wasm(hash, b"\0asm not a component")?;
            }
        }
        node.start_again().await?;
        let text = node.logs().text();
        ensure!(
            text.contains("persisted plugin dropped at restore")
                && text.contains("component bytes do not match their hash"),
            "no log of the refused plugin"
        );
        let admin = node.admin()?;
        let list = admin.ok("admin_listPlugins", json!([])).await?;
        ensure!(active_ordering(&list).is_none(), "{list}");
        let rpc = node.rpc();
        let n = wait_head(&rpc, head(&rpc).await? + 2).await?;
        ensure!(
            provenance(&rpc, n).await?["policy"] == "native-priority-fee",
            "block {n}: {}",
            provenance(&rpc, n).await?
        );
        Ok(())
    })
    .await
}

/// `ordo plugin new` scaffolds a crate that passes its native test and builds to a
/// component; `ordo plugin load --activate` puts it in charge of the next block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaffold_build_and_cli_load() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(Duration::from_secs(900), async {
            let dir = node.root().join("my-policy");
            let out = Command::new(ordo_bin())
                .args(["plugin", "new", "ordering", "my-policy", "--dir"])
                .arg(&dir)
                .output()?;
            ensure!(
                out.status.success(),
                "plugin new: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            // Share the build cache of the shipped plugins when there is one.
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(|t| PathBuf::from(t).join("plugins-native"))
                .unwrap_or_else(|| node.root().join("target"));
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            for args in [
                vec!["test", "--quiet"],
                vec!["build", "--release", "--target", "wasm32-wasip2"],
            ] {
                let out = Command::new(&cargo)
                    .args(&args)
                    .current_dir(&dir)
                    .env("CARGO_TARGET_DIR", &target)
                    .env_remove("RUSTFLAGS")
                    .env_remove("CARGO_ENCODED_RUSTFLAGS")
                    .output()?;
                ensure!(
                    out.status.success(),
                    "cargo {args:?} in the scaffold failed:\n{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let wasm = target.join("wasm32-wasip2/release/my_policy.wasm");
            let out = Command::new(ordo_bin())
                .args(["plugin", "load"])
                .arg(&wasm)
                .args([
                    "--kind",
                    "ordering",
                    "--activate",
                    "--admin-url",
                    &node.admin_url(),
                ])
                .arg("--admin-token-file")
                .arg(node.datadir().join("admin.token"))
                .output()?;
            ensure!(
                out.status.success(),
                "plugin load: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let printed: Value = serde_json::from_slice(&out.stdout)?;
            assert_eq!(printed["name"], "my-policy", "{printed}");
            let rpc = node.rpc();
            let n = wait_head(&rpc, head(&rpc).await? + 1).await?;
            let p = provenance(&rpc, n).await?;
            assert_eq!(p["policy"], "my-policy", "{p}");
            assert_eq!(p["codeHash"], printed["codeHash"]);
            // A wrong token is refused with a clear message.
            let bad = node.root().join("bad.token");
            std::fs::write(&bad, "nope")?;
            let out = Command::new(ordo_bin())
                .args(["plugin", "load"])
                .arg(&wasm)
                .args(["--kind", "ordering", "--admin-url", &node.admin_url()])
                .arg("--admin-token-file")
                .arg(&bad)
                .output()?;
            ensure!(!out.status.success());
            assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
            Ok(())
        })
        .await
}

/// `[[plugins.load]]` in the config file loads (and activates) a plugin at start; an
/// ordering plugin in shadow runs on the same candidates as the active one every block and
/// its comparison shows in `admin_listPlugins`, without ever ordering a block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_load_and_shadow() -> Result<()> {
    let node = TestNode::start(NodeOpts {
        config_toml: Some(format!(
            "[[plugins.load]]\nkind = \"ordering\"\npath = {:?}\nactivate = true\n",
            round_robin()?
        )),
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let admin = node.admin()?;
            let list = admin.ok("admin_listPlugins", json!([])).await?;
            assert_eq!(
                active_ordering(&list).as_deref(),
                Some("round-robin"),
                "{list}"
            );
            let fcfs = loaded_str(&list, "fcfs", "id")?;
            admin
                .ok("admin_shadowPlugin", json!([{ "id": fcfs }]))
                .await?;
            // Traffic from several senders, so both policies have something to order.
            let mut hashes = vec![];
            for a in 0..4 {
                for n in 0..5 {
                    let (raw, h) = sign_raw(
                        &dev_signer(a),
                        transfer_1559(
                            DEV_CHAIN_ID,
                            n,
                            random_address(),
                            U256::from(1),
                            100 * GWEI,
                            GWEI * (a as u128 + 1),
                        ),
                    );
                    rpc.send_raw(&raw).await?.map_err(|e| eyre!("{e}"))?;
                    hashes.push(h);
                }
            }
            let p = node.provider(&dev_signer(0));
            let mut blocks = HashSet::new();
            for h in &hashes {
                let r = wait_receipt(&p, *h, RECEIPT).await?;
                blocks.insert(r.block_number.unwrap_or_default());
            }
            for b in &blocks {
                assert_eq!(
                    provenance(&rpc, *b).await?["policy"],
                    "round-robin",
                    "the shadow never orders"
                );
            }
            let deadline = tokio::time::Instant::now() + RECEIPT;
            let shadow = loop {
                let list = admin.ok("admin_listPlugins", json!([])).await?;
                let shadow = list["shadow"].clone();
                if shadow["shadowTxs"].as_u64().unwrap_or_default() >= hashes.len() as u64 {
                    break shadow;
                }
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "no shadow comparison: {list}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            assert_eq!(shadow["id"], fcfs.as_str());
            assert!(
                shadow["blocksCompared"].as_u64().unwrap_or_default() >= 1,
                "{shadow}"
            );
            assert!(
                shadow["activeTxs"].as_u64().unwrap_or_default() >= hashes.len() as u64,
                "{shadow}"
            );
            assert_ne!(shadow["shadowPriorityFees"], "0", "{shadow}");
            // A null id stops shadowing.
            admin
                .ok("admin_shadowPlugin", json!([{ "id": null }]))
                .await?;
            let list = admin.ok("admin_listPlugins", json!([])).await?;
            assert!(list["shadow"].is_null(), "{list}");
            // Only ordering plugins can shadow.
            let brotli = loaded_str(&list, "brotli", "id")?;
            let err = admin
                .call("admin_shadowPlugin", json!([{ "id": brotli }]))
                .await?
                .err();
            assert!(err.is_some(), "a codec cannot shadow the ordering slot");
            Ok(())
        })
        .await
}

/// An ordering plugin that never orders one sender cannot keep it out: once its
/// transaction has waited the inclusion floor, the host places it after the plugin's order
/// and the block's provenance says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_censoring_policy_cannot_keep_a_sender_out_past_the_inclusion_floor() -> Result<()> {
    let node = TestNode::start(NodeOpts {
        extra_args: vec!["--set".into(), "builder.inclusion_floor_blocks=3".into()],
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let admin = node.admin()?;
            let (censored, other) = (dev_signer(1), dev_signer(2));
            let info = load(
                &admin,
                "ordering",
                &ordo_plugin_host::testing::fixture_path("ordering"),
                &format!("mode=censor name=censor drop={}", censored.address()),
            )
            .await?;
            admin
                .ok("admin_activatePlugin", json!([{ "id": info["id"] }]))
                .await?;
            let start = head(&rpc).await?;
            let mut hashes = Vec::new();
            for signer in [&censored, &other] {
                let provider = node.provider(signer);
                let tx = alloy::rpc::types::TransactionRequest::default()
                    .to(random_address())
                    .value(U256::from(1));
                hashes.push(*provider.send_transaction(tx).await?.tx_hash());
            }
            let provider = node.provider(&other);
            let kept_out = wait_receipt(&provider, hashes[0], RECEIPT).await?;
            let ordered = wait_receipt(&provider, hashes[1], RECEIPT).await?;
            ensure!(kept_out.status() && ordered.status());
            let (late, early) = (
                kept_out.block_number.unwrap_or_default(),
                ordered.block_number.unwrap_or_default(),
            );
            ensure!(
                late > early,
                "the plugin did leave it out first ({late} vs {early})"
            );
            ensure!(
                late > start + 3,
                "placed only once it waited the floor: {late} {start}"
            );
            let p = provenance(&rpc, late).await?;
            ensure!(
                p["policy"] == "fixture-censor" && p["fallback"] == false,
                "{p}"
            );
            ensure!(p["hostPlaced"] == json!([hashes[0]]), "{p}");
            let p = provenance(&rpc, early).await?;
            ensure!(p["hostPlaced"] == json!([]), "{p}");
            Ok(())
        })
        .await
}
