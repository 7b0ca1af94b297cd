//! The output oracle on L1 (`contracts/L2OutputOracle.sol`, OP Stack's `L2OutputOracle` ABI):
//! deploying it. The proposer (proposer.rs) posts to it; the portal proves withdrawals
//! against what it holds.

use alloy::{
    primitives::{Address, Bytes, U256},
    signers::local::PrivateKeySigner,
    sol,
    sol_types::SolValue,
};

use crate::portal::{PortalError, deploy};

sol! {
    /// OP Stack's L2OutputOracle, plus the attested proposal Ordo's proposer uses.
    #[sol(rpc, all_derives)]
    contract L2OutputOracle {
        struct OutputProposal { bytes32 outputRoot; uint128 timestamp; uint128 l2BlockNumber; }
        event OutputProposed(bytes32 indexed outputRoot, uint256 indexed l2OutputIndex, uint256 indexed l2BlockNumber, uint256 l1Timestamp);
        event OutputAttested(uint256 indexed l2OutputIndex, bytes32 indexed proverCodeHash, bytes attestation);
        function proposeL2Output(bytes32 _outputRoot, uint256 _l2BlockNumber, bytes32 _l1BlockHash, uint256 _l1BlockNumber) payable;
        function proposeL2OutputAttested(bytes32 _outputRoot, uint256 _l2BlockNumber, bytes32 _l1BlockHash, uint256 _l1BlockNumber, bytes32 _proverCodeHash, bytes calldata _attestation) payable;
        function getL2Output(uint256 _l2OutputIndex) returns (OutputProposal memory);
        function getL2OutputIndexAfter(uint256 _l2BlockNumber) returns (uint256);
        function latestOutputIndex() returns (uint256);
        function nextOutputIndex() returns (uint256);
        function latestBlockNumber() returns (uint256);
        function PROPOSER() returns (address);
        function FINALIZATION_PERIOD_SECONDS() returns (uint256);
        function SUBMISSION_INTERVAL() returns (uint256);
        function L2_BLOCK_TIME() returns (uint256);
        function deleteL2Outputs(uint256 _l2OutputIndex);
    }
}

/// The oracle's creation code, as `scripts/contracts` compiled it (hex, no `0x`).
const ORACLE_CREATION_CODE: &str = include_str!("../../../contracts/out/L2OutputOracle.bin");

/// How an output oracle is set up (its constructor's arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OracleParams {
    /// L2 blocks expected between two outputs (tools estimate waits with it; Ordo proposes
    /// one output per batch, so the real spacing varies).
    pub submission_interval: u64,
    /// Seconds per L2 block, at least 1 (tools multiply it by the interval).
    pub l2_block_time: u64,
    /// The L2 block outputs start after (genesis: 0).
    pub starting_block_number: u64,
    /// No withdrawal proven before this L1 time can be finalized.
    pub starting_timestamp: u64,
    /// The only account that may propose outputs.
    pub proposer: Address,
    /// The account that may delete outputs not yet final.
    pub challenger: Address,
    /// Seconds between an output (and a proof against it) and the withdrawal's finalization.
    pub finalization_period_secs: u64,
}

/// Deploys the output oracle from `signer`'s account on the L1 at `rpc_url`: its address.
pub async fn deploy_oracle(
    rpc_url: &str,
    signer: PrivateKeySigner,
    params: OracleParams,
) -> Result<Address, PortalError> {
    let code = alloy::hex::decode(ORACLE_CREATION_CODE.trim()).unwrap_or_default();
    if code.is_empty() {
        return Err(PortalError::Rpc(
            "contracts/out/L2OutputOracle.bin does not hold the oracle's code: run \
             scripts/contracts"
                .into(),
        ));
    }
    let args = (
        U256::from(params.submission_interval),
        U256::from(params.l2_block_time.max(1)),
        U256::from(params.starting_block_number),
        U256::from(params.starting_timestamp),
        params.proposer,
        params.challenger,
        U256::from(params.finalization_period_secs),
    )
        .abi_encode_params();
    let mut creation = code;
    creation.extend_from_slice(&args);
    deploy(rpc_url, signer, Bytes::from(creation)).await
}

/// Tops `to` up to `amount` wei from `from`'s account when it holds less than half of it
/// (the dev proposer's gas money, paid by the dev batcher); waits for the transfer.
pub async fn ensure_funded(
    rpc_url: &str,
    from: PrivateKeySigner,
    to: Address,
    amount: U256,
) -> Result<(), PortalError> {
    use alloy::{
        network::{EthereumWallet, TransactionBuilder},
        providers::{Provider, ProviderBuilder},
        rpc::types::TransactionRequest,
    };
    let url = rpc_url
        .parse()
        .map_err(|_| PortalError::Url(crate::redact_url(rpc_url)))?;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(from))
        .connect_http(url);
    let rpc = |e: alloy::transports::TransportError| PortalError::Rpc(e.to_string());
    let balance = provider.get_balance(to).await.map_err(rpc)?;
    if balance >= amount / U256::from(2) {
        return Ok(());
    }
    let tx = TransactionRequest::default()
        .with_to(to)
        .with_value(amount - balance);
    let transfer = async {
        let pending = provider.send_transaction(tx).await.map_err(rpc)?;
        let hash = *pending.tx_hash();
        let receipt = pending
            .get_receipt()
            .await
            .map_err(|e| PortalError::Rpc(e.to_string()))?;
        if receipt.status() {
            Ok(())
        } else {
            Err(PortalError::Reverted { tx: hash })
        }
    };
    tokio::time::timeout(crate::portal::DEPLOY_TIMEOUT, transfer)
        .await
        .map_err(|_| PortalError::Timeout(crate::portal::DEPLOY_TIMEOUT))?
}

/// L1 blocks per log query when an endpoint refuses the whole range at once.
const LOG_RANGE: u64 = 10_000;

/// An output as the oracle holds it, with the attestation proposed beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedOutput {
    /// Its index.
    pub index: u64,
    /// Its L2 block.
    pub l2_block: u64,
    /// The output root.
    pub root: alloy::primitives::B256,
    /// The prover plugin's code hash and attestation (`None`: proposed without one).
    pub attestation: Option<(alloy::primitives::B256, Bytes)>,
}

/// Every output the oracle at `oracle` holds, in index order, with the attestations logged
/// beside them from L1 block `from_block` on (the oracle's deployment, or earlier): an attestation counts for an output only if it was logged in the same
/// transaction as that output's proposal (an output the challenger deleted and someone
/// proposed again without one has none).
pub async fn posted_outputs(
    rpc_url: &str,
    oracle: Address,
    from_block: u64,
) -> Result<Vec<PostedOutput>, PortalError> {
    use alloy::{providers::Provider, rpc::types::Filter, sol_types::SolEvent};
    let provider = crate::portal::rpc_client(rpc_url)?;
    let rpc = |e: alloy::contract::Error| PortalError::Rpc(e.to_string());
    let contract = L2OutputOracle::new(oracle, &provider);
    let count: U256 = contract.nextOutputIndex().call().await.map_err(rpc)?;
    let filter = Filter::new()
        .address(oracle)
        .event_signature(vec![
            L2OutputOracle::OutputProposed::SIGNATURE_HASH,
            L2OutputOracle::OutputAttested::SIGNATURE_HASH,
        ])
        .from_block(from_block);
    let logs = match provider.get_logs(&filter).await {
        Ok(logs) => logs,
        // Public endpoints cap the range of one query: ask in pieces.
        Err(_) => {
            let head = provider
                .get_block_number()
                .await
                .map_err(|e| PortalError::Rpc(e.to_string()))?;
            let mut logs = Vec::new();
            let mut start = from_block;
            while start <= head {
                let end = (start + LOG_RANGE - 1).min(head);
                let piece = filter.clone().from_block(start).to_block(end);
                logs.extend(
                    provider
                        .get_logs(&piece)
                        .await
                        .map_err(|e| PortalError::Rpc(e.to_string()))?,
                );
                start = end + 1;
            }
            logs
        }
    };
    // Per index: the transaction of its latest proposal, and the attestations by transaction.
    let mut proposed_in = std::collections::HashMap::new();
    let mut attested = std::collections::HashMap::new();
    for log in logs {
        if log.removed {
            continue;
        }
        if let Ok(event) = L2OutputOracle::OutputProposed::decode_log(&log.inner) {
            proposed_in.insert(event.l2OutputIndex, log.transaction_hash);
            continue;
        }
        let event = L2OutputOracle::OutputAttested::decode_log(&log.inner)
            .map_err(|e| PortalError::Rpc(format!("an oracle log that does not decode: {e}")))?;
        attested.insert(
            (event.l2OutputIndex, log.transaction_hash),
            (event.proverCodeHash, event.data.attestation.clone()),
        );
    }
    let mut outputs = Vec::new();
    for i in 0..count.to::<u64>() {
        let output = contract
            .getL2Output(U256::from(i))
            .call()
            .await
            .map_err(rpc)?;
        outputs.push(PostedOutput {
            index: i,
            l2_block: output.l2BlockNumber as u64,
            root: output.outputRoot,
            attestation: proposed_in
                .get(&U256::from(i))
                .and_then(|tx| attested.remove(&(U256::from(i), *tx))),
        });
    }
    Ok(outputs)
}
