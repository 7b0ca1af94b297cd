//! The portal on L1 (`contracts/OrdoPortal.sol`): deploying it, and reading the deposits
//! logged in one L1 block. Its withdrawal side is driven from withdrawals.rs.

use std::time::Duration;

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes},
    providers::{Provider, ProviderBuilder, RootProvider},
    rpc::types::{Filter, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol,
    sol_types::SolEvent,
};
use ordo_primitives::DepositLog;

sol! {
    /// The portal, as OP Stack's (legacy, output-oracle) OptimismPortal declares it.
    #[sol(rpc, all_derives)]
    contract OrdoPortal {
        struct WithdrawalTransaction { uint256 nonce; address sender; address target; uint256 value; uint256 gasLimit; bytes data; }
        struct OutputRootProof { bytes32 version; bytes32 stateRoot; bytes32 messagePasserStorageRoot; bytes32 latestBlockhash; }
        event TransactionDeposited(address indexed from, address indexed to, uint256 indexed version, bytes opaqueData);
        event WithdrawalProven(bytes32 indexed withdrawalHash, address indexed from, address indexed to);
        event WithdrawalFinalized(bytes32 indexed withdrawalHash, bool success);
        function depositTransaction(address _to, uint256 _value, uint64 _gasLimit, bool _isCreation, bytes memory _data) payable;
        function minimumGasLimit(uint64 _byteCount) returns (uint64);
        function MAX_DEPOSIT_DATA() returns (uint64);
        function l2Oracle() returns (address);
        function version() returns (string);
        function proveWithdrawalTransaction(WithdrawalTransaction memory _tx, uint256 _l2OutputIndex, OutputRootProof calldata _outputRootProof, bytes[] calldata _withdrawalProof);
        function finalizeWithdrawalTransaction(WithdrawalTransaction memory _tx);
        function provenWithdrawals(bytes32) returns (bytes32 outputRoot, uint128 timestamp, uint128 l2OutputIndex);
        function finalizedWithdrawals(bytes32) returns (bool);
        error BadTarget();
        error SmallGasLimit();
        error LargeCalldata();
    }
}

/// The portal's creation code, as `scripts/contracts` compiled it (hex, no `0x`).
const PORTAL_CREATION_CODE: &str = include_str!("../../../contracts/out/OrdoPortal.bin");

/// How long a deployment may take to be mined before it counts as failed.
pub(crate) const DEPLOY_TIMEOUT: Duration = Duration::from_secs(120);

/// A failed portal deployment or deposit read.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("invalid L1 rpc url {0:?}")]
    Url(String),
    #[error("L1 rpc: {0}")]
    Rpc(String),
    #[error("the deployment was not mined within {0:?}")]
    Timeout(Duration),
    #[error("the deployment {tx} failed on L1 (status 0)")]
    Reverted { tx: B256 },
    #[error("the L1 block {0} is not known to L1 (any more): a reorg dropped it")]
    UnknownBlock(B256),
    /// A portal log that makes no deposit (the portal never writes one).
    #[error(transparent)]
    Deposit(#[from] ordo_primitives::DepositError),
}

/// The portal's creation code.
pub fn portal_creation_code() -> Bytes {
    // Checked in by scripts/contracts; a bad file is a build of this crate that cannot work.
    alloy::hex::decode(PORTAL_CREATION_CODE.trim())
        .map(Bytes::from)
        .unwrap_or_default()
}

/// A read-only JSON-RPC client of the node at `rpc_url` (L1, or Ordo for withdrawal proofs).
pub(crate) fn rpc_client(rpc_url: &str) -> Result<RootProvider, PortalError> {
    let url = rpc_url
        .parse()
        .map_err(|_| PortalError::Url(crate::redact_url(rpc_url)))?;
    Ok(RootProvider::new_http(url))
}

/// Deploys the portal (reading outputs from `oracle`) from `signer`'s account on the L1 at
/// `rpc_url` and waits for it to be mined: the portal's address.
pub async fn deploy_portal(
    rpc_url: &str,
    signer: PrivateKeySigner,
    oracle: Address,
) -> Result<Address, PortalError> {
    let mut code = portal_creation_code().to_vec();
    if code.is_empty() {
        return Err(PortalError::Rpc(
            "contracts/out/OrdoPortal.bin does not hold the portal's code: run scripts/contracts"
                .into(),
        ));
    }
    code.extend_from_slice(&oracle.into_word().0);
    deploy(rpc_url, signer, code.into()).await
}

/// Sends `code` (creation code and its constructor arguments) from `signer`'s account and
/// waits for it to be mined: the new contract's address.
pub(crate) async fn deploy(
    rpc_url: &str,
    signer: PrivateKeySigner,
    code: Bytes,
) -> Result<Address, PortalError> {
    let url = rpc_url
        .parse()
        .map_err(|_| PortalError::Url(crate::redact_url(rpc_url)))?;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url);
    let deploy = async {
        let tx = TransactionRequest::default().with_deploy_code(code);
        let pending = provider
            .send_transaction(tx)
            .await
            .map_err(|e| PortalError::Rpc(e.to_string()))?;
        let hash = *pending.tx_hash();
        let receipt = pending
            .get_receipt()
            .await
            .map_err(|e| PortalError::Rpc(e.to_string()))?;
        match receipt.contract_address {
            Some(address) if receipt.status() => Ok(address),
            _ => Err(PortalError::Reverted { tx: hash }),
        }
    };
    tokio::time::timeout(DEPLOY_TIMEOUT, deploy)
        .await
        .map_err(|_| PortalError::Timeout(DEPLOY_TIMEOUT))?
}

/// Whether the L1 at `rpc_url` holds code at `address` (a portal recorded earlier is still
/// there, or the L1 was reset).
pub async fn has_code(rpc_url: &str, address: Address) -> Result<bool, PortalError> {
    let provider = rpc_client(rpc_url)?;
    let code = tokio::time::timeout(DEPLOY_TIMEOUT, provider.get_code_at(address))
        .await
        .map_err(|_| PortalError::Timeout(DEPLOY_TIMEOUT))?
        .map_err(|e| PortalError::Rpc(e.to_string()))?;
    Ok(!code.is_empty())
}

/// The chain id of the L1 at `rpc_url`.
pub async fn l1_chain_id(rpc_url: &str) -> Result<u64, PortalError> {
    let provider = rpc_client(rpc_url)?;
    tokio::time::timeout(Duration::from_secs(10), provider.get_chain_id())
        .await
        .map_err(|_| PortalError::Timeout(Duration::from_secs(10)))?
        .map_err(|e| PortalError::Rpc(e.to_string()))
}

/// An L1 block as derivation needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1BlockRef {
    pub origin: ordo_primitives::L1Origin,
    pub parent_hash: B256,
}

impl L1BlockRef {
    async fn of(
        provider: &RootProvider,
        header: &alloy::rpc::types::Header,
    ) -> Result<Self, PortalError> {
        Ok(Self {
            origin: origin_of(provider, header).await?,
            parent_hash: header.parent_hash,
        })
    }
}

/// The L1 block `header` as an L2 origin, with what it charged: its base fee, and its blob
/// base fee as L1 itself reports it (`eth_feeHistory`, so whatever blob schedule the L1 runs
/// is L1's to apply); 1 where L1 has no blobs, as OP takes it; and its parent beacon block
/// root, which the L2 blocks name. The sequencer and derivation both read origins through
/// here, so they hand L1Block and the beacon-roots contract the same values.
pub(crate) async fn origin_of(
    provider: &RootProvider,
    header: &alloy::rpc::types::Header,
) -> Result<ordo_primitives::L1Origin, PortalError> {
    let history = provider
        .get_fee_history(1, header.number.into(), &[])
        .await
        .map_err(|e| {
            PortalError::Rpc(format!("eth_feeHistory at L1 block {}: {e}", header.number))
        })?;
    let blob_base_fee = history
        .base_fee_per_blob_gas
        .first()
        .copied()
        .filter(|fee| *fee > 0)
        .unwrap_or(1);
    Ok(ordo_primitives::L1Origin {
        number: header.number,
        hash: header.hash,
        timestamp: header.timestamp,
        fees: Some(ordo_primitives::L1Fees {
            base_fee: header.base_fee_per_gas.map(u128::from).unwrap_or_default(),
            blob_base_fee,
        }),
        beacon_root: header.parent_beacon_block_root,
    })
}

/// Reads the deposits the portal logged, block by block.
#[derive(Debug, Clone)]
pub struct DepositReader {
    provider: RootProvider,
    portal: Address,
}

impl DepositReader {
    /// A reader of `portal`'s logs through the L1 at `rpc_url`.
    pub fn new(rpc_url: &str, portal: Address) -> Result<Self, PortalError> {
        Ok(Self {
            provider: rpc_client(rpc_url)?,
            portal,
        })
    }

    /// The portal.
    pub fn portal(&self) -> Address {
        self.portal
    }

    /// The L1 block `hash` as an origin (number, time) with its parent; None when L1 does
    /// not have it.
    pub async fn block_by_hash(&self, hash: B256) -> Result<Option<L1BlockRef>, PortalError> {
        let block = self
            .provider
            .get_block_by_hash(hash)
            .await
            .map_err(|e| PortalError::Rpc(e.to_string()))?;
        match block {
            Some(b) => Ok(Some(L1BlockRef::of(&self.provider, &b.header).await?)),
            None => Ok(None),
        }
    }

    /// The L1 block at height `number`, and L1's head; None when L1 has no such block yet.
    pub async fn block_at(&self, number: u64) -> Result<(Option<L1BlockRef>, u64), PortalError> {
        let rpc = |e: alloy::transports::TransportError| PortalError::Rpc(e.to_string());
        let head = self.provider.get_block_number().await.map_err(rpc)?;
        let block = self
            .provider
            .get_block_by_number(number.into())
            .await
            .map_err(rpc)?;
        let block = match block {
            Some(b) => Some(L1BlockRef::of(&self.provider, &b.header).await?),
            None => None,
        };
        Ok((block, head))
    }

    /// Every deposit the L2 block that moves to `origin` starts with: the origin's
    /// L1-attributes deposit (priced with `scalars`), then the transactions the portal's logs
    /// in that L1 block make, in log order.
    pub async fn origin_deposits(
        &self,
        origin: &ordo_primitives::L1Origin,
        scalars: ordo_primitives::L1FeeScalars,
    ) -> Result<Vec<ordo_primitives::DepositTx>, PortalError> {
        let mut deposits = vec![ordo_primitives::l1_info_deposit(origin, scalars)];
        deposits.extend(self.deposit_txs_in(origin.hash).await?);
        Ok(deposits)
    }

    /// The deposit transactions the portal's logs in the L1 block `hash` make on L2, in log
    /// order.
    pub async fn deposit_txs_in(
        &self,
        hash: B256,
    ) -> Result<Vec<ordo_primitives::DepositTx>, PortalError> {
        self.deposits_in(hash)
            .await?
            .iter()
            .map(|log| Ok(ordo_primitives::DepositTx::new(log.to_tx()?)))
            .collect()
    }

    /// Every deposit the portal logged in the L1 block `hash`, in log order. Asked by hash,
    /// so the answer is that block's or an error, never another block's at the same height.
    pub async fn deposits_in(&self, hash: B256) -> Result<Vec<DepositLog>, PortalError> {
        let filter = Filter::new()
            .at_block_hash(hash)
            .address(self.portal)
            .event_signature(OrdoPortal::TransactionDeposited::SIGNATURE_HASH);
        let logs = self.provider.get_logs(&filter).await.map_err(|e| {
            // geth and anvil answer -32000 "unknown block" for a hash they do not have.
            if e.to_string().contains("unknown block") {
                PortalError::UnknownBlock(hash)
            } else {
                PortalError::Rpc(e.to_string())
            }
        })?;
        let mut deposits = Vec::with_capacity(logs.len());
        for log in logs {
            if log.removed {
                return Err(PortalError::UnknownBlock(hash));
            }
            let (Some(number), Some(index)) = (log.block_number, log.log_index) else {
                return Err(PortalError::Rpc(format!(
                    "a log of block {hash} without its block number or index"
                )));
            };
            let event = OrdoPortal::TransactionDeposited::decode_log(&log.inner).map_err(|e| {
                PortalError::Rpc(format!("a deposit log that does not decode: {e}"))
            })?;
            deposits.push(DepositLog {
                l1_block_hash: hash,
                l1_block_number: number,
                log_index: index,
                from: event.from,
                to: event.to,
                version: event.version,
                opaque_data: event.data.opaqueData.clone(),
            });
        }
        deposits.sort_by_key(|d| d.log_index);
        Ok(deposits)
    }
}
