//! 2. Every supported tx type is included: legacy with and without EIP-155, EIP-2930, and an
//!    EIP-7702 authorization that sets an EOA's code to a contract, which is then called.

use alloy::{
    consensus::{TxEip2930, TxEip7702, TxLegacy, TxType},
    network::TransactionBuilder,
    primitives::{B256, Bytes, TxKind, U256},
    providers::Provider,
    rpc::types::{AccessList, AccessListItem, Authorization, TransactionRequest},
    signers::{SignerSync, local::PrivateKeySigner},
};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::{Value, json};

use crate::{GUARD, RECEIPT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_2930_and_7702_are_included() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let s = dev_signer(1);
            let p = node.provider(&s);
            let rpc = node.rpc();
            let chain = DEV_CHAIN_ID;
            let nonce = p.get_transaction_count(s.address()).pending().await?;
            let gas_price = (p.get_gas_price().await? * 2).max(2 * GWEI);
            let to = random_address();

            // Legacy, EIP-155 (chain id in the signature).
            let legacy155 = TxLegacy {
                chain_id: Some(chain),
                nonce,
                gas_price,
                gas_limit: 21_000,
                to: TxKind::Call(to),
                value: U256::from(1),
                input: Bytes::new(),
            };
            // Legacy, pre-EIP-155 (no chain id: v is 27/28).
            let legacy_pre = TxLegacy {
                chain_id: None,
                nonce: nonce + 1,
                ..legacy155.clone()
            };
            // EIP-2930 with an access list (intrinsic 21000 + 2400 + 1900).
            let listed = random_address();
            let eip2930 = TxEip2930 {
                chain_id: chain,
                nonce: nonce + 2,
                gas_price,
                gas_limit: 30_000,
                to: TxKind::Call(to),
                value: U256::from(1),
                access_list: AccessList(vec![AccessListItem {
                    address: listed,
                    storage_keys: vec![B256::ZERO],
                }]),
                input: Bytes::new(),
            };

            let (raw1, h1) = sign_raw(&s, legacy155);
            let (raw2, h2) = sign_raw(&s, legacy_pre);
            let (raw3, h3) = sign_raw(&s, eip2930);
            for (raw, h) in [(&raw1, h1), (&raw2, h2), (&raw3, h3)] {
                let got = rpc
                    .send_raw(raw)
                    .await?
                    .map_err(|e| eyre!("send {h}: {e}"))?;
                assert_eq!(got, h, "node's tx hash differs from the signed hash");
            }
            for (h, ty) in [
                (h1, TxType::Legacy),
                (h2, TxType::Legacy),
                (h3, TxType::Eip2930),
            ] {
                let r = wait_receipt(&p, h, RECEIPT).await?;
                assert!(r.status(), "{ty:?} tx reverted");
                assert_eq!(r.transaction_type(), ty);
                assert_eq!(
                    r.gas_used,
                    if ty == TxType::Eip2930 {
                        25_300
                    } else {
                        21_000
                    }
                );
            }
            assert_eq!(p.get_balance(to).await?, U256::from(3));

            let t1: Value = rpc.ok("eth_getTransactionByHash", json!([h1])).await?;
            assert_eq!(t1["type"], "0x0");
            assert_eq!(t1["chainId"], format!("{chain:#x}"));
            let v1 = parse_quantity(&t1["v"])?;
            ensure!(
                v1 == chain * 2 + 35 || v1 == chain * 2 + 36,
                "EIP-155 v = {v1}"
            );
            let t2: Value = rpc.ok("eth_getTransactionByHash", json!([h2])).await?;
            assert_eq!(t2["type"], "0x0");
            let v2 = parse_quantity(&t2["v"])?;
            ensure!(v2 == 27 || v2 == 28, "pre-155 v = {v2}");
            ensure!(
                t2.get("chainId").is_none_or(Value::is_null),
                "pre-155 tx must not report a chainId: {t2}"
            );
            let t3: Value = rpc.ok("eth_getTransactionByHash", json!([h3])).await?;
            assert_eq!(t3["type"], "0x1");
            ensure!(t3.get("yParity").is_some(), "2930 tx lacks yParity: {t3}");
            assert_eq!(t3["accessList"][0]["address"], json!(listed));
            assert_eq!(t3["accessList"][0]["storageKeys"], json!([B256::ZERO]));

            // ---- EIP-7702: delegate a fresh EOA to the Store contract, then call the EOA.
            let deployer = dev_signer(2);
            let dp = node.provider(&deployer);
            let deploy = TransactionRequest::default().with_deploy_code(store_initcode());
            let dh = *dp.send_transaction(deploy).await?.tx_hash();
            let dr = wait_receipt(&dp, dh, RECEIPT).await?;
            assert!(dr.status());
            let store = dr
                .contract_address
                .ok_or_else(|| eyre!("no contract address"))?;

            let authority = PrivateKeySigner::random();
            let auth = Authorization {
                chain_id: U256::from(chain),
                address: store,
                nonce: 0,
            };
            let auth_sig = authority.sign_hash_sync(&auth.signature_hash())?;
            let signed_auth = auth.into_signed(auth_sig);
            let n = p.get_transaction_count(s.address()).pending().await?;
            let max_fee = gas_price;
            let tx7702 = TxEip7702 {
                chain_id: chain,
                nonce: n,
                gas_limit: 200_000,
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: GWEI,
                to: authority.address(),
                value: U256::ZERO,
                access_list: AccessList::default(),
                authorization_list: vec![signed_auth],
                input: Bytes::new(),
            };
            let (raw7, h7) = sign_raw(&s, tx7702);
            let got = rpc
                .send_raw(&raw7)
                .await?
                .map_err(|e| eyre!("send 7702: {e}"))?;
            assert_eq!(got, h7);
            let r7 = wait_receipt(&p, h7, RECEIPT).await?;
            assert!(r7.status(), "7702 tx reverted");
            assert_eq!(r7.transaction_type(), TxType::Eip7702);
            let t7: Value = rpc.ok("eth_getTransactionByHash", json!([h7])).await?;
            assert_eq!(t7["type"], "0x4");
            let list = t7["authorizationList"]
                .as_array()
                .ok_or_else(|| eyre!("7702 tx lacks authorizationList: {t7}"))?;
            assert_eq!(list.len(), 1);
            assert_eq!(list[0]["address"], json!(store));

            // The EOA's code is the delegation designator 0xef0100 || store.
            let code = p.get_code_at(authority.address()).await?;
            let mut want = vec![0xef, 0x01, 0x00];
            want.extend_from_slice(store.as_slice());
            assert_eq!(code, Bytes::from(want), "delegation designator");
            assert_eq!(
                p.get_transaction_count(authority.address()).await?,
                1,
                "auth nonce bump"
            );

            // Calling the EOA runs the Store code against the EOA's own storage.
            let as_store = Store::new(authority.address(), p.clone());
            let ch = *as_store.set(U256::from(99)).send().await?.tx_hash();
            let cr = wait_receipt(&p, ch, RECEIPT).await?;
            assert!(cr.status());
            let logs = cr.logs();
            assert_eq!(logs.len(), 1);
            assert_eq!(
                logs[0].address(),
                authority.address(),
                "log emitted by the EOA"
            );
            assert_eq!(
                p.get_storage_at(authority.address(), U256::ZERO).await?,
                U256::from(99)
            );
            assert_eq!(as_store.get().call().await?, U256::from(99));
            // The contract's own storage is untouched.
            assert_eq!(
                p.get_storage_at(store, U256::ZERO).await?,
                U256::from(STORE_INITIAL)
            );
            Ok(())
        })
        .await
}
