//! Newer eth methods the core backend traits do not cover: `eth_getStorageValues` (several
//! slots of several accounts in one call) and `eth_capabilities` (what history this node
//! keeps and serves).

use std::{collections::BTreeMap, sync::Arc};

use alloy_primitives::{Address, B256, U256};
use ordo_primitives::alloy_eips::BlockId;
use ordo_rpc::{BackendError, BackendResult, Caller, Cost, EthState, Namespace, Params, json};
use serde_json::value::RawValue;
use serde_json::{Value, json as object};

use crate::NodeApi;

/// Most slots one `eth_getStorageValues` reads (geth's limit).
pub const MAX_STORAGE_VALUES: usize = 1024;

/// `eth_getStorageValues` and `eth_capabilities`.
pub struct EthExtrasNamespace(pub Arc<NodeApi>);

impl Namespace for EthExtrasNamespace {
    fn cost(&self, method: &str) -> Option<Cost> {
        matches!(method, "eth_getStorageValues" | "eth_capabilities").then_some(Cost::Quick)
    }

    fn call(&self, method: &str, p: &Params<'_>, _caller: Caller) -> BackendResult<Box<RawValue>> {
        match method {
            "eth_getStorageValues" => {
                p.at_most(2)?;
                let request: BTreeMap<Address, Vec<B256>> = p.required(0)?;
                let at = p.optional::<BlockId>(1)?.unwrap_or(BlockId::latest());
                json(&self.0.storage_values(request, at)?)
            }
            "eth_capabilities" => {
                p.at_most(0)?;
                json(&self.0.capabilities())
            }
            other => Err(BackendError::method_not_found(other)),
        }
    }
}

impl NodeApi {
    fn storage_values(
        &self,
        request: BTreeMap<Address, Vec<B256>>,
        at: BlockId,
    ) -> BackendResult<BTreeMap<Address, Vec<B256>>> {
        let slots: usize = request.values().map(Vec::len).sum();
        if slots == 0 {
            return Err(BackendError::invalid_params("empty request"));
        }
        if slots > MAX_STORAGE_VALUES {
            return Err(BackendError::invalid_params(format!(
                "too many slots (max {MAX_STORAGE_VALUES})"
            )));
        }
        request
            .into_iter()
            .map(|(address, keys)| {
                let values = keys
                    .into_iter()
                    .map(|k| self.storage_at(address, U256::from_be_bytes(k.0), at))
                    .collect::<BackendResult<Vec<_>>>()?;
                Ok((address, values))
            })
            .collect()
    }

    /// Everything from genesis on: Ordo prunes no blocks, receipts, logs or state history.
    fn capabilities(&self) -> Value {
        let head = self.head();
        let kept = object!({"disabled": false, "oldestBlock": "0x0"});
        object!({
            "head": {"number": format!("{:#x}", head.number()), "hash": head.hash},
            "state": kept,
            "tx": kept,
            "logs": kept,
            "receipts": kept,
            "blocks": kept,
            "stateproofs": kept,
        })
    }
}
