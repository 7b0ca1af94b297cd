//! 5. Every ingress validation error returns geth's message (JSON-RPC code -32000), with
//!    each bad transaction built and signed by hand.
//!
//! Not covered: "txpool is full" (needs pool limits far below what the CLI contract lets a
//! test set; the pool crate's own tests cover it).

use alloy::{
    consensus::{TxEip1559, TxEip4844},
    eips::BlockNumberOrTag,
    primitives::{Bytes, Signature, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;

use crate::{GUARD, RECEIPT};

/// Sends `raw` and checks the error contains `want` with code -32000.
async fn expect_err(rpc: &Rpc, what: &str, raw: &Bytes, want: &str) -> Result<()> {
    match rpc.send_raw(raw).await? {
        Ok(h) => Err(eyre!("{what}: accepted as {h}, wanted error {want:?}")),
        Err(e) => {
            ensure!(
                e.message.contains(want),
                "{what}: got {e}, wanted a message containing {want:?}"
            );
            ensure!(
                e.code == -32000,
                "{what}: got code {} ({}), wanted -32000",
                e.code,
                e.message
            );
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_validation_error_has_geths_message() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let s = dev_signer(4);
            let p = node.provider(&s);
            let rpc = node.rpc();
            let chain = DEV_CHAIN_ID;
            let to = random_address();
            let tip = GWEI;
            let max_fee = 20 * GWEI;
            let one = U256::from(1);
            let tx = |nonce: u64| transfer_1559(chain, nonce, to, one, max_fee, tip);

            // Mine one tx so there is a "too low" nonce.
            let n0 = p.get_transaction_count(s.address()).pending().await?;
            let (raw, h) = sign_raw(&s, tx(n0));
            rpc.send_raw(&raw)
                .await?
                .map_err(|e| eyre!("first tx: {e}"))?;
            wait_receipt(&p, h, RECEIPT).await?;

            // nonce too low: the mined nonce again, different content.
            let (raw, _) = sign_raw(
                &s,
                TxEip1559 {
                    value: U256::from(2),
                    ..tx(n0)
                },
            );
            expect_err(&rpc, "mined nonce", &raw, "nonce too low").await?;

            // nonce too high: far ahead of the account.
            let (raw, _) = sign_raw(&s, tx(n0 + 1_000_000));
            expect_err(&rpc, "nonce gap", &raw, "nonce too high").await?;

            // A queued tx (nonce n0+2, n0+1 missing) stays in the pool, so the next checks
            // do not race the block builder.
            let queued = tx(n0 + 2);
            let (raw_q, _) = sign_raw(&s, queued.clone());
            rpc.send_raw(&raw_q)
                .await?
                .map_err(|e| eyre!("queued tx: {e}"))?;
            // already known: the same bytes again.
            expect_err(&rpc, "duplicate", &raw_q, "already known").await?;
            // replacement transaction underpriced: +5% on both fees.
            let (raw, _) = sign_raw(
                &s,
                TxEip1559 {
                    max_fee_per_gas: max_fee * 105 / 100,
                    max_priority_fee_per_gas: tip * 105 / 100,
                    value: U256::from(3),
                    ..queued.clone()
                },
            );
            expect_err(
                &rpc,
                "+5% replacement",
                &raw,
                "replacement transaction underpriced",
            )
            .await?;
            // A +20% replacement is accepted (and is the one that gets mined below).
            let (raw_r, h_r) = sign_raw(
                &s,
                TxEip1559 {
                    max_fee_per_gas: max_fee * 120 / 100,
                    max_priority_fee_per_gas: tip * 120 / 100,
                    value: U256::from(4),
                    ..queued.clone()
                },
            );
            rpc.send_raw(&raw_r)
                .await?
                .map_err(|e| eyre!("+20% replacement refused: {e}"))?;

            // invalid chain id for signer.
            let (raw, _) = sign_raw(
                &s,
                TxEip1559 {
                    chain_id: 1,
                    ..tx(n0 + 1)
                },
            );
            expect_err(&rpc, "chain id 1", &raw, "invalid chain id for signer").await?;

            // invalid sender: a signature that recovers to no key (r = 0).
            {
                use alloy::consensus::SignableTransaction;
                use alloy::eips::eip2718::Encodable2718;
                let bad = tx(n0 + 1).into_signed(Signature::new(U256::ZERO, U256::from(1), false));
                let raw: Bytes = bad.encoded_2718().into();
                expect_err(&rpc, "r = 0 signature", &raw, "invalid sender").await?;
            }

            // insufficient funds: a fresh key with no balance.
            let poor = PrivateKeySigner::random();
            let (raw, _) = sign_raw(&poor, transfer_1559(chain, 0, to, U256::ZERO, max_fee, tip));
            expect_err(
                &rpc,
                "empty account",
                &raw,
                "insufficient funds for gas * price + value",
            )
            .await?;
            // ... and one that can pay the gas but not the value.
            let (raw, _) = sign_raw(
                &s,
                TxEip1559 {
                    value: DEV_BALANCE * U256::from(2),
                    ..tx(n0 + 1)
                },
            );
            expect_err(
                &rpc,
                "value > balance",
                &raw,
                "insufficient funds for gas * price + value",
            )
            .await?;

            // intrinsic gas too low.
            let (raw, _) = sign_raw(
                &s,
                TxEip1559 {
                    gas_limit: 20_000,
                    ..tx(n0 + 1)
                },
            );
            expect_err(&rpc, "gas 20000", &raw, "intrinsic gas too low").await?;

            // exceeds block gas limit.
            let latest = p
                .get_block_by_number(BlockNumberOrTag::Latest)
                .await?
                .ok_or_else(|| eyre!("no latest block"))?;
            let (raw, _) = sign_raw(
                &s,
                TxEip1559 {
                    gas_limit: latest.header.gas_limit + 1,
                    ..tx(n0 + 1)
                },
            );
            expect_err(&rpc, "gas > block limit", &raw, "exceeds block gas limit").await?;

            // max fee per gas less than block base fee (below the 1 gwei minimum).
            let (raw, _) = sign_raw(
                &s,
                TxEip1559 {
                    max_fee_per_gas: GWEI / 2,
                    max_priority_fee_per_gas: 0,
                    ..tx(n0 + 1)
                },
            );
            expect_err(
                &rpc,
                "fee cap 0.5 gwei",
                &raw,
                "max fee per gas less than block base fee",
            )
            .await?;

            // max priority fee per gas higher than max fee per gas.
            let (raw, _) = sign_raw(
                &s,
                TxEip1559 {
                    max_fee_per_gas: 2 * GWEI,
                    max_priority_fee_per_gas: 3 * GWEI,
                    ..tx(n0 + 1)
                },
            );
            expect_err(
                &rpc,
                "tip > fee cap",
                &raw,
                "max priority fee per gas higher than max fee per gas",
            )
            .await?;

            // transaction type not supported: an EIP-4844 blob tx.
            let mut vhash = [0u8; 32];
            vhash[0] = 0x01;
            let blob = TxEip4844 {
                chain_id: chain,
                nonce: n0 + 1,
                gas_limit: 21_000,
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: tip,
                to,
                value: one,
                access_list: Default::default(),
                blob_versioned_hashes: vec![vhash.into()],
                max_fee_per_blob_gas: GWEI,
                input: Bytes::new(),
            };
            let (raw, _) = sign_raw(&s, blob);
            expect_err(&rpc, "blob tx", &raw, "transaction type not supported").await?;

            // oversized data: > 128 KiB of calldata (gas covers intrinsic and floor cost).
            let (raw, _) = sign_raw(
                &s,
                TxEip1559 {
                    gas_limit: 6_000_000,
                    input: vec![1u8; 128 * 1024 + 1].into(),
                    ..tx(n0 + 1)
                },
            );
            expect_err(&rpc, "129 KiB calldata", &raw, "oversized data").await?;

            // Malformed RLP: the message mentions rlp or decoding.
            for garbage in [&[0xde, 0xad, 0xbe, 0xef][..], &[0x02, 0xc0][..]] {
                match rpc.send_raw(garbage).await? {
                    Ok(h) => return Err(eyre!("garbage {garbage:02x?} accepted as {h}")),
                    Err(e) => {
                        let m = e.message.to_lowercase();
                        ensure!(
                            m.starts_with("rlp") || m.contains("decode") || m.contains("rlp:"),
                            "garbage {garbage:02x?}: unexpected error {e}"
                        );
                    }
                }
            }

            // alloy surfaces the same message to a wallet.
            let err = p
                .send_raw_transaction(&raw_r)
                .await
                .err()
                .ok_or_else(|| eyre!("duplicate accepted through alloy"))?;
            let payload = err
                .as_error_resp()
                .ok_or_else(|| eyre!("not an error response: {err}"))?;
            ensure!(
                payload.message.contains("already known"),
                "alloy saw {payload:?}"
            );

            // The node is fine: filling the gap mines n0+1 and the +20% replacement.
            let (raw, h1) = sign_raw(&s, tx(n0 + 1));
            rpc.send_raw(&raw)
                .await?
                .map_err(|e| eyre!("gap filler: {e}"))?;
            wait_receipt(&p, h1, RECEIPT).await?;
            let rr = wait_receipt(&p, h_r, RECEIPT).await?;
            assert!(rr.status());
            assert_eq!(p.get_transaction_count(s.address()).await?, n0 + 3);
            Ok(())
        })
        .await
}
