//! The tooling surface besides tracing (issue 18), on a real `ordo dev`:
//! - the txpool namespace in geth's shapes, with pending, queued and replaced transactions.

use alloy::primitives::{Address, B256, U256};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::{Value, json};

use crate::{GUARD, RECEIPT};

/// Slows blocks to one in 10 s and waits out the slot already scheduled: what is sent next
/// stays in the pool for that long (ample for a few calls; the slot after it comes at most
/// that late once blocks are fast again).
async fn hold_blocks(node: &TestNode) -> Result<()> {
    node.admin()?
        .ok("admin_setBlockParams", json!([{"blockTimeMs": 10_000}]))
        .await?;
    let head = node.rpc().block_number().await?;
    wait_block(&node.provider(&dev_signer(0)), head + 1, RECEIPT).await?;
    Ok(())
}

/// A signed transfer of 1 wei to `to` from `signer` at `nonce`, paying `max_fee` (a tenth of
/// it as the tip, so a higher fee replaces).
async fn send(
    rpc: &Rpc,
    signer: &alloy::signers::local::PrivateKeySigner,
    nonce: u64,
    to: Address,
    max_fee: u128,
) -> Result<B256> {
    let (raw, hash) = sign_raw(
        signer,
        transfer_1559(
            DEV_CHAIN_ID,
            nonce,
            to,
            U256::from(1),
            max_fee,
            max_fee / 10,
        ),
    );
    rpc.send_raw(&raw)
        .await?
        .map_err(|e| eyre!("nonce {nonce}: {e:?}"))?;
    Ok(hash)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txpool_content_and_inspect_show_pending_queued_and_replaced_as_geth_does() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            hold_blocks(&node).await?;
            let me = dev_signer(4);
            let to = random_address();
            let first = send(&rpc, &me, 0, to, 10 * GWEI).await?;
            let replaced = send(&rpc, &me, 1, to, 10 * GWEI).await?;
            // The same nonce at a higher fee replaces it; a gap parks the last one.
            let second = send(&rpc, &me, 1, to, 20 * GWEI).await?;
            let gapped = send(&rpc, &me, 5, to, 10 * GWEI).await?;

            let status = rpc.ok("txpool_status", json!([])).await?;
            ensure!(
                status == json!({"pending": "0x2", "queued": "0x1"}),
                "{status}"
            );
            let content = rpc.ok("txpool_content", json!([])).await?;
            let key = |v: &Value| -> Option<Value> {
                v.as_object()?
                    .iter()
                    .find(|(k, _)| k.parse::<Address>().ok() == Some(me.address()))
                    .map(|(_, v)| v.clone())
            };
            let pending = key(&content["pending"]).ok_or_else(|| eyre!("{content}"))?;
            let queued = key(&content["queued"]).ok_or_else(|| eyre!("{content}"))?;
            ensure!(
                pending["0"]["hash"] == json!(first)
                    && pending["1"]["hash"] == json!(second)
                    && pending.as_object().map(|m| m.len()) == Some(2),
                "pending: {pending}"
            );
            ensure!(
                !content.to_string().contains(&format!("{replaced:#x}")),
                "the replaced transaction is still shown"
            );
            ensure!(
                queued["5"]["hash"] == json!(gapped)
                    && queued["5"]["blockHash"].is_null()
                    && queued["5"]["nonce"] == "0x5"
                    && queued["5"]["from"] == json!(me.address()),
                "queued: {queued}"
            );
            let from = rpc.ok("txpool_contentFrom", json!([me.address()])).await?;
            ensure!(
                from["pending"] == pending && from["queued"] == queued,
                "contentFrom: {from}"
            );
            let nobody = rpc
                .ok("txpool_contentFrom", json!([random_address()]))
                .await?;
            ensure!(nobody == json!({"pending": {}, "queued": {}}), "{nobody}");
            // geth's one-line summaries: "to: value wei + gas gas × price wei".
            let inspect = rpc.ok("txpool_inspect", json!([])).await?;
            let lines = key(&inspect["pending"]).ok_or_else(|| eyre!("{inspect}"))?;
            ensure!(
                lines["1"]
                    == json!(format!(
                        "{}: 1 wei + 21000 gas × {} wei",
                        to.to_checksum(None),
                        20 * GWEI
                    )),
                "inspect: {inspect}"
            );
            let bad = rpc.call("txpool_contentFrom", json!(["0x12"])).await?;
            ensure!(
                bad.as_ref().err().is_some_and(|e| e.code == -32602),
                "{bad:?}"
            );

            // Once blocks run again the pending ones are included; the gapped one waits.
            node.admin()?
                .ok("admin_setBlockParams", json!([{"blockTimeMs": 200}]))
                .await?;
            wait_receipt(&node.provider(&me), second, RECEIPT).await?;
            let status = rpc.ok("txpool_status", json!([])).await?;
            ensure!(
                status == json!({"pending": "0x0", "queued": "0x1"}),
                "{status}"
            );
            Ok(())
        })
        .await
}
