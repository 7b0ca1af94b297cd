//! `eth_callBundle` (Flashbots): simulation of signed transactions on a state, with the
//! Flashbots result shapes, coinbase payments, reverts, no state change, and bad params.

use alloy::{
    consensus::TxEip1559,
    primitives::{Address, B256, Bytes, TxKind, U256, keccak256},
};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::{Value, json};

use crate::GUARD;

/// The dev node's fee recipient.
const COINBASE: Address = Address::repeat_byte(0x42);
const MAX_FEE: u128 = 100 * GWEI;
const TIP: u128 = 2 * GWEI;

fn hex(b: &[u8]) -> String {
    format!("0x{}", alloy::primitives::hex::encode(b))
}

fn dec(v: &Value, field: &str) -> Result<U256> {
    let s = v[field]
        .as_str()
        .ok_or_else(|| eyre!("{field} is not a string: {v}"))?;
    ensure!(
        !s.starts_with("0x") && !s.is_empty(),
        "{field} is not decimal: {s}"
    );
    Ok(s.parse::<U256>()?)
}

fn num(v: &Value, field: &str) -> Result<u64> {
    v[field]
        .as_u64()
        .ok_or_else(|| eyre!("{field} is not a JSON number: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_bundle_simulates_without_changing_state() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let alice = dev_signer(0);
            let rpc = node.rpc();
            let bob = random_address();
            let head = rpc.block_number().await?;
            let bribe = U256::from(1_000 * GWEI);

            let (raw0, h0) = sign_raw(
                &alice,
                transfer_1559(DEV_CHAIN_ID, 0, bob, U256::from(ETHER), MAX_FEE, TIP),
            );
            let (raw1, h1) = sign_raw(
                &alice,
                transfer_1559(DEV_CHAIN_ID, 1, COINBASE, bribe, MAX_FEE, TIP),
            );
            // A create whose init code reverts with the word 42:
            // PUSH1 42 PUSH1 0 MSTORE PUSH1 32 PUSH1 0 REVERT.
            let (raw2, h2) = sign_raw(
                &alice,
                TxEip1559 {
                    chain_id: DEV_CHAIN_ID,
                    nonce: 2,
                    gas_limit: 100_000,
                    max_fee_per_gas: MAX_FEE,
                    max_priority_fee_per_gas: TIP,
                    to: TxKind::Create,
                    value: U256::ZERO,
                    access_list: Default::default(),
                    input: Bytes::from_static(&[
                        0x60, 0x2a, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xfd,
                    ]),
                },
            );

            let res = rpc
                .ok(
                    "eth_callBundle",
                    json!([{
                        "txs": [hex(&raw0), hex(&raw1), hex(&raw2)],
                        "blockNumber": format!("{:#x}", head + 1),
                        "stateBlockNumber": "latest",
                    }]),
                )
                .await?;

            let results = res["results"]
                .as_array()
                .ok_or_else(|| eyre!("results is not an array: {res}"))?;
            ensure!(results.len() == 3, "{res}");
            let fees = U256::from(21_000u64) * U256::from(TIP);

            // Plain transfer: the coinbase gets exactly the priority fees.
            let r0 = &results[0];
            assert_eq!(r0["txHash"], json!(h0));
            assert_eq!(num(r0, "gasUsed")?, 21_000);
            assert_eq!(r0["fromAddress"], json!(alice.address()));
            assert_eq!(r0["toAddress"], json!(bob));
            assert_eq!(dec(r0, "gasFees")?, fees);
            assert_eq!(dec(r0, "coinbaseDiff")?, fees);
            assert_eq!(r0["ethSentToCoinbase"], json!("0"));
            assert_eq!(dec(r0, "gasPrice")?, U256::from(TIP));
            assert_eq!(r0["value"], json!("0x"));
            ensure!(
                r0.get("revert").is_none() && r0.get("error").is_none(),
                "{r0}"
            );

            // Direct coinbase payment.
            let r1 = &results[1];
            assert_eq!(r1["txHash"], json!(h1));
            assert_eq!(num(r1, "gasUsed")?, 21_000);
            assert_eq!(r1["toAddress"], json!(COINBASE));
            assert_eq!(dec(r1, "gasFees")?, fees);
            assert_eq!(dec(r1, "coinbaseDiff")?, fees + bribe);
            assert_eq!(dec(r1, "ethSentToCoinbase")?, bribe);
            assert_eq!(dec(r1, "gasPrice")?, (fees + bribe) / U256::from(21_000u64));

            // Reverting create: a result, not an error.
            let r2 = &results[2];
            assert_eq!(r2["txHash"], json!(h2));
            assert_eq!(r2["toAddress"], Value::Null);
            assert_eq!(r2["error"], json!("execution reverted"));
            assert_eq!(r2["revert"], json!(B256::from(U256::from(42))));
            let gas2 = num(r2, "gasUsed")?;
            ensure!(gas2 > 21_000 && gas2 < 100_000, "gasUsed {gas2}");
            let fees2 = U256::from(gas2) * U256::from(TIP);
            assert_eq!(dec(r2, "gasFees")?, fees2);
            assert_eq!(dec(r2, "coinbaseDiff")?, fees2);
            assert_eq!(r2["ethSentToCoinbase"], json!("0"));

            // Totals.
            let total_gas = 42_000 + gas2;
            let total_diff = fees * U256::from(2) + bribe + fees2;
            assert_eq!(num(&res, "totalGasUsed")?, total_gas);
            assert_eq!(dec(&res, "coinbaseDiff")?, total_diff);
            assert_eq!(dec(&res, "gasFees")?, fees * U256::from(2) + fees2);
            assert_eq!(dec(&res, "ethSentToCoinbase")?, bribe);
            assert_eq!(
                dec(&res, "bundleGasPrice")?,
                total_diff / U256::from(total_gas)
            );
            let mut concat = Vec::new();
            for h in [h0, h1, h2] {
                concat.extend_from_slice(h.as_slice());
            }
            assert_eq!(res["bundleHash"], json!(keccak256(&concat)));
            let state_block = num(&res, "stateBlockNumber")?;
            ensure!(
                state_block >= head,
                "stateBlockNumber {state_block} < {head}"
            );

            // Nothing was applied: nonce and balances unchanged, nothing in the pool.
            let nonce = rpc
                .ok(
                    "eth_getTransactionCount",
                    json!([alice.address(), "latest"]),
                )
                .await?;
            assert_eq!(parse_quantity(&nonce)?, 0);
            let pending = rpc
                .ok(
                    "eth_getTransactionCount",
                    json!([alice.address(), "pending"]),
                )
                .await?;
            assert_eq!(parse_quantity(&pending)?, 0);
            let bal = rpc.ok("eth_getBalance", json!([bob, "latest"])).await?;
            assert_eq!(bal, json!("0x0"));

            // An explicit state block and timestamp work too.
            let res = rpc
                .ok(
                    "eth_callBundle",
                    json!([{
                        "txs": [hex(&raw0)],
                        "blockNumber": format!("{:#x}", state_block + 1),
                        "stateBlockNumber": format!("{state_block:#x}"),
                        "timestamp": 4_000_000_000u64,
                    }]),
                )
                .await?;
            assert_eq!(num(&res, "stateBlockNumber")?, state_block);
            assert_eq!(num(&res, "totalGasUsed")?, 21_000);
            Ok(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_bundle_rejects_bad_params_and_invalid_txs() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let alice = dev_signer(0);
            let rpc = node.rpc();
            let bob = random_address();
            let (raw, _) = sign_raw(
                &alice,
                transfer_1559(DEV_CHAIN_ID, 0, bob, U256::from(1), MAX_FEE, TIP),
            );

            let invalid_params = [
                json!([]),
                json!([{"txs": [], "blockNumber": "0x1"}]),
                json!([{"txs": ["0x1234"], "blockNumber": "0x1"}]),
                json!([{"txs": ["zz"], "blockNumber": "0x1"}]),
                json!([{"txs": [hex(&raw)]}]),
                json!(["0x1"]),
            ];
            for params in invalid_params {
                let err = rpc
                    .call("eth_callBundle", params.clone())
                    .await?
                    .err()
                    .ok_or_else(|| eyre!("{params} succeeded"))?;
                assert_eq!(err.code, -32602, "{params}: {err}");
            }
            let err = rpc
                .call(
                    "eth_callBundle",
                    json!([{"txs": [hex(&raw), "0x02"], "blockNumber": "0x1"}]),
                )
                .await?
                .err()
                .ok_or_else(|| eyre!("bad tx 1 accepted"))?;
            ensure!(
                err.message.starts_with("could not decode tx 1: "),
                "{}",
                err.message
            );

            // Wrong chain id.
            let (other, _) = sign_raw(
                &alice,
                transfer_1559(DEV_CHAIN_ID + 1, 0, bob, U256::from(1), MAX_FEE, TIP),
            );
            let err = rpc
                .call(
                    "eth_callBundle",
                    json!([{"txs": [hex(&other)], "blockNumber": "0x1"}]),
                )
                .await?
                .err()
                .ok_or_else(|| eyre!("wrong chain id accepted"))?;
            ensure!(err.message.contains("chain id"), "{}", err.message);

            // An invalid tx (nonce too high) fails the whole bundle, naming it.
            let (gap, _) = sign_raw(
                &alice,
                transfer_1559(DEV_CHAIN_ID, 5, bob, U256::from(1), MAX_FEE, TIP),
            );
            let err = rpc
                .call(
                    "eth_callBundle",
                    json!([{"txs": [hex(&raw), hex(&gap)], "blockNumber": "0x1"}]),
                )
                .await?
                .err()
                .ok_or_else(|| eyre!("nonce gap accepted"))?;
            assert_eq!(err.code, -32000, "{err}");
            ensure!(err.message.starts_with("tx 1: "), "{}", err.message);
            Ok(())
        })
        .await
}
