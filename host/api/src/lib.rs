//! ordo-api: the JSON-RPC namespaces, over the real chain. `ordo-rpc` is the transport (HTTP,
//! WebSocket, framing, limits, the parameter parser); this crate answers the methods.
//!
//! ```text
//! ordo-rpc dispatch ──▶ eth_* / net_* / web3_* ──▶ NodeApi as EthBackend, by concern:
//!                         eth::blocks  blocks, transactions, receipts, sendRawTransaction
//!                         eth::state   balances, code, storage, eth_call, estimateGas
//!                         eth::logs    eth_getLogs, the event feed (filters, subscriptions)
//!                         eth::fees    gasPrice, maxPriorityFeePerGas (the fee
//!                                      oracle over recent blocks), feeHistory
//!                   ──▶ other methods ──▶ the first Namespace that serves them:
//!                         OrdoNamespace    ordo_getBlockProvenance, ordo_getBatch,
//!                                          ordo_txStatus, ordo_nodeStatus,
//!                                          ordo_clusterStatus, ordo_rollupConfig
//!                         MevNamespace     eth_sendBundle, eth_cancelBundle, eth_callBundle,
//!                                          ordo_searcherStats
//!                         TxpoolNamespace  txpool_status
//!                         ChainConfigNamespace  eth_config, eth_blobBaseFee, eth_baseFee
//!                         EthExtrasNamespace    eth_getStorageValues, eth_capabilities
//!                         SimulateNamespace     eth_simulateV1
//!                         DebugNamespace   debug_trace* (geth's tracers over replayed
//!                                          blocks and calls), debug_getRaw*
//!                         AdminNamespace   admin_* (only on the admin listener)
//! ```
//!
//! [`NodeApi`] (`chain`) holds the components and resolves block ids, states and call
//! parameters for every namespace; `convert` turns stored records into geth's JSON shapes;
//! `errors` maps internal failures to the codes wallets expect; `forward` hands a replica's
//! writes to its group's leader when it follows; `decoders` runs ingress signature
//! recovery on threads of its own. Tracing target: `ordo::rpc`.

mod admin;
mod chain;
mod convert;
mod debug;
mod decoders;
mod errors;
mod eth;
mod forward;
mod mev;
mod ordo;
mod rollup;
mod txpool;

pub use admin::{
    AdminNamespace, BlockParamsChange, Control, ControlError, Controlled, LimitsChange, LiveConfig,
    MAX_PLUGIN_BYTES,
};
pub use chain::{DEFAULT_MAX_LOG_RESULTS, MAX_LOG_RANGE, NodeApi};
pub use convert::rpc_header;
pub use debug::DebugNamespace;
pub use eth::{
    config::ChainConfigNamespace, extras::EthExtrasNamespace, simulate::SimulateNamespace,
};
pub use mev::{MAX_BUNDLE_BYTES, MAX_BUNDLE_LOOKAHEAD, MAX_UUID_LEN, MevNamespace};
pub use ordo::OrdoNamespace;
pub use rollup::{RollupAddresses, RollupConfig};
pub use txpool::TxpoolNamespace;
