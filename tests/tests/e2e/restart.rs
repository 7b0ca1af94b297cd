//! 8. A clean restart (SIGTERM, exit 0, start again on the same datadir) keeps the head,
//!    the blocks, balances, nonces, code and storage, and the chain continues.

use alloy::{
    eips::BlockNumberOrTag, network::TransactionBuilder, primitives::U256, providers::Provider,
    rpc::types::TransactionRequest,
};
use eyre::{Result, bail, ensure, eyre};
use ordo_tests::*;
use std::time::{Duration, Instant};

use crate::{GUARD, RECEIPT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_restart_keeps_head_and_state() -> Result<()> {
    let mut node = TestNode::dev().await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let s = dev_signer(8);
        let bob = random_address();
        let (head, head_hash, bal_s, contract) = {
            let p = node.provider(&s);
            let req = TransactionRequest::default()
                .with_to(bob)
                .with_value(U256::from(ETHER));
            let h = *p.send_transaction(req).await?.tx_hash();
            assert!(wait_receipt(&p, h, RECEIPT).await?.status());
            let deploy = TransactionRequest::default().with_deploy_code(store_initcode());
            let h = *p.send_transaction(deploy).await?.tx_hash();
            let r = wait_receipt(&p, h, RECEIPT).await?;
            let contract = r.contract_address.ok_or_else(|| eyre!("no contract"))?;
            let b = p
                .get_block_by_number(BlockNumberOrTag::Latest)
                .await?
                .ok_or_else(|| eyre!("no latest"))?;
            let bal_s = p.get_balance(s.address()).await?; // s sends nothing else
            (b.header.number, b.header.hash, bal_s, contract)
        };

        let status = node.stop().await?;
        ensure!(
            status.success(),
            "SIGTERM must exit cleanly (0), got {status}"
        );
        node.start_again().await?;

        let p = node.provider(&s);
        let now = p.get_block_number().await?;
        ensure!(now >= head, "head went backwards: {head} -> {now}");
        let b = p
            .get_block_by_number(BlockNumberOrTag::Number(head))
            .await?
            .ok_or_else(|| eyre!("block {head} lost over restart"))?;
        assert_eq!(
            b.header.hash, head_hash,
            "block {head} changed over restart"
        );
        assert_eq!(p.get_balance(bob).await?, U256::from(ETHER));
        assert_eq!(p.get_balance(s.address()).await?, bal_s);
        assert_eq!(p.get_transaction_count(s.address()).await?, 2);
        assert_eq!(p.get_code_at(contract).await?, store_runtime());
        assert_eq!(
            p.get_storage_at(contract, U256::ZERO).await?,
            U256::from(STORE_INITIAL)
        );

        // The chain continues from there: a new tx is mined on top, new blocks link up.
        let req = TransactionRequest::default()
            .with_to(bob)
            .with_value(U256::from(1));
        let h = *p.send_transaction(req).await?.tx_hash();
        let r = wait_receipt(&p, h, RECEIPT).await?;
        assert!(r.status());
        let bn = r.block_number.ok_or_else(|| eyre!("no block number"))?;
        ensure!(bn > head, "new tx in block {bn} <= old head {head}");
        assert_eq!(p.get_balance(bob).await?, U256::from(ETHER) + U256::from(1));
        let first_new = p
            .get_block_by_number(BlockNumberOrTag::Number(head + 1))
            .await?
            .ok_or_else(|| eyre!("no block after the old head"))?;
        assert_eq!(
            first_new.header.parent_hash, head_hash,
            "new blocks build on the old head"
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while p.get_block_number().await? < bn + 2 {
            if Instant::now() > deadline {
                bail!("chain stalled after restart");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    })
    .await
}
