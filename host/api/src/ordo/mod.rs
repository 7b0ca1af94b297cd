//! The `ordo` namespace: block provenance, batches and transaction status on L1, output
//! roots (output.rs), and the public node status the dashboard shows.

mod batches;
mod output;

use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, U64};
use ordo_primitives::alloy_eips::BlockId;
use ordo_rpc::{BackendError, BackendResult, Caller, Cost, Namespace, Params, json};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::NodeApi;

/// `ordo_*` over the chain (`ordo_searcherStats` is the mev namespace's).
pub struct OrdoNamespace(pub Arc<NodeApi>);

impl Namespace for OrdoNamespace {
    fn cost(&self, method: &str) -> Option<Cost> {
        matches!(
            method,
            "ordo_getBlockProvenance"
                | "ordo_getBatch"
                | "ordo_txStatus"
                | "ordo_nodeStatus"
                | "ordo_clusterStatus"
                | "ordo_rollupConfig"
                | "ordo_outputAtBlock"
                | "optimism_outputAtBlock"
        )
        .then_some(Cost::Quick)
    }

    fn call(&self, method: &str, p: &Params<'_>, _caller: Caller) -> BackendResult<Box<RawValue>> {
        let api = &self.0;
        match method {
            "ordo_getBlockProvenance" => api.block_provenance(p),
            "ordo_getBatch" => api.get_batch(p),
            "ordo_txStatus" => api.tx_status(p),
            "ordo_nodeStatus" => api.node_status(),
            "ordo_clusterStatus" => api.cluster_status(),
            "ordo_rollupConfig" => json(&*api.rollup.read()),
            // Under op-node's name too: OP's proposer and challenger tools ask for it so.
            "ordo_outputAtBlock" | "optimism_outputAtBlock" => api.output_at_block(p),
            other => Err(BackendError::method_not_found(other)),
        }
    }
}

impl NodeApi {
    /// `ordo_clusterStatus`: this replica's view of its group. A single node answers as
    /// the leader of a group of one (id 0, term 0, no log).
    pub(crate) fn cluster_status(&self) -> BackendResult<Box<RawValue>> {
        match self.cluster.get() {
            Some(replica) => json(&replica.status()),
            None => json(&ordo_replica::ClusterStatus {
                id: 0,
                role: "leader",
                term: 0,
                leader_id: Some(0),
                commit_index: None,
                applied_block: self.builder.head().number(),
            }),
        }
    }

    /// `ordo_nodeStatus`: the public, read-only snapshot the dashboard shows (no secrets,
    /// no operator controls): head, mempool, recent batches, plugins with their health,
    /// searchers, halted or not, and on a replica its group (`cluster`, else null).
    pub(crate) fn node_status(&self) -> BackendResult<Box<RawValue>> {
        let head = self.builder.head();
        let pool = self.pool.status();
        let batches: Vec<serde_json::Value> = self
            .batcher
            .get()
            .map(|b| {
                b.recent(10)
                    .iter()
                    .rev()
                    .map(|s| {
                        let (status, l1_tx, l1_block, finalized) = match &s.status {
                            ordo_batcher::BatchStatus::Built => ("built", None, None, false),
                            ordo_batcher::BatchStatus::Submitted { tx_hash, .. } => {
                                ("submitted", Some(*tx_hash), None, false)
                            }
                            ordo_batcher::BatchStatus::Confirmed {
                                tx_hash,
                                l1_block,
                                finalized,
                                ..
                            } => ("confirmed", Some(*tx_hash), Some(*l1_block), *finalized),
                        };
                        serde_json::json!({
                            "index": s.index,
                            "firstBlock": s.first_block,
                            "lastBlock": s.last_block,
                            "status": status,
                            "l1TxHash": l1_tx,
                            "l1Block": l1_block,
                            "l1Finalized": finalized,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let plugins = self.plugins.get().map(|m| {
            let r = m.list();
            serde_json::json!({
                "active": r.active,
                "activeSearchers": r.active_searchers,
                "loaded": r.loaded.iter().map(|p| serde_json::json!({
                    "name": p.info.name,
                    "kind": p.info.kind,
                    "version": p.info.version,
                    "active": p.active,
                    "health": p.health,
                })).collect::<Vec<_>>(),
                "shadow": r.shadow,
            })
        });
        let searchers: serde_json::Map<String, serde_json::Value> = self
            .builder
            .searcher_ledger()
            .snapshot()
            .into_iter()
            .map(|(who, s)| {
                (
                    who,
                    serde_json::json!({
                        "proposed": s.proposed,
                        "landed": s.landed,
                        "dropped": s.dropped,
                        "paidWei": s.paid.to_string(),
                    }),
                )
            })
            .collect();
        let (safe, finalized) = self.settled_heads();
        let live = self.builder.live_stats();
        let stages: serde_json::Map<String, serde_json::Value> = live
            .stages_ms
            .iter()
            .map(|(stage, ms)| (stage.to_string(), serde_json::json!(ms)))
            .collect();
        let v = serde_json::json!({
            "head": {
                "number": head.number(),
                "hash": head.hash,
                "timestamp": head.header.timestamp,
            },
            "halted": self.builder.halted().is_some(),
            "l1Origin": head.l1_origin.map(origin_view),
            "safe": safe,
            "finalized": finalized,
            "mempool": { "pending": pool.pending, "queued": pool.queued },
            "batches": batches,
            "plugins": plugins,
            "searchers": searchers,
            "cluster": self.cluster.get().map(|replica| replica.public_view()),
            // What the dashboard's charts sample: the last block's stage times and its pool
            // transactions' waits, totals to turn into rates, the unposted batch bytes.
            "live": {
                "block": live.number,
                "stagesMs": stages,
                "inclusionMs": { "p50": live.inclusion_p50_ms, "p99": live.inclusion_p99_ms },
                "totalTxs": live.total_txs,
                "totalGas": live.total_gas,
                "l1BacklogBytes": self.batcher.get().map(|b| b.backlog_bytes()),
            },
        });
        json(&v)
    }
}
/// `ordo_getBlockProvenance`: which policy ordered a block.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ProvenanceView {
    block_number: U64,
    block_hash: B256,
    /// The policy that ordered the block (a plugin's name, or the native policy's).
    policy: String,
    version: String,
    /// Content hash of the ordering plugin; null when a native policy ordered the block.
    code_hash: Option<B256>,
    /// True when the chosen plugin failed and the native fallback ordered this block.
    fallback: bool,
    /// Why the fallback ran.
    fallback_reason: Option<String>,
    /// The sequencer's signature over the block (see `keys::block_signing_hash`).
    signature: Option<Bytes>,
    /// The address that signature recovers to.
    signer: Option<Address>,
    /// Transactions the host placed after the policy's order because they had waited the
    /// inclusion floor (empty when the policy left nobody out that long).
    host_placed: Vec<B256>,
    /// The L1 block the block derives its deposits from (null on a chain without an L1).
    l1_origin: Option<serde_json::Value>,
}

/// An L1 origin as the `ordo` namespace shows it.
fn origin_view(o: ordo_primitives::L1Origin) -> serde_json::Value {
    serde_json::json!({
        "number": U64::from(o.number),
        "hash": o.hash,
        "timestamp": U64::from(o.timestamp),
        "beaconRoot": o.beacon_root,
    })
}

impl NodeApi {
    pub(crate) fn block_provenance(&self, p: &Params<'_>) -> BackendResult<Box<RawValue>> {
        let id = {
            p.at_most(1)?;
            p.optional::<BlockId>(0)?.unwrap_or_default()
        };
        let view = self.block_record(id)?.map(|b| {
            let p = &b.provenance;
            ProvenanceView {
                block_number: U64::from(b.number()),
                block_hash: b.hash,
                policy: p.policy.clone(),
                version: p.version.clone(),
                code_hash: (!p.code_hash.is_zero()).then_some(p.code_hash),
                fallback: !p.fallback_reason.is_empty(),
                fallback_reason: (!p.fallback_reason.is_empty()).then(|| p.fallback_reason.clone()),
                signature: p.signature.clone(),
                signer: p
                    .signature
                    .as_ref()
                    .and_then(|s| ordo_primitives::block_signer(self.exec.chain_id(), b.hash, s)),
                host_placed: p.host_placed.clone().unwrap_or_default(),
                l1_origin: b.l1_origin.map(origin_view),
            }
        });
        serde_json::value::to_raw_value(&view)
            .map_err(|e| BackendError::internal(format!("serializing provenance: {e}")))
    }
}
