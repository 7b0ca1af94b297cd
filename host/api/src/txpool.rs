//! The `txpool` namespace: geth's view of the pool (what reth answers with the same types):
//! `txpool_status` (counts), `txpool_content` and `txpool_contentFrom` (the transactions,
//! pending and queued, by sender and nonce) and `txpool_inspect` (one summary line each).
//! Pending is what the next blocks can include: each sender's consecutive run from its
//! account nonce; queued waits for a nonce gap to close.

use std::{collections::BTreeMap, sync::Arc};

use alloy_consensus::Transaction;
use alloy_primitives::{Address, U64};
use alloy_rpc_types_txpool::{TxpoolContent, TxpoolContentFrom};
use ordo_primitives::PooledTx;
use ordo_rpc::{
    BackendError, BackendResult, Caller, Cost, Namespace, Params, RpcTransaction, json,
};
use serde_json::value::RawValue;

use crate::{NodeApi, eth::blocks::pooled_rpc_tx};

/// `txpool_*` over the pool.
pub struct TxpoolNamespace(pub Arc<NodeApi>);

impl Namespace for TxpoolNamespace {
    fn cost(&self, method: &str) -> Option<Cost> {
        matches!(
            method,
            "txpool_status" | "txpool_content" | "txpool_contentFrom" | "txpool_inspect"
        )
        .then_some(Cost::Quick)
    }

    fn call(&self, method: &str, p: &Params<'_>, _caller: Caller) -> BackendResult<Box<RawValue>> {
        match method {
            "txpool_status" => {
                p.at_most(0)?;
                self.0.txpool_status()
            }
            "txpool_content" => {
                p.at_most(0)?;
                json(&self.0.txpool_content()?)
            }
            "txpool_contentFrom" => {
                p.at_most(1)?;
                let sender: Address = p.required(0)?;
                json(&self.0.txpool_content_from(&sender)?)
            }
            "txpool_inspect" => {
                p.at_most(0)?;
                json(&self.0.txpool_inspect())
            }
            other => Err(BackendError::method_not_found(other)),
        }
    }
}

/// Transactions keyed by their nonce in decimal, as geth keys them.
fn by_nonce<T>(
    txs: &[Arc<PooledTx>],
    f: impl Fn(&PooledTx) -> BackendResult<T>,
) -> BackendResult<BTreeMap<String, T>> {
    txs.iter()
        .map(|tx| Ok((tx.nonce().to_string(), f(tx)?)))
        .collect()
}

/// geth's `txpool_inspect` line: `"<to, checksummed>: <value> wei + <gas> gas × <price> wei"`
/// (`contract creation` for a creation), the price being geth's `tx.GasPrice()`, a dynamic-fee
/// transaction's fee cap.
fn summary(tx: &PooledTx) -> String {
    let to = tx.tx.to().map_or_else(
        || "contract creation".to_string(),
        |to| to.to_checksum(None),
    );
    format!(
        "{to}: {} wei + {} gas × {} wei",
        tx.tx.value(),
        tx.tx.gas_limit(),
        tx.tx.max_fee_per_gas()
    )
}

/// `txpool_inspect`: the summaries, pending and queued, by sender and nonce.
#[derive(serde::Serialize, Default)]
struct Inspect {
    pending: BTreeMap<Address, BTreeMap<String, String>>,
    queued: BTreeMap<Address, BTreeMap<String, String>>,
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

    fn txpool_content(&self) -> BackendResult<TxpoolContent<RpcTransaction>> {
        let mut content = TxpoolContent::default();
        for (sender, txs) in self.pool.content() {
            if !txs.pending.is_empty() {
                content
                    .pending
                    .insert(sender, by_nonce(&txs.pending, pooled_rpc_tx)?);
            }
            if !txs.queued.is_empty() {
                content
                    .queued
                    .insert(sender, by_nonce(&txs.queued, pooled_rpc_tx)?);
            }
        }
        Ok(content)
    }

    fn txpool_content_from(
        &self,
        sender: &Address,
    ) -> BackendResult<TxpoolContentFrom<RpcTransaction>> {
        let txs = self.pool.content_from(sender);
        Ok(TxpoolContentFrom {
            pending: by_nonce(&txs.pending, pooled_rpc_tx)?,
            queued: by_nonce(&txs.queued, pooled_rpc_tx)?,
        })
    }

    fn txpool_inspect(&self) -> Inspect {
        let mut inspect = Inspect::default();
        let line = |txs: &[Arc<PooledTx>]| -> BTreeMap<String, String> {
            txs.iter()
                .map(|tx| (tx.nonce().to_string(), summary(tx)))
                .collect()
        };
        for (sender, txs) in self.pool.content() {
            if !txs.pending.is_empty() {
                inspect.pending.insert(sender, line(&txs.pending));
            }
            if !txs.queued.is_empty() {
                inspect.queued.insert(sender, line(&txs.queued));
            }
        }
        inspect
    }
}
