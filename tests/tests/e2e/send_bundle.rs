//! `eth_sendBundle` / `eth_cancelBundle` (Flashbots) end to end: bundles built with alloy's
//! `EthSendBundle`, landing whole and in order in their target block or not at all.

use alloy::{
    consensus::TxEip1559,
    primitives::{Address, B256, Bytes, TxKind, U256, keccak256},
    providers::Provider,
    rpc::types::{BlockNumberOrTag, mev::EthSendBundle},
    signers::local::PrivateKeySigner,
};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::{Value, json};

use crate::GUARD;

const MAX_FEE: u128 = 100 * GWEI;
/// Blocks between "now" and a bundle's target: the test's requests must arrive before the
/// builder starts that block (200 ms blocks; a margin, not a timing assertion).
const LEAD: u64 = 4;

fn transfer(signer: &PrivateKeySigner, nonce: u64, to: Address, tip: u128) -> (Bytes, B256) {
    sign_raw(
        signer,
        transfer_1559(DEV_CHAIN_ID, nonce, to, U256::from(1000), MAX_FEE, tip),
    )
}

/// A contract creation whose init code always reverts (PUSH1 0 PUSH1 0 REVERT).
fn reverting_create(signer: &PrivateKeySigner, nonce: u64) -> (Bytes, B256) {
    sign_raw(
        signer,
        TxEip1559 {
            chain_id: DEV_CHAIN_ID,
            nonce,
            gas_limit: 100_000,
            max_fee_per_gas: MAX_FEE,
            max_priority_fee_per_gas: GWEI,
            to: TxKind::Create,
            value: U256::ZERO,
            access_list: Default::default(),
            input: Bytes::from_static(&[0x60, 0x00, 0x60, 0x00, 0xfd]),
        },
    )
}

fn bundle(txs: &[&Bytes], block: u64) -> EthSendBundle {
    EthSendBundle {
        txs: txs.iter().map(|t| (*t).clone()).collect(),
        block_number: block,
        ..Default::default()
    }
}

async fn send(rpc: &Rpc, bundle: &EthSendBundle) -> Result<B256> {
    let res = rpc.ok("eth_sendBundle", json!([bundle])).await?;
    Ok(serde_json::from_value(res["bundleHash"].clone())?)
}

/// The transaction hashes of block `n`, once it exists.
async fn block_txs(node: &TestNode, n: u64) -> Result<Vec<B256>> {
    let provider = node.provider(&dev_signer(0));
    wait_block(&provider, n, GUARD).await?;
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Number(n))
        .await?
        .ok_or_else(|| eyre!("block {n} missing"))?;
    Ok(block.transactions.hashes().collect())
}

async fn nonce(node: &TestNode, who: Address) -> Result<u64> {
    Ok(node
        .provider(&dev_signer(0))
        .get_transaction_count(who)
        .await?)
}

fn concat_hash(hashes: &[B256]) -> B256 {
    let mut buf = Vec::new();
    for h in hashes {
        buf.extend_from_slice(h.as_slice());
    }
    keccak256(&buf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_lands_whole_in_order_in_its_target_block() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let (a, b) = (dev_signer(1), dev_signer(2));
            let sink = random_address();
            // Zero tips: public ordering would never put these first, so order is the bundle's.
            let (r0, h0) = transfer(&a, 0, sink, 0);
            let (r1, h1) = transfer(&b, 0, sink, 0);
            let (r2, h2) = transfer(&a, 1, sink, 0);
            // Public traffic with a high tip in the same block goes after the bundle.
            let (p0, ph0) = transfer(&dev_signer(3), 0, sink, 50 * GWEI);
            let target = rpc.block_number().await? + LEAD;
            let hash = send(&rpc, &bundle(&[&r0, &r1, &r2], target)).await?;
            ensure!(hash == concat_hash(&[h0, h1, h2]), "bundleHash {hash}");
            // Not yet: only in the target block.
            ensure!(nonce(&node, a.address()).await? == 0);
            rpc.send_raw(&p0).await?.map_err(|e| eyre!("{e}"))?;

            let txs = block_txs(&node, target).await?;
            ensure!(
                txs.starts_with(&[h0, h1, h2]),
                "block {target} has {txs:?}, want the bundle first"
            );
            ensure!(nonce(&node, a.address()).await? == 2);
            let public_block = wait_receipt(&node.provider(&dev_signer(0)), ph0, crate::RECEIPT)
                .await?
                .block_number;
            ensure!(public_block.is_some_and(|n| n <= target));
            let stats = rpc.ok("ordo_searcherStats", json!([])).await?;
            let anon = stats
                .as_array()
                .and_then(|s| s.iter().find(|s| s["searcher"] == "anonymous"))
                .ok_or_else(|| eyre!("no anonymous searcher in {stats}"))?;
            ensure!(anon["landed"] == 1, "{anon}");
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reverting_bundle_is_left_out_unless_its_revert_is_allowed() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let (a, c) = (dev_signer(4), dev_signer(5));
            let sink = random_address();
            let (a0, ha0) = transfer(&a, 0, sink, GWEI);
            let (a1, ha1) = reverting_create(&a, 1);
            let (c0, hc0) = transfer(&c, 0, sink, GWEI);
            let (c1, hc1) = reverting_create(&c, 1);
            let target = rpc.block_number().await? + LEAD;
            send(&rpc, &bundle(&[&a0, &a1], target)).await?;
            let mut allowed = bundle(&[&c0, &c1], target);
            allowed.reverting_tx_hashes = vec![hc1];
            send(&rpc, &allowed).await?;

            let txs = block_txs(&node, target).await?;
            ensure!(!txs.contains(&ha0) && !txs.contains(&ha1), "{txs:?}");
            ensure!(
                nonce(&node, a.address()).await? == 0,
                "a's transfer was rolled back"
            );
            let pos = txs.iter().position(|h| *h == hc0);
            ensure!(
                pos.is_some() && txs.get(pos.unwrap_or(0) + 1) == Some(&hc1),
                "{txs:?}"
            );
            let receipt = wait_receipt(&node.provider(&c), hc1, crate::RECEIPT).await?;
            ensure!(
                !receipt.status(),
                "the allowed revert is included as a failed tx"
            );
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_and_cancel_by_uuid_and_past_blocks_are_refused() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let (a, b) = (dev_signer(6), dev_signer(7));
            let (first, second) = (random_address(), random_address());
            let (old, h_old) = transfer(&a, 0, first, GWEI);
            let (new, h_new) = transfer(&a, 0, second, GWEI);
            let (gone, h_gone) = transfer(&b, 0, first, GWEI);
            let head = rpc.block_number().await?;
            let target = head + LEAD;

            // A bundle for a block that is already sealed.
            let err = rpc
                .call("eth_sendBundle", json!([bundle(&[&old], head)]))
                .await?
                .err()
                .ok_or_else(|| eyre!("a past block was accepted"))?;
            ensure!(
                err.code == -32000 && err.message.contains("not after the head"),
                "{err}"
            );
            // Garbage and wrong-chain transactions are refused like eth_sendRawTransaction's.
            let err = rpc
                .call(
                    "eth_sendBundle",
                    json!([{"txs": ["0x02zz"], "blockNumber": format!("{:#x}", target)}]),
                )
                .await?
                .err()
                .ok_or_else(|| eyre!("garbage accepted"))?;
            ensure!(err.code == -32602, "{err}");
            let (wrong_chain, _) = sign_raw(
                &a,
                transfer_1559(DEV_CHAIN_ID + 1, 0, first, U256::from(1), MAX_FEE, GWEI),
            );
            let err = rpc
                .call("eth_sendBundle", json!([bundle(&[&wrong_chain], target)]))
                .await?
                .err()
                .ok_or_else(|| eyre!("wrong chain accepted"))?;
            ensure!(err.message.contains("chain id"), "{err}");

            // Naming a bundle needs a signature: unsigned callers cannot be told apart.
            let searcher = PrivateKeySigner::random();
            let mut replaced = bundle(&[&old], target);
            replaced.replacement_uuid = Some("9b2f8a36-2a4e-4c64-9b57-1f0d7a5a1e01".into());
            let err = rpc
                .call("eth_sendBundle", json!([replaced]))
                .await?
                .err()
                .ok_or_else(|| eyre!("an unsigned uuid was accepted"))?;
            ensure!(
                err.code == -32602 && err.message.contains("Signature"),
                "{err}"
            );
            let signed = |method: &'static str, params: Value| {
                let (rpc, searcher) = (rpc.clone(), searcher.clone());
                async move {
                    rpc.call_signed(&searcher, method, params)
                        .await?
                        .map_err(|e| eyre!("{method}: {e}"))
                }
            };
            signed("eth_sendBundle", json!([replaced])).await?;
            let mut replacement = bundle(&[&new], target);
            replacement.replacement_uuid = replaced.replacement_uuid.clone();
            signed("eth_sendBundle", json!([replacement])).await?;

            let mut cancelled = bundle(&[&gone], target);
            cancelled.replacement_uuid = Some("4a0c8b52-77f4-4f3c-8d7e-0c7e8e0f9a11".into());
            signed("eth_sendBundle", json!([cancelled])).await?;
            let uuid = json!([{"replacementUuid": cancelled.replacement_uuid}]);
            // Someone else's cancel does nothing to it.
            rpc.call_signed(
                &PrivateKeySigner::random(),
                "eth_cancelBundle",
                uuid.clone(),
            )
            .await?
            .map_err(|e| eyre!("{e}"))?;
            let res = signed("eth_cancelBundle", uuid).await?;
            ensure!(res == Value::Null, "{res}");
            // Too far ahead: refused rather than holding a slot for hours.
            let err = rpc
                .call("eth_sendBundle", json!([bundle(&[&gone], head + 10_000)]))
                .await?
                .err()
                .ok_or_else(|| eyre!("a far-future bundle was accepted"))?;
            ensure!(err.message.contains("ahead of the head"), "{err}");

            let txs = block_txs(&node, target).await?;
            ensure!(txs.contains(&h_new), "the replacement landed: {txs:?}");
            ensure!(!txs.contains(&h_old) && !txs.contains(&h_gone), "{txs:?}");
            // A few blocks later nothing else of theirs appeared either.
            block_txs(&node, target + 2).await?;
            ensure!(nonce(&node, b.address()).await? == 0);
            ensure!(nonce(&node, a.address()).await? == 1);
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_conflicting_bundles_the_higher_bid_wins_and_stats_follow_the_signer() -> Result<()>
{
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let a = dev_signer(8);
            let (low_searcher, high_searcher) = (PrivateKeySigner::random(), PrivateKeySigner::random());
            // Both spend a's nonce 0: only one can land. Bids are tips (per gas).
            let (low, h_low) = transfer(&a, 0, random_address(), GWEI);
            let (high, h_high) = transfer(&a, 0, random_address(), 20 * GWEI);
            let target = rpc.block_number().await? + LEAD;
            // The lower bid arrives first.
            for (searcher, raw) in [(&low_searcher, &low), (&high_searcher, &high)] {
                rpc.call_signed(searcher, "eth_sendBundle", json!([bundle(&[raw], target)]))
                    .await?
                    .map_err(|e| eyre!("{e}"))?;
            }
            let txs = block_txs(&node, target).await?;
            ensure!(txs.contains(&h_high) && !txs.contains(&h_low), "{txs:?}");

            let stats = rpc.ok("ordo_searcherStats", json!([])).await?;
            let find = |who: Address| -> Result<Value> {
                stats
                    .as_array()
                    .and_then(|s| s.iter().find(|s| s["searcher"] == who.to_string()))
                    .cloned()
                    .ok_or_else(|| eyre!("{who} missing from {stats}"))
            };
            let (l, h) = (find(low_searcher.address())?, find(high_searcher.address())?);
            ensure!(h["landed"] == 1 && h["proposed"] == 1, "{h}");
            ensure!(l["landed"] == 0 && l["dropped"]["conflict"] == 1, "{l}");
            // The winner's bid: 21000 gas at its 20 gwei tip.
            ensure!(h["bidsPaid"] == (21_000u128 * 20 * GWEI).to_string(), "{h}");
            // A bad signature header is refused before anything is dispatched.
            let (status, body) = {
                let client = reqwest::Client::new();
                let resp = client
                    .post(node.http_url())
                    .header("content-type", "application/json")
                    .header("x-flashbots-signature", format!("{}:0x1234", a.address()))
                    .body(json!({"jsonrpc":"2.0","id":1,"method":"eth_sendBundle","params":[bundle(&[&low], target + 10)]}).to_string())
                    .send()
                    .await?;
                (resp.status(), resp.text().await?)
            };
            ensure!(status == 200 && body.contains("-32600"), "{status} {body}");
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_bundle_survives_a_crash_and_lands_after_it() -> Result<()> {
    let mut node = TestNode::dev().await?;
    let a = dev_signer(1);
    let (raw, hash) = transfer(&a, 0, random_address(), GWEI);
    // Far enough ahead that the node is back before the target block.
    let target = node.rpc().block_number().await? + 40;
    send(&node.rpc(), &bundle(&[&raw], target)).await?;
    node.kill();
    node.start_again().await?;
    node.logs()
        .guard(GUARD, async {
            let head = node.rpc().block_number().await?;
            ensure!(
                head < target,
                "the node came back after the target block ({head})"
            );
            let txs = block_txs(&node, target).await?;
            ensure!(txs.first() == Some(&hash), "block {target}: {txs:?}");
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_searcher_whose_bundles_keep_failing_is_rate_limited_not_the_block() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let (spammer, honest) = (PrivateKeySigner::random(), PrivateKeySigner::random());
            let a = dev_signer(2);
            let target = rpc.block_number().await? + LEAD;
            // 20 bundles that cannot succeed (a reverting create, then nonces that do not
            // exist), 10 for each of two blocks: a block simulates at most 8 per searcher.
            for n in 0..20 {
                let (raw, _) = reverting_create(&a, n);
                let block = target + n / 10;
                rpc.call_signed(&spammer, "eth_sendBundle", json!([bundle(&[&raw], block)]))
                    .await?
                    .map_err(|e| eyre!("bundle {n}: {e}"))?;
            }
            let (ok, ok_hash) = transfer(&dev_signer(3), 0, random_address(), GWEI);
            rpc.call_signed(&honest, "eth_sendBundle", json!([bundle(&[&ok], target)]))
                .await?
                .map_err(|e| eyre!("{e}"))?;
            let txs = block_txs(&node, target).await?;
            ensure!(txs.contains(&ok_hash), "the honest bundle landed: {txs:?}");
            block_txs(&node, target + 1).await?;
            ensure!(nonce(&node, a.address()).await? == 0);

            let (next, _) = transfer(&a, 0, random_address(), GWEI);
            let err = rpc
                .call_signed(
                    &spammer,
                    "eth_sendBundle",
                    json!([bundle(&[&next], target + LEAD)]),
                )
                .await?
                .err()
                .ok_or_else(|| eyre!("the spammer was not limited"))?;
            ensure!(
                err.code == -32005 && err.message.contains("rate limited"),
                "{err}"
            );
            let stats = rpc
                .ok("ordo_searcherStats", json!([spammer.address().to_string()]))
                .await?;
            let s = &stats[0];
            ensure!(s["rateLimited"] == true && s["landed"] == 0, "{stats}");
            let failed = s["dropped"]["simulation"].as_u64().unwrap_or(0);
            // The rest were never simulated: over the per-block share, or already limited.
            let skipped = s["dropped"]["block_limit"].as_u64().unwrap_or(0)
                + s["dropped"]["rate_limited"].as_u64().unwrap_or(0);
            ensure!(failed == 16 && skipped == 4, "{stats}");
            Ok(())
        })
        .await
}
