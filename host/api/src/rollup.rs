//! What `ordo_rollupConfig` answers (set by the node at startup, read by the `ordo`
//! namespace).

use alloy_primitives::{Address, B256, U64};
use serde::Serialize;

/// What `ordo_rollupConfig` answers: everything a client needs to bridge to this chain
/// (OP's `optimism_rollupConfig` is the model), with null for what is not set up (no L1, or
/// an L1 that has not answered yet).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RollupConfig {
    pub l2_chain_id: U64,
    pub l1_chain_id: Option<U64>,
    /// The rollup's contracts on L1.
    pub addresses: RollupAddresses,
    /// L1 blocks on top of a block before the node acts on it (deposits, batch
    /// confirmations).
    pub confirmations: u64,
    /// L1 blocks within which an origin's batches must land on L1.
    pub sequencing_window: u64,
    /// The L2 block time, in milliseconds.
    pub block_time_ms: u64,
    /// The L2 genesis block's hash.
    pub genesis_hash: B256,
}

/// The rollup's contracts on L1, as `ordo_rollupConfig` names them.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RollupAddresses {
    pub portal: Option<Address>,
    /// The output oracle (OP's `L2OutputOracle`), named as OP's rollup config names it.
    #[serde(rename = "l2OutputOracle")]
    pub l2_output_oracle: Option<Address>,
    pub batch_inbox: Option<Address>,
}
