//! The `txpool` namespace: geth's view of the pending pool.

use std::sync::Arc;

use alloy_primitives::U64;
use ordo_rpc::{BackendError, BackendResult, Caller, Cost, Namespace, Params, json};
use serde_json::value::RawValue;

use crate::NodeApi;

/// `txpool_*` over the pool.
pub struct TxpoolNamespace(pub Arc<NodeApi>);

impl Namespace for TxpoolNamespace {
    fn cost(&self, method: &str) -> Option<Cost> {
        (method == "txpool_status").then_some(Cost::Quick)
    }

    fn call(&self, method: &str, p: &Params<'_>, _caller: Caller) -> BackendResult<Box<RawValue>> {
        match method {
            "txpool_status" => {
                p.at_most(0)?;
                self.0.txpool_status()
            }
            other => Err(BackendError::method_not_found(other)),
        }
    }
}

impl NodeApi {
    /// geth's `txpool_status`: pending and queued counts as hex quantities.
    fn txpool_status(&self) -> BackendResult<Box<RawValue>> {
        let s = self.pool.status();
        let v = serde_json::json!({
            "pending": U64::from(s.pending as u64),
            "queued": U64::from(s.queued as u64),
        });
        json(&v)
    }
}
