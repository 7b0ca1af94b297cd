//! Withdrawals as a user (or `ordo withdraw`) drives them: find the withdrawals an L2
//! transaction sent, wait for an output that covers its block, build the proof (the output
//! root's preimage and the message passer's storage proof, both from the L2 node), and read
//! where a withdrawal stands on L1.

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{Provider, RootProvider},
    rpc::types::Log,
    sol,
    sol_types::{SolEvent, SolValue},
};
use ordo_primitives::{MESSAGE_PASSER, OUTPUT_VERSION};

use crate::{
    OrdoPortal::{OutputRootProof, WithdrawalTransaction},
    oracle::L2OutputOracle,
    portal::{OrdoPortal, PortalError, rpc_client},
};

sol! {
    /// OP Stack's L2ToL1MessagePasser, predeployed on Ordo at `MESSAGE_PASSER`.
    #[sol(rpc, all_derives)]
    contract L2ToL1MessagePasser {
        event MessagePassed(uint256 indexed nonce, address indexed sender, address indexed target, uint256 value, uint256 gasLimit, bytes data, bytes32 withdrawalHash);
        function initiateWithdrawal(address _target, uint256 _gasLimit, bytes memory _data) payable;
        function messageNonce() returns (uint256);
        function sentMessages(bytes32) returns (bool);
    }
}

/// A withdrawal's hash, as the message passer stores it and the portal checks it:
/// keccak256(abi.encode(nonce, sender, target, value, gasLimit, data)).
pub fn withdrawal_hash(tx: &WithdrawalTransaction) -> B256 {
    keccak256(
        (
            tx.nonce,
            tx.sender,
            tx.target,
            tx.value,
            tx.gasLimit,
            tx.data.clone(),
        )
            .abi_encode_params(),
    )
}

/// The message passer's storage slot that records `hash` (`sentMessages`, slot 0).
pub fn withdrawal_slot(hash: B256) -> B256 {
    keccak256((hash, U256::ZERO).abi_encode())
}

/// The withdrawals the message passer logged among `logs` (an L2 receipt's), in log order.
pub fn withdrawals_in(logs: &[Log]) -> Vec<WithdrawalTransaction> {
    logs.iter()
        .filter(|log| log.address() == MESSAGE_PASSER)
        .filter_map(|log| L2ToL1MessagePasser::MessagePassed::decode_log(&log.inner).ok())
        .map(|event| WithdrawalTransaction {
            nonce: event.nonce,
            sender: event.sender,
            target: event.target,
            value: event.value,
            gasLimit: event.gasLimit,
            data: event.data.data.clone(),
        })
        .collect()
}

/// Where a withdrawal stands on L1 (viem's `getWithdrawalStatus` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawalStatus {
    /// No output covers its L2 block yet.
    WaitingToProve,
    /// An output covers it; not proven yet.
    ReadyToProve,
    /// Proven; the finalization period has this many seconds to run.
    WaitingToFinalize { seconds: u64 },
    /// Proven and the period is over.
    ReadyToFinalize,
    /// Finalized: its call was made.
    Finalized,
}

impl std::fmt::Display for WithdrawalStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WaitingToProve => f.write_str("waiting-to-prove"),
            Self::ReadyToProve => f.write_str("ready-to-prove"),
            Self::WaitingToFinalize { seconds } => {
                write!(f, "waiting-to-finalize ({seconds} s left)")
            }
            Self::ReadyToFinalize => f.write_str("ready-to-finalize"),
            Self::Finalized => f.write_str("finalized"),
        }
    }
}

/// What `proveWithdrawalTransaction` takes besides the withdrawal.
#[derive(Debug, Clone)]
pub struct WithdrawalProof {
    /// The output the proof opens.
    pub output_index: U256,
    /// The output's L2 block.
    pub l2_block: u64,
    /// The output root's preimage.
    pub output_root_proof: OutputRootProof,
    /// The message passer's storage proof of the withdrawal's slot (root first).
    pub storage_proof: Vec<Bytes>,
}

/// Reads withdrawals' state from L1 (portal, oracle) and builds their proofs from L2.
#[derive(Debug, Clone)]
pub struct WithdrawalReader {
    l1: RootProvider,
    l2: RootProvider,
    portal: Address,
    oracle: Address,
}

fn rpc<E: std::fmt::Display>(e: E) -> PortalError {
    PortalError::Rpc(e.to_string())
}

impl WithdrawalReader {
    /// A reader over the L1 at `l1_url` (with the rollup's `portal` and `oracle`) and the
    /// Ordo node at `l2_url`.
    pub fn new(
        l1_url: &str,
        l2_url: &str,
        portal: Address,
        oracle: Address,
    ) -> Result<Self, PortalError> {
        Ok(Self {
            l1: rpc_client(l1_url)?,
            l2: rpc_client(l2_url)?,
            portal,
            oracle,
        })
    }

    /// The withdrawals L2 transaction `tx` sent, with its block; an error when L2 does not
    /// know the transaction (yet).
    pub async fn withdrawals_of(
        &self,
        tx: B256,
    ) -> Result<(u64, Vec<WithdrawalTransaction>), PortalError> {
        let receipt = self
            .l2
            .get_transaction_receipt(tx)
            .await
            .map_err(rpc)?
            .ok_or_else(|| PortalError::Rpc(format!("L2 has no receipt for {tx} (yet)")))?;
        let block = receipt
            .block_number
            .ok_or_else(|| PortalError::Rpc(format!("the receipt of {tx} has no block")))?;
        Ok((block, withdrawals_in(receipt.inner.logs())))
    }

    /// The first output at or after L2 block `l2_block`: (index, its block); `None` when the
    /// oracle holds none that far yet.
    pub async fn output_covering(&self, l2_block: u64) -> Result<Option<(U256, u64)>, PortalError> {
        let oracle = L2OutputOracle::new(self.oracle, &self.l1);
        let latest: U256 = oracle.latestBlockNumber().call().await.map_err(rpc)?;
        if latest < U256::from(l2_block)
            || oracle
                .nextOutputIndex()
                .call()
                .await
                .map_err(rpc)?
                .is_zero()
        {
            return Ok(None);
        }
        let index = oracle
            .getL2OutputIndexAfter(U256::from(l2_block))
            .call()
            .await
            .map_err(rpc)?;
        let output = oracle.getL2Output(index).call().await.map_err(rpc)?;
        Ok(Some((index, output.l2BlockNumber as u64)))
    }

    /// The proof of `withdrawal` (sent in L2 block `l2_block`) against the first output that
    /// covers it; `None` while no output does.
    pub async fn proof(
        &self,
        withdrawal: &WithdrawalTransaction,
        l2_block: u64,
    ) -> Result<Option<WithdrawalProof>, PortalError> {
        let Some((index, output_block)) = self.output_covering(l2_block).await? else {
            return Ok(None);
        };
        let slot = withdrawal_slot(withdrawal_hash(withdrawal));
        let proof = self
            .l2
            .get_proof(MESSAGE_PASSER, vec![slot])
            .block_id(output_block.into())
            .await
            .map_err(rpc)?;
        let block = self
            .l2
            .get_block_by_number(output_block.into())
            .await
            .map_err(rpc)?
            .ok_or_else(|| PortalError::Rpc(format!("L2 has no block {output_block}")))?;
        let storage_proof = proof
            .storage_proof
            .first()
            .map(|s| s.proof.clone())
            .unwrap_or_default();
        Ok(Some(WithdrawalProof {
            output_index: index,
            l2_block: output_block,
            output_root_proof: OutputRootProof {
                version: OUTPUT_VERSION,
                stateRoot: block.header.state_root,
                messagePasserStorageRoot: proof.storage_hash,
                latestBlockhash: block.header.hash,
            },
            storage_proof,
        }))
    }

    /// Where `withdrawal` (sent in L2 block `l2_block`) stands on L1.
    pub async fn status(
        &self,
        withdrawal: &WithdrawalTransaction,
        l2_block: u64,
    ) -> Result<WithdrawalStatus, PortalError> {
        let hash = withdrawal_hash(withdrawal);
        let portal = OrdoPortal::new(self.portal, &self.l1);
        if portal
            .finalizedWithdrawals(hash)
            .call()
            .await
            .map_err(rpc)?
        {
            return Ok(WithdrawalStatus::Finalized);
        }
        let proven = portal.provenWithdrawals(hash).call().await.map_err(rpc)?;
        let oracle = L2OutputOracle::new(self.oracle, &self.l1);
        // The output it was proven against, if it still stands: one the challenger deleted
        // (the call reverts) or replaced makes the proof void, and the portal takes a new one.
        let output = match proven.timestamp {
            0 => None,
            _ => oracle
                .getL2Output(U256::from(proven.l2OutputIndex))
                .call()
                .await
                .ok()
                .filter(|o| o.outputRoot == proven.outputRoot),
        };
        let Some(output) = output else {
            return Ok(match self.output_covering(l2_block).await? {
                Some(_) => WithdrawalStatus::ReadyToProve,
                None => WithdrawalStatus::WaitingToProve,
            });
        };
        let period: U256 = oracle
            .FINALIZATION_PERIOD_SECONDS()
            .call()
            .await
            .map_err(rpc)?;
        // Both the proof and the output must have stood for the period, by L1's clock.
        let now = self
            .l1
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(rpc)?
            .map(|b| b.header.timestamp)
            .unwrap_or_default();
        let since = u64::try_from(proven.timestamp.max(output.timestamp)).unwrap_or(u64::MAX);
        let ready_at = since.saturating_add(u64::try_from(period).unwrap_or(u64::MAX));
        Ok(if now > ready_at {
            WithdrawalStatus::ReadyToFinalize
        } else {
            WithdrawalStatus::WaitingToFinalize {
                seconds: ready_at + 1 - now,
            }
        })
    }
}
