//! The `examples/searcher-backrun` searcher plugin end to end: deploy the example's AMM on a
//! dev node, load the searcher through the admin API, let a user swap move one pool's price,
//! and watch the searcher's backrun land right behind it with its bid paid to the coinbase.

use std::path::PathBuf;

use alloy::{
    consensus::Transaction as _,
    network::{TransactionBuilder, TransactionResponse},
    primitives::{Address, Bytes, U256},
    providers::Provider,
    rpc::types::{BlockNumberOrTag, TransactionRequest},
};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::json;

use crate::{GUARD, RECEIPT};

/// The AMM's creation bytecode, as committed with the example.
const AMM_BIN: &str = include_str!("../../../examples/searcher-backrun/contracts/Amm.bin");
/// `swap(uint256,bool,uint256,uint256)`.
const SWAP: [u8; 4] = [0x7a, 0x9d, 0x1a, 0xc4];
/// `arb(uint256,uint256,bool,uint256,uint256)`.
const ARB: [u8; 4] = [0x10, 0x05, 0x03, 0xc3];
/// The dev node's fee recipient.
const COINBASE: Address = Address::repeat_byte(0x42);
/// The example's default bid (`bid_wei`).
const BID: u128 = 1_000_000_000_000_000;

fn backrun() -> Result<PathBuf> {
    ordo_plugin_host::testing::SEARCHER_BACKRUN_EXAMPLE
        .map(PathBuf::from)
        .ok_or_else(|| eyre!("examples/searcher-backrun was not built"))
}

fn word(v: U256) -> [u8; 32] {
    v.to_be_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backrun_example_lands_right_after_the_swap_and_pays_its_bid() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let user = dev_signer(0);
            let searcher = dev_signer(9);
            let provider = node.provider(&user);
            let rpc = node.rpc();

            let code = alloy::primitives::hex::decode(AMM_BIN.trim())?;
            let deploy = TransactionRequest::default().with_deploy_code(Bytes::from(code));
            let receipt = provider
                .send_transaction(deploy)
                .await?
                .get_receipt()
                .await?;
            ensure!(receipt.status(), "AMM deployment failed");
            let amm = receipt
                .contract_address
                .ok_or_else(|| eyre!("no contract address"))?;

            let admin = node.admin()?;
            let config = format!(
                "key={}; amm={amm}; chain_id={DEV_CHAIN_ID}",
                alloy::primitives::hex::encode_prefixed(searcher.to_bytes())
            );
            let info = admin
                .ok(
                    "admin_loadPlugin",
                    json!([{"kind": "searcher", "path": backrun()?, "config": config}]),
                )
                .await?;
            ensure!(info["name"] == "backrun", "{info}");
            admin
                .ok("admin_activatePlugin", json!([{"id": info["id"]}]))
                .await?;
            let list = admin.ok("admin_listPlugins", json!([])).await?;
            ensure!(
                list["activeSearchers"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|s| s["name"] == "backrun")),
                "{list}"
            );

            // 10% of pool 0's X reserve into pool 0: its price now differs from pool 1's.
            let amount_in = U256::from(100_000u64) * U256::from(ETHER);
            let mut data = SWAP.to_vec();
            for w in [U256::ZERO, U256::from(1), amount_in, U256::ZERO] {
                data.extend_from_slice(&word(w));
            }
            let swap = TransactionRequest::default()
                .with_to(amm)
                .with_input(Bytes::from(data))
                .with_gas_limit(200_000);
            let hash = *provider.send_transaction(swap).await?.tx_hash();
            let receipt = wait_receipt(&provider, hash, RECEIPT).await?;
            ensure!(receipt.status(), "the user's swap failed");
            let number = receipt.block_number.ok_or_else(|| eyre!("no block"))?;
            let index = receipt.transaction_index.ok_or_else(|| eyre!("no index"))? as usize;

            let block = provider
                .get_block_by_number(BlockNumberOrTag::Number(number))
                .full()
                .await?
                .ok_or_else(|| eyre!("block {number} missing"))?;
            let txs: Vec<_> = block.transactions.txns().cloned().collect();
            let arb = txs
                .get(index + 1)
                .ok_or_else(|| eyre!("nothing after the swap in block {number}"))?;
            ensure!(
                arb.from() == searcher.address(),
                "right after the swap: {arb:?}"
            );
            ensure!(
                arb.to() == Some(amm) && arb.input().starts_with(&ARB),
                "{arb:?}"
            );
            ensure!(arb.value() == U256::from(BID));
            let arb_receipt = wait_receipt(&provider, arb.tx_hash(), RECEIPT).await?;
            ensure!(arb_receipt.status(), "the backrun reverted");

            // The coinbase gained every tip of the block plus the bid.
            let base_fee = block.header.base_fee_per_gas.unwrap_or_default() as u128;
            let mut tips = U256::ZERO;
            for tx in &txs {
                let r = wait_receipt(&provider, tx.tx_hash(), RECEIPT).await?;
                tips += U256::from(r.gas_used as u128 * (r.effective_gas_price - base_fee));
            }
            let before = provider.get_balance(COINBASE).number(number - 1).await?;
            let after = provider.get_balance(COINBASE).number(number).await?;
            ensure!(
                after - before == tips + U256::from(BID),
                "coinbase gained {} (tips {tips}, bid {BID})",
                after - before
            );

            let stats = rpc
                .ok("ordo_searcherStats", json!(["plugin:backrun"]))
                .await?;
            let s = &stats[0];
            ensure!(
                s["searcher"] == "plugin:backrun" && s["landed"] == 1,
                "{stats}"
            );
            // No tip: what it paid the coinbase is exactly its bid.
            ensure!(s["bidsPaid"] == BID.to_string(), "{stats}");

            // The same counters on the admin listener's Prometheus endpoint.
            let metrics = node.metrics_text().await?;
            for line in [
                "ordo_searcher_bundles_landed_total{searcher=\"plugin:backrun\"} 1",
                &format!("ordo_searcher_bids_paid_wei_total{{searcher=\"plugin:backrun\"}} {BID}"),
                "# TYPE ordo_searcher_bundles_dropped_total counter",
            ] {
                ensure!(
                    metrics.lines().any(|l| l == line),
                    "{line:?} missing from:\n{metrics}"
                );
            }
            Ok(())
        })
        .await
}
