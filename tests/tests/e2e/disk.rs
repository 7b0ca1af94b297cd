//! Disk full, on a datadir that is a small tmpfs of its own (mounting it needs root, as CI
//! runs):
//! 1. Under the free-space reserve (`min_free_disk_mb`): transactions are refused with
//!    -32000 "storage unavailable: disk full ...", no block is sealed, `/ready` says why; an
//!    acknowledged transaction waiting in the pool stays; once space returns the node takes
//!    transactions and seals again by itself, and includes what it acknowledged.
//! 2. Without a reserve, the disk runs out under a write: the node refuses with -32000
//!    "storage unavailable" and never acknowledges what it did not persist; restarted once
//!    space is back, every transaction it acknowledged (before and during) is in the chain.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use alloy::primitives::{B256, Bytes, U256};
use eyre::{Result, WrapErr, bail, ensure};
use ordo_tests::*;
use serde_json::json;

use crate::GUARD;

const TMPFS_MB: u64 = 256;
const RESERVE_MB: u64 = 64;

/// A tmpfs mounted for the test, unmounted when dropped (after the node is gone).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(mb: u64) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("ordo-disk-").tempdir()?;
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .wrap_err("running mount")?;
        ensure!(
            status.success(),
            "mounting a {mb} MiB tmpfs failed ({status}): this test needs root, as CI has"
        );
        Ok(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn free_bytes(&self) -> Result<u64> {
        let out = std::process::Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(self.path())
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .lines()
            .nth(1)
            .ok_or_else(|| eyre::eyre!("df: {text}"))?
            .trim()
            .parse()?)
    }

    /// Writes a filler file until only `leave` bytes are free (0: until the disk is full).
    fn fill(&self, leave: u64) -> Result<PathBuf> {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path)?;
        let chunk = vec![0xa5u8; 1 << 20];
        loop {
            let free = self.free_bytes()?;
            if free <= leave {
                break;
            }
            let n = (free - leave).min(chunk.len() as u64) as usize;
            match file.write_all(&chunk[..n]) {
                Ok(()) => {}
                Err(e) if leave == 0 => {
                    // ENOSPC: full, as asked.
                    let _ = e;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
            file.flush()?;
        }
        Ok(path)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn is_storage_unavailable(e: &RpcError) -> bool {
    e.code == -32000 && e.message.starts_with("storage unavailable")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_refuses_and_pauses_then_resumes_and_loses_nothing() -> Result<()> {
    let disk = Tmpfs::mount(TMPFS_MB)?;
    let mut node = TestNode::start(NodeOpts {
        datadir: Some(disk.path().join("data")),
        config_toml: Some(format!("min_free_disk_mb = {RESERVE_MB}\n")),
        ..NodeOpts::default()
    })
    .await?;
    let logs = node.logs();
    logs.guard(GUARD * 2, async {
        let rpc = node.rpc();
        let provider = node.provider(&dev_signer(0));
        let signer = dev_signer(0);
        let mut acked: Vec<B256> = Vec::new();
        let sign = |nonce: u64| -> (Bytes, B256) {
            sign_raw(
                &signer,
                transfer_1559(
                    DEV_CHAIN_ID,
                    nonce,
                    random_address(),
                    U256::from(1),
                    50 * GWEI,
                    GWEI,
                ),
            )
        };
        let send = |raw: Bytes| {
            let rpc = rpc.clone();
            async move { rpc.call("eth_sendRawTransaction", json!([raw])).await }
        };

        // Before: accepted and sealed.
        let (raw, hash) = sign(0);
        send(raw).await??;
        acked.push(hash);
        wait_receipt(&provider, hash, GUARD).await?;
        // Acknowledged, waiting in the pool behind a nonce gap while the disk fills.
        let (queued_raw, queued) = sign(2);
        send(queued_raw).await??;
        acked.push(queued);

        // Phase 1: the free space drops under the reserve.
        let filler = disk.fill((RESERVE_MB / 2) << 20)?;
        let (gap_raw, gap) = sign(1);
        let refused = send(gap_raw.clone()).await?;
        match &refused {
            Err(e) if is_storage_unavailable(e) && e.message.contains("disk full") => {}
            other => bail!("under the reserve, a send answered {other:?}"),
        }
        // The builder waits instead of sealing: the head holds still for several slots.
        let head =
            |rpc: Rpc| async move { parse_quantity(&rpc.ok("eth_blockNumber", json!([])).await?) };
        tokio::time::sleep(Duration::from_millis(4 * TEST_BLOCK_TIME_MS)).await;
        let paused_at = head(rpc.clone()).await?;
        tokio::time::sleep(Duration::from_millis(6 * TEST_BLOCK_TIME_MS)).await;
        ensure!(
            head(rpc.clone()).await? == paused_at,
            "blocks went on under the reserve"
        );
        let ready = reqwest::get(format!("{}ready", node.http_url())).await?;
        ensure!(
            ready.status() == 503,
            "/ready while short: {}",
            ready.status()
        );
        let body = ready.text().await?;
        ensure!(body.contains("storage unavailable"), "/ready: {body}");
        ensure!(
            logs.text().contains("datadir short of space"),
            "no log of the pause"
        );

        // Space returns: the node takes the refused transaction, seals again, and includes
        // the one it held.
        std::fs::remove_file(&filler)?;
        send(gap_raw).await??;
        acked.push(gap);
        for h in &acked {
            wait_receipt(&provider, *h, GUARD).await?;
        }
        ensure!(
            logs.text().contains("blocks resume"),
            "no log of the resume"
        );

        // Phase 2: no reserve; the disk runs out under the node's own writes.
        node.stop().await?;
        node.opts_mut().config_toml = Some("min_free_disk_mb = 0\n".into());
        node.start_again().await?;
        let rpc = node.rpc();
        let send = |raw: Bytes| {
            let rpc = rpc.clone();
            async move { rpc.call("eth_sendRawTransaction", json!([raw])).await }
        };
        let filler = disk.fill(0)?;
        let mut refusals = 0;
        for nonce in 3..200 {
            let (raw, hash) = sign(nonce);
            match send(raw).await? {
                Ok(_) => acked.push(hash),
                // Whichever write meets the full disk first: the send's own (refused as
                // storage unavailable), or a block's commit (the builder halts on a storage
                // failure, and sends are refused as halted, with the cause).
                Err(e)
                    if is_storage_unavailable(&e)
                        || (e.code == -32000
                            && e.message.starts_with("sequencer halted: storage failed")) =>
                {
                    refusals += 1;
                    break;
                }
                Err(e) => bail!("on a full disk, a send answered {e}"),
            }
        }
        ensure!(refusals == 1, "a full disk never refused a transaction");

        // Space returns; a restart (fjall refuses every write after one failed) finds every
        // acknowledged transaction and includes it.
        std::fs::remove_file(&filler)?;
        node.kill();
        node.start_again().await?;
        let provider = node.provider(&dev_signer(0));
        for h in &acked {
            wait_receipt(&provider, *h, GUARD).await?;
        }
        Ok(())
    })
    .await?;
    node.kill();
    drop(disk);
    Ok(())
}
