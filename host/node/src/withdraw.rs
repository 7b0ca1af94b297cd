//! `ordo withdraw`: a withdrawal from the command line, in OP's three steps: `initiate` on L2
//! (a call to the message passer), `prove` on L1 once an output covers its block, `finalize`
//! on L1 once the finalization period is over; `status` says which step is next. The portal
//! and the output oracle come from the node's `ordo_rollupConfig` unless given.

use std::time::Duration;

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use eyre::{WrapErr, bail, eyre};
use ordo_l1::{OrdoPortal, WithdrawalReader, WithdrawalStatus};
use ordo_primitives::MESSAGE_PASSER;

/// Where a step reaches L1 and L2.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub l1_rpc: String,
    pub l2_rpc: String,
    /// Override of the node's `addresses.portal`.
    pub portal: Option<Address>,
    /// Override of the node's `addresses.l2OutputOracle`.
    pub oracle: Option<Address>,
}

/// How long `--wait` waits for the next step to open.
const MAX_WAIT: Duration = Duration::from_secs(3_600);

/// Sends `value` wei to `target` on L1 through the message passer, from `key`'s account on
/// the L2 at `l2_rpc`: the L2 transaction, its block and the withdrawal's hash.
pub async fn initiate(
    l2_rpc: &str,
    key: PrivateKeySigner,
    target: Address,
    value: U256,
    gas_limit: u64,
    data: Bytes,
) -> eyre::Result<(B256, u64, B256)> {
    let l2 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_http(l2_rpc.parse().wrap_err("--l2-rpc is not a URL")?);
    // A chain whose genesis predates the predeploy has no code there: the value would be
    // sent to an empty account, not withdrawn.
    if l2.get_code_at(MESSAGE_PASSER).await?.is_empty() {
        bail!("this chain has no message passer at {MESSAGE_PASSER}: it cannot withdraw");
    }
    let passer = ordo_l1::L2ToL1MessagePasser::new(MESSAGE_PASSER, &l2);
    let receipt = landed(
        passer
            .initiateWithdrawal(target, U256::from(gas_limit), data)
            .value(value),
        "the withdrawal on L2",
    )
    .await?;
    let withdrawal = ordo_l1::withdrawals_in(receipt.inner.logs())
        .into_iter()
        .next()
        .ok_or_else(|| eyre!("the L2 receipt holds no MessagePassed log"))?;
    let block = receipt.block_number.unwrap_or_default();
    Ok((
        receipt.transaction_hash,
        block,
        ordo_l1::withdrawal_hash(&withdrawal),
    ))
}

/// Sends `call` and waits for its receipt (`what` names it in errors); a revert is an error.
async fn landed<P: Provider, D: alloy::contract::CallDecoder>(
    call: alloy::contract::CallBuilder<P, D>,
    what: &str,
) -> eyre::Result<alloy::rpc::types::TransactionReceipt> {
    let receipt = call
        .send()
        .await
        .wrap_err_with(|| format!("sending {what}"))?
        .with_timeout(Some(Duration::from_secs(120)))
        .get_receipt()
        .await
        .wrap_err_with(|| format!("waiting for the receipt of {what}"))?;
    if !receipt.status() {
        bail!("{what} ({}) reverted", receipt.transaction_hash);
    }
    Ok(receipt)
}

/// The portal and oracle: given, or the node's rollup config.
async fn addresses(endpoints: &Endpoints) -> eyre::Result<(Address, Address)> {
    if let (Some(p), Some(o)) = (endpoints.portal, endpoints.oracle) {
        return Ok((p, o));
    }
    let l2 = ProviderBuilder::new()
        .connect_http(endpoints.l2_rpc.parse().wrap_err("--l2-rpc is not a URL")?);
    let config: serde_json::Value = l2
        .raw_request("ordo_rollupConfig".into(), ())
        .await
        .wrap_err("asking the node for its rollup config")?;
    let named = |field: &str| -> eyre::Result<Address> {
        serde_json::from_value(config["addresses"][field].clone())
            .ok()
            .flatten()
            .ok_or_else(|| eyre!("the node names no {field} (pass it explicitly)"))
    };
    Ok((
        match endpoints.portal {
            Some(p) => p,
            None => named("portal")?,
        },
        match endpoints.oracle {
            Some(o) => o,
            None => named("l2OutputOracle")?,
        },
    ))
}

/// The reader and the one withdrawal L2 transaction `tx` sent (its block too).
async fn withdrawal_of(
    endpoints: &Endpoints,
    tx: B256,
) -> eyre::Result<(
    WithdrawalReader,
    Address,
    u64,
    ordo_l1::OrdoPortal::WithdrawalTransaction,
)> {
    let (portal, oracle) = addresses(endpoints).await?;
    let reader = WithdrawalReader::new(&endpoints.l1_rpc, &endpoints.l2_rpc, portal, oracle)?;
    let (block, withdrawals) = reader.withdrawals_of(tx).await?;
    let withdrawal = match withdrawals.as_slice() {
        [one] => one.clone(),
        [] => bail!("L2 transaction {tx} sent no withdrawal"),
        many => bail!(
            "L2 transaction {tx} sent {} withdrawals; this tool handles one",
            many.len()
        ),
    };
    Ok((reader, portal, block, withdrawal))
}

/// Where the withdrawal sent by L2 transaction `tx` stands.
pub async fn status(endpoints: &Endpoints, tx: B256) -> eyre::Result<WithdrawalStatus> {
    let (reader, _, block, withdrawal) = withdrawal_of(endpoints, tx).await?;
    Ok(reader.status(&withdrawal, block).await?)
}

/// Waits (with `wait`) until the withdrawal leaves the states in `until_not`.
async fn settle(
    reader: &WithdrawalReader,
    withdrawal: &ordo_l1::OrdoPortal::WithdrawalTransaction,
    block: u64,
    wait: bool,
    until_not: fn(&WithdrawalStatus) -> bool,
) -> eyre::Result<WithdrawalStatus> {
    let deadline = tokio::time::Instant::now() + MAX_WAIT;
    loop {
        let status = reader.status(withdrawal, block).await?;
        if !wait || !until_not(&status) || tokio::time::Instant::now() > deadline {
            return Ok(status);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn l1_wallet(endpoints: &Endpoints, key: PrivateKeySigner) -> eyre::Result<impl Provider + Clone> {
    Ok(ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_http(endpoints.l1_rpc.parse().wrap_err("--l1-rpc is not a URL")?))
}

/// Proves the withdrawal L2 transaction `tx` sent, from `key`'s L1 account (with `wait`,
/// first waiting for an output that covers it): the L1 transaction.
pub async fn prove(
    endpoints: &Endpoints,
    key: PrivateKeySigner,
    tx: B256,
    wait: bool,
) -> eyre::Result<B256> {
    let (reader, portal, block, withdrawal) = withdrawal_of(endpoints, tx).await?;
    match settle(&reader, &withdrawal, block, wait, |s| {
        *s == WithdrawalStatus::WaitingToProve
    })
    .await?
    {
        WithdrawalStatus::ReadyToProve => {}
        other => bail!("the withdrawal is {other}, not ready to prove"),
    }
    let proof = reader
        .proof(&withdrawal, block)
        .await?
        .ok_or_else(|| eyre!("no output covers L2 block {block} yet"))?;
    let l1 = l1_wallet(endpoints, key)?;
    let receipt = landed(
        OrdoPortal::new(portal, &l1).proveWithdrawalTransaction(
            withdrawal,
            proof.output_index,
            proof.output_root_proof,
            proof.storage_proof,
        ),
        "the proof on L1",
    )
    .await?;
    Ok(receipt.transaction_hash)
}

/// Finalizes the withdrawal L2 transaction `tx` sent, from `key`'s L1 account (with `wait`,
/// first waiting out the finalization period): the L1 transaction and whether the
/// withdrawal's call succeeded.
pub async fn finalize(
    endpoints: &Endpoints,
    key: PrivateKeySigner,
    tx: B256,
    wait: bool,
) -> eyre::Result<(B256, bool)> {
    let (reader, portal, block, withdrawal) = withdrawal_of(endpoints, tx).await?;
    match settle(&reader, &withdrawal, block, wait, |s| {
        matches!(s, WithdrawalStatus::WaitingToFinalize { .. })
    })
    .await?
    {
        WithdrawalStatus::ReadyToFinalize => {}
        other => bail!("the withdrawal is {other}, not ready to finalize"),
    }
    let l1 = l1_wallet(endpoints, key)?;
    let receipt = landed(
        OrdoPortal::new(portal, &l1).finalizeWithdrawalTransaction(withdrawal),
        "the finalization on L1",
    )
    .await?;
    let success = receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| log.log_decode::<OrdoPortal::WithdrawalFinalized>().ok())
        .map(|e| e.inner.data.success)
        .next()
        .unwrap_or(false);
    Ok((receipt.transaction_hash, success))
}
