//! 1. A signed EIP-1559 transfer through alloy: receipt, balances, nonce, the tx object's
//!    fields, the block with full txs, block receipts, eth_feeHistory.

use alloy::{
    consensus::TxType, eips::BlockNumberOrTag, eips::Typed2718, network::TransactionBuilder,
    primitives::U256, providers::Provider, rpc::types::TransactionRequest,
};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::{Value, json};

use crate::{GUARD, RECEIPT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eip1559_transfer() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let alice = dev_signer(0);
            let p = node.provider(&alice);
            let rpc = node.rpc();
            assert_eq!(p.get_chain_id().await?, DEV_CHAIN_ID);
            assert_eq!(p.get_balance(alice.address()).await?, DEV_BALANCE);

            let bob = random_address();
            let value = U256::from(ETHER);
            let nonce0 = p.get_transaction_count(alice.address()).await?;
            assert_eq!(nonce0, 0);
            let before = p.get_balance(alice.address()).await?;

            // alloy fills nonce, chain id, gas and EIP-1559 fees from the node.
            let req = TransactionRequest::default().with_to(bob).with_value(value);
            let hash = *p.send_transaction(req).await?.tx_hash();
            let r = wait_receipt(&p, hash, RECEIPT).await?;

            // Receipt.
            assert!(r.status(), "transfer reverted: {r:?}");
            assert_eq!(r.transaction_hash, hash);
            assert_eq!(r.from, alice.address());
            assert_eq!(r.to, Some(bob));
            assert_eq!(r.gas_used, 21_000);
            assert_eq!(r.contract_address, None);
            assert!(r.logs().is_empty());
            assert_eq!(r.transaction_type(), TxType::Eip1559);
            let bn = r
                .block_number
                .ok_or_else(|| eyre!("receipt without blockNumber"))?;
            let bh = r
                .block_hash
                .ok_or_else(|| eyre!("receipt without blockHash"))?;
            let index = r
                .transaction_index
                .ok_or_else(|| eyre!("receipt without index"))?;
            ensure!(bn >= 1, "tx in genesis?");
            ensure!(
                r.effective_gas_price >= GWEI,
                "effective gas price below min base fee"
            );

            // Balances (latest state only: alice sends nothing else, so no historical state
            // is needed): bob got the value, alice paid value + gas_used * effective price.
            assert_eq!(p.get_balance(bob).await?, value);
            let after = p.get_balance(alice.address()).await?;
            assert_eq!(
                before - after,
                value + U256::from(r.gas_used) * U256::from(r.effective_gas_price),
                "sender debit != value + gas"
            );

            // Nonce (latest and pending).
            assert_eq!(p.get_transaction_count(alice.address()).await?, 1);
            assert_eq!(p.get_transaction_count(alice.address()).pending().await?, 1);

            // The transaction object, as JSON: geth's field set.
            let tx: Value = rpc.ok("eth_getTransactionByHash", json!([hash])).await?;
            for f in [
                "type",
                "chainId",
                "yParity",
                "v",
                "r",
                "s",
                "accessList",
                "blockHash",
                "blockNumber",
                "transactionIndex",
                "from",
                "to",
                "value",
                "gas",
                "gasPrice",
                "maxFeePerGas",
                "maxPriorityFeePerGas",
                "input",
                "nonce",
                "hash",
            ] {
                ensure!(
                    tx.get(f).is_some(),
                    "eth_getTransactionByHash lacks {f}: {tx}"
                );
            }
            assert_eq!(tx["type"], "0x2");
            assert_eq!(tx["chainId"], format!("{DEV_CHAIN_ID:#x}"));
            assert_eq!(tx["accessList"], json!([]));
            assert_eq!(tx["blockHash"], json!(bh));
            assert_eq!(tx["blockNumber"], format!("{bn:#x}"));
            assert_eq!(tx["transactionIndex"], format!("{index:#x}"));
            assert_eq!(tx["hash"], json!(hash));
            assert_eq!(tx["nonce"], "0x0");
            assert_eq!(tx["value"], json!(value));
            assert_eq!(tx["from"], json!(alice.address()));
            assert_eq!(tx["to"], json!(bob));
            // The gas limit alloy's filler chose (from eth_estimateGas).
            let t_gas = parse_quantity(&tx["gas"])?;
            ensure!(t_gas >= 21_000, "gas {t_gas}");
            ensure!(
                tx["yParity"] == "0x0" || tx["yParity"] == "0x1",
                "yParity: {tx}"
            );
            assert_eq!(tx["v"], tx["yParity"], "typed txs: v == yParity (geth)");
            // Effective gas price of a mined 1559 tx.
            assert_eq!(tx["gasPrice"], json!(U256::from(r.effective_gas_price)));

            // The same through alloy's types; the signer recovers to alice.
            let t = p
                .get_transaction_by_hash(hash)
                .await?
                .ok_or_else(|| eyre!("eth_getTransactionByHash returned null"))?;
            assert_eq!(t.inner.signer(), alice.address());
            assert_eq!(t.block_hash, Some(bh));
            assert_eq!(t.block_number, Some(bn));
            assert_eq!(t.inner.ty(), 2);
            {
                use alloy::consensus::Transaction as _;
                assert_eq!(t.inner.gas_limit(), t_gas);
                assert_eq!(t.inner.nonce(), 0);
                assert_eq!(t.inner.chain_id(), Some(DEV_CHAIN_ID));
            }

            // By block and index.
            let by_index: Value = rpc
                .ok(
                    "eth_getTransactionByBlockNumberAndIndex",
                    json!([format!("{bn:#x}"), format!("{index:#x}")]),
                )
                .await?;
            assert_eq!(by_index["hash"], json!(hash));

            // The block with full transactions.
            let block = p
                .get_block_by_number(BlockNumberOrTag::Number(bn))
                .full()
                .await?
                .ok_or_else(|| eyre!("block {bn} not found"))?;
            assert_eq!(block.header.number, bn);
            assert_eq!(block.header.hash, bh);
            assert_eq!(
                block.header.inner.hash_slow(),
                bh,
                "block hash must be keccak256(rlp(header)) of the returned header"
            );
            let txs = block
                .transactions
                .as_transactions()
                .ok_or_else(|| eyre!("full block without full txs"))?;
            let ours = txs
                .iter()
                .find(|t| *t.inner.tx_hash() == hash)
                .ok_or_else(|| eyre!("tx not in its block"))?;
            assert_eq!(ours.transaction_index, Some(index));
            ensure!(block.header.gas_used >= 21_000);
            let base_fee = block
                .header
                .base_fee_per_gas
                .ok_or_else(|| eyre!("no base fee"))?;
            ensure!(u128::from(base_fee) >= GWEI, "base fee {base_fee} < 1 gwei");
            ensure!(block.header.gas_limit > 0);
            let parent = p
                .get_block_by_number(BlockNumberOrTag::Number(bn - 1))
                .await?
                .ok_or_else(|| eyre!("parent missing"))?;
            assert_eq!(block.header.parent_hash, parent.header.hash);
            ensure!(block.header.timestamp >= parent.header.timestamp);
            let by_hash = p
                .get_block_by_hash(bh)
                .await?
                .ok_or_else(|| eyre!("eth_getBlockByHash null"))?;
            assert_eq!(by_hash.header.number, bn);

            // The block as JSON: every header field geth returns.
            let raw_block: Value = rpc
                .ok("eth_getBlockByNumber", json!([format!("{bn:#x}"), false]))
                .await?;
            for f in [
                "hash",
                "parentHash",
                "sha3Uncles",
                "miner",
                "stateRoot",
                "transactionsRoot",
                "receiptsRoot",
                "logsBloom",
                "difficulty",
                "number",
                "gasLimit",
                "gasUsed",
                "timestamp",
                "extraData",
                "mixHash",
                "nonce",
                "baseFeePerGas",
                "size",
                "transactions",
                "uncles",
            ] {
                ensure!(raw_block.get(f).is_some(), "block lacks {f}: {raw_block}");
            }
            ensure!(
                raw_block["transactions"]
                    .as_array()
                    .is_some_and(|a| a.contains(&json!(hash))),
                "hash-only block lacks the tx hash"
            );
            let count: Value = rpc
                .ok(
                    "eth_getBlockTransactionCountByNumber",
                    json!([format!("{bn:#x}")]),
                )
                .await?;
            assert_eq!(count, json!(format!("{:#x}", txs.len())));
            let count: Value = rpc
                .ok("eth_getBlockTransactionCountByHash", json!([bh]))
                .await?;
            assert_eq!(count, json!(format!("{:#x}", txs.len())));

            // Block receipts: ours is there and equal; cumulative gas adds up to the block's.
            let receipts = p
                .get_block_receipts(BlockNumberOrTag::Number(bn).into())
                .await?
                .ok_or_else(|| eyre!("eth_getBlockReceipts null"))?;
            assert_eq!(receipts.len(), txs.len());
            let mine = receipts
                .iter()
                .find(|x| x.transaction_hash == hash)
                .ok_or_else(|| eyre!("receipt not in block receipts"))?;
            assert_eq!(mine.gas_used, r.gas_used);
            assert_eq!(
                mine.inner.cumulative_gas_used(),
                r.inner.cumulative_gas_used()
            );
            assert_eq!(mine.effective_gas_price, r.effective_gas_price);
            let mut cumulative = 0;
            for (i, x) in receipts.iter().enumerate() {
                assert_eq!(x.transaction_index, Some(i as u64));
                cumulative += x.gas_used;
                assert_eq!(x.inner.cumulative_gas_used(), cumulative);
            }
            assert_eq!(cumulative, block.header.gas_used);
            let raw_receipt: Value = rpc.ok("eth_getTransactionReceipt", json!([hash])).await?;
            for f in [
                "status",
                "cumulativeGasUsed",
                "gasUsed",
                "effectiveGasPrice",
                "logs",
                "logsBloom",
                "contractAddress",
                "type",
                "transactionHash",
                "transactionIndex",
                "blockHash",
                "blockNumber",
                "from",
                "to",
            ] {
                ensure!(
                    raw_receipt.get(f).is_some(),
                    "receipt lacks {f}: {raw_receipt}"
                );
            }
            assert_eq!(raw_receipt["status"], "0x1");
            assert_eq!(raw_receipt["type"], "0x2");
            assert_eq!(raw_receipt["contractAddress"], Value::Null);

            // eth_feeHistory over the last (up to) 4 blocks, with reward percentiles.
            let head = p.get_block_number().await?;
            let fh = p
                .get_fee_history(4, BlockNumberOrTag::Number(head), &[25.0, 75.0])
                .await?;
            let n = 4.min(head + 1) as usize;
            assert_eq!(fh.oldest_block, head + 1 - n as u64);
            assert_eq!(
                fh.base_fee_per_gas.len(),
                n + 1,
                "base fees: n blocks + the next one"
            );
            assert_eq!(fh.gas_used_ratio.len(), n);
            let rewards = fh
                .reward
                .as_ref()
                .ok_or_else(|| eyre!("no reward with percentiles"))?;
            assert_eq!(rewards.len(), n);
            for row in rewards {
                assert_eq!(row.len(), 2);
                ensure!(row[0] <= row[1], "percentile rewards must be ascending");
            }
            for ratio in &fh.gas_used_ratio {
                ensure!(
                    (0.0..=1.0).contains(ratio),
                    "gasUsedRatio out of range: {ratio}"
                );
            }
            for fee in &fh.base_fee_per_gas {
                ensure!(*fee >= GWEI, "base fee below the minimum: {fee}");
            }
            // The fee estimate endpoints answer sensibly.
            ensure!(p.get_gas_price().await? >= GWEI);
            let _tip = p.get_max_priority_fee_per_gas().await?;
            Ok(())
        })
        .await
}

/// geth, reth and anvil answer eth_estimateGas for a plain value transfer to an account
/// without code with exactly 21000 (wallets show and compare it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimate_gas_plain_transfer_is_21000() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let call = json!({"from": DEV_ACCOUNT0, "to": random_address(), "value": "0x1"});
            let est = parse_quantity(&rpc.ok("eth_estimateGas", json!([call])).await?)?;
            assert_eq!(est, 21_000, "eth_estimateGas of a plain transfer");
            Ok(())
        })
        .await
}
