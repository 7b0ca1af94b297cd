//! 3. Contract life cycle: deploy the hand-assembled Store, eth_call, eth_estimateGas,
//!    eth_createAccessList, change storage with a tx, eth_getStorageAt / eth_getCode,
//!    eth_getLogs with the right indices, and WebSocket `logs` and `newHeads` subscriptions.

use alloy::{
    eips::BlockNumberOrTag,
    network::TransactionBuilder,
    primitives::{BloomInput, U256},
    providers::Provider,
    rpc::types::{Filter, TransactionRequest},
};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::{Value, json};
use std::time::Duration;

use crate::{GUARD, RECEIPT};

const SUB_WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_calls_storage_logs_and_subscriptions() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let me = dev_signer(3);
            let p = node.provider(&me);
            let rpc = node.rpc();

            // Deploy.
            let nonce = p.get_transaction_count(me.address()).await?;
            let deploy = TransactionRequest::default().with_deploy_code(store_initcode());
            let dh = *p.send_transaction(deploy).await?.tx_hash();
            let dr = wait_receipt(&p, dh, RECEIPT).await?;
            assert!(dr.status(), "deploy reverted");
            assert_eq!(dr.to, None);
            let addr = dr
                .contract_address
                .ok_or_else(|| eyre!("no contractAddress"))?;
            assert_eq!(addr, me.address().create(nonce));
            assert_eq!(p.get_code_at(addr).await?, store_runtime());
            assert_eq!(
                p.get_storage_at(addr, U256::ZERO).await?,
                U256::from(STORE_INITIAL)
            );

            // eth_call through the ABI, and raw with `data`, with `input`, without a block tag.
            let store = Store::new(addr, p.clone());
            assert_eq!(store.get().call().await?, U256::from(STORE_INITIAL));
            let want = json!(word(STORE_INITIAL));
            let v: Value = rpc
                .ok("eth_call", json!([{"to": addr, "data": "0x"}, "latest"]))
                .await?;
            assert_eq!(v, want);
            let v: Value = rpc
                .ok("eth_call", json!([{"to": addr, "input": "0x"}]))
                .await?;
            assert_eq!(v, want, "eth_call with `input` and no block tag");
            let v: Value = rpc
                .ok(
                    "eth_call",
                    json!([{"from": me.address(), "to": addr, "input": "0x", "data": "0x",
                            "chainId": format!("{DEV_CHAIN_ID:#x}"),
                            "maxPriorityFeePerGas": "0x1"}, "latest"]),
                )
                .await?;
            assert_eq!(v, want, "eth_call with chainId and a tip without a max fee");

            // eth_estimateGas for set(42): more than a transfer, well under the block limit.
            let est = store.set(U256::from(42)).estimate_gas().await?;
            ensure!(est > 21_000 && est < 200_000, "estimateGas = {est}");

            // eth_createAccessList: a result with a gas figure and no error; if it lists
            // anything for the contract, slot 0 is among its keys.
            let req = store.set(U256::from(42)).into_transaction_request();
            let al = p.create_access_list(&req).await?;
            ensure!(al.error.is_none(), "createAccessList error: {:?}", al.error);
            ensure!(
                al.gas_used > U256::from(21_000u64),
                "createAccessList gasUsed"
            );
            for item in al.access_list.0.iter().filter(|i| i.address == addr) {
                ensure!(
                    item.storage_keys.contains(&word(0)),
                    "slot 0 missing: {al:?}"
                );
            }

            // Subscriptions first (the subscribe call returns once the id is known).
            let ws = ws_provider(&node.ws_url()).await?;
            let mut log_sub = ws.subscribe_logs(&Filter::new().address(addr)).await?;
            let mut head_sub = ws.subscribe_blocks().await?;

            // Change storage.
            let sh = *store.set(U256::from(42)).send().await?.tx_hash();
            let sr = wait_receipt(&p, sh, RECEIPT).await?;
            assert!(sr.status(), "set reverted");
            assert_eq!(p.get_storage_at(addr, U256::ZERO).await?, U256::from(42));
            assert_eq!(store.get().call().await?, U256::from(42));
            let bn = sr.block_number.ok_or_else(|| eyre!("no blockNumber"))?;
            let bh = sr.block_hash.ok_or_else(|| eyre!("no blockHash"))?;

            // The receipt's log.
            let logs = sr.logs();
            assert_eq!(logs.len(), 1);
            let log = &logs[0];
            assert_eq!(log.address(), addr);
            assert_eq!(log.topics(), &[set_topic()]);
            assert_eq!(log.data().data.as_ref(), word(42).as_slice());
            assert_eq!(log.transaction_hash, Some(sh));
            assert_eq!(log.block_number, Some(bn));
            assert_eq!(log.block_hash, Some(bh));
            assert_eq!(log.transaction_index, sr.transaction_index);
            assert!(!log.removed);
            let log_index = log.log_index.ok_or_else(|| eyre!("log without logIndex"))?;
            let decoded = sr
                .decoded_log::<Store::Set>()
                .ok_or_else(|| eyre!("log does not decode as Set"))?;
            assert_eq!(decoded.data.value, U256::from(42));
            let bloom = sr.inner.logs_bloom();
            ensure!(
                bloom.contains_input(BloomInput::Raw(addr.as_slice())),
                "bloom: address"
            );
            ensure!(
                bloom.contains_input(BloomInput::Raw(set_topic().as_slice())),
                "bloom: topic"
            );

            // logIndex is the position in the block: consecutive over the block's receipts.
            let receipts = p
                .get_block_receipts(BlockNumberOrTag::Number(bn).into())
                .await?
                .ok_or_else(|| eyre!("no block receipts"))?;
            let mut expected = 0u64;
            for r in &receipts {
                for l in r.logs() {
                    assert_eq!(
                        l.log_index,
                        Some(expected),
                        "logIndex must count across the block"
                    );
                    assert_eq!(l.transaction_index, r.transaction_index);
                    expected += 1;
                }
            }

            // eth_getLogs by range and by block hash.
            let filter = Filter::new()
                .address(addr)
                .event_signature(set_topic())
                .from_block(0u64)
                .to_block(BlockNumberOrTag::Latest);
            let found = p.get_logs(&filter).await?;
            assert_eq!(found.len(), 1, "getLogs: {found:?}");
            assert_eq!(&found[0], log, "getLogs log != receipt log");
            let found = p
                .get_logs(&Filter::new().at_block_hash(bh).address(addr))
                .await?;
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].log_index, Some(log_index));
            let none = p
                .get_logs(
                    &Filter::new()
                        .address(addr)
                        .event_signature(word(1))
                        .from_block(0u64),
                )
                .await?;
            ensure!(none.is_empty(), "topic filter not applied");

            // The WebSocket logs subscription saw the same log.
            let got = tokio::time::timeout(SUB_WAIT, log_sub.recv())
                .await
                .map_err(|_| eyre!("no log on the logs subscription"))??;
            assert_eq!(got.transaction_hash, Some(sh));
            assert_eq!(got.log_index, Some(log_index));
            assert_eq!(got.block_number, Some(bn));
            assert_eq!(got.address(), addr);
            assert_eq!(got.topics(), &[set_topic()]);

            // newHeads: headers arrive, consistent with eth_getBlockByNumber, in order.
            let h1 = tokio::time::timeout(SUB_WAIT, head_sub.recv())
                .await
                .map_err(|_| eyre!("no newHeads"))??;
            let h2 = tokio::time::timeout(SUB_WAIT, head_sub.recv())
                .await
                .map_err(|_| eyre!("no second newHeads"))??;
            ensure!(h2.number > h1.number, "newHeads out of order");
            let b1 = p
                .get_block_by_number(BlockNumberOrTag::Number(h1.number))
                .await?
                .ok_or_else(|| eyre!("head {} not found", h1.number))?;
            assert_eq!(b1.header.hash, h1.hash);
            assert_eq!(
                h1.inner.hash_slow(),
                h1.hash,
                "newHeads header hashes to its hash"
            );
            Ok(())
        })
        .await
}
