//! Account state at a block, and calls against it: `eth_call`, `eth_estimateGas`,
//! `eth_createAccessList` (the read pool's deadline reaches the EVM).

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{
    AccessListResult, BlockOverrides, TransactionRequest, state::StateOverride,
};
use ordo_primitives::alloy_eips::{BlockId, BlockNumberOrTag};
use ordo_rpc::{BackendResult, EthState};

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
