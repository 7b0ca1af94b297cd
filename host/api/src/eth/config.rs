//! What the chain's rules are, for tools that ask: `eth_config` (EIP-7910) and
//! `eth_blobBaseFee`. Every fork up to Prague is active from genesis (revm's Prague rules), so
//! the fork id is the CRC32 of the genesis hash alone, `next` and `last` are null, and the
//! precompiles are Prague's. Blob transactions are refused on this L2: the blob schedule says
//! so with a target and a maximum of 0 (the fraction is Prague's), and the blob base fee is
//! the minimum, as no block ever carries blob gas. No system contract runs (no beacon roots,
//! no block-hash history contract, no request predeploys): the list is empty.

use std::{collections::BTreeMap, sync::Arc};

use alloy_primitives::{Bytes, U256};
use ordo_primitives::alloy_eips::{
    eip2124::ForkHash,
    eip7840::BlobParams,
    eip7910::{EthConfig, EthForkConfig},
};
use ordo_rpc::{BackendError, BackendResult, Caller, Cost, Namespace, Params, json};
use serde_json::value::RawValue;

use crate::{NodeApi, errors::storage_err};

/// `eth_config` and `eth_blobBaseFee` over the chain.
pub struct ChainConfigNamespace(pub Arc<NodeApi>);

impl Namespace for ChainConfigNamespace {
    fn cost(&self, method: &str) -> Option<Cost> {
        matches!(method, "eth_config" | "eth_blobBaseFee").then_some(Cost::Quick)
    }

    fn call(&self, method: &str, p: &Params<'_>, _caller: Caller) -> BackendResult<Box<RawValue>> {
        match method {
            "eth_config" => {
                p.at_most(0)?;
                json(&self.0.eth_config()?)
            }
            "eth_blobBaseFee" => {
                p.at_most(0)?;
                json(&U256::from(no_blobs().min_blob_fee))
            }
            other => Err(BackendError::method_not_found(other)),
        }
    }
}

/// Prague's blob parameters with no blob allowed.
fn no_blobs() -> BlobParams {
    BlobParams {
        target_blob_count: 0,
        max_blob_count: 0,
        max_blobs_per_tx: 0,
        ..BlobParams::prague()
    }
}

impl NodeApi {
    fn eth_config(&self) -> BackendResult<EthConfig> {
        let genesis = self
            .storage
            .block(0)
            .map_err(storage_err)?
            .ok_or_else(|| BackendError::internal("no genesis block"))?;
        let precompiles: BTreeMap<String, alloy_primitives::Address> =
            revm::precompile::Precompiles::prague()
                .inner()
                .values()
                .map(|p| (p.id().name().to_string(), *p.address()))
                .collect();
        Ok(EthConfig {
            current: EthForkConfig {
                activation_time: 0,
                blob_schedule: no_blobs(),
                chain_id: self.exec.chain_id(),
                fork_id: Bytes::copy_from_slice(&ForkHash::from(genesis.hash).0),
                precompiles,
                system_contracts: BTreeMap::new(),
            },
            next: None,
            last: None,
        })
    }
}
