//! `eth_getProof` (EIP-1186) from the stored trie: accounts, slots, absent keys and an older
//! block, each proof checked against the block's state root with alloy-trie, through alloy's
//! own client types.

use alloy::{
    eips::BlockId,
    network::TransactionBuilder,
    primitives::{Address, B256, U256, keccak256},
    providers::Provider,
    rpc::types::{EIP1186AccountProofResponse, TransactionRequest},
};
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, Nibbles, TrieAccount, proof::verify_proof};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::json;

use crate::{GUARD, RECEIPT};

/// Checks `proof` against the state root of block `number`; returns the proven slots.
async fn check(
    p: &alloy::providers::DynProvider,
    number: u64,
    proof: &EIP1186AccountProofResponse,
) -> Result<Vec<U256>> {
    let block = p
        .get_block_by_number(number.into())
        .await?
        .ok_or_else(|| eyre!("no block {number}"))?;
    let exists = !(proof.nonce == 0
        && proof.balance.is_zero()
        && proof.code_hash == KECCAK_EMPTY
        && proof.storage_hash == EMPTY_ROOT_HASH);
    let leaf = exists.then(|| {
        alloy_rlp::encode(TrieAccount {
            nonce: proof.nonce,
            balance: proof.balance,
            storage_root: proof.storage_hash,
            code_hash: proof.code_hash,
        })
    });
    verify_proof(
        block.header.state_root,
        Nibbles::unpack(keccak256(proof.address)),
        leaf,
        &proof.account_proof,
    )
    .map_err(|e| eyre!("account proof of {} at {number}: {e}", proof.address))?;
    let mut values = vec![];
    for slot in &proof.storage_proof {
        let expected = (!slot.value.is_zero()).then(|| alloy_rlp::encode(slot.value));
        if exists {
            verify_proof(
                proof.storage_hash,
                Nibbles::unpack(keccak256(slot.key.as_b256())),
                expected,
                &slot.proof,
            )
            .map_err(|e| eyre!("storage proof at {number}: {e}"))?;
        } else {
            ensure!(slot.value.is_zero() && slot.proof.is_empty());
        }
        values.push(slot.value);
    }
    Ok(values)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_of_accounts_slots_absent_keys_and_older_blocks_verify() -> Result<()> {
    let node = TestNode::dev().await?;
    node.logs()
        .guard(GUARD, async {
            let me = dev_signer(4);
            let p = node.provider(&me);
            let slots = vec![B256::ZERO, B256::with_last_byte(5)];

            let deploy = TransactionRequest::default().with_deploy_code(store_initcode());
            let r = wait_receipt(&p, *p.send_transaction(deploy).await?.tx_hash(), RECEIPT).await?;
            let store = r
                .contract_address
                .ok_or_else(|| eyre!("no contractAddress"))?;
            let deployed = r.block_number.ok_or_else(|| eyre!("no block"))?;
            let set = Store::new(store, p.clone())
                .set(U256::from(42))
                .send()
                .await?;
            let r = wait_receipt(&p, *set.tx_hash(), RECEIPT).await?;
            let changed = r.block_number.ok_or_else(|| eyre!("no block"))?;
            let fresh = random_address();
            let send = TransactionRequest::default()
                .with_to(fresh)
                .with_value(U256::from(ETHER));
            let r = wait_receipt(&p, *p.send_transaction(send).await?.tx_hash(), RECEIPT).await?;
            let funded = r.block_number.ok_or_else(|| eyre!("no block"))?;

            // The contract's slot 0 at the block that deployed it, then after `set`; slot 5 is
            // absent (a proof of absence).
            for (number, want) in [(deployed, STORE_INITIAL), (changed, 42)] {
                let proof = p
                    .get_proof(store, slots.clone())
                    .block_id(BlockId::number(number))
                    .await?;
                let values = check(&p, number, &proof).await?;
                assert_eq!(values, vec![U256::from(want), U256::ZERO], "block {number}");
                assert_eq!(proof.code_hash, keccak256(store_runtime()));
            }
            // At the head: the funded account, and the sender's nonce.
            let head = p.get_block_number().await?;
            let proof = p
                .get_proof(fresh, vec![])
                .block_id(BlockId::number(head))
                .await?;
            check(&p, head, &proof).await?;
            assert_eq!(proof.balance, U256::from(ETHER));
            let proof = p.get_proof(me.address(), vec![]).latest().await?;
            ensure!(proof.nonce >= 3, "nonce {}", proof.nonce);
            // Before it was funded the fresh account is absent, and so is a random one now.
            let before = p
                .get_proof(fresh, slots.clone())
                .block_id(BlockId::number(funded - 1))
                .await?;
            check(&p, funded - 1, &before).await?;
            assert_eq!(before.balance, U256::ZERO);
            assert_eq!(before.storage_hash, EMPTY_ROOT_HASH);
            let nobody = p
                .get_proof(Address::repeat_byte(0x5a), slots.clone())
                .await?;
            let head = p.get_block_number().await?;
            // `latest` may have moved: prove at a pinned block for the check.
            let nobody_pinned = p
                .get_proof(nobody.address, slots.clone())
                .block_id(BlockId::number(head))
                .await?;
            check(&p, head, &nobody_pinned).await?;
            assert_eq!(nobody.code_hash, KECCAK_EMPTY);

            // Bad input gets the codes wallets expect.
            let rpc = node.rpc();
            let e = rpc
                .call("eth_getProof", json!(["0x1234", [], "latest"]))
                .await?
                .expect_err("a short address");
            assert_eq!(e.code, -32602, "{e}");
            let many: Vec<B256> = (0..1025u64).map(|i| B256::from(U256::from(i))).collect();
            let e = rpc
                .call("eth_getProof", json!([store, many, "latest"]))
                .await?
                .expect_err("too many keys");
            assert_eq!(e.code, -32602, "{e}");
            let e = rpc
                .call("eth_getProof", json!([store, [], "0xffffff"]))
                .await?
                .expect_err("a future block");
            ensure!(e.code == -32000 || e.code == -32602, "{e}");
            Ok(())
        })
        .await
}
