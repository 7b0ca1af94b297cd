//! What the chain's rules are, for tools that ask: `eth_config` (EIP-7910), `eth_baseFee`
//! and `eth_blobBaseFee` (the next block's fees).
//!
//! On Ordo's own chains every fork up to Prague is active from genesis (revm's Prague
//! rules), so the fork id is the CRC32 of the genesis hash alone, `next` and `last` are
//! null, and the precompiles are Prague's. Blob transactions are refused on this L2: the
//! blob schedule says so with a target and a maximum of 0 (the fraction is Prague's), and
//! the blob base fee is the minimum, as no block ever carries blob gas. Every block makes
//! the beacon-root (its L1 origin's root) and block-hash system calls; there are no
//! requests.
//!
//! An imported Ethereum chain answers from its fork schedule: the fork active at the head's
//! time (and the next and last scheduled ones), EIP-2124's fork hash over its fork blocks
//! and times, that fork's precompiles, system contracts and blob schedule.

use std::{collections::BTreeMap, sync::Arc};

use alloy_primitives::{Bytes, U256};
use ordo_primitives::BlockRecord;
use ordo_primitives::alloy_eips::{
    eip7840::BlobParams,
    eip7910::{EthConfig, EthForkConfig, SystemContract},
};
use ordo_rpc::{BackendError, BackendResult, Caller, Cost, Namespace, Params, json};
use serde_json::value::RawValue;

use crate::{NodeApi, errors::storage_err};

/// `eth_config` and `eth_blobBaseFee` over the chain.
pub struct ChainConfigNamespace(pub Arc<NodeApi>);

impl Namespace for ChainConfigNamespace {
    fn cost(&self, method: &str) -> Option<Cost> {
        matches!(method, "eth_config" | "eth_blobBaseFee" | "eth_baseFee").then_some(Cost::Quick)
    }

    fn call(&self, method: &str, p: &Params<'_>, _caller: Caller) -> BackendResult<Box<RawValue>> {
        match method {
            "eth_config" => {
                p.at_most(0)?;
                json(&self.0.eth_config()?)
            }
            "eth_blobBaseFee" => {
                p.at_most(0)?;
                json(&self.0.next_blob_base_fee())
            }
            "eth_baseFee" => {
                p.at_most(0)?;
                json(&U256::from(self.0.next_base_fee()))
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
    /// The base fee of the block after the head.
    pub(crate) fn next_base_fee(&self) -> u64 {
        if self.exec.rules().op_fees {
            return self.builder.next_params().base_fee;
        }
        let head = self.head();
        head.header
            .next_block_base_fee(ordo_primitives::alloy_eips::eip1559::BaseFeeParams::ethereum())
            .unwrap_or_default()
    }

    /// The blob base fee of the block after the head: the minimum on Ordo's chains, which
    /// carry no blobs; on an Ethereum chain what the head's excess blob gas makes it.
    fn next_blob_base_fee(&self) -> U256 {
        let head = self.head();
        let rules = self.exec.rules();
        let params = match rules.blob_params_at(head.header.timestamp) {
            Some(p) if !rules.op_fees => p,
            _ => return U256::from(no_blobs().min_blob_fee),
        };
        let excess = head
            .header
            .next_block_excess_blob_gas(params)
            .unwrap_or_default();
        U256::from(params.calc_blob_fee(excess))
    }

    fn eth_config(&self) -> BackendResult<EthConfig> {
        let genesis = self
            .storage
            .block(0)
            .map_err(storage_err)?
            .ok_or_else(|| BackendError::internal("no genesis block"))?;
        let rules = self.exec.rules();
        if rules.op_fees {
            return Ok(EthConfig {
                current: self.fork_config(&genesis, 0, no_blobs()),
                next: None,
                last: None,
            });
        }
        let head_time = self.head().header.timestamp;
        let times = rules.fork_times(genesis.header.timestamp);
        let at = |time: u64| {
            let blobs = rules.blob_params_at(time).unwrap_or_else(no_blobs);
            self.fork_config(&genesis, time, blobs)
        };
        let current = times
            .iter()
            .rev()
            .find(|t| **t <= head_time)
            .copied()
            .unwrap_or(0);
        let next = times.iter().find(|t| **t > head_time).copied();
        let last = times
            .last()
            .copied()
            .filter(|t| *t > head_time && Some(*t) != next);
        Ok(EthConfig {
            current: at(current),
            next: next.map(at),
            last: last.map(at),
        })
    }

    /// The configuration of the fork active from `time`: its blob schedule, fork id,
    /// precompiles and system contracts.
    fn fork_config(&self, genesis: &BlockRecord, time: u64, blobs: BlobParams) -> EthForkConfig {
        use revm::primitives::hardfork::SpecId;
        let rules = self.exec.rules();
        // The fork by time; before the merge a block-number fork, which EIP-7910 does not
        // describe, is taken at the head.
        let number = self.head().number();
        let spec = if rules.op_fees {
            rules.spec_at(0, 0)
        } else {
            rules.spec_at(number, time)
        };
        let precompiles: BTreeMap<String, alloy_primitives::Address> =
            revm::precompile::Precompiles::new(revm::precompile::PrecompileSpecId::from_spec_id(
                spec,
            ))
            .inner()
            .values()
            .map(|p| (p.id().name().to_string(), *p.address()))
            .collect();
        let mut system_contracts = BTreeMap::new();
        use ordo_primitives::alloy_eips::{eip2935, eip4788, eip7002, eip7251};
        if spec >= SpecId::CANCUN {
            system_contracts.insert(SystemContract::BeaconRoots, eip4788::BEACON_ROOTS_ADDRESS);
        }
        if spec >= SpecId::PRAGUE {
            // Every chain's blocks make the block-hash call; an Ethereum chain's also end
            // with its requests (Ordo's make none).
            system_contracts.insert(
                SystemContract::HistoryStorage,
                eip2935::HISTORY_STORAGE_ADDRESS,
            );
            if !rules.op_fees {
                system_contracts.insert(
                    SystemContract::ConsolidationRequestPredeploy,
                    eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
                );
                system_contracts.insert(
                    SystemContract::DepositContract,
                    rules.deposit_contract.unwrap_or_default(),
                );
                system_contracts.insert(
                    SystemContract::WithdrawalRequestPredeploy,
                    eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
                );
            }
        }
        let fork_hash = rules.fork_hash(genesis.hash, genesis.header.timestamp, time);
        EthForkConfig {
            activation_time: time,
            blob_schedule: blobs,
            chain_id: self.exec.chain_id(),
            fork_id: Bytes::copy_from_slice(&fork_hash.0),
            precompiles,
            system_contracts,
        }
    }
}
