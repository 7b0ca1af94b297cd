//! Account state at a block, and calls against it: `eth_call`, `eth_estimateGas`,
//! `eth_createAccessList` (the read pool's deadline reaches the EVM).

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{
    AccessListResult, BlockOverrides, EIP1186AccountProofResponse, EIP1186StorageProof,
    TransactionRequest, state::StateOverride,
};
use alloy_serde::JsonStorageKey;
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY};
use ordo_primitives::alloy_eips::{BlockId, BlockNumberOrTag};
use ordo_rpc::{BackendResult, EthState};
use ordo_storage::AccountRecord;

use crate::{NodeApi, chain::call_deadline, errors::exec_err};

impl EthState for NodeApi {
    fn balance(&self, address: Address, at: BlockId) -> BackendResult<U256> {
        let state = self.state_at(at)?;
        Ok(state
            .account(&address)
            .map_err(|e| exec_err(e.into()))?
            .map(|a| a.balance)
            .unwrap_or_default())
    }

    fn transaction_count(&self, address: Address, at: BlockId) -> BackendResult<u64> {
        if at == BlockId::Number(BlockNumberOrTag::Pending) {
            return Ok(self.pool.pending_nonce(&address));
        }
        let state = self.state_at(at)?;
        Ok(state
            .account(&address)
            .map_err(|e| exec_err(e.into()))?
            .map(|a| a.nonce)
            .unwrap_or_default())
    }

    fn code(&self, address: Address, at: BlockId) -> BackendResult<Bytes> {
        self.state_at(at)?
            .code(&address)
            .map_err(|e| exec_err(e.into()))
    }

    fn storage_at(&self, address: Address, slot: U256, at: BlockId) -> BackendResult<B256> {
        let value = self
            .state_at(at)?
            .slot(&address, &B256::from(slot))
            .map_err(|e| exec_err(e.into()))?;
        Ok(B256::from(value))
    }

    fn proof(
        &self,
        address: Address,
        keys: Vec<JsonStorageKey>,
        at: BlockId,
    ) -> BackendResult<EIP1186AccountProofResponse> {
        let block = match self.state_block(at)? {
            Some(n) => Some(n),
            // Pinned here, so the proof and the block a caller checks it against agree.
            None => Some(ordo_rpc::EthBlocks::head_number(self)),
        };
        let slots: Vec<B256> = keys.iter().map(|k| k.as_b256()).collect();
        let proof = self
            .exec
            .state()
            .proof(address, &slots, block)
            .map_err(|e| exec_err(e.into()))?;
        let account = proof.account.unwrap_or(AccountRecord {
            nonce: 0,
            balance: U256::ZERO,
            storage_root: EMPTY_ROOT_HASH,
            code_hash: KECCAK_EMPTY,
        });
        Ok(EIP1186AccountProofResponse {
            address,
            balance: account.balance,
            code_hash: account.code_hash,
            nonce: account.nonce,
            storage_hash: account.storage_root,
            account_proof: proof.account_proof,
            storage_proof: keys
                .into_iter()
                .zip(proof.storage)
                .map(|(key, slot)| EIP1186StorageProof {
                    key,
                    value: slot.value,
                    proof: slot.proof,
                })
                .collect(),
        })
    }

    fn call(
        &self,
        request: TransactionRequest,
        at: BlockId,
        state: Option<StateOverride>,
        block: Option<BlockOverrides>,
    ) -> BackendResult<Bytes> {
        let params = self.call_params(at, block.as_ref())?;
        self.exec
            .call(&params, &request, state.as_ref(), call_deadline())
            .map(|o| o.output)
            .map_err(exec_err)
    }

    fn estimate_gas(
        &self,
        request: TransactionRequest,
        at: BlockId,
        state: Option<StateOverride>,
        block: Option<BlockOverrides>,
    ) -> BackendResult<u64> {
        let params = self.call_params(at, block.as_ref())?;
        self.exec
            .estimate_gas(&params, &request, state.as_ref(), call_deadline())
            .map_err(exec_err)
    }

    fn create_access_list(
        &self,
        request: TransactionRequest,
        at: BlockId,
    ) -> BackendResult<AccessListResult> {
        let params = self.call_params(at, None)?;
        let (access_list, gas_used, error) = self
            .exec
            .create_access_list(&params, &request, call_deadline())
            .map_err(exec_err)?;
        Ok(AccessListResult {
            access_list,
            gas_used: U256::from(gas_used),
            error,
        })
    }
}
